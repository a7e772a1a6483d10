//! Platform audit records: the tenant activity log.
//!
//! The platform (calls, chat, meetings, settings, …) posts one record per
//! action with a server key. On the wire a record is one flat JSON object, its
//! `type` and `data` tagged like co-browsing events:
//!
//! ```json
//! {"record_id":"r-1","user_id":"ana","actor":"user","occurred_at":1763800000000,
//!  "entity":{"kind":"call","id":"c-9"},"action":"Call started",
//!  "type":"START_CALL","data":{"call_id":"c-9","customer_id":"cu-4"}}
//! ```
//!
//! `type` carries the product document's 14 names (`START_CALL` …
//! `CONFERENCE_RECORDING`). The collector's own records (who viewed, exported,
//! verified or deleted a session trail) are not among them: they are served as
//! [`AuditEntry`] with `source: "collector"`, no `type`, and an `action` such as
//! `session.viewed`.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::Origin;
use crate::event::{check_opt, check_text, json_depth, limit, LimitError};
use crate::ids::{SessionId, UserId};
use crate::limits::*;

/// The 14 platform record types, with the names of the product document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlatformRecordType {
    StartCall,
    MessengerSend,
    LiveView,
    LoggedIn,
    OnlineStatusOnline,
    OnlineStatusOffline,
    StatusChange,
    RoleChange,
    PermissionChange,
    PluginChange,
    SettingsChange,
    MeetingChange,
    ConferenceAgent,
    ConferenceRecording,
}

impl PlatformRecordType {
    pub const ALL: [PlatformRecordType; 14] = [
        PlatformRecordType::StartCall,
        PlatformRecordType::MessengerSend,
        PlatformRecordType::LiveView,
        PlatformRecordType::LoggedIn,
        PlatformRecordType::OnlineStatusOnline,
        PlatformRecordType::OnlineStatusOffline,
        PlatformRecordType::StatusChange,
        PlatformRecordType::RoleChange,
        PlatformRecordType::PermissionChange,
        PlatformRecordType::PluginChange,
        PlatformRecordType::SettingsChange,
        PlatformRecordType::MeetingChange,
        PlatformRecordType::ConferenceAgent,
        PlatformRecordType::ConferenceRecording,
    ];

