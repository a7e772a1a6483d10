//! The store: the only module that knows sled.
//!
//! One tree per keyspace, never one per session:
//!
//! | tree       | key (after `tenant 0x00`)                        | value                     |
//! |------------|--------------------------------------------------|---------------------------|
//! | `events`   | `session 0x00 tab 0x00 seq:u64be`                | `EventRecord` as JSON, compacted |
//! | `origins`  | `session 0x00 digest:8`                          | `Origin` as JSON          |
//! | `timeline` | `session 0x00 ts:u64be tab 0x00 seq:u64be`       | `[type, actor]` (2 bytes) |
//! | `sessions` | `session`                                        | `SessionState` as JSON    |
//! | `activity` | `last_seen:u64be session`                        | empty                     |
//! | `gaps`     | `session 0x00 tab 0x00 from:u64be`               | `GapRecord` as JSON       |
//! | `gap_index`| `session 0x00` / `session 0x00 tab`              | gap records stored:u64be / covered ranges |
//! | `meta`     | `probe` (no tenant prefix)                       | time of the last readiness probe |
//! | `chain`    | `session 0x00 pos:u64be`                         | `hash(32) kind(1) key`    |
//! | `tombstones` | `session`                                      | `Tombstone` as JSON       |
//! | `deletions`| `deleted_at:u64be session`                       | empty                     |
//! | `purges`   | `session`                                        | empty                     |
//! | `arrivals` | `session 0x00 arrival:u64be`                     | `tab 0x00 seq:u64be`      |
//! | `audit`    | `time:u64be seq:u64be`                           | `AuditEntry` as JSON      |
//! | `audit_ids`| `record_id`                                      | the `audit` key           |
//! | `audit_chain` | `pos:u64be`                                   | `hash(32) 3 audit key`    |
//! | `audit_heads` | (the tenant prefix alone)                     | `length:u64be hash(32)`   |
//! | `checkpoints` | `session 0x00` / (the tenant prefix alone)    | `length:u64be hash(32)` last checkpointed / time of the tenant's last checkpoint |
//!
//! Every key starts with the tenant id and `0x00`, so one tenant's data is a
//! contiguous range no query of another tenant can reach.
//!
//! `events` is each session's stream ordered by tab and sequence; a key that
//! exists makes a re-sent event a no-op (idempotency). An event is stored
//! without what its key and its batch repeat (session and tab ids, the
//! request origin): the origin once per session in `origins`, referenced by
//! digest (see [`crate::compact`]). Reads, the chain and exports see the full
//! JSON, rebuilt byte for byte; records stored before are served as stored.
//! `timeline` orders a session's events by client time across tabs, which is
//! how a reviewer reads a trail, and carries type and actor so filtered scans
//! skip without decoding.
//! Ids cannot contain `0x00` (see `shared::ids`), so the separator keeps every
//! session's and tab's keys a contiguous, prefix-free range. Integers are
//! big-endian so that byte order is numeric order; `ts` is offset by 2^63 so that
//! negative times sort first.
//!
//! `activity` indexes each tenant's sessions by their last activity (the
//! collector time of the latest batch that stored something), written in the
//! same transactions that write or remove the session state, so listing the
//! most recently active sessions reads one page of keys instead of every
//! session. `deletions` indexes tombstones by deletion time the same way. A
//! store from before an index is indexed when it is opened (`meta` keys
//! `activity_index` and `deletions_index` mark them complete).
//!
//! `gap_index` keeps, per session, how many gap records it stored and, per
//! tab, the sequence numbers they cover as merged ranges (see [`crate::gaps`]):
//! a gap record is stored only for numbers no earlier one reported, and a
//! session stores at most [`MAX_GAP_RECORDS_PER_SESSION`]. It is read and
//! written in the transactions that store gap records, built from `gaps` when
//! a store from before it is opened (`meta` key `gap_index`), and purged with
//! the session.
//!
//! `chain` is each session's integrity chain (see [`crate::chain`]): one link per
//! stored event or gap record, at the position the collector stored it, pointing
//! at the record by its key within the session (`tab 0x00 seq`). It is appended
//! in the same transaction that stores the record, and the session state keeps
//! the head (length and hash) so a truncated tail shows. A deleted session keeps
//! only its `tombstones` entry; ingest refuses a tombstoned session so a late
//! re-send cannot bring deleted data back. `purges` holds the deleted sessions
//! whose records are not purged yet: written with the tombstone, removed once
//! the purge is done, so finishing interrupted deletions reads only those and
//! not every tombstone ever left (a store from before it queues all its
//! tombstones once when opened, `meta` key `purges`).
//! `arrivals` numbers each session's stored events in the order the collector
//! stored them (0, 1, 2, … per session, counted in the session state). Client
//! time is no position for a live tail to resume from: a late batch can carry old
//! timestamps. Arrival numbers only grow, so "everything after arrival n" misses
//! nothing. `audit` is the tenant activity log (platform records and the
//! collector's own access records) by occurrence time and a store-wide sequence
//! (`Db::generate_id`), so entries within one millisecond keep their order and
//! newest-first is a reverse scan; `audit_ids` makes a platform `record_id` stored
//! once per tenant.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use shared::api::{
    ChainVerification, EventRecord, GapRecord, IngestAck, Origin, SessionSummary, Tombstone,
    UnaccountedRange,
};
use shared::audit::{AccessAction, AuditEntry, PlatformRecordType};
use shared::UserId;
use shared::{EventData, EventType, SessionId, TabId, TenantId};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;

use crate::chain::{self, Hash, Link, RecordKind, Verifier};
use crate::compact;
use crate::gaps::{self as gap_ranges, MAX_GAP_RECORDS_PER_SESSION};

/// Most runs of unaccounted sequence numbers [`Store::unaccounted`] gives: a
/// real trail has none or a few; this bounds the answer for one whose
/// numbers a forger scattered.
pub const MAX_UNACCOUNTED_RANGES: usize = 1_000;

/// Keys removed per sled batch when a deleted session's records are purged:
/// bounds the memory of one batch for sessions of millions of events while
/// keeping the number of batches (each one a log write) small.
const PURGE_BATCH: usize = 10_000;

/// Prefix of every key of one tenant, in every tree.
pub fn tenant_prefix(tenant: &TenantId) -> Vec<u8> {
    let mut k = tenant.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

/// The first key past every key of a tenant: `tenant 0x01` sorts after
/// `tenant 0x00 …`.
fn tenant_end(tenant: &TenantId) -> Vec<u8> {
    let mut k = tenant.as_str().as_bytes().to_vec();
    k.push(1);
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

/// Key of a session in a time index (`activity`, `deletions`): its tenant, the
/// time, then the session, so a tenant's range in reverse is newest first
/// (ties: greater session id first).
fn time_key(tenant: &TenantId, at: i64, session: &SessionId) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    k.extend_from_slice(&ts_sortable(at).to_be_bytes());
    k.extend_from_slice(session.as_str().as_bytes());
    k
}

/// The time and session a time index key suffix (after the tenant prefix)
/// names; `None` when it is not one (a corrupt key or a forged cursor).
pub fn parse_time_suffix(suffix: &[u8]) -> Option<(i64, SessionId)> {
    let (ts, session) = suffix.split_first_chunk::<8>()?;
    let ts = (u64::from_be_bytes(*ts) ^ (1 << 63)) as i64;
    let session = SessionId::parse(std::str::from_utf8(session).ok()?.to_owned()).ok()?;
    Some((ts, session))
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

/// Whether `suffix` is a position in a session's timeline (what an events
/// page's cursor holds); `false` for anything the collector did not hand out.
pub fn is_timeline_position(suffix: &[u8]) -> bool {
    parse_timeline_suffix(suffix).is_some()
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
    /// Links in the session's integrity chain: the next record's position. Kept
    /// here, beside the chain, so a chain cut short disagrees with it.
    #[serde(default)]
    chain_len: u64,
    /// Hash of the last link ([`chain::GENESIS`] while the chain is empty).
    #[serde(default)]
    chain_head: Hash,
    /// Events stored so far in arrival order: the next event's arrival number.
    #[serde(default)]
    arrivals: u64,
    /// Client time (`ts`) of the earliest and the latest event stored.
    #[serde(default)]
    first_ts: Option<i64>,
    #[serde(default)]
    last_ts: Option<i64>,
    /// Every field above was derived from the session's first record on (the
    /// session was created by a collector that derives all of them). Sessions
    /// from before lack some; [`Store::open`] derives their summary again from
    /// their chained records, once, so verify holds every summary against them.
    #[serde(default)]
    summary_complete: bool,
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
            first_event_ts: self.first_ts,
            last_event_ts: self.last_ts,
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

/// What a walk over a time index does with an entry.
enum Step<T> {
    Take(T),
    Skip,
    /// No later entry can be taken either.
    Stop,
}

/// A page read from a time index (`activity`, `deletions`), newest first.
pub struct Page<T> {
    pub items: Vec<T>,
    /// Index key suffix of the last item returned, when more follow: where the
    /// next page starts (before it).
    pub next: Option<Vec<u8>>,
}

/// Most timeline entries one page of events skips: a filter that matches
/// little (`type=FORM` on a session of millions of clicks) must not make one
/// request walk the whole session; the client continues with the cursor.
pub const MAX_EVENT_SCAN: usize = 10_000;

/// The same for a page of sessions (a search that matches little among a
/// tenant's many sessions, which anyone with the public site key can create).
pub const MAX_SESSION_SCAN: usize = 10_000;

/// One link's record, as [`Store::chained_records`] reads it.
#[derive(Debug)]
pub struct ChainedRecord {
    pub pos: u64,
    pub kind: RecordKind,
    /// The record's JSON as its link hashed it (an event's rebuilt from its
    /// stored form); `None` when missing from the store.
    pub record: Option<Vec<u8>>,
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
    activity: sled::Tree,
    deletions: sled::Tree,
    gaps: sled::Tree,
    gap_index: sled::Tree,
    arrivals: sled::Tree,
    audit: sled::Tree,
    audit_ids: sled::Tree,
    /// Each tenant's activity log as a chain, in the order entries were
    /// stored (the `audit` tree is ordered by the time they name).
    audit_chain: sled::Tree,
    audit_heads: sled::Tree,
    /// Each session's chain length and head as last checkpointed in the
    /// activity log, and each tenant's last checkpoint time.
    checkpoints: sled::Tree,
    chain: sled::Tree,
    tombstones: sled::Tree,
    purges: sled::Tree,
    origins: sled::Tree,
    /// The first flush that failed, if one did: sled takes no writes after a
    /// failed flush until the process restarts (`/healthz` says so).
    flush_failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// What the unauthenticated operations endpoints last found, so a flood
    /// of them costs no disk work per request.
    ops: std::sync::Arc<std::sync::Mutex<OpsCache>>,
    /// Held by the readiness probe under way: probes arriving meanwhile wait
    /// for its answer instead of writing their own.
    probe_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Tenants whose activity log is being checked: one check at a time each
    /// (a check reads the whole log).
    audit_checks: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<TenantId>>>,
}

/// A running check of a tenant's activity log; the next may start once it is
/// dropped.
pub struct AuditCheck {
    running: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<TenantId>>>,
    tenant: TenantId,
}

impl Drop for AuditCheck {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.tenant);
    }
}

#[derive(Default)]
struct OpsCache {
    /// When a readiness probe last wrote and flushed.
    ready_at: Option<std::time::Instant>,
    /// The size on disk, and when it was measured.
    size: Option<(std::time::Instant, u64)>,
}

/// What [`Store::insert`] did.
#[derive(Debug)]
pub enum Inserted {
    Stored(Stored),
    /// The session was deleted: nothing was stored.
    Gone(Tombstone),
    /// Storing the batch's gap records would take the session past
    /// [`MAX_GAP_RECORDS_PER_SESSION`]: nothing was stored.
    TooManyGaps {
        stored: u64,
        new: u64,
    },
    /// The tab already has other events at these seqs: nothing was stored
    /// (a retried batch repeats its events exactly; one that does not is a
    /// recorder that reused its numbers, or a forgery, and must not be
    /// acknowledged as a duplicate and so lost).
    Conflict {
        seqs: Vec<u64>,
    },
}

/// Most records one reported gap is split into around events stored inside
/// it; past that it is stored whole (a count a little high rather than many
/// records, which the session's limit counts).
const MAX_GAP_SPLIT: usize = 8;

/// The parts of `from..=to` whose events are not stored (`stored`: sorted,
/// disjoint ranges), at most [`MAX_GAP_SPLIT`] of them.
fn lost_parts(stored: &[gap_ranges::Range], from: u64, to: u64) -> Vec<gap_ranges::Range> {
    let parts = gap_ranges::uncovered(stored, from, to);
    if parts.len() > MAX_GAP_SPLIT {
        return vec![(from, to)];
    }
    parts
}

/// Why an insert transaction was aborted with nothing stored (see
/// [`Inserted::Conflict`]).
#[derive(Debug)]
struct SeqConflict(Vec<u64>);

impl std::fmt::Display for SeqConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sequence numbers already taken by other events: {:?}",
            self.0
        )
    }
}

impl std::error::Error for SeqConflict {}

/// Why an activity-log append was aborted with nothing stored: these
/// `record_id`s are already stored with other content. A conflict must not be
/// acknowledged as a duplicate, and so lost.
#[derive(Debug)]
pub struct RecordConflict(pub Vec<String>);

impl std::fmt::Display for RecordConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record ids already stored with other content: {:?}",
            self.0
        )
    }
}

impl std::error::Error for RecordConflict {}

/// The link of an activity-log entry: `key` is its `audit` key after the
/// tenant prefix, `entry` its JSON as stored.
fn audit_link(tenant: &str, pos: u64, key: &[u8], entry: &[u8], prev: &Hash) -> Hash {
    chain::link_hash(
        &Link {
            pos,
            tenant,
            session: "",
            kind: RecordKind::Audit,
            key,
            record: entry,
        },
        prev,
    )
}

fn audit_head(len: u64, head: &Hash) -> Vec<u8> {
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(head);
    v
}

/// Sessions one `sessions.checkpointed` entry names at most (an entry of
/// 200 is at most about 34 KB, as a platform record may be).
pub const CHECKPOINT_SESSIONS_PER_ENTRY: usize = 200;

/// Sessions one checkpoint run of a tenant writes at most: a first
/// checkpoint of a large store goes on in the runs after it, from where it
/// stopped.
pub const MAX_CHECKPOINT_SESSIONS: usize = 50_000;

/// How far before the last checkpoint the next looks for sessions that
/// stored records: a batch stamped before it read may have committed after.
const CHECKPOINT_LOOK_BACK_MS: i64 = 5 * 60 * 1000;

/// What [`Store::checkpoint`] wrote, and the activity log's length and head
/// after it (what to keep outside the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub sessions: usize,
    pub entries: usize,
    pub log_length: u64,
    pub log_head: String,
}

/// The `(session, pin)`s a stored activity-log entry checkpoints: none for
/// any other entry.
fn checkpoint_pins(record: &[u8]) -> Vec<(SessionId, chain::Pin)> {
    // Most entries are not checkpoints: skip them without parsing.
    let needle = br#""sessions.checkpointed""#;
    if !record.windows(needle.len()).any(|w| w == needle) {
        return Vec::new();
    }
    let Ok(entry) = serde_json::from_slice::<AuditEntry>(record) else {
        return Vec::new();
    };
    if entry.source != shared::audit::AuditSource::Collector
        || entry.action.as_deref() != Some(AccessAction::Checkpointed.as_str())
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (id, pin) in entry.change.and_then(|c| c.after).into_iter().flatten() {
        let length = pin.get("length").and_then(|v| v.as_u64());
        let head = pin.get("head").and_then(|v| v.as_str()).and_then(|h| {
            let mut hash = [0u8; chain::HASH_LEN];
            hex::decode_to_slice(h, &mut hash).ok().map(|_| hash)
        });
        if let (Ok(session), Some(length), Some(head)) = (SessionId::parse(id), length, head) {
            out.push((session, chain::Pin { length, head }));
        }
    }
    out
}

/// A set of activity-log keys (the part after the tenant): the 16-byte keys
/// the collector writes (time and id) as numbers, any other apart.
#[derive(Default)]
struct ChainedKeys {
    usual: std::collections::HashSet<u128>,
    other: std::collections::HashSet<Vec<u8>>,
}

impl ChainedKeys {
    fn insert(&mut self, key: &[u8]) {
        match <[u8; 16]>::try_from(key) {
            Ok(k) => self.usual.insert(u128::from_be_bytes(k)),
            Err(_) => self.other.insert(key.to_vec()),
        };
    }

    fn contains(&self, key: &[u8]) -> bool {
        match <[u8; 16]>::try_from(key) {
            Ok(k) => self.usual.contains(&u128::from_be_bytes(k)),
            Err(_) => self.other.contains(key),
        }
    }
}

/// Where a trail no longer holds a pin (the position to report) and why.
type PinFault = (u64, String);

/// What a `session.deleted` entry of the collector says was deleted: the
/// session, and its tombstone's event count, chain length and head.
fn deletion_figures(record: &[u8]) -> Option<(String, (u64, u64, String))> {
    let needle = br#""session.deleted""#;
    if !record.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    let entry = serde_json::from_slice::<AuditEntry>(record).ok()?;
    if entry.source != shared::audit::AuditSource::Collector
        || entry.action.as_deref() != Some(AccessAction::Deleted.as_str())
    {
        return None;
    }
    let entity = entry.entity?;
    let before = entry.change?.before?;
    let figures = (
        before.get("event_count")?.as_u64()?,
        before.get("chain_length")?.as_u64()?,
        before.get("chain_head")?.as_str()?.to_owned(),
    );
    (entity.kind == "session").then_some((entity.id, figures))
}

fn parse_audit_head(v: &[u8]) -> Option<(u64, Hash)> {
    let len = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let head: Hash = v.get(8..8 + chain::HASH_LEN)?.try_into().ok()?;
    Some((len, head))
}

/// Whether a stored activity-log entry and an incoming one are the same
/// record: what the collector stamps is left out (the receive time, and the
/// origin unless the record gave its own, `origin_given`).
fn same_record(stored: &[u8], incoming: &AuditEntry, origin_given: bool) -> bool {
    serde_json::from_slice::<AuditEntry>(stored).is_ok_and(|mut s| {
        s.received_at = incoming.received_at;
        if !origin_given {
            s.origin = incoming.origin.clone();
        }
        s == *incoming
    })
}

