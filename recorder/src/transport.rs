//! Delivery: the tab's [`Queue`] goes to the collector with `fetch`, one request
//! in flight so a tab's events arrive in order, retried with backoff
//! ([`crate::retry`]) until the collector acknowledges or rejects them.
//!
//! Every event is saved in `localStorage` ([`crate::storage`]) when it is
//! recorded and removed when acknowledged, so a reload or a crash loses nothing:
//! the next page of the tab (or of the site, for a tab that is gone) sends it.
//! When the page goes away, everything unacknowledged also goes out at once with
//! `fetch(keepalive)` in chunks under [`MAX_BEACON_BYTES`]; the collector stores
//! re-sent events once.
//!
//! Batches are gzipped where the browser has `CompressionStream` (JSON event
//! streams shrink about tenfold): the loader hands over a `send(url, text)`
//! that compresses and posts to `url&encoding=gzip`, still as a `text/plain`
//! CORS "simple" request (no preflight; PostHog's SDK sends the same way), and
//! falls back to plain text if compressing fails. Compressing is asynchronous,
//! so the unload sends stay plain text.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::Cell;

use crate::timer::Timer;
use shared::limits::MAX_BEACON_BYTES;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Response;

use crate::console::warn;
use crate::queue::{Limits, Queue};
use crate::recorder::Core;
use crate::retry::{classify, Backoff, Outcome};
use crate::storage;

/// Counters a site can read with `cotrail.stats()`: delivery made visible.
/// Each a `Cell`, counted in place ([`add`]) also while the transport is
/// borrowed (see `Core`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Events acknowledged by the collector.
    pub acked: Cell<u64>,
    /// Batches the collector refused for good (4xx).
    pub rejected: Cell<u64>,
    /// Attempts that failed and were retried.
    pub retries: Cell<u64>,
    /// Events dropped because the queue was full (reported as gaps).
    pub dropped: Cell<u64>,
}

/// Adds `n` to a counter of [`Stats`].
pub fn add(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get() + n);
}

/// One tab's (or an adopted dead tab's) queue with the ids its storage keys use.
struct Stream {
    session: String,
    tab: String,
    queue: Queue,
    /// Its events are all mirrored in storage (false after a quota error,
    /// until the queue holds only events saved since).
    saved: bool,
    /// This page's own tab (not an adopted one).
    own: bool,
}

impl Stream {
    /// Removes the saved copies of `seqs` (acknowledged or dropped). Their keys
    /// are what records those seqs as taken, so the next free seq is recorded
    /// first (see `storage`): a later page of the tab never reuses one.
    fn forget(&self, seqs: &[u64]) {
        if seqs.is_empty() {
            return;
        }
        let next = self.queue.next_seq();
        let recorded = if self.own {
            crate::identity::store_seq(&self.session, &self.tab, next)
        } else {
            storage::save_next_seq(&self.session, &self.tab, next, js_sys::Date::now())
        };
        // The keys are the record of their seqs until the next free seq is
        // recorded: where that failed (storage full), they stay, and a later
        // page sends them again (the collector keeps one copy) rather than
        // reuse their numbers for other events. Otherwise they go, also after
        // a failed save of events (those saved before it must not stay
        // behind for ever).
        if recorded {
            storage::remove_events(&self.session, &self.tab, seqs);
        }
    }

    fn save_gaps(&self) {
        storage::save_gaps(&self.session, &self.tab, self.queue.gaps());
    }
}

/// Delivery state of the page.
pub struct Transport {
    /// The batch endpoint, made a JS string once (every send passes it).
    url: JsValue,
    own: Stream,
    /// Queues of tabs whose page is gone, adopted at start; sent first.
    adopted: Vec<Stream>,
    /// Tabs with saved queues whose page looked alive (see [`adopt_waiting`]).
    waiting: Vec<String>,
    /// The request in flight belongs to `adopted[0]` rather than `own`.
    sending_adopted: bool,
    backoff: Backoff,
    retry_timer: Option<Timer>,
    /// The loader's compressing `send(url, text)`, when the browser can gzip.
    send: Option<js_sys::Function>,
    /// The next batch is this tab's own, if it has one (an adopted batch failed).
    own_first: bool,
    /// An adopted batch failed last and waits for its retry.
    adopted_failing: bool,
    /// What the queues were (next seq, acked, adopted) at the last unload send.
    unloaded: Option<(u64, u64, usize)>,
}

