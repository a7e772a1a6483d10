//! Settings, layered: built-in defaults, then a TOML file (`--config`, or
//! `COTRAIL_CONFIG`), then `COTRAIL_*` environment variables, then CLI flags.
//! Every setting has a default that runs a local collector on the embedded store.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The collector's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Directory of the embedded sled store (created when missing).
    pub data_dir: PathBuf,
    /// Directory served at `/`: the demo site, the review app and, under
    /// `recorder/`, the built recorder bundle.
    pub www_dir: PathBuf,
    /// Log format: `text` for people, `json` for log shippers.
    pub log_format: String,
    /// The tenants file (site keys, user tokens, server keys). Without one the
    /// collector runs a single demo tenant whose credentials it writes to
    /// `<data_dir>/demo-tenant.toml`.
    pub tenants_file: Option<PathBuf>,
    /// sled's page cache, in MiB.
    pub cache_mb: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed: addresses
    /// (`10.0.0.7`) or networks (`10.0.0.0/8`). A client IP taken from any
    /// other peer's header would be whatever the client wrote.
    pub trusted_proxies: Vec<ProxyNet>,
    /// Ingest requests one client IP may make per second, sustained (0: no
    /// limit). A tab sends about one batch every two seconds, so 50 leaves room
    /// for a busy office behind one NAT address.
    pub ingest_per_ip_per_second: u32,
    /// Requests one client IP may make in a burst above the sustained rate:
    /// every tab of a reopened browser flushing its queue at once.
    pub ingest_per_ip_burst: u32,
    /// Ingest requests one site key may take per second, sustained (0: no
    /// limit): bounds what one tenant's traffic (or a leaked key) costs others.
    pub ingest_per_site_key_per_second: u32,
    /// Burst above the sustained rate for one site key.
    pub ingest_per_site_key_burst: u32,
    /// Time a client has to send a request's head (line and headers), in ms;
    /// past it the connection is answered 408 and closed, so a slow client
    /// cannot hold a connection open by dribbling headers.
    pub client_request_timeout_ms: u64,
    /// Time a closing connection gets to shut down cleanly, in ms.
    pub client_disconnect_timeout_ms: u64,
    /// Idle keep-alive time of a connection between requests, in seconds
    /// (0: no keep-alive).
    pub keep_alive_secs: u64,
    /// Time a client has to send an ingest body once its headers are in, in
    /// ms; past it the request is answered 408. A 1 MiB body takes well under a
    /// second on any working link.
    pub body_read_timeout_ms: u64,
    /// Sessions whose last activity (latest stored batch, collector time) is
    /// older than this many days are deleted, leaving a tombstone. `None` keeps
    /// trails forever: deleting audit data must be a decision, not a default.
    /// At least 1 ([`Settings::load`] refuses 0, which would delete every
    /// session, those still recording too, at the first sweep).
    pub retention_days: Option<u32>,
    /// Seconds between retention sweeps (at least 1). An hour keeps the sweep's
    /// scan of the session index cheap while a session outlives its retention
    /// age by at most that long.
    pub retention_sweep_secs: u64,
    /// Seconds between integrity checkpoints (0: none): each writes the
    /// chain length and head of every session that stored records since the
    /// last one into its tenant's activity log, and logs the log's length
    /// and head (the pin to keep outside the store).
    pub checkpoint_interval_secs: u64,
}

/// Whether `rest` (a variable's name after `COTRAIL_`) is one Kubernetes adds
/// for a Service whose name starts with `cotrail`: `COTRAIL_SERVICE_HOST`,
/// `COTRAIL_PORT_8080_TCP_ADDR`, `COTRAIL_API_SERVICE_PORT`, …
fn service_link(rest: &str) -> bool {
    let r = rest.to_ascii_uppercase();
    r == "PORT"
        || r.starts_with("PORT_")
        || r.starts_with("SERVICE_")
        || r.contains("_SERVICE_")
        || r.ends_with("_PORT")
        || r.contains("_PORT_")
}

/// A trusted proxy: one address or a network, IPv4 or IPv6. IPv4 peers of a
/// dual-stack listener (`::ffff:10.0.0.7`) are compared as the IPv4 address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProxyNet(ipnet::IpNet);

