//! The integrity chain: how it grows, `GET .../verify`, and tampering with a
//! copy of the store (opened with sled directly) being caught at the right
//! position.

use crate::helpers::*;
use collector::store::{event_key, session_prefix};
use serde_json::json;
use shared::api::ChainVerification;
use shared::{SessionId, TabId, TenantId};

fn ids() -> (TenantId, SessionId, TabId) {
    (
        TenantId::parse("acme").unwrap(),
        SessionId::parse("s").unwrap(),
        TabId::parse("t").unwrap(),
    )
}

/// Key of the link at `pos` in the `chain` tree.
fn chain_key(pos: u64) -> Vec<u8> {
    let (tenant, session, _) = ids();
    let mut k = session_prefix(&tenant, &session);
    k.extend_from_slice(&pos.to_be_bytes());
    k
}

fn ev_key(seq: u64) -> Vec<u8> {
    let (tenant, session, tab) = ids();
    event_key(&tenant, &session, &tab, seq)
}

#[tokio::test]
async fn the_chain_grows_only_with_newly_stored_records() {
    let app = TestApp::spawn().await;
    let first = batch("s", "t", (0..3).map(|i| click(i, i as i64, "b")).collect());
    assert_eq!(app.post_batch(&first).await.status(), 200);
    let v = app.verify("s").await;
    assert!(v.valid, "{v:?}");
    assert_eq!(v.length, Some(3));
    let head = v.head.clone().unwrap();
    assert_eq!(head.len(), 64);

    // Re-sent: nothing new is stored, nothing is chained.
    assert_eq!(app.post_batch(&first).await.status(), 200);
    assert_eq!(app.verify("s").await, v);

    // Overlapping: only seq 3 is new; a gap record is chained too.
    let mut more = batch("s", "t", vec![click(2, 2, "b"), click(3, 3, "b")]);
    more["gaps"] = json!([{"from": 4, "to": 6, "reason": "queue_full"}]);
    assert_eq!(app.post_batch(&more).await.status(), 200);
    let v2 = app.verify("s").await;
    assert!(v2.valid, "{v2:?}");
    assert_eq!(v2.length, Some(5));
    assert_ne!(v2.head.unwrap(), head);
    app.stop().await;
}

#[tokio::test]
async fn verify_is_for_readers_of_the_sessions_tenant() {
    let app = TestApp::spawn().await;
    app.post_batch(&batch("s", "t", vec![click(0, 1, "a")]))
        .await;
    let as_admin = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/sessions/s/verify")
        .await;
    assert_eq!(as_admin.status(), 200);
    assert_error(
        app.get_as(Some(OTHER_TOKEN), "/api/v1/sessions/s/verify")
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/nope/verify").await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get_as(None, "/api/v1/sessions/s/verify").await,
        401,
        "missing_credentials",
    )
    .await;
    app.stop().await;
}

/// Copies a directory tree (the stopped collector's data directory).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// One way of tampering with the store, and the position verify must report.
struct Tamper {
    name: &'static str,
    edit: fn(&sled::Db),
    first_broken: u64,
    reason_contains: &'static str,
}

fn tree(db: &sled::Db, name: &str) -> sled::Tree {
    db.open_tree(name).unwrap()
}

