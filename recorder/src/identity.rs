//! Who this tab is: session id, tab id and the next sequence number, kept in
//! `sessionStorage` so a reload or full navigation in the same tab continues the
//! same session and the same contiguous sequence. A duplicated tab inherits a
//! copy of `sessionStorage`; it notices that another live page owns the tab id
//! (see `storage::owned_elsewhere`) and takes a new one.
//!
//! [`resume`] is the pure decision; the rest reads and writes the storage, which
//! may be missing or throw (sandboxed iframes, privacy modes): then the ids live
//! for this page only.

#[allow(unused_imports)]
use crate::prelude::*;
use shared::{SessionId, TabId};

pub const SESSION_KEY: &str = "cotrail.session";
pub const TAB_KEY: &str = "cotrail.tab";
/// Where a tab's next sequence number was kept before it was kept per
/// session and tab: moved once to the [`seq_key`] of the session and tab
/// stored beside it, so a tab mid-session when the recorder is upgraded
/// goes on with its count.
pub const SEQ_KEY: &str = "cotrail.seq";

/// `cotrail.seq|<session>|<tab>`: the next sequence number of this tab in
/// that session. Per session, since a tab may record several (an agent's tab
/// opening one customer's session, then another's, then the first again)
/// and each goes on from its own count; per tab id, since same-origin frames
/// of a page share its `sessionStorage` and may hold other tab ids.
pub fn seq_key(session: &str, tab: &str) -> String {
    crate::text::concat(&["cotrail.seq|", session, "|", tab])
}
/// `cotrail.page|<tab>`: the page of this tab (a page id) that last took the
/// tab id: a page back from the back/forward cache tells the tab's own later
/// pages, which went on with its id, from a duplicate's (see
/// `Core::returned`). Per tab id, since same-origin frames of a page share
/// its `sessionStorage` and may hold other tab ids.
pub fn page_key(tab: &str) -> String {
    crate::text::concat(&["cotrail.page|", tab])
}

/// The tab's identity for this page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub session_id: SessionId,
    pub tab_id: TabId,
    pub next_seq: u64,
}

/// What `sessionStorage` held from an earlier page of this tab.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub session: Option<String>,
    pub tab: Option<String>,
}

/// Decides the identity. The page's session id wins; otherwise the stored one
/// is resumed; otherwise one is generated. The stored tab id is kept unless
/// another live page owns it (`taken`: this page is a duplicated tab). The
/// sequence goes on from the tab's count in that session (`count`, read
/// from [`seq_key`]), also when the tab recorded another session in
/// between; a new tab id starts at 0. So `(session, tab, seq)` never repeats.
/// `generate` gives valid ids (the page's, [`uuid_from_bytes`], always does:
/// a native test parses it for any bytes), so an id it gives is not checked
/// for a fallback of its own.
pub fn resume(
    page_session: Option<SessionId>,
    stored: Stored,
    taken: impl Fn(&str) -> bool,
    generate: impl Fn() -> String,
    count: impl Fn(&str, &str) -> Option<u64>,
) -> Identity {
    let session_id = match (page_session, stored.session.map(SessionId::parse)) {
        (Some(s), _) | (None, Some(Ok(s))) => s,
        _ => SessionId::parse(generate()).unwrap_or_else(|_| unreachable!()),
    };
    let (tab_id, next_seq) = match stored.tab.map(TabId::parse) {
        Some(Ok(t)) if !taken(t.as_str()) => {
            let next = count(session_id.as_str(), t.as_str()).unwrap_or(0);
            (t, next)
        }
        _ => (
            TabId::parse(generate()).unwrap_or_else(|_| unreachable!()),
            0,
        ),
    };
    Identity {
        session_id,
        tab_id,
        next_seq,
    }
}

/// Formats 16 random bytes as an RFC 4122 version-4 UUID.
pub fn uuid_from_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    crate::text::uuid(&b)
}

mod web {
    use super::*;
    use web_sys::Storage;

    fn storage() -> Option<Storage> {
        let window = crate::global::window()?;
        crate::global::get_object(&window, &crate::global::js_str!("sessionStorage"))
    }