/// Whether a stored event record and an incoming one hold the same event:
/// what the collector adds (receive time, origin) and what the key holds
/// (session and tab ids, left out of compact records) aside.
fn same_event(stored: &[u8], incoming: &[u8]) -> bool {
    let strip = |bytes: &[u8]| {
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
            .map(|mut m| {
                for k in ["received_at", "origin", "session_id", "tab_id"] {
                    m.remove(k);
                }
                m
            })
            .ok()
    };
    // A record that cannot be read is not proof of a conflict: it stays a
    // duplicate, as before (verify reports damaged records).
    match (strip(stored), strip(incoming)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Where a session stands.
#[derive(Debug)]
pub enum SessionStatus {
    Live(SessionSummary),
    Deleted(Tombstone),
    Unknown,
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
    /// What one stored event adds to the summary: ingest's derivation, and
    /// verify's recount of it from the chained records ([`Recount`]).
    fn count_event(&mut self, rec: &EventRecord) {
        self.event_count += 1;
        let ts = rec.event.ts;
        self.first_ts = Some(self.first_ts.map_or(ts, |t| t.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
        self.actors.insert(rec.event.actor.kind().to_string());
        if let EventData::PageChange(p) = &rec.event.data {
            self.page_changes += 1;
            if self.urls.len() < MAX_URLS_PER_SESSION {
                self.urls.insert(p.url.clone());
            }
            if ts >= self.last_url_ts {
                self.last_url = Some(p.url.clone());
                self.last_url_ts = ts;
            }
        }
    }

    /// What a stored gap record of `lost` events adds to the summary.
    fn count_lost(&mut self, lost: u64) {
        self.lost_events = self.lost_events.saturating_add(lost);
    }

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
            chain_len: 0,
            chain_head: chain::GENESIS,
            arrivals: 0,
            first_ts: None,
            last_ts: None,
            summary_complete: true,
        }
    }
}

impl Store {
    /// Opens (or creates) the store under `dir` with a page cache of
    /// `cache_mb` MiB.
    pub fn open(dir: &Path, cache_mb: u64) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let config = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024));
        // A store just closed in this process may hold its file lock a moment
        // longer (sled's background flusher lets go of it last): wait for it,
        // briefly. Another process holding it still fails, after 2 s.
        let mut waited = 0;
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if waited < 40 && e.to_string().contains("could not acquire lock") =>
                {
                    waited += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => {
                    break other
                        .with_context(|| format!("opening sled store in {}", dir.display()))?
                }
            }
        };
        let store = Self {
            flush_failed: Default::default(),
            ops: Default::default(),
            probe_gate: Default::default(),
            audit_checks: Default::default(),
            events: db.open_tree("events")?,
            timeline: db.open_tree("timeline")?,
            sessions: db.open_tree("sessions")?,
            activity: db.open_tree("activity")?,
            deletions: db.open_tree("deletions")?,
            gaps: db.open_tree("gaps")?,
            gap_index: db.open_tree("gap_index")?,
            chain: db.open_tree("chain")?,
            tombstones: db.open_tree("tombstones")?,
            purges: db.open_tree("purges")?,
            origins: db.open_tree("origins")?,
            arrivals: db.open_tree("arrivals")?,
            audit: db.open_tree("audit")?,
            audit_ids: db.open_tree("audit_ids")?,
            audit_chain: db.open_tree("audit_chain")?,
            audit_heads: db.open_tree("audit_heads")?,
            checkpoints: db.open_tree("checkpoints")?,
            db,
        };
        store.build_index(
            "activity_index",
            &store.activity,
            &store.sessions,
            |st: SessionState| st.last_seen,
        )?;
        store.build_index(
            "deletions_index",
            &store.deletions,
            &store.tombstones,
            |t: Tombstone| t.deleted_at,
        )?;
        store.build_gap_index()?;
        store.build_purges()?;
        store.build_summaries()?;
        store.build_audit_chain()?;
        store.enter_old_deletions()?;
        Ok(store)
    }

    /// Tombstones of checkpointed sessions that an earlier version wrote
    /// without their `session.deleted` entry (it appended the entry after
    /// the tombstone, so a failed append or a crash in between left none):
    /// each gets its entry now, by `collector-upgrade` with the tombstone's
    /// figures and time, and a warning names it; once (`meta` key
    /// `deletion_entries`). From then on a tombstone is written with its
    /// entry, and the log's check requires one.
    fn enter_old_deletions(&self) -> anyhow::Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get("deletion_entries")?.is_some() {
            return Ok(());
        }
        type Named = std::collections::HashSet<(TenantId, String)>;
        let (mut pinned, mut entered) = (Named::new(), Named::new());
        for kv in self.audit.iter() {
            let (k, v) = kv?;
            let (tenant, _) = split_tenant(&k)?;
            for (session, _) in checkpoint_pins(&v) {
                pinned.insert((tenant.clone(), session.to_string()));
            }
            if let Some((session, _)) = deletion_figures(&v) {
                entered.insert((tenant, session));
            }
        }
        let by = UserId::parse("collector-upgrade").expect("literal id is valid");
        for kv in self.tombstones.iter() {
            if pinned.is_empty() {
                break;
            }
            let (k, v) = kv?;
            let (tenant, session) = parse_session_key(&k)?;
            let key = (tenant, session.to_string());
            if !pinned.contains(&key) || entered.contains(&key) {
                continue;
            }
            let t: Tombstone = serde_json::from_slice(&v)?;
            let entry = AuditEntry::deletion(by.clone(), &t, Origin::default(), t.deleted_at);
            self.append_audit(&key.0, &entry)?;
            tracing::warn!(
                tenant = %key.0,
                session = %session,
                event_count = t.event_count,
                chain_length = t.chain_length,
                chain_head = %t.chain_head,
                "a deletion an earlier version left out of the activity log is entered now, by collector-upgrade"
            );
        }
        meta.insert("deletion_entries", &[])?;
        self.db.flush().context("flushing the entered deletions")?;
        Ok(())
    }

    /// Activity logs stored before they were chained: their entries are
    /// chained once, in key order (`meta` key `audit_chain`).
    fn build_audit_chain(&self) -> anyhow::Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get("audit_chain")?.is_some() {
            return Ok(());
        }
        let mut heads: std::collections::BTreeMap<Vec<u8>, (u64, Hash)> = Default::default();
        for kv in self.audit.iter() {
            let (k, v) = kv?;
            let sep = k
                .iter()
                .position(|b| *b == 0)
                .context("audit key without a tenant")?;
            let (prefix, key) = (k[..=sep].to_vec(), &k[sep + 1..]);
            let tenant = String::from_utf8_lossy(&k[..sep]).into_owned();
            let (len, prev) = heads.entry(prefix.clone()).or_insert((0, chain::GENESIS));
            let hash = audit_link(&tenant, *len, key, &v, prev);
            let mut ck = prefix;
            ck.extend_from_slice(&len.to_be_bytes());
            self.audit_chain
                .insert(ck, chain::encode_entry(&hash, RecordKind::Audit, key))?;
            *len += 1;
            *prev = hash;
        }
        for (prefix, (len, head)) in heads {
            self.audit_heads.insert(prefix, audit_head(len, &head))?;
        }
        meta.insert("audit_chain", &[])?;
        Ok(())
    }

    /// Sessions stored before every summary field was derived (fields added
    /// with `serde(default)` since, some sessions recorded across those
    /// upgrades): their summary is derived again from their chained records,
    /// once (`meta` key `summaries`). Sessions without a chain (from before it
    /// existed) verify as broken anyway and are left as they are.
    fn build_summaries(&self) -> anyhow::Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get("summaries")?.is_some() {
            return Ok(());
        }
        let mut rebuilt = 0usize;
        for kv in self.sessions.iter() {
            let (k, v) = kv?;
            let mut state: SessionState = serde_json::from_slice(&v)?;
            if state.summary_complete {
                continue;
            }
            if state.chain_len > 0 {
                let (tenant, session) = parse_session_key(&k)?;
                self.recount(&tenant, &session, state.chain_len)?
                    .apply(&mut state);
                rebuilt += 1;
            }
            state.summary_complete = true;
            self.sessions.insert(&k, serde_json::to_vec(&state)?)?;
        }
        meta.insert("summaries", &[])?;
        self.db.flush().context("flushing the rebuilt summaries")?;
        if rebuilt > 0 {
            tracing::info!(
                sessions = rebuilt,
                "derived the summaries of sessions stored before every field was"
            );
        }
        Ok(())
    }

    /// The summary a session's first `chain_len` chained records give.
    fn recount(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        chain_len: u64,
    ) -> anyhow::Result<Recount> {
        let prefix = session_prefix(tenant, session);
        let mut end = prefix.clone();
        end.extend_from_slice(&chain_len.to_be_bytes());
        let mut reader = SessionReader::new(self, tenant, session);
        let mut recount = Recount::default();
        for kv in self.chain.range(prefix..end) {
            let (_, entry) = kv?;
            let Some(e) = chain::decode_entry(&entry) else {
                continue;
            };
            let Some(record) = reader.linked_record(e.kind, e.key)? else {
                continue;
            };
            match e.kind {
                RecordKind::Event => {
                    let tab = e
                        .key
                        .split(|b| *b == 0)
                        .next()
                        .and_then(|t| std::str::from_utf8(t).ok())
                        .and_then(|t| TabId::parse(t).ok());
                    if let (Some(tab), Ok(r)) =
                        (tab, serde_json::from_slice::<EventRecord>(&record))
                    {
                        recount.event(&r, &tab);
                    }
                }
                RecordKind::Audit => {}
                RecordKind::Gap => {
                    if let Ok(g) = serde_json::from_slice::<GapRecord>(&record) {
                        recount.gap(&g);
                    }
                }
            }
        }
        Ok(recount)
    }

    /// Queues every tombstone for [`Store::finish_deletions`] in a store written
    /// before `purges` existed: any of them may still have records left. Marked
    /// `purges` in `meta` and flushed, once.
    fn build_purges(&self) -> anyhow::Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get("purges")?.is_some() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for k in self.tombstones.iter().keys() {
            batch.insert(k?, &[]);
        }
        self.purges.apply_batch(batch)?;
        meta.insert("purges", &[])?;
        self.db.flush().context("flushing the purge queue")?;
        Ok(())
    }

    /// Builds `gap_index` from `gaps` for a store written before it (or whose
    /// indexing a crash interrupted): cleared, rebuilt, marked `gap_index` in
    /// `meta` and flushed, before the store serves anything. Gap records an
    /// older collector stored overlapping are merged into one coverage.
    fn build_gap_index(&self) -> anyhow::Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get("gap_index")?.is_some() {
            return Ok(());
        }
        self.gap_index.clear()?;
        let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        let mut tabs: std::collections::BTreeMap<Vec<u8>, Vec<gap_ranges::Range>> =
            Default::default();
        for kv in self.gaps.iter() {
            let (k, v) = kv?;
            let gap: GapRecord = serde_json::from_slice(&v)?;
            // `tenant 0x00 session 0x00 tab 0x00 from:u64be`; ids hold no 0x00.
            let seps: Vec<usize> = k[..k.len().saturating_sub(8)]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == 0)
                .map(|(i, _)| i)
                .collect();
            let [_, session_end, tab_end] = seps[..] else {
                anyhow::bail!("corrupt gap key {k:?}");
            };
            *counts.entry(k[..=session_end].to_vec()).or_default() += 1;
            let covered = tabs.entry(k[..tab_end].to_vec()).or_default();
            gap_ranges::cover(covered, gap.from, gap.to);
        }
        let mut batch = sled::Batch::default();
        for (k, n) in &counts {
            batch.insert(k.as_slice(), &n.to_be_bytes());
        }
        for (k, covered) in &tabs {
            batch.insert(k.as_slice(), gap_ranges::encode(covered));
        }
        self.gap_index.apply_batch(batch)?;
        meta.insert("gap_index", &[])?;
        self.db.flush().context("flushing the gap index")?;
        if !counts.is_empty() {
            tracing::info!(
                sessions = counts.len(),
                "indexed the gap records of a store written before it"
            );
        }
        Ok(())
    }

    /// Builds a time index (`index`, keyed by `time` of each value of `source`,
    /// a tree keyed by session) of a store written before it existed, or whose
    /// indexing a crash interrupted: cleared, rebuilt, then marked `done` in
    /// `meta` and flushed. Runs before the store serves anything.
    fn build_index<T: serde::de::DeserializeOwned>(
        &self,
        done: &str,
        index: &sled::Tree,
        source: &sled::Tree,
        time: impl Fn(T) -> i64,
    ) -> anyhow::Result<()> {
        let meta = self.db.open_tree("meta")?;
        if meta.get(done)?.is_some() {
            return Ok(());
        }
        index.clear()?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in source.iter() {
            let (k, v) = kv?;
            let (tenant, session) = parse_session_key(&k)?;
            let at = time(serde_json::from_slice(&v)?);
            batch.insert(time_key(&tenant, at, &session), &[]);
            n += 1;
            if n % PURGE_BATCH == 0 {
                index.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        index.apply_batch(batch)?;
        meta.insert(done, &[])?;
        self.db.flush().context("flushing a new index")?;
        if n > 0 {
            tracing::info!(
                index = done,
                entries = n,
                "indexed a store written before it"
            );
        }
        Ok(())
    }

    /// Stores the events and gaps that are not stored yet, atomically with the
    /// session summary and the links that chain them, and numbers the new
    /// events in arrival order (what the live tail publishes). Nothing is
    /// stored for a deleted session. Blocking; does not flush (see [`Store::flush`]).
    pub fn insert(&self, batch: Ingest<'_>) -> anyhow::Result<Inserted> {
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
        let origin_json = serde_json::to_vec(origin)?;
        let mut origin_key = session_prefix(tenant, session);
        origin_key.extend_from_slice(&compact::origin_digest(&origin_json));
        let compactor =
            compact::Compactor::new(session.as_str(), tab.as_str(), received_at, &origin_json);
        let encoded: Vec<Encoded> = records
            .iter()
            .map(|r| {
                let mut tkey = session_prefix(tenant, session);
                tkey.extend(timeline_suffix(r.event.ts, tab, r.event.seq));
                let value = serde_json::to_vec(r)?;
                Ok(Encoded {
                    ekey: event_key(tenant, session, tab, r.event.seq),
                    // Compacted when the key and the batch hold what it leaves
                    // out (always, for what ingest stamps): reads rebuild it.
                    stored: compactor.compact(&value),
                    value,
                    tkey,
                    codes: [
                        type_code(r.event.event_type()),
                        actor_code(r.event.actor.kind()),
                    ],
                })
            })
            .collect::<anyhow::Result<_>>()?;
        // A batch's gaps are validated apart (`Batch::validate`); in order, so
        // the parts stored of each are in order too.
        let mut gaps: Vec<&GapRecord> = gaps.iter().collect();
        gaps.sort_by_key(|g| g.from);
        // The numbers inside those gaps whose events are stored after all (a
        // batch stored whose answer was lost, then dropped from the
        // recorder's full queue): not lost, so not reported as lost. Read
        // before the transaction, which cannot scan; an event of the same
        // tab stored between the two is counted lost, as before this check.
        let mut stored_in_gaps: Vec<gap_ranges::Range> = Vec::new();
        for g in &gaps {
            let lo = event_key(tenant, session, tab, g.from);
            let hi = event_key(tenant, session, tab, g.to);
            for k in self.events.range(lo..=hi).keys() {
                let k = k?;
                let seq = k[k.len() - 8..].try_into().map(u64::from_be_bytes)?;
                gap_ranges::cover(&mut stored_in_gaps, seq, seq);
            }
        }
        for r in records {
            if gaps.iter().any(|g| (g.from..=g.to).contains(&r.event.seq)) {
                gap_ranges::cover(&mut stored_in_gaps, r.event.seq, r.event.seq);
            }
        }
        let skey = session_key(tenant, session);
        let skey = skey.as_slice();
        let sprefix = session_prefix(tenant, session);
        let chainer = Chainer {
            tenant,
            session,
            prefix: &sprefix,
        };

        let trees = (
            &self.events,
            &self.timeline,
            &self.sessions,
            &self.gaps,
            &self.chain,
            &self.tombstones,
            &self.arrivals,
            &self.activity,
            &self.gap_index,
            &self.origins,
        );
        let result = trees.transaction(
            |(
                events,
                timeline,
                sessions,
                gap_tree,
                chain_tree,
                tombstones,
                arrivals,
                activity,
                gap_index,
                origins,
            )| {
                if let Some(t) = tombstones.get(skey)? {
                    return Ok(Inserted::Gone(serde_json::from_slice(&t).map_err(abort)?));
                }
                // What the gap records add: only numbers no stored record of
                // this tab reports yet, within the session's limit. Decided
                // before anything is written, so a refusal stores nothing.
                let mut new_gaps: Vec<(Vec<u8>, Vec<u8>, u64)> = Vec::new();
                if !gaps.is_empty() {
                    let stored = match gap_index.get(sprefix.as_slice())? {
                        Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                            ConflictableTransactionError::Abort(anyhow::anyhow!(
                                "corrupt gap record count"
                            ))
                        })?),
                        None => 0,
                    };
                    let mut tab_index_key = sprefix.clone();
                    tab_index_key.extend_from_slice(tab.as_str().as_bytes());
                    let mut covered = match gap_index.get(tab_index_key.as_slice())? {
                        Some(v) => gap_ranges::decode(&v).ok_or_else(|| {
                            ConflictableTransactionError::Abort(anyhow::anyhow!(
                                "corrupt gap coverage"
                            ))
                        })?,
                        None => Vec::new(),
                    };
                    for gap in &gaps {
                        for (from, to) in gap_ranges::uncovered(&covered, gap.from, gap.to)
                            .into_iter()
                            .flat_map(|(from, to)| lost_parts(&stored_in_gaps, from, to))
                        {
                            let part = GapRecord {
                                from,
                                to,
                                ..(*gap).clone()
                            };
                            new_gaps.push((
                                event_key(tenant, session, tab, from),
                                serde_json::to_vec(&part).map_err(abort)?,
                                // Validation bounds a gap's width; saturate
                                // regardless, a count must not wrap to "nothing lost".
                                to.saturating_sub(from).saturating_add(1),
                            ));
                        }
                        gap_ranges::cover(&mut covered, gap.from, gap.to);
                    }
                    let new = new_gaps.len() as u64;
                    if new > 0 {
                        if stored.saturating_add(new) > MAX_GAP_RECORDS_PER_SESSION {
                            return Ok(Inserted::TooManyGaps { stored, new });
                        }
                        gap_index.insert(sprefix.as_slice(), &(stored + new).to_be_bytes())?;
                        gap_index.insert(tab_index_key.as_slice(), gap_ranges::encode(&covered))?;
                    }
                }
                let (mut state, indexed_at): (SessionState, Option<i64>) =
                    match sessions.get(skey)? {
                        Some(v) => {
                            let state: SessionState = serde_json::from_slice(&v).map_err(abort)?;
                            let at = state.last_seen;
                            (state, Some(at))
                        }
                        None => (SessionState::new(received_at, origin), None),
                    };
                let mut ack = IngestAck {
                    stored: 0,
                    duplicates: 0,
                };
                let mut changed = false;
                let mut new = Vec::new();
                let aprefix = session_prefix(tenant, session);
                // Whether the events of this batch may refer to the stored
                // origin: none was stored under its digest yet, or the same
                // bytes were. Another origin under the same 64-bit digest (a
                // collision someone worked for) keeps this batch's events
                // whole, so neither origin is ever served for the other.
                let mut origin_ref: Option<bool> = None;
                let mut conflicts = Vec::new();
                for (i, (rec, enc)) in records.iter().zip(&encoded).enumerate() {
                    if let Some(old) = events.get(&enc.ekey)? {
                        if !same_event(&old, &enc.value) {
                            conflicts.push(rec.event.seq);
                        }
                        ack.duplicates += 1;
                        continue;
                    }
                    match &enc.stored {
                        Some(stored) => {
                            let by_ref = match origin_ref {
                                Some(by_ref) => by_ref,
                                None => {
                                    let by_ref = match origins.get(origin_key.as_slice())? {
                                        None => {
                                            origins.insert(
                                                origin_key.as_slice(),
                                                origin_json.as_slice(),
                                            )?;
                                            true
                                        }
                                        Some(kept) => kept.as_ref() == origin_json.as_slice(),
                                    };
                                    origin_ref = Some(by_ref);
                                    by_ref
                                }
                            };
                            let value = if by_ref { stored } else { &enc.value };
                            events.insert(enc.ekey.as_slice(), value.as_slice())?;
                        }
                        None => {
                            events.insert(enc.ekey.as_slice(), enc.value.as_slice())?;
                        }
                    }
                    timeline.insert(enc.tkey.as_slice(), enc.codes.as_slice())?;
                    chainer.append(
                        chain_tree,
                        &mut state,
                        RecordKind::Event,
                        &enc.ekey,
                        &enc.value,
                    )?;
                    let arrival = state.arrivals;
                    state.arrivals += 1;
                    let mut akey = aprefix.clone();
                    akey.extend_from_slice(&arrival.to_be_bytes());
                    arrivals.insert(akey, &enc.ekey[aprefix.len()..])?;
                    new.push((arrival, i));
                    ack.stored += 1;
                    changed = true;
                    state.count_event(rec);
                }
                if !conflicts.is_empty() {
                    // Aborted: none of this transaction's writes are kept.
                    return Err(ConflictableTransactionError::Abort(anyhow::Error::new(
                        SeqConflict(conflicts),
                    )));
                }
                for (key, value, lost) in &new_gaps {
                    gap_tree.insert(key.as_slice(), value.as_slice())?;
                    chainer.append(chain_tree, &mut state, RecordKind::Gap, key, value)?;
                    state.count_lost(*lost);
                    changed = true;
                }
                if changed {
                    state.first_seen = state.first_seen.min(received_at);
                    state.last_seen = state.last_seen.max(received_at);
                    state.tabs.insert(tab.to_string());
                    sessions.insert(skey, serde_json::to_vec(&state).map_err(abort)?)?;
                    if indexed_at != Some(state.last_seen) {
                        if let Some(at) = indexed_at {
                            activity.remove(time_key(tenant, at, session))?;
                        }
                        activity.insert(time_key(tenant, state.last_seen, session), &[])?;
                    }
                }
                Ok(Inserted::Stored(Stored { ack, new }))
            },
        );
        match result {
            Ok(stored) => Ok(stored),
            Err(TransactionError::Abort(e)) => match e.downcast::<SeqConflict>() {
                Ok(SeqConflict(seqs)) => Ok(Inserted::Conflict { seqs }),
                Err(e) => Err(e),
            },
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// Whether a session is stored, was deleted (its tombstone), or never was.
    pub fn status(&self, tenant: &TenantId, session: &SessionId) -> anyhow::Result<SessionStatus> {
        let key = session_key(tenant, session);
        if let Some(v) = self.sessions.get(&key)? {
            let st: SessionState = serde_json::from_slice(&v)?;
            return Ok(SessionStatus::Live(st.summary(session.clone())));
        }
        Ok(match self.tombstones.get(&key)? {
            Some(t) => SessionStatus::Deleted(serde_json::from_slice(&t)?),
            None => SessionStatus::Unknown,
        })
    }

    /// The head of a session's integrity chain (hex), as `verify` would report
    /// it for an intact chain; `None` for an unknown session.
    pub fn chain_head(
        &self,
        tenant: &TenantId,
        session: &SessionId,
    ) -> anyhow::Result<Option<String>> {
        match self.sessions.get(session_key(tenant, session))? {
            Some(v) => {
                let st: SessionState = serde_json::from_slice(&v)?;
                Ok(Some(hex::encode(st.chain_head)))
            }
            None => Ok(None),
        }
    }

    /// The length and head (hex) of a session's integrity chain, read
    /// together; `None` for a session that is not stored.
    pub fn chain_state(
        &self,
        tenant: &TenantId,
        session: &SessionId,
    ) -> anyhow::Result<Option<(u64, String)>> {
        match self.sessions.get(session_key(tenant, session))? {
            Some(v) => {
                let st: SessionState = serde_json::from_slice(&v)?;
                Ok(Some((st.chain_len, hex::encode(st.chain_head))))
            }
            None => Ok(None),
        }
    }

    /// Up to `limit` of a session's chained records at positions `from..end`,
    /// in chain order: `(position, kind, the bytes the link hashed)`, `None` for
    /// a record its link names that is not stored (the chain is broken there).
    /// What an export needs to let the chain be recomputed without the store.
    pub fn chained_records(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        from: u64,
        end: u64,
        limit: usize,
    ) -> anyhow::Result<Vec<ChainedRecord>> {
        let prefix = session_prefix(tenant, session);
        let pos_key = |pos: u64| {
            let mut k = prefix.clone();
            k.extend_from_slice(&pos.to_be_bytes());
            k
        };
        let mut out = Vec::new();
        let mut reader = SessionReader::new(self, tenant, session);
        for kv in self.chain.range(pos_key(from)..pos_key(end)).take(limit) {
            let (k, entry) = kv?;
            let pos = k[prefix.len()..]
                .try_into()
                .map(u64::from_be_bytes)
                .context("corrupt chain key")?;
            let e = chain::decode_entry(&entry).context("corrupt chain entry")?;
            let record = reader.linked_record(e.kind, e.key)?;
            out.push(ChainedRecord {
                pos,
                kind: e.kind,
                record,
            });
        }
        Ok(out)
    }

    /// Recomputes a session's integrity chain from the stored records and
    /// compares it with the head its state recorded. `None` for a session that
    /// is not stored.
    pub fn verify(
        &self,
        tenant: &TenantId,
        session: &SessionId,
    ) -> anyhow::Result<Option<ChainVerification>> {
        self.verify_pinned(tenant, session, None)
    }

    /// [`Store::verify`], and the chain must also still hold `pin` (a length
    /// and head recorded outside the store): see [`chain::Pin`].
    pub fn verify_pinned(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        pin: Option<chain::Pin>,
    ) -> anyhow::Result<Option<ChainVerification>> {
        let Some(v) = self.sessions.get(session_key(tenant, session))? else {
            return Ok(None);
        };
        let state: SessionState = serde_json::from_slice(&v)?;
        self.verify_from(tenant, session, &state, pin)
    }

    /// [`Store::verify_state`], then: a chain found broken in a session that
    /// is no longer stored was being deleted under the walk (the tombstone
    /// replaces the state first, then the records go), which is a deletion,
    /// not tampering: `None`, and the caller answers with the tombstone.
    fn verify_from(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        state: &SessionState,
        pin: Option<chain::Pin>,
    ) -> anyhow::Result<Option<ChainVerification>> {
        let v = self.verify_state(tenant, session, state, pin)?;
        if !v.valid && self.sessions.get(session_key(tenant, session))?.is_none() {
            return Ok(None);
        }
        Ok(Some(v))
    }

    /// Verifies the chain against the head `state` holds, read before the walk,
    /// in memory that does not grow with the session.
    ///
    /// Batches may be stored while this runs: each stores its records, their
    /// links (at positions from the head on) and a longer head in one
    /// transaction, and nothing but a deletion removes a record. So:
    ///
    /// 1. Exactly the links `0..L` (`L` = `state.chain_len`) are walked; each
    ///    link's record is fetched and hashed, so a linked record that is
    ///    missing, edited or moved breaks at its position, and the last hash
    ///    must be the head read.
    /// 2. Then the records under the session (`events` and `gaps`) are counted:
    ///    `N`. Every one of the `L` linked records existed before the count
    ///    began, so an untouched store has `N >= L`; each record the count saw
    ///    beyond them was stored with its link and a longer head in one
    ///    transaction, committed before the count saw it.
    /// 3. Then the current head `L2` is read: it covers every record the count
    ///    saw, so an untouched store has `L <= N <= L2`.
    ///
    /// Valid therefore needs `N == L` when nothing was appended (`L2 == L`,
    /// a quiet session: one record no link names is found), and
    /// `L <= N <= L2` otherwise: records beyond the `L` checked ones are
    /// tolerated only when the head grew, and at most as many as it grew by.
    /// A record forged in while batches arrive can hide among those for one
    /// verify; the links past `L` are checked by the next one, and the record
    /// count by the first verify of a quiet session. A link past the current
    /// head is walked on to and reported. No set of record ids is kept: a
    /// verify costs a walk and a count, whatever the session's size.
    fn verify_state(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        state: &SessionState,
        pin: Option<chain::Pin>,
    ) -> anyhow::Result<ChainVerification> {
        let prefix = session_prefix(tenant, session);
        let pos_key = |pos: u64| {
            let mut k = prefix.clone();
            k.extend_from_slice(&pos.to_be_bytes());
            k
        };
        let broken = |b: chain::Broken| ChainVerification::broken(b.pos, b.reason);
        let head_end = pos_key(state.chain_len);
        let mut verifier = Verifier::new(tenant.as_str(), session.as_str()).with_pin(pin);
        let mut reader = SessionReader::new(self, tenant, session);
        let mut index = IndexCheck {
            events: 0,
            arrivals: state.arrivals > 0,
            recount: Recount::default(),
        };
        for kv in self.chain.range(prefix.clone()..head_end.clone()) {
            let (k, entry) = kv?;
            if let Err(b) = push_link(&mut verifier, &mut reader, &mut index, &k, &entry)? {
                return Ok(broken(b));
            }
        }
        let count = |tree: &sled::Tree| -> anyhow::Result<u64> {
            let mut n = 0u64;
            for k in tree.scan_prefix(&prefix).keys() {
                k?;
                n += 1;
            }
            Ok(n)
        };
        let events = count(&self.events)?;
        let stored = events + count(&self.gaps)?;
        // Read after the count: it covers every record the count saw.
        let now = self.current_chain_len(tenant, session)?;
        // A link past the head: tampering unless a head read after seeing it
        // covers it (stored since).
        if let Some(kv) = self.chain.scan_prefix(&prefix).keys().next_back() {
            let last = kv?.to_vec();
            if last >= head_end && last >= pos_key(self.current_chain_len(tenant, session)?) {
                // Walk on from the head to say what is wrong with it.
                for kv in self.chain.range(head_end..=last) {
                    let (k, entry) = kv?;
                    if let Err(b) = push_link(&mut verifier, &mut reader, &mut index, &k, &entry)? {
                        return Ok(broken(b));
                    }
                }
            }
        }
        // Records beyond the checked links, as many as the head grew by
        // since it was read, were stored since: count them as the checked ones.
        let stored = if now > state.chain_len && (state.chain_len..=now).contains(&stored) {
            state.chain_len
        } else {
            stored
        };
        let v = match verifier.finish(state.chain_len, &state.chain_head, stored) {
            Ok(v) => v,
            Err(b) => return Ok(broken(b)),
        };
        // The chain checks out in itself; does it still hold what the
        // activity log last checkpointed for it? (A chain recomputed after an
        // edit, or cut short with its head set back, does not.)
        if let Some(pin) = self.checkpointed(tenant, session)? {
            if let Some((pos, reason)) = self.pin_fault(tenant, session, pin)? {
                return Ok(ChainVerification::broken(pos, reason));
            }
        }
        // A quiet session's indexes hold one entry per event, no more (one
        // that names no chained event would show a forged row). While batches
        // arrive the counts move; the links checked above stand.
        if now == state.chain_len {
            // And the summary that lists, searches and retention read agrees
            // with the records: an edited count, actor or lost-event figure
            // would mislead a reviewer as a forged row would.
            if let Some(reason) = index.recount.disagrees(state) {
                if now == self.current_chain_len(tenant, session)? {
                    return Ok(ChainVerification::broken(state.chain_len, reason));
                }
            }
            for (name, tree, check) in [
                ("timeline", &self.timeline, true),
                ("arrivals", &self.arrivals, index.arrivals),
            ] {
                let n = count(tree)?;
                if check && n != events && now == self.current_chain_len(tenant, session)? {
                    return Ok(ChainVerification::broken(
                        state.chain_len,
                        format!("the {name} index has {n} entries for {events} stored events"),
                    ));
                }
            }
        }
        Ok(ChainVerification::valid(v.length, hex::encode(v.head)))
    }

    /// The session's chain length now (0 once it is deleted).
    fn current_chain_len(&self, tenant: &TenantId, session: &SessionId) -> anyhow::Result<u64> {
        Ok(match self.sessions.get(session_key(tenant, session))? {
            Some(v) => serde_json::from_slice::<SessionState>(&v)?.chain_len,
            None => 0,
        })
    }

    /// Deletes a session, leaving a tombstone that says why (`reason`). `None`
    /// when the session is not stored. Blocking; does not flush.
    pub fn delete(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        reason: &str,
        by: &DeletedBy,
        now: i64,
    ) -> anyhow::Result<Option<Tombstone>> {
        self.delete_if(tenant, session, reason, by, now, |_| true)
    }

    /// The first half of [`Store::delete`]: swaps the session for its
    /// tombstone (from then on reads answer 410 and ingest refuses it) and
    /// leaves the records to [`Store::purge_session`]. `None` when the session
    /// is not stored. Blocking; does not flush.
    pub fn tombstone(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        reason: &str,
        by: &DeletedBy,
        now: i64,
    ) -> anyhow::Result<Option<Tombstone>> {
        self.tombstone_if(tenant, session, reason, by, now, |_| true)
    }

    /// Removes the records a tombstoned session left (the second half of
    /// [`Store::delete`]). Blocking; as long as the session is big.
    pub fn purge_session(&self, tenant: &TenantId, session: &SessionId) -> anyhow::Result<()> {
        self.purge(&session_prefix(tenant, session))?;
        // Done: no later start-up or sweep needs to look at this session again.
        self.purges.remove(session_key(tenant, session))?;
        Ok(())
    }

    /// Deletes in a safe order: one transaction swaps the session state for
    /// its tombstone (from then on reads answer 410 and ingest refuses the
    /// session) and appends the `session.deleted` entry that vouches for it
    /// to the tenant's activity log, then the records are purged. A crash in
    /// between leaves records under a tombstone, which the next
    /// [`Store::sweep`] purges.
    fn delete_if(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        reason: &str,
        by: &DeletedBy,
        now: i64,
        condition: impl Fn(&SessionState) -> bool,
    ) -> anyhow::Result<Option<Tombstone>> {
        let tombstone = self.tombstone_if(tenant, session, reason, by, now, condition)?;
        if tombstone.is_some() {
            self.purge_session(tenant, session)?;
        }
        Ok(tombstone)
    }

    fn tombstone_if(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        reason: &str,
        by: &DeletedBy,
        now: i64,
        condition: impl Fn(&SessionState) -> bool,
    ) -> anyhow::Result<Option<Tombstone>> {
        let skey = session_key(tenant, session);
        let skey = skey.as_slice();
        let prefix = tenant_prefix(tenant);
        let audit_key = self.audit_key(&prefix, now)?;
        let trees = (
            &self.sessions,
            &self.tombstones,
            &self.activity,
            &self.deletions,
            &self.purges,
            &self.audit,
            &self.audit_chain,
            &self.audit_heads,
        );
        let result = trees.transaction(|tx| {
            let (sessions, tombstones, activity, deletions, purges, audit, chain_tree, heads) = tx;
            let Some(v) = sessions.get(skey)? else {
                return Ok(None);
            };
            let state: SessionState = serde_json::from_slice(&v).map_err(abort)?;
            // Re-checked here: a batch may have arrived since the caller looked.
            if !condition(&state) {
                return Ok(None);
            }
            let tombstone = Tombstone {
                session_id: session.clone(),
                deleted_at: now,
                reason: reason.to_owned(),
                event_count: state.event_count,
                chain_length: state.chain_len,
                chain_head: hex::encode(state.chain_head),
            };
            tombstones.insert(skey, serde_json::to_vec(&tombstone).map_err(abort)?)?;
            sessions.remove(skey)?;
            activity.remove(time_key(tenant, state.last_seen, session))?;
            deletions.insert(time_key(tenant, now, session), &[])?;
            purges.insert(skey, &[])?;
            // The entry in the same transaction: a tombstone without it is
            // one the collector did not write (see `verify_audit`).
            let entry = AuditEntry::deletion(by.user.clone(), &tombstone, by.origin.clone(), now);
            let entry = serde_json::to_vec(&entry).map_err(abort)?;
            let head = log_head(heads, &prefix)?;
            let head = link_audit(tenant, &prefix, head, &audit_key, &entry, audit, chain_tree)?;
            heads.insert(prefix.as_slice(), audit_head(head.0, &head.1))?;
            Ok(Some((tombstone, head)))
        });
        match result {
            Ok(Some((t, (log_length, log_head)))) => {
                // Outside the store too, beside the checkpoint lines: what a
                // deletion removed and the log's length and head after its
                // entry.
                tracing::info!(
                    tenant = %tenant,
                    session = %t.session_id,
                    user = %by.user,
                    reason = %t.reason,
                    event_count = t.event_count,
                    chain_length = t.chain_length,
                    chain_head = %t.chain_head,
                    activity_log_length = log_length,
                    activity_log_head = %hex::encode(log_head),
                    "session deleted"
                );
                Ok(Some(t))
            }
            Ok(None) => Ok(None),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// The trees that hold a session's records under its prefix: what
    /// deleting it purges.
    fn session_trees(&self) -> [&sled::Tree; 8] {
        [
            &self.checkpoints,
            &self.events,
            &self.origins,
            &self.timeline,
            &self.gaps,
            &self.gap_index,
            &self.chain,
            &self.arrivals,
        ]
    }

    /// Removes every record under a deleted session's prefix.
    fn purge(&self, prefix: &[u8]) -> anyhow::Result<()> {
        for tree in self.session_trees() {
            loop {
                let mut batch = sled::Batch::default();
                let mut n = 0;
                for k in tree.scan_prefix(prefix).keys().take(PURGE_BATCH) {
                    batch.remove(k?);
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                tree.apply_batch(batch)?;
            }
        }
        Ok(())
    }

    /// The retention sweep: deletes every session (of every tenant) whose last
    /// activity is more than `max_age_ms` before `now`, leaving tombstones with
    /// reason `retention`, and finishes any deletion a crash interrupted.
    /// Returns the tombstones it left. Blocking; does not flush.
    pub fn sweep(&self, now: i64, max_age_ms: i64) -> anyhow::Result<Vec<Tombstone>> {
        let cutoff = now.saturating_sub(max_age_ms);
        // From the activity index's keys: no session state is decoded to find
        // the expired ones (`delete_if` checks each again in its transaction).
        let mut expired = Vec::new();
        for k in self.activity.iter().keys() {
            let k = k?;
            let (tenant, rest) = split_tenant(&k)?;
            let (last_seen, session) = parse_time_suffix(rest).context("corrupt activity key")?;
            if last_seen < cutoff {
                expired.push((tenant, session));
            }
        }
        let mut left = Vec::new();
        // In the tenant's activity log too, as an admin's deletion is.
        let by = DeletedBy {
            user: UserId::parse("retention").expect("literal id is valid"),
            origin: Origin::default(),
        };
        for (tenant, session) in expired {
            // The activity time is the session summary's: an edited one
            // (set back to delete a trail with a routine-looking tombstone)
            // must not be acted on. The newest chained record says when the
            // session last stored something.
            let newest = self
                .newest_received_at(&tenant, &session)
                .unwrap_or_else(|e| {
                    // A record that does not read is verify's to report; it
                    // does not hold back the sweep of every other session.
                    tracing::warn!(
                        tenant = %tenant,
                        session = %session,
                        error = format!("{e:#}"),
                        "retention could not read a session's newest record; deciding by its summary"
                    );
                    None
                });
            if let Some(newest) = newest {
                if newest >= cutoff {
                    tracing::warn!(
                        tenant = %tenant,
                        session = %session,
                        "retention skipped a session whose summary says it is idle while its newest record is recent; verify it"
                    );
                    continue;
                }
            }
            if let Some(t) = self.delete_if(&tenant, &session, "retention", &by, now, |st| {
                st.last_seen < cutoff
            })? {
                left.push(t);
            }
        }
        self.finish_deletions()?;
        Ok(left)
    }

    /// `received_at` of the session's newest chained record (events and gap
    /// records alike), when it has one that reads.
    fn newest_received_at(
        &self,
        tenant: &TenantId,
        session: &SessionId,
    ) -> anyhow::Result<Option<i64>> {
        #[derive(Deserialize)]
        struct Received {
            received_at: i64,
        }
        let mut reader = SessionReader::new(self, tenant, session);
        let Some(last) = self.chain.scan_prefix(&reader.prefix).values().next_back() else {
            return Ok(None);
        };
        let last = last?;
        let Some(entry) = chain::decode_entry(&last) else {
            return Ok(None);
        };
        let record = reader.linked_record(entry.kind, entry.key)?;
        Ok(record
            .and_then(|r| serde_json::from_slice::<Received>(&r).ok())
            .map(|r| r.received_at))
    }

    /// Purges what deleted sessions left behind (a deletion a crash or a
    /// failed purge interrupted); answers how many sessions had records left.
    /// The collector runs it at start-up, and every retention sweep does. It
    /// reads the `purges` queue, not every tombstone: its cost is the number of
    /// unfinished deletions, however many sessions were ever deleted.
    pub fn finish_deletions(&self) -> anyhow::Result<usize> {
        let mut finished = 0;
        for k in self.purges.iter().keys() {
            let k = k?;
            let mut prefix = k.to_vec();
            prefix.push(0);
            let leftover = self
                .session_trees()
                .iter()
                .any(|t| t.scan_prefix(&prefix).next().is_some());
            if leftover {
                self.purge(&prefix)?;
                finished += 1;
            }
            self.purges.remove(k)?;
        }
        Ok(finished)
    }

    /// Up to `limit` of a tenant's tombstones, newest deletion first (ties:
    /// greater session id first), before the position `before` (a
    /// [`Page::next`] of an earlier page), from the `deletions` index.
    pub fn tombstones_page(
        &self,
        tenant: &TenantId,
        before: Option<&[u8]>,
        limit: usize,
    ) -> anyhow::Result<Page<Tombstone>> {
        newest_first(
            &self.deletions,
            tenant,
            before,
            limit,
            MAX_SESSION_SCAN,
            |_, session| {
                Ok(match self.tombstones.get(session_key(tenant, &session))? {
                    Some(v) => Step::Take(serde_json::from_slice(&v)?),
                    None => Step::Skip,
                })
            },
        )
    }

    /// The gaps recorders reported for a session, by tab and sequence.
    pub fn gaps(&self, tenant: &TenantId, session: &SessionId) -> anyhow::Result<Vec<GapRecord>> {
        self.gaps
            .scan_prefix(session_prefix(tenant, session))
            .map(|kv| Ok(serde_json::from_slice(&kv?.1)?))
            .collect()
    }

    /// What neither a stored event nor one of `gaps` (the session's gap
    /// records) accounts for, per tab, in tab and sequence order: the
    /// sequence numbers below the tab's highest stored or reported one
    /// ([`gap_ranges::holes`]). At most [`MAX_UNACCOUNTED_RANGES`] runs.
    /// Reads the session's event keys once (one key scan, the values not
    /// decoded).
    pub fn unaccounted(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        gaps: &[GapRecord],
    ) -> anyhow::Result<Vec<UnaccountedRange>> {
        let prefix = session_prefix(tenant, session);
        let mut tabs: BTreeMap<String, Vec<gap_ranges::Range>> = BTreeMap::new();
        // Keys come sorted by tab, then by sequence number (big-endian).
        let mut current: Option<(Vec<u8>, Vec<gap_ranges::Range>)> = None;
        for k in self.events.scan_prefix(&prefix).keys() {
            let k = k?;
            // `prefix tab 0x00 seq:u64be`
            let rest = &k[prefix.len()..];
            let cut = rest
                .len()
                .checked_sub(8)
                .context("event key without a seq")?;
            let (tab, seq) = rest.split_at(cut);
            let tab = tab.strip_suffix(&[0]).context("event key without a tab")?;
            let seq = u64::from_be_bytes(seq.try_into()?);
            match &mut current {
                Some((t, covered)) if t.as_slice() == tab => {
                    gap_ranges::push_ascending(covered, seq)
                }
                _ => {
                    if let Some((t, covered)) = current.take() {
                        tabs.insert(String::from_utf8(t)?, covered);
                    }
                    current = Some((tab.to_vec(), vec![(seq, seq)]));
                }
            }
        }
        if let Some((t, covered)) = current {
            tabs.insert(String::from_utf8(t)?, covered);
        }
        for g in gaps {
            let covered = tabs.entry(g.tab_id.as_str().to_owned()).or_default();
            gap_ranges::cover(covered, g.from, g.to);
        }
        let mut out = Vec::new();
        for (tab, covered) in tabs {
            let tab_id = TabId::parse(tab)?;
            for (from, to) in gap_ranges::holes(&covered) {
                if out.len() == MAX_UNACCOUNTED_RANGES {
                    return Ok(out);
                }
                out.push(UnaccountedRange {
                    tab_id: tab_id.clone(),
                    from,
                    to,
                });
            }
        }
        Ok(out)
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

    /// [`Store::size_on_disk`] measured at most once per `max_age` (sled
    /// walks its files to answer; `/metrics` asks on every scrape).
    pub fn size_on_disk_cached(&self, max_age: std::time::Duration) -> anyhow::Result<u64> {
        let now = std::time::Instant::now();
        let cached = self.ops_cache().size;
        if let Some((_, bytes)) = cached.filter(|(at, _)| now.duration_since(*at) < max_age) {
            return Ok(bytes);
        }
        let bytes = self.size_on_disk()?;
        self.ops_cache().size = Some((now, bytes));
        Ok(bytes)
    }

    /// Whether a readiness probe wrote and flushed within `within`.
    pub fn ready_within(&self, within: std::time::Duration) -> bool {
        self.ops_cache()
            .ready_at
            .is_some_and(|at| at.elapsed() < within)
    }

    /// Taken while a readiness probe runs (see `probe_gate`).
    pub async fn probe_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.probe_gate.clone().lock_owned().await
    }

    /// A readiness probe wrote and flushed just now.
    pub fn note_ready(&self) {
        self.ops_cache().ready_at = Some(std::time::Instant::now());
    }

    fn ops_cache(&self) -> std::sync::MutexGuard<'_, OpsCache> {
        // Plain values, each set in one assignment: a poisoned lock is fine.
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes everything inserted so far durable. Answers only after the data is
    /// on disk, which is what an ingest acknowledgement promises.
    /// A failed flush is logged, counted and remembered ([`Store::flush_failure`]).
    pub async fn flush(&self) -> anyhow::Result<()> {
        let flushed = self.db.flush_async().await.context("flushing the store");
        if let Err(e) = &flushed {
            self.note_flush_failure(e);
        }
        flushed.map(|_| ())
    }

    fn note_flush_failure(&self, e: &anyhow::Error) {
        ::metrics::counter!(crate::telemetry::metric::FLUSH_ERRORS).increment(1);
        tracing::error!(error = format!("{e:#}"), "flushing the store failed");
        self.flush_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| format!("{e:#}"));
    }

    /// Why a flush failed, if one did since the store was opened (the first).
    pub fn flush_failure(&self) -> Option<String> {
        self.flush_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A tenant's session summaries, newest activity first.
    pub fn sessions(&self, tenant: &TenantId) -> anyhow::Result<Vec<SessionSummary>> {
        Ok(self
            .sessions_scan(
                tenant,
                &SessionFilter::default(),
                None,
                usize::MAX,
                usize::MAX,
            )?
            .items)
    }

    /// Up to `limit` of a tenant's session summaries that pass `filter`, newest
    /// activity first (ties: greater session id first), after the position
    /// `before` (a [`Page::next`] of an earlier page). Reads the
    /// `activity` index from the newest end, so a page costs what it returns
    /// plus the sessions the filter skips; a `from` bound ends the scan at the
    /// first session last active before it. At most [`MAX_SESSION_SCAN`]
    /// sessions the filter refuses are examined: a search that matches little
    /// may give a short page, even an empty one, with a `next` to go on from.
    /// Otherwise a page is followed by another only when another session
    /// passes the filter.
    pub fn sessions_page(
        &self,
        tenant: &TenantId,
        filter: &SessionFilter,
        before: Option<&[u8]>,
        limit: usize,
    ) -> anyhow::Result<Page<SessionSummary>> {
        self.sessions_scan(tenant, filter, before, limit, MAX_SESSION_SCAN)
    }

    fn sessions_scan(
        &self,
        tenant: &TenantId,
        filter: &SessionFilter,
        before: Option<&[u8]>,
        limit: usize,
        max_skip: usize,
    ) -> anyhow::Result<Page<SessionSummary>> {
        newest_first(
            &self.activity,
            tenant,
            before,
            limit,
            max_skip,
            |last_seen, id| {
                if filter.from.is_some_and(|from| last_seen < from) {
                    return Ok(Step::Stop);
                }
                // Gone since the key was read: deleted, or active again (then
                // it is at its new place, ahead of this page).
                let Some(v) = self.sessions.get(session_key(tenant, &id))? else {
                    return Ok(Step::Skip);
                };
                let st: SessionState = serde_json::from_slice(&v)?;
                Ok(if st.last_seen == last_seen && filter.accepts(&id, &st) {
                    Step::Take(st.summary(id))
                } else {
                    Step::Skip
                })
            },
        )
    }

    /// A page of one session's events in client-time order (`descending` for
    /// newest first), starting after the timeline position `after`. At most
    /// [`MAX_EVENT_SCAN`] entries the filter refuses are examined (so a page
    /// examines at most that many plus `limit`): a filtered page may hold
    /// fewer than `limit` events (none at all) and still have a `next`.
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
        // A cursor narrows the window, never widens it: one handed out under
        // other `from`/`to` bounds does not reach past this request's.
        let (mut lo, mut hi) = (std::ops::Bound::Included(lo), std::ops::Bound::Excluded(hi));
        if let Some(after) = after {
            let mut k = prefix.clone();
            k.extend_from_slice(after);
            match (descending, &lo, &hi) {
                (true, _, std::ops::Bound::Excluded(h)) if k < *h => {
                    hi = std::ops::Bound::Excluded(k)
                }
                (false, std::ops::Bound::Included(l), _) if k >= *l => {
                    lo = std::ops::Bound::Excluded(k)
                }
                _ => {}
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
        let mut reader = SessionReader::new(self, tenant, session);
        let mut last = None;
        let mut skipped = 0;
        for kv in iter {
            let (k, codes) = kv?;
            let suffix = &k[prefix.len()..];
            if (!types.is_empty() && !types.contains(&codes[0]))
                || (!actors.is_empty() && !actors.contains(&codes[1]))
            {
                if skipped == MAX_EVENT_SCAN {
                    // A filter matching little must not walk the whole
                    // timeline in one request: the page ends before this
                    // entry and the cursor continues from there.
                    return Ok(EventScan { events, next: last });
                }
                skipped += 1;
                last = Some(suffix.to_vec());
                continue;
            }
            last = Some(suffix.to_vec());
            let (tab, seq) = parse_timeline_suffix(suffix).context("corrupt timeline key")?;
            let ekey = event_key(tenant, session, &tab, seq);
            let v = self
                .events
                .get(&ekey)?
                .context("timeline entry without its event")?;
            events.push(reader.event(&ekey[prefix.len()..], &v)?);
            if events.len() == limit {
                break;
            }
        }
        let next = if events.len() == limit { last } else { None };
        Ok(EventScan { events, next })
    }
}

/// Appends links to one session's chain inside the insert transaction.
struct Chainer<'a> {
    tenant: &'a TenantId,
    session: &'a SessionId,
    /// The session prefix: chain keys extend it, record keys are chained without it.
    prefix: &'a [u8],
}

impl Chainer<'_> {
    fn append(
        &self,
        chain_tree: &TransactionalTree,
        state: &mut SessionState,
        kind: RecordKind,
        record_key: &[u8],
        record: &[u8],
    ) -> Result<(), UnabortableTransactionError> {
        let pos = state.chain_len;
        let key = &record_key[self.prefix.len()..];
        let hash = chain::link_hash(
            &Link {
                pos,
                tenant: self.tenant.as_str(),
                session: self.session.as_str(),
                kind,
                key,
                record,
            },
            &state.chain_head,
        );
        let mut ckey = self.prefix.to_vec();
        ckey.extend_from_slice(&pos.to_be_bytes());
        chain_tree.insert(ckey, chain::encode_entry(&hash, kind, key))?;
        state.chain_len = pos + 1;
        state.chain_head = hash;
        Ok(())
    }
}

/// Walks a tenant's part of a time index from the newest end, before the
/// position `before` (a key suffix an earlier page ended at), asking `item`
/// about each entry, until `limit` items are taken and one more would be:
/// then the position of the last one taken says where the next page
/// starts. So a page costs what it returns plus what `item` skips, and the
/// last page is never empty.
fn newest_first<T>(
    index: &sled::Tree,
    tenant: &TenantId,
    before: Option<&[u8]>,
    limit: usize,
    max_skip: usize,
    mut item: impl FnMut(i64, SessionId) -> anyhow::Result<Step<T>>,
) -> anyhow::Result<Page<T>> {
    let prefix = tenant_prefix(tenant);
    let end = match before {
        Some(b) => [prefix.as_slice(), b].concat(),
        // Past every key of the tenant (`0x00` is its separator).
        None => [&prefix[..prefix.len() - 1], &[1u8][..]].concat(),
    };
    let (mut items, mut last, mut skipped) = (Vec::new(), None, 0);
    for k in index.range(prefix.clone()..end).keys().rev() {
        let k = k?;
        let suffix = &k[prefix.len()..];
        let (at, session) = parse_time_suffix(suffix).context("corrupt index key")?;
        match item(at, session)? {
            Step::Stop => break,
            // Enough refused for one request: the page ends here (maybe
            // short, even empty) and the cursor goes on after this entry.
            Step::Skip if skipped + 1 >= max_skip => {
                return Ok(Page {
                    items,
                    next: Some(suffix.to_vec()),
                })
            }
            Step::Skip => skipped += 1,
            Step::Take(_) if items.len() == limit => return Ok(Page { items, next: last }),
            Step::Take(t) => {
                items.push(t);
                last = Some(suffix.to_vec());
            }
        }
    }
    Ok(Page { items, next: None })
}

/// Splits a key into its tenant and what follows the tenant's `0x00`.
fn split_tenant(k: &[u8]) -> anyhow::Result<(TenantId, &[u8])> {
    let sep = k
        .iter()
        .position(|b| *b == 0)
        .context("key without a tenant")?;
    let tenant = TenantId::parse(String::from_utf8_lossy(&k[..sep]).into_owned())
        .context("corrupt tenant in a key")?;
    Ok((tenant, &k[sep + 1..]))
}

/// Splits a `sessions`/`tombstones` key into tenant and session.
fn parse_session_key(k: &[u8]) -> anyhow::Result<(TenantId, SessionId)> {
    let (tenant, rest) = split_tenant(k)?;
    let session = SessionId::parse(String::from_utf8_lossy(rest).into_owned())
        .context("corrupt session in a session key")?;
    Ok((tenant, session))
}

/// What [`Store::insert`] stored.
#[derive(Debug)]
pub struct Stored {
    pub ack: IngestAck,
    /// `(arrival number, index into the request's records)` of each new event.
    pub new: Vec<(u64, usize)>,
}

/// Which activity-log entries a scan returns. Empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Platform entries (of `types`, or all when empty).
    pub platform: bool,
    /// Only these platform types.
    pub types: Vec<PlatformRecordType>,
    /// The collector's own entries (they have no type).
    pub collector: bool,
    pub users: Vec<UserId>,
    pub entity_kind: Option<String>,
    pub entity_id: Option<String>,
    /// Occurrence time bounds, inclusive, ms since epoch.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl AuditFilter {
    fn matches(&self, e: &AuditEntry) -> bool {
        let type_ok = match e.record_type() {
            Some(t) => self.platform && (self.types.is_empty() || self.types.contains(&t)),
            None => self.collector,
        };
        type_ok
            && (self.users.is_empty() || self.users.contains(&e.user_id))
            && self
                .entity_kind
                .as_ref()
                .is_none_or(|k| e.entity.as_ref().is_some_and(|x| &x.kind == k))
            && self
                .entity_id
                .as_ref()
                .is_none_or(|id| e.entity.as_ref().is_some_and(|x| &x.id == id))
    }
}

/// A page of the activity log and the position to continue from.
pub struct AuditScan {
    pub entries: Vec<AuditEntry>,
    /// `time:u64be seq:u64be` of the last entry examined, when more may follow.
    pub next: Option<Vec<u8>>,
}

/// Most activity-log entries one scan examines: a filter matching little must
/// not make one request walk the whole log; the client continues with the cursor.
const MAX_AUDIT_SCAN: usize = 10_000;

/// Who deletes a session: named by the `session.deleted` entry that the
/// tombstone's own transaction appends to the tenant's activity log.
#[derive(Debug, Clone)]
pub struct DeletedBy {
    /// An admin, or `retention`.
    pub user: UserId,
    /// The deleting request's (none for retention).
    pub origin: Origin,
}

/// A tenant's activity-log length and head (`prefix`: the tenant's) inside a
/// transaction: none yet is the genesis; one that does not read aborts (a
/// chain started again over it would hide what it held).
fn log_head(
    heads: &sled::transaction::TransactionalTree,
    prefix: &[u8],
) -> Result<(u64, Hash), ConflictableTransactionError<anyhow::Error>> {
    match heads.get(prefix)? {
        None => Ok((0, chain::GENESIS)),
        Some(v) => parse_audit_head(&v).ok_or_else(|| {
            ConflictableTransactionError::Abort(anyhow::anyhow!(
                "the activity log's stored head does not read"
            ))
        }),
    }
}

/// Stores an activity-log entry (`key`: its `audit` key, under `prefix`) and
/// chains it after `head` (the log's length and head so far) inside a
/// transaction; answers the new length and head, which the caller stores in
/// `audit_heads` once it has appended all it appends.
fn link_audit(
    tenant: &TenantId,
    prefix: &[u8],
    (len, prev): (u64, Hash),
    key: &[u8],
    entry: &[u8],
    audit: &sled::transaction::TransactionalTree,
    chain_tree: &sled::transaction::TransactionalTree,
) -> Result<(u64, Hash), sled::transaction::UnabortableTransactionError> {
    audit.insert(key, entry)?;
    // Chained in the order stored, whatever time it names.
    let key = &key[prefix.len()..];
    let hash = audit_link(tenant.as_str(), len, key, entry, &prev);
    let mut ck = prefix.to_vec();
    ck.extend_from_slice(&len.to_be_bytes());
    chain_tree.insert(ck, chain::encode_entry(&hash, RecordKind::Audit, key))?;
    Ok((len + 1, hash))
}

impl Store {
    /// A new entry's `audit` key: the tenant's `prefix`, the time it names,
    /// then a unique id (made outside transactions: their closures may run
    /// again).
    fn audit_key(&self, prefix: &[u8], occurred_at: i64) -> anyhow::Result<Vec<u8>> {
        let mut k = prefix.to_vec();
        k.extend_from_slice(&ts_sortable(occurred_at).to_be_bytes());
        k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        Ok(k)
    }

    /// Appends entries to a tenant's activity log, each with whether its
    /// origin is the record's own (not the request's, stamped). An entry whose
    /// `record_id` the tenant already stored with the same content is skipped;
    /// with other content, nothing is stored and the error is a
    /// [`RecordConflict`]. Returns how many were stored. Blocking; does not flush.
    pub fn append_audit_entries(
        &self,
        tenant: &TenantId,
        entries: &[(AuditEntry, bool)],
    ) -> anyhow::Result<usize> {
        let prefix = tenant_prefix(tenant);
        // Keys and values outside the transaction: its closure may run again.
        // (audit key, entry JSON, audit_ids key when the entry has a record id)
        type Row = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);
        let encoded: Vec<Row> = entries
            .iter()
            .map(|(e, _)| {
                let k = self.audit_key(&prefix, e.occurred_at)?;
                let idk = e.record_id.as_ref().map(|id| {
                    let mut i = prefix.clone();
                    i.extend_from_slice(id.as_bytes());
                    i
                });
                Ok((k, serde_json::to_vec(e)?, idk))
            })
            .collect::<anyhow::Result<_>>()?;
        let trees = (
            &self.audit,
            &self.audit_ids,
            &self.audit_chain,
            &self.audit_heads,
        );
        let result = trees.transaction(|(audit, ids, chain_tree, heads)| {
            let mut stored = 0;
            let mut conflicts = Vec::new();
            let mut head = log_head(heads, &prefix)?;
            for ((k, v, idk), (entry, origin_given)) in encoded.iter().zip(entries) {
                if let Some(idk) = idk {
                    if let Some(at) = ids.get(idk.as_slice())? {
                        // The same record again (re-posted), or a record id
                        // reused for another record.
                        let same = audit
                            .get(at.as_ref())?
                            .is_some_and(|old| same_record(&old, entry, *origin_given));
                        if !same {
                            conflicts.extend(entry.record_id.clone());
                        }
                        continue;
                    }
                    ids.insert(idk.as_slice(), k.as_slice())?;
                }
                head = link_audit(tenant, &prefix, head, k, v, audit, chain_tree)?;
                stored += 1;
            }
            if stored > 0 {
                heads.insert(prefix.as_slice(), audit_head(head.0, &head.1))?;
            }
            if !conflicts.is_empty() {
                return Err(ConflictableTransactionError::Abort(anyhow::Error::new(
                    RecordConflict(conflicts),
                )));
            }
            Ok(stored)
        });
        match result {
            Ok(n) => Ok(n),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// Checks a tenant's activity log against its chain: every entry stored
    /// is chained, in the order stored, and matches its link; the chain ends
    /// at the head kept for the tenant. Entries appended while it runs are
    /// left for the next check.
    /// The turn to check `tenant`'s activity log, unless a check of it runs.
    pub fn audit_check_turn(&self, tenant: &TenantId) -> Option<AuditCheck> {
        let mut running = self.audit_checks.lock().unwrap_or_else(|p| p.into_inner());
        running.insert(tenant.clone()).then(|| AuditCheck {
            running: self.audit_checks.clone(),
            tenant: tenant.clone(),
        })
    }

    /// Checkpoints a tenant's session chains into its activity log: the
    /// length and head of every session that stored records since the last
    /// checkpoint (and was not checkpointed at that length already), in
    /// `sessions.checkpointed` entries of at most [`CHECKPOINT_SESSIONS_PER_ENTRY`]
    /// sessions each. Chained there, they pin those trails to the log, and a
    /// pin of the log kept outside the store (the checkpoint's log line)
    /// pins them all. Returns what it wrote and the log's length and head
    /// after it. Blocking; does not flush.
    pub fn checkpoint(&self, tenant: &TenantId, now: i64) -> anyhow::Result<Checkpoint> {
        self.checkpoint_at_most(tenant, now, MAX_CHECKPOINT_SESSIONS)
    }

    /// [`Store::checkpoint`], writing at most `max` sessions.
    fn checkpoint_at_most(
        &self,
        tenant: &TenantId,
        now: i64,
        max: usize,
    ) -> anyhow::Result<Checkpoint> {
        let prefix = tenant_prefix(tenant);
        let since = self
            .checkpoints
            .get(&prefix)?
            .and_then(|v| v.as_ref().try_into().ok())
            .map(i64::from_be_bytes);
        // A batch stamped before the last checkpoint read the index may have
        // committed after it: look back a while (sessions already
        // checkpointed at their length are skipped).
        let from = since.map_or(i64::MIN, |t| t.saturating_sub(CHECKPOINT_LOOK_BACK_MS));
        let mut start = prefix.clone();
        start.extend_from_slice(&ts_sortable(from).to_be_bytes());
        let end = tenant_end(tenant);
        let mut done = Checkpoint {
            sessions: 0,
            entries: 0,
            log_length: 0,
            log_head: String::new(),
        };
        // Where the next checkpoint starts: now, unless this one stopped
        // at its bound (a first checkpoint of a large store), then the
        // activity time it reached.
        let (mut reached, mut stopped) = (now, false);
        let mut pins: Vec<(SessionId, u64, Hash)> = Vec::new();
        let mut keys = self.activity.range(start..end).keys();
        loop {
            let next = keys.next().transpose()?;
            if let Some(k) = &next {
                let (at, session) =
                    parse_time_suffix(&k[prefix.len()..]).context("corrupt activity key")?;
                if done.sessions + pins.len() >= max {
                    (reached, stopped) = (at, true);
                } else {
                    if let Some(v) = self.sessions.get(session_key(tenant, &session))? {
                        let st: SessionState = serde_json::from_slice(&v)?;
                        let last = self.checkpointed(tenant, &session)?;
                        let same = last.is_some_and(|l| l.length == st.chain_len);
                        // A chain that no longer holds its last checkpoint is
                        // not checkpointed again: the new pin would vouch for
                        // what replaced it.
                        let moved = match last {
                            Some(l) if !same => self.pin_fault(tenant, &session, l)?,
                            _ => None,
                        };
                        if let Some((_, reason)) = &moved {
                            tracing::error!(
                                tenant = %tenant,
                                session = %session,
                                reason = %reason,
                                "a trail no longer holds its last checkpoint; not checkpointed again (verify it)"
                            );
                        } else if st.chain_len > 0 && !same {
                            pins.push((session, st.chain_len, st.chain_head));
                        }
                    }
                    if pins.len() < CHECKPOINT_SESSIONS_PER_ENTRY {
                        continue;
                    }
                }
            }
            // One entry (and its transaction) per chunk: a first checkpoint
            // of a large store is many modest writes, not one huge one.
            if !pins.is_empty() {
                let entry = AuditEntry::checkpoint(
                    pins.iter().map(|(s, l, h)| (s, *l, hex::encode(h))),
                    now,
                );
                self.append_audit_entries(tenant, &[(entry, true)])?;
                let mut batch = sled::Batch::default();
                for (session, length, head) in &pins {
                    let mut v = length.to_be_bytes().to_vec();
                    v.extend_from_slice(head);
                    batch.insert(session_prefix(tenant, session), v);
                }
                self.checkpoints.apply_batch(batch)?;
                done.sessions += pins.len();
                done.entries += 1;
                pins.clear();
            }
            if next.is_none() || stopped {
                break;
            }
        }
        self.checkpoints.insert(&prefix, &reached.to_be_bytes())?;
        let (length, head) = self
            .audit_heads
            .get(&prefix)?
            .and_then(|v| parse_audit_head(&v))
            .unwrap_or((0, chain::GENESIS));
        done.log_length = length;
        done.log_head = hex::encode(head);
        Ok(done)
    }

    /// Whether a session's chain still holds a checkpointed length and head
    /// (its link at `length - 1` has that hash); otherwise the position in
    /// the session's chain to report (the first link missing from a chain
    /// cut short, else the pinned link) and why. A deleted session holds it
    /// when its tombstone's chain was longer, or as long with that head. One
    /// read of the link when it holds: the rest of the chain is the
    /// session's own verify's to check.
    fn pin_fault(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        pin: chain::Pin,
    ) -> anyhow::Result<Option<(u64, String)>> {
        Ok(self.pin_check(tenant, session, pin)?.0)
    }

    /// [`Store::pin_fault`], with the tombstone that holds the pin when a
    /// deleted session's does.
    fn pin_check(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        pin: chain::Pin,
    ) -> anyhow::Result<(Option<PinFault>, Option<Tombstone>)> {
        let Some(last) = pin.length.checked_sub(1) else {
            return Ok((None, None));
        };
        let mut k = session_prefix(tenant, session);
        k.extend_from_slice(&last.to_be_bytes());
        let link = self.chain.get(k)?;
        let linked = link
            .as_deref()
            .and_then(chain::decode_entry)
            .is_some_and(|e| e.hash == pin.head);
        // Read after the link: a deletion under the read shows here. (A
        // session whose summary is gone is not listed, however intact its
        // records: not there for a reader.)
        let state = self.sessions.get(session_key(tenant, session))?;
        if linked && state.is_some() {
            return Ok((None, None));
        }
        let what = format!(
            "session {session} was checkpointed at {} records ending at {}",
            pin.length,
            hex::encode(pin.head)
        );
        if let Some(v) = state {
            let state: SessionState = serde_json::from_slice(&v)?;
            let pos = if state.chain_len < pin.length {
                state.chain_len
            } else {
                last
            };
            return Ok((
                Some((
                    pos,
                    format!("{what}; its chain no longer holds them (cut short, or recomputed after an edit)"),
                )),
                None,
            ));
        }
        Ok(match self.tombstones.get(session_key(tenant, session))? {
            Some(t) => {
                let t: Tombstone = serde_json::from_slice(&t)?;
                let holds = t.chain_length > pin.length
                    || (t.chain_length == pin.length && t.chain_head == hex::encode(pin.head));
                if holds {
                    (None, Some(t))
                } else {
                    let fault = format!(
                        "{what}, but its tombstone says it was deleted at {} records ending at {}",
                        t.chain_length, t.chain_head
                    );
                    (Some((last, fault)), None)
                }
            }
            None => (
                Some((last, format!("{what}, and it is not in the store"))),
                None,
            ),
        })
    }

    /// Every stored session, of every tenant, in key order.
    pub fn session_ids(&self) -> impl Iterator<Item = anyhow::Result<(TenantId, SessionId)>> + '_ {
        self.sessions.iter().keys().map(|k| parse_session_key(&k?))
    }

    /// The tenants that have sessions or an activity log stored (one seek
    /// per tenant), in id order.
    pub fn tenants(&self) -> anyhow::Result<Vec<TenantId>> {
        let mut out: Vec<TenantId> = Vec::new();
        for tree in [&self.sessions, &self.audit_heads] {
            let mut from = Vec::new();
            while let Some(k) = tree.range(from.clone()..).keys().next() {
                let (tenant, _) = split_tenant(&k?)?;
                from = tenant_end(&tenant);
                if !out.contains(&tenant) {
                    out.push(tenant);
                }
            }
        }
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(out)
    }

    /// The length and head a session was last checkpointed at, if it was.
    fn checkpointed(
        &self,
        tenant: &TenantId,
        session: &SessionId,
    ) -> anyhow::Result<Option<chain::Pin>> {
        Ok(self
            .checkpoints
            .get(session_prefix(tenant, session))?
            .and_then(|v| parse_audit_head(&v))
            .map(|(length, head)| chain::Pin { length, head }))
    }

    /// Checks a tenant's activity log against its chain, and against `pin`
    /// (a length and head recorded outside the store) when given.
    pub fn verify_audit(
        &self,
        tenant: &TenantId,
        pin: Option<chain::Pin>,
    ) -> anyhow::Result<ChainVerification> {
        let prefix = tenant_prefix(tenant);
        let head = |store: &Store| -> anyhow::Result<(u64, Hash)> {
            Ok(store
                .audit_heads
                .get(&prefix)?
                .and_then(|v| parse_audit_head(&v))
                .unwrap_or((0, chain::GENESIS)))
        };
        let pos_key = |pos: u64| {
            let mut k = prefix.clone();
            k.extend_from_slice(&pos.to_be_bytes());
            k
        };
        let (len, head_hash) = head(self)?;
        // The `audit` keys the chain names: every stored entry must be one
        // (an entry is committed together with its link). As 16-byte
        // numbers (time and id), the size every key the collector writes
        // has: about 35 bytes an entry with the hash set's slack, 140 before.
        let mut chained = ChainedKeys::default();
        // The first checkpointed session whose chain no longer holds what
        // the log says it held (reported if the log itself checks out).
        let mut moved: Option<ChainVerification> = None;
        // Checkpointed sessions deleted since (the first checkpoint of
        // each), and what the log's deletion entries say was deleted: a
        // tombstone is written with its entry, in one transaction, so one
        // the log does not vouch for was written outside the collector.
        let mut deleted: std::collections::BTreeMap<String, (u64, Tombstone)> = Default::default();
        let mut deletions: std::collections::HashMap<String, (u64, u64, String)> =
            Default::default();
        let mut verifier = Verifier::new(tenant.as_str(), "").with_pin(pin);
        for kv in self.audit_chain.range(prefix.clone()..pos_key(len)) {
            let (k, entry) = kv?;
            let pos = k[prefix.len()..]
                .try_into()
                .ok()
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            let record = match chain::decode_entry(&entry) {
                Some(e) if e.kind == RecordKind::Audit => {
                    chained.insert(e.key);
                    let mut ak = prefix.clone();
                    ak.extend_from_slice(e.key);
                    self.audit.get(ak)?.map(|v| v.to_vec())
                }
                _ => None,
            };
            if let Err(b) = verifier.push(pos, &entry, record.as_deref()) {
                return Ok(ChainVerification::broken(b.pos, b.reason));
            }
            if let Some((session, figures)) = record.as_deref().and_then(deletion_figures) {
                deletions.insert(session, figures);
            }
            if let (None, Some(record)) = (&moved, &record) {
                for (session, pin) in checkpoint_pins(record) {
                    // A trail whose records do not read is that trail's
                    // problem: named, and the log's own check goes on.
                    let (fault, tombstone) =
                        self.pin_check(tenant, &session, pin).unwrap_or_else(|e| {
                            let why = format!("session {session}'s records do not read: {e:#}");
                            (Some((0, why)), None)
                        });
                    if let Some((_, reason)) = fault {
                        // The log holds; a trail it vouches for does not.
                        let mut v = ChainVerification::broken(pos, reason);
                        v.session_id = Some(session.to_string());
                        moved = Some(v);
                        break;
                    }
                    if let Some(t) = tombstone {
                        deleted.entry(session.to_string()).or_insert((pos, t));
                    }
                }
            }
        }
        let verified = match verifier.finish(len, &head_hash, len) {
            Ok(v) => v,
            Err(b) => return Ok(ChainVerification::broken(b.pos, b.reason)),
        };
        // Stored keys the walk did not see chained: entries stored since
        // (few), or slipped in.
        let mut unmatched: Vec<Vec<u8>> = Vec::new();
        for k in self.audit.scan_prefix(&prefix).keys() {
            let k = k?;
            let key = &k[prefix.len()..];
            if !chained.contains(key) {
                unmatched.push(key.to_vec());
            }
        }
        // Entries stored while this ran are chained past `len`: their keys
        // count as chained too (read after the scan, so they cover it).
        let (now, _) = head(self)?;
        for kv in self.audit_chain.range(pos_key(len)..pos_key(now)) {
            let (_, entry) = kv?;
            if let Some(e) = chain::decode_entry(&entry) {
                chained.insert(e.key);
                // A deletion under the check: its tombstone may have been
                // read above.
                let mut ak = prefix.clone();
                ak.extend_from_slice(e.key);
                if let Some((session, figures)) =
                    self.audit.get(ak)?.as_deref().and_then(deletion_figures)
                {
                    deletions.insert(session, figures);
                }
            }
        }
        if let Some(key) = unmatched.iter().find(|k| !chained.contains(k)) {
            let at = key
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(|b| u64::from_be_bytes(b) as i64 ^ i64::MIN);
            return Ok(ChainVerification::broken(
                len,
                format!(
                    "the log holds an entry no link covers (slipped in), dated {}",
                    at.map_or_else(|| "?".into(), crate::routes::export::iso8601)
                ),
            ));
        }
        let mut deleted: Vec<(String, (u64, Tombstone))> = deleted.into_iter().collect();
        deleted.sort_by_key(|(_, (pos, _))| *pos);
        for (session, (pos, t)) in deleted {
            if moved.as_ref().is_some_and(|m| m.first_broken <= Some(pos)) {
                break;
            }
            let said = (t.event_count, t.chain_length, t.chain_head.clone());
            if deletions.get(&session) != Some(&said) {
                let mut v = ChainVerification::broken(
                    pos,
                    format!(
                        "session {session} was checkpointed here, and its tombstone says it was deleted at {} records ending at {}, but no session.deleted entry of the activity log says so (a tombstone the collector did not write)",
                        t.chain_length, t.chain_head
                    ),
                );
                v.session_id = Some(session);
                moved = Some(v);
                break;
            }
        }
        if let Some(moved) = moved {
            return Ok(moved);
        }
        Ok(ChainVerification::valid(
            verified.length,
            hex::encode(verified.head),
        ))
    }

    /// Appends one entry to a tenant's activity log (the collector's own
    /// records of who read, exported, verified or deleted a trail). Blocking.
    pub fn append_audit(&self, tenant: &TenantId, entry: &AuditEntry) -> anyhow::Result<()> {
        self.append_audit_entries(tenant, &[(entry.clone(), true)])
            .map(|_| ())
    }

    /// A page of a tenant's activity log, newest first, continuing before the
    /// position `before` (a previous scan's `next`).
    pub fn audit(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        before: Option<&[u8]>,
        limit: usize,
    ) -> anyhow::Result<AuditScan> {
        use std::ops::Bound;
        let prefix = tenant_prefix(tenant);
        let at = |ts: i64| {
            let mut k = prefix.clone();
            k.extend_from_slice(&ts_sortable(ts).to_be_bytes());
            k
        };
        let lo = filter.from.map_or_else(|| prefix.clone(), at);
        let mut hi = match filter.to {
            Some(to) if to < i64::MAX => Bound::Excluded(at(to + 1)),
            _ => Bound::Excluded(tenant_end(tenant)),
        };
        // A cursor narrows the window, never widens it: one taken from a page
        // with other bounds does not reach past `to`.
        if let Some(before) = before {
            let mut k = prefix.clone();
            k.extend_from_slice(before);
            if matches!(&hi, Bound::Excluded(h) if k < *h) {
                hi = Bound::Excluded(k);
            }
        }
        let mut entries = Vec::new();
        let mut last = None;
        let mut examined = 0;
        for kv in self
            .audit
            .range::<Vec<u8>, _>((Bound::Included(lo), hi))
            .rev()
        {
            let (k, v) = kv?;
            last = Some(k[prefix.len()..].to_vec());
            examined += 1;
            let entry: AuditEntry = serde_json::from_slice(&v)?;
            if filter.matches(&entry) {
                entries.push(entry);
                if entries.len() == limit {
                    break;
                }
            }
            if examined == MAX_AUDIT_SCAN {
                break;
            }
        }
        let next = if entries.len() == limit || examined == MAX_AUDIT_SCAN {
            last
        } else {
            None
        };
        Ok(AuditScan { entries, next })
    }

    /// How many events the session has stored: the arrival number the next
    /// one gets (0 for an unknown session).
    pub fn arrival_count(&self, tenant: &TenantId, session: &SessionId) -> anyhow::Result<u64> {
        match self.sessions.get(session_key(tenant, session))? {
            Some(v) => Ok(serde_json::from_slice::<SessionState>(&v)?.arrivals),
            None => Ok(0),
        }
    }

    /// A session's events stored after arrival `after` (all of them for
    /// `None`), in arrival order, at most `limit`.
    pub fn arrivals_after(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        after: Option<u64>,
        limit: usize,
    ) -> anyhow::Result<Vec<(u64, EventRecord)>> {
        let prefix = session_prefix(tenant, session);
        let mut lo = prefix.clone();
        if let Some(a) = after {
            match a.checked_add(1) {
                Some(n) => lo.extend_from_slice(&n.to_be_bytes()),
                None => return Ok(Vec::new()),
            }
        }
        let mut hi = session_key(tenant, session);
        hi.push(1);
        let mut out = Vec::new();
        let mut reader = SessionReader::new(self, tenant, session);
        for kv in self.arrivals.range(lo..hi).take(limit) {
            let (k, tail) = kv?;
            let arrival = u64::from_be_bytes(
                k[prefix.len()..]
                    .try_into()
                    .context("corrupt arrivals key")?,
            );
            let mut ekey = prefix.clone();
            ekey.extend_from_slice(&tail);
            let v = self
                .events
                .get(ekey)?
                .context("arrival entry without its event")?;
            out.push((arrival, reader.event(&tail, &v)?));
        }
        Ok(out)
    }
}

/// Feeds the link stored at chain key `k` to `verifier`, with the record it
/// names.
/// What a verify checks besides the chain: the indexes reads go by. An event
/// whose `timeline` entry (the events page, filters by type and actor, CSV)
/// or `arrivals` entry (the live tail) was removed, edited or pointed
/// elsewhere would be hidden or misattributed on screen with an intact chain.
struct IndexCheck {
    /// Event links walked so far: the next one's arrival number.
    events: u64,
    /// Whether the session has an arrival per event (sessions stored before
    /// the index existed have none).
    arrivals: bool,
    /// The session summary, computed again from the chained records.
    recount: Recount,
}

/// What ingest derives into a [`SessionState`] from the records it chains,
/// derived again from the chained records in chain order, through the same
/// [`SessionState::count_event`].
/// Also what ingest keeps of the batches: the first and last collector
/// times a batch stored something (`first_seen`, `last_seen`: what session
/// lists, their time filters and retention read) and the first batch's
/// origin.
struct Recount {
    state: SessionState,
    /// Earliest and latest `received_at` of the chained records.
    seen: Option<(i64, i64)>,
    /// The first chained record's origin: `None` before any record, or when
    /// it is a gap record (those carry none).
    first_origin: Option<Option<Origin>>,
}

impl Default for Recount {
    fn default() -> Self {
        Recount {
            state: SessionState::new(0, &Origin::default()),
            seen: None,
            first_origin: None,
        }
    }
}

impl Recount {
    fn event(&mut self, r: &EventRecord, tab: &TabId) {
        self.state.count_event(r);
        self.state.tabs.insert(tab.to_string());
        self.saw(r.received_at, Some(&r.origin));
    }

    fn gap(&mut self, g: &GapRecord) {
        self.state.tabs.insert(g.tab_id.to_string());
        self.state
            .count_lost(g.to.saturating_sub(g.from).saturating_add(1));
        self.saw(g.received_at, None);
    }

    fn saw(&mut self, received_at: i64, origin: Option<&Origin>) {
        self.seen = Some(match self.seen {
            None => (received_at, received_at),
            Some((first, last)) => (first.min(received_at), last.max(received_at)),
        });
        if self.first_origin.is_none() {
            self.first_origin = Some(origin.cloned());
        }
    }

    /// Puts the derived fields in `state`.
    fn apply(self, state: &mut SessionState) {
        let d = self.state;
        state.event_count = d.event_count;
        state.tabs = d.tabs;
        state.actors = d.actors;
        state.lost_events = d.lost_events;
        state.first_ts = d.first_ts;
        state.last_ts = d.last_ts;
        state.page_changes = d.page_changes;
        state.urls = d.urls;
        state.last_url = d.last_url;
        state.last_url_ts = d.last_url_ts;
    }

    /// Which summary field disagrees with the records, if any.
    fn disagrees(&self, state: &SessionState) -> Option<String> {
        let differs = |field: &str, stored: String, counted: String| {
            Some(format!(
                "the session summary's {field} ({stored}) disagrees with its chained records \
                 ({counted})"
            ))
        };
        let d = &self.state;
        if let Some(seen) = self
            .seen
            .filter(|s| *s != (state.first_seen, state.last_seen))
        {
            return differs(
                "first and last seen",
                format!("{:?}", (state.first_seen, state.last_seen)),
                format!("{seen:?}"),
            );
        }
        if let Some(Some(origin)) = &self.first_origin {
            if *origin != state.origin {
                return differs(
                    "origin",
                    format!("{:?}", state.origin),
                    format!("{origin:?}"),
                );
            }
        }
        if state.event_count != d.event_count {
            differs(
                "event count",
                state.event_count.to_string(),
                d.event_count.to_string(),
            )
        } else if state.lost_events != d.lost_events {
            differs(
                "lost events",
                state.lost_events.to_string(),
                d.lost_events.to_string(),
            )
        } else if state.actors != d.actors {
            differs(
                "actors",
                format!("{:?}", state.actors),
                format!("{:?}", d.actors),
            )
        } else if state.tabs != d.tabs {
            differs("tabs", format!("{:?}", state.tabs), format!("{:?}", d.tabs))
        } else if (state.first_ts, state.last_ts) != (d.first_ts, d.last_ts) {
            differs(
                "time span",
                format!("{:?}", (state.first_ts, state.last_ts)),
                format!("{:?}", (d.first_ts, d.last_ts)),
            )
        } else if state.page_changes != d.page_changes || state.urls != d.urls {
            differs(
                "pages",
                format!("{} changes, {:?}", state.page_changes, state.urls),
                format!("{} changes, {:?}", d.page_changes, d.urls),
            )
        } else if state.last_url != d.last_url {
            differs(
                "last page",
                format!("{:?}", state.last_url),
                format!("{:?}", d.last_url),
            )
        } else {
            None
        }
    }
}

impl IndexCheck {
    /// Why the indexes disagree with a chained event record, if they do.
    fn fault(
        &mut self,
        reader: &SessionReader<'_>,
        key: &[u8],
        record: &[u8],
    ) -> anyhow::Result<Option<String>> {
        let arrival = self.events;
        self.events += 1;
        let Ok(r) = serde_json::from_slice::<EventRecord>(record) else {
            return Ok(None);
        };
        // The tab the key names (what ingest indexed by), not the record's.
        let tab = key
            .split(|b| *b == 0)
            .next()
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| TabId::parse(t).ok());
        let Some(tab) = tab else {
            return Ok(None);
        };
        self.recount.event(&r, &tab);
        let mut tkey = reader.prefix.clone();
        tkey.extend(timeline_suffix(r.event.ts, &tab, r.event.seq));
        let codes = [
            type_code(r.event.event_type()),
            actor_code(r.event.actor.kind()),
        ];
        if reader.store.timeline.get(&tkey)?.as_deref() != Some(&codes[..]) {
            return Ok(Some(
                "the event's timeline entry (what pages of events, their filters and exports \
                 read) is missing or altered"
                    .into(),
            ));
        }
        if self.arrivals {
            let mut akey = reader.prefix.clone();
            akey.extend_from_slice(&arrival.to_be_bytes());
            if reader.store.arrivals.get(&akey)?.as_deref() != Some(key) {
                return Ok(Some(format!(
                    "arrival {arrival} (what the live tail replays) does not name this event"
                )));
            }
        }
        Ok(None)
    }
}