#[tokio::test]
async fn every_kind_of_tampering_is_detected_at_the_right_position() {
    // The pristine trail: events seq 0..=5 (chain positions 0..=5), then a gap
    // record (position 6).
    let app = TestApp::spawn().await;
    let ev = |seq: u64| click(seq, 100 + seq as i64, &format!("b{seq}"));
    app.post_batch(&batch("s", "t", (0..5).map(ev).collect()))
        .await;
    let mut last = batch("s", "t", vec![ev(5)]);
    last["gaps"] = json!([{"from": 6, "to": 8, "reason": "queue_full"}]);
    assert_eq!(app.post_batch(&last).await.status(), 200);
    let pristine = app.verify("s").await;
    assert!(pristine.valid && pristine.length == Some(7), "{pristine:?}");
    let original = app.stop_keeping_data().await;

    let cases = [
        Tamper {
            name: "an edited event",
            edit: |db| {
                let events = tree(db, "events");
                let v = events.get(ev_key(2)).unwrap().unwrap();
                let edited = String::from_utf8(v.to_vec()).unwrap().replace("b2", "XX");
                events.insert(ev_key(2), edited.as_bytes()).unwrap();
            },
            first_broken: 2,
            reason_contains: "does not match",
        },
        Tamper {
            name: "an edited gap record",
            edit: |db| {
                let gaps = tree(db, "gaps");
                let (k, v) = gaps.iter().next().unwrap().unwrap();
                let edited = String::from_utf8(v.to_vec())
                    .unwrap()
                    .replace("\"to\":8", "\"to\":7");
                assert_ne!(edited.as_bytes(), &v[..]);
                gaps.insert(k, edited.as_bytes()).unwrap();
            },
            first_broken: 6,
            reason_contains: "does not match",
        },
        Tamper {
            name: "a deleted event",
            edit: |db| {
                tree(db, "events").remove(ev_key(3)).unwrap();
            },
            first_broken: 3,
            reason_contains: "missing",
        },
        Tamper {
            name: "a deleted event and its link",
            edit: |db| {
                tree(db, "events").remove(ev_key(3)).unwrap();
                tree(db, "chain").remove(chain_key(3)).unwrap();
            },
            first_broken: 3,
            reason_contains: "missing",
        },
        Tamper {
            name: "two events swapped",
            edit: |db| {
                let events = tree(db, "events");
                let a = events.get(ev_key(1)).unwrap().unwrap();
                let b = events.get(ev_key(4)).unwrap().unwrap();
                events.insert(ev_key(1), b).unwrap();
                events.insert(ev_key(4), a).unwrap();
            },
            first_broken: 1,
            reason_contains: "does not match",
        },
        Tamper {
            name: "two links swapped",
            edit: |db| {
                let chain = tree(db, "chain");
                let a = chain.get(chain_key(2)).unwrap().unwrap();
                let b = chain.get(chain_key(3)).unwrap().unwrap();
                chain.insert(chain_key(2), b).unwrap();
                chain.insert(chain_key(3), a).unwrap();
            },
            first_broken: 2,
            reason_contains: "does not match",
        },
        Tamper {
            name: "a truncated tail",
            edit: |db| {
                let (chain, events, gaps) =
                    (tree(db, "chain"), tree(db, "events"), tree(db, "gaps"));
                chain.remove(chain_key(6)).unwrap();
                chain.remove(chain_key(5)).unwrap();
                events.remove(ev_key(5)).unwrap();
                gaps.clear().unwrap();
            },
            first_broken: 5,
            reason_contains: "truncated",
        },
        Tamper {
            name: "an inserted event outside the chain",
            edit: |db| {
                let events = tree(db, "events");
                let v = events.get(ev_key(0)).unwrap().unwrap();
                let forged = String::from_utf8(v.to_vec())
                    .unwrap()
                    .replace("\"seq\":0", "\"seq\":42");
                events.insert(ev_key(42), forged.as_bytes()).unwrap();
            },
            first_broken: 7,
            reason_contains: "holds 8 records",
        },
        Tamper {
            name: "an inserted link past the head",
            edit: |db| {
                let chain = tree(db, "chain");
                let link = chain.get(chain_key(0)).unwrap().unwrap();
                chain.insert(chain_key(7), link).unwrap();
            },
            first_broken: 7,
            reason_contains: "does not match",
        },
    ];

    for case in cases {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(original.path(), copy.path());
        {
            let db = sled::open(TestApp::sled_dir(copy.path())).unwrap();
            (case.edit)(&db);
            db.flush().unwrap();
        }
        let app = TestApp::spawn_on(copy, |_| {}).await;
        let v = app.verify("s").await;
        assert!(!v.valid, "{}: not detected: {v:?}", case.name);
        assert_eq!(
            v.first_broken,
            Some(case.first_broken),
            "{}: {v:?}",
            case.name
        );
        let reason = v.reason.unwrap_or_default();
        assert!(
            reason.contains(case.reason_contains),
            "{}: {reason}",
            case.name
        );
        app.stop().await;
    }

    // The untouched original still verifies, with the same head.
    let app = TestApp::spawn_on(original, |_| {}).await;
    assert_eq!(app.verify("s").await, pristine);
    app.stop().await;
}

