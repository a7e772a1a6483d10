//! `SELECTION`: text the person selected, once the selection settles; withheld
//! (with `masked`) when it touches masked content or a password field.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use crate::timer::Timer;
use shared::limits::MAX_TEXT_CHARS;
use shared::{truncate_chars, Actor, EventData, SelectionData};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::element::{self, PRIVATE_SELECTOR};
use crate::listener::{EventKind, Listener};
use crate::masking;
use crate::recorder::Core;

/// Quiet time after the last selection change: a drag-select fires dozens.
pub const DEBOUNCE_MS: f64 = 500.0;

struct State {
    last_change: f64,
    actor: Option<Actor>,
    /// The last recorded selection (kept in memory only, to skip repeats).
    last_text: Option<String>,
    timer: Option<Timer>,
}

pub struct SelectionObserver {
    core: Rc<Core>,
    state: Rc<RefCell<State>>,
    _listener: Listener,
}

/// Whether the selection starts in, ends in or crosses masked content.
fn touches_masked(document: &Document, sel: &web_sys::Selection, anchor: &Element) -> bool {
    if element::is_marked(anchor) || is_password(anchor) {
        return true;
    }
    let Ok(range) = sel.get_range_at(0) else {
        return false;
    };
    let Ok(list) = document.query_selector_all(PRIVATE_SELECTOR) else {
        return false;
    };
    for i in 0..list.length() {
        if list
            .item(i)
            .is_some_and(|node| range.intersects_node(&node).unwrap_or(false))
        {
            return true;
        }
    }
    false
}

fn is_password(el: &Element) -> bool {
    crate::element::local_name(el).eq_ignore_ascii_case("input")
        && el
            .get_attribute("type")
            .is_some_and(|t| t.eq_ignore_ascii_case("password"))
}

/// Records the current selection if it is new.
fn settle(core: &Rc<Core>, state: &RefCell<State>) {
    let Some(document) = crate::global::document() else {
        return;
    };
    let Ok(Some(sel)) = document.get_selection() else {
        return;
    };
    let text: String = js_sys::Object::to_string(&sel).into();
    if crate::text::is_blank(&text) {
        state.borrow_mut().last_text = None;
        return;
    }
    // A selection inside a text field is the field's, not the document's.
    let active =
        crate::global::get_object::<Element>(&document, &crate::global::js_str!("activeElement"))
            .filter(|a| matches!(crate::element::local_name(a).as_str(), "input" | "textarea"));
    let anchor = active.or_else(|| {
        let node: web_sys::Node =
            crate::global::get_object(&sel, &crate::global::js_str!("anchorNode"))?;
        match node.dyn_into::<Element>() {
            Ok(el) => Some(el),
            Err(node) => node.parent_element(),
        }
    });
    let Some(anchor) = anchor else {
        return;
    };
    if element::is_blocked(&anchor) {
        return;
    }
    let text = truncate_chars(&text, MAX_TEXT_CHARS).to_owned();
    let actor = {
        let mut s = state.borrow_mut();
        if s.last_text.as_deref() == Some(text.as_str()) {
            return;
        }
        s.last_text = Some(text.clone());
        s.actor.take().unwrap_or_else(|| core.current_actor())
    };
    let masked = masking::selection_mask(touches_masked(&document, &sel, &anchor), core.mask);
    let target = Some(element::describe(&anchor, core.mask));
    core.record(
        actor,
        EventData::Selection(SelectionData {
            text: if masked.is_none() { Some(text) } else { None },
            target,
            masked,
        }),
    );
}

fn arm(core: &Rc<Core>, state: &Rc<RefCell<State>>, delay: f64) {
    let (weak_core, weak_state): (Weak<Core>, Weak<RefCell<State>>) =
        (Rc::downgrade(core), Rc::downgrade(state));
    state.borrow_mut().timer = Some(Timer::once(
        crate::num::ceil(delay).max(1.0) as u32,
        move || {
            let (Some(core), Some(state)) = (weak_core.upgrade(), weak_state.upgrade()) else {
                return;
            };
            let remaining = {
                let mut s = state.borrow_mut();
                s.timer.take();
                s.last_change + DEBOUNCE_MS - core.now()
            };
            if remaining > 1.0 {
                arm(&core, &state, remaining);
            } else {
                settle(&core, &state);
            }
        },
    ));
}

impl SelectionObserver {
    pub fn new(core: &Rc<Core>, document: &Document) -> Self {
        let state = Rc::new(RefCell::new(State {
            last_change: 0.0,
            actor: None,
            last_text: None,
            timer: None,
        }));
        let listener = {
            let (core, state) = (core.clone(), state.clone());
            Listener::new(document, EventKind::SelectionChange, move |event| {
                let arm_needed = {
                    let mut s = state.borrow_mut();
                    s.last_change = core.now();
                    s.actor = Some(core.actor_for(event));
                    s.timer.is_none()
                };
                if arm_needed {
                    arm(&core, &state, DEBOUNCE_MS);
                }
            })
        };
        SelectionObserver {
            core: core.clone(),
            state,
            _listener: listener,
        }
    }

    /// Records a selection still waiting for its debounce.
    pub fn flush(&self) {
        let waiting = self.state.borrow_mut().timer.take().is_some();
        if waiting {
            settle(&self.core, &self.state);
        }
    }
}

impl Drop for SelectionObserver {
    fn drop(&mut self) {
        self.state.borrow_mut().timer.take();
    }
}
