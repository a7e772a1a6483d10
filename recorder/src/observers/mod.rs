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

use web_sys::{Document, Window};

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
    page: page::PageObserver,
}

impl Observers {
    /// Starts every observer. Nothing here can fail: a recorder that cannot
    /// hook one concern still records the others (and no error path has to
    /// drop what was built before it, which was 0.4 KB of what pages download).
    pub fn start(core: &Rc<Core>, window: &Window, document: &Document) -> Observers {
        Observers {
            // The page first, so the trail opens with where the person is.
            page: page::PageObserver::new(core, window),
            _click: click::ClickObserver::new(core, document),
            _form: form::FormObserver::new(core, document),
            scroll: scroll::ScrollObserver::new(core, document),
            input: input::InputObserver::new(core, document),
            selection: selection::SelectionObserver::new(core, document),
        }
    }

    /// The page came back from the back/forward cache: a PAGE-CHANGE for it.
    pub fn returned(&self, core: &Rc<Core>, actor: shared::Actor) {
        self.page.returned(core, actor);
    }

    /// Records what debouncing and throttling still hold back (page going away).
    pub fn flush(&self, core: &Rc<Core>) {
        // History calls still waiting for their title (one made just before
        // `stop()` or a departure).
        self.page.flush(core);
        self.input.flush();
        self.scroll.flush();
        self.selection.flush();
    }
}

impl Drop for Observers {
    fn drop(&mut self) {
        // The listeners shadow roots were given for the scroll and form
        // observers go with them.
        crate::element::unhook_roots();
    }
}