    /// The exact wire name (`"START_CALL"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformRecordType::StartCall => "START_CALL",
            PlatformRecordType::MessengerSend => "MESSENGER_SEND",
            PlatformRecordType::LiveView => "LIVE_VIEW",
            PlatformRecordType::LoggedIn => "LOGGED_IN",
            PlatformRecordType::OnlineStatusOnline => "ONLINE_STATUS_ONLINE",
            PlatformRecordType::OnlineStatusOffline => "ONLINE_STATUS_OFFLINE",
            PlatformRecordType::StatusChange => "STATUS_CHANGE",
            PlatformRecordType::RoleChange => "ROLE_CHANGE",
            PlatformRecordType::PermissionChange => "PERMISSION_CHANGE",
            PlatformRecordType::PluginChange => "PLUGIN_CHANGE",
            PlatformRecordType::SettingsChange => "SETTINGS_CHANGE",
            PlatformRecordType::MeetingChange => "MEETING_CHANGE",
            PlatformRecordType::ConferenceAgent => "CONFERENCE_AGENT",
            PlatformRecordType::ConferenceRecording => "CONFERENCE_RECORDING",
        }
    }

    /// Parses a wire name, as used in API filters.
    pub fn parse(s: &str) -> Option<PlatformRecordType> {
        PlatformRecordType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for PlatformRecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, tagged with the seed's type name; `data` holds the seed's
/// fields for that type. The three types without data carry no `data` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data")]
pub enum PlatformData {
    /// `[Call] Start`: a 1:1 audio/video/screen-share call started.
    #[serde(rename = "START_CALL")]
    StartCall(CallData),
    /// `[Messenger] Send message`: a live-chat message was sent.
    #[serde(rename = "MESSENGER_SEND")]
    MessengerSend(MessengerSendData),
    /// `[LiveView] joined`: the user joined a co-browsing session.
    #[serde(rename = "LIVE_VIEW")]
    LiveView(LiveViewData),
    /// `[Account] Logged in`.
    #[serde(rename = "LOGGED_IN")]
    LoggedIn,
    /// `[Agent] Go Online`.
    #[serde(rename = "ONLINE_STATUS_ONLINE")]
    OnlineStatusOnline,
    /// `[Agent] Go Offline`.
    #[serde(rename = "ONLINE_STATUS_OFFLINE")]
    OnlineStatusOffline,
    /// `[Chat] Status changed`.
    #[serde(rename = "STATUS_CHANGE")]
    StatusChange(StatusChangeData),
    /// `[Roles] changed`: a tenant user's role changed.
    #[serde(rename = "ROLE_CHANGE")]
    RoleChange(RoleChangeData),
    /// `[Permissions] changed`: the permissions inside a role changed.
    #[serde(rename = "PERMISSION_CHANGE")]
    PermissionChange(PermissionChangeData),
    /// `[Plugin] changed`: the new plugin configuration.
    #[serde(rename = "PLUGIN_CHANGE")]
    PluginChange(ConfigData),
    /// `[Settings] changed`: the new setting configuration.
    #[serde(rename = "SETTINGS_CHANGE")]
    SettingsChange(ConfigData),
    /// `[Meeting] changed`: created, updated or deleted.
    #[serde(rename = "MEETING_CHANGE")]
    MeetingChange(MeetingChangeData),
    /// `[Meeting] Agent joined`.
    #[serde(rename = "CONFERENCE_AGENT")]
    ConferenceAgent(CallData),
    /// `[Meeting] Recording started`.
    #[serde(rename = "CONFERENCE_RECORDING")]
    ConferenceRecording(ConferenceRecordingData),
}

impl PlatformData {
    pub fn record_type(&self) -> PlatformRecordType {
        use PlatformRecordType as T;
        match self {
            PlatformData::StartCall(_) => T::StartCall,
            PlatformData::MessengerSend(_) => T::MessengerSend,
            PlatformData::LiveView(_) => T::LiveView,
            PlatformData::LoggedIn => T::LoggedIn,
            PlatformData::OnlineStatusOnline => T::OnlineStatusOnline,
            PlatformData::OnlineStatusOffline => T::OnlineStatusOffline,
            PlatformData::StatusChange(_) => T::StatusChange,
            PlatformData::RoleChange(_) => T::RoleChange,
            PlatformData::PermissionChange(_) => T::PermissionChange,
            PlatformData::PluginChange(_) => T::PluginChange,
            PlatformData::SettingsChange(_) => T::SettingsChange,
            PlatformData::MeetingChange(_) => T::MeetingChange,
            PlatformData::ConferenceAgent(_) => T::ConferenceAgent,
            PlatformData::ConferenceRecording(_) => T::ConferenceRecording,
        }
    }

    /// Checks every string, list and JSON payload against the shared limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            PlatformData::StartCall(d) | PlatformData::ConferenceAgent(d) => d.validate(),
            PlatformData::MessengerSend(d) => {
                check_text("data.customer_id", &d.customer_id, MAX_REF_CHARS)
            }
            PlatformData::LiveView(_)
            | PlatformData::LoggedIn
            | PlatformData::OnlineStatusOnline
            | PlatformData::OnlineStatusOffline => Ok(()),
            PlatformData::StatusChange(d) => {
                check_text("data.customer_id", &d.customer_id, MAX_REF_CHARS)?;
                check_text("data.status", &d.status, MAX_LABEL_CHARS)?;
                check_text("data.message_id", &d.message_id, MAX_REF_CHARS)
            }
            PlatformData::RoleChange(d) => check_text("data.role", &d.role, MAX_LABEL_CHARS),
            PlatformData::PermissionChange(d) => {
                check_text("data.role", &d.role, MAX_LABEL_CHARS)?;
                check_list("data.permissions", &d.permissions)
            }
            PlatformData::PluginChange(d) | PlatformData::SettingsChange(d) => {
                check_json("data.config", &d.config)
            }
            PlatformData::MeetingChange(d) => check_json("data.conference", &d.conference),
            PlatformData::ConferenceRecording(d) => {
                check_text("data.call_id", &d.call_id, MAX_REF_CHARS)?;
                check_text("data.customer_id", &d.customer_id, MAX_REF_CHARS)?;
                if d.agents.len() > MAX_LIST_ITEMS {
                    return Err(limit(
                        "too_many_items",
                        format!(
                            "data.agents has {} items, the limit is {MAX_LIST_ITEMS}",
                            d.agents.len()
                        ),
                    ));
                }
                check_list("data.tags", &d.tags)
            }
        }
    }
}

