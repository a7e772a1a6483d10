//! Browser tests on a real DOM (headless Chromium through wasm-bindgen-test-runner):
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p cotrail-recorder --target wasm32-unknown-unknown`

#![cfg(target_arch = "wasm32")]

use cotrail_recorder::element::{describe, facts, is_blocked};
use cotrail_recorder::masking::{value_mask, MaskLevel};
use shared::MaskReason;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Document, Element};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Mounts `html` in a fresh container and returns the element with `id`.
fn mount(html: &str, id: &str) -> Element {
    let doc = document();
    let host = doc.create_element("div").unwrap();
    host.set_inner_html(html);
    doc.body().unwrap().append_child(&host).unwrap();
    doc.get_element_by_id(id).unwrap()
}

#[wasm_bindgen_test]
fn a_password_input_is_masked_as_password_and_keeps_no_value() {
    let el = mount(
        r#"<form id="f1"><label for="pw">Password</label><input id="pw" type="password" name="pw"></form>"#,
        "pw",
    );
    let f = facts(&el);
    assert_eq!(
        value_mask(&f, MaskLevel::Default),
        Some(MaskReason::Password)
    );
    let d = describe(&el, MaskLevel::Default);
    assert_eq!(d.tag, "input");
    assert_eq!(d.id.as_deref(), Some("pw"));
    assert_eq!(d.path, "input#pw");
    // The label of a masked field is withheld with its value.
    assert_eq!(d.label, None);
}

#[wasm_bindgen_test]
fn marked_ancestors_mask_and_blocked_ancestors_hide() {
    let el = mount(
        r#"<div data-cotrail-mask><p><input id="acct" type="text"></p></div>"#,
        "acct",
    );
    assert_eq!(
        value_mask(&facts(&el), MaskLevel::Default),
        Some(MaskReason::Marked)
    );
    let hidden = mount(
        r#"<section data-cotrail-block><b id="secret">x</b></section>"#,
        "secret",
    );
    assert!(is_blocked(&hidden));
    assert!(!is_blocked(&el));
}

#[wasm_bindgen_test]
fn descriptors_carry_a_short_path_and_a_readable_label() {
    let el = mount(
        r#"<main id="shop"><ul class="items"><li>a</li><li class="item"><button class="buy primary" name="b">  Add
             to cart </button></li></ul></main>"#,
        "shop",
    );
    let button = el.query_selector("button").unwrap().unwrap();
    let d = describe(&button, MaskLevel::Default);
    assert_eq!(
        d.path,
        "main#shop>ul.items>li.item:nth-of-type(2)>button.buy"
    );
    assert_eq!(d.label.as_deref(), Some("Add to cart"));
    assert_eq!(d.name.as_deref(), Some("b"));
    assert_eq!(d.id, None);

    let email = mount(
        r#"<label>E-mail <input id="em" type="email" autocomplete="email"></label>"#,
        "em",
    );
    assert_eq!(
        describe(&email, MaskLevel::Default).label.as_deref(),
        Some("E-mail")
    );
    let card = mount(r#"<input id="cc" autocomplete="cc-number">"#, "cc");
    assert_eq!(
        value_mask(&facts(&card), MaskLevel::Default),
        Some(MaskReason::CreditCard)
    );
}

fn eval(src: &str) -> JsValue {
    js_sys::Function::new_no_args(src)
        .call0(&JsValue::NULL)
        .unwrap()
}

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

/// Everything the fake collector received, as one string.
fn received() -> String {
    eval("return (window.__bodies || []).join('\\n')")
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
async fn the_recorder_captures_masks_and_delivers_in_order() {
    // A fake collector: every POST is kept and acknowledged.
    eval(
        "window.__bodies = []; window.fetch = function (url, init) { \
           window.__bodies.push(init.body); window.__url = url; \
           return Promise.resolve(new Response('{\"stored\":1,\"duplicates\":0}', {status: 200})); };",
    );
    let form = mount(
        r#"<form id="login" action="/login?next=x" method="post">
             <input id="user" name="user"><input id="pass" type="password">
             <button id="go" type="button">Sign in</button></form>"#,
        "login",
    );
    let config = eval(
        "return {collector: 'https://collector.test/', siteKey: 'pk_demo', sessionId: 'sess-1', flushMs: '100'};",
    );
    cotrail_recorder::start(config).unwrap();
    // Starting twice is ignored, not doubled.
    cotrail_recorder::start(eval("return {collector: 'https://other.test'};")).unwrap();

    let doc = document();
    let click = |id: &str| {
        doc.get_element_by_id(id)
            .unwrap()
            .dyn_into::<web_sys::HtmlElement>()
            .unwrap()
            .click()
    };
    let type_into = |id: &str, value: &str| {
        let el = doc.get_element_by_id(id).unwrap();
        js_sys::Reflect::set(&el, &"value".into(), &value.into()).unwrap();
        el.dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
    };
    click("go");
    type_into("user", "ada");
    type_into("pass", "hunter2-secret");
    cotrail_recorder::record_custom("cart".into(), eval("return {sku: 'A-1', qty: 2};"), None);
    cotrail_recorder::record_custom("".into(), JsValue::NULL, None); // warned, not recorded
    let _ = form;
    cotrail_recorder::agent_scope_enter("a-7".into());
    click("go");
    cotrail_recorder::agent_scope_exit();
    cotrail_recorder::flush();

    // Wait (with a deadline) for every batch to be acknowledged.
    let mut waited = 0;
    while !received().contains("CUSTOM_EVENT") || !received().contains("\"kind\":\"agent\"") {
        assert!(waited < 5_000, "nothing delivered: {}", received());
        sleep(50).await;
        waited += 50;
    }
    let all = received();
    let url = eval("return window.__url").as_string().unwrap();
    assert_eq!(
        url,
        "https://collector.test/api/v1/batches?site_key=pk_demo"
    );
    assert!(all.contains("\"session_id\":\"sess-1\""), "{all}");
    assert!(all.contains("\"type\":\"PAGE-CHANGE\""), "{all}");
    assert!(all.contains("\"type\":\"CLICK\""), "{all}");
    assert!(all.contains("\"label\":\"Sign in\""), "{all}");
    assert!(all.contains("\"value\":\"ada\""), "{all}");
    assert!(all.contains("\"masked\":\"password\""), "{all}");
    assert!(!all.contains("hunter2"), "a password left the page: {all}");
    assert!(
        all.contains("\"kind\":\"script\""),
        "untrusted clicks are the script's: {all}"
    );
    assert!(all.contains("{\"kind\":\"agent\",\"id\":\"a-7\"}"), "{all}");
    // The value as the page built it (the collector stores it with sorted keys).
    assert!(all.contains("{\"sku\":\"A-1\",\"qty\":2}"), "{all}");

    // Sequence numbers are contiguous from 0 across all batches.
    let seqs = eval(
        "return window.__bodies.map(function (b) { return JSON.parse(b).events; }) \
           .reduce(function (a, e) { return a.concat(e); }, []).map(function (e) { return e.seq; });",
    );
    let seqs: Vec<f64> = js_sys::Array::from(&seqs)
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = (0..seqs.len()).map(|i| i as f64).collect();
    assert_eq!(seqs, expected);
    // Started twice, yet each click is recorded once: the script's, then the agent's.
    let clicks = eval(
        "return window.__bodies.map(function (b) { return JSON.parse(b).events; }) \
           .reduce(function (a, e) { return a.concat(e); }, []) \
           .filter(function (e) { return e.type === 'CLICK'; }).length;",
    );
    assert_eq!(clicks.as_f64(), Some(2.0), "{all}");

    // After stop, nothing is recorded and history is restored.
    cotrail_recorder::stop();
    let before = eval("return window.__bodies.length").as_f64().unwrap();
    click("go");
    assert_eq!(
        eval("return history.hasOwnProperty('pushState') ? String(history.pushState) : 'restored'")
            .as_string()
            .unwrap(),
        "restored"
    );
    sleep(300).await;
    assert_eq!(
        eval("return window.__bodies.length").as_f64().unwrap(),
        before
    );
}
