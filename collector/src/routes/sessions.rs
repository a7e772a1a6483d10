//! `GET /api/v1/sessions` and `GET /api/v1/sessions/{session_id}/events`: what
//! agents read.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use shared::api::{EventsPage, GapsPage, SessionsPage};
use shared::audit::AccessAction;
use shared::{EventType, SessionId};

use crate::audit::record_access;
use crate::auth::Reader;
use crate::error::ApiError;
use crate::store::{EventFilter, Store};

/// Default page size when the client names none.
const DEFAULT_PAGE: usize = 100;
/// Largest page a client may ask for: bounds the work and memory of one request.
const MAX_PAGE: usize = 1000;

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        0 => Err(ApiError::bad_request(
            "bad_limit",
            "limit must be at least 1",
        )),
        n if n > MAX_PAGE => Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be at most {MAX_PAGE}"),
        )),
        n => Ok(n),
    }
}

fn decode_cursor(c: &Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    c.as_deref()
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .map_err(|_| ApiError::bad_request("bad_cursor", "cursor is not valid"))
        })
        .transpose()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
        .map_err(ApiError::Internal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list(
    Reader(who): Reader,
    q: web::Query<SessionsQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(q.limit)?;
    // The cursor is the number of sessions already shown, opaque to clients.
    let skip = match decode_cursor(&q.cursor)? {
        Some(b) => u64::from_be_bytes(
            b.try_into()
                .map_err(|_| ApiError::bad_request("bad_cursor", "cursor is not valid"))?,
        ) as usize,
        None => 0,
    };
    let store = store.into_inner();
    let all = blocking(move || store.sessions(&who.tenant)).await?;
    let total = all.len();
    let sessions: Vec<_> = all.into_iter().skip(skip).take(limit).collect();
    let end = skip + sessions.len();
    let next_cursor = (end < total).then(|| URL_SAFE_NO_PAD.encode((end as u64).to_be_bytes()));
    Ok(HttpResponse::Ok().json(SessionsPage {
        sessions,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    /// Comma-separated seed type names, e.g. `CLICK,INPUT`.
    #[serde(rename = "type")]
    types: Option<String>,
    /// Comma-separated actor kinds: `customer`, `agent`, `script`.
    actor: Option<String>,
    /// Client time bounds (ms since epoch), inclusive.
    from: Option<i64>,
    to: Option<i64>,
    /// `asc` (oldest first, default) or `desc`.
    order: Option<String>,
}

fn parse_filter(q: &EventsQuery) -> Result<EventFilter, ApiError> {
    let split = |s: &Option<String>| -> Vec<String> {
        s.as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let types = split(&q.types)
        .iter()
        .map(|t| {
            EventType::parse(t).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_type",
                    format!(
                        "unknown event type {t:?}; expected one of {}",
                        EventType::ALL.map(|t| t.as_str()).join(", ")
                    ),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let actors = split(&q.actor);
    if let Some(a) = actors
        .iter()
        .find(|a| !["customer", "agent", "script"].contains(&a.as_str()))
    {
        return Err(ApiError::bad_request(
            "bad_actor",
            format!("unknown actor {a:?}; expected customer, agent or script"),
        ));
    }
    Ok(EventFilter {
        types,
        actors,
        from: q.from,
        to: q.to,
    })
}

pub async fn events(
    Reader(who): Reader,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<EventsQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = SessionId::parse(path.into_inner())
        .map_err(|e| ApiError::bad_request("bad_session_id", format!("session id {e}")))?;
    let limit = page_size(q.limit)?;
    let filter = parse_filter(&q)?;
    let descending = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => {
            return Err(ApiError::bad_request(
                "bad_order",
                format!("order {o:?} is not asc or desc"),
            ))
        }
    };
    let after = decode_cursor(&q.cursor)?;
    let store = store.into_inner();
    let first_page = after.is_none();
    let (reader, tenant, sid) = (store.clone(), who.tenant.clone(), session.clone());
    let page = blocking(move || {
        let (store, session) = (reader, sid);
        if store.session(&tenant, &session)?.is_none() {
            return Ok(None);
        }
        store
            .events(
                &tenant,
                &session,
                &filter,
                after.as_deref(),
                descending,
                limit,
            )
            .map(Some)
    })
    .await?
    .ok_or_else(|| ApiError::NotFound("no such session".into()))?;
    // Opening a trail is audited; turning its pages is the same viewing.
    if first_page {
        record_access(&store, &who, &req, AccessAction::Viewed, &session).await?;
    }
    Ok(HttpResponse::Ok().json(EventsPage {
        events: page.events,
        next_cursor: page.next.map(|k| URL_SAFE_NO_PAD.encode(k)),
    }))
}

pub async fn gaps(
    Reader(who): Reader,
    path: web::Path<String>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = SessionId::parse(path.into_inner())
        .map_err(|e| ApiError::bad_request("bad_session_id", format!("session id {e}")))?;
    let store = store.into_inner();
    let tenant = who.tenant;
    let gaps = blocking(move || {
        if store.session(&tenant, &session)?.is_none() {
            return Ok(None);
        }
        store.gaps(&tenant, &session).map(Some)
    })
    .await?
    .ok_or_else(|| ApiError::NotFound("no such session".into()))?;
    Ok(HttpResponse::Ok().json(GapsPage { gaps }))
}
