//! `FORM`: a form was submitted (its descriptor, where it goes, how).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::limits::{MAX_ID_LEN, MAX_URL_CHARS};
use shared::{EventData, FormData};
use wasm_bindgen::JsCast;
use web_sys::HtmlFormElement;

use super::Capture;
use crate::element;
use crate::observers::page::strip_query;
use crate::text::cut;

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
    let action = element::prop(&form, &crate::global::js_str!("action"))
        .filter(|a| !a.is_empty())
        .map(|a| cut(strip_query(&a, &core.allow_params), MAX_URL_CHARS));
    let method = element::prop(&form, &crate::global::js_str!("method"))
        .filter(|m| !m.is_empty())
        .map(|m| cut(element::lower(m), MAX_ID_LEN));
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
