//! The cotrail recorder: captures a co-browsing session's events in the page
//! (Rust compiled to wasm) and delivers them to the collector.
//!
//! This file is only the `#[wasm_bindgen]` surface the loader (`js/loader.js`)
//! calls; the work is in the modules:
//!
//! - [`config`]: the script tag's `data-*` attributes, parsed.
//! - [`identity`]: session id, tab id and sequence, kept across page loads of a tab.
//! - [`recorder`]: the running recorder (`Core` shared by the observers).
//! - [`observers`]: one per DOM concern (click, scroll, input, form, page, selection).
//! - [`listener`]: owned event listeners, the only `addEventListener` call site.
//! - [`patch`]: page methods replaced by proxies (`history.pushState`,
//!   `replaceState`, `attachShadow`).
//! - [`element`]: element descriptors (id, name, tag, CSS path, label).
//! - [`masking`]: pure privacy decisions.
//! - [`custom`]: `recordCustom(type, value)` validation.
//! - [`queue`]: pure delivery queue: sequence numbers, batching by count, bytes
//!   and time, one batch in flight, the byte bound and gap records.
//! - [`json`]: the JSON encoder for the wire types (no serde_json in the page).
//! - [`text`]: building messages without `core::fmt`.
//! - [`retry`]: pure response classification and backoff.
//! - [`storage`]: the queue mirrored in `localStorage`, tab heartbeats.
//! - [`transport`]: `fetch`, retries, keepalive on unload, adopting dead tabs' queues.
//! - [`console`]: warnings to the page's console.
//!
//! Invariants: nothing here throws into the host page's event dispatch, calls
//! `preventDefault` or blocks scrolling; values are masked before they are
//! buffered; `stop()` leaves no listener, timer or patched method behind.
//!
//! In the page the crate is `no_std` (with `alloc`): `std`'s panic and
//! formatting machinery were a fifth of the wasm. The shipped module is built
//! from `recorder/bundle`, which adds the trapping panic handler; tests and
//! native builds link `std` as usual.

#![cfg_attr(all(target_family = "wasm", not(test)), no_std)]

extern crate alloc;

use alloc::rc::Rc;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

// Single-threaded wasm (no `atomics`): size classes instead of dlmalloc, see
// `heap.rs`.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: heap::Heap<heap::WasmPages> = heap::Heap::new(heap::WasmPages);

/// The `alloc` names the modules use, imported explicitly so they also build
/// without `std`'s prelude.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

pub mod global;
pub mod heap;

pub mod config;
pub mod console;
pub mod custom;
pub mod element;
pub mod identity;
pub mod json;
pub mod listener;
pub mod masking;
pub mod num;
pub mod observers;
pub mod patch;
pub mod queue;
pub mod recorder;
pub mod retry;
pub mod storage;
pub mod text;
pub mod timer;
pub mod transport;

#[allow(unused_imports)]
use crate::prelude::*;
use crate::recorder::{Core, Recorder};
use crate::text::concat;

global::page_const! {
    /// The page's one recorder: starting twice must not double every event.
    static RECORDER: RefCell<Option<Recorder>> = RefCell::new(None);
}

global::page_const! {
    /// The configuration the running recorder was started with, and the timer
    /// of a restart as a new tab (see [`restart_as_new_tab`]).
    static RESTART: RefCell<(Option<JsValue>, Option<timer::Timer>)> = RefCell::new((None, None));
}

/// Starts the recorder again, with the same configuration, as a new tab (a
/// new tab id, its sequence from 0), once the current task is over: the page
/// came back from the back/forward cache and found its tab taken by another
/// page meanwhile. Called from the recorder's own listener, hence the timer.
pub(crate) fn restart_as_new_tab() {
    let restart = timer::Timer::once(0, || {
        // None: the page called `stop()` meanwhile, and stopped it stays.
        let Some(config) = RESTART.with(|r| r.borrow_mut().0.take()) else {
            return;
        };
        stop();
        identity::remove(identity::TAB_KEY);
        identity::remove(identity::SEQ_KEY);
        if let Err(e) = start(config) {
            console::warn_js("cotrail: could not start again as a new tab", &e.into());
        }
    });
    // The one it replaces is dropped with the cell free (see `timer`).
    let old = RESTART.with(|r| r.borrow_mut().1.replace(restart));
    drop(old);
}

fn core() -> Option<Rc<Core>> {
    RECORDER.with(|r| r.borrow().as_ref().map(|r| r.core().clone()))
}

/// Starts recording with the loader's configuration object (`collector`,
/// `siteKey`, `sessionId`, `actor`, `agentId`, `mask`, `flushMs`, `batchEvents`,
/// all strings). A second call while running is ignored with a warning.
#[wasm_bindgen]
pub fn start(config: JsValue) -> Result<(), JsError> {
    if RECORDER.with(|r| r.borrow().is_some()) {
        console::warn("cotrail: already recording; start() ignored");
        return Ok(());
    }
    let get = |name: &str| global::get(&config, &JsValue::from_str(name)).as_string();
    // The loader's compressing sender (absent when started directly, or where the
    // browser has no CompressionStream): batches then go out as plain text.
    let send = global::get(&config, &JsValue::from_str("send"));
    // (`typeof` is what `dyn_into::<Function>` checks too.)
    let send = send
        .is_function()
        .then(|| send.unchecked_into::<js_sys::Function>());
    RESTART.with(|r| r.borrow_mut().0 = Some(config.clone()));
    let config =
        config::Config::parse(get, |w| console::warn(&w)).map_err(|e| JsError::new(&e.0))?;
    // (`window` is always there: only a page without `document` fails.)
    let Some(recorder) = Recorder::start(config, send) else {
        return Err(JsError::new("cotrail: could not start: no document"));
    };
    RECORDER.with(|r| *r.borrow_mut() = Some(recorder));
    Ok(())
}