impl ProxyNet {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for ProxyNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let net = if s.contains('/') {
            match s.parse::<ipnet::IpNet>().map_err(|e| e.to_string())? {
                // Peers are compared as IPv4 (`::ffff:a.b.c.d` is `a.b.c.d`):
                // a network of such addresses is its IPv4 network.
                ipnet::IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() => {
                    let v4 = v6.addr().to_ipv4_mapped().expect("checked");
                    let prefix = v6
                        .prefix_len()
                        .checked_sub(96)
                        .ok_or("an IPv4-mapped network needs a prefix of at least 96")?;
                    ipnet::IpNet::V4(ipnet::Ipv4Net::new(v4, prefix).map_err(|e| e.to_string())?)
                }
                net => net,
            }
        } else {
            ipnet::IpNet::from(
                s.parse::<IpAddr>()
                    .map_err(|e| e.to_string())?
                    .to_canonical(),
            )
        };
        Ok(ProxyNet(net.trunc()))
    }
}

impl TryFrom<String> for ProxyNet {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
            .map_err(|e| format!("trusted proxy {s:?} is not an address or a network ({e})"))
    }
}

impl From<ProxyNet> for String {
    fn from(p: ProxyNet) -> String {
        p.0.to_string()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            www_dir: PathBuf::from("./www"),
            log_format: "text".into(),
            tenants_file: None,
            cache_mb: 256,
            trusted_proxies: Vec::new(),
            ingest_per_ip_per_second: 50,
            ingest_per_ip_burst: 200,
            ingest_per_site_key_per_second: 2000,
            ingest_per_site_key_burst: 10_000,
            client_request_timeout_ms: 5000,
            client_disconnect_timeout_ms: 1000,
            keep_alive_secs: 15,
            body_read_timeout_ms: 10_000,
            retention_days: None,
            retention_sweep_secs: 3600,
            checkpoint_interval_secs: 3600,
        }
    }
}

/// Longest period of a background job (a year, in seconds).
pub const MAX_PERIOD_SECS: u64 = 365 * 24 * 60 * 60;

/// Command-line flags; each overrides the file and the environment.
#[derive(Debug, Default, Parser, Serialize)]
#[command(
    name = "collector",
    version,
    about = "cotrail collector: co-browsing audit trails",
    after_help = "Every setting can also come from the TOML file (--config) or a COTRAIL_<NAME> environment variable, e.g. COTRAIL_LISTEN, COTRAIL_DATA_DIR, COTRAIL_TENANTS_FILE, COTRAIL_CACHE_MB, COTRAIL_RETENTION_DAYS."
)]
pub struct Cli {
    /// Check the store's integrity (every session and activity log) and
    /// exit instead of serving: 0 all intact, 1 something broken or
    /// unreadable, 2 not checked (no store there, a collector running on
    /// it, bad settings).
    #[arg(long)]
    #[serde(skip)]
    pub check: bool,
    /// TOML file with settings (also `COTRAIL_CONFIG`).
    #[arg(long, env = "COTRAIL_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Directory of the sled store [default: ./data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Directory served at / [default: ./www].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub www_dir: Option<PathBuf>,
    /// `text` or `json` [default: text].
    #[arg(long, value_parser = ["text", "json"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// Tenants file [default: none, a demo tenant].
    #[arg(long = "tenants")]
    #[serde(rename = "tenants_file", skip_serializing_if = "Option::is_none")]
    pub tenants_file: Option<PathBuf>,
    /// sled page cache in MiB [default: 256].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_mb: Option<u64>,
    /// Delete sessions inactive for this many days [default: keep forever].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Seconds between retention sweeps [default: 3600].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_sweep_secs: Option<u64>,
    /// Seconds between integrity checkpoints [default: 3600].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval_secs: Option<u64>,
}

