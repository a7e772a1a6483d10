//! Wiring: [`Application::build`] opens the store, binds the listener (port 0
//! works, [`Application::port`] tells which was picked) and wires the routes;
//! [`Application::run_until_stopped`] serves until SIGINT/SIGTERM, lets in-flight
//! requests finish, stops the background jobs, then flushes the store.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_files::Files;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::telemetry::{LogRequestId, RootSpan};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::durability::GroupCommit;
use crate::error::ApiError;
use crate::live::Live;
use crate::rate_limit::RateLimits;
use crate::retention::Job;
use crate::routes::{
    assets, audit_log, demo, docs, export, health, ingest, live, me, metrics, platform, sessions,
    tombstones,
};
use crate::store::Store;
use crate::tenants::{origin_allowed, Tenants};

/// How often rate-limit state of clients gone quiet is dropped.
const RATE_LIMIT_SWEEP: Duration = Duration::from_secs(60);

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    commit: GroupCommit,
    /// The integrity checkpoint, and the retention sweep when
    /// `retention_days` is set.
    jobs: Vec<Job>,
    state: AppState,
}

/// Stops the collector. Live streams (Server-Sent Events) end first: they are
/// requests that never finish, so a graceful stop would otherwise wait its
/// whole timeout for them. Followers reconnect with their `Last-Event-ID`.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    live: Live,
}

impl StopHandle {
    /// Stops accepting, ends live streams, and (when `graceful`) lets in-flight
    /// requests finish.
    pub async fn stop(&self, graceful: bool) {
        self.live.close_all();
        self.server.stop(graceful).await;
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM (or the handle) stops.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// Returns the request id the tracing span carries as `x-request-id`, so a
/// client's report can be matched with the collector's logs.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<LogRequestId>().cloned();
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.0).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// CORS for the recorder bundle: public static files any page may load.
fn public_cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods(["GET"])
        .max_age(3600)
}

/// CORS for ingest: an origin is allowed when the request's site key allows it
/// (the same check the route makes for requests that skip the preflight).
fn ingest_cors(tenants: Arc<Tenants>) -> Cors {
    Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let key = head
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("site_key=")));
            match (key, origin.to_str()) {
                (Some(key), Ok(origin)) => tenants
                    .site_key(key)
                    .is_some_and(|s| origin_allowed(&s.origins, origin)),
                _ => false,
            }
        })
        .allowed_methods(["POST"])
        .allowed_header(actix_web::http::header::CONTENT_TYPE)
        // The recorder honours Retry-After on 429/503; it must be able to read it.
        .expose_headers([actix_web::http::header::RETRY_AFTER])
        .max_age(3600)
}

/// A refusal of a batch (401 unknown site key, 403 origin not allowed, any
/// 4xx) readable by the page that sent it, whatever its origin. Without
/// `Access-Control-Allow-Origin` the browser hides the status behind a network
/// error, which the recorder must retry: a page with a wrong site key, or on an
/// origin its key does not list, would resend every batch for as long as it is
/// open instead of reporting the refusal once (`stats().rejected`, a console
/// warning). The body is only the error; nothing was stored, and the headers
/// the recorder needs from a page it accepts (`Retry-After`) stay as CORS set
/// them.
async fn readable_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Not a refused preflight: that one must stay a refusal for the browser.
    let origin = (req.method() != actix_web::http::Method::OPTIONS)
        .then(|| req.headers().get(actix_web::http::header::ORIGIN).cloned())
        .flatten();
    let mut res = next.call(req).await?;
    if let Some(origin) = origin {
        if res.status().is_client_error()
            && !res
                .headers()
                .contains_key(actix_web::http::header::ACCESS_CONTROL_ALLOW_ORIGIN)
        {
            let headers = res.headers_mut();
            headers.insert(actix_web::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.append(
                actix_web::http::header::VARY,
                HeaderValue::from_static("Origin"),
            );
        }
    }
    Ok(res)
}

/// Query strings that fail to parse answer with the same JSON error as the rest.
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request("bad_query", format!("invalid query string: {err}")).into()
    })
}

/// What every worker's [`app`] shares: the store, the tenants, the limiters…
#[derive(Clone)]
pub struct AppState {
    store: web::Data<Store>,
    commit: web::Data<GroupCommit>,
    limits: web::Data<RateLimits>,
    prometheus: web::Data<PrometheusHandle>,
    ingest_config: web::Data<ingest::IngestConfig>,
    www: web::Data<assets::WwwDir>,
    tenants: web::Data<Arc<Tenants>>,
    live: web::Data<Live>,
    openapi: web::Data<docs::Document>,
    recent_access: web::Data<crate::audit::RecentAccess>,
    www_dir: PathBuf,
}

/// An API resource whose other methods answer a JSON 405 naming the ones it
/// serves (`allow`, as the `Allow` header lists them); actix's own 405 has no
/// body, and every API error is JSON.
fn api_resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: actix_web::HttpRequest| async move {
        Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        })
    }))
}

