//! `GET /api/v1/audit`: the tenant activity log (platform records and the
//! collector's records of trail access), newest first. Admins only.

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use shared::audit::{AuditPage, PlatformRecordType};
use shared::UserId;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::store::{AuditFilter, Store};

/// Default page size when the client names none.
const DEFAULT_PAGE: usize = 100;
/// Largest page a client may ask for: bounds the work and memory of one request.
const MAX_PAGE: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Comma-separated seed type names, e.g. `START_CALL,LOGGED_IN`.
    #[serde(rename = "type")]
    types: Option<String>,
    /// `platform` or `collector` (default: both).
    #[param(pattern = "^(platform|collector)$")]
    source: Option<String>,
    /// Comma-separated user ids.
    user: Option<String>,
    /// Entries about entities of this kind (e.g. `session`, `call`).
    entity_kind: Option<String>,
    /// Entries about the entity with this id.
    entity_id: Option<String>,
    /// Occurrence time bounds (ms since epoch), inclusive: the earliest.
    from: Option<i64>,
    /// The latest occurrence time (ms since epoch), inclusive.
    to: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (opaque).
    cursor: Option<String>,
}

fn split(s: &Option<String>) -> impl Iterator<Item = &str> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn parse_filter(q: &AuditQuery) -> Result<AuditFilter, ApiError> {
    let types = split(&q.types)
        .map(|t| {
            PlatformRecordType::parse(t).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_type",
                    format!(
                        "unknown record type {t:?}; expected one of {}",
                        PlatformRecordType::ALL.map(|t| t.as_str()).join(", ")
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let users = split(&q.user)
        .map(|u| {
            UserId::parse(u)
                .map_err(|e| ApiError::bad_request("bad_user", format!("user {u:?} {e}")))
        })
        .collect::<Result<_, _>>()?;
    let (platform, collector) = match q.source.as_deref() {
        None => (true, types.is_empty()),
        Some("platform") => (true, false),
        Some("collector") => (false, true),
        Some(s) => {
            return Err(ApiError::bad_request(
                "bad_source",
                format!("source {s:?} is not platform or collector"),
            ))
        }
    };
    if !platform && !types.is_empty() {
        return Err(ApiError::bad_request(
            "bad_source",
            "collector entries have no type; drop type or source",
        ));
    }
    Ok(AuditFilter {
        platform,
        types,
        collector,
        users,
        entity_kind: q.entity_kind.clone(),
        entity_id: q.entity_id.clone(),
        from: q.from,
        to: q.to,
    })
}

/// The tenant activity log: platform records and the collector's records of
/// trail access, newest first, filtered. Admins only.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "activity log",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the activity log.", body = shared::audit::AuditPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("admin_token" = [])),
)]
pub async fn list(
    Admin(who): Admin,
    q: web::Query<AuditQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let limit = match q.limit.unwrap_or(DEFAULT_PAGE) {
        n if (1..=MAX_PAGE).contains(&n) => n,
        _ => {
            return Err(ApiError::bad_request(
                "bad_limit",
                format!("limit must be from 1 to {MAX_PAGE}"),
            ))
        }
    };
    let filter = parse_filter(&q)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| match URL_SAFE_NO_PAD.decode(c) {
            Ok(b) if b.len() == 16 => Ok(b),
            _ => Err(ApiError::bad_request("bad_cursor", "cursor is not valid")),
        })
        .transpose()?;
    let store = store.into_inner();
    let scan = web::block(move || store.audit(&who.tenant, &filter, before.as_deref(), limit))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
        .map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok().json(AuditPage {
        records: scan.entries,
        next_cursor: scan.next.map(|k| URL_SAFE_NO_PAD.encode(k)),
    }))
}

/// `GET /api/v1/audit/verify`: checks the tenant's activity log against its
/// chain. Every entry (platform records and the collector's own) is chained
/// per tenant in the order stored; an entry edited, removed or slipped in
/// afterwards, or a log cut short, is reported where it breaks.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "activity log",
    params(crate::routes::sessions::PinQuery),
    responses(
        (status = 200, description = "The activity log's chain is valid (with its length and head; with a pin, it also still holds the pinned entries) or where it breaks.", body = shared::api::ChainVerification),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("admin_token" = [])),
)]
pub async fn verify(
    Admin(who): Admin,
    query: web::Query<crate::routes::sessions::PinQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let pin = query.pin()?;
    // A check reads the whole log: one at a time per tenant.
    let turn = store
        .audit_check_turn(&who.tenant)
        .ok_or(ApiError::TooManyRequests {
            scope: "activity log check (one at a time per tenant)",
            retry_after_secs: 5,
        })?;
    let store = store.into_inner();
    let result = web::block(move || {
        let _turn = turn;
        store.verify_audit(&who.tenant, pin)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
    .map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok().json(result))
}
