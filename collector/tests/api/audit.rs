//! Platform audit records in (`POST /api/v1/platform/records`) and the tenant
//! activity log out (`GET /api/v1/audit`), including the collector's own
//! records of who read a trail.

use crate::helpers::*;
use serde_json::{json, Value};
use shared::audit::{AuditPage, RecordsAck};

/// The golden fixtures of the 14 seed types, as the platform would post them.
pub fn fixtures() -> Vec<Value> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/fixtures/platform");
    let mut out: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|f| {
            serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    out.sort_by_key(|v| v["occurred_at"].as_i64());
    assert_eq!(out.len(), 14);
    out
}

pub async fn post_records(app: &TestApp, key: Option<&str>, body: &Value) -> reqwest::Response {
    post_records_raw(app, key, "application/json", body.to_string()).await
}

pub async fn post_records_raw(
    app: &TestApp,
    key: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let req = app
        .client
        .post(format!("{}/api/v1/platform/records", app.base))
        .header("content-type", content_type)
        .header("user-agent", "platform-service/1.0")
        .body(body);
    let req = match key {
        Some(k) => req.bearer_auth(k),
        None => req,
    };
    req.send().await.expect("request sent")
}

pub async fn audit_as(app: &TestApp, token: &str, query: &str) -> AuditPage {
    let res = app
        .get_as(Some(token), &format!("/api/v1/audit?{query}"))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

fn types(page: &AuditPage) -> Vec<String> {
    page.records
        .iter()
        .map(|r| r.record_type().map_or("-".into(), |t| t.to_string()))
        .collect()
}

#[tokio::test]
async fn platform_records_of_all_fourteen_types_are_accepted_and_listed_newest_first() {
    let app = TestApp::spawn().await;
    let records = fixtures();
    let res = post_records(&app, Some(SERVER_KEY), &json!(records)).await;
    assert_eq!(res.status(), 200);
    let ack: RecordsAck = res.json().await.unwrap();
    assert_eq!((ack.stored, ack.duplicates), (14, 0));
    // One more, as a single object, by another user.
    let mut single = records[3].clone();
    single["record_id"] = json!("solo");
    single["user_id"] = json!("bruno");
    single["occurred_at"] = json!(1_763_800_000_100i64);
    assert_eq!(
        post_records(&app, Some(SERVER_KEY), &single).await.status(),
        200
    );

    let all = audit_as(&app, ADMIN_TOKEN, "").await;
    assert_eq!(all.records.len(), 15);
    assert!(all.next_cursor.is_none());
    let times: Vec<i64> = all.records.iter().map(|r| r.occurred_at).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(all.records[0].user_id.as_str(), "bruno");
    // Records without an origin carry the posting request's.
    let logged_in = all
        .records
        .iter()
        .find(|r| r.record_id.as_deref() == Some("rec-3"))
        .unwrap();
    assert_eq!(
        logged_in.origin.user_agent.as_deref(),
        Some("platform-service/1.0")
    );
    assert_eq!(logged_in.origin.ip.as_deref(), Some("127.0.0.1"));
    // Records with one keep theirs.
    let call = all
        .records
        .iter()
        .find(|r| r.record_id.as_deref() == Some("rec-0"))
        .unwrap();
    assert_eq!(call.origin.ip.as_deref(), Some("201.13.62.150"));
    // The change is served as posted.
    let status = all
        .records
        .iter()
        .find(|r| r.record_id.as_deref() == Some("rec-6"))
        .unwrap();
    assert_eq!(
        status.change.as_ref().unwrap().after.as_ref().unwrap()["status"],
        "waiting_customer"
    );

    let page = audit_as(&app, ADMIN_TOKEN, "type=LOGGED_IN,START_CALL").await;
    assert_eq!(types(&page), ["LOGGED_IN", "LOGGED_IN", "START_CALL"]);
    let page = audit_as(&app, ADMIN_TOKEN, "user=bruno").await;
    assert_eq!(page.records.len(), 1);
    let page = audit_as(&app, ADMIN_TOKEN, "entity_kind=conversation&entity_id=18").await;
    assert_eq!(types(&page), ["STATUS_CHANGE"]);
    let page = audit_as(&app, ADMIN_TOKEN, "entity_kind=conversation&entity_id=19").await;
    assert!(page.records.is_empty());
    let page = audit_as(&app, ADMIN_TOKEN, "from=1763800000002&to=1763800000004").await;
    assert_eq!(
        types(&page),
        ["ONLINE_STATUS_ONLINE", "LOGGED_IN", "LIVE_VIEW"]
    );

    // Paging: pages of 4 put together are the whole log, in order, once.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=4&cursor={c}"),
            None => "limit=4".into(),
        };
        let page = audit_as(&app, ADMIN_TOKEN, &q).await;
        assert!(page.records.len() <= 4);
        paged.extend(page.records);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, all.records);

    // A cursor from a page without bounds narrows `to`, never widens it.
    let newest = audit_as(&app, ADMIN_TOKEN, "limit=2").await;
    let cursor = newest.next_cursor.expect("a second page");
    let to = 1763800000004;
    let page = audit_as(&app, ADMIN_TOKEN, &format!("to={to}&cursor={cursor}")).await;
    assert!(!page.records.is_empty());
    assert!(
        page.records.iter().all(|r| r.occurred_at <= to),
        "{:?}",
        page.records
            .iter()
            .map(|r| r.occurred_at)
            .collect::<Vec<_>>()
    );
    app.stop().await;
}

