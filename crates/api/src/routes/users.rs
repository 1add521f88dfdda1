//! `/api/v1/users/me`

use actix_web::{HttpResponse, web};

use crate::{error::ApiError, extract::AuthUser, routes::dto, services::auth, state::AppState};

pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let (row, phone) = auth::me(&state, user.0).await?;
    Ok(HttpResponse::Ok().json(dto::user(row, phone)))
}