#[tokio::test]
async fn verifying_and_deleting_a_trail_are_in_the_activity_log() {
    let app = TestApp::spawn().await;
    app.post_batch(&batch("audited", "t", vec![click(0, 1, "a")]))
        .await;
    assert!(app.verify("audited").await.valid);
    let res = app
        .delete_as(Some(ADMIN_TOKEN), "/api/v1/sessions/audited")
        .await;
    assert_eq!(res.status(), 200);
    let tombstone: serde_json::Value = res.json().await.unwrap();
    let res = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/audit?source=collector")
        .await;
    assert_eq!(res.status(), 200);
    let log: serde_json::Value = res.json().await.unwrap();
    let actions: Vec<(String, String)> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["user_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("session.verified".into(), "ana".into())),
        "{log}"
    );
    assert!(
        actions.contains(&("session.deleted".into(), "root".into())),
        "{log}"
    );
    // The deletion's entry carries what the tombstone says was deleted, so
    // the chained log vouches for it.
    let deleted = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "session.deleted")
        .unwrap();
    let before = &deleted["change"]["before"];
    assert_eq!(before["chain_head"], tombstone["chain_head"], "{deleted}");
    assert_eq!(before["chain_length"], 1);
    assert_eq!(before["event_count"], 1);
    app.stop().await;
}

/// A length and head kept outside the store (a pin) are checked against the
/// chain as it is now: still valid once the trail grew, broken for a store
/// rebuilt with other records, which its own head cannot show.
#[tokio::test]
async fn verify_checks_a_pin_kept_outside_the_store() {
    let app = TestApp::spawn().await;
    let first = batch("s", "t", (0..3).map(|i| click(i, i as i64, "b")).collect());
    assert_eq!(app.post_batch(&first).await.status(), 200);
    let pinned = app.verify("s").await;
    let (length, head) = (pinned.length.unwrap(), pinned.head.clone().unwrap());
    let more = batch("s", "t", (3..5).map(|i| click(i, i as i64, "b")).collect());
    assert_eq!(app.post_batch(&more).await.status(), 200);
    let with_pin = |head: &str| format!("/api/v1/sessions/s/verify?length={length}&head={head}");
    let res = app.get(&with_pin(&head)).await;
    assert_eq!(res.status(), 200);
    let v: ChainVerification = res.json().await.unwrap();
    assert!(v.valid && v.length == Some(5), "{v:?}");
    // The head in capitals is the same head.
    let res = app.get(&with_pin(&head.to_uppercase())).await;
    assert!(res.json::<ChainVerification>().await.unwrap().valid);
    let other_head = "ab".repeat(32);
    let v: ChainVerification = app.get(&with_pin(&other_head)).await.json().await.unwrap();
    assert!(!v.valid && v.first_broken == Some(2), "{v:?}");

    for (query, message) in [
        (format!("length={length}"), "both"),
        (format!("head={head}"), "both"),
        (format!("length={length}&head=xyz"), "64 hex digits"),
        (
            format!("length={length}&head={}", &head[..62]),
            "64 hex digits",
        ),
        (format!("length=0&head={}", "00".repeat(32)), "at least 1"),
    ] {
        let res = app.get(&format!("/api/v1/sessions/s/verify?{query}")).await;
        let error = assert_error(res, 400, "bad_pin").await;
        assert!(error.contains(message), "{query}: {error}");
    }
    assert_error(
        app.get("/api/v1/sessions/s/verify?length=x&head=ab").await,
        400,
        "bad_query",
    )
    .await;
    app.stop().await;

    // Another store with the same session built from other records (the
    // first click's button renamed, all stored at other times): consistent
    // in itself, not the pinned chain.
    let rebuilt = TestApp::spawn().await;
    let mut forged = first.clone();
    forged["events"][0]["data"]["target"]["id"] = json!("renamed");
    assert_eq!(rebuilt.post_batch(&forged).await.status(), 200);
    assert_eq!(rebuilt.post_batch(&more).await.status(), 200);
    let v = rebuilt.verify("s").await;
    assert!(v.valid && v.length == Some(5), "{v:?}");
    let v: ChainVerification = rebuilt.get(&with_pin(&head)).await.json().await.unwrap();
    assert!(!v.valid && v.first_broken == Some(2), "{v:?}");
    assert!(v.reason.unwrap().contains("first 3 records"));
    rebuilt.stop().await;
}

