//! The unacknowledged queue, mirrored in `localStorage` so that it survives a
//! reload and a crash of the tab, and a later page of the same site sends it.
//!
//! Why `localStorage`: it is synchronous (an event is saved before the handler
//! returns, so a crash right after loses nothing), it outlives the tab (a crashed
//! or closed tab's events are adopted by the next page of the site, which
//! `sessionStorage` cannot do) and it needs no schema (IndexedDB is asynchronous
//! and far larger in glue). Keys are one per event, so saving is O(1) per event
//! however long the collector has been down:
//!
//! - `cotrail|e|<session>|<tab>|<seq>`: one encoded event;
//! - `cotrail|g|<session>|<tab>`: the tab's unacknowledged gap records (JSON);
//! - `cotrail|live|<tab>`: `<time>|<page>` heartbeat of the page owning a tab
//!   (`|h` after it while the page is hidden, see [`HIDDEN_STALE_MS`]; `|r`
//!   once the page has left and released the tab; a page back from the
//!   back/forward cache reads whose it is, see `Core::returned`),
//!   so a duplicated tab (which copies `sessionStorage`) can tell that its tab id
//!   is taken, and a dead tab's queue can be adopted;
//! - `cotrail|n|<session>|<tab>`: `<next seq> <time>`, written by a page that
//!   adopted a dead tab's queue before it removes that queue's keys, so the tab,
//!   if it comes back (a restored tab keeps its `sessionStorage`), never reuses
//!   a sequence number the adopter delivered for it.
//!
//! Sequence numbers are not written per event: an event's key records that its
//! seq is taken, and whoever removes keys (acknowledged or dropped events) first
//! records the next free seq, in `sessionStorage` for the page's own tab
//! ([`crate::identity::store_seq`]) or in the `n` key for an adopted one. Only
//! when saving an event fails is the seq written per event instead.
//!
//! `|` is outside the id alphabet, so keys split unambiguously. Storage may be
//! missing or throw (privacy modes, quota): then the queue lives in memory only.

#[allow(unused_imports)]
use crate::prelude::*;
use shared::{Gap, GapReason, SessionId, TabId};
use web_sys::Storage;

use crate::element::call1;
use crate::global::{call, js_str};

use crate::num::parse_u64;
use crate::queue::Encoded;
use crate::text::{split_byte, split_once_byte};

const PREFIX: &str = "cotrail|";

/// How often a page refreshes its heartbeat, in milliseconds.
pub const HEARTBEAT_MS: u32 = 4_000;

/// A heartbeat older than this belongs to a page that is gone (closed, crashed,
/// frozen in the back-forward cache).
pub const HEARTBEAT_STALE_MS: f64 = 3.0 * HEARTBEAT_MS as f64;

/// The same for a page that was hidden when it wrote its heartbeat: a
/// background tab's timers may run only once a minute (Chromium's intensive
/// throttling after five hidden minutes), and a live page must not be taken
/// for a gone one (its duplicate would reuse its tab id and sequence).
pub const HIDDEN_STALE_MS: f64 = 180_000.0;

/// A heartbeat's fields: its time (0 when unreadable), page and flag (`h`
/// hidden, `r` released). One reader for every question asked of a heartbeat.
#[inline(never)]
fn fields(heartbeat: &str) -> (f64, Option<&str>, Option<&str>) {
    let mut parts = split_byte(heartbeat, b'|');
    let at = parts.next().and_then(parse_u64).unwrap_or(0) as f64;
    (at, parts.next(), parts.next())
}

/// Whether a heartbeat (`<time>|<page>`, `|h` after it for a hidden page) is
/// still fresh at `now` (wall-clock milliseconds).
pub fn fresh(heartbeat: &str, now: f64) -> bool {
    let (at, _, flag) = fields(heartbeat);
    fresh_at(at, flag, now)
}

/// [`fresh`] of a heartbeat's time and flag, read by [`fields`].
fn fresh_at(at: f64, flag: Option<&str>, now: f64) -> bool {
    let stale = match flag {
        Some("h") => HIDDEN_STALE_MS,
        // Released: the page has left.
        Some("r") => return false,
        _ => HEARTBEAT_STALE_MS,
    };
    now - at < stale
}

/// Heartbeats older than this are removed by the next page that loads
/// (released or stale ones: a back/forward cache entry is kept for minutes).
const LIVE_TTL_MS: f64 = 3_600_000.0;

/// The page id of a heartbeat and whether it was released.
fn holder(heartbeat: &str) -> (Option<&str>, bool) {
    let (_, page, flag) = fields(heartbeat);
    (page, flag == Some("r"))
}

