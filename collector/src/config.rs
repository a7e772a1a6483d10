//! Settings: CLI flags, each also read from a `COTRAIL_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The collector's settings. Defaults run a local collector on the embedded store.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "collector",
    version,
    about = "cotrail collector: co-browsing audit trails"
)]
pub struct Settings {
    /// Address to listen on. Port 0 picks a free port (tests).
    #[arg(long, env = "COTRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the embedded sled store (created when missing).
    #[arg(long, env = "COTRAIL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Directory served at `/`: the demo site, the review app and, under
    /// `recorder/`, the built recorder bundle.
    #[arg(long, env = "COTRAIL_WWW_DIR", default_value = "./www")]
    pub www_dir: PathBuf,

    /// Log format: `text` for people, `json` for log shippers.
    #[arg(long, env = "COTRAIL_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

impl Settings {
    /// Settings for a collector on a free loopback port with the given directories.
    pub fn for_test(data_dir: PathBuf, www_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            www_dir,
            log_format: "text".into(),
        }
    }
}