/// The application: every route, its middleware and shared state. One per
/// worker; tests build it in process (`actix_web::test::init_service`) to see
/// which routes it registers.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        // Runs inside TracingLogger, whose root span puts the request id in place.
        .wrap(from_fn(request_id_header))
        .wrap(from_fn(assets::security_headers))
        .wrap(TracingLogger::<RootSpan>::new())
        .app_data(state.store)
        .app_data(state.commit)
        .app_data(state.limits)
        .app_data(state.prometheus)
        .app_data(state.ingest_config)
        .app_data(state.www)
        .app_data(state.tenants.clone())
        .app_data(state.live)
        .app_data(state.openapi)
        .app_data(state.recent_access)
        .app_data(query_config())
        .service(
            api_resource("/api/v1/batches", "POST")
                .wrap(ingest_cors(state.tenants.get_ref().clone()))
                .wrap(from_fn(readable_refusals))
                .route(web::post().to(ingest::ingest)),
        )
        .service(
            web::scope("/api/v1")
                .service(api_resource("/sessions", "GET").route(web::get().to(sessions::list)))
                .service(api_resource("/tombstones", "GET").route(web::get().to(tombstones::list)))
                .service(api_resource("/me", "GET").route(web::get().to(me::me)))
                .service(
                    api_resource("/sessions/{session_id}", "GET, DELETE")
                        .route(web::get().to(sessions::get))
                        .route(web::delete().to(sessions::delete)),
                )
                .service(
                    api_resource("/sessions/{session_id}/verify", "GET")
                        .route(web::get().to(sessions::verify)),
                )
                .service(
                    api_resource("/demo/credentials", "GET")
                        .route(web::get().to(demo::credentials)),
                )
                .service(
                    api_resource("/sessions/{session_id}/events", "GET")
                        .route(web::get().to(sessions::events)),
                )
                .service(
                    api_resource("/sessions/{session_id}/gaps", "GET")
                        .route(web::get().to(sessions::gaps)),
                )
                .service(
                    api_resource("/sessions/{session_id}/live", "GET")
                        .route(web::get().to(live::live)),
                )
                .service(
                    api_resource("/sessions/{session_id}/export", "GET")
                        .route(web::get().to(export::export)),
                )
                .service(
                    api_resource("/platform/records", "POST").route(web::post().to(platform::post)),
                )
                .service(api_resource("/audit", "GET").route(web::get().to(audit_log::list)))
                .service(
                    api_resource("/audit/verify", "GET").route(web::get().to(audit_log::verify)),
                )
                .service(
                    api_resource("/openapi.json", "GET").route(web::get().to(docs::openapi_json)),
                )
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::NotFound(
                        "no such API endpoint".into(),
                    ))
                })),
        )
        // The Swagger UI's files come from the binary, never a CDN.
        .service(docs::swagger_ui())
        .route("/api/docs", web::get().to(docs::ui_redirect))
        // Load balancers and uptime checks often ask with HEAD: the same
        // answer, without its body (actix sends none for HEAD).
        .service(
            web::resource("/healthz")
                .route(web::get().to(health::healthz))
                .route(web::head().to(health::healthz)),
        )
        .service(
            web::resource("/readyz")
                .route(web::get().to(health::readyz))
                .route(web::head().to(health::readyz)),
        )
        .service(
            web::resource("/metrics")
                .route(web::get().to(metrics::metrics))
                .route(web::head().to(metrics::metrics)),
        )
        .service(
            web::resource("/recorder.js")
                .wrap(public_cors())
                .route(web::get().to(assets::recorder_js))
                // CDNs and uptime checks ask with HEAD (NamedFile sends no body).
                .route(web::head().to(assets::recorder_js)),
        )
        .service(
            web::resource("/recorder/{file}")
                .wrap(public_cors())
                .route(web::get().to(assets::recorder_file))
                .route(web::head().to(assets::recorder_file)),
        )
        // Static files last, so they never shadow an API route.
        .service(Files::new("/", &state.www_dir).index_file("index.html"))
}

