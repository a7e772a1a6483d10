//! `SCROLL`: the page (`target` absent, `scrollX/Y`) or an element (`scrollLeft/Top`).
//! A burst of scroll events becomes at most one event per [`THROTTLE_MS`] per
//! target, and the position where the burst ended is always recorded.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::{Actor, EventData, ScrollData};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use super::Capture;
use crate::element;
use crate::global::{get, js_str};
use crate::recorder::Core;

/// Least time between two events of one scrolling target: a reviewer needs where
/// the person looked, not every frame.
pub const THROTTLE_MS: f64 = 250.0;

#[derive(Default)]
pub(super) struct State {
    tracks: Vec<super::Entry>,
}

fn position(target: &Option<Element>) -> (i64, i64) {
    match target {
        Some(el) => offsets(el, &js_str!("scrollLeft"), &js_str!("scrollTop")),
        None => match crate::global::window() {
            Some(w) => offsets(&w, &js_str!("scrollX"), &js_str!("scrollY")),
            None => (0, 0),
        },
    }
}

/// A scroll offset pair of `obj`, rounded to whole pixels.
fn offsets(obj: &JsValue, x: &JsValue, y: &JsValue) -> (i64, i64) {
    let read = |key| crate::num::round(get(obj, key).as_f64().unwrap_or(0.0)) as i64;
    (read(x), read(y))
}

fn emit(core: &Rc<Core>, target: &Option<Element>, actor: Actor, (x, y): (i64, i64)) {
    let target = target.as_ref().map(|el| element::describe(el, core.mask));
    core.record(actor, EventData::Scroll(ScrollData { target, x, y }));
}

/// Stops the timer, records the final positions not yet recorded of the
/// targets quiet since `now` (of every target when `now` is infinite: the page
/// going away) and forgets them.
pub(super) fn emit_ended(cap: &Rc<Capture>, now: f64) {
    // The timer is dropped once the state is free again (see `timer`).
    let ended = {
        let mut s = cap.scroll.borrow_mut();
        crate::timer::take_due(&mut s.tracks, |t| now - t.last >= THROTTLE_MS - 1.0)
    };
    let timer = super::take_timer(cap, super::SCROLL);
    drop(timer);
    // By reference: a by-value loop instantiates `vec::IntoIter` of its own.
    for t in &ended {
        let pos = position(&t.target);
        if t.emitted != Some(pos) {
            emit(&cap.core, &t.target, t.actor.clone(), pos);
        }
    }
}

/// After a burst: records final positions not yet recorded, forgets quiet targets.
fn arm(cap: &Rc<Capture>) {
    super::arm(cap, super::SCROLL, THROTTLE_MS as u32, |cap| {
        emit_ended(cap, cap.core.now());
        if !cap.scroll.borrow().tracks.is_empty() {
            arm(cap);
        }
    });
}

/// Where the target is in `tracks`, if it is.
fn index_of(tracks: &[super::Entry], target: &Option<Element>) -> Option<usize> {
    tracks
        .iter()
        .position(|t| element::same_or_none(&t.target, target))
}

/// `scroll`, on the document and in shadow roots (an element's does not
/// leave one).
pub(super) fn on_scroll(cap: &Rc<Capture>, event: &web_sys::Event) {
    // The page scrolling targets the document; anything else is an element.
    let t = element::target(event);
    let target: Option<Element> = if t.is_instance_of::<Element>() {
        Some(t.unchecked_into())
    } else {
        None
    };
    if target.as_ref().is_some_and(element::is_blocked) {
        return;
    }
    let core = &cap.core;
    let (now, actor) = (core.now(), core.actor_of_scroll(event));
    let (emit_now, arm_needed) = {
        let mut s = cap.scroll.borrow_mut();
        let i = match index_of(&s.tracks, &target) {
            Some(i) => i,
            None => {
                // (Its actor set below, as a known target's is.)
                s.tracks.push(super::Entry {
                    last_emit: f64::NEG_INFINITY,
                    ..super::Entry::new(target.clone(), Actor::Script, now)
                });
                s.tracks.len() - 1
            }
        };
        let t = &mut s.tracks[i];
        t.last = now;
        t.actor = actor.clone();
        let emit_now = now - t.last_emit >= THROTTLE_MS;
        if emit_now {
            t.last_emit = now;
        }
        (emit_now, !super::armed(cap, super::SCROLL))
    };
    if emit_now {
        let pos = position(&target);
        let mut s = cap.scroll.borrow_mut();
        if let Some(i) = index_of(&s.tracks, &target) {
            s.tracks[i].emitted = Some(pos);
        }
        drop(s);
        emit(core, &target, actor, pos);
    }
    if arm_needed {
        arm(cap);
    }
}
