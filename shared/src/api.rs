//! What the collector answers: acknowledgements, stored records, session summaries
//! and errors. The review app and the end-to-end tests read these.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::event::{Event, GapReason};
use crate::ids::{SessionId, TabId};

/// What the collector knows about where a batch came from; the client cannot be
/// trusted to say this itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Origin {
    /// Client IP address as the collector saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The request's `User-Agent` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// An event as stored and served: the recorder's event plus what the collector
/// stamped on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventRecord {
    pub session_id: SessionId,
    pub tab_id: TabId,
    /// Collector time when the batch carrying the event arrived (ms since epoch).
    pub received_at: i64,
    pub origin: Origin,
    #[serde(flatten)]
    pub event: Event,
}

/// Answer to an accepted batch: every event in it is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestAck {
    /// Events stored by this request.
    pub stored: usize,
    /// Events that were already stored (a re-sent batch) and were skipped.
    pub duplicates: usize,
}

/// One page of a session's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsPage {
    pub events: Vec<EventRecord>,
    /// Opaque cursor for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A session as listed for agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    pub session_id: SessionId,
    /// Collector time of the first and the latest batch (ms since epoch).
    pub first_seen: i64,
    pub last_seen: i64,
    pub event_count: u64,
    /// Number of tabs that sent events.
    pub tabs: u64,
    /// Actor kinds seen (`customer`, `agent`, `script`), sorted.
    pub actors: Vec<String>,
    /// Where the first batch came from.
    pub origin: Origin,
    /// Events the recorders reported lost (sum of their gap records).
    #[serde(default)]
    pub lost_events: u64,
    /// Page changes recorded: pages visited, single-page-app views included.
    #[serde(default)]
    pub page_changes: u64,
    /// URL of the latest page change, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_url: Option<String>,
    /// Client time (the events' `ts`, ms since epoch) of the earliest and the
    /// latest event: what the person did, however late it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_ts: Option<i64>,
}

/// A page of sessions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsPage {
    pub sessions: Vec<SessionSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Every 4xx and 5xx answer has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// On `410 Gone`: what the deleted session left behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tombstone: Option<Tombstone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `payload_too_large`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// A gap a recorder reported: sequence numbers `from..=to` of one tab that will
/// never arrive, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GapRecord {
    pub tab_id: TabId,
    pub from: u64,
    pub to: u64,
    pub reason: GapReason,
    /// Collector time when the report arrived (ms since epoch).
    pub received_at: i64,
}

/// A session's reported gaps, by tab and sequence, and what nothing explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GapsPage {
    pub gaps: Vec<GapRecord>,
    /// Sequence numbers no stored event holds and no gap record reports
    /// lost, below the tab's highest stored or reported one, by tab and
    /// sequence (at most 1,000 runs). A recorder numbers a tab's events from 0
    /// and reports every loss it knows of, so these are events still on
    /// their way (a queue another page of the site delivers later) or lost
    /// without a word (a browser that could not save them). Empty when the
    /// trail is complete as far as it goes.
    #[serde(default)]
    pub unaccounted: Vec<UnaccountedRange>,
}

/// Sequence numbers `from..=to` (inclusive) of one tab that the collector
/// neither stored nor was told are lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnaccountedRange {
    pub tab_id: TabId,
    pub from: u64,
    pub to: u64,
}

/// What deleting a session leaves behind: who or what deleted it and the
/// integrity chain's final state, so the trail's existence and extent stay
/// provable after its content is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tombstone {
    pub session_id: SessionId,
    /// Collector time of the deletion (ms since epoch).
    pub deleted_at: i64,
    /// `retention`, or `deleted by <user>`.
    pub reason: String,
    /// Events the session held when it was deleted.
    pub event_count: u64,
    /// Records (events and gap records) its integrity chain covered.
    pub chain_length: u64,
    /// The chain's head hash (hex) at deletion: anyone holding an export can
    /// check it was the complete trail.
    pub chain_head: String,
}

/// A tenant's tombstones, newest deletion first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TombstonesPage {
    pub tombstones: Vec<Tombstone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer of `GET /api/v1/sessions/{id}/verify`: either
/// `{"valid": true, "length", "head"}` or
/// `{"valid": false, "first_broken", "reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainVerification {
    pub valid: bool,
    /// Records the chain covers (when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// The head hash, hex (when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// Chain position (0-based, storage order) of the first link that does not
    /// check out (when invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<u64>,
    /// Why it does not check out (when invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The activity log's check only: the log checks out, but this session,
    /// which a checkpoint entry of it names (at `first_broken`), no longer
    /// holds what the entry says (its chain broke, not the log's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl ChainVerification {
    pub fn valid(length: u64, head: String) -> Self {
        ChainVerification {
            valid: true,
            length: Some(length),
            head: Some(head),
            first_broken: None,
            reason: None,
            session_id: None,
        }
    }

    pub fn broken(first_broken: u64, reason: String) -> Self {
        ChainVerification {
            valid: false,
            length: None,
            head: None,
            first_broken: Some(first_broken),
            reason: Some(reason),
            session_id: None,
        }
    }
}
