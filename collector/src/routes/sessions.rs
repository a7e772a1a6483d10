//! `/api/v1/sessions`: what agents read (the list, one session, its events and
//! gaps, the verification of its integrity chain) and what admins delete.
//! A deleted session answers `410 Gone` with its tombstone.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use shared::api::{EventsPage, GapsPage, SessionsPage};
use shared::audit::AccessAction;
use shared::{EventType, SessionId, TenantId};

use crate::audit::record_access;
use crate::auth::{Admin, Reader};
use crate::error::ApiError;
use crate::routes::ingest::now_ms;
use crate::store::{EventFilter, SessionFilter, SessionStatus, Store};

/// Default page size when the client names none.
const DEFAULT_PAGE: usize = 100;
/// Largest page a client may ask for: bounds the work and memory of one request.
const MAX_PAGE: usize = 1000;

pub(crate) fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
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

pub(crate) fn decode_cursor(c: &Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    c.as_deref()
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .map_err(|_| ApiError::bad_request("bad_cursor", "cursor is not valid"))
        })
        .transpose()
}

/// A cursor that is a position in a time index (the last item of the previous
/// page), not an offset: items that move or arrive while a client pages go to
/// the front instead of shifting every later page. Anything the collector did
/// not hand out is refused.
pub(crate) fn position_cursor(cursor: &Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    let position = decode_cursor(cursor)?;
    if position
        .as_deref()
        .is_some_and(|p| crate::store::parse_time_suffix(p).is_none())
    {
        return Err(ApiError::bad_request("bad_cursor", "cursor is not valid"));
    }
    Ok(position)
}

/// The answer for a session that could not be read: 410 with the tombstone
/// for a deleted one, 404 for one never stored (or another tenant's), 503 for
/// one that came back between two reads (retry).
pub(crate) fn not_readable(status: SessionStatus) -> ApiError {
    match status {
        SessionStatus::Deleted(t) => ApiError::Gone(Box::new(t)),
        SessionStatus::Unknown => ApiError::NotFound("no such session".into()),
        SessionStatus::Live(_) => {
            ApiError::Unavailable("the session changed while it was read; try again".into())
        }
    }
}

/// A read of a trail as answered: when the session was deleted meanwhile (its
/// purge removing records under the read), the deletion, not a failed,
/// partial or broken-looking read (a 500, a page with holes, a chain that
/// seems cut).
pub(crate) fn unless_deleted<T>(
    store: &Store,
    tenant: &TenantId,
    session: &SessionId,
    read: anyhow::Result<T>,
) -> anyhow::Result<Result<T, SessionStatus>> {
    match store.status(tenant, session)? {
        deleted @ SessionStatus::Deleted(_) => Ok(Err(deleted)),
        _ => read.map(Ok),
    }
}

pub(crate) fn parse_session(path: web::Path<String>) -> Result<SessionId, ApiError> {
    SessionId::parse(path.into_inner())
        .map_err(|e| ApiError::bad_request("bad_session_id", format!("session id {e}")))
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
        .map_err(ApiError::Internal)
}

/// The query of an endpoint that takes no parameters: any is refused
/// (`400 bad_query`), so a client that means to page or filter one learns it
/// cannot instead of getting the whole answer unasked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The query of the verify endpoints: optionally a pin, the `length` and
/// `head` a chain had when they were recorded outside the store (an earlier
/// verify's answer, an export's last line). The chain must then still hold
/// that many links and its first `length` must end at `head`: what the
/// store's own recorded head cannot show (its end cut off and the head set
/// back, or the whole chain recomputed after an edit).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PinQuery {
    /// The chain's length when pinned (with `head`).
    pub length: Option<u64>,
    /// The chain's head when pinned: 64 hex digits (with `length`).
    pub head: Option<String>,
}

