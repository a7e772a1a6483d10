//! `GET /metrics`: Prometheus text format.
//!
//! Counters and histograms are fed where things happen (ingest, the flusher);
//! gauges that describe state (store size) are read here, at scrape time.

use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::live::Live;
use crate::store::Store;
use crate::telemetry::metric;

/// Prometheus metrics: events ingested, rejects by reason, ingest and flush
/// latency, store size, live subscribers.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4.",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)),
)]
pub async fn metrics(
    store: web::Data<Store>,
    live: web::Data<Live>,
    handle: web::Data<PrometheusHandle>,
) -> HttpResponse {
    ::metrics::gauge!(metric::LIVE_SUBSCRIBERS).set(live.subscribers() as f64);
    let store = store.clone();
    // sled walks its files to size them: blocking work, off the async worker.
    // At most once every 10 s: the endpoint needs no credentials.
    let fresh = std::time::Duration::from_secs(10);
    if let Ok(Ok(bytes)) = web::block(move || store.size_on_disk_cached(fresh)).await {
        ::metrics::gauge!(metric::STORE_BYTES).set(bytes as f64);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
