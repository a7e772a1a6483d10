//! `FORM`: a form was submitted (its descriptor, where it goes, how).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::limits::MAX_ID_LEN;
use shared::{EventData, FormData};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlFormElement;

use super::Capture;
use crate::element;
use crate::global::js_str;
use crate::observers::page::recorded_url;
use crate::text::cut;

/// The form's own `action` or `method`, whatever its controls are named:
/// the getter of `HTMLFormElement.prototype` called on the form rather than
/// the property read from it (a form's controls shadow its properties by
/// name, and `<input type="hidden" name="action">` is common in
/// server-rendered forms); `None` when empty.
fn resolved(form: &HtmlFormElement, name: &str) -> Option<String> {
    let class = crate::element::window_get(&js_str!("HTMLFormElement"));
    let proto = crate::global::get(&class, &js_str!("prototype"));
    let d = js_sys::Object::get_own_property_descriptor(
        proto.unchecked_ref::<js_sys::Object>(),
        &JsValue::from_str(name),
    );
    let u = JsValue::UNDEFINED;
    crate::global::get(&d, &js_str!("get"))
        .unchecked_ref::<js_sys::Function>()
        .call2(form, &u, &u)
        .ok()?
        .as_string()
        .filter(|s| !s.is_empty())
}

/// `submit`, on the document and in shadow roots (it does not leave one).
pub(super) fn on_submit(cap: &Rc<Capture>, event: &web_sys::Event) {
    let Ok(form) = element::target(event).dyn_into::<HtmlFormElement>() else {
        return;
    };
    if element::is_blocked(&form) {
        return;
    }
    let core = &cap.core;
    // `action` and `method` are the resolved properties: absolute URL, lower case.
    let action = resolved(&form, "action").map(|a| recorded_url(core, &a));
    let method = resolved(&form, "method").map(|m| cut(element::lower(m), MAX_ID_LEN));
    let target = element::describe(&form, core.mask);
    core.record(
        core.actor_for_submit(event),
        EventData::Form(FormData {
            target,
            action,
            method,
        }),
    );
}