/// `s.getItem(key)`, `None` also when reading throws (one copy for every
/// reader of either storage).
#[inline(never)]
pub fn item(s: &Storage, key: &str) -> Option<String> {
    call1(s, &js_str!("getItem"), &key.into()).as_string()
}

/// `s.setItem(key, value)`: whether it was stored (quota, security errors).
#[inline(never)]
pub fn set(s: &Storage, key: &str, value: &str) -> bool {
    call(s, &js_str!("setItem"), &key.into(), &value.into()).is_ok()
}

/// `s.removeItem(key)` (it throws only where storage is disabled).
#[inline(never)]
pub fn remove(s: &Storage, key: &str) {
    call1(s, &js_str!("removeItem"), &key.into());
}

/// The heartbeat saved for `tab`, if any.
fn live(tab: &str) -> Option<String> {
    item(&local()?, &live_key(tab))
}

fn local() -> Option<Storage> {
    let window = crate::global::window()?;
    crate::global::get_object(&window, &crate::global::js_str!("localStorage"))
}

/// `cotrail|<kind>|<session>|<tab>`: the keys of one tab's queue.
fn tab_key(kind: &str, session: &str, tab: &str) -> String {
    crate::text::concat(&[PREFIX, kind, "|", session, "|", tab])
}

fn event_key(session: &str, tab: &str, seq: u64) -> String {
    let mut k = tab_key("e", session, tab);
    k.push('|');
    crate::text::push_int(&mut k, seq);
    k
}

fn gaps_key(session: &str, tab: &str) -> String {
    tab_key("g", session, tab)
}

fn next_key(session: &str, tab: &str) -> String {
    tab_key("n", session, tab)
}

/// `n` keys of tabs that never came back are removed after this long.
const NEXT_KEY_TTL_MS: f64 = 30.0 * 24.0 * 3_600_000.0;

fn parse_next(v: &str) -> Option<(u64, f64)> {
    let (next, rest) = split_once_byte(v, b' ');
    let next = parse_u64(next)?;
    let at = rest.and_then(|r| parse_u64(split_once_byte(r, b' ').0));
    Some((next, at.unwrap_or(0) as f64))
}

/// Records that `(session, tab)` must continue at `next` or later (see the
/// module docs); never lowers a value already recorded. False only when
/// storing failed (without `localStorage` there are no keys to keep).
pub fn save_next_seq(session: &str, tab: &str, next: u64, now: f64) -> bool {
    let Some(s) = local() else { return true };
    let key = next_key(session, tab);
    let old = item(&s, &key);
    let next = next.max(old.as_deref().and_then(parse_next).map_or(0, |(n, _)| n));
    let mut v = crate::text::int(next);
    v.push(' ');
    crate::text::push_int(&mut v, now as u64);
    set(&s, &key, &v)
}

/// This tab took back its `n` key (its seq is in `sessionStorage` now).
pub fn clear_next_seq(session: &str, tab: &str) {
    if let Some(s) = local() {
        remove(&s, &next_key(session, tab));
    }
}

fn live_key(tab: &str) -> String {
    crate::text::concat(&["cotrail|live|", tab])
}

/// Saves one encoded event. `false` when storage refused (quota, disabled).
pub fn save_event(session: &str, tab: &str, seq: u64, json: &str) -> bool {
    local().is_some_and(|s| set(&s, &event_key(session, tab, seq), json))
}

pub fn remove_events(session: &str, tab: &str, seqs: &[u64]) {
    if let Some(s) = local() {
        for seq in seqs {
            remove(&s, &event_key(session, tab, *seq));
        }
    }
}

pub fn save_gaps(session: &str, tab: &str, gaps: &[Gap]) {
    let Some(s) = local() else { return };
    let key = gaps_key(session, tab);
    if gaps.is_empty() {
        remove(&s, &key);
        return;
    }
    let mut text = String::new();
    for g in gaps {
        crate::text::push_int(&mut text, g.from);
        text.push(' ');
        crate::text::push_int(&mut text, g.to);
        text.push(' ');
        text.push_str(g.reason.as_str());
        text.push('\n');
    }
    set(&s, &key, &text);
}

