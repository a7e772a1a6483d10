//! Page-wide state without `std`'s `thread_local!` (the shipped bundle is
//! `no_std`, see `lib.rs`).
//!
//! In the page the recorder runs on wasm32 without the `atomics` feature, where
//! there is exactly one thread, so a `static` may hold a `!Sync` value such as a
//! `RefCell` or a `JsValue`. Native builds (unit tests) keep `thread_local!`.

#[cfg(target_family = "wasm")]
use core::cell::OnceCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Declares a page-wide `static` read with `NAME.with(|value| ...)`, initialised
/// on first use.
macro_rules! page_global {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(target_family = "wasm"))]
        std::thread_local! { $(#[$meta])* static $name: $ty = $init; }
        #[cfg(target_family = "wasm")]
        $(#[$meta])*
        static $name: $crate::global::PageGlobal<$ty> = $crate::global::PageGlobal::new(|| $init);
    };
}
pub(crate) use page_global;

/// [`page_global!`] for a value made in a `const` context (`RefCell::new(None)`
/// ...): nothing to initialise on first use, so no lazy cell per global.
macro_rules! page_const {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(target_family = "wasm"))]
        std::thread_local! { $(#[$meta])* static $name: $ty = const { $init }; }
        #[cfg(target_family = "wasm")]
        $(#[$meta])*
        static $name: $crate::global::PageConst<$ty> = $crate::global::PageConst($init);
    };
}
pub(crate) use page_const;

/// A constant string as a `JsValue`, made once per page: passing a `&str` to
/// JS decodes its UTF-8 on every call (`TextDecoder`), which a profile of the
/// benchmark trace put at several percent of the recorder's script time for
/// the selectors and property names read on every event.
#[cfg(target_family = "wasm")]
macro_rules! js_str {
    ($s:expr) => {
        // A place (`*` of the `&'static JsValue`): sites borrow it, `&js_str!(..)`.
        *{
            static S: $crate::global::JsStr = $crate::global::JsStr::new($s);
            &S
        }
        .get()
    };
}
#[cfg(not(target_family = "wasm"))]
macro_rules! js_str {
    ($s:expr) => {
        *{
            $crate::global::page_global! {
                static S: &'static wasm_bindgen::JsValue =
                    alloc::boxed::Box::leak(alloc::boxed::Box::new(wasm_bindgen::JsValue::from_str($s)));
            }
            S.with(|s| *s)
        }
    };
}
pub(crate) use js_str;

/// A constant string made into a `JsValue` on first use ([`js_str!`]). One
/// non-generic [`JsStr::get`] serves every call site: a `PageGlobal` per site
/// monomorphised its initialisation once per string.
#[cfg(target_family = "wasm")]
pub struct JsStr {
    cell: OnceCell<JsValue>,
    text: &'static str,
}

// SAFETY: as for `PageGlobal` below: one thread touches the page's module.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
unsafe impl Sync for JsStr {}

#[cfg(target_family = "wasm")]
impl JsStr {
    pub const fn new(text: &'static str) -> Self {
        JsStr {
            cell: OnceCell::new(),
            text,
        }
    }

    /// A reference, not a clone: a clone is an externref table slot taken
    /// and given back at every call site.
    #[inline(never)]
    pub fn get(&'static self) -> &'static JsValue {
        self.cell.get_or_init(|| JsValue::from_str(self.text))
    }
}

/// A value for the page's one thread, made at compile time ([`page_const!`]).
#[cfg(target_family = "wasm")]
pub struct PageConst<T>(pub T);

// SAFETY: as for `PageGlobal` below: one thread touches the page's module.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
unsafe impl<T> Sync for PageConst<T> {}

#[cfg(target_family = "wasm")]
impl<T> PageConst<T> {
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

/// A lazily initialised value for the page's one thread.
#[cfg(target_family = "wasm")]
pub struct PageGlobal<T> {
    cell: OnceCell<T>,
    init: fn() -> T,
}

// SAFETY: without the `atomics` target feature a wasm32 module cannot be shared
// between threads (no shared memory), so a `PageGlobal` is only ever touched by
// the thread that runs the page's script. The impl is absent when `atomics` is
// on, so a threaded build fails to compile instead of racing.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
unsafe impl<T> Sync for PageGlobal<T> {}

#[cfg(target_family = "wasm")]
impl<T> PageGlobal<T> {
    pub const fn new(init: fn() -> T) -> Self {
        PageGlobal {
            cell: OnceCell::new(),
            init,
        }
    }

    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(self.cell.get_or_init(self.init))
    }
}

#[wasm_bindgen]
extern "C" {
    /// The page's `window`, read once: `web_sys::window()` goes through
    /// `js_sys::global()`, which probes four globals and checks the result's
    /// class every call (five imports the bundle does not need).
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: web_sys::Window;
}

/// The page's `window` (`Option` to keep the callers' shape; always `Some` in a page).
pub fn window() -> Option<web_sys::Window> {
    Some(WINDOW.with(web_sys::Window::clone))
}

/// `obj[key]` through the one `Reflect.get` import (`undefined` if reading
/// throws, as storage getters do where storage is disabled). Properties read
/// this way cost no import of their own: each web-sys getter is one, with its
/// glue, in what every page downloads.
pub fn get(obj: &JsValue, key: &JsValue) -> JsValue {
    js_sys::Reflect::get(obj, key).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[name](a, b)`: methods called through `Function.call`, which the
/// recorder imports anyway, rather than through an import (and glue) each:
/// the storages', `Headers.get`, `fetch`, and the DOM methods of `element`
/// and `listener`. (Those ignore arguments beyond theirs.) `name` is read
/// from `obj`: what a page puts there (a form's control of that name) is
/// called, or is an error when it is no function.
#[inline(never)]
pub fn call(obj: &JsValue, name: &JsValue, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue> {
    get(obj, name)
        .unchecked_into::<js_sys::Function>()
        .call2(obj, a, b)
}

/// `obj[key]` when it is an object, as `T`. Only for properties whose type
/// the platform fixes (`window.document` is a `Document` ...): not checked.
pub fn get_object<T: JsCast>(obj: &JsValue, key: &JsValue) -> Option<T> {
    let v = get(obj, key);
    v.is_object().then(|| v.unchecked_into())
}

/// The page's `document`.
pub fn document() -> Option<web_sys::Document> {
    let window = window()?;
    get_object(&window, &js_str!("document"))
}