/// `START_CALL` and `CONFERENCE_AGENT`: the seed's callID and customerID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CallData {
    pub call_id: String,
    pub customer_id: String,
}

impl CallData {
    fn validate(&self) -> Result<(), LimitError> {
        check_text("data.call_id", &self.call_id, MAX_REF_CHARS)?;
        check_text("data.customer_id", &self.customer_id, MAX_REF_CHARS)
    }
}

/// `MESSENGER_SEND`: the customer the message went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MessengerSendData {
    pub customer_id: String,
}

/// `LIVE_VIEW`: the co-browsing session joined (a cotrail session id, so the
/// activity log can link to its trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LiveViewData {
    pub session_id: SessionId,
}

/// `STATUS_CHANGE`: a chat conversation's new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusChangeData {
    pub customer_id: String,
    /// The new status, e.g. `"DONE"`.
    pub status: String,
    pub message_id: String,
}

/// `ROLE_CHANGE`: the tenant user whose role changed and the new role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleChangeData {
    pub role: String,
    pub tenant_user: UserId,
}

/// `PERMISSION_CHANGE`: a role and its permissions after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PermissionChangeData {
    pub role: String,
    pub permissions: Vec<String>,
}

/// `PLUGIN_CHANGE` / `SETTINGS_CHANGE`: the new configuration, any JSON up to
/// [`MAX_RECORD_JSON_BYTES`] and [`MAX_JSON_DEPTH`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigData {
    pub config: Value,
}

/// What happened to a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeetingOperation {
    CreateOrUpdate,
    Delete,
}

/// `MEETING_CHANGE`: the operation and the conference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MeetingChangeData {
    pub operation: MeetingOperation,
    pub conference: Value,
}

/// `CONFERENCE_RECORDING`: the call, the customer, the agents who had joined
/// and the recording's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConferenceRecordingData {
    pub call_id: String,
    pub customer_id: String,
    pub agents: Vec<UserId>,
    pub tags: Vec<String>,
}

/// What kind of actor caused a record (the peer screen's Actor column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A tenant user, in the platform's UI.
    User,
    /// A tenant's integration through the platform's API.
    Api,
    /// The platform itself (schedules, automations).
    System,
    /// An AI assistant acting for the tenant.
    Ai,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Api => "api",
            ActorKind::System => "system",
            ActorKind::Ai => "ai",
        }
    }
}

/// The object a record is about (the peer screen's Entity column:
/// `Conversation #18` is `{"kind":"conversation","id":"18"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub kind: String,
    pub id: String,
}

/// A before/after snapshot of only the fields that changed. `before` is
/// absent for something created, `after` for something deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Change {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Map<String, Value>>,
}

/// A platform audit record as posted to `POST /api/v1/platform/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlatformRecord {
    /// The platform's id for the record, unique per tenant: re-posting a record
    /// with the same id stores it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The tenant user who caused the record (the seed keeps it for every record).
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Entity>,
    /// Short text for a person, e.g. `"Status changed"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub actor: ActorKind,
    /// Where the action came from (the user's browser, not the platform's
    /// server). When absent, the collector stamps the posting request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// When it happened on the platform, ms since the Unix epoch.
    pub occurred_at: i64,
    #[serde(flatten)]
    pub data: PlatformData,
}

