//! Owned DOM event listeners: the only place that calls `addEventListener`.
//!
//! A [`Listener`] registers in the capture phase, passive, and removes itself
//! when dropped, so an observer that is dropped leaves nothing behind and
//! `stop()` is just dropping the observers. Handlers return nothing: what
//! they cannot read they skip, and nothing is thrown into the page's event
//! dispatch.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::EventTarget;

use crate::global::js_str;

use crate::observers::Capture;

/// The DOM events the recorder listens to: an enum, not free strings, so a typo
/// cannot silently listen to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Click,
    Scroll,
    Input,
    Change,
    FocusOut,
    Submit,
    PopState,
    HashChange,
    SelectionChange,
    PageHide,
    PageShow,
    VisibilityChange,
    Online,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Click => "click",
            EventKind::Scroll => "scroll",
            EventKind::Input => "input",
            EventKind::Change => "change",
            EventKind::FocusOut => "focusout",
            EventKind::Submit => "submit",
            EventKind::PopState => "popstate",
            EventKind::HashChange => "hashchange",
            EventKind::SelectionChange => "selectionchange",
            EventKind::PageHide => "pagehide",
            EventKind::PageShow => "pageshow",
            EventKind::VisibilityChange => "visibilitychange",
            EventKind::Online => "online",
        }
    }
}

/// What a listener runs (see [`Listener::on`]). Handlers do not fail: they
/// skip what they cannot read (a `Result` here only added an error path to
/// every handler).
pub type CaptureHandler = fn(&Rc<Capture>, &web_sys::Event);

/// The one signature of the recorder's JS callbacks (listeners, the `type`
/// observer, the history wrappers): one closure adapter in the glue and one
/// invoke shim in the wasm for all of them. A listener's extra arguments are
/// `undefined` and its result is ignored (it always returns `undefined`).
pub type JsFn = dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>;

/// One registered listener; dropping it unregisters it.
pub struct Listener {
    target: EventTarget,
    kind: EventKind,
    /// Takes `JsValue`s, not a `web_sys::Event`: the closure type every
    /// callback of the recorder shares ([`JsFn`], [`callback`]).
    callback: Closure<JsFn>,
}

impl Listener {
    /// Listens to `kind` on `target` (capture phase, passive) with a plain
    /// `fn` given the observers' state: every listener, the recorder's own
    /// too, shares one closure type (one vtable, call shim and drop glue in
    /// the wasm instead of one per handler). Infallible, so that starting the
    /// observers has no error paths (see `observers::start`).
    pub fn on(
        target: &EventTarget,
        kind: EventKind,
        cap: &Rc<Capture>,
        handler: CaptureHandler,
    ) -> Listener {
        let callback = callback(cap, handler);
        // It does not throw for a function and these options; if a page's
        // patched `addEventListener` does, that concern goes unrecorded, said
        // once, and the recorder goes on with the others.
        let add = call(
            target,
            &js_str!("addEventListener"),
            kind,
            callback.as_ref(),
            &JsValue::UNDEFINED,
        );
        if let Err(err) = add {
            crate::console::warn_js(
                &crate::text::concat(&["cotrail: cannot listen to ", kind.as_str()]),
                &err,
            );
        }
        Listener {
            target: target.clone(),
            kind,
            callback,
        }
    }
}

/// The JS function of a listener: calls `handler` with the observers' state
/// (see [`Listener::on`]). Also the `type` observer's callback, whose
/// argument is its records, not an event: one closure type for both.
pub fn callback(cap: &Rc<Capture>, handler: CaptureHandler) -> Closure<JsFn> {
    let cap = cap.clone();
    Closure::<JsFn>::new(move |event: JsValue, _: JsValue, _: JsValue| {
        handler(&cap, event.unchecked_ref());
        Ok(JsValue::UNDEFINED)
    })
}

/// `target[method](kind, callback, {capture: true, passive: true})`, for
/// `addEventListener` and `removeEventListener` (which reads only `capture`
/// of its options) through `Function.call`, imported anyway, rather than an
/// import and glue adapter each. With a `signal`, the listener goes when it
/// aborts (an `undefined` one is no signal: an absent option).
fn call(
    target: &JsValue,
    method: &JsValue,
    kind: EventKind,
    callback: &JsValue,
    signal: &JsValue,
) -> Result<JsValue, JsValue> {
    // Passive: the recorder must never delay scrolling or call
    // preventDefault.
    let options = flags(&["capture", "passive"]);
    let _ = js_sys::Reflect::set(&options, &js_str!("signal"), signal);
    crate::global::get(target, method)
        .unchecked_into::<js_sys::Function>()
        .call3(
            target,
            &JsValue::from_str(kind.as_str()),
            callback,
            &options,
        )
}

/// Listens to `kind` on `target` (capture phase, passive) with `callback`
/// until `signal` aborts: the listeners in shadow roots, which the recorder
/// does not hold (each would keep its root alive), all go with one
/// `AbortController.abort()` on stop.
pub fn listen_until(target: &JsValue, kind: EventKind, callback: &JsValue, signal: &JsValue) {
    let _ = call(target, &js_str!("addEventListener"), kind, callback, signal);
}

/// A new object with each of `keys` set to `true` (the options of a
/// listener, an observer, a slot's `assignedNodes`): `Reflect.set`, imported
/// anyway, instead of a setter import and glue per option.
pub fn flags(keys: &[&str]) -> js_sys::Object {
    let options = js_sys::Object::new();
    for key in keys {
        let _ = js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::TRUE);
    }
    options
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = call(
            &self.target,
            &js_str!("removeEventListener"),
            self.kind,
            self.callback.as_ref(),
            &JsValue::UNDEFINED,
        );
    }
}
