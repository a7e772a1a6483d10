//! Limits both the recorder and the collector enforce.
//!
//! The recorder truncates or splits so that it never sends something the collector
//! would reject; the collector rejects anything beyond them with a 4xx that names
//! the limit. Each value says why it is what it is.

/// Longest identifier (session, tab, agent). UUIDs are 36 characters; 64 leaves
/// room for a platform's own prefixed ids without letting ids become payloads.
pub const MAX_ID_LEN: usize = 64;

/// Largest request body the collector reads. A recorder's time- or count-bound
/// batch is far smaller (see [`MAX_EVENTS_PER_BATCH`]); 1 MiB bounds the memory
/// a single request can pin on the collector.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest body the recorder hands to `sendBeacon` / `fetch(keepalive)`: browsers
/// cap the sum of in-flight keepalive bodies at 64 KiB, so chunks stay below it.
pub const MAX_BEACON_BYTES: usize = 60 * 1024;

/// Most events in one batch. A busy page produces a few events per second, so a
/// batch flushed every few seconds is far below this; it bounds per-request work.
pub const MAX_EVENTS_PER_BATCH: usize = 500;

/// Longest free text (input value, selected text, label, page title), in
/// characters. Longer text is truncated by the recorder: an audit trail needs to
/// show what was typed or selected, not to archive documents.
pub const MAX_TEXT_CHARS: usize = 2048;

/// Longest URL kept for a page change, in characters (the de-facto browser limit
/// for URLs that work everywhere).
pub const MAX_URL_CHARS: usize = 2048;

/// Longest short CSS path of an element, in characters. Paths are built from at
/// most a handful of ancestors, so this is generous.
pub const MAX_PATH_CHARS: usize = 512;

/// Longest custom event type name (`recordCustom(type, …)`), in characters: it
/// is a label for filtering, not a payload.
pub const MAX_CUSTOM_TYPE_CHARS: usize = 64;

/// Largest custom event value, in bytes of its JSON encoding.
pub const MAX_CUSTOM_VALUE_BYTES: usize = 8 * 1024;

/// Deepest nesting of a custom event value. Deeply nested JSON is a classic way
/// to exhaust a parser's stack; real page data is shallow.
pub const MAX_JSON_DEPTH: usize = 16;

/// Largest number of events a recorder waits for before it sends a batch.
pub const DEFAULT_BATCH_EVENTS: usize = 50;

/// Default time a recorder waits before sending what it has, in milliseconds:
/// short enough that a live reviewer sees actions within seconds.
pub const DEFAULT_FLUSH_MS: u32 = 2000;

/// Most gap records in one batch. A recorder merges adjacent lost runs, so even
/// a long outage produces a handful.
pub const MAX_GAPS_PER_BATCH: usize = 64;

/// Most sequence numbers one gap record may report lost (`to - from + 1`). A
/// recorder loses events only while its bounded queue overflows or a batch is
/// refused, one sequence number per event recorded; 2^32 is 50 days of a tab
/// recording a thousand events a second without pause, far past any real
/// outage, while a run as wide as `0..=u64::MAX` is a forgery that would wrap
/// the session's lost-event count.
pub const MAX_GAP_EVENTS: u64 = 1 << 32;

/// Most platform audit records in one `POST /api/v1/platform/records`: a
/// platform batching its records every second stays far below it; it bounds the
/// work of one request (each record is validated and indexed).
pub const MAX_RECORDS_PER_REQUEST: usize = 500;

/// Longest client `record_id` (the idempotency key of a platform record), in
/// characters: room for a UUID with a platform prefix, not for a payload.
pub const MAX_RECORD_ID_CHARS: usize = 128;

/// Longest reference to a platform object (call, customer, message, conference
/// ids; entity kind and id), in characters. Platforms have their own id formats,
/// so these are free text, but short.
pub const MAX_REF_CHARS: usize = 128;

/// Longest short label of a platform record (action, chat status, role name,
/// permission, tag), in characters: a label is read in a table cell.
pub const MAX_LABEL_CHARS: usize = 256;

/// Most items in one list of a platform record (permissions, agents, tags):
/// a role with a few dozen permissions is large.
pub const MAX_LIST_ITEMS: usize = 256;

/// Largest JSON payload of a platform record (plugin or settings configuration,
/// conference data, the before/after change), in bytes of its JSON encoding. A
/// configuration snapshot is kilobytes; 32 KiB bounds what one record can pin.
pub const MAX_RECORD_JSON_BYTES: usize = 32 * 1024;

/// Longest `User-Agent` kept, in characters: enough for every real browser
/// string, and origins are shown in a table.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Longest client IP text, in characters (an IPv6 address with a zone is 45).
pub const MAX_IP_CHARS: usize = 64;

/// Earliest `occurred_at` of a platform record (2000-01-01T00:00:00Z, in ms): a
/// support platform's records are recent; an earlier time is a unit mistake
/// (seconds for milliseconds) or a forgery that would sort below everything.
pub const MIN_OCCURRED_AT_MS: i64 = 946_684_800_000;

/// How far after the collector's clock a platform record's `occurred_at` may be,
/// in ms (a day): room for any clock skew, while `i64::MAX` (a record pinned
/// to the top of the newest-first activity log forever) is refused.
pub const MAX_OCCURRED_AT_AHEAD_MS: i64 = 86_400_000;
