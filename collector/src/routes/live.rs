//! `GET /api/v1/sessions/{session_id}/live`: a session's events as they are
//! stored, over Server-Sent Events.
//!
//! Each message is `id: <arrival number>` and `data: <EventRecord JSON>`.
//! Arrival numbers count a session's stored events in the order the collector
//! stored them, so `Last-Event-ID: n` (what `EventSource` sends on reconnect;
//! `?last_event_id=n` for a first connection) resumes with exactly the events
//! after `n`: first replayed from the store, then live. Without it the stream
//! starts with the next event stored. A comment every [`KEEPALIVE`] keeps
//! proxies from closing an idle stream.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use shared::api::EventRecord;
use shared::audit::AccessAction;
use shared::{SessionId, TenantId};
use tokio::sync::broadcast::error::RecvError;

use crate::audit::record_access;
use crate::auth::Reader;
use crate::error::ApiError;
use crate::live::{Full, Live, Subscription};

// The 429's message names the per-user limit.
const _: () = assert!(crate::live::MAX_FOLLOWS_PER_USER == 32);
const _: () = assert!(crate::live::MAX_FOLLOWS_PER_TENANT == 250);
use crate::routes::sessions::{blocking, parse_session};
use crate::store::{SessionStatus, Store};

/// Idle time after which a keep-alive comment is sent.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// Events read from the store per replay step: bounds the memory of a
/// subscriber catching up on a long session.
const REPLAY_PAGE: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Same as the `Last-Event-ID` header, for clients that cannot set it.
    last_event_id: Option<String>,
}

fn parse_position(s: &str) -> Result<u64, ApiError> {
    s.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "bad_last_event_id",
            format!("Last-Event-ID {s:?} is not a position this stream sent"),
        )
    })
}

