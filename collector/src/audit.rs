//! The audit of the audit: the collector records who viewed, exported,
//! verified or deleted a session trail in the tenant's activity log, beside the
//! platform's own records (`source: "collector"`, entity `session`, the user as
//! `user_id`, actor `user`, the request's origin), and who listed or searched
//! sessions (`sessions.listed`, entity `sessions` with the search as its id).
//!
//! Routes call [`record_access`] before they answer. A deletion's entry is
//! the store's to write, in the tombstone's own transaction
//! (`Store::tombstone`): the log's check then knows a tombstone without one
//! for forged. A trail is not served when
//! its access cannot be recorded: an unaudited read is what this log exists to
//! rule out.
//!
//! Views and integrity checks of one trail by one user within
//! [`COALESCE_WINDOW`] of the last recorded one are that one entry: a review
//! screen reads a trail through several requests (table, timeline, live tail),
//! and an admin wants "ana viewed sess-9 at 10:02", not a dozen lines of it.
//! Exports and deletions are always recorded. The first page of the same list
//! or search by one user from one client is one entry for as long as it is
//! repeated within the window of the last repeat, up to [`MAX_SLIDE`] after
//! the entry: the review app's sessions list refreshes itself every 10 s
//! while it is shown, and an open list is one look at it, not an entry a
//! minute. Further pages (with a cursor) do not slide the window: a client
//! paging through every session is on record every window. The window is
//! kept in memory, so a restart can only add entries, never lose one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest};
use shared::audit::{AccessAction, AuditEntry};
use shared::{SessionId, TenantId, UserId};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::routes::ingest::{now_ms, request_origin};
use crate::store::Store;
use crate::tenants::Principal;

/// Repeated views or checks of a trail by its user from one client within
/// this time are one entry.
pub const COALESCE_WINDOW: Duration = Duration::from_secs(60);

/// How long a list's first page kept open (refreshed within the window each
/// time) stays one entry: it is on record again after this.
pub const MAX_SLIDE: Duration = Duration::from_secs(15 * 60);

/// (tenant, user, what was accessed: a session id or a list query, action,
/// the client: IP and User-Agent). A second device reading the same trail
/// with the same token is an access of its own.
type AccessKey = (TenantId, UserId, String, AccessAction, String);

/// Accesses the coalescing window remembers at most: beyond, an access is
/// recorded every time rather than the map growing without bound.
const MAX_RECENT: usize = 10_000;

/// Whether a claimed entry is on disk: `None` while it is being written,
/// then whether it was. The claiming request holds the sender.
type Written = watch::Receiver<Option<bool>>;

/// An access key's entry: when it was claimed, when the access was last
/// repeated (a list's window slides from there), and whether it is on disk.
struct Recent {
    claimed: Instant,
    seen: Instant,
    written: Written,
}

/// When each (tenant, user, session, action) was last claimed, and whether
/// that entry is on disk yet (app data).
#[derive(Default)]
pub struct RecentAccess(Mutex<HashMap<AccessKey, Recent>>);

/// What a request does about its access entry.
enum Claim {
    /// Record it, and say through the sender whether it is on disk.
    Mine(watch::Sender<Option<bool>>),
    /// Another request is recording the same access: wait until it is on disk.
    Wait(Written),
    /// Recorded within the window and on disk.
    Done,
}

impl RecentAccess {
    /// Claims the entry for `key` at `now`, unless one was recorded or is
    /// being recorded within the window (which `slides` with each repeat,
    /// up to [`MAX_SLIDE`]: a list's first page). Checked and claimed under
    /// one lock, so of concurrent requests exactly one records the entry;
    /// the others wait until it is on disk.
    fn reserve(&self, key: &AccessKey, now: Instant, slides: bool) -> Claim {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = map.get_mut(key) {
            // A claim whose request went away before its entry was written
            // (its sender dropped) claims nothing.
            let abandoned = r.written.borrow().is_none() && r.written.has_changed().is_err();
            let since = |t: Instant| now.saturating_duration_since(t);
            let within = if slides {
                since(r.seen) < COALESCE_WINDOW && since(r.claimed) < MAX_SLIDE
            } else {
                since(r.claimed) < COALESCE_WINDOW
            };
            if within && !abandoned {
                if *r.written.borrow() != Some(true) {
                    return Claim::Wait(r.written.clone());
                }
                // (A request that took the lock late must not set it back.)
                r.seen = r.seen.max(now);
                return Claim::Done;
            }
        }
        if map.len() >= MAX_RECENT {
            map.retain(|_, r| now.saturating_duration_since(r.seen) < COALESCE_WINDOW);
        }
        let (tx, rx) = watch::channel(None);
        if map.len() < MAX_RECENT {
            let recent = Recent {
                claimed: now,
                seen: now,
                written: rx,
            };
            map.insert(key.clone(), recent);
        }
        Claim::Mine(tx)
    }

