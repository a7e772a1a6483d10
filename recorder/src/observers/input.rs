//! `INPUT`: a field's value once typing settles (debounced per field), at once on
//! `change` or when the field loses focus. Values are masked before recording.
//!
//! The observer also watches `type` attributes: a password field that a "show
//! password" button turns into `type="text"` is remembered as a password
//! ([`element::remember_password`]), so its value is masked before and after.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::limits::MAX_TEXT_CHARS;
use shared::{Actor, EventData, InputData, MaskReason};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, MutationObserver};

use super::{Capture, Entry};
use crate::element;
use crate::global::js_str;
use crate::masking;
use crate::recorder::Core;

/// Quiet time after the last keystroke before a field's value is recorded: long
/// enough to swallow typing, short enough that a live reviewer sees the word.
pub const DEBOUNCE_MS: f64 = 400.0;

#[derive(Default)]
pub(super) struct State {
    /// Fields typed into, their typing not yet recorded.
    pending: Vec<Entry>,
    /// Fields whose typing the timer recorded and that were not typed into
    /// since, with the value recorded (the page's own JS string, compared
    /// with `===`): their `change` (on blur) with that value repeats what is
    /// recorded. Any other `change` of a text field (a date picker that sets
    /// the value and fires `change` with no `input`, also after typing) is
    /// recorded.
    settled: Vec<Entry>,
}

/// Settled fields remembered at most (a form has a handful being edited).
const MAX_SETTLED: usize = 16;

/// A `MutationObserver` of `type` attributes and added nodes that remembers
/// every input that stops being `type="password"`, every password input added
/// and every element put in a remembered one's place, on the document and on
/// every open shadow root ([`element::watch_root`]); the password inputs
/// already there are remembered at start. Disconnected when dropped.
pub(super) struct PasswordWatch {
    observer: MutationObserver,
    /// The closure of every listener (see `listener::callback`).
    _callback: Closure<crate::listener::JsFn>,
}

/// The one element of a record's `NodeList` (read as an array: `length`
/// and `[i]`), if it holds exactly one (other nodes aside).
fn single_element(list: &JsValue) -> Option<Element> {
    let mut one = None;
    for i in 0..element::length(list) {
        let item = element::item(list, i);
        if item.is_instance_of::<Element>() {
            if one.is_some() {
                return None;
            }
            one = Some(item.unchecked_into());
        }
    }
    one
}

/// The `type` observer's callback: `records` are its `MutationRecord`s.
fn on_types(_: &Rc<Capture>, records: &web_sys::Event) {
    // By index (`length` once, then `[i]`): `Array::iter` reads through an
    // import of its own.
    for i in 0..element::length(records) {
        let record = element::item(records, i);
        // Password fields the page adds (a login route rendered after
        // start), and a field put in a remembered one's place (a
        // "show" button that swaps the input for a new one).
        // A swap is one input for one remembered one (`replaceWith`);
        // a whole form re-rendered is not: its new email field is no
        // password.
        let removed = crate::global::get(&record, &js_str!("removedNodes"));
        let added = crate::global::get(&record, &js_str!("addedNodes"));
        let swap = single_element(&removed).is_some_and(|el| element::is_remembered(&el))
            && single_element(&added).is_some();
        for i in 0..element::length(&added) {
            let item = element::item(&added, i);
            if !item.is_instance_of::<Element>() {
                continue;
            }
            let el: &Element = item.unchecked_ref();
            // (`is_password_input` with the tag read once.)
            if element::is_tag(el, "input") && (swap || element::is_type(el, "password")) {
                element::remember_password(el);
            }
            element::remember_passwords_in(el);
            // A component added with its shadow root (made before the
            // recorder started, or without `attachShadow`).
            element::watch_shadow_of(el);
        }
        // `oldValue` and `target` through the one `Reflect.get` (an import
        // and its glue each otherwise).
        let was_password = element::prop(&record, &js_str!("oldValue"))
            .is_some_and(|t| t.eq_ignore_ascii_case("password"));
        if was_password {
            // (A record's `target`, read as an event's is.)
            let target = element::target(&record);
            if target.is_object() {
                element::remember_password(target.unchecked_ref());
            }
        }
    }
}

