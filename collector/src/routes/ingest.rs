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

use crate::error::ApiError;
use crate::store::{Ingest, Store};

/// Longest `User-Agent` kept: enough for every real browser string.
const MAX_USER_AGENT_CHARS: usize = 512;

pub async fn ingest(
    req: HttpRequest,
    mut body: web::Payload,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
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
    let ack = web::block(move || {
        writer.insert(Ingest {
            session: &session,
            tab: &tab,
            received_at,
            origin: &origin,
            records: &records,
            gaps: &gaps,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))??;
    // The acknowledgement promises durability: flush before answering.
    store.flush().await?;
    Ok(HttpResponse::Ok().json(ack))
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

fn origin_of(req: &HttpRequest) -> Origin {
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
