//! One observer per DOM concern. Each owns its listeners (and timers); dropping
//! an observer removes them. Handlers mask before they record.
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

use wasm_bindgen::JsValue;

use crate::recorder::Core;

pub mod click;
pub mod form;
pub mod input;
pub mod page;
pub mod scroll;
pub mod selection;

/// Every observer of a running recorder.
pub struct Observers {
    _click: click::ClickObserver,
    _form: form::FormObserver,
    scroll: scroll::ScrollObserver,
    input: input::InputObserver,
    selection: selection::SelectionObserver,
    _page: page::PageObserver,
}

impl Observers {
    pub fn start(core: &Rc<Core>) -> Result<Observers, JsValue> {
        Ok(Observers {
            // The page first, so the trail opens with where the person is.
            _page: page::PageObserver::new(core)?,
            _click: click::ClickObserver::new(core)?,
            _form: form::FormObserver::new(core)?,
            scroll: scroll::ScrollObserver::new(core)?,
            input: input::InputObserver::new(core)?,
            selection: selection::SelectionObserver::new(core)?,
        })
    }

    /// Records what debouncing and throttling still hold back (page going away).
    pub fn flush(&self) {
        self.input.flush();
        self.scroll.flush();
        self.selection.flush();
    }
}
