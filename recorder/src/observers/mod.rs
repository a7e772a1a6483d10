//! One observer per DOM concern. Their state is held together ([`Capture`])
//! and their handlers are plain functions given it: one closure type for
//! every listener and one for every timer, instead of a closure with its own
//! vtable, call shims and drop glue per handler. [`Observers`] owns the
//! listeners (and the timers, through the state); dropping it removes them.
//! Handlers mask before they record.
//!
//! - [`click`]: `CLICK` on the control that was clicked.
//! - [`scroll`]: `SCROLL` of the page or an element, throttled, final position kept.
//! - [`input`]: `INPUT`, debounced per field, masked.
//! - [`form`]: `FORM` on submit.
//! - [`page`]: `PAGE-CHANGE` on load, history calls, back/forward and hash changes.
//! - [`selection`]: `SELECTION` of text, debounced, masked.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use web_sys::{Document, Window};

use crate::listener::{CaptureHandler, EventKind, Listener};
use crate::recorder::Core;
use crate::timer::Timer;

pub mod click;
pub mod form;
pub mod input;
pub mod page;
pub mod scroll;
pub mod selection;

/// A target waiting in the input debounce or the scroll throttle, or a
/// navigation waiting for its title: one type for those lists and the
/// input's settled fields, so that they share their `Vec` code (push,
/// growth, removal, drop).
pub(super) struct Entry {
    /// The field (`input`: always one), or the scrolled element (`None`:
    /// the page).
    target: Option<web_sys::Element>,
    actor: shared::Actor,
    /// When its last event came (`page`: when the navigation happened, the
    /// page's clock: its event's time, though recorded after the task).
    last: f64,
    /// `scroll`: when it was last recorded; `page`: `history.length`.
    last_emit: f64,
    /// `scroll`: the position last recorded.
    emitted: Option<(i64, i64)>,
    /// `input`: the field's masking when typing began: a field that leaves
    /// its masked part of the page before the debounce ends (a wizard step
    /// re-rendered on Enter) is still masked when its value is recorded.
    masked: Option<shared::MaskReason>,
    /// `input`'s settled fields: the value recorded (`undefined` otherwise).
    value: wasm_bindgen::JsValue,
    /// `page`: the URL, the kind of navigation and its history entry
    /// (Navigation API).
    url: String,
    nav: shared::Navigation,
    entry: Option<String>,
}

impl Entry {
    /// An entry with nothing but its target, actor and time.
    fn new(target: Option<web_sys::Element>, actor: shared::Actor, last: f64) -> Entry {
        Entry {
            target,
            actor,
            last,
            last_emit: 0.0,
            emitted: None,
            masked: None,
            value: wasm_bindgen::JsValue::UNDEFINED,
            url: String::new(),
            nav: shared::Navigation::Load,
            entry: None,
        }
    }
}

/// What the observers of a running recorder keep between events.
pub struct Capture {
    pub core: Rc<Core>,
    /// The control a `<label>` click passes on to: the browser clicks it
    /// within the same task, after the page's handlers of the label click
    /// (however long they take); a 0 ms timer ([`CLICK`]) forgets it once
    /// that task is over.
    click: Cell<Option<web_sys::Element>>,
    scroll: RefCell<scroll::State>,
    input: RefCell<input::State>,
    selection: RefCell<selection::State>,
    page: RefCell<page::State>,
    /// The scroll throttle's, the input and selection debounces', the
    /// page title's and the forwarded click's timer ([`SCROLL`], [`INPUT`],
    /// [`SELECTION`], [`TITLE`], [`CLICK`]): one slot type for all of them,
    /// set and taken by the same code.
    timers: [RefCell<Option<Timer>>; 5],
}

const SCROLL: usize = 0;
const INPUT: usize = 1;
const SELECTION: usize = 2;
const TITLE: usize = 3;
const CLICK: usize = 4;

/// The handlers of events that do not leave a shadow root (`scroll`,
/// `submit`: not composed), added in every open shadow root
/// (`element::watch_root`), in this order. They hear only the root's
/// own nodes: the page's nodes slotted into it pass through it too, and the
/// document hears those.
pub const ROOT_HANDLERS: [(EventKind, CaptureHandler); 2] = [
    (EventKind::Submit, |cap, e| {
        if crate::element::in_own_root(e) {
            form::on_submit(cap, e)
        }
    }),
    (EventKind::Scroll, |cap, e| {
        if crate::element::in_own_root(e) {
            scroll::on_scroll(cap, e)
        }
    }),
];

/// A timer that calls `f` with the observers' state, unless they are gone:
/// one closure type for every observer's timer.
fn after(cap: &Rc<Capture>, ms: u32, f: fn(&Rc<Capture>)) -> Timer {
    let weak = Rc::downgrade(cap);
    Timer::once(ms, move || {
        if let Some(cap) = weak.upgrade() {
            f(&cap)
        }
    })
}

