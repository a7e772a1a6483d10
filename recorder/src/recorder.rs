//! The running recorder: configuration, identity, buffer and transport shared by
//! every observer ([`Core`]), and the [`Recorder`] that owns the observers.
//!
//! Observers hold an `Rc<Core>`; timers and promise callbacks hold a `Weak<Core>`
//! so that once the recorder is dropped they do nothing. `RefCell` borrows are
//! short and never held across a call into page code.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use serde::Serialize;
use shared::{Actor, AgentId, SessionId, TabId, WIRE_VERSION};
use wasm_bindgen::JsValue;
use web_sys::Performance;

use crate::buffer::{BatchLimits, Buffer};
use crate::config::Config;
use crate::console::warn;
use crate::identity;
use crate::json::{self, Event, EventData};
use crate::listener::{EventKind, Listener};
use crate::masking::MaskLevel;
use crate::observers::Observers;
use crate::transport::{self, Transport};

/// State every observer records into.
pub struct Core {
    pub mask: MaskLevel,
    page_actor: Actor,
    session_id: SessionId,
    tab_id: TabId,
    buffer: RefCell<Buffer>,
    pub(crate) transport: RefCell<Transport>,
    flush_timer: RefCell<Option<Timeout>>,
    /// Agents on whose behalf page code is running (`cotrail.asAgent`), innermost last.
    agent_scope: RefCell<Vec<AgentId>>,
    performance: Option<Performance>,
}

impl Core {
    /// Milliseconds since the page's time origin.
    pub fn now(&self) -> f64 {
        self.performance.as_ref().map_or(0.0, |p| p.now())
    }

    /// Who caused a DOM event: an agent scope wins, then untrusted events are the
    /// page's own script, then the page's owner.
    pub fn actor_for(&self, event: &web_sys::Event) -> Actor {
        if let Some(id) = self.agent_scope.borrow().last() {
            return Actor::Agent { id: id.clone() };
        }
        if !event.is_trusted() {
            return Actor::Script;
        }
        self.page_actor.clone()
    }

    /// Who acts when no DOM event is involved (custom events, history calls).
    pub fn current_actor(&self) -> Actor {
        match self.agent_scope.borrow().last() {
            Some(id) => Actor::Agent { id: id.clone() },
            None => self.page_actor.clone(),
        }
    }

    pub fn enter_agent_scope(&self, id: AgentId) {
        self.agent_scope.borrow_mut().push(id);
    }

    pub fn exit_agent_scope(&self) {
        self.agent_scope.borrow_mut().pop();
    }

    /// Buffers an event (already masked) and makes sure it will be sent.
    pub fn record(self: &Rc<Self>, actor: Actor, data: EventData) {
        let now = self.now();
        let ts = js_sys::Date::now() as i64;
        let (seq, gap, full) = {
            let mut b = self.buffer.borrow_mut();
            let (seq, gap) = b.push(actor, data, ts, now.round().max(0.0) as u64, now);
            (seq, gap, b.is_full())
        };
        identity::store_seq(seq + 1);
        if let Some(g) = gap {
            warn(&crate::text::concat(&[
                "cotrail: the collector is unreachable and the buffer is full; dropped events ",
                &crate::text::int(g.from),
                "..=",
                &crate::text::int(g.to),
            ]));
        }
        if full {
            transport::pump(self, false);
        }
        self.arm_flush();
    }

    /// Makes sure a timer will send the waiting events when they are due.
    pub fn arm_flush(self: &Rc<Self>) {
        let Some(due) = self.buffer.borrow().due_in(self.now()) else {
            return;
        };
        let mut timer = self.flush_timer.borrow_mut();
        if timer.is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        *timer = Some(Timeout::new(due.ceil() as u32, move || {
            if let Some(core) = weak.upgrade() {
                core.flush_timer.borrow_mut().take();
                transport::pump(&core, true);
                core.arm_flush();
            }
        }));
    }

    /// Takes the next batch of events when it is due (or at once when `force`).
    pub fn take_batch(&self, force: bool) -> Vec<Event> {
        let now = self.now();
        let mut b = self.buffer.borrow_mut();
        if force || b.due_in(now) == Some(0.0) {
            b.take_batch(now)
        } else {
            Vec::new()
        }
    }

    /// Takes every waiting event (page going away, `flush()`).
    pub fn take_all(&self) -> Vec<Event> {
        self.buffer.borrow_mut().take_all()
    }

