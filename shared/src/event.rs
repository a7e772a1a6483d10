//! The co-browsing events a recorder captures and the batch it sends them in.
//!
//! On the wire an event is one flat JSON object:
//!
//! ```json
//! {"seq":0,"ts":1763800000000,"mono":1234,"actor":{"kind":"customer"},
//!  "type":"CLICK","data":{"target":{"id":"buy","tag":"button","path":"main>button#buy"}}}
//! ```
//!
//! `type` carries the product document's exact names (`CLICK`, `SCROLL`, `FORM`,
//! `INPUT`, `PAGE-CHANGE`, `SELECTION`, `CUSTOM_EVENT`) and `data` the fields that
//! type records.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, SessionId, TabId};
use crate::limits::*;

/// Who caused an event: the seed's "was it an agent" flag, made precise.
///
/// Deserialised by hand (see the `Deserialize` impl below): serde's derive for
/// an internally tagged enum ignores extra keys beside a unit variant's tag,
/// `deny_unknown_fields` or not, so `{"kind":"customer","id":"x"}` was taken
/// as a customer with the id dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Actor {
    /// The person whose page it is.
    Customer,
    /// A support agent, acting in their own page or through the co-browsing tool.
    Agent { id: AgentId },
    /// The page's own code dispatched the DOM event (`isTrusted == false`) outside
    /// an agent's control: neither person did it.
    Script,
}

/// The wire form of an [`Actor`]: `kind` and, for an agent only, `id`.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an actor: {\"kind\": \"customer\" | \"script\"} or {\"kind\": \"agent\", \"id\": …}"
)]
struct ActorWire {
    kind: ActorKind,
    /// `Some` whenever the key is present, `null` too.
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<AgentId>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ActorKind {
    Customer,
    Agent,
    Script,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<AgentId>>, D::Error> {
    Option::<AgentId>::deserialize(d).map(Some)
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wire = ActorWire::deserialize(d)?;
        match (wire.kind, wire.id) {
            (ActorKind::Agent, Some(Some(id))) => Ok(Actor::Agent { id }),
            (ActorKind::Agent, _) => Err(D::Error::missing_field("id")),
            (ActorKind::Customer, None) => Ok(Actor::Customer),
            (ActorKind::Script, None) => Ok(Actor::Script),
            (kind, Some(_)) => Err(D::Error::custom(match kind {
                ActorKind::Customer => "a customer actor has no `id` (only an agent has one)",
                _ => "a script actor has no `id` (only an agent has one)",
            })),
        }
    }
}

impl Actor {
    /// The `kind` string used on the wire and in API filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Customer => "customer",
            Actor::Agent { .. } => "agent",
            Actor::Script => "script",
        }
    }
}

/// The seven event types, with the names of the product document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    #[serde(rename = "CLICK")]
    Click,
    #[serde(rename = "SCROLL")]
    Scroll,
    #[serde(rename = "FORM")]
    Form,
    #[serde(rename = "INPUT")]
    Input,
    #[serde(rename = "PAGE-CHANGE")]
    PageChange,
    #[serde(rename = "SELECTION")]
    Selection,
    #[serde(rename = "CUSTOM_EVENT")]
    Custom,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::Click,
        EventType::Scroll,
        EventType::Form,
        EventType::Input,
        EventType::PageChange,
        EventType::Selection,
        EventType::Custom,
    ];

    /// The exact wire name (`"PAGE-CHANGE"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Click => "CLICK",
            EventType::Scroll => "SCROLL",
            EventType::Form => "FORM",
            EventType::Input => "INPUT",
            EventType::PageChange => "PAGE-CHANGE",
            EventType::Selection => "SELECTION",
            EventType::Custom => "CUSTOM_EVENT",
        }
    }

    /// Parses a wire name, as used in API filters.
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Event<V = serde_json::Value> {
    /// Position in the tab's stream, contiguous from 0: with the session and tab
    /// it is the idempotency key, so a re-sent event is stored once.
    pub seq: u64,
    /// Client wall-clock time, milliseconds since the Unix epoch.
    pub ts: i64,
    /// Milliseconds since the page's time origin (`performance.now()`): monotonic
    /// within a page, so order and intervals survive a wall-clock jump.
    pub mono: u64,
    pub actor: Actor,
    #[serde(flatten)]
    pub data: EventData<V>,
}

