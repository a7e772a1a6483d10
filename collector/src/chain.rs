//! The integrity chain: pure hashing, entry encoding and verification, no I/O.
//!
//! Every record the collector stores for a session (events and recorders' gap
//! records) is appended to the session's chain at the next position `pos`
//! (0, 1, 2, ...: the order the collector stored them, not client time). The
//! link at `pos` is
//!
//! ```text
//! hash(pos) = SHA-256( DOMAIN
//!                    || pos:u64be
//!                    || len:u64be tenant || len:u64be session
//!                    || kind:u8 || len:u64be key || len:u64be record
//!                    || hash(pos - 1) )            with hash(-1) = GENESIS
//! ```
//!
//! where `key` is the record's key within its session (`tab 0x00 seq:u64be`) and
//! `record` the record's JSON (an event's as [`crate::compact::expand`] rebuilds
//! it from what the store keeps, a gap record's as stored). Every variable-length field is
//! length-prefixed, so no two different inputs encode to the same bytes.
//!
//! A tenant's activity log is chained the same way, one chain per tenant in
//! the order entries were stored: `session` empty (session ids never are),
//! `kind` 3 ([`RecordKind::Audit`]), `key` the entry's `audit` key after the
//! tenant prefix (`time:u64be seq:u64be`), `record` its JSON as stored.
//!
//! The store walks a chain and feeds each link to a [`Verifier`], which
//! reports the first position that does not check out. An unkeyed chain is
//! tamper-*evident*, not tamper-proof: someone who can rewrite the whole
//! store can recompute every hash, or cut off the tail and set the recorded
//! head back. Comparing the head against a copy kept elsewhere (an export,
//! a verify answer kept by the reader) closes that gap: a [`Pin`] is such a
//! copy, the length and head the chain had then, and the walk checks that its
//! first `length` links still end at that head, however long it grew since.

use sha2::{Digest, Sha256};

/// Length of a link hash (SHA-256).
pub const HASH_LEN: usize = 32;

/// A link hash.
pub type Hash = [u8; HASH_LEN];

/// The `prev` of the first link: nothing came before it.
pub const GENESIS: Hash = [0; HASH_LEN];

/// Separates these hashes from any other SHA-256 use, and versions the input
/// format so a future change cannot be confused with this one.
const DOMAIN: &[u8] = b"cotrail-chain/v1";

/// Which tree a chained record lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Event = 1,
    Gap = 2,
    /// An entry of a tenant's activity log (chained per tenant, with an
    /// empty session: session ids are never empty).
    Audit = 3,
}

impl RecordKind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(RecordKind::Event),
            2 => Some(RecordKind::Gap),
            3 => Some(RecordKind::Audit),
            _ => None,
        }
    }
}

/// Everything a link's hash covers besides the previous hash.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub pos: u64,
    pub tenant: &'a str,
    pub session: &'a str,
    pub kind: RecordKind,
    /// The record's key within its session (after the session prefix), or an
    /// activity-log entry's `audit` key after the tenant prefix.
    pub key: &'a [u8],
    /// The stored record bytes.
    pub record: &'a [u8],
}

fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}

/// The hash of `link` chained onto `prev`.
pub fn link_hash(link: &Link<'_>, prev: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(link.pos.to_be_bytes());
    put(&mut h, link.tenant.as_bytes());
    put(&mut h, link.session.as_bytes());
    h.update([link.kind as u8]);
    put(&mut h, link.key);
    put(&mut h, link.record);
    h.update(prev);
    h.finalize().into()
}

/// A chain entry as stored: `hash(32) kind(1) key`.
pub fn encode_entry(hash: &Hash, kind: RecordKind, key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HASH_LEN + 1 + key.len());
    v.extend_from_slice(hash);
    v.push(kind as u8);
    v.extend_from_slice(key);
    v
}

/// A decoded chain entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub hash: Hash,
    pub kind: RecordKind,
    pub key: &'a [u8],
}

pub fn decode_entry(v: &[u8]) -> Option<Entry<'_>> {
    let hash: Hash = v.get(..HASH_LEN)?.try_into().ok()?;
    let kind = RecordKind::from_byte(*v.get(HASH_LEN)?)?;
    Some(Entry {
        hash,
        kind,
        key: &v[HASH_LEN + 1..],
    })
}

