//! Delivery: what a person did reaches the trail exactly once, in order, through
//! a collector outage, a reload and a departure to another site; and a stopped
//! or doubly-loaded recorder records nothing more and nothing twice.

use std::time::{Duration, Instant};

use cotrail_e2e::*;
use shared::api::EventRecord;
use shared::EventData;
use thirtyfour::prelude::*;

/// How long a recorder in backoff may take to retry once the collector is back:
/// the schedule is capped at 60 s (`recorder/src/retry.rs`), plus slack.
const AFTER_BACKOFF: Duration = Duration::from_secs(75);

async fn click(b: &Browser, id: &str) -> WebDriverResult<()> {
    let el = b.driver.find(By::Id(id)).await?;
    el.scroll_into_view().await?;
    el.click().await
}

async fn type_into(b: &Browser, id: &str, text: &str) -> WebDriverResult<()> {
    b.driver.find(By::Id(id)).await?.send_keys(text).await
}

fn page_changes(events: &[EventRecord]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.event.data, EventData::PageChange(_)))
        .count()
}

/// Within each tab, events arrived in sequence order: a later seq was never
/// received before an earlier one.
fn assert_received_in_seq_order(events: &[EventRecord]) {
    let mut sorted: Vec<&EventRecord> = events.iter().collect();
    sorted.sort_by_key(|e| (e.tab_id.as_str().to_owned(), e.event.seq));
    for w in sorted.windows(2) {
        if w[0].tab_id == w[1].tab_id {
            assert!(
                w[0].received_at <= w[1].received_at,
                "seq {} arrived after seq {}:\n{}",
                w[0].event.seq,
                w[1].event.seq,
                describe(events)
            );
        }
    }
}

/// The user keeps clicking and typing on the help page through a 30-second
/// outage; once the collector is back every event is there once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_recorded_while_the_collector_is_down_arrive_once_and_in_order_after_it_returns(
) -> anyhow::Result<()> {
    let mut collector = Collector::spawn().await;
    let b = Browser::start().await?;
    // Served by the collector: the recorder posts to the collector's fixed port,
    // which the restarted collector listens on again.
    b.driver
        .goto(format!("{}/support.html", collector.base))
        .await?;
    b.wait_for_recorder().await?;
    let session: String = b.eval("return cotrail.sessionId()").await?;
    // Counts the recorder's requests, to know it really met the outage.
    b.driver
        .execute(
            COUNT_BATCH_POSTS
                .trim_start_matches("<script>")
                .trim_end_matches("</script>"),
            vec![],
        )
        .await?;

    click(&b, "request-callback").await?;
    collector
        .wait_for_events(&session, "the click before the outage", |ev| {
            clicks_on(ev, "request-callback").len() == 1
        })
        .await;

    collector.stop_keep_data().await;
    let outage = Instant::now();
    let mut clicks = 1;
    let mut typed = String::new();
    let words = [
        "my", "parcel", "never", "came", "order", "A-1042", "please", "help",
    ];
    let mut i = 0;
    while outage.elapsed() < Duration::from_secs(30) {
        click(&b, "request-callback").await?;
        clicks += 1;
        let word = format!(
            "{}{}",
            if typed.is_empty() { "" } else { " " },
            words[i % words.len()]
        );
        type_into(&b, "message", &word).await?;
        typed.push_str(&word);
        i += 1;
        // The person's pace, not synchronisation: a few actions per batch window.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    b.wait_for_js(
        "a refused delivery attempt during the outage",
        "return window.__failed > 0",
    )
    .await?;
    // Blur the field so its last value is recorded before the collector returns.
    click(&b, "name").await?;

    collector.restart().await;
    let events = collector
        .wait_for_events_within(
            &session,
            "every click and the typed message after the restart",
            AFTER_BACKOFF,
            |ev| {
                clicks_on(ev, "request-callback").len() >= clicks
                    && last_input_value(ev, "message").as_deref() == Some(typed.as_str())
            },
        )
        .await;

    assert_eq!(
        clicks_on(&events, "request-callback").len(),
        clicks,
        "each click once:\n{}",
        describe(&events)
    );
    let callbacks = events
        .iter()
        .filter(|e| matches!(&e.event.data, EventData::Custom(c) if c.custom_type == "callback_requested"))
        .count();
    assert_eq!(callbacks, clicks, "each page-recorded custom event once");
    assert_eq!(page_changes(&events), 1, "one page load");
    assert_contiguous_per_tab(&events);
    assert_received_in_seq_order(&events);
    let summary = collector.session_summary_json(&session).await;
    assert_eq!(summary["event_count"].as_u64(), Some(events.len() as u64));
    collector.assert_no_gaps_reported(&session).await;

    b.quit().await;
    collector.stop().await;
    Ok(())
}