    /// The JSON body of a batch of these events.
    pub fn batch_body(&self, events: &[Event]) -> Result<String, JsValue> {
        json::to_string(&BatchRef {
            v: WIRE_VERSION,
            session_id: &self.session_id,
            tab_id: &self.tab_id,
            events,
        })
        .map_err(|_| JsValue::from_str("a batch could not be encoded"))
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    pub fn tab_id(&self) -> &TabId {
        &self.tab_id
    }
}

/// `shared::Batch`, borrowed: same fields, same order, so the events are encoded
/// without being cloned. A test checks it encodes exactly like `Batch`.
#[derive(Serialize)]
pub(crate) struct BatchRef<'a, V = json::RawJson> {
    pub v: u32,
    pub session_id: &'a SessionId,
    pub tab_id: &'a TabId,
    pub events: &'a [shared::Event<V>],
}

/// A started recorder. Dropping it stops everything: listeners, timers, history
/// patches.
pub struct Recorder {
    core: Rc<Core>,
    observers: Rc<Observers>,
    _lifecycle: Vec<Listener>,
}

impl Recorder {
    pub fn start(config: Config) -> Result<Recorder, JsValue> {
        let window = web_sys::window().ok_or("no window")?;
        let document = window.document().ok_or("no document")?;
        let id = identity::load(config.session_id.clone());
        let core = Rc::new(Core {
            mask: config.mask,
            page_actor: config.actor.clone(),
            session_id: id.session_id,
            tab_id: id.tab_id,
            buffer: RefCell::new(Buffer::new(
                id.next_seq,
                BatchLimits::new(config.batch_events, config.flush_ms),
            )),
            transport: RefCell::new(Transport::new(config.batches_url())),
            flush_timer: RefCell::new(None),
            agent_scope: RefCell::new(Vec::new()),
            performance: window.performance(),
        });
        transport::restore(&core);
        let observers = Rc::new(Observers::start(&core)?);
        let lifecycle = lifecycle_listeners(&window, &document, &core, &observers)?;
        transport::pump(&core, false);
        Ok(Recorder {
            core,
            observers,
            _lifecycle: lifecycle,
        })
    }

    pub fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Sends everything waiting now (debounced inputs included).
    pub fn flush(&self) {
        self.observers.flush();
        let events = self.core.take_all();
        transport::enqueue(&self.core, events);
        transport::pump(&self.core, true);
    }

    /// Stops recording; what is still waiting goes out with `keepalive`.
    pub fn stop(self) {
        self.observers.flush();
        transport::flush_for_unload(&self.core);
        // Dropping `self` removes listeners, timers and history patches.
    }
}

fn lifecycle_listeners(
    window: &web_sys::Window,
    document: &web_sys::Document,
    core: &Rc<Core>,
    observers: &Rc<Observers>,
) -> Result<Vec<Listener>, JsValue> {
    let going_away = {
        let (core, observers): (Weak<Core>, Weak<Observers>) =
            (Rc::downgrade(core), Rc::downgrade(observers));
        move || {
            if let (Some(core), Some(observers)) = (core.upgrade(), observers.upgrade()) {
                observers.flush();
                transport::flush_for_unload(&core);
            }
        }
    };
    let on_hide = going_away.clone();
    let doc = document.clone();
    let weak = Rc::downgrade(core);
    Ok(vec![
        Listener::new(window, EventKind::PageHide, move |_| {
            going_away();
            Ok(())
        })?,
        Listener::new(document, EventKind::VisibilityChange, move |_| {
            if doc.visibility_state() == web_sys::VisibilityState::Hidden {
                on_hide();
            }
            Ok(())
        })?,
        Listener::new(window, EventKind::Online, move |_| {
            if let Some(core) = weak.upgrade() {
                transport::retry_now(&core);
            }
            Ok(())
        })?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Batch, Event, EventData, ScrollData};

    #[test]
    fn the_borrowed_batch_encodes_exactly_like_the_wire_batch() {
        let batch = Batch {
            v: WIRE_VERSION,
            session_id: SessionId::parse("s").unwrap(),
            tab_id: TabId::parse("t").unwrap(),
            events: vec![Event {
                seq: 3,
                ts: 1,
                mono: 2,
                actor: Actor::Script,
                data: EventData::Scroll(ScrollData {
                    target: None,
                    x: 1,
                    y: 2,
                }),
            }],
        };
        let borrowed = BatchRef {
            v: batch.v,
            session_id: &batch.session_id,
            tab_id: &batch.tab_id,
            events: &batch.events,
        };
        assert_eq!(
            serde_json::to_string(&borrowed).unwrap(),
            serde_json::to_string(&batch).unwrap()
        );
    }
}
