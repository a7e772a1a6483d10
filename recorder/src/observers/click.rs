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
use crate::timer::Timer;

/// The control a `<label>` click passes on to: the browser clicks it within the
/// same task, after the page's handlers of the label click (however long they
/// take); a 0 ms timer forgets it once that task is over.
struct Forward {
    control: Element,
    _forget: Timer,
}

pub struct ClickObserver {
    _listener: Listener,
    _forward: Rc<RefCell<Option<Forward>>>,
}

impl ClickObserver {
    pub fn new(core: &Rc<Core>, document: &Document) -> Self {
        let core = core.clone();
        let forward: Rc<RefCell<Option<Forward>>> = Rc::new(RefCell::new(None));
        let pending = forward.clone();
        let listener = Listener::new(document, EventKind::Click, move |event| {
            let Some(el) = element::event_element(event) else {
                return;
            };
            if element::is_blocked(&el) {
                return;
            }
            let el = element::interactive(&el);
            // One click of the person is one event.
            let taken = pending.borrow_mut().take();
            if taken.is_some_and(|f| f.control == el) {
                return;
            }
            if element::local_name(&el) == "label" {
                let control: Option<Element> =
                    crate::global::get_object(&el, &crate::global::js_str!("control"));
                if let Some(control) = control {
                    let weak = Rc::downgrade(&pending);
                    let forget = Timer::once(0, move || {
                        if let Some(f) = weak.upgrade() {
                            f.borrow_mut().take();
                        }
                    });
                    *pending.borrow_mut() = Some(Forward {
                        control,
                        _forget: forget,
                    });
                }
            }
            let target = element::describe(&el, core.mask);
            core.record(
                core.actor_for(event),
                EventData::Click(ClickData { target }),
            );
        });
        ClickObserver {
            _listener: listener,
            _forward: forward,
        }
    }
}