/// The user types a coupon code and at once follows a link to a partner site:
/// the typing and the click still reach the trail, carried by the page's
/// last-chance (keepalive) delivery. The flush interval is a minute, so nothing
/// is sent before the page goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_interaction_before_leaving_for_another_site_still_arrives() -> anyhow::Result<()>
{
    const CODE: &str = "SPRING-24-LEAVE";
    let collector = Collector::spawn().await;
    let partner = StaticSite::serve(vec![(
        "/",
        "<!doctype html><title>Partner</title><h1 id=partner-home>Partner site</h1>".into(),
    )])
    .await;
    let shop = StaticSite::serve(vec![(
        "/",
        format!(
            r#"<!doctype html><html><head><title>Shop</title>
<script src="/recorder.js" data-site-key="pk_demo" data-session-id="leave-1"
        data-collector="{collector}" data-flush-ms="60000"></script></head>
<body><label for="coupon">Coupon</label> <input id="coupon" name="coupon">
<a id="partner-link" href="http://localhost:{partner}/">Our partner</a></body></html>"#,
            collector = collector.base,
            partner = partner.port
        ),
    )])
    .await;

    let b = Browser::start().await?;
    b.driver.goto(format!("{}/", shop.base)).await?;
    b.wait_for_recorder().await?;
    type_into(&b, "coupon", CODE).await?;
    click(&b, "partner-link").await?;
    b.wait_for_js(
        "the partner site",
        &format!("return location.port === '{}'", partner.port),
    )
    .await?;

    let events = collector
        .wait_for_events("leave-1", "the coupon INPUT and the link CLICK", |ev| {
            last_input_value(ev, "coupon").as_deref() == Some(CODE)
                && !clicks_on(ev, "partner-link").is_empty()
        })
        .await;
    assert_eq!(
        clicks_on(&events, "partner-link").len(),
        1,
        "{}",
        describe(&events)
    );
    assert_eq!(page_changes(&events), 1);
    assert_contiguous_per_tab(&events);

    b.quit().await;
    shop.stop().await;
    partner.stop().await;
    collector.stop().await;
    Ok(())
}

/// Events still unacknowledged (the collector is down) when the tab reloads are
/// not lost: the reloaded page sends them once the collector is back, once each,
/// and the tab's sequence continues without a gap. The page and the recorder
/// bundle come from a separate static site, so the reload works during the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_unacknowledged_when_the_tab_reloads_arrive_once_after_the_collector_returns(
) -> anyhow::Result<()> {
    let mut collector = Collector::spawn().await;
    let site = StaticSite::serve(vec![(
        "/shop.html",
        format!(
            r#"<!doctype html><html><head><title>Shop</title>{COUNT_BATCH_POSTS}
<script src="/recorder.js" data-site-key="pk_demo" data-collector="{collector}" data-flush-ms="300"></script></head>
<body><button id="b1">One</button> <button id="b2">Two</button> <button id="b3">Three</button>
<button id="b4">Four</button> <label for="note">Note</label> <input id="note" name="note"></body></html>"#,
            collector = collector.base
        ),
    )])
    .await;

    let b = Browser::start().await?;
    b.driver.goto(format!("{}/shop.html", site.base)).await?;
    b.wait_for_recorder().await?;
    let session: String = b.eval("return cotrail.sessionId()").await?;
    let tab: String = b.eval("return cotrail.tabId()").await?;
    click(&b, "b1").await?;
    collector
        .wait_for_events(&session, "the first click", |ev| {
            clicks_on(ev, "b1").len() == 1
        })
        .await;

    collector.stop_keep_data().await;
    click(&b, "b2").await?;
    type_into(&b, "note", "before reload").await?;
    click(&b, "b3").await?;
    b.wait_for_js(
        "a refused delivery attempt before the reload",
        "return window.__failed > 0",
    )
    .await?;
    b.driver.refresh().await?;
    b.wait_for_recorder().await?;
    assert_eq!(
        b.eval::<String>("return cotrail.sessionId()").await?,
        session
    );
    assert_eq!(
        b.eval::<String>("return cotrail.tabId()").await?,
        tab,
        "a reload keeps the tab"
    );
    click(&b, "b4").await?;
    b.wait_for_js(
        "a refused delivery attempt after the reload",
        "return window.__failed > 0",
    )
    .await?;

    collector.restart().await;
    let events = collector
        .wait_for_events_within(
            &session,
            "every click, the note and both page loads",
            AFTER_BACKOFF,
            |ev| {
                ["b1", "b2", "b3", "b4"]
                    .iter()
                    .all(|id| !clicks_on(ev, id).is_empty())
                    && last_input_value(ev, "note").as_deref() == Some("before reload")
                    && page_changes(ev) >= 2
            },
        )
        .await;
    for id in ["b1", "b2", "b3", "b4"] {
        assert_eq!(
            clicks_on(&events, id).len(),
            1,
            "{id} once:\n{}",
            describe(&events)
        );
    }
    assert_eq!(
        page_changes(&events),
        2,
        "the load and the reload:\n{}",
        describe(&events)
    );
    assert!(events.iter().all(|e| e.tab_id.as_str() == tab));
    assert_contiguous_per_tab(&events);
    collector.assert_no_gaps_reported(&session).await;

    b.quit().await;
    site.stop().await;
    collector.stop().await;
    Ok(())
}