/// The first link that does not check out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub pos: u64,
    pub reason: String,
}

/// A chain that checked out: its length and head hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub length: u64,
    pub head: Hash,
}

/// A chain's length and head as recorded outside the store (an earlier
/// verify's answer, an export's last line): the chain must still hold at
/// least `length` links, and its first `length` must end at `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub length: u64,
    pub head: Hash,
}

/// Walks a chain (a session's, or a tenant's activity log) in position order and stops at the first break.
pub struct Verifier<'a> {
    tenant: &'a str,
    session: &'a str,
    next: u64,
    prev: Hash,
    pin: Option<Pin>,
    /// The hash after the pin's `length` links, once walked past.
    at_pin: Option<Hash>,
}

impl<'a> Verifier<'a> {
    pub fn new(tenant: &'a str, session: &'a str) -> Self {
        Verifier {
            tenant,
            session,
            next: 0,
            prev: GENESIS,
            pin: None,
            at_pin: None,
        }
    }

    /// Also checks the chain against `pin` (see [`Verifier::finish`]).
    pub fn with_pin(mut self, pin: Option<Pin>) -> Self {
        self.pin = pin;
        self
    }

    /// The position the next entry must have.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Checks the entry stored at `pos` against the record it points at
    /// (`None` when that record is missing). Entries must come in key order.
    pub fn push(&mut self, pos: u64, entry: &[u8], record: Option<&[u8]>) -> Result<(), Broken> {
        let broken = |pos, reason: String| Err(Broken { pos, reason });
        if pos != self.next {
            // Positions are dense: a jump means links were removed.
            return broken(
                self.next,
                format!(
                    "chain entry {} is missing (the next stored entry is {pos})",
                    self.next
                ),
            );
        }
        let Some(entry) = decode_entry(entry) else {
            return broken(pos, format!("chain entry {pos} is corrupt"));
        };
        let Some(record) = record else {
            return broken(
                pos,
                format!("the record chained at {pos} is missing from the store"),
            );
        };
        let link = Link {
            pos,
            tenant: self.tenant,
            session: self.session,
            kind: entry.kind,
            key: entry.key,
            record,
        };
        if link_hash(&link, &self.prev) != entry.hash {
            return broken(
                pos,
                format!("the record chained at {pos} does not match its hash (edited, moved or reordered)"),
            );
        }
        self.prev = entry.hash;
        self.next += 1;
        if self.pin.is_some_and(|p| p.length == self.next) {
            self.at_pin = Some(self.prev);
        }
        Ok(())
    }

