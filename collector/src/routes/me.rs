//! `GET /api/v1/me`: who a token belongs to, so a client (the review app's
//! sign-in) can check a token and learn its role without probing endpoints it
//! may not be allowed to read.

use actix_web::HttpResponse;
use serde::Serialize;

use crate::auth::Reader;

/// The holder of the bearer token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub tenant: shared::TenantId,
    pub user: shared::UserId,
    /// `agent` reads trails; `admin` also reads the activity log and deletes.
    #[schema(example = "agent")]
    pub role: &'static str,
}

/// The token's tenant, user and role.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "sessions",
    responses(
        (status = 200, description = "The token is valid.", body = Me),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security(("reader_token" = [])),
)]
pub async fn me(Reader(who): Reader) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        tenant: who.tenant,
        user: who.user,
        role: who.role.as_str(),
    })
}