impl Transport {
    pub fn new(
        url: String,
        session: &str,
        tab: &str,
        next_seq: u64,
        limits: Limits,
        send: Option<js_sys::Function>,
    ) -> Self {
        Transport {
            url: JsValue::from_str(&url),
            own: Stream {
                session: session.to_owned(),
                tab: tab.to_owned(),
                queue: Queue::new(session, tab, next_seq, limits),
                saved: true,
                own: true,
            },
            adopted: Vec::new(),
            waiting: Vec::new(),
            sending_adopted: false,
            backoff: Backoff::default(),
            retry_timer: None,
            send,
            own_first: false,
            adopted_failing: false,
            unloaded: None,
        }
    }

    /// Takes on the queues of gone tabs (not those already taken on).
    fn adopt(&mut self, orphans: Vec<storage::Saved>, now: f64) {
        let limits = Limits::new(shared::limits::MAX_EVENTS_PER_BATCH, 0);
        for o in orphans {
            if self
                .adopted
                .iter()
                .any(|a| a.session == o.session && a.tab == o.tab)
            {
                continue;
            }
            let mut queue = Queue::new(&o.session, &o.tab, 0, limits);
            let dropped = queue.restore(o.events, o.gaps, now);
            let stream = Stream {
                session: o.session,
                tab: o.tab,
                queue,
                saved: true,
                own: false,
            };
            stream.forget(&dropped);
            self.adopted.push(stream);
        }
    }

    /// Every event of this tab is saved in storage, so its key records its seq.
    pub fn mirrored(&self) -> bool {
        self.own.saved
    }

    /// The sequence number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.own.queue.next_seq()
    }

    /// Queues an encoded event and saves it. Returns the seq it got and how
    /// many events the queue's bound dropped for it.
    pub fn push(&mut self, json: String, now: f64) -> (u64, u64) {
        let (seq, dropped) = self.own.queue.push(json, now);
        // Tried for every event, also after a failure: storage that was full
        // (quota) may have room again once acknowledged events are removed.
        let ok = {
            // The queue owns the text; look it up rather than clone it.
            let q = &self.own.queue;
            q.last_json()
                .is_some_and(|j| storage::save_event(&self.own.session, &self.own.tab, seq, j))
        };
        // (The caller warns when this turns `mirrored` false, once it no
        // longer holds the transport: see `Core::record`.)
        // Everything is saved again once the queue holds only events saved
        // since (here: this one alone).
        self.own.saved = ok && (self.own.saved || self.own.queue.len() == 1);
        if !dropped.is_empty() {
            self.own.forget(&dropped);
            self.own.save_gaps();
        }
        (seq, dropped.len() as u64)
    }

    /// Milliseconds until something should be sent; `None`: nothing to do now
    /// (idle, a request in flight, or waiting out a retry delay).
    /// `flushing`: `flush()` asked for everything now, not when due.
    pub fn due_in(&self, now: f64, flushing: bool) -> Option<f64> {
        if self.retry_timer.is_some() || self.in_flight() {
            return None;
        }
        if self.adopted.is_empty() && !flushing {
            return self.own.queue.due_in(now);
        }
        if self.own.queue.is_empty() && self.adopted.is_empty() {
            return None;
        }
        Some(0.0)
    }

    fn in_flight(&self) -> bool {
        self.own.queue.is_in_flight()
            || self.adopted.first().is_some_and(|s| s.queue.is_in_flight())
    }

    fn current(&mut self) -> &mut Stream {
        match self.adopted.first_mut() {
            Some(s) if self.sending_adopted => s,
            _ => &mut self.own,
        }
    }
}

/// Takes back this tab's saved queue and adopts the queues of dead tabs.
/// `now`: the page's clock (queue ages); heartbeats are read against the
/// wall clock.
pub fn restore(core: &Core, now: f64) {
    let mut t = core.transport.borrow_mut();
    let found = storage::load(&t.own.session, &t.own.tab, js_sys::Date::now());
    let mine = found.mine;
    if let Some(next) = mine.next_seq {
        // A page adopted and delivered part of this tab's queue while it was gone.
        t.own.queue.continue_at(next);
    }
    let dropped = t.own.queue.restore(mine.events, mine.gaps, now);
    t.own.forget(&dropped);
    if mine.next_seq.is_some() {
        let next = t.own.queue.next_seq();
        crate::identity::store_seq(&t.own.session, &t.own.tab, next);
        storage::clear_next_seq(&t.own.session, &t.own.tab);
    }
    t.adopt(found.orphans, now);
    t.waiting = found.waiting;
}