fn push_link(
    verifier: &mut Verifier<'_>,
    reader: &mut SessionReader<'_>,
    index: &mut IndexCheck,
    k: &[u8],
    entry: &[u8],
) -> anyhow::Result<Result<(), chain::Broken>> {
    let Some(pos) = k[reader.prefix.len()..]
        .try_into()
        .ok()
        .map(u64::from_be_bytes)
    else {
        let pos = verifier.position();
        return Ok(Err(chain::Broken {
            pos,
            reason: format!("a chain key after entry {pos} is corrupt"),
        }));
    };
    let decoded = chain::decode_entry(entry);
    let record = match &decoded {
        Some(e) => reader.linked_record(e.kind, e.key)?,
        None => None,
    };
    let pushed = verifier.push(pos, entry, record.as_deref());
    if let (Ok(()), Some(e), Some(record)) = (&pushed, &decoded, &record) {
        match e.kind {
            RecordKind::Event => {
                if let Some(reason) = index.fault(reader, e.key, record)? {
                    return Ok(Err(chain::Broken { pos, reason }));
                }
            }
            // (No record is linked for it: `linked_record`.)
            RecordKind::Audit => {}
            RecordKind::Gap => {
                if let Ok(g) = serde_json::from_slice::<GapRecord>(record) {
                    index.recount.gap(&g);
                }
            }
        }
    }
    Ok(pushed)
}