impl<V> Event<V> {
    pub fn event_type(&self) -> EventType {
        self.data.event_type()
    }
}

/// What happened, tagged with the seed's type name.
///
/// `V` is how a custom event's value is held (see [`CustomData`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data")]
pub enum EventData<V = serde_json::Value> {
    #[serde(rename = "CLICK")]
    Click(ClickData),
    #[serde(rename = "SCROLL")]
    Scroll(ScrollData),
    #[serde(rename = "FORM")]
    Form(FormData),
    #[serde(rename = "INPUT")]
    Input(InputData),
    #[serde(rename = "PAGE-CHANGE")]
    PageChange(PageChangeData),
    #[serde(rename = "SELECTION")]
    Selection(SelectionData),
    #[serde(rename = "CUSTOM_EVENT")]
    Custom(CustomData<V>),
}

impl<V> EventData<V> {
    pub fn event_type(&self) -> EventType {
        match self {
            EventData::Click(_) => EventType::Click,
            EventData::Scroll(_) => EventType::Scroll,
            EventData::Form(_) => EventType::Form,
            EventData::Input(_) => EventType::Input,
            EventData::PageChange(_) => EventType::PageChange,
            EventData::Selection(_) => EventType::Selection,
            EventData::Custom(_) => EventType::Custom,
        }
    }
}

/// Identifies a DOM element well enough for a reviewer to find it on the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ElementRef {
    /// The element's `id` attribute: the seed's "element id".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The element's `name` attribute: the seed's "element name".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Lower-case tag name (`button`, `input`, …).
    pub tag: String,
    /// Short CSS path from a stable ancestor, e.g. `form#checkout>button.primary`.
    pub path: String,
    /// What a person reads on or for the element (aria-label, `<label>`, short
    /// text), masked like any other captured text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// `CLICK`: an element was clicked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClickData {
    pub target: ElementRef,
}

/// `SCROLL`: the page or an element was scrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScrollData {
    /// The scrolled element; absent when the whole page scrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ElementRef>,
    /// Horizontal scroll position in CSS pixels.
    pub x: i64,
    /// Vertical scroll position in CSS pixels.
    pub y: i64,
}

/// `FORM`: a form was submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FormData {
    /// The form (its id and name are the seed's "form name / id").
    pub target: ElementRef,
    /// Where the form goes (`action`, without query string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `get` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// Why a captured value was withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum MaskReason {
    /// A password field: never sent, not even its length.
    Password,
    /// A payment card field (`autocomplete="cc-*"`).
    CreditCard,
    /// A hidden input.
    Hidden,
    /// Inside an element the site marked with `data-cotrail-mask`.
    Marked,
    /// The strict masking level masks every value.
    Strict,
}

impl MaskReason {
    /// The name on the wire, as serde writes it (the recorder's encoder uses it).
    pub fn as_str(self) -> &'static str {
        match self {
            MaskReason::Password => "password",
            MaskReason::CreditCard => "credit-card",
            MaskReason::Hidden => "hidden",
            MaskReason::Marked => "marked",
            MaskReason::Strict => "strict",
        }
    }
}

/// `INPUT`: a field's value changed (debounced: the value once typing settles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InputData {
    pub target: ElementRef,
    /// The text typed or chosen; absent when masked or for checkable inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// State of a checkbox or radio button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    /// Set when the value was withheld, saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<MaskReason>,
}

/// How a page change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Navigation {
    /// The document loaded (first view, full navigation or reload).
    Load,
    /// `history.pushState`.
    Push,
    /// `history.replaceState`.
    Replace,
    /// Back / forward (`popstate`).
    Pop,
    /// The fragment changed (`hashchange`).
    Hash,
}

impl Navigation {
    /// The name on the wire, as serde writes it (the recorder's encoder uses it).
    pub fn as_str(self) -> &'static str {
        match self {
            Navigation::Load => "load",
            Navigation::Push => "push",
            Navigation::Replace => "replace",
            Navigation::Pop => "pop",
            Navigation::Hash => "hash",
        }
    }
}