/// Stops recording: listeners, timers and history patches are removed; what is
/// still unsent goes out with `keepalive`.
#[wasm_bindgen]
pub fn stop() {
    // No restart after this (see `restart_as_new_tab`).
    RESTART.with(|r| r.borrow_mut().0 = None);
    // Taken out first so no borrow is held while the recorder talks to the page.
    if let Some(recorder) = RECORDER.with(|r| r.borrow_mut().take()) {
        recorder.stop();
    }
}

/// Sends everything recorded so far now.
#[wasm_bindgen]
pub fn flush() {
    // Not taken out while it sends: the page's `fetch` wrapper may call the
    // API meanwhile (a `stop()` there stands).
    if let Some(parts) = RECORDER.with(|r| r.borrow().as_ref().map(Recorder::flusher)) {
        Recorder::flush(parts);
    }
}

/// Records a `CUSTOM_EVENT`. Misuse is a console warning, never an exception.
/// `at`: when the page made the call (`performance.now()`), for calls the
/// loader queued before the recorder was ready; now when absent.
pub fn record_custom(kind: JsValue, value: JsValue, at: Option<f64>) {
    let Some(core) = core() else {
        console::warn("cotrail: recordCustom called while not recording; ignored");
        return;
    };
    match custom::custom_data(&kind, &value) {
        Ok(data) => core.record_at(core.current_actor(), shared::EventData::Custom(data), at),
        Err(e) => console::warn(&concat(&["cotrail: recordCustom(type, value): ", &e])),
    }
}

/// [`record_custom`] for the page. `at` comes as a `JsValue` (a number, or
/// `undefined` from the loader's direct calls): an `Option<f64>` parameter
/// takes two in the glue and the wasm.
#[wasm_bindgen(js_name = recordCustom)]
pub fn record_custom_js(kind: JsValue, value: JsValue, at: JsValue) {
    record_custom(kind, value, at.as_f64());
}

/// Attributes DOM events dispatched until [`agent_scope_exit`] to this agent
/// (the loader's `cotrail.asAgent(id, fn)` brackets `fn` with the two calls).
/// An id that is not valid is warned about and made valid ([`text::id_like`]):
/// what `fn` does is still the agent's, not the customer's or `script`'s.
///
/// The id comes as a `JsValue` (the loader always passes a non-empty string)
/// and is read with `as_string`, which shares the string glue every other
/// read uses: a `String` parameter brings an adapter of its own into the
/// glue. Anything but a string reads as an empty id (warned about, made
/// valid).
#[wasm_bindgen(js_name = agentScopeEnter)]
pub fn agent_scope_enter(agent_id: JsValue) {
    let agent_id = agent_id.as_string().unwrap_or_default();
    let id = match shared::AgentId::parse(agent_id.as_str()) {
        Ok(id) => id,
        Err(e) => {
            let like = text::id_like(&agent_id);
            let mut msg = String::from("cotrail: asAgent: agent id ");
            text::push_id_error(&mut msg, &e);
            msg.push_str("; recorded as ");
            json::push_str(&mut msg, &like);
            console::warn(&msg);
            // Always valid (a native test of `id_like` says so).
            let Ok(id) = shared::AgentId::parse(like) else {
                return;
            };
            id
        }
    };
    if let Some(core) = core() {
        core.enter_agent_scope(id);
    }
}

/// Ends the innermost agent scope.
#[wasm_bindgen(js_name = agentScopeExit)]
pub fn agent_scope_exit() {
    if let Some(core) = core() {
        core.exit_agent_scope();
    }
}

/// The session being recorded (`None` when not recording).
pub fn session_id() -> Option<String> {
    core().map(|c| c.session_id().as_str().to_owned())
}

/// This tab's id (`None` when not recording).
pub fn tab_id() -> Option<String> {
    core().map(|c| c.tab_id().as_str().to_owned())
}

/// [`session_id`] for the page: a JS string, `undefined` when not recording.
/// (A `JsValue`, not an `Option<String>`: that return copies the id into a
/// Rust allocation the glue then decodes and frees.)
#[wasm_bindgen(js_name = sessionId)]
pub fn session_id_js() -> JsValue {
    core().map_or(JsValue::UNDEFINED, |c| c.session_id().as_str().into())
}

/// [`tab_id`] for the page, as [`session_id_js`].
#[wasm_bindgen(js_name = tabId)]
pub fn tab_id_js() -> JsValue {
    core().map_or(JsValue::UNDEFINED, |c| c.tab_id().as_str().into())
}

/// Delivery counters: `{acked, rejected, retries, dropped}` (`undefined` when
/// not recording). Non-retryable rejections and drops are visible here, not only
/// in the console.
#[wasm_bindgen]
pub fn stats() -> JsValue {
    let Some(core) = core() else {
        return JsValue::UNDEFINED;
    };
    let s = core.stats();
    let o = js_sys::Object::new();
    let set = |k: &str, v: u64| {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_f64(v as f64));
    };
    set("acked", s.acked.get());
    set("rejected", s.rejected.get());
    set("retries", s.retries.get());
    set("dropped", s.dropped.get());
    o.into()
}
