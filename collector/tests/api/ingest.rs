use serde_json::json;
use shared::limits::MAX_BODY_BYTES;

use crate::helpers::*;

#[tokio::test]
async fn ingested_events_read_back_in_order_with_collector_stamps() {
    let app = TestApp::spawn().await;
    // Sent out of time order across two batches; read back by client time.
    let res = app
        .post_batch(&batch(
            "s1",
            "t1",
            vec![click(2, 300, "c"), click(3, 400, "d")],
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"stored": 2, "duplicates": 0})
    );
    let res = app
        .post_batch(&batch(
            "s1",
            "t1",
            vec![click(0, 100, "a"), click(1, 200, "b")],
        ))
        .await;
    assert_eq!(res.status(), 200);

    let page = app.events("s1", "").await;
    let ids = click_ids(&page);
    assert_eq!(ids, ["a", "b", "c", "d"]);
    let first = &page.events[0];
    assert_eq!(first.origin.ip.as_deref(), Some("127.0.0.1"));
    assert!(first.received_at > 1_700_000_000_000);
    assert_eq!(page.next_cursor, None);
    app.stop().await;
}

/// The target ids of a page of clicks, in order.
fn click_ids(page: &shared::api::EventsPage) -> Vec<String> {
    page.events
        .iter()
        .map(|r| match &r.event.data {
            shared::EventData::Click(c) => c.target.id.clone().unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_resent_batch_is_stored_once() {
    let app = TestApp::spawn().await;
    let b = batch("s1", "t1", vec![click(0, 1, "a"), click(1, 2, "b")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    let res = app.post_batch(&b).await;
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"stored": 0, "duplicates": 2})
    );
    // Overlapping re-send: one old, one new.
    let res = app
        .post_batch(&batch("s1", "t1", vec![click(1, 2, "b"), click(2, 3, "c")]))
        .await;
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"stored": 1, "duplicates": 1})
    );
    assert_eq!(app.events("s1", "").await.events.len(), 3);
    assert_eq!(app.sessions().await.sessions[0].event_count, 3);
    app.stop().await;
}

/// A batch that repeats a stored seq with another event is refused (409),
/// whole, instead of being acknowledged as a duplicate: the other event would
/// be lost, or a forger could claim a tab's next numbers. An exact re-send,
/// also one stored through an earlier request origin, is still a duplicate.
#[tokio::test]
async fn a_seq_taken_by_another_event_is_a_conflict_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let b = batch("s1", "t1", vec![click(0, 1, "a"), click(1, 2, "b")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    let res = app
        .post_batch(&batch(
            "s1",
            "t1",
            vec![click(1, 2, "forged"), click(2, 3, "c")],
        ))
        .await;
    let msg = assert_error(res, 409, "seq_conflict").await;
    assert!(msg.contains("[1]"), "{msg}");
    // Nothing of it: not seq 2 either, and seq 1 is still the original.
    let page = app.events("s1", "").await;
    let ids = click_ids(&page);
    assert_eq!(ids, ["a", "b"]);
    // The exact re-send, from another origin: a duplicate, as before.
    let res = app
        .client
        .post(format!("{}/api/v1/batches?site_key={SITE_KEY}", app.base))
        .header("origin", "https://shop.example")
        .header("user-agent", "another browser")
        .header("content-type", "text/plain")
        .body(b.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"stored": 0, "duplicates": 2})
    );
    let verify: serde_json::Value = app
        .get("/api/v1/sessions/s1/verify")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verify["valid"], true, "{verify}");
    app.stop().await;
}

#[tokio::test]
async fn ingest_rejects_bodies_over_the_size_limit_with_413() {
    let app = TestApp::spawn().await;
    let body = "x".repeat(MAX_BODY_BYTES + 1);
    let res = app.post_batch_raw("text/plain", body).await;
    assert_error(res, 413, "payload_too_large").await;
    // Without a declared length (chunked), the limit holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..20)
        .map(|_| Ok(vec![b' '; MAX_BODY_BYTES / 10]))
        .collect();
    let stream = futures_util_stream(chunks);
    let res = app
        .post_batch_raw("text/plain", reqwest::Body::wrap_stream(stream))
        .await;
    assert_error(res, 413, "payload_too_large").await;
    app.stop().await;
}

