//! Shared helpers of the browser tests (`tests/observers.rs`, `tests/delivery.rs`):
//! a fake collector in place of `window.fetch`, storage clean-up, deadlines.
//!
//! Each test file is its own wasm binary in its own page; tests of one file share
//! the page, so every test calls [`begin`] (clean storage, fresh fake collector,
//! start) and [`end`] (stop).

#![allow(dead_code)]

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element};

pub fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Runs `src` as the body of a JS function and returns its result.
pub fn eval(src: &str) -> JsValue {
    js_sys::Function::new_no_args(src)
        .call0(&JsValue::NULL)
        .unwrap_or_else(|e| panic!("JS failed: {e:?}\n{src}"))
}

pub fn eval_str(src: &str) -> String {
    eval(src).as_string().unwrap_or_default()
}

pub async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// Removes every `cotrail|…` key of `localStorage` and `cotrail.…` key of
/// `sessionStorage`.
pub fn clear_storage() {
    eval(
        "var rm = function (s, p) { var ks = []; \
           for (var i = 0; i < s.length; i++) { var k = s.key(i); if (k.indexOf(p) === 0) ks.push(k); } \
           ks.forEach(function (k) { s.removeItem(k); }); }; \
         rm(localStorage, 'cotrail|'); rm(sessionStorage, 'cotrail.');",
    );
}

/// A fake collector: every request is kept (`__bodies`, `__times`,
/// `__keepalive`); answers come from `__plan` (shifted, `{status, headers}`,
/// status 0 = network error) and then `__status`.
pub fn install_collector() {
    eval(
        "window.__bodies = []; window.__times = []; window.__keepalive = []; \
         window.__plan = []; window.__status = 200; \
         window.fetch = function (url, init) { \
           window.__bodies.push(String(init && init.body)); \
           window.__times.push(performance.now()); \
           window.__keepalive.push(!!(init && init.keepalive)); \
           var r = window.__plan.length ? window.__plan.shift() : {status: window.__status}; \
           if (r.status === 0) return Promise.reject(new TypeError('Failed to fetch')); \
           var ok = r.status >= 200 && r.status < 300; \
           return Promise.resolve(new Response(ok ? '{\"stored\":1,\"duplicates\":0}' : '{\"error\":{\"code\":\"x\",\"message\":\"x\"}}', \
             {status: r.status, headers: r.headers || {}})); };",
    );
}

/// Puts `f` on `window` as `name` for page scripts to call (a page's own
/// wrapper calling into the recorder); it stays for the page's life.
pub fn expose<F: ?Sized + wasm_bindgen::closure::WasmClosure>(
    name: &str,
    f: wasm_bindgen::closure::Closure<F>,
) {
    js_sys::Reflect::set(&web_sys::window().unwrap(), &name.into(), f.as_ref()).unwrap();
    f.forget();
}

/// Console warnings from now on land in `window.__warns` (and still print).
pub fn capture_warnings() {
    eval(
        "window.__warns = []; if (!window.__origWarn) window.__origWarn = console.warn; \
         console.warn = function () { \
           window.__warns.push(Array.prototype.map.call(arguments, String).join(' ')); \
           return window.__origWarn.apply(console, arguments); };",
    );
}

pub fn warnings() -> Vec<String> {
    strings(&eval("return window.__warns || []"))
}

fn strings(v: &JsValue) -> Vec<String> {
    js_sys::Array::from(v)
        .iter()
        .map(|v| v.as_string().unwrap_or_default())
        .collect()
}

/// The config object `start` gets: a fake collector, `flushMs: '100'`, plus
/// `extra` (JS object-literal fields, e.g. `mask: 'strict'`).
pub fn config(extra: &str) -> JsValue {
    eval(&format!(
        "return {{collector: 'https://collector.test/', siteKey: 'pk_test', flushMs: '100', {extra}}};"
    ))
}

/// Clean storage, fresh fake collector, recorder started with `extra` config.
pub fn begin(extra: &str) {
    cotrail_recorder::stop();
    clear_storage();
    install_collector();
    cotrail_recorder::start(config(extra)).expect("the recorder starts");
}

/// Stops the recorder (its keepalive sends go to the fake collector).
pub fn end() {
    cotrail_recorder::stop();
}

/// Every request body the fake collector got.
pub fn bodies() -> Vec<String> {
    strings(&eval("return window.__bodies || []"))
}

/// Every body as JSON; each must also be a valid `shared::Batch`.
pub fn batches() -> Vec<Value> {
    bodies()
        .iter()
        .map(|b| {
            let batch: shared::Batch =
                serde_json::from_str(b).unwrap_or_else(|e| panic!("not a valid batch ({e}): {b}"));
            batch
                .validate()
                .unwrap_or_else(|e| panic!("batch over limits ({e:?}): {b}"));
            serde_json::from_str(b).unwrap()
        })
        .collect()
}

/// Every delivered event, each seq once (retries re-send events), in seq order.
pub fn events() -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for b in batches() {
        for e in b["events"].as_array().cloned().unwrap_or_default() {
            if !out.iter().any(|o| o["seq"] == e["seq"]) {
                out.push(e);
            }
        }
    }
    out.sort_by_key(|e| e["seq"].as_u64());
    out
}