/// `collector --check` on a stopped collector's store: every session and
/// activity log verified offline, problems named, the exit code saying so;
/// a store still in use is not checked.
#[tokio::test]
async fn the_check_command_verifies_the_whole_store_offline() {
    let app = TestApp::spawn().await;
    let ev = |seq: u64| click(seq, 100 + seq as i64, &format!("b{seq}"));
    for session in ["s", "s2"] {
        let b = batch(session, "t", (0..4).map(ev).collect());
        assert_eq!(app.post_batch(&b).await.status(), 200);
    }
    // A read: the tenant's activity log has an entry.
    app.events("s", "").await;
    let check = |dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_collector"))
            .arg("--check")
            .arg("--data-dir")
            .arg(dir.join("store"))
            .arg("--log-format")
            .arg("json")
            .output()
            .expect("the collector binary runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let dir = app.data_dir.path().to_owned();
    let (code, out) = check(&dir);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is a collector running on it?"), "{out}");
    // A mistyped directory is not an empty store found intact, and nothing
    // is created there.
    let nowhere = dir.join("no-such-dir");
    let (code, out) = check(&nowhere);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("there is no store in"), "{out}");
    assert!(!nowhere.exists());
    // Settings that do not load are "not checked" too, never "broken".
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("--check")
        .arg("--data-dir")
        .arg(dir.join("store"))
        .env("COTRAIL_RETENTION_DAYS", "0")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let data = app.stop_keeping_data().await;
    let (code, out) = check(data.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("checked 2 sessions and the activity logs of 1 tenant: all intact"),
        "{out}"
    );

    {
        let db = sled::open(TestApp::sled_dir(data.path())).unwrap();
        let events = tree(&db, "events");
        let v = events.get(ev_key(2)).unwrap().unwrap();
        let edited = String::from_utf8(v.to_vec()).unwrap().replace("b2", "XX");
        events.insert(ev_key(2), edited.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let (code, out) = check(data.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("BROKEN session acme/s at record 2: "), "{out}");
    assert!(!out.contains("acme/s2"), "{out}");
    assert!(out.contains(": 1 problem"), "{out}");

    // A summary that does not read is a problem of its own; the check goes on.
    {
        let db = sled::open(TestApp::sled_dir(data.path())).unwrap();
        let (tenant, _, _) = ids();
        let key = collector::store::session_key(&tenant, &SessionId::parse("s2").unwrap());
        tree(&db, "sessions").insert(key, &b"{"[..]).unwrap();
        db.flush().unwrap();
    }
    let (code, out) = check(data.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("BROKEN session acme/s at record 2: "), "{out}");
    assert!(out.contains("UNREADABLE session acme/s2: "), "{out}");
    assert!(out.contains(": 2 problems"), "{out}");
}

/// A broken trail the activity log checkpointed is one problem, not two:
/// the log's check fails on that trail too, and `--check` says so on a line
/// of its own without counting it again.
#[tokio::test]
async fn the_check_counts_a_broken_checkpointed_trail_once() {
    let app = TestApp::spawn_with(|s| s.checkpoint_interval_secs = 1).await;
    let b = batch(
        "s",
        "t",
        (0..4).map(|i| click(i, 100 + i as i64, "b")).collect(),
    );
    assert_eq!(app.post_batch(&b).await.status(), 200);
    // Until a checkpoint entry names the trail.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log: serde_json::Value = app
            .get_as(
                Some(ADMIN_TOKEN),
                "/api/v1/audit?source=collector&user=collector",
            )
            .await
            .json()
            .await
            .unwrap();
        let pinned = log["records"].as_array().is_some_and(|r| {
            r.iter().any(|e| {
                e["action"] == "sessions.checkpointed" && !e["change"]["after"]["s"].is_null()
            })
        });
        if pinned {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of s: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let data = app.stop_keeping_data().await;
    {
        // The last event and its link deleted: the trail no longer holds
        // what the checkpoint pinned.
        let db = sled::open(TestApp::sled_dir(data.path())).unwrap();
        tree(&db, "events").remove(ev_key(3)).unwrap().unwrap();
        tree(&db, "chain").remove(chain_key(3)).unwrap().unwrap();
        db.flush().unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_collector"))
        .arg("--check")
        .arg("--data-dir")
        .arg(data.path().join("store"))
        .output()
        .expect("the collector binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("BROKEN session acme/s at record 3: "),
        "{text}"
    );
    assert!(
        text.contains("(session acme/s, reported above, is also what checkpoint entry"),
        "{text}"
    );
    assert!(text.contains(": 1 problem\n"), "{text}");
}
