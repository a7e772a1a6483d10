//! The pure event buffer: assigns sequence numbers, decides when a batch is due
//! and cuts batches by count and bytes.
//!
//! It never reads a clock: the caller passes `now` (milliseconds, monotonic), so
//! batching is tested natively. Sizes are estimates; the transport checks the real
//! encoded size and splits further when an estimate was too low.

use std::collections::VecDeque;

use shared::{Actor, ElementRef};

use crate::json::{Event, EventData, RawJson};

/// Most estimated bytes held unsent. A page left open through a long collector
/// outage must not grow without bound; past this the oldest events are dropped
/// (and reported as a gap) so memory stays flat.
pub const MAX_BUFFER_BYTES: usize = 2 * 1024 * 1024;

/// Largest estimated batch for a normal send: well under the collector's
/// `MAX_BODY_BYTES`, even if JSON escaping makes the real body larger.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// When and how much to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Send as soon as this many events wait (`data-batch-events`).
    pub max_events: usize,
    /// Send as soon as this many estimated bytes wait.
    pub max_bytes: usize,
    /// Send the oldest waiting event at most this long after it was recorded
    /// (`data-flush-ms`).
    pub flush_ms: u32,
    /// Bound of the whole buffer (see [`MAX_BUFFER_BYTES`]).
    pub max_buffer_bytes: usize,
}

impl BatchLimits {
    pub fn new(max_events: usize, flush_ms: u32) -> Self {
        BatchLimits {
            max_events: max_events.clamp(1, shared::limits::MAX_EVENTS_PER_BATCH),
            max_bytes: MAX_BATCH_BYTES,
            flush_ms,
            max_buffer_bytes: MAX_BUFFER_BYTES,
        }
    }
}

/// A run of sequence numbers dropped because the buffer was full (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from: u64,
    pub to: u64,
}

/// Events recorded but not yet handed to the transport.
#[derive(Debug)]
pub struct Buffer {
    next_seq: u64,
    events: VecDeque<(Event, usize)>,
    bytes: usize,
    /// When the oldest waiting event was recorded (caller's clock).
    oldest_at: Option<f64>,
    limits: BatchLimits,
}

impl Buffer {
    /// A buffer whose first event gets `next_seq` (persisted across page loads of
    /// the same tab so the sequence stays contiguous).
    pub fn new(next_seq: u64, limits: BatchLimits) -> Self {
        Buffer {
            next_seq,
            events: VecDeque::new(),
            bytes: 0,
            oldest_at: None,
            limits,
        }
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Adds an event, assigning the next sequence number. Returns the number and
    /// the gap, if making room dropped old events.
    pub fn push(
        &mut self,
        actor: Actor,
        data: EventData,
        ts: i64,
        mono: u64,
        now: f64,
    ) -> (u64, Option<Gap>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = Event {
            seq,
            ts,
            mono,
            actor,
            data,
        };
        let size = estimate_bytes(&event);
        self.events.push_back((event, size));
        self.bytes += size;
        self.oldest_at.get_or_insert(now);
        let mut gap: Option<Gap> = None;
        while self.bytes > self.limits.max_buffer_bytes && self.events.len() > 1 {
            if let Some((e, size)) = self.events.pop_front() {
                self.bytes -= size;
                gap = Some(match gap {
                    Some(g) => Gap { to: e.seq, ..g },
                    None => Gap {
                        from: e.seq,
                        to: e.seq,
                    },
                });
            }
        }
        (seq, gap)
    }

    /// Enough waits for a batch right now.
    pub fn is_full(&self) -> bool {
        self.events.len() >= self.limits.max_events || self.bytes >= self.limits.max_bytes
    }

    /// Milliseconds until the waiting events are due (0: now); `None` when empty.
    pub fn due_in(&self, now: f64) -> Option<f64> {
        if self.is_full() {
            return Some(0.0);
        }
        let oldest = self.oldest_at?;
        Some((oldest + f64::from(self.limits.flush_ms) - now).max(0.0))
    }

    /// Takes the next batch: the oldest events, up to the count and byte limits,
    /// at least one. Empty when nothing waits.
    pub fn take_batch(&mut self, now: f64) -> Vec<Event> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some((_, size)) = self.events.front() {
            if !out.is_empty()
                && (out.len() >= self.limits.max_events || bytes + size > self.limits.max_bytes)
            {
                break;
            }
            let Some((e, size)) = self.events.pop_front() else {
                break;
            };
            bytes += size;
            self.bytes -= size;
            out.push(e);
        }
        // What is left counts as recorded now: it waited for this batch, not for time.
        self.oldest_at = if self.events.is_empty() {
            None
        } else {
            Some(now)
        };
        out
    }

    /// Takes everything (page going away).
    pub fn take_all(&mut self) -> Vec<Event> {
        self.bytes = 0;
        self.oldest_at = None;
        self.events.drain(..).map(|(e, _)| e).collect()
    }
}

