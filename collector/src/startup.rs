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

use crate::config::Settings;
use crate::error::ApiError;
use crate::routes::{assets, ingest, sessions};
use crate::store::Store;

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
}

/// CORS for what pages on other origins use: the recorder bundle and ingest.
/// Any origin, no credentials: site keys are public and write-only.
fn public_cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods(["GET", "POST"])
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
        let store = Store::open(&settings.data_dir)?;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let www = settings.www_dir.clone();
        let recorder_dir = www.join("recorder");
        let data = web::Data::new(store.clone());
        let www_data = web::Data::new(assets::WwwDir(www.clone()));

        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .app_data(data.clone())
                .app_data(www_data.clone())
                .app_data(query_config())
                .service(
                    web::resource("/api/v1/batches")
                        .wrap(public_cors())
                        .route(web::post().to(ingest::ingest)),
                )
                .service(
                    web::scope("/api/v1")
                        .route("/sessions", web::get().to(sessions::list))
                        .route(
                            "/sessions/{session_id}/events",
                            web::get().to(sessions::events),
                        )
                        .route("/sessions/{session_id}/gaps", web::get().to(sessions::gaps))
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
