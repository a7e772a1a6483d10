//! `FORM`: a form was submitted (its descriptor, where it goes, how).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::RefCell;

use shared::limits::MAX_ID_LEN;
use shared::{EventData, FormData};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlFormElement;

use super::Capture;
use crate::element;
use crate::observers::page::recorded_url;
use crate::text::cut;

crate::global::page_const! {
    /// The `action` and `method` getters of `HTMLFormElement.prototype`,
    /// called on a form rather than read from it: a form's controls shadow
    /// its properties by name, and `<input type="hidden" name="action">` is
    /// common in server-rendered forms. Read on first use ([`getters`]).
    static GETTERS: RefCell<Option<[JsValue; 2]>> = RefCell::new(None);
}

/// The getters [`GETTERS`] holds.
fn getters() -> [JsValue; 2] {
    let form = crate::element::window_get(&crate::global::js_str!("HTMLFormElement"));
    let proto = crate::global::get(&form, &crate::global::js_str!("prototype"));
    let getter = |name: &str| {
        let d = js_sys::Object::get_own_property_descriptor(
            proto.unchecked_ref::<js_sys::Object>(),
            &JsValue::from_str(name),
        );
        crate::global::get(&d, &crate::global::js_str!("get"))
    };
    [getter("action"), getter("method")]
}

/// The form's own `action` (0) or `method` (1), whatever its controls are
/// named (see [`GETTERS`]); `None` when empty.
fn resolved(form: &HtmlFormElement, which: usize) -> Option<String> {
    let u = JsValue::UNDEFINED;
    // Copied out: the getter may be the page's.
    let getter = GETTERS.with(|g| g.borrow_mut().get_or_insert_with(getters)[which].clone());
    getter
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
    let action = resolved(&form, 0).map(|a| recorded_url(core, &a));
    let method = resolved(&form, 1).map(|m| cut(element::lower(m), MAX_ID_LEN));
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
