//! What the trail says about people: private values never leave the browser,
//! and every action is attributed to whoever really caused it.

use cotrail_e2e::*;
use shared::api::EventRecord;
use shared::{Actor, EventData, MaskReason};
use thirtyfour::prelude::*;

const CONTROL_NAME: &str = "Ana Control-4471";
const CONTROL_SELECTION: &str = "PUBLIC-TEXT-7788";
const PASSWORD: &str = "pw-Vx93-hunter2";
const CARD: &str = "4012888888881881";
const MEMO: &str = "memo-Kq27-private";
const MASKED_SELECTION: &str = "QX-MASKED-TEXT-5521";
/// Typed into a password field, then shown with its "show" button.
const SHOWN_PIN: &str = "pin-Zr48-shown";
/// Inside a masked `<span>` of a button.
const BUTTON_SECRET: &str = "acct-BT-60391";

async fn click(b: &Browser, id: &str) -> WebDriverResult<()> {
    let el = b.driver.find(By::Id(id)).await?;
    el.scroll_into_view().await?;
    el.click().await
}

/// Selects a paragraph's text by dragging across it with the mouse.
async fn drag_select(b: &Browser, id: &str) -> anyhow::Result<String> {
    let p = b.driver.find(By::Id(id)).await?;
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
    b.eval("return String(getSelection())").await
}

