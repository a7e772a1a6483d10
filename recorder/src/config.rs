//! The recorder's configuration, parsed from the script tag's `data-*` attributes
//! (the loader hands them over as strings).
//!
//! Parsing is pure and lenient where a typo is harmless (a bad flush interval
//! falls back to the default, with a warning) and strict where guessing would
//! mislabel the trail (an agent page without an agent id does not start).

#[allow(unused_imports)]
use crate::prelude::*;
use shared::limits::{DEFAULT_BATCH_EVENTS, DEFAULT_FLUSH_MS, MAX_EVENTS_PER_BATCH};
use shared::{Actor, AgentId, SessionId};

use crate::json::push_str;
use crate::masking::MaskLevel;
use crate::text::{concat, push_id_error};

/// Shortest flush interval accepted: below this a busy page would send a request
/// per interaction.
pub const MIN_FLUSH_MS: u32 = 100;

/// Longest flush interval accepted: a live reviewer should not wait longer.
pub const MAX_FLUSH_MS: u32 = 60_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Collector base URL, without a trailing slash.
    pub collector: String,
    /// Public site key (sent as `?site_key=`); required.
    pub site_key: String,
    /// Session given by the page; `None` means "generate or resume one".
    pub session_id: Option<SessionId>,
    /// Who this page belongs to.
    pub actor: Actor,
    pub mask: MaskLevel,
    pub flush_ms: u32,
    pub batch_events: usize,
    /// Query parameters kept in recorded URLs (`data-allow-params="view,page"`);
    /// every other parameter is dropped.
    pub allow_params: Vec<String>,
}

/// Why the recorder refuses to start (as the page sees it, `cotrail: ` first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub alloc::borrow::Cow<'static, str>);

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// Parses the fields (`collector`, `siteKey`, `sessionId`, `actor`, `agentId`,
    /// `mask`, `flushMs`, `batchEvents`, `allowParams`) read through `get`. Harmless mistakes are
    /// reported through `warn` (as the console shows them, `cotrail: ` first)
    /// and replaced by defaults.
    pub fn parse(
        get: impl Fn(&str) -> Option<String>,
        mut warn: impl FnMut(String),
    ) -> Result<Config, ConfigError> {
        let field = |name: &str| {
            let s = get(name)?;
            let s = crate::text::trim(&s);
            (!s.is_empty()).then(|| s.to_owned())
        };
        let Some(mut collector) = field("collector") else {
            return Err(ConfigError(
                "cotrail: no collector URL (data-collector or script src)".into(),
            ));
        };
        // Trailing slashes go (bytes: `trim_end_matches` links a char searcher,
        // `ends_with(char)` and `pop` a UTF-8 encoder and decoder).
        while collector.as_bytes().last() == Some(&b'/') {
            collector.truncate(collector.len() - 1);
        }
        // Required: the collector refuses every batch without one, so a typo
        // (`data-sitekey`) would record a whole visit only to lose it.
        let Some(site_key) = field("siteKey") else {
            return Err(ConfigError(
                "cotrail: no site key (data-site-key); nothing is recorded without one".into(),
            ));
        };
        let session_id = field("sessionId").and_then(|s| match SessionId::parse(s) {
            Ok(id) => Some(id),
            Err(e) => {
                let mut msg = String::from("cotrail: data-session-id ");
                push_id_error(&mut msg, &e);
                msg.push_str("; a session id is generated instead");
                warn(msg);
                None
            }
        });
        let mut actor = field("actor");
        if let Some(a) = &mut actor {
            a.make_ascii_lowercase();
        }
        let actor = match actor.as_deref() {
            None | Some("customer") => Actor::Customer,
            Some("agent") => {
                let Some(id) = field("agentId") else {
                    return Err(ConfigError(
                        "cotrail: data-actor=\"agent\" needs data-agent-id".into(),
                    ));
                };
                match AgentId::parse(id) {
                    Ok(id) => Actor::Agent { id },
                    Err(e) => {
                        let mut msg = String::from("cotrail: data-agent-id ");
                        push_id_error(&mut msg, &e);
                        return Err(ConfigError(msg.into()));
                    }
                }
            }
            Some(other) => {
                let mut msg =
                    String::from("cotrail: data-actor must be \"customer\" or \"agent\", not ");
                push_str(&mut msg, other);
                return Err(ConfigError(msg.into()));
            }
        };
        let mask = match field("mask") {
            None => MaskLevel::Default,
            Some(s) => MaskLevel::parse(&s).unwrap_or_else(|| {
                // Unknown level: the safer of the two.
                let mut msg = String::from("cotrail: data-mask=");
                push_str(&mut msg, &s);
                msg.push_str(" is unknown; using \"strict\"");
                warn(msg);
                MaskLevel::Strict
            }),
        };
        let flush_ms = number(
            field("flushMs"),
            "cotrail: data-flush-ms=",
            u64::from(MIN_FLUSH_MS),
            u64::from(MAX_FLUSH_MS),
            u64::from(DEFAULT_FLUSH_MS),
            &mut warn,
        ) as u32;
        let batch_events = number(
            field("batchEvents"),
            "cotrail: data-batch-events=",
            1,
            MAX_EVENTS_PER_BATCH as u64,
            DEFAULT_BATCH_EVENTS as u64,
            &mut warn,
        ) as usize;
        Ok(Config {
            collector,
            site_key,
            session_id,
            actor,
            mask,
            flush_ms,
            batch_events,
            allow_params: {
                let mut names = Vec::new();
                for p in crate::text::split_byte(&field("allowParams").unwrap_or_default(), b',') {
                    let p = crate::text::trim(p);
                    if !p.is_empty() {
                        names.push(p.to_owned());
                    }
                }
                names
            },
        })
    }

    /// The batch endpoint, with the site key percent-encoded.
    pub fn batches_url(&self) -> String {
        let mut url = concat(&[&self.collector, "/api/v1/batches?site_key="]);
        push_percent_encoded(&mut url, &self.site_key);
        url
    }
}

