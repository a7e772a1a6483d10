//! The review app as agents and admins use it: sign in, find the demo session,
//! read its trail (rows, badges, filters, timeline, export), follow it live,
//! read a hostile trail without running any of it, read the activity log, and
//! page through a 50,000-event session. Every screen is saved as a PNG under
//! `<target>/e2e-artifacts/review/` for a person to look at.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cotrail_e2e::*;
use serde_json::{json, Value};
use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

/// `<target>/e2e-artifacts/review`: the test binary is `<target>/debug/deps/e2e-…`.
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(|p| p.to_owned())
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("e2e-artifacts").join("review");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// Saves the whole page (up to 2,400 px tall) at `width` as `<name>.png`.
async fn screenshot(b: &Browser, name: &str, width: u32) -> anyhow::Result<()> {
    b.driver.set_window_rect(0, 0, width, 900).await?;
    let height: u32 = b
        .eval("return Math.min(2400, Math.max(900, document.documentElement.scrollHeight))")
        .await?;
    b.driver.set_window_rect(0, 0, width, height).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let path = artifacts().join(format!("{name}.png"));
    b.driver.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    b.driver.set_window_rect(0, 0, 1280, 900).await?;
    Ok(())
}

/// The demo tenant's admin token and server key (the harness holds the agent's).
fn demo_secrets(c: &Collector) -> (String, String) {
    let demo = collector::tenants::Tenants::demo(c.data_dir.path()).expect("demo tenant file");
    let t = demo.demo_tenant().expect("demo tenant");
    let admin = t
        .users
        .iter()
        .find(|u| u.role == collector::tenants::Role::Admin)
        .expect("a demo admin")
        .token
        .clone();
    (admin, t.server_keys[0].clone())
}

async fn click(b: &Browser, id: &str) -> WebDriverResult<()> {
    let el = b.driver.find(By::Id(id)).await?;
    el.scroll_into_view().await?;
    el.click().await
}

async fn select(b: &Browser, id: &str, value: &str) -> WebDriverResult<()> {
    let el = b.driver.find(By::Id(id)).await?;
    SelectElement::new(&el).await?.select_by_value(value).await
}

async fn text_of(b: &Browser, css: &str) -> WebDriverResult<String> {
    b.driver.find(By::Css(css)).await?.text().await
}

/// Opens the review app and signs in with the demo button for `role`.
async fn sign_in_with_demo_button(b: &Browser, base: &str, role: &str) -> anyhow::Result<()> {
    b.driver.goto(format!("{base}/review/")).await?;
    b.wait_for_js(
        "the demo token buttons",
        "return !document.getElementById('demo-box').hidden",
    )
    .await?;
    click(b, &format!("demo-{role}")).await?;
    b.wait_for_js(
        "signed in",
        "return document.getElementById('signin-view').hidden && !document.getElementById('who').hidden",
    )
    .await?;
    Ok(())
}

/// Waits until the trail table has loaded and shows rows (or `empty`).
async fn wait_for_trail(b: &Browser, what: &str) -> anyhow::Result<()> {
    b.wait_for_js(
        what,
        "return document.getElementById('trail').dataset.loaded !== undefined \
         && document.getElementById('trail-status').textContent !== 'Loading…'",
    )
    .await
}

fn ingest_url(c: &Collector) -> String {
    format!("{}/api/v1/batches?site_key=pk_demo", c.base)
}

async fn post_batch(c: &Collector, batch: &Value) {
    let res = reqwest::Client::new()
        .post(ingest_url(c))
        .json(batch)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert!(
        status.is_success(),
        "ingest: {status} {}",
        res.text().await.unwrap()
    );
}

async fn post_records(c: &Collector, server_key: &str, records: &Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/platform/records", c.base))
        .bearer_auth(server_key)
        .json(records)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert!(
        status.is_success(),
        "records: {status} {}",
        res.text().await.unwrap()
    );
}