    /// Gives back a claim whose entry could not be stored, so the next view
    /// is recorded (unless another request claimed the key since).
    fn release(&self, key: &AccessKey, at: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(key).is_some_and(|r| r.claimed == at) {
            map.remove(key);
        }
    }
}

/// Appends `who`'s `action` on `session` to `who`'s tenant's activity log
/// (views and checks coalesced, see the module docs).
pub async fn record_access(
    store: &Store,
    who: &Principal,
    req: &HttpRequest,
    action: AccessAction,
    session: &SessionId,
) -> Result<(), ApiError> {
    let entry = AuditEntry::access(
        who.user.clone(),
        action,
        session,
        request_origin(req),
        now_ms(),
    );
    record(store, who, req, action, session.to_string(), entry, false).await
}

/// Appends `who`'s export of a session: its format and the chain length and
/// head it covers ([`AuditEntry::export`]). Every export is an entry.
pub async fn record_export(
    store: &Store,
    who: &Principal,
    req: &HttpRequest,
    session: &SessionId,
    format: &str,
    chain: Option<(u64, String)>,
) -> Result<(), ApiError> {
    let entry = AuditEntry::export(
        who.user.clone(),
        session,
        format,
        chain,
        request_origin(req),
        now_ms(),
    );
    record(
        store,
        who,
        req,
        AccessAction::Exported,
        session.to_string(),
        entry,
        false,
    )
    .await
}

/// Appends `who`'s listing of sessions (`query`: the list's query string,
/// without paging) to the activity log, coalesced like views; a `first_page`
/// kept open (refreshed) stays one entry up to [`MAX_SLIDE`] (see the module
/// docs).
pub async fn record_listing(
    store: &Store,
    who: &Principal,
    req: &HttpRequest,
    query: &str,
    first_page: bool,
) -> Result<(), ApiError> {
    let entry = AuditEntry::listing(who.user.clone(), query, request_origin(req), now_ms());
    record(
        store,
        who,
        req,
        AccessAction::Listed,
        query.to_owned(),
        entry,
        first_page,
    )
    .await
}