#[tokio::test]
async fn platform_records_need_a_valid_server_key() {
    let app = TestApp::spawn().await;
    let body = json!(fixtures()[3]);
    assert_error(
        post_records(&app, None, &body).await,
        401,
        "missing_credentials",
    )
    .await;
    assert_error(
        post_records(
            &app,
            Some("sk_nope_0123456789abcdef0123456789abcdef"),
            &body,
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    // A user token is not a server key.
    assert_error(
        post_records(&app, Some(ADMIN_TOKEN), &body).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert!(audit_as(&app, ADMIN_TOKEN, "").await.records.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_activity_log_is_for_admins_and_each_tenant_sees_only_its_own() {
    let app = TestApp::spawn().await;
    assert_eq!(
        post_records(&app, Some(SERVER_KEY), &json!(fixtures()))
            .await
            .status(),
        200
    );
    assert_error(
        app.get_as(Some(AGENT_TOKEN), "/api/v1/audit").await,
        403,
        "admin_only",
    )
    .await;
    assert_error(
        app.get_as(Some(OTHER_TOKEN), "/api/v1/audit").await,
        403,
        "admin_only",
    )
    .await;
    assert_error(
        app.get_as(None, "/api/v1/audit").await,
        401,
        "missing_credentials",
    )
    .await;
    // The other tenant's admin sees an empty log, then only its own record.
    assert!(audit_as(&app, OTHER_ADMIN_TOKEN, "")
        .await
        .records
        .is_empty());
    assert_eq!(
        post_records(&app, Some(OTHER_SERVER_KEY), &fixtures()[0])
            .await
            .status(),
        200
    );
    let other = audit_as(&app, OTHER_ADMIN_TOKEN, "").await;
    assert_eq!(other.records.len(), 1);
    assert_eq!(audit_as(&app, ADMIN_TOKEN, "").await.records.len(), 14);
    app.stop().await;
}

/// The activity log is chained per tenant: admins check it; what the
/// collector adds (reads of trails) is chained with the platform's records.
#[tokio::test]
async fn admins_verify_their_activity_log_chain() {
    let app = TestApp::spawn().await;
    let verify = |token: &'static str| {
        let app = &app;
        async move {
            let res = app.get_as(Some(token), "/api/v1/audit/verify").await;
            assert_eq!(res.status(), 200);
            res.json::<shared::api::ChainVerification>().await.unwrap()
        }
    };
    let empty = verify(ADMIN_TOKEN).await;
    assert!(empty.valid && empty.length == Some(0), "{empty:?}");
    assert_eq!(
        post_records(&app, Some(SERVER_KEY), &json!(fixtures()))
            .await
            .status(),
        200
    );
    app.post_batch(&batch("s-1", "t", vec![click(0, 1, "buy")]))
        .await;
    app.events("s-1", "").await;
    let v = verify(ADMIN_TOKEN).await;
    // 14 platform records and the agent's view of the trail.
    assert!(v.valid && v.length == Some(15), "{v:?}");
    assert!(v.head.as_ref().is_some_and(|h| h.len() == 64));
    // Pinned at that length and head, the log holds them as it grows (the
    // check itself adds nothing; views of one trail close together are one
    // entry, so the agent views another); another head is reported where it ends.
    let pin = |head: &str| {
        format!(
            "/api/v1/audit/verify?length={}&head={head}",
            v.length.unwrap()
        )
    };
    app.post_batch(&batch("s-2", "t", vec![click(0, 1, "buy")]))
        .await;
    app.events("s-2", "").await;
    let res = app
        .get_as(Some(ADMIN_TOKEN), &pin(v.head.as_deref().unwrap()))
        .await;
    let held: shared::api::ChainVerification = res.json().await.unwrap();
    assert!(held.valid && held.length == Some(16), "{held:?}");
    let res = app.get_as(Some(ADMIN_TOKEN), &pin(&"00".repeat(32))).await;
    let moved: shared::api::ChainVerification = res.json().await.unwrap();
    assert!(!moved.valid && moved.first_broken == Some(14), "{moved:?}");
    assert_error(
        app.get_as(Some(ADMIN_TOKEN), "/api/v1/audit/verify?length=3")
            .await,
        400,
        "bad_pin",
    )
    .await;
    let other = verify(OTHER_ADMIN_TOKEN).await;
    assert!(other.valid && other.length == Some(0), "{other:?}");
    assert_error(
        app.get_as(Some(AGENT_TOKEN), "/api/v1/audit/verify").await,
        403,
        "admin_only",
    )
    .await;
    assert_error(
        app.get_as(Some(ADMIN_TOKEN), "/api/v1/audit/verify?limit=1")
            .await,
        400,
        "bad_query",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn bad_records_are_refused_with_a_message_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let good = fixtures()[0].clone();
    let key = Some(SERVER_KEY);

    let res = post_records_raw(&app, key, "text/plain", good.to_string()).await;
    assert_error(res, 415, "unsupported_media_type").await;
    let res = post_records_raw(&app, key, "application/json", "{not json").await;
    assert_error(res, 400, "invalid_record").await;

    let mut bad = good.clone();
    bad["type"] = json!("END_CALL");
    let msg = assert_error(
        post_records(&app, key, &json!([good, bad])).await,
        400,
        "invalid_record",
    )
    .await;
    assert!(
        msg.contains("record 1") && msg.contains("END_CALL"),
        "{msg}"
    );

    let mut bad = good.clone();
    bad["data"]["call_id"] = json!("c".repeat(1000));
    let msg = assert_error(post_records(&app, key, &bad).await, 400, "text_too_long").await;
    assert!(msg.contains("data.call_id"), "{msg}");

    let mut bad = fixtures()[6].clone();
    bad["change"] = json!({"before": {"status": "open"}, "after": {"status": "open"}});
    assert_error(post_records(&app, key, &bad).await, 400, "unchanged_field").await;

    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("user_id");
    let msg = assert_error(post_records(&app, key, &bad).await, 400, "invalid_record").await;
    assert!(msg.contains("user_id"), "{msg}");

    let many = json!(vec![
        good.clone();
        shared::limits::MAX_RECORDS_PER_REQUEST + 1
    ]);
    assert_error(
        post_records(&app, key, &many).await,
        400,
        "too_many_records",
    )
    .await;
    assert_error(
        post_records(&app, key, &json!([])).await,
        400,
        "empty_request",
    )
    .await;

    let huge = "x".repeat(shared::limits::MAX_BODY_BYTES + 1);
    assert_error(
        post_records_raw(&app, key, "application/json", huge).await,
        413,
        "payload_too_large",
    )
    .await;

    assert_error(
        app.get_as(Some(ADMIN_TOKEN), "/api/v1/audit?type=NOPE")
            .await,
        400,
        "bad_type",
    )
    .await;
    assert_error(
        app.get_as(Some(ADMIN_TOKEN), "/api/v1/audit?cursor=%%%")
            .await,
        400,
        "bad_cursor",
    )
    .await;
    assert_error(
        app.get_as(Some(ADMIN_TOKEN), "/api/v1/audit?limit=0").await,
        400,
        "bad_limit",
    )
    .await;

    assert!(audit_as(&app, ADMIN_TOKEN, "").await.records.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_record_id_is_stored_once_per_tenant() {
    let app = TestApp::spawn().await;
    let rec = fixtures()[0].clone();
    let ack: RecordsAck = post_records(&app, Some(SERVER_KEY), &rec)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((ack.stored, ack.duplicates), (1, 0));
    // Re-sent alone, and twice inside one array.
    let ack: RecordsAck = post_records(&app, Some(SERVER_KEY), &json!([rec, rec]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((ack.stored, ack.duplicates), (0, 2));
    assert_eq!(audit_as(&app, ADMIN_TOKEN, "").await.records.len(), 1);
    // The same id in another tenant is another record.
    let ack: RecordsAck = post_records(&app, Some(OTHER_SERVER_KEY), &rec)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack.stored, 1);
    app.stop().await;
}

/// A `record_id` reused for another record (a platform bug, a counter that
/// restarted) is refused, not acknowledged as a duplicate and so lost; nothing
/// of its request is stored.
#[tokio::test]
async fn a_record_id_reused_for_other_content_is_a_conflict() {
    let app = TestApp::spawn().await;
    let fixtures = fixtures();
    let first = fixtures[0].clone();
    let ack: RecordsAck = post_records(&app, Some(SERVER_KEY), &first)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ack.stored, 1);
    let mut reused = fixtures[1].clone();
    reused["record_id"] = first["record_id"].clone();
    assert_ne!(reused, first);
    let mut fresh = fixtures[2].clone();
    fresh["record_id"] = json!("fresh-1");
    let res = post_records(&app, Some(SERVER_KEY), &json!([fresh, reused])).await;
    let body = assert_error(res, 409, "record_conflict").await;
    assert!(
        body.contains(first["record_id"].as_str().unwrap()),
        "the conflict names the record id: {body}"
    );
    // Nothing of that request was stored; the first record is as it was.
    let records = audit_as(&app, ADMIN_TOKEN, "").await.records;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].record_id.as_deref(), first["record_id"].as_str());
    // The same record again is still a duplicate.
    let ack: RecordsAck = post_records(&app, Some(SERVER_KEY), &first)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((ack.stored, ack.duplicates), (0, 1));
    // An origin the record gives itself is its content (one the collector
    // stamps from the request is not).
    let mut own = fixtures
        .iter()
        .find(|f| f.get("origin").is_some())
        .expect("a fixture with its own origin")
        .clone();
    own["record_id"] = json!("own-origin-1");
    assert_eq!(
        post_records(&app, Some(SERVER_KEY), &own).await.status(),
        200
    );
    own["origin"]["ip"] = json!("198.51.100.99");
    assert_error(
        post_records(&app, Some(SERVER_KEY), &own).await,
        409,
        "record_conflict",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn reading_a_trail_appends_an_audit_record_naming_the_agent() {
    let app = TestApp::spawn().await;
    let events = (0..3).map(|i| click(i, 100 + i as i64, "b")).collect();
    assert_eq!(
        app.post_batch(&batch("sess-9", "t", events)).await.status(),
        200
    );

    let first = app.events("sess-9", "limit=2").await;
    let cursor = first.next_cursor.expect("a second page");
    // Turning pages is the same viewing: not recorded again.
    app.events("sess-9", &format!("limit=2&cursor={cursor}"))
        .await;

    let log = audit_as(&app, ADMIN_TOKEN, "source=collector").await;
    assert_eq!(log.records.len(), 1, "{:?}", log.records);
    let r = &log.records[0];
    assert_eq!(r.user_id.as_str(), "ana");
    assert_eq!(r.action.as_deref(), Some("session.viewed"));
    let entity = r.entity.as_ref().unwrap();
    assert_eq!(
        (entity.kind.as_str(), entity.id.as_str()),
        ("session", "sess-9")
    );
    assert_eq!(r.actor, shared::audit::ActorKind::User);
    assert_eq!(r.origin.ip.as_deref(), Some("127.0.0.1"));
    assert!(r.record_type().is_none());
    // A type filter lists platform records only.
    assert!(audit_as(&app, ADMIN_TOKEN, "type=LOGGED_IN")
        .await
        .records
        .is_empty());
    // The other tenant's log does not show it.
    assert!(audit_as(&app, OTHER_ADMIN_TOKEN, "")
        .await
        .records
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn repeated_views_and_checks_of_a_trail_are_one_entry_but_every_export_counts() {
    let app = TestApp::spawn().await;
    let events = (0..3).map(|i| click(i, 100 + i as i64, "b")).collect();
    assert_eq!(
        app.post_batch(&batch("sess-c", "t", events)).await.status(),
        200
    );
    // A review screen opening a trail: the table, the timeline and a reload
    // each read the first page; the integrity badge verifies twice.
    for _ in 0..3 {
        app.events("sess-c", "limit=2").await;
    }
    app.verify("sess-c").await;
    app.verify("sess-c").await;
    // Another user's view is theirs to answer for.
    let res = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/sessions/sess-c/events")
        .await;
    assert_eq!(res.status(), 200);
    // The same user from another client (a script, a second device) is
    // another access, whose origin the log must show.
    let res = app
        .client
        .get(format!("{}/api/v1/sessions/sess-c/events", app.base))
        .bearer_auth(AGENT_TOKEN)
        .header("user-agent", "curl/8.5.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Every export is a release of the data: each one counts.
    for _ in 0..2 {
        let res = app
            .get_as(
                Some(AGENT_TOKEN),
                "/api/v1/sessions/sess-c/export?format=csv",
            )
            .await;
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
    }

    let log = audit_as(&app, ADMIN_TOKEN, "source=collector").await;
    let mut seen: Vec<(String, String)> = log
        .records
        .iter()
        .map(|r| (r.user_id.as_str().to_owned(), r.action.clone().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ana", "session.exported"),
            ("ana", "session.exported"),
            ("ana", "session.verified"),
            ("ana", "session.viewed"),
            ("ana", "session.viewed"),
            ("root", "session.viewed"),
        ]
        .map(|(u, a)| (u.to_owned(), a.to_owned())),
        "{:?}",
        log.records
    );
    assert!(log
        .records
        .iter()
        .any(|r| r.action.as_deref() == Some("session.viewed")
            && r.origin.user_agent.as_deref() == Some("curl/8.5.0")));
    // An export's entry says what was handed out: the format and the chain
    // it covers (as its last line does).
    let head = app.verify("sess-c").await.head.unwrap();
    let exported: Vec<_> = log
        .records
        .iter()
        .filter(|r| r.action.as_deref() == Some("session.exported"))
        .map(|r| r.change.clone().unwrap().after.unwrap())
        .collect();
    assert_eq!(exported.len(), 2);
    for after in exported {
        assert_eq!(after["format"], "csv");
        assert_eq!(after["chain_length"], 3);
        assert_eq!(after["chain_head"], head.as_str());
    }
    app.stop().await;
}

/// The collector's own entries in the activity log, as `(user, action, session)`.
/// A `session.viewed` entry as [`accesses`] lists it.
fn viewed(user: &str, session: &str) -> (String, String, String) {
    (user.into(), "session.viewed".into(), session.into())
}

async fn accesses(app: &TestApp) -> Vec<(String, String, String)> {
    audit_as(app, ADMIN_TOKEN, "source=collector")
        .await
        .records
        .iter()
        .map(|r| {
            (
                r.user_id.as_str().to_owned(),
                r.action.clone().unwrap_or_default(),
                r.entity
                    .as_ref()
                    .map_or(String::new(), |e| e.id.to_string()),
            )
        })
        .collect()
}

#[tokio::test]
async fn no_cursor_reads_a_trail_unaudited() {
    let app = TestApp::spawn().await;
    let events = (0..3).map(|i| click(i, 100 + i as i64, "b")).collect();
    assert_eq!(
        app.post_batch(&batch("sess-k", "t", events)).await.status(),
        200
    );
    // An empty or forged cursor is no position of the trail: refused, not a
    // first page read from the start.
    for cursor in ["", "AAAAAAAAAAA", "AA"] {
        let res = app
            .get(&format!("/api/v1/sessions/sess-k/events?cursor={cursor}"))
            .await;
        assert_error(res, 400, "bad_cursor").await;
    }
    assert!(accesses(&app).await.is_empty());
    // A page reached by a real cursor, read first (a review screen reloaded
    // on page 2, or a client that kept a cursor), is a view of the trail too.
    let first = app.events("sess-k", "limit=2").await;
    let cursor = first.next_cursor.expect("a second page");
    let res = app
        .get_as(
            Some(ADMIN_TOKEN),
            &format!("/api/v1/sessions/sess-k/events?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut seen = accesses(&app).await;
    seen.sort();
    assert_eq!(seen, [viewed("ana", "sess-k"), viewed("root", "sess-k")]);
    app.stop().await;
}

/// A session's summary (customer address, browser, pages) and its lost-event
/// ranges are views of the trail too.
#[tokio::test]
async fn reading_a_summary_or_the_gaps_is_audited() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post_batch(&batch("sess-g", "t", vec![click(0, 1, "b")]))
            .await
            .status(),
        200
    );
    let res = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/sessions/sess-g")
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get("/api/v1/sessions/sess-g/gaps").await;
    assert_eq!(res.status(), 200);
    let mut seen = accesses(&app).await;
    seen.sort();
    assert_eq!(seen, [viewed("ana", "sess-g"), viewed("root", "sess-g")]);
    app.stop().await;
}

/// The session list names customers' addresses, browsers and pages, and a
/// search finds who visited a page: listing is on record, with the search,
/// once per user and search within the window, whatever page is read.
#[tokio::test]
async fn listing_and_searching_sessions_is_audited() {
    let app = TestApp::spawn().await;
    for s in ["sess-p", "sess-q", "sess-r"] {
        let res = app.post_batch(&batch(s, "t", vec![click(0, 1, "b")])).await;
        assert_eq!(res.status(), 200);
    }
    let page = |query: &'static str| {
        let app = &app;
        async move {
            let res = app.get(&format!("/api/v1/sessions{query}")).await;
            assert_eq!(res.status(), 200, "{query}");
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    page("").await;
    let first = page("?q=sess&limit=1").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    // Paging on is the same search; a refresh within the window too.
    let res = app
        .get(&format!("/api/v1/sessions?q=sess&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(res.status(), 200);
    page("?q=sess&limit=1").await;
    page("?agent=false").await;
    // A search text that looks like a filter is logged as the text it is.
    page("?q=a%26agent%3Dtrue").await;
    let mut seen = accesses(&app).await;
    seen.sort();
    let listed = |what: &str| {
        (
            "ana".to_owned(),
            "sessions.listed".to_owned(),
            what.to_owned(),
        )
    };
    assert_eq!(
        seen,
        [
            listed("*"),
            listed("agent=false"),
            listed("q=a%26agent%3Dtrue"),
            listed("q=sess")
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_live_follow_that_claims_to_resume_is_audited_too() {
    let app = TestApp::spawn().await;
    let events = (0..3).map(|i| click(i, 100 + i as i64, "b")).collect();
    assert_eq!(
        app.post_batch(&batch("sess-l", "t", events)).await.status(),
        200
    );
    // `?last_event_id=0` replays the trail from its second event on.
    let res = app
        .get("/api/v1/sessions/sess-l/live?last_event_id=0")
        .await;
    assert_eq!(res.status(), 200);
    drop(res);
    assert_eq!(accesses(&app).await, [viewed("ana", "sess-l")]);
    // So does a `Last-Event-ID` header, here of another user.
    let res = app
        .client
        .get(format!("{}/api/v1/sessions/sess-l/live", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(res);
    assert_eq!(accesses(&app).await.len(), 2);
    // Reconnects of one user within a minute stay one entry.
    for _ in 0..3 {
        let res = app
            .get("/api/v1/sessions/sess-l/live?last_event_id=1")
            .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(accesses(&app).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_reads_of_a_trail_by_one_user_are_one_entry() {
    let app = TestApp::spawn().await;
    let events = (0..3).map(|i| click(i, 100 + i as i64, "b")).collect();
    assert_eq!(
        app.post_batch(&batch("sess-r", "t", events)).await.status(),
        200
    );
    // The review app requests the first page for the table and the timeline
    // at once, and verifies beside them: all in flight together.
    let reads = (0..8).map(|i| {
        let path = if i % 4 == 3 {
            "/api/v1/sessions/sess-r/verify"
        } else {
            "/api/v1/sessions/sess-r/events?limit=2"
        };
        app.get(path)
    });
    for res in futures_util::future::join_all(reads).await {
        assert_eq!(res.status(), 200);
    }
    let mut seen = accesses(&app).await;
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ana".into(), "session.verified".into(), "sess-r".into()),
            viewed("ana", "sess-r"),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_platform_record_from_far_in_the_future_or_the_past_is_refused() {
    let app = TestApp::spawn().await;
    let now = collector::routes::ingest::now_ms();
    let mut r = fixtures()[0].clone();
    for (t, says) in [
        (i64::MAX, "more than a day after"),
        (now + 2 * 86_400_000, "more than a day after"),
        (946_684_799_999, "before 2000"),
    ] {
        r["occurred_at"] = json!(t);
        let msg = assert_error(
            post_records(&app, Some(SERVER_KEY), &json!([r])).await,
            400,
            "bad_time",
        )
        .await;
        assert!(
            msg.contains(says) && msg.contains("the limit is"),
            "{t}: {msg}"
        );
    }
    // A clock a few minutes ahead of the collector's is no reason to refuse.
    r["occurred_at"] = json!(now + 300_000);
    assert_eq!(post_records(&app, Some(SERVER_KEY), &r).await.status(), 200);
    app.stop().await;
}
