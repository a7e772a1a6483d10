//! Request authentication: extractors that resolve credentials to a tenant.
//!
//! - [`Reader`]: `Authorization: Bearer <token>` of an agent or admin.
//! - [`Admin`]: the same, admins only.
//! - [`Server`]: `Authorization: Bearer <server key>` of the platform.
//!
//! Missing or unknown credentials are 401 (with `WWW-Authenticate: Bearer`),
//! valid ones without the right role 403; both are JSON errors.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use shared::TenantId;

use crate::error::ApiError;
use crate::telemetry::{record, LogField};
use crate::tenants::{Principal, Role, Tenants};

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized {
            code: "missing_credentials",
            message: "send Authorization: Bearer <token>".into(),
        })?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized {
            code: "missing_credentials",
            message: "the Authorization header must be `Bearer <token>`".into(),
        });
    }
    Ok(token.trim())
}

fn tenants(req: &HttpRequest) -> Result<&Arc<Tenants>, ApiError> {
    req.app_data::<actix_web::web::Data<Arc<Tenants>>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("tenants are not configured")))
}

fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    let token = bearer(req)?;
    let principal = tenants(req)?
        .user(token)
        .cloned()
        .ok_or(ApiError::Unauthorized {
            code: "invalid_credentials",
            message: "this token is not valid".into(),
        })?;
    record(LogField::Tenant, &principal.tenant);
    record(LogField::User, &principal.user);
    Ok(principal)
}

/// An agent or admin of some tenant.
#[derive(Debug, Clone)]
pub struct Reader(pub Principal);

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).map(Reader))
    }
}

/// An admin of some tenant.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| match p.role {
            Role::Admin => Ok(Admin(p)),
            Role::Agent => Err(ApiError::Forbidden {
                code: "admin_only",
                message: "this needs an admin token".into(),
            }),
        }))
    }
}

/// The platform itself, posting with a tenant's server key.
#[derive(Debug, Clone)]
pub struct Server(pub TenantId);

impl FromRequest for Server {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let key = bearer(req)?;
            let tenant = tenants(req)?
                .server_key(key)
                .cloned()
                .ok_or(ApiError::Unauthorized {
                    code: "invalid_credentials",
                    message: "this server key is not valid".into(),
                })?;
            record(LogField::Tenant, &tenant);
            record(LogField::User, &"platform");
            Ok(Server(tenant))
        })())
    }
}
