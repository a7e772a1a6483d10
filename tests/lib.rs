//! Harness for cotrail's end-to-end tests: a real collector on a free loopback
//! port with a temporary sled store, and a real headless Chromium driven through
//! chromedriver. Both are torn down by guards, even when a test panics.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use collector::config::Settings;
use collector::startup::Application;
use shared::api::{EventRecord, EventsPage, SessionsPage};
use thirtyfour::prelude::*;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A collector serving the repo's `www/` on a free port with its own store.
pub struct Collector {
    pub base: String,
    pub port: u16,
    pub data_dir: tempfile::TempDir,
    /// The running server, `None` between [`Collector::stop_keep_data`] and
    /// [`Collector::restart`].
    running: Option<Running>,
    client: reqwest::Client,
    /// The demo tenant's agent token, sent with every read.
    pub token: String,
}

/// One run of the collector: its handle, and the task that owns the store, kept
/// so a stop can wait until sled has released its lock on the data directory.
struct Running {
    handle: collector::startup::StopHandle,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The repo's `www/`, which must hold the built recorder bundle.
pub fn www_dir() -> PathBuf {
    let www = repo_root().join("www");
    assert!(
        www.join("recorder/recorder.js").exists()
            && www.join("recorder/cotrail_recorder_bg.wasm").exists(),
        "the recorder bundle is not built: run `cargo xtask test` (or `cargo xtask build`) first"
    );
    www
}

impl Collector {
    pub async fn spawn() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let app = Application::build(Settings::for_test(data_dir.path().to_owned(), www_dir()))
            .await
            .expect("collector starts");
        let port = app.port();
        let running = Running::start(app);
        // Without a tenants file the collector runs its demo tenant, whose site
        // key the demo pages embed; read the agent token it generated.
        let demo = collector::tenants::Tenants::demo(data_dir.path()).expect("demo tenant file");
        let token = demo.demo_tenant().expect("demo tenant").users[0]
            .token
            .clone();
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir,
            running: Some(running),
            client: reqwest::Client::new(),
            token,
        }
    }

    /// Stops the server as an outage would (pages keep running, their requests
    /// are refused) and waits until the store is flushed and closed. The data
    /// directory and the port number stay for [`Collector::restart`].
    pub async fn stop_keep_data(&mut self) {
        let running = self.running.take().expect("the collector is running");
        running.handle.stop(true).await;
        running
            .task
            .await
            .expect("the collector task did not panic")
            .expect("the collector stopped cleanly and flushed its store");
    }

    /// Starts a new collector on the same port with the same data directory.
    /// Retried for a while: the port or sled's lock may take a moment to be free.
    pub async fn restart(&mut self) {
        assert!(
            self.running.is_none(),
            "restart() needs stop_keep_data() first"
        );
        let mut settings = Settings::for_test(self.data_dir.path().to_owned(), www_dir());
        settings.listen = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(15);
        let app = loop {
            match Application::build(settings.clone()).await {
                Ok(app) => break app,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the collector did not restart on port {}: {e:#}", self.port),
            }
        };
        assert_eq!(app.port(), self.port);
        self.running = Some(Running::start(app));
    }

    /// Asserts the session reports no lost events: no gap records, a zero
    /// `lost_events` on its summary, and no sequence number unaccounted for
    /// (every tab's events from 0 to its last are stored).
    pub async fn assert_no_gaps_reported(&self, session: &str) {
        let summary = self
            .sessions()
            .await
            .sessions
            .into_iter()
            .find(|s| s.session_id.as_str() == session)
            .unwrap_or_else(|| panic!("session {session} is not listed"));
        assert_eq!(summary.lost_events, 0, "the session reports lost events");
        let page: shared::api::GapsPage = self
            .get_json(&format!("/api/v1/sessions/{session}/gaps"))
            .await;
        assert!(
            page.gaps.is_empty(),
            "the session reports gaps: {:?}",
            page.gaps
        );
        assert!(
            page.unaccounted.is_empty(),
            "sequence numbers unaccounted for: {:?}",
            page.unaccounted
        );
    }

    /// The session's summary exactly as `GET /api/v1/sessions` answers it (raw
    /// JSON, so fields newer than this crate's `shared` are visible too).
    pub async fn session_summary_json(&self, session: &str) -> serde_json::Value {
        let page: serde_json::Value = self.get_json("/api/v1/sessions?limit=1000").await;
        page["sessions"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["session_id"] == session))
            .cloned()
            .unwrap_or_else(|| panic!("session {session} is not listed: {page}"))
    }

    pub async fn sessions(&self) -> SessionsPage {
        self.get_json("/api/v1/sessions").await
    }

    /// Every event of a session, oldest first, following cursors.
    pub async fn all_events(&self, session: &str) -> Vec<EventRecord> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
            let page: EventsPage = self
                .get_json(&format!("/api/v1/sessions/{session}/events?limit=1000{q}"))
                .await;
            out.extend(page.events);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    pub async fn get_text(&self, path: &str) -> String {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.text().await.unwrap()
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        serde_json::from_str(&self.get_text(path).await)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Polls until `check` accepts the session's events or the deadline passes.
    pub async fn wait_for_events(
        &self,
        session: &str,
        what: &str,
        check: impl Fn(&[EventRecord]) -> bool,
    ) -> Vec<EventRecord> {
        self.wait_for_events_within(session, what, Duration::from_secs(20), check)
            .await
    }

    /// [`Collector::wait_for_events`] with the caller's deadline (a recorder in
    /// backoff after an outage may take up to a minute to retry).
    pub async fn wait_for_events_within(
        &self,
        session: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&[EventRecord]) -> bool,
    ) -> Vec<EventRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let has_session = self
                .sessions()
                .await
                .sessions
                .iter()
                .any(|s| s.session_id.as_str() == session);
            let events = if has_session {
                self.all_events(session).await
            } else {
                Vec::new()
            };
            if check(&events) {
                return events;
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = events
                    .iter()
                    .map(|e| {
                        format!(
                            "{}#{} {}",
                            e.tab_id,
                            e.event.seq,
                            serde_json::to_string(&e.event.data).unwrap()
                        )
                    })
                    .collect();
                panic!(
                    "timed out waiting for {what}; the collector has:\n{}",
                    summary.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn stop(mut self) {
        if self.running.is_some() {
            self.stop_keep_data().await;
        }
    }
}

impl Running {
    fn start(app: Application) -> Self {
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Running { handle, task }
    }
}

/// A plain static site on its own free port: the given pages (path → HTML, sent
/// with `no-store` so a reload really asks again) plus the recorder bundle at
/// `/recorder.js` and `/recorder/*`, so its pages load the recorder even while
/// the collector is down.
pub struct StaticSite {
    pub base: String,
    pub port: u16,
    handle: actix_web::dev::ServerHandle,
}

impl StaticSite {
    pub async fn serve(pages: Vec<(&str, String)>) -> Self {
        Self::serve_with(pages, "no-store").await
    }

    /// As [`StaticSite::serve`], with pages sent as `no-cache` instead: a
    /// `no-store` page is never kept in the back/forward cache.
    pub async fn serve_cacheable(pages: Vec<(&str, String)>) -> Self {
        Self::serve_with(pages, "no-cache").await
    }

    async fn serve_with(pages: Vec<(&str, String)>, cache_control: &'static str) -> Self {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let recorder_dir = www_dir().join("recorder");
        let pages: Vec<(String, String)> = pages
            .into_iter()
            .map(|(p, html)| (p.to_owned(), html))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let loader = recorder_dir.join("recorder.js");
            let mut app = App::new()
                .route(
                    "/recorder.js",
                    web::get().to(move |req: actix_web::HttpRequest| {
                        let loader = loader.clone();
                        async move {
                            actix_files::NamedFile::open_async(loader)
                                .await
                                .map(|f| f.into_response(&req))
                        }
                    }),
                )
                .service(actix_files::Files::new("/recorder", &recorder_dir));
            for (path, html) in &pages {
                let html = html.clone();
                app = app.route(
                    path,
                    web::get().to(move || {
                        let html = html.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("text/html; charset=utf-8")
                                .insert_header(("Cache-Control", cache_control))
                                .body(html)
                        }
                    }),
                );
            }
            app
        })
        .listen(listener)
        .expect("static site listens")
        .workers(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            handle,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// One request as the [`RecordingProxy`] received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body is gzipped (the recorder's loader compresses batches).
    pub fn gzipped(&self) -> bool {
        self.path.contains("encoding=gzip")
    }
}

