//! `POST /api/v1/batches`: a recorder's batch in, an acknowledgement out once the
//! events are on disk.
//!
//! Accepts `application/json` and `text/plain` (what `sendBeacon` and CORS
//! "simple" requests send, so no preflight is needed). Every rejection is a 4xx
//! JSON error naming what is wrong; nothing is stored from a rejected batch.
//! A batch for a deleted session is refused with `410 Gone` (without its
//! tombstone, which only readers see).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use shared::api::{EventRecord, GapRecord, Origin};
use shared::limits::MAX_BODY_BYTES;
use shared::{Batch, EventData};

use std::net::IpAddr;

use crate::config::ProxyNet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::TenantId;

use crate::config::Settings;
use crate::durability::GroupCommit;
use crate::error::ApiError;
use crate::gaps::MAX_GAP_RECORDS_PER_SESSION;
use crate::live::{Live, LiveEvent};
use crate::rate_limit::RateLimits;
use crate::store::{Ingest, Inserted, Store};
use crate::telemetry::{self, metric, LogField};
use crate::tenants::{origin_allowed, Tenants};

/// Longest `User-Agent` kept: enough for every real browser string.
const MAX_USER_AGENT_CHARS: usize = 512;

/// Deepest nesting of `[`/`{` a body may have. A batch is four levels deep
/// (batch, events, event, data) above a custom value of at most
/// [`shared::limits::MAX_JSON_DEPTH`]; anything deeper is refused by a linear
/// scan before the parser sees it, so hostile nesting costs no recursion.
pub const MAX_BODY_DEPTH: usize = shared::limits::MAX_JSON_DEPTH + 8;

/// What the ingest route needs beyond the store: settings it applies.
pub struct IngestConfig {
    pub trusted_proxies: Vec<ProxyNet>,
    pub body_read_timeout: Duration,
}

impl IngestConfig {
    pub fn new(settings: &Settings) -> Self {
        IngestConfig {
            trusted_proxies: settings.trusted_proxies.clone(),
            body_read_timeout: Duration::from_millis(settings.body_read_timeout_ms),
        }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IngestQuery {
    /// The site's public key (in the URL: `sendBeacon` cannot set headers).
    /// Without it the answer is 401.
    site_key: Option<String>,
    /// `gzip`: the body is gzip-compressed (what the recorder sends where the
    /// browser can compress; still `text/plain`, so no preflight). The size
    /// limit applies to the body as sent and to the decompressed batch.
    #[param(example = "gzip")]
    encoding: Option<String>,
}

/// Whether `?encoding=` says the body is gzipped; any other value is refused
/// before the body is read.
fn gzip_encoded(encoding: Option<&str>) -> Result<bool, ApiError> {
    match encoding {
        None => Ok(false),
        Some("gzip") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "unsupported_encoding",
            format!("encoding={other:?} is not supported; use gzip or leave it out"),
        )),
    }
}

/// Decompresses a gzipped body, refusing what inflates past the body limit.
fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    // Read one byte past the limit to tell "at the limit" from "over": a small
    // hostile body that would inflate to gigabytes stops here.
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ApiError::bad_request("bad_gzip", format!("the body is not valid gzip: {e}"))
        })?;
    if out.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(out)
}

/// Resolves the site key to its tenant and checks the page's origin against
/// the key's allowed origins. Requests without `Origin` (not from a browser
/// page) pass: a site key is public, the Origin check stops other sites' pages
/// from writing into this tenant's trails.
fn authorize(
    req: &HttpRequest,
    tenants: &Tenants,
    key: Option<&str>,
) -> Result<TenantId, ApiError> {
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthorized {
            code: "missing_site_key",
            message: "add ?site_key=<your site key> to the URL".into(),
        })?;
    let site = tenants.site_key(key).ok_or(ApiError::Unauthorized {
        code: "unknown_site_key",
        message: "this site key is not known".into(),
    })?;
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(&site.origins, origin) {
            return Err(ApiError::Forbidden {
                code: "origin_not_allowed",
                message: format!("pages on {origin:?} may not use this site key"),
            });
        }
    }
    Ok(site.tenant.clone())
}