impl Settings {
    /// Layers defaults, the config file, the environment and the flags.
    pub fn load(cli: Cli) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &cli.config {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            fig = fig.merge(Toml::file(path));
        }
        // Only the settings' own names: an orchestrator adds variables of its
        // own under the prefix (Kubernetes' service links for a Service named
        // `cotrail`: `COTRAIL_PORT`, `COTRAIL_SERVICE_HOST`), which must not
        // stop the collector. (A misspelt setting in the file is still an error.)
        let known = Settings::names();
        // Any other `COTRAIL_*` that does not look like a service link is a
        // misspelt setting (`COTRAIL_RETENTION_DAY`): an error that names it,
        // as an unknown setting in the file is.
        let misspelt: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter_map(|k| k.strip_prefix("COTRAIL_").map(str::to_owned))
            .filter(|rest| {
                // `COTRAIL_BLESS`: the test suite's switch for rewriting its
                // fixtures, which a collector started by a test inherits.
                !rest.eq_ignore_ascii_case("config")
                    && !rest.eq_ignore_ascii_case("bless")
                    && !known.iter().any(|k| rest.eq_ignore_ascii_case(k))
                    && !service_link(rest)
            })
            .collect();
        anyhow::ensure!(
            misspelt.is_empty(),
            "invalid settings: unknown environment variable(s) {}; settings are COTRAIL_<NAME> for the names in README's table",
            misspelt
                .iter()
                .map(|r| format!("COTRAIL_{r}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let settings: Settings = fig
            .merge(
                Env::prefixed("COTRAIL_")
                    .ignore(&["config"])
                    .filter(move |key| known.iter().any(|k| key.as_str().eq_ignore_ascii_case(k))),
            )
            .merge(Serialized::defaults(&cli))
            .extract()
            .context("invalid settings")?;
        settings.check()?;
        Ok(settings)
    }

    /// The settings' names, as the file and `COTRAIL_<NAME>` spell them.
    fn names() -> Vec<String> {
        match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Refuses values that parse but would do the opposite of what an
    /// operator means: where 0 reads as "off" elsewhere in the table, here it
    /// would delete every trail or refuse every batch; and a log format
    /// nothing reads.
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "invalid settings: log_format must be \"text\" or \"json\", not {:?}",
            self.log_format
        );
        anyhow::ensure!(
            self.retention_days != Some(0),
            "invalid settings: retention_days = 0 would delete every session, those still \
             recording too, at the first sweep; leave it unset to keep trails forever, or \
             give at least 1"
        );
        // Beyond a year a period overflows the timer's arithmetic.
        for (name, secs) in [
            ("checkpoint_interval_secs", self.checkpoint_interval_secs),
            ("retention_sweep_secs", self.retention_sweep_secs),
        ] {
            anyhow::ensure!(
                secs <= MAX_PERIOD_SECS,
                "invalid settings: {name} = {secs} is more than a year ({MAX_PERIOD_SECS} s)"
            );
        }
        anyhow::ensure!(
            self.body_read_timeout_ms > 0,
            "invalid settings: body_read_timeout_ms = 0 would answer every ingest 408; give \
             the time a client has to send a body, in ms (default 10000)"
        );
        Ok(())
    }

    /// Settings for a collector on a free loopback port with the given
    /// directories, without rate limits (tests that want them set them).
    pub fn for_test(data_dir: PathBuf, www_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            www_dir,
            cache_mb: 16,
            ingest_per_ip_per_second: 0,
            ingest_per_site_key_per_second: 0,
            // Tests that count activity-log entries must not meet one a
            // checkpoint wrote; those about checkpoints turn them on.
            checkpoint_interval_secs: 0,
            ..Settings::default()
        }
    }
}

