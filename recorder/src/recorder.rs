//! The running recorder: configuration, identity, buffer and transport shared by
//! every observer ([`Core`]), and the [`Recorder`] that owns the observers.
//!
//! Observers hold an `Rc<Core>`; timers and promise callbacks hold a `Weak<Core>`
//! so that once the recorder is dropped they do nothing. `RefCell` borrows are
//! short and never held across a call into page code, but for the
//! transport's: it is held while the queue is saved in `localStorage`, whose
//! methods a page may have replaced with its own (a wrapper of
//! `Storage.prototype.setItem` that records or flushes). What such code asks
//! for meanwhile, events, `flush()`, the unload send, waits in the `Core`
//! until the transport is free ([`Core::drain`]), and the counters
//! (`stats()`) live beside it, so a call back into the recorder never meets
//! a held borrow.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use crate::timer::{Interval, Timer};
use shared::{Actor, AgentId, SessionId, TabId};
use wasm_bindgen::JsValue;
use web_sys::Performance;

use crate::config::Config;
use crate::identity;
use crate::json::{self, Event, EventData};
use crate::listener::{EventKind, Listener};
use crate::masking::MaskLevel;
use crate::observers::{Capture, Observers};
use crate::queue::Limits;
use crate::storage;
use crate::transport::{self, Transport};

/// How long after an agent scope ends the scroll and selection events it caused
/// are still the agent's: they come with the next frame or task.
pub const AFTER_SCOPE_MS: f64 = 100.0;

/// How long after an agent scope ends a scroll it started can still be the
/// agent's, however it goes on: a smooth scroll lasts up to a second or so,
/// and a page's own scrolling (a ticker moving every frame) must not keep the
/// agent credited for ever.
pub const MAX_AGENT_SCROLL_MS: f64 = 3_000.0;

