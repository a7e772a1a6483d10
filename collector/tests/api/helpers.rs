use collector::config::Settings;
use collector::startup::Application;
use serde_json::{json, Value};
use shared::api::{ChainVerification, EventsPage, SessionsPage};

pub const AGENT_TOKEN: &str = "at_acme_agent_0123456789abcdef0123456789";
pub const ADMIN_TOKEN: &str = "at_acme_admin_0123456789abcdef0123456789";
pub const OTHER_TOKEN: &str = "at_other_agent_0123456789abcdef012345678";
pub const OTHER_ADMIN_TOKEN: &str = "at_other_admin_0123456789abcdef012345678";
pub const SERVER_KEY: &str = "sk_acme_server_0123456789abcdef012345678";
pub const OTHER_SERVER_KEY: &str = "sk_other_server_0123456789abcdef01234567";
pub const SITE_KEY: &str = "pk_acme";
pub const OTHER_SITE_KEY: &str = "pk_other";

/// Two tenants: `acme` (whose credentials the helpers use) and `other`.
pub const TENANTS: &str = r#"
[[tenant]]
id = "acme"
name = "Acme"
site_keys = [{ key = "pk_acme", origins = ["https://shop.example", "http://127.0.0.1:*"] }]
users = [
  { id = "ana", role = "agent", token = "at_acme_agent_0123456789abcdef0123456789" },
  { id = "root", role = "admin", token = "at_acme_admin_0123456789abcdef0123456789" },
]
server_keys = ["sk_acme_server_0123456789abcdef012345678"]

[[tenant]]
id = "other"
site_keys = [{ key = "pk_other", origins = ["*"] }]
users = [
  { id = "olga", role = "agent", token = "at_other_agent_0123456789abcdef012345678" },
  { id = "otto", role = "admin", token = "at_other_admin_0123456789abcdef012345678" },
]
server_keys = ["sk_other_server_0123456789abcdef01234567"]
"#;

/// A running collector on port 0 with its own temporary store, stopped on drop.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub port: u16,
    /// The collector's group-commit flusher (its flush count).
    pub group_commit: collector::durability::GroupCommit,
    handle: collector::startup::StopHandle,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A collector whose settings `adjust` changes first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_on(tempfile::tempdir().expect("temp dir"), adjust).await
    }

    /// A collector on an existing data directory (the store is `store/` in it).
    pub async fn spawn_on(data_dir: tempfile::TempDir, adjust: impl FnOnce(&mut Settings)) -> Self {
        let tenants = data_dir.path().join("tenants.toml");
        std::fs::write(&tenants, TENANTS).unwrap();
        let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
        let mut settings = Settings::for_test(data_dir.path().join("store"), www);
        settings.tenants_file = Some(tenants);
        adjust(&mut settings);
        // A store this process just closed (a stopped collector, or a test's
        // own `sled::open` to tamper with it) can stay locked for a moment:
        // sled's background threads release their handles after the last `Db`
        // is dropped. Only that error is retried, for at most five seconds.
        let mut waited = 0;
        let app = loop {
            match Application::build(settings.clone()).await {
                Ok(app) => break app,
                Err(e) if waited < 50 && format!("{e:#}").contains("could not acquire lock") => {
                    waited += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("collector starts: {e:#}"),
            }
        };
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let port = app.port();
        let group_commit = app.group_commit();
        let running = tokio::spawn(app.run_until_stopped());
        Self {
            base,
            client: reqwest::Client::new(),
            data_dir,
            port,
            group_commit,
            handle,
            running,
        }
    }

    /// The sled files of the store, as `sled::open` takes them.
    pub fn sled_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
        data_dir.join("store").join("sled")
    }

    pub async fn post_batch_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.post_batch_as(SITE_KEY, content_type, body).await
    }

    pub async fn post_batch_as(
        &self,
        site_key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/batches?site_key={site_key}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_batch(&self, batch: &Value) -> reqwest::Response {
        self.post_batch_raw("application/json", batch.to_string())
            .await
    }

    /// GET as the acme agent.
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.get_as(Some(AGENT_TOKEN), path_and_query).await
    }

    pub async fn get_as(&self, token: Option<&str>, path_and_query: &str) -> reqwest::Response {
        let req = self.client.get(format!("{}{path_and_query}", self.base));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        req.send().await.expect("request sent")
    }

    pub async fn events(&self, session: &str, query: &str) -> EventsPage {
        let res = self
            .get(&format!("/api/v1/sessions/{session}/events?{query}"))
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    pub async fn sessions(&self) -> SessionsPage {
        let res = self.get("/api/v1/sessions").await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn delete_as(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let req = self.client.delete(format!("{}{path}", self.base));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        req.send().await.expect("request sent")
    }

    /// `GET .../verify` as the acme agent, expecting 200.
    pub async fn verify(&self, session: &str) -> ChainVerification {
        let res = self
            .get(&format!("/api/v1/sessions/{session}/verify"))
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// The session's gap records (`GET /sessions/{id}/gaps`), asserting 200.
    pub async fn gaps(&self, session: &str) -> Vec<shared::api::GapRecord> {
        let res = self.get(&format!("/api/v1/sessions/{session}/gaps")).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        res.json::<shared::api::GapsPage>().await.unwrap().gaps
    }

    /// Posts a batch of `session`'s `tab` carrying only `gaps` (JSON), asserting 200.
    pub async fn post_gaps(&self, session: &str, tab: &str, gaps: Value) {
        let mut b = batch(session, tab, vec![]);
        b["gaps"] = gaps;
        let res = self.post_batch(&b).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Stops the collector, waits until its store is flushed and closed, and
    /// hands back the data directory.
    pub async fn stop_keeping_data(self) -> tempfile::TempDir {
        self.handle.stop(true).await;
        self.running
            .await
            .expect("collector task")
            .expect("collector stopped cleanly");
        self.data_dir
    }
}

/// A click event with the given seq and client time.
pub fn click(seq: u64, ts: i64, id: &str) -> Value {
    json!({"seq": seq, "ts": ts, "mono": seq, "actor": {"kind": "customer"},
           "type": "CLICK", "data": {"target": {"id": id, "tag": "button", "path": format!("button#{id}")}}})
}

pub fn batch(session: &str, tab: &str, events: Vec<Value>) -> Value {
    json!({"v": 1, "session_id": session, "tab_id": tab, "events": events})
}

/// Asserts a JSON error answer with this status and code; returns its message.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// A loopback port nothing listens on (for a collector binary started by a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
