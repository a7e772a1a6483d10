//! Browser tests of the observers on a real DOM, end to end through a fake
//! collector (`window.fetch` replaced): SCROLL, INPUT, SELECTION, FORM,
//! PAGE-CHANGE. Events are dispatched by script (so `actor` is `script`); the
//! tests assert on the data.
//!
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p cotrail-recorder --target wasm32-unknown-unknown --test observers`

#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use serde_json::Value;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn ys(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["data"]["y"].as_i64().unwrap())
        .collect()
}

// ---------------------------------------------------------------- SCROLL

#[wasm_bindgen_test]
async fn a_scroll_burst_on_an_element_gives_a_few_events_ending_at_the_final_position() {
    let host = mount(
        r#"<div id="pane" style="height:100px;width:200px;overflow:auto">
             <div style="height:5000px">tall</div></div>"#,
    );
    begin("");
    // 20 position changes over ~1 s (longer on a loaded machine: the bound
    // below follows the time the burst really took).
    let changes = 20;
    let started = now();
    for i in 1..=changes {
        by_id("pane").set_scroll_top(i * 100);
        sleep(50).await;
    }
    let took = now() - started;
    let last = i64::from(changes * 100);
    let evs = wait_for("the final scroll position", 3_000.0, || {
        let evs = events_on("SCROLL", "pane");
        (evs.last().map(|e| e["data"]["y"].as_i64()) == Some(Some(last))).then_some(evs)
    })
    .await;
    // Nothing more comes afterwards (the trailing event was the last).
    sleep(600).await;
    let evs_after = events_on("SCROLL", "pane");
    assert_eq!(ys(&evs_after), ys(&evs), "events after the burst ended");
    // At most one per throttle interval, plus the first and the trailing one.
    let most = (took / cotrail_recorder::observers::scroll::THROTTLE_MS) as usize + 2;
    assert!(
        evs.len() >= 2 && evs.len() <= most.min(changes as usize - 1),
        "a {took} ms burst of {changes} changes should give at most {most} events, got {:?}",
        ys(&evs)
    );
    let y = ys(&evs);
    assert!(
        y.windows(2).all(|w| w[0] < w[1]),
        "positions go down the pane: {y:?}"
    );
    for e in &evs {
        assert_eq!(e["data"]["x"], 0);
        assert_eq!(e["data"]["target"]["tag"], "div");
        assert_eq!(e["data"]["target"]["path"], "div#pane");
    }
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_page_scroll_has_no_target() {
    let host = mount(r#"<div id="spacer" style="height:6000px">spacer</div>"#);
    let window = web_sys::window().unwrap();
    window.scroll_to_with_x_and_y(0.0, 0.0);
    sleep(100).await;
    begin("");
    window.scroll_to_with_x_and_y(0.0, 400.0);
    let e = wait_for("a page SCROLL to 400", 3_000.0, || {
        events_of("SCROLL")
            .into_iter()
            .find(|e| e["data"]["y"] == 400)
    })
    .await;
    assert!(
        e["data"].get("target").is_none(),
        "a page scroll carries no target: {e}"
    );
    assert_eq!(e["data"]["x"], 0);
    end();
    window.scroll_to_with_x_and_y(0.0, 0.0);
    host.remove();
}

// ---------------------------------------------------------------- INPUT

/// Fields typed into one after the other and settling together are recorded
/// in the order they were typed, also after one of them was settled early
/// (a `change`).
#[wasm_bindgen_test]
async fn fields_that_settle_together_are_recorded_in_the_order_they_were_typed() {
    let host = mount(r#"<input id="ord-a"><input id="ord-b"><input id="ord-c"><input id="ord-d">"#);
    begin("");
    for id in ["ord-a", "ord-b", "ord-c", "ord-d"] {
        type_into(id, &format!("{id} typed"));
    }
    // The first one settles at once; the other three with the debounce.
    fire("ord-a", "change");
    let order = wait_for("the four INPUT events", 3_000.0, || {
        let ids: Vec<String> = events_of("INPUT")
            .iter()
            .map(|e| {
                e["data"]["target"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        (ids.len() == 4).then_some(ids)
    })
    .await;
    assert_eq!(order, ["ord-a", "ord-b", "ord-c", "ord-d"]);
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn typing_gives_one_input_event_with_the_final_value_after_the_debounce() {
    let host = mount(r#"<label for="typed">Full name</label><input id="typed" name="full">"#);
    begin("");
    let word = "abcdefghij";
    let mut longest_pause: f64 = 0.0;
    let mut last = now();
    for n in 1..=word.len() {
        type_into("typed", &word[..n]);
        longest_pause = longest_pause.max(now() - last);
        last = now();
        sleep(30).await;
    }
    // Still typing a moment ago: nothing recorded yet (unless the machine
    // stalled between two keys for longer than the debounce).
    if longest_pause + (now() - last) < cotrail_recorder::observers::input::DEBOUNCE_MS {
        assert!(
            stored_on("INPUT", "typed").is_empty(),
            "recorded before the debounce: {:?}",
            stored_on("INPUT", "typed")
        );
    }
    let e = wait_for("the debounced INPUT", 3_000.0, || {
        events_on("INPUT", "typed").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["value"], word);
    assert_eq!(e["data"]["target"]["name"], "full");
    assert_eq!(e["data"]["target"]["label"], "Full name");
    assert!(e["data"].get("masked").is_none(), "{e}");
    sleep(600).await;
    assert_eq!(
        events_on("INPUT", "typed").len(),
        1,
        "{:?}",
        events_on("INPUT", "typed")
    );
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn change_and_blur_record_the_value_at_once() {
    let host = mount(r#"<input id="chg"><input id="blr">"#);
    begin("");
    type_into("chg", "Ada");
    fire("chg", "change");
    // Recorded (and saved) synchronously, not after the debounce.
    let saved = stored_on("INPUT", "chg");
    assert_eq!(saved.len(), 1, "change did not record at once");
    assert_eq!(saved[0]["data"]["value"], "Ada");

    type_into("blr", "Lovelace");
    fire("blr", "focusout");
    let saved = stored_on("INPUT", "blr");
    assert_eq!(saved.len(), 1, "focusout did not record at once");
    assert_eq!(saved[0]["data"]["value"], "Lovelace");

    // The debounce timer does not record them a second time.
    sleep(700).await;
    wait_for("delivery", 2_000.0, || {
        (events_on("INPUT", "blr").len() == 1).then_some(())
    })
    .await;
    assert_eq!(events_on("INPUT", "chg").len(), 1);
    assert_eq!(events_on("INPUT", "blr").len(), 1);
    end();
    host.remove();
}

/// A widget that sets a text field's value and fires `change` without any
/// `input` (a date picker) is recorded; the `change` a field fires on blur
/// after its typing was recorded is not recorded twice.
#[wasm_bindgen_test]
async fn a_change_without_typing_is_recorded_and_a_change_after_typing_is_not_repeated() {
    let host = mount(r#"<input id="picked"><input id="typed-then-left"><input id="suggested">"#);
    begin("");
    set_value("picked", "2024-05-01");
    fire("picked", "change");
    let e = first_on("INPUT", "picked").await;
    assert_eq!(e["data"]["value"], "2024-05-01");
    type_into("typed-then-left", "Grace");
    first_on("INPUT", "typed-then-left").await;
    // Leaving the field: `change` for what is already recorded.
    fire("typed-then-left", "change");
    fire("typed-then-left", "focusout");
    // Typed again and changed: recorded with the new value, once.
    type_into("typed-then-left", "Grace Hopper");
    fire("typed-then-left", "change");
    let evs = at_least_on("INPUT", "typed-then-left", 2).await;
    sleep(600).await;
    let evs2 = events_on("INPUT", "typed-then-left");
    assert_eq!(evs2.len(), 2, "{evs2:?}");
    assert_eq!(evs[0]["data"]["value"], "Grace");
    assert_eq!(evs[1]["data"]["value"], "Grace Hopper");
    // Typed, recorded, then a suggestion list (which keeps the focus) sets
    // another value and fires only `change`: the new value is recorded.
    type_into("suggested", "Lov");
    first_on("INPUT", "suggested").await;
    set_value("suggested", "Lovelace");
    fire("suggested", "change");
    let evs = at_least_on("INPUT", "suggested", 2).await;
    assert_eq!(evs[1]["data"]["value"], "Lovelace");
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_checkbox_records_checked_and_a_select_its_value() {
    let host = mount(
        r#"<label><input id="agree" type="checkbox" name="agree"> I agree</label>
           <select id="plan" name="plan"><option value="free">Free</option><option value="pro">Pro</option></select>"#,
    );
    begin("");
    click("agree"); // click → input + change
    let saved = stored_on("INPUT", "agree");
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[0]["data"]["checked"], true);
    assert!(saved[0]["data"].get("value").is_none(), "{}", saved[0]);
    click("agree");

    set_value("plan", "pro");
    fire("plan", "input");
    fire("plan", "change");
    let saved = stored_on("INPUT", "plan");
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[0]["data"]["value"], "pro");

    let evs = wait_for("both checkbox events", 3_000.0, || {
        let evs = events_on("INPUT", "agree");
        (evs.len() >= 2).then_some(evs)
    })
    .await;
    let checked: Vec<&Value> = evs.iter().map(|e| &e["data"]["checked"]).collect();
    assert_eq!(checked, [&Value::Bool(true), &Value::Bool(false)]);
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn sensitive_fields_are_masked_and_blocked_fields_are_silent() {
    let host = mount(
        r#"<label for="card">Card</label><input id="card" autocomplete="cc-number">
           <input id="tok" type="hidden" value="hidden-token-77">
           <input id="pw" type="password">
           <div data-cotrail-mask><label for="acct">Account</label><input id="acct"></div>
           <div data-cotrail-block><input id="blk" name="blk-name"><button id="blk-btn">blk</button></div>"#,
    );
    begin("");
    let secrets = [
        ("card", "4111111111111111"),
        ("tok", "hidden-token-99"),
        ("pw", "hunter2-pass"),
        ("acct", "DE89370400440532013000"),
        ("blk", "blocked-secret-text"),
    ];
    for (id, v) in secrets {
        type_into(id, v);
        fire(id, "change");
    }
    click("blk-btn");
    cotrail_recorder::flush();
    for (id, reason) in [
        ("card", "credit-card"),
        ("tok", "hidden"),
        ("pw", "password"),
        ("acct", "marked"),
    ] {
        let e = wait_for(&format!("INPUT on #{id}"), 3_000.0, || {
            events_on("INPUT", id).into_iter().next()
        })
        .await;
        assert_eq!(e["data"]["masked"], reason, "{e}");
        assert!(e["data"].get("value").is_none(), "{e}");
        assert!(
            e["data"]["target"].get("label").is_none(),
            "a masked field's label is withheld: {e}"
        );
    }
    sleep(300).await;
    let all = everything();
    for (_, secret) in secrets {
        assert!(!all.contains(secret), "{secret} left the page: {all}");
    }
    assert!(
        !all.contains("blk"),
        "a blocked element was mentioned: {all}"
    );
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn the_strict_level_masks_every_value() {
    let host = mount(
        r#"<label for="plain">Name</label><input id="plain" name="plain">
           <input id="strict-cb" type="checkbox">
           <select id="strict-sel"><option value="a">A</option><option value="bravo-choice">B</option></select>
           <p id="strict-p">Strictly private paragraph</p>"#,
    );
    begin("mask: 'strict'");
    type_into("plain", "Grace Hopper");
    fire("plain", "change");
    click("strict-cb");
    set_value("strict-sel", "bravo-choice");
    fire("strict-sel", "change");
    for id in ["plain", "strict-cb", "strict-sel"] {
        let saved = stored_on("INPUT", id);
        assert_eq!(saved.len(), 1, "#{id}: {saved:?}");
        let d = &saved[0]["data"];
        assert_eq!(d["masked"], "strict", "#{id}: {d}");
        assert!(
            d.get("value").is_none() && d.get("checked").is_none(),
            "#{id}: {d}"
        );
        assert!(d["target"].get("label").is_none(), "#{id}: {d}");
    }
    // A selection is masked too.
    select_contents("strict-p");
    let e = wait_for("a strict SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["masked"], "strict", "{e}");
    assert!(e["data"].get("text").is_none(), "{e}");
    cotrail_recorder::flush();
    sleep(300).await;
    let all = everything();
    for secret in ["Grace", "bravo-choice", "Strictly"] {
        assert!(!all.contains(secret), "{secret} left the page: {all}");
    }
    clear_selection();
    end();
    host.remove();
}

// ---------------------------------------------------------------- SELECTION

#[wasm_bindgen_test]
async fn selected_text_is_recorded_once_the_selection_settles() {
    let host = mount(r#"<p id="sel-p">Quarterly report figures</p>"#);
    begin("");
    let selected = now();
    select_contents("sel-p");
    sleep(200).await;
    if now() - selected < cotrail_recorder::observers::selection::DEBOUNCE_MS {
        assert!(
            stored().iter().all(|(_, e)| e["type"] != "SELECTION"),
            "recorded before the debounce"
        );
    }
    let e = wait_for("a SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["text"], "Quarterly report figures", "{e}");
    assert_eq!(e["data"]["target"]["id"], "sel-p", "{e}");
    assert!(e["data"].get("masked").is_none(), "{e}");
    // The same selection again is not a new event.
    select_contents("sel-p");
    sleep(800).await;
    assert_eq!(
        events_of("SELECTION").len(),
        1,
        "{:?}",
        events_of("SELECTION")
    );
    clear_selection();
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_selection_in_masked_content_keeps_no_text() {
    let host = mount(
        r#"<p id="open-p">Open words</p>
           <div data-cotrail-mask><p id="msk-p">IBAN DE89 3704 0044</p></div>"#,
    );
    begin("");
    select_contents("msk-p");
    let e = wait_for("a masked SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["masked"], "marked", "{e}");
    assert!(e["data"].get("text").is_none(), "{e}");
    // A selection from open text into masked text is masked as well.
    select_between("open-p", 0, "msk-p", 4);
    let evs = wait_for("a second SELECTION", 3_000.0, || {
        let evs = events_of("SELECTION");
        (evs.len() >= 2).then_some(evs)
    })
    .await;
    assert_eq!(evs[1]["data"]["masked"], "marked", "{}", evs[1]);
    assert!(evs[1]["data"].get("text").is_none(), "{}", evs[1]);
    let all = everything();
    assert!(!all.contains("DE89") && !all.contains("IBAN"), "{all}");
    clear_selection();
    end();
    host.remove();
}

// ---------------------------------------------------------------- FORM

fn origin() -> String {
    eval_str("return location.origin")
}

#[wasm_bindgen_test]
async fn request_submit_records_the_form() {
    // The submission goes to a hidden frame so the test page stays.
    let host = mount(
        r#"<iframe name="cotrail-sink" style="display:none"></iframe>
           <form id="f-req" name="search" action="/cotrail-form-sink?token=abc123" method="get" target="cotrail-sink">
             <input name="q" value="x"></form>"#,
    );
    begin("");
    eval("document.getElementById('f-req').requestSubmit();");
    let e = wait_for("a FORM event", 3_000.0, || {
        events_on("FORM", "f-req").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["target"]["name"], "search");
    // Page code submitted it, with no click or key of the person before it.
    assert_eq!(e["actor"]["kind"], "script", "{e}");
    assert_eq!(e["data"]["method"], "get");
    assert_eq!(
        e["data"]["action"],
        format!("{}/cotrail-form-sink", origin()),
        "the action keeps no query string: {e}"
    );
    assert!(!everything().contains("abc123"));
    end();
    host.remove();
}

/// A form inside `data-cotrail-block` whose control is named `closest` (a
/// form's controls shadow its methods by name) is still blocked: its submit
/// records nothing. The control: the same form outside the block records.
#[wasm_bindgen_test]
async fn a_blocked_form_whose_control_shadows_closest_stays_blocked() {
    let host = mount(
        r#"<div data-cotrail-block><form id="f-shadow" action="/blocked-form">
             <input name="closest" value="x"></form></div>
           <form id="f-open" action="/open-form"><input name="closest" value="x"></form>"#,
    );
    eval(
        "['f-shadow', 'f-open'].forEach(function (id) { \
           document.getElementById(id).addEventListener('submit', function (e) { e.preventDefault(); }); });",
    );
    begin("");
    eval("document.getElementById('f-shadow').requestSubmit(); document.getElementById('f-open').requestSubmit();");
    wait_for("the open form's FORM event", 3_000.0, || {
        events_on("FORM", "f-open").into_iter().next()
    })
    .await;
    assert!(
        events_on("FORM", "f-shadow").is_empty(),
        "{:?}",
        events_of("FORM")
    );
    assert!(!everything().contains("blocked-form"));
    end();
    host.remove();
}

/// A server-rendered form with hidden controls named `action` and `method`
/// (which shadow the form's properties of those names): its own action and
/// method are recorded.
#[wasm_bindgen_test]
async fn a_form_whose_controls_are_named_action_and_method_records_its_own() {
    let host = mount(
        r#"<form id="f-named" action="/cotrail-named?sid=S3CR3T" method="post">
             <input type="hidden" name="action" value="login">
             <input type="hidden" name="method" value="token"></form>"#,
    );
    eval(
        "document.getElementById('f-named').addEventListener('submit', \
           function (e) { e.preventDefault(); });",
    );
    begin("");
    eval("document.getElementById('f-named').requestSubmit();");
    let e = wait_for("the FORM event", 3_000.0, || {
        events_on("FORM", "f-named").into_iter().next()
    })
    .await;
    assert_eq!(
        e["data"]["action"],
        format!("{}/cotrail-named", origin()),
        "{e}"
    );
    assert_eq!(e["data"]["method"], "post", "{e}");
    assert!(!everything().contains("S3CR3T"));
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_submit_prevented_by_the_page_is_recorded() {
    let host = mount(
        r#"<form id="f-prev" action="/checkout?coupon=SECRET10" method="post">
             <input name="item" value="1"><button id="f-prev-go" type="submit">Buy</button></form>"#,
    );
    eval(
        "window.__prevented = false; document.getElementById('f-prev').addEventListener('submit', \
           function (e) { e.preventDefault(); window.__prevented = e.defaultPrevented; });",
    );
    begin("");
    click("f-prev-go");
    assert!(eval("return window.__prevented").as_bool().unwrap());
    let saved = stored_on("FORM", "f-prev");
    assert_eq!(saved.len(), 1, "recorded at once: {saved:?}");
    let e = wait_for("a FORM event", 3_000.0, || {
        events_on("FORM", "f-prev").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["method"], "post");
    assert_eq!(e["data"]["action"], format!("{}/checkout", origin()));
    assert!(!everything().contains("SECRET10"));
    end();
    host.remove();
}

// ---------------------------------------------------------------- PAGE-CHANGE

/// The runner page's URL, remembered on first use and restored after each test.
fn original_url() -> String {
    eval_str("if (!window.__origUrl) window.__origUrl = location.href; return window.__origUrl;")
}

fn page_changes() -> Vec<(String, String)> {
    events_of("PAGE-CHANGE")
        .iter()
        .map(|e| {
            (
                e["data"]["nav"].as_str().unwrap().to_owned(),
                e["data"]["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[wasm_bindgen_test]
async fn history_calls_are_recorded_without_query_strings() {
    let orig = original_url();
    begin("");
    let o = origin();
    // The patched methods look and behave as the page's own: name, arity,
    // source, `this`, the exception of a bad call.
    assert_eq!(
        eval_str(
            "var p = history.pushState; \
             return [p.name, p.length, /native code/.test(String(p)), \
               p !== History.prototype.pushState].join();"
        ),
        "pushState,2,true,true"
    );
    assert_eq!(
        eval_str(
            "try { history.pushState.call({}, null, ''); return 'no error'; } \
             catch (e) { return e.name; }"
        ),
        "TypeError"
    );
    // A router that keeps the method it found (the recorder's) to call later.
    eval("window.__savedPush = history.pushState;");
    eval("history.pushState({}, '', '/cotrail-a?token=secret-tok#top');");
    eval("history.replaceState({}, '', '/cotrail-b?email=ada%40example.com');");
    eval("history.replaceState({}, '', '/cotrail-b?email=other');"); // same URL once stripped
    let changes = wait_for("push and replace", 3_000.0, || {
        let c = page_changes();
        (c.len() >= 3).then_some(c)
    })
    .await;
    assert_eq!(changes[0].0, "load", "{changes:?}");
    assert_eq!(
        changes[1..],
        [
            ("push".to_owned(), format!("{o}/cotrail-a#top")),
            ("replace".to_owned(), format!("{o}/cotrail-b")),
        ],
        "{changes:?}"
    );
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(page_changes().len(), 3, "{:?}", page_changes());
    let all = everything();
    assert!(
        !all.contains("secret-tok") && !all.contains("example.com"),
        "{all}"
    );
    end();
    // After stop: the original is back, and the kept one still works (it
    // calls the original) and records nothing.
    assert_eq!(
        eval_str(
            "var ok = history.pushState === History.prototype.pushState; \
             window.__savedPush.call(history, {}, '', '/cotrail-kept'); \
             return ok + ',' + location.pathname;"
        ),
        "true,/cotrail-kept"
    );
    sleep(100).await;
    assert_eq!(page_changes().len(), 3, "{:?}", page_changes());
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

/// A history call made just before `stop()` (or a departure), while its
/// PAGE-CHANGE waits for the page's new title, is still recorded.
#[wasm_bindgen_test]
async fn a_history_call_just_before_stop_is_recorded() {
    let orig = original_url();
    begin("");
    let o = origin();
    wait_for("the first view", 3_000.0, || {
        (page_changes().len() == 1).then_some(())
    })
    .await;
    eval("history.pushState({}, '', '/cotrail-last');");
    end();
    let changes = wait_for("the push sent on stop", 3_000.0, || {
        let c = page_changes();
        (c.len() >= 2).then_some(c)
    })
    .await;
    assert_eq!(
        changes[1],
        ("push".to_owned(), format!("{o}/cotrail-last")),
        "{changes:?}"
    );
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

/// A page that froze `history.pushState` keeps its recorder: one warning says
/// which navigations go unrecorded, and everything else still records.
#[wasm_bindgen_test]
async fn a_frozen_history_method_is_warned_about_and_the_rest_records() {
    let orig = original_url();
    eval(
        "Object.defineProperty(history, 'pushState', \
         {value: History.prototype.pushState, writable: false, configurable: true});",
    );
    capture_warnings();
    begin("");
    let warned: Vec<String> = warnings()
        .into_iter()
        .filter(|w| w.contains("history.pushState cannot be observed"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", warnings());
    assert!(
        warnings().iter().all(|w| !w.contains("replaceState")),
        "{:?}",
        warnings()
    );
    eval("history.replaceState({}, '', '/cotrail-frozen');");
    let changes = wait_for("the replace", 3_000.0, || {
        let c = page_changes();
        (c.len() >= 2).then_some(c)
    })
    .await;
    assert_eq!(changes[1].0, "replace", "{changes:?}");
    end();
    // The page's own property is left as the page set it.
    assert_eq!(
        eval_str("return String(Object.getOwnPropertyDescriptor(history, 'pushState').writable)"),
        "false"
    );
    eval("delete history.pushState;");
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

#[wasm_bindgen_test]
async fn hash_changes_and_back_forward_are_recorded() {
    let orig = original_url();
    begin("");
    let o = origin();
    eval("history.pushState({}, '', '/cotrail-c?q=1');");
    wait_for("the push", 3_000.0, || {
        page_changes()
            .iter()
            .any(|(n, u)| n == "push" && *u == format!("{o}/cotrail-c"))
            .then_some(())
    })
    .await;
    eval("location.hash = 'part2';");
    let changes = wait_for("the hash change", 3_000.0, || {
        let c = page_changes();
        c.iter().any(|(_, u)| u.ends_with("#part2")).then_some(c)
    })
    .await;
    // popstate and hashchange both fire for a fragment navigation: one event.
    let hash: Vec<_> = changes
        .iter()
        .filter(|(_, u)| u.ends_with("#part2"))
        .collect();
    assert_eq!(hash.len(), 1, "{changes:?}");
    assert_eq!(
        hash[0].0, "hash",
        "a new fragment is not back/forward: {changes:?}"
    );
    assert_eq!(hash[0].1, format!("{o}/cotrail-c#part2"));

    eval("history.back();");
    let changes = wait_for("back", 3_000.0, || {
        let c = page_changes();
        (c.last().map(|(n, u)| (n.as_str(), u.clone())) == Some(("pop", format!("{o}/cotrail-c"))))
            .then_some(c)
    })
    .await;
    assert!(
        !changes.iter().any(|(_, u)| u.contains("q=1")),
        "{changes:?}"
    );
    // A popstate dispatched by script with the URL unchanged is noise.
    eval("window.dispatchEvent(new PopStateEvent('popstate', {state: null}));");
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(page_changes(), changes);
    end();
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

/// Back and forward in a single-page app: the app sets the title in its own
/// `popstate` handler, which runs after the recorder's; the PAGE-CHANGE
/// carries the title of the page the person went back to, not the one left.
#[wasm_bindgen_test]
async fn back_and_forward_carry_the_title_the_app_sets_for_them() {
    let orig = original_url();
    let orig_title = eval_str("return document.title");
    begin("");
    eval(
        "window.__titles = function () { \
           document.title = location.pathname === '/cotrail-t1' ? 'Products' : 'Cart'; }; \
         window.addEventListener('popstate', window.__titles); \
         document.title = 'Products'; history.pushState({}, '', '/cotrail-t1');",
    );
    let titled = || {
        events_of("PAGE-CHANGE")
            .iter()
            .map(|e| {
                (
                    e["data"]["nav"].as_str().unwrap().to_owned(),
                    e["data"]["title"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    // One navigation a task: the title is read after the task (two pushes
    // in one task both get the title the page ends it with).
    wait_for("the first push", 3_000.0, || {
        (titled().len() == 2).then_some(())
    })
    .await;
    eval("document.title = 'Cart'; history.pushState({}, '', '/cotrail-t2');");
    wait_for("the second push", 3_000.0, || {
        (titled().len() == 3).then_some(())
    })
    .await;
    eval("history.back();");
    let changes = wait_for("the back", 3_000.0, || {
        let c = titled();
        (c.len() == 4).then_some(c)
    })
    .await;
    assert_eq!(
        changes[1..],
        [
            ("push".to_owned(), "Products".to_owned()),
            ("push".to_owned(), "Cart".to_owned()),
            ("pop".to_owned(), "Products".to_owned()),
        ],
        "{changes:?}"
    );
    end();
    eval("window.removeEventListener('popstate', window.__titles);");
    eval(&format!(
        "document.title = {orig_title:?}; history.replaceState(null, '', {orig:?});"
    ));
}

/// A modal or a wizard step pushed without changing the URL, then Back: the
/// back is recorded although the URL is the same (the browser tells the
/// history entries apart).
#[wasm_bindgen_test]
async fn back_to_an_entry_with_the_same_url_is_recorded() {
    let orig = original_url();
    begin("");
    let o = origin();
    eval("history.pushState({}, '', '/cotrail-modal');");
    eval("history.pushState({modal: 1}, '', location.href);");
    wait_for("both pushes", 3_000.0, || {
        (page_changes()
            .iter()
            .filter(|(n, u)| n == "push" && *u == format!("{o}/cotrail-modal"))
            .count()
            == 2)
            .then_some(())
    })
    .await;
    eval("history.back();");
    let changes = wait_for("the back", 3_000.0, || {
        let c = page_changes();
        (c.last().map(|(n, u)| (n.as_str(), u.clone()))
            == Some(("pop", format!("{o}/cotrail-modal"))))
        .then_some(c)
    })
    .await;
    // Nothing else: a popstate the page dispatches itself is still noise.
    eval("window.dispatchEvent(new PopStateEvent('popstate', {state: null}));");
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(page_changes(), changes);
    end();
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

#[wasm_bindgen_test]
async fn a_new_fragment_after_going_back_or_by_replace_is_a_hash_change() {
    let orig = original_url();
    begin("");
    let last_is = |nav: &'static str, hash: &'static str| {
        move || {
            let c = page_changes();
            c.last()
                .filter(|(n, u)| n == nav && u.ends_with(hash))
                .map(|_| c.clone())
        }
    };
    eval("location.hash = 'nf1';");
    wait_for("#nf1", 3_000.0, last_is("hash", "#nf1")).await;
    eval("location.hash = 'nf2';");
    wait_for("#nf2", 3_000.0, last_is("hash", "#nf2")).await;
    eval("history.back();");
    wait_for("back to #nf1", 3_000.0, last_is("pop", "#nf1")).await;
    // A new fragment after going back: the history does not grow.
    eval("location.hash = 'nf3';");
    wait_for("#nf3 as a hash change", 3_000.0, last_is("hash", "#nf3")).await;
    eval("location.replace('#nf4');");
    wait_for("#nf4 as a hash change", 3_000.0, last_is("hash", "#nf4")).await;
    eval("history.back();");
    wait_for("back to #nf1 again", 3_000.0, last_is("pop", "#nf1")).await;
    end();
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

/// A router that pushes a URL and jumps to an anchor in the same task: the
/// `popstate` of the fragment navigation fires synchronously, while the push is
/// only recorded by the 0 ms title timer, after it.
#[wasm_bindgen_test]
async fn a_hash_change_right_after_push_state_keeps_the_order_and_back_is_recorded() {
    let orig = original_url();
    begin("");
    let o = origin();
    eval("history.pushState({}, '', '/cotrail-d'); location.hash = 'anchor';");
    let changes = wait_for("push and hash change", 3_000.0, || {
        let c = page_changes();
        (c.len() >= 3).then_some(c)
    })
    .await;
    assert_eq!(
        changes[1..3]
            .iter()
            .map(|(_, u)| u.clone())
            .collect::<Vec<_>>(),
        [format!("{o}/cotrail-d"), format!("{o}/cotrail-d#anchor")],
        "the trail must follow the navigation order: {changes:?}"
    );
    eval("history.back();");
    let back = wait_for("back to /cotrail-d", 3_000.0, || {
        let c = page_changes();
        (c.len() >= 4).then_some(c)
    })
    .await;
    assert_eq!(
        back.last().unwrap(),
        &("pop".to_owned(), format!("{o}/cotrail-d")),
        "{back:?}"
    );
    end();
    eval(&format!("history.replaceState(null, '', {orig:?});"));
}

/// A page whose `setTimeout` and `clearTimeout` call back into the recorder
/// (a wrapper that flushes it and records a custom event, as a page that
/// traces its timers might): the recorder arms and cancels its timers holding
/// none of its state, so those calls work, nothing throws and recording goes
/// on.
#[wasm_bindgen_test]
async fn timers_that_call_back_into_the_recorder_do_not_break_it() {
    let host = mount(
        r#"<input id="tc-in"><div id="tc-pane" style="height:60px;overflow:auto"><div style="height:900px">long</div></div>
           <p id="tc-text">Some text to select</p>"#,
    );
    let orig = original_url();
    begin("");
    expose(
        "__timerHook",
        wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| {
            cotrail_recorder::flush();
            cotrail_recorder::record_custom(
                "timer".into(),
                wasm_bindgen::JsValue::from_f64(1.0),
                None,
            );
        }),
    );
    eval(
        "window.__st = window.setTimeout; window.__ct = window.clearTimeout; \
         window.__hookErrors = []; window.__inHook = false; window.__hooked = 0; \
         var hook = function () { if (window.__inHook) return; window.__inHook = true; \
           try { window.__hooked++; window.__timerHook(); } \
           catch (e) { window.__hookErrors.push(String(e)); } \
           finally { window.__inHook = false; } }; \
         window.setTimeout = function () { hook(); return window.__st.apply(window, arguments); }; \
         window.clearTimeout = function () { hook(); return window.__ct.apply(window, arguments); };",
    );
    // A batch retried too: its timer goes through the page's functions.
    eval("window.__plan = [{status: 503}];");
    type_into("tc-in", "first");
    type_into("tc-in", "second");
    eval("document.getElementById('tc-pane').scrollTop = 100;");
    sleep(50).await;
    eval("document.getElementById('tc-pane').scrollTop = 300;");
    select_contents("tc-text");
    eval("history.pushState({}, '', '/cotrail-timers');");
    fire("tc-in", "change");
    sleep(700).await;
    cotrail_recorder::flush();
    // (Each flush records the value typed so far: the last one is final.)
    let input = wait_for("the final value", 3_000.0, || {
        events_on("INPUT", "tc-in")
            .into_iter()
            .find(|e| e["data"]["value"] == "second")
    })
    .await;
    let scroll = wait_for("the final scroll", 3_000.0, || {
        events_on("SCROLL", "tc-pane")
            .into_iter()
            .find(|e| e["data"]["y"] == 300)
    })
    .await;
    end();
    eval("window.setTimeout = window.__st; window.clearTimeout = window.__ct;");
    eval(&format!("history.replaceState(null, '', {orig:?});"));
    assert_eq!(eval_str("return window.__hookErrors.join('|')"), "");
    assert!(eval("return window.__hooked").as_f64().unwrap() > 0.0);
    assert_eq!(input["data"]["value"], "second", "{input}");
    assert_eq!(scroll["data"]["y"], 300, "{scroll}");
    assert!(!events_of("SELECTION").is_empty());
    assert!(page_changes().iter().any(|(k, _)| k == "push"));
    assert!(events_of("CUSTOM_EVENT")
        .iter()
        .any(|e| e["data"]["type"] == "timer"));
    host.remove();
}

/// A page that replaced `navigation.entries()` with one answering something
/// that is no list: the recorder starts and records all the same.
#[wasm_bindgen_test]
async fn a_broken_navigation_entries_does_not_keep_the_recorder_from_starting() {
    let host = mount(r#"<button id="ne-btn">Go</button>"#);
    assert!(
        eval("return typeof navigation === 'object'").as_bool() == Some(true),
        "this Chromium has the Navigation API"
    );
    for answer in ["null", "undefined", "42", "{length: 2}"] {
        eval(&format!(
            "navigation.entries = function () {{ return {answer}; }};"
        ));
        begin("");
        click("ne-btn");
        let clicks = wait_for("the click", 3_000.0, || {
            let c = events_on("CLICK", "ne-btn");
            (!c.is_empty()).then_some(c)
        })
        .await;
        assert_eq!(clicks.len(), 1, "{answer}: {clicks:?}");
        end();
    }
    eval("delete navigation.entries;");
    host.remove();
}
