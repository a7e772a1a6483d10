use cotrail_e2e::*;
use serde_json::json;
use shared::api::EventRecord;
use shared::{Actor, EventData, MaskReason, Navigation};
use thirtyfour::prelude::*;

const PASSWORD: &str = "hunter2-S3cret!";
const NAME: &str = "Ana Souza";
const EMAIL: &str = "ana.souza@example.com";

fn target_id(e: &EventRecord) -> Option<&str> {
    let t = match &e.event.data {
        EventData::Click(d) => Some(&d.target),
        EventData::Scroll(d) => d.target.as_ref(),
        EventData::Form(d) => Some(&d.target),
        EventData::Input(d) => Some(&d.target),
        EventData::Selection(d) => d.target.as_ref(),
        _ => None,
    };
    t.and_then(|t| t.id.as_deref())
}

fn find(events: &[EventRecord], f: impl Fn(&EventRecord) -> bool) -> Option<&EventRecord> {
    events.iter().find(|e| f(e))
}

async fn click(b: &Browser, id: &str) -> WebDriverResult<()> {
    let el = b.driver.find(By::Id(id)).await?;
    el.scroll_into_view().await?;
    el.click().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_seven_event_types_travel_from_a_real_page_to_the_agent_api() -> anyhow::Result<()> {
    let collector = Collector::spawn().await;
    let b = Browser::start().await?;
    let base = collector.base.clone();

    // The shop: SPA navigation and a custom event.
    b.driver.goto(format!("{base}/")).await?;
    b.wait_for_recorder().await?;
    // The page downloaded the bundle compressed (Resource Timing: bytes on the
    // wire below the decoded size), as the collector serves its twins.
    let sizes: Vec<(String, f64, f64)> = b
        .driver
        .execute(
            r"return performance.getEntriesByType('resource')
               .filter(e => /\/recorder(\.js|\/)/.test(e.name))
               .map(e => [e.name, e.encodedBodySize, e.decodedBodySize])",
            vec![],
        )
        .await?
        .convert()?;
    assert_eq!(
        sizes.len(),
        2,
        "the loader (glue inside) and the wasm: {sizes:?}"
    );
    for (name, encoded, decoded) in &sizes {
        assert!(
            *encoded > 0.0 && encoded < decoded,
            "{name} was not compressed on the wire: {encoded} of {decoded} bytes"
        );
    }
    let session: String = b
        .driver
        .execute("return cotrail.sessionId()", vec![])
        .await?
        .convert()?;
    click(&b, "nav-products").await?;
    b.wait_for_js(
        "products view",
        "return document.title.startsWith('Products')",
    )
    .await?;
    click(&b, "add-to-cart").await?;
    click(&b, "nav-cart").await?;
    b.wait_for_js("cart view", "return document.title.startsWith('Cart')")
        .await?;

    // A full page load to the support page, same tab, same session.
    click(&b, "nav-support").await?;
    b.wait_for_js(
        "support page",
        "return location.pathname === '/support.html'",
    )
    .await?;
    b.wait_for_recorder().await?;
    let session2: String = b
        .driver
        .execute("return cotrail.sessionId()", vec![])
        .await?
        .convert()?;
    assert_eq!(
        session2, session,
        "a full page load in the same tab keeps the session"
    );

    // Scroll the page and the inner panel. Scroll events are dispatched by the
    // browser itself (trusted) whatever moved the scroll position.
    b.driver.execute("window.scrollTo(0, 700)", vec![]).await?;
    b.driver
        .execute(
            "document.getElementById('faq-panel').scrollTop = 120",
            vec![],
        )
        .await?;
    let page_y: i64 = b
        .driver
        .execute("return Math.round(window.scrollY)", vec![])
        .await?
        .convert()?;
    let panel_y: i64 = b
        .driver
        .execute(
            "return Math.round(document.getElementById('faq-panel').scrollTop)",
            vec![],
        )
        .await?
        .convert()?;
    assert!(
        page_y > 0 && panel_y > 0,
        "the page must be scrollable: {page_y} {panel_y}"
    );

    // Type for real, including a password, and submit.
    b.driver.find(By::Id("name")).await?.send_keys(NAME).await?;
    b.driver
        .find(By::Id("email"))
        .await?
        .send_keys(EMAIL)
        .await?;
    b.driver
        .find(By::Id("password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    click(&b, "submit-btn").await?;

    // Select the returns paragraph by dragging across it with the mouse.
    let p = b.driver.find(By::Id("returns-policy")).await?;
    p.scroll_into_view().await?;
    let rect = p.rect().await?;
    let half = (rect.width / 2.0) as i64 - 2;
    b.driver
        .action_chain()
        .move_to_element_with_offset(&p, -half, 0)
        .click_and_hold()
        .move_to_element_with_offset(&p, half, 0)
        .release()
        .perform()
        .await?;
    let selected: String = b
        .driver
        .execute("return String(getSelection())", vec![])
        .await?
        .convert()?;
    assert!(selected.len() > 10, "the drag selected text: {selected:?}");

    // Page code clicking a button itself: neither person did it.
    b.driver
        .execute(
            "document.getElementById('request-callback').click()",
            vec![],
        )
        .await?;

    let events = collector
        .wait_for_events(&session, "every expected event", |ev| {
            let has = |f: &dyn Fn(&EventRecord) -> bool| ev.iter().any(f);
            has(&|e| matches!(&e.event.data, EventData::Form(_)))
                && has(&|e| matches!(&e.event.data, EventData::Selection(_)))
                && has(&|e| target_id(e) == Some("faq-panel") && matches!(&e.event.data, EventData::Scroll(s) if s.y == panel_y))
                && has(&|e| matches!(&e.event.data, EventData::Scroll(s) if s.target.is_none() && s.y == page_y))
                && has(&|e| target_id(e) == Some("password"))
                && has(&|e| target_id(e) == Some("request-callback"))
        })
        .await;

    // CLICK: the clicked element's id, by the customer.
    let add = find(&events, |e| {
        matches!(&e.event.data, EventData::Click(_)) && target_id(e) == Some("add-to-cart")
    })
    .expect("CLICK on #add-to-cart");
    assert_eq!(add.event.actor, Actor::Customer);
    let EventData::Click(c) = &add.event.data else {
        unreachable!()
    };
    assert_eq!(c.target.tag, "button");
    assert!(!c.target.path.is_empty());

    // SCROLL: the page's and the panel's final positions.
    assert!(find(
        &events,
        |e| matches!(&e.event.data, EventData::Scroll(s) if s.target.is_none() && s.y == page_y)
    )
    .is_some());
    let panel = find(&events, |e| target_id(e) == Some("faq-panel")).expect("SCROLL of #faq-panel");
    assert!(matches!(&panel.event.data, EventData::Scroll(s) if s.y == panel_y && s.x == 0));

    // INPUT: the typed text, per field, debounced to the final value.
    let typed = |id: &str| {
        events
            .iter()
            .filter(|e| target_id(e) == Some(id))
            .filter_map(|e| match &e.event.data {
                EventData::Input(d) => Some(d.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let name = typed("name");
    assert_eq!(name.last().and_then(|d| d.value.as_deref()), Some(NAME));
    // One burst of keys is one INPUT (one more for each stall between keys
    // longer than the debounce on a loaded machine), never one per key.
    assert!(
        (1..=3).contains(&name.len()),
        "typing is debounced, not one event per key: {name:?}"
    );
    assert_eq!(
        typed("email").last().and_then(|d| d.value.as_deref()),
        Some(EMAIL)
    );
    let pw = typed("password");
    assert!(
        !pw.is_empty(),
        "the password field's INPUT is recorded, masked"
    );
    assert!(pw
        .iter()
        .all(|d| d.value.is_none() && d.masked == Some(MaskReason::Password)));

    // FORM: the form's id.
    let form = find(&events, |e| matches!(&e.event.data, EventData::Form(_))).unwrap();
    assert_eq!(target_id(form), Some("contact-form"));

    // PAGE-CHANGE: the page names, for SPA views and the full load.
    let pages: Vec<(String, Navigation)> = events
        .iter()
        .filter_map(|e| match &e.event.data {
            EventData::PageChange(p) => Some((p.title.clone(), p.nav)),
            _ => None,
        })
        .collect();
    assert!(
        pages
            .iter()
            .any(|(t, n)| t.starts_with("Products") && *n == Navigation::Push),
        "{pages:?}"
    );
    assert!(
        pages
            .iter()
            .any(|(t, n)| t.starts_with("Cart") && *n == Navigation::Push),
        "{pages:?}"
    );
    assert!(
        pages
            .iter()
            .any(|(t, n)| t.starts_with("Help") && *n == Navigation::Load),
        "{pages:?}"
    );
    assert!(events.iter().any(
        |e| matches!(&e.event.data, EventData::PageChange(p) if p.url.ends_with("/support.html"))
    ));

    // SELECTION: the selected text.
    let sel = events
        .iter()
        .filter_map(|e| match &e.event.data {
            EventData::Selection(s) => s.text.clone(),
            _ => None,
        })
        .next_back()
        .expect("SELECTION with text");
    assert_eq!(sel.trim(), selected.trim());

    // CUSTOM_EVENT: the page's type and value.
    let custom = find(
        &events,
        |e| matches!(&e.event.data, EventData::Custom(c) if c.custom_type == "cart"),
    )
    .expect("CUSTOM_EVENT cart");
    let EventData::Custom(c) = &custom.event.data else {
        unreachable!()
    };
    assert_eq!(c.value, json!({"sku": "A-1", "qty": 2}));

    // Script-dispatched click: actor `script`.
    let scripted = find(&events, |e| {
        matches!(&e.event.data, EventData::Click(_)) && target_id(e) == Some("request-callback")
    })
    .unwrap();
    assert_eq!(scripted.event.actor, Actor::Script);

    // Sequence numbers per tab are contiguous from 0 across the full page load.
    let mut seqs: Vec<u64> = events.iter().map(|e| e.event.seq).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "contiguous per tab"
    );
    assert!(events
        .iter()
        .all(|e| e.origin.ip.as_deref() == Some("127.0.0.1")));
    assert!(events.iter().all(|e| e
        .origin
        .user_agent
        .as_deref()
        .is_some_and(|ua| ua.contains("Chrome"))));

    // The agent's co-browsing view of this session, opened from the customer's
    // page in a tab of its own (its own sessionStorage): its events are the
    // agent's, in the customer's session.
    b.wait_for_js(
        "the link to the agent's view",
        "return !document.getElementById('agent-view').hidden",
    )
    .await?;
    let href: String = b
        .eval("return document.getElementById('agent-view-link').getAttribute('href')")
        .await?;
    assert_eq!(href, format!("/agent.html?session={session}"));
    let agent_tab = b.driver.new_tab().await?;
    b.driver.switch_to_window(agent_tab).await?;
    b.driver.goto(format!("{base}{href}")).await?;
    b.wait_for_recorder().await?;
    assert_eq!(
        b.eval::<String>("return cotrail.sessionId()").await?,
        session
    );
    // It covers the shop, not the customer's help page.
    assert_eq!(
        b.eval::<u64>("return document.querySelectorAll('a[href=\"/support.html\"]').length")
            .await?,
        0
    );
    click(&b, "nav-products").await?;
    let agents_click = |e: &EventRecord| {
        matches!(&e.event.actor, Actor::Agent { id } if id.as_str() == "agent-7")
            && matches!(&e.event.data, EventData::Click(_))
    };
    let events = collector
        .wait_for_events(&session, "the agent's click", |ev| {
            ev.iter().any(agents_click)
        })
        .await;
    let clicked: Vec<_> = events
        .iter()
        .filter(|e| agents_click(e))
        .map(target_id)
        .collect();
    assert_eq!(clicked, [Some("nav-products")], "{}", describe(&events));

    // The password appears nowhere: not in the API, not in any file of the store.
    let api = collector
        .get_text(&format!("/api/v1/sessions/{session}/events?limit=1000"))
        .await
        + collector.get_text("/api/v1/sessions").await.as_str();
    assert!(!api.contains(PASSWORD), "password leaked into the API");
    assert!(api.contains(NAME), "control: typed text is in the API");
    let files = files_under(collector.data_dir.path());
    assert!(
        files.iter().any(|(_, bytes)| contains(bytes, NAME)),
        "control: typed text is stored in plain bytes"
    );
    for (path, bytes) in &files {
        assert!(
            !contains(bytes, PASSWORD),
            "password found in {}",
            path.display()
        );
    }

    // The review app shows the trail, once signed in with the demo token.
    b.driver
        .goto(format!("{base}/review/#/sessions/{session}"))
        .await?;
    b.wait_for_js(
        "the demo sign-in button",
        "return !document.getElementById('demo-box').hidden",
    )
    .await?;
    click(&b, "demo-agent").await?;
    b.wait_for_js(
        "trail rows in the review app",
        "return document.querySelectorAll('#trail tbody tr[data-type=\"CLICK\"]').length > 0",
    )
    .await?;
    let text = b.driver.find(By::Id("trail")).await?.text().await?;
    assert!(
        text.contains("add-to-cart"),
        "review table names the clicked element"
    );
    assert!(!text.contains(PASSWORD));

    b.quit().await;
    collector.stop().await;
    Ok(())
}