/// A recorder's batch: events of one tab of one session, and gaps.
///
/// Answers once every event is on disk. Re-sent events (same session, tab,
/// seq) are stored once and counted as duplicates. `text/plain` is accepted
/// so `sendBeacon` and CORS simple requests need no preflight.
#[utoipa::path(
    post,
    path = "/api/v1/batches",
    tag = "ingest",
    params(IngestQuery),
    request_body(
        description = "A batch (JSON, as `application/json` or `text/plain`).",
        content(
            (shared::Batch = "application/json"),
            (shared::Batch = "text/plain"),
        ),
    ),
    responses(
        (status = 200, description = "Every event of the batch is on disk.", body = shared::api::IngestAck),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 408, response = crate::openapi::RequestTimeout),
        (status = 409, response = crate::openapi::Conflict),
        (status = 410, response = crate::openapi::GoneForWriters),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("site_key" = [])),
)]
#[allow(clippy::too_many_arguments)] // actix extractors: one argument each.
pub async fn ingest(
    req: HttpRequest,
    query: web::Query<IngestQuery>,
    body: web::Payload,
    store: web::Data<Store>,
    commit: web::Data<GroupCommit>,
    tenants: web::Data<Arc<Tenants>>,
    limits: web::Data<RateLimits>,
    config: web::Data<IngestConfig>,
    live: web::Data<Live>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let result = ingest_batch(
        &req, &query, body, &store, &commit, &tenants, &limits, &config, &live,
    )
    .await;
    match &result {
        Ok(ack) => {
            ::metrics::counter!(metric::EVENTS_INGESTED).increment(ack.stored as u64);
            ::metrics::counter!(metric::DUPLICATES).increment(ack.duplicates as u64);
            ::metrics::histogram!(metric::INGEST_SECONDS).record(started.elapsed());
        }
        Err(e) => ::metrics::counter!(metric::REJECTS, "code" => e.code()).increment(1),
    }
    Ok(HttpResponse::Ok().json(result?))
}

/// Reads a request body of at most [`MAX_BODY_BYTES`] within `timeout`: a
/// declared length over the limit is refused before reading, and a body that
/// does not declare one, or lies, while it is read. A client that sends
/// headers and then dribbles (or stalls) its body would otherwise hold a
/// worker's connection for as long as it likes: it gets a 408 instead.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut body: web::Payload,
    timeout: Duration,
) -> Result<web::BytesMut, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        if len > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
    }
    let read = async {
        let mut bytes = web::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request("bad_body", format!("could not read the body: {e}"))
            })?;
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| {
        ApiError::RequestTimeout(format!(
            "the body did not arrive within {} ms",
            timeout.as_millis()
        ))
    })?
}

#[allow(clippy::too_many_arguments)] // the extractors, passed through.
async fn ingest_batch(
    req: &HttpRequest,
    query: &IngestQuery,
    body: web::Payload,
    store: &Store,
    commit: &GroupCommit,
    tenants: &Tenants,
    limits: &RateLimits,
    config: &IngestConfig,
    live: &Live,
) -> Result<shared::api::IngestAck, ApiError> {
    let origin = origin_of(req, &config.trusted_proxies);
    if let Some(ip) = origin.ip.as_deref().and_then(|ip| ip.parse().ok()) {
        limits.check_ip(ip)?;
    }
    let tenant = authorize(req, tenants, query.site_key.as_deref())?;
    telemetry::record(LogField::Tenant, &tenant);
    if let Some(key) = &query.site_key {
        limits.check_site_key(key)?;
    }
    check_content_type(req)?;
    let gzip = gzip_encoded(query.encoding.as_deref())?;

    let bytes = read_body(req, body, config.body_read_timeout).await?;

    let batch = if gzip {
        decode(&gunzip(&bytes)?)?
    } else {
        decode(&bytes)?
    };
    let received_at = now_ms();
    let Stamped {
        session,
        tab,
        records,
        gaps,
    } = stamp(batch, received_at, &origin);
    telemetry::record(LogField::Session, &session);
    let writer = store.clone();
    let (t, s) = (tenant.clone(), session.clone());
    let (stored, records) = web::block(move || {
        let stored = writer.insert(Ingest {
            tenant: &tenant,
            session: &session,
            tab: &tab,
            received_at,
            origin: &origin,
            records: &records,
            gaps: &gaps,
        })?;
        anyhow::Ok((stored, records))
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))??;
    let stored = match stored {
        Inserted::Stored(stored) => stored,
        Inserted::Conflict { seqs } => {
            return Err(ApiError::Conflict {
                code: "seq_conflict",
                message: format!(
                    "this tab already has other events at seq {seqs:?}; a re-sent batch must \
                     repeat its events exactly, so nothing of the batch was stored"
                ),
            })
        }
        // A deleted session stays deleted: a late re-send must not revive it.
        Inserted::Gone(tombstone) => return Err(ApiError::GoneForWriters(tombstone.session_id)),
        Inserted::TooManyGaps { stored, new } => {
            return Err(ApiError::bad_request(
                "gap_limit",
                format!(
                    "the session has {stored} gap records and this batch would add {new}; \
                     a session keeps at most {MAX_GAP_RECORDS_PER_SESSION}, so nothing of \
                     the batch was stored"
                ),
            ))
        }
    };
    // The acknowledgement promises durability: wait for a flush that started
    // after our write (shared with every request waiting at the same time).
    // Then followers get the new events. Both in a task of their own: a
    // client that goes away meanwhile (its events are stored) must not keep
    // them from followers until the session's next batch.
    let (commit, live) = (commit.clone(), live.clone());
    let new = stored.new;
    actix_web::rt::spawn(async move {
        commit.commit().await?;
        // Followers see only what is on disk. Asked after the commit, not
        // before the write: one who subscribes after this question reads the
        // store after subscribing, and the commit is done, so every follower
        // gets the events one way or the other (asked before the write, a
        // subscriber arriving in between got neither until the next batch).
        if !new.is_empty() && live.is_followed(&t, &s) {
            let events = new
                .iter()
                .map(|&(arrival, i)| LiveEvent {
                    arrival,
                    record: Arc::new(records[i].clone()),
                })
                .collect();
            live.publish(&t, &s, events);
        }
        anyhow::Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("commit task failed: {e}")))??;
    Ok(stored.ack)
}