fn check_list(what: &str, items: &[String]) -> Result<(), LimitError> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(limit(
            "too_many_items",
            format!(
                "{what} has {} items, the limit is {MAX_LIST_ITEMS}",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .try_for_each(|s| check_text(&format!("{what} item"), s, MAX_LABEL_CHARS))
}

fn check_json(what: &str, v: &Value) -> Result<(), LimitError> {
    let depth = json_depth(v);
    if depth > MAX_JSON_DEPTH {
        return Err(limit(
            "json_too_deep",
            format!("{what} nests {depth} levels, the limit is {MAX_JSON_DEPTH}"),
        ));
    }
    let bytes = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    if bytes > MAX_RECORD_JSON_BYTES {
        return Err(limit(
            "json_too_large",
            format!("{what} is {bytes} bytes as JSON, the limit is {MAX_RECORD_JSON_BYTES}"),
        ));
    }
    Ok(())
}

fn check_nonblank(what: &str, s: &str) -> Result<(), LimitError> {
    if s.trim().is_empty() {
        return Err(limit("empty_field", format!("{what} must not be empty")));
    }
    Ok(())
}

/// Checks an origin's strings (shared by platform and collector records).
pub fn check_origin(o: &Origin) -> Result<(), LimitError> {
    check_opt("origin.ip", &o.ip, MAX_IP_CHARS)?;
    check_opt("origin.user_agent", &o.user_agent, MAX_USER_AGENT_CHARS)
}

impl Change {
    /// Size and depth limits, and the promise that a change lists only fields
    /// that changed: a field with the same value before and after is refused.
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.before.is_none() && self.after.is_none() {
            return Err(limit(
                "empty_change",
                "change needs before, after or both".into(),
            ));
        }
        for (what, side) in [
            ("change.before", &self.before),
            ("change.after", &self.after),
        ] {
            if let Some(m) = side {
                // A map is one level deeper than its values.
                check_json(what, &Value::Object(m.clone()))?;
            }
        }
        if let (Some(b), Some(a)) = (&self.before, &self.after) {
            if let Some(k) = b.keys().find(|k| a.get(*k) == b.get(*k)) {
                return Err(limit(
                    "unchanged_field",
                    format!("change lists field {k:?} with the same value before and after; list only fields that changed"),
                ));
            }
        }
        Ok(())
    }
}

impl PlatformRecord {
    pub fn record_type(&self) -> PlatformRecordType {
        self.data.record_type()
    }

    /// Checks the record against the shared limits; the error names the field.
    pub fn validate(&self) -> Result<(), LimitError> {
        if let Some(id) = &self.record_id {
            check_nonblank("record_id", id)?;
            check_text("record_id", id, MAX_RECORD_ID_CHARS)?;
        }
        if let Some(e) = &self.entity {
            check_nonblank("entity.kind", &e.kind)?;
            check_text("entity.kind", &e.kind, MAX_REF_CHARS)?;
            check_nonblank("entity.id", &e.id)?;
            check_text("entity.id", &e.id, MAX_REF_CHARS)?;
        }
        if let Some(a) = &self.action {
            check_nonblank("action", a)?;
            check_text("action", a, MAX_LABEL_CHARS)?;
        }
        if let Some(o) = &self.origin {
            check_origin(o)?;
        }
        if let Some(c) = &self.change {
            c.validate()?;
        }
        if self.occurred_at < MIN_OCCURRED_AT_MS {
            return Err(limit(
                "bad_time",
                format!(
                    "occurred_at {} is before 2000-01-01, the limit is {MIN_OCCURRED_AT_MS} (ms since 1970)",
                    self.occurred_at
                ),
            ));
        }
        self.data.validate()
    }

    /// Checks `occurred_at` against the receiver's clock `now` (ms): at most
    /// [`MAX_OCCURRED_AT_AHEAD_MS`] after it. [`PlatformRecord::validate`]
    /// checks everything else.
    pub fn validate_time(&self, now: i64) -> Result<(), LimitError> {
        let latest = now.saturating_add(MAX_OCCURRED_AT_AHEAD_MS);
        if self.occurred_at > latest {
            return Err(limit(
                "bad_time",
                format!(
                    "occurred_at {} is more than a day after the collector's clock, the limit is {latest} (now + {MAX_OCCURRED_AT_AHEAD_MS} ms)",
                    self.occurred_at
                ),
            ));
        }
        Ok(())
    }
}

/// Who wrote an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuditSource {
    /// Posted by the platform with a server key (one of the 14 seed types).
    Platform,
    /// Written by the collector itself: access to a session trail.
    Collector,
}

