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
use shared::{SessionId, TenantId};
use tokio::sync::{broadcast, watch};

/// Messages a session's channel holds for its slowest subscriber. A live page
/// sends a batch every few seconds; a subscriber this far behind re-reads from
/// the store instead.
pub const LIVE_BUFFER: usize = 256;

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
    /// Set once the collector is stopping: every stream ends.
    closing: watch::Sender<bool>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            channels: Mutex::default(),
            subscribers: AtomicUsize::default(),
            closing: watch::channel(false).0,
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
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.live.inner.subscribers.fetch_sub(1, Ordering::Relaxed);
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, broadcast::Sender<LiveEvent>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert/remove), so poisoning is ignored.
        self.inner
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Follows a session from now on.
    pub fn subscribe(&self, tenant: &TenantId, session: &SessionId) -> Subscription {
        let key = (tenant.clone(), session.clone());
        let rx = self
            .lock()
            .entry(key.clone())
            .or_insert_with(|| broadcast::channel(LIVE_BUFFER).0)
            .subscribe();
        self.inner.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscription {
            rx,
            closing: self.inner.closing.subscribe(),
            live: self.clone(),
            key,
        }
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
        let a = live.subscribe(&t, &s);
        let b = live.subscribe(&t, &s);
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
        let before = live.subscribe(&t, &s);
        assert!(!*before.closing.borrow());
        live.close_all();
        assert!(*before.closing.borrow());
        assert!(*live.subscribe(&t, &s).closing.borrow());
    }
}
