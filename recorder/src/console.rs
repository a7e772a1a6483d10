//! Reporting to the page's console: the recorder's only voice towards the site's
//! developers. Misuse and delivery problems are warnings, never exceptions.
//!
//! A warning is written only while the recorder holds none of its state (no
//! `RefCell` borrowed): a page may record its console (`console.warn`
//! wrapped to call `recordCustom`), and such a call back into a recorder in
//! the middle of `record` or of a delivery answer would stop the module.

#[allow(unused_imports)]
use crate::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// `console.warn` with a message.
pub fn warn(message: &str) {
    write(&js_sys::Array::of1(&JsValue::from_str(message)));
}

/// `console.warn` with a message and a JS value (an error object, a status).
pub fn warn_js(message: &str, value: &JsValue) {
    write(&js_sys::Array::of2(&JsValue::from_str(message), value));
}

/// `console.warn(...args)` through `Reflect.apply`, which catches: a page's
/// `console.warn` that throws (a logging wrapper with a bug) must neither
/// reach the page's own call into the recorder (`recordCustom`) nor cut
/// short what the recorder does after warning.
fn write(args: &js_sys::Array) {
    let Some(window) = crate::global::window() else {
        return;
    };
    let console = crate::global::get(&window, &crate::global::js_str!("console"));
    let warn = crate::global::get(&console, &crate::global::js_str!("warn"));
    let _ = js_sys::Reflect::apply(warn.unchecked_ref::<js_sys::Function>(), &console, args);
}
