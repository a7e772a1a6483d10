//! Collector benchmarks (issue 6, parts 4-6), run by `cargo xtask bench`:
//!
//! - `ingest --url U`: events/s accepted over HTTP by a running collector
//!   (durable ack as shipped) at batches of 10, 50 and 200 events, interleaved
//!   with the storage floor: the same bodies decoded (`routes::ingest::decode`)
//!   and applied in-process with `Store::insert` + `Store::flush` (and a
//!   non-durable variant without the flush, for reference).
//! - `overhead --url U`: max requests/s of a do-nothing actix endpoint and of the
//!   collector, then latency percentiles of both at one fixed rate (half the
//!   collector's max), open loop (latency counted from the scheduled send time).
//! - `storage --events N --sessions S`: N events over S sessions into a fresh
//!   store: bytes on disk / raw JSON bytes, peak memory, then reopen time and
//!   memory in a child process (`reopen DIR`), which also times the first page
//!   of the most recently active sessions against listing them all.
//!
//! Every mode prints one JSON object on stdout. Load goes to 127.0.0.1 only and
//! every measurement is bounded in count and in time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use collector::routes::ingest::{decode, stamp};
use collector::store::{Ingest, SessionFilter, Store};
use serde_json::{json, Value};
use shared::api::Origin;
use shared::TenantId;

const FIXTURES: [&str; 7] = [
    include_str!("../../shared/tests/fixtures/click.json"),
    include_str!("../../shared/tests/fixtures/input.json"),
    include_str!("../../shared/tests/fixtures/scroll.json"),
    include_str!("../../shared/tests/fixtures/form.json"),
    include_str!("../../shared/tests/fixtures/page_change.json"),
    include_str!("../../shared/tests/fixtures/selection.json"),
    include_str!("../../shared/tests/fixtures/custom.json"),
];
/// Share of each fixture in a realistic trail (clicks and inputs dominate).
const MIX: [usize; 7] = [40, 35, 10, 2, 5, 4, 4];

fn templates() -> Vec<Value> {
    let mut v = Vec::new();
    for (f, n) in FIXTURES.iter().zip(MIX) {
        let t: Value = serde_json::from_str(f).expect("fixture");
        for _ in 0..n {
            v.push(t.clone());
        }
    }
    v
}

/// One tab's batch body: `n` events from `seq`, realistic types and sizes.
fn body(tpl: &[Value], session: &str, tab: &str, seq: u64, n: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..n as u64)
        .map(|i| {
            let s = seq + i;
            let mut e = tpl[(s as usize * 7919) % tpl.len()].clone();
            e["seq"] = json!(s);
            e["ts"] = json!(1_763_800_000_000i64 + s as i64 * 37);
            e["mono"] = json!(1000 + s * 37);
            e
        })
        .collect();
    serde_json::to_vec(&json!({"v": 1, "session_id": session, "tab_id": tab, "events": events}))
        .expect("json")
}