/// A decoded batch as the store takes it: every event and gap stamped with
/// the collector's receive time (and the request's origin).
pub struct Stamped {
    pub session: shared::SessionId,
    pub tab: shared::TabId,
    pub records: Vec<EventRecord>,
    pub gaps: Vec<GapRecord>,
}

/// Stamps a decoded batch for [`Store::insert`] (the route and the ingest
/// benchmark's in-process floor both go through here).
pub fn stamp(batch: Batch, received_at: i64, origin: &Origin) -> Stamped {
    let (session, tab) = (batch.session_id, batch.tab_id);
    let records = batch
        .events
        .into_iter()
        .map(|event| EventRecord {
            session_id: session.clone(),
            tab_id: tab.clone(),
            received_at,
            origin: origin.clone(),
            event,
        })
        .collect();
    let gaps = batch
        .gaps
        .into_iter()
        .map(|g| GapRecord {
            tab_id: tab.clone(),
            from: g.from,
            to: g.to,
            reason: g.reason,
            received_at,
        })
        .collect();
    Stamped {
        session,
        tab,
        records,
        gaps,
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence == "text/plain" {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "content type {:?} is not accepted; send application/json or text/plain",
            if ct.is_empty() { "(none)" } else { ct }
        )))
    }
}

/// Decodes and validates a batch body. Pure: the property tests call it directly.
pub fn decode(bytes: &[u8]) -> Result<Batch, ApiError> {
    let depth = nesting_depth(bytes);
    if depth > MAX_BODY_DEPTH {
        return Err(ApiError::bad_request(
            "too_deep",
            format!("body nests deeper than {MAX_BODY_DEPTH} levels"),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_utf8",
            format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let mut batch: Batch = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request("invalid_batch", format!("invalid batch: {e}")))?;
    batch
        .validate()
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    // Custom values are stored canonical, keys sorted at every level, whatever
    // order the page built them in (the recorder sends them as built). Said
    // explicitly: whether serde_json's maps keep insertion order depends on
    // the features other crates in a build turn on. The depth is bounded by
    // `validate` above, so the recursion is too.
    for e in &mut batch.events {
        if let EventData::Custom(c) = &mut e.data {
            c.value.sort_all_objects();
        }
    }
    Ok(batch)
}

/// The deepest `[`/`{` nesting in a JSON text (outside strings), stopping
/// early once past the limit. Linear, no recursion: safe on any input.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
                if max > MAX_BODY_DEPTH {
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The client's address: the socket peer, unless the peer is a trusted proxy,
/// in which case `X-Forwarded-For` is read from the right (the entry our proxy
/// appended) and the first address that is not itself a trusted proxy is the
/// client. Entries left of that were written by the client and prove nothing.
/// Addresses are canonical: an IPv4 peer of a dual-stack listener is its IPv4
/// address, not `::ffff:…`.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[ProxyNet]) -> Option<IpAddr> {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|p| p.contains(ip));
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let lines: Vec<_> = req.headers().get_all("x-forwarded-for").collect();
    for value in lines.into_iter().rev() {
        let Ok(value) = value.to_str() else { break };
        for hop in value.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !trusted(&client) {
                        return Some(client);
                    }
                }
                // A malformed entry: stop at the last address we could trust.
                Err(_) => return Some(client),
            }
        }
    }
    Some(client)
}

/// Where a request came from: the client IP (through trusted proxies only) and
/// its `User-Agent`.
pub fn origin_of(req: &HttpRequest, trusted_proxies: &[ProxyNet]) -> Origin {
    Origin {
        ip: client_ip(req, trusted_proxies).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| shared::truncate_chars(ua, MAX_USER_AGENT_CHARS).to_owned()),
    }
}

