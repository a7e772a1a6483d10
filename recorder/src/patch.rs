//! Page methods the recorder must hear being called: `history.pushState` and
//! `replaceState` (single-page navigations fire no event) and
//! `Element.prototype.attachShadow` (a component's shadow root, whose password
//! fields, scrolls and submits the document's listeners cannot see).
//!
//! Each is replaced by a `Proxy` of the original whose `apply` trap calls the
//! original with the page's own `this` and arguments, then tells the
//! recorder. A proxy rather than a wrapper function: the call behaves exactly
//! as before (same `this`, every argument, same result, same exception), and
//! so does the method itself (`name`, `length`, `toString()`). And a proxy
//! can be disarmed: on stop its trap is taken from its handler, after which
//! it forwards every call to the original, so a page that kept a reference to
//! it (or wrapped it) goes on working, and the recorder leaks nothing.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::listener::JsFn;
use crate::observers::Capture;

/// What a patch runs after the page's call returned: the observers' state,
/// the call's result and the method's name.
pub type After = fn(&Rc<Capture>, &JsValue, &'static str);

/// `obj[name]` replaced by a proxy of it; dropping it puts the original back.
pub struct Patch {
    obj: JsValue,
    name: &'static str,
    original: JsValue,
    /// The original was `obj`'s own property (`Element.prototype`'s method,
    /// or someone patched `history` before us); else it was inherited and the
    /// proxy is deleted again.
    was_own: bool,
    proxy: JsValue,
    /// The proxy's handler, whose `apply` is `_trap` until dropped.
    handler: js_sys::Object,
    _trap: Closure<JsFn>,
}

impl Patch {
    /// `None` when `obj[name]` is no function or cannot be replaced (a page
    /// that froze it): the caller says what goes unrecorded.
    pub fn new(
        obj: &JsValue,
        name: &'static str,
        cap: &Rc<Capture>,
        after: After,
    ) -> Option<Patch> {
        let key = JsValue::from_str(name);
        let original = crate::global::get(obj, &key);
        // (`typeof`, which `dyn_into::<Function>` checks too.)
        if !original.is_function() {
            return None;
        }
        // `Object.hasOwn` is whether the object has an own descriptor for
        // the key: asked through `getOwnPropertyDescriptor`, which the form
        // observer imports anyway (no `hasOwn` import of its own).
        let was_own = !js_sys::Object::get_own_property_descriptor(
            obj.unchecked_ref::<js_sys::Object>(),
            &key,
        )
        .is_undefined();
        let weak = Rc::downgrade(cap);
        // The `apply` trap gets the original, the call's `this` and its
        // arguments (an array): the recorder's one closure type fits it.
        let trap = Closure::<JsFn>::new(move |target: JsValue, this: JsValue, args: JsValue| {
            // The original first: if it throws (a cross-origin URL does), the
            // page gets that exception and nothing is recorded.
            let result = js_sys::Reflect::apply(
                target.unchecked_ref::<js_sys::Function>(),
                &this,
                args.unchecked_ref(),
            )?;
            if let Some(cap) = weak.upgrade() {
                after(&cap, &result, name);
            }
            Ok(result)
        });
        let handler = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&handler, &crate::global::js_str!("apply"), trap.as_ref());
        let proxy: JsValue = js_sys::Proxy::new(&original, &handler).into();
        // A non-writable method does not throw here: `Reflect.set` says false.
        if !js_sys::Reflect::set(obj, &key, &proxy).unwrap_or(false) {
            return None;
        }
        Some(Patch {
            obj: obj.clone(),
            name,
            original,
            was_own,
            proxy,
            handler,
            _trap: trap,
        })
    }
}

impl Drop for Patch {
    fn drop(&mut self) {
        // Disarmed first: without an `apply` trap the proxy calls the
        // original itself, so the closure can go even if the page still
        // holds the proxy (it kept a reference, or wrapped it after us).
        // (An `undefined` trap is none.)
        let _ = js_sys::Reflect::set(
            &self.handler,
            &crate::global::js_str!("apply"),
            &JsValue::UNDEFINED,
        );
        let key = &JsValue::from_str(self.name);
        if crate::global::get(&self.obj, key) == self.proxy {
            if self.was_own {
                let _ = js_sys::Reflect::set(&self.obj, key, &self.original);
            } else {
                // `Reflect.deleteProperty` through `global::call`: no import
                // and glue of its own.
                let reflect = crate::element::window_get(&crate::global::js_str!("Reflect"));
                let del = &crate::global::js_str!("deleteProperty");
                let _ = crate::global::call(&reflect, del, &self.obj, key);
            }
        }
    }
}
