//! `GET /api/v1/demo/credentials`: the demo tenant's tokens, so the review app
//! works out of the box after `cargo xtask run`.
//!
//! Answers only while the collector runs the generated demo tenant (no tenants
//! file) and only to clients on the loopback interface; otherwise 404, as if
//! the endpoint did not exist. A real deployment has a tenants file, so this
//! never answers there.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::ApiError;
use crate::tenants::{Role, Tenants};

/// The demo tenant's credentials.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DemoCredentials {
    pub tenant: shared::TenantId,
    /// The site key the demo pages record with.
    pub site_key: &'static str,
    pub agent: Option<DemoUser>,
    pub admin: Option<DemoUser>,
    /// The file the credentials were written to.
    pub file: Option<String>,
}

/// One demo user and their bearer token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DemoUser {
    pub id: String,
    pub token: String,
}

/// The demo tenant's site key and tokens. Answers only while the collector
/// runs its generated demo tenant (no tenants file) and only to loopback
/// clients; 404 otherwise.
#[utoipa::path(
    get,
    path = "/api/v1/demo/credentials",
    tag = "demo",
    responses(
        (status = 200, description = "The demo tenant's credentials.", body = DemoCredentials),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn credentials(
    req: HttpRequest,
    tenants: web::Data<Arc<Tenants>>,
) -> Result<HttpResponse, ApiError> {
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    let demo = tenants
        .demo_tenant()
        .filter(|_| loopback)
        .ok_or_else(|| ApiError::NotFound("no such API endpoint".into()))?;
    let token = |role: Role| {
        demo.users
            .iter()
            .find(|u| u.role == role)
            .map(|u| DemoUser {
                id: u.id.to_string(),
                token: u.token.clone(),
            })
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(DemoCredentials {
            tenant: demo.id.clone(),
            site_key: crate::tenants::DEMO_SITE_KEY,
            agent: token(Role::Agent),
            admin: token(Role::Admin),
            file: tenants.demo_file.as_ref().map(|p| p.display().to_string()),
        }))
}