/// [`origin_of`] with the collector's configured trusted proxies, for routes
/// other than ingest (platform records, audit entries).
pub fn request_origin(req: &HttpRequest) -> Origin {
    origin_of(req, trusted_proxies(req))
}

/// [`client_ip`] with the collector's configured trusted proxies (the logs).
pub fn client_ip_of(req: &HttpRequest) -> Option<IpAddr> {
    client_ip(req, trusted_proxies(req))
}

/// Whether the request's peer is one of `trusted_proxies` (what it says of the
/// client, `X-Forwarded-For` and `X-Request-Id`, is then believed).
pub fn peer_is_trusted_proxy(req: &HttpRequest) -> bool {
    req.peer_addr().is_some_and(|peer| {
        let peer = peer.ip().to_canonical();
        trusted_proxies(req).iter().any(|p| p.contains(&peer))
    })
}

fn trusted_proxies(req: &HttpRequest) -> &[ProxyNet] {
    req.app_data::<web::Data<IngestConfig>>()
        .map_or(&[], |c| c.trusted_proxies.as_slice())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn nesting_depth_ignores_brackets_inside_strings() {
        assert_eq!(nesting_depth(br#"{"a":[1,{"b":"[[[{{{\"]"}]}"#), 3);
        assert_eq!(nesting_depth(b"[[[["), 4);
        let deep = "[".repeat(100_000);
        assert_eq!(nesting_depth(deep.as_bytes()), MAX_BODY_DEPTH + 1);
    }

    fn req(peer: &str, xff: &[&str]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for v in xff {
            r = r.append_header(("x-forwarded-for", *v));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: ProxyNet = "10.0.0.1".parse().unwrap();
        let ip = |r: &HttpRequest, t: &[ProxyNet]| client_ip(r, t).unwrap().to_string();
        // Untrusted peer: its header is ignored.
        assert_eq!(
            ip(
                &req("203.0.113.9:1", &["1.2.3.4"]),
                std::slice::from_ref(&proxy)
            ),
            "203.0.113.9"
        );
        // Trusted peer: the rightmost address it appended is the client.
        assert_eq!(
            ip(
                &req("10.0.0.1:1", &["6.6.6.6, 198.51.100.7"]),
                std::slice::from_ref(&proxy)
            ),
            "198.51.100.7"
        );
        // Chains of trusted proxies are skipped, across header lines too.
        let inner: ProxyNet = "10.0.0.2".parse().unwrap();
        assert_eq!(
            ip(
                &req("10.0.0.1:1", &["198.51.100.7", "10.0.0.2"]),
                &[proxy.clone(), inner]
            ),
            "198.51.100.7"
        );
        // Garbage stops the walk at the last trusted hop; no header: the peer.
        assert_eq!(
            ip(
                &req("10.0.0.1:1", &["1.2.3.4, nonsense"]),
                std::slice::from_ref(&proxy)
            ),
            "10.0.0.1"
        );
        assert_eq!(
            ip(&req("10.0.0.1:1", &[]), std::slice::from_ref(&proxy)),
            "10.0.0.1"
        );
    }

    /// Behind a load balancer with many addresses, and on a dual-stack
    /// listener (IPv4 peers as `::ffff:a.b.c.d`).
    #[test]
    fn trusted_proxies_may_be_networks_and_ipv4_peers_of_an_ipv6_listener_match() {
        let lbs: ProxyNet = "10.0.0.0/8".parse().unwrap();
        let ip = |r: &HttpRequest, t: &[ProxyNet]| client_ip(r, t).unwrap().to_string();
        assert_eq!(
            ip(
                &req("10.20.30.40:1", &["198.51.100.7"]),
                std::slice::from_ref(&lbs)
            ),
            "198.51.100.7"
        );
        assert_eq!(
            ip(
                &req("[::ffff:10.20.30.40]:1", &["198.51.100.7"]),
                std::slice::from_ref(&lbs)
            ),
            "198.51.100.7"
        );
        let one: ProxyNet = "127.0.0.1".parse().unwrap();
        assert_eq!(
            ip(&req("[::ffff:127.0.0.1]:1", &["203.0.113.3"]), &[one]),
            "203.0.113.3"
        );
        // An untrusted IPv4 peer of an IPv6 listener is stored as IPv4.
        assert_eq!(ip(&req("[::ffff:192.0.2.1]:1", &[]), &[lbs]), "192.0.2.1");
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("proxy.internal".parse::<ProxyNet>().is_err());
    }
}
