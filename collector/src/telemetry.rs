//! Structured logs through `tracing`; `RUST_LOG` picks the level (default `info`).
//!
//! Every request has one root span, [`RootSpan`], logged as one line when it
//! closes (an access log): method, route, path, status, the client's address
//! (through trusted proxies only), the request id, and once known the tenant,
//! user and session it concerned.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
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

/// The id of a request in the logs and in the response's `X-Request-Id`: the
/// one a trusted proxy in front sent (`trusted_proxies`), when it is a
/// plausible id, so a request can be followed across both logs; otherwise a
/// new UUID. (From anyone else an id is not believed, as `X-Forwarded-For`
/// is not: a client could reuse the id of another's request to muddle an
/// investigation.)
#[derive(Debug, Clone)]
pub struct LogRequestId(pub String);

/// Longest incoming `X-Request-Id` kept (a UUID is 36 characters; proxies'
/// ids are shorter).
const MAX_REQUEST_ID_LEN: usize = 128;

/// An incoming `X-Request-Id` worth keeping: short, and only characters that
/// cannot forge a log line or a field (letters, digits, `-`, `_`, `.`, `:`).
fn incoming_request_id(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(value)
}

/// Records on the request's root span what the handler learnt: `tenant` and
/// `user` once credentials are checked, `session` once a batch is read.
/// (Sessions named in the path are recorded when the request ends.)
pub fn record(field: LogField, value: &dyn std::fmt::Display) {
    let name = match field {
        LogField::Tenant => "tenant",
        LogField::User => "user",
        LogField::Session => "session",
    };
    Span::current().record(name, tracing::field::display(value));
}

/// The fields of the root span a handler fills in ([`record`]).
#[derive(Debug, Clone, Copy)]
pub enum LogField {
    Tenant,
    User,
    Session,
}

/// The collector's root span for `tracing-actix-web`. Unlike the default:
/// - `http.client_ip` is the address the collector stores ([`crate::routes::ingest::client_ip`]):
///   `X-Forwarded-For` is believed only from `trusted_proxies`, so a client
///   cannot put another address into the logs;
/// - `http.target` is the path without the query string: agents' searches
///   (`?q=`) and filters stay out of the logs;
/// - `request_id` keeps a valid `X-Request-Id` a trusted proxy sent;
/// - `tenant`, `user` and `session` are filled in by the handlers;
/// - a refused request (4xx) is no warning of its own: its line says the
///   status and why. (An internal error is logged once more, at `ERROR`,
///   where it is answered: `ApiError::error_response`.)
pub struct RootSpan;

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let from_proxy = crate::routes::ingest::peer_is_trusted_proxy(request.request());
        let id = request
            .headers()
            .get("x-request-id")
            .filter(|_| from_proxy)
            .and_then(|v| v.to_str().ok())
            .and_then(incoming_request_id)
            .map(str::to_owned)
            .or_else(|| {
                let generated = request.extensions().get::<RequestId>().copied();
                generated.map(|id| id.to_string())
            })
            .unwrap_or_default();
        request.extensions_mut().insert(LogRequestId(id.clone()));
        let route = request.match_pattern();
        let client_ip = crate::routes::ingest::client_ip_of(request.request())
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = route.as_deref().unwrap_or("default"),
            http.target = request.path(),
            http.client_ip = client_ip,
            http.user_agent = user_agent,
            http.status_code = Empty,
            request_id = id,
            tenant = Empty,
            user = Empty,
            session = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(response) = outcome {
            if let Some(session) = response.request().match_info().get("session_id") {
                span.record("session", session);
            }
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
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
