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

/// A data directory whose store holds session `old` of tenant `acme`, last
/// active a year ago (two clicks stored then).
async fn store_with_a_year_old_session() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = collector::store::Store::open(&dir.path().join("store"), 16).unwrap();
    let year_ago = collector::routes::ingest::now_ms() - 365 * 24 * 3_600_000;
    let (tenant, session) = (
        shared::TenantId::parse("acme").unwrap(),
        shared::SessionId::parse("old").unwrap(),
    );
    let tab = shared::TabId::parse("t").unwrap();
    let origin = shared::api::Origin::default();
    let records: Vec<shared::api::EventRecord> = (0..2)
        .map(|seq| shared::api::EventRecord {
            session_id: session.clone(),
            tab_id: tab.clone(),
            received_at: year_ago,
            origin: origin.clone(),
            event: serde_json::from_value(serde_json::json!({
                "seq": seq, "ts": year_ago, "mono": seq, "actor": {"kind": "customer"},
                "type": "CLICK", "data": {"target": {"tag": "button", "path": "button"}}
            }))
            .unwrap(),
        })
        .collect();
    store
        .insert(collector::store::Ingest {
            tenant: &tenant,
            session: &session,
            tab: &tab,
            received_at: year_ago,
            origin: &origin,
            records: &records,
            gaps: &[],
        })
        .unwrap();
    store.flush().await.unwrap();
    dir
}

#[tokio::test]
async fn without_a_retention_setting_nothing_is_deleted() {
    // A session idle for a year, sweeps every second: any retention at all
    // (a default of 30 days, say) would delete it at the first sweep, as the
    // second collector below does with 30 days set.
    let app = TestApp::spawn_on(store_with_a_year_old_session().await, |s| {
        s.retention_sweep_secs = 1
    })
    .await;
    assert_eq!(app.get("/api/v1/sessions/old").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.get("/api/v1/sessions/old").await.status(), 200);
    app.stop().await;

    let app = TestApp::spawn_on(store_with_a_year_old_session().await, |s| {
        s.retention_days = Some(30);
        s.retention_sweep_secs = 1;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let res = app.get("/api/v1/sessions/old").await;
        if res.status() == 410 {
            assert_eq!(assert_gone(res, "old").await.reason, "retention");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 days of retention kept a year-old session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
