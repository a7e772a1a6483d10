//! The store: the only module that knows sled.
//!
//! One tree per keyspace, never one per session:
//!
//! | tree       | key (after `tenant 0x00`)                        | value                     |
//! |------------|--------------------------------------------------|---------------------------|
//! | `events`   | `session 0x00 tab 0x00 seq:u64be`                | `EventRecord` as JSON     |
//! | `timeline` | `session 0x00 ts:u64be tab 0x00 seq:u64be`       | `[type, actor]` (2 bytes) |
//! | `sessions` | `session`                                        | `SessionState` as JSON    |
//! | `gaps`     | `session 0x00 tab 0x00 from:u64be`               | `GapRecord` as JSON       |
//! | `meta`     | `probe` (no tenant prefix)                       | time of the last readiness probe |
//!
//! Every key starts with the tenant id and `0x00`, so one tenant's data is a
//! contiguous range no query of another tenant can reach.
//!
//! `events` is each session's stream ordered by tab and sequence; a key that
//! exists makes a re-sent event a no-op (idempotency). `timeline` orders a
//! session's events by client time across tabs, which is how a reviewer reads a
//! trail, and carries type and actor so filtered scans skip without decoding.
//! Ids cannot contain `0x00` (see `shared::ids`), so the separator keeps every
//! session's and tab's keys a contiguous, prefix-free range. Integers are
//! big-endian so that byte order is numeric order; `ts` is offset by 2^63 so that
//! negative times sort first.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use shared::api::{EventRecord, GapRecord, IngestAck, Origin, SessionSummary};
use shared::{EventData, EventType, SessionId, TabId, TenantId};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

/// Prefix of every key of one tenant, in every tree.
pub fn tenant_prefix(tenant: &TenantId) -> Vec<u8> {
    let mut k = tenant.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

/// Key of a session in the `sessions` tree.
pub fn session_key(tenant: &TenantId, session: &SessionId) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    k.extend_from_slice(session.as_str().as_bytes());
    k
}

/// Prefix shared by every key of one session, in `events`, `timeline`, `gaps`.
pub fn session_prefix(tenant: &TenantId, session: &SessionId) -> Vec<u8> {
    let mut k = session_key(tenant, session);
    k.push(0);
    k
}

