//! Delivery: batches go to the collector with `fetch`, one request in flight so a
//! tab's events arrive in order, retried with backoff ([`crate::retry`]) until the
//! collector acknowledges or rejects them.
//!
//! When the page goes away the rest goes out with `fetch(keepalive)` in chunks
//! under [`MAX_BEACON_BYTES`], and is also saved in `sessionStorage` so the next
//! page of the tab sends it again (the collector stores re-sent events once).
//!
//! Bodies are encoded once and kept as strings: a retry re-sends the same bytes.

use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use shared::limits::{MAX_BEACON_BYTES, MAX_BODY_BYTES};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{RequestInit, Response};

use crate::buffer::{chunk_by_bytes, MAX_BATCH_BYTES};
use crate::console::{warn, warn_js};
use crate::identity::{self, QUEUE_KEY};
use crate::json::Event;
use crate::recorder::Core;
use crate::retry::{classify, Backoff, Outcome};

/// Most bytes of unsent bodies saved for the next page: `sessionStorage` holds a
/// few MiB per origin and the host page needs it too.
pub const MAX_PERSISTED_BYTES: usize = 512 * 1024;

/// Delivery state of one tab.
pub struct Transport {
    url: String,
    /// Encoded bodies waiting, sent before newer events from the buffer (saved by
    /// the previous page, or keepalive sends that failed).
    ready: VecDeque<String>,
    /// The body of the request in flight or waiting for its retry.
    in_flight: Option<String>,
    /// The in-flight body was already re-sent with keepalive for this unload.
    in_flight_resent: bool,
    backoff: Backoff,
    retry_timer: Option<Timeout>,
}

impl Transport {
    pub fn new(url: String) -> Self {
        Transport {
            url,
            ready: VecDeque::new(),
            in_flight: None,
            in_flight_resent: false,
            backoff: Backoff::default(),
            retry_timer: None,
        }
    }
}

/// Encodes events into bodies of at most `max_bytes`, halving runs whose real
/// size beats the estimate. A single event too large alone is still returned.
fn encode(core: &Core, events: Vec<Event>, max_bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<Vec<Event>> = chunk_by_bytes(events, max_bytes);
    stack.reverse();
    while let Some(mut chunk) = stack.pop() {
        match core.batch_body(&chunk) {
            Ok(body) if body.len() <= max_bytes || chunk.len() == 1 => out.push(body),
            Ok(_) => {
                let second = chunk.split_off(chunk.len() / 2);
                stack.push(second);
                stack.push(chunk);
            }
            Err(e) => warn_js("cotrail: could not encode a batch; dropped", &e),
        }
    }
    out
}

/// Queues events to be sent ahead of the buffer (used by `flush()`).
pub fn enqueue(core: &Rc<Core>, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let bodies = encode(core, events, MAX_BATCH_BYTES.min(MAX_BODY_BYTES));
    core.transport.borrow_mut().ready.extend(bodies);
}

/// Sends the next batch if nothing is in flight: saved bodies first, then the
/// buffer's events when they are due (or at once when `force`).
pub fn pump(core: &Rc<Core>, force: bool) {
    {
        let t = core.transport.borrow();
        if t.in_flight.is_some() {
            return;
        }
    }
    let next = core.transport.borrow_mut().ready.pop_front();
    let body = match next {
        Some(b) => Some(b),
        None => {
            let events = core.take_batch(force);
            if events.is_empty() {
                None
            } else {
                let mut bodies = encode(core, events, MAX_BODY_BYTES).into_iter();
                let first = bodies.next();
                core.transport.borrow_mut().ready.extend(bodies);
                first
            }
        }
    };
    if let Some(body) = body {
        {
            let mut t = core.transport.borrow_mut();
            t.in_flight = Some(body);
            t.in_flight_resent = false;
        }
        send_in_flight(core);
    }
}

/// (Re-)sends the in-flight body.
fn send_in_flight(core: &Rc<Core>) {
    let (url, body) = {
        let t = core.transport.borrow();
        match &t.in_flight {
            Some(b) => (t.url.clone(), b.clone()),
            None => return,
        }
    };
    let weak = Rc::downgrade(core);
    let sent = post(&url, &body, false, move |result| {
        if let Some(core) = weak.upgrade() {
            settled(&core, result);
        }
    });
    if let Err(e) = sent {
        // `fetch` itself threw (very old browser, blocked by a policy): retry later.
        warn_js("cotrail: fetch failed", &e);
        schedule_retry(core, None);
    }
}

/// What a settled request gave: the status and `Retry-After`, or a network error.
struct Settled {
    status: Option<u16>,
    retry_after: Option<String>,
}

fn settled_from(value: &JsValue) -> Settled {
    match value.dyn_ref::<Response>() {
        Some(r) => Settled {
            status: Some(r.status()),
            retry_after: r.headers().get("retry-after").ok().flatten(),
        },
        None => Settled {
            status: None,
            retry_after: None,
        },
    }
}

