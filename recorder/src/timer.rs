//! Owned timers: dropping a [`Timer`] (one-shot or an [`Interval`]) cancels it, so an observer that
//! is dropped leaves no timer behind.
//!
//! Every timer goes through one non-generic constructor that boxes the
//! callback: the wasm then carries one copy of the closure glue instead of one
//! per call site (each copy was close to a kilobyte). The global `setTimeout`
//! is imported directly (gloo-timers needs `std`, which the bundle leaves out).
//!
//! `setTimeout` and `clearTimeout` are the page's, and a page may wrap them
//! with code that calls back into the recorder (`flush()`, `recordCustom`):
//! a timer is therefore made before, and dropped after, any borrow of the
//! recorder's state (`let old = cell.borrow_mut().timer.replace(new);
//! drop(old);`), never inside one.

#[allow(unused_imports)]
use crate::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &JsValue, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(callback: &JsValue, ms: u32) -> JsValue;
}

/// The closure type every timer, interval and listener shares (one invoke
/// shim and glue adapter for all, [`crate::listener::JsFn`]): the timers
/// ignore the arguments and answer `undefined`.
type Callback = Closure<crate::listener::JsFn>;

pub struct Timer {
    id: JsValue,
    // Kept alive until the timer fires or is dropped.
    _callback: Callback,
}

impl Timer {
    /// Calls `f` once after `ms` milliseconds unless the timer is dropped first.
    pub fn once(ms: u32, f: impl FnOnce() + 'static) -> Timer {
        Timer::boxed(ms, Box::new(f))
    }

    fn boxed(ms: u32, f: Box<dyn FnOnce()>) -> Timer {
        // Taken out before it runs: it may drop its own timer.
        let f = core::cell::Cell::new(Some(f));
        let callback = Callback::new(move |_: JsValue, _: JsValue, _: JsValue| {
            if let Some(f) = f.take() {
                f();
            }
            Ok(JsValue::UNDEFINED)
        });
        let id = set_timeout(callback.as_ref(), ms);
        Timer {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// A repeating timer, cancelled when dropped: a [`Timer`] (one type, one
/// drop), cleared by `clearTimeout` too, since timeouts and intervals share
/// one list of timers (HTML), which either `clear` function clears.
pub type Interval = Timer;

impl Timer {
    /// An [`Interval`]: calls `f` every `ms` milliseconds until it is dropped.
    pub fn new(ms: u32, f: impl Fn() + 'static) -> Interval {
        let callback = Callback::new(move |_: JsValue, _: JsValue, _: JsValue| {
            f();
            Ok(JsValue::UNDEFINED)
        });
        let id = set_interval(callback.as_ref(), ms);
        Timer {
            id,
            _callback: callback,
        }
    }
}

/// Takes the items `due` says are ready out of `v`, in order, leaving the rest
/// in order: what a debounce or throttle timer drains when it fires. (A loop of
/// `remove` rather than `partition`: the lists hold a few fields or scroll
/// targets, and `partition` builds both halves through generic `Extend` code.)
pub fn take_due<T>(v: &mut Vec<T>, due: impl Fn(&T) -> bool) -> Vec<T> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if due(&v[i]) {
            out.push(v.remove(i));
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::take_due;

    #[test]
    fn due_items_are_taken_in_order_and_the_rest_stay_in_order() {
        let mut v = vec![1, 2, 3, 4, 5, 6];
        assert_eq!(take_due(&mut v, |n| n % 2 == 0), [2, 4, 6]);
        assert_eq!(v, [1, 3, 5]);
        assert_eq!(take_due(&mut v, |_| false), Vec::<i32>::new());
        assert_eq!(take_due(&mut v, |_| true), [1, 3, 5]);
        assert!(v.is_empty());
    }
}
