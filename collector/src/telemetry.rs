//! Structured logs through `tracing`; `RUST_LOG` picks the level (default `info`).

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A line as each request's span closes: its method, route, status,
    // request id and time (an access log), not only for failures.
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_span_events(fmt::format::FmtSpan::CLOSE)
        // Colours only for a person at a terminal, not in a file or a shipper.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Metric names, in one place so dashboards and code agree.
pub mod metric {
    /// Events stored (new, not duplicates).
    pub const EVENTS_INGESTED: &str = "cotrail_events_ingested_total";
    /// Re-sent events that were already stored.
    pub const DUPLICATES: &str = "cotrail_events_duplicate_total";
    /// Rejected ingest requests, labelled by error `code`.
    pub const REJECTS: &str = "cotrail_ingest_rejects_total";
    /// Time from request to acknowledgement (including the flush).
    pub const INGEST_SECONDS: &str = "cotrail_ingest_duration_seconds";
    /// Time one group flush takes.
    pub const FLUSH_SECONDS: &str = "cotrail_flush_duration_seconds";
    /// Flushes run (each serves every request waiting at its start).
    pub const FLUSHES: &str = "cotrail_flushes_total";
    /// Flushes that failed (a full disk, an I/O error): alert on any.
    pub const FLUSH_ERRORS: &str = "cotrail_flush_errors_total";
    /// Sessions deleted, labelled by `reason` (`admin`, `retention`).
    pub const SESSIONS_DELETED: &str = "cotrail_sessions_deleted_total";
    /// The store's size on disk.
    pub const STORE_BYTES: &str = "cotrail_store_size_bytes";
    /// Live-tail subscribers, read from the fan-out at scrape time.
    pub const LIVE_SUBSCRIBERS: &str = "cotrail_live_subscribers";
}

/// Latency buckets (seconds): a flush takes about a millisecond on an SSD and
/// tens on a busy disk; anything past a second is an incident.
const LATENCY_BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Installs the process-wide Prometheus recorder once and returns its handle;
/// later calls (several collectors in one test process) share it.
pub fn prometheus() -> metrics_exporter_prometheus::PrometheusHandle {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                // The buckets are a valid non-empty list: this cannot fail.
                .expect("latency buckets")
                .install_recorder()
                // Only fails when another recorder is installed; this is the only one.
                .expect("installing the metrics recorder");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(metric::EVENTS_INGESTED, "Events stored");
    describe_counter!(metric::DUPLICATES, "Re-sent events already stored");
    describe_counter!(metric::REJECTS, "Rejected ingest requests by error code");
    describe_histogram!(
        metric::INGEST_SECONDS,
        Unit::Seconds,
        "Ingest request latency up to the acknowledgement"
    );
    describe_histogram!(
        metric::FLUSH_SECONDS,
        Unit::Seconds,
        "Duration of one group flush"
    );
    describe_counter!(metric::FLUSHES, "Group flushes run");
    describe_counter!(metric::FLUSH_ERRORS, "Store flushes that failed");
    describe_counter!(metric::SESSIONS_DELETED, "Sessions deleted, by reason");
    // Present from the start, at 0: an alert on "any" needs the series.
    metrics::counter!(metric::FLUSH_ERRORS).absolute(0);
    for reason in ["admin", "retention"] {
        metrics::counter!(metric::SESSIONS_DELETED, "reason" => reason).absolute(0);
    }
    describe_gauge!(metric::STORE_BYTES, Unit::Bytes, "Store size on disk");
    describe_gauge!(metric::LIVE_SUBSCRIBERS, "Live-tail subscribers");
    metrics::gauge!(metric::LIVE_SUBSCRIBERS).set(0.0);
}