/// `PAGE-CHANGE`: the page (or the single-page app's view) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PageChangeData {
    /// The page URL (query string dropped by the recorder unless allowed).
    pub url: String,
    /// The page name: the document title.
    pub title: String,
    pub nav: Navigation,
}

/// `SELECTION`: text or elements were selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SelectionData {
    /// The selected text; absent when masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The element holding the start of the selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ElementRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<MaskReason>,
}

/// `CUSTOM_EVENT`: page code called `recordCustom(type, value)`.
///
/// `V` is how the value is held: a decoded `serde_json::Value` by default (the
/// collector validates and stores it); the recorder holds the JSON text the
/// browser produced, so it needs no JSON decoder. Both encode the same JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomData<V = serde_json::Value> {
    /// The page's own event type, e.g. `"cart"`.
    #[serde(rename = "type")]
    pub custom_type: String,
    /// Any JSON value, up to [`MAX_CUSTOM_VALUE_BYTES`] and [`MAX_JSON_DEPTH`].
    pub value: V,
}

/// What a recorder sends: events of one tab of one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Format version ([`crate::WIRE_VERSION`]).
    pub v: u32,
    pub session_id: SessionId,
    pub tab_id: TabId,
    pub events: Vec<Event>,
    /// Sequence numbers this tab will never send, and why: a lost event is
    /// recorded as lost instead of silently missing from the trail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

/// Why a recorder gave up on events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The collector was unreachable for so long that the recorder's bounded
    /// queue filled up and dropped its oldest events.
    QueueFull,
    /// The collector rejected the batch carrying them (a 4xx that retrying
    /// cannot fix).
    Rejected,
    /// They could not be encoded (should not happen; reported rather than hidden).
    Unencodable,
}

impl GapReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::QueueFull => "queue_full",
            GapReason::Rejected => "rejected",
            GapReason::Unencodable => "unencodable",
        }
    }
}

/// A run of lost sequence numbers, `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Gap {
    pub from: u64,
    pub to: u64,
    pub reason: GapReason,
}

/// A batch or event that breaks a shared limit; says which and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// Machine-readable code (`too_many_events`, `text_too_long`, …).
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for LimitError {}

pub(crate) fn limit(code: &'static str, message: String) -> LimitError {
    LimitError { code, message }
}

