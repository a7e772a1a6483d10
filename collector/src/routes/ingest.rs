//! `POST /api/v1/batches`: a recorder's batch in, an acknowledgement out once the
//! events are on disk.
//!
//! Accepts `application/json` and `text/plain` (what `sendBeacon` and CORS
//! "simple" requests send, so no preflight is needed). Every rejection is a 4xx
//! JSON error naming what is wrong; nothing is stored from a rejected batch.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use shared::api::{EventRecord, GapRecord, Origin};
use shared::limits::MAX_BODY_BYTES;
use shared::Batch;

use std::sync::Arc;

use shared::TenantId;

use crate::error::ApiError;
use crate::live::{Live, LiveEvent};
use crate::store::{Ingest, Store};
use crate::tenants::{origin_allowed, Tenants};

/// Longest `User-Agent` kept: enough for every real browser string.
const MAX_USER_AGENT_CHARS: usize = 512;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    /// The site's public key (in the URL: `sendBeacon` cannot set headers).
    site_key: Option<String>,
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

pub async fn ingest(
    req: HttpRequest,
    query: web::Query<IngestQuery>,
    mut body: web::Payload,
    store: web::Data<Store>,
    tenants: web::Data<Arc<Tenants>>,
    live: web::Data<Live>,
) -> Result<HttpResponse, ApiError> {
    let tenant = authorize(&req, &tenants, query.site_key.as_deref())?;
    check_content_type(&req)?;

    // Refuse early on a declared length, and again while reading for bodies
    // that do not declare one or lie about it.
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

    let batch = decode(&bytes)?;
    let received_at = now_ms();
    let origin = origin_of(&req);
    let records: Vec<EventRecord> = batch
        .events
        .into_iter()
        .map(|event| EventRecord {
            session_id: batch.session_id.clone(),
            tab_id: batch.tab_id.clone(),
            received_at,
            origin: origin.clone(),
            event,
        })
        .collect();
    let gaps: Vec<GapRecord> = batch
        .gaps
        .into_iter()
        .map(|g| GapRecord {
            tab_id: batch.tab_id.clone(),
            from: g.from,
            to: g.to,
            reason: g.reason,
            received_at,
        })
        .collect();

    let (session, tab) = (batch.session_id, batch.tab_id);
    let writer = store.clone();
    let followed = live.is_followed(&tenant, &session);
    let (t, s) = (tenant.clone(), session.clone());
    let (stored, records) = web::block(move || {
        let stored = writer.insert_tracked(Ingest {
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
    // The acknowledgement promises durability: flush before answering.
    store.flush().await?;
    // Followers see only what is on disk.
    if followed && !stored.new.is_empty() {
        let events = stored
            .new
            .iter()
            .map(|&(arrival, i)| LiveEvent {
                arrival,
                record: Arc::new(records[i].clone()),
            })
            .collect();
        live.publish(&t, &s, events);
    }
    Ok(HttpResponse::Ok().json(stored.ack))
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
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_utf8",
            format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let batch: Batch = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request("invalid_batch", format!("invalid batch: {e}")))?;
    batch
        .validate()
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    Ok(batch)
}

/// Where a request came from: the socket peer and its `User-Agent`.
pub fn origin_of(req: &HttpRequest) -> Origin {
    Origin {
        // The socket's peer: forwarding headers are not trusted here.
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| shared::truncate_chars(ua, MAX_USER_AGENT_CHARS).to_owned()),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