#[cfg(test)]
// figment's `Jail` API returns its own (large) error type; it is test-only.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn periods_beyond_a_year_are_refused_and_no_checkpoints_is_allowed() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COTRAIL_CHECKPOINT_INTERVAL_SECS", "0");
            assert_eq!(
                Settings::load(Cli::default())
                    .unwrap()
                    .checkpoint_interval_secs,
                0
            );
            for name in ["CHECKPOINT_INTERVAL_SECS", "RETENTION_SWEEP_SECS"] {
                jail.set_env(format!("COTRAIL_{name}"), (MAX_PERIOD_SECS + 1).to_string());
                let err = Settings::load(Cli::default()).unwrap_err();
                assert!(format!("{err:#}").contains("more than a year"), "{err:#}");
                jail.set_env(format!("COTRAIL_{name}"), "60");
            }
            Ok(())
        });
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_file_which_beats_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"127.0.0.1:1000\"\ndata_dir = \"/from-file\"\ncache_mb = 7\n",
            )?;
            jail.set_env("COTRAIL_DATA_DIR", "/from-env");
            let cli = Cli {
                config: Some("c.toml".into()),
                cache_mb: Some(9),
                ..Cli::default()
            };
            let s = Settings::load(cli).map_err(|e| e.to_string())?;
            assert_eq!(s.listen.port(), 1000);
            assert_eq!(s.data_dir, PathBuf::from("/from-env"));
            assert_eq!(s.cache_mb, 9);
            assert_eq!(s.www_dir, PathBuf::from("./www"));
            Ok(())
        });
    }

    #[test]
    fn zeros_that_would_delete_everything_or_refuse_every_batch_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COTRAIL_RETENTION_DAYS", "0");
            let err = Settings::load(Cli::default()).unwrap_err();
            assert!(format!("{err:#}").contains("retention_days = 0"), "{err:#}");
            jail.set_env("COTRAIL_RETENTION_DAYS", "1");
            assert_eq!(
                Settings::load(Cli::default()).unwrap().retention_days,
                Some(1)
            );
            jail.set_env("COTRAIL_BODY_READ_TIMEOUT_MS", "0");
            let err = Settings::load(Cli::default()).unwrap_err();
            assert!(
                format!("{err:#}").contains("body_read_timeout_ms = 0"),
                "{err:#}"
            );
            Ok(())
        });
    }

    /// Variables an orchestrator puts under the prefix (Kubernetes service
    /// links for a Service named `cotrail`) are not settings and do not stop
    /// the collector; a setting's own variable still counts.
    #[test]
    fn other_variables_under_the_prefix_are_not_settings() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COTRAIL_PORT", "tcp://10.0.0.5:8080");
            jail.set_env("COTRAIL_SERVICE_HOST", "10.0.0.5");
            jail.set_env("COTRAIL_CACHE_MB", "12");
            let s = Settings::load(Cli::default()).map_err(|e| format!("{e:#}"))?;
            assert_eq!(s.cache_mb, 12);
            jail.set_env("COTRAIL_API_SERVICE_PORT_HTTP", "8080");
            jail.set_env("COTRAIL_PORT_8080_TCP_ADDR", "10.0.0.5");
            // Trusted proxies from the environment: addresses and networks.
            jail.set_env(
                "COTRAIL_TRUSTED_PROXIES",
                "[10.0.0.1, 10.8.0.0/16, ::ffff:192.168.0.0/112]",
            );
            let s = Settings::load(Cli::default()).map_err(|e| format!("{e:#}"))?;
            let ip = |a: &str| a.parse::<IpAddr>().unwrap();
            assert!(s.trusted_proxies[1].contains(&ip("10.8.3.4")));
            assert!(s.trusted_proxies[2].contains(&ip("::ffff:192.168.7.7")));
            assert!(!s.trusted_proxies[0].contains(&ip("10.0.0.2")));
            jail.set_env("COTRAIL_LOG_FORMAT", "jsno");
            let err = Settings::load(Cli::default()).unwrap_err();
            assert!(format!("{err:#}").contains("log_format"), "{err:#}");
            // A misspelt setting is still an error that names it.
            jail.set_env("COTRAIL_RETENTION_DAY", "30");
            let err = Settings::load(Cli::default()).unwrap_err();
            assert!(
                format!("{err:#}").contains("COTRAIL_RETENTION_DAY"),
                "{err:#}"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_an_error_that_names_them() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "listn = \"x\"\n")?;
            let err = Settings::load(Cli {
                config: Some("c.toml".into()),
                ..Cli::default()
            })
            .unwrap_err();
            assert!(format!("{err:#}").contains("listn"), "{err:#}");
            Ok(())
        });
    }
}
