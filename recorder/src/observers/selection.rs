//! `SELECTION`: text the person selected, once the selection settles; withheld
//! (with `masked`) when it touches masked content, or when it is inside a field
//! whose value is masked (password, card, hidden, marked), for the field's reason.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::limits::MAX_TEXT_CHARS;
use shared::{Actor, EventData, SelectionData};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element};

use super::Capture;
use crate::element::{self, PRIVATE_SELECTOR};
use crate::masking;

/// Quiet time after the last selection change: a drag-select fires dozens.
pub const DEBOUNCE_MS: f64 = 500.0;

#[derive(Default)]
pub(super) struct State {
    last_change: f64,
    actor: Option<Actor>,
    /// The last recorded selection (kept in memory only, to skip repeats;
    /// empty for none: a recorded one is never empty).
    last_text: String,
}

/// Non-whitespace characters of a text (selection text and range text differ
/// in the line breaks they put between blocks).
fn visible_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// `obj.toString()` of a selection or a range (its text) through
/// [`element::call1`], no `toString` import and glue of its own (empty when
/// it throws).
fn text_of(obj: &JsValue) -> String {
    element::call1(
        obj,
        &crate::global::js_str!("toString"),
        &JsValue::UNDEFINED,
    )
    .as_string()
    .unwrap_or_default()
}

/// `range.intersectsNode(node)` (false when it throws).
fn intersects(range: &web_sys::Range, node: &JsValue) -> bool {
    element::call1(range, &crate::global::js_str!("intersectsNode"), node) == JsValue::TRUE
}

/// Whether the range intersects a node of `list` (an array or a
/// `NodeList`, read by index: `Array::iter` reads through an import of its
/// own).
fn intersects_any(range: &web_sys::Range, list: &JsValue) -> bool {
    (0..element::length(list)).any(|i| intersects(range, &element::item(list, i)))
}

/// Whether the selection (of `visible` non-whitespace characters) starts in,
/// ends in or crosses masked content, or text the recorder cannot check.
fn touches_masked(sel: &web_sys::Selection, visible: usize, anchor: &Element) -> bool {
    // Each end, along what the page shows: the end in page content a
    // component shows inside a masked part of its shadow root is masked too.
    if element::is_marked(anchor)
        || end_element(sel, &crate::global::js_str!("focusNode"))
            .is_some_and(|e| element::is_marked(&e))
    {
        return true;
    }
    // `getRangeAt(undefined)`: an `unsigned long` argument reads `undefined`
    // as 0 (no number made for it).
    let u = JsValue::UNDEFINED;
    let Some(range) = element::call_element(sel, &crate::global::js_str!("getRangeAt"), &u) else {
        return true;
    };
    let range: web_sys::Range = range.unchecked_into();
    // Text inside a shadow root: the document's range stops at the host
    // (collapsed, for a selection made with the mouse) and holds less text than
    // the selection. What it hides cannot be checked, so it is withheld.
    if visible > visible_chars(&text_of(&range)) {
        return true;
    }
    // Marked, blocked and password elements of the tree the anchor is in (the
    // document, or the shadow root a script selected in).
    let root = element::root_node(anchor);
    let Some(list) = crate::element::select_all(&root, &crate::global::js_str!(PRIVATE_SELECTOR))
    else {
        return false;
    };
    if intersects_any(&range, &list) {
        return true;
    }
    // Page content a component shows in a masked part of its shadow root,
    // passed over from outside it (both ends elsewhere).
    let ancestor = crate::global::get_object::<web_sys::Node>(
        &range,
        &crate::global::js_str!("commonAncestorContainer"),
    );
    let Some(node) = ancestor else {
        return true;
    };
    // The document itself when it has no parent (a selection of everything).
    let scope = element::element_or_parent(node.clone()).unwrap_or_else(|| node.unchecked_into());
    shows_private_slot(&range, &scope, true, 0)
}

/// Slots in masked or blocked parts of a shadow root.
const PRIVATE_SLOTS: &str = "[data-cotrail-mask] slot,[data-cotrail-block] slot,slot[data-cotrail-mask],slot[data-cotrail-block]";

/// Components inside components searched at most: a selection over one
/// nested deeper is withheld, as it cannot be checked.
const MAX_NESTED_COMPONENTS: u32 = 8;

/// Whether a component in `scope` (with `scope` itself when `with_scope`; an
/// element, the document or a shadow root), or one nested in its shadow root,
/// shows content the range intersects in a private slot. Runs once per
/// settled selection that is not already withheld.
fn shows_private_slot(
    range: &web_sys::Range,
    scope: &Element,
    with_scope: bool,
    depth: u32,
) -> bool {
    let Some(all) = crate::element::select_all(scope, &crate::global::js_str!("*")) else {
        return false;
    };
    let key = &crate::global::js_str!("shadowRoot");
    let options = crate::listener::flags(&["flatten"]);
    // 0: the scope itself (when `with_scope`), then the elements in it.
    for i in u32::from(!with_scope)..=element::length(&all) {
        let el: JsValue = match i {
            0 => scope.into(),
            _ => element::item(&all, i - 1),
        };
        let Some(root) = crate::global::get_object::<Element>(&el, key) else {
            continue;
        };
        if let Some(slots) =
            crate::element::select_all(&root, &crate::global::js_str!(PRIVATE_SLOTS))
        {
            for j in 0..element::length(&slots) {
                let slot = element::item(&slots, j);
                // (`undefined` when it throws: no nodes.)
                let nodes =
                    element::call1(&slot, &crate::global::js_str!("assignedNodes"), &options);
                if intersects_any(range, &nodes) {
                    return true;
                }
            }
        }
        if depth == MAX_NESTED_COMPONENTS || shows_private_slot(range, &root, false, depth + 1) {
            return true;
        }
    }
    false
}

