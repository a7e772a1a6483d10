//! Browser tests of masking where private text hides in less obvious places: a
//! password field a "show" button turns into text, a card field's selection,
//! masked parts inside buttons, labels and editable areas, options of a masked
//! select, open shadow roots, the strict level's labels and titles; and of who
//! is credited with typing, scrolling and submitting.
//!
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p cotrail-recorder --target wasm32-unknown-unknown --test privacy`

#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use serde_json::Value;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Fails if any of `secrets` left the page (or waits to).
fn assert_none_left(secrets: &[&str]) {
    let all = everything();
    assert!(!all.is_empty(), "nothing was sent or saved");
    for secret in secrets {
        assert!(!all.contains(secret), "{secret} left the page: {all}");
    }
}

fn select_in_field(id: &str) {
    eval(&format!(
        "var f = document.getElementById('{id}'); f.focus(); f.select();"
    ));
}

#[wasm_bindgen_test]
async fn a_password_shown_as_text_stays_masked_before_and_after() {
    let host = mount(
        r#"<input id="pw-typed" type="password">
           <input id="pw-shown" type="password">
           <input id="pw-declared" type="text" autocomplete="current-password">
           <input id="pw-control" type="text">"#,
    );
    begin("");
    // Typed as a password, then shown.
    type_into("pw-typed", "typed-then-shown-41");
    eval("document.getElementById('pw-typed').type = 'text';");
    fire("pw-typed", "change");
    // Shown first (the mutation observer sees the switch), then typed.
    eval("document.getElementById('pw-shown').type = 'text';");
    sleep(50).await;
    type_into("pw-shown", "shown-then-typed-42");
    fire("pw-shown", "change");
    // A field the site declares a password, whatever its type.
    type_into("pw-declared", "declared-password-43");
    fire("pw-declared", "change");
    type_into("pw-control", "control-value-44");
    fire("pw-control", "change");
    for id in ["pw-typed", "pw-shown", "pw-declared"] {
        let e = first_on("INPUT", id).await;
        assert_eq!(e["data"]["masked"], "password", "{e}");
        assert!(e["data"].get("value").is_none(), "{e}");
    }
    assert_eq!(
        first_on("INPUT", "pw-control").await["data"]["value"],
        "control-value-44"
    );
    // Selecting inside the shown password field reveals nothing either.
    select_in_field("pw-shown");
    let sel = wait_for("a SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(sel["data"]["masked"], "password", "{sel}");
    assert_none_left(&["typed-then-shown", "shown-then-typed", "declared-password"]);
    eval("document.activeElement.blur();");
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn text_selected_in_a_card_field_is_masked_as_the_card() {
    let host = mount(
        r#"<input id="sel-card" autocomplete="billing cc-number" value="4111111111111111">
           <input id="sel-open" value="open-field-text">"#,
    );
    begin("");
    select_in_field("sel-card");
    let e = wait_for("the card's SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(e["data"]["masked"], "credit-card", "{e}");
    assert!(e["data"].get("text").is_none(), "{e}");
    // The control: an ordinary field's selection is recorded.
    select_in_field("sel-open");
    let e = wait_for("the open field's SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().nth(1)
    })
    .await;
    assert_eq!(e["data"]["text"], "open-field-text", "{e}");
    assert_none_left(&["4111111111111111"]);
    eval("document.activeElement.blur();");
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn masked_parts_of_buttons_labels_and_editable_areas_are_not_read() {
    let host = mount(
        r##"<button id="m-btn">Pay <span data-cotrail-mask>BUTTON-SECRET-51</span></button>
           <a id="m-link" href="#m-anchor">Account <span data-cotrail-mask>LINK-SECRET-52</span></a>
           <label for="m-field">Send to <span data-cotrail-mask>LABEL-SECRET-53</span></label>
           <input id="m-field">
           <div id="m-edit" contenteditable="true">Dear <span data-cotrail-mask>EDIT-SECRET-54</span></div>
           <span id="m-name">Sort code</span><input id="m-by" aria-labelledby="m-name">
           <span id="m-hidden-name" data-cotrail-mask>LABELLEDBY-SECRET-55</span>
           <input id="m-by-masked" aria-labelledby="m-hidden-name">
           <button id="m-plain">Plain button</button>"##,
    );
    begin("");
    for id in ["m-btn", "m-link", "m-plain"] {
        click(id);
    }
    type_into("m-field", "x");
    fire("m-field", "change");
    type_into("m-by", "12-34-56");
    fire("m-by", "change");
    type_into("m-by-masked", "y");
    fire("m-by-masked", "change");
    eval("var e = document.getElementById('m-edit'); e.append(' regards'); e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new FocusEvent('focusout', {bubbles: true}));");
    for id in ["m-btn", "m-link"] {
        let e = first_on("CLICK", id).await;
        assert!(e["data"]["target"].get("label").is_none(), "{e}");
    }
    assert_eq!(
        first_on("CLICK", "m-plain").await["data"]["target"]["label"],
        "Plain button"
    );
    let field = first_on("INPUT", "m-field").await;
    assert_eq!(field["data"]["value"], "x", "{field}");
    assert!(field["data"]["target"].get("label").is_none(), "{field}");
    let edit = first_on("INPUT", "m-edit").await;
    assert_eq!(edit["data"]["masked"], "marked", "{edit}");
    assert!(edit["data"].get("value").is_none(), "{edit}");
    assert_eq!(
        first_on("INPUT", "m-by").await["data"]["target"]["label"],
        "Sort code",
        "aria-labelledby names the field"
    );
    let by_masked = first_on("INPUT", "m-by-masked").await;
    assert!(
        by_masked["data"]["target"].get("label").is_none(),
        "{by_masked}"
    );
    assert_none_left(&[
        "BUTTON-SECRET",
        "LINK-SECRET",
        "LABEL-SECRET",
        "EDIT-SECRET",
        "LABELLEDBY-SECRET",
    ]);
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn an_option_of_a_card_select_is_clicked_without_its_text() {
    let host = mount(
        r#"<select id="exp" autocomplete="cc-exp-month" size="3">
             <option id="exp-02" value="02">02 EXPIRY-SECRET-61</option><option value="03">03</option></select>
           <select id="plain-sel" size="2"><option id="plain-opt">Open option</option></select>"#,
    );
    begin("");
    click("exp-02");
    click("plain-opt");
    let e = first_on("CLICK", "exp-02").await;
    assert!(e["data"]["target"].get("label").is_none(), "{e}");
    assert_eq!(
        first_on("CLICK", "plain-opt").await["data"]["target"]["label"],
        "Open option"
    );
    assert_none_left(&["EXPIRY-SECRET"]);
    end();
    host.remove();
}

/// A label kept in a blocked part names a control outside it (`<label for>`,
/// `aria-labelledby`): the control is recorded without that label.
#[wasm_bindgen_test]
async fn labels_kept_in_blocked_parts_are_not_read_for_controls_outside() {
    let host = mount(
        r#"<table><tr><td id="bl-iban" data-cotrail-block>IBAN-SECRET-71</td>
             <td><input id="bl-check" type="checkbox" aria-labelledby="bl-iban"></td></tr></table>
           <div data-cotrail-block><label for="bl-field">Account BLOCKED-LABEL-72</label></div>
           <input id="bl-field">
           <span id="bl-open">Open name</span><input id="bl-control" type="checkbox" aria-labelledby="bl-open">"#,
    );
    begin("");
    for id in ["bl-check", "bl-control"] {
        click(id);
    }
    type_into("bl-field", "x");
    fire("bl-field", "change");
    for (ty, id) in [
        ("CLICK", "bl-check"),
        ("INPUT", "bl-check"),
        ("INPUT", "bl-field"),
    ] {
        let e = first_on(ty, id).await;
        assert!(e["data"]["target"].get("label").is_none(), "{e}");
    }
    assert_eq!(
        first_on("CLICK", "bl-control").await["data"]["target"]["label"],
        "Open name",
        "the control: an open aria-labelledby target is read"
    );
    assert_none_left(&["IBAN-SECRET", "BLOCKED-LABEL"]);
    end();
    host.remove();
}

/// A select's value is the value of its selected option: one masked (or
/// blocked) option masks the select's INPUT values, single or multiple.
#[wasm_bindgen_test]
async fn a_select_holding_a_masked_option_records_no_value() {
    let host = mount(
        r#"<select id="mo-from"><option value="">Choose</option>
             <option data-cotrail-mask>OPTION-SECRET-73</option></select>
           <select id="mo-multi" multiple><option>Shown</option>
             <optgroup data-cotrail-block><option>OPTION-SECRET-74</option></optgroup></select>
           <select id="mo-plain"><option>One</option><option>Two</option></select>"#,
    );
    begin("");
    eval("var s = document.getElementById('mo-from'); s.selectedIndex = 1;");
    fire("mo-from", "change");
    eval("var m = document.getElementById('mo-multi'); m.options[0].selected = true; m.options[1].selected = true;");
    fire("mo-multi", "change");
    eval("document.getElementById('mo-plain').selectedIndex = 1;");
    fire("mo-plain", "change");
    for id in ["mo-from", "mo-multi"] {
        let e = first_on("INPUT", id).await;
        assert_eq!(e["data"]["masked"], "marked", "{e}");
        assert!(e["data"].get("value").is_none(), "{e}");
    }
    assert_eq!(
        first_on("INPUT", "mo-plain").await["data"]["value"],
        "Two",
        "the control: a select without masked options records its value"
    );
    assert_none_left(&["OPTION-SECRET"]);
    end();
    host.remove();
}

/// Page code that selects text elsewhere while a field keeps the focus: the
/// selection is the document's, masked by where it is, not by the field.
#[wasm_bindgen_test]
async fn a_selection_made_elsewhere_while_a_field_has_the_focus_is_masked_where_it_is() {
    let host = mount(
        r#"<input id="fs-search" value="find me">
           <div data-cotrail-mask><span id="fs-iban">FOCUS-IBAN-95</span></div>"#,
    );
    begin("");
    let e = next_selection("the search field's own SELECTION", || {
        select_in_field("fs-search")
    })
    .await;
    assert_eq!(e["data"]["text"], "find me", "{e}");
    assert_eq!(e["data"]["target"]["id"], "fs-search", "{e}");
    let e = next_selection("the masked text's SELECTION", || {
        select_in_field("fs-search");
        eval("getSelection().selectAllChildren(document.getElementById('fs-iban'));");
    })
    .await;
    assert_eq!(
        eval_str("return document.activeElement.id"),
        "fs-search",
        "the field kept the focus"
    );
    assert_eq!(e["data"]["masked"], "marked", "{e}");
    assert!(e["data"].get("text").is_none(), "{e}");
    cotrail_recorder::flush();
    sleep(300).await;
    assert_none_left(&["FOCUS-IBAN"]);
    eval("document.activeElement.blur();");
    end();
    host.remove();
}

/// The SELECTION recorded for what `select` selects, after the one before
/// it was cleared and had settled.
async fn next_selection(what: &str, select: impl FnOnce()) -> Value {
    clear_selection();
    sleep(600).await;
    let before = events_of("SELECTION").len();
    select();
    wait_for(what, 3_000.0, || {
        events_of("SELECTION").into_iter().nth(before)
    })
    .await
}

/// Attaches an open shadow root with `html` to `#host_id`.
fn shadow(host_id: &str, html: &str) {
    eval(&format!(
        "document.getElementById('{host_id}').attachShadow({{mode: 'open'}}).innerHTML = {html:?};"
    ));
}