/// Splits events into runs whose estimated size stays under `max_bytes` and
/// count under the shared per-batch limit (a single oversized event stays alone).
pub fn chunk_by_bytes(events: Vec<Event>, max_bytes: usize) -> Vec<Vec<Event>> {
    let mut chunks: Vec<Vec<Event>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for e in events {
        let size = estimate_bytes(&e);
        if !current.is_empty()
            && (bytes + size > max_bytes || current.len() >= shared::limits::MAX_EVENTS_PER_BATCH)
        {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(e);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Fixed JSON cost of an event: keys, numbers, actor, type name, punctuation.
const EVENT_OVERHEAD: usize = 120;

fn element_bytes(e: &ElementRef) -> usize {
    40 + e.tag.len()
        + e.path.len()
        + [&e.id, &e.name, &e.label]
            .iter()
            .map(|s| s.as_ref().map_or(0, |s| s.len() + 12))
            .sum::<usize>()
}

fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, |s| s.len() + 12)
}

/// A cheap upper-ish estimate of an event's JSON size, without encoding it.
pub fn estimate_bytes(e: &Event) -> usize {
    let data = match &e.data {
        EventData::Click(d) => element_bytes(&d.target),
        EventData::Scroll(d) => 40 + d.target.as_ref().map_or(0, element_bytes),
        EventData::Form(d) => element_bytes(&d.target) + opt_len(&d.action) + opt_len(&d.method),
        EventData::Input(d) => element_bytes(&d.target) + opt_len(&d.value) + 40,
        EventData::PageChange(d) => 40 + d.url.len() + d.title.len(),
        EventData::Selection(d) => {
            opt_len(&d.text) + d.target.as_ref().map_or(0, element_bytes) + 30
        }
        EventData::Custom(d) => 30 + d.custom_type.len() + value_bytes(&d.value),
    };
    EVENT_OVERHEAD + data
}

fn value_bytes(v: &RawJson) -> usize {
    // The value is already JSON text: its length is exact.
    v.as_str().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{PageChangeData, ScrollData};

    fn scroll(y: i64) -> EventData {
        EventData::Scroll(ScrollData {
            target: None,
            x: 0,
            y,
        })
    }

    fn limits(max_events: usize, flush_ms: u32) -> BatchLimits {
        BatchLimits::new(max_events, flush_ms)
    }

    #[test]
    fn sequence_numbers_continue_from_the_persisted_value_and_are_contiguous() {
        let mut b = Buffer::new(7, limits(50, 1000));
        let seqs: Vec<u64> = (0..3)
            .map(|i| b.push(Actor::Customer, scroll(i), 0, 0, 0.0).0)
            .collect();
        assert_eq!(seqs, vec![7, 8, 9]);
        assert_eq!(b.next_seq(), 10);
        let batch = b.take_batch(0.0);
        assert_eq!(
            batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
    }

    #[test]
    fn a_batch_is_due_after_the_flush_interval_or_when_full() {
        let mut b = Buffer::new(0, limits(3, 1000));
        assert_eq!(b.due_in(0.0), None);
        b.push(Actor::Customer, scroll(1), 0, 0, 100.0);
        assert_eq!(b.due_in(600.0), Some(500.0));
        assert_eq!(b.due_in(5000.0), Some(0.0));
        b.push(Actor::Customer, scroll(2), 0, 0, 700.0);
        assert!(!b.is_full());
        b.push(Actor::Customer, scroll(3), 0, 0, 800.0);
        assert!(b.is_full());
        assert_eq!(b.due_in(800.0), Some(0.0));
    }

    #[test]
    fn batches_are_cut_by_count_and_leftovers_wait_a_fresh_interval() {
        let mut b = Buffer::new(0, limits(2, 1000));
        for i in 0..5 {
            b.push(Actor::Customer, scroll(i), 0, 0, 0.0);
        }
        assert_eq!(b.take_batch(10.0).len(), 2);
        assert_eq!(b.len(), 3);
        // Still full (3 >= 2): due at once.
        assert_eq!(b.due_in(10.0), Some(0.0));
        b.take_batch(20.0);
        assert_eq!(b.due_in(20.0), Some(1000.0));
        assert_eq!(b.take_batch(30.0).len(), 1);
        assert!(b.take_batch(30.0).is_empty());
        assert_eq!(b.due_in(30.0), None);
    }

    #[test]
    fn batches_are_cut_by_bytes_but_always_carry_one_event() {
        let mut b = Buffer::new(0, limits(50, 1000));
        b.limits.max_bytes = 1;
        b.push(Actor::Customer, scroll(1), 0, 0, 0.0);
        b.push(Actor::Customer, scroll(2), 0, 0, 0.0);
        assert_eq!(b.take_batch(0.0).len(), 1);
        assert_eq!(b.take_batch(0.0).len(), 1);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_reports_the_gap() {
        let mut b = Buffer::new(0, limits(500, 1000));
        let one = estimate_bytes(&Event {
            seq: 0,
            ts: 0,
            mono: 0,
            actor: Actor::Customer,
            data: scroll(0),
        });
        b.limits.max_buffer_bytes = one * 3;
        let mut gaps = Vec::new();
        for i in 0..6 {
            if let (_, Some(g)) = b.push(Actor::Customer, scroll(i), 0, 0, 0.0) {
                gaps.push(g);
            }
        }
        assert_eq!(
            gaps,
            vec![
                Gap { from: 0, to: 0 },
                Gap { from: 1, to: 1 },
                Gap { from: 2, to: 2 }
            ]
        );
        let left: Vec<u64> = b.take_all().iter().map(|e| e.seq).collect();
        assert_eq!(left, vec![3, 4, 5]);
    }

    #[test]
    fn chunks_respect_the_byte_bound() {
        let events: Vec<Event> = (0..100)
            .map(|i| Event {
                seq: i,
                ts: 0,
                mono: 0,
                actor: Actor::Customer,
                data: EventData::PageChange(PageChangeData {
                    url: "x".repeat(1000),
                    title: String::new(),
                    nav: shared::Navigation::Push,
                }),
            })
            .collect();
        let chunks = chunk_by_bytes(events, 10_000);
        assert!(chunks.len() > 10);
        for c in &chunks {
            assert!(c.iter().map(estimate_bytes).sum::<usize>() <= 10_000);
        }
        let seqs: Vec<u64> = chunks.iter().flatten().map(|e| e.seq).collect();
        assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    }
}