/// Key of one event in the `events` tree.
pub fn event_key(tenant: &TenantId, session: &SessionId, tab: &TabId, seq: u64) -> Vec<u8> {
    let mut k = session_prefix(tenant, session);
    k.extend_from_slice(tab.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Maps an `i64` time onto `u64` so that big-endian bytes sort numerically.
fn ts_sortable(ts: i64) -> u64 {
    (ts as u64) ^ (1 << 63)
}

/// The part of a `timeline` key after the session prefix.
pub fn timeline_suffix(ts: i64, tab: &TabId, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(tab.as_str().len() + 17);
    k.extend_from_slice(&ts_sortable(ts).to_be_bytes());
    k.extend_from_slice(tab.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Splits a timeline suffix back into `(tab, seq)`.
fn parse_timeline_suffix(suffix: &[u8]) -> Option<(TabId, u64)> {
    let rest = suffix.get(8..)?;
    let sep = rest.iter().position(|b| *b == 0)?;
    let tab = TabId::parse(std::str::from_utf8(&rest[..sep]).ok()?).ok()?;
    let seq = u64::from_be_bytes(rest.get(sep + 1..)?.try_into().ok()?);
    Some((tab, seq))
}

fn type_code(t: EventType) -> u8 {
    EventType::ALL.iter().position(|x| *x == t).unwrap_or(0) as u8
}

const ACTOR_KINDS: [&str; 3] = ["customer", "agent", "script"];

fn actor_code(kind: &str) -> u8 {
    ACTOR_KINDS.iter().position(|x| *x == kind).unwrap_or(0) as u8
}

/// What the `sessions` tree keeps per session: the summary agents see plus the
/// sets it is derived from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionState {
    first_seen: i64,
    last_seen: i64,
    event_count: u64,
    tabs: BTreeSet<String>,
    actors: BTreeSet<String>,
    origin: Origin,
    last_url: Option<String>,
    /// Events reported lost through gap records.
    #[serde(default)]
    lost_events: u64,
    /// Client time of the page change `last_url` came from, so a late re-sent
    /// batch does not overwrite a newer page.
    last_url_ts: i64,
    /// Page changes recorded (pages visited, SPA views included).
    #[serde(default)]
    page_changes: u64,
    /// Distinct URLs visited, for search; the first [`MAX_URLS_PER_SESSION`].
    #[serde(default)]
    urls: BTreeSet<String>,
}

/// Distinct URLs a session summary keeps for search. Enough for any real
/// support session; a page generating endless URLs cannot grow the summary.
pub const MAX_URLS_PER_SESSION: usize = 100;

impl SessionState {
    fn summary(&self, session_id: SessionId) -> SessionSummary {
        SessionSummary {
            session_id,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            event_count: self.event_count,
            tabs: self.tabs.len() as u64,
            actors: self.actors.iter().cloned().collect(),
            origin: self.origin.clone(),
            lost_events: self.lost_events,
            page_changes: self.page_changes,
            last_url: self.last_url.clone(),
        }
    }
}

/// Which sessions a listing returns.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only sessions active at some time within `[from, to]` (ms, collector time).
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// `Some(true)`: only sessions an agent took part in; `Some(false)`: only
    /// sessions without one.
    pub agent: Option<bool>,
    /// Case-insensitive text found in the session id or a visited URL.
    pub text: Option<String>,
}

impl SessionFilter {
    fn accepts(&self, id: &SessionId, st: &SessionState) -> bool {
        if self.from.is_some_and(|from| st.last_seen < from)
            || self.to.is_some_and(|to| st.first_seen > to)
        {
            return false;
        }
        if let Some(agent) = self.agent {
            if st.actors.contains("agent") != agent {
                return false;
            }
        }
        match &self.text {
            Some(t) => {
                let t = t.to_lowercase();
                id.as_str().to_lowercase().contains(&t)
                    || st.urls.iter().any(|u| u.to_lowercase().contains(&t))
            }
            None => true,
        }
    }
}

/// Which events a scan returns.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only these types (empty: all).
    pub types: Vec<EventType>,
    /// Only these actor kinds (empty: all).
    pub actors: Vec<String>,
    /// Client time bounds, inclusive, ms since epoch.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// A page of events and the timeline position to continue from.
pub struct EventScan {
    pub events: Vec<EventRecord>,
    /// Timeline suffix of the last event examined, when more may follow.
    pub next: Option<Vec<u8>>,
}

/// The sled-backed store. Cheap to clone (sled handles are reference counted).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    events: sled::Tree,
    timeline: sled::Tree,
    sessions: sled::Tree,
    gaps: sled::Tree,
}

/// What one ingest request stores: the events and the gaps of one tab.
pub struct Ingest<'a> {
    pub tenant: &'a TenantId,
    pub session: &'a SessionId,
    pub tab: &'a TabId,
    pub received_at: i64,
    pub origin: &'a Origin,
    pub records: &'a [EventRecord],
    pub gaps: &'a [GapRecord],
}

impl SessionState {
    fn new(received_at: i64, origin: &Origin) -> Self {
        SessionState {
            first_seen: received_at,
            last_seen: received_at,
            event_count: 0,
            tabs: BTreeSet::new(),
            actors: BTreeSet::new(),
            origin: origin.clone(),
            last_url: None,
            lost_events: 0,
            last_url_ts: i64::MIN,
            page_changes: 0,
            urls: BTreeSet::new(),
        }
    }
}

