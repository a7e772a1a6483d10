//! `GET /api/v1/demo/credentials`: the demo tenant's tokens, so the review app
//! works out of the box after `cargo xtask run`.
//!
//! Answers only while the collector runs the generated demo tenant (no tenants
//! file) on a loopback listen address, only to clients on the loopback interface, only to requests that
//! name a loopback host (so a page whose DNS name was rebound to 127.0.0.1
//! cannot read the tokens same-origin) and only when no proxy forwarded the
//! request (behind a proxy on the same host every client looks like
//! loopback); otherwise 404, as if the endpoint did not exist. A real deployment has a tenants file, so this
//! never answers there. (A proxy on the same host that forwards `Host:
//! 127.0.0.1` and no `X-Forwarded-For` cannot be told from a local browser:
//! README says never to put the demo collector behind one.)

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
/// runs its generated demo tenant (no tenants file) on a loopback listen
/// address, and only to loopback clients; 404 otherwise.
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
    let headers = req.headers();
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback())
        && headers
            .get(actix_web::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(names_loopback)
        && !headers.contains_key("x-forwarded-for")
        && !headers.contains_key(actix_web::http::header::FORWARDED);
    let demo = tenants
        .demo_tenant()
        .filter(|_| loopback && tenants.demo_credentials)
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

/// Whether a `Host` header (`name[:port]`) names this machine's loopback
/// interface: `localhost` or a loopback address.
fn names_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:8080`
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::names_loopback;

    #[test]
    fn only_loopback_host_names_count() {
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:80",
            "[::1]",
        ] {
            assert!(names_loopback(host), "{host}");
        }
        for host in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "10.0.0.1:8080",
            "[::2]:80",
            "",
        ] {
            assert!(!names_loopback(host), "{host}");
        }
    }
}