impl PasswordWatch {
    pub(super) fn new(cap: &Rc<Capture>, document: &Document) -> Option<PasswordWatch> {
        element::remember_passwords_in(document);
        let callback = crate::listener::callback(cap, on_types);
        let Ok(observer) = MutationObserver::new(callback.as_ref().unchecked_ref()) else {
            return None;
        };
        if element::observe_types(&observer, document).is_err() {
            return None;
        }
        element::set_type_watch(Some(observer.clone()));
        Some(PasswordWatch {
            observer,
            _callback: callback,
        })
    }
}

impl Drop for PasswordWatch {
    fn drop(&mut self) {
        element::set_type_watch(None);
        element::call1(&self.observer, &js_str!("disconnect"), &JsValue::UNDEFINED);
    }
}

fn is_checkable(el: &Element) -> bool {
    element::is_tag(el, "input")
        && (element::is_type(el, "checkbox") || element::is_type(el, "radio"))
}

/// Fields whose `change` is the interaction itself (no typing to debounce).
fn changes_at_once(el: &Element) -> bool {
    is_checkable(el) || element::is_tag(el, "select") || element::is_type(el, "file")
}

/// The values of a select's selected options, joined by `, ` (a `<select
/// multiple>`'s `value` is the first one only; a single select's is its one
/// option's, the same). Empty for none and for a field without the list (an
/// input, a textarea): its value is then read (a select's with nothing
/// selected is empty too).
#[inline(never)]
fn selected_values(el: &Element) -> Option<String> {
    // Read as an array (`length` and `[i]`): 0 for `undefined`.
    let options = crate::global::get(el, &js_str!("selectedOptions"));
    let mut values = String::new();
    for i in 0..element::length(&options) {
        if i > 0 {
            values.push_str(", ");
        }
        let option = element::item(&options, i);
        values.push_str(&element::prop(&option, element::value_key()).unwrap_or_default());
    }
    (!values.is_empty()).then_some(values)
}

/// The field's facts and how its value is masked now.
fn mask_of(core: &Core, el: &Element) -> (masking::FieldFacts, Option<MaskReason>) {
    let facts = element::facts(el);
    let mut masked = masking::value_mask(&facts, core.mask);
    // A contenteditable host's value is its text, masked parts included.
    if masked.is_none() && !facts.is_field() && element::has_private(el) {
        masked = Some(MaskReason::Marked);
    }
    (facts, masked)
}

/// Records the field's current value, masked as it is now or, failing that,
/// as it was when typing began (`typed`).
fn emit(core: &Rc<Core>, el: &Element, actor: Actor, typed: Option<MaskReason>) {
    let (facts, masked) = mask_of(core, el);
    let masked = masked.or(typed);
    let (value, checked) = if masked.is_some() {
        (None, None)
    } else if is_checkable(el) {
        // `===` against `true` and `false` (the comparison import every
        // `JsValue` comparison uses), not `as_bool`, an import of its own.
        let checked = crate::global::get(el, &crate::global::js_str!("checked"));
        let on = checked == JsValue::TRUE;
        (None, (on || checked == JsValue::FALSE).then_some(on))
    } else {
        // A select's options, else a field's value, else (a
        // contenteditable host) its text.
        let mut value = None;
        if facts.is_field() {
            value = selected_values(el);
            if value.is_none() {
                value = element::prop(el, element::value_key());
            }
        }
        if value.is_none() {
            value = element::text_content(el);
        }
        (value.map(|v| crate::text::cut(v, MAX_TEXT_CHARS)), None)
    };
    let target = element::describe_with(el, facts, core.mask);
    core.record(
        actor,
        EventData::Input(InputData {
            target,
            value,
            checked,
            masked,
        }),
    );
}