impl PinQuery {
    /// The pin, `None` when neither is given; `400 bad_pin` for one without
    /// the other or a head that is not 64 hex digits.
    pub fn pin(&self) -> Result<Option<crate::chain::Pin>, ApiError> {
        let bad = |m: &str| ApiError::bad_request("bad_pin", m.to_string());
        match (self.length, self.head.as_deref()) {
            (None, None) => Ok(None),
            (Some(0), _) => Err(bad(
                "a pin's length is at least 1 (an empty chain pins nothing)",
            )),
            (Some(length), Some(head)) => {
                let mut hash = [0u8; crate::chain::HASH_LEN];
                hex::decode_to_slice(head, &mut hash)
                    .map_err(|_| bad("head must be the 64 hex digits of a chain head"))?;
                Ok(Some(crate::chain::Pin { length, head: hash }))
            }
            _ => Err(bad("a pin needs both `length` and `head`")),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (opaque).
    cursor: Option<String>,
    /// Active within this window (ms since epoch, collector time): its start.
    from: Option<i64>,
    /// The window's end (ms since epoch, collector time).
    to: Option<i64>,
    /// `true`: an agent took part; `false`: no agent did.
    agent: Option<bool>,
    /// Text in the session id or a visited page URL.
    q: Option<String>,
}

/// Sessions of the caller's tenant, most recently active first, filtered.
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "sessions",
    params(SessionsQuery),
    responses(
        (status = 200, description = "A page of sessions.", body = shared::api::SessionsPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("reader_token" = [])),
)]
pub async fn list(
    Reader(who): Reader,
    req: HttpRequest,
    q: web::Query<SessionsQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(q.limit)?;
    let before = position_cursor(&q.cursor)?;
    let first_page = before.is_none();
    let filter = SessionFilter {
        from: q.from,
        to: q.to,
        agent: q.agent,
        text: q.q.clone().filter(|t| !t.trim().is_empty()),
    };
    // What was searched, without paging: the list names customers' addresses,
    // browsers and pages, so reading it is on record like reading a trail.
    let mut searched = Vec::new();
    if let Some(text) = &filter.text {
        // Encoded, so a search for `a&agent=true` is not logged as a filter.
        let text = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC);
        searched.push(format!("q={text}"));
    }
    if let Some(agent) = filter.agent {
        searched.push(format!("agent={agent}"));
    }
    if let Some(from) = filter.from {
        searched.push(format!("from={from}"));
    }
    if let Some(to) = filter.to {
        searched.push(format!("to={to}"));
    }
    let (reader, tenant) = (store.clone().into_inner(), who.tenant.clone());
    let page =
        blocking(move || reader.sessions_page(&tenant, &filter, before.as_deref(), limit)).await?;
    crate::audit::record_listing(&store, &who, &req, &searched.join("&"), first_page).await?;
    Ok(HttpResponse::Ok().json(SessionsPage {
        sessions: page.items,
        next_cursor: page.next.map(|p| URL_SAFE_NO_PAD.encode(p)),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (opaque).
    cursor: Option<String>,
    /// Comma-separated seed type names, e.g. `CLICK,INPUT`.
    #[serde(rename = "type")]
    types: Option<String>,
    /// Comma-separated actor kinds: `customer`, `agent`, `script`.
    actor: Option<String>,
    /// Client time bounds (ms since epoch), inclusive: the earliest.
    from: Option<i64>,
    /// The latest client time (ms since epoch), inclusive.
    to: Option<i64>,
    /// `asc` (oldest first, default) or `desc`.
    #[param(pattern = "^(asc|desc)$")]
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

/// A session's events, filtered, in client-time order. Reading a trail is
/// recorded in the activity log as `session.viewed` (one user's pages within a
/// minute are one entry).
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{session_id}/events",
    tag = "sessions",
    params(("session_id" = shared::SessionId, Path, description = "The session."), EventsQuery),
    responses(
        (status = 200, description = "A page of events.", body = shared::api::EventsPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 410, response = crate::openapi::Gone),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("reader_token" = [])),
)]
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
    // Only a position this trail's pages hand out: `cursor=` or a forged one
    // would otherwise read from the start.
    if after
        .as_deref()
        .is_some_and(|p| !crate::store::is_timeline_position(p))
    {
        return Err(ApiError::bad_request("bad_cursor", "cursor is not valid"));
    }
    let store = store.into_inner();
    let (reader, tenant, sid) = (store.clone(), who.tenant.clone(), session.clone());
    let page = blocking(move || {
        let (store, session) = (reader, sid);
        if let s @ (SessionStatus::Deleted(_) | SessionStatus::Unknown) =
            store.status(&tenant, &session)?
        {
            return Ok(Err(s));
        }
        let page = store.events(
            &tenant,
            &session,
            &filter,
            after.as_deref(),
            descending,
            limit,
        );
        unless_deleted(&store, &tenant, &session, page)
    })
    .await?
    .map_err(not_readable)?;
    // Every page is a view of the trail, whatever cursor the client holds;
    // one user's pages within a minute are one entry (see `audit`).
    record_access(&store, &who, &req, AccessAction::Viewed, &session).await?;
    Ok(HttpResponse::Ok().json(EventsPage {
        events: page.events,
        next_cursor: page.next.map(|k| URL_SAFE_NO_PAD.encode(k)),
    }))
}

/// The gaps the session's recorders reported: sequence numbers that will never
/// arrive, and why; and the sequence numbers nothing accounts for yet.
///
/// `unaccounted` lists, per tab, the numbers below the tab's highest stored
/// or reported one that no stored event holds and no gap record reports lost
/// (at most 1,000 runs): events still on their way (a queue another page of
/// the site sends later) or lost without a word. A complete trail has none.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{session_id}/gaps",
    tag = "sessions",
    params(("session_id" = shared::SessionId, Path, description = "The session.")),
    responses(
        (status = 200, description = "The session's gaps and unaccounted sequence numbers, by tab and sequence.", body = shared::api::GapsPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 410, response = crate::openapi::Gone),
        (status = 500, response = crate::openapi::Internal),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("reader_token" = [])),
)]
pub async fn gaps(
    Reader(who): Reader,
    req: HttpRequest,
    _no_params: web::Query<NoParams>,
    path: web::Path<String>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = SessionId::parse(path.into_inner())
        .map_err(|e| ApiError::bad_request("bad_session_id", format!("session id {e}")))?;
    let reader = store.clone().into_inner();
    let (tenant, sid) = (who.tenant.clone(), session.clone());
    let page = blocking(move || {
        let (store, tenant, session) = (reader, tenant, sid);
        let status = store.status(&tenant, &session)?;
        if let SessionStatus::Live(_) = status {
            let page = store.gaps(&tenant, &session).and_then(|gaps| {
                let unaccounted = store.unaccounted(&tenant, &session, &gaps)?;
                Ok(GapsPage { gaps, unaccounted })
            });
            return unless_deleted(&store, &tenant, &session, page);
        }
        Ok(Err(status))
    })
    .await?
    .map_err(not_readable)?;
    // What was lost is part of the trail: a view of it like any other.
    record_access(&store, &who, &req, AccessAction::Viewed, &session).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/sessions/{id}`: one session's summary.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{session_id}",
    tag = "sessions",
    params(("session_id" = shared::SessionId, Path, description = "The session.")),
    responses(
        (status = 200, description = "The session's summary.", body = shared::api::SessionSummary),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 410, response = crate::openapi::Gone),
        (status = 500, response = crate::openapi::Internal),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("reader_token" = [])),
)]
pub async fn get(
    Reader(who): Reader,
    req: HttpRequest,
    _no_params: web::Query<NoParams>,
    path: web::Path<String>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = parse_session(path)?;
    let reader = store.clone().into_inner();
    let (tenant, sid) = (who.tenant.clone(), session.clone());
    match blocking(move || reader.status(&tenant, &sid)).await? {
        SessionStatus::Live(summary) => {
            // The summary names the customer's address, browser and pages: a
            // view of the trail too.
            record_access(&store, &who, &req, AccessAction::Viewed, &session).await?;
            Ok(HttpResponse::Ok().json(summary))
        }
        other => Err(not_readable(other)),
    }
}

/// `GET /api/v1/sessions/{id}/verify`: recomputes the session's integrity
/// chain and reports its head, or the first link that does not check out;
/// with a pin ([`PinQuery`]), also whether the chain still holds it.
/// Recorded in the activity log as `session.verified`.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{session_id}/verify",
    tag = "sessions",
    params(("session_id" = shared::SessionId, Path, description = "The session."), PinQuery),
    responses(
        (status = 200, description = "The chain is valid (with its length and head; with a pin, it also still holds the pinned links) or where it breaks.", body = shared::api::ChainVerification),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 410, response = crate::openapi::Gone),
        (status = 500, response = crate::openapi::Internal),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("reader_token" = [])),
)]
pub async fn verify(
    Reader(who): Reader,
    req: HttpRequest,
    query: web::Query<PinQuery>,
    path: web::Path<String>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = parse_session(path)?;
    let pin = query.pin()?;
    let store = store.into_inner();
    let (reader, tenant, sid) = (store.clone(), who.tenant.clone(), session.clone());
    let result = blocking(move || {
        if let Some(verified) = reader.verify_pinned(&tenant, &sid, pin).transpose() {
            // A purge running under the check would show as a broken chain.
            return unless_deleted(&reader, &tenant, &sid, verified);
        }
        // Not stored: say whether it was deleted or never existed.
        Ok(Err(reader.status(&tenant, &sid)?))
    })
    .await?
    .map_err(not_readable)?;
    // Checking a trail is itself an audited access.
    record_access(&store, &who, &req, AccessAction::Verified, &session).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// After the tombstone (and the activity-log entry written with it): on
/// disk, then the records purged. The purge runs even when the flush failed
/// (the deletion stands, and the tombstone names the admin); one that fails,
/// or a process that dies during it, is finished at the next start-up
/// (`Store::finish_deletions`).
async fn finish_delete(
    store: std::sync::Arc<Store>,
    who: crate::tenants::Principal,
    tombstone: shared::api::Tombstone,
) -> Result<(), ApiError> {
    let session = tombstone.session_id.clone();
    // The tombstone and its entry must survive a crash just like an
    // acknowledged event.
    let flushed = store.flush().await;
    let (purger, tenant, sid) = (store.clone(), who.tenant.clone(), session.clone());
    if let Err(e) = blocking(move || purger.purge_session(&tenant, &sid)).await {
        tracing::error!(
            session = %session,
            error = match &e {
                ApiError::Internal(cause) => format!("{cause:#}"),
                other => other.to_string(),
            },
            "purging a deleted session failed; the next start-up finishes it"
        );
    }
    Ok(flushed?)
}

/// `DELETE /api/v1/sessions/{id}` (admins): deletes the session's events, gaps
/// and chain, leaving a tombstone that names the admin; answers the tombstone.
/// Recorded in the activity log as `session.deleted`.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{session_id}",
    tag = "sessions",
    params(("session_id" = shared::SessionId, Path, description = "The session.")),
    responses(
        (status = 200, description = "Deleted; the tombstone it left (on disk).", body = shared::api::Tombstone),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 410, response = crate::openapi::Gone),
        (status = 500, response = crate::openapi::Internal),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("admin_token" = [])),
)]
pub async fn delete(
    Admin(who): Admin,
    req: HttpRequest,
    path: web::Path<String>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = parse_session(path)?;
    let reason = format!("deleted by {}", who.user);
    let writer = store.clone().into_inner();
    let (tenant, sid) = (who.tenant.clone(), session.clone());
    let by = crate::store::DeletedBy {
        user: who.user.clone(),
        origin: crate::routes::ingest::request_origin(&req),
    };
    let result =
        blocking(
            move || match writer.tombstone(&tenant, &sid, &reason, &by, now_ms())? {
                Some(t) => Ok(Ok(t)),
                None => Ok(Err(writer.status(&tenant, &sid)?)),
            },
        )
        .await?;
    // Deleting twice answers 410: the first deletion stands.
    let tombstone = result.map_err(not_readable)?;
    ::metrics::counter!(crate::telemetry::metric::SESSIONS_DELETED, "reason" => "admin")
        .increment(1);
    // (The store logs the deletion, `session deleted`.)
    // What follows the tombstone runs as a task of its own: a client that
    // gives up waiting (the purge takes as long as the session is big) or a
    // failed flush must not leave the records on disk, and a retried DELETE
    // only finds the tombstone.
    let task = actix_web::rt::spawn(finish_delete(store.into_inner(), who, tombstone.clone()));
    task.await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("deletion task failed: {e}")))??;
    Ok(HttpResponse::Ok().json(tombstone))
}