/// A session's events as they are stored, as Server-Sent Events.
///
/// Each message is `id: <arrival number>` and `data: <EventRecord JSON>`;
/// `: keep-alive` comments every 15 s. Reconnecting with `Last-Event-ID`
/// resumes with exactly the events after it. A session not stored yet may be
/// followed. Every connection is recorded in the activity log as
/// `session.viewed` (one user's reconnects within a minute are one entry).
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{session_id}/live",
    tag = "sessions",
    params(
        ("session_id" = shared::SessionId, Path, description = "The session."),
        ("Last-Event-ID" = Option<u64>, Header, description = "The last arrival number received: resume after it."),
        LiveQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each `data:` line is one `EventRecord` as JSON.",
            content_type = "text/event-stream", body = String,
            example = json!("retry: 1000\n\nid: 0\ndata: {\"session_id\":\"s-1\",\"tab_id\":\"t-1\",\"received_at\":1763800000500,\"origin\":{},\"seq\":0,\"ts\":1763800000000,\"mono\":1000,\"actor\":{\"kind\":\"customer\"},\"type\":\"CLICK\",\"data\":{\"target\":{\"tag\":\"button\",\"path\":\"button#buy\"}}}\n\n")),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 410, response = crate::openapi::Gone),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 500, response = crate::openapi::Internal),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("reader_token" = [])),
)]
pub async fn live(
    Reader(who): Reader,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<LiveQuery>,
    store: web::Data<Store>,
    live: web::Data<Live>,
) -> Result<HttpResponse, ApiError> {
    let session = parse_session(path)?;
    // A deleted trail is 410 here as on every read. A session not stored yet
    // may be followed: an agent can open the live view before the customer acts.
    let (s, t, id) = (store.clone(), who.tenant.clone(), session.clone());
    if let SessionStatus::Deleted(tombstone) = blocking(move || s.status(&t, &id)).await? {
        return Err(ApiError::Gone(Box::new(tombstone)));
    }
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
    let last = header
        .or_else(|| q.last_event_id.clone())
        .map(|s| parse_position(&s))
        .transpose()?;
    let store = store.into_inner();
    // Subscribe before reading the store: whatever is stored from here on is
    // either read below or arrives on the channel. Refused (and not recorded
    // as a view) when this user, or the collector, follows all it may.
    let sub = live
        .subscribe(&who.tenant, &session, &who.user)
        .map_err(|full| match full {
            Full::User => ApiError::TooManyRequests {
                // (The number is MAX_FOLLOWS_PER_USER's; a check below keeps them in step.)
                scope: "user (at most 32 live follows at once)",
                retry_after_secs: 5,
            },
            Full::Tenant => ApiError::TooManyRequests {
                // (The number is MAX_FOLLOWS_PER_TENANT's, kept in step above.)
                scope: "tenant (at most 250 live follows at once, all its users together)",
                retry_after_secs: 5,
            },
            Full::Collector => ApiError::Unavailable(
                "the collector serves as many live follows as it may; try again later".into(),
            ),
        })?;
    // Every connection is a view, a claimed resume too: any client can send a
    // `Last-Event-ID`. A user's reconnects within a minute are one entry.
    record_access(&store, &who, &req, AccessAction::Viewed, &session).await?;
    let next = match last {
        Some(n) => n.saturating_add(1),
        None => {
            let (s, t, id) = (store.clone(), who.tenant.clone(), session.clone());
            web::block(move || s.arrival_count(&t, &id))
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
                .map_err(ApiError::Internal)?
        }
    };
    let tail = Tail {
        store: (*store).clone(),
        tenant: who.tenant,
        session,
        sub,
        next,
        catch_up: true,
        // Tells EventSource how soon to reconnect; also starts the body at once.
        pending: VecDeque::from([Bytes::from_static(b"retry: 1000\n\n")]),
    };
    let stream = futures_util::stream::unfold(tail, |mut tail| async move {
        match tail.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, actix_web::Error>(chunk), tail)),
            // The collector is stopping; the client reconnects to the next one.
            Ok(None) => None,
            Err(e) => {
                // Ending the stream makes the client reconnect with its
                // Last-Event-ID, which resumes without a gap.
                tracing::error!(error = format!("{e:#}"), "live tail stopped");
                None
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Proxies (nginx) must not buffer a live stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// One follower's position and what is ready to send.
struct Tail {
    store: Store,
    tenant: TenantId,
    session: SessionId,
    sub: Subscription,
    /// Arrival number of the next event to send: everything before it was sent.
    next: u64,
    /// The store may hold events after `next - 1` the channel will not bring
    /// (the first connection, a reconnect, a lag, an out-of-order publish).
    catch_up: bool,
    pending: VecDeque<Bytes>,
}

impl Tail {
    fn push(&mut self, arrival: u64, record: &EventRecord) -> anyhow::Result<()> {
        let json = serde_json::to_string(record)?;
        // serde_json escapes newlines inside strings, so `data:` is one line.
        self.pending
            .push_back(Bytes::from(format!("id: {arrival}\ndata: {json}\n\n")));
        self.next = arrival + 1;
        Ok(())
    }

    /// The next bytes to send; `None` once the collector is stopping.
    async fn next_chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        loop {
            if *self.sub.closing.borrow() {
                return Ok(None);
            }
            if let Some(chunk) = self.pending.pop_front() {
                return Ok(Some(chunk));
            }
            if self.catch_up {
                let (store, tenant, session) = (
                    self.store.clone(),
                    self.tenant.clone(),
                    self.session.clone(),
                );
                let after = self.next.checked_sub(1);
                let page =
                    web::block(move || store.arrivals_after(&tenant, &session, after, REPLAY_PAGE))
                        .await??;
                self.catch_up = page.len() == REPLAY_PAGE;
                for (arrival, record) in page {
                    self.push(arrival, &record)?;
                }
                continue;
            }
            tokio::select! {
                got = self.sub.rx.recv() => match got {
                    Ok(ev) if ev.arrival < self.next => {}
                    Ok(ev) if ev.arrival == self.next => self.push(ev.arrival, &ev.record)?,
                    // A jump: the events in between are in the store.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.catch_up = true,
                    Err(RecvError::Closed) => anyhow::bail!("live channel closed"),
                },
                _ = self.sub.closing.changed() => {}
                _ = tokio::time::sleep(KEEPALIVE) => {
                    return Ok(Some(Bytes::from_static(b": keep-alive\n\n")));
                }
            }
        }
    }
}