/// A password, a card number, text typed inside `data-cotrail-mask` and a
/// selection inside it appear in no request the browser sent, nowhere in the
/// API and in no file of the store; an ordinary field and an ordinary selection
/// (the controls) appear in all three, so the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_values_are_in_no_request_no_api_answer_and_no_stored_file() -> anyhow::Result<()> {
    let mut collector = Collector::spawn().await;
    let proxy = RecordingProxy::start(&collector.base).await;
    let site = StaticSite::serve(vec![(
        "/checkout.html",
        format!(
            r#"<!doctype html><html><head><title>Checkout</title>
<script src="/recorder.js" data-site-key="pk_demo" data-session-id="privacy-1"
        data-collector="{proxy}" data-flush-ms="300"></script></head>
<body><form id="checkout" onsubmit="return false">
<p><label for="fullname">Name on the order</label> <input id="fullname" name="fullname" type="text"></p>
<p><label for="pw">Password</label> <input id="pw" name="pw" type="password"></p>
<p><label for="card">Card number</label> <input id="card" name="card" autocomplete="cc-number" inputmode="numeric"></p>
<p><label for="pin">PIN</label> <input id="pin" name="pin" type="password">
  <button type="button" id="show-pin" onmousedown="event.preventDefault()"
    onclick="var p = document.getElementById('pin'); p.type = p.type === 'password' ? 'text' : 'password'">Show</button></p>
<p><button type="button" id="pay">Pay from <span data-cotrail-mask>{BUTTON_SECRET}</span></button></p>
<div id="private-box" data-cotrail-mask>
  <p><label for="memo">Private memo</label> <input id="memo" name="memo" type="text"></p>
  <p id="masked-text">Account reference {MASKED_SELECTION} belongs to this customer only.</p>
</div>
</form>
<p id="public-text">Free returns {CONTROL_SELECTION} within thirty days.</p></body></html>"#,
            proxy = proxy.base
        ),
    )])
    .await;

    let b = Browser::start().await?;
    b.driver
        .goto(format!("{}/checkout.html", site.base))
        .await?;
    b.wait_for_recorder().await?;
    for (id, text) in [
        ("fullname", CONTROL_NAME),
        ("pw", PASSWORD),
        ("card", CARD),
        ("memo", MEMO),
    ] {
        click(&b, id).await?;
        b.driver.find(By::Id(id)).await?.send_keys(text).await?;
    }
    // A password typed, then shown as text before the field is left.
    click(&b, "pin").await?;
    b.driver
        .find(By::Id("pin"))
        .await?
        .send_keys(SHOWN_PIN)
        .await?;
    click(&b, "show-pin").await?;
    assert_eq!(
        b.eval::<String>("return document.getElementById('pin').type")
            .await?,
        "text",
        "the PIN is shown"
    );
    click(&b, "pay").await?;
    // The card number selected inside its field.
    click(&b, "card").await?;
    b.driver
        .find(By::Id("card"))
        .await?
        .send_keys(Key::Control + "a")
        .await?;
    collector
        .wait_for_events("privacy-1", "the card field's SELECTION", |ev| {
            ev.iter().any(|e| {
                matches!(&e.event.data, EventData::Selection(s)
                    if s.target.as_ref().and_then(|t| t.id.as_deref()) == Some("card"))
            })
        })
        .await;
    click(&b, "fullname").await?; // blur the last field

    let masked = drag_select(&b, "masked-text").await?;
    assert!(
        masked.contains(MASKED_SELECTION),
        "the drag selected the masked text: {masked:?}"
    );
    collector
        .wait_for_events("privacy-1", "the SELECTION in the masked part", |ev| {
            ev.iter().any(|e| {
                matches!(&e.event.data, EventData::Selection(s)
                    if s.masked == Some(MaskReason::Marked))
            })
        })
        .await;
    let public = drag_select(&b, "public-text").await?;
    assert!(public.contains(CONTROL_SELECTION), "{public:?}");

    let events = collector
        .wait_for_events(
            "privacy-1",
            "every field's INPUT and the public SELECTION",
            |ev| {
                last_input_value(ev, "fullname").as_deref() == Some(CONTROL_NAME)
                    && !clicks_on(ev, "pay").is_empty()
                    && ["pw", "card", "memo", "pin"]
                        .iter()
                        .all(|id| !inputs_on(ev, id).is_empty())
                    && ev.iter().any(|e| {
                        matches!(&e.event.data, EventData::Selection(s)
                        if s.text.as_deref().is_some_and(|t| t.contains(CONTROL_SELECTION)))
                    })
            },
        )
        .await;

    // What an agent sees: each private value withheld, saying why.
    for (id, reason) in [
        ("pw", MaskReason::Password),
        ("card", MaskReason::CreditCard),
        ("memo", MaskReason::Marked),
        ("pin", MaskReason::Password),
    ] {
        let inputs = inputs_on(&events, id);
        assert!(
            inputs
                .iter()
                .all(|d| d.value.is_none() && d.masked == Some(reason)),
            "{id} is withheld as {reason:?}: {inputs:?}"
        );
    }

    // The card's selection is withheld as the card is.
    let card_selection = events
        .iter()
        .find_map(|e| match &e.event.data {
            EventData::Selection(s)
                if s.target.as_ref().and_then(|t| t.id.as_deref()) == Some("card") =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .expect("the card's SELECTION");
    assert_eq!(
        card_selection.masked,
        Some(MaskReason::CreditCard),
        "{card_selection:?}"
    );
    assert!(card_selection.text.is_none(), "{card_selection:?}");
    // The drag over the masked paragraph is recorded, withheld as marked.
    let marked: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event.data {
            EventData::Selection(s) if s.masked == Some(MaskReason::Marked) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        !marked.is_empty() && marked.iter().all(|s| s.text.is_none()),
        "{marked:?}"
    );
    // The button's label leaves out nothing masked: it is withheld.
    let pay = clicks_on(&events, "pay");
    assert!(
        pay.iter()
            .all(|e| matches!(&e.event.data, EventData::Click(c) if c.target.label.is_none())),
        "{}",
        describe(&events)
    );

    let secrets = [
        PASSWORD,
        CARD,
        MEMO,
        MASKED_SELECTION,
        SHOWN_PIN,
        BUTTON_SECRET,
    ];
    let controls = [CONTROL_NAME, CONTROL_SELECTION];

    // 1. The bytes that left the browser: every request's body, not only batches.
    let bodies = proxy.bodies();
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.starts_with("/api/v1/batches")),
        "the recorder posted through the proxy"
    );
    // Batches leave gzipped (decompressed above, as the collector reads them).
    assert!(
        proxy.requests().iter().any(|r| r.gzipped()),
        "no batch was sent gzipped"
    );
    for control in controls {
        assert!(
            bodies.iter().any(|body| contains(body, control)),
            "control: {control:?} is in a request body"
        );
    }
    for secret in secrets {
        for body in &bodies {
            assert!(
                !contains(body, secret),
                "{secret:?} left the browser in:\n{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    // 2. What the API answers.
    let api = collector
        .get_text("/api/v1/sessions/privacy-1/events?limit=1000")
        .await
        + collector.get_text("/api/v1/sessions").await.as_str();
    for control in controls {
        assert!(api.contains(control), "control: {control:?} is in the API");
    }
    for secret in secrets {
        assert!(!api.contains(secret), "{secret:?} is in the API:\n{api}");
    }

    // 3. Every file of the store, once the collector has flushed and closed it.
    collector.stop_keep_data().await;
    let files = files_under(collector.data_dir.path());
    for control in controls {
        assert!(
            files.iter().any(|(_, bytes)| contains(bytes, control)),
            "control: {control:?} is stored in plain bytes"
        );
    }
    for secret in secrets {
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, secret),
                "{secret:?} is in {}",
                path.display()
            );
        }
    }

    b.quit().await;
    proxy.stop().await;
    site.stop().await;
    Ok(())
}

