//! `CLICK`: the control that was clicked (the button around the clicked icon).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::RefCell;

use shared::{ClickData, EventData};
use web_sys::{Document, Element};

use crate::element;
use crate::listener::{EventKind, Listener};
use crate::recorder::Core;

/// A label's click reaches its control within the same task; a person cannot
/// click twice that fast.
const FORWARD_MS: f64 = 50.0;

pub struct ClickObserver {
    _listener: Listener,
}

impl ClickObserver {
    pub fn new(core: &Rc<Core>, document: &Document) -> Self {
        let core = core.clone();
        // The control a `<label>` click was just passed on to: the browser
        // clicks it too, and one click of the person is one event.
        let forwarded: RefCell<Option<(Element, f64)>> = RefCell::new(None);
        let listener = Listener::new(document, EventKind::Click, move |event| {
            let Some(el) = element::event_element(event) else {
                return;
            };
            if element::is_blocked(&el) {
                return;
            }
            let el = element::interactive(&el);
            let now = core.now();
            if let Some((control, at)) = forwarded.take() {
                if control == el && now - at < FORWARD_MS {
                    return;
                }
            }
            if element::local_name(&el) == "label" {
                *forwarded.borrow_mut() =
                    crate::global::get_object(&el, &crate::global::js_str!("control"))
                        .map(|control| (control, now));
            }
            let target = element::describe(&el, core.mask);
            core.record(
                core.actor_for(event),
                EventData::Click(ClickData { target }),
            );
        });
        ClickObserver {
            _listener: listener,
        }
    }
}