    /// Compares the walked chain with the head the session state recorded and
    /// with the number of records stored (a session's, or a tenant's activity log).
    pub fn finish(
        self,
        head_length: u64,
        head: &Hash,
        stored_records: u64,
    ) -> Result<Verified, Broken> {
        let length = self.next;
        if length < head_length {
            return Err(Broken {
                pos: length,
                reason: format!(
                    "the chain ends after {length} records but its recorded head says {head_length} (truncated)"
                ),
            });
        }
        if length > head_length {
            return Err(Broken {
                pos: head_length,
                reason: format!(
                    "the chain has {length} records but its recorded head says {head_length} (records added)"
                ),
            });
        }
        if &self.prev != head {
            return Err(Broken {
                pos: length.saturating_sub(1),
                reason: "the last link does not match its recorded head".into(),
            });
        }
        if stored_records != length {
            return Err(Broken {
                pos: length,
                reason: format!(
                    "the store holds {stored_records} records but the chain covers {length}"
                ),
            });
        }
        // Consistent with itself, but is it still the chain that was pinned?
        // Both checks catch what the recorded head cannot: a tail cut off with
        // the head set back, or a chain recomputed after an edit.
        if let Some(pin) = self.pin {
            if length < pin.length {
                return Err(Broken {
                    pos: length,
                    reason: format!(
                        "the chain holds {length} records, fewer than the {} it held when pinned (its end was cut off)",
                        pin.length
                    ),
                });
            }
            let at_pin = if pin.length == 0 {
                Some(GENESIS)
            } else {
                self.at_pin
            };
            if at_pin != Some(pin.head) {
                return Err(Broken {
                    pos: pin.length.saturating_sub(1),
                    reason: format!(
                        "the chain's first {} records end at another head than the one pinned: a record at or before position {} was changed after the pin, and the chain recomputed",
                        pin.length,
                        pin.length.saturating_sub(1)
                    ),
                });
            }
        }
        Ok(Verified {
            length,
            head: self.prev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(position, stored entry, the record it points at)`, as the store reads them.
    type Stored = (u64, Vec<u8>, Option<Vec<u8>>);
    /// `(encoded entry, record)`.
    type Entries = (Vec<u8>, Vec<u8>);

    /// A chain of `records` as the store would build it: `(entry, record)` pairs.
    fn build(records: &[&[u8]]) -> (Vec<Entries>, Hash) {
        let mut prev = GENESIS;
        let mut out = Vec::new();
        for (pos, rec) in records.iter().enumerate() {
            let key = (pos as u64).to_be_bytes();
            let link = Link {
                pos: pos as u64,
                tenant: "acme",
                session: "s",
                kind: RecordKind::Event,
                key: &key,
                record: rec,
            };
            prev = link_hash(&link, &prev);
            out.push((encode_entry(&prev, RecordKind::Event, &key), rec.to_vec()));
        }
        (out, prev)
    }

    fn verify(
        links: &[Stored],
        head_len: u64,
        head: &Hash,
        stored: u64,
    ) -> Result<Verified, Broken> {
        let mut v = Verifier::new("acme", "s");
        for (pos, e, r) in links {
            v.push(*pos, e, r.as_deref())?;
        }
        v.finish(head_len, head, stored)
    }

    fn intact(recs: &[&[u8]]) -> (Vec<Stored>, Hash) {
        let (chain, head) = build(recs);
        let links = chain
            .into_iter()
            .enumerate()
            .map(|(i, (e, r))| (i as u64, e, Some(r)))
            .collect();
        (links, head)
    }

    #[test]
    fn an_intact_chain_verifies_with_its_length_and_head() {
        let (links, head) = intact(&[b"a", b"b", b"c"]);
        assert_eq!(
            verify(&links, 3, &head, 3),
            Ok(Verified { length: 3, head })
        );
        assert_eq!(
            verify(&[], 0, &GENESIS, 0),
            Ok(Verified {
                length: 0,
                head: GENESIS
            })
        );
    }

    #[test]
    fn length_prefixes_keep_field_boundaries_unambiguous() {
        let a = Link {
            pos: 0,
            tenant: "ab",
            session: "c",
            kind: RecordKind::Event,
            key: b"k",
            record: b"r",
        };
        let b = Link {
            tenant: "a",
            session: "bc",
            ..a
        };
        assert_ne!(link_hash(&a, &GENESIS), link_hash(&b, &GENESIS));
        let c = Link {
            key: b"kr",
            record: b"",
            ..a
        };
        assert_ne!(link_hash(&a, &GENESIS), link_hash(&c, &GENESIS));
        let d = Link {
            kind: RecordKind::Gap,
            ..a
        };
        assert_ne!(link_hash(&a, &GENESIS), link_hash(&d, &GENESIS));
    }

    #[test]
    fn an_edited_record_breaks_at_its_position() {
        let (mut links, head) = intact(&[b"a", b"b", b"c"]);
        links[1].2 = Some(b"B".to_vec());
        assert_eq!(verify(&links, 3, &head, 3).unwrap_err().pos, 1);
    }

    #[test]
    fn a_missing_record_or_link_breaks_at_its_position() {
        let (mut links, head) = intact(&[b"a", b"b", b"c"]);
        links[1].2 = None;
        assert_eq!(verify(&links, 3, &head, 2).unwrap_err().pos, 1);
        let (mut links, head) = intact(&[b"a", b"b", b"c"]);
        links.remove(1);
        assert_eq!(verify(&links, 3, &head, 2).unwrap_err().pos, 1);
    }

    #[test]
    fn swapped_records_break_at_the_first_of_them() {
        let (mut links, head) = intact(&[b"a", b"b", b"c", b"d"]);
        let (e1, e2) = (links[1].1.clone(), links[2].1.clone());
        links[1].1 = e2;
        links[2].1 = e1;
        let (r1, r2) = (links[1].2.clone(), links[2].2.clone());
        links[1].2 = r2;
        links[2].2 = r1;
        assert_eq!(verify(&links, 4, &head, 4).unwrap_err().pos, 1);
    }

    #[test]
    fn a_truncated_tail_breaks_where_the_chain_ends() {
        let (mut links, head) = intact(&[b"a", b"b", b"c"]);
        links.truncate(1);
        let err = verify(&links, 3, &head, 1).unwrap_err();
        assert_eq!(err.pos, 1);
        assert!(err.reason.contains("truncated"), "{}", err.reason);
    }

    #[test]
    fn records_outside_the_chain_are_reported() {
        let (links, head) = intact(&[b"a", b"b"]);
        assert_eq!(verify(&links, 2, &head, 3).unwrap_err().pos, 2);
        // A link appended past the head.
        let (links3, _) = intact(&[b"a", b"b", b"c"]);
        assert_eq!(verify(&links3, 2, &head, 3).unwrap_err().pos, 2);
    }

    #[test]
    fn a_head_that_disagrees_breaks_at_the_last_link() {
        let (links, _) = intact(&[b"a", b"b"]);
        assert_eq!(verify(&links, 2, &[7; 32], 2).unwrap_err().pos, 1);
    }

    fn pinned(links: &[Stored], head: &Hash, pin: Pin) -> Result<Verified, Broken> {
        let mut v = Verifier::new("acme", "s").with_pin(Some(pin));
        for (pos, e, r) in links {
            v.push(*pos, e, r.as_deref())?;
        }
        v.finish(links.len() as u64, head, links.len() as u64)
    }

    #[test]
    fn a_pinned_chain_must_still_hold_the_pinned_links() {
        // Pinned at 2 records; the chain grew to 4 since: still valid.
        let (two, head2) = intact(&[b"a", b"b"]);
        let (four, head4) = intact(&[b"a", b"b", b"c", b"d"]);
        let pin = Pin {
            length: 2,
            head: head2,
        };
        assert_eq!(pinned(&four, &head4, pin).unwrap().length, 4);
        assert_eq!(pinned(&two, &head2, pin).unwrap().head, head2);
        // The end cut off and the head set back to an earlier link: consistent
        // in itself, short of the pin.
        let (one, head1) = intact(&[b"a"]);
        assert!(verify(&one, 1, &head1, 1).is_ok());
        let b = pinned(&one, &head1, pin).unwrap_err();
        assert_eq!(b.pos, 1);
        assert!(b.reason.contains("fewer than the 2"), "{}", b.reason);
        // A record before the pin edited and every hash recomputed: consistent
        // in itself, another head at the pin.
        let (forged, forged_head) = intact(&[b"a", b"B", b"c", b"d"]);
        assert!(verify(&forged, 4, &forged_head, 4).is_ok());
        let b = pinned(&forged, &forged_head, pin).unwrap_err();
        assert_eq!(b.pos, 1);
        assert!(b.reason.contains("first 2 records"), "{}", b.reason);
        // A record after the pin edited and recomputed is beyond what it vouches for.
        let (later, later_head) = intact(&[b"a", b"b", b"C", b"d"]);
        assert!(pinned(&later, &later_head, pin).is_ok());
        // Pinned when empty: any chain holds it.
        let empty = Pin {
            length: 0,
            head: GENESIS,
        };
        assert!(pinned(&four, &head4, empty).is_ok());
        let wrong = Pin {
            length: 0,
            head: [1; 32],
        };
        assert_eq!(pinned(&four, &head4, wrong).unwrap_err().pos, 0);
        // A chain broken in itself reports that first.
        let mut broken = four.clone();
        broken[2].2 = Some(b"x".to_vec());
        assert!(pinned(&broken, &head4, pin)
            .unwrap_err()
            .reason
            .contains("does not match its hash"));
    }

    #[test]
    fn entries_round_trip_and_garbage_is_refused() {
        let e = encode_entry(&[9; 32], RecordKind::Gap, b"tab\0key");
        assert_eq!(
            decode_entry(&e),
            Some(Entry {
                hash: [9; 32],
                kind: RecordKind::Gap,
                key: b"tab\0key"
            })
        );
        assert_eq!(decode_entry(&e[..20]), None);
        let mut bad = e.clone();
        bad[32] = 7;
        assert_eq!(decode_entry(&bad), None);
    }
}