fn settled(core: &Rc<Core>, result: JsValue) {
    let s = settled_from(&result);
    match classify(s.status, s.retry_after.as_deref()) {
        Outcome::Ack => {
            let mut t = core.transport.borrow_mut();
            t.in_flight = None;
            t.backoff.reset();
        }
        Outcome::Reject => {
            warn(&crate::text::concat(&[
                "cotrail: the collector rejected a batch with status ",
                &crate::text::int(s.status.unwrap_or(0).into()),
                "; it is dropped",
            ]));
            core.transport.borrow_mut().in_flight = None;
        }
        Outcome::Retry { after_ms } => {
            schedule_retry(core, after_ms);
            return;
        }
    }
    pump(core, false);
    core.arm_flush();
}

fn schedule_retry(core: &Rc<Core>, after_ms: Option<u32>) {
    let weak: Weak<Core> = Rc::downgrade(core);
    let mut t = core.transport.borrow_mut();
    let delay = t.backoff.next_delay(after_ms, js_sys::Math::random());
    t.retry_timer = Some(Timeout::new(delay, move || {
        if let Some(core) = weak.upgrade() {
            core.transport.borrow_mut().retry_timer.take();
            send_in_flight(&core);
        }
    }));
}

/// The network is back (`online`): retry now instead of waiting out the backoff.
pub fn retry_now(core: &Rc<Core>) {
    let waiting = core.transport.borrow_mut().retry_timer.take().is_some();
    if waiting {
        send_in_flight(core);
    }
}

/// The page is going away (or hidden, which may be the last chance): send
/// everything unsent with `keepalive`, and save it for the next page of the tab.
pub fn flush_for_unload(core: &Rc<Core>) {
    let events = core.take_all();
    let fresh = encode(core, events, MAX_BEACON_BYTES);
    let (url, in_flight, pending) = {
        let mut t = core.transport.borrow_mut();
        let mut pending: Vec<String> = t.ready.drain(..).collect();
        pending.extend(fresh);
        let in_flight = if t.in_flight_resent {
            None
        } else {
            t.in_flight_resent = t.in_flight.is_some();
            t.in_flight.clone()
        };
        (t.url.clone(), in_flight, pending)
    };
    persist(core, &pending);
    if let Some(body) = in_flight.filter(|b| b.len() <= MAX_BEACON_BYTES) {
        // Its normal request dies with the page; a duplicate is stored once.
        let _ = post(&url, &body, true, |_| {});
    }
    for body in pending {
        let weak = Rc::downgrade(core);
        let copy = body.clone();
        let sent = post(&url, &body, true, move |result| {
            // Only reached when the page survived (hidden, not unloaded).
            if let Some(core) = weak.upgrade() {
                if !matches!(
                    classify(settled_from(&result).status, None),
                    Outcome::Ack | Outcome::Reject
                ) {
                    core.transport.borrow_mut().ready.push_back(copy);
                    pump(&core, false);
                }
            }
        });
        if sent.is_err() {
            core.transport.borrow_mut().ready.push_back(body);
        }
    }
}

/// Saves bodies (plus the one in flight) for the next page of this tab.
fn persist(core: &Core, pending: &[String]) {
    let t = core.transport.borrow();
    let all = js_sys::Array::new();
    let mut bytes = 0;
    for body in t.in_flight.iter().chain(pending) {
        bytes += body.len();
        if bytes > MAX_PERSISTED_BYTES {
            warn("cotrail: too many unsent events to save for the next page; the newest are not saved");
            break;
        }
        all.push(&JsValue::from_str(body));
    }
    if all.length() == 0 {
        identity::remove(QUEUE_KEY);
        return;
    }
    if let Ok(text) = js_sys::JSON::stringify(&all) {
        if let Some(text) = text.as_string() {
            identity::set(QUEUE_KEY, &text);
        }
    }
}

/// Takes the bodies a previous page of this tab saved, to send them first.
pub fn restore(core: &Core) {
    let Some(text) = identity::get(QUEUE_KEY) else {
        return;
    };
    identity::remove(QUEUE_KEY);
    let Ok(parsed) = js_sys::JSON::parse(&text) else {
        return;
    };
    let Ok(array) = parsed.dyn_into::<js_sys::Array>() else {
        return;
    };
    let mut t = core.transport.borrow_mut();
    t.ready.extend(array.iter().filter_map(|v| v.as_string()));
}

/// POSTs `body` as `text/plain` (a CORS simple request: no preflight) and calls
/// `done` once with the `Response` or the network error.
fn post(
    url: &str,
    body: &str,
    keepalive: bool,
    done: impl FnOnce(JsValue) + 'static,
) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method("POST");
    // A string body is sent as `text/plain;charset=UTF-8` by the browser itself.
    init.set_body(&JsValue::from_str(body));
    if keepalive {
        js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
    }
    // `fetch` reports failures through the promise; it does not throw here.
    let promise = window.fetch_with_str_and_init(url, &init);
    // One function for both outcomes, called exactly once because a fetch promise
    // always settles; `once_into_js` frees it after that call, so nothing leaks
    // and nothing needs to outlive the recorder.
    let callback = Closure::once_into_js(done);
    let then: js_sys::Function = js_sys::Reflect::get(&promise, &"then".into())?.dyn_into()?;
    then.call2(&promise, &callback, &callback)?;
    Ok(())
}
