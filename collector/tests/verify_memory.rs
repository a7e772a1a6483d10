//! `Store::verify` in memory that does not grow with the session: a check any
//! agent can start must not hold a set of every record id of a session of
//! millions of events. Its own binary, so no other test allocates while the
//! peak resident size (`VmHWM`, reset through `/proc/self/clear_refs`) is read.

use collector::store::{Ingest, Store};
use shared::api::{EventRecord, Origin};
use shared::{SessionId, TabId, TenantId};

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Makes the peak resident size the current one (Linux 4.0 and later).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[test]
fn verifying_a_long_session_keeps_no_set_of_its_records() {
    const EVENTS: u64 = 150_000;
    let dir = tempfile::tempdir().unwrap();
    // A small page cache: what verify reads must not stay resident either.
    let store = Store::open(dir.path(), 1).unwrap();
    let (tenant, session, tab) = (
        TenantId::parse("acme").unwrap(),
        SessionId::parse("s").unwrap(),
        TabId::parse("t").unwrap(),
    );
    let click = |seq: u64| EventRecord {
        session_id: session.clone(),
        tab_id: tab.clone(),
        received_at: 0,
        origin: Origin::default(),
        event: serde_json::from_value(serde_json::json!({
            "seq": seq, "ts": seq, "mono": seq, "actor": {"kind": "customer"},
            "type": "CLICK", "data": {"target": {"tag": "a", "path": "a"}}
        }))
        .unwrap(),
    };
    for start in (0..EVENTS).step_by(5_000) {
        let records: Vec<_> = (start..start + 5_000).map(click).collect();
        store
            .insert(Ingest {
                tenant: &tenant,
                session: &session,
                tab: &tab,
                received_at: 0,
                origin: &Origin::default(),
                records: &records,
                gaps: &[],
            })
            .unwrap();
    }
    // Warm up whatever a first verify allocates once (sled's cache, ...).
    let v = store.verify(&tenant, &session).unwrap().unwrap();
    assert!(v.valid && v.length == Some(EVENTS), "{v:?}");
    assert!(
        reset_peak_rss(),
        "this test reads the peak resident size: it needs Linux 4.0 or later \
         (writing 5 to /proc/self/clear_refs)"
    );
    let before = peak_rss_kib();
    let v = store.verify(&tenant, &session).unwrap().unwrap();
    let grew = peak_rss_kib().saturating_sub(before);
    assert!(v.valid && v.length == Some(EVENTS), "{v:?}");
    // A set of 150,000 record ids took about 9.5 MiB here; the walk and the
    // count take what sled's page cache (1 MiB) and a few pages do (~1.7 MiB).
    eprintln!("verify of {EVENTS} events raised the peak by {grew} KiB");
    assert!(grew < 5 * 1024, "verify raised the peak by {grew} KiB");
}
