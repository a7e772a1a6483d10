//! Wiring: [`Application::build`] opens the store, binds the listener (port 0
//! works, [`Application::port`] tells which was picked) and wires the routes;
//! [`Application::run_until_stopped`] serves until SIGINT/SIGTERM, lets in-flight
//! requests finish, then flushes the store.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_files::Files;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use std::sync::Arc;

use crate::config::Settings;
use crate::error::ApiError;
use crate::live::Live;
use crate::routes::{assets, audit_log, demo, export, ingest, live, platform, sessions};
use crate::store::Store;
use crate::tenants::{origin_allowed, Tenants};

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
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

/// Query strings that fail to parse answer with the same JSON error as the rest.
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request("bad_query", format!("invalid query string: {err}")).into()
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let tenants = Arc::new(match &settings.tenants_file {
            Some(path) => Tenants::load(path)?,
            None => Tenants::demo(&settings.data_dir)?,
        });
        if let Some(path) = &tenants.demo_file {
            tracing::info!(
                file = %path.display(),
                "no tenants file: running the demo tenant (site key pk_demo); its agent and admin tokens are in this file"
            );
        }
        let store = Store::open(&settings.data_dir, settings.cache_mb)?;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let www = settings.www_dir.clone();
        let recorder_dir = www.join("recorder");
        let data = web::Data::new(store.clone());
        let www_data = web::Data::new(assets::WwwDir(www.clone()));
        let tenants_data = web::Data::new(tenants.clone());
        let live_data = web::Data::new(Live::default());

        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .app_data(data.clone())
                .app_data(www_data.clone())
                .app_data(tenants_data.clone())
                .app_data(live_data.clone())
                .app_data(query_config())
                .service(
                    web::resource("/api/v1/batches")
                        .wrap(ingest_cors(tenants.clone()))
                        .route(web::post().to(ingest::ingest)),
                )
                .service(
                    web::scope("/api/v1")
                        .route("/sessions", web::get().to(sessions::list))
                        .route("/demo/credentials", web::get().to(demo::credentials))
                        .route(
                            "/sessions/{session_id}/events",
                            web::get().to(sessions::events),
                        )
                        .route("/sessions/{session_id}/gaps", web::get().to(sessions::gaps))
                        .route("/sessions/{session_id}/live", web::get().to(live::live))
                        .route(
                            "/sessions/{session_id}/export",
                            web::get().to(export::export),
                        )
                        .route("/platform/records", web::post().to(platform::post))
                        .route("/audit", web::get().to(audit_log::list))
                        .default_service(web::to(|| async {
                            Err::<actix_web::HttpResponse, _>(ApiError::NotFound(
                                "no such API endpoint".into(),
                            ))
                        })),
                )
                .service(
                    web::resource("/recorder.js")
                        .wrap(public_cors())
                        .route(web::get().to(assets::recorder_js)),
                )
                .service(
                    web::scope("/recorder")
                        .wrap(public_cors())
                        .service(Files::new("", &recorder_dir)),
                )
                // Static files last, so they never shadow an API route.
                .service(Files::new("/", &www).index_file("index.html"))
        })
        .listen(listener)?
        // Graceful shutdown: in-flight requests get this long to finish.
        .shutdown_timeout(10)
        .run();

        tracing::info!(
            port,
            data_dir = %settings.data_dir.display(),
            www_dir = %settings.www_dir.display(),
            "cotrail collector listening on http://{}:{port}/",
            settings.listen.ip()
        );
        Ok(Self {
            port,
            server,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from another task (tests, signal handling).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        self.store.flush().await?;
        tracing::info!("collector stopped; store flushed");
        Ok(())
    }
}