fn in_shadow(host_id: &str, js: &str) {
    eval(&format!(
        "var root = document.getElementById('{host_id}').shadowRoot; {js}"
    ));
}

/// A component that shows page content (light DOM) inside a masked and a
/// blocked part of its shadow root: what the page shows there is masked or
/// ignored as if it were inside, and text selected from outside into it too.
#[wasm_bindgen_test]
async fn marks_and_blocks_in_a_shadow_root_reach_the_page_content_its_slots_show() {
    let host = mount(
        r#"<p id="sl-before">Plain text before the component</p>
           <div id="sl-comp">
             <span slot="secret"><b id="sl-text">SLOTTED-SECRET-81</b> <input id="sl-in"></span>
             <button slot="hidden" id="sl-hidden">SLOTTED-HIDDEN-82</button>
             <input id="sl-open">
           </div>
           <p id="sl-after">Plain text after the component</p>
           <p id="nest-before">Before the outer component</p>
           <div id="nest-outer"><b>NESTED-SECRET-85</b></div>
           <p id="nest-after">After the outer component</p>
           <div id="deep-wrap">Deep <span id="deep-outer">DEEP-TEXT</span> end</div>"#,
    );
    shadow(
        "sl-comp",
        r#"<div data-cotrail-mask><slot name="secret"></slot></div>
           <div data-cotrail-block><slot name="hidden"></slot></div>
           <div><slot></slot></div>"#,
    );
    // The outer component shows its content through an inner one, whose
    // slot is masked.
    shadow("nest-outer", r#"<div id="nest-inner"><slot></slot></div>"#);
    in_shadow(
        "nest-outer",
        "root.getElementById('nest-inner').attachShadow({mode: 'open'}).innerHTML = \
         '<span data-cotrail-mask><slot></slot></span>';",
    );
    begin("");
    type_into("sl-in", "SLOTTED-TYPED-83");
    fire("sl-in", "change");
    click("sl-hidden");
    click("sl-text");
    type_into("sl-open", "slotted-open-84");
    fire("sl-open", "change");
    let masked_in = first_on("INPUT", "sl-in").await;
    assert_eq!(masked_in["data"]["masked"], "marked", "{masked_in}");
    let text_click = first_on("CLICK", "sl-text").await;
    assert!(
        text_click["data"]["target"].get("label").is_none(),
        "{text_click}"
    );
    // The default slot is not masked: the control shows what was typed.
    assert_eq!(
        first_on("INPUT", "sl-open").await["data"]["value"],
        "slotted-open-84"
    );
    // Selected from plain text outside the component into the masked slot.
    let sel = next_selection("the SELECTION into the slot", || {
        select_between("sl-before", 0, "sl-text", 8)
    })
    .await;
    assert_eq!(sel["data"]["masked"], "marked", "{sel}");
    // Passed over from outside, both ends outside the component: from the
    // text before it to the paragraph after it.
    let over = next_selection("the SELECTION over the slot", || {
        select_between("sl-before", 0, "sl-after", 5)
    })
    .await;
    assert_eq!(over["data"]["masked"], "marked", "{over}");
    // The same through a component that forwards its slot into another's
    // masked slot, and, as a control, over plain page content only.
    let nested = next_selection("the SELECTION over the forwarded slot", || {
        select_between("nest-before", 0, "nest-after", 5)
    })
    .await;
    assert_eq!(nested["data"]["masked"], "marked", "{nested}");
    let plain = next_selection("the plain SELECTION", || select_contents("sl-after")).await;
    assert_eq!(
        plain["data"]["text"], "Plain text after the component",
        "{plain}"
    );
    // Components nested deeper than the recorder searches: a selection over
    // them is withheld, as it cannot be checked.
    eval(
        "var el = document.getElementById('deep-outer'); \
         for (var i = 0; i < 10; i++) { \
           var root = el.attachShadow({mode: 'open'}); \
           root.innerHTML = '<div><slot></slot></div>'; el = root.firstChild; }",
    );
    let deep = next_selection("the SELECTION over deep components", || {
        select_contents("deep-wrap")
    })
    .await;
    assert!(deep["data"].get("text").is_none(), "{deep}");
    cotrail_recorder::flush();
    sleep(300).await;
    assert!(
        events_on("CLICK", "sl-hidden").is_empty(),
        "{:?}",
        events_of("CLICK")
    );
    assert_none_left(&[
        "SLOTTED-SECRET",
        "SLOTTED-HIDDEN",
        "SLOTTED-TYPED",
        "sl-hidden",
        "NESTED-SECRET",
    ]);
    clear_selection();
    end();
    host.remove();
}

/// A component's own scroller and form (Ionic's `ion-content`, a Lit form):
/// `scroll` and `submit` do not leave a shadow root, so the recorder listens
/// in each one.
#[wasm_bindgen_test]
async fn scrolls_and_submits_inside_a_shadow_root_are_recorded() {
    let host = mount(r#"<div id="sr-comp"><form id="sr-light"></form></div>"#);
    shadow(
        "sr-comp",
        r#"<div id="sr-pane" style="height:60px;overflow:auto"><div style="height:900px">long</div></div>
           <form id="sr-form" action="/apply?secret=1"><button id="sr-go" type="button">Go</button></form><slot></slot>"#,
    );
    eval("document.getElementById('sr-light').addEventListener('submit', function (e) { e.preventDefault(); });");
    in_shadow(
        "sr-comp",
        "root.getElementById('sr-form').addEventListener('submit', function (e) { e.preventDefault(); });",
    );
    begin("");
    // The first event out of the component: the recorder sees its root.
    in_shadow("sr-comp", "root.getElementById('sr-go').click();");
    first_on("CLICK", "sr-go").await;
    in_shadow("sr-comp", "root.getElementById('sr-pane').scrollTop = 400;");
    in_shadow("sr-comp", "root.getElementById('sr-form').requestSubmit();");
    let scroll = first_on("SCROLL", "sr-pane").await;
    assert_eq!(scroll["data"]["y"], 400, "{scroll}");
    let form = first_on("FORM", "sr-form").await;
    assert!(
        form["data"]["action"].as_str().unwrap().ends_with("/apply"),
        "{form}"
    );
    // A page form shown in the component's slot is the document's: once.
    eval("document.getElementById('sr-light').requestSubmit();");
    first_on("FORM", "sr-light").await;
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(events_on("FORM", "sr-light").len(), 1);
    // Stopped: the listeners in the root are gone with the rest.
    end();
    let before = events().len();
    in_shadow("sr-comp", "root.getElementById('sr-pane').scrollTop = 10;");
    sleep(400).await;
    assert_eq!(events().len(), before);
    host.remove();
}

/// Types `value` into `#field` of `#host`'s shadow root (`input` and
/// `change`, composed, as a keyboard would send them).
fn type_in_shadow(host_id: &str, field: &str, value: &str) {
    in_shadow(
        host_id,
        &format!(
            "var f = root.getElementById('{field}'); f.value = {value:?}; \
             f.dispatchEvent(new Event('input', {{bubbles: true, composed: true}})); \
             f.dispatchEvent(new Event('change', {{bubbles: true, composed: true}}));"
        ),
    );
}

/// A script outside a component switches the password field inside it to
/// text before anything happens in the component: the recorder knows the
/// component's password fields from the moment its shadow root exists (at
/// start for the roots already there, from `attachShadow` for later ones,
/// also when the component renders its field after attaching the root), not
/// from the first event that comes out of it.
#[wasm_bindgen_test]
async fn a_password_in_a_shadow_root_shown_as_text_before_any_event_stays_masked() {
    let host = mount(
        r#"<div id="pq-early"></div><div id="pq-nest"></div><div id="pq-late"></div>
           <div id="pq-render"></div><div id="pq-plain"></div>"#,
    );
    // A root there before start, and one nested in another's.
    shadow("pq-early", r#"<input id="pq-early-in" type="password">"#);
    shadow("pq-nest", r#"<div id="pq-nest-inner"></div>"#);
    in_shadow(
        "pq-nest",
        "root.getElementById('pq-nest-inner').attachShadow({mode: 'open'}).innerHTML = \
         '<input id=\"pq-nest-in\" type=\"password\">';",
    );
    shadow("pq-plain", r#"<input id="pq-plain-in">"#);
    begin("");
    // Roots attached after start: filled at once, and rendered into later.
    shadow("pq-late", r#"<input id="pq-late-in" type="password">"#);
    shadow("pq-render", "");
    sleep(50).await;
    in_shadow(
        "pq-render",
        "root.innerHTML = '<input id=\"pq-render-in\" type=\"password\">';",
    );
    sleep(50).await;
    for (host_id, field) in [
        ("pq-early", "pq-early-in"),
        ("pq-late", "pq-late-in"),
        ("pq-render", "pq-render-in"),
    ] {
        in_shadow(
            host_id,
            &format!("root.getElementById('{field}').type = 'text';"),
        );
    }
    in_shadow(
        "pq-nest",
        "root.getElementById('pq-nest-inner').shadowRoot.getElementById('pq-nest-in').type = 'text';",
    );
    sleep(50).await;
    type_in_shadow("pq-early", "pq-early-in", "EARLY-SHOWN-91");
    type_in_shadow("pq-late", "pq-late-in", "LATE-SHOWN-92");
    type_in_shadow("pq-render", "pq-render-in", "RENDER-SHOWN-93");
    in_shadow(
        "pq-nest",
        "var f = root.getElementById('pq-nest-inner').shadowRoot.getElementById('pq-nest-in'); \
         f.value = 'NEST-SHOWN-94'; \
         f.dispatchEvent(new Event('input', {bubbles: true, composed: true})); \
         f.dispatchEvent(new Event('change', {bubbles: true, composed: true}));",
    );
    type_in_shadow("pq-plain", "pq-plain-in", "plain-shadow-95");
    for id in ["pq-early-in", "pq-late-in", "pq-render-in", "pq-nest-in"] {
        let e = first_on("INPUT", id).await;
        assert_eq!(e["data"]["masked"], "password", "{e}");
    }
    // The control: a plain field in a root records its value.
    assert_eq!(
        first_on("INPUT", "pq-plain-in").await["data"]["value"],
        "plain-shadow-95"
    );
    cotrail_recorder::flush();
    sleep(300).await;
    assert_none_left(&["EARLY-SHOWN", "LATE-SHOWN", "RENDER-SHOWN", "NEST-SHOWN"]);
    end();
    host.remove();
}

/// Scrolls and submits inside a component are recorded before any event
/// comes out of it: in roots there at start (nested ones too) and in roots
/// attached later. Stopping puts the page's `attachShadow` back.
#[wasm_bindgen_test]
async fn scrolls_and_submits_in_a_shadow_root_are_recorded_before_any_event_comes_out() {
    let host = mount(r#"<div id="sq-early"></div><div id="sq-late"></div>"#);
    let pane = r#"<div id="PANE" style="height:60px;overflow:auto"><div style="height:900px">long</div></div>
           <form id="FORM" action="/apply"></form>"#;
    shadow("sq-early", r#"<div id="sq-inner"></div>"#);
    in_shadow(
        "sq-early",
        &format!(
            "root.getElementById('sq-inner').attachShadow({{mode: 'open'}}).innerHTML = {:?};",
            pane.replace("PANE", "sq-early-pane")
                .replace("FORM", "sq-early-form")
        ),
    );
    let original = eval("return Element.prototype.attachShadow;");
    begin("");
    shadow(
        "sq-late",
        &pane
            .replace("PANE", "sq-late-pane")
            .replace("FORM", "sq-late-form"),
    );
    let early = "var root = document.getElementById('sq-early').shadowRoot\
                 .getElementById('sq-inner').shadowRoot;";
    let late = "var root = document.getElementById('sq-late').shadowRoot;";
    for (root, name) in [(early, "sq-early"), (late, "sq-late")] {
        eval(&format!(
            "{root} var f = root.getElementById('{name}-form'); \
             f.addEventListener('submit', function (e) {{ e.preventDefault(); }}); \
             root.getElementById('{name}-pane').scrollTop = 300; f.requestSubmit();"
        ));
    }
    for name in ["sq-early", "sq-late"] {
        let scroll = first_on("SCROLL", &format!("{name}-pane")).await;
        assert_eq!(scroll["data"]["y"], 300, "{scroll}");
        first_on("FORM", &format!("{name}-form")).await;
    }
    // The page's bad call fails as it would without the recorder.
    assert_eq!(
        eval_str(
            "try { document.createElement('input').attachShadow({mode: 'open'}); \
               return 'no error'; } catch (e) { return e.name; }"
        ),
        "NotSupportedError"
    );
    let kept = eval("return Element.prototype.attachShadow;");
    end();
    let restored = eval("return Element.prototype.attachShadow;");
    assert!(
        restored == original,
        "stop() leaves Element.prototype.attachShadow as the page had it"
    );
    // A library that kept the patched method still makes roots with it.
    js_sys::Reflect::set(&js_sys::global(), &"__keptAttach".into(), &kept).unwrap();
    assert_eq!(
        eval_str(
            "var el = document.createElement('div'); \
             return String(window.__keptAttach.call(el, {mode: 'open'}) === el.shadowRoot);"
        ),
        "true"
    );
    host.remove();
}

#[wasm_bindgen_test]
async fn marks_and_blocks_reach_into_open_shadow_roots() {
    let host = mount(
        r#"<div data-cotrail-mask><div id="sh-masked"></div></div>
           <div data-cotrail-block><div id="sh-blocked"></div></div>
           <div id="sh-plain"></div>"#,
    );
    shadow(
        "sh-masked",
        r#"<button id="sh-m-btn">SHADOW-MASKED-71</button><input id="sh-m-in">"#,
    );
    shadow(
        "sh-blocked",
        r#"<button id="sh-b-btn">SHADOW-BLOCKED-72</button>"#,
    );
    shadow(
        "sh-plain",
        r#"<input id="sh-p-in"><p>open <b id="sh-p-secret" data-cotrail-mask>SHADOW-INNER-73</b></p>"#,
    );
    begin("");
    in_shadow("sh-masked", "root.getElementById('sh-m-btn').click();");
    in_shadow("sh-blocked", "root.getElementById('sh-b-btn').click();");
    in_shadow(
        "sh-masked",
        "var f = root.getElementById('sh-m-in'); f.value = 'SHADOW-TYPED-74'; \
         f.dispatchEvent(new Event('input', {bubbles: true, composed: true})); \
         f.dispatchEvent(new Event('change', {bubbles: true, composed: true}));",
    );
    in_shadow(
        "sh-plain",
        "var f = root.getElementById('sh-p-in'); f.value = 'shadow-open-75'; \
         f.dispatchEvent(new Event('input', {bubbles: true, composed: true})); \
         f.dispatchEvent(new Event('change', {bubbles: true, composed: true}));",
    );
    let click = first_on("CLICK", "sh-m-btn").await;
    assert!(click["data"]["target"].get("label").is_none(), "{click}");
    let masked_in = first_on("INPUT", "sh-m-in").await;
    assert_eq!(masked_in["data"]["masked"], "marked", "{masked_in}");
    // The field inside the component, with its value, not the host's text.
    let open_in = first_on("INPUT", "sh-p-in").await;
    assert_eq!(open_in["data"]["value"], "shadow-open-75", "{open_in}");
    // Text selected inside the shadow root, in a masked element.
    in_shadow(
        "sh-plain",
        "var r = document.createRange(); r.selectNodeContents(root.getElementById('sh-p-secret')); \
         var s = document.getSelection(); s.removeAllRanges(); s.addRange(r);",
    );
    let sel = wait_for("the shadow SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(sel["data"]["masked"], "marked", "{sel}");
    cotrail_recorder::flush();
    sleep(300).await;
    assert!(
        events_on("CLICK", "sh-b-btn").is_empty(),
        "{:?}",
        events_of("CLICK")
    );
    assert_none_left(&[
        "SHADOW-MASKED",
        "SHADOW-BLOCKED",
        "SHADOW-INNER",
        "SHADOW-TYPED",
        "sh-b-btn",
    ]);
    eval("document.getSelection().removeAllRanges();");
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn the_strict_level_records_no_labels_and_no_titles() {
    let host = mount(r#"<button id="st-btn">Welcome STRICT-NAME-81</button>"#);
    let title =
        eval_str("var t = document.title; document.title = 'Hello STRICT-TITLE-82'; return t;");
    begin("mask: 'strict'");
    click("st-btn");
    let e = first_on("CLICK", "st-btn").await;
    assert!(e["data"]["target"].get("label").is_none(), "{e}");
    let page = wait_for("the PAGE-CHANGE", 3_000.0, || {
        events_of("PAGE-CHANGE").into_iter().next()
    })
    .await;
    assert_eq!(page["data"]["title"], "", "{page}");
    assert_none_left(&["STRICT-NAME", "STRICT-TITLE"]);
    end();
    eval(&format!("document.title = {title:?};"));
    host.remove();
}

/// A site that marks its `<title>` (or the whole `<html>`) masked gets no
/// titles in PAGE-CHANGE, at the default level too.
#[wasm_bindgen_test]
async fn a_masked_title_is_not_recorded() {
    let title = eval_str(
        "var t = document.title; document.title = 'Account MASKED-TITLE-96';          document.querySelector('title').setAttribute('data-cotrail-mask', ''); return t;",
    );
    begin("");
    let page = wait_for("the first PAGE-CHANGE", 3_000.0, || {
        events_of("PAGE-CHANGE").into_iter().next()
    })
    .await;
    assert_eq!(page["data"]["title"], "", "{page}");
    // A mask on <html> covers the title too.
    eval(
        "document.querySelector('title').removeAttribute('data-cotrail-mask');          document.documentElement.setAttribute('data-cotrail-mask', '');          history.pushState(null, '', '#masked-html');",
    );
    let page = wait_for("the second PAGE-CHANGE", 3_000.0, || {
        events_of("PAGE-CHANGE").into_iter().nth(1)
    })
    .await;
    assert_eq!(page["data"]["title"], "", "{page}");
    // The control: unmasked, the title is recorded.
    eval(
        "document.documentElement.removeAttribute('data-cotrail-mask');          history.pushState(null, '', '#open-title');",
    );
    let page = wait_for("the third PAGE-CHANGE", 3_000.0, || {
        events_of("PAGE-CHANGE").into_iter().nth(2)
    })
    .await;
    assert_eq!(page["data"]["title"], "Account MASKED-TITLE-96", "{page}");
    end();
    eval(&format!(
        "document.title = {title:?}; history.replaceState(null, '', location.pathname + location.search);"
    ));
}

#[wasm_bindgen_test]
async fn a_multiple_select_records_every_selected_value() {
    let host = mount(
        r#"<select id="multi" multiple>
             <option value="alpha" selected>A</option><option value="beta">B</option>
             <option value="gamma" selected>C</option></select>"#,
    );
    begin("");
    fire("multi", "change");
    let e = first_on("INPUT", "multi").await;
    assert_eq!(e["data"]["value"], "alpha, gamma", "{e}");
    end();
    host.remove();
}

/// A page whose patched `getAttribute` throws for a field hides its type
/// and autocomplete from the recorder: the field is masked as marked, not
/// recorded as an ordinary one (and nothing is thrown into the page).
#[wasm_bindgen_test]
async fn a_field_whose_attributes_cannot_be_read_is_masked() {
    let host = mount(r#"<input id="odd-card" autocomplete="cc-number"><input id="odd-open">"#);
    begin("");
    eval(
        "window.__getAttribute = Element.prototype.getAttribute; \
         Element.prototype.getAttribute = function (name) { \
           if (this.id === 'odd-card') throw new Error('patched'); \
           return window.__getAttribute.call(this, name); };",
    );
    type_into("odd-card", "4111111111111111");
    fire("odd-card", "change");
    type_into("odd-open", "open-value");
    fire("odd-open", "change");
    let open = first_on("INPUT", "odd-open").await;
    // Its id is unread too: the card field's event is the other INPUT.
    let card = wait_for("the card field's INPUT", 3_000.0, || {
        events_of("INPUT")
            .into_iter()
            .find(|e| e["data"]["target"]["id"] != "odd-open")
    })
    .await;
    eval("Element.prototype.getAttribute = window.__getAttribute;");
    assert_eq!(card["data"]["masked"], "marked", "{card}");
    assert!(card["data"].get("value").is_none(), "{card}");
    // The control: the other field reads as usual.
    assert_eq!(open["data"]["value"], "open-value", "{open}");
    assert_none_left(&["4111111111111111"]);
    end();
    host.remove();
}

/// A page whose `getAttribute` (read for a new password field's id and name)
/// and `WeakMap` `get` (the recorder's set of hooked shadow roots) call back
/// into the recorder: an `input` on another field, a shadow root attached.
/// The recorder reads them holding none of its state: no error reaches the
/// page, the field's value is recorded, the new password field is
/// remembered, and the root made inside is hooked.
#[wasm_bindgen_test]
async fn dom_methods_that_call_back_into_the_recorder_do_not_break_it() {
    let host = mount(r#"<input id="re-text"><div id="re-host"></div><div id="re-inner"></div>"#);
    begin("");
    eval(
        "window.__pageErrors = []; \
         addEventListener('error', function (e) { window.__pageErrors.push(String(e.message)); }); \
         window.__getAttribute = Element.prototype.getAttribute; window.__typed = false; \
         Element.prototype.getAttribute = function (name) { \
           if (!window.__typed && this.id === 're-pw' && name === 'name') { \
             window.__typed = true; var t = document.getElementById('re-text'); \
             t.value = 'typed inside'; t.dispatchEvent(new Event('input', {bubbles: true})); } \
           return window.__getAttribute.call(this, name); }; \
         window.__weakGet = WeakMap.prototype.get; window.__attached = false; \
         WeakMap.prototype.get = function (key) { \
           if (!window.__attached && key && key.host && key.host.id === 're-host') { \
             window.__attached = true; \
             document.getElementById('re-inner').attachShadow({mode: 'open'}).innerHTML = \
               '<input type=password id=re-inner-pw name=pin>'; } \
           return window.__weakGet.call(this, key); };",
    );
    // A password field added after start: its id and name are read.
    let pw = document().create_element("input").unwrap();
    for (k, v) in [("type", "password"), ("id", "re-pw"), ("name", "secret")] {
        pw.set_attribute(k, v).unwrap();
    }
    host.append_child(&pw).unwrap();
    // A shadow root attached after start: looked up in the hooked set.
    eval(
        "document.getElementById('re-host').attachShadow({mode: 'open'}).innerHTML = '<p>in</p>';",
    );
    sleep(50).await;
    eval(
        "Element.prototype.getAttribute = window.__getAttribute; \
         WeakMap.prototype.get = window.__weakGet;",
    );
    assert_eq!(eval("return window.__typed"), wasm_bindgen::JsValue::TRUE);
    assert_eq!(
        eval("return window.__attached"),
        wasm_bindgen::JsValue::TRUE
    );
    assert_eq!(eval_str("return window.__pageErrors.join('|')"), "");
    fire("re-text", "change");
    let text = first_on("INPUT", "re-text").await;
    assert_eq!(text["data"]["value"], "typed inside", "{text}");
    // Shown as text later, the field is still a password field.
    pw.set_attribute("type", "text").unwrap();
    type_into("re-pw", "hunter2-reentered");
    fire("re-pw", "change");
    let shown = first_on("INPUT", "re-pw").await;
    assert!(shown["data"].get("value").is_none(), "{shown}");
    // The inner root's password field, typed into as text, is masked too.
    eval(
        "var f = document.getElementById('re-inner').shadowRoot.getElementById('re-inner-pw'); \
         f.type = 'text'; f.value = 'inner-pin-9'; \
         f.dispatchEvent(new Event('input', {bubbles: true, composed: true})); \
         f.dispatchEvent(new Event('change', {bubbles: true, composed: true}));",
    );
    cotrail_recorder::flush();
    sleep(200).await;
    assert_none_left(&["hunter2-reentered", "inner-pin-9"]);
    end();
    host.remove();
}

/// `multiple` on an input (a list of e-mail addresses) is not a select's:
/// the value typed is recorded, not an empty list of selected options.
#[wasm_bindgen_test]
async fn an_input_with_multiple_records_its_value() {
    let host = mount(r#"<input id="cc-list" type="email" name="cc" multiple>"#);
    begin("");
    type_into("cc-list", "ada@example.com,alan@example.com");
    fire("cc-list", "change");
    let e = first_on("INPUT", "cc-list").await;
    assert_eq!(
        e["data"]["value"], "ada@example.com,alan@example.com",
        "{e}"
    );
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_click_on_a_label_is_one_click() {
    let host = mount(
        r#"<label id="lbl-agree" for="agree">I agree</label><input id="agree" type="checkbox">"#,
    );
    begin("");
    click("lbl-agree");
    let e = first_on("CLICK", "lbl-agree").await;
    assert_eq!(e["data"]["target"]["label"], "I agree");
    assert_eq!(
        first_on("INPUT", "agree").await["data"]["checked"],
        true,
        "the box was ticked"
    );
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(
        events_of("CLICK").len(),
        1,
        "the click the label passed on is not a second one: {:?}",
        events_of("CLICK")
    );
    // A later click on the box itself is its own event.
    sleep(100).await;
    click("agree");
    wait_for("the second click", 3_000.0, || {
        events_on("CLICK", "agree").into_iter().next()
    })
    .await;
    assert_eq!(
        events_of("CLICK").len(),
        2,
        "one event per click: {:?}",
        events_of("CLICK")
    );
    end();
    host.remove();
}

/// A co-browsing tool that passes an agent id the recorder cannot take (an
/// e-mail address): the action is still the agent's, under the id made
/// valid, with a warning; not the customer's or `script`'s.
#[wasm_bindgen_test]
async fn an_agent_id_that_is_not_valid_is_warned_about_and_still_credits_the_agent() {
    let host = mount(r#"<button id="bad-agent-btn">Approve</button>"#);
    begin("");
    capture_warnings();
    cotrail_recorder::agent_scope_enter("jane.doe@bank.com".into());
    click("bad-agent-btn");
    cotrail_recorder::agent_scope_exit();
    let e = first_on("CLICK", "bad-agent-btn").await;
    assert_eq!(e["actor"]["kind"], "agent", "{e}");
    assert_eq!(e["actor"]["id"], "jane.doe_bank.com", "{e}");
    let warned = warnings();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("contains '@'") && w.contains("\"jane.doe_bank.com\"")),
        "{warned:?}"
    );
    end();
    host.remove();
}

/// A page that scrolls by itself all the time (a ticker moving every few
/// frames): scrolls right after an agent's action keep the agent credited for
/// a while, but not for ever, and never a later selection or submit.
#[wasm_bindgen_test]
async fn a_page_that_keeps_scrolling_does_not_keep_the_agent_credited() {
    let host = mount(
        r#"<div id="tk-pane" style="height:40px;overflow:auto"><div style="height:100000px">ticker</div></div>
           <button id="tk-btn">Approve</button><p id="tk-text">Some text</p>"#,
    );
    begin("");
    eval(
        "window.__ticker = setInterval(function () {            document.getElementById('tk-pane').scrollTop += 5; }, 30);",
    );
    cotrail_recorder::agent_scope_enter("agent-5".into());
    click("tk-btn");
    cotrail_recorder::agent_scope_exit();
    sleep(300).await;
    select_contents("tk-text");
    let selection = wait_for("the SELECTION", 3_000.0, || {
        events_of("SELECTION").into_iter().next()
    })
    .await;
    assert_eq!(selection["actor"]["kind"], "customer", "{selection}");
    let agents = || {
        events_on("SCROLL", "tk-pane")
            .into_iter()
            .filter(|e| e["actor"]["kind"] == "agent")
            .count()
    };
    sleep(3_500).await;
    let agents_then = agents();
    let later = wait_for("a SCROLL of the customer's", 3_000.0, || {
        events_on("SCROLL", "tk-pane")
            .into_iter()
            .find(|e| e["actor"]["kind"] == "customer")
    })
    .await;
    sleep(500).await;
    eval("clearInterval(window.__ticker);");
    assert_eq!(
        agents(),
        agents_then,
        "no agent scrolls after the cap: {later}"
    );
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn typing_and_scrolling_by_an_agent_stay_the_agents() {
    let host = mount(
        r#"<input id="ag-field">
           <div id="ag-pane" style="height:80px;overflow:auto"><div style="height:800px">tall</div></div>"#,
    );
    begin("");
    cotrail_recorder::agent_scope_enter("agent-9".into());
    type_into("ag-field", "agent typed this");
    eval("document.getElementById('ag-pane').scrollTop = 300;");
    cotrail_recorder::agent_scope_exit();
    // The field loses focus outside the scope: the value is still the agent's.
    fire("ag-field", "focusout");
    let input = first_on("INPUT", "ag-field").await;
    assert_eq!(input["actor"]["kind"], "agent", "{input}");
    assert_eq!(input["actor"]["id"], "agent-9", "{input}");
    let scroll = first_on("SCROLL", "ag-pane").await;
    assert_eq!(scroll["actor"]["kind"], "agent", "{scroll}");
    // Well after the scope, a scroll is no longer the agent's.
    sleep(400).await;
    eval("document.getElementById('ag-pane').scrollTop = 500;");
    let later = wait_for("the later SCROLL", 3_000.0, || {
        events_on("SCROLL", "ag-pane")
            .into_iter()
            .find(|e| e["data"]["y"] == 500)
    })
    .await;
    assert_ne!(later["actor"]["kind"], "agent", "{later}");
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_password_input_replaced_by_a_text_input_stays_masked() {
    let host = mount(
        r#"<input id="rp-typed" name="pin" type="password">
           <input id="rp-first" type="password">"#,
    );
    begin("");
    // A "show" button that swaps the input for a new `type="text"` one with
    // the same id and name (and value), after typing or before it.
    let swap = |id: &str| {
        eval(&format!(
            "var o = document.getElementById('{id}'); var n = document.createElement('input'); \
             n.type = 'text'; n.id = o.id; if (o.name) n.name = o.name; n.value = o.value; o.replaceWith(n);"
        ))
    };
    type_into("rp-typed", "replaced-before-61");
    swap("rp-typed");
    type_into("rp-typed", "replaced-before-61-and-after-62");
    fire("rp-typed", "change");
    swap("rp-first");
    type_into("rp-first", "replaced-first-63");
    fire("rp-first", "change");
    for id in ["rp-typed", "rp-first"] {
        let evs = wait_for(&format!("INPUT on #{id}"), 3_000.0, || {
            let e = events_on("INPUT", id);
            (!e.is_empty()).then_some(e)
        })
        .await;
        for e in evs {
            assert_eq!(e["data"]["masked"], "password", "{e}");
        }
    }
    cotrail_recorder::flush();
    sleep(300).await;
    assert_none_left(&["replaced-before", "replaced-first"]);
    end();
    host.remove();
}

/// A wizard that moves on when Enter is pressed removes the field from its
/// masked section before the value's debounce ends: the value is masked as
/// the field was when it was typed into.
#[wasm_bindgen_test]
async fn a_masked_field_removed_before_its_value_settles_stays_masked() {
    let host = mount(
        r#"<section data-cotrail-mask><input id="rm-iban"><input id="rm-moved"></section>
           <input id="rm-plain">"#,
    );
    begin("");
    type_into("rm-iban", "REMOVED-IBAN-91");
    type_into("rm-moved", "MOVED-IBAN-92");
    type_into("rm-plain", "plain words");
    eval(
        "document.getElementById('rm-iban').remove();          document.body.appendChild(document.getElementById('rm-moved'));",
    );
    for id in ["rm-iban", "rm-moved"] {
        let e = first_on("INPUT", id).await;
        assert_eq!(e["data"]["masked"], "marked", "{e}");
        assert!(e["data"].get("value").is_none(), "{e}");
    }
    // The control: a field that was never masked keeps its value.
    assert_eq!(
        first_on("INPUT", "rm-plain").await["data"]["value"],
        "plain words"
    );
    cotrail_recorder::flush();
    sleep(300).await;
    assert_none_left(&["REMOVED-IBAN", "MOVED-IBAN"]);
    end();
    by_id("rm-moved").remove();
    host.remove();
}

/// A login form rendered after the recorder started (a single-page app's
/// route), whose password field a "show" button swaps for a text input before
/// anything is typed: with the same id, and without any.
#[wasm_bindgen_test]
async fn a_password_field_added_later_and_swapped_before_typing_stays_masked() {
    let host = mount(r#"<div id="late-login"></div>"#);
    begin("");
    eval(
        "document.getElementById('late-login').innerHTML =            '<form><input id=\"late-pw\" type=\"password\"><span><input type=\"password\" class=\"late-anon\"></span></form>';",
    );
    sleep(50).await;
    // Swapped, as `v-if`/`v-else` or `replaceWith` do: the same id, or none.
    eval(
        "var o = document.getElementById('late-pw'); var n = document.createElement('input');          n.type = 'text'; n.id = 'late-pw'; o.replaceWith(n);          var a = document.querySelector('.late-anon'); var m = document.createElement('input');          m.type = 'text'; m.id = 'late-anon-shown'; a.replaceWith(m);",
    );
    sleep(50).await;
    type_into("late-pw", "LATE-SHOWN-93");
    fire("late-pw", "change");
    type_into("late-anon-shown", "LATE-ANON-94");
    fire("late-anon-shown", "change");
    for id in ["late-pw", "late-anon-shown"] {
        let e = first_on("INPUT", id).await;
        assert_eq!(e["data"]["masked"], "password", "{e}");
    }
    // The control: the whole form re-rendered (an `innerHTML` swap) puts a
    // new e-mail field where a password field was; it is no password.
    eval(
        "document.querySelector('#late-login form').innerHTML =            '<input id=\"late-email\" name=\"email\"><input type=\"password\" id=\"late-pw2\">';",
    );
    sleep(50).await;
    type_into("late-email", "ada@example.com");
    fire("late-email", "change");
    let e = first_on("INPUT", "late-email").await;
    assert_eq!(e["data"]["value"], "ada@example.com", "{e}");
    cotrail_recorder::flush();
    sleep(300).await;
    assert_none_left(&["LATE-SHOWN", "LATE-ANON"]);
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_show_button_inside_a_component_keeps_its_password_masked() {
    let host = mount(r#"<div id="pw-comp"></div>"#);
    shadow(
        "pw-comp",
        r#"<input id="sp" type="password"><button id="sp-eye" type="button">Show</button>"#,
    );
    in_shadow(
        "pw-comp",
        "root.getElementById('sp-eye').addEventListener('click', function () { \
           var f = root.getElementById('sp'); f.type = f.type === 'password' ? 'text' : 'password'; });",
    );
    begin("");
    // Shown before anything is typed: the recorder never saw it as a password
    // field in an event, and the document's observer does not see into the
    // component.
    in_shadow("pw-comp", "root.getElementById('sp-eye').click();");
    assert_eq!(
        eval_str("return document.getElementById('pw-comp').shadowRoot.getElementById('sp').type"),
        "text"
    );
    in_shadow(
        "pw-comp",
        "var f = root.getElementById('sp'); f.value = 'component-shown-71'; \
         f.dispatchEvent(new Event('input', {bubbles: true, composed: true})); \
         f.dispatchEvent(new Event('change', {bubbles: true, composed: true}));",
    );
    let e = first_on("INPUT", "sp").await;
    assert_eq!(e["data"]["masked"], "password", "{e}");
    assert_none_left(&["component-shown"]);
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_title_does_not_stand_in_for_withheld_text() {
    let host = mount(
        r#"<a id="tt-link" href="javascript:void 0" title="Account TITLE-SECRET-81"><span data-cotrail-mask>TEXT-SECRET-82</span></a>
           <a id="tt-open" href="javascript:void 0" title="Open title"><img alt=""></a>"#,
    );
    begin("");
    click("tt-link");
    click("tt-open");
    let e = first_on("CLICK", "tt-link").await;
    assert!(e["data"]["target"].get("label").is_none(), "{e}");
    // The control: a link without text is named by its title.
    assert_eq!(
        first_on("CLICK", "tt-open").await["data"]["target"]["label"],
        "Open title"
    );
    assert_none_left(&["TITLE-SECRET", "TEXT-SECRET"]);
    end();
    host.remove();
}

/// `aria-labelledby` inside a component names an element of its shadow root,
/// not one of the page that happens to share the id.
#[wasm_bindgen_test]
async fn aria_labelledby_in_a_shadow_root_reads_the_shadow_roots_element() {
    let host = mount(r#"<span id="lb-name">PAGE-NAME-LABEL</span><div id="lb-comp"></div>"#);
    shadow(
        "lb-comp",
        r#"<span id="lb-name">Shadow name</span><input id="lb-in" aria-labelledby="lb-name">"#,
    );
    begin("");
    in_shadow("lb-comp", "root.getElementById('lb-in').click();");
    let e = first_on("CLICK", "lb-in").await;
    assert_eq!(e["data"]["target"]["label"], "Shadow name", "{e}");
    end();
    host.remove();
}

/// A cell or a button around masked text, whose `title` or `aria-label`
/// repeats it: withheld like the text, on any element.
#[wasm_bindgen_test]
async fn aria_labels_and_titles_do_not_stand_in_for_withheld_text() {
    let host = mount(
        r#"<table><tr><td id="ta-cell" title="IBAN CELL-TITLE-97">IBAN <span data-cotrail-mask>CELL-TEXT</span></td></tr></table>
           <button id="ta-copy" aria-label="Copy ARIA-IBAN-98"><span data-cotrail-mask>ARIA-TEXT</span></button>
           <div data-cotrail-mask><img id="ta-img" alt="ALT-SECRET-99" src="data:,"></div>
           <button id="ta-open" aria-label="Open menu"><svg></svg></button>
           <form id="ta-form" aria-label="Sign in"><input type="password"></form>"#,
    );
    eval("document.getElementById('ta-form').addEventListener('submit', function (e) { e.preventDefault(); });");
    begin("");
    for id in ["ta-cell", "ta-copy", "ta-img", "ta-open"] {
        click(id);
    }
    eval("document.getElementById('ta-form').requestSubmit();");
    // A form holding a password field keeps the name its author gave it.
    assert_eq!(
        first_on("FORM", "ta-form").await["data"]["target"]["label"],
        "Sign in"
    );
    for id in ["ta-cell", "ta-copy", "ta-img"] {
        let e = first_on("CLICK", id).await;
        assert!(e["data"]["target"].get("label").is_none(), "{e}");
    }
    // The control: an icon button is named by its aria-label.
    assert_eq!(
        first_on("CLICK", "ta-open").await["data"]["target"]["label"],
        "Open menu"
    );
    assert_none_left(&["CELL-TITLE", "ARIA-IBAN", "ALT-SECRET"]);
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn a_label_whose_page_handler_is_slow_is_still_one_click() {
    let host = mount(
        r#"<label id="slow-lbl" for="slow-cb">Slow</label><input id="slow-cb" type="checkbox">"#,
    );
    // A framework re-render on a slow phone: 120 ms of work in the handler.
    eval(
        "document.getElementById('slow-lbl').addEventListener('click', function () { \
           var end = performance.now() + 120; while (performance.now() < end) {} });",
    );
    begin("");
    click("slow-lbl");
    assert_eq!(
        first_on("INPUT", "slow-cb").await["data"]["checked"],
        true,
        "the box was ticked"
    );
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(events_of("CLICK").len(), 1, "{:?}", events_of("CLICK"));
    end();
    host.remove();
}

#[wasm_bindgen_test]
async fn an_agents_smooth_scroll_is_the_agents_to_its_end() {
    let host = mount(
        r#"<div id="sm-pane" style="height:80px;overflow:auto;scroll-behavior:smooth"><div style="height:8000px">tall</div></div>"#,
    );
    begin("");
    cotrail_recorder::agent_scope_enter("agent-4".into());
    eval("document.getElementById('sm-pane').scrollTo({top: 6000, behavior: 'smooth'});");
    cotrail_recorder::agent_scope_exit();
    let evs = wait_for("the SCROLL at the end", 5_000.0, || {
        let evs = events_on("SCROLL", "sm-pane");
        evs.iter().any(|e| e["data"]["y"] == 6000).then_some(evs)
    })
    .await;
    assert!(evs.len() >= 2, "a smooth scroll: {evs:?}");
    for e in &evs {
        assert_eq!(e["actor"]["id"], "agent-4", "{e}");
    }
    end();
    host.remove();
}