pub(crate) fn check_text(what: &str, s: &str, max: usize) -> Result<(), LimitError> {
    // Count characters only when the byte length could exceed the limit.
    if s.len() > max && char_count(s) > max {
        return Err(limit(
            "text_too_long",
            format!("{what} is longer than {max} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_opt(what: &str, s: &Option<String>, max: usize) -> Result<(), LimitError> {
    s.as_deref().map_or(Ok(()), |s| check_text(what, s, max))
}

fn check_element(what: &str, e: &ElementRef) -> Result<(), LimitError> {
    check_opt(&format!("{what}.id"), &e.id, MAX_TEXT_CHARS)?;
    check_opt(&format!("{what}.name"), &e.name, MAX_TEXT_CHARS)?;
    check_text(&format!("{what}.tag"), &e.tag, MAX_ID_LEN)?;
    check_text(&format!("{what}.path"), &e.path, MAX_PATH_CHARS)?;
    check_opt(&format!("{what}.label"), &e.label, MAX_TEXT_CHARS)
}

/// Depth of a JSON value: a scalar is 1, `[1]` is 2.
pub fn json_depth(v: &serde_json::Value) -> usize {
    // Iterative so that measuring a hostile value cannot itself overflow the stack.
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            serde_json::Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

impl CustomData {
    /// Checks the type name and value against the shared limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        let t = self.custom_type.trim();
        if t.is_empty() {
            return Err(limit(
                "bad_custom_type",
                "custom event type must be a non-empty string".into(),
            ));
        }
        check_text(
            "custom event type",
            &self.custom_type,
            MAX_CUSTOM_TYPE_CHARS,
        )?;
        let depth = json_depth(&self.value);
        if depth > MAX_JSON_DEPTH {
            return Err(limit(
                "json_too_deep",
                format!("custom event value nests {depth} levels, the limit is {MAX_JSON_DEPTH}"),
            ));
        }
        let bytes = serde_json::to_vec(&self.value).map_or(usize::MAX, |b| b.len());
        if bytes > MAX_CUSTOM_VALUE_BYTES {
            return Err(limit(
                "custom_value_too_large",
                format!(
                    "custom event value is {bytes} bytes as JSON, the limit is {MAX_CUSTOM_VALUE_BYTES}"
                ),
            ));
        }
        Ok(())
    }
}

impl Event {
    /// Checks every string and value of the event against the shared limits.
    pub fn validate(&self) -> Result<(), LimitError> {
        match &self.data {
            EventData::Click(d) => check_element("target", &d.target),
            EventData::Scroll(d) => d
                .target
                .as_ref()
                .map_or(Ok(()), |t| check_element("target", t)),
            EventData::Form(d) => {
                check_element("target", &d.target)?;
                check_opt("action", &d.action, MAX_URL_CHARS)?;
                check_opt("method", &d.method, MAX_ID_LEN)
            }
            EventData::Input(d) => {
                check_element("target", &d.target)?;
                check_opt("value", &d.value, MAX_TEXT_CHARS)
            }
            EventData::PageChange(d) => {
                check_text("url", &d.url, MAX_URL_CHARS)?;
                check_text("title", &d.title, MAX_TEXT_CHARS)
            }
            EventData::Selection(d) => {
                check_opt("text", &d.text, MAX_TEXT_CHARS)?;
                d.target
                    .as_ref()
                    .map_or(Ok(()), |t| check_element("target", t))
            }
            EventData::Custom(d) => d.validate(),
        }
    }
}

impl Batch {
    /// Checks the batch against the shared limits: version, count, and every event.
    /// The error names the offending event by its `seq`.
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.v == 0 || self.v > crate::WIRE_VERSION {
            return Err(limit(
                "unsupported_version",
                format!(
                    "batch format version {} is not supported (this collector speaks 1 to {})",
                    self.v,
                    crate::WIRE_VERSION
                ),
            ));
        }
        if self.events.is_empty() && self.gaps.is_empty() {
            return Err(limit(
                "empty_batch",
                "batch has no events and no gaps".into(),
            ));
        }
        if self.gaps.len() > MAX_GAPS_PER_BATCH {
            return Err(limit(
                "too_many_gaps",
                format!(
                    "batch has {} gaps, the limit is {MAX_GAPS_PER_BATCH}",
                    self.gaps.len()
                ),
            ));
        }
        if let Some(g) = self.gaps.iter().find(|g| g.from > g.to) {
            return Err(limit(
                "bad_gap",
                format!("gap from {} to {} runs backwards", g.from, g.to),
            ));
        }
        if let Some(g) = self.gaps.iter().find(|g| g.to - g.from >= MAX_GAP_EVENTS) {
            return Err(limit(
                "bad_gap",
                format!(
                    "gap from {} to {} reports more lost events than a recorder can lose \
                     (the limit is {MAX_GAP_EVENTS} per gap)",
                    g.from, g.to
                ),
            ));
        }
        // At most MAX_GAPS_PER_BATCH gaps (checked above): comparing every pair
        // is cheap and needs no allocation.
        for (i, a) in self.gaps.iter().enumerate() {
            if let Some(b) = self.gaps[i + 1..]
                .iter()
                .find(|b| a.from <= b.to && b.from <= a.to)
            {
                return Err(limit(
                    "bad_gap",
                    format!(
                        "gaps from {} to {} and from {} to {} overlap: \
                         a sequence number is lost once",
                        a.from, a.to, b.from, b.to
                    ),
                ));
            }
        }
        if self.events.len() > MAX_EVENTS_PER_BATCH {
            return Err(limit(
                "too_many_events",
                format!(
                    "batch has {} events, the limit is {MAX_EVENTS_PER_BATCH}",
                    self.events.len()
                ),
            ));
        }
        for e in &self.events {
            e.validate().map_err(|err| LimitError {
                code: err.code,
                message: format!("event seq {}: {}", e.seq, err.message),
            })?;
        }
        Ok(())
    }
}

/// The number of characters (Unicode scalar values) in `s`: its bytes that do
/// not continue a UTF-8 sequence. A plain loop: the recorder's wasm carries it
/// instead of core's unrolled `chars().count()`.
pub fn char_count(s: &str) -> usize {
    s.bytes().filter(|&b| !is_continuation(b)).count()
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Truncates `s` to at most `max` characters, on a character boundary.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    let mut seen = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if !is_continuation(b) {
            if seen == max {
                // `i` starts a character, so it is a boundary.
                return s.get(..i).unwrap_or(s);
            }
            seen += 1;
        }
    }
    s
}

#[cfg(test)]
mod char_tests {
    use super::*;

    #[test]
    fn counting_and_truncating_agree_with_chars() {
        for s in [
            "",
            "a",
            "héllo",
            "日本語テキスト",
            "a😀b😀c",
            "\u{10FFFF}x",
            "mixed ascii, é, 語 and 😀",
        ] {
            assert_eq!(char_count(s), s.chars().count(), "{s}");
            for max in 0..12 {
                let expected: String = s.chars().take(max).collect();
                assert_eq!(truncate_chars(s, max), expected, "{s} / {max}");
            }
        }
    }
}

#[cfg(test)]
mod wire_name_tests {
    use super::*;

    #[test]
    fn as_str_is_the_name_serde_writes() {
        let name = |v: serde_json::Value| v.as_str().unwrap().to_owned();
        for r in [
            MaskReason::Password,
            MaskReason::CreditCard,
            MaskReason::Hidden,
            MaskReason::Marked,
            MaskReason::Strict,
        ] {
            assert_eq!(r.as_str(), name(serde_json::to_value(r).unwrap()));
        }
        for n in [
            Navigation::Load,
            Navigation::Push,
            Navigation::Replace,
            Navigation::Pop,
            Navigation::Hash,
        ] {
            assert_eq!(n.as_str(), name(serde_json::to_value(n).unwrap()));
        }
        for t in EventType::ALL {
            assert_eq!(t.as_str(), name(serde_json::to_value(t).unwrap()));
        }
    }
}

#[cfg(test)]
mod gap_tests {
    use super::*;

    fn with_gaps(gaps: &[(u64, u64)]) -> Batch {
        Batch {
            v: crate::WIRE_VERSION,
            session_id: SessionId::parse("s").unwrap(),
            tab_id: TabId::parse("t").unwrap(),
            events: Vec::new(),
            gaps: gaps
                .iter()
                .map(|&(from, to)| Gap {
                    from,
                    to,
                    reason: GapReason::QueueFull,
                })
                .collect(),
        }
    }

    #[test]
    fn a_gap_wider_than_a_recorder_could_ever_lose_is_refused() {
        let widest = MAX_GAP_EVENTS - 1;
        assert_eq!(with_gaps(&[(0, widest)]).validate(), Ok(()));
        assert_eq!(with_gaps(&[(5, 5 + widest)]).validate(), Ok(()));
        for (from, to) in [(0, MAX_GAP_EVENTS), (0, u64::MAX), (1, u64::MAX)] {
            let err = with_gaps(&[(from, to)]).validate().unwrap_err();
            assert_eq!(err.code, "bad_gap", "{from}..={to}");
            assert!(err.message.contains("the limit is"), "{}", err.message);
        }
    }

    #[test]
    fn overlapping_gaps_in_one_batch_are_refused() {
        assert_eq!(with_gaps(&[(1, 3), (4, 9), (20, 20)]).validate(), Ok(()));
        for gaps in [
            &[(1, 5), (5, 9)][..],
            &[(4, 9), (1, 4)],
            &[(1, 9), (3, 4)],
            &[(7, 7), (1, 2), (7, 7)],
        ] {
            let err = with_gaps(gaps).validate().unwrap_err();
            assert_eq!(err.code, "bad_gap", "{gaps:?}");
            assert!(err.message.contains("overlap"), "{}", err.message);
        }
    }
}
