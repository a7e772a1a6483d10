//! The stored form of an event record: pure byte splicing, no I/O.
//!
//! A record's JSON as served (and as its chain link hashes it) starts with
//! what every event of a batch repeats:
//!
//! ```text
//! {"session_id":S,"tab_id":T,"received_at":N,"origin":{"ip":…,"user_agent":…},<event fields>}
//! ```
//!
//! The session and tab are in the record's key, and the origin (client IP and
//! the whole `User-Agent`, about 150 bytes) is the same for every event a
//! browser sends. So the store keeps the origin once per session (the
//! `origins` tree, keyed by a digest of its JSON) and each event as
//!
//! ```text
//! {"received_at":N,"origin":"#<16 hex digits of the digest>",<event fields>}
//! ```
//!
//! [`expand`] gives back the exact bytes [`Compactor::compact`] was given, so the chain,
//! the API and the NDJSON export see the record as before. A record that does
//! not start as expected is kept whole, and a stored record that is not in the
//! compact form (one written before it) is served as it is.

use sha2::{Digest, Sha256};

/// Bytes of an origin digest (the first bytes of the SHA-256 of its JSON):
/// a session has a handful of origins, so 64 bits never collide by chance.
/// One worked for (about 2^32 tries of User-Agent strings) finds the digest
/// taken by other bytes, and ingest then keeps that batch's events whole
/// (`Store::insert`), so no event is ever served with another's origin.
pub const DIGEST_LEN: usize = 8;

/// An origin's digest.
pub type OriginDigest = [u8; DIGEST_LEN];

/// The digest of an origin's JSON.
pub fn origin_digest(origin_json: &[u8]) -> OriginDigest {
    let hash = Sha256::digest(origin_json);
    let mut d = [0; DIGEST_LEN];
    d.copy_from_slice(&hash[..DIGEST_LEN]);
    d
}

const COMPACT_HEAD: &[u8] = b"{\"received_at\":";
const ORIGIN_REF: &[u8] = b",\"origin\":\"#";

/// What precedes the event fields in the full form.
fn full_head(session: &str, tab: &str, received_at: i64, origin_json: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(64 + session.len() + tab.len() + origin_json.len());
    h.extend_from_slice(b"{\"session_id\":");
    // Ids are plain ASCII (shared::ids), so serde_json writes them unescaped;
    // through serde_json all the same, as the full form was written.
    h.extend_from_slice(
        serde_json::to_string(session)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.extend_from_slice(b",\"tab_id\":");
    h.extend_from_slice(serde_json::to_string(tab).unwrap_or_default().as_bytes());
    h.extend_from_slice(b",\"received_at\":");
    h.extend_from_slice(received_at.to_string().as_bytes());
    h.extend_from_slice(b",\"origin\":");
    h.extend_from_slice(origin_json);
    h
}

/// Compacts the records of one batch: a record of `session` and `tab`
/// received at `received_at` from the origin whose JSON is `origin_json`.
/// What those repeat is built once per batch, not per record.
pub struct Compactor {
    /// The full form's start, which [`Compactor::compact`] cuts off.
    full_head: Vec<u8>,
    /// What the compact form starts with instead.
    compact_head: Vec<u8>,
}

impl Compactor {
    pub fn new(session: &str, tab: &str, received_at: i64, origin_json: &[u8]) -> Self {
        let mut compact_head = COMPACT_HEAD.to_vec();
        compact_head.extend_from_slice(received_at.to_string().as_bytes());
        compact_head.extend_from_slice(ORIGIN_REF);
        compact_head.extend_from_slice(hex::encode(origin_digest(origin_json)).as_bytes());
        compact_head.push(b'"');
        Compactor {
            full_head: full_head(session, tab, received_at, origin_json),
            compact_head,
        }
    }

    /// The compact form of `full`, a record's JSON; `None` when it does not
    /// start with this batch's session, tab, time and origin (it is then
    /// stored whole).
    pub fn compact(&self, full: &[u8]) -> Option<Vec<u8>> {
        let rest = full.strip_prefix(self.full_head.as_slice())?;
        // The event fields follow (`,…}`); a record without them is kept whole.
        if !rest.starts_with(b",") {
            return None;
        }
        let mut out = Vec::with_capacity(self.compact_head.len() + rest.len());
        out.extend_from_slice(&self.compact_head);
        out.extend_from_slice(rest);
        Some(out)
    }
}

/// A stored record in the compact form, split: when it was received, its
/// origin's digest, and the event fields (`,…}`).
struct Parts<'a> {
    received_at: &'a [u8],
    digest: OriginDigest,
    rest: &'a [u8],
}

fn split(stored: &[u8]) -> Option<Parts<'_>> {
    let after = stored.strip_prefix(COMPACT_HEAD)?;
    let digits = after
        .iter()
        .enumerate()
        .take_while(|(i, b)| b.is_ascii_digit() || (*i == 0 && **b == b'-'))
        .count();
    let (received_at, after) = after.split_at(digits);
    let after = after.strip_prefix(ORIGIN_REF)?;
    let (hex_digits, after) = after.split_at_checked(DIGEST_LEN * 2)?;
    let mut digest = [0; DIGEST_LEN];
    hex::decode_to_slice(hex_digits, &mut digest).ok()?;
    let rest = after.strip_prefix(b"\"")?;
    (!received_at.is_empty() && rest.starts_with(b",")).then_some(Parts {
        received_at,
        digest,
        rest,
    })
}

/// The origin digest a stored record refers to (`None` for a whole record).
pub fn referenced_origin(stored: &[u8]) -> Option<OriginDigest> {
    split(stored).map(|p| p.digest)
}