/// Clicks the page's own script dispatches (`el.click()`, `dispatchEvent`, also
/// from its own click handler) are the script's; an action a co-browsing tool
/// replays through `cotrail.asAgent` is the agent's; a real click is the
/// customer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_clicks_are_the_scripts_and_replayed_actions_are_the_agents() -> anyhow::Result<()>
{
    let collector = Collector::spawn().await;
    let site = StaticSite::serve(vec![(
        "/",
        format!(
            r#"<!doctype html><html><head><title>Actors</title>
<script src="/recorder.js" data-site-key="pk_demo" data-session-id="actors-1"
        data-collector="{}" data-flush-ms="200"></script>
<script>
// Before the recorder is ready: a misused asAgent warns instead of throwing, and
// a custom event recorded in an agent's scope is queued as the agent's.
window.__misuse = cotrail.asAgent('agent-9');
cotrail.asAgent('agent-early', function () {{ recordCustom('early-agent', {{step: 1}}); }});
window.__early = true;
</script></head>
<body><button id="real">Real</button> <button id="trigger">Trigger</button>
<button id="scripted">Scripted</button> <button id="dispatched">Dispatched</button>
<button id="replayed">Replayed</button>
<script>
document.getElementById('trigger').addEventListener('click', function () {{
  document.getElementById('scripted').click();
}});
</script></body></html>"#,
            collector.base
        ),
    )])
    .await;

    let b = Browser::start().await?;
    b.driver.goto(format!("{}/", site.base)).await?;
    b.wait_for_recorder().await?;
    click(&b, "real").await?;
    click(&b, "trigger").await?;
    b.driver
        .execute(
            "document.getElementById('dispatched').dispatchEvent(new MouseEvent('click', {bubbles: true}))",
            vec![],
        )
        .await?;
    b.driver
        .execute(
            "cotrail.asAgent('agent-9', () => document.getElementById('replayed').click())",
            vec![],
        )
        .await?;

    assert_eq!(
        b.eval::<String>("return String(window.__early) + ' ' + String(window.__misuse)")
            .await?,
        "true undefined",
        "the page script ran past the misused asAgent"
    );
    let early = |e: &EventRecord| matches!(&e.event.data, EventData::Custom(c) if c.custom_type == "early-agent");
    let ids = ["real", "trigger", "scripted", "dispatched", "replayed"];
    let events = collector
        .wait_for_events(
            "actors-1",
            "the five clicks and the early custom event",
            |ev| ids.iter().all(|id| !clicks_on(ev, id).is_empty()) && ev.iter().any(early),
        )
        .await;
    let early_event = &events.iter().find(|e| early(e)).unwrap().event;
    match &early_event.actor {
        Actor::Agent { id } => assert_eq!(id.as_str(), "agent-early"),
        other => panic!("the early custom event is the agent's, not {other:?}"),
    }
    // Recorded with the time the page called it, before the recorder started
    // (and recorded the page's load), not with the time it was replayed.
    let load = events
        .iter()
        .find(|e| matches!(e.event.data, EventData::PageChange(_)))
        .expect("the load's PAGE-CHANGE");
    assert!(
        early_event.mono < load.event.mono && early_event.ts <= load.event.ts,
        "the early custom event at {} ms, the load at {} ms",
        early_event.mono,
        load.event.mono
    );
    let actor = |id: &str| {
        let clicks = clicks_on(&events, id);
        assert_eq!(clicks.len(), 1, "{id} once:\n{}", describe(&events));
        clicks[0].event.actor.clone()
    };
    assert_eq!(actor("real"), Actor::Customer);
    assert_eq!(actor("trigger"), Actor::Customer);
    assert_eq!(actor("scripted"), Actor::Script);
    assert_eq!(actor("dispatched"), Actor::Script);
    match actor("replayed") {
        Actor::Agent { id } => assert_eq!(id.as_str(), "agent-9"),
        other => panic!("the replayed click is the agent's, not {other:?}"),
    }
    let summary = collector.session_summary_json("actors-1").await;
    assert_eq!(
        summary["actors"],
        serde_json::json!(["agent", "customer", "script"]),
        "{summary}"
    );

    b.quit().await;
    site.stop().await;
    collector.stop().await;
    Ok(())
}
