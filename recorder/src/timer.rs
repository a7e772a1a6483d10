//! Owned one-shot timers: dropping a [`Timer`] cancels it, so an observer that
//! is dropped leaves no timer behind.
//!
//! Every timer goes through one non-generic constructor that boxes the
//! callback: the wasm then carries one copy of the closure glue instead of one
//! per call site (each copy was close to a kilobyte).

use gloo_timers::callback::Timeout;

pub struct Timer(#[allow(dead_code)] Timeout);

impl Timer {
    /// Calls `f` once after `ms` milliseconds unless the timer is dropped first.
    pub fn once(ms: u32, f: impl FnOnce() + 'static) -> Timer {
        Timer::boxed(ms, Box::new(f))
    }

    fn boxed(ms: u32, f: Box<dyn FnOnce()>) -> Timer {
        Timer(Timeout::new(ms, f))
    }
}