/// Reads one session's records back as their chain links hashed them (an
/// event's JSON rebuilt from its stored form, see [`compact`]), reading each
/// origin record once per scan.
struct SessionReader<'a> {
    store: &'a Store,
    session: &'a SessionId,
    /// The session's key prefix.
    prefix: Vec<u8>,
    /// Origin records read so far, by digest (`None`: not stored).
    origins: std::collections::HashMap<compact::OriginDigest, Option<Vec<u8>>>,
}

impl<'a> SessionReader<'a> {
    fn new(store: &'a Store, tenant: &TenantId, session: &'a SessionId) -> Self {
        SessionReader {
            store,
            session,
            prefix: session_prefix(tenant, session),
            origins: Default::default(),
        }
    }

    /// The record a chain entry names (`key`: `tab 0x00 n`): `None` when it
    /// is not stored (or is an event whose origin record is gone).
    fn linked_record(&mut self, kind: RecordKind, key: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
        let mut rkey = self.prefix.clone();
        rkey.extend_from_slice(key);
        Ok(match kind {
            RecordKind::Event => match self.store.events.get(&rkey)? {
                Some(stored) => self.event_json(key, &stored)?,
                None => None,
            },
            RecordKind::Gap => self.store.gaps.get(&rkey)?.map(|r| r.to_vec()),
            // Activity-log links are never a session's: such an entry in a
            // session's chain names nothing there (verify: missing record).
            RecordKind::Audit => None,
        })
    }