/// Creates the data directory readable by the collector's user only: it holds
/// every tenant's recorded trails (and the demo tenant's tokens). One that
/// exists and is open to other users is used as it is, with a warning.
fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private", dir.display()))?;
        }
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                data_dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory is open to other users of this machine, who can then read every recorded trail: run `chmod 700` on it"
            );
        }
    }
    Ok(())
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        prepare_data_dir(&settings.data_dir)?;
        let mut tenants = match &settings.tenants_file {
            Some(path) => {
                crate::tenants::check_tenants_file(path);
                Tenants::load(path)?
            }
            None => Tenants::demo(&settings.data_dir)?,
        };
        if let Some(path) = &tenants.demo_file {
            tracing::info!(
                file = %path.display(),
                "no tenants file: running the demo tenant (site key pk_demo); its agent and admin tokens are in this file"
            );
            // Listening beyond this machine, a proxy on it (which forwards
            // `Host: 127.0.0.1` and no `X-Forwarded-For` by default) would hand
            // anyone the tokens: the review app's demo buttons are off.
            if !settings.listen.ip().is_loopback() {
                tenants.demo_credentials = false;
                tracing::warn!(
                    listen = %settings.listen,
                    "the demo tenant on a non-loopback address: its tokens are not offered to the review app; use a tenants file (see README) for anything but a local try-out"
                );
            }
        }
        let tenants = Arc::new(tenants);
        let store = Store::open(&settings.data_dir, settings.cache_mb)?;
        // Deletions a crash (or a failed purge) left half done: their sessions
        // already answer 410; this reclaims the records, in the background.
        let finisher = store.clone();
        tokio::task::spawn_blocking(move || match finisher.finish_deletions() {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "finished purging deleted sessions"),
            Err(e) => tracing::error!(error = format!("{e:#}"), "finishing deletions failed"),
        });
        let flusher = store.clone();
        let commit = GroupCommit::start(Box::new(move || {
            let store = flusher.clone();
            Box::pin(async move { store.flush().await })
        }));
        let limits = web::Data::new(RateLimits::new(&settings));
        let sweep = limits.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RATE_LIMIT_SWEEP);
            loop {
                every.tick().await;
                sweep.forget_idle();
            }
        });
        let prometheus = web::Data::new(crate::telemetry::prometheus());
        let ingest_config = web::Data::new(ingest::IngestConfig::new(&settings));
        let commit_data = web::Data::new(commit.clone());
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let www = settings.www_dir.clone();
        // Without the bundle every site's tag fails (`/recorder.js` answers
        // 503): said once, at start, in words an operator can act on.
        if !www.join("recorder").join("recorder.js").is_file() {
            tracing::error!(
                www_dir = %www.display(),
                "no recorder bundle in www_dir (recorder/recorder.js is missing): sites cannot load the recorder; \
                 run `cargo xtask build`, or point --www-dir at the built www/ directory"
            );
        }
        let data = web::Data::new(store.clone());
        let www_data = web::Data::new(assets::WwwDir(www.clone()));
        let tenants_data = web::Data::new(tenants.clone());
        let live_data = web::Data::new(Live::for_tenants(tenants.count));
        let openapi = web::Data::new(docs::Document::new());
        let recent_access = web::Data::new(crate::audit::RecentAccess::default());

        let state = AppState {
            store: data,
            commit: commit_data,
            limits,
            prometheus,
            ingest_config,
            www: www_data,
            tenants: tenants_data,
            live: live_data,
            openapi,
            recent_access,
            www_dir: www,
        };

        let app_state = state.clone();
        let server = HttpServer::new(move || app(state.clone()))
            // Slow clients cannot hold connections: the head must arrive in time,
            // idle keep-alive connections close, and closing ones get a deadline.
            .client_request_timeout(Duration::from_millis(settings.client_request_timeout_ms))
            .client_disconnect_timeout(Duration::from_millis(settings.client_disconnect_timeout_ms))
            .keep_alive(match settings.keep_alive_secs {
                0 => actix_web::http::KeepAlive::Disabled,
                s => actix_web::http::KeepAlive::Timeout(Duration::from_secs(s)),
            })
            .listen(listener)?
            // Graceful shutdown: in-flight requests get this long to finish.
            .shutdown_timeout(10)
            // SIGINT/SIGTERM are handled in `run_until_stopped`, which ends the
            // live streams first (they never finish by themselves).
            .disable_signals()
            .run();

        tracing::info!(
            port,
            data_dir = %settings.data_dir.display(),
            www_dir = %settings.www_dir.display(),
            "cotrail collector listening on http://{}:{port}/",
            settings.listen.ip()
        );
        let mut jobs = Vec::new();
        if settings.checkpoint_interval_secs > 0 {
            jobs.push(crate::retention::checkpoint(
                store.clone(),
                Duration::from_secs(settings.checkpoint_interval_secs),
            ));
        }
        if let Some(days) = settings.retention_days {
            tracing::info!(days, "retention: deleting sessions inactive for longer");
            jobs.push(crate::retention::retention(
                store.clone(),
                days,
                Duration::from_secs(settings.retention_sweep_secs),
            ));
        }
        Ok(Self {
            port,
            server,
            store,
            commit,
            jobs,
            state: app_state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state the workers' apps share, to build one more [`app`] in process.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// A handle to stop the server from another task (tests, signal handling).
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            live: self.state.live.get_ref().clone(),
        }
    }

    /// The group-commit flusher, whose flush count tells how well concurrent
    /// requests share flushes.
    pub fn group_commit(&self) -> GroupCommit {
        self.commit.clone()
    }

    /// Serves until stopped: by SIGINT or SIGTERM, or through [`Self::handle`].
    /// Then the flusher and the background jobs stop and the store is flushed.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let stop = self.handle();
        let signals = tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: finishing in-flight requests");
            stop.stop(true).await;
        });
        let served = self.server.await;
        signals.abort();
        served?;
        self.commit.stop();
        for job in self.jobs {
            job.stop().await;
        }
        self.store.flush().await?;
        tracing::info!("collector stopped; store flushed");
        Ok(())
    }
}
