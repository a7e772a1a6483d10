//! Reporting to the page's console: the recorder's only voice towards the site's
//! developers. Misuse and delivery problems are warnings, never exceptions.
//!
//! A warning is written only while the recorder holds none of its state (no
//! `RefCell` borrowed): a page may record its console (`console.warn`
//! wrapped to call `recordCustom`), and such a call back into a recorder in
//! the middle of `record` or of a delivery answer would stop the module.

#[allow(unused_imports)]
use crate::prelude::*;
use wasm_bindgen::JsValue;

/// `console.warn` with a message.
pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}

/// `console.warn` with a message and a JS value (an error object, a status).
pub fn warn_js(message: &str, value: &JsValue) {
    web_sys::console::warn_2(&JsValue::from_str(message), value);
}
