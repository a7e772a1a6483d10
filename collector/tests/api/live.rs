//! `GET /api/v1/sessions/{id}/live`: Server-Sent Events read with reqwest's
//! byte stream and parsed line by line, as a browser's EventSource would.

use std::pin::Pin;
use std::time::Duration;

use crate::helpers::*;
use futures_util::{Stream, StreamExt};
use shared::api::EventRecord;

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

/// One SSE connection.
pub struct Sse {
    stream: ByteStream,
    buf: Vec<u8>,
}

impl Sse {
    pub async fn connect(app: &TestApp, token: &str, session: &str, last: Option<u64>) -> Sse {
        let mut req = app
            .client
            .get(format!("{}/api/v1/sessions/{session}/live", app.base))
            .bearer_auth(token);
        if let Some(n) = last {
            req = req.header("last-event-id", n.to_string());
        }
        let res = req.send().await.expect("request sent");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            stream: Box::pin(res.bytes_stream().map(|c| c.map(|b| b.to_vec()))),
            buf: Vec::new(),
        }
    }

    /// The next message with data, as `(id, record)`, or `None` when nothing
    /// comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<(u64, EventRecord)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Bytes, not text: a chunk may end inside a UTF-8 character.
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8");
                let (mut id, mut data) = (None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().expect("numeric id"));
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).expect("EventRecord JSON"));
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    return Some((id, data));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .expect("stream chunk");
            self.buf.extend_from_slice(&chunk);
        }
    }
}

/// How long a test waits for an event it expects: a bound on a hang, not a
/// latency requirement (a loaded CI machine may take seconds; how fast events
/// reach a follower is the benchmarks' business).
const SOON: Duration = Duration::from_secs(15);

impl Sse {
    /// Reads until the server ends the stream; `false` if it is still open
    /// after `wait`.
    pub async fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
            }
        }
    }
}

#[tokio::test]
async fn stopping_the_collector_ends_live_streams_instead_of_waiting_for_them() {
    let app = TestApp::spawn().await;
    let mut sse = Sse::connect(&app, AGENT_TOKEN, "sess-stop", None).await;
    assert_eq!(
        app.post_batch(&batch("sess-stop", "t", vec![click(0, 1, "b")]))
            .await
            .status(),
        200
    );
    assert_eq!(sse.next(SOON).await.map(|(id, _)| id), Some(0));
    // An endless response: a graceful stop would wait out its whole timeout
    // (10 s) for it. Stopping ends it, and the stop completes.
    let stopping = tokio::spawn(app.stop());
    assert!(
        sse.ended_within(Duration::from_secs(5)).await,
        "the live stream is still open while the collector stops"
    );
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("the collector stopped before its 10 s shutdown timeout")
        .unwrap();
}

#[tokio::test]
async fn a_connected_agent_receives_an_event_ingested_after_it_connected() {
    let app = TestApp::spawn().await;
    app.post_batch(&batch("s", "t", vec![click(0, 10, "before")]))
        .await;
    let mut sse = Sse::connect(&app, AGENT_TOKEN, "s", None).await;
    assert_eq!(
        app.post_batch(&batch("s", "t", vec![click(1, 11, "after")]))
            .await
            .status(),
        200
    );
    let (id, rec) = sse.next(SOON).await.expect("the event, pushed live");
    // A new follower starts at the next event, not with the old ones.
    assert_eq!(id, 1);
    assert_eq!(rec.event.seq, 1);
    assert_eq!(rec.session_id.as_str(), "s");
    // An open stream would hold up the graceful stop.
    drop(sse);
    app.stop().await;
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_exactly_the_missed_events() {
    let app = TestApp::spawn().await;
    let mut sse = Sse::connect(&app, ADMIN_TOKEN, "s", None).await;
    app.post_batch(&batch("s", "t", vec![click(0, 50, "a"), click(1, 51, "b")]))
        .await;
    assert_eq!(sse.next(SOON).await.unwrap().0, 0);
    let (last, _) = sse.next(SOON).await.unwrap();
    assert_eq!(last, 1);
    drop(sse);

    // Missed while away: a late tab with old timestamps, and a re-sent batch.
    app.post_batch(&batch("s", "t2", vec![click(0, 1, "late")]))
        .await;
    app.post_batch(&batch("s", "t", vec![click(1, 51, "b"), click(2, 52, "c")]))
        .await;

    let mut sse = Sse::connect(&app, ADMIN_TOKEN, "s", Some(last)).await;
    let (id, rec) = sse.next(SOON).await.unwrap();
    assert_eq!((id, rec.tab_id.as_str(), rec.event.seq), (2, "t2", 0));
    let (id, rec) = sse.next(SOON).await.unwrap();
    assert_eq!((id, rec.tab_id.as_str(), rec.event.seq), (3, "t", 2));
    assert!(sse.next(Duration::from_millis(300)).await.is_none());
    // And then live again.
    app.post_batch(&batch("s", "t", vec![click(3, 53, "d")]))
        .await;
    assert_eq!(sse.next(SOON).await.unwrap().0, 4);
    drop(sse);
    app.stop().await;
}

#[tokio::test]
async fn a_follower_of_another_tenant_sees_nothing_and_credentials_are_required() {
    let app = TestApp::spawn().await;
    let mut other = Sse::connect(&app, OTHER_TOKEN, "s", Some(0)).await;
    app.post_batch(&batch("s", "t", vec![click(0, 1, "a"), click(1, 2, "b")]))
        .await;
    assert!(other.next(Duration::from_millis(500)).await.is_none());
    let res = app.get_as(None, "/api/v1/sessions/s/live").await;
    assert_error(res, 401, "missing_credentials").await;
    let res = app
        .client
        .get(format!("{}/api/v1/sessions/s/live", app.base))
        .bearer_auth(AGENT_TOKEN)
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "bad_last_event_id").await;
    drop(other);
    app.stop().await;
}

/// One token opening live follows of made-up sessions in a loop gets a
/// bounded number of streams: the next is refused (429) and not recorded as a
/// view. Another user is not held back.
#[tokio::test]
async fn live_follows_are_bounded_per_user() {
    let app = TestApp::spawn().await;
    let mut open = Vec::new();
    for i in 0..collector::live::MAX_FOLLOWS_PER_USER {
        open.push(Sse::connect(&app, AGENT_TOKEN, &format!("made-up-{i}"), None).await);
    }
    let res = app.get("/api/v1/sessions/one-more/live").await;
    assert_eq!(res.headers()["retry-after"], "5");
    assert_error(res, 429, "rate_limited").await;
    let log: serde_json::Value = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/audit?entity_id=one-more")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        log["records"],
        serde_json::json!([]),
        "the refused follow was recorded"
    );
    // The control: an accepted follow of it is on record.
    let log: serde_json::Value = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/audit?entity_id=made-up-0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["records"].as_array().map(Vec::len), Some(1), "{log}");
    // Another user is not held back. (A stream that ends frees its place once
    // the collector notices, at its next write: the unit test in `live.rs`.)
    let admin = Sse::connect(&app, ADMIN_TOKEN, "one-more", None).await;
    drop((open, admin));
    app.stop().await;
}