/// Adopts the queues of the tabs [`restore`] left to their pages once those
/// pages are gone (checked with every heartbeat: one read per such tab). A
/// tab that crashed and was reloaded at once took a new tab id, because its
/// old page's heartbeat was still fresh; without this its queue would wait
/// for some later page of the site.
pub fn adopt_waiting(core: &Rc<Core>, now: f64) {
    let wall = js_sys::Date::now();
    {
        let mut t = core.transport.borrow_mut();
        if t.waiting.iter().all(|tab| storage::alive(tab, wall)) {
            return;
        }
        let found = storage::load(&t.own.session, &t.own.tab, wall);
        t.adopt(found.orphans, now);
        t.waiting = found.waiting;
    }
    // What was adopted goes out first (see `pump`).
    pump(core, false);
    core.arm_flush();
}

/// The page came back from the back/forward cache. The pages this tab showed
/// meanwhile may have sent events this page had saved, and taken later
/// sequence numbers: what is saved is what is left to send, and `stored_next`
/// (the tab's counter, when it still counts this session and tab) is where to
/// go on. With a batch in flight, whose answer is still to come, the queues
/// stay as they are and only the sequence moves on.
pub fn rejoin(core: &Core, stored_next: Option<u64>, now: f64) {
    let reload = {
        let mut t = core.transport.borrow_mut();
        let reload = t.own.saved && !t.in_flight();
        if reload {
            let (next, limits) = (t.own.queue.next_seq(), t.own.queue.limits());
            let own = &mut t.own;
            own.queue = Queue::new(&own.session, &own.tab, next, limits);
            // Saved too: loaded again below unless a page delivered them.
            t.adopted.clear();
            t.sending_adopted = false;
        }
        if let Some(next) = stored_next {
            t.own.queue.continue_at(next);
        }
        reload
    };
    if reload {
        restore(core, now);
    }
}

/// Sends the next batch if nothing is in flight: adopted queues first, then this
/// tab's when due (or at once when `force`).
pub fn pump(core: &Rc<Core>, force: bool) {
    let now = core.now();
    // (Nothing to send: returned with the transport's borrow.)
    let (url, body, send) = {
        // Busy: called back from the page's storage while the transport
        // saves; the call that holds it pumps when it is done.
        let Ok(mut t) = core.transport.try_borrow_mut() else {
            return;
        };
        if t.retry_timer.is_some() || t.in_flight() {
            return;
        }
        // After an adopted queue's batch failed, this tab's own go first: an
        // adopted batch that keeps failing must not hold them back for ever.
        let mut next = if core::mem::take(&mut t.own_first) {
            t.own.queue.next_batch(now, true)
        } else {
            None
        };
        t.sending_adopted = false;
        while next.is_none() {
            let Some(s) = t.adopted.first_mut() else {
                break;
            };
            if let Some(out) = s.queue.next_batch(now, true) {
                next = Some(out);
                t.sending_adopted = true;
                break;
            }
            t.adopted.remove(0).save_gaps();
        }
        if next.is_none() {
            let force = force || core.flushing.get();
            next = t.own.queue.next_batch(now, force);
            if next.is_none() {
                core.flushing.set(false);
            }
        }
        let Some(out) = next else {
            return;
        };
        (t.url.clone(), out.body, t.send.clone())
    };
    let sent = post(&url, &body, false, send.as_ref(), Rc::downgrade(core));
    if sent.is_err() {
        // `fetch` itself threw (a policy blocked it): like a network error.
        settled(core, &JsValue::UNDEFINED);
    }
}

/// `flush()`: send everything waiting now, batch after batch.
/// Asked while the transport is busy (see `Core::drain`), the flush timer
/// sends them once it is free.
pub fn flush(core: &Rc<Core>) {
    core.flushing.set(true);
    pump(core, true);
    core.arm_flush();
}

