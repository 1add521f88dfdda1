//! The audit log's view of a request (SPEC §12): its client, user agent and id.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage as _, HttpRequest, dev::Payload, http::header};

use crate::{error::ApiError, extract::client_of, services::audit::Origin, telemetry::RequestId};

impl FromRequest for Origin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        ready(Ok(Origin::of_request(
            &client_of(req),
            user_agent,
            request_id,
        )))
    }
}
