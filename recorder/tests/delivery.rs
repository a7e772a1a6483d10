//! Browser tests of delivery against a fake collector (`window.fetch` replaced):
//! events saved in `localStorage` until acknowledged, rejected batches reported as
//! gaps, `Retry-After`, duplicated tabs, and `recordCustom` misuse.
//!
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p cotrail-recorder --target wasm32-unknown-unknown --test delivery`

#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn ids() -> (String, String) {
    (
        cotrail_recorder::session_id().expect("recording"),
        cotrail_recorder::tab_id().expect("recording"),
    )
}

fn key(seq: u64) -> String {
    let (s, t) = ids();
    format!("cotrail|e|{s}|{t}|{seq}")
}

fn local(key: &str) -> Option<String> {
    web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .get_item(key)
        .unwrap()
}

/// The tab's next seq in its session, as kept in `sessionStorage`.
fn counter() -> Option<String> {
    let (s, t) = ids();
    session(&format!("cotrail.seq|{s}|{t}"))
}

fn session(key: &str) -> Option<String> {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
        .get_item(key)
        .unwrap()
}

fn custom(kind: &str, value: Value) {
    let v = js_sys::JSON::parse(&value.to_string()).unwrap();
    cotrail_recorder::record_custom(kind.into(), v, None);
}

fn seqs(batch: &Value) -> Vec<u64> {
    batch["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

// ---------------------------------------------------------------- (a) saved until acked

#[wasm_bindgen_test]
async fn every_event_is_saved_until_the_collector_acknowledges_it() {
    begin("");
    eval("window.__status = 503;");
    // seq 0 is the initial PAGE-CHANGE.
    let k0 = local(&key(0)).expect("the load PAGE-CHANGE is saved at once");
    assert!(k0.contains("\"type\":\"PAGE-CHANGE\""), "{k0}");
    for n in 1..=3u64 {
        custom("step", json!({ "n": n }));
        let saved = local(&key(n)).unwrap_or_else(|| panic!("event {n} not saved at once"));
        let e: Value = serde_json::from_str(&saved).unwrap();
        assert_eq!(e["seq"], n);
        assert_eq!(e["type"], "CUSTOM_EVENT");
        assert_eq!(e["data"]["value"]["n"], n);
    }
    // The collector answers 503 at least twice: everything stays saved.
    wait_for("two 503 answers", 5_000.0, || {
        (bodies().len() >= 2).then_some(())
    })
    .await;
    assert!(stat("retries") >= 2.0, "retries = {}", stat("retries"));
    assert_eq!(stat("acked"), 0.0);
    for n in 0..=3 {
        assert!(local(&key(n)).is_some(), "event {n} lost during the outage");
    }
    // The collector is back: the keys go once the events are acknowledged.
    eval("window.__status = 200;");
    wait_for("the saved events to be removed", 8_000.0, || {
        (0..=3).all(|n| local(&key(n)).is_none()).then_some(())
    })
    .await;
    assert_eq!(stat("acked"), 4.0);
    assert!(stored().is_empty(), "{:?}", stored());
    let (s, t) = ids();
    assert_eq!(local(&format!("cotrail|g|{s}|{t}")), None);
    let delivered: Vec<u64> = events()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(delivered, [0, 1, 2, 3]);
    end();
}

// ---------------------------------------------------------------- (b) 400 → gap

#[wasm_bindgen_test]
async fn a_rejected_batch_comes_back_as_a_rejected_gap() {
    capture_warnings();
    begin("");
    eval("window.__plan = [{status: 400}];");
    custom("first", json!(1));
    custom("second", json!(2));
    wait_for("the rejection", 3_000.0, || {
        (stat("rejected") == 1.0).then_some(())
    })
    .await;
    let first = batches()[0].clone();
    assert_eq!(seqs(&first), [0, 1, 2], "{first}");
    for n in 0..=2 {
        assert!(local(&key(n)).is_none(), "rejected event {n} still saved");
    }
    assert!(
        warnings()
            .iter()
            .any(|w| w.contains("rejected") && w.contains("400")),
        "{:?}",
        warnings()
    );
    custom("third", json!(3));
    let next = wait_for("the next body", 3_000.0, || batches().get(1).cloned()).await;
    assert_eq!(
        next["gaps"],
        json!([{ "from": 0, "to": 2, "reason": "rejected" }]),
        "{next}"
    );
    wait_for("the gap to be acknowledged", 3_000.0, || {
        events().iter().any(|e| e["seq"] == 3).then_some(())
    })
    .await;
    assert_eq!(stat("rejected"), 1.0);
    // Once acknowledged, the gap is not reported again.
    cotrail_recorder::flush();
    custom("fourth", json!(4));
    cotrail_recorder::flush();
    wait_for("the fourth event", 3_000.0, || {
        events().iter().any(|e| e["seq"] == 4).then_some(())
    })
    .await;
    let later_gaps: Vec<Value> = batches()[2..]
        .iter()
        .filter(|b| b.get("gaps").is_some())
        .cloned()
        .collect();
    assert!(
        later_gaps.is_empty(),
        "the gap was sent twice: {later_gaps:?}"
    );
    let (s, t) = ids();
    assert_eq!(local(&format!("cotrail|g|{s}|{t}")), None);
    end();
}

/// A page whose `console.warn` throws (a logging wrapper with a bug): the
/// recorder's warnings neither throw into the page's call nor cut the
/// recorder's own work short (the gap record of a refused batch still goes
/// out at once).
#[wasm_bindgen_test]
async fn a_console_warn_that_throws_reaches_neither_the_page_nor_the_delivery() {
    begin("");
    expose(
        "recordCustomThrowing",
        wasm_bindgen::closure::Closure::<dyn Fn(JsValue, JsValue)>::new(
            |kind: JsValue, value: JsValue| cotrail_recorder::record_custom(kind, value, None),
        ),
    );
    eval(
        "window.__warnBefore = console.warn; window.__thrown = 0; \
         console.warn = function () { window.__thrown++; throw new Error('logger down'); };",
    );
    let misuse = eval_str(
        "try { window.recordCustomThrowing('', 1); return 'returned'; } \
         catch (e) { return 'threw: ' + e; }",
    );
    eval("window.__plan = [{status: 400}];");
    custom("refused", json!(1));
    let gap = wait_for("the gap record after the refusal", 2_000.0, || {
        batches().get(1).cloned()
    })
    .await;
    let thrown = eval("return window.__thrown").as_f64();
    eval("console.warn = window.__warnBefore;");
    assert_eq!(misuse, "returned");
    assert_eq!(thrown, Some(2.0), "both warnings were given");
    assert_eq!(
        gap["gaps"],
        json!([{ "from": 0, "to": 1, "reason": "rejected" }]),
        "{gap}"
    );
    // And the recorder goes on.
    custom("after", json!(2));
    wait_for("the next event", 3_000.0, || {
        events_of("CUSTOM_EVENT")
            .iter()
            .any(|e| e["data"]["type"] == "after")
            .then_some(())
    })
    .await;
    end();
}

/// A page that records its console into the trail (`console.warn` wrapped to
/// call `recordCustom`): a warning the recorder gives while it handles a
/// refused batch reaches that wrapper after the recorder returned, so the
/// custom event is recorded and recording goes on.
#[wasm_bindgen_test]
async fn a_page_that_records_its_console_warnings_keeps_recording() {
    begin("");
    eval(
        "window.__pageWarn = console.warn; window.__hookErrors = [];          console.warn = function (m) {            try { window.recordCustomForTest('console', String(m)); }            catch (e) { window.__hookErrors.push(String(e)); }            return window.__pageWarn.apply(console, arguments); };",
    );
    expose(
        "recordCustomForTest",
        wasm_bindgen::closure::Closure::<dyn Fn(JsValue, JsValue)>::new(
            |kind: JsValue, value: JsValue| cotrail_recorder::record_custom(kind, value, None),
        ),
    );
    eval("window.__plan = [{status: 400}];");
    custom("first", json!(1));
    wait_for("the rejection", 3_000.0, || {
        (stat("rejected") == 1.0).then_some(())
    })
    .await;
    custom("after", json!(2));
    cotrail_recorder::flush();
    let customs = wait_for("the console's custom event and the next", 3_000.0, || {
        let types: Vec<String> = events_of("CUSTOM_EVENT")
            .iter()
            .map(|e| e["data"]["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        (types.contains(&"console".to_owned()) && types.contains(&"after".to_owned()))
            .then_some(types)
    })
    .await;
    eval("console.warn = window.__pageWarn;");
    assert_eq!(
        eval_str("return window.__hookErrors.join('|')"),
        "",
        "{customs:?}"
    );
    end();
}

/// A page's wrapper of `fetch` that throws instead of returning a promise:
/// taken as a network error (retried), not thrown through the recorder into
/// the page, and not a batch left in flight for ever.
#[wasm_bindgen_test]
async fn a_fetch_that_throws_is_retried_like_a_network_error() {
    begin("");
    eval(
        "var inner = window.fetch, calls = 0;          window.fetch = function (url, init) {            if (calls++ === 0) throw new TypeError('blocked by a wrapper');            return inner(url, init); };",
    );
    custom("thrown", json!(1));
    cotrail_recorder::flush();
    wait_for("the event delivered on a retry", 5_000.0, || {
        events_of("CUSTOM_EVENT")
            .iter()
            .any(|e| e["data"]["type"] == "thrown")
            .then_some(())
    })
    .await;
    assert!(stat("retries") >= 1.0);
    end();
}

/// A request that never settles (a stalled proxy) is aborted by its timeout
/// signal and retried, instead of holding the tab's one request in flight.
/// (`AbortSignal.timeout` is shortened here; the recorder asks for 30 s.)
#[wasm_bindgen_test]
async fn a_request_that_hangs_is_aborted_and_retried() {
    begin("");
    eval(
        "window.__realTimeout = AbortSignal.timeout; window.__asked = [];          AbortSignal.timeout = function (ms) { window.__asked.push(ms); return window.__realTimeout.call(AbortSignal, 200); };          var inner = window.fetch, calls = 0;          window.fetch = function (url, init) {            if (calls++ > 0) return inner(url, init);            return new Promise(function (_, reject) {              init.signal.addEventListener('abort', function () { reject(init.signal.reason); }); }); };",
    );
    custom("hung", json!(1));
    cotrail_recorder::flush();
    wait_for("the event delivered after the abort", 5_000.0, || {
        events_of("CUSTOM_EVENT")
            .iter()
            .any(|e| e["data"]["type"] == "hung")
            .then_some(())
    })
    .await;
    eval("AbortSignal.timeout = window.__realTimeout;");
    assert_eq!(
        eval_str("return String(window.__asked[0])"),
        cotrail_recorder::transport::REQUEST_TIMEOUT_MS.to_string()
    );
    assert!(stat("retries") >= 1.0);
    end();
}

/// A page's `fetch` wrapper that returns a thenable calling back twice: the
/// second call (after the next batch went out) is not taken as that batch's
/// answer. Here the next batch is refused with a 500: it must be sent again,
/// not acknowledged by the first batch's stray answer and dropped.
#[wasm_bindgen_test]
async fn a_thenable_that_answers_twice_settles_its_own_batch_only() {
    begin("");
    eval(
        "var inner = window.fetch, calls = 0; \
         window.fetch = function (url, init) { \
           var n = calls++; \
           if (n === 0) { var p = inner(url, init); return { then: function (ok, err) { \
             p.then(function (r) { ok(r); setTimeout(function () { try { ok(r); } catch (_) {} }, 300); }, err); } }; } \
           if (n === 1) { window.__bodies.push(String(init.body)); \
             return new Promise(function (resolve) { setTimeout(function () { \
               resolve(new Response('{}', {status: 500})); }, 800); }); } \
           return inner(url, init); };",
    );
    custom("first", json!(1));
    cotrail_recorder::flush();
    // Recorded while the first batch is in flight: the second batch.
    custom("second", json!(2));
    let sent = |kind: &str| {
        bodies()
            .iter()
            .filter(|b| b.contains(&format!("\"type\":\"{kind}\"")))
            .count()
    };
    wait_for("the second batch sent again after its 500", 8_000.0, || {
        (sent("second") >= 2).then_some(())
    })
    .await;
    // Every event recorded (the page view, "first", "second") acknowledged
    // once: the stray answer counted nothing.
    let recorded = events().len() as f64;
    wait_for("every event acknowledged", 5_000.0, || {
        (stat("acked") >= recorded).then_some(())
    })
    .await;
    assert_eq!(sent("first"), 1, "{:?}", bodies());
    assert_eq!(stat("acked"), recorded);
    assert!(stat("retries") >= 1.0);
    end();
}

/// The page goes away with more unacknowledged than browsers let keepalive
/// requests carry in all (64 KiB): the newest events, the last interaction
/// among them, go out within that; and a second departure signal with
/// nothing new (hidden, then `pagehide`) sends nothing again.
#[wasm_bindgen_test]
async fn unload_sends_fit_the_keepalive_budget_newest_first_and_are_not_repeated() {
    begin("");
    eval("window.__status = 0;");
    let filler = "x".repeat(900);
    for n in 0..120 {
        custom("filler", json!({ "n": n, "pad": filler }));
    }
    custom("last-interaction", json!(1));
    let keepalive_bodies = || -> Vec<String> {
        let flags: Vec<bool> =
            serde_json::from_str(&eval_str("return JSON.stringify(window.__keepalive)")).unwrap();
        bodies()
            .into_iter()
            .zip(flags)
            .filter(|(_, k)| *k)
            .map(|(b, _)| b)
            .collect()
    };
    eval("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}));");
    let sent = keepalive_bodies();
    assert!(!sent.is_empty());
    let total: usize = sent.iter().map(String::len).sum();
    assert!(total <= 60 * 1024, "{total} bytes of keepalive bodies");
    assert!(
        sent.iter().any(|b| b.contains("\"last-interaction\"")),
        "the last interaction did not go out"
    );
    eval("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}));");
    assert_eq!(
        keepalive_bodies().len(),
        sent.len(),
        "sent again with nothing new"
    );
    end();
    clear_storage();
}

/// Storage that is full for a while (quota): the events recorded meanwhile
/// live in memory only, later ones are saved again as soon as there is room,
/// and once acknowledged no saved key is left behind.
#[wasm_bindgen_test]
async fn storage_full_for_a_while_saves_again_and_leaves_no_keys_behind() {
    begin("");
    eval(
        "window.__status = 0; window.__realSetItem = Storage.prototype.setItem; window.__full = false;          Storage.prototype.setItem = function (k, v) {            if (window.__full && String(k).indexOf('cotrail|e|') === 0)              throw new DOMException('full', 'QuotaExceededError');            return window.__realSetItem.call(this, k, v); };",
    );
    custom("before", json!(1));
    eval("window.__full = true;");
    custom("during", json!(2));
    eval("window.__full = false;");
    custom("after", json!(3));
    let saved = |seq: u64| local(&key(seq)).is_some();
    assert!(
        saved(1) && !saved(2),
        "the page-change, 'before' saved; 'during' not"
    );
    assert!(saved(3), "saved again once there is room");
    eval("window.__status = 200;");
    cotrail_recorder::flush();
    wait_for("everything acknowledged", 8_000.0, || {
        (stat("acked") >= 4.0).then_some(())
    })
    .await;
    eval("Storage.prototype.setItem = window.__realSetItem;");
    let left = eval_str(
        "return Object.keys(localStorage).filter(function (k) { return k.indexOf('cotrail|e|') === 0; }).join(',')",
    );
    assert_eq!(left, "", "saved keys left behind");
    end();
    clear_storage();
}

/// A page left open for hours with the collector down: once the queue is at
/// its byte bound, recording goes on (the oldest events become a gap record)
/// and the module's memory stops growing, because freed blocks are reused.
#[wasm_bindgen_test]
async fn memory_stops_growing_once_the_queue_is_at_its_bound() {
    use wasm_bindgen::JsCast;
    begin("");
    // Every request fails as a network error: retried with backoff, never acked.
    eval("window.__status = 0;");
    let memory = || {
        wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let text = "x".repeat(1000);
    // About 1.5 MB of events a round, three times the queue's 512 KiB bound.
    let round = || {
        for n in 0..1500 {
            custom("filler", json!({ "n": n, "text": text }));
        }
    };
    // Two rounds to warm up: the first leaves the queue at its bound, the
    // second its blocks in every size class it cycles through.
    for _ in 0..2 {
        round();
        sleep(300).await;
    }
    let warm = memory();
    let dropped = stat("dropped");
    assert!(
        dropped > 0.0,
        "the queue reached its bound and dropped the oldest"
    );
    for _ in 0..4 {
        round();
        sleep(300).await;
    }
    let after = memory();
    assert!(stat("dropped") > dropped, "recording went on");
    // It has stayed the same in every run here; one page (64 KiB) of slack
    // for a new peak of some size class, against 6,000 events since the
    // warm-up: a leak of a few dozen bytes an event would show (a heap that
    // never frees grew by 80 MB here).
    assert!(
        after - warm <= 65536,
        "memory grew by {} bytes after the queue reached its bound",
        after - warm
    );
    end();
    clear_storage();
}

// ---------------------------------------------------------------- (c) 429 + Retry-After

#[wasm_bindgen_test]
async fn a_throttled_batch_is_sent_again_after_retry_after() {
    begin("");
    eval("window.__plan = [{status: 429, headers: {'Retry-After': '2'}}];");
    custom("throttled", json!({ "a": 1 }));
    let b = wait_for("the retry", 5_000.0, || {
        let b = bodies();
        (b.len() >= 2).then_some(b)
    })
    .await;
    assert_eq!(b[0], b[1], "the same events are sent again");
    let times: Vec<f64> = js_sys::Array::from(&eval("return window.__times"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let waited = times[1] - times[0];
    // The backoff alone would retry within 1 s; Retry-After says 2 s. (The
    // upper bound only catches a wait of another order, not a slow timer.)
    assert!(
        (1_900.0..10_000.0).contains(&waited),
        "retried after {waited} ms"
    );
    assert_eq!(stat("retries"), 1.0);
    wait_for("the ack", 3_000.0, || (stat("acked") == 2.0).then_some(())).await;
    assert!(stored().is_empty());
    end();
}

// ---------------------------------------------------------------- (d) duplicated tab

fn seed_tab(heartbeat: Option<f64>) {
    clear_storage();
    eval(
        "sessionStorage.setItem('cotrail.session', 'dup-sess'); \
         sessionStorage.setItem('cotrail.tab', 'dup-tab'); \
         sessionStorage.setItem('cotrail.seq', '42');",
    );
    if let Some(at) = heartbeat {
        eval(&format!(
            "localStorage.setItem('cotrail|live|dup-tab', '{}|other-page');",
            at as u64
        ));
    }
}

fn start_seeded() {
    cotrail_recorder::stop();
    install_collector();
    cotrail_recorder::start(config("")).unwrap();
}

async fn first_delivered() -> Value {
    cotrail_recorder::flush();
    wait_for("the first batch", 3_000.0, || batches().first().cloned()).await
}

#[wasm_bindgen_test]
async fn a_duplicated_tab_takes_a_new_tab_id_and_starts_at_zero() {
    seed_tab(Some(now()));
    start_seeded();
    let (s, t) = ids();
    assert_eq!(s, "dup-sess", "the session is shared");
    assert_ne!(t, "dup-tab", "the live tab's id was taken over");
    assert_eq!(session("cotrail.tab").as_deref(), Some(t.as_str()));
    let b = first_delivered().await;
    assert_eq!(b["tab_id"], t.as_str());
    assert_eq!(b["events"][0]["seq"], 0, "{b}");
    // The other page's heartbeat is not touched.
    end();
    assert!(local("cotrail|live|dup-tab")
        .unwrap()
        .ends_with("|other-page"));
    clear_storage();
}

#[wasm_bindgen_test]
async fn a_reloaded_tab_keeps_its_tab_id_and_continues_the_sequence() {
    for (what, heartbeat) in [
        ("no heartbeat", None),
        ("a stale heartbeat", Some(now() - 60_000.0)),
    ] {
        seed_tab(heartbeat);
        start_seeded();
        let (s, t) = ids();
        assert_eq!((s.as_str(), t.as_str()), ("dup-sess", "dup-tab"), "{what}");
        let b = first_delivered().await;
        assert_eq!(b["tab_id"], "dup-tab", "{what}");
        assert_eq!(b["events"][0]["seq"], 42, "{what}: {b}");
        // Acknowledged events' keys go, and the next free seq is kept instead.
        wait_for("the first event acknowledged", 3_000.0, || {
            (stat("acked") >= 1.0).then_some(())
        })
        .await;
        assert_eq!(counter().as_deref(), Some("43"), "{what}");
        // Kept per session and tab; an earlier version's single key, moved.
        assert_eq!(session("cotrail.seq"), None, "{what}");
        // This page now owns the tab.
        let live = local("cotrail|live|dup-tab").unwrap();
        assert!(!live.ends_with("|other-page"), "{what}: {live}");
        end();
        // Leaving releases the tab so its reload is not taken for a duplicate.
        let released = local("cotrail|live|dup-tab").unwrap_or_default();
        assert!(released.ends_with("|r"), "{what}: {released}");
    }
    clear_storage();
}

/// A page of the version before per-session counts counted on under the
/// single key after a page of this version had kept one: the higher count
/// stands, so no seq is used twice.
#[wasm_bindgen_test]
async fn the_higher_of_an_older_and_a_newer_count_stands() {
    // (the older single key, the newer per-session key, where the tab goes on)
    for (older, newer, next) in [(50, 42, 50), (7, 42, 42)] {
        seed_tab(None);
        eval(&format!(
            "sessionStorage.setItem('cotrail.seq', '{older}'); \
             sessionStorage.setItem('cotrail.seq|dup-sess|dup-tab', '{newer}');"
        ));
        start_seeded();
        let b = first_delivered().await;
        assert_eq!(b["events"][0]["seq"], next, "{b}");
        assert_eq!(session("cotrail.seq"), None, "moved once");
        end();
    }
    clear_storage();
}

/// An agent's tab records session A, opens session B, then A again (the
/// page names its session): A goes on from its own count, so no seq the
/// collector holds for A is sent again (it refuses those as conflicts, and
/// the events would be lost).
#[wasm_bindgen_test]
async fn a_session_the_tab_comes_back_to_goes_on_from_its_own_count() {
    clear_storage();
    let visit = |session: &str, events: u64| {
        cotrail_recorder::stop();
        install_collector();
        cotrail_recorder::start(config(&format!("sessionId: '{session}'"))).unwrap();
        for n in 0..events {
            custom("step", json!({ "n": n }));
        }
        cotrail_recorder::flush();
    };
    let seqs_of = |session: &str| -> Vec<u64> {
        batches()
            .into_iter()
            .filter(|b| b["session_id"] == session)
            .flat_map(|b| seqs(&b))
            .collect()
    };
    visit("sess-a", 3);
    wait_for("A's events", 3_000.0, || {
        (seqs_of("sess-a").len() == 4).then_some(())
    })
    .await;
    let (_, tab) = ids();
    assert_eq!(
        seqs_of("sess-a"),
        [0, 1, 2, 3],
        "the page view and three steps"
    );
    visit("sess-b", 1);
    wait_for("B's events", 3_000.0, || {
        (seqs_of("sess-b").len() == 2).then_some(())
    })
    .await;
    assert_eq!(ids().1, tab, "the same tab");
    assert_eq!(seqs_of("sess-b"), [0, 1]);
    visit("sess-a", 1);
    wait_for("A's again", 3_000.0, || {
        (seqs_of("sess-a").len() == 2).then_some(())
    })
    .await;
    assert_eq!(ids().1, tab);
    assert_eq!(seqs_of("sess-a"), [4, 5], "A goes on after its 0..=3");
    end();
    clear_storage();
}

/// A saved event of a tab whose page is gone, as the recorder encodes it.
fn saved_event(session: &str, tab: &str, seq: u64) {
    let json = format!(
        "{{\"seq\":{seq},\"ts\":1763800000000,\"mono\":5,\"actor\":{{\"kind\":\"customer\"}},\
         \"type\":\"CUSTOM_EVENT\",\"data\":{{\"type\":\"left\",\"value\":{seq}}}}}"
    );
    let key = format!("cotrail|e|{session}|{tab}|{seq}");
    web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .set_item(&key, &json)
        .unwrap();
}

#[wasm_bindgen_test]
async fn events_are_not_counted_in_session_storage_one_by_one() {
    begin("");
    let (s, t) = ids();
    let before = counter();
    eval("window.__status = 503;");
    for n in 0..5 {
        custom("step", json!({ "n": n }));
    }
    // Each event's key records its seq; the counter moves only when keys go.
    assert_eq!(counter(), before);
    assert!(local(&format!("cotrail|e|{s}|{t}|5")).is_some());
    eval("window.__status = 200;");
    cotrail_recorder::flush();
    wait_for("all six acknowledged", 5_000.0, || {
        (stat("acked") >= 6.0).then_some(())
    })
    .await;
    assert_eq!(counter().as_deref(), Some("6"));
    end();
    clear_storage();
}

#[wasm_bindgen_test]
async fn a_tab_whose_queue_another_page_delivered_continues_after_it() {
    clear_storage();
    // A tab that died with events 5 and 6 unacknowledged (no heartbeat left).
    saved_event("gone-sess", "gone-tab", 5);
    saved_event("gone-sess", "gone-tab", 6);
    // Another page of the site adopts and delivers them.
    cotrail_recorder::stop();
    install_collector();
    cotrail_recorder::start(config("")).unwrap();
    cotrail_recorder::flush();
    wait_for(
        "the adopted events acknowledged and their keys removed",
        5_000.0,
        || {
            (local("cotrail|e|gone-sess|gone-tab|6").is_none()
                && local("cotrail|e|gone-sess|gone-tab|5").is_none())
            .then_some(())
        },
    )
    .await;
    let adopted: Vec<Value> = batches()
        .into_iter()
        .filter(|b| b["tab_id"] == "gone-tab")
        .collect();
    assert_eq!(adopted.iter().flat_map(seqs).collect::<Vec<_>>(), [5, 6]);
    let next = local("cotrail|n|gone-sess|gone-tab").expect("the adopter records the next seq");
    assert!(next.starts_with("7 "), "{next}");
    end();
    // The dead tab comes back (a restored tab keeps its sessionStorage, whose
    // counter is older than what the adopter delivered).
    eval(
        "sessionStorage.setItem('cotrail.session', 'gone-sess'); \
         sessionStorage.setItem('cotrail.tab', 'gone-tab'); \
         sessionStorage.setItem('cotrail.seq', '3');",
    );
    start_seeded();
    let b = first_delivered().await;
    assert_eq!(b["tab_id"], "gone-tab");
    assert_eq!(
        b["events"][0]["seq"], 7,
        "no seq the adopter delivered is reused: {b}"
    );
    assert_eq!(local("cotrail|n|gone-sess|gone-tab"), None);
    assert_eq!(counter().as_deref(), Some("7"));
    end();
    clear_storage();
}

fn live_marker(tab: &str, value: &str) {
    eval(&format!(
        "localStorage.setItem('cotrail|live|{tab}', '{value}');"
    ));
}

fn delivered_seqs_of(tab: &str) -> Vec<u64> {
    batches()
        .into_iter()
        .filter(|b| b["tab_id"] == tab)
        .flat_map(|b| seqs(&b))
        .collect()
}

/// A tab that crashed leaves its heartbeat behind; once stale, the next page
/// of the site adopts its queue (heartbeats are wall-clock times, read
/// against the wall clock).
#[wasm_bindgen_test]
async fn a_crashed_tabs_queue_is_adopted_once_its_heartbeat_is_stale() {
    clear_storage();
    saved_event("crash-sess", "crash-tab", 3);
    live_marker(
        "crash-tab",
        &format!("{}|crashed-page", now() as u64 - 60_000),
    );
    start_seeded();
    cotrail_recorder::flush();
    wait_for("the crashed tab's event delivered", 5_000.0, || {
        (delivered_seqs_of("crash-tab") == [3]).then_some(())
    })
    .await;
    end();
    clear_storage();
}

/// A page of the same tab that records another session (the site gives a new
/// `data-session-id`, after a sign-in say) finds the previous session's unsent
/// queue under its own tab id: that page is gone, so this one adopts it.
#[wasm_bindgen_test]
async fn a_previous_sessions_queue_in_the_same_tab_is_sent_by_the_next_page() {
    seed_tab(None);
    saved_event("dup-sess", "dup-tab", 41);
    cotrail_recorder::stop();
    install_collector();
    cotrail_recorder::start(config("sessionId: 'next-sess'")).unwrap();
    assert_eq!(ids(), ("next-sess".to_owned(), "dup-tab".to_owned()));
    cotrail_recorder::flush();
    wait_for("the previous session's event delivered", 5_000.0, || {
        batches()
            .into_iter()
            .any(|b| b["session_id"] == "dup-sess" && seqs(&b) == [41])
            .then_some(())
    })
    .await;
    wait_for("its key removed once acknowledged", 3_000.0, || {
        local("cotrail|e|dup-sess|dup-tab|41")
            .is_none()
            .then_some(())
    })
    .await;
    end();
    clear_storage();
}

/// An adopted queue whose batches keep failing (a server error for that
/// one) does not hold this tab's own events back: they go between its tries.
#[wasm_bindgen_test]
async fn an_adopted_queue_that_keeps_failing_does_not_hold_back_the_tabs_own() {
    clear_storage();
    saved_event("stuck-sess", "stuck-tab", 4);
    cotrail_recorder::stop();
    install_collector();
    eval(
        "var inner = window.fetch;          window.fetch = function (url, init) {            if (String(init && init.body).indexOf('stuck-tab') >= 0) {              window.__bodies.push(String(init.body)); window.__keepalive.push(!!init.keepalive);              return Promise.resolve(new Response('{}', {status: 500})); }            return inner(url, init); };",
    );
    cotrail_recorder::start(config("")).unwrap();
    custom("own", json!(1));
    cotrail_recorder::flush();
    wait_for("this tab's own event delivered", 6_000.0, || {
        events_of("CUSTOM_EVENT")
            .iter()
            .any(|e| e["data"]["type"] == "own")
            .then_some(())
    })
    .await;
    assert!(stat("retries") >= 1.0, "the adopted batch failed first");
    // The tab's own batches going between its tries do not reset the failing
    // batch's backoff: over 4 s of steady recording it is tried a few times
    // (after 0.5-1, 1-2 and 2-4 s at most), not about once a second.
    let tries = || bodies().iter().filter(|b| b.contains("stuck-tab")).count();
    let before = tries();
    let started = now();
    for n in 0..13 {
        custom("own-more", json!(n));
        cotrail_recorder::flush();
        sleep(300).await;
    }
    let during = tries() - before;
    // Backing off, the k-th try comes at least 0.5 + 1 + ... + 0.5·2^(k-1) s
    // after the first failure: how many fit in the time this loop really took
    // (about 4 s: 3; a retry every second would make it 4 or 5).
    let took = now() - started;
    let mut most = 0;
    let mut at = 0.0;
    while at + 500.0 * f64::from(1 << most) <= took + 1_000.0 {
        at += 500.0 * f64::from(1 << most);
        most += 1;
    }
    assert!(
        during <= most,
        "{during} tries of the failing batch in {took} ms (at most {most})"
    );
    end();
    clear_storage();
}

/// A page that delivered a dead tab's queue records the tab's next free seq
/// before it removes the saved events (they are the record of their seqs
/// until then). Where that record cannot be written (storage full), the
/// events stay saved: sent again later (the collector keeps one copy), rather
/// than the tab, restored, reusing their numbers for other events.
#[wasm_bindgen_test]
async fn delivered_events_stay_saved_when_their_seq_cannot_be_recorded() {
    clear_storage();
    saved_event("full-sess", "full-tab", 6);
    live_marker(
        "full-tab",
        &format!("{}|crashed-page", now() as u64 - 60_000),
    );
    eval(
        "window.__realSetItem = Storage.prototype.setItem;          Storage.prototype.setItem = function (k, v) {            if (String(k).indexOf('cotrail|n|') === 0) throw new DOMException('full', 'QuotaExceededError');            return window.__realSetItem.call(this, k, v); };",
    );
    start_seeded();
    cotrail_recorder::flush();
    wait_for("the dead tab's event delivered", 5_000.0, || {
        (delivered_seqs_of("full-tab") == [6]).then_some(())
    })
    .await;
    sleep(300).await;
    eval("Storage.prototype.setItem = window.__realSetItem;");
    assert!(
        local("cotrail|e|full-sess|full-tab|6").is_some(),
        "removed although its seq is recorded nowhere"
    );
    end();
    clear_storage();
}

/// A tab that crashed and was reloaded at once: its old page's heartbeat was
/// still fresh, so the new page took a new tab id and left the old queue to
/// it. Once that heartbeat is stale the running page adopts the queue, with
/// its next heartbeat, instead of leaving it for some later page.
#[wasm_bindgen_test]
async fn a_queue_left_to_a_live_looking_tab_is_adopted_when_its_heartbeat_stops() {
    clear_storage();
    saved_event("wait-sess", "wait-tab", 8);
    live_marker("wait-tab", &format!("{}|crashed-page", now() as u64));
    start_seeded();
    cotrail_recorder::flush();
    sleep(1_000).await;
    assert!(
        delivered_seqs_of("wait-tab").is_empty(),
        "a live-looking tab sends its own queue"
    );
    // Its page never beats again: the heartbeat is now stale.
    live_marker(
        "wait-tab",
        &format!("{}|crashed-page", now() as u64 - 60_000),
    );
    wait_for(
        "the queue adopted with a heartbeat",
        cotrail_recorder::storage::HEARTBEAT_MS as f64 + 3_000.0,
        || (delivered_seqs_of("wait-tab") == [8]).then_some(()),
    )
    .await;
    end();
    clear_storage();
}

/// A hidden page's heartbeat says so and stays fresh for longer: a background
/// tab's timers may run once a minute, and its duplicate must still see the
/// tab as taken.
#[wasm_bindgen_test]
async fn a_hidden_pages_heartbeat_stays_fresh_for_throttled_timers() {
    // Written a minute ago by a hidden page: the tab is taken.
    seed_tab(None);
    live_marker(
        "dup-tab",
        &format!("{}|other-page|h", now() as u64 - 60_000),
    );
    start_seeded();
    assert_ne!(ids().1, "dup-tab", "a hidden page's tab is still taken");
    end();
    // Ten minutes ago: gone, even hidden.
    seed_tab(None);
    live_marker(
        "dup-tab",
        &format!("{}|other-page|h", now() as u64 - 600_000),
    );
    start_seeded();
    assert_eq!(ids().1, "dup-tab");
    // This page hides: its heartbeat says so at once.
    eval(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true}); \
         document.dispatchEvent(new Event('visibilitychange'));",
    );
    let live = local("cotrail|live|dup-tab").unwrap();
    // Leaving (a reload): `pagehide` releases the tab, and the page turning
    // hidden right after does not claim it again.
    eval(
        "dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false})); \
         document.dispatchEvent(new Event('visibilitychange'));",
    );
    let after_leaving = local("cotrail|live|dup-tab").unwrap_or_default();
    eval("delete document.visibilityState;");
    assert!(live.ends_with("|h"), "{live}");
    assert!(
        after_leaving.ends_with("|r"),
        "a released tab stays released: {after_leaving}"
    );
    end();
    clear_storage();
}

/// A page in the back/forward cache whose tab was taken meanwhile (the tab
/// was duplicated and the duplicate went back to this page, loaded anew,
/// going on with the tab's id and sequence numbers): shown again, it starts
/// over as a tab of its own, so the two never send different events at the
/// same numbers. The controls: shown again with its tab still released, or
/// taken by the tab's own next page, it goes on with it.
#[wasm_bindgen_test]
async fn a_page_back_from_the_cache_whose_tab_was_taken_starts_as_a_new_tab() {
    begin("");
    let (session_id, tab) = ids();
    let leave = "dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}));";
    let back = "dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}));";
    // The controls first: nobody took the tab; the tab's own next page took
    // it (and went on with its sequence, in this tab's sessionStorage).
    eval(leave);
    eval(back);
    sleep(50).await;
    assert_eq!(ids(), (session_id.clone(), tab.clone()));
    eval(leave);
    live_marker(&tab, &format!("{}|next-page|r", now() as u64));
    eval(&format!(
        "sessionStorage.setItem('cotrail.page|{tab}', 'next-page');"
    ));
    eval(back);
    sleep(50).await;
    assert_eq!(ids(), (session_id.clone(), tab.clone()));
    assert_eq!(
        session(&format!("cotrail.page|{tab}")).as_deref(),
        Some(
            eval_str(&format!(
                "return localStorage.getItem('cotrail|live|{tab}')"
            ))
            .split('|')
            .nth(1)
            .unwrap()
        ),
        "this page holds the tab again"
    );
    // Now a duplicate takes it while this page is in the cache.
    eval(leave);
    live_marker(&tab, &format!("{}|the-duplicate", now() as u64));
    eval(back);
    // Until the restart (a moment later) nothing goes out under the taken id.
    custom("in-between", json!(1));
    let new_tab = wait_for("a new tab id", 3_000.0, || {
        cotrail_recorder::tab_id().filter(|t| *t != tab)
    })
    .await;
    assert_eq!(
        cotrail_recorder::session_id().as_deref(),
        Some(session_id.as_str())
    );
    custom("after-return", json!(1));
    cotrail_recorder::flush();
    let e = wait_for("the event under the new tab", 3_000.0, || {
        batches()
            .into_iter()
            .filter(|b| b["tab_id"] == new_tab.as_str())
            .flat_map(|b| b["events"].as_array().cloned().unwrap_or_default())
            .find(|e| e["data"]["type"] == "after-return")
    })
    .await;
    assert!(e["seq"].as_u64().unwrap() < 3, "a new sequence: {e}");
    // The duplicate's claim is left alone.
    assert!(local(&format!("cotrail|live|{tab}"))
        .unwrap()
        .ends_with("|the-duplicate"));
    cotrail_recorder::flush();
    sleep(300).await;
    // Neither sent nor saved (a saved one would be sent later, adopted).
    assert!(
        !everything().contains("in-between"),
        "an event was kept under the taken tab id"
    );
    // Taken again, and the page stops recording before the restart: stopped
    // it stays.
    eval(leave);
    live_marker(&new_tab, &format!("{}|another-duplicate", now() as u64));
    eval(back);
    cotrail_recorder::stop();
    sleep(200).await;
    assert_eq!(
        cotrail_recorder::tab_id(),
        None,
        "started again after stop()"
    );
    end();
    clear_storage();
}

// ---------------------------------------------------------------- the loader's sender

#[wasm_bindgen_test]
async fn batches_go_through_the_loaders_sender_and_unload_sends_stay_plain() {
    cotrail_recorder::stop();
    clear_storage();
    install_collector();
    eval("window.__sent = [];");
    // What the loader hands over where the browser can gzip (here: records the
    // call and posts plain text, so the fake collector can read it).
    cotrail_recorder::start(config(
        "send: function (url, text) { window.__sent.push([url, text]); \
           return fetch(url, {method: 'POST', body: text}); }",
    ))
    .unwrap();
    custom("via", json!({ "n": 1 }));
    cotrail_recorder::flush();
    wait_for("a batch acknowledged", 3_000.0, || {
        (stat("acked") >= 2.0).then_some(())
    })
    .await;
    let sent: Vec<(String, String)> =
        serde_json::from_str(&eval_str("return JSON.stringify(window.__sent)")).unwrap();
    assert!(!sent.is_empty());
    for (url, text) in &sent {
        assert!(
            url.starts_with("https://collector.test/api/v1/batches?site_key="),
            "{url}"
        );
        assert!(
            bodies().contains(text),
            "the sender posted what it was given"
        );
    }
    assert!(sent.iter().any(|(_, t)| t.contains("\"via\"")));
    // The page goes away with an event unacknowledged: that send must outlive
    // the page, so it is a plain keepalive fetch, not the (asynchronous) sender.
    eval("window.__status = 503;");
    custom("last", json!({ "n": 2 }));
    let before = sent.len();
    end();
    let sent_after: Vec<(String, String)> =
        serde_json::from_str(&eval_str("return JSON.stringify(window.__sent)")).unwrap();
    assert!(
        sent_after[before..]
            .iter()
            .all(|(_, t)| !t.contains("\"last\"")),
        "{sent_after:?}"
    );
    let keepalive: Vec<bool> =
        serde_json::from_str(&eval_str("return JSON.stringify(window.__keepalive)")).unwrap();
    let last = bodies().len() - 1;
    assert!(bodies()[last].contains("\"last\""));
    assert!(keepalive[last], "the unload send is keepalive");
    clear_storage();
}

// ---------------------------------------------------------------- recordCustom misuse

fn bad_calls() -> Vec<(&'static str, JsValue, JsValue)> {
    vec![
        ("empty type", "".into(), JsValue::from(1)),
        ("blank type", "   ".into(), JsValue::from(1)),
        ("non-string type", JsValue::from(5), JsValue::from(1)),
        ("type too long", "t".repeat(65).into(), JsValue::from(1)),
        (
            "too deep",
            "deep".into(),
            eval("var v = 1; for (var i = 0; i < 20; i++) v = [v]; return v;"),
        ),
        (
            "too large",
            "large".into(),
            eval("return {blob: 'x'.repeat(9000)};"),
        ),
        (
            "cycle",
            "cycle".into(),
            eval("var o = {a: 1}; o.self = o; return o;"),
        ),
        ("bigint", "big".into(), eval("return {n: BigInt(10)};")),
    ]
}

#[wasm_bindgen_test]
async fn record_custom_misuse_warns_and_records_nothing() {
    capture_warnings();
    begin("");
    for (what, kind, value) in bad_calls() {
        let before = warnings().len();
        let seq_before = counter();
        cotrail_recorder::record_custom(kind, value, None);
        let w = warnings();
        assert_eq!(
            w.len(),
            before + 1,
            "{what}: one warning expected, got {w:?}"
        );
        assert!(w[before].contains("recordCustom"), "{what}: {}", w[before]);
        assert_eq!(counter(), seq_before, "{what}: a seq was taken");
    }
    assert!(
        stored().iter().all(|(_, e)| e["type"] != "CUSTOM_EVENT"),
        "{:?}",
        stored()
    );
    custom("ok-marker", json!({ "fine": true }));
    cotrail_recorder::flush();
    let customs = wait_for("the valid custom event", 3_000.0, || {
        let c = events_of("CUSTOM_EVENT");
        (!c.is_empty()).then_some(c)
    })
    .await;
    assert_eq!(customs.len(), 1, "{customs:?}");
    assert_eq!(customs[0]["data"]["type"], "ok-marker");
    assert_eq!(customs[0]["seq"], 1, "misuse must not consume seqs");
    end();
}

#[wasm_bindgen_test]
async fn record_custom_with_a_function_value_warns_and_records_nothing() {
    capture_warnings();
    begin("");
    let before = warnings().len();
    cotrail_recorder::record_custom("fn".into(), eval("return function () { return 1; };"), None);
    let recorded: Vec<Value> = stored()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e["type"] == "CUSTOM_EVENT")
        .collect();
    let w = warnings();
    end();
    assert!(
        recorded.is_empty() && w.len() == before + 1,
        "a function value should be refused with a warning; recorded {recorded:?}, warnings {:?}",
        &w[before..]
    );
}

#[wasm_bindgen_test]
async fn record_custom_limits_are_inclusive() {
    capture_warnings();
    begin("");
    let before = warnings().len();
    // 64 characters of type; 16 levels of nesting; exactly 8192 bytes of JSON.
    cotrail_recorder::record_custom("t".repeat(64).into(), JsValue::from(1), None);
    cotrail_recorder::record_custom(
        "deep-ok".into(),
        eval("var v = 1; for (var i = 0; i < 15; i++) v = [v]; return v;"),
        None,
    );
    cotrail_recorder::record_custom("big-ok".into(), eval("return 'x'.repeat(8190);"), None);
    assert_eq!(warnings()[before..].len(), 0, "{:?}", &warnings()[before..]);
    cotrail_recorder::flush();
    let c = wait_for("three custom events", 3_000.0, || {
        let c = events_of("CUSTOM_EVENT");
        (c.len() == 3).then_some(c)
    })
    .await;
    assert_eq!(c[2]["data"]["value"].as_str().unwrap().len(), 8190);
    end();
}

/// A page whose `fetch` wrapper asks the recorder about itself (or records a
/// custom event) while `flush()` sends: the recorder is there, running, and
/// what the wrapper records is kept.
#[wasm_bindgen_test]
async fn the_api_answers_from_a_fetch_wrapper_during_flush() {
    begin("");
    let probe = wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| {
        let seen = cotrail_recorder::session_id().is_some();
        js_sys::Reflect::set(
            &web_sys::window().unwrap(),
            &"__seenSession".into(),
            &JsValue::from_bool(seen),
        )
        .unwrap();
        cotrail_recorder::record_custom("from-fetch".into(), JsValue::from_f64(1.0), None);
    });
    expose("__probe", probe);
    eval(
        "var inner = window.fetch; window.__probed = false; \
         window.fetch = function (url, init) { \
           if (!window.__probed) { window.__probed = true; window.__probe(); } \
           return inner(url, init); };",
    );
    custom("before", json!(1));
    cotrail_recorder::flush();
    assert_eq!(
        eval("return window.__seenSession"),
        JsValue::TRUE,
        "sessionId() inside the flush's fetch"
    );
    cotrail_recorder::flush();
    wait_for("the custom event recorded inside fetch", 3_000.0, || {
        events_of("CUSTOM_EVENT")
            .iter()
            .any(|e| e["data"]["type"] == "from-fetch")
            .then_some(())
    })
    .await;
    end();
    clear_storage();
}

/// A custom event the loader queued before the recorder was ready is
/// recorded with the time the page called it; a time in the future (or none)
/// is now.
#[wasm_bindgen_test]
async fn a_custom_event_queued_before_start_keeps_the_time_it_was_called() {
    begin("");
    let perf = || eval("return performance.now()").as_f64().unwrap();
    let (wall, mono) = (js_sys::Date::now(), perf());
    // Half the page's age ago (a test run alone may start under a second in).
    let at = mono / 2.0;
    cotrail_recorder::record_custom("early".into(), JsValue::from(1), Some(at));
    cotrail_recorder::record_custom("future".into(), JsValue::from(2), Some(mono + 60_000.0));
    cotrail_recorder::flush();
    let evs = wait_for("both custom events", 3_000.0, || {
        let evs = events_of("CUSTOM_EVENT");
        (evs.len() == 2).then_some(evs)
    })
    .await;
    let (early, future) = (&evs[0], &evs[1]);
    assert_eq!(early["data"]["type"], "early");
    let (ts, m) = (
        early["ts"].as_f64().unwrap(),
        early["mono"].as_f64().unwrap(),
    );
    assert!((m - at).abs() <= 1.0, "mono {m}, called at {at}");
    assert!(
        (ts - (wall - (mono - at))).abs() <= 100.0,
        "ts {ts}, called {} ms before {wall}",
        mono - at
    );
    let fm = future["mono"].as_f64().unwrap();
    assert!(
        fm >= mono.floor() && fm < mono + 10_000.0,
        "a future time is now: {fm}"
    );
    end();
    clear_storage();
}

/// A page whose storage methods call back into the recorder (a wrapper of
/// `Storage.prototype.setItem`, `getItem` and `removeItem`, for
/// `localStorage` and `sessionStorage` alike, that flushes it, records a
/// custom event, asks for its counters and clicks a button, as a page that
/// audits its own storage might): what it asks for while the recorder saves
/// waits until the recorder is done, nothing throws into the wrapper, and
/// every event, the wrapper's included, is delivered, in order.
#[wasm_bindgen_test]
async fn storage_that_calls_back_into_the_recorder_does_not_break_it() {
    let host = mount(r#"<button id="st-btn">Saved</button>"#);
    begin("");
    expose(
        "__storageHook",
        wasm_bindgen::closure::Closure::<dyn Fn(JsValue)>::new(|key: JsValue| {
            cotrail_recorder::flush();
            let _ = cotrail_recorder::stats();
            cotrail_recorder::record_custom("storage".into(), key, None);
        }),
    );
    eval(
        "var p = Storage.prototype; window.__saved = [p.setItem, p.getItem, p.removeItem]; \
         window.__pageErrors = []; \
         addEventListener('error', function (e) { window.__pageErrors.push(String(e.message)); }); \
         window.__hookErrors = []; window.__inHook = false; window.__hooked = 0; \
         var hook = function (key) { \
           if (window.__inHook || window.__hooked >= 40) return; \
           window.__inHook = true; \
           try { window.__hooked++; window.__storageHook(String(key).slice(0, 12)); \
             document.getElementById('st-btn').click(); } \
           catch (e) { window.__hookErrors.push(String(e)); } \
           finally { window.__inHook = false; } }; \
         ['setItem', 'getItem', 'removeItem'].forEach(function (name, i) { \
           p[name] = function (key) { hook.call(this, key); return window.__saved[i].apply(this, arguments); }; });",
    );
    // A refused batch too: its retry removes and rewrites keys.
    eval("window.__plan = [{status: 503}];");
    for i in 0..5 {
        custom("page", json!(i));
    }
    cotrail_recorder::flush();
    sleep(50).await;
    custom("page", json!(5));
    cotrail_recorder::flush();
    let pages = wait_for("the page's six custom events", 5_000.0, || {
        let pages: Vec<Value> = events_of("CUSTOM_EVENT")
            .into_iter()
            .filter(|e| e["data"]["type"] == "page")
            .map(|e| e["data"]["value"].clone())
            .collect();
        (pages.len() >= 6).then_some(pages)
    })
    .await;
    eval(
        "var p = Storage.prototype; p.setItem = window.__saved[0]; \
         p.getItem = window.__saved[1]; p.removeItem = window.__saved[2];",
    );
    cotrail_recorder::flush();
    sleep(300).await;
    assert_eq!(pages, (0..6).map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!(eval_str("return window.__hookErrors.join('|')"), "");
    // (The clicks' listeners run inside `click()`, which reports their
    // exceptions as error events rather than throwing them.)
    assert_eq!(eval_str("return window.__pageErrors.join('|')"), "");
    assert!(eval("return window.__hooked").as_f64().unwrap() > 6.0);
    let all = events();
    assert!(
        all.iter().any(|e| e["data"]["type"] == "storage"),
        "the wrapper's own events: {all:?}"
    );
    let clicks = events_on("CLICK", "st-btn");
    assert!(!clicks.is_empty(), "{all:?}");
    assert!(
        clicks.iter().all(|c| c["actor"]["kind"] == "script"),
        "{clicks:?}"
    );
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (seqs[0]..seqs[0] + seqs.len() as u64).collect::<Vec<_>>(),
        "no seq missing"
    );
    end();
    host.remove();
    clear_storage();
}

/// `stop()` called from the page's `localStorage.setItem` while the recorder
/// saves an event: it stops, the event being saved still goes out with the
/// unload send (made once the transport is free), and nothing after is
/// recorded.
#[wasm_bindgen_test]
async fn stop_from_inside_storage_sends_what_was_recorded_and_records_nothing_after() {
    begin("");
    expose(
        "__stopHook",
        wasm_bindgen::closure::Closure::<dyn Fn()>::new(cotrail_recorder::stop),
    );
    eval(
        "window.__status = 503; window.__hookErrors = []; window.__stopArmed = false; \
         window.__origSet = Storage.prototype.setItem; \
         Storage.prototype.setItem = function (key) { \
           if (window.__stopArmed && String(key).indexOf('cotrail|e|') === 0) { \
             window.__stopArmed = false; \
             try { window.__stopHook(); } catch (e) { window.__hookErrors.push(String(e)); } } \
           return window.__origSet.apply(this, arguments); };",
    );
    custom("before", json!(1));
    eval("window.__stopArmed = true;");
    custom("trigger", json!(2));
    eval("Storage.prototype.setItem = window.__origSet;");
    assert_eq!(cotrail_recorder::session_id(), None, "stopped");
    custom("after", json!(3));
    sleep(300).await;
    assert_eq!(eval_str("return window.__hookErrors.join('|')"), "");
    let keepalive: Vec<bool> =
        serde_json::from_str(&eval_str("return JSON.stringify(window.__keepalive)")).unwrap();
    let sent: Vec<(String, bool)> = bodies().into_iter().zip(keepalive).collect();
    assert!(
        sent.iter()
            .any(|(b, keep)| *keep && b.contains("\"trigger\"") && b.contains("\"before\"")),
        "{sent:?}"
    );
    assert!(
        !sent.iter().any(|(b, _)| b.contains("\"after\"")),
        "{sent:?}"
    );
    end();
    clear_storage();
}

/// A `pageshow` (from the back/forward cache, as far as the event says) and a
/// `pagehide` that the page's storage wrapper dispatches while the recorder
/// saves an event: nothing throws into the wrapper or the page (no error
/// event), the `pagehide` sends what
/// is unacknowledged once the recorder is done, and recording goes on.
#[wasm_bindgen_test]
async fn lifecycle_events_dispatched_from_inside_storage_do_not_break_the_recorder() {
    begin("");
    eval(
        "window.__status = 503; window.__hookErrors = []; window.__armed = false; \
         window.__pageErrors = []; \
         addEventListener('error', function (e) { window.__pageErrors.push(String(e.message)); }); \
         window.__origSet = Storage.prototype.setItem; \
         Storage.prototype.setItem = function (key) { \
           if (window.__armed && String(key).indexOf('cotrail|e|') === 0) { \
             window.__armed = false; \
             try { dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true})); \
                   dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true})); } \
             catch (e) { window.__hookErrors.push(String(e)); } } \
           return window.__origSet.apply(this, arguments); };",
    );
    custom("before", json!(1));
    eval("window.__armed = true;");
    custom("inside", json!(2));
    eval("Storage.prototype.setItem = window.__origSet;");
    assert_eq!(eval_str("return window.__hookErrors.join('|')"), "");
    // (A listener's exception does not reach `dispatchEvent`'s caller: the
    // page sees it as an error event, as an error tracker would.)
    assert_eq!(eval_str("return window.__pageErrors.join('|')"), "");
    let keepalive: Vec<bool> =
        serde_json::from_str(&eval_str("return JSON.stringify(window.__keepalive)")).unwrap();
    let sent: Vec<(String, bool)> = bodies().into_iter().zip(keepalive).collect();
    assert!(
        sent.iter()
            .any(|(b, keep)| *keep && b.contains("\"inside\"")),
        "{sent:?}"
    );
    eval("window.__status = 200;");
    custom("after", json!(3));
    cotrail_recorder::flush();
    let types = wait_for("the three custom events", 3_000.0, || {
        let types: Vec<String> = events_of("CUSTOM_EVENT")
            .iter()
            .map(|e| e["data"]["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        (types.len() == 3).then_some(types)
    })
    .await;
    assert_eq!(types, ["before", "inside", "after"]);
    end();
    clear_storage();
}