/// The user a checkpoint entry names (`sessions.checkpointed`).
pub const CHECKPOINT_USER: &str = "collector";

/// The longest list query a `sessions.listed` entry keeps.
pub const MAX_LISTING_QUERY_CHARS: usize = 512;

/// The collector's own actions on session trails, recorded in the activity log
/// beside the platform's records (reads and exports are audited too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AccessAction {
    #[serde(rename = "session.viewed")]
    Viewed,
    #[serde(rename = "session.exported")]
    Exported,
    #[serde(rename = "session.verified")]
    Verified,
    #[serde(rename = "session.deleted")]
    Deleted,
    /// A page of the session list: it names customers' addresses, browsers
    /// and pages, and a search (`q=`) finds who visited a page.
    #[serde(rename = "sessions.listed")]
    Listed,
    /// The chain lengths and heads of sessions that stored records since the
    /// collector's previous checkpoint (user `collector`): chained in the
    /// activity log, they pin those trails to it.
    #[serde(rename = "sessions.checkpointed")]
    Checkpointed,
}

impl AccessAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessAction::Viewed => "session.viewed",
            AccessAction::Exported => "session.exported",
            AccessAction::Verified => "session.verified",
            AccessAction::Deleted => "session.deleted",
            AccessAction::Listed => "sessions.listed",
            AccessAction::Checkpointed => "sessions.checkpointed",
        }
    }
}

/// One entry of the activity log as stored and served: a platform record (with
/// its `type` and `data`) or a collector record (no `type`), plus what the
/// collector stamped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub source: AuditSource,
    /// Collector time when the entry was written (ms since epoch).
    pub received_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Entity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub actor: ActorKind,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    pub occurred_at: i64,
    /// `type` and `data` of a platform record; absent for collector records.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(schema_with = platform_data_or_none))]
    pub data: Option<PlatformData>,
}

/// The schema of [`AuditEntry::data`]: flattened, `None` is not `null` but
/// neither `type` nor `data` in the entry, which the derive cannot say.
#[cfg(feature = "openapi")]
fn platform_data_or_none() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    use utoipa::ToSchema;
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    OneOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(PlatformData::name()))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("A collector entry: no `type`, no `data`."))
                .property("type", null())
                .property("data", null()),
        )
        .build()
        .into()
}

impl AuditEntry {
    /// The stored form of a platform record; `fallback` is the posting request's
    /// origin, used when the record names none.
    pub fn platform(r: PlatformRecord, received_at: i64, fallback: &Origin) -> Self {
        AuditEntry {
            source: AuditSource::Platform,
            received_at,
            record_id: r.record_id,
            user_id: r.user_id,
            entity: r.entity,
            action: r.action,
            actor: r.actor,
            origin: r.origin.unwrap_or_else(|| fallback.clone()),
            change: r.change,
            occurred_at: r.occurred_at,
            data: Some(r.data),
        }
    }

    /// The collector's record of a user's access to a session trail.
    pub fn access(
        user: UserId,
        action: AccessAction,
        session: &SessionId,
        origin: Origin,
        now: i64,
    ) -> Self {
        let entity = Entity {
            kind: "session".into(),
            id: session.to_string(),
        };
        AuditEntry::collector(user, action, entity, origin, now)
    }