/// Appends the gap records `text` holds (lines `<from> <to> <reason>`) to
/// `out`, skipping any line that does not parse.
fn parse_gaps(text: &str, out: &mut Vec<Gap>) {
    for line in split_byte(text, b'\n') {
        let mut parts = split_byte(line, b' ');
        let Some(from) = parts.next().and_then(parse_u64) else {
            continue;
        };
        let Some(to) = parts.next().and_then(parse_u64) else {
            continue;
        };
        let Some(reason) = parts.next() else {
            continue;
        };
        let reason = match reason {
            "queue_full" => GapReason::QueueFull,
            "rejected" => GapReason::Rejected,
            _ => GapReason::Unencodable,
        };
        if from <= to {
            out.push(Gap { from, to, reason });
        }
    }
}

/// Marks `tab` as owned by this page (`page` tells pages apart) at `now`,
/// `|h` after it while the page is `hidden`. With `owned_only`, only a
/// heartbeat of this page that is still there is refreshed.
pub fn heartbeat(tab: &str, page: &str, now: f64, hidden: bool, owned_only: bool) {
    claim(tab, page, now, if hidden { "|h" } else { "" }, owned_only);
}

/// The page is going away: release the tab so the next page of it (a reload)
/// does not mistake it for a live duplicate. The release names the page, so
/// that page, back from the back/forward cache, can tell whether a page of
/// another tab took the tab id meanwhile ([`tab_holder`]). Only this page's
/// claim, while it is still there, is released.
pub fn release(tab: &str, page: &str, now: f64) {
    claim(tab, page, now, "|r", true);
}

/// Writes `<now>|<page><flag>` as `tab`'s claim ([`heartbeat`], [`release`]).
#[inline(never)]
fn claim(tab: &str, page: &str, now: f64, flag: &str, owned_only: bool) {
    if let Some(s) = local() {
        let key = live_key(tab);
        if owned_only {
            let Some(v) = item(&s, &key) else {
                return;
            };
            if holder(&v) != (Some(page), false) {
                return;
            }
        }
        let mut v = crate::text::int(now as u64);
        v.push('|');
        v.push_str(page);
        v.push_str(flag);
        set(&s, &key, &v);
    }
}

/// The page that last claimed `tab` (live or released), if a claim is there.
pub fn tab_holder(tab: &str) -> Option<String> {
    let v = live(tab)?;
    fields(&v).1.map(String::from)
}

/// Another live page owns `tab` (this page is a duplicated tab).
pub fn owned_elsewhere(tab: &str, page: &str, now: f64) -> bool {
    let Some(v) = live(tab) else {
        return false;
    };
    let (at, holder, flag) = fields(&v);
    holder != Some(page) && fresh_at(at, flag, now)
}

/// A page owns `tab` (its heartbeat is fresh): [`owned_elsewhere`] with a
/// page id no heartbeat names (a heartbeat's fields never hold a `|`).
pub fn alive(tab: &str, now: f64) -> bool {
    owned_elsewhere(tab, "|", now)
}

/// Saved events and gaps of one session's tab.
#[derive(Debug, Default)]
pub struct Saved {
    /// Its ids (valid ones; empty for this page's own tab).
    pub session: String,
    pub tab: String,
    pub events: Vec<Encoded>,
    pub gaps: Vec<Gap>,
    /// The seq to continue at, recorded by a page that adopted this tab's queue.
    pub next_seq: Option<u64>,
}

/// What [`load`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// This page's tab's saved events and gaps.
    pub mine: Saved,
    /// The queues of other tabs whose page is gone (no fresh heartbeat),
    /// which this page adopts and sends.
    pub orphans: Vec<Saved>,
    /// Other tabs with saved events whose page looks alive: it sends them
    /// itself, unless its heartbeat goes stale (a tab that crashed and was
    /// reloaded at once, under a new tab id).
    pub waiting: Vec<String>,
}

