//! `GET /api/v1/config`: what a client needs before its first request (SPEC §11).

use actix_web::{HttpResponse, web};
use phonereg_types::ClientConfig;

use crate::state::AppState;

/// Set at start-up and the same for everyone, so caches may keep it for a while; five
/// minutes bounds how long a changed site key goes unseen.
pub async fn get_config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(ClientConfig {
            captcha: state.captcha.client_config(),
        })
}