fn futures_util_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn malformed_json_gets_400_saying_where() {
    let app = TestApp::spawn().await;
    let msg = assert_error(
        app.post_batch_raw("application/json", "{\"v\":1,").await,
        400,
        "invalid_batch",
    )
    .await;
    assert!(msg.contains("line 1"), "{msg}");
    assert_error(
        app.post_batch_raw("text/plain", vec![0xff, 0xfe]).await,
        400,
        "invalid_utf8",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_event_types_and_fields_get_400_naming_them() {
    let app = TestApp::spawn().await;
    let mut ev = click(0, 1, "a");
    ev["type"] = json!("DOUBLE_CLICK");
    let msg = assert_error(
        app.post_batch(&batch("s", "t", vec![ev])).await,
        400,
        "invalid_batch",
    )
    .await;
    assert!(msg.contains("DOUBLE_CLICK"), "{msg}");

    let mut ev = click(0, 1, "a");
    ev["sneaky"] = json!(true);
    let msg = assert_error(
        app.post_batch(&batch("s", "t", vec![ev])).await,
        400,
        "invalid_batch",
    )
    .await;
    assert!(msg.contains("sneaky"), "{msg}");

    // An id beside a customer (or script) actor is not dropped: refused.
    let mut ev = click(0, 1, "a");
    ev["actor"] = json!({"kind": "customer", "id": "x"});
    let msg = assert_error(
        app.post_batch(&batch("s", "t", vec![ev])).await,
        400,
        "invalid_batch",
    )
    .await;
    assert!(msg.contains("no `id`"), "{msg}");

    let msg = assert_error(
        app.post_batch(&batch("bad id!", "t", vec![click(0, 1, "a")]))
            .await,
        400,
        "invalid_batch",
    )
    .await;
    assert!(msg.contains("only ASCII letters"), "{msg}");

    let mut ev = click(0, 1, "a");
    ev["data"]["target"]["label"] = json!("x".repeat(shared::limits::MAX_TEXT_CHARS + 1));
    assert_error(
        app.post_batch(&batch("s", "t", vec![ev])).await,
        400,
        "text_too_long",
    )
    .await;

    // Nothing from a rejected batch was stored.
    assert!(app.sessions().await.sessions.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn wrong_content_type_gets_415() {
    let app = TestApp::spawn().await;
    let body = batch("s", "t", vec![click(0, 1, "a")]).to_string();
    let msg = assert_error(
        app.post_batch_raw("application/xml", body.clone()).await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert!(msg.contains("application/json or text/plain"), "{msg}");
    // Beacons send text/plain with a charset: accepted.
    assert_eq!(
        app.post_batch_raw("text/plain;charset=UTF-8", body)
            .await
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn acknowledged_events_survive_a_restart_on_the_same_store() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post_batch(&batch("s", "t", vec![click(0, 1, "a")]))
            .await
            .status(),
        200
    );
    let dir = tempfile::tempdir().unwrap();
    // Copy the store while the collector still runs: what was acknowledged must
    // already be on disk, without a clean shutdown.
    copy_dir(&app.data_dir.path().join("store"), dir.path());
    app.stop().await;
    let store = collector::store::Store::open(dir.path(), 16).unwrap();
    let acme = shared::TenantId::parse("acme").unwrap();
    assert_eq!(store.sessions(&acme).unwrap()[0].event_count, 1);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A page on `origin` posting `body` as the recorder does (`text/plain`, no
/// preflight).
async fn post_from_page(
    app: &TestApp,
    site_key: &str,
    origin: &str,
    body: String,
) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/batches?site_key={site_key}", app.base))
        .header("origin", origin)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn preflight(app: &TestApp, site_key: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/batches?site_key={site_key}", app.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_on_the_site_keys_origins_may_post_batches_and_others_may_not() {
    let app = TestApp::spawn().await;
    let res = preflight(&app, SITE_KEY, "https://shop.example").await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let res = preflight(&app, SITE_KEY, "https://evil.example").await;
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    // A request that skips the preflight (text/plain) is checked by the route.
    let body = batch("s", "t", vec![click(0, 1, "a")]).to_string();
    let res = post_from_page(&app, SITE_KEY, "https://evil.example", body.clone()).await;
    // The refusal is readable by the page that sent it (else a browser turns
    // it into a network error the recorder would retry for ever).
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://evil.example"
    );
    assert_error(res, 403, "origin_not_allowed").await;
    let res = post_from_page(&app, "pk_nobody", "https://shop.example", body.clone()).await;
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(res.headers()["vary"].to_str().unwrap().contains("Origin"));
    assert_error(res, 401, "unknown_site_key").await;
    let res = post_from_page(&app, SITE_KEY, "https://shop.example", body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    app.stop().await;
}

#[tokio::test]
async fn ingest_without_a_known_site_key_is_401_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let body = batch("s", "t", vec![click(0, 1, "a")]).to_string();
    let res = app
        .client
        .post(format!("{}/api/v1/batches", app.base))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "missing_site_key").await;
    let res = app.post_batch_as("pk_nobody", "text/plain", body).await;
    assert_error(res, 401, "unknown_site_key").await;
    assert!(app.sessions().await.sessions.is_empty());
    app.stop().await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

async fn post_gzip(app: &TestApp, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!(
            "{}/api/v1/batches?site_key={SITE_KEY}&encoding={encoding}",
            app.base
        ))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn gzipped_batches_are_stored_like_plain_ones_and_bad_or_bomb_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let events = (0..20).map(|i| click(i, 100 + i as i64, "buy")).collect();
    let body = batch("sess-gz", "t", events).to_string();
    let packed = gzip(body.as_bytes());
    assert!(
        packed.len() * 3 < body.len(),
        "{} vs {}",
        packed.len(),
        body.len()
    );
    let res = post_gzip(&app, "gzip", packed.clone()).await;
    assert_eq!(res.status(), 200);
    let ack: shared::api::IngestAck = res.json().await.unwrap();
    assert_eq!((ack.stored, ack.duplicates), (20, 0));
    // The same events sent plain are the same events: stored once.
    let res = app.post_batch_raw("text/plain", body.clone()).await;
    let ack: shared::api::IngestAck = res.json().await.unwrap();
    assert_eq!((ack.stored, ack.duplicates), (0, 20));
    let page = app.events("sess-gz", "limit=100").await;
    assert_eq!(page.events.len(), 20);

    // Not gzip at all, or cut short: 400 naming the problem.
    assert_error(
        post_gzip(&app, "gzip", body.clone().into_bytes()).await,
        400,
        "bad_gzip",
    )
    .await;
    assert_error(
        post_gzip(&app, "gzip", packed[..packed.len() / 2].to_vec()).await,
        400,
        "bad_gzip",
    )
    .await;
    // Gzip of something that is not a batch: the usual decoder errors.
    assert_error(
        post_gzip(&app, "gzip", gzip(b"{not json")).await,
        400,
        "invalid_batch",
    )
    .await;
    // A few kilobytes that inflate past the body limit: 413, not memory.
    let bomb = gzip(&vec![b' '; MAX_BODY_BYTES * 16]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    assert_error(
        post_gzip(&app, "gzip", bomb).await,
        413,
        "payload_too_large",
    )
    .await;
    // Encodings it does not know: 400 before the body is read.
    assert_error(
        post_gzip(&app, "br", packed).await,
        400,
        "unsupported_encoding",
    )
    .await;
    assert_eq!(app.events("sess-gz", "limit=100").await.events.len(), 20);
    app.stop().await;
}
