//! Explicit deletion (`DELETE /api/v1/sessions/{id}`), retention, tombstones
//! and `410 Gone`.

use std::time::{Duration, Instant};

use crate::helpers::*;
use serde_json::Value;
use shared::api::{SessionSummary, Tombstone, TombstonesPage};

async fn trail(app: &TestApp, session: &str) {
    let res = app
        .post_batch(&batch(
            session,
            "t",
            vec![click(0, 1, "a"), click(1, 2, "b")],
        ))
        .await;
    assert_eq!(res.status(), 200);
}

/// Asserts a 410 whose body carries the session's tombstone; returns it.
async fn assert_gone(res: reqwest::Response, session: &str) -> Tombstone {
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "session_deleted", "{body}");
    let t: Tombstone = serde_json::from_value(body["tombstone"].clone()).expect("tombstone");
    assert_eq!(t.session_id.as_str(), session);
    t
}

#[tokio::test]
async fn an_admin_deletes_a_session_leaving_a_tombstone_and_410s() {
    let app = TestApp::spawn().await;
    trail(&app, "s").await;
    trail(&app, "keep").await;
    let head = app.verify("s").await.head.unwrap();
    let summary: SessionSummary = app.get("/api/v1/sessions/s").await.json().await.unwrap();
    assert_eq!(summary.event_count, 2);

    let res = app.delete_as(Some(ADMIN_TOKEN), "/api/v1/sessions/s").await;
    assert_eq!(res.status(), 200);
    let t: Tombstone = res.json().await.unwrap();
    assert_eq!(t.reason, "deleted by root");
    assert_eq!((t.event_count, t.chain_length), (2, 2));
    assert_eq!(t.chain_head, head);

    for path in [
        "/api/v1/sessions/s",
        "/api/v1/sessions/s/verify",
        "/api/v1/sessions/s/events",
        "/api/v1/sessions/s/gaps",
        "/api/v1/sessions/s/export?format=ndjson",
        "/api/v1/sessions/s/live",
    ] {
        assert_eq!(assert_gone(app.get(path).await, "s").await, t, "{path}");
    }
    // Deleting again, or a late re-send of the trail, does not bring it back.
    assert_gone(
        app.delete_as(Some(ADMIN_TOKEN), "/api/v1/sessions/s").await,
        "s",
    )
    .await;
    // A writer is told the session is gone, but not by whom or when: the site
    // key is public.
    let res = app
        .post_batch(&batch("s", "t", vec![click(2, 3, "c")]))
        .await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "session_deleted", "{body}");
    assert!(body.get("tombstone").is_none(), "{body}");
    assert!(!body.to_string().contains("root"), "{body}");

    let listed: Vec<_> = app
        .sessions()
        .await
        .sessions
        .into_iter()
        .map(|s| s.session_id.to_string())
        .collect();
    assert_eq!(listed, ["keep"]);
    let page: TombstonesPage = app.get("/api/v1/tombstones").await.json().await.unwrap();
    assert_eq!(page.tombstones, [t]);
    // Another tenant sees none of it.
    let other: TombstonesPage = app
        .get_as(Some(OTHER_TOKEN), "/api/v1/tombstones")
        .await
        .json()
        .await
        .unwrap();
    assert!(other.tombstones.is_empty());
    // Pages follow positions the collector handed out; "hello" is not one.
    assert_error(
        app.get("/api/v1/tombstones?cursor=aGVsbG8").await,
        400,
        "bad_cursor",
    )
    .await;
    assert!(app.verify("keep").await.valid);
    app.stop().await;
}

#[tokio::test]
async fn only_admins_of_the_sessions_tenant_may_delete() {
    let app = TestApp::spawn().await;
    trail(&app, "s").await;
    assert_error(
        app.delete_as(Some(AGENT_TOKEN), "/api/v1/sessions/s").await,
        403,
        "admin_only",
    )
    .await;
    assert_error(
        app.delete_as(Some(OTHER_ADMIN_TOKEN), "/api/v1/sessions/s")
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.delete_as(None, "/api/v1/sessions/s").await,
        401,
        "missing_credentials",
    )
    .await;
    assert_error(
        app.delete_as(Some(ADMIN_TOKEN), "/api/v1/sessions/nope")
            .await,
        404,
        "not_found",
    )
    .await;
    // Still there, intact.
    assert_eq!(app.verify("s").await.length, Some(2));
    app.stop().await;
}

#[tokio::test]
async fn retention_deletes_idle_sessions_in_the_background() {
    // Zero days (refused in a configuration, set directly here): every session
    // is past its age at the first sweep after its last batch; a sweep every second.
    let app = TestApp::spawn_with(|s| {
        s.retention_days = Some(0);
        s.retention_sweep_secs = 1;
    })
    .await;
    trail(&app, "s").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let t = loop {
        let res = app.get("/api/v1/sessions/s").await;
        if res.status() == 410 {
            break assert_gone(res, "s").await;
        }
        assert_eq!(res.status(), 200);
        assert!(
            Instant::now() < deadline,
            "retention never deleted the session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(t.reason, "retention");
    assert_eq!((t.event_count, t.chain_length), (2, 2));
    let page: TombstonesPage = app.get("/api/v1/tombstones").await.json().await.unwrap();
    assert_eq!(page.tombstones, [t]);
    app.stop().await;
}

#[tokio::test]
async fn without_a_retention_setting_nothing_is_deleted() {
    let app = TestApp::spawn_with(|s| s.retention_sweep_secs = 1).await;
    trail(&app, "s").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.get("/api/v1/sessions/s").await.status(), 200);
    app.stop().await;
}
