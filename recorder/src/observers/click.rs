//! `CLICK`: the control that was clicked (the button around the clicked icon).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;

use shared::{ClickData, EventData};
use web_sys::Element;

use super::Capture;
use crate::element;

pub(super) fn on_click(cap: &Rc<Capture>, event: &web_sys::Event) {
    let Some(el) = element::unblocked_event_element(event) else {
        return;
    };
    let el = element::interactive(el);
    // One click of the person is one event. (The forwarded control and
    // its timer are set and taken together.)
    let taken = cap.click.take();
    let forget = super::take_timer(cap, super::CLICK);
    let repeat = taken.is_some_and(|control| element::same(&control, &el));
    drop(forget);
    if repeat {
        return;
    }
    if element::is_tag(&el, "label") {
        let control: Option<Element> =
            crate::global::get_object(&el, &crate::global::js_str!("control"));
        if let Some(control) = control {
            let old = super::arm_keep(cap, super::CLICK, 0, |cap| {
                // Dropped with the state free (see `timer`).
                let fired = super::take_timer(cap, super::CLICK);
                cap.click.take();
                drop(fired);
            });
            // Set before the timer it replaces is dropped (see `timer`).
            cap.click.replace(Some(control));
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