/// State every observer records into.
pub struct Core {
    pub mask: MaskLevel,
    /// Query parameters a recorded URL keeps (`data-allow-params`).
    pub allow_params: Vec<String>,
    page_actor: Actor,
    session_id: SessionId,
    tab_id: TabId,
    /// Tells this page apart from another page claiming the same tab id.
    page_id: String,
    /// Another tab took this page's tab id while it was in the back/forward
    /// cache: until the restart as a new tab, it records, claims and sends
    /// nothing under that id.
    disowned: Cell<bool>,
    pub(crate) transport: RefCell<Transport>,
    /// Events waiting for the transport (see the module docs), oldest first,
    /// with the page's clock when they were recorded: each already an
    /// `Event` with its times, numbered when it is queued.
    deferred: RefCell<Vec<(Event, f64)>>,
    /// `flush()` asked for everything now, not when due.
    pub(crate) flushing: Cell<bool>,
    /// The page went away (or `stop()` was called) while the transport was
    /// busy: the unload send is still to make.
    pub(crate) unload_later: Cell<bool>,
    /// Delivery counters (`cotrail.stats()`), readable while the transport is busy.
    pub(crate) stats: transport::Stats,
    flush_timer: RefCell<Option<Timer>>,
    /// Agents on whose behalf page code is running (`cotrail.asAgent`), innermost last.
    agent_scope: RefCell<Vec<AgentId>>,
    /// The agent of the last scope that ended, when, and when a scroll was
    /// last credited to it: the scroll and the selection change its code
    /// caused are dispatched a moment later.
    last_agent: RefCell<Option<(AgentId, f64, f64)>>,
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
        // (`isTrusted` is unforgeable: reading it runs no page code between
        // the two looks at the scope.)
        if self.agent_scope.borrow().is_empty()
            && crate::global::get(event, &crate::global::js_str!("isTrusted")) != JsValue::TRUE
        {
            return Actor::Script;
        }
        self.current_actor()
    }

    /// As [`Core::actor_for`], for events the browser dispatches after the code
    /// that caused them (`scroll`, `selectionchange`, `popstate`): an agent scope
    /// that ended within [`AFTER_SCOPE_MS`] still counts.
    pub fn actor_after(&self, event: &web_sys::Event) -> Actor {
        self.actor_after_inner(event, false)
    }

    /// As [`Core::actor_after`] for `scroll`: each scroll the agent is credited
    /// with extends the window for scrolls (not for the other events), so a
    /// smooth scroll (hundreds of milliseconds of frames) stays the agent's to
    /// its end, up to [`MAX_AGENT_SCROLL_MS`] after the scope.
    pub fn actor_of_scroll(&self, event: &web_sys::Event) -> Actor {
        self.actor_after_inner(event, true)
    }

    fn actor_after_inner(&self, event: &web_sys::Event, extend: bool) -> Actor {
        if self.agent_scope.borrow().is_empty() {
            let now = self.now();
            if let Some((id, ended, scrolled)) = self.last_agent.borrow_mut().as_mut() {
                let recent = if extend {
                    now - *scrolled < AFTER_SCOPE_MS && now - *ended < MAX_AGENT_SCROLL_MS
                } else {
                    now - *ended < AFTER_SCOPE_MS
                };
                if recent {
                    if extend {
                        *scrolled = now;
                    }
                    return Actor::Agent { id: id.clone() };
                }
            }
        }
        self.actor_for(event)
    }

    /// As [`Core::actor_after`] for a form submission: one the page's own code
    /// started (`form.requestSubmit()` from a timer) is a trusted event too, but
    /// without the person's recent activation (`navigator.userActivation`) it
    /// is the script's.
    pub fn actor_for_submit(&self, event: &web_sys::Event) -> Actor {
        let actor = self.actor_after(event);
        if actor != self.page_actor || !self.agent_scope.borrow().is_empty() {
            return actor;
        }
        let activation = crate::global::window().and_then(|w| {
            let navigator = crate::global::get(&w, &crate::global::js_str!("navigator"));
            crate::global::get_object::<js_sys::Object>(
                &navigator,
                &crate::global::js_str!("userActivation"),
            )
        });
        match activation {
            Some(a)
                if crate::global::get(&a, &crate::global::js_str!("isActive"))
                    == JsValue::FALSE =>
            {
                Actor::Script
            }
            _ => actor,
        }
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
        if let Some(id) = self.agent_scope.borrow_mut().pop() {
            let now = self.now();
            *self.last_agent.borrow_mut() = Some((id, now, now));
        }
    }

    /// Records an event (already masked): encodes it once, queues and saves it,
    /// and makes sure it will be sent.
    pub fn record(self: &Rc<Self>, actor: Actor, data: EventData) {
        self.record_at(actor, data, None);
    }

    /// [`Core::record`] for something that happened at `at` (ms since the
    /// page's time origin, not after now): a custom event the page recorded
    /// before the recorder was ready.
    pub fn record_at(self: &Rc<Self>, actor: Actor, data: EventData, at: Option<f64>) {
        if self.disowned.get() {
            // (Its sequence numbers are another tab's now.)
            return;
        }
        let now = self.now();
        let at = match at {
            Some(a) if (0.0..=now).contains(&a) => a,
            _ => now,
        };
        // Through the deferred list, which keeps the order of events the
        // page recorded from inside the saving of an earlier one. Timed
        // now, when it happened; numbered when it is queued.
        let event = Event {
            seq: 0,
            ts: (js_sys::Date::now() - (now - at)) as i64,
            // (`as` saturates: a negative or NaN time is 0.)
            mono: crate::num::round(at) as u64,
            actor,
            data,
        };
        self.deferred.borrow_mut().push((event, now));
        self.arm_flush();
    }

    /// Records the deferred events and does what was asked for while the
    /// transport was busy, unless it still is (the outermost call, which
    /// holds it, comes back here: every path that saves or forgets events
    /// ends in [`Core::arm_flush`]).
    fn drain(self: &Rc<Self>) {
        if self.transport.try_borrow_mut().is_err() {
            return;
        }
        // One at a time, oldest first: what the page records while one is
        // saved comes after it.
        while let Some((event, now)) = {
            let mut d = self.deferred.borrow_mut();
            (!d.is_empty()).then(|| d.remove(0))
        } {
            self.push(event, now);
        }
        if self.unload_later.take() {
            transport::send_for_unload(self);
        }
    }

    /// Numbers, encodes, queues and saves one event recorded at `now` (the
    /// page's clock: the queue's batching counts from it).
    fn push(self: &Rc<Self>, mut event: Event, now: f64) {
        let mut t = self.transport.borrow_mut();
        event.seq = t.next_seq();
        let json = json::event(&event);
        let was_saved = t.mirrored();
        let (seq, dropped) = t.push(json, now);
        transport::add(&self.stats.dropped, dropped);
        let (saved, due) = (t.mirrored(), t.due_in(now, self.flushing.get()));
        drop(t);
        if !saved {
            // No saved key records this seq as taken: record it directly.
            identity::store_seq(self.session_id.as_str(), self.tab_id.as_str(), seq + 1);
        }
        if was_saved && !saved {
            // Last, once the transport is free and the seq recorded: the
            // page's `console.warn` may call back into the recorder.
            crate::console::warn("cotrail: cannot save events in localStorage; a reload while the collector is unreachable may lose them");
        }
        if due == Some(0.0) {
            transport::pump(self, false);
        }
    }

    /// Makes sure a timer will send the waiting events when they are due.
    /// Records the deferred events first (see [`Core::drain`]).
    pub fn arm_flush(self: &Rc<Self>) {
        self.drain();
        let due = match self.transport.try_borrow() {
            Ok(t) => t.due_in(self.now(), self.flushing.get()),
            Err(_) => None,
        };
        let Some(due) = due else {
            return;
        };
        if self.flush_timer.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        let timer = Timer::once(crate::num::ceil(due) as u32, move || {
            if let Some(core) = weak.upgrade() {
                // Dropped with the state free (see `timer`).
                let fired = core.flush_timer.take();
                drop(fired);
                transport::pump(&core, false);
                core.arm_flush();
            }
        });
        // Set with the state free: the page's `setTimeout` above and
        // `clearTimeout` of one a call back armed meanwhile may call back
        // into the recorder (see `timer`).
        let old = self.flush_timer.replace(Some(timer));
        drop(old);
    }

    /// Delivery counters (`cotrail.stats()`).
    pub fn stats(&self) -> &transport::Stats {
        &self.stats
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    pub fn tab_id(&self) -> &TabId {
        &self.tab_id
    }

    /// The page came back from the back/forward cache: it owns its tab again,
    /// continues the tab's sequence where the pages shown meanwhile left it,
    /// and records the return (the `pageshow` event).
    fn returned(self: &Rc<Self>, observers: &Rc<Capture>, event: &web_sys::Event) {
        // The tab id's last claim is this page's, or a later page's of this
        // very tab (it went on with the sequence, which `reclaim` reads back).
        // A page of another tab took it while this one was in the cache (the
        // tab was duplicated and the duplicate went back to this page, loaded
        // anew): it has used the id and sequence numbers, so this page starts
        // over as a tab of its own.
        // (No claim to read, storage off or the claim cleaned up after an
        // hour: nothing says another tab took it.)
        let page_key = identity::page_key(self.tab_id.as_str());
        let ours = match storage::tab_holder(self.tab_id.as_str()) {
            None => true,
            Some(holder) => {
                holder == self.page_id || identity::get(&page_key).as_ref() == Some(&holder)
            }
        };
        if !ours {
            self.disowned.set(true);
            crate::restart_as_new_tab();
            return;
        }
        identity::set(&page_key, &self.page_id);
        let now = self.now();
        self.beat();
        let stored = identity::reclaim(self.session_id.as_str(), self.tab_id.as_str());
        transport::rejoin(self, stored, now);
        identity::store_seq(
            self.session_id.as_str(),
            self.tab_id.as_str(),
            self.transport.borrow().next_seq(),
        );
        observers.returned(self.actor_for(event));
        transport::pump(self, false);
        self.arm_flush();
    }

    /// Refreshes this page's claim on its tab (see `storage`), saying whether
    /// the page is hidden (its timers may then run once a minute).
    fn beat(&self) {
        self.beat_if(false);
    }

    /// [`Core::beat`], only while this page still holds its claim when
    /// `owned_only`: a page that released its tab on `pagehide` (a reload, a
    /// departure) turns hidden right after, and must not claim it again.
    fn beat_if(&self, owned_only: bool) {
        if self.disowned.get() {
            return;
        }
        let hidden = hidden();
        storage::heartbeat(
            self.tab_id.as_str(),
            &self.page_id,
            js_sys::Date::now(),
            hidden,
            owned_only,
        );
    }

    /// The page is going away or hidden: capture what observers still hold and
    /// send everything unacknowledged with `keepalive`.
    fn going_away(self: &Rc<Self>, observers: &Rc<Capture>, leaving: bool) {
        if self.disowned.get() {
            return;
        }
        observers.flush();
        transport::send_for_unload(self);
        if leaving {
            storage::release(self.tab_id.as_str(), &self.page_id, js_sys::Date::now());
        } else {
            // Hidden: its heartbeat may be late from now on.
            self.beat_if(true);
        }
    }
}