/// The element at one end of the selection (`anchorNode` or `focusNode`), or
/// the parent of the text node there.
fn end_element(sel: &web_sys::Selection, end: &wasm_bindgen::JsValue) -> Option<Element> {
    element::element_or_parent(crate::global::get_object(sel, end)?)
}

/// A field the person can select text in (a focused checkbox is not where a
/// selection is).
fn holds_text(el: &Element) -> bool {
    let is = |ty| element::is_type(el, ty);
    match crate::element::local_name(el).as_str() {
        "textarea" => true,
        "input" => {
            !(is("checkbox")
                || is("radio")
                || is("button")
                || is("submit")
                || is("reset")
                || is("image")
                || is("file")
                || is("range")
                || is("color"))
        }
        _ => false,
    }
}

/// The focused element, inside open shadow roots too.
fn deep_active(document: &Document) -> Option<Element> {
    let key = &crate::global::js_str!("activeElement");
    let mut active: Element = crate::global::get_object(document, key)?;
    loop {
        let Some(root) = crate::global::get_object::<web_sys::ShadowRoot>(
            &active,
            &crate::global::js_str!("shadowRoot"),
        ) else {
            break;
        };
        let Some(inner) = crate::global::get_object::<Element>(&root, key) else {
            break;
        };
        active = inner;
    }
    Some(active)
}

/// Whether the focused field's own selected text is known and is not `text`
/// (the document's selection is elsewhere). Fields without a selection range
/// (`email`, `number`) are taken at their word.
fn selected_elsewhere(field: &Element, text: &str) -> bool {
    let get = |key: &wasm_bindgen::JsValue| crate::global::get(field, key).as_f64();
    let (Some(start), Some(end)) = (
        get(&crate::global::js_str!("selectionStart")),
        get(&crate::global::js_str!("selectionEnd")),
    ) else {
        return false;
    };
    let Some(value) = element::prop(field, element::value_key()) else {
        return false;
    };
    // The field's selected text, at the UTF-16 offsets JS counts in,
    // compared with `text` character by character (no `slice` import and
    // glue of its own, no copy).
    let mut want = text.chars();
    let mut at = 0.0;
    for c in value.chars() {
        if at >= start && at < end && want.next() != Some(c) {
            return true;
        }
        at += c.len_utf16() as f64;
    }
    want.next().is_some()
}

/// Records the current selection if it is new.
fn settle(cap: &Rc<Capture>) {
    let (core, state) = (&cap.core, &cap.selection);
    let Some(document) = crate::global::document() else {
        return;
    };
    let u = JsValue::UNDEFINED;
    let Some(sel) = element::call_element(&document, &crate::global::js_str!("getSelection"), &u)
    else {
        return;
    };
    let sel: web_sys::Selection = sel.unchecked_into();
    let text = text_of(&sel);
    // (Counted once: for this and for [`touches_masked`].)
    let visible = visible_chars(&text);
    if visible == 0 {
        state.borrow_mut().last_text.clear();
        return;
    }
    // A selection inside a text field is the field's, not the document's, and is
    // masked as the field's value is. Only if it is that field's: page code can
    // select text elsewhere while a field keeps the focus.
    let mut field = deep_active(&document);
    if let Some(f) = &field {
        if !holds_text(f) || selected_elsewhere(f, &text) {
            field = None;
        }
    }
    // The field is the anchor (no copy of it kept for later).
    let in_field = field.is_some();
    let anchor = match field {
        Some(f) => f,
        None => {
            let Some(a) = end_element(&sel, &crate::global::js_str!("anchorNode")) else {
                return;
            };
            a
        }
    };
    if element::is_blocked(&anchor) {
        return;
    }
    let masked = if in_field {
        masking::value_mask(&element::facts(&anchor), core.mask)
    } else {
        masking::selection_mask(touches_masked(&sel, visible, &anchor), core.mask)
    };
    let text = crate::text::cut(text, MAX_TEXT_CHARS);
    let actor = {
        let mut s = state.borrow_mut();
        if s.last_text == text {
            return;
        }
        s.last_text = text.clone();
        s.actor.take().unwrap_or_else(|| core.current_actor())
    };
    // Settled before describing the anchor: one path to `record`.
    let text = masked.is_none().then_some(text);
    let target = Some(element::describe(&anchor, core.mask));
    core.record(
        actor,
        EventData::Selection(SelectionData {
            text,
            target,
            masked,
        }),
    );
}

fn arm(cap: &Rc<Capture>, delay: f64) {
    super::arm(
        cap,
        super::SELECTION,
        crate::num::ceil(delay).max(1.0) as u32,
        |cap| {
            // Dropped with the state free (see `timer`).
            let fired = super::take_timer(cap, super::SELECTION);
            let remaining = cap.selection.borrow().last_change + DEBOUNCE_MS - cap.core.now();
            drop(fired);
            if remaining > 1.0 {
                arm(cap, remaining);
            } else {
                settle(cap);
            }
        },
    );
}

pub(super) fn on_change(cap: &Rc<Capture>, event: &web_sys::Event) {
    let arm_needed = {
        let mut s = cap.selection.borrow_mut();
        s.last_change = cap.core.now();
        s.actor = Some(cap.core.actor_after(event));
        !super::armed(cap, super::SELECTION)
    };
    if arm_needed {
        arm(cap, DEBOUNCE_MS);
    }
}

/// Records a selection still waiting for its debounce.
pub(super) fn flush(cap: &Rc<Capture>) {
    // Dropped with the state free (see `timer`).
    let waiting = super::take_timer(cap, super::SELECTION);
    if waiting.is_some() {
        drop(waiting);
        settle(cap);
    }
}
