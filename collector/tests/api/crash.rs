//! Crash safety: the real `collector` binary is killed with SIGKILL at random
//! moments while a load driver sends batches and re-sends whatever was not
//! acknowledged; afterwards every acknowledged event is stored, none twice, and
//! every tab's sequence is contiguous.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use collector::store::{EventFilter, Store};
use shared::{SessionId, TabId, TenantId};
use tokio::process::{Child, Command};

use crate::helpers::*;

/// Kill-and-restart cycles: enough to land kills in every phase of a request.
const CYCLES: usize = 24;
/// Streams the driver writes: sessions × tabs, one sender each.
const SESSIONS: usize = 3;
const TABS: usize = 2;
/// Most new events a batch adds on top of the unacknowledged ones it re-sends.
const MAX_NEW_PER_BATCH: u64 = 20;

/// A small xorshift: the test needs arbitrary, not cryptographic, choices.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn start(port: u16, data: &Path, tenants: &Path) -> Child {
    let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data)
            .arg("--tenants")
            .arg(tenants)
            .arg("--www-dir")
            .arg(&www)
            .env("RUST_LOG", "error")
            .env("COTRAIL_INGEST_PER_IP_PER_SECOND", "0")
            .env("COTRAIL_INGEST_PER_SITE_KEY_PER_SECOND", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the collector binary starts");
        // Ready when it answers; a start that exits (the killed process's
        // store lock not yet released) is retried.
        let client = reqwest::Client::new();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(r) = client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
            {
                if r.status() == 200 {
                    return child;
                }
            }
            assert!(Instant::now() < deadline, "collector did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(Instant::now() < deadline, "collector keeps exiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One tab's stream as the driver knows it: events below `acked` were
/// acknowledged; the next batch re-sends from `acked` on.
struct Stream {
    session: String,
    tab: String,
}

async fn drive(
    stream: Stream,
    port: u16,
    stop: Arc<AtomicBool>,
    drain: Arc<AtomicBool>,
    seed: u64,
    stats: Arc<(AtomicU64, AtomicU64)>,
) -> u64 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut rng = Rng(seed | 1);
    let (mut acked, mut sent_upto) = (0u64, 0u64);
    loop {
        if stop.load(Ordering::SeqCst) {
            return acked;
        }
        // Draining: no new events, only re-send until everything is acked.
        if drain.load(Ordering::SeqCst) && acked == sent_upto {
            return acked;
        }
        // New events only once the last batch is acknowledged: until then the
        // same range is re-sent, as a recorder does.
        if !drain.load(Ordering::SeqCst) && acked == sent_upto {
            sent_upto += 1 + rng.below(MAX_NEW_PER_BATCH);
        }
        let events = (acked..sent_upto)
            .map(|seq| click(seq, 1_700_000_000_000 + seq as i64, "b"))
            .collect();
        let body = batch(&stream.session, &stream.tab, events);
        let res = client
            .post(format!(
                "http://127.0.0.1:{port}/api/v1/batches?site_key={SITE_KEY}"
            ))
            .json(&body)
            .send()
            .await;
        match res {
            Ok(r) if r.status() == 200 => {
                let ack: serde_json::Value = r.json().await.unwrap_or_default();
                stats
                    .0
                    .fetch_add(ack["stored"].as_u64().unwrap_or(0), Ordering::Relaxed);
                stats
                    .1
                    .fetch_add(ack["duplicates"].as_u64().unwrap_or(0), Ordering::Relaxed);
                acked = sent_upto;
            }
            Ok(r) => panic!(
                "collector refused a valid batch: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            // Connection refused or reset: the collector is down; retry.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_repeated_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(&tenants, TENANTS).unwrap();
    let data = dir.path().join("store");
    let port = free_port();
    // A new kill schedule each run; printed, and replayed with CRASH_SEED=<seed>.
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    eprintln!("crash test seed: {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);

    let stop = Arc::new(AtomicBool::new(false));
    let drain = Arc::new(AtomicBool::new(false));
    let stats = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let mut child = start(port, &data, &tenants).await;
    let mut drivers = Vec::new();
    for s in 0..SESSIONS {
        for t in 0..TABS {
            let stream = Stream {
                session: format!("crash-s{s}"),
                tab: format!("t{t}"),
            };
            drivers.push(tokio::spawn(drive(
                stream,
                port,
                stop.clone(),
                drain.clone(),
                rng.below(u64::MAX),
                stats.clone(),
            )));
        }
    }
    for _ in 0..CYCLES {
        tokio::time::sleep(Duration::from_millis(50 + rng.below(300))).await;
        child.kill().await.expect("SIGKILL the collector");
        child = start(port, &data, &tenants).await;
    }
    // Let every driver get its outstanding events acknowledged, then stop.
    drain.store(true, Ordering::SeqCst);
    let mut acked_per_stream = Vec::new();
    for d in drivers {
        acked_per_stream.push(
            tokio::time::timeout(Duration::from_secs(30), d)
                .await
                .expect("drivers drain in time")
                .unwrap(),
        );
    }
    stop.store(true, Ordering::SeqCst);
    child.kill().await.unwrap();

    // Read the store as the killed collector left it.
    let store = Store::open(&data, 16).expect("store opens after SIGKILL");
    let tenant = TenantId::parse("acme").unwrap();
    let (mut acked_total, mut stored_total) = (0, 0);
    let mut i = 0;
    for s in 0..SESSIONS {
        let session = SessionId::parse(format!("crash-s{s}")).unwrap();
        let scan = store
            .events(
                &tenant,
                &session,
                &EventFilter::default(),
                None,
                false,
                1_000_000,
            )
            .unwrap();
        stored_total += scan.events.len() as u64;
        for t in 0..TABS {
            let tab = TabId::parse(format!("t{t}")).unwrap();
            let seqs: Vec<u64> = scan
                .events
                .iter()
                .filter(|r| r.tab_id == tab)
                .map(|r| r.event.seq)
                .collect();
            let unique: BTreeSet<u64> = seqs.iter().copied().collect();
            assert_eq!(
                unique.len(),
                seqs.len(),
                "{session}/{tab}: an event stored twice"
            );
            let acked = acked_per_stream[i];
            i += 1;
            acked_total += acked;
            // Contiguous from 0, and covering every acknowledged event.
            assert_eq!(
                unique,
                (0..unique.len() as u64).collect(),
                "{session}/{tab}: a hole in the sequence"
            );
            assert!(
                unique.len() as u64 >= acked,
                "{session}/{tab}: {} stored, {acked} acknowledged",
                unique.len()
            );
        }
    }
    println!(
        "crash test: {CYCLES} SIGKILL cycles, {acked_total} events acknowledged, \
         {stored_total} stored, {} duplicates re-sent and detected, {:.1} s",
        stats.1.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        stored_total, acked_total,
        "after draining, stored = acknowledged"
    );
    assert!(acked_total > 0);
}

/// A read of a trail is on record before the trail is served: the collector
/// killed right after answering an export or an events page still has the
/// activity-log entries that say who read it.
#[tokio::test]
async fn a_read_answered_just_before_a_sigkill_is_still_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(&tenants, TENANTS).unwrap();
    let data = dir.path().join("store");
    let port = free_port();
    let mut child = start(port, &data, &tenants).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/batches?site_key={SITE_KEY}"))
        .header("content-type", "text/plain")
        .body(batch("read-s", "t", vec![click(0, 1, "a")]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for path in ["events", "export"] {
        let res = client
            .get(format!("{base}/api/v1/sessions/read-s/{path}"))
            .bearer_auth(AGENT_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    // At once: sled's own background flush (every 500 ms) has not run yet.
    child.kill().await.expect("SIGKILL the collector");
    let store = Store::open(&data, 16).expect("store opens after SIGKILL");
    let scan = store
        .audit(
            &TenantId::parse("acme").unwrap(),
            &collector::store::AuditFilter {
                collector: true,
                ..Default::default()
            },
            None,
            100,
        )
        .unwrap();
    let actions: Vec<&str> = scan
        .entries
        .iter()
        .filter_map(|e| e.action.as_deref())
        .collect();
    for action in ["session.viewed", "session.exported"] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
}