#[derive(Clone)]
struct ProxyState {
    target: String,
    client: reqwest::Client,
    log: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
}

/// A reverse proxy in front of the collector that keeps every request body, so a
/// test sees exactly the bytes that left the browser. It forwards method, path,
/// headers and body, and answers with the collector's status, headers (CORS
/// included) and body; `502` while the collector is unreachable.
pub struct RecordingProxy {
    pub base: String,
    pub port: u16,
    log: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    handle: actix_web::dev::ServerHandle,
}

/// Hop-by-hop headers and the ones the HTTP clients set themselves.
fn proxied_header(name: &str) -> bool {
    !matches!(
        name.to_ascii_lowercase().as_str(),
        "host" | "content-length" | "connection" | "keep-alive" | "transfer-encoding" | "upgrade"
    )
}

async fn proxy_forward(
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    state: actix_web::web::Data<ProxyState>,
) -> actix_web::HttpResponse {
    use actix_web::http::StatusCode;
    use actix_web::HttpResponse;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    state.log.lock().unwrap().push(Recorded {
        method: req.method().as_str().to_owned(),
        path: path.clone(),
        body: body.to_vec(),
    });
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = state
        .client
        .request(method, format!("{}{path}", state.target))
        .body(body.to_vec());
    for (name, value) in req.headers() {
        if proxied_header(name.as_str()) {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    match out.send().await {
        Ok(res) => {
            let mut answer = HttpResponse::build(
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            );
            for (name, value) in res.headers() {
                if proxied_header(name.as_str()) {
                    answer.append_header((name.as_str(), value.as_bytes()));
                }
            }
            match res.bytes().await {
                Ok(bytes) => answer.body(bytes.to_vec()),
                Err(e) => {
                    HttpResponse::BadGateway().body(format!("proxy: reading the answer: {e}"))
                }
            }
        }
        Err(e) => HttpResponse::BadGateway().body(format!("proxy: {e}")),
    }
}

impl RecordingProxy {
    /// A proxy on a free port forwarding to `target` (e.g. the collector's base URL).
    pub async fn start(target: &str) -> Self {
        use actix_web::{web, App, HttpServer};
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let state = web::Data::new(ProxyState {
            target: target.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("reqwest client"),
            log: log.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(proxy_forward))
        })
        .listen(listener)
        .expect("proxy listens")
        .workers(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            log,
            handle,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// The body of every request received so far (batches and anything else
    /// the page sent), as the collector reads it: gzipped ones
    /// (`?…&encoding=gzip`) decompressed.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.requests()
            .into_iter()
            .map(|r| {
                if r.gzipped() {
                    use std::io::Read;
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&r.body[..])
                        .read_to_end(&mut out)
                        .unwrap_or_else(|e| panic!("a batch marked gzip is not gzip: {e}"));
                    out
                } else {
                    r.body
                }
            })
            .collect()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Each tab's sequence numbers are exactly `0..n`: nothing lost, nothing twice.
pub fn assert_contiguous_per_tab(events: &[EventRecord]) {
    let mut by_tab: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for e in events {
        by_tab
            .entry(e.tab_id.as_str())
            .or_default()
            .push(e.event.seq);
    }
    for (tab, seqs) in &mut by_tab {
        seqs.sort_unstable();
        assert_eq!(
            *seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "tab {tab}: sequence numbers must be contiguous from 0, each once"
        );
    }
}

/// chromedriver plus one headless Chromium session; both die with the guard.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: DriverProcess,
    _profile: tempfile::TempDir,
}

/// chromedriver in a process group of its own, which the Chromium it starts
/// joins. Ended once, on `Browser::quit` or when dropped (a failed test never
/// reaches `quit`): killing chromedriver alone would leave its Chromium
/// running, so the whole group goes, before chromedriver is reaped and its
/// id could name another group.
struct DriverProcess(Option<Child>);

impl DriverProcess {
    fn end(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        self.end();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    pub async fn start() -> Result<Self> {
        for (tool, pkg) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
            if !Path::new(tool).exists() {
                bail!("{tool} is missing: install it with `apt-get install -y chromium chromium-driver` (or run `cargo xtask test`, which does) [package {pkg}]");
            }
        }
        let port = free_port();
        let mut chromedriver = Command::new(CHROMEDRIVER);
        chromedriver
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut chromedriver, 0);
        let chromedriver =
            DriverProcess(Some(chromedriver.spawn().context("starting chromedriver")?));
        let profile = tempfile::tempdir()?;
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM)?;
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ] {
            caps.add_arg(arg)?;
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let driver = loop {
            match WebDriver::new(&url, caps.clone()).await {
                Ok(d) => break d,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    bail!("could not start a Chromium session through chromedriver: {e}");
                }
            }
        };
        Ok(Self {
            driver,
            chromedriver,
            _profile: profile,
        })
    }

    /// Waits until the recorder on the current page is running.
    pub async fn wait_for_recorder(&self) -> Result<()> {
        self.wait_for_js(
            "recorder ready",
            "return !!(window.cotrail && window.cotrail.sessionId())",
        )
        .await
    }

    /// Runs a script (a function body) in the page and converts what it returns.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str) -> Result<T> {
        Ok(self.driver.execute(script, vec![]).await?.convert()?)
    }

    /// Polls a JS expression (a function body returning a boolean) with a deadline.
    pub async fn wait_for_js(&self, what: &str, script: &str) -> Result<()> {
        self.wait_for_js_within(what, script, Duration::from_secs(15))
            .await
    }

    /// [`Browser::wait_for_js`] with the caller's deadline.
    pub async fn wait_for_js_within(
        &self,
        what: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let ok = self
                .driver
                .execute(script, vec![])
                .await
                .map(|r| r.json().as_bool() == Some(true))
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                let logs = self
                    .driver
                    .execute("return (window.__cotrailTestLog || []).join('\\n')", vec![])
                    .await
                    .map(|r| r.json().to_string())
                    .unwrap_or_default();
                bail!(
                    "timed out waiting for {what} on {}; {logs}",
                    self.driver.current_url().await?
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn quit(mut self) {
        let driver = self.driver.clone();
        let _ = driver.quit().await;
        self.chromedriver.end();
    }
}

/// Every file under `dir`, read whole: for "this secret is nowhere on disk" checks.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// An inline script for test pages (before the recorder's tag): counts the
/// recorder's batch POSTs in `window.__posts` and the refused or failed ones in
/// `window.__failed`, so a test can wait for "the recorder tried and failed"
/// instead of sleeping. The recorder calls `window.fetch` at call time.
pub const COUNT_BATCH_POSTS: &str = r#"<script>
window.__posts = 0; window.__failed = 0;
(function () {
  var real = window.fetch;
  window.fetch = function (url) {
    var p = real.apply(this, arguments);
    if (String(url).indexOf('/api/v1/batches') >= 0) {
      window.__posts++;
      p.then(function (r) { if (!r.ok) window.__failed++; }, function () { window.__failed++; });
    }
    return p;
  };
})();
</script>"#;

/// The id of the element an event is about, if it has one.
pub fn event_target_id(e: &EventRecord) -> Option<&str> {
    use shared::EventData;
    let t = match &e.event.data {
        EventData::Click(d) => Some(&d.target),
        EventData::Scroll(d) => d.target.as_ref(),
        EventData::Form(d) => Some(&d.target),
        EventData::Input(d) => Some(&d.target),
        EventData::Selection(d) => d.target.as_ref(),
        _ => None,
    };
    t.and_then(|t| t.id.as_deref())
}

/// The `CLICK` events on the element with this id.
pub fn clicks_on<'a>(events: &'a [EventRecord], id: &str) -> Vec<&'a EventRecord> {
    events
        .iter()
        .filter(|e| {
            matches!(e.event.data, shared::EventData::Click(_)) && event_target_id(e) == Some(id)
        })
        .collect()
}

/// The `INPUT` events on the element with this id, oldest first.
pub fn inputs_on<'a>(events: &'a [EventRecord], id: &str) -> Vec<&'a shared::InputData> {
    let mut matching: Vec<&EventRecord> = events
        .iter()
        .filter(|e| event_target_id(e) == Some(id))
        .collect();
    matching.sort_by_key(|e| (e.tab_id.as_str().to_owned(), e.event.seq));
    matching
        .into_iter()
        .filter_map(|e| match &e.event.data {
            shared::EventData::Input(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// The value the last `INPUT` on this element recorded.
pub fn last_input_value(events: &[EventRecord], id: &str) -> Option<String> {
    inputs_on(events, id).last().and_then(|d| d.value.clone())
}

/// One line per event, for failure messages.
pub fn describe(events: &[EventRecord]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{}#{} {:?} {}",
                e.tab_id,
                e.event.seq,
                e.event.actor,
                serde_json::to_string(&e.event.data).unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
