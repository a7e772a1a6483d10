//! `SCROLL`: the page (`target` absent, `scrollX/Y`) or an element (`scrollLeft/Top`).
//! A burst of scroll events becomes at most one event per [`THROTTLE_MS`] per
//! target, and the position where the burst ended is always recorded.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use crate::timer::Timer;
use shared::{Actor, EventData, ScrollData};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element};

use crate::element;
use crate::global::{get, js_str};
use crate::listener::{EventKind, Listener};
use crate::recorder::Core;

/// Least time between two events of one scrolling target: a reviewer needs where
/// the person looked, not every frame.
pub const THROTTLE_MS: f64 = 250.0;

struct Track {
    /// `None`: the page.
    target: Option<Element>,
    actor: Actor,
    last_emit: f64,
    last_event: f64,
    emitted: Option<(i64, i64)>,
}

#[derive(Default)]
struct State {
    tracks: Vec<Track>,
    timer: Option<Timer>,
}

pub struct ScrollObserver {
    core: Rc<Core>,
    state: Rc<RefCell<State>>,
    _listener: Listener,
}

fn position(target: &Option<Element>) -> (i64, i64) {
    match target {
        Some(el) => offsets(el, &js_str!("scrollLeft"), &js_str!("scrollTop")),
        None => crate::global::window().map_or((0, 0), |w| {
            offsets(&w, &js_str!("scrollX"), &js_str!("scrollY"))
        }),
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
fn emit_ended(core: &Rc<Core>, state: &RefCell<State>, now: f64) {
    let ended = {
        let mut s = state.borrow_mut();
        s.timer.take();
        crate::timer::take_due(&mut s.tracks, |t| now - t.last_event >= THROTTLE_MS - 1.0)
    };
    for t in ended {
        let pos = position(&t.target);
        if t.emitted != Some(pos) {
            emit(core, &t.target, t.actor, pos);
        }
    }
}

/// After a burst: records final positions not yet recorded, forgets quiet targets.
fn arm(core: &Rc<Core>, state: &Rc<RefCell<State>>) {
    let (weak_core, weak_state): (Weak<Core>, Weak<RefCell<State>>) =
        (Rc::downgrade(core), Rc::downgrade(state));
    state.borrow_mut().timer = Some(Timer::once(THROTTLE_MS as u32, move || {
        let (Some(core), Some(state)) = (weak_core.upgrade(), weak_state.upgrade()) else {
            return;
        };
        emit_ended(&core, &state, core.now());
        if !state.borrow().tracks.is_empty() {
            arm(&core, &state);
        }
    }));
}

impl ScrollObserver {
    pub fn new(core: &Rc<Core>, document: &Document) -> Self {
        let state = Rc::new(RefCell::new(State::default()));
        let handler: element::RootHandler = {
            let (core, state) = (core.clone(), state.clone());
            Rc::new(move |event: &web_sys::Event| {
                // The page scrolling targets the document; anything else is an element.
                let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
                if target.as_ref().is_some_and(element::is_blocked) {
                    return;
                }
                let (now, actor) = (core.now(), core.actor_of_scroll(event));
                let (emit_now, arm_needed) = {
                    let mut s = state.borrow_mut();
                    let i = match s.tracks.iter().position(|t| t.target == target) {
                        Some(i) => i,
                        None => {
                            s.tracks.push(Track {
                                target: target.clone(),
                                actor: actor.clone(),
                                last_emit: f64::NEG_INFINITY,
                                last_event: now,
                                emitted: None,
                            });
                            s.tracks.len() - 1
                        }
                    };
                    let t = &mut s.tracks[i];
                    t.last_event = now;
                    t.actor = actor.clone();
                    let emit_now = now - t.last_emit >= THROTTLE_MS;
                    if emit_now {
                        t.last_emit = now;
                    }
                    (emit_now, s.timer.is_none())
                };
                if emit_now {
                    let pos = position(&target);
                    if let Some(t) = state
                        .borrow_mut()
                        .tracks
                        .iter_mut()
                        .find(|t| t.target == target)
                    {
                        t.emitted = Some(pos);
                    }
                    emit(&core, &target, actor, pos);
                }
                if arm_needed {
                    arm(&core, &state);
                }
            })
        };
        // Also in shadow roots: an element's `scroll` does not leave one.
        element::hook_roots(EventKind::Scroll, handler.clone());
        ScrollObserver {
            core: core.clone(),
            state,
            _listener: Listener::new(document, EventKind::Scroll, move |e| handler(e)),
        }
    }

    /// Records final positions of bursts still in progress.
    pub fn flush(&self) {
        emit_ended(&self.core, &self.state, f64::INFINITY);
    }
}

impl Drop for ScrollObserver {
    fn drop(&mut self) {
        self.state.borrow_mut().timer.take();
    }
}