/// A number attribute within `min..=max`: one outside is brought inside it,
/// and one that is not a number is the default, each with a warning that
/// starts with `what` (`cotrail: data-flush-ms=`).
fn number(
    v: Option<String>,
    what: &str,
    min: u64,
    max: u64,
    default: u64,
    warn: &mut impl FnMut(String),
) -> u64 {
    let Some(v) = v else {
        return default;
    };
    let n = crate::num::parse_u64(&v);
    let kept = n.map_or(default, |n| n.clamp(min, max));
    // One message for both mistakes: out of range (brought inside it) or
    // not a number (the default).
    if n != Some(kept) {
        let mut msg = String::from(what);
        push_str(&mut msg, &v);
        if n.is_some() {
            msg.push_str(" is out of range; using ");
            crate::text::push_int(&mut msg, kept);
        } else {
            msg.push_str(" is not a number; using the default");
        }
        warn(msg);
    }
    kept
}

/// Appends `s` to `out`, percent-encoding everything outside the
/// URL-unreserved set.
pub fn push_percent_encoded(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b & 0x7f));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> (Result<Config, ConfigError>, Vec<String>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut warnings = Vec::new();
        let cfg = Config::parse(|k| map.get(k).cloned(), |w| warnings.push(w));
        (cfg, warnings)
    }

    #[test]
    fn defaults_apply_when_only_the_collector_and_the_site_key_are_given() {
        let (cfg, warnings) = parse(&[("collector", "https://c.example/"), ("siteKey", "pk_1")]);
        let cfg = cfg.unwrap();
        assert_eq!(cfg.collector, "https://c.example");
        assert_eq!(cfg.actor, Actor::Customer);
        assert_eq!(cfg.mask, MaskLevel::Default);
        assert_eq!(cfg.flush_ms, DEFAULT_FLUSH_MS);
        assert_eq!(cfg.batch_events, DEFAULT_BATCH_EVENTS);
        assert_eq!(
            cfg.batches_url(),
            "https://c.example/api/v1/batches?site_key=pk_1"
        );
        assert!(warnings.is_empty());
    }

    /// Trailing slashes go as `trim_end_matches('/')` takes them, after any
    /// character.
    #[test]
    fn every_trailing_slash_of_the_collector_goes() {
        for url in [
            "https://c.example",
            "https://c.example///",
            "https://c.é/日本/",
            "/x/",
        ] {
            let (cfg, _) = parse(&[("collector", url), ("siteKey", "k")]);
            assert_eq!(cfg.unwrap().collector, url.trim_end_matches('/'), "{url}");
        }
        // Nothing but slashes leaves nothing (the attribute was not empty).
        let (cfg, _) = parse(&[("collector", "//"), ("siteKey", "k")]);
        assert_eq!(cfg.unwrap().collector, "");
    }

    /// Values in warnings and errors are quoted and escaped like JSON.
    #[test]
    fn warnings_and_errors_quote_the_value() {
        let (cfg, warnings) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "k"),
            ("mask", "lo\"ose"),
            ("flushMs", "so\\on"),
            ("batchEvents", "100000"),
        ]);
        assert!(cfg.is_ok());
        assert_eq!(
            warnings,
            [
                "cotrail: data-mask=\"lo\\\"ose\" is unknown; using \"strict\"",
                "cotrail: data-flush-ms=\"so\\\\on\" is not a number; using the default",
                &format!(
                    "cotrail: data-batch-events=\"100000\" is out of range; using {MAX_EVENTS_PER_BATCH}"
                ),
            ]
        );
        let (cfg, _) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "k"),
            ("actor", "Bo\"SS"),
        ]);
        assert_eq!(
            cfg.unwrap_err().0,
            "cotrail: data-actor must be \"customer\" or \"agent\", not \"bo\\\"ss\""
        );
    }

    /// A typo in the attribute's name would record a whole visit for the
    /// collector to refuse: the recorder does not start.
    #[test]
    fn without_a_site_key_the_recorder_does_not_start() {
        for pairs in [
            &[("collector", "http://x")][..],
            &[("collector", "http://x"), ("siteKey", "  ")][..],
        ] {
            let (cfg, _) = parse(pairs);
            assert!(cfg.unwrap_err().0.contains("data-site-key"));
        }
    }

    #[test]
    fn all_attributes_are_read() {
        let (cfg, _) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "pk demo&"),
            ("sessionId", "s-1"),
            ("actor", "agent"),
            ("agentId", "a-7"),
            ("mask", "strict"),
            ("flushMs", "500"),
            ("batchEvents", "9999"),
        ]);
        let cfg = cfg.unwrap();
        assert_eq!(
            cfg.batches_url(),
            "http://x/api/v1/batches?site_key=pk%20demo%26"
        );
        assert_eq!(cfg.session_id.unwrap().as_str(), "s-1");
        assert_eq!(
            cfg.actor,
            Actor::Agent {
                id: AgentId::parse("a-7").unwrap()
            }
        );
        assert_eq!(cfg.mask, MaskLevel::Strict);
        assert_eq!(cfg.flush_ms, 500);
        assert_eq!(cfg.batch_events, MAX_EVENTS_PER_BATCH);
    }

    #[test]
    fn an_agent_page_without_an_agent_id_does_not_start() {
        let (cfg, _) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "k"),
            ("actor", "agent"),
        ]);
        assert!(cfg.unwrap_err().0.contains("data-agent-id"));
        let (cfg, _) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "k"),
            ("actor", "boss"),
        ]);
        assert!(cfg.is_err());
    }

    #[test]
    fn harmless_mistakes_fall_back_with_a_warning() {
        let (cfg, warnings) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "k"),
            ("sessionId", "has space"),
            ("flushMs", "soon"),
            ("mask", "loose"),
            ("batchEvents", "0"),
        ]);
        let cfg = cfg.unwrap();
        assert_eq!(cfg.session_id, None);
        assert_eq!(cfg.flush_ms, DEFAULT_FLUSH_MS);
        assert_eq!(cfg.mask, MaskLevel::Strict);
        assert_eq!(cfg.batch_events, 1);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(
            warnings[3].contains("data-batch-events=\"0\" is out of range; using 1"),
            "{warnings:?}"
        );
        // Out of range, said so and brought inside it.
        let (cfg, warnings) = parse(&[
            ("collector", "http://x"),
            ("siteKey", "k"),
            ("flushMs", "5"),
        ]);
        assert_eq!(cfg.unwrap().flush_ms, MIN_FLUSH_MS);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