/// Stops the timer and records the fields whose typing settled by `now`; every
/// field when `now` is infinite (the page going away).
pub(super) fn emit_settled(cap: &Rc<Capture>, now: f64) {
    // The timer is dropped once the state is free again (see `timer`).
    let due = {
        let mut s = cap.input.borrow_mut();
        crate::timer::take_due(&mut s.pending, |p| now - p.last >= DEBOUNCE_MS - 1.0)
    };
    let timer = super::take_timer(cap, super::INPUT);
    drop(timer);
    // By reference: a by-value loop instantiates `vec::IntoIter` of its own.
    for p in &due {
        let Some(el) = &p.target else {
            continue;
        };
        let value = crate::global::get(el, element::value_key());
        {
            let mut s = cap.input.borrow_mut();
            if s.settled.len() >= MAX_SETTLED {
                s.settled.remove(0);
            }
            s.settled.push(Entry {
                value,
                // (The actor unused.)
                ..Entry::new(Some(el.clone()), Actor::Script, 0.0)
            });
        }
        emit(&cap.core, el, p.actor.clone(), p.masked);
    }
}

fn arm(cap: &Rc<Capture>, delay: f64) {
    // One timer for all fields, armed for the earliest due field.
    super::arm(
        cap,
        super::INPUT,
        crate::num::ceil(delay).max(1.0) as u32,
        |cap| {
            let now = cap.core.now();
            emit_settled(cap, now);
            let mut next = f64::INFINITY;
            for p in &cap.input.borrow().pending {
                next = next.min(p.last + DEBOUNCE_MS - now);
            }
            if next.is_finite() {
                arm(cap, next);
            }
        },
    );
}

/// Where the field is in `pending` or `settled`, if it is (compared as JS objects, `===`).
fn index_of(pending: &[Entry], el: &Element) -> Option<usize> {
    pending
        .iter()
        .position(|p| p.target.as_ref().is_some_and(|t| element::same(t, el)))
}

pub(super) fn on_input(cap: &Rc<Capture>, event: &web_sys::Event) {
    let Some(el) = element::unblocked_event_element(event) else {
        return;
    };
    // Typed as a password: a "show" click before the debounce ends
    // must not unmask it.
    if element::is_password_input(&el) {
        element::remember_password(&el);
    }
    let core = &cap.core;
    let (now, actor) = (core.now(), core.actor_for(event));
    // Read once per burst of typing, before borrowing the state (it
    // reads the DOM).
    let first = {
        let mut s = cap.input.borrow_mut();
        // In it once at most: only a due pending entry is settled, and the
        // field has one pending entry at most, made here after this.
        if let Some(i) = index_of(&s.settled, &el) {
            s.settled.remove(i);
        }
        index_of(&s.pending, &el).is_none()
    };
    let masked = if first { mask_of(core, &el).1 } else { None };
    let arm_needed = {
        let mut s = cap.input.borrow_mut();
        match index_of(&s.pending, &el) {
            Some(i) => {
                let p = &mut s.pending[i];
                p.last = now;
                p.actor = actor;
            }
            None => s.pending.push(Entry {
                masked,
                ..Entry::new(Some(el), actor, now)
            }),
        }
        !super::armed(cap, super::INPUT)
    };
    if arm_needed {
        arm(cap, DEBOUNCE_MS);
    }
}

pub(super) fn on_change(cap: &Rc<Capture>, event: &web_sys::Event) {
    settle(cap, event, true)
}

pub(super) fn on_focus_out(cap: &Rc<Capture>, event: &web_sys::Event) {
    settle(cap, event, false)
}

/// `change` (`at_once`) or `focusout`: the field's typing is recorded now.
fn settle(cap: &Rc<Capture>, event: &web_sys::Event, at_once: bool) {
    let Some(el) = element::unblocked_event_element(event) else {
        return;
    };
    let core = &cap.core;
    // Takes the field's pending entry, if it has one: its field is `el`
    // (found by `===`).
    let taken = {
        let mut s = cap.input.borrow_mut();
        index_of(&s.pending, &el).map(|i| s.pending.remove(i))
    };
    if let Some(p) = taken {
        // Who typed, not who moved the focus away.
        return emit(core, &el, p.actor, p.masked);
    }
    if !at_once {
        return;
    }
    let value = crate::global::get(&el, element::value_key());
    let repeat = {
        let mut s = cap.input.borrow_mut();
        match index_of(&s.settled, &el) {
            Some(i) => s.settled.remove(i).value == value,
            None => false,
        }
    };
    // (What the field is, read only for a repeat: one call.)
    if !repeat || changes_at_once(&el) {
        emit(core, &el, core.actor_for(event), None)
    }
}
