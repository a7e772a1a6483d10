//! The pure delivery queue of one tab: every event from the moment it is
//! recorded until the collector acknowledges it.
//!
//! Events enter already encoded (one JSON text each), so an event is encoded
//! exactly once: the same text is persisted for the next page and spliced into
//! every body that carries it. The queue assigns sequence numbers, decides when a
//! batch is due (count, bytes, time), keeps at most one batch in flight so a tab's
//! events arrive in order, and stays under a byte bound: when the collector is
//! unreachable for long, the oldest events are dropped and reported as a gap.
//!
//! It never reads a clock or touches the DOM: `now` is a parameter, so all of it
//! is tested natively.

#[allow(unused_imports)]
use crate::prelude::*;

use shared::limits::{MAX_EVENTS_PER_BATCH, MAX_GAPS_PER_BATCH};
use shared::{Gap, GapReason, WIRE_VERSION};

/// Most bytes of encoded events held unacknowledged (in memory and, mirrored, in
/// `localStorage`). A page left open through a long collector outage must not
/// grow without bound, and `localStorage` (about 5 MiB per origin) is shared with
/// the host page. At ~200 bytes an event this is some 2,500 events.
pub const MAX_QUEUE_BYTES: usize = 512 * 1024;

/// Largest body for a normal send: far under the collector's `MAX_BODY_BYTES`.
pub const MAX_BATCH_BYTES: usize = 128 * 1024;

/// When and how much to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Send as soon as this many events wait (`data-batch-events`).
    pub max_events: usize,
    /// Largest body of a normal send.
    pub max_batch_bytes: usize,
    /// Send the oldest waiting event at most this long after it was recorded
    /// (`data-flush-ms`).
    pub flush_ms: u32,
    /// Bound of the whole queue (see [`MAX_QUEUE_BYTES`]).
    pub max_queue_bytes: usize,
}

impl Limits {
    pub fn new(max_events: usize, flush_ms: u32) -> Self {
        Limits {
            max_events: max_events.clamp(1, MAX_EVENTS_PER_BATCH),
            max_batch_bytes: MAX_BATCH_BYTES,
            flush_ms,
            max_queue_bytes: MAX_QUEUE_BYTES,
        }
    }
}

/// One recorded event, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub seq: u64,
    pub json: String,
}

/// What one send carries: the seqs of its events and how many gap records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flight {
    events: usize,
    gaps: usize,
}

/// A batch to send: the body and the sequence numbers it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub body: String,
    /// First and last seq of its events (`None` for a gaps-only batch), for
    /// the tests: delivery needs only the body.
    #[cfg(test)]
    pub seqs: Option<(u64, u64)>,
}

/// The unacknowledged events of one tab.
#[derive(Debug)]
pub struct Queue {
    /// `{"v":1,"session_id":"…","tab_id":"…",` shared by every body.
    head: String,
    next_seq: u64,
    events: Vec<Encoded>,
    /// The JSON bytes of all of `events`, in flight or not.
    bytes: usize,
    gaps: Vec<Gap>,
    in_flight: Option<Flight>,
    /// The next batch carries the gap records alone: a batch of events and
    /// gap records was refused, and the records may be why (a session at the
    /// collector's gap limit refuses every batch that adds one). Sent apart,
    /// they cannot take the events down with them again.
    gaps_first: bool,
    /// When the oldest event not yet in flight was recorded (caller's clock).
    oldest_unsent_at: Option<f64>,
    limits: Limits,
}

/// Adds a gap record in seq order, merged with the runs it touches (same
/// reason, contiguous). The first `frozen` records are in flight: already
/// sent as they are, so they are never changed (an ack forgets them whole; a
/// seq merged into one after it left would never be reported).
fn add_gap(gaps: &mut Vec<Gap>, frozen: usize, from: u64, to: u64, reason: GapReason) {
    let frozen = frozen.min(gaps.len());
    // In seq order (a rejected batch can come after later drops, and drops
    // of a retried batch's events before records made meanwhile); a loop,
    // not core's sort, which is 2 KB of what pages download.
    let mut at = frozen;
    while gaps.get(at).is_some_and(|g| g.from <= from) {
        at += 1;
    }
    let before = at > frozen && gaps[at - 1].reason == reason && gaps[at - 1].to + 1 == from;
    let after = at < gaps.len() && gaps[at].reason == reason && to + 1 == gaps[at].from;
    if before {
        gaps[at - 1].to = if after { remove_gaps(gaps, at, 1) } else { to };
        return;
    }
    if after {
        gaps[at].from = from;
        return;
    }
    gaps.insert(at, Gap { from, to, reason });
    if gaps.len() - frozen > MAX_GAPS_PER_BATCH {
        // Extremely fragmented losses: merge the two closest runs rather than
        // grow, so no seq is reported twice (the collector refuses overlapping
        // gaps) and every lost seq stays inside a gap.
        let mut best = frozen;
        for i in frozen + 1..gaps.len() - 1 {
            if gaps[i + 1].from - gaps[i].to < gaps[best + 1].from - gaps[best].to {
                best = i;
            }
        }
        let next = remove_gaps(gaps, best + 1, 1);
        gaps[best].to = gaps[best].to.max(next);
    }
}

