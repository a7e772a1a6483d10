//! Gap accounting (pure, no I/O): which sequence numbers of a tab the stored
//! gap records already report lost, and what a new gap record adds to them.
//!
//! A recorder re-sends a gap record whose acknowledgement it did not get, and
//! may widen one before re-sending it; a forger may send the same loss again
//! and again. Either way a sequence number is reported lost once: the store
//! keeps each tab's covered numbers as sorted, disjoint, merged ranges and
//! stores of a new gap only the parts no earlier record covers.

/// Sequence numbers `from..=to` (inclusive).
pub type Range = (u64, u64);

/// Most gap records one session may store. A recorder merges its lost runs
/// (at most [`shared::limits::MAX_GAPS_PER_BATCH`] in its queue, each widened
/// while an outage lasts), so a real session has a handful; the limit bounds
/// what a holder of a public site key can make the collector keep and answer
/// on `/gaps` (about 150 KB), and keeps a session's lost-event count below
/// 2^53, exact in JSON numbers (1,000 × 2^32 per tab reported at most).
pub const MAX_GAP_RECORDS_PER_SESSION: u64 = 1_000;

/// The parts of `from..=to` that no range of `covered` (sorted, disjoint)
/// covers, in order.
pub fn uncovered(covered: &[Range], from: u64, to: u64) -> Vec<Range> {
    let mut out = Vec::new();
    let mut start = from;
    for &(a, b) in covered {
        if b < start {
            continue;
        }
        if a > to {
            break;
        }
        if a > start {
            out.push((start, a - 1));
        }
        if b >= to {
            return out;
        }
        start = b + 1;
    }
    out.push((start, to));
    out
}