/// A started recorder. Dropping it stops everything: listeners, timers, history
/// patches.
pub struct Recorder {
    core: Rc<Core>,
    // Dropped before the observers (fields drop in order): the lifecycle
    // listeners hold the observers' `Capture`, and a `pagehide` the page
    // dispatches while the observers are taken down must find them gone.
    _lifecycle: Vec<Listener>,
    observers: Rc<Observers>,
    _heartbeat: Interval,
}

impl Recorder {
    /// Starts recording. `send`: the loader's `(url, text) => Promise<Response>`
    /// that posts a batch gzipped where the browser can (see `transport`).
    /// `None` only outside a page (no `document`: `window` is always there,
    /// see `global::window`); everything after that degrades instead of
    /// failing.
    pub fn start(config: Config, send: Option<js_sys::Function>) -> Option<Recorder> {
        let window = crate::global::window()?;
        let document = crate::global::document()?;
        let performance =
            crate::global::get_object(&window, &crate::global::js_str!("performance"));
        let page_id = identity::generate();
        let url = config.batches_url();
        // (Moved out of the config: the rest of it is read field by field.)
        let id = identity::load(config.session_id, |tab| {
            storage::owned_elsewhere(tab, &page_id, js_sys::Date::now())
        });
        identity::set(&identity::page_key(id.tab_id.as_str()), &page_id);
        let transport = Transport::new(
            url,
            id.session_id.as_str(),
            id.tab_id.as_str(),
            id.next_seq,
            Limits::new(config.batch_events, config.flush_ms),
            send,
        );
        let core = Rc::new(Core {
            mask: config.mask,
            allow_params: config.allow_params,
            page_actor: config.actor,
            session_id: id.session_id,
            tab_id: id.tab_id,
            page_id,
            disowned: Cell::new(false),
            transport: RefCell::new(transport),
            deferred: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            unload_later: Cell::new(false),
            stats: transport::Stats::default(),
            flush_timer: RefCell::new(None),
            agent_scope: RefCell::new(Vec::new()),
            last_agent: RefCell::new(None),
            performance,
        });
        core.beat();
        transport::restore(&core, core.now());
        let observers = Rc::new(Observers::start(&core, &window, &document));
        let lifecycle = lifecycle_listeners(&window, &document, observers.capture());
        let heartbeat = {
            let weak = Rc::downgrade(&core);
            Interval::new(storage::HEARTBEAT_MS, move || {
                if let Some(core) = weak.upgrade() {
                    core.beat();
                    transport::adopt_waiting(&core, core.now());
                }
            })
        };
        transport::pump(&core, false);
        core.arm_flush();
        Some(Recorder {
            core,
            observers,
            _lifecycle: lifecycle,
            _heartbeat: heartbeat,
        })
    }