    /// A collector record: `user` did `action` on `entity`, now.
    /// The collector's record of a session's deletion, by `user` (an admin,
    /// or `retention`): the tombstone's facts (events, chain length and
    /// head) as the `before` of its change, so the chained activity log
    /// vouches for what the tombstone says was deleted.
    pub fn deletion(
        user: UserId,
        tombstone: &crate::api::Tombstone,
        origin: Origin,
        now: i64,
    ) -> Self {
        let mut entry = AuditEntry::access(
            user,
            AccessAction::Deleted,
            &tombstone.session_id,
            origin,
            now,
        );
        let mut before = Map::new();
        before.insert("event_count".into(), tombstone.event_count.into());
        before.insert("chain_length".into(), tombstone.chain_length.into());
        before.insert("chain_head".into(), tombstone.chain_head.clone().into());
        entry.change = Some(Change {
            before: Some(before),
            after: None,
        });
        entry
    }

    /// The collector's record of `user`'s export of a session: the format and
    /// the chain length and head the export covers (its last line names
    /// them too) as the change's `after`, so the chained activity log pins
    /// what was handed out.
    pub fn export(
        user: UserId,
        session: &SessionId,
        format: &str,
        chain: Option<(u64, String)>,
        origin: Origin,
        now: i64,
    ) -> Self {
        let mut entry = AuditEntry::access(user, AccessAction::Exported, session, origin, now);
        let mut after = Map::new();
        after.insert("format".into(), format.into());
        if let Some((length, head)) = chain {
            after.insert("chain_length".into(), length.into());
            after.insert("chain_head".into(), head.into());
        }
        entry.change = Some(Change {
            before: None,
            after: Some(after),
        });
        entry
    }

    /// The collector's checkpoint of session chains (user `collector`): the
    /// entity is `trails`, its id how many; the change's `after` maps each
    /// session id to `{"length", "head"}`, its chain then.
    pub fn checkpoint<'a>(
        pins: impl IntoIterator<Item = (&'a SessionId, u64, String)>,
        now: i64,
    ) -> Self {
        let mut after = Map::new();
        for (session, length, head) in pins {
            let mut pin = Map::new();
            pin.insert("length".into(), length.into());
            pin.insert("head".into(), head.into());
            after.insert(session.to_string(), pin.into());
        }
        let entity = Entity {
            kind: "trails".into(),
            id: after.len().to_string(),
        };
        let mut entry = AuditEntry::collector(
            UserId::parse(CHECKPOINT_USER).expect("literal id is valid"),
            AccessAction::Checkpointed,
            entity,
            Origin::default(),
            now,
        );
        entry.actor = ActorKind::System;
        entry.change = Some(Change {
            before: None,
            after: Some(after),
        });
        entry
    }

    fn collector(
        user: UserId,
        action: AccessAction,
        entity: Entity,
        origin: Origin,
        now: i64,
    ) -> Self {
        AuditEntry {
            source: AuditSource::Collector,
            received_at: now,
            record_id: None,
            user_id: user,
            entity: Some(entity),
            action: Some(action.as_str().into()),
            actor: ActorKind::User,
            origin,
            change: None,
            occurred_at: now,
            data: None,
        }
    }

    /// The collector's record of a user's listing of sessions: the entity is
    /// `sessions`, its id the list's query (`*` for none), so the log says
    /// which search was made.
    /// (At most [`MAX_LISTING_QUERY_CHARS`] of the query are kept.)
    pub fn listing(user: UserId, query: &str, origin: Origin, now: i64) -> Self {
        let id = match crate::event::truncate_chars(query, MAX_LISTING_QUERY_CHARS) {
            "" => "*",
            q => q,
        };
        let entity = Entity {
            kind: "sessions".into(),
            id: id.into(),
        };
        AuditEntry::collector(user, AccessAction::Listed, entity, origin, now)
    }

    pub fn record_type(&self) -> Option<PlatformRecordType> {
        self.data.as_ref().map(PlatformData::record_type)
    }
}

/// Answer to accepted platform records: every one is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsAck {
    /// Records stored by this request.
    pub stored: usize,
    /// Records whose `record_id` was already stored, skipped.
    pub duplicates: usize,
}

/// A page of the activity log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub records: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