/// Adds `from..=to` to `covered`, keeping it sorted, disjoint and merged
/// (ranges that overlap or touch become one).
pub fn cover(covered: &mut Vec<Range>, from: u64, to: u64) {
    let (mut lo, mut hi) = (from, to);
    let mut out = Vec::with_capacity(covered.len() + 1);
    let mut placed = false;
    for &(a, b) in covered.iter() {
        if b.saturating_add(1) < lo {
            out.push((a, b));
        } else if a > hi.saturating_add(1) {
            if !placed {
                out.push((lo, hi));
                placed = true;
            }
            out.push((a, b));
        } else {
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    if !placed {
        out.push((lo, hi));
    }
    *covered = out;
}

/// What `covered` (sorted, disjoint, merged) leaves out of `0..=` its highest
/// number, in order: for a tab's stored events and gap records, the sequence
/// numbers nothing explains (a tab numbers its events from 0 and never skips
/// one without a gap record saying so).
pub fn holes(covered: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    let mut next = 0u64;
    for &(a, b) in covered {
        if a > next {
            out.push((next, a - 1));
        }
        match b.checked_add(1) {
            Some(n) => next = n,
            None => break,
        }
    }
    out
}

/// Adds `seq` to `covered` when it is past every range there (numbers read
/// in ascending order, as a tab's event keys are): extends the last range
/// when it touches it, O(1).
pub fn push_ascending(covered: &mut Vec<Range>, seq: u64) {
    match covered.last_mut() {
        Some(last) if last.1.checked_add(1) == Some(seq) => last.1 = seq,
        Some(last) if last.1 >= seq => cover(covered, seq, seq),
        _ => covered.push((seq, seq)),
    }
}

/// The stored form of a tab's covered ranges: `from:u64be to:u64be` each.
pub fn encode(covered: &[Range]) -> Vec<u8> {
    let mut out = Vec::with_capacity(covered.len() * 16);
    for &(a, b) in covered {
        out.extend_from_slice(&a.to_be_bytes());
        out.extend_from_slice(&b.to_be_bytes());
    }
    out
}

/// Reads [`encode`]'s form back; `None` when the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<Vec<Range>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(16)
            .map(|c| {
                let (a, b) = c.split_at(8);
                (
                    u64::from_be_bytes(a.try_into().expect("8 bytes")),
                    u64::from_be_bytes(b.try_into().expect("8 bytes")),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_gap_is_stored_only_where_nothing_covers_it_yet() {
        let covered = vec![(10, 19), (30, 39)];
        assert_eq!(uncovered(&covered, 0, 5), vec![(0, 5)]);
        assert_eq!(uncovered(&covered, 12, 15), vec![]);
        assert_eq!(uncovered(&covered, 10, 19), vec![]);
        // Re-sent widened: only the widening is new.
        assert_eq!(uncovered(&covered, 10, 25), vec![(20, 25)]);
        assert_eq!(uncovered(&covered, 0, 50), vec![(0, 9), (20, 29), (40, 50)]);
        assert_eq!(uncovered(&[], 7, 7), vec![(7, 7)]);
    }

    #[test]
    fn the_ends_of_the_number_line_neither_wrap_nor_panic() {
        let mut covered = vec![(u64::MAX - 1, u64::MAX)];
        assert_eq!(
            uncovered(&covered, u64::MAX - 3, u64::MAX),
            vec![(u64::MAX - 3, u64::MAX - 2)]
        );
        cover(&mut covered, u64::MAX - 3, u64::MAX - 2);
        assert_eq!(covered, vec![(u64::MAX - 3, u64::MAX)]);
        cover(&mut covered, 0, 0);
        assert_eq!(covered, vec![(0, 0), (u64::MAX - 3, u64::MAX)]);
        assert_eq!(uncovered(&covered, 0, u64::MAX), vec![(1, u64::MAX - 4)]);
        cover(&mut covered, 1, u64::MAX - 4);
        assert_eq!(covered, vec![(0, u64::MAX)]);
    }

    #[test]
    fn stored_ranges_read_back_and_garbage_does_not() {
        let covered = vec![(0, 3), (9, u64::MAX)];
        assert_eq!(decode(&encode(&covered)), Some(covered));
        assert_eq!(decode(&[]), Some(vec![]));
        assert_eq!(decode(&[1, 2, 3]), None);
    }

    #[test]
    fn holes_are_what_nothing_covers_below_the_highest_number() {
        assert_eq!(holes(&[]), vec![]);
        assert_eq!(holes(&[(0, 9)]), vec![]);
        assert_eq!(holes(&[(3, 4)]), vec![(0, 2)]);
        assert_eq!(holes(&[(0, 1), (5, 5), (7, 9)]), vec![(2, 4), (6, 6)]);
        assert_eq!(holes(&[(0, u64::MAX)]), vec![]);
        assert_eq!(holes(&[(2, u64::MAX)]), vec![(0, 1)]);
        let mut c = Vec::new();
        for s in [0, 1, 2, 5, 6, 9] {
            push_ascending(&mut c, s);
        }
        assert_eq!(c, vec![(0, 2), (5, 6), (9, 9)]);
        // Out of order or repeated: still merged.
        push_ascending(&mut c, 3);
        push_ascending(&mut c, 9);
        assert_eq!(c, vec![(0, 3), (5, 6), (9, 9)]);
        push_ascending(&mut c, u64::MAX);
        assert_eq!(holes(&c), vec![(4, 4), (7, 8), (10, u64::MAX - 1)]);
    }

    /// A tab's numbers `0..64` as bits: the model the ranges must agree with.
    fn bits(ranges: &[Range]) -> u64 {
        ranges
            .iter()
            .flat_map(|&(a, b)| a..=b)
            .fold(0, |m, s| m | 1 << s)
    }

    proptest! {
        #[test]
        fn covering_agrees_with_a_set_of_numbers(
            gaps in proptest::collection::vec((0u64..64, 0u64..8), 0..20)
        ) {
            let mut covered: Vec<Range> = Vec::new();
            let mut model = 0u64;
            for (from, width) in gaps {
                let to = (from + width).min(63);
                let new = uncovered(&covered, from, to);
                let asked = bits(&[(from, to)]);
                // The new parts are exactly what was asked and not yet covered,
                // in order and apart.
                prop_assert_eq!(bits(&new), asked & !model);
                prop_assert!(new.windows(2).all(|w| w[0].1 + 1 < w[1].0));
                cover(&mut covered, from, to);
                model |= asked;
                prop_assert_eq!(bits(&covered), model);
                // Sorted, disjoint and merged: no two ranges touch.
                prop_assert!(covered.iter().all(|r| r.0 <= r.1));
                prop_assert!(covered.windows(2).all(|w| w[0].1 + 1 < w[1].0));
            }
        }

        #[test]
        fn holes_and_ascending_pushes_agree_with_a_set_of_numbers(
            seqs in proptest::collection::vec(0u64..64, 0..40)
        ) {
            let mut covered: Vec<Range> = Vec::new();
            let mut model = 0u64;
            for s in seqs {
                push_ascending(&mut covered, s);
                model |= 1 << s;
                prop_assert_eq!(bits(&covered), model);
                prop_assert!(covered.windows(2).all(|w| w[0].1 + 1 < w[1].0));
            }
            // Below the highest number, the holes are exactly what is not covered.
            let below = if model == 0 { 0 } else { u64::MAX >> model.leading_zeros() };
            prop_assert_eq!(bits(&holes(&covered)), below & !model);
        }
    }
}
