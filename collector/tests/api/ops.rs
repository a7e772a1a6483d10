//! Operations: group commit, health, metrics, request ids, rate limits,
//! timeouts, client addresses behind proxies, hostile nesting.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingests_share_flushes() {
    let app = TestApp::spawn().await;
    let before = app.group_commit.flushes();
    const REQUESTS: u64 = 100;
    let sends: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let b = batch("s-group", &format!("t{i}"), vec![click(0, 1, "a")]);
            let (client, base) = (app.client.clone(), app.base.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/api/v1/batches?site_key={SITE_KEY}"))
                    .json(&b)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for s in sends {
        assert_eq!(s.await.unwrap(), 200);
    }
    let flushes = app.group_commit.flushes() - before;
    println!("group commit: {REQUESTS} concurrent ingests, {flushes} flushes");
    assert!(flushes >= 1);
    assert!(
        flushes <= REQUESTS / 2,
        "{REQUESTS} concurrent ingests took {flushes} flushes"
    );
    assert_eq!(app.sessions().await.sessions[0].event_count, REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness_answer_when_the_store_takes_writes() {
    let app = TestApp::spawn().await;
    let res = app.get_as(None, "/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let before = app.group_commit.flushes();
    let res = app.get_as(None, "/readyz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    assert!(
        app.group_commit.flushes() > before,
        "readiness flushes a probe"
    );
    // Unauthenticated: a flood of probes is not a write and a flush each.
    // One probe at a time, and one answers for the others of the next
    // second: at most one flush per second the 50 took. (After the answer
    // above has aged, so that the 50 arrive together at an empty cache.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = app.group_commit.flushes();
    let started = Instant::now();
    let probes: Vec<_> = (0..50).map(|_| app.get_as(None, "/readyz")).collect();
    for res in futures_util::future::join_all(probes).await {
        assert_eq!(res.status(), 200);
    }
    let flushed = app.group_commit.flushes() - before;
    let bound = 1 + started.elapsed().as_secs();
    assert!(
        flushed <= bound,
        "{flushed} flushes for 50 probes (at most {bound})"
    );
    // HEAD, as load balancers ask: the status, no body.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let res = app
            .client
            .head(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.bytes().await.unwrap().len(), 0, "{path}");
    }
    app.stop().await;
}

fn metric_value(text: &str, line_prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_ingested_events_duplicates_and_rejects() {
    let app = TestApp::spawn().await;
    // Metrics are process-wide and other tests run alongside: compare deltas.
    let scrape = || async { app.get_as(None, "/metrics").await.text().await.unwrap() };
    let before = scrape().await;
    let b = batch("s-metrics", "t1", vec![click(0, 1, "a"), click(1, 2, "b")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    let res = app.post_batch_raw("application/json", "{nope").await;
    assert_eq!(res.status(), 400);
    let res = app.get_as(None, "/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let after = res.text().await.unwrap();
    let delta = |name: &str| metric_value(&after, name) - metric_value(&before, name);
    assert!(delta("cotrail_events_ingested_total ") >= 2.0, "{after}");
    assert!(delta("cotrail_events_duplicate_total ") >= 2.0, "{after}");
    assert!(delta("cotrail_ingest_rejects_total{code=\"invalid_batch\"} ") >= 1.0);
    assert!(delta("cotrail_flushes_total ") >= 2.0);
    for name in [
        "cotrail_ingest_duration_seconds_bucket{le=\"0.005\"}",
        "cotrail_flush_duration_seconds_bucket{le=\"0.005\"}",
        "cotrail_store_size_bytes ",
        "cotrail_live_subscribers ",
        // From the start, so an alert on any failure has a series to watch.
        "cotrail_flush_errors_total ",
        "cotrail_sessions_deleted_total{reason=\"retention\"} ",
    ] {
        assert!(after.contains(name), "{name} missing from\n{after}");
    }
    assert!(metric_value(&after, "cotrail_store_size_bytes ") > 0.0);
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_its_own_request_id() {
    let app = TestApp::spawn().await;
    let a = app.get_as(None, "/healthz").await;
    let b = app.post_batch_raw("application/json", "{").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (ia, ib) = (id(&a), id(&b));
    assert_eq!(ia.len(), 36, "a UUID: {ia}");
    assert_ne!(ia, ib);
    app.stop().await;
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.ingest_per_ip_per_second = 1;
        s.ingest_per_ip_burst = 2;
    })
    .await;
    let b = batch("s-rate", "t1", vec![click(0, 1, "a")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    let res = app.post_batch(&b).await;
    assert_eq!(res.headers()["retry-after"], "1");
    let msg = assert_error(res, 429, "rate_limited").await;
    assert!(msg.contains("client address"), "{msg}");
    app.stop().await;
}

#[tokio::test]
async fn a_site_key_over_its_rate_gets_429_and_other_keys_do_not() {
    let app = TestApp::spawn_with(|s| {
        s.ingest_per_site_key_per_second = 1;
        s.ingest_per_site_key_burst = 1;
    })
    .await;
    let b = batch("s-rate", "t1", vec![click(0, 1, "a")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    let res = app.post_batch(&b).await;
    assert!(res.headers().contains_key("retry-after"));
    let msg = assert_error(res, 429, "rate_limited").await;
    assert!(msg.contains("site key"), "{msg}");
    let res = app
        .post_batch_as(OTHER_SITE_KEY, "application/json", b.to_string())
        .await;
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected_in_time() {
    let app = TestApp::spawn_with(|s| s.client_request_timeout_ms = 300).await;
    let port = app.port;
    let (elapsed, answer) = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = Instant::now();
        conn.write_all(b"POST /api/v1/batches HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        // ...and never the blank line that ends the head.
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    })
    .await
    .unwrap();
    assert!(elapsed < Duration::from_secs(3), "held for {elapsed:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    app.stop().await;
}

/// Sends `request` (a head announcing 100 bytes of body and only the start of
/// it), then waits for the answer: how long it took and what it said.
async fn stall_body(port: u16, request: String) -> (Duration, String) {
    tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = Instant::now();
        conn.write_all(request.as_bytes()).unwrap();
        let mut answer = vec![0; 4096];
        let n = conn.read(&mut answer).unwrap_or(0);
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer[..n]).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_stores_nothing() {
    let app = TestApp::spawn_with(|s| s.body_read_timeout_ms = 300).await;
    let (elapsed, answer) = stall_body(
        app.port,
        format!(
            "POST /api/v1/batches?site_key={SITE_KEY} HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"v\":1,"
        ),
    )
    .await;
    assert!(elapsed < Duration::from_secs(3), "held for {elapsed:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(app.sessions().await.sessions.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn platform_records_whose_body_stalls_get_408_and_store_nothing() {
    let app = TestApp::spawn_with(|s| s.body_read_timeout_ms = 300).await;
    let (elapsed, answer) = stall_body(
        app.port,
        format!(
            "POST /api/v1/platform/records HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {SERVER_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[{{\"type\":"
        ),
    )
    .await;
    assert!(elapsed < Duration::from_secs(3), "held for {elapsed:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    let log = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/audit?source=platform")
        .await;
    let log: shared::audit::AuditPage = log.json().await.unwrap();
    assert!(log.records.is_empty(), "{:?}", log.records);
    app.stop().await;
}

async fn stored_ip(app: &TestApp, session: &str) -> String {
    let page = app.events(session, "").await;
    page.events[0].origin.ip.clone().unwrap()
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let untrusting = TestApp::spawn().await;
    let trusting =
        TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    for app in [&untrusting, &trusting] {
        let res = app
            .client
            .post(format!("{}/api/v1/batches?site_key={SITE_KEY}", app.base))
            .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
            .json(&batch("s-xff", "t1", vec![click(0, 1, "a")]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(stored_ip(&untrusting, "s-xff").await, "127.0.0.1");
    assert_eq!(stored_ip(&trusting, "s-xff").await, "198.51.100.7");
    untrusting.stop().await;
    trusting.stop().await;
}

#[tokio::test]
async fn a_hundred_thousand_deep_body_is_a_400_not_a_crash() {
    let app = TestApp::spawn().await;
    for open in ["[", "{\"a\":"] {
        let body = open.repeat(100_000);
        let res = app.post_batch_raw("application/json", body).await;
        assert_error(res, 400, "too_deep").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_that_forbids_inline_script() {
    let app = TestApp::spawn().await;
    let policy = |res: &reqwest::Response| {
        res.headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let directive = |csp: &str, name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {csp:?}"))
            .to_owned()
    };
    // Also as the file server reads other spellings of those paths (decoded,
    // empty segments dropped): they are the review app, and get its policy.
    for path in [
        "/review/",
        "/review/index.html",
        "/review/app.js",
        "/%72eview/index.html",
        "//review/index.html",
        "/./review/",
    ] {
        let res = app.get_as(None, path).await;
        assert_eq!(res.status(), 200, "{path}");
        let csp = policy(&res);
        assert_eq!(directive(&csp, "script-src"), "script-src 'self'", "{path}");
        assert_eq!(directive(&csp, "frame-ancestors"), "frame-ancestors 'none'");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    // The demo pages load the wasm recorder: WebAssembly may compile, inline
    // script still may not run.
    for path in ["/", "/support.html", "/agent.html"] {
        let res = app.get_as(None, path).await;
        assert_eq!(res.status(), 200, "{path}");
        let csp = policy(&res);
        let script = directive(&csp, "script-src");
        assert_eq!(script, "script-src 'self' 'wasm-unsafe-eval'", "{path}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"));
    }
    // The API docs (Swagger UI) set inline styles; scripts stay files only.
    let res = app.get_as(None, "/api/docs/").await;
    assert_eq!(res.status(), 200);
    let csp = policy(&res);
    assert_eq!(directive(&csp, "script-src"), "script-src 'self'");
    assert_eq!(
        directive(&csp, "style-src"),
        "style-src 'self' 'unsafe-inline'"
    );
    app.stop().await;
}
