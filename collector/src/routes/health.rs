//! `/healthz` and `/readyz`, for orchestrators and load balancers.
//!
//! `/healthz` answers while the process serves HTTP (restart me if not);
//! `/readyz` also proves the store takes a write and a flush (send me traffic
//! only if so). Both are unauthenticated and say nothing about tenants.

use actix_web::{web, HttpResponse};

use crate::durability::GroupCommit;
use crate::error::ApiError;
use crate::openapi::Status;
use crate::store::Store;

/// The process is up (restart it if not).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Serving HTTP.", body = Status, example = json!({"status": "ok"}))),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
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
        Ok(()) => Ok(HttpResponse::Ok().json(Status { status: "ready" })),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "readiness probe failed");
            Err(ApiError::Unavailable(
                "the store does not take writes".into(),
            ))
        }
    }
}