/// Removes the `n` records from `gaps[i]` on (there are that many) and
/// returns the first one's `to`: a loop over the few records of one queue,
/// where `Vec::remove` and `Vec::drain` bring copies of their own for `Gap`.
fn remove_gaps(gaps: &mut Vec<Gap>, i: usize, n: usize) -> u64 {
    let to = gaps.get(i).map_or(0, |g| g.to);
    for j in i + n..gaps.len() {
        gaps[j - n] = gaps[j].clone();
    }
    gaps.truncate(gaps.len() - n);
    to
}

fn gap_json(out: &mut String, g: &Gap) {
    out.push_str("{\"from\":");
    crate::text::push_int(out, g.from);
    out.push_str(",\"to\":");
    crate::text::push_int(out, g.to);
    out.push_str(",\"reason\":\"");
    out.push_str(g.reason.as_str());
    out.push_str("\"}");
}

/// Builds a batch body from encoded events and gaps. Ids come from a restricted
/// alphabet (`shared::ids`) and need no escaping; a test checks the result parses
/// as a `shared::Batch` equal to the one it encodes.
pub fn body(head: &str, events: &[Encoded], gaps: &[Gap]) -> String {
    let mut out = String::from(head);
    out.push_str("\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.json);
    }
    out.push(']');
    if !gaps.is_empty() {
        out.push_str(",\"gaps\":[");
        for (i, g) in gaps.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            gap_json(&mut out, g);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// The part of every body before `"events"`.
pub fn body_head(session_id: &str, tab_id: &str) -> String {
    // The version as the head writes it (a literal: no digits built at run
    // time for a constant).
    const _: () = assert!(WIRE_VERSION == 1);
    let mut h = String::from("{\"v\":1,\"session_id\":\"");
    h.push_str(session_id);
    h.push_str("\",\"tab_id\":\"");
    h.push_str(tab_id);
    h.push_str("\",");
    h
}

/// Bytes a body spends per event beyond its JSON (the separating comma).
const PER_EVENT_OVERHEAD: usize = 1;
/// Bytes of a body besides its events, with room for a few gap records.
const BODY_OVERHEAD: usize = 512;
/// Most bytes one gap record takes in a body:
/// `{"from":<20 digits>,"to":<20 digits>,"reason":"unencodable"},` is 79.
const GAP_BYTES: usize = 80;

impl Queue {
    /// A queue for `session_id`/`tab_id` whose next event gets `next_seq`.
    pub fn new(session_id: &str, tab_id: &str, next_seq: u64, limits: Limits) -> Self {
        Queue {
            head: body_head(session_id, tab_id),
            next_seq,
            events: Vec::new(),
            bytes: 0,
            gaps: Vec::new(),
            in_flight: None,
            gaps_first: false,
            oldest_unsent_at: None,
            limits,
        }
    }

    /// The sequence number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.gaps.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    pub fn is_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Takes back events and gaps a previous page of this tab left unacknowledged
    /// (they were persisted); they go out before anything new.
    pub fn restore(&mut self, mut saved: Vec<Encoded>, gaps: Vec<Gap>, now: f64) -> Vec<u64> {
        sort_by_seq(&mut saved);
        for g in &gaps {
            add_gap(&mut self.gaps, 0, g.from, g.to, g.reason);
        }
        let mut dropped = Vec::new();
        let (mut any, mut last) = (false, 0);
        for e in saved {
            // Sorted: a seq saved twice is skipped here.
            if any && last == e.seq {
                continue;
            }
            (any, last) = (true, e.seq);
            self.next_seq = self.next_seq.max(e.seq + 1);
            self.bytes += e.json.len();
            self.events.push(e);
            self.enforce_bound(&mut dropped);
        }
        if !self.events.is_empty() || !self.gaps.is_empty() {
            self.oldest_unsent_at.get_or_insert(now);
        }
        dropped
    }

    /// Its batching limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Continues at `next` at the earliest (a seq recorded elsewhere as taken).
    pub fn continue_at(&mut self, next: u64) {
        self.next_seq = self.next_seq.max(next);
    }

    /// The text of the newest event.
    pub fn last_json(&self) -> Option<&str> {
        self.events.last().map(|e| e.json.as_str())
    }

    /// Adds an event encoded with seq [`Queue::next_seq`] and takes that number.
    /// Returns the seq and the seqs dropped to stay under the bound (their
    /// persisted copies must go too; a gap record now covers them).
    pub fn push(&mut self, json: String, now: f64) -> (u64, Vec<u64>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += json.len();
        self.events.push(Encoded { seq, json });
        self.oldest_unsent_at.get_or_insert(now);
        let mut dropped = Vec::new();
        self.enforce_bound(&mut dropped);
        (seq, dropped)
    }

    /// Drops the oldest events not in flight while over the bound, adding
    /// their seqs to `dropped`.
    fn enforce_bound(&mut self, dropped: &mut Vec<u64>) {
        let (protected, frozen) = match self.in_flight {
            Some(f) => (f.events, f.gaps),
            None => (0, 0),
        };
        while self.bytes > self.limits.max_queue_bytes && self.events.len() > protected + 1 {
            let e = self.events.remove(protected);
            self.bytes -= e.json.len();
            add_gap(&mut self.gaps, frozen, e.seq, e.seq, GapReason::QueueFull);
            dropped.push(e.seq);
        }
    }

    /// Milliseconds until the next batch is due (0: now); `None` while a batch
    /// is in flight (its answer triggers the next) or nothing waits.
    pub fn due_in(&self, now: f64) -> Option<f64> {
        if self.in_flight.is_some() {
            return None;
        }
        // Nothing in flight: every event waits, and `bytes` is theirs.
        let waiting = self.events.len();
        if waiting == 0 && self.gaps.is_empty() {
            return None;
        }
        if waiting >= self.limits.max_events || self.bytes >= self.limits.max_batch_bytes {
            return Some(0.0);
        }
        // Recorded events set the time; what waits without one is what a
        // refused or failed batch left (a gap record, a split's parts): due now.
        let Some(oldest) = self.oldest_unsent_at else {
            return Some(0.0);
        };
        Some((oldest + f64::from(self.limits.flush_ms) - now).max(0.0))
    }

    /// Starts the next batch when it is due, or at once when `force`: the oldest
    /// waiting events up to the count and byte limits (at least one), plus every
    /// gap record waiting. `None` while one is in flight or nothing waits.
    pub fn next_batch(&mut self, now: f64, force: bool) -> Option<Outgoing> {
        match self.due_in(now) {
            Some(d) if d <= 0.0 || force => {}
            _ => return None,
        }
        let mut count = 0;
        let mut bytes = BODY_OVERHEAD;
        let events = if self.gaps_first && !self.gaps.is_empty() {
            &[][..]
        } else {
            &self.events[..]
        };
        for e in events {
            let size = e.json.len() + PER_EVENT_OVERHEAD;
            if count > 0
                && (count >= self.limits.max_events || bytes + size > self.limits.max_batch_bytes)
            {
                break;
            }
            count += 1;
            bytes += size;
        }
        // The collector takes at most so many records a batch; the rest go
        // with the next (a retried batch's records, unfrozen, may be more).
        let gaps = self.gaps.len().min(MAX_GAPS_PER_BATCH);
        let out = Outgoing {
            body: body(&self.head, &self.events[..count], &self.gaps[..gaps]),
            #[cfg(test)]
            seqs: (count > 0).then(|| (self.events[0].seq, self.events[count - 1].seq)),
        };
        self.in_flight = Some(Flight {
            events: count,
            gaps,
        });
        // What is left waited for this batch, not for time: a fresh interval.
        self.oldest_unsent_at = (self.events.len() > count).then_some(now);
        Some(out)
    }

    /// The batch in flight was stored: forget it. Returns the acknowledged seqs.
    pub fn ack(&mut self) -> Vec<u64> {
        let Some(f) = self.in_flight.take() else {
            return Vec::new();
        };
        self.gaps_first = false;
        let n = f.gaps.min(self.gaps.len());
        remove_gaps(&mut self.gaps, 0, n);
        let mut done = Vec::new();
        for e in &self.events[..f.events] {
            self.bytes -= e.json.len();
            done.push(e.seq);
        }
        self.events = self.events.split_off(f.events);
        done
    }

    /// The collector refused the batch for good (4xx). A batch of events and
    /// gap records is split first: the records go alone next, then the events
    /// (nothing is lost yet, and this returns nothing). Otherwise the events
    /// are lost and a gap record saying so goes out with the next batch (a
    /// refused gaps-only batch is dropped: sent again, it would be refused
    /// again). Returns the lost seqs.
    pub fn reject(&mut self) -> Vec<u64> {
        if self.in_flight.is_some_and(|f| f.events > 0 && f.gaps > 0) {
            self.in_flight = None;
            self.gaps_first = true;
            return Vec::new();
        }
        let lost = self.ack();
        if let (Some(first), Some(last)) = (lost.first(), lost.last()) {
            add_gap(&mut self.gaps, 0, *first, *last, GapReason::Rejected);
        }
        lost
    }

    /// The batch in flight failed and will be retried: it stays at the front.
    pub fn retry(&mut self) {
        self.in_flight = None;
    }

    /// Appends every unacknowledged event (in flight too) and gap record to
    /// `out` as bodies of at most `max_bytes`, for `keepalive` sends when the
    /// page goes away: the newest first, each as full as it may be (the newest
    /// events go out whole when the room for all of them runs short), the
    /// gap records (at most a batch's worth a body) with the first. The queue
    /// is unchanged: what is acknowledged later is forgotten then, the rest is
    /// still persisted for the next page.
    pub fn unload_bodies(&self, max_bytes: usize, out: &mut Vec<String>) {
        let events = &self.events;
        let mut gaps: &[Gap] = &self.gaps;
        let mut end = events.len();
        while end > 0 || !gaps.is_empty() {
            let (now, later) = gaps.split_at(gaps.len().min(MAX_GAPS_PER_BATCH));
            let mut bytes = BODY_OVERHEAD + now.len() * GAP_BYTES;
            let mut start = end;
            while start > 0 {
                let size = events[start - 1].json.len() + PER_EVENT_OVERHEAD;
                if start < end && (bytes + size > max_bytes || end - start >= MAX_EVENTS_PER_BATCH)
                {
                    break;
                }
                bytes += size;
                start -= 1;
            }
            out.push(body(&self.head, &events[start..end], now));
            gaps = later;
            end = start;
        }
    }
}

/// Shell sort by seq (Ciura's gaps): a few hundred bytes of wasm where the
/// standard library's sort brings over three kilobytes, and fast enough for the
/// few thousand events a bounded queue can hold (sorted once, on restore).
fn sort_by_seq(v: &mut [Encoded]) {
    for gap in [701, 301, 132, 57, 23, 10, 4, 1] {
        for i in gap..v.len() {
            let mut j = i;
            while j >= gap && v[j - gap].seq > v[j].seq {
                v.swap(j - gap, j);
                j -= gap;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_by_seq_sorts_any_order() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for n in [0usize, 1, 2, 5, 24, 100, 1000, 5000] {
            let mut v: Vec<Encoded> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    Encoded {
                        seq: state % 100_000,
                        json: String::new(),
                    }
                })
                .collect();
            let mut expected: Vec<u64> = v.iter().map(|e| e.seq).collect();
            expected.sort_unstable();
            sort_by_seq(&mut v);
            assert_eq!(
                v.iter().map(|e| e.seq).collect::<Vec<_>>(),
                expected,
                "n = {n}"
            );
        }
    }
    use shared::Batch;

    fn limits(max_events: usize, flush_ms: u32) -> Limits {
        Limits {
            max_events,
            max_batch_bytes: 10_000,
            flush_ms,
            max_queue_bytes: 100_000,
        }
    }

    fn ev(seq: u64) -> String {
        format!(
            r#"{{"seq":{seq},"ts":1,"mono":2,"actor":{{"kind":"customer"}},"type":"SCROLL","data":{{"x":0,"y":{seq}}}}}"#
        )
    }

    fn queue(l: Limits) -> Queue {
        Queue::new("s-1", "t:1", 0, l)
    }

    fn push(q: &mut Queue, now: f64) -> u64 {
        let seq = q.next_seq();
        q.push(ev(seq), now).0
    }

    fn parsed(o: &Outgoing) -> Batch {
        let b: Batch = serde_json::from_str(&o.body).expect("body is a valid batch");
        b.validate().expect("within limits");
        b
    }

    #[test]
    fn bodies_are_valid_batches_with_the_events_and_gaps_given() {
        let gaps = [Gap {
            from: 3,
            to: 9,
            reason: GapReason::QueueFull,
        }];
        let events = [1, 2].map(|seq| Encoded { seq, json: ev(seq) });
        let text = body(&body_head("s-1", "t:1"), &events, &gaps);
        let b: Batch = serde_json::from_str(&text).unwrap();
        assert_eq!((b.session_id.as_str(), b.tab_id.as_str()), ("s-1", "t:1"));
        assert_eq!(b.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(b.gaps, gaps);
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            text,
            "byte-identical to serde"
        );
    }

    #[test]
    fn sequence_numbers_continue_from_the_persisted_value_and_are_contiguous() {
        let mut q = Queue::new("s", "t", 42, limits(10, 1000));
        assert_eq!([push(&mut q, 0.0), push(&mut q, 0.0)], [42, 43]);
        assert_eq!(q.next_seq(), 44);
    }

    #[test]
    fn a_batch_is_due_after_the_flush_interval_or_when_full() {
        let mut q = queue(limits(3, 1000));
        assert_eq!(q.due_in(0.0), None);
        push(&mut q, 100.0);
        assert_eq!(q.due_in(600.0), Some(500.0));
        assert!(q.next_batch(600.0, false).is_none(), "not due yet");
        push(&mut q, 700.0);
        push(&mut q, 800.0);
        assert_eq!(q.due_in(800.0), Some(0.0), "full");
        let b = q.next_batch(800.0, false).unwrap();
        assert_eq!(b.seqs, Some((0, 2)));
        assert_eq!(parsed(&b).events.len(), 3);
    }

    #[test]
    fn one_batch_in_flight_at_a_time_and_an_ack_forgets_it() {
        let mut q = queue(limits(2, 0));
        for _ in 0..5 {
            push(&mut q, 0.0);
        }
        let first = q.next_batch(0.0, false).unwrap();
        assert_eq!(first.seqs, Some((0, 1)));
        assert!(
            q.next_batch(0.0, true).is_none(),
            "in flight blocks the next"
        );
        assert_eq!(q.due_in(0.0), None);
        assert_eq!(q.ack(), [0, 1]);
        assert_eq!(q.next_batch(0.0, false).unwrap().seqs, Some((2, 3)));
    }

    #[test]
    fn a_failed_batch_is_retried_with_the_same_events_first() {
        let mut q = queue(limits(2, 0));
        for _ in 0..3 {
            push(&mut q, 0.0);
        }
        let a = q.next_batch(0.0, false).unwrap();
        q.retry();
        let b = q.next_batch(0.0, false).unwrap();
        assert_eq!(a, b, "same bytes re-sent: the collector stores them once");
    }

    #[test]
    fn batches_are_cut_by_bytes_but_always_carry_one_event() {
        let mut l = limits(100, 0);
        l.max_batch_bytes = BODY_OVERHEAD + 150;
        let mut q = queue(l);
        for _ in 0..4 {
            push(&mut q, 0.0);
        }
        let b = q.next_batch(0.0, true).unwrap();
        assert_eq!(
            b.seqs,
            Some((0, 0)),
            "one event of ~100 bytes fits, two do not"
        );
        q.ack();
        l.max_batch_bytes = 1;
        q.limits = l;
        assert_eq!(q.next_batch(0.0, true).unwrap().seqs, Some((1, 1)));
    }

    #[test]
    fn fragmented_gaps_merge_without_overlapping_or_losing_a_seq() {
        let mut gaps = Vec::new();
        // Out of order, as a rejected batch can come after later drops.
        for i in (0..MAX_GAPS_PER_BATCH as u64 + 10).rev() {
            add_gap(&mut gaps, 0, i * 10, i * 10 + 2, GapReason::QueueFull);
        }
        assert_eq!(gaps.len(), MAX_GAPS_PER_BATCH);
        let batch = Batch {
            v: 1,
            session_id: shared::SessionId::parse("s").unwrap(),
            tab_id: shared::TabId::parse("t").unwrap(),
            events: vec![],
            gaps: gaps.clone(),
        };
        batch.validate().expect("no overlap, within limits");
        for i in 0..MAX_GAPS_PER_BATCH as u64 + 10 {
            for seq in i * 10..=i * 10 + 2 {
                assert!(
                    gaps.iter().any(|g| g.from <= seq && seq <= g.to),
                    "seq {seq} is in no gap: {gaps:?}"
                );
            }
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_unsent_and_reports_one_merged_gap() {
        let mut l = limits(2, 0);
        l.max_queue_bytes = ev(0).len() * 5;
        let mut q = queue(l);
        for _ in 0..3 {
            push(&mut q, 0.0);
        }
        // 0 and 1 are in flight: never dropped under the sender's feet.
        q.next_batch(0.0, false).unwrap();
        let mut dropped = Vec::new();
        for _ in 0..6 {
            let seq = q.next_seq();
            dropped.extend(q.push(ev(seq), 0.0).1);
        }
        assert_eq!(dropped, [2, 3, 4, 5]);
        assert!(q.bytes() <= l.max_queue_bytes + ev(9).len());
        assert_eq!(
            q.gaps(),
            [Gap {
                from: 2,
                to: 5,
                reason: GapReason::QueueFull
            }]
        );
        assert_eq!(q.ack(), [0, 1]);
        // The next batch carries the gap with the surviving events.
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert_eq!(b.gaps.len(), 1);
        assert_eq!(b.events.first().map(|e| e.seq), Some(6));
        q.ack();
        assert!(q.gaps().is_empty(), "an acknowledged gap is forgotten");
    }

    #[test]
    fn a_rejected_batch_becomes_a_gap_record_sent_next() {
        let mut q = queue(limits(2, 0));
        for _ in 0..3 {
            push(&mut q, 0.0);
        }
        q.next_batch(0.0, false).unwrap();
        assert_eq!(q.reject(), [0, 1]);
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert_eq!(
            b.gaps,
            [Gap {
                from: 0,
                to: 1,
                reason: GapReason::Rejected
            }]
        );
        assert_eq!(b.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
        // A gaps-only batch when nothing else waits.
        q.ack();
        q.next_batch(0.0, true);
        q.reject();
        assert!(q.is_empty());
    }

    /// Drops until the queue holds a gap record, then starts a batch carrying
    /// it (with events): `(queue, the gap in flight)`.
    fn gap_in_flight() -> (Queue, Gap) {
        let mut l = limits(2, 0);
        l.max_queue_bytes = ev(0).len() * 5;
        let mut q = queue(l);
        for _ in 0..3 {
            push(&mut q, 0.0);
        }
        q.next_batch(0.0, false).unwrap();
        for _ in 0..6 {
            let seq = q.next_seq();
            q.push(ev(seq), 0.0);
        }
        assert_eq!(q.ack(), [0, 1]);
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert_eq!(b.gaps.len(), 1, "{b:?}");
        (q, b.gaps[0].clone())
    }

    #[test]
    fn a_drop_while_a_gap_record_is_in_flight_is_reported_on_its_own() {
        let (mut q, sent) = gap_in_flight();
        // More drops right after the in-flight gap's last seq.
        let mut dropped = Vec::new();
        for _ in 0..6 {
            let seq = q.next_seq();
            dropped.extend(q.push(ev(seq), 0.0).1);
        }
        assert!(!dropped.is_empty());
        assert_eq!(q.gaps()[0], sent, "a record in flight is never changed");
        q.ack();
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        for seq in dropped {
            assert!(
                b.gaps.iter().any(|g| g.from <= seq && seq <= g.to),
                "dropped seq {seq} is in no gap: {:?}",
                b.gaps
            );
        }
    }

    #[test]
    fn a_refused_batch_with_gap_records_is_split_and_its_events_are_sent_alone() {
        let (mut q, sent) = gap_in_flight();
        let events = q.len();
        // Refused (the session may be at the collector's gap limit): nothing
        // is lost yet; the records go alone first.
        assert_eq!(q.reject(), Vec::<u64>::new());
        assert_eq!(q.len(), events);
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert!(b.events.is_empty(), "{b:?}");
        assert_eq!(b.gaps, [sent]);
        // Refused again: the records were the trouble and are dropped; the
        // events then go alone, and are stored.
        assert_eq!(q.reject(), Vec::<u64>::new());
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert!(b.gaps.is_empty(), "{b:?}");
        assert!(!b.events.is_empty());
        let stored = q.ack();
        assert_eq!(stored.len(), b.events.len());
        // Were the events refused alone, they would be lost with a gap record.
        let (mut q, _) = gap_in_flight();
        q.reject();
        q.next_batch(0.0, true).unwrap();
        q.ack();
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        let lost = q.reject();
        assert_eq!(lost, b.events.iter().map(|e| e.seq).collect::<Vec<_>>());
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert!(
            b.gaps.iter().any(|g| g.reason == GapReason::Rejected
                && g.from == lost[0]
                && g.to == *lost.last().unwrap()),
            "{:?}",
            b.gaps
        );
        b.validate().expect("no overlapping records");
    }

    #[test]
    fn restored_events_go_first_and_the_sequence_continues_after_them() {
        let mut q = Queue::new("s", "t", 3, limits(10, 0));
        let saved = vec![
            Encoded {
                seq: 1,
                json: ev(1),
            },
            Encoded {
                seq: 0,
                json: ev(0),
            },
            Encoded {
                seq: 1,
                json: ev(1),
            },
        ];
        q.restore(saved, vec![], 0.0);
        assert_eq!(push(&mut q, 0.0), 3);
        let b = parsed(&q.next_batch(0.0, true).unwrap());
        assert_eq!(
            b.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [0, 1, 3]
        );
    }

    #[test]
    fn unload_bodies_cover_everything_in_chunks_under_the_limit() {
        let mut q = queue(limits(2, 0));
        for _ in 0..30 {
            push(&mut q, 0.0);
        }
        q.next_batch(0.0, false).unwrap();
        let max = BODY_OVERHEAD + 10 * (ev(10).len() + 1);
        let mut bodies = Vec::new();
        q.unload_bodies(max, &mut bodies);
        assert!(bodies.len() >= 3);
        let mut seqs = Vec::new();
        for b in &bodies {
            assert!(b.len() <= max, "{} > {max}", b.len());
            let batch: Batch = serde_json::from_str(b).unwrap();
            seqs.extend(batch.events.iter().map(|e| e.seq));
        }
        // Newest first, each body in order and as full as the limit lets it
        // be: the newest body is a whole one, not what is left over.
        let newest: Vec<u64> = serde_json::from_str::<Batch>(&bodies[0])
            .unwrap()
            .events
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(newest, (20..30).collect::<Vec<_>>());
        seqs.sort_unstable();
        assert_eq!(seqs, (0..30).collect::<Vec<_>>(), "in flight included");
        assert_eq!(q.len(), 30, "unchanged until acknowledged");
    }

    /// A long outage with a batch out that keeps failing: each drop while it
    /// is out makes a record, and after a retry its records are waiting
    /// again beside the newer ones. No body may carry more records than the
    /// collector takes (it would refuse it, and the records with it), and in
    /// the end every dropped seq is in exactly one record that went out.
    #[test]
    fn every_dropped_seq_is_reported_once_however_fragmented() {
        let one = ev(1000).len();
        let mut q = queue(Limits {
            max_events: 50,
            max_batch_bytes: 1 << 20,
            flush_ms: 0,
            max_queue_bytes: 120 * one,
        });
        let (mut dropped, mut reported) = (Vec::new(), Vec::new());
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100 {
            push(&mut q, 0.0);
        }
        let mut some = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _round in 0..40 {
            let out = q.next_batch(0.0, true).unwrap();
            assert!(parsed(&out).gaps.len() <= MAX_GAPS_PER_BATCH);
            // A varying number of events while it is out, then it fails,
            // and more while the retry waits (the failed batch's own events
            // are the oldest then, and go first).
            for _ in 0..some(90) {
                let seq = q.next_seq();
                dropped.extend(q.push(ev(seq), 0.0).1);
            }
            // Now and then it gets through (its records and events stored)
            // while losses are fragmented, rather than failing again.
            if some(4) == 0 {
                let b = parsed(&out);
                for g in &b.gaps {
                    reported.extend(g.from..=g.to);
                }
                q.ack();
            } else {
                q.retry();
            }
            for _ in 0..some(60) {
                let seq = q.next_seq();
                dropped.extend(q.push(ev(seq), 0.0).1);
            }
        }
        // The collector is back: everything goes out and is stored.
        while let Some(out) = q.next_batch(0.0, true) {
            let b = parsed(&out);
            assert!(
                b.gaps.len() <= MAX_GAPS_PER_BATCH,
                "{} records",
                b.gaps.len()
            );
            for g in &b.gaps {
                reported.extend(g.from..=g.to);
            }
            q.ack();
        }
        assert!(dropped.len() > 200, "the bound dropped {}", dropped.len());
        reported.sort_unstable();
        let mut expected = dropped.clone();
        expected.sort_unstable();
        // Records never overlap, and they hold every dropped seq (merged
        // runs of a fragmented loss may name seqs between as well).
        let mut dedup = reported.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), reported.len(), "a seq reported twice");
        assert!(expected.iter().all(|s| reported.binary_search(s).is_ok()));
    }

    /// A record made for a seq before the last record's (a retried batch's
    /// events dropped after newer losses) joins the runs it touches.
    #[test]
    fn gap_records_merge_with_the_runs_they_touch() {
        let mut gaps = Vec::new();
        add_gap(&mut gaps, 0, 10, 10, GapReason::QueueFull);
        add_gap(&mut gaps, 0, 3, 3, GapReason::QueueFull);
        add_gap(&mut gaps, 0, 4, 4, GapReason::QueueFull);
        add_gap(&mut gaps, 0, 2, 2, GapReason::QueueFull);
        add_gap(&mut gaps, 0, 6, 9, GapReason::QueueFull);
        assert_eq!(
            gaps.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(),
            [(2, 4), (6, 10)]
        );
        add_gap(&mut gaps, 0, 5, 5, GapReason::QueueFull);
        assert_eq!(
            gaps.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(),
            [(2, 10)]
        );
        // Another reason stays a record of its own; a record in flight is
        // never changed.
        add_gap(&mut gaps, 0, 11, 11, GapReason::Rejected);
        add_gap(&mut gaps, 1, 12, 12, GapReason::Rejected);
        add_gap(&mut gaps, 2, 1, 1, GapReason::QueueFull);
        assert_eq!(
            gaps.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(),
            [(2, 10), (11, 12), (1, 1)]
        );
    }

    /// A refused batch leaves its gap record (or a split's parts) waiting
    /// with no recorded event to time them: they are due at once, not a
    /// flush interval from every look.
    #[test]
    fn what_a_refusal_leaves_is_due_at_once() {
        let mut q = queue(limits(10, 2_000));
        push(&mut q, 0.0);
        q.next_batch(5_000.0, true).unwrap();
        assert_eq!(q.reject(), [0]);
        assert_eq!(q.due_in(6_000.0), Some(0.0));
        let b = parsed(&q.next_batch(6_000.0, false).unwrap());
        assert_eq!((b.events.len(), b.gaps.len()), (0, 1));
    }

    /// A long outage leaves many gap records: each unload body carries at
    /// most a batch's worth, counted in its size, the first with the newest
    /// events.
    #[test]
    fn unload_bodies_count_their_gap_records() {
        let mut q = queue(limits(2, 0));
        for _ in 0..400 {
            push(&mut q, 0.0);
        }
        // 100 lost runs far apart: 64 sent with a batch that is then
        // retried, 36 more made while it was out.
        let far = |i: u64| 1_000 + 1_000_000_000_000 * i;
        for i in 0..64 {
            add_gap(&mut q.gaps, 0, far(i), far(i) + 1, GapReason::Unencodable);
        }
        q.next_batch(0.0, true).unwrap();
        for i in 64..100 {
            let frozen = q.in_flight.unwrap().gaps;
            add_gap(
                &mut q.gaps,
                frozen,
                far(i),
                far(i) + 1,
                GapReason::Unencodable,
            );
        }
        q.retry();
        let gaps = q.gaps.len();
        assert!(gaps > MAX_GAPS_PER_BATCH);
        let max = BODY_OVERHEAD + 50 * (ev(10).len() + 1);
        let mut bodies = Vec::new();
        q.unload_bodies(max, &mut bodies);
        let (mut seen_gaps, mut seqs) = (0, Vec::new());
        for b in &bodies {
            assert!(b.len() <= max, "{} > {max}", b.len());
            let batch: Batch = serde_json::from_str(b).unwrap();
            assert!(batch.gaps.len() <= MAX_GAPS_PER_BATCH);
            seen_gaps += batch.gaps.len();
            seqs.extend(batch.events.iter().map(|e| e.seq));
        }
        assert_eq!(seen_gaps, gaps);
        let first: Batch = serde_json::from_str(&bodies[0]).unwrap();
        assert!(!first.gaps.is_empty() && first.events.last().unwrap().seq == 399);
        assert!(bodies[0].len() <= max, "{} > {max}", bodies[0].len());
        seqs.sort_unstable();
        assert_eq!(seqs, (0..400).collect::<Vec<_>>());
    }
}