/// Delivered events of one `type`.
pub fn events_of(ty: &str) -> Vec<Value> {
    events().into_iter().filter(|e| e["type"] == ty).collect()
}

/// Events of `ty` whose `data.target.id` is `id`.
pub fn events_on(ty: &str, id: &str) -> Vec<Value> {
    events_of(ty)
        .into_iter()
        .filter(|e| e["data"]["target"]["id"] == id)
        .collect()
}

/// Events saved in `localStorage` right now: `(key, event)`.
pub fn stored() -> Vec<(String, Value)> {
    let pairs = eval(
        "var out = []; for (var i = 0; i < localStorage.length; i++) { var k = localStorage.key(i); \
           if (k.indexOf('cotrail|e|') === 0) out.push([k, localStorage.getItem(k)]); } return out;",
    );
    js_sys::Array::from(&pairs)
        .iter()
        .map(|p| {
            let p = js_sys::Array::from(&p);
            let k = p.get(0).as_string().unwrap();
            let v = p.get(1).as_string().unwrap();
            let json = serde_json::from_str(&v)
                .unwrap_or_else(|e| panic!("stored event {k} is not JSON ({e}): {v}"));
            (k, json)
        })
        .collect()
}

/// Saved events of `ty` on the element with `id`.
pub fn stored_on(ty: &str, id: &str) -> Vec<Value> {
    stored()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e["type"] == ty && e["data"]["target"]["id"] == id)
        .collect()
}

/// Everything that left or may leave the page: bodies and saved events.
pub fn everything() -> String {
    let mut all = bodies().join("\n");
    for (k, v) in stored() {
        all.push_str(&format!("\n{k}={v}"));
    }
    all
}

/// Polls `f` every 50 ms until it gives `Some`, failing after `timeout_ms`.
pub async fn wait_for<T>(what: &str, timeout_ms: f64, mut f: impl FnMut() -> Option<T>) -> T {
    let start = now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if now() - start > timeout_ms {
            panic!(
                "timed out after {timeout_ms} ms waiting for {what}; bodies:\n{}",
                bodies().join("\n")
            );
        }
        sleep(50).await;
    }
}

/// The first `ty` event on `#id`, waited for (3 s).
pub async fn first_on(ty: &str, id: &str) -> Value {
    wait_for(&format!("{ty} on #{id}"), 3_000.0, || {
        events_on(ty, id).into_iter().next()
    })
    .await
}

/// The `ty` events on `#id` once there are at least `n`, waited for (3 s).
pub async fn at_least_on(ty: &str, id: &str, n: usize) -> Vec<Value> {
    wait_for(&format!("{n} {ty} on #{id}"), 3_000.0, || {
        let evs = events_on(ty, id);
        (evs.len() >= n).then_some(evs)
    })
    .await
}

/// Mounts `html` in a fresh container appended to `<body>` and returns it.
pub fn mount(html: &str) -> Element {
    let doc = document();
    let host = doc.create_element("div").unwrap();
    host.set_inner_html(html);
    doc.body().unwrap().append_child(&host).unwrap();
    host
}

pub fn by_id(id: &str) -> Element {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("no #{id}"))
}

/// Sets a field's `value` property.
pub fn set_value(id: &str, value: &str) {
    js_sys::Reflect::set(&by_id(id), &"value".into(), &value.into()).unwrap();
}

/// Dispatches a bubbling event of `kind` (a `FocusEvent` for focus events).
pub fn fire(id: &str, kind: &str) {
    let ctor = if kind.starts_with("focus") || kind == "blur" {
        "FocusEvent"
    } else {
        "Event"
    };
    eval(&format!(
        "document.getElementById('{id}').dispatchEvent(new {ctor}('{kind}', {{bubbles: true}}));"
    ));
}

/// Types `value` into the field: sets it and fires `input`.
pub fn type_into(id: &str, value: &str) {
    set_value(id, value);
    fire(id, "input");
}

pub fn click(id: &str) {
    by_id(id)
        .dyn_into::<web_sys::HtmlElement>()
        .unwrap()
        .click();
}

/// Selects the contents of `#id` (blurring a focused field first, whose own
/// selection would win).
pub fn select_contents(id: &str) {
    eval(&format!(
        "if (document.activeElement && document.activeElement.blur) document.activeElement.blur(); \
         var r = document.createRange(); r.selectNodeContents(document.getElementById('{id}')); \
         var s = document.getSelection(); s.removeAllRanges(); s.addRange(r);"
    ));
}

/// Selects from character `from` of `#start`'s first text to character `to`
/// of `#end`'s.
pub fn select_between(start: &str, from: u32, end: &str, to: u32) {
    eval(&format!(
        "var r = document.createRange(); \
         r.setStart(document.getElementById('{start}').firstChild, {from}); \
         r.setEnd(document.getElementById('{end}').firstChild, {to}); \
         var s = document.getSelection(); s.removeAllRanges(); s.addRange(r);"
    ));
}

pub fn clear_selection() {
    eval("document.getSelection().removeAllRanges();");
}

/// `cotrail_recorder::stats()` field.
pub fn stat(name: &str) -> f64 {
    let s = cotrail_recorder::stats();
    js_sys::Reflect::get(&s, &name.into())
        .unwrap()
        .as_f64()
        .unwrap_or_else(|| panic!("stats has no {name}"))
}
