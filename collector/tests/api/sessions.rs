use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn events_of_two_sessions_never_mix() {
    let app = TestApp::spawn().await;
    // "s" is a prefix of "s2": keys must still keep them apart.
    app.post_batch(&batch("s", "t", vec![click(0, 1, "in-s")]))
        .await;
    app.post_batch(&batch(
        "s2",
        "t",
        vec![click(0, 1, "in-s2"), click(1, 2, "in-s2")],
    ))
    .await;
    let s = app.events("s", "").await.events;
    let s2 = app.events("s2", "").await.events;
    assert_eq!(s.len(), 1);
    assert_eq!(s2.len(), 2);
    assert!(s.iter().all(|r| r.session_id.as_str() == "s"));
    assert!(s2.iter().all(|r| r.session_id.as_str() == "s2"));
    let listed: Vec<_> = app
        .sessions()
        .await
        .sessions
        .into_iter()
        .map(|s| s.session_id.to_string())
        .collect();
    assert_eq!(listed.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn events_page_with_a_cursor_and_filter_by_type_and_actor() {
    let app = TestApp::spawn().await;
    let mut events: Vec<_> = (0..5)
        .map(|i| click(i, 100 + i as i64, &format!("c{i}")))
        .collect();
    events.push(
        json!({"seq": 5, "ts": 200, "mono": 5, "actor": {"kind": "agent", "id": "agent-7"},
        "type": "CUSTOM_EVENT", "data": {"type": "cart", "value": {"sku": "A-1"}}}),
    );
    app.post_batch(&batch("s", "t", events)).await;

    let p1 = app.events("s", "limit=2").await;
    assert_eq!(
        p1.events.iter().map(|e| e.event.seq).collect::<Vec<_>>(),
        [0, 1]
    );
    let cursor = p1.next_cursor.expect("more pages");
    let p2 = app.events("s", &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(
        p2.events.iter().map(|e| e.event.seq).collect::<Vec<_>>(),
        [2, 3]
    );

    let desc = app.events("s", "order=desc&limit=1").await;
    assert_eq!(desc.events[0].event.seq, 5);

    let agent = app.events("s", "actor=agent").await.events;
    assert_eq!(agent.len(), 1);
    assert_eq!(agent[0].event.event_type().as_str(), "CUSTOM_EVENT");
    let clicks = app.events("s", "type=CLICK&actor=customer").await.events;
    assert_eq!(clicks.len(), 5);
    let window = app.events("s", "from=101&to=103").await.events;
    assert_eq!(
        window.iter().map(|e| e.event.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_queries_get_400_and_unknown_sessions_404() {
    let app = TestApp::spawn().await;
    app.post_batch(&batch("s", "t", vec![click(0, 1, "a")]))
        .await;
    let msg = assert_error(
        app.get("/api/v1/sessions/s/events?type=TAP").await,
        400,
        "bad_type",
    )
    .await;
    assert!(msg.contains("PAGE-CHANGE"), "{msg}");
    assert_error(
        app.get("/api/v1/sessions/s/events?actor=robot").await,
        400,
        "bad_actor",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/s/events?limit=0").await,
        400,
        "bad_limit",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/s/events?limit=many").await,
        400,
        "bad_query",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/s/events?cursor=***").await,
        400,
        "bad_cursor",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/s/events?colour=red").await,
        400,
        "bad_query",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/nope/events").await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.get("/api/v1/nothing-here").await, 404, "not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn sessions_list_newest_first_with_counts_actors_and_last_page() {
    let app = TestApp::spawn().await;
    app.post_batch(&batch("old", "t", vec![click(0, 1, "a")]))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.post_batch(&batch("new", "t", vec![
        click(0, 1, "a"),
        json!({"seq": 1, "ts": 2, "mono": 1, "actor": {"kind": "agent", "id": "a-1"}, "type": "PAGE-CHANGE",
               "data": {"url": "http://x/cart", "title": "Cart", "nav": "push"}}),
    ])).await;
    let page = app.sessions().await;
    assert_eq!(page.sessions[0].session_id.as_str(), "new");
    assert_eq!(page.sessions[0].event_count, 2);
    assert_eq!(page.sessions[0].actors, ["agent", "customer"]);
    assert_eq!(page.sessions[0].last_url.as_deref(), Some("http://x/cart"));
    assert_eq!(page.sessions[1].session_id.as_str(), "old");

    let res = app.get("/api/v1/sessions?limit=1").await;
    let p: shared::api::SessionsPage = res.json().await.unwrap();
    assert_eq!(p.sessions.len(), 1);
    let res = app
        .get(&format!(
            "/api/v1/sessions?limit=1&cursor={}",
            p.next_cursor.unwrap()
        ))
        .await;
    let p2: shared::api::SessionsPage = res.json().await.unwrap();
    assert_eq!(p2.sessions[0].session_id.as_str(), "old");
    assert!(p2.next_cursor.is_none());
    // A cursor is a position the collector handed out: base64 of anything else
    // (here "hello", too short to be one) is refused, as is what is not base64.
    for bad in ["aGVsbG8", "***"] {
        assert_error(
            app.get(&format!("/api/v1/sessions?cursor={bad}")).await,
            400,
            "bad_cursor",
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn gap_records_are_stored_once_and_counted_on_the_session() {
    let app = TestApp::spawn().await;
    let mut b = batch("s", "t", vec![click(0, 1, "a"), click(40, 2, "b")]);
    b["gaps"] = json!([{"from": 1, "to": 39, "reason": "queue_full"}]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    // Re-sent: the gap is not counted twice.
    assert_eq!(app.post_batch(&b).await.status(), 200);
    // A batch may carry only a gap (the rejected batch's events are gone).
    app.post_gaps(
        "s",
        "t",
        json!([{"from": 41, "to": 45, "reason": "rejected"}]),
    )
    .await;

    let summary = &app.sessions().await.sessions[0];
    assert_eq!(summary.lost_events, 39 + 5);
    assert_eq!(summary.event_count, 2);
    let gaps = app.gaps("s").await;
    let runs: Vec<_> = gaps
        .iter()
        .map(|g| (g.from, g.to, g.reason.as_str()))
        .collect();
    assert_eq!(runs, [(1, 39, "queue_full"), (41, 45, "rejected")]);

    let mut bad = batch("s", "t", vec![]);
    bad["gaps"] = json!([{"from": 9, "to": 2, "reason": "queue_full"}]);
    assert_error(app.post_batch(&bad).await, 400, "bad_gap").await;
    bad["gaps"] = json!([{"from": 1, "to": 2, "reason": "bored"}]);
    assert_error(app.post_batch(&bad).await, 400, "invalid_batch").await;
    // A run no recorder could lose (it would wrap the lost count to 0)...
    bad["gaps"] = json!([{"from": 0, "to": u64::MAX, "reason": "queue_full"}]);
    let msg = assert_error(app.post_batch(&bad).await, 400, "bad_gap").await;
    assert!(msg.contains("the limit is"), "{msg}");
    // ...and runs that report the same sequence numbers twice.
    bad["gaps"] = json!([
        {"from": 100, "to": 110, "reason": "queue_full"},
        {"from": 105, "to": 120, "reason": "rejected"}
    ]);
    let msg = assert_error(app.post_batch(&bad).await, 400, "bad_gap").await;
    assert!(msg.contains("overlap"), "{msg}");
    assert_eq!(app.sessions().await.sessions[0].lost_events, 39 + 5);
    assert_error(
        app.get("/api/v1/sessions/nope/gaps").await,
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn sequence_numbers_neither_stored_nor_reported_lost_are_listed_as_unaccounted() {
    let app = TestApp::spawn().await;
    let unaccounted = |page: shared::api::GapsPage| -> Vec<(String, u64, u64)> {
        page.unaccounted
            .into_iter()
            .map(|u| (u.tab_id.as_str().to_owned(), u.from, u.to))
            .collect()
    };
    let page = || async {
        let res = app.get("/api/v1/sessions/s/gaps").await;
        assert_eq!(res.status(), 200);
        res.json::<shared::api::GapsPage>().await.unwrap()
    };
    // Tab t: 0, 1 and 4 stored, 2 reported lost: 3 is unaccounted.
    let mut b = batch(
        "s",
        "t",
        vec![click(0, 1, "a"), click(1, 2, "b"), click(4, 5, "e")],
    );
    b["gaps"] = json!([{"from": 2, "to": 2, "reason": "queue_full"}]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    // Tab u: its first event stored is 5 (0-4 still on their way).
    let b = batch("s", "u", vec![click(5, 6, "f"), click(7, 8, "h")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    // Tab v: only lost numbers, from 0: nothing unexplained.
    app.post_gaps(
        "s",
        "v",
        json!([{"from": 0, "to": 3, "reason": "rejected"}]),
    )
    .await;
    assert_eq!(
        unaccounted(page().await),
        [
            ("t".to_owned(), 3, 3),
            ("u".to_owned(), 0, 4),
            ("u".to_owned(), 6, 6)
        ]
    );
    // They arrive (a queue adopted by a later page): accounted for.
    let b = batch("s", "t", vec![click(3, 4, "d")]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    let late: Vec<serde_json::Value> = (0..7)
        .filter(|s| *s != 5)
        .map(|s| click(s, 9, "x"))
        .collect();
    assert_eq!(app.post_batch(&batch("s", "u", late)).await.status(), 200);
    let p = page().await;
    assert_eq!(unaccounted(p.clone()), []);
    assert_eq!(p.gaps.len(), 2);
    // A tab whose numbers are scattered: the answer stops at its bound.
    let max = collector::store::MAX_UNACCOUNTED_RANGES as u64;
    let odd: Vec<u64> = (0..=max).map(|i| 2 * i + 1).collect();
    for chunk in odd.chunks(50) {
        let events = chunk.iter().map(|&s| click(s, 1, "o")).collect();
        assert_eq!(app.post_batch(&batch("w", "t", events)).await.status(), 200);
    }
    let res = app.get("/api/v1/sessions/w/gaps").await;
    let p: shared::api::GapsPage = res.json().await.unwrap();
    assert_eq!(p.unaccounted.len() as u64, max);
    assert_eq!((p.unaccounted[0].from, p.unaccounted[0].to), (0, 0));
    assert_eq!(p.unaccounted.last().unwrap().from, 2 * (max - 1));
    app.stop().await;
}

#[tokio::test]
async fn a_lost_sequence_number_is_counted_once_whatever_batches_report_it() {
    let app = TestApp::spawn().await;
    let mut b = batch("s", "t", vec![click(0, 1, "a")]);
    b["gaps"] = json!([{"from": 10, "to": 19, "reason": "queue_full"}]);
    assert_eq!(app.post_batch(&b).await.status(), 200);
    // The same run widened (a recorder re-sending a record it widened after
    // its acknowledgement was lost): only the widening is new.
    app.post_gaps(
        "s",
        "t",
        json!([{"from": 10, "to": 25, "reason": "queue_full"}]),
    )
    .await;
    // Runs inside and across what is stored, in one batch.
    let across = json!([
        {"from": 5, "to": 12, "reason": "rejected"},
        {"from": 14, "to": 15, "reason": "rejected"},
        {"from": 24, "to": 30, "reason": "rejected"}
    ]);
    app.post_gaps("s", "t", across).await;
    // Another tab's numbers are its own.
    app.post_gaps(
        "s",
        "u",
        json!([{"from": 10, "to": 19, "reason": "queue_full"}]),
    )
    .await;

    let gaps = app.gaps("s").await;
    let runs: Vec<_> = gaps
        .iter()
        .map(|g| (g.tab_id.as_str(), g.from, g.to, g.reason.as_str()))
        .collect();
    assert_eq!(
        runs,
        [
            ("t", 5, 9, "rejected"),
            ("t", 10, 19, "queue_full"),
            ("t", 20, 25, "queue_full"),
            ("t", 26, 30, "rejected"),
            ("u", 10, 19, "queue_full"),
        ]
    );
    let summary = &app.sessions().await.sessions[0];
    assert_eq!(summary.lost_events, (30 - 5 + 1) + 10);
    // Every stored part is a record of the chain.
    let v = app.verify("s").await;
    assert!(v.valid, "{v:?}");
    assert_eq!(v.length, Some(1 + 5));
    app.stop().await;
}

#[tokio::test]
async fn a_session_keeps_a_bounded_number_of_gap_records_and_says_when_it_is_full() {
    use collector::gaps::MAX_GAP_RECORDS_PER_SESSION as MAX;
    let app = TestApp::spawn().await;
    // Apart runs of one lost event each, 64 to a batch (the batch limit), up
    // to the session's limit.
    let mut next = 0u64;
    while next < MAX {
        let n = (MAX - next).min(64);
        let gaps: Vec<_> = (next..next + n)
            .map(|i| json!({"from": 2 * i, "to": 2 * i, "reason": "queue_full"}))
            .collect();
        app.post_gaps("s", "t", json!(gaps)).await;
        next += n;
    }
    let before = app.sessions().await.sessions[0].clone();
    assert_eq!(before.lost_events, MAX);
    // One more record is refused, with the events it came with: nothing of a
    // refused batch is stored.
    let mut over = batch("s", "t", vec![click(1, 1, "a")]);
    over["gaps"] = json!([{"from": 2 * MAX, "to": 2 * MAX, "reason": "queue_full"}]);
    let msg = assert_error(app.post_batch(&over).await, 400, "gap_limit").await;
    assert!(msg.contains(&format!("at most {MAX}")), "{msg}");
    let after = app.sessions().await.sessions[0].clone();
    assert_eq!((after.event_count, after.lost_events), (0, MAX));
    // Re-sending what is stored adds no record and still goes in, as do
    // events without gaps and other sessions' gaps.
    let mut again = batch("s", "t", vec![click(1, 1, "a")]);
    again["gaps"] = json!([{"from": 0, "to": 0, "reason": "queue_full"}]);
    assert_eq!(app.post_batch(&again).await.status(), 200);
    assert_eq!(
        app.post_batch(&batch("s", "t", vec![click(3, 2, "b")]))
            .await
            .status(),
        200
    );
    app.post_gaps(
        "s2",
        "t",
        json!([{"from": 0, "to": 0, "reason": "queue_full"}]),
    )
    .await;
    assert_eq!(app.gaps("s").await.len() as u64, MAX);
    app.stop().await;
}

#[tokio::test]
async fn reading_needs_a_valid_token_and_says_so() {
    let app = TestApp::spawn().await;
    let res = app.get_as(None, "/api/v1/sessions").await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_error(res, 401, "missing_credentials").await;
    let res = app
        .get_as(
            Some("at_not_a_real_token_0123456789abcdef"),
            "/api/v1/sessions",
        )
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    // A server key is not a reading credential.
    let res = app.get_as(Some(SERVER_KEY), "/api/v1/sessions").await;
    assert_error(res, 401, "invalid_credentials").await;
    let res = app.get_as(Some(ADMIN_TOKEN), "/api/v1/sessions").await;
    assert_eq!(res.status(), 200);
    // With a tenants file there is no demo tenant to hand out.
    assert_error(
        app.get_as(None, "/api/v1/demo/credentials").await,
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn one_tenant_never_sees_another_tenants_sessions_even_with_the_same_id() {
    let app = TestApp::spawn().await;
    app.post_batch(&batch("shared-id", "t", vec![click(0, 1, "acme-click")]))
        .await;
    let other = batch(
        "shared-id",
        "t",
        vec![click(0, 1, "other-click"), click(1, 2, "x")],
    );
    let res = app
        .post_batch_as(OTHER_SITE_KEY, "application/json", other.to_string())
        .await;
    assert_eq!(res.status(), 200);

    let acme = app.events("shared-id", "").await.events;
    assert_eq!(acme.len(), 1, "acme sees only its own event");
    let res = app
        .get_as(Some(OTHER_TOKEN), "/api/v1/sessions/shared-id/events")
        .await;
    let page: shared::api::EventsPage = res.json().await.unwrap();
    assert_eq!(page.events.len(), 2);
    assert!(serde_json::to_string(&page)
        .unwrap()
        .contains("other-click"));
    assert!(!serde_json::to_string(&page).unwrap().contains("acme-click"));

    // A session only the other tenant has is a 404 for acme, not a 403 that
    // would confirm it exists.
    let res = app
        .post_batch_as(
            OTHER_SITE_KEY,
            "application/json",
            batch("only-other", "t", vec![click(0, 1, "o")]).to_string(),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_error(
        app.get("/api/v1/sessions/only-other/events").await,
        404,
        "not_found",
    )
    .await;
    let listed: Vec<_> = app
        .sessions()
        .await
        .sessions
        .into_iter()
        .map(|s| s.session_id.to_string())
        .collect();
    assert_eq!(listed, ["shared-id"]);
    app.stop().await;
}

/// Listening beyond loopback, the demo tenant's tokens are not handed out,
/// not even to a request that looks local (a proxy on the same machine).
#[tokio::test]
async fn the_demo_tokens_are_not_offered_on_a_non_loopback_listen_address() {
    let data = tempfile::tempdir().unwrap();
    let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
    let mut settings = collector::config::Settings::for_test(data.path().to_owned(), www);
    settings.listen = "0.0.0.0:0".parse().unwrap();
    let app = collector::startup::Application::build(settings)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let res = reqwest::get(format!("{base}/api/v1/demo/credentials"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // The demo tenant itself still records (its file holds the tokens).
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/batches?site_key=pk_demo"))
        .header("origin", base.clone())
        .header("content-type", "text/plain")
        .body(batch("demo-wide", "t", vec![click(0, 1, "a")]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    handle.stop(true).await;
}

/// The data directory holds every tenant's trails: created private, and a
/// demo file other users could read or have written is refused.
#[cfg(unix)]
#[tokio::test]
async fn a_new_data_directory_is_private_and_an_open_demo_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
    let settings = collector::config::Settings::for_test(data.clone(), www);
    let app = collector::startup::Application::build(settings.clone())
        .await
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    drop(app);
    let file = data.join("demo-tenant.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = loop {
        match collector::startup::Application::build(settings.clone()).await {
            Err(e) if format!("{e:#}").contains("could not acquire lock") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => break format!("{e:#}"),
            Ok(_) => panic!("a demo file open to other users was used"),
        }
    };
    assert!(
        err.contains("demo-tenant.toml") && err.contains("chmod 600"),
        "{err}"
    );
}

#[tokio::test]
async fn without_a_tenants_file_a_private_demo_tenant_works_out_of_the_box() {
    let data = tempfile::tempdir().unwrap();
    let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
    let app = collector::startup::Application::build(collector::config::Settings::for_test(
        data.path().to_owned(),
        www,
    ))
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    let file = data.path().join("demo-tenant.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let creds: serde_json::Value = client
        .get(format!("{base}/api/v1/demo/credentials"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = creds["agent"]["token"].as_str().unwrap().to_owned();
    assert!(std::fs::read_to_string(&file).unwrap().contains(&token));
    // A page whose name was rebound to 127.0.0.1 (DNS rebinding), or a request
    // a proxy on this machine forwarded, is not given the tokens.
    for (name, value) in [
        ("host", "attacker.example"),
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
    ] {
        let res = client
            .get(format!("{base}/api/v1/demo/credentials"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{name}: {value}");
    }

    let res = client
        .post(format!("{base}/api/v1/batches?site_key=pk_demo"))
        .header("origin", base.clone())
        .header("content-type", "text/plain")
        .body(batch("demo-s", "t", vec![click(0, 1, "a")]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(format!("{base}/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let page: shared::api::SessionsPage = res.json().await.unwrap();
    assert_eq!(page.sessions[0].session_id.as_str(), "demo-s");
    handle.stop(true).await;
}

#[tokio::test]
async fn sessions_filter_by_agent_involvement_page_url_text_and_time() {
    let app = TestApp::spawn().await;
    let page = |seq: u64, url: &str, actor: serde_json::Value| {
        json!({"seq": seq, "ts": 1, "mono": seq, "actor": actor, "type": "PAGE-CHANGE",
               "data": {"url": url, "title": "t", "nav": "push"}})
    };
    app.post_batch(&batch(
        "with-agent",
        "t",
        vec![
            page(0, "https://shop.example/cart", json!({"kind": "customer"})),
            page(
                1,
                "https://shop.example/checkout",
                json!({"kind": "agent", "id": "a-1"}),
            ),
        ],
    ))
    .await;
    app.post_batch(&batch(
        "alone",
        "t",
        vec![page(
            0,
            "https://shop.example/Returns",
            json!({"kind": "customer"}),
        )],
    ))
    .await;
    let ids = |q: &'static str| {
        let app = &app;
        async move {
            let res = app.get(&format!("/api/v1/sessions?{q}")).await;
            assert_eq!(res.status(), 200, "{q}");
            let p: shared::api::SessionsPage = res.json().await.unwrap();
            let mut ids: Vec<String> = p
                .sessions
                .into_iter()
                .map(|s| s.session_id.to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(ids("agent=true").await, ["with-agent"]);
    assert_eq!(ids("agent=false").await, ["alone"]);
    assert_eq!(
        ids("q=returns").await,
        ["alone"],
        "case-insensitive URL text"
    );
    assert_eq!(
        ids("q=checkout").await,
        ["with-agent"],
        "any visited URL, not only the last"
    );
    assert_eq!(ids("q=alo").await, ["alone"], "session id text");
    assert_eq!(ids("from=1").await, ["alone", "with-agent"]);
    assert!(ids("to=1").await.is_empty(), "nothing was active in 1970");
    let s = app
        .sessions()
        .await
        .sessions
        .into_iter()
        .find(|s| s.session_id.as_str() == "with-agent")
        .unwrap();
    assert_eq!(s.page_changes, 2);
    assert_error(
        app.get("/api/v1/sessions?agent=maybe").await,
        400,
        "bad_query",
    )
    .await;
    // Endpoints without parameters refuse them instead of ignoring them.
    for path in [
        "/api/v1/sessions/with-agent/gaps?limit=10",
        "/api/v1/sessions/with-agent?fields=all",
        "/api/v1/sessions/with-agent/verify?from=3",
    ] {
        let msg = assert_error(app.get(path).await, 400, "bad_query").await;
        assert!(msg.contains("unknown field"), "{path}: {msg}");
    }
    app.stop().await;
}

#[tokio::test]
async fn me_names_the_tokens_tenant_user_and_role() {
    let app = TestApp::spawn().await;
    for (token, user, role) in [
        (AGENT_TOKEN, "ana", "agent"),
        (ADMIN_TOKEN, "root", "admin"),
    ] {
        let res = app.get_as(Some(token), "/api/v1/me").await;
        assert_eq!(res.status(), 200);
        let me: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            me,
            serde_json::json!({"tenant": "acme", "user": user, "role": role})
        );
    }
    let res = app.get_as(Some(OTHER_TOKEN), "/api/v1/me").await;
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (me["tenant"].as_str(), me["user"].as_str()),
        (Some("other"), Some("olga"))
    );
    assert_error(
        app.get_as(None, "/api/v1/me").await,
        401,
        "missing_credentials",
    )
    .await;
    assert_error(
        app.get_as(Some("at_not_a_token_0123456789abcdef0123456"), "/api/v1/me")
            .await,
        401,
        "invalid_credentials",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_session_summary_spans_the_events_client_times_however_late_they_arrive() {
    let app = TestApp::spawn().await;
    // Two minutes of clicking, delivered at once (the collector was down).
    let events = vec![click(1, 1_000_060_000, "a"), click(2, 1_000_120_000, "b")];
    assert_eq!(
        app.post_batch(&batch("sess-span", "t", events))
            .await
            .status(),
        200
    );
    // The first event comes last (re-sent after a reload).
    let first = vec![click(0, 1_000_000_000, "z")];
    assert_eq!(
        app.post_batch(&batch("sess-span", "t", first))
            .await
            .status(),
        200
    );
    let res = app.get("/api/v1/sessions/sess-span").await;
    assert_eq!(res.status(), 200);
    let s: shared::api::SessionSummary = res.json().await.unwrap();
    assert_eq!(
        (s.first_event_ts, s.last_event_ts),
        (Some(1_000_000_000), Some(1_000_120_000))
    );
    // Collector time only spans the two deliveries, a moment apart.
    assert!(s.last_seen - s.first_seen < 60_000, "{s:?}");
    app.stop().await;
}

/// The recorder sends a custom value with its keys in the order the page built
/// them; the collector stores it canonical (keys sorted at every level), so
/// the same value reads back, and chains, the same whatever that order was.
#[tokio::test]
async fn custom_values_are_stored_with_sorted_keys_whatever_order_they_came_in() {
    let app = TestApp::spawn().await;
    let event = |seq: u64, value: &str| {
        format!(
            r#"{{"seq":{seq},"ts":1,"mono":{seq},"actor":{{"kind":"customer"}},"type":"CUSTOM_EVENT","data":{{"type":"cart","value":{value}}}}}"#
        )
    };
    let body = format!(
        r#"{{"v":1,"session_id":"s","tab_id":"t","events":[{},{}]}}"#,
        event(0, r#"{"z":{"y":1,"b":[{"d":0,"c":0}]},"a":2}"#),
        event(1, r#"{"a":2,"z":{"b":[{"c":0,"d":0}],"y":1}}"#),
    );
    let res = app.post_batch_raw("text/plain", body).await;
    assert_eq!(res.status(), 200);
    let text = app
        .get("/api/v1/sessions/s/events")
        .await
        .text()
        .await
        .unwrap();
    let canonical = r#""value":{"a":2,"z":{"b":[{"c":0,"d":0}],"y":1}}"#;
    assert_eq!(text.matches(canonical).count(), 2, "{text}");
    app.stop().await;
}

/// Numbers in a custom value read back as the page sent them, on every read
/// (events, export, CSV), not one digit off: what is served is what the chain
/// hashed.
#[tokio::test]
async fn decimal_numbers_in_custom_values_read_back_exactly() {
    let app = TestApp::spawn().await;
    let numbers = "[985.6906946328695,1.0715660391465826e-75,0.1,123456.789]";
    let body = format!(
        r#"{{"v":1,"session_id":"s","tab_id":"t","events":[{{"seq":0,"ts":1,"mono":0,"actor":{{"kind":"customer"}},"type":"CUSTOM_EVENT","data":{{"type":"totals","value":{numbers}}}}}]}}"#
    );
    let res = app.post_batch_raw("text/plain", body).await;
    assert_eq!(res.status(), 200);
    for path in [
        "/api/v1/sessions/s/events",
        "/api/v1/sessions/s/export",
        "/api/v1/sessions/s/export?format=csv",
    ] {
        let text = app.get(path).await.text().await.unwrap();
        let shown = if path.ends_with("csv") {
            numbers.replace('"', "\"\"")
        } else {
            numbers.to_owned()
        };
        assert!(text.contains(&shown), "{path}: {text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_method_an_api_endpoint_does_not_serve_is_a_json_405_naming_those_it_does() {
    let app = TestApp::spawn().await;
    for (method, path, allow) in [
        ("GET", "/api/v1/batches?site_key=x", "POST"),
        ("POST", "/api/v1/sessions/s", "GET, DELETE"),
        ("PUT", "/api/v1/sessions", "GET"),
        ("POST", "/api/v1/sessions/s/events", "GET"),
        ("DELETE", "/api/v1/audit", "GET"),
        ("GET", "/api/v1/platform/records", "POST"),
    ] {
        let res = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let allowed = res
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
        let msg = assert_error(res, 405, "method_not_allowed").await;
        assert!(msg.contains(method) && msg.contains(allow), "{msg}");
    }
    app.stop().await;
}