fn settled(core: &Rc<Core>, result: &JsValue) {
    // What the request gave: the status and `Retry-After` of a response,
    // neither for a network error.
    let response = result.dyn_ref::<Response>();
    let status = response
        .and_then(|r| crate::global::get(r, &crate::global::js_str!("status")).as_f64())
        .map(|s| s as u16);
    let retry_after = response.and_then(|r| {
        crate::element::call1(
            &crate::global::get(r, &crate::global::js_str!("headers")),
            &crate::global::js_str!("get"),
            &crate::global::js_str!("retry-after"),
        )
        .as_string()
    });
    let outcome = classify(status, retry_after.as_deref());
    // Written once the transport is free again: a page that records its
    // console warnings (`console.warn` wrapped to call `recordCustom`) calls
    // back into the recorder.
    let mut warning = None;
    let mut retry = None;
    {
        let mut t = core.transport.borrow_mut();
        match outcome {
            Outcome::Ack => {
                // The own batch that went between an adopted batch's failed
                // tries says nothing of that one: its backoff goes on.
                if t.sending_adopted || !t.adopted_failing {
                    t.backoff.reset();
                    t.adopted_failing = false;
                }
                let s = t.current();
                let done = s.queue.ack();
                s.forget(&done);
                s.save_gaps();
                add(&core.stats.acked, done.len() as u64);
            }
            Outcome::Reject => {
                let s = t.current();
                let lost = s.queue.reject();
                s.forget(&lost);
                s.save_gaps();
                add(&core.stats.rejected, 1);
                let mut msg = String::from("cotrail: the collector rejected a batch (HTTP ");
                crate::text::push_int(&mut msg, u64::from(status.unwrap_or(0)));
                msg.push_str(
                    "); not retried: refused events are reported lost, refused gap records dropped",
                );
                warning = Some(msg);
            }
            Outcome::Retry { after_ms } => {
                t.own_first = t.sending_adopted;
                t.adopted_failing = t.sending_adopted;
                t.current().queue.retry();
                retry = Some(t.backoff.next_delay(after_ms, js_sys::Math::random()));
                add(&core.stats.retries, 1);
            }
        }
    }
    if let Some(delay) = retry {
        // Armed with the transport free: the page's `setTimeout` and
        // `clearTimeout` may call back into the recorder (see `timer`).
        let weak: Weak<Core> = Rc::downgrade(core);
        let timer = Timer::once(delay, move || {
            if let Some(core) = weak.upgrade() {
                let fired = core.transport.borrow_mut().retry_timer.take();
                drop(fired);
                pump(&core, true);
                core.arm_flush();
            }
        });
        let old = core.transport.borrow_mut().retry_timer.replace(timer);
        drop(old);
    } else {
        if let Some(msg) = warning {
            warn(&msg);
        }
        pump(core, false);
    }
    // (Also what the page's storage asked for meanwhile: see `Core::drain`.)
    core.arm_flush();
}

/// The network is back (`online`): retry now instead of waiting out the backoff.
pub fn retry_now(core: &Rc<Core>) {
    // Dropped with the transport free (see `timer`). (None while it is busy:
    // an `online` event the page's storage dispatched.)
    let waiting = core
        .transport
        .try_borrow_mut()
        .ok()
        .and_then(|mut t| t.retry_timer.take());
    if waiting.is_some() {
        drop(waiting);
        pump(core, true);
        core.arm_flush();
    }
}