/// A page that loads the recorder twice (two tags) records each event once
/// (the wasm's own `start` called twice is a browser test, recorder/tests/web.rs:
/// the page cannot reach it, the glue is inside the loader); after
/// `cotrail.stop()` clicks, typing, `recordCustom` and `flush()` record and
/// send nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_records_nothing_twice_and_stop_records_nothing_more() -> anyhow::Result<()>
{
    let collector = Collector::spawn().await;
    let tag = format!(
        r#"<script src="/recorder.js" data-site-key="pk_demo" data-session-id="lifecycle-1"
        data-collector="{}" data-flush-ms="200"></script>"#,
        collector.base
    );
    let site = StaticSite::serve(vec![(
        "/",
        format!(
            r#"<!doctype html><html><head><title>Twice</title>{COUNT_BATCH_POSTS}
{tag}
{tag}
</head>
<body><button id="once">Once</button> <button id="after-stop">After stop</button>
<label for="field">Field</label> <input id="field" name="field"></body></html>"#
        ),
    )])
    .await;

    let b = Browser::start().await?;
    b.driver.goto(format!("{}/", site.base)).await?;
    b.wait_for_recorder().await?;

    click(&b, "once").await?;
    b.driver
        .execute("recordCustom('barrier', {n: 1})", vec![])
        .await?;
    let events = collector
        .wait_for_events("lifecycle-1", "the click and the barrier", |ev| {
            !clicks_on(ev, "once").is_empty()
                && ev.iter().any(
                    |e| matches!(&e.event.data, EventData::Custom(c) if c.custom_type == "barrier"),
                )
        })
        .await;
    assert_eq!(clicks_on(&events, "once").len(), 1, "{}", describe(&events));
    assert_eq!(page_changes(&events), 1, "{}", describe(&events));
    let customs = events
        .iter()
        .filter(|e| matches!(e.event.data, EventData::Custom(_)))
        .count();
    assert_eq!(customs, 1, "{}", describe(&events));
    assert_contiguous_per_tab(&events);
    let before = events.len();

    b.driver.execute("cotrail.stop()", vec![]).await?;
    let posts_at_stop: u64 = b.eval("return window.__posts").await?;
    // Events are saved the moment they are queued: the saved ones, at stop.
    let saved = "return Object.keys(localStorage).filter(function (k) { \
                 return k.indexOf('cotrail|e|') === 0; }).sort().join(' ')";
    let saved_at_stop: String = b.eval(saved).await?;
    click(&b, "after-stop").await?;
    type_into(&b, "field", "typed after stop").await?;
    click(&b, "once").await?;
    b.driver
        .execute(
            "recordCustom('after-stop', {}); window.scrollTo(0, 50); cotrail.flush();",
            vec![],
        )
        .await?;
    // Nothing was queued: no event saved, no counter moved.
    assert_eq!(
        b.eval::<String>(saved).await?,
        saved_at_stop,
        "saved after stop()"
    );
    assert_eq!(
        b.eval::<String>("return String(cotrail.stats())").await?,
        "undefined",
        "stats() after stop()"
    );
    // And on the wire: watch for ten flush intervals that nothing arrives.
    let watch = Instant::now() + Duration::from_secs(2);
    while Instant::now() < watch {
        let now = collector.all_events("lifecycle-1").await;
        assert_eq!(
            now.len(),
            before,
            "recorded after stop():\n{}",
            describe(&now)
        );
        let posts: u64 = b.eval("return window.__posts").await?;
        assert_eq!(posts, posts_at_stop, "a batch was posted after stop()");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    b.quit().await;
    site.stop().await;
    collector.stop().await;
    Ok(())
}

/// Back to a page the browser kept in its back/forward cache: the page the
/// person saw in between went on with the tab's sequence, and the returning
/// page continues after it instead of reusing its numbers (which the
/// collector would drop as repeats), and records the return as back/forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_back_from_the_back_forward_cache_continues_the_tabs_sequence() -> anyhow::Result<()>
{
    let collector = Collector::spawn().await;
    let page = |title: &str, body: &str| {
        format!(
            r#"<!doctype html><html><head><title>{title}</title>
<script>addEventListener('pageshow', (e) => {{ if (e.persisted) window.__fromCache = true; }});</script>
<script src="/recorder.js" data-site-key="pk_demo" data-session-id="bfcache-1"
        data-collector="{collector}" data-flush-ms="200"></script></head>
<body>{body}</body></html>"#,
            collector = collector.base
        )
    };
    // Cacheable pages: `no-store` ones never enter the back/forward cache.
    let site = StaticSite::serve_cacheable(vec![
        (
            "/shop",
            page(
                "Shop",
                r#"<button id="before">Before</button> <a id="to-help" href="/help">Help</a>
                   <button id="after">After</button>"#,
            ),
        ),
        ("/help", page("Help", r#"<button id="help">Ask</button>"#)),
    ])
    .await;
    let b = Browser::start().await?;
    b.driver.goto(format!("{}/shop", site.base)).await?;
    b.wait_for_recorder().await?;
    click(&b, "before").await?;
    collector
        .wait_for_events("bfcache-1", "the click on the shop", |ev| {
            !clicks_on(ev, "before").is_empty()
        })
        .await;
    click(&b, "to-help").await?;
    b.wait_for_js("the help page", "return location.pathname === '/help'")
        .await?;
    b.wait_for_recorder().await?;
    click(&b, "help").await?;
    collector
        .wait_for_events("bfcache-1", "the click on the help page", |ev| {
            !clicks_on(ev, "help").is_empty()
        })
        .await;
    b.driver.back().await?;
    b.wait_for_js("back on the shop", "return location.pathname === '/shop'")
        .await?;
    let from_cache: bool = b.eval("return window.__fromCache === true").await?;
    assert!(
        from_cache,
        "the shop must come back from the back/forward cache for this test to mean anything"
    );
    click(&b, "after").await?;
    let events = collector
        .wait_for_events("bfcache-1", "the click after coming back", |ev| {
            !clicks_on(ev, "after").is_empty()
        })
        .await;
    assert_contiguous_per_tab(&events);
    let tabs: std::collections::BTreeSet<&str> = events.iter().map(|e| e.tab_id.as_str()).collect();
    assert_eq!(tabs.len(), 1, "one tab: {}", describe(&events));
    let navs: Vec<(String, shared::Navigation)> = events
        .iter()
        .filter_map(|e| match &e.event.data {
            EventData::PageChange(p) => Some((p.url.rsplit('/').next()?.to_owned(), p.nav)),
            _ => None,
        })
        .collect();
    assert_eq!(
        navs,
        [
            ("shop".to_owned(), shared::Navigation::Load),
            ("help".to_owned(), shared::Navigation::Load),
            ("shop".to_owned(), shared::Navigation::Pop),
        ],
        "{}",
        describe(&events)
    );
    b.quit().await;
    site.stop().await;
    collector.stop().await;
    Ok(())
}
