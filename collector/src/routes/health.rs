//! `/healthz` and `/readyz`, for orchestrators and load balancers.
//!
//! `/healthz` answers while the process serves HTTP and its store has not
//! failed a flush (restart me if not: sled does not take writes again after a
//! failed flush, a restart recovers it);
//! `/readyz` also proves the store takes a write and a flush (send me traffic
//! only if so). Both are unauthenticated and say nothing about tenants.

use actix_web::{web, HttpResponse};

use crate::durability::GroupCommit;
use crate::error::ApiError;
use crate::openapi::Status;
use crate::store::Store;

/// How long a readiness probe that wrote and flushed answers for later ones.
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// The process is up and its store has not failed a flush (restart it if not).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Serving HTTP.", body = Status, example = json!({"status": "ok"})),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn healthz(store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    match store.flush_failure() {
        None => Ok(HttpResponse::Ok().json(Status { status: "ok" })),
        Some(e) => Err(ApiError::Unavailable(format!(
            "the store failed a flush ({e}); restart the collector (acknowledged events are on disk)"
        ))),
    }
}

/// The store is open and writable: a probe record is written and flushed
/// (send traffic only if so).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The store takes writes.", body = Status, example = json!({"status": "ready"})),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn readyz(
    store: web::Data<Store>,
    commit: web::Data<GroupCommit>,
) -> Result<HttpResponse, ApiError> {
    // The endpoint needs no credentials: a probe that wrote and flushed
    // within the last second answers for every request meanwhile, so a flood
    // of them is no write and no flush each. A failed flush since is still
    // seen (a flush failure makes every later probe fail at once).
    let fresh = || store.ready_within(READY_FOR) && store.flush_failure().is_none();
    if fresh() {
        return Ok(HttpResponse::Ok().json(Status { status: "ready" }));
    }
    // One probe at a time; those that waited take its answer.
    let _turn = store.probe_turn().await;
    if fresh() {
        return Ok(HttpResponse::Ok().json(Status { status: "ready" }));
    }
    let probe = store.clone();
    let written = web::block(move || probe.probe())
        .await
        .map_err(|e| anyhow::anyhow!("probe task failed: {e}"))
        .and_then(|r| r);
    let result = match written {
        Ok(()) => commit.commit().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            store.note_ready();
            Ok(HttpResponse::Ok().json(Status { status: "ready" }))
        }
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "readiness probe failed");
            Err(ApiError::Unavailable(
                "the store does not take writes".into(),
            ))
        }
    }
}
