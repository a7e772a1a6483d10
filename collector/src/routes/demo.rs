//! `GET /api/v1/demo/credentials`: the demo tenant's tokens, so the review app
//! works out of the box after `cargo xtask run`.
//!
//! Answers only while the collector runs the generated demo tenant (no tenants
//! file) and only to clients on the loopback interface; otherwise 404, as if
//! the endpoint did not exist. A real deployment has a tenants file, so this
//! never answers there.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::tenants::{Role, Tenants};

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
            .map(|u| (u.id.to_string(), u.token.clone()))
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({
            "tenant": demo.id,
            "site_key": crate::tenants::DEMO_SITE_KEY,
            "agent": token(Role::Agent).map(|(id, token)| json!({"id": id, "token": token})),
            "admin": token(Role::Admin).map(|(id, token)| json!({"id": id, "token": token})),
            "file": tenants.demo_file.as_ref().map(|p| p.display().to_string()),
        })))
}