/// Arms timer `which` of [`Capture::timers`] ([`after`]). Set with the state
/// free: dropping the one it replaces calls the page's `clearTimeout`, and
/// the page's `setTimeout` above may call back into the recorder (see
/// `timer`).
fn arm(cap: &Rc<Capture>, which: usize, ms: u32, f: fn(&Rc<Capture>)) {
    let old = arm_keep(cap, which, ms, f);
    drop(old);
}

/// [`arm`], answering the timer replaced, for the caller to drop once it
/// has set what goes with the new one.
fn arm_keep(cap: &Rc<Capture>, which: usize, ms: u32, f: fn(&Rc<Capture>)) -> Option<Timer> {
    let timer = after(cap, ms, f);
    cap.timers[which].replace(Some(timer))
}

/// Stops timer `which` of [`Capture::timers`]: dropped by the caller once
/// its state is free again (see `timer`).
fn take_timer(cap: &Capture, which: usize) -> Option<Timer> {
    cap.timers[which].take()
}

/// Whether timer `which` of [`Capture::timers`] is armed.
fn armed(cap: &Capture, which: usize) -> bool {
    cap.timers[which].borrow().is_some()
}

/// Every observer of a running recorder.
pub struct Observers {
    cap: Rc<Capture>,
    _listeners: Vec<Listener>,
    _patches: [Option<crate::patch::Patch>; 3],
    _passwords: Option<input::PasswordWatch>,
}

impl Observers {
    /// Starts every observer. Nothing here can fail: a recorder that cannot
    /// hook one concern still records the others (and no error path has to
    /// drop what was built before it, which was 0.4 KB of what pages download).
    pub fn start(core: &Rc<Core>, window: &Window, document: &Document) -> Observers {
        let cap = Rc::new(Capture {
            core: core.clone(),
            click: Cell::new(None),
            scroll: RefCell::default(),
            input: RefCell::default(),
            selection: RefCell::default(),
            page: RefCell::default(),
            timers: Default::default(),
        });
        // The page first, so the trail opens with where the person is.
        page::start(&cap);
        let mut listeners = Vec::new();
        let mut on = |target: &web_sys::EventTarget, kind, handler| {
            listeners.push(Listener::on(target, kind, &cap, handler));
        };
        on(window, EventKind::PopState, page::on_pop_state);
        on(window, EventKind::HashChange, page::on_hash_change);
        let [push, replace] = page::patch_history(&cap, window);
        on(document, EventKind::Click, click::on_click);
        // Also in shadow roots: `submit` and an element's `scroll` do not
        // leave one, and the document's `type` observer does not see into
        // one. Every root `attachShadow` makes from now on is hooked, and
        // (once the observer is there) every open root already there.
        crate::element::hook_roots(&cap);
        let element = crate::global::get(window, &crate::global::js_str!("Element"));
        let attach = crate::patch::Patch::new(
            &crate::global::get(&element, &crate::global::js_str!("prototype")),
            "attachShadow",
            &cap,
            crate::element::attached,
        );
        on(document, EventKind::Submit, form::on_submit);
        on(document, EventKind::Scroll, scroll::on_scroll);
        on(document, EventKind::Input, input::on_input);
        on(document, EventKind::Change, input::on_change);
        on(document, EventKind::FocusOut, input::on_focus_out);
        let passwords = input::PasswordWatch::new(&cap, document);
        crate::element::watch_tree(document);
        on(document, EventKind::SelectionChange, selection::on_change);
        Observers {
            cap,
            _listeners: listeners,
            _patches: [push, replace, attach],
            _passwords: passwords,
        }
    }

    /// The observers' state, which the recorder's own listeners are given.
    pub fn capture(&self) -> &Rc<Capture> {
        &self.cap
    }

    /// Records what debouncing and throttling still hold back.
    pub fn flush(&self) {
        self.cap.flush();
    }
}

impl Capture {
    /// The page came back from the back/forward cache: a PAGE-CHANGE for it.
    pub fn returned(self: &Rc<Self>, actor: shared::Actor) {
        page::returned(self, actor);
    }

    /// Records what debouncing and throttling still hold back (page going away).
    pub fn flush(self: &Rc<Self>) {
        // History calls still waiting for their title (one made just before
        // `stop()` or a departure).
        page::record_pending(self);
        input::emit_settled(self, f64::INFINITY);
        scroll::emit_ended(self, f64::INFINITY);
        selection::flush(self);
    }
}

impl Drop for Observers {
    fn drop(&mut self) {
        // The listeners shadow roots were given for the scroll and form
        // observers go with them.
        crate::element::unhook_roots();
        // Every timer is cancelled; the page's pending title reads are lost
        // with the recorder.
        // Each dropped with no state borrowed (see `timer`).
        let cap = &self.cap;
        let taken = (
            cap.click.take(),
            take_timer(cap, CLICK),
            take_timer(cap, SCROLL),
            take_timer(cap, INPUT),
            take_timer(cap, SELECTION),
            take_timer(cap, TITLE),
        );
        drop(taken);
    }
}