/// The page is going away (or hidden, which may be the last chance): send
/// what is unacknowledged with `keepalive`, this tab's newest events first,
/// then older ones and adopted queues while they fit in [`MAX_BEACON_BYTES`]
/// in all (browsers refuse keepalive requests beyond 64 KiB in flight, so the
/// last interaction must not come last). Not again when nothing changed since
/// the last time (hidden, then `pagehide`). The queue and its saved copy stay
/// as they are: the next page re-sends whatever was not acknowledged. Asked
/// while the transport is busy, it is done once it is free (see `Core::drain`).
pub fn send_for_unload(core: &Core) {
    let (url, all) = {
        let Ok(mut t) = core.transport.try_borrow_mut() else {
            core.unload_later.set(true);
            return;
        };
        let state = (
            t.own.queue.next_seq(),
            core.stats.acked.get(),
            t.adopted.len(),
        );
        if t.unloaded == Some(state) {
            return;
        }
        t.unloaded = Some(state);
        // This tab's bodies, then the adopted queues'.
        let mut all = Vec::new();
        t.own.queue.unload_bodies(MAX_BEACON_BYTES, &mut all);
        for s in &t.adopted {
            s.queue.unload_bodies(MAX_BEACON_BYTES, &mut all);
        }
        (t.url.clone(), all)
    };
    // Those that fit in the room left, in that order.
    let mut room = MAX_BEACON_BYTES;
    for body in &all {
        if body.len() <= room {
            room -= body.len();
            // Nobody to tell: the answer only needs a handler (an unhandled
            // rejection would be logged in the page's console).
            let _ = post(&url, body, true, None, Weak::new());
        }
    }
}

/// How long a batch's request may take before it is aborted and retried.
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// POSTs `body` as `text/plain` (a CORS simple request: no preflight) and,
/// while `core` is there, hands the `Response` or the network error to
/// [`settled`] once. `keepalive` (the page is going away) sends plain text
/// that outlives the page; otherwise `send` (the loader's compressing
/// sender), when there is one, sends it gzipped.
fn post(
    url: &JsValue,
    body: &str,
    keepalive: bool,
    send: Option<&js_sys::Function>,
    core: Weak<Core>,
) -> Result<(), JsValue> {
    let window = crate::global::window().ok_or("no window")?;
    // A request that never settles (a stalled proxy) would hold the tab's
    // one request in flight for ever: it is aborted after a while and retried
    // like a network error. Not a keepalive one, which outlives the page.
    let signal = if keepalive {
        JsValue::UNDEFINED
    } else {
        // (Through `global::call`, as the `fetch` and `then` below: what is
        // not a function throws there, `undefined` here.)
        crate::element::call1(
            &crate::global::get(&window, &crate::global::js_str!("AbortSignal")),
            &crate::global::js_str!("timeout"),
            &REQUEST_TIMEOUT_MS.into(),
        )
    };
    let body = JsValue::from_str(body);
    let promise: JsValue = match send.filter(|_| !keepalive) {
        Some(send) => send.call3(&JsValue::UNDEFINED, url, &body, &signal)?,
        None => {
            // A plain object through `Reflect.set` (imported anyway), not a
            // `RequestInit` with an import and glue adapter per setter.
            let init = js_sys::Object::new();
            let set = |k: &JsValue, v: &JsValue| js_sys::Reflect::set(&init, k, v);
            set(
                &crate::global::js_str!("method"),
                &crate::global::js_str!("POST"),
            )?;
            // A string body is sent as `text/plain;charset=UTF-8` by the browser itself.
            set(&crate::global::js_str!("body"), &body)?;
            if keepalive {
                set(&crate::global::js_str!("keepalive"), &JsValue::TRUE)?;
            } else if !signal.is_undefined() {
                set(&crate::global::js_str!("signal"), &signal)?;
            }
            // The page's `fetch`, called so that a throw (a page's wrapper
            // of `fetch` that throws) is an error here, not an exception
            // through the recorder.
            crate::global::call(&window, &crate::global::js_str!("fetch"), url, &init)?
        }
    };
    // One function for both outcomes. A `listener::JsFn`, the closure type
    // the listeners and timers use (one invoke shim and glue adapter for all;
    // `Closure::once_into_js` brought a type, a `RefCell` and an `Rc` of its
    // own): handed to JS, which frees it once the promise no longer holds it,
    // so nothing leaks and nothing needs to outlive the recorder. It answers
    // once: a page's `fetch` wrapper may return a thenable that calls back
    // twice, and a second call would settle the next batch in flight with
    // this one's answer. The first call takes the core out of the cell.
    let core = Cell::new(core);
    let callback = Closure::<crate::listener::JsFn>::new(move |result: JsValue, _, _| {
        if let Some(core) = core.take().upgrade() {
            settled(&core, &result);
        }
        Ok(JsValue::UNDEFINED)
    })
    .into_js_value();
    crate::global::call(
        &promise,
        &crate::global::js_str!("then"),
        &callback,
        &callback,
    )?;
    Ok(())
}