/// The full form of a stored record of `session` and `tab`: the bytes
/// [`Compactor::compact`] was given, with the origin JSON `origin` answers for the
/// digest (`None` when it has none: the record cannot be expanded). A record
/// stored whole comes back as it is.
pub fn expand(
    stored: &[u8],
    session: &str,
    tab: &str,
    origin: impl FnOnce(&OriginDigest) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let Some(parts) = split(stored) else {
        return Some(stored.to_vec());
    };
    let origin_json = origin(&parts.digest)?;
    let received_at: i64 = std::str::from_utf8(parts.received_at).ok()?.parse().ok()?;
    let mut full = full_head(session, tab, received_at, &origin_json);
    full.extend_from_slice(parts.rest);
    Some(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use shared::api::{EventRecord, Origin};

    fn record(session: &str, tab: &str, received_at: i64, origin: Origin) -> EventRecord {
        serde_json::from_value(serde_json::json!({
            "session_id": session, "tab_id": tab, "received_at": received_at,
            "origin": origin, "seq": 3, "ts": 1_763_800_000_000i64, "mono": 12,
            "actor": {"kind": "agent", "id": "agent-7"}, "type": "INPUT",
            "data": {"target": {"tag": "input", "id": "q", "path": "input#q"}, "value": "x\"y\\z"}
        }))
        .unwrap()
    }

    fn browser() -> Origin {
        Origin {
            ip: Some("203.0.113.9".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0".into()),
        }
    }

    #[test]
    fn a_record_round_trips_byte_for_byte_and_loses_the_repeated_part() {
        let origin = browser();
        let origin_json = serde_json::to_vec(&origin).unwrap();
        let r = record(
            "c3b89d09-d745-4e0b-b8b7-394cca2b057b",
            "tab-1",
            1_763_800_000_500,
            origin,
        );
        let full = serde_json::to_vec(&r).unwrap();
        let stored = Compactor::new(r.session_id.as_str(), "tab-1", r.received_at, &origin_json)
            .compact(&full)
            .expect("a record as serde_json writes it is compacted");
        // The origin and the session id, less the 28 bytes of the reference.
        assert!(
            stored.len() + origin_json.len() + 36 <= full.len(),
            "{}",
            String::from_utf8_lossy(&stored)
        );
        let text = String::from_utf8(stored.clone()).unwrap();
        assert!(
            !text.contains("Mozilla") && !text.contains("c3b89d09"),
            "{text}"
        );
        // Still JSON, for anyone reading the store with other tools.
        serde_json::from_slice::<serde_json::Value>(&stored).unwrap();
        let digest = referenced_origin(&stored).unwrap();
        assert_eq!(digest, origin_digest(&origin_json));
        let back = expand(&stored, r.session_id.as_str(), "tab-1", |d| {
            (*d == digest).then(|| origin_json.clone())
        });
        assert_eq!(back.as_deref(), Some(full.as_slice()));
        // Without its origin the record cannot be expanded.
        assert_eq!(
            expand(&stored, r.session_id.as_str(), "tab-1", |_| None),
            None
        );
    }

    #[test]
    fn records_not_written_as_expected_are_kept_and_served_whole() {
        let origin_json = serde_json::to_vec(&browser()).unwrap();
        let full = serde_json::to_vec(&record("s", "t", 5, browser())).unwrap();
        // Another session, tab, time or origin than the key and batch say.
        assert_eq!(
            Compactor::new("s2", "t", 5, &origin_json).compact(&full),
            None
        );
        assert_eq!(
            Compactor::new("s", "t2", 5, &origin_json).compact(&full),
            None
        );
        assert_eq!(
            Compactor::new("s", "t", 6, &origin_json).compact(&full),
            None
        );
        assert_eq!(Compactor::new("s", "t", 5, b"{}").compact(&full), None);
        // A whole record (one stored before the compact form) comes back as is.
        assert_eq!(
            expand(&full, "s", "t", |_| unreachable!()).as_deref(),
            Some(full.as_slice())
        );
        assert_eq!(referenced_origin(&full), None);
        // A mangled compact head is served as stored, not misread.
        for junk in [
            &b"{\"received_at\":,\"origin\":\"#0011223344556677\",\"seq\":1}"[..],
            b"{\"received_at\":5,\"origin\":\"#00112233\",\"seq\":1}",
            b"{\"received_at\":5,\"origin\":\"#zz11223344556677\",\"seq\":1}",
            b"{\"received_at\":5,\"origin\":\"#0011223344556677\"}",
        ] {
            assert_eq!(referenced_origin(junk), None);
            assert_eq!(
                expand(junk, "s", "t", |_| unreachable!()).as_deref(),
                Some(junk)
            );
        }
    }

    proptest! {
        #[test]
        fn any_record_round_trips(
            session in "[A-Za-z0-9._:-]{1,64}",
            tab in "[A-Za-z0-9._:-]{1,64}",
            received_at in any::<i64>(),
            ip in proptest::option::of("[0-9a-f:.]{1,39}"),
            ua in proptest::option::of("\\PC{0,200}"),
        ) {
            let origin = Origin { ip, user_agent: ua };
            let origin_json = serde_json::to_vec(&origin).unwrap();
            let full = serde_json::to_vec(&record(&session, &tab, received_at, origin)).unwrap();
            let stored = Compactor::new(&session, &tab, received_at, &origin_json)
                .compact(&full)
                .unwrap();
            let back = expand(&stored, &session, &tab, |d| {
                (*d == origin_digest(&origin_json)).then(|| origin_json.clone())
            });
            prop_assert_eq!(back, Some(full));
        }
    }
}
