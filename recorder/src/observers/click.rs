//! `CLICK`: the control that was clicked (the button around the clicked icon).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::{ClickData, EventData};
use web_sys::Element;

use super::Capture;
use crate::element;
use crate::timer::Timer;

/// The control a `<label>` click passes on to: the browser clicks it within the
/// same task, after the page's handlers of the label click (however long they
/// take); a 0 ms timer forgets it once that task is over.
pub(super) struct Forward {
    control: Element,
    _forget: Timer,
}

pub(super) fn on_click(cap: &Rc<Capture>, event: &web_sys::Event) {
    let Some(el) = element::unblocked_event_element(event) else {
        return;
    };
    let el = element::interactive(el);
    // One click of the person is one event.
    let taken = cap.click.borrow_mut().take();
    if taken.is_some_and(|f| element::same(&f.control, &el)) {
        return;
    }
    if element::local_name(&el) == "label" {
        let control: Option<Element> =
            crate::global::get_object(&el, &crate::global::js_str!("control"));
        if let Some(control) = control {
            let forget = super::after(cap, 0, |cap| {
                // Dropped with the state free (see `timer`).
                let fired = cap.click.borrow_mut().take();
                drop(fired);
            });
            let old = cap.click.borrow_mut().replace(Forward {
                control,
                _forget: forget,
            });
            drop(old);
        }
    }
    let core = &cap.core;
    let target = element::describe(&el, core.mask);
    core.record(
        core.actor_for(event),
        EventData::Click(ClickData { target }),
    );
}
