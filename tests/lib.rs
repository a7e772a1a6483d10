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
    handle: actix_web::dev::ServerHandle,
    client: reqwest::Client,
}

impl Collector {
    pub async fn spawn() -> Self {
        let www = repo_root().join("www");
        assert!(
            www.join("recorder/recorder.js").exists() && www.join("recorder/cotrail_recorder_bg.wasm").exists(),
            "the recorder bundle is not built: run `cargo xtask test` (or `cargo xtask build`) first"
        );
        let data_dir = tempfile::tempdir().expect("temp dir");
        let app = Application::build(Settings::for_test(data_dir.path().to_owned(), www))
            .await
            .expect("collector starts");
        let port = app.port();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir,
            handle,
            client: reqwest::Client::new(),
        }
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
        let deadline = Instant::now() + Duration::from_secs(20);
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

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// chromedriver plus one headless Chromium session; both die with the guard.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
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
        let mut chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
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
                    let _ = chromedriver.kill();
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

    /// Polls a JS expression (a function body returning a boolean) with a deadline.
    pub async fn wait_for_js(&self, what: &str, script: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
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
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Reached on panic too: chromedriver takes its Chromium down with it.
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
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
