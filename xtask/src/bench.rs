//! `cargo xtask bench [--quick] [--reps N]`: builds release artifacts, installs
//! the benchmark-only peers with npm into `bench/node_modules` (never
//! committed), runs every benchmark and writes `BENCHMARKS.md`.
//!
//! - `bench/browser.js`: main-thread cost, wire bytes, shipped bytes, start-up
//!   (headless system Chromium driven by playwright-core, a real collector).
//! - `collector/examples/ingest_bench.rs`: HTTP ingest vs the in-process storage
//!   floor, HTTP overhead vs a do-nothing actix endpoint, storage footprint.
//! - `bench/report.js`: medians, spreads and ratios into `BENCHMARKS.md`.
//!
//! Raw results go to `bench/out/` (not committed). Load goes to 127.0.0.1 only.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{build_bundle, cargo, ensure_browser, output, run, CHROMIUM};

pub fn bench(root: &Path, args: &[String]) -> Result<()> {
    let started = Instant::now();
    // What is measured is the tree as it is now, before the run builds it.
    let commit =
        output(Command::new("git").args(["describe", "--always", "--dirty"])).unwrap_or_default();
    let quick = args.iter().any(|a| a == "--quick");
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .map(|r| r.parse::<u32>().context("--reps N"))
        .transpose()?
        .unwrap_or(if quick { 2 } else { 5 });
    ensure_browser()?;
    ensure_node()?;
    build_bundle(root)?;
    run(cargo().args([
        "build",
        "--release",
        "--package",
        "collector",
        "--bin",
        "collector",
        "--example",
        "ingest_bench",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("release");
    let collector_bin = target.join("collector");
    let ingest_bin = target.join("examples/ingest_bench");
    let bench_dir = root.join("bench");
    let out = bench_dir.join("out");
    std::fs::create_dir_all(&out)?;

    // Peers for comparison only: into bench/node_modules, pinned by bench/package.json.
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(&bench_dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))?;

    let reps_s = reps.to_string();
    let mut browser = Command::new("node");
    browser
        .arg(bench_dir.join("browser.js"))
        .arg("--collector-bin")
        .arg(&collector_bin)
        .arg("--www")
        .arg(root.join("www"))
        .args(["--chromium", CHROMIUM, "--reps", &reps_s])
        .arg("--out")
        .arg(out.join("browser.json"));
    if quick {
        browser.arg("--quick");
    }
    run(&mut browser)?;

    // Collector benchmarks against a fresh release collector.
    let (max_events, secs, max_requests) = if quick {
        ("4000", "1", "4000")
    } else {
        ("20000", "2", "20000")
    };
    {
        let c = Collector::start(&collector_bin, root)?;
        let url = c.url();
        save(
            Command::new(&ingest_bin).args([
                "ingest",
                "--url",
                &url,
                "--reps",
                &reps_s,
                "--max-events",
                max_events,
                "--secs",
                secs,
            ]),
            &out.join("ingest.json"),
        )?;
        save(
            Command::new(&ingest_bin).args([
                "overhead",
                "--url",
                &url,
                "--reps",
                &reps_s,
                "--max-requests",
                max_requests,
                "--secs",
                secs,
                "--lat-secs",
                if quick { "1" } else { "3" },
            ]),
            &out.join("overhead.json"),
        )?;
    }
    let (events, sessions) = if quick {
        ("100000", "1000")
    } else {
        ("1000000", "10000")
    };
    save(
        Command::new(&ingest_bin).args(["storage", "--events", events, "--sessions", sessions]),
        &out.join("storage.json"),
    )?;

    let rustc = output(Command::new("rustc").arg("-V")).unwrap_or_default();
    run(Command::new("node")
        .arg(bench_dir.join("report.js"))
        .arg(&out)
        .arg(root.join("BENCHMARKS.md"))
        .env("BENCH_RUSTC", rustc.trim())
        .env("BENCH_COMMIT", commit.trim())
        .env("BENCH_SECONDS", started.elapsed().as_secs().to_string()))?;
    eprintln!(
        "xtask: benchmarks done in {:.0} s; wrote BENCHMARKS.md",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs a benchmark binary and stores its stdout (one JSON object). A failed
/// collector benchmark is reported and left out of BENCHMARKS.md; the others
/// still run.
fn save(cmd: &mut Command, to: &Path) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let _ = std::fs::remove_file(to);
    let out = cmd.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        eprintln!(
            "xtask: WARNING: {cmd:?} failed with {}; its section is left out",
            out.status
        );
        return Ok(());
    }
    std::fs::write(to, &out.stdout)?;
    Ok(())
}

/// Node and npm from Debian when missing.
pub fn ensure_node() -> Result<()> {
    if output(Command::new("npm").arg("--version")).is_some() {
        return Ok(());
    }
    eprintln!("xtask: installing nodejs and npm from Debian");
    let root = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    let mut c = Command::new(if root { "apt-get" } else { "sudo" });
    if !root {
        c.arg("apt-get");
    }
    run(c
        .args(["install", "-y", "nodejs", "npm"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// A release collector on a free loopback port with a temporary data directory.
struct Collector {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Collector {
    fn start(bin: &Path, root: &Path) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("cotrail-bench-{}-{port}", std::process::id()));
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&dir)
            .arg("--www-dir")
            .arg(root.join("www"))
            .env("RUST_LOG", "warn")
            // The load comes from one address and one site key: the rate
            // limits (a production safeguard) would turn it into 429s.
            .env("COTRAIL_INGEST_PER_IP_PER_SECOND", "0")
            .env("COTRAIL_INGEST_PER_SITE_KEY_PER_SECOND", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let c = Collector { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the collector did not listen on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(c)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
