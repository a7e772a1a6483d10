use collector::config::Settings;
use collector::startup::Application;
use serde_json::{json, Value};
use shared::api::{EventsPage, SessionsPage};

/// A running collector on port 0 with its own temporary store, stopped on drop.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
        let app = Application::build(Settings::for_test(data_dir.path().to_owned(), www))
            .await
            .expect("collector starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            client: reqwest::Client::new(),
            data_dir,
            handle,
        }
    }

    pub async fn post_batch_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/batches", self.base))
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

    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("request sent")
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

    pub async fn stop(self) {
        self.handle.stop(true).await;
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