    pub fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// What [`Recorder::flush`] needs, held apart from the recorder: the page
    /// may call the API again while a flush sends (a `fetch` wrapper asking
    /// for `stats()`, or calling `stop()`), and must find it running.
    pub fn flusher(&self) -> (Rc<Core>, Rc<Observers>) {
        (self.core.clone(), self.observers.clone())
    }

    /// Sends everything recorded so far now (debounced inputs included).
    pub fn flush((core, observers): (Rc<Core>, Rc<Observers>)) {
        observers.flush();
        transport::flush(&core);
    }

    /// Stops recording; what is still unacknowledged goes out with `keepalive`
    /// and stays saved for the next page.
    pub fn stop(self) {
        self.core.going_away(self.observers.capture(), true);
        // Dropping `self` removes listeners, timers and history patches.
    }
}

/// Whether the page is hidden (`document.visibilityState`).
fn hidden() -> bool {
    // Compared as JS strings (`===`): no copy of the state into the wasm.
    crate::global::document().is_some_and(|d| {
        crate::global::get(&d, &crate::global::js_str!("visibilityState"))
            == crate::global::js_str!("hidden")
    })
}

fn lifecycle_listeners(
    window: &web_sys::Window,
    document: &web_sys::Document,
    cap: &Rc<Capture>,
) -> Vec<Listener> {
    // Plain `fn`s through the observers' one closure type (see `Listener::on`).
    vec![
        Listener::on(window, EventKind::PageHide, cap, |cap, _| {
            cap.core.going_away(cap, true)
        }),
        Listener::on(window, EventKind::PageShow, cap, |cap, event| {
            // `persisted`: shown again from the back/forward cache, not loaded.
            // Never while the transport is busy: the browser shows a page
            // between tasks, and a `pageshow` the page's storage wrapper
            // dispatches then is no return (see the module docs).
            if crate::global::get(event, &crate::global::js_str!("persisted")) == JsValue::TRUE
                && cap.core.transport.try_borrow_mut().is_ok()
            {
                cap.core.returned(cap, event);
            }
        }),
        Listener::on(document, EventKind::VisibilityChange, cap, |cap, _| {
            if hidden() {
                cap.core.going_away(cap, false);
            }
        }),
        Listener::on(window, EventKind::Online, cap, |cap, _| {
            transport::retry_now(&cap.core)
        }),
    ]
}
