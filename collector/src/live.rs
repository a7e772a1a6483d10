//! Live fan-out: events the ingest route stored, pushed to agents following a
//! session over Server-Sent Events.
//!
//! One bounded `tokio::sync::broadcast` channel per `(tenant, session)` that
//! somebody follows, created by the first subscriber and dropped when the last
//! one leaves; ingest publishes only after the store flushed, so a live event is
//! always one a later store read returns too. The channel is a doorbell with the
//! events attached, not the source of truth: each event carries its arrival
//! number, and a subscriber that sees a jump (it lagged and the channel dropped
//! messages, or two ingests published out of order) re-reads the missing
//! arrivals from the store. Nothing is lost; memory per session stays bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use shared::api::EventRecord;
use shared::{SessionId, TenantId, UserId};
use tokio::sync::{broadcast, watch};

/// Messages a session's channel holds for its slowest subscriber. A live page
/// sends a batch every few seconds; a subscriber this far behind re-reads from
/// the store instead.
pub const LIVE_BUFFER: usize = 256;

/// Sessions one user follows at once: a review screen follows one, a wall of
/// them a few dozen; a token looping over made-up session ids gets no more.
pub const MAX_FOLLOWS_PER_USER: usize = 32;

/// Live streams one tenant's users hold at once where the collector serves
/// several tenants: a quarter of the collector's, so one tenant (or its
/// leaked tokens) cannot take every stream from the others. A collector of
/// one tenant gives it all [`MAX_FOLLOWERS`] ([`Live::for_tenants`]).
pub const MAX_FOLLOWS_PER_TENANT: usize = 250;

/// Live streams the collector serves at once, all tenants together.
pub const MAX_FOLLOWERS: usize = 1_000;

/// Why a follow was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This user follows [`MAX_FOLLOWS_PER_USER`] sessions already.
    User,
    /// This user's tenant holds [`MAX_FOLLOWS_PER_TENANT`] streams already.
    Tenant,
    /// The collector serves [`MAX_FOLLOWERS`] streams already.
    Collector,
}

/// One stored event as the live tail sends it.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Position in the session's arrival order: the SSE `id`.
    pub arrival: u64,
    pub record: Arc<EventRecord>,
}

type Key = (TenantId, SessionId);

/// The fan-out. Cheap to clone.
#[derive(Clone, Default)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    channels: Mutex<HashMap<Key, broadcast::Sender<LiveEvent>>>,
    subscribers: AtomicUsize,
    /// Streams open per (tenant, user) and per tenant.
    per_user: Mutex<Holders>,
    /// Set once the collector is stopping: every stream ends.
    closing: watch::Sender<bool>,
    /// Streams one tenant may hold.
    per_tenant_cap: usize,
}

/// Who holds the open streams.
#[derive(Default)]
struct Holders {
    users: HashMap<(TenantId, UserId), usize>,
    tenants: HashMap<TenantId, usize>,
}

impl Holders {
    fn release(&mut self, user: &(TenantId, UserId)) {
        for n in [self.users.get_mut(user), self.tenants.get_mut(&user.0)]
            .into_iter()
            .flatten()
        {
            *n = n.saturating_sub(1);
        }
        if self.users.get(user) == Some(&0) {
            self.users.remove(user);
        }
        if self.tenants.get(&user.0) == Some(&0) {
            self.tenants.remove(&user.0);
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.tenants.is_empty()
    }
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            channels: Mutex::default(),
            subscribers: AtomicUsize::default(),
            per_user: Mutex::default(),
            closing: watch::channel(false).0,
            per_tenant_cap: MAX_FOLLOWS_PER_TENANT,
        }
    }
}