    /// An event's JSON from what `events` stores under `key` (`tab 0x00
    /// seq`, after the session prefix); `None` when its origin record is
    /// missing.
    fn event_json(&mut self, key: &[u8], stored: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(digest) = compact::referenced_origin(stored) else {
            return Ok(Some(stored.to_vec()));
        };
        let tab = key
            .len()
            .checked_sub(9)
            .and_then(|end| std::str::from_utf8(&key[..end]).ok())
            .context("corrupt event key")?;
        if let std::collections::hash_map::Entry::Vacant(e) = self.origins.entry(digest) {
            let mut okey = self.prefix.clone();
            okey.extend_from_slice(&digest);
            e.insert(self.store.origins.get(okey)?.map(|v| v.to_vec()));
        }
        Ok(compact::expand(stored, self.session.as_str(), tab, |d| {
            self.origins.get(d).cloned().flatten()
        }))
    }

    /// [`SessionReader::event_json`], parsed; a missing origin record is an
    /// error.
    fn event(&mut self, key: &[u8], stored: &[u8]) -> anyhow::Result<EventRecord> {
        let full = self
            .event_json(key, stored)?
            .context("event without its origin record")?;
        Ok(serde_json::from_slice(&full)?)
    }
}

/// One record's keys and values, ready for the insert transaction.
struct Encoded {
    ekey: Vec<u8>,
    /// The record's JSON: what its chain link hashes and reads serve.
    value: Vec<u8>,
    /// What is stored when it is not `value` itself (see [`compact`]).
    stored: Option<Vec<u8>>,
    tkey: Vec<u8>,
    codes: [u8; 2],
}