fn element(id: &str) -> Value {
    json!({"id": id, "tag": "button", "path": format!("main > button#{id}")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_app_signs_in_finds_the_demo_session_and_reads_its_trail() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    let b = Browser::start().await?;

    // A customer on the demo shop; one click made by agent-7 through the
    // co-browsing API; a password typed on the help page.
    b.driver.goto(format!("{base}/")).await?;
    b.wait_for_recorder().await?;
    let session: String = b.eval("return cotrail.sessionId()").await?;
    click(&b, "nav-products").await?;
    b.wait_for_js("products", "return document.title.startsWith('Products')")
        .await?;
    click(&b, "add-to-cart").await?;
    b.driver
        .execute(
            "cotrail.asAgent('agent-7', () => document.getElementById('nav-cart').click())",
            vec![],
        )
        .await?;
    b.wait_for_js("cart", "return document.title.startsWith('Cart')")
        .await?;
    click(&b, "nav-support").await?;
    b.wait_for_js(
        "support page",
        "return location.pathname === '/support.html'",
    )
    .await?;
    b.wait_for_recorder().await?;
    b.driver
        .find(By::Id("name"))
        .await?
        .send_keys("Ana Souza")
        .await?;
    b.driver
        .find(By::Id("password"))
        .await?
        .send_keys("hunter2-S3cret!")
        .await?;
    click(&b, "submit-btn").await?;
    b.eval::<Value>("cotrail.flush(); return null").await?;
    collector
        .wait_for_events(
            &session,
            "the demo clicks, the agent's and the password",
            |ev| {
                clicks_on(ev, "add-to-cart").len() == 1
                    && clicks_on(ev, "nav-cart")
                        .iter()
                        .any(|e| e.event.actor.kind() == "agent")
                    && !inputs_on(ev, "password").is_empty()
                    && !inputs_on(ev, "name").is_empty()
            },
        )
        .await;

    // The review app, opened from the demo page's link: sign-in comes first.
    click(&b, "review-link").await?;
    b.wait_for_js(
        "the sign-in screen",
        "return !document.getElementById('signin-view').hidden",
    )
    .await?;
    // A wrong token says so.
    b.driver
        .find(By::Id("token-input"))
        .await?
        .send_keys("not-a-real-token")
        .await?;
    click(&b, "signin-submit").await?;
    b.wait_for_js(
        "the wrong-token message",
        "return !document.getElementById('signin-message').hidden",
    )
    .await?;
    let msg = text_of(&b, "#signin-message").await?;
    assert!(msg.contains("not accepted"), "{msg}");
    b.wait_for_js(
        "the demo box",
        "return !document.getElementById('demo-box').hidden",
    )
    .await?;
    screenshot(&b, "01-sign-in-wrong-token", 1280).await?;

    // A token left in localStorage by an older version moves to sessionStorage.
    b.driver
        .execute(
            "localStorage.setItem('cotrail.review.token', arguments[0]); location.reload()",
            vec![json!(collector.token)],
        )
        .await?;
    b.wait_for_js(
        "signed in from the migrated token",
        "return document.body.dataset.view === 'sessions'",
    )
    .await?;
    let (local, session_stored): (Option<String>, Option<String>) = (
        b.eval("return localStorage.getItem('cotrail.review.token')")
            .await?,
        b.eval("return sessionStorage.getItem('cotrail.review.token')")
            .await?,
    );
    assert_eq!(local, None, "the token left localStorage");
    assert_eq!(session_stored.as_deref(), Some(collector.token.as_str()));
    // Sign out forgets it; the demo button signs in again.
    click(&b, "sign-out").await?;
    b.wait_for_js(
        "signed out",
        "return !document.getElementById('signin-view').hidden",
    )
    .await?;
    let after: Option<String> = b
        .eval("return sessionStorage.getItem('cotrail.review.token')")
        .await?;
    assert_eq!(after, None, "sign-out clears the token");
    sign_in_with_demo_button(&b, &base, "agent").await?;

    // Sessions: ours, live, with an agent, counted.
    let row = format!("#sessions tr[data-session-id='{session}']");
    b.wait_for_js(
        "our session in the list",
        &format!("return !!document.querySelector(\"{row}\")"),
    )
    .await?;
    let live: bool = b
        .eval(&format!(
            "return document.querySelector(\"{row}\").dataset.live === '1'"
        ))
        .await?;
    assert!(live, "a session receiving events is marked live");
    let row_text = text_of(&b, &row).await?;
    assert!(
        row_text.contains("agent") && row_text.contains("customer"),
        "{row_text}"
    );
    assert!(row_text.contains("127.0.0.1"), "origin IP: {row_text}");
    assert!(row_text.contains("Chrome"), "origin browser: {row_text}");
    screenshot(&b, "02-sessions", 1280).await?;

    // Filters: agent involvement and text in a visited URL.
    let listed = |present: bool| {
        format!(
            "return document.getElementById('sessions-status').textContent !== 'Loading…' && \
             {}!!document.querySelector(\"{row}\")",
            if present { "" } else { "!" }
        )
    };
    select(&b, "sessions-agent", "false").await?;
    b.wait_for_js("customer-only sessions hide ours", &listed(false))
        .await?;
    select(&b, "sessions-agent", "true").await?;
    b.wait_for_js("agent sessions show ours", &listed(true))
        .await?;
    b.driver
        .find(By::Id("sessions-q"))
        .await?
        .send_keys("no-such-page-anywhere")
        .await?;
    b.wait_for_js("a search without match", &listed(false))
        .await?;
    let empty = text_of(&b, "#sessions-empty").await?;
    assert!(empty.contains("No session matches"), "{empty}");
    let q = b.driver.find(By::Id("sessions-q")).await?;
    q.clear().await?;
    q.send_keys("support.html").await?;
    b.wait_for_js("a search by visited URL", &listed(true))
        .await?;

    // The trail.
    b.driver
        .find(By::Css(format!("{row} .sid a")))
        .await?
        .click()
        .await?;
    wait_for_trail(&b, "the trail").await?;
    b.wait_for_js(
        "the integrity badge",
        "return document.getElementById('integrity').dataset.valid === 'true'",
    )
    .await?;
    let integrity = text_of(&b, "#integrity").await?;
    assert!(integrity.contains("Integrity verified"), "{integrity}");
    let table = text_of(&b, "#trail").await?;
    assert!(
        table.contains("#add-to-cart"),
        "the clicked element: {table}"
    );
    assert!(table.contains("Ana Souza"), "typed text");
    assert!(
        table.contains("masked (password)"),
        "the password shows as masked"
    );
    assert!(!table.contains("hunter2"), "the password is nowhere");
    let agent_badge = text_of(&b, "#trail tr[data-actor='agent'] .actor-agent").await?;
    assert!(agent_badge.contains("agent-7"), "{agent_badge}");
    for kind in ["customer", "agent"] {
        let n: u64 = b
            .eval(&format!(
                "return document.querySelectorAll('#trail .actor-{kind}').length"
            ))
            .await?;
        assert!(n > 0, "a {kind} badge");
    }
    // Oldest first by default: the first row is the page load.
    let first_type = text_of(&b, "#trail tbody tr[data-key] td:nth-child(2)").await?;
    assert_eq!(first_type, "PAGE-CHANGE");
    b.wait_for_js(
        "the timeline",
        "return document.querySelectorAll('#timeline .mark').length > 0 \
         && document.querySelectorAll('#timeline .divider').length >= 2 \
         && document.querySelectorAll('#timeline .mark.has-agent').length >= 1",
    )
    .await?;
    screenshot(&b, "03-trail", 1280).await?;

    // Clicking the last timeline mark shows that event in the table.
    b.driver
        .execute(
            "const m = document.querySelectorAll('#timeline .mark'); m[m.length - 1].click()",
            vec![],
        )
        .await?;
    b.wait_for_js(
        "the picked row",
        "return !!document.querySelector('#trail tr.picked')",
    )
    .await?;

    // Filters by type and actor, and newest first.
    select(&b, "filter-type", "CLICK").await?;
    b.wait_for_js(
        "only clicks",
        "const r = [...document.querySelectorAll('#trail tbody tr[data-key]')]; \
         return r.length > 0 && r.every(x => x.dataset.type === 'CLICK')",
    )
    .await?;
    select(&b, "filter-actor", "agent").await?;
    b.wait_for_js(
        "only the agent's clicks",
        "const r = [...document.querySelectorAll('#trail tbody tr[data-key]')]; \
         return r.length === 1 && r[0].dataset.actor === 'agent'",
    )
    .await?;
    assert!(text_of(&b, "#trail tbody").await?.contains("#nav-cart"));
    select(&b, "filter-actor", "").await?;
    select(&b, "filter-type", "").await?;
    select(&b, "order", "desc").await?;
    b.wait_for_js(
        "newest first",
        "const r = [...document.querySelectorAll('#trail tbody tr[data-key]')].map(x => +x.dataset.ts); \
         return location.hash.includes('order=desc') && r.length > 3 && r.every((t, i) => i === 0 || r[i - 1] >= t)",
    )
    .await?;

    // Export: fetched with the token and handed to the browser as a Blob.
    b.driver
        .execute(
            "window.__exports = []; const real = URL.createObjectURL; \
             URL.createObjectURL = (blob) => { blob.text().then(t => window.__exports.push(t)); return real(blob); };",
            vec![],
        )
        .await?;
    click(&b, "export-csv").await?;
    b.wait_for_js("the CSV export", "return window.__exports.length === 1")
        .await?;
    click(&b, "export-ndjson").await?;
    b.wait_for_js("the NDJSON export", "return window.__exports.length === 2")
        .await?;
    let exports: Vec<String> = b.eval("return window.__exports").await?;
    assert!(
        exports[0].starts_with("when,type,actor"),
        "CSV header: {}",
        &exports[0][..80.min(exports[0].len())]
    );
    assert!(exports[0].contains("add-to-cart"));
    assert!(exports[1].lines().next().unwrap().contains(&session));
    assert!(exports[1].lines().last().unwrap().contains("chain_head"));
    let status = text_of(&b, "#export-status").await?;
    assert!(status.contains(".ndjson"), "{status}");

    // A narrow window: the same screens as cards.
    b.driver
        .goto(format!("{base}/review/#/sessions/{session}"))
        .await?;
    wait_for_trail(&b, "the trail again").await?;
    screenshot(&b, "04-trail-narrow", 420).await?;

    b.quit().await;
    collector.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_session_live_appends_rows_as_the_customer_clicks() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    let b = Browser::start().await?;

    // The customer's tab.
    b.driver.goto(format!("{base}/?view=products")).await?;
    b.wait_for_recorder().await?;
    let session: String = b.eval("return cotrail.sessionId()").await?;
    for _ in 0..12 {
        click(&b, "add-to-cart").await?;
    }
    b.eval::<Value>("cotrail.flush(); return null").await?;
    collector
        .wait_for_events(&session, "the first clicks", |ev| {
            clicks_on(ev, "add-to-cart").len() == 12
        })
        .await;
    let shop = b.driver.window().await?;

    // The agent's tab: the trail, following live, oldest first.
    let review = b.driver.new_tab().await?;
    b.driver.switch_to_window(review.clone()).await?;
    sign_in_with_demo_button(&b, &base, "agent").await?;
    b.driver
        .goto(format!("{base}/review/#/sessions/{session}"))
        .await?;
    wait_for_trail(&b, "the trail").await?;
    let loaded: String = b
        .eval("return document.getElementById('trail').dataset.loaded")
        .await?;
    // The integrity badge names how many records it checked.
    b.wait_for_js(
        "the integrity badge",
        "return document.getElementById('integrity').dataset.valid === 'true'",
    )
    .await?;
    let checked: String = b
        .eval("return document.getElementById('integrity').dataset.length")
        .await?;
    let checked: u64 = checked.parse()?;
    let stored = collector.all_events(&session).await.len() as u64;
    assert!(
        (13..=stored).contains(&checked),
        "the check covered the trail as it was: {checked} of {stored}"
    );
    let badge = format!("✔ Integrity verified at {checked} records");
    assert_eq!(text_of(&b, "#integrity").await?, badge);
    click(&b, "follow").await?;
    b.wait_for_js(
        "the live stream",
        "return document.getElementById('follow-state').dataset.state === 'open'",
    )
    .await?;
    let rows = "document.querySelectorAll('#trail tbody tr[data-key]').length";
    let before: u64 = b.eval(&format!("return {rows}")).await?;

    // The reader is at the top: rows are added below without moving them.
    b.eval::<Value>("window.scrollTo(0, 0); return null")
        .await?;
    let top_before: f64 = b
        .eval("return document.querySelector('#trail tbody tr').getBoundingClientRect().top")
        .await?;

    let clicks = |n: usize| {
        let b = &b;
        let shop = shop.clone();
        let review = review.clone();
        async move {
            b.driver.switch_to_window(shop).await?;
            for _ in 0..n {
                click(b, "add-to-cart").await?;
            }
            b.eval::<Value>("cotrail.flush(); return null").await?;
            b.driver.switch_to_window(review).await?;
            anyhow::Ok(())
        }
    };
    clicks(3).await?;
    b.wait_for_js(
        "three live rows",
        &format!(
            "return {rows} >= {} && !!document.querySelector('#trail tr.fresh[data-type=CLICK]')",
            before + 3
        ),
    )
    .await?;
    let (scroll_y, top_after): (f64, f64) = (
        b.eval("return window.scrollY").await?,
        b.eval("return document.querySelector('#trail tbody tr').getBoundingClientRect().top")
            .await?,
    );
    assert_eq!(scroll_y, 0.0, "a reader at the top is not scrolled");
    assert_eq!(top_after, top_before, "no layout jump above the new rows");
    let still: String = b
        .eval("return document.getElementById('trail').dataset.loaded")
        .await?;
    assert_eq!(still, loaded, "rows were added, not the table reloaded");
    // The trail grew: the badge still says what it checked, and that the
    // newer records were not.
    b.wait_for_js(
        "the records the check did not cover",
        "return !document.getElementById('integrity-since').hidden",
    )
    .await?;
    let integrity = text_of(&b, "#integrity").await?;
    assert!(integrity.starts_with(&badge), "{integrity}");
    assert!(
        integrity.contains("newer records not checked"),
        "{integrity}"
    );
    assert!(integrity.contains("Re-check"), "{integrity}");

    // At the bottom, the view follows the new rows.
    b.eval::<Value>("window.scrollTo(0, document.documentElement.scrollHeight); return null")
        .await?;
    let now: u64 = b.eval(&format!("return {rows}")).await?;
    clicks(2).await?;
    b.wait_for_js(
        "two more live rows",
        &format!("return {rows} >= {}", now + 2),
    )
    .await?;
    b.wait_for_js(
        "still at the bottom",
        "return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48",
    )
    .await?;
    screenshot(&b, "05-trail-following-live", 1280).await?;

    // What the reader sees at the top: the badge and the records it did not cover.
    b.eval::<Value>("window.scrollTo(0, 0); return null")
        .await?;
    screenshot(&b, "14-integrity-after-live-rows", 1280).await?;

    // Checking again covers the grown trail.
    click(&b, "integrity-recheck").await?;
    b.wait_for_js(
        "a new check",
        &format!(
            "const i = document.getElementById('integrity'); \
             return i.dataset.valid === 'true' && +i.dataset.length >= {} \
             && document.getElementById('integrity-since').hidden",
            checked + 5
        ),
    )
    .await?;
    let now_checked: String = b
        .eval("return document.getElementById('integrity').dataset.length")
        .await?;
    assert_eq!(
        text_of(&b, "#integrity").await?,
        format!("✔ Integrity verified at {now_checked} records")
    );
    assert!(!shown(&b, "integrity-recheck").await?);

    // A tab whose first events were lost: its gap record arrives with its
    // next event, and the followed trail shows it without a reload.
    assert!(!shown(&b, "gaps-banner").await?);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    post_batch(
        &collector,
        &json!({"v": 1, "session_id": session, "tab_id": "tab-lost", "events": [
            {"seq": 5, "ts": now_ms, "mono": 0, "actor": {"kind": "customer"}, "type": "CLICK",
             "data": {"target": element("add-to-cart")}}],
            "gaps": [{"from": 0, "to": 4, "reason": "queue_full"}]}),
    )
    .await;
    b.wait_for_js(
        "the new gap, shown while following",
        "return !document.getElementById('gaps-banner').hidden \
         && !!document.querySelector('#trail tr.gap-row[data-gap=\"tab-lost:0-4\"]')",
    )
    .await?;
    let banner = text_of(&b, "#gaps-banner").await?;
    assert!(banner.contains("5 events never arrived"), "{banner}");

    // A tab whose first events have not come (a queue another page sends
    // later): shown as not accounted for, until they arrive.
    let late = |seq: u64| {
        json!({"seq": seq, "ts": now_ms + seq as i64, "mono": seq, "actor": {"kind": "customer"},
               "type": "CLICK", "data": {"target": element("add-to-cart")}})
    };
    post_batch(
        &collector,
        &json!({"v": 1, "session_id": session, "tab_id": "tab-late", "events": [late(2)]}),
    )
    .await;
    b.wait_for_js(
        "the unaccounted numbers, shown while following",
        "return !!document.querySelector('#trail tr.gap-row[data-unaccounted=\"tab-late:0-1\"]')",
    )
    .await?;
    let banner = text_of(&b, "#gaps-banner").await?;
    assert!(
        banner.contains("2 events not accounted for") && banner.contains("not received (#0–#1)"),
        "{banner}"
    );
    screenshot(&b, "15-trail-unaccounted", 1280).await?;
    post_batch(
        &collector,
        &json!({"v": 1, "session_id": session, "tab_id": "tab-late", "events": [late(0), late(1)]}),
    )
    .await;
    b.wait_for_js(
        "the late events accounted for",
        "return !document.querySelector('#trail tr.gap-row[data-unaccounted]') \
         && !document.getElementById('gaps-banner').textContent.includes('not accounted')",
    )
    .await?;

    b.quit().await;
    collector.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_trail_renders_as_inert_text() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    let (admin, server_key) = demo_secrets(&collector);
    let b = Browser::start().await?;
    const IMG: &str = "<img src=x onerror=\"window.__xss=1;alert(1)\">";
    const SCRIPT: &str = "<script>window.__xss=2;alert(2)</script>";

    // Through the real recorder: a custom event, typed text and a page title.
    b.driver.goto(format!("{base}/support.html")).await?;
    b.wait_for_recorder().await?;
    let session: String = b.eval("return cotrail.sessionId()").await?;
    b.driver
        .execute(
            "recordCustom(arguments[0], {html: arguments[1], ctl: 'bell\\u0007 esc\\u001b[2J rtl\\u202Eevil', long: 'x'.repeat(400) + arguments[1]}); \
             document.title = arguments[1] + ' \\u0000 title'; history.pushState({}, '', '/support.html#' + encodeURIComponent(arguments[0]));",
            vec![json!(SCRIPT), json!(IMG)],
        )
        .await?;
    b.driver.find(By::Id("name")).await?.send_keys(IMG).await?;
    b.eval::<Value>("cotrail.flush(); return null").await?;
    collector
        .wait_for_events(&session, "the hostile events", |ev| {
            ev.iter()
                .any(|e| e.event.event_type() == shared::EventType::Custom)
                && shared_last_input(ev, "name").as_deref() == Some(IMG)
        })
        .await;
    // Over HTTP: what no real page can send (a javascript: URL, markup in ids).
    post_batch(
        &collector,
        &json!({"v": 1, "session_id": session, "tab_id": "tab-hostile", "events": [
            {"seq": 0, "ts": 1_763_800_000_000i64, "mono": 0, "actor": {"kind": "customer"}, "type": "PAGE-CHANGE",
             "data": {"url": "javascript:window.__xss=3//", "title": format!("{SCRIPT} bell\u{7} esc\u{1b}[2J rtl\u{202e}evil"), "nav": "load"}},
            {"seq": 1, "ts": 1_763_800_000_100i64, "mono": 100, "actor": {"kind": "agent", "id": "agent-9"}, "type": "CLICK",
             "data": {"target": {"id": IMG, "tag": "a", "path": "a[href=javascript:alert(1)]", "label": SCRIPT}}},
        ]}),
    )
    .await;
    // And in the activity log.
    post_records(
        &collector,
        &server_key,
        &json!([{"record_id": "hostile-1", "user_id": "ana", "actor": "user", "occurred_at": 1_763_800_000_000i64,
                 "entity": {"kind": "user", "id": IMG}, "action": SCRIPT,
                 "origin": {"ip": "203.0.113.9", "user_agent": IMG},
                 "change": {"before": {"role": IMG}, "after": {"role": SCRIPT}},
                 "type": "ROLE_CHANGE", "data": {"role": "supervisor", "tenant_user": "bruno"}}]),
    )
    .await;

    sign_in_with_demo_button(&b, &base, "admin").await?;
    let inert = "return window.__xss === undefined \
        && document.querySelectorAll('main img, main script, main iframe, a[href^=\"javascript:\"]').length === 0";
    b.wait_for_js(
        "the session list",
        &format!("return !!document.querySelector(\"#sessions tr[data-session-id='{session}']\")"),
    )
    .await?;
    b.driver
        .goto(format!("{base}/review/#/sessions/{session}"))
        .await?;
    wait_for_trail(&b, "the hostile trail").await?;
    b.wait_for_js(
        "the rows",
        "return document.querySelectorAll('#trail tbody tr[data-key]').length >= 4",
    )
    .await?;
    b.wait_for_js("nothing ran", inert).await?;
    let table = text_of(&b, "#trail").await?;
    // Control characters are made visible: as the JSON escapes inside a JSON
    // value, by name in plain text; a bidi override by its code point.
    for text in [
        IMG,
        SCRIPT,
        "javascript:window.__xss=3//",
        "bell⟨BEL⟩",
        "esc⟨ESC⟩[2J",
        "rtl⟨U+202E⟩evil",
        "bell\\u0007",
    ] {
        assert!(
            table.contains(text),
            "{text:?} is shown as text in:\n{table}"
        );
    }
    // A long value is folded; opening it shows all of it, still as text.
    b.driver
        .execute(
            "document.querySelector('#trail tr[data-type=CUSTOM_EVENT] details.fold summary').click()",
            vec![],
        )
        .await?;
    let whole = text_of(
        &b,
        "#trail tr[data-type=CUSTOM_EVENT] details.fold[open] .whole",
    )
    .await?;
    assert!(
        whole.contains(&format!("{}<img src=x onerror=", "x".repeat(400))),
        "{whole}"
    );
    screenshot(&b, "06-hostile-trail", 1280).await?;

    b.driver.goto(format!("{base}/review/#/activity")).await?;
    b.wait_for_js(
        "the activity log",
        "return !!document.querySelector('#activity tr[data-type=ROLE_CHANGE]')",
    )
    .await?;
    b.wait_for_js("nothing ran in the log", inert).await?;
    let log = text_of(&b, "#activity tr[data-type=ROLE_CHANGE]").await?;
    assert!(log.contains(SCRIPT) && log.contains(IMG), "{log}");
    screenshot(&b, "07-hostile-activity", 1280).await?;
    // No alert ever opened.
    assert!(b.driver.get_alert_text().await.is_err(), "an alert opened");
    let _ = admin;

    b.quit().await;
    collector.stop().await;
    Ok(())
}

/// Whether the element with `id` is shown to the person (present and displayed).
async fn shown(b: &Browser, id: &str) -> WebDriverResult<bool> {
    match b.driver.find(By::Id(id)).await {
        Ok(el) => el.is_displayed().await,
        Err(_) => Ok(false),
    }
}

/// The trail screen shows no trail and none of its controls; answers its text.
async fn no_trail_controls(b: &Browser) -> anyhow::Result<String> {
    for id in [
        "export-ndjson",
        "export-csv",
        "follow",
        "filter-type",
        "trail",
        "timeline",
        "integrity",
    ] {
        assert!(!shown(b, id).await?, "#{id} is shown");
    }
    assert!(!shown(b, "error").await?, "the error banner is shown");
    let view = text_of(b, "#trail-view").await?;
    for absent in [
        "No events recorded",
        "Follow live",
        "Integrity",
        "Export NDJSON",
        "Export CSV",
    ] {
        assert!(!view.contains(absent), "{absent:?} in:\n{view}");
    }
    Ok(view)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_unknown_session_shows_what_is_left_without_trail_controls(
) -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    let (admin, _) = demo_secrets(&collector);
    let http = reqwest::Client::new();
    let batch = |session: &str| {
        json!({"v": 1, "session_id": session, "tab_id": "t1", "events": [
            {"seq": 0, "ts": 1_763_800_000_000i64, "mono": 0, "actor": {"kind": "customer"}, "type": "CLICK",
             "data": {"target": element("buy")}},
            {"seq": 1, "ts": 1_763_800_000_500i64, "mono": 500, "actor": {"kind": "customer"}, "type": "CLICK",
             "data": {"target": element("pay")}},
            {"seq": 2, "ts": 1_763_800_001_000i64, "mono": 1000, "actor": {"kind": "agent", "id": "agent-7"}, "type": "CLICK",
             "data": {"target": element("confirm")}}]})
    };
    post_batch(&collector, &batch("sess-doomed")).await;
    post_batch(&collector, &batch("sess-kept")).await;
    // An auditor's export before the deletion: its last line names the head.
    let export = collector
        .get_text("/api/v1/sessions/sess-doomed/export?format=ndjson")
        .await;
    let trailer: Value = serde_json::from_str(export.lines().last().unwrap())?;
    let exported_head = trailer["chain_head"].as_str().unwrap().to_owned();
    let res = http
        .delete(format!("{base}/api/v1/sessions/sess-doomed"))
        .bearer_auth(&admin)
        .send()
        .await?;
    assert_eq!(res.status(), 200);
    let tombstone: Value = res.json().await?;
    assert_eq!(tombstone["chain_head"], exported_head.as_str());
    let reason = tombstone["reason"].as_str().unwrap().to_owned();

    let b = Browser::start().await?;
    sign_in_with_demo_button(&b, &base, "agent").await?;

    // Deleted: the tombstone, all of it.
    b.driver
        .goto(format!("{base}/review/#/sessions/sess-doomed"))
        .await?;
    b.wait_for_js(
        "the deleted state",
        "const g = document.getElementById('trail-gone'); return !g.hidden && g.dataset.kind === 'deleted'",
    )
    .await?;
    let view = no_trail_controls(&b).await?;
    for text in [
        "This session was deleted",
        &reason,
        "EVENTS IT HELD\n3",
        "CHAIN LENGTH\n3 records",
        &exported_head,
    ] {
        assert!(view.contains(text), "{text:?} in:\n{view}");
    }
    let title = b.driver.title().await?;
    assert!(title.starts_with("Deleted session sess-doomed"), "{title}");
    screenshot(&b, "12-deleted-session", 1280).await?;

    // Unknown: says so, nothing else.
    b.driver
        .goto(format!("{base}/review/#/sessions/sess-never-seen"))
        .await?;
    b.wait_for_js(
        "the no-such-session state",
        "const g = document.getElementById('trail-gone'); return !g.hidden && g.dataset.kind === 'missing'",
    )
    .await?;
    let view = no_trail_controls(&b).await?;
    assert!(view.contains("No such session"), "{view}");
    assert!(view.contains("sess-never-seen"), "{view}");
    assert!(!view.contains("deleted"), "{view}");
    screenshot(&b, "13-unknown-session", 1280).await?;

    // A session that is there gets its trail and controls back.
    b.driver
        .goto(format!("{base}/review/#/sessions/sess-kept"))
        .await?;
    wait_for_trail(&b, "the kept trail").await?;
    b.wait_for_js(
        "its integrity badge",
        "return document.getElementById('integrity').dataset.valid === 'true'",
    )
    .await?;
    assert!(!shown(&b, "trail-gone").await?);
    for id in ["export-ndjson", "export-csv", "follow", "trail"] {
        assert!(shown(&b, id).await?, "#{id} is back");
        assert!(
            b.driver.find(By::Id(id)).await?.is_enabled().await?,
            "#{id} is enabled"
        );
    }
    assert_eq!(
        text_of(&b, "#integrity").await?,
        "✔ Integrity verified at 3 records"
    );
    // Deleting is an admin's: an agent has no such button.
    assert!(
        !shown(&b, "delete-session").await?,
        "an agent may not delete"
    );

    // An admin deletes a session from its trail, after saying so twice.
    click(&b, "sign-out").await?;
    sign_in_with_demo_button(&b, &base, "admin").await?;
    b.driver
        .goto(format!("{base}/review/#/sessions/sess-kept"))
        .await?;
    wait_for_trail(&b, "the kept trail, as an admin").await?;
    assert!(shown(&b, "delete-session").await?, "an admin may delete");
    click(&b, "delete-session").await?;
    let question = b.driver.get_alert_text().await?;
    assert!(question.contains("sess-kept"), "{question}");
    b.driver.dismiss_alert().await?;
    let status = || async {
        http.get(format!("{base}/api/v1/sessions/sess-kept"))
            .bearer_auth(&admin)
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert_eq!(status().await?, 200, "not deleted when the admin says no");
    click(&b, "delete-session").await?;
    b.driver.accept_alert().await?;
    b.wait_for_js(
        "the deleted state after deleting",
        "const g = document.getElementById('trail-gone'); return !g.hidden && g.dataset.kind === 'deleted'",
    )
    .await?;
    let view = no_trail_controls(&b).await?;
    assert!(view.contains("This session was deleted"), "{view}");
    assert!(view.contains("deleted by"), "{view}");
    assert_eq!(status().await?, 410);
    screenshot(&b, "14-deleted-by-an-admin", 1280).await?;

    b.quit().await;
    collector.stop().await;
    Ok(())
}

fn shared_last_input(events: &[shared::api::EventRecord], id: &str) -> Option<String> {
    last_input_value(events, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_list_keeps_its_page_in_the_url() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    // One page and a bit: the list shows 25 a page.
    for i in 0..30i64 {
        post_batch(
            &collector,
            &json!({"v": 1, "session_id": format!("sess-{i:02}"), "tab_id": "t1", "events": [
                {"seq": 0, "ts": 1_763_800_000_000i64 + i, "mono": 0, "actor": {"kind": "customer"},
                 "type": "CLICK", "data": {"target": element("buy")}}]}),
        )
        .await;
    }
    let b = Browser::start().await?;
    sign_in_with_demo_button(&b, &base, "agent").await?;
    let rows = "[...document.querySelectorAll('#sessions tbody tr[data-session-id]')].map(r => r.dataset.sessionId).join(' ')";
    b.wait_for_js(
        "the first page",
        &format!("return ({rows}).split(' ').length === 25"),
    )
    .await?;
    let first: String = b.eval(&format!("return {rows}")).await?;
    click(&b, "sessions-next").await?;
    b.wait_for_js(
        "the second page",
        &format!("return ({rows}).split(' ').length === 5"),
    )
    .await?;
    let second: String = b.eval(&format!("return {rows}")).await?;
    let hash: String = b.eval("return location.hash").await?;
    assert!(
        hash.contains("page=2") && hash.contains("cursor="),
        "{hash}"
    );
    assert_eq!(text_of(&b, "#sessions-page").await?, "Page 2");
    // Reloaded, it is the same page.
    b.driver.refresh().await?;
    b.wait_for_js(
        "the second page after a reload",
        &format!(
            "return document.getElementById('sessions-page').textContent === 'Page 2' \
             && ({rows}) === {second:?}"
        ),
    )
    .await?;
    assert_eq!(text_of(&b, "#sessions-prev").await?, "← Newer");
    click(&b, "sessions-prev").await?;
    b.wait_for_js(
        "the first page again",
        &format!("return ({rows}) === {first:?}"),
    )
    .await?;
    let hash: String = b.eval("return location.hash").await?;
    assert!(!hash.contains("page="), "{hash}");
    b.quit().await;
    Ok(())
}

/// What a keyboard user and a reader who leaves a screen open meet: typing a
/// search makes one history entry, the list's refresh keeps the focused
/// link focused, a trail's live badge ends once the session goes quiet, the
/// header names the user, and signing out is a notice, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_app_keeps_its_place_and_says_what_is_so() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    for i in 0..3i64 {
        post_batch(
            &collector,
            &json!({"v": 1, "session_id": format!("sess-k{i}"), "tab_id": "t1", "events": [
                {"seq": 0, "ts": 1_763_800_000_000i64 + i, "mono": 0, "actor": {"kind": "customer"},
                 "type": "CLICK", "data": {"target": element("buy")}}]}),
        )
        .await;
    }
    let b = Browser::start().await?;
    sign_in_with_demo_button(&b, &base, "agent").await?;
    assert_eq!(
        text_of(&b, "#who-role").await?,
        "Signed in as agent-demo (agent)"
    );
    b.wait_for_js(
        "the list",
        "return document.querySelectorAll('#sessions tbody tr[data-session-id]').length === 3",
    )
    .await?;

    // Typed one key at a time, slower than the search waits for: one entry.
    let before: i64 = b.eval("return history.length").await?;
    let q = b.driver.find(By::Id("sessions-q")).await?;
    for key in "sess-k1".chars() {
        q.send_keys(key.to_string()).await?;
        tokio::time::sleep(Duration::from_millis(650)).await;
    }
    b.wait_for_js(
        "the search",
        "return location.hash === '#/?q=sess-k1'          && document.querySelectorAll('#sessions tbody tr[data-session-id]').length === 1",
    )
    .await?;
    let after: i64 = b.eval("return history.length").await?;
    assert_eq!(after - before, 1, "history entries for one burst of typing");
    b.driver.back().await?;
    b.wait_for_js(
        "back to the whole list",
        "return location.hash === '#/' || location.hash === ''",
    )
    .await?;

    // The list refreshes every 10 s: the focused link keeps the focus.
    b.wait_for_js(
        "the whole list again",
        "return document.querySelectorAll('#sessions tbody tr[data-session-id]').length === 3",
    )
    .await?;
    b.eval::<Value>(
        "window.__status = document.getElementById('sessions-status').textContent;          document.querySelector('#sessions tbody tr[data-session-id=\"sess-k1\"] a').focus(); return null",
    )
    .await?;
    b.wait_for_js_within(
        "a refresh",
        "return document.getElementById('sessions-status').textContent !== window.__status",
        Duration::from_secs(25),
    )
    .await?;
    let focused: String = b
        .eval("return document.activeElement.closest('tr') ? document.activeElement.closest('tr').dataset.sessionId : document.activeElement.tagName")
        .await?;
    assert_eq!(focused, "sess-k1");

    // A trail opened while live says so, and stops saying so once 30 s
    // pass without an event.
    post_batch(
        &collector,
        &json!({"v": 1, "session_id": "sess-k2", "tab_id": "t1", "events": [
            {"seq": 1, "ts": 1_763_800_001_000i64, "mono": 1, "actor": {"kind": "customer"},
             "type": "CLICK", "data": {"target": element("buy")}}]}),
    )
    .await;
    b.driver
        .goto(format!("{base}/review/#/sessions/sess-k2"))
        .await?;
    wait_for_trail(&b, "the trail").await?;
    let live = text_of(&b, "#trail-live").await?;
    b.wait_for_js_within(
        "the live badge to end",
        "return document.getElementById('trail-live').textContent.startsWith('last event')",
        Duration::from_secs(40),
    )
    .await?;
    assert!(live.contains("live"), "{live}");

    // Signing out is a notice.
    click(&b, "sign-out").await?;
    b.wait_for_js(
        "signed out",
        "return !document.getElementById('signin-message').hidden",
    )
    .await?;
    let role: String = b
        .eval("return document.getElementById('signin-message').getAttribute('role')")
        .await?;
    assert_eq!(role, "status");
    assert_eq!(text_of(&b, "#signin-message").await?, "You are signed out.");
    b.quit().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_log_shows_a_posted_role_change_before_and_after() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    let (_, server_key) = demo_secrets(&collector);
    // A session for the LIVE_VIEW record to name.
    post_batch(
        &collector,
        &json!({"v": 1, "session_id": "sess-joined", "tab_id": "t1", "events": [
            {"seq": 0, "ts": 1_763_800_000_000i64, "mono": 0, "actor": {"kind": "customer"}, "type": "CLICK",
             "data": {"target": element("buy")}}]}),
    )
    .await;
    let now = 1_763_900_000_000i64;
    post_records(
        &collector,
        &server_key,
        &json!([
            {"record_id": "r-role", "user_id": "ana", "actor": "user", "occurred_at": now,
             "entity": {"kind": "user", "id": "bruno"}, "action": "Role changed",
             "origin": {"ip": "201.13.62.150", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
             "change": {"before": {"role": "agent"}, "after": {"role": "supervisor"}},
             "type": "ROLE_CHANGE", "data": {"role": "supervisor", "tenant_user": "bruno"}},
            {"record_id": "r-live", "user_id": "carla", "actor": "user", "occurred_at": now + 1,
             "type": "LIVE_VIEW", "data": {"session_id": "sess-joined"}},
            {"record_id": "r-login", "user_id": "carla", "actor": "user", "occurred_at": now + 2,
             "type": "LOGGED_IN"},
            {"record_id": "r-set", "user_id": "ana", "actor": "api", "occurred_at": now + 3,
             "entity": {"kind": "settings", "id": "widget"}, "action": "Settings changed",
             "change": {"before": {"color": "blue", "greeting": null}, "after": {"color": "green", "position": "left"}},
             "type": "SETTINGS_CHANGE", "data": {"config": {"color": "green", "position": "left"}}},
        ]),
    )
    .await;
    let b = Browser::start().await?;

    // An agent sees a plain notice, not an error.
    sign_in_with_demo_button(&b, &base, "agent").await?;
    b.driver.goto(format!("{base}/review/#/activity")).await?;
    b.wait_for_js(
        "the admins-only notice",
        "return !document.getElementById('activity-denied').hidden",
    )
    .await?;
    assert!(text_of(&b, "#activity-denied")
        .await?
        .contains("Admins only"));
    let error_hidden: bool = b
        .eval("return document.getElementById('error').hidden")
        .await?;
    assert!(error_hidden, "no error banner for an agent");
    screenshot(&b, "08-activity-agent", 1280).await?;

    // The admin sees the records, the change as before → after.
    click(&b, "sign-out").await?;
    sign_in_with_demo_button(&b, &base, "admin").await?;
    b.driver.goto(format!("{base}/review/#/activity")).await?;
    let role = "#activity tr[data-type=ROLE_CHANGE]";
    b.wait_for_js(
        "the ROLE_CHANGE row",
        &format!("return !!document.querySelector('{role}')"),
    )
    .await?;
    let before = text_of(&b, &format!("{role} li[data-field=role] .dv.before")).await?;
    let after = text_of(&b, &format!("{role} li[data-field=role] .dv.after")).await?;
    assert_eq!(
        (before.as_str(), after.as_str()),
        ("\"agent\"", "\"supervisor\"")
    );
    let change = text_of(&b, &format!("{role} td.change")).await?;
    assert!(
        change.contains("role: \"agent\" → \"supervisor\""),
        "{change}"
    );
    let row = text_of(&b, role).await?;
    for want in [
        "User #bruno",
        "Role changed",
        "ROLE_CHANGE",
        "ana",
        "201.13.62.150",
        "Chrome 131",
    ] {
        assert!(row.contains(want), "{want:?} in {row}");
    }
    // Added and removed fields read as such.
    let settings = text_of(&b, "#activity tr[data-type=SETTINGS_CHANGE] td.change").await?;
    assert!(
        settings.contains("color: \"blue\" → \"green\""),
        "{settings}"
    );
    assert!(
        settings.contains("position: SET \"left\"") || settings.contains("position: set \"left\""),
        "{settings}"
    );
    assert!(
        settings.contains("greeting: null REMOVED") || settings.contains("greeting: null removed"),
        "{settings}"
    );
    // Newest first.
    let types: Vec<String> = b
        .eval("return [...document.querySelectorAll('#activity tbody tr[data-source=platform]')].map(r => r.dataset.type)")
        .await?;
    assert_eq!(
        &types[..4],
        ["SETTINGS_CHANGE", "LOGGED_IN", "LIVE_VIEW", "ROLE_CHANGE"]
    );
    screenshot(&b, "09-activity-admin", 1280).await?;

    // Filters: by type, by user.
    select(&b, "activity-type", "ROLE_CHANGE").await?;
    b.wait_for_js(
        "only role changes",
        "const r = [...document.querySelectorAll('#activity tbody tr')]; \
         return location.hash.includes('type=ROLE_CHANGE') && r.length === 1 && r[0].dataset.type === 'ROLE_CHANGE'",
    )
    .await?;
    // The whole log's integrity, on request.
    click(&b, "activity-verify").await?;
    b.wait_for_js(
        "the log's chain checked",
        "return document.getElementById('activity-integrity').dataset.valid === 'true'",
    )
    .await?;
    let badge = text_of(&b, "#activity-integrity").await?;
    assert!(badge.starts_with("✔ Log verified at "), "{badge}");
    select(&b, "activity-type", "").await?;
    b.driver
        .find(By::Id("activity-user"))
        .await?
        .send_keys("carla")
        .await?;
    b.wait_for_js(
        "only carla's records",
        "const r = [...document.querySelectorAll('#activity tbody tr')]; \
         return location.hash.includes('user=carla') && r.length === 2",
    )
    .await?;
    // The LIVE_VIEW record links to the session it names.
    b.driver
        .find(By::Css("#activity tr[data-type=LIVE_VIEW] a.session-link"))
        .await?
        .click()
        .await?;
    b.wait_for_js(
        "the joined session's trail",
        "return document.body.dataset.view === 'trail' && document.getElementById('trail-id').textContent === 'sess-joined'",
    )
    .await?;
    wait_for_trail(&b, "its rows").await?;
    assert!(text_of(&b, "#trail").await?.contains("#buy"));

    b.quit().await;
    collector.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifty_thousand_event_session_renders_one_page_and_still_answers_filters(
) -> anyhow::Result<()> {
    const EVENTS: u64 = 50_000;
    const BATCH: u64 = 500;
    /// Sequence numbers the "recorder" reports lost, early enough for page 1.
    const LOST: std::ops::RangeInclusive<u64> = 20..=29;
    let collector = Collector::spawn().await;
    let base = collector.base.clone();
    let t0 = 1_763_800_000_000i64;
    let batch = |n: u64| {
        let events: Vec<Value> = (n * BATCH..(n + 1) * BATCH)
            .filter(|seq| !LOST.contains(seq))
            .map(|seq| {
                let ts = t0 + seq as i64 * 50;
                let actor = if seq % 7 == 0 {
                    json!({"kind": "agent", "id": "agent-7"})
                } else {
                    json!({"kind": "customer"})
                };
                let (ty, data) = if seq % 1000 == 0 {
                    ("PAGE-CHANGE", json!({"url": format!("https://shop.example/p/{}", seq / 1000), "title": format!("Page {}", seq / 1000), "nav": "push"}))
                } else if seq % 10 == 0 {
                    ("INPUT", json!({"target": element("q"), "value": format!("query {seq}")}))
                } else {
                    ("CLICK", json!({"target": element(&format!("b{}", seq % 40))}))
                };
                json!({"seq": seq, "ts": ts, "mono": seq * 50, "actor": actor, "type": ty, "data": data})
            })
            .collect();
        let mut b =
            json!({"v": 1, "session_id": "big-session", "tab_id": "tab-big", "events": events});
        // One gap record, so its row shows in the table.
        if n == 0 {
            b["gaps"] = json!([{"from": LOST.start(), "to": LOST.end(), "reason": "queue_full"}]);
        }
        b
    };
    let started = Instant::now();
    let mut n = 0;
    while n < EVENTS / BATCH {
        let sends: Vec<_> = (n..(n + 4).min(EVENTS / BATCH))
            .map(|i| {
                let body = batch(i);
                let url = ingest_url(&collector);
                tokio::spawn(async move {
                    let res = reqwest::Client::new()
                        .post(url)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
                })
            })
            .collect();
        for s in sends {
            s.await?;
        }
        n += 4;
    }
    eprintln!("ingested {EVENTS} events in {:?}", started.elapsed());

    let b = Browser::start().await?;
    sign_in_with_demo_button(&b, &base, "agent").await?;
    b.driver
        .goto(format!("{base}/review/#/sessions/big-session"))
        .await?;
    let opened = Instant::now();
    wait_for_trail(&b, "the first page").await?;
    eprintln!("first page shown after {:?}", opened.elapsed());
    let rows = "document.querySelectorAll('#trail tbody tr').length";
    let shown: u64 = b.eval(&format!("return {rows}")).await?;
    assert!(
        (1..=120).contains(&shown),
        "a bounded page of rows, not {shown}"
    );
    // The total comes with the summary, read beside the first page.
    b.wait_for_js(
        "the total in the status",
        "return document.getElementById('trail-status').textContent.includes('of 49,990')",
    )
    .await?;

    // A filter change is answered while the timeline may still be reading
    // (how fast is the benchmarks' business; the wait below only bounds a hang).
    let asked = Instant::now();
    select(&b, "filter-type", "INPUT").await?;
    b.wait_for_js_within(
        "only INPUT rows",
        "const r = [...document.querySelectorAll('#trail tbody tr[data-key]')]; \
         return r.length > 0 && r.every(x => x.dataset.type === 'INPUT')",
        Duration::from_secs(60),
    )
    .await?;
    let took = asked.elapsed();
    eprintln!("filter change answered in {took:?}");
    let shown: u64 = b.eval(&format!("return {rows}")).await?;
    assert!(shown <= 120, "{shown} rows");
    // Next page.
    click(&b, "trail-next").await?;
    b.wait_for_js(
        "page 2",
        "return document.getElementById('trail-page').textContent === 'Page 2'",
    )
    .await?;
    // The page is in the URL: reloaded or shared, it opens where it was, and
    // Back steps back a page.
    let first_key = "return document.querySelector('#trail tbody tr[data-key]').dataset.key";
    let page2: String = b.eval(first_key).await?;
    let hash2: String = b.eval("return location.hash").await?;
    assert!(
        hash2.contains("page=2") && hash2.contains("cursor="),
        "{hash2}"
    );
    click(&b, "trail-next").await?;
    b.wait_for_js(
        "page 3",
        "return document.getElementById('trail-page').textContent === 'Page 3'",
    )
    .await?;
    let page3: String = b.eval(first_key).await?;
    assert_ne!(page2, page3);
    b.driver.refresh().await?;
    b.wait_for_js(
        "page 3 again after a reload",
        &format!(
            "const r = document.querySelector('#trail tbody tr[data-key]'); \
             return document.getElementById('trail-page').textContent === 'Page 3' \
             && r !== null && r.dataset.key === {page3:?} \
             && document.querySelectorAll('#trail tbody tr[data-key]').length > 0 \
             && [...document.querySelectorAll('#trail tbody tr[data-key]')].every(x => x.dataset.type === 'INPUT')"
        ),
    )
    .await?;
    // Opened from its URL, page 3 does not know page 2's cursor.
    assert_eq!(text_of(&b, "#trail-prev").await?, "← First page");
    b.eval::<Option<bool>>("history.back(); return null")
        .await?;
    b.wait_for_js(
        "page 2 again with Back",
        &format!(
            "const r = document.querySelector('#trail tbody tr[data-key]'); \
             return document.getElementById('trail-page').textContent === 'Page 2' \
             && r !== null && r.dataset.key === {page2:?}"
        ),
    )
    .await?;
    // A rare type: its 50 events are spread over the whole session, more than
    // one API page skips, so the table follows cursors to fill its page.
    select(&b, "filter-type", "PAGE-CHANGE").await?;
    b.wait_for_js_within(
        "every PAGE-CHANGE on one page",
        "const r = [...document.querySelectorAll('#trail tbody tr[data-key]')]; \
         return r.length === 50 && r.every(x => x.dataset.type === 'PAGE-CHANGE')",
        Duration::from_secs(20),
    )
    .await?;
    let status = text_of(&b, "#trail-status").await?;
    assert!(status.contains("1–50 matching"), "{status}");
    assert!(
        b.eval::<bool>("return document.getElementById('trail-next').disabled")
            .await?,
        "nothing after the last PAGE-CHANGE"
    );
    select(&b, "filter-type", "").await?;
    wait_for_trail(&b, "all types again").await?;

    // The timeline reads the whole session in the background, in bounded DOM.
    b.wait_for_js_within(
        "the whole timeline",
        "return document.getElementById('timeline-status').textContent === '' \
         && document.getElementById('timeline-axis').textContent.includes('49,990 events')",
        Duration::from_secs(60),
    )
    .await?;
    let marks: u64 = b
        .eval("return document.querySelectorAll('#timeline .mark').length")
        .await?;
    assert!((10..=160).contains(&marks), "{marks} timeline marks");
    // The gap shows as a row where the events are missing.
    b.wait_for_js(
        "the gap row",
        "return !!document.querySelector('#trail tr.gap-row')",
    )
    .await?;
    let gap = text_of(&b, "#trail tr.gap-row").await?;
    assert!(
        gap.contains("10 events lost") && gap.contains("#20–#29"),
        "{gap}"
    );
    screenshot(&b, "10-big-session", 1280).await?;
    // A mark far into the session: the table moves there.
    b.driver
        .execute(
            "const m = document.querySelectorAll('#timeline .mark'); m[m.length - 2].click()",
            vec![],
        )
        .await?;
    b.wait_for_js(
        "the far event",
        "return location.hash.includes('at=') && !!document.querySelector('#trail tr.picked')",
    )
    .await?;
    let banner = text_of(&b, "#anchor-banner").await?;
    assert!(banner.contains("Showing events from"), "{banner}");
    screenshot(&b, "11-big-session-jump", 1280).await?;

    b.quit().await;
    collector.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_review_app_is_served_with_a_policy_that_forbids_inline_script() {
    let collector = Collector::spawn().await;
    let res = reqwest::get(format!("{}/review/", collector.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let script = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .expect("a script-src directive");
    assert_eq!(script, "script-src 'self'");
    assert!(!csp.contains("unsafe-inline"));
    let res = reqwest::get(format!("{}/", collector.base)).await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    collector.stop().await;
}