    pub fn get(key: &str) -> Option<String> {
        crate::storage::item(&storage()?, key)
    }

    /// Whether it was stored (quota or security errors: the value lives for
    /// this page only).
    pub fn set(key: &str, value: &str) -> bool {
        storage().is_some_and(|s| crate::storage::set(&s, key, value))
    }

    pub fn remove(key: &str) {
        if let Some(s) = storage() {
            crate::storage::remove(&s, key);
        }
    }

    /// A fresh random id (UUID v4).
    pub fn generate() -> String {
        let crypto = crate::global::window().and_then(|w| {
            crate::global::get_object::<web_sys::Crypto>(&w, &crate::global::js_str!("crypto"))
        });
        // `getRandomValues` is in every browser that runs wasm, in every
        // context (`randomUUID` only in secure ones, so it is not used).
        // `Math.random` stands in only where `crypto` is missing altogether.
        let mut b = [0u8; 16];
        if crypto.is_none_or(|c| c.get_random_values_with_u8_array(&mut b).is_err()) {
            for x in &mut b {
                *x = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        uuid_from_bytes(b)
    }

    /// Resolves and stores the identity of this tab.
    pub fn load(page_session: Option<SessionId>, taken: impl Fn(&str) -> bool) -> Identity {
        let stored = Stored {
            session: get(SESSION_KEY),
            tab: get(TAB_KEY),
        };
        // A count an earlier version kept under the single key (a page of
        // that version may still have counted on after a page of this one:
        // the higher count stands).
        if let (Some(session), Some(tab), Some(older)) =
            (&stored.session, &stored.tab, get(SEQ_KEY))
        {
            let newer = stored_seq(session, tab);
            // Nothing to move when the old count does not parse or is no
            // higher than the one kept per session and tab (`Option`'s
            // order: `None` lowest).
            let kept = crate::num::parse_u64(&older) <= newer;
            if kept || set(&seq_key(session, tab), &older) {
                remove(SEQ_KEY);
            }
        }
        let id = resume(page_session, stored, taken, generate, stored_seq);
        set(SESSION_KEY, id.session_id.as_str());
        set(TAB_KEY, id.tab_id.as_str());
        store_seq(id.session_id.as_str(), id.tab_id.as_str(), id.next_seq);
        id
    }

    /// The tab's stored next sequence number in `session` (where the pages
    /// shown since left it; other sessions' pages keep counts of their own).
    /// The ids are this page's again.
    pub fn reclaim(session: &str, tab: &str) -> Option<u64> {
        let next = stored_seq(session, tab);
        set(SESSION_KEY, session);
        set(TAB_KEY, tab);
        next
    }

    /// The next sequence number stored for `tab` in `session` (its
    /// [`seq_key`]), if one is there and parses: one reader for every caller.
    fn stored_seq(session: &str, tab: &str) -> Option<u64> {
        get(&seq_key(session, tab))
            .as_deref()
            .and_then(crate::num::parse_u64)
    }

    /// Persists the next sequence number: a later page of the tab must not reuse
    /// numbers, which the collector would drop as duplicates. Called when saved
    /// events are removed (their keys recorded their seqs until then; see
    /// `storage`) and per event only when events cannot be saved.
    /// False only when storing failed (quota): without `sessionStorage` a
    /// reload gets a new tab, so no number can be reused.
    pub fn store_seq(session: &str, tab: &str, next: u64) -> bool {
        storage().is_none() || set(&seq_key(session, tab), &crate::text::int(next))
    }
}

pub use web::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn gen() -> String {
        "11111111-2222-4333-8444-555555555555".into()
    }

    fn free(_: &str) -> bool {
        false
    }

    /// No count kept for any session and tab.
    fn none(_: &str, _: &str) -> Option<u64> {
        None
    }

    #[test]
    fn a_duplicated_tab_keeps_the_session_but_takes_a_new_tab_and_restarts_at_zero() {
        let stored = Stored {
            session: Some("s1".into()),
            tab: Some("t1".into()),
        };
        let count = |_: &str, _: &str| Some(42);
        let id = resume(None, stored, |t| t == "t1", gen, count);
        assert_eq!(
            (id.session_id.as_str(), id.tab_id.as_str(), id.next_seq),
            ("s1", gen().as_str(), 0)
        );
    }

    #[test]
    fn a_first_page_generates_session_and_tab_and_starts_at_zero() {
        let id = resume(None, Stored::default(), free, gen, none);
        assert_eq!(id.session_id.as_str(), gen());
        assert_eq!(id.tab_id.as_str(), gen());
        assert_eq!(id.next_seq, 0);
    }

    #[test]
    fn a_reload_resumes_session_tab_and_sequence() {
        let stored = Stored {
            session: Some("s1".into()),
            tab: Some("t1".into()),
        };
        let count = |s: &str, t: &str| (s, t).eq(&("s1", "t1")).then_some(42);
        let id = resume(None, stored.clone(), free, gen, count);
        assert_eq!(
            (id.session_id.as_str(), id.tab_id.as_str(), id.next_seq),
            ("s1", "t1", 42)
        );
        // The page naming the same session changes nothing.
        let id = resume(
            Some(SessionId::parse("s1").unwrap()),
            stored,
            free,
            gen,
            count,
        );
        assert_eq!(id.next_seq, 42);
    }

    #[test]
    fn a_new_session_in_the_same_tab_restarts_the_sequence() {
        let stored = Stored {
            session: Some("s1".into()),
            tab: Some("t1".into()),
        };
        let id = resume(
            Some(SessionId::parse("s2").unwrap()),
            stored,
            free,
            gen,
            none,
        );
        assert_eq!(
            (id.session_id.as_str(), id.tab_id.as_str(), id.next_seq),
            ("s2", "t1", 0)
        );
    }

    /// An agent's tab opens session s1, then s2, then s1 again: s1 goes on
    /// from its own count (from 0 it would repeat seqs the collector holds,
    /// and it refuses them as conflicts).
    #[test]
    fn a_session_the_tab_comes_back_to_goes_on_from_its_own_count() {
        let stored = Stored {
            session: Some("s2".into()),
            tab: Some("t1".into()),
        };
        let counts = |s: &str, t: &str| match (s, t) {
            ("s1", "t1") => Some(42),
            ("s2", "t1") => Some(5),
            _ => None,
        };
        let s1 = Some(SessionId::parse("s1").unwrap());
        let id = resume(s1.clone(), stored.clone(), free, gen, counts);
        assert_eq!((id.tab_id.as_str(), id.next_seq), ("t1", 42));
        let id = resume(None, stored.clone(), free, gen, counts);
        assert_eq!((id.session_id.as_str(), id.next_seq), ("s2", 5));
        // A count of another tab id (a frame's, or the tab this one was
        // duplicated from) is not this tab's.
        let id = resume(s1, stored, |t| t == "t1", gen, counts);
        assert_eq!((id.tab_id.as_str(), id.next_seq), (gen().as_str(), 0));
    }

    #[test]
    fn garbage_in_storage_is_ignored() {
        let stored = Stored {
            session: Some("bad id".into()),
            tab: Some("".into()),
        };
        let id = resume(None, stored, free, gen, none);
        assert_eq!(id.next_seq, 0);
        assert_eq!(id.tab_id.as_str(), gen());
    }

    /// What `resume` takes for granted of the page's generator.
    #[test]
    fn every_generated_uuid_is_a_valid_session_and_tab_id() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut bytes = [[0u8; 16], [0xff; 16]].to_vec();
        for _ in 0..1000 {
            bytes.push(core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            }));
        }
        for b in bytes {
            let id = uuid_from_bytes(b);
            assert!(SessionId::parse(id.as_str()).is_ok(), "{id}");
            assert!(TabId::parse(id.as_str()).is_ok(), "{id}");
        }
    }

    #[test]
    fn uuids_have_version_and_variant_bits() {
        let u = uuid_from_bytes([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