fn abort(e: serde_json::Error) -> ConflictableTransactionError<anyhow::Error> {
    ConflictableTransactionError::Abort(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_keys_hold_the_usual_and_other_keys_apart() {
        let mut keys = ChainedKeys::default();
        let usual = [7u8; 16];
        let mut near = usual;
        near[15] = 8;
        keys.insert(&usual);
        keys.insert(b"short");
        assert!(keys.contains(&usual) && keys.contains(b"short"));
        assert!(!keys.contains(&near) && !keys.contains(b"shor") && !keys.contains(&[7u8; 17]));
        assert_eq!((keys.usual.len(), keys.other.len()), (1, 1));
    }

    /// Who deletes in these tests.
    fn root() -> DeletedBy {
        DeletedBy {
            user: UserId::parse("root").unwrap(),
            origin: Origin::default(),
        }
    }

    fn ten() -> TenantId {
        TenantId::parse("acme").unwrap()
    }
    fn sid(s: &str) -> SessionId {
        SessionId::parse(s).unwrap()
    }
    fn tid(s: &str) -> TabId {
        TabId::parse(s).unwrap()
    }

    fn record(session: &SessionId, seq: u64) -> EventRecord {
        let event: shared::Event = serde_json::from_value(serde_json::json!({
            "seq": seq, "ts": seq, "mono": seq, "actor": {"kind": "customer"},
            "type": "CLICK", "data": {"target": {"tag": "button", "path": "button"}}
        }))
        .unwrap();
        EventRecord {
            session_id: session.clone(),
            tab_id: tid("t"),
            received_at: 0,
            origin: Origin::default(),
            event,
        }
    }

    fn put(store: &Store, session: &str, received_at: i64, seqs: std::ops::Range<u64>) -> Inserted {
        put_from(store, session, received_at, &Origin::default(), seqs, &[])
    }

    /// One batch of tab `t` of tenant `acme`: clicks at `seqs` and `gaps`,
    /// from `origin`, stamped with the batch's time as ingest stamps them.
    fn put_from(
        store: &Store,
        session: &str,
        received_at: i64,
        origin: &Origin,
        seqs: std::ops::Range<u64>,
        gaps: &[GapRecord],
    ) -> Inserted {
        let s = sid(session);
        let records: Vec<_> = seqs
            .map(|q| EventRecord {
                received_at,
                origin: origin.clone(),
                ..record(&s, q)
            })
            .collect();
        store
            .insert(Ingest {
                tenant: &ten(),
                session: &s,
                tab: &tid("t"),
                received_at,
                origin,
                records: &records,
                gaps,
            })
            .unwrap()
    }

    /// A deletion's purge can run under a read that found the session live:
    /// the read then fails (a timeline entry without its event), or a verify
    /// that started before sees a chain that seems cut. Read through `unless_deleted`, as the routes do,
    /// it is the deletion (410), not a 500 or a false "tampered".
    #[test]
    fn a_read_cut_by_a_purge_is_answered_as_the_deletion() {
        use crate::routes::sessions::unless_deleted;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "gone", 1, 0..4);
        let (t, s) = (ten(), sid("gone"));
        let live = unless_deleted(&store, &t, &s, Err::<(), _>(anyhow::anyhow!("disk")));
        assert!(live.is_err(), "a live session's failed read stays an error");
        // The deletion lands between the status read and the scan: tombstone,
        // then the purge's first tree (events) only.
        store
            .tombstone(&t, &s, "deleted by root", &root(), 5)
            .unwrap()
            .unwrap();
        let prefix = session_prefix(&t, &s);
        for k in store.events.scan_prefix(&prefix).keys() {
            store.events.remove(k.unwrap()).unwrap();
        }
        let read = store.events(&t, &s, &EventFilter::default(), None, false, 10);
        assert!(
            read.is_err(),
            "the scan meets timeline entries without events"
        );
        assert!(matches!(
            unless_deleted(&store, &t, &s, read),
            Ok(Err(SessionStatus::Deleted(_)))
        ));
        // Whatever a verify that started before the tombstone computed.
        assert!(matches!(
            unless_deleted(&store, &t, &s, Ok("valid: false")),
            Ok(Err(SessionStatus::Deleted(_)))
        ));
    }

    /// Reads go by the `timeline` and `arrivals` indexes; verify checks them
    /// against the chained events, so an edited index cannot hide, add or
    /// re-attribute a row while the chain checks out.
    #[test]
    fn verify_reports_indexes_that_disagree_with_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "ix", 1, 0..4);
        let (t, s) = (ten(), sid("ix"));
        let valid = |store: &Store| store.verify(&t, &s).unwrap().unwrap().valid;
        assert!(valid(&store));
        let prefix = session_prefix(&t, &s);
        let first = |tree: &sled::Tree| {
            let (k, v) = tree.scan_prefix(&prefix).next().unwrap().unwrap();
            (k.to_vec(), v.to_vec())
        };
        let (tk, tv) = first(&store.timeline);
        let (ak, av) = first(&store.arrivals);
        // Each tampering, then the store put back as it was.
        type Edit<'a> = Box<dyn Fn(&Store) + 'a>;
        let cases: Vec<(&str, Edit, Edit)> = vec![
            (
                "a timeline entry removed",
                Box::new(|st| {
                    st.timeline.remove(&tk).unwrap();
                }),
                Box::new(|st| {
                    st.timeline.insert(&tk, tv.clone()).unwrap();
                }),
            ),
            (
                "a customer's click re-attributed to an agent",
                Box::new(|st| {
                    st.timeline
                        .insert(&tk, &[tv[0], actor_code("agent")][..])
                        .unwrap();
                }),
                Box::new(|st| {
                    st.timeline.insert(&tk, tv.clone()).unwrap();
                }),
            ),
            (
                "a timeline row added",
                Box::new(|st| {
                    let mut k = prefix.clone();
                    k.extend(timeline_suffix(99, &tid("t"), 99));
                    st.timeline.insert(k, tv.clone()).unwrap();
                }),
                Box::new(|st| {
                    let mut k = prefix.clone();
                    k.extend(timeline_suffix(99, &tid("t"), 99));
                    st.timeline.remove(k).unwrap();
                }),
            ),
            (
                "an arrival pointed at another event",
                Box::new(|st| {
                    let (_, other) = st.arrivals.scan_prefix(&prefix).nth(1).unwrap().unwrap();
                    st.arrivals.insert(&ak, other).unwrap();
                }),
                Box::new(|st| {
                    st.arrivals.insert(&ak, av.clone()).unwrap();
                }),
            ),
            (
                "an arrival removed",
                Box::new(|st| {
                    st.arrivals.remove(&ak).unwrap();
                }),
                Box::new(|st| {
                    st.arrivals.insert(&ak, av.clone()).unwrap();
                }),
            ),
        ];
        for (what, tamper, restore) in cases {
            tamper(&store);
            let v = store.verify(&t, &s).unwrap().unwrap();
            assert!(!v.valid, "{what}: {v:?}");
            restore(&store);
            assert!(valid(&store), "{what}: put back");
        }
    }

    /// A store's own head cannot show a chain rebuilt or cut short by someone
    /// who can write the store; a length and head kept elsewhere (a pin) can.
    #[test]
    fn a_pin_kept_elsewhere_shows_a_rebuilt_or_cut_chain() {
        use shared::audit::{AccessAction, AuditEntry};
        let open = || {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 4).unwrap();
            (dir, store)
        };
        let (t, s) = (ten(), sid("p"));
        let pin_of = |v: ChainVerification| {
            assert!(v.valid, "{v:?}");
            let mut head = [0u8; 32];
            hex::decode_to_slice(v.head.unwrap(), &mut head).unwrap();
            chain::Pin {
                length: v.length.unwrap(),
                head,
            }
        };
        // The trail as stored, pinned after its first batch, then grown.
        let (_d, store) = open();
        put(&store, "p", 1_000, 0..4);
        let pin = pin_of(store.verify(&t, &s).unwrap().unwrap());
        assert_eq!(pin.length, 4);
        put(&store, "p", 2_000, 4..8);
        let v = store.verify_pinned(&t, &s, Some(pin)).unwrap().unwrap();
        assert!(v.valid && v.length == Some(8), "{v:?}");
        let wrong = chain::Pin {
            head: [7; 32],
            ..pin
        };
        let v = store.verify_pinned(&t, &s, Some(wrong)).unwrap().unwrap();
        assert_eq!(v.first_broken, Some(3), "{v:?}");

        // The same trail rebuilt with its first events' receive time set
        // back: consistent in itself, so only the pin tells.
        let (_d, rebuilt) = open();
        put(&rebuilt, "p", 900, 0..4);
        put(&rebuilt, "p", 2_000, 4..8);
        assert!(rebuilt.verify(&t, &s).unwrap().unwrap().valid);
        let v = rebuilt.verify_pinned(&t, &s, Some(pin)).unwrap().unwrap();
        assert!(!v.valid && v.first_broken == Some(3), "{v:?}");
        assert!(v.reason.unwrap().contains("first 4 records"));

        // Cut short to its first two events, head and summary to match.
        let (_d, cut) = open();
        put(&cut, "p", 1_000, 0..2);
        assert!(cut.verify(&t, &s).unwrap().unwrap().valid);
        let v = cut.verify_pinned(&t, &s, Some(pin)).unwrap().unwrap();
        assert!(!v.valid && v.first_broken == Some(2), "{v:?}");
        assert!(v.reason.unwrap().contains("fewer than the 4"));

        // The activity log takes a pin the same way.
        let entry = |at: i64| {
            AuditEntry::access(
                shared::UserId::parse("ana").unwrap(),
                AccessAction::Viewed,
                &s,
                Origin::default(),
                at,
            )
        };
        for at in [10, 20] {
            store.append_audit(&t, &entry(at)).unwrap();
        }
        let pin = pin_of(store.verify_audit(&t, None).unwrap());
        store.append_audit(&t, &entry(30)).unwrap();
        let v = store.verify_audit(&t, Some(pin)).unwrap();
        assert!(v.valid && v.length == Some(3), "{v:?}");
        for at in [10, 21, 30] {
            rebuilt.append_audit(&t, &entry(at)).unwrap();
        }
        assert!(rebuilt.verify_audit(&t, None).unwrap().valid);
        let v = rebuilt.verify_audit(&t, Some(pin)).unwrap();
        assert!(!v.valid && v.first_broken == Some(1), "{v:?}");
        let v = cut.verify_audit(&t, Some(pin)).unwrap();
        assert!(!v.valid && v.first_broken == Some(0), "{v:?}");
    }

    /// Checkpoints write each changed session's chain into the activity log
    /// once; the log's check then holds every trail to them, and a session's
    /// own verify to its last one.
    #[test]
    fn checkpoints_pin_trails_to_the_activity_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        let t = ten();
        let other = TenantId::parse("other").unwrap();
        put(&store, "a", 1_000, 0..4);
        put(&store, "b", 1_000, 0..2);
        assert_eq!(store.tenants().unwrap(), vec![t.clone()]);
        let c = store.checkpoint(&t, 2_000).unwrap();
        assert_eq!((c.sessions, c.entries, c.log_length), (2, 1, 1), "{c:?}");
        let collector = AuditFilter {
            collector: true,
            ..AuditFilter::default()
        };
        let log = store.audit(&t, &collector, None, 10).unwrap();
        let entry = &log.entries[0];
        assert_eq!(entry.action.as_deref(), Some("sessions.checkpointed"));
        assert_eq!(entry.user_id.as_str(), "collector");
        let after = entry.change.as_ref().unwrap().after.as_ref().unwrap();
        assert_eq!(after["a"]["length"], 4);
        assert_eq!(
            after["a"]["head"],
            store.verify(&t, &sid("a")).unwrap().unwrap().head.unwrap()
        );
        assert_eq!(
            c.log_head,
            store.verify_audit(&t, None).unwrap().head.unwrap()
        );
        // A run writes at most so many; the next goes on where it stopped.
        let (_d, big) = {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 4).unwrap();
            (dir, store)
        };
        for i in 0..7 {
            put(&big, &format!("s{i}"), 1_000 + i, 0..1);
        }
        let runs: Vec<usize> = (0..4)
            .map(|r| big.checkpoint_at_most(&t, 2_000 + r, 3).unwrap().sessions)
            .collect();
        assert_eq!(runs, [3, 3, 1, 0]);
        assert!(big.verify_audit(&t, None).unwrap().valid);
        // Nothing new: nothing written. One session grew: it alone.
        assert_eq!(store.checkpoint(&t, 3_000).unwrap().entries, 0);
        put(&store, "a", 3_500, 4..6);
        let c = store.checkpoint(&t, 4_000).unwrap();
        assert_eq!((c.sessions, c.entries), (1, 1), "{c:?}");
        assert_eq!(store.checkpoint(&other, 4_000).unwrap().entries, 0);
        assert!(store.verify_audit(&t, None).unwrap().valid);
        assert!(store.verify(&t, &sid("a")).unwrap().unwrap().valid);

        // Someone who can write the store rebuilds trail `a` with its first
        // events' times set back: consistent in itself.
        let wipe = |session: &str, keep_checkpoint: bool| {
            let s = sid(session);
            let saved = store.checkpoints.get(session_prefix(&t, &s)).unwrap();
            store.purge(&session_prefix(&t, &s)).unwrap();
            store.sessions.remove(session_key(&t, &s)).unwrap();
            for k in store.activity.scan_prefix(tenant_prefix(&t)).keys() {
                let k = k.unwrap();
                if k.ends_with(session.as_bytes()) {
                    store.activity.remove(k).unwrap();
                }
            }
            if let (true, Some(v)) = (keep_checkpoint, saved) {
                store.checkpoints.insert(session_prefix(&t, &s), v).unwrap();
            }
        };
        wipe("a", true);
        put(&store, "a", 900, 0..4);
        put(&store, "a", 3_500, 4..6);
        // Its own verify holds it to its last checkpoint.
        let v = store.verify(&t, &sid("a")).unwrap().unwrap();
        assert!(!v.valid && v.first_broken == Some(5), "{v:?}");
        assert!(v.reason.unwrap().contains("checkpointed at 6 records"));
        // Grown since, it is not checkpointed again: a new pin would vouch
        // for what replaced the trail.
        put(&store, "a", 5_000, 6..7);
        assert_eq!(store.checkpoint(&t, 6_000).unwrap().sessions, 0);
        assert_eq!(
            store.checkpointed(&t, &sid("a")).unwrap().unwrap().length,
            6
        );
        assert!(!store.verify(&t, &sid("a")).unwrap().unwrap().valid);
        // Its last checkpoint removed too, the session's verify cannot tell,
        // but the log's check can: its entries are chained.
        wipe("a", false);
        put(&store, "a", 900, 0..4);
        put(&store, "a", 3_500, 4..6);
        assert!(store.verify(&t, &sid("a")).unwrap().unwrap().valid);
        let v = store.verify_audit(&t, None).unwrap();
        assert!(!v.valid && v.first_broken == Some(0), "{v:?}");
        assert_eq!(
            v.session_id.as_deref(),
            Some("a"),
            "the trail, not the log, broke"
        );
        assert!(v
            .reason
            .unwrap()
            .contains("session a was checkpointed at 4 records"));

        // A session that vanished without a tombstone is reported; one
        // deleted (with its tombstone) is not.
        let (_d, store2) = {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 4).unwrap();
            (dir, store)
        };
        put(&store2, "a", 1_000, 0..4);
        put(&store2, "b", 1_000, 0..2);
        store2.checkpoint(&t, 2_000).unwrap();
        store2
            .delete(&t, &sid("a"), "admin", &root(), 3_000)
            .unwrap()
            .unwrap();
        assert!(store2.verify_audit(&t, None).unwrap().valid);
        store2.sessions.remove(session_key(&t, &sid("b"))).unwrap();
        let v = store2.verify_audit(&t, None).unwrap();
        assert!(!v.valid, "{v:?}");
        assert!(v.reason.unwrap().contains("not in the store"));

        // A deletion's entry is written with its tombstone; a tombstone
        // written without one (someone who can write the store removing a
        // checkpointed trail, however long its tombstone says it was), or
        // edited after, is reported.
        let (_d, store3) = {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 4).unwrap();
            (dir, store)
        };
        for s in ["a", "c", "d"] {
            put(&store3, s, 1_000, 0..4);
        }
        store3.checkpoint(&t, 2_000).unwrap();
        let tomb = store3
            .delete(&t, &sid("a"), "admin", &root(), 3_000)
            .unwrap()
            .unwrap();
        let log = store3.audit(&t, &collector, None, 10).unwrap();
        let deletion = &log.entries[0];
        assert_eq!(deletion.action.as_deref(), Some("session.deleted"));
        assert_eq!(deletion.user_id.as_str(), "root");
        let before = deletion.change.as_ref().unwrap().before.as_ref().unwrap();
        assert_eq!(before["chain_length"], 4);
        assert_eq!(before["chain_head"], tomb.chain_head.as_str());
        assert!(store3.verify_audit(&t, None).unwrap().valid);
        let forge = |session: &str, length: u64| {
            let s = sid(session);
            store3.purge(&session_prefix(&t, &s)).unwrap();
            store3.sessions.remove(session_key(&t, &s)).unwrap();
            let forged = Tombstone {
                session_id: s.clone(),
                deleted_at: 3_000,
                reason: "retention".into(),
                event_count: length,
                chain_length: length,
                chain_head: hex::encode([7u8; chain::HASH_LEN]),
            };
            store3
                .tombstones
                .insert(session_key(&t, &s), serde_json::to_vec(&forged).unwrap())
                .unwrap();
        };
        forge("c", 9);
        let v = store3.verify_audit(&t, None).unwrap();
        assert!(!v.valid && v.first_broken == Some(0), "{v:?}");
        assert_eq!(v.session_id.as_deref(), Some("c"));
        assert!(
            v.reason
                .as_deref()
                .unwrap()
                .contains("its tombstone says it was deleted at 9 records ending at 0707")
                && v.reason
                    .as_deref()
                    .unwrap()
                    .contains("no session.deleted entry"),
            "{v:?}"
        );
        // The real deletion's tombstone edited: reported as well.
        let (_d, store4) = {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 4).unwrap();
            (dir, store)
        };
        put(&store4, "a", 1_000, 0..4);
        store4.checkpoint(&t, 2_000).unwrap();
        let mut tomb = store4
            .delete(&t, &sid("a"), "admin", &root(), 3_000)
            .unwrap()
            .unwrap();
        assert!(store4.verify_audit(&t, None).unwrap().valid);
        // Its chain length, or its event count alone, edited.
        for (chain_length, event_count) in [(12, tomb.event_count), (4, 3)] {
            (tomb.chain_length, tomb.event_count) = (chain_length, event_count);
            store4
                .tombstones
                .insert(
                    session_key(&t, &sid("a")),
                    serde_json::to_vec(&tomb).unwrap(),
                )
                .unwrap();
            let v = store4.verify_audit(&t, None).unwrap();
            assert!(!v.valid && v.session_id.as_deref() == Some("a"), "{v:?}");
        }
    }

    /// A checkpointed session an earlier version deleted without its
    /// activity-log entry gets one when the store opens, once; a log head
    /// that does not read stops a deletion rather than chaining over it.
    #[test]
    fn deletions_an_earlier_version_left_out_of_the_log_are_entered_once() {
        let dir = tempfile::tempdir().unwrap();
        let t = ten();
        let collector = AuditFilter {
            collector: true,
            ..AuditFilter::default()
        };
        {
            let store = Store::open(dir.path(), 4).unwrap();
            put(&store, "old", 1_000, 0..3);
            put(&store, "kept", 1_000, 0..2);
            store.checkpoint(&t, 2_000).unwrap();
            // The earlier version's order: the tombstone, then (here never)
            // its entry.
            let s = sid("old");
            let state: SessionState =
                serde_json::from_slice(&store.sessions.get(session_key(&t, &s)).unwrap().unwrap())
                    .unwrap();
            let old = Tombstone {
                session_id: s.clone(),
                deleted_at: 2_500,
                reason: "retention".into(),
                event_count: state.event_count,
                chain_length: state.chain_len,
                chain_head: hex::encode(state.chain_head),
            };
            store.purge(&session_prefix(&t, &s)).unwrap();
            store.sessions.remove(session_key(&t, &s)).unwrap();
            store
                .tombstones
                .insert(session_key(&t, &s), serde_json::to_vec(&old).unwrap())
                .unwrap();
            let v = store.verify_audit(&t, None).unwrap();
            assert!(!v.valid && v.session_id.as_deref() == Some("old"), "{v:?}");
            // As a store from before the entries were written with tombstones.
            store
                .db
                .open_tree("meta")
                .unwrap()
                .remove("deletion_entries")
                .unwrap();
            store.db.flush().unwrap();
        }
        let entered = |store: &Store| {
            store
                .audit(&t, &collector, None, 10)
                .unwrap()
                .entries
                .into_iter()
                .filter(|e| e.action.as_deref() == Some("session.deleted"))
                .collect::<Vec<_>>()
        };
        {
            let store = Store::open(dir.path(), 4).unwrap();
            assert!(store.verify_audit(&t, None).unwrap().valid);
            let e = entered(&store);
            assert_eq!(e.len(), 1, "{e:?}");
            assert_eq!(e[0].user_id.as_str(), "collector-upgrade");
            assert_eq!(e[0].occurred_at, 2_500);
            assert_eq!(e[0].entity.as_ref().map(|e| e.id.as_str()), Some("old"));
        }
        let store = Store::open(dir.path(), 4).unwrap();
        assert_eq!(entered(&store).len(), 1, "entered once");

        // A log head that does not read: the deletion is refused whole.
        store
            .audit_heads
            .insert(tenant_prefix(&t), &b"garbage"[..])
            .unwrap();
        let err = store
            .delete(&t, &sid("kept"), "admin", &root(), 3_000)
            .unwrap_err();
        assert!(err.to_string().contains("head does not read"), "{err:#}");
        assert!(store
            .sessions
            .get(session_key(&t, &sid("kept")))
            .unwrap()
            .is_some());
        assert!(store
            .tombstones
            .get(session_key(&t, &sid("kept")))
            .unwrap()
            .is_none());
    }

    #[test]
    fn events_are_stored_without_their_repeated_parts_and_read_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        let s = sid("9c1e0d4e-2b51-4c0e-9f0e-6c0f4b9b2a11");
        let customer = Origin {
            ip: Some("203.0.113.9".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) CustomerBrowser/131.0".into()),
        };
        let agent = Origin {
            ip: Some("198.51.100.7".into()),
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0) AgentConsole/9.1".into()),
        };
        let mut sent = Vec::new();
        for (tab, origin, seqs, at) in [
            ("tab-c", &customer, 0..3, 100),
            ("tab-a", &agent, 0..2, 200),
            ("tab-c", &customer, 3..5, 300),
        ] {
            let records: Vec<EventRecord> = seqs
                .map(|q| EventRecord {
                    tab_id: tid(tab),
                    received_at: at,
                    origin: origin.clone(),
                    ..record(&s, q)
                })
                .collect();
            store
                .insert(Ingest {
                    tenant: &ten(),
                    session: &s,
                    tab: &tid(tab),
                    received_at: at,
                    origin,
                    records: &records,
                    gaps: &[],
                })
                .unwrap();
            sent.extend(records);
        }
        let prefix = session_prefix(&ten(), &s);
        // One origin record per origin, however many events it sent.
        assert_eq!(keys_under(&store.origins, &prefix), 2);
        for kv in store.events.scan_prefix(&prefix) {
            let stored = String::from_utf8(kv.unwrap().1.to_vec()).unwrap();
            assert!(
                !stored.contains("Mozilla")
                    && !stored.contains(s.as_str())
                    && !stored.contains("tab-"),
                "{stored}"
            );
        }
        // Reads, the live tail's arrivals and the chain see the full records.
        let mut read = store
            .events(&ten(), &s, &EventFilter::default(), None, false, 100)
            .unwrap()
            .events;
        let key = |r: &EventRecord| (r.tab_id.to_string(), r.event.seq);
        read.sort_by_key(key);
        let mut want = sent.clone();
        want.sort_by_key(key);
        assert_eq!(read, want);
        let arrivals: Vec<EventRecord> = store
            .arrivals_after(&ten(), &s, None, 100)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(arrivals, sent);
        let chained = store.chained_records(&ten(), &s, 0, 100, 100).unwrap();
        let bytes: Vec<Vec<u8>> = chained.into_iter().map(|c| c.record.unwrap()).collect();
        let sent_bytes: Vec<Vec<u8>> = sent
            .iter()
            .map(|r| serde_json::to_vec(r).unwrap())
            .collect();
        assert_eq!(bytes, sent_bytes, "exports carry the JSON the links hashed");
        assert!(store.verify(&ten(), &s).unwrap().unwrap().valid);
        // A record stored whole (as a collector before the compact form did)
        // reads and verifies the same.
        let first = event_key(&ten(), &s, &tid("tab-c"), 0);
        store
            .events
            .insert(&first, serde_json::to_vec(&sent[0]).unwrap())
            .unwrap();
        assert_eq!(
            store.arrivals_after(&ten(), &s, None, 1).unwrap()[0].1,
            sent[0]
        );
        assert!(store.verify(&ten(), &s).unwrap().unwrap().valid);
        // An origin record edited or lost breaks the chain at the first event
        // that refers to it (the agent's, stored fourth).
        let mut okey = prefix.clone();
        okey.extend_from_slice(&compact::origin_digest(
            &serde_json::to_vec(&agent).unwrap(),
        ));
        let forged = serde_json::to_vec(&Origin {
            ip: Some("192.0.2.1".into()),
            ..agent.clone()
        })
        .unwrap();
        let original = store.origins.insert(&okey, forged).unwrap().unwrap();
        let v = store.verify(&ten(), &s).unwrap().unwrap();
        assert_eq!((v.valid, v.first_broken), (false, Some(3)), "{v:?}");
        store.origins.remove(&okey).unwrap();
        let v = store.verify(&ten(), &s).unwrap().unwrap();
        assert_eq!((v.valid, v.first_broken), (false, Some(3)), "{v:?}");
        assert!(store.arrivals_after(&ten(), &s, None, 100).is_err());
        store.origins.insert(&okey, original).unwrap();
        assert!(store.verify(&ten(), &s).unwrap().unwrap().valid);
        // A record naming another tab than its key is stored whole: reads
        // could not rebuild it from the key.
        let odd = EventRecord {
            tab_id: tid("tab-y"),
            ..record(&s, 9)
        };
        store
            .insert(Ingest {
                tenant: &ten(),
                session: &s,
                tab: &tid("tab-x"),
                received_at: 0,
                origin: &Origin::default(),
                records: std::slice::from_ref(&odd),
                gaps: &[],
            })
            .unwrap();
        let raw = store
            .events
            .get(event_key(&ten(), &s, &tid("tab-x"), 9))
            .unwrap()
            .unwrap();
        assert_eq!(raw.as_ref(), serde_json::to_vec(&odd).unwrap().as_slice());
        assert!(store.verify(&ten(), &s).unwrap().unwrap().valid);
        // Deleting the session purges its origins with its events.
        store
            .delete(&ten(), &s, "deleted by root", &root(), 400)
            .unwrap()
            .unwrap();
        assert_eq!(keys_under(&store.origins, &prefix), 0);
    }

    fn keys_under(tree: &sled::Tree, prefix: &[u8]) -> usize {
        tree.scan_prefix(prefix).count()
    }

    /// Every page of a listing, following `next`, as session ids.
    fn all_pages(store: &Store, filter: &SessionFilter, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .sessions_page(&ten(), filter, before.as_deref(), limit)
                .unwrap();
            pages.push(
                page.items
                    .iter()
                    .map(|s| s.session_id.as_str().to_owned())
                    .collect(),
            );
            match page.next {
                Some(n) => before = Some(n),
                None => return pages,
            }
        }
    }

    #[test]
    fn sessions_are_listed_by_last_activity_in_pages_that_follow_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "a", 10, 0..1);
        put(&store, "b", 20, 0..1);
        put(&store, "c", 20, 0..1);
        put(&store, "d", 5, 0..1);
        // New activity moves a session to the front, and only a batch that
        // stores something is activity: an all-duplicate re-send is not.
        put(&store, "a", 30, 1..2);
        put(&store, "d", 40, 0..1);
        let all = SessionFilter::default();
        // Newest first; ties (b, c at 20) by greater session id first, as before.
        assert_eq!(all_pages(&store, &all, 100), [["a", "c", "b", "d"]]);
        assert_eq!(all_pages(&store, &all, 3), [vec!["a", "c", "b"], vec!["d"]]);
        assert_eq!(all_pages(&store, &all, 2), [["a", "c"], ["b", "d"]]);
        // One entry per session: moving to the front removed the old one.
        assert_eq!(store.activity.len(), 4);
        // A `from` bound ends the scan; filters never leave an empty last page.
        let recent = SessionFilter {
            from: Some(15),
            ..SessionFilter::default()
        };
        assert_eq!(all_pages(&store, &recent, 1), [["a"], ["c"], ["b"]]);
        let only_b = SessionFilter {
            text: Some("B".into()),
            ..SessionFilter::default()
        };
        assert_eq!(all_pages(&store, &only_b, 1), [["b"]]);
    }

    /// A cursor handed out under other bounds (or none) narrows this
    /// request's `from`/`to` window, never widens it.
    #[test]
    fn a_cursor_does_not_reach_past_the_requests_time_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "w", 1, 0..10);
        let (t, s) = (ten(), sid("w"));
        let ts = |scan: &EventScan| scan.events.iter().map(|e| e.event.ts).collect::<Vec<_>>();
        let all = EventFilter::default();
        let early = store.events(&t, &s, &all, None, false, 2).unwrap();
        assert_eq!(ts(&early), [0, 1]);
        let late = store.events(&t, &s, &all, None, true, 2).unwrap();
        assert_eq!(ts(&late), [9, 8]);
        let window = EventFilter {
            from: Some(5),
            to: Some(6),
            ..EventFilter::default()
        };
        // The early cursor with `from=5`: not from ts 2 on.
        let page = store
            .events(&t, &s, &window, early.next.as_deref(), false, 10)
            .unwrap();
        assert_eq!(ts(&page), [5, 6]);
        // The late cursor, newest first, with `to=6`: not from ts 7 down.
        let page = store
            .events(&t, &s, &window, late.next.as_deref(), true, 10)
            .unwrap();
        assert_eq!(ts(&page), [6, 5]);
        // A cursor inside the window still narrows it.
        let first = store.events(&t, &s, &window, None, false, 1).unwrap();
        let rest = store
            .events(&t, &s, &window, first.next.as_deref(), false, 10)
            .unwrap();
        assert_eq!((ts(&first), ts(&rest)), (vec![5], vec![6]));
    }

    /// A search that matches little among many sessions: one page examines a
    /// bounded number of refused sessions, then ends (short, even empty) with
    /// a cursor that goes on where it stopped, so nothing is skipped.
    #[test]
    fn a_search_that_matches_little_ends_its_page_after_a_bounded_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        for i in 0..10i64 {
            put(&store, &format!("n{i}"), 100 - i, 0..1);
        }
        put(&store, "hit-old", 1, 0..1);
        put(&store, "hit-new", 200, 0..1);
        let hits = SessionFilter {
            text: Some("hit".into()),
            ..SessionFilter::default()
        };
        let mut before: Option<Vec<u8>> = None;
        let (mut pages, mut found) = (0, Vec::new());
        loop {
            let page = store
                .sessions_scan(&ten(), &hits, before.as_deref(), 10, 4)
                .unwrap();
            pages += 1;
            found.extend(page.items.iter().map(|s| s.session_id.as_str().to_owned()));
            match page.next {
                Some(n) => before = Some(n),
                None => break,
            }
        }
        assert_eq!(found, ["hit-new", "hit-old"]);
        // 10 refused sessions, at most 4 examined a page: n0-n3, n4-n7, then
        // n8, n9 and the last hit.
        assert_eq!(pages, 3);
        // Unbounded, as `sessions()` reads, one page has both.
        let all = store
            .sessions_scan(&ten(), &hits, None, 10, usize::MAX)
            .unwrap();
        assert_eq!(all.items.len(), 2);
        assert!(all.next.is_none());
    }

    #[test]
    fn a_session_active_while_an_agent_pages_moves_ahead_and_shifts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        for (i, s) in ["a", "b", "c", "d"].iter().enumerate() {
            put(&store, s, 10 * (i as i64 + 1), 0..1);
        }
        let all = SessionFilter::default();
        let p1 = store.sessions_page(&ten(), &all, None, 2).unwrap();
        let ids = |p: &Page<SessionSummary>| -> Vec<String> {
            p.items
                .iter()
                .map(|s| s.session_id.as_str().to_owned())
                .collect()
        };
        assert_eq!(ids(&p1), ["d", "c"]);
        // Between the pages: a new session, and "a" active again. With offsets
        // the second page would repeat "c"; here it continues after "c".
        put(&store, "e", 50, 0..1);
        put(&store, "a", 60, 1..2);
        let p2 = store
            .sessions_page(&ten(), &all, p1.next.as_deref(), 2)
            .unwrap();
        assert_eq!(ids(&p2), ["b"]);
        assert!(p2.next.is_none());
    }

    #[test]
    fn a_session_deleted_during_its_verify_is_deleted_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "s", 10, 0..50);
        // The head verify reads first, then a deletion removes the records.
        let state: SessionState = serde_json::from_slice(
            &store
                .sessions
                .get(session_key(&ten(), &sid("s")))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        store
            .delete(&ten(), &sid("s"), "test", &root(), 20)
            .unwrap()
            .unwrap();
        let walked = store.verify_state(&ten(), &sid("s"), &state, None).unwrap();
        assert!(!walked.valid, "the walk alone sees records missing");
        assert!(
            store
                .verify_from(&ten(), &sid("s"), &state, None)
                .unwrap()
                .is_none(),
            "a deleted session, not a broken chain"
        );
        assert!(matches!(
            store.status(&ten(), &sid("s")).unwrap(),
            SessionStatus::Deleted(_)
        ));
    }

    #[test]
    fn opening_waits_briefly_for_a_store_this_process_is_closing() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path(), 4).unwrap();
        put(&first, "kept", 10, 0..2);
        first.db.flush().unwrap();
        let closing = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
        });
        // Still locked when this starts: it waits for the lock, then opens.
        let second = Store::open(dir.path(), 4).unwrap();
        closing.join().unwrap();
        assert!(second
            .verify(&ten(), &sid("kept"))
            .unwrap()
            .is_some_and(|v| v.valid));
    }

    #[test]
    fn deleting_moves_a_session_from_one_index_to_the_other_and_old_stores_are_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let deleted = |store: &Store, limit| {
            let mut pages = Vec::new();
            let mut before = None;
            loop {
                let page = store
                    .tombstones_page(&ten(), before.as_deref(), limit)
                    .unwrap();
                pages.push(
                    page.items
                        .iter()
                        .map(|t| t.session_id.as_str().to_owned())
                        .collect::<Vec<_>>(),
                );
                match page.next {
                    Some(n) => before = Some(n),
                    None => return pages,
                }
            }
        };
        {
            let store = Store::open(dir.path(), 4).unwrap();
            for (i, s) in ["a", "b", "c", "d", "e"].iter().enumerate() {
                put(&store, s, 10 * (i as i64 + 1), 0..1);
            }
            for (s, at) in [("b", 100), ("d", 200), ("a", 200)] {
                store
                    .delete(&ten(), &sid(s), "test", &root(), at)
                    .unwrap()
                    .unwrap();
            }
            assert_eq!(store.activity.len(), 2);
            assert_eq!(store.deletions.len(), 3);
            // Newest deletion first, ties by greater session id first, as before.
            assert_eq!(deleted(&store, 10), [["d", "a", "b"]]);
            assert_eq!(deleted(&store, 2), [vec!["d", "a"], vec!["b"]]);
            // As a store written before the indexes existed: none, no marks.
            for (tree, mark) in [
                (&store.activity, "activity_index"),
                (&store.deletions, "deletions_index"),
            ] {
                tree.clear().unwrap();
                store.db.open_tree("meta").unwrap().remove(mark).unwrap();
            }
            store.db.flush().unwrap();
        }
        let store = Store::open(dir.path(), 4).unwrap();
        assert_eq!(
            all_pages(&store, &SessionFilter::default(), 10),
            [["e", "c"]]
        );
        assert_eq!(deleted(&store, 10), [["d", "a", "b"]]);
        assert_eq!((store.activity.len(), store.deletions.len()), (2, 3));
    }

    #[test]
    fn a_store_from_before_the_gap_index_is_indexed_and_deletion_purges_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 4).unwrap();
            put_gap(&store, "s", 10, 19);
            put_gap(&store, "s", 30, 39);
            put_gap(&store, "x", 0, 0);
            // As an older collector left it: gap records, no index, no mark,
            // and two records overlapping (it stored them apart).
            store.gap_index.clear().unwrap();
            store
                .db
                .open_tree("meta")
                .unwrap()
                .remove("gap_index")
                .unwrap();
            let gap: GapRecord = serde_json::from_value(serde_json::json!({
                "tab_id": "t", "from": 15, "to": 32, "reason": "rejected", "received_at": 0
            }))
            .unwrap();
            store
                .gaps
                .insert(
                    event_key(&ten(), &sid("s"), &tid("t"), 15),
                    serde_json::to_vec(&gap).unwrap(),
                )
                .unwrap();
            store.db.flush().unwrap();
        }
        let store = Store::open(dir.path(), 4).unwrap();
        let count = |s: &str| {
            store
                .gap_index
                .get(session_prefix(&ten(), &sid(s)))
                .unwrap()
                .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap()))
        };
        assert_eq!((count("s"), count("x")), (Some(3), Some(1)));
        let mut tab = session_prefix(&ten(), &sid("s"));
        tab.extend_from_slice(b"t");
        let covered = gap_ranges::decode(&store.gap_index.get(&tab).unwrap().unwrap()).unwrap();
        assert_eq!(covered, [(10, 39)]);
        // What the rebuilt index covers is not counted again.
        let lost = state_of(&store, "s").lost_events;
        put_gap(&store, "s", 12, 41);
        assert_eq!(state_of(&store, "s").lost_events, lost + 2);
        assert_eq!(count("s"), Some(4));

        store
            .delete(&ten(), &sid("s"), "test", &root(), 1)
            .unwrap()
            .unwrap();
        assert_eq!(
            keys_under(&store.gap_index, &session_prefix(&ten(), &sid("s"))),
            0
        );
        assert_eq!(count("x"), Some(1));
    }

    #[test]
    fn sweep_deletes_only_sessions_idle_past_the_age_and_leaves_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        const DAY: i64 = 86_400_000;
        put(&store, "old", DAY, 0..3);
        put(&store, "recent", DAY, 0..2);
        // Activity later on keeps a session alive even if it started long ago.
        put(&store, "recent", 9 * DAY, 2..4);
        let before = store.verify(&ten(), &sid("old")).unwrap().unwrap();

        let left = store.sweep(10 * DAY, 5 * DAY).unwrap();
        assert_eq!(left.len(), 1);
        let t = &left[0];
        assert_eq!(t.session_id.as_str(), "old");
        assert_eq!((t.reason.as_str(), t.deleted_at), ("retention", 10 * DAY));
        assert_eq!((t.event_count, t.chain_length), (3, 3));
        assert_eq!(Some(&t.chain_head), before.head.as_ref());

        let prefix = session_prefix(&ten(), &sid("old"));
        for tree in [
            &store.events,
            &store.timeline,
            &store.gaps,
            &store.chain,
            &store.arrivals,
        ] {
            assert_eq!(keys_under(tree, &prefix), 0);
        }
        // The live session keeps its arrivals.
        let recent = session_prefix(&ten(), &sid("recent"));
        assert_eq!(keys_under(&store.arrivals, &recent), 4);
        assert!(matches!(
            store.status(&ten(), &sid("old")).unwrap(),
            SessionStatus::Deleted(d) if &d == t
        ));
        let all = store.tombstones_page(&ten(), None, usize::MAX).unwrap();
        assert_eq!(all.items, left);
        let recent = store.verify(&ten(), &sid("recent")).unwrap().unwrap();
        assert_eq!((recent.valid, recent.length), (true, Some(4)));

        // The tenant's activity log says so, with the tombstone's facts.
        let filter = AuditFilter {
            collector: true,
            ..AuditFilter::default()
        };
        let log = store.audit(&ten(), &filter, None, 10).unwrap().entries;
        let entry = log
            .iter()
            .find(|e| e.action.as_deref() == Some("session.deleted"))
            .expect("the retention deletion in the activity log");
        assert_eq!(entry.user_id.as_str(), "retention");
        let before = entry.change.as_ref().unwrap().before.as_ref().unwrap();
        assert_eq!(before["chain_head"], t.chain_head.as_str());
        assert!(store.verify_audit(&ten(), None).unwrap().valid);

        // A second sweep finds nothing more; a batch for the deleted session is refused.
        assert!(store.sweep(10 * DAY, 5 * DAY).unwrap().is_empty());
        assert!(matches!(
            put(&store, "old", 10 * DAY, 3..4),
            Inserted::Gone(_)
        ));
    }

    /// Retention reads the summary's activity time; one set back (to have a
    /// trail deleted under a routine tombstone) is not acted on while the
    /// session's newest record is recent.
    #[test]
    fn a_sweep_does_not_delete_a_recent_trail_whose_summary_was_set_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        const DAY: i64 = 86_400_000;
        put(&store, "busy", 9 * DAY, 0..3);
        let (t, s) = (ten(), sid("busy"));
        let mut st = state_of(&store, "busy");
        st.last_seen = DAY;
        st.first_seen = DAY;
        store
            .sessions
            .insert(session_key(&t, &s), serde_json::to_vec(&st).unwrap())
            .unwrap();
        store.activity.remove(time_key(&t, 9 * DAY, &s)).unwrap();
        store.activity.insert(time_key(&t, DAY, &s), &[]).unwrap();
        assert!(store.sweep(10 * DAY, 5 * DAY).unwrap().is_empty());
        assert!(matches!(
            store.status(&t, &s).unwrap(),
            SessionStatus::Live(_)
        ));
        // What verify says of it.
        assert!(!store.verify(&t, &s).unwrap().unwrap().valid);
    }

    #[test]
    fn a_sweep_finishes_a_deletion_a_crash_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "s", 0, 0..3);
        put_gap(&store, "s", 10, 12);
        // As if the collector died between the tombstone and the purge.
        store
            .tombstone(&ten(), &sid("s"), "deleted by root", &root(), 5)
            .unwrap()
            .unwrap();
        let prefix = session_prefix(&ten(), &sid("s"));
        for tree in [&store.events, &store.arrivals, &store.gaps, &store.chain] {
            assert!(keys_under(tree, &prefix) > 0);
        }
        assert!(store.sweep(5, i64::MAX).unwrap().is_empty());
        for tree in store.session_trees() {
            assert_eq!(keys_under(tree, &prefix), 0);
        }
        assert_eq!(store.purges.len(), 0);
        // Without retention, start-up finishes it: a tombstone whose records
        // were never purged (the request's purge failed or the process died).
        put(&store, "u", 0, 0..4);
        put_gap(&store, "u", 10, 12);
        let prefix = session_prefix(&ten(), &sid("u"));
        store
            .tombstone(&ten(), &sid("u"), "deleted by root", &root(), 6)
            .unwrap()
            .unwrap();
        assert_eq!(keys_under(&store.events, &prefix), 4);
        assert_eq!(store.finish_deletions().unwrap(), 1);
        for tree in store.session_trees() {
            assert_eq!(keys_under(tree, &prefix), 0);
        }
        assert_eq!(store.finish_deletions().unwrap(), 0);
    }

    #[test]
    fn finishing_deletions_reads_only_unfinished_ones_and_an_older_store_queues_its_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 4).unwrap();
            for s in ["a", "b", "c"] {
                put(&store, s, 0, 0..2);
                store
                    .delete(&ten(), &sid(s), "deleted by root", &root(), 5)
                    .unwrap()
                    .unwrap();
            }
            // Finished deletions leave their tombstones and nothing to finish.
            assert_eq!(store.tombstones.len(), 3);
            assert_eq!(store.purges.len(), 0);
            put(&store, "d", 0, 0..2);
            store
                .tombstone(&ten(), &sid("d"), "deleted by root", &root(), 6)
                .unwrap()
                .unwrap();
            assert_eq!(store.purges.len(), 1);
            // A store from before the queue: its tombstones are not queued, and
            // one of them still has records.
            store.purges.clear().unwrap();
            store
                .db
                .open_tree("meta")
                .unwrap()
                .remove("purges")
                .unwrap();
            store.db.flush().unwrap();
        }
        let store = Store::open(dir.path(), 4).unwrap();
        assert_eq!(store.purges.len(), 4, "every tombstone is queued once");
        assert_eq!(store.finish_deletions().unwrap(), 1);
        assert_eq!(store.purges.len(), 0);
        let prefix = session_prefix(&ten(), &sid("d"));
        for tree in store.session_trees() {
            assert_eq!(keys_under(tree, &prefix), 0);
        }
        drop(store);
        // Queued once: opening again does not queue the tombstones again.
        let store = Store::open(dir.path(), 4).unwrap();
        assert_eq!(store.purges.len(), 0);
        assert_eq!(store.tombstones.len(), 4);
    }

    /// The session summary (what lists, searches, the trail's header and
    /// retention read) is checked against the chained records too: an edited
    /// count, actor set, lost-event figure, page list, activity window or
    /// origin is reported.
    #[test]
    fn verify_reports_a_summary_that_disagrees_with_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "sum", 1, 0..4);
        put_gap(&store, "sum", 10, 12);
        let (t, s) = (ten(), sid("sum"));
        let verify = |store: &Store| store.verify(&t, &s).unwrap().unwrap();
        assert!(verify(&store).valid, "{:?}", verify(&store));
        let original = state_of(&store, "sum");
        assert_eq!((original.event_count, original.lost_events), (4, 3));
        type Edit = fn(&mut SessionState);
        let edits: [(&str, Edit); 8] = [
            // Set back a year, the next retention sweep would delete it.
            ("first and last seen", |st| st.last_seen -= 365 * 86_400_000),
            ("origin", |st| st.origin.ip = Some("203.0.113.66".into())),
            ("event count", |st| st.event_count += 1),
            ("lost events", |st| st.lost_events = 0),
            ("actors", |st| {
                st.actors.insert("agent".into());
            }),
            ("tabs", |st| {
                st.tabs.insert("t2".into());
            }),
            ("time span", |st| st.first_ts = st.first_ts.map(|t| t - 1)),
            ("pages", |st| {
                st.urls.insert("https://shop.example/forged".into());
            }),
        ];
        let key = session_key(&t, &s);
        for (field, edit) in edits {
            let mut edited = original.clone();
            edit(&mut edited);
            store
                .sessions
                .insert(&key, serde_json::to_vec(&edited).unwrap())
                .unwrap();
            let v = verify(&store);
            assert!(!v.valid, "{field}: {v:?}");
            let reason = v.reason.unwrap_or_default();
            assert!(reason.contains(field), "{field}: {reason}");
            store
                .sessions
                .insert(&key, serde_json::to_vec(&original).unwrap())
                .unwrap();
            assert!(verify(&store).valid, "restored after {field}");
        }

        // A session stored before every field was derived: its summary is
        // derived again when the store is opened, once, and then checks out.
        let mut legacy: serde_json::Value = serde_json::to_value(&original).unwrap();
        let fields = legacy.as_object_mut().unwrap();
        for field in [
            "summary_complete",
            "first_ts",
            "last_ts",
            "urls",
            "page_changes",
        ] {
            fields.remove(field);
        }
        store
            .sessions
            .insert(&key, serde_json::to_vec(&legacy).unwrap())
            .unwrap();
        store
            .db
            .open_tree("meta")
            .unwrap()
            .remove("summaries")
            .unwrap();
        assert!(
            !verify(&store).valid,
            "the legacy summary lacks its time span"
        );
        drop(store);
        let store = Store::open(dir.path(), 4).unwrap();
        let v = store.verify(&t, &s).unwrap().unwrap();
        assert!(v.valid, "{v:?}");
        let rebuilt = state_of(&store, "sum");
        assert_eq!(
            (rebuilt.first_ts, rebuilt.last_ts, rebuilt.event_count),
            (original.first_ts, original.last_ts, 4)
        );
        assert!(rebuilt.summary_complete);
    }

    /// A tenant's activity log is chained in the order stored: an entry
    /// edited, removed or slipped in afterwards is reported; another
    /// tenant's log is a chain of its own; a log stored before the chain
    /// existed is chained once when the store opens.
    #[test]
    fn the_activity_log_is_chained_per_tenant_and_verified() {
        use shared::audit::{AccessAction, AuditEntry};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        let other = TenantId::parse("other").unwrap();
        let entry = |at: i64, user: &str| {
            AuditEntry::access(
                shared::UserId::parse(user).unwrap(),
                AccessAction::Viewed,
                &sid("s"),
                Origin::default(),
                at,
            )
        };
        // Stored out of time order: the chain follows the order stored.
        for (at, user) in [(30, "ana"), (10, "bo"), (20, "ana")] {
            store.append_audit(&ten(), &entry(at, user)).unwrap();
        }
        store.append_audit(&other, &entry(5, "olga")).unwrap();
        let v = store.verify_audit(&ten(), None).unwrap();
        assert!(v.valid && v.length == Some(3), "{v:?}");
        let v = store.verify_audit(&other, None).unwrap();
        assert!(v.valid && v.length == Some(1), "{v:?}");
        let empty = store
            .verify_audit(&TenantId::parse("none").unwrap(), None)
            .unwrap();
        assert!(empty.valid && empty.length == Some(0), "{empty:?}");

        let prefix = tenant_prefix(&ten());
        let keys: Vec<_> = store
            .audit
            .scan_prefix(&prefix)
            .map(|kv| kv.unwrap())
            .collect();
        // Edited: bo's view credited to ana.
        let (k, v) = &keys[0];
        let edited = String::from_utf8(v.to_vec())
            .unwrap()
            .replace("\"bo\"", "\"ana\"");
        store.audit.insert(k, edited.as_bytes()).unwrap();
        let broken = store.verify_audit(&ten(), None).unwrap();
        assert!(!broken.valid, "{broken:?}");
        assert!(broken.reason.unwrap().contains("does not match"));
        store.audit.insert(k, v).unwrap();
        assert!(store.verify_audit(&ten(), None).unwrap().valid);
        // Removed.
        store.audit.remove(k).unwrap();
        let broken = store.verify_audit(&ten(), None).unwrap();
        assert!(!broken.valid, "{broken:?}");
        assert!(broken.reason.unwrap().contains("missing"));
        store.audit.insert(k, v).unwrap();
        // Slipped in: a forged entry that no link covers.
        let mut forged = prefix.clone();
        forged.extend_from_slice(&ts_sortable(15).to_be_bytes());
        forged.extend_from_slice(&u64::MAX.to_be_bytes());
        store
            .audit
            .insert(
                forged.clone(),
                serde_json::to_vec(&entry(15, "bo")).unwrap(),
            )
            .unwrap();
        let broken = store.verify_audit(&ten(), None).unwrap();
        assert!(!broken.valid, "{broken:?}");
        let reason = broken.reason.unwrap();
        assert!(
            reason.contains("slipped in") && reason.contains("1970-01-01T00:00:00.015Z"),
            "{reason}"
        );
        store.audit.remove(forged).unwrap();
        let before = store.verify_audit(&ten(), None).unwrap();
        assert!(before.valid);

        // A log from before the chain: chained at the next start, as it is.
        store.audit_chain.clear().unwrap();
        store.audit_heads.clear().unwrap();
        store
            .db
            .open_tree("meta")
            .unwrap()
            .remove("audit_chain")
            .unwrap();
        drop(store);
        let store = Store::open(dir.path(), 4).unwrap();
        let v = store.verify_audit(&ten(), None).unwrap();
        assert!(v.valid && v.length == Some(3), "{v:?}");
        assert!(store.verify_audit(&other, None).unwrap().valid);
        // And appends go on from it.
        store.append_audit(&ten(), &entry(40, "bo")).unwrap();
        let v = store.verify_audit(&ten(), None).unwrap();
        assert!(v.valid && v.length == Some(4), "{v:?}");

        // A re-posted record is not chained twice; a conflicting one chains
        // nothing of its request.
        let record = |action: &str| {
            let mut e = entry(50, "bo");
            e.record_id = Some("r-1".into());
            e.action = Some(action.into());
            (e, true)
        };
        assert_eq!(
            store.append_audit_entries(&ten(), &[record("a")]).unwrap(),
            1
        );
        assert_eq!(
            store.append_audit_entries(&ten(), &[record("a")]).unwrap(),
            0
        );
        assert!(store
            .append_audit_entries(&ten(), &[(entry(60, "bo"), true), record("b")])
            .is_err());
        let v = store.verify_audit(&ten(), None).unwrap();
        assert!(v.valid && v.length == Some(5), "{v:?}");

        // A tenant whose id starts with another's has a log of its own.
        let acme2 = TenantId::parse("acme2").unwrap();
        store.append_audit(&acme2, &entry(1, "zed")).unwrap();
        let v = store.verify_audit(&acme2, None).unwrap();
        assert!(v.valid && v.length == Some(1), "{v:?}");
        let v = store.verify_audit(&ten(), None).unwrap();
        assert!(v.valid && v.length == Some(5), "{v:?}");

        // Appends from many threads at once: dense positions, a valid chain,
        // also for checks made while they run.
        std::thread::scope(|scope| {
            for i in 0..4 {
                let store = &store;
                scope.spawn(move || {
                    for j in 0..25 {
                        store.append_audit(&ten(), &entry(100 + j, "bo")).unwrap();
                        if j % 5 == i {
                            let v = store.verify_audit(&ten(), None).unwrap();
                            assert!(v.valid, "{v:?}");
                        }
                    }
                });
            }
        });
        let v = store.verify_audit(&ten(), None).unwrap();
        assert!(v.valid && v.length == Some(105), "{v:?}");

        // One check of a tenant's log at a time.
        let turn = store.audit_check_turn(&ten()).unwrap();
        assert!(store.audit_check_turn(&ten()).is_none());
        assert!(store.audit_check_turn(&acme2).is_some());
        drop(turn);
        assert!(store.audit_check_turn(&ten()).is_some());
    }

    /// What the summary recount must take as it comes, never as tampering:
    /// a session opened by a batch of gap records only, an origin that
    /// changes between batches (the IP of a phone moving networks), batches
    /// at other times that repeat stored events.
    #[test]
    fn verify_takes_legitimate_summaries_as_they_come() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        let (t, s) = (ten(), sid("legit"));
        let ingest =
            |received_at: i64, ip: &str, seqs: std::ops::Range<u64>, gaps: &[GapRecord]| {
                let origin = Origin {
                    ip: Some(ip.into()),
                    user_agent: Some("UA".into()),
                };
                put_from(&store, "legit", received_at, &origin, seqs, gaps);
            };
        let gap: GapRecord = serde_json::from_value(serde_json::json!({
            "tab_id": "t", "from": 100, "to": 101, "reason": "queue_full", "received_at": 10
        }))
        .unwrap();
        ingest(10, "198.51.100.1", 0..0, &[gap]);
        ingest(20, "198.51.100.2", 0..3, &[]);
        // A re-sent batch, later and from yet another address: duplicates only.
        ingest(30, "198.51.100.3", 0..3, &[]);
        ingest(25, "198.51.100.2", 3..5, &[]);
        let v = store.verify(&t, &s).unwrap().unwrap();
        assert!(v.valid, "{v:?}");
        let st = state_of(&store, "legit");
        assert_eq!((st.first_seen, st.last_seen, st.event_count), (10, 25, 5));
    }

    /// Events keep their origin once per session under a 64-bit digest. A
    /// second origin under the same digest (a collision someone worked for,
    /// made here by planting one) must not be served for the first: that
    /// batch's events are kept whole, and read back and verify as sent.
    #[test]
    fn an_origin_whose_digest_is_taken_by_another_is_kept_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        let (t, s) = (ten(), sid("coll"));
        let origin = Origin {
            ip: Some("198.51.100.1".into()),
            user_agent: Some("UA-one".into()),
        };
        let json = serde_json::to_vec(&origin).unwrap();
        let mut key = session_prefix(&t, &s);
        key.extend_from_slice(&compact::origin_digest(&json));
        store
            .origins
            .insert(
                key,
                br#"{"ip":"203.0.113.9","user_agent":"UA-two"}"#.to_vec(),
            )
            .unwrap();
        put_from(&store, "coll", 5, &origin, 0..3, &[]);
        let page = store
            .events(&t, &s, &EventFilter::default(), None, false, 10)
            .unwrap();
        assert_eq!(page.events.len(), 3);
        for e in &page.events {
            assert_eq!(e.origin, origin);
        }
        let v = store.verify(&t, &s).unwrap().unwrap();
        assert!(v.valid, "{v:?}");
    }

    /// A failed flush is remembered, the first one, for `/healthz`.
    #[test]
    fn a_failed_flush_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        assert!(store.flush_failure().is_none());
        store.note_flush_failure(&anyhow::anyhow!("No space left on device"));
        store.note_flush_failure(&anyhow::anyhow!("a later one"));
        let clone = store.clone();
        assert!(clone
            .flush_failure()
            .is_some_and(|e| e.contains("No space left")));
    }

    fn state_of(store: &Store, session: &str) -> SessionState {
        let v = store
            .sessions
            .get(session_key(&ten(), &sid(session)))
            .unwrap()
            .unwrap();
        serde_json::from_slice(&v).unwrap()
    }

    fn put_gap(store: &Store, session: &str, from: u64, to: u64) {
        let gap: GapRecord = serde_json::from_value(serde_json::json!({
            "tab_id": "t", "from": from, "to": to, "reason": "queue_full", "received_at": 0
        }))
        .unwrap();
        store
            .insert(Ingest {
                tenant: &ten(),
                session: &sid(session),
                tab: &tid("t"),
                received_at: 0,
                origin: &Origin::default(),
                records: &[],
                gaps: &[gap],
            })
            .unwrap();
    }

    /// A gap the recorder reports over events that are stored after all (a
    /// batch stored whose answer was lost, then dropped from its full queue)
    /// is stored and counted for the numbers really missing only, so the
    /// summary and `/gaps` agree with the trail.
    #[test]
    fn a_gap_over_stored_events_reports_only_the_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        put(&store, "g", 1, 0..10);
        put(&store, "g", 1, 20..25);
        // 5..=29: 5-9 and 20-24 stored, 10-19 and 25-29 missing.
        put_gap(&store, "g", 5, 29);
        let ranges = |store: &Store| -> Vec<(u64, u64)> {
            store
                .gaps(&ten(), &sid("g"))
                .unwrap()
                .iter()
                .map(|g| (g.from, g.to))
                .collect()
        };
        assert_eq!(ranges(&store), [(10, 19), (25, 29)]);
        assert_eq!(state_of(&store, "g").lost_events, 15);
        // All of it stored: nothing reported, nothing counted.
        put_gap(&store, "g", 0, 4);
        assert_eq!(ranges(&store).len(), 2);
        assert_eq!(state_of(&store, "g").lost_events, 15);
        assert!(store.verify(&ten(), &sid("g")).unwrap().unwrap().valid);
        // Stored events scattered too finely: the gap is kept whole.
        let sparse: Vec<u64> = (100..140).step_by(2).collect();
        for q in &sparse {
            put(&store, "g", 1, *q..*q + 1);
        }
        put_gap(&store, "g", 100, 139);
        assert!(ranges(&store).contains(&(100, 139)));
        assert_eq!(state_of(&store, "g").lost_events, 15 + 40);
    }

    #[test]
    fn verify_checks_the_head_it_read_and_ignores_records_appended_since() {
        // What a verify sees when batches are stored while it walks: the head
        // it read first, and more links, events and gap records after it.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        put(&store, "s", 1, 0..81);
        let before = state_of(&store, "s");
        assert_eq!(before.chain_len, 81);
        put(&store, "s", 2, 81..100);
        put_gap(&store, "s", 100, 104);
        assert_eq!(state_of(&store, "s").chain_len, 101);
        let v = store
            .verify_state(&ten(), &sid("s"), &before, None)
            .unwrap();
        assert_eq!(
            v,
            ChainVerification::valid(81, hex::encode(before.chain_head)),
            "{v:?}"
        );
        // And the whole session, from its current head.
        let v = store.verify(&ten(), &sid("s")).unwrap().unwrap();
        assert!(v.valid && v.length == Some(101), "{v:?}");
    }

    #[test]
    fn lost_events_saturate_instead_of_wrapping() {
        // Validation refuses such gaps; the store must not wrap on them anyway.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        put_gap(&store, "s", 0, u64::MAX);
        assert_eq!(state_of(&store, "s").lost_events, u64::MAX);
        put_gap(&store, "s", 7, 1 << 40);
        assert_eq!(state_of(&store, "s").lost_events, u64::MAX);
    }

    #[test]
    fn verify_while_batches_arrive_never_reports_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path(), 8).unwrap());
        put(&store, "s", 1, 0..20);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 1..300u64 {
                    put(&store, "s", 1, i * 20..(i + 1) * 20);
                    if i % 10 == 0 {
                        put_gap(&store, "s", 1_000_000 + i, 1_000_000 + i);
                    }
                }
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let mut checks = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let v = store.verify(&ten(), &sid("s")).unwrap().unwrap();
            assert!(v.valid, "after {checks} checks: {v:?}");
            checks += 1;
        }
        writer.join().unwrap();
        let v = store.verify(&ten(), &sid("s")).unwrap().unwrap();
        assert!(v.valid && v.length == Some(6000 + 29), "{v:?}");
    }

    #[test]
    fn a_filter_matching_little_scans_a_bounded_part_of_the_timeline_per_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let n = MAX_EVENT_SCAN as u64 * 2 + 5_000;
        for start in (0..n).step_by(5_000) {
            put(&store, "s", 0, start..start + 5_000);
        }
        // One agent click, last in client time.
        let mut agent = record(&sid("s"), n);
        agent.event = serde_json::from_value(serde_json::json!({
            "seq": n, "ts": n, "mono": n, "actor": {"kind": "agent", "id": "a-1"},
            "type": "CLICK", "data": {"target": {"tag": "button", "path": "button"}}
        }))
        .unwrap();
        store
            .insert(Ingest {
                tenant: &ten(),
                session: &sid("s"),
                tab: &tid("t"),
                received_at: 0,
                origin: &Origin::default(),
                records: &[agent],
                gaps: &[],
            })
            .unwrap();
        let filter = EventFilter {
            actors: vec!["agent".into()],
            ..EventFilter::default()
        };
        let (mut pages, mut found, mut after) = (Vec::new(), Vec::new(), None);
        loop {
            let page = store
                .events(&ten(), &sid("s"), &filter, after.as_deref(), false, 1)
                .unwrap();
            pages.push(page.events.len());
            found.extend(page.events.iter().map(|e| e.event.seq));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // Two pages stop at the bound with nothing found, the third finds it,
        // the fourth says nothing follows.
        assert_eq!(pages, [0, 0, 1, 0]);
        assert_eq!(found, [n]);
        // An unfiltered page is never cut short by the bound.
        let page = store
            .events(&ten(), &sid("s"), &EventFilter::default(), None, true, 1000)
            .unwrap();
        assert_eq!(page.events.len(), 1000);
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