/// A live subscription; counts as a subscriber until dropped.
pub struct Subscription {
    pub rx: broadcast::Receiver<LiveEvent>,
    /// Becomes `true` when the collector stops: the stream must end.
    pub closing: watch::Receiver<bool>,
    live: Live,
    key: Key,
    user: (TenantId, UserId),
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.live.inner.subscribers.fetch_sub(1, Ordering::Relaxed);
        self.live.release_user(&self.user);
        let mut channels = self.live.lock();
        // This receiver still counts until the field is dropped after us.
        if channels
            .get(&self.key)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            channels.remove(&self.key);
        }
    }
}

impl Live {
    /// The fan-out of a collector serving `tenants` tenants: with one, the
    /// per-tenant cap is the collector's.
    pub fn for_tenants(tenants: usize) -> Self {
        let mut inner = Inner::default();
        if tenants <= 1 {
            inner.per_tenant_cap = usize::MAX;
        }
        Live {
            inner: Arc::new(inner),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, broadcast::Sender<LiveEvent>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert/remove), so poisoning is ignored.
        self.inner
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn users(&self) -> std::sync::MutexGuard<'_, Holders> {
        // As `lock`: every operation is a single update.
        self.inner
            .per_user
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn release_user(&self, user: &(TenantId, UserId)) {
        self.users().release(user);
    }

    /// `user` follows a session from now on, unless that user, its tenant or
    /// the collector already holds as many streams as it may.
    pub fn subscribe(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        user: &UserId,
    ) -> Result<Subscription, Full> {
        let user = (tenant.clone(), user.clone());
        {
            let mut holders = self.users();
            if holders.users.get(&user).copied().unwrap_or(0) >= MAX_FOLLOWS_PER_USER {
                return Err(Full::User);
            }
            if holders.tenants.get(tenant).copied().unwrap_or(0) >= self.inner.per_tenant_cap {
                return Err(Full::Tenant);
            }
            if self.inner.subscribers.fetch_add(1, Ordering::Relaxed) >= MAX_FOLLOWERS {
                self.inner.subscribers.fetch_sub(1, Ordering::Relaxed);
                return Err(Full::Collector);
            }
            *holders.users.entry(user.clone()).or_insert(0) += 1;
            *holders.tenants.entry(tenant.clone()).or_insert(0) += 1;
        }
        let key = (tenant.clone(), session.clone());
        let rx = self
            .lock()
            .entry(key.clone())
            .or_insert_with(|| broadcast::channel(LIVE_BUFFER).0)
            .subscribe();
        Ok(Subscription {
            rx,
            closing: self.inner.closing.subscribe(),
            live: self.clone(),
            key,
            user,
        })
    }

    /// Whether anybody follows this session (ingest skips building the
    /// messages otherwise).
    pub fn is_followed(&self, tenant: &TenantId, session: &SessionId) -> bool {
        self.lock().contains_key(&(tenant.clone(), session.clone()))
    }

    /// Sends stored events to the session's subscribers, in arrival order.
    pub fn publish(&self, tenant: &TenantId, session: &SessionId, events: Vec<LiveEvent>) {
        let tx = self.lock().get(&(tenant.clone(), session.clone())).cloned();
        if let Some(tx) = tx {
            for e in events {
                // An error only means every subscriber left meanwhile.
                let _ = tx.send(e);
            }
        }
    }

    /// The collector is stopping: every live stream ends (now and later ones).
    pub fn close_all(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Connected live subscribers, for metrics.
    pub fn subscribers(&self) -> usize {
        self.inner.subscribers.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_exist_only_while_somebody_follows() {
        let live = Live::default();
        let (t, s) = (
            TenantId::parse("acme").unwrap(),
            SessionId::parse("s").unwrap(),
        );
        assert!(!live.is_followed(&t, &s));
        let u = UserId::parse("ana").unwrap();
        let a = live.subscribe(&t, &s, &u).unwrap();
        let b = live.subscribe(&t, &s, &u).unwrap();
        assert_eq!(live.subscribers(), 2);
        drop(a);
        assert!(live.is_followed(&t, &s));
        drop(b);
        assert!(!live.is_followed(&t, &s));
        assert_eq!(live.subscribers(), 0);
    }

    #[test]
    fn closing_reaches_current_and_later_subscribers() {
        let live = Live::default();
        let (t, s) = (
            TenantId::parse("acme").unwrap(),
            SessionId::parse("s").unwrap(),
        );
        let u = UserId::parse("ana").unwrap();
        let before = live.subscribe(&t, &s, &u).unwrap();
        assert!(!*before.closing.borrow());
        live.close_all();
        assert!(*before.closing.borrow());
        assert!(*live.subscribe(&t, &s, &u).unwrap().closing.borrow());
    }

    /// Subscribes users `u0`, `u1` … of `tenant` to sessions until refused.
    fn fill(live: &Live, tenant: &TenantId) -> (Vec<Subscription>, Full) {
        let mut all = Vec::new();
        for u in 0.. {
            let u = UserId::parse(format!("u{u}")).unwrap();
            for i in 0..MAX_FOLLOWS_PER_USER {
                let s = SessionId::parse(format!("s-{i}")).unwrap();
                match live.subscribe(tenant, &s, &u) {
                    Ok(sub) => all.push(sub),
                    Err(e) => return (all, e),
                }
            }
        }
        unreachable!()
    }

    #[test]
    fn follows_are_capped_per_user_per_tenant_and_in_all() {
        let live = Live::default();
        let t = TenantId::parse("acme").unwrap();
        let (ana, bo) = (UserId::parse("ana").unwrap(), UserId::parse("bo").unwrap());
        let session = |i: usize| SessionId::parse(format!("s-{i}")).unwrap();
        let mut ana_subs: Vec<_> = (0..MAX_FOLLOWS_PER_USER)
            .map(|i| live.subscribe(&t, &session(i), &ana).unwrap())
            .collect();
        assert_eq!(
            live.subscribe(&t, &session(999), &ana).err(),
            Some(Full::User)
        );
        // Another user is not held back by ana's.
        let bo_sub = live.subscribe(&t, &session(999), &bo).unwrap();
        // One of ana's streams ends: ana may follow another.
        ana_subs.pop();
        ana_subs.push(live.subscribe(&t, &session(998), &ana).unwrap());
        drop(bo_sub);
        drop(ana_subs);
        assert_eq!(live.subscribers(), 0);
        assert!(live.users().is_empty());
        // One tenant's users together.
        let (acme, refused) = fill(&live, &t);
        assert_eq!(refused, Full::Tenant);
        assert_eq!(acme.len(), MAX_FOLLOWS_PER_TENANT);
        // Another tenant is not held back by acme's.
        let other = TenantId::parse("other").unwrap();
        let s0 = SessionId::parse("s-0").unwrap();
        drop(live.subscribe(&other, &s0, &ana).unwrap());
        // The collector's total, across tenants.
        let mut all = vec![acme];
        let refused = (0..)
            .find_map(|i| {
                let (subs, refused) = fill(&live, &TenantId::parse(format!("t{i}")).unwrap());
                all.push(subs);
                (refused == Full::Collector).then_some(refused)
            })
            .unwrap();
        assert_eq!(refused, Full::Collector);
        assert_eq!(all.iter().map(Vec::len).sum::<usize>(), MAX_FOLLOWERS);
        assert_eq!(live.subscribers(), MAX_FOLLOWERS);
        drop(all);
        assert_eq!(live.subscribers(), 0);
        assert!(live.users().is_empty());
    }

    #[test]
    fn a_collector_of_one_tenant_gives_it_every_stream() {
        let live = Live::for_tenants(1);
        let (all, refused) = fill(&live, &TenantId::parse("solo").unwrap());
        assert_eq!(refused, Full::Collector);
        assert_eq!(all.len(), MAX_FOLLOWERS);
        let several = Live::for_tenants(2);
        let (all, refused) = fill(&several, &TenantId::parse("a").unwrap());
        assert_eq!(refused, Full::Tenant);
        assert_eq!(all.len(), MAX_FOLLOWS_PER_TENANT);
    }
}
