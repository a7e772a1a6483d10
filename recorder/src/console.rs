//! Reporting to the page's console: the recorder's only voice towards the site's
//! developers. Misuse and delivery problems are warnings, never exceptions.

#[allow(unused_imports)]
use crate::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::global::{get, js_str};

/// `console.warn` with a message, now: for misuse the page's own call caused,
/// so the warning comes with that call's stack.
pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}

/// `console.warn` with a message and a JS value (an error object, a status).
pub fn warn_js(message: &str, value: &JsValue) {
    web_sys::console::warn_2(&JsValue::from_str(message), value);
}

/// `console.warn` with a message, in a microtask, once the recorder has
/// returned to the page: for warnings given while the recorder holds its
/// state (saving an event, handling a delivery answer). A page that records
/// its console (`console.warn` wrapped to call `recordCustom`) then calls
/// back into a recorder that holds nothing, instead of into the middle of
/// `record`, which would stop the module for good.
pub fn warn_later(message: &str) {
    let message = JsValue::from_str(message);
    if !queue_warning(&message) {
        web_sys::console::warn_1(&message);
    }
}

/// Queues `console.warn(message)` (the page's `console.warn` of the moment)
/// with `queueMicrotask`. False where that cannot be done.
fn queue_warning(message: &JsValue) -> bool {
    let Some(window) = crate::global::window() else {
        return false;
    };
    let console = get(&window, &js_str!("console"));
    let function = |obj: &JsValue, key: JsValue| get(obj, &key).dyn_into::<js_sys::Function>();
    let (Ok(warn), Ok(queue)) = (
        function(&console, js_str!("warn")),
        function(&window, js_str!("queueMicrotask")),
    ) else {
        return false;
    };
    let Ok(bind) = function(&warn, js_str!("bind")) else {
        return false;
    };
    bind.call2(&warn, &console, message)
        .and_then(|bound| queue.call2(&window, &bound, &JsValue::UNDEFINED))
        .is_ok()
}