impl Store {
    /// Opens (or creates) the store under `dir` with a page cache of
    /// `cache_mb` MiB.
    pub fn open(dir: &Path, cache_mb: u64) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let db = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024))
            .open()
            .with_context(|| format!("opening sled store in {}", dir.display()))?;
        Ok(Self {
            events: db.open_tree("events")?,
            timeline: db.open_tree("timeline")?,
            sessions: db.open_tree("sessions")?,
            gaps: db.open_tree("gaps")?,
            db,
        })
    }

    /// Stores the events and gaps that are not stored yet, atomically with the
    /// session summary. Blocking; does not flush (see [`Store::flush`]).
    pub fn insert(&self, batch: Ingest<'_>) -> anyhow::Result<IngestAck> {
        let Ingest {
            tenant,
            session,
            tab,
            received_at,
            origin,
            records,
            gaps,
        } = batch;
        // Encode outside the transaction: its closure may run more than once.
        let encoded: Vec<Encoded> = records
            .iter()
            .map(|r| {
                let mut tkey = session_prefix(tenant, session);
                tkey.extend(timeline_suffix(r.event.ts, tab, r.event.seq));
                Ok(Encoded {
                    ekey: event_key(tenant, session, tab, r.event.seq),
                    value: serde_json::to_vec(r)?,
                    tkey,
                    codes: [
                        type_code(r.event.event_type()),
                        actor_code(r.event.actor.kind()),
                    ],
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let encoded_gaps: Vec<(Vec<u8>, Vec<u8>)> = gaps
            .iter()
            .map(|g| {
                Ok((
                    event_key(tenant, session, tab, g.from),
                    serde_json::to_vec(g)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let skey = session_key(tenant, session);
        let skey = skey.as_slice();

        let result = (&self.events, &self.timeline, &self.sessions, &self.gaps).transaction(
            |(events, timeline, sessions, gap_tree)| {
                let mut state: SessionState = match sessions.get(skey)? {
                    Some(v) => serde_json::from_slice(&v).map_err(abort)?,
                    None => SessionState::new(received_at, origin),
                };
                let mut ack = IngestAck {
                    stored: 0,
                    duplicates: 0,
                };
                let mut changed = false;
                for (rec, enc) in records.iter().zip(&encoded) {
                    if events.get(&enc.ekey)?.is_some() {
                        ack.duplicates += 1;
                        continue;
                    }
                    events.insert(enc.ekey.as_slice(), enc.value.as_slice())?;
                    timeline.insert(enc.tkey.as_slice(), enc.codes.as_slice())?;
                    ack.stored += 1;
                    changed = true;
                    state.event_count += 1;
                    state.actors.insert(rec.event.actor.kind().to_string());
                    if let EventData::PageChange(p) = &rec.event.data {
                        state.page_changes += 1;
                        if state.urls.len() < MAX_URLS_PER_SESSION {
                            state.urls.insert(p.url.clone());
                        }
                        if rec.event.ts >= state.last_url_ts {
                            state.last_url = Some(p.url.clone());
                            state.last_url_ts = rec.event.ts;
                        }
                    }
                }
                for (gap, (key, value)) in gaps.iter().zip(&encoded_gaps) {
                    if gap_tree.get(key)?.is_some() {
                        continue;
                    }
                    gap_tree.insert(key.as_slice(), value.as_slice())?;
                    state.lost_events += gap.to - gap.from + 1;
                    changed = true;
                }
                if changed {
                    state.first_seen = state.first_seen.min(received_at);
                    state.last_seen = state.last_seen.max(received_at);
                    state.tabs.insert(tab.to_string());
                    sessions.insert(skey, serde_json::to_vec(&state).map_err(abort)?)?;
                }
                Ok(ack)
            },
        );
        match result {
            Ok(ack) => Ok(ack),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// The gaps recorders reported for a session, by tab and sequence.
    pub fn gaps(&self, tenant: &TenantId, session: &SessionId) -> anyhow::Result<Vec<GapRecord>> {
        self.gaps
            .scan_prefix(session_prefix(tenant, session))
            .map(|kv| Ok(serde_json::from_slice(&kv?.1)?))
            .collect()
    }

    /// Writes a probe record (the `meta` tree, key `probe`): proves the store
    /// takes writes. Blocking; the caller flushes to prove the disk does too.
    pub fn probe(&self) -> anyhow::Result<()> {
        self.db
            .open_tree("meta")?
            .insert("probe", &crate::routes::ingest::now_ms().to_be_bytes())?;
        Ok(())
    }

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> anyhow::Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// Makes everything inserted so far durable. Answers only after the data is
    /// on disk, which is what an ingest acknowledgement promises.
    pub async fn flush(&self) -> anyhow::Result<()> {
        self.db.flush_async().await.context("flushing the store")?;
        Ok(())
    }

    pub fn session(
        &self,
        tenant: &TenantId,
        session: &SessionId,
    ) -> anyhow::Result<Option<SessionSummary>> {
        match self.sessions.get(session_key(tenant, session))? {
            Some(v) => {
                let st: SessionState = serde_json::from_slice(&v)?;
                Ok(Some(st.summary(session.clone())))
            }
            None => Ok(None),
        }
    }

    /// A tenant's session summaries, newest activity first.
    pub fn sessions(&self, tenant: &TenantId) -> anyhow::Result<Vec<SessionSummary>> {
        self.sessions_matching(tenant, &SessionFilter::default())
    }

    /// A tenant's session summaries that pass `filter`, newest activity first.
    pub fn sessions_matching(
        &self,
        tenant: &TenantId,
        filter: &SessionFilter,
    ) -> anyhow::Result<Vec<SessionSummary>> {
        let mut out = Vec::new();
        let prefix = tenant_prefix(tenant);
        for kv in self.sessions.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let id = SessionId::parse(String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
                .context("corrupt session key")?;
            let st: SessionState = serde_json::from_slice(&v)?;
            if filter.accepts(&id, &st) {
                out.push(st.summary(id));
            }
        }
        out.sort_by(|a, b| (b.last_seen, &b.session_id).cmp(&(a.last_seen, &a.session_id)));
        Ok(out)
    }

    /// A page of one session's events in client-time order (`descending` for
    /// newest first), starting after the timeline position `after`.
    pub fn events(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        filter: &EventFilter,
        after: Option<&[u8]>,
        descending: bool,
        limit: usize,
    ) -> anyhow::Result<EventScan> {
        let prefix = session_prefix(tenant, session);
        let bound = |ts: i64| {
            let mut k = prefix.clone();
            k.extend_from_slice(&ts_sortable(ts).to_be_bytes());
            k
        };
        let lo = filter.from.map_or_else(|| prefix.clone(), bound);
        // Upper bound: just past the `to` millisecond, or past the whole session.
        let hi = match filter.to {
            Some(to) if to < i64::MAX => bound(to + 1),
            _ => {
                let mut k = session_key(tenant, session);
                k.push(1);
                k
            }
        };
        let (mut lo, mut hi) = (std::ops::Bound::Included(lo), std::ops::Bound::Excluded(hi));
        if let Some(after) = after {
            let mut k = prefix.clone();
            k.extend_from_slice(after);
            if descending {
                hi = std::ops::Bound::Excluded(k);
            } else {
                lo = std::ops::Bound::Excluded(k);
            }
        }
        let types: Vec<u8> = filter.types.iter().map(|t| type_code(*t)).collect();
        let actors: Vec<u8> = filter.actors.iter().map(|a| actor_code(a)).collect();
        let range = self.timeline.range::<Vec<u8>, _>((lo, hi));
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if descending {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };

        let mut events = Vec::new();
        let mut last = None;
        for kv in iter {
            let (k, codes) = kv?;
            let suffix = &k[prefix.len()..];
            last = Some(suffix.to_vec());
            if (!types.is_empty() && !types.contains(&codes[0]))
                || (!actors.is_empty() && !actors.contains(&codes[1]))
            {
                continue;
            }
            let (tab, seq) = parse_timeline_suffix(suffix).context("corrupt timeline key")?;
            let v = self
                .events
                .get(event_key(tenant, session, &tab, seq))?
                .context("timeline entry without its event")?;
            events.push(serde_json::from_slice(&v)?);
            if events.len() == limit {
                break;
            }
        }
        let next = if events.len() == limit { last } else { None };
        Ok(EventScan { events, next })
    }
}

/// One record's keys and values, ready for the insert transaction.
struct Encoded {
    ekey: Vec<u8>,
    value: Vec<u8>,
    tkey: Vec<u8>,
    codes: [u8; 2],
}

fn abort(e: serde_json::Error) -> ConflictableTransactionError<anyhow::Error> {
    ConflictableTransactionError::Abort(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ten() -> TenantId {
        TenantId::parse("acme").unwrap()
    }
    fn sid(s: &str) -> SessionId {
        SessionId::parse(s).unwrap()
    }
    fn tid(s: &str) -> TabId {
        TabId::parse(s).unwrap()
    }

    #[test]
    fn event_keys_sort_by_tab_then_numeric_sequence() {
        let s = sid("s");
        let mut keys = vec![
            event_key(&ten(), &s, &tid("b"), 1),
            event_key(&ten(), &s, &tid("a"), 256),
            event_key(&ten(), &s, &tid("a"), 2),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                event_key(&ten(), &s, &tid("a"), 2),
                event_key(&ten(), &s, &tid("a"), 256),
                event_key(&ten(), &s, &tid("b"), 1),
            ]
        );
    }

    #[test]
    fn a_session_prefix_never_covers_another_session() {
        // "s" must not be a prefix of "s2"'s keys.
        let k = event_key(&ten(), &sid("s2"), &tid("t"), 0);
        assert!(!k.starts_with(&session_prefix(&ten(), &sid("s"))));
        // Nor does a tenant's prefix cover another tenant's keys.
        let other = TenantId::parse("acme2").unwrap();
        assert!(!event_key(&other, &sid("s"), &tid("t"), 0).starts_with(&tenant_prefix(&ten())));
    }

    #[test]
    fn timeline_keys_sort_by_time_even_before_the_epoch() {
        let t = tid("t");
        assert!(timeline_suffix(-5, &t, 9) < timeline_suffix(3, &t, 0));
        assert!(timeline_suffix(3, &t, 0) < timeline_suffix(3, &t, 1));
        assert!(timeline_suffix(255, &t, 0) < timeline_suffix(256, &t, 0));
        assert_eq!(
            parse_timeline_suffix(&timeline_suffix(7, &t, 42)),
            Some((t, 42))
        );
    }
}