/// Everything saved for `(session, tab)` and for other tabs (see [`Loaded`]);
/// `now` is wall-clock time, as heartbeats are.
pub fn load(session: &str, tab: &str, now: f64) -> Loaded {
    let mut found = Loaded::default();
    let Some(s) = local() else {
        return found;
    };
    let Loaded {
        mine,
        orphans,
        waiting,
    } = &mut found;
    let len = crate::element::length(&s);
    let mut keys: Vec<String> = Vec::new();
    for i in 0..len {
        if let Some(k) = call1(&s, &js_str!("key"), &i.into()).as_string() {
            if k.starts_with(PREFIX) {
                keys.push(k);
            }
        }
    }
    for k in &keys {
        let mut parts = split_byte(k, b'|');
        parts.next(); // "cotrail"
        let kind = parts.next();
        let sess = parts.next();
        if kind == Some("live") && sess.is_some() {
            // A heartbeat (`cotrail|live|<tab>`): gone once older than the
            // TTL (never fresh, then). Whose tab is alive is read below, once
            // per tab whose keys ask.
            if item(&s, k).is_some_and(|v| now - fields(&v).0 > LIVE_TTL_MS) {
                remove(&s, k);
            }
        }
        let (Some(sess), Some(t)) = (sess, parts.next()) else {
            continue;
        };
        let seq = parts.next();
        let own = sess == session && t == tab;
        if kind == Some("n") {
            let Some((next, at)) = item(&s, k).as_deref().and_then(parse_next) else {
                continue;
            };
            if own {
                mine.next_seq = Some(next);
            } else if now - at > NEXT_KEY_TTL_MS {
                remove(&s, k);
            }
            continue;
        }
        let target = if own {
            &mut *mine
        } else {
            let found = orphans.iter().position(|o| o.session == sess && o.tab == t);
            let i = match found {
                Some(i) => i,
                None => {
                    // Another open tab's queue: it sends it itself. (This
                    // tab's queue of another session, left by the page before
                    // this one when the site gave a new `data-session-id`,
                    // has no page left to send it: it is adopted like a
                    // crashed tab's.) Its heartbeat is read once: then the
                    // tab is waiting or has a queue adopted.
                    if waiting.iter().any(|w| w == t) {
                        continue;
                    }
                    if t != tab && alive(t, now) {
                        waiting.push(t.to_owned());
                        continue;
                    }
                    let Ok(session) = SessionId::parse(sess) else {
                        continue;
                    };
                    let Ok(tab) = TabId::parse(t) else {
                        continue;
                    };
                    orphans.push(Saved {
                        session: session.into(),
                        tab: tab.into(),
                        events: Vec::new(),
                        gaps: Vec::new(),
                        next_seq: None,
                    });
                    orphans.len() - 1
                }
            };
            &mut orphans[i]
        };
        let Some(value) = item(&s, k) else {
            continue;
        };
        match (kind, seq.and_then(parse_u64)) {
            (Some("e"), Some(seq)) => target.events.push(Encoded { seq, json: value }),
            (Some("g"), None) => parse_gaps(&value, &mut target.gaps),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_lists_round_trip_through_their_text_form() {
        let text = "3 9 queue_full\n12 12 rejected\nnot a gap\n5 1 rejected\n";
        let mut gaps = Vec::new();
        parse_gaps(text, &mut gaps);
        assert_eq!(
            gaps,
            [
                Gap {
                    from: 3,
                    to: 9,
                    reason: GapReason::QueueFull
                },
                Gap {
                    from: 12,
                    to: 12,
                    reason: GapReason::Rejected
                }
            ]
        );
    }

    #[test]
    fn a_hidden_pages_heartbeat_stays_fresh_longer() {
        let now = 1_800_000_000_000.0;
        let at = |ago: f64, rest: &str| format!("{}|p{rest}", (now - ago) as u64);
        assert!(fresh(&at(HEARTBEAT_STALE_MS - 1.0, ""), now));
        assert!(!fresh(&at(HEARTBEAT_STALE_MS, ""), now));
        assert!(fresh(&at(HEARTBEAT_STALE_MS * 5.0, "|h"), now));
        assert!(fresh(&at(HIDDEN_STALE_MS - 1.0, "|h"), now));
        assert!(!fresh(&at(HIDDEN_STALE_MS, "|h"), now));
        assert!(!fresh("garbage", now));
        // Released: gone at once, and whose release it is.
        assert!(!fresh(&at(0.0, "|r"), now));
        assert_eq!(holder(&at(0.0, "|r")), (Some("p"), true));
        assert_eq!(holder(&at(0.0, "|h")), (Some("p"), false));
        assert_eq!(holder(&at(0.0, "")), (Some("p"), false));
    }

    #[test]
    fn keys_keep_ids_apart() {
        assert_eq!(event_key("s:1", "t.2", 7), "cotrail|e|s:1|t.2|7");
        assert_eq!(gaps_key("s", "t"), "cotrail|g|s|t");
        assert_eq!(next_key("s", "t"), "cotrail|n|s|t");
    }

    #[test]
    fn next_seq_values_parse_and_tolerate_garbage() {
        assert_eq!(parse_next("42 1700000000000"), Some((42, 1.7e12)));
        assert_eq!(parse_next("42"), Some((42, 0.0)));
        assert_eq!(parse_next("x 1"), None);
        assert_eq!(parse_next(""), None);
    }
}