/// Bodies for `workers` tabs, each a stream of consecutive batches (a new
/// session every 20 batches), `per_worker` batches each. `tag` keeps runs apart.
fn bodies(tag: &str, workers: usize, per_worker: usize, batch: usize) -> Vec<Vec<Vec<u8>>> {
    let tpl = templates();
    (0..workers)
        .map(|w| {
            (0..per_worker)
                .map(|i| {
                    let session = format!("{tag}-w{w}-s{}", i / 20);
                    let seq = (i % 20 * batch) as u64;
                    body(&tpl, &session, &format!("t{w}"), seq, batch)
                })
                .collect()
        })
        .collect()
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(args: &[String], name: &str, dflt: u64) -> u64 {
    arg(args, name).map_or(dflt, |v| v.parse().expect(name))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = match args.first().map(String::as_str) {
        Some("ingest") => rt.block_on(ingest(&args))?,
        Some("overhead") => rt.block_on(overhead(&args))?,
        Some("storage") => storage(&args)?,
        Some("reopen") => reopen(Path::new(&args[1]))?,
        _ => anyhow::bail!("usage: ingest_bench ingest|overhead|storage|reopen ..."),
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

struct Load {
    workers: usize,
    per_worker: usize,
    secs: f64,
}

/// Closed loop: each worker posts its batches one after the other. Returns
/// (events acknowledged per second, requests per second).
async fn http_run(
    url: &str,
    data: Vec<Vec<Vec<u8>>>,
    batch: usize,
    secs: f64,
) -> anyhow::Result<(f64, f64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for bodies in data {
        let (client, ok, failed, url) =
            (client.clone(), ok.clone(), failed.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            for b in bodies {
                if Instant::now() >= deadline {
                    break;
                }
                let r = client
                    .post(&url)
                    .header("content-type", "text/plain")
                    .timeout(Duration::from_secs(20))
                    .body(b)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let el = start.elapsed().as_secs_f64();
    let f = failed.load(Ordering::Relaxed);
    anyhow::ensure!(f == 0, "{f} requests failed or got no answer within 20 s");
    let n = ok.load(Ordering::Relaxed) as f64;
    Ok((n * batch as f64 / el, n / el))
}

/// The storage floor: what the handler does after reading the body, in-process.
async fn floor_run(
    store: &Store,
    data: Vec<Vec<Vec<u8>>>,
    batch: usize,
    secs: f64,
    durable: bool,
) -> anyhow::Result<f64> {
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tenant = TenantId::parse("demo").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // One flush at a time: concurrent `flush_async` calls can all wait on sled's
    // own IO thread pool, which grows only past 7 queued jobs, and hang (seen
    // here at 8 concurrent writers). Same durability: every batch is flushed
    // before it counts.
    let flushing = Arc::new(tokio::sync::Mutex::new(()));
    let mut tasks = Vec::new();
    for bodies in data {
        let (store, ok, tenant, flushing) =
            (store.clone(), ok.clone(), tenant.clone(), flushing.clone());
        tasks.push(tokio::spawn(async move {
            for b in bodies {
                if Instant::now() >= deadline {
                    break;
                }
                let s2 = store.clone();
                let t2 = tenant.clone();
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    let batch = decode(&b).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let origin = Origin {
                        ip: Some("127.0.0.1".into()),
                        user_agent: Some("bench".into()),
                    };
                    let received_at = collector::routes::ingest::now_ms();
                    let st = stamp(batch, received_at, &origin);
                    s2.insert(Ingest {
                        tenant: &t2,
                        session: &st.session,
                        tab: &st.tab,
                        received_at,
                        origin: &origin,
                        records: &st.records,
                        gaps: &st.gaps,
                    })?;
                    Ok(())
                })
                .await??;
                if durable {
                    let _one = flushing.lock().await;
                    tokio::time::timeout(Duration::from_secs(20), store.flush())
                        .await
                        .map_err(|_| anyhow::anyhow!("Store::flush did not finish in 20 s"))??;
                }
                ok.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(ok.load(Ordering::Relaxed) as f64 * batch as f64 / start.elapsed().as_secs_f64())
}

async fn ingest(args: &[String]) -> anyhow::Result<Value> {
    let url = format!(
        "{}/api/v1/batches?site_key=pk_demo",
        arg(args, "--url").expect("--url")
    );
    let reps = num(args, "--reps", 5) as usize;
    let workers = num(args, "--conns", 4) as usize;
    let max_events = num(args, "--max-events", 20_000) as usize;
    let secs = num(args, "--secs", 2) as f64;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("floor"), 64)?;
    let store_nd = Store::open(&dir.path().join("floor-nd"), 64)?;
    let mut rows = Vec::new();
    for rep in 0..reps {
        for batch in [10usize, 50, 200] {
            let load = Load {
                workers,
                per_worker: (max_events / batch / workers).max(2),
                secs,
            };
            let tag = |k: &str| format!("{k}{rep}b{batch}");
            let mk = |k: &str| bodies(&tag(k), load.workers, load.per_worker, batch);
            // Interleaved; the order rotates with the repetition.
            let mut order = vec!["http", "floor", "floor_nodurable"];
            order.rotate_left(rep % 3);
            if let Some(only) = arg(args, "--only") {
                order.retain(|v| only.split(',').any(|o| o == *v));
            }
            for which in order {
                let data = mk(which);
                let eps = match which {
                    "http" => http_run(&url, data, batch, load.secs).await?.0,
                    "floor" => floor_run(&store, data, batch, load.secs, true).await?,
                    _ => floor_run(&store_nd, data, batch, load.secs, false).await?,
                };
                eprintln!("ingest rep {rep} batch {batch} {which}: {eps:.0} events/s");
                rows.push(
                    json!({"rep": rep, "batch": batch, "variant": which, "events_per_s": eps}),
                );
            }
        }
    }
    Ok(json!({"conns": workers, "max_events": max_events, "secs": secs, "rows": rows}))
}

/// A do-nothing actix endpoint on its own thread: reads the body, answers 200.
fn noop_server() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(|| {
                actix_web::App::new().default_service(actix_web::web::to(
                    |_b: actix_web::web::Bytes| async { actix_web::HttpResponse::Ok().finish() },
                ))
            })
            .workers(2)
            .listen(listener)
            .expect("listen")
            .run()
            .await
        })
    });
    Ok(port)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Open loop at `rate` requests/s for `secs`: latency from each request's
/// scheduled time to its answer, in ms (p50, p99, p99.9).
async fn fixed_rate(
    url: &str,
    data: Vec<Vec<u8>>,
    rate: f64,
    secs: f64,
) -> anyhow::Result<(f64, f64, f64, usize)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let n = ((rate * secs) as usize).min(data.len());
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(n);
    for (i, b) in data.into_iter().take(n).enumerate() {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let r = tokio::time::timeout(
                Duration::from_secs(10),
                client
                    .post(&url)
                    .header("content-type", "text/plain")
                    .body(b)
                    .send(),
            )
            .await;
            let ok = matches!(&r, Ok(Ok(r)) if r.status().is_success());
            (at.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    // A request that fails or gets no answer within 10 s counts as 10 s: a
    // stalled server must show in the tail, not vanish from it.
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0;
    for t in tasks {
        let (ms, ok) = t.await?;
        if !ok {
            failed += 1;
        }
        lat.push(if ok { ms } else { ms.max(10_000.0) });
    }
    if failed > 0 {
        eprintln!(
            "fixed rate {rate:.0} req/s on {url}: {failed} of {n} requests failed or timed out"
        );
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok((pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 0.999), failed))
}

async fn overhead(args: &[String]) -> anyhow::Result<Value> {
    let collector = format!(
        "{}/api/v1/batches?site_key=pk_demo",
        arg(args, "--url").expect("--url")
    );
    let noop = format!("http://127.0.0.1:{}/noop", noop_server()?);
    let reps = num(args, "--reps", 5) as usize;
    let workers = num(args, "--conns", 4) as usize;
    let secs = num(args, "--secs", 2) as f64;
    let max_req = num(args, "--max-requests", 20_000) as usize;
    let batch = 50;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let one = bodies("noop", 1, 1, batch).remove(0).remove(0);
    let mut rows = Vec::new();
    // Max requests/s, closed loop, interleaved.
    let mut max_collector = Vec::new();
    for rep in 0..reps {
        for which in if rep % 2 == 0 {
            ["noop", "collector"]
        } else {
            ["collector", "noop"]
        } {
            let per = (max_req / workers).max(2);
            let (data, url) = if which == "noop" {
                (vec![vec![one.clone(); per]; workers], &noop)
            } else {
                (
                    bodies(&format!("max{rep}"), workers, per, batch),
                    &collector,
                )
            };
            let (_, rps) = http_run(url, data, batch, secs).await?;
            eprintln!("overhead rep {rep} {which}: {rps:.0} req/s max");
            if which == "collector" {
                max_collector.push(rps);
            }
            rows.push(json!({"rep": rep, "kind": "max", "target": which, "rps": rps}));
        }
    }
    max_collector.sort_by(|a, b| a.total_cmp(b));
    let rate = (max_collector[max_collector.len() / 2] / 2.0).max(1.0);
    let lat_secs = num(args, "--lat-secs", 3) as f64;
    for rep in 0..reps {
        for which in if rep % 2 == 0 {
            ["noop", "collector"]
        } else {
            ["collector", "noop"]
        } {
            let n = (rate * lat_secs) as usize + 1;
            let (data, url) = if which == "noop" {
                (vec![one.clone(); n], &noop)
            } else {
                (
                    bodies(&format!("lat{rep}"), 1, n, batch).remove(0),
                    &collector,
                )
            };
            let (p50, p99, p999, failed) = fixed_rate(url, data, rate, lat_secs).await?;
            eprintln!("overhead rep {rep} {which} at {rate:.0} req/s: p50 {p50:.2} ms p99 {p99:.2} ms p99.9 {p999:.2} ms ({failed} failed)");
            rows.push(json!({"rep": rep, "kind": "latency", "target": which, "rate": rate, "p50_ms": p50, "p99_ms": p99, "p999_ms": p999, "requests": n, "failed": failed}));
        }
    }
    Ok(json!({"conns": workers, "batch": batch, "rate": rate, "rows": rows}))
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            n += if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}

fn storage(args: &[String]) -> anyhow::Result<Value> {
    let events = num(args, "--events", 1_000_000) as usize;
    let sessions = num(args, "--sessions", 10_000) as usize;
    let batch = 50usize;
    let base = arg(args, "--dir")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base)?;
    let rss0 = status_kb("VmRSS:");
    let store = Store::open(dir.path(), 256)?;
    let tenant = TenantId::parse("demo").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let tpl = templates();
    let per_session = events / sessions;
    let mut raw = 0u64;
    let start = Instant::now();
    let origin = Origin { ip: Some("127.0.0.1".into()), user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36".into()) };
    // Sessions interleave, as live traffic does: round k sends each session's k-th batch.
    for round in 0..per_session.div_ceil(batch) {
        for s in 0..sessions {
            let n = batch.min(per_session - round * batch);
            let b = body(
                &tpl,
                &format!("sess-{s:05}"),
                "tab-1",
                (round * batch) as u64,
                n,
            );
            raw += b.len() as u64;
            let batch = decode(&b).map_err(|e| anyhow::anyhow!("{e}"))?;
            let received_at = 1_763_800_000_000 + (round * sessions + s) as i64;
            let st = stamp(batch, received_at, &origin);
            store.insert(Ingest {
                tenant: &tenant,
                session: &st.session,
                tab: &st.tab,
                received_at,
                origin: &origin,
                records: &st.records,
                gaps: &st.gaps,
            })?;
        }
    }
    futures_lite_block(store.flush())?;
    let insert_s = start.elapsed().as_secs_f64();
    let peak_kb = status_kb("VmHWM:");
    drop(store);
    let disk = dir_bytes(dir.path());
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("reopen")
        .arg(dir.path())
        .output()?;
    anyhow::ensure!(
        child.status.success(),
        "reopen failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let re: Value = serde_json::from_slice(&child.stdout)?;
    Ok(json!({
        "events": per_session * sessions, "sessions": sessions, "raw_json_bytes": raw,
        "disk_bytes": disk, "disk_over_raw": disk as f64 / raw as f64,
        "insert_s": insert_s, "rss_before_kb": rss0, "peak_rss_kb": peak_kb, "reopen": re,
    }))
}

fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(f)
}

fn reopen(dir: &Path) -> anyhow::Result<Value> {
    let start = Instant::now();
    let store = Store::open(dir, 256)?;
    let open_ms = start.elapsed().as_secs_f64() * 1000.0;
    let tenant = TenantId::parse("demo").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The review app's first screen: the 100 most recently active sessions
    // (measured first, with a cold cache), against listing every session.
    let t = Instant::now();
    let first = store
        .sessions_page(&tenant, &SessionFilter::default(), None, 100)?
        .items
        .len();
    let page_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let n = store.sessions(&tenant)?.len();
    let list_ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok(
        json!({"open_ms": open_ms, "rss_after_open_kb": status_kb("VmRSS:"), "sessions_listed": n, "list_ms": list_ms, "first_page": first, "page_ms": page_ms, "peak_rss_kb": status_kb("VmHWM:")}),
    )
}
