//! What the collector answers: acknowledgements, stored records, session summaries
//! and errors. The review app and the end-to-end tests read these.

use serde::{Deserialize, Serialize};

use crate::event::{Event, GapReason};
use crate::ids::{SessionId, TabId};

/// What the collector knows about where a batch came from; the client cannot be
/// trusted to say this itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct IngestAck {
    /// Events stored by this request.
    pub stored: usize,
    /// Events that were already stored (a re-sent batch) and were skipped.
    pub duplicates: usize,
}

/// One page of a session's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsPage {
    pub events: Vec<EventRecord>,
    /// Opaque cursor for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A session as listed for agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// A page of sessions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsPage {
    pub sessions: Vec<SessionSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Every 4xx and 5xx answer has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `payload_too_large`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// A gap a recorder reported: sequence numbers `from..=to` of one tab that will
/// never arrive, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapRecord {
    pub tab_id: TabId,
    pub from: u64,
    pub to: u64,
    pub reason: GapReason,
    /// Collector time when the report arrived (ms since epoch).
    pub received_at: i64,
}

/// A session's reported gaps, by tab and sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapsPage {
    pub gaps: Vec<GapRecord>,
}
