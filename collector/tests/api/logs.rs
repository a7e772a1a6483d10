//! The access log as an operator reads it: the real `collector` binary with
//! `--log-format json`, its standard output parsed line by line.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::*;

/// The first log line `pred` accepts, once logged (`what` names it in the
/// failure).
async fn line_where(lines: &Mutex<Vec<Value>>, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(line) = lines.lock().unwrap().iter().find(|l| pred(l)) {
            return line.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {what}; logged: {:#?}",
            lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The close line of the request whose `request_id` is `id`, once logged.
async fn line_of(lines: &Mutex<Vec<Value>>, id: &str) -> Value {
    line_where(lines, &format!("access-log line for request {id}"), |l| {
        l["span"]["request_id"] == id && l["fields"]["message"] == "close"
    })
    .await
}

/// The collector binary with JSON logs, its log lines collected as they come.
async fn spawn_logged(
    dir: &Path,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String, Arc<Mutex<Vec<Value>>>) {
    let tenants = dir.join("tenants.toml");
    std::fs::write(&tenants, TENANTS).unwrap();
    // As an operator keeps it (one open to others is warned about).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tenants, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--tenants")
        .arg(&tenants)
        .arg("--www-dir")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../www"))
        .arg("--log-format")
        .arg("json")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the collector binary starts");
    let lines = Arc::new(Mutex::new(Vec::<Value>::new()));
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stdout.next_line().await {
            let parsed = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            sink.lock().unwrap().push(parsed);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(Instant::now() < deadline, "collector did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, base, lines)
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_access_log_says_who_and_where_without_believing_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, lines) = spawn_logged(dir.path(), &[]).await;
    let client = reqwest::Client::new();

    // An agent's search, from a peer that is no trusted proxy claiming
    // another address and its own request id: neither is believed.
    let res = client
        .get(format!("{base}/api/v1/sessions?q=jane.doe%40example.com"))
        .bearer_auth(AGENT_TOKEN)
        .header("x-forwarded-for", "198.51.100.7")
        .header("x-request-id", "proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = request_id(&res);
    assert_eq!(id.len(), 36, "a generated UUID, not {id:?}");
    let search = line_of(&lines, &id).await;
    let span = &search["span"];
    assert_eq!(span["http.client_ip"], "127.0.0.1", "{search}");
    assert_eq!(span["http.target"], "/api/v1/sessions", "{search}");
    assert_eq!(span["http.status_code"], 200, "{search}");
    assert_eq!(span["tenant"], "acme", "{search}");
    assert_eq!(span["user"], "ana", "{search}");
    assert_eq!(search["level"], "INFO");

    // A batch names its tenant and session.
    let res = client
        .post(format!("{base}/api/v1/batches?site_key={SITE_KEY}"))
        .json(&batch("sess-logged", "tab-1", vec![click(0, 1, "buy")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ingest = line_of(&lines, &request_id(&res)).await;
    assert_eq!(ingest["span"]["tenant"], "acme", "{ingest}");
    assert_eq!(ingest["span"]["session"], "sess-logged", "{ingest}");

    // A session read through its path names it too.
    let res = client
        .get(format!("{base}/api/v1/sessions/sess-logged/verify"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let verify = line_of(&lines, &request_id(&res)).await;
    assert_eq!(verify["span"]["session"], "sess-logged", "{verify}");
    assert_eq!(verify["span"]["user"], "root", "{verify}");

    // A refused request is one INFO line that says why, not a warning.
    let res = client
        .get(format!("{base}/api/v1/sessions"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let refused = line_of(&lines, &request_id(&res)).await;
    assert_eq!(refused["level"], "INFO", "{refused}");
    assert_eq!(refused["span"]["http.status_code"], 401, "{refused}");
    assert!(
        refused["span"]["exception.message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid")),
        "{refused}"
    );

    let all = lines.lock().unwrap().clone();
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("198.51.100.7"),
        "the claimed address was logged"
    );
    assert!(!text.contains("jane.doe"), "the agent's search was logged");
    let warnings: Vec<_> = all.iter().filter(|l| l["level"] == "WARN").collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    child.kill().await.unwrap();
}

/// Behind a trusted proxy, the client it names and the request id it sent
/// are the log's; an id that could forge log fields is still replaced.
#[tokio::test]
async fn behind_a_trusted_proxy_the_log_takes_its_client_and_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, lines) = spawn_logged(
        dir.path(),
        &[("COTRAIL_TRUSTED_PROXIES", "[\"127.0.0.1\"]")],
    )
    .await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{base}/api/v1/sessions"))
        .bearer_auth(AGENT_TOKEN)
        .header("x-forwarded-for", "198.51.100.7")
        .header("x-request-id", "proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(request_id(&res), "proxy-42");
    let line = line_of(&lines, "proxy-42").await;
    assert_eq!(line["span"]["http.client_ip"], "198.51.100.7", "{line}");
    let res = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "a\"b c")
        .send()
        .await
        .unwrap();
    let generated = request_id(&res);
    assert_eq!(generated.len(), 36, "a UUID, not {generated:?}");
    line_of(&lines, &generated).await;
    child.kill().await.unwrap();
}

/// The integrity checkpoint as an operator keeps it: its log line names the
/// tenant's activity-log length and head, which then pin the log (and so
/// every trail it checkpointed) from outside the store.
#[tokio::test]
async fn the_checkpoint_line_pins_the_activity_log_and_its_trails() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, lines) =
        spawn_logged(dir.path(), &[("COTRAIL_CHECKPOINT_INTERVAL_SECS", "1")]).await;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/batches?site_key={SITE_KEY}"))
        .json(&batch(
            "sess-pinned",
            "tab-1",
            vec![click(0, 1, "buy"), click(1, 2, "pay")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let line = line_where(&lines, "checkpoint line", |l| {
        l["fields"]["message"] == "integrity checkpoint"
    })
    .await;
    let fields = &line["fields"];
    assert_eq!(fields["tenant"], "acme", "{line}");
    assert_eq!(fields["sessions"], 1, "{line}");
    let (length, head) = (
        fields["activity_log_length"].as_u64().unwrap(),
        fields["activity_log_head"].as_str().unwrap().to_owned(),
    );
    // The checkpoint in the log names the trail's chain as verify answers it.
    let trail: shared::api::ChainVerification = client
        .get(format!("{base}/api/v1/sessions/sess-pinned/verify"))
        .bearer_auth(AGENT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log: Value = client
        .get(format!(
            "{base}/api/v1/audit?source=collector&user=collector"
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checkpoint = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "sessions.checkpointed")
        .unwrap_or_else(|| panic!("no checkpoint entry: {log}"));
    let pinned = &checkpoint["change"]["after"]["sess-pinned"];
    assert_eq!(pinned["length"], 2, "{checkpoint}");
    assert_eq!(
        pinned["head"].as_str(),
        trail.head.as_deref(),
        "{checkpoint}"
    );
    // The line's pin holds for the log, grown since by the reads above.
    let res = client
        .get(format!(
            "{base}/api/v1/audit/verify?length={length}&head={head}"
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: shared::api::ChainVerification = res.json().await.unwrap();
    assert!(v.valid && v.length.unwrap() > length, "{v:?}");
    child.kill().await.unwrap();
}