async fn record(
    store: &Store,
    who: &Principal,
    req: &HttpRequest,
    action: AccessAction,
    what: String,
    entry: AuditEntry,
    slides: bool,
) -> Result<(), ApiError> {
    let coalesce = matches!(
        action,
        AccessAction::Viewed | AccessAction::Verified | AccessAction::Listed
    );
    let recent = req
        .app_data::<web::Data<RecentAccess>>()
        .filter(|_| coalesce);
    let client = format!(
        "{}\0{}",
        entry.origin.ip.as_deref().unwrap_or(""),
        entry.origin.user_agent.as_deref().unwrap_or("")
    );
    let key = (who.tenant.clone(), who.user.clone(), what, action, client);
    let now = Instant::now();
    // Reserved before the append: concurrent requests (a review screen reads
    // a trail through several at once) must not all find the window empty.
    // A request that finds the entry being written waits until it is on disk
    // (the trail is served only then), and records its own if it is not.
    let mut written = None;
    match recent.map(|r| r.reserve(&key, now, slides)) {
        Some(Claim::Done) => return Ok(()),
        Some(Claim::Wait(mut rx)) => {
            if let Ok(v) = rx.wait_for(Option::is_some).await {
                if *v == Some(true) {
                    return Ok(());
                }
            }
        }
        Some(Claim::Mine(tx)) => written = Some(tx),
        None => {}
    }
    let (store, tenant) = (store.clone(), who.tenant.clone());
    let stored = web::block(move || store.append_audit(&tenant, &entry))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("store task failed: {e}")))
        .and_then(|r| r.map_err(ApiError::Internal));
    // On disk before the trail is served: a crash right after a read must not
    // leave a read that no entry records (the group commit shares the flush
    // with concurrent batches).
    let stored = match (
        stored,
        req.app_data::<web::Data<crate::durability::GroupCommit>>(),
    ) {
        (Ok(()), Some(commit)) => commit.commit().await.map_err(ApiError::Internal),
        (stored, _) => stored,
    };
    // A failed append must not hide the next view.
    if stored.is_err() {
        if let Some(r) = recent {
            r.release(&key, now);
        }
    }
    if let Some(tx) = written {
        tx.send_replace(Some(stored.is_ok()));
    }
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AccessKey {
        (
            TenantId::parse("t").unwrap(),
            UserId::parse("ana").unwrap(),
            "sess-9".into(),
            AccessAction::Viewed,
            "203.0.113.9\0Firefox".into(),
        )
    }

    /// A trail read again is an entry a window after the last entry; a
    /// list's first page that keeps refreshing is one entry until it pauses
    /// for a window, or for at most `MAX_SLIDE`; its other pages do not
    /// slide the window.
    #[test]
    fn a_refreshing_list_is_one_entry_and_a_trail_read_again_a_window_later_is_another() {
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let done = |recent: &RecentAccess, key: &AccessKey, secs, slides| {
            matches!(recent.reserve(key, at(secs), slides), Claim::Done)
        };
        let mut listed = key();
        (listed.2, listed.3) = ("q=ana".into(), AccessAction::Listed);
        let claim = |recent: &RecentAccess, key: &AccessKey, secs, slides| {
            let Claim::Mine(tx) = recent.reserve(key, at(secs), slides) else {
                panic!("{key:?} at {secs} s is an entry");
            };
            tx.send_replace(Some(true));
        };
        for (k, slides) in [
            (key(), false),
            (listed.clone(), false),
            (listed.clone(), true),
        ] {
            let recent = RecentAccess::default();
            claim(&recent, &k, 0, slides);
            assert!(done(&recent, &k, 50, slides));
            // A trail's window (and a list page's) runs from its entry; a
            // list's first page's from its last refresh.
            assert_eq!(done(&recent, &k, 100, slides), slides, "{k:?}");
        }
        let recent = RecentAccess::default();
        claim(&recent, &listed, 0, true);
        let max = MAX_SLIDE.as_secs();
        for secs in (10..max).step_by(10) {
            assert!(done(&recent, &listed, secs, true), "refreshed at {secs} s");
        }
        // Kept open that long, it is on record again.
        claim(&recent, &listed, max, true);
        assert!(done(&recent, &listed, max + 10, true));
        // Paging on from it: each window on record, however often.
        for secs in [max + 20, max + 59] {
            assert!(done(&recent, &listed, secs, false));
        }
        claim(&recent, &listed, max + 61, false);
        // Another search, or the same one after a pause, is an entry.
        let mut other = listed.clone();
        other.2 = "q=bo".into();
        claim(&recent, &other, max + 61, true);
        claim(&recent, &listed, max + 200, true);
        // A request that took the lock late does not set the window back.
        assert!(done(&recent, &listed, max + 250, true));
        assert!(done(&recent, &listed, max + 240, true));
        assert!(done(&recent, &listed, max + 305, true));
    }

    /// Two requests reading one trail at once: the second is not served
    /// before the first's entry is on disk, and records its own entry when
    /// the first's could not be written.
    #[tokio::test]
    async fn a_coalesced_read_waits_for_the_entry_to_be_on_disk() {
        let recent = RecentAccess::default();
        let now = Instant::now();
        let Claim::Mine(first) = recent.reserve(&key(), now, false) else {
            panic!("the first request records the entry");
        };
        let Claim::Wait(mut second) = recent.reserve(&key(), now, false) else {
            panic!("the second waits for it");
        };
        let waiting = tokio::spawn(async move {
            second
                .wait_for(Option::is_some)
                .await
                .map(|v| *v == Some(true))
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "served before the entry was on disk"
        );
        first.send_replace(Some(true));
        assert_eq!(waiting.await.unwrap().ok(), Some(true));
        assert!(matches!(recent.reserve(&key(), now, false), Claim::Done));

        // A failed write: the waiter learns it, and the claim is given back.
        let recent = RecentAccess::default();
        let Claim::Mine(first) = recent.reserve(&key(), now, false) else {
            panic!("claimed");
        };
        let Claim::Wait(mut second) = recent.reserve(&key(), now, false) else {
            panic!("waits");
        };
        recent.release(&key(), now);
        first.send_replace(Some(false));
        assert_eq!(
            *second.wait_for(Option::is_some).await.unwrap(),
            Some(false)
        );
        assert!(matches!(recent.reserve(&key(), now, false), Claim::Mine(_)));

        // A request that went away before writing claims nothing.
        let recent = RecentAccess::default();
        let Claim::Mine(first) = recent.reserve(&key(), now, false) else {
            panic!("claimed");
        };
        let Claim::Wait(mut second) = recent.reserve(&key(), now, false) else {
            panic!("waits");
        };
        drop(first);
        assert!(second.wait_for(Option::is_some).await.is_err());
        assert!(matches!(recent.reserve(&key(), now, false), Claim::Mine(_)));
    }
}
