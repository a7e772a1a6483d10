//! `POST /api/v1/platform/records`: the platform's own audit records (the 14
//! seed types) in, with a tenant's server key.
//!
//! The body is one record or a JSON array of up to
//! [`MAX_RECORDS_PER_REQUEST`] records, `application/json` only (no browser
//! posts these). Every record is decoded and validated before anything is
//! stored, so a rejected request stores nothing; the error names the record by
//! its index. A record with a `record_id` the tenant already stored is skipped
//! (re-posting is idempotent); the same `record_id` with other content is a
//! `409 record_conflict` and nothing of the request is stored. `2xx` means the
//! records are on disk.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use shared::audit::{AuditEntry, PlatformRecord, RecordsAck};
use shared::limits::MAX_RECORDS_PER_REQUEST;

use crate::auth::Server;
use crate::error::ApiError;
use crate::routes::ingest::{now_ms, read_body, request_origin, IngestConfig};
use crate::store::{RecordConflict, Store};

/// The platform's own audit records (the 14 seed types), one or an array of
/// up to 500. All are validated before any is stored; a `record_id` already
/// stored is skipped. A 2xx means the records are on disk. A body that does not
/// arrive within the body timeout (10 s by default) is a 408, as on ingest.
#[utoipa::path(
    post,
    path = "/api/v1/platform/records",
    tag = "activity log",
    request_body(
        description = "One record, or a JSON array of 1 to 500 records.",
        content((PlatformRecords = "application/json")),
    ),
    responses(
        (status = 200, description = "Every record is on disk.", body = shared::audit::RecordsAck),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 408, response = crate::openapi::RequestTimeout),
        (status = 409, response = crate::openapi::RecordConflict),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("server_key" = [])),
)]
pub async fn post(
    Server(tenant): Server,
    req: HttpRequest,
    body: web::Payload,
    store: web::Data<Store>,
    config: web::Data<IngestConfig>,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let bytes = read_body(&req, body, config.body_read_timeout).await?;
    let received_at = now_ms();
    let records = decode(&bytes, received_at)?;
    let origin = request_origin(&req);
    let entries: Vec<(AuditEntry, bool)> = records
        .into_iter()
        .map(|r| {
            let given = r.origin.is_some();
            (AuditEntry::platform(r, received_at, &origin), given)
        })
        .collect();
    let total = entries.len();
    let writer = store.clone();
    let stored = web::block(move || writer.append_audit_entries(&tenant, &entries))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))?
        .map_err(|e| match e.downcast::<RecordConflict>() {
            Ok(RecordConflict(ids)) => ApiError::Conflict {
                code: "record_conflict",
                message: format!(
                    "record_id {ids:?} already stored with other content; a re-posted \
                     record must repeat it exactly, so nothing of the request was stored"
                ),
            },
            Err(e) => ApiError::Internal(e),
        })?;
    store.flush().await?;
    Ok(HttpResponse::Ok().json(RecordsAck {
        stored,
        duplicates: total - stored,
    }))
}

/// The body's shape, for the OpenAPI document only: [`decode`] reads it.
/// One platform record, or an array of 1 to 500.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Never built: it describes what `decode` accepts.
pub enum PlatformRecords {
    One(Box<PlatformRecord>),
    Many(Vec<PlatformRecord>),
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "content type {:?} is not accepted; send application/json",
            if ct.is_empty() { "(none)" } else { ct }
        )))
    }
}

/// Decodes and validates one record or an array of records, their times
/// against the collector's clock `now` (ms). Pure.
pub fn decode(bytes: &[u8], now: i64) -> Result<Vec<PlatformRecord>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_utf8",
            format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let invalid = |what: String, e: serde_json::Error| {
        ApiError::bad_request("invalid_record", format!("invalid {what}: {e}"))
    };
    let check = |what: String, r: &PlatformRecord| {
        r.validate()
            .and_then(|()| r.validate_time(now))
            .map_err(|e| ApiError::bad_request(e.code, format!("{what}: {}", e.message)))
    };
    if text.trim_start().starts_with('[') {
        let items: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| invalid("record array".into(), e))?;
        if items.is_empty() {
            return Err(ApiError::bad_request(
                "empty_request",
                "the array has no records",
            ));
        }
        if items.len() > MAX_RECORDS_PER_REQUEST {
            return Err(ApiError::bad_request(
                "too_many_records",
                format!(
                    "the array has {} records, the limit is {MAX_RECORDS_PER_REQUEST}",
                    items.len()
                ),
            ));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let r: PlatformRecord =
                    serde_json::from_value(v).map_err(|e| invalid(format!("record {i}"), e))?;
                check(format!("record {i}"), &r)?;
                Ok(r)
            })
            .collect()
    } else {
        let r: PlatformRecord =
            serde_json::from_str(text).map_err(|e| invalid("record".into(), e))?;
        check("record".into(), &r)?;
        Ok(vec![r])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_hostile_bodies_answers_errors_not_panics() {
        for body in [
            &b""[..],
            b"[",
            b"[]",
            b"{}",
            b"\xff",
            b"null",
            b"[1,2]",
            b"{\"type\":\"LOGGED_IN\"}",
        ] {
            assert!(decode(body, 0).is_err(), "{body:?}");
        }
        let deep = "[".repeat(10_000);
        assert!(decode(deep.as_bytes(), 0).is_err());
    }
}
