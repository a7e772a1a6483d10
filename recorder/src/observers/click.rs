//! `CLICK`: the control that was clicked (the button around the clicked icon).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::{ClickData, EventData};
use web_sys::Document;

use crate::element;
use crate::listener::{EventKind, Listener};
use crate::recorder::Core;

pub struct ClickObserver {
    _listener: Listener,
}

impl ClickObserver {
    pub fn new(core: &Rc<Core>, document: &Document) -> Self {
        let core = core.clone();
        let listener = Listener::new(document, EventKind::Click, move |event| {
            let Some(el) = element::event_element(event) else {
                return;
            };
            if element::is_blocked(&el) {
                return;
            }
            let target = element::describe(&element::interactive(&el), core.mask);
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
