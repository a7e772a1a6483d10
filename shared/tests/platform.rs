//! Golden fixtures and round trips for platform audit records: the platform
//! posts these from its own services, so their JSON is a contract too. Each
//! fixture under `tests/fixtures/platform/` is the exact JSON of one seed type.

use serde_json::json;
use shared::api::Origin;
use shared::audit::*;
use shared::limits::*;
use shared::{SessionId, UserId};

fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn record(n: i64, data: PlatformData) -> PlatformRecord {
    PlatformRecord {
        record_id: Some(format!("rec-{n}")),
        user_id: user("ana"),
        entity: None,
        action: None,
        actor: ActorKind::User,
        origin: None,
        change: None,
        occurred_at: 1_763_800_000_000 + n,
        data,
    }
}

fn call() -> CallData {
    CallData {
        call_id: "call-9".into(),
        customer_id: "cust-4".into(),
    }
}

/// One record of every type, named after its fixture file.
fn samples() -> Vec<(&'static str, PlatformRecord)> {
    vec![
        (
            "start_call",
            PlatformRecord {
                entity: Some(Entity {
                    kind: "call".into(),
                    id: "call-9".into(),
                }),
                action: Some("Call started".into()),
                origin: Some(Origin {
                    ip: Some("201.13.62.150".into()),
                    user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)".into()),
                }),
                ..record(0, PlatformData::StartCall(call()))
            },
        ),
        (
            "messenger_send",
            PlatformRecord {
                actor: ActorKind::Ai,
                ..record(
                    1,
                    PlatformData::MessengerSend(MessengerSendData {
                        customer_id: "cust-4".into(),
                    }),
                )
            },
        ),
        (
            "live_view",
            record(
                2,
                PlatformData::LiveView(LiveViewData {
                    session_id: SessionId::parse("sess-1").unwrap(),
                }),
            ),
        ),
        ("logged_in", record(3, PlatformData::LoggedIn)),
        (
            "online_status_online",
            record(4, PlatformData::OnlineStatusOnline),
        ),
        (
            "online_status_offline",
            record(5, PlatformData::OnlineStatusOffline),
        ),
        (
            "status_change",
            PlatformRecord {
                entity: Some(Entity {
                    kind: "conversation".into(),
                    id: "18".into(),
                }),
                action: Some("Status changed".into()),
                actor: ActorKind::Api,
                change: Some(Change {
                    before: Some(
                        json!({"status": null, "last_message_at": null})
                            .as_object()
                            .unwrap()
                            .clone(),
                    ),
                    after: Some(
                        json!({"status": "waiting_customer", "last_message_at": "2026-02-19 22:43:00"})
                            .as_object()
                            .unwrap()
                            .clone(),
                    ),
                }),
                ..record(
                    6,
                    PlatformData::StatusChange(StatusChangeData {
                        customer_id: "cust-4".into(),
                        status: "DONE".into(),
                        message_id: "msg-88".into(),
                    }),
                )
            },
        ),
        (
            "role_change",
            record(
                7,
                PlatformData::RoleChange(RoleChangeData {
                    role: "supervisor".into(),
                    tenant_user: user("bruno"),
                }),
            ),
        ),
        (
            "permission_change",
            record(
                8,
                PlatformData::PermissionChange(PermissionChangeData {
                    role: "agent".into(),
                    permissions: vec!["sessions.read".into(), "calls.start".into()],
                }),
            ),
        ),
        (
            "plugin_change",
            record(
                9,
                PlatformData::PluginChange(ConfigData {
                    config: json!({"plugin": "crm", "enabled": true, "fields": ["email"]}),
                }),
            ),
        ),
        (
            "settings_change",
            PlatformRecord {
                actor: ActorKind::System,
                change: Some(Change {
                    before: Some(json!({"mfa": false}).as_object().unwrap().clone()),
                    after: Some(json!({"mfa": true}).as_object().unwrap().clone()),
                }),
                ..record(
                    10,
                    PlatformData::SettingsChange(ConfigData {
                        config: json!({"security": {"mfa": true}}),
                    }),
                )
            },
        ),
        (
            "meeting_change",
            record(
                11,
                PlatformData::MeetingChange(MeetingChangeData {
                    operation: MeetingOperation::CreateOrUpdate,
                    conference: json!({"id": "conf-1", "title": "Onboarding"}),
                }),
            ),
        ),
        (
            "conference_agent",
            record(12, PlatformData::ConferenceAgent(call())),
        ),
        (
            "conference_recording",
            record(
                13,
                PlatformData::ConferenceRecording(ConferenceRecordingData {
                    call_id: "call-9".into(),
                    customer_id: "cust-4".into(),
                    agents: vec![user("ana"), user("bruno")],
                    tags: vec!["onboarding".into()],
                }),
            ),
        ),
    ]
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/platform")
        .join(format!("{name}.json"))
}

#[test]
fn every_platform_record_type_matches_its_golden_fixture() {
    // COTRAIL_BLESS=1 rewrites the fixtures; review the diff before committing it.
    let bless = std::env::var_os("COTRAIL_BLESS").is_some();
    for (name, rec) in samples() {
        let path = fixture_path(name);
        let actual = serde_json::to_string_pretty(&rec).unwrap() + "\n";
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
        let golden_value: serde_json::Value = serde_json::from_str(&golden).unwrap();
        assert_eq!(
            serde_json::to_value(&rec).unwrap(),
            golden_value,
            "fixture {name} changed:\n{actual}"
        );
        let parsed: PlatformRecord = serde_json::from_str(&golden).unwrap();
        assert_eq!(parsed, rec, "fixture {name} does not parse back");
        assert_eq!(rec.validate(), Ok(()), "fixture {name} is valid");
        // The fixture's name is its type's wire name.
        assert_eq!(golden_value["type"], name.to_uppercase());
    }
}

#[test]
fn fixtures_cover_exactly_the_fourteen_seed_type_names() {
    let mut seen: Vec<&str> = samples()
        .iter()
        .map(|(_, r)| r.record_type().as_str())
        .collect();
    seen.sort();
    seen.dedup();
    let mut seed = vec![
        "START_CALL",
        "MESSENGER_SEND",
        "LIVE_VIEW",
        "LOGGED_IN",
        "ONLINE_STATUS_ONLINE",
        "ONLINE_STATUS_OFFLINE",
        "STATUS_CHANGE",
        "ROLE_CHANGE",
        "PERMISSION_CHANGE",
        "PLUGIN_CHANGE",
        "SETTINGS_CHANGE",
        "MEETING_CHANGE",
        "CONFERENCE_AGENT",
        "CONFERENCE_RECORDING",
    ];
    seed.sort();
    assert_eq!(seen, seed);
    for t in PlatformRecordType::ALL {
        assert_eq!(PlatformRecordType::parse(t.as_str()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
}

#[test]
fn types_without_data_carry_no_data_key() {
    let v = serde_json::to_value(record(0, PlatformData::LoggedIn)).unwrap();
    assert_eq!(v["type"], "LOGGED_IN");
    assert!(v.get("data").is_none(), "{v}");
}

#[test]
fn unknown_fields_types_and_operations_are_rejected_with_their_name() {
    let base = || serde_json::to_value(&samples()[0].1).unwrap();
    let mut v = base();
    v["colour"] = json!("red");
    let err = serde_json::from_value::<PlatformRecord>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("colour"), "{err}");

    let mut v = base();
    v["type"] = json!("END_CALL");
    let err = serde_json::from_value::<PlatformRecord>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("END_CALL"), "{err}");

    let mut v = base();
    v["data"]["extra"] = json!(1);
    let err = serde_json::from_value::<PlatformRecord>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("extra"), "{err}");

    let mut v = serde_json::to_value(&samples()[11].1).unwrap();
    v["data"]["operation"] = json!("ARCHIVE");
    let err = serde_json::from_value::<PlatformRecord>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("ARCHIVE"), "{err}");

    let mut v = base();
    v["actor"] = json!("robot");
    assert!(serde_json::from_value::<PlatformRecord>(v).is_err());
}

#[test]
fn validation_names_the_limit_that_was_broken() {
    let mut r = samples().remove(0).1;
    r.action = Some("x".repeat(MAX_LABEL_CHARS + 1));
    let err = r.validate().unwrap_err();
    assert_eq!(err.code, "text_too_long");
    assert!(err.message.contains("action"), "{err}");

    let mut r = samples().remove(9).1;
    let mut deep = json!(1);
    for _ in 0..MAX_JSON_DEPTH + 1 {
        deep = json!([deep]);
    }
    r.data = PlatformData::PluginChange(ConfigData { config: deep });
    assert_eq!(r.validate().unwrap_err().code, "json_too_deep");

    r.data = PlatformData::PluginChange(ConfigData {
        config: json!("x".repeat(MAX_RECORD_JSON_BYTES)),
    });
    assert_eq!(r.validate().unwrap_err().code, "json_too_large");

    let mut r = samples().remove(8).1;
    r.data = PlatformData::PermissionChange(PermissionChangeData {
        role: "agent".into(),
        permissions: vec!["p".into(); MAX_LIST_ITEMS + 1],
    });
    assert_eq!(r.validate().unwrap_err().code, "too_many_items");

    let mut r = samples().remove(6).1;
    r.change = Some(Change {
        before: Some(json!({"status": "open"}).as_object().unwrap().clone()),
        after: Some(json!({"status": "open"}).as_object().unwrap().clone()),
    });
    let err = r.validate().unwrap_err();
    assert_eq!(err.code, "unchanged_field");
    assert!(err.message.contains("status"), "{err}");

    let mut r = samples().remove(0).1;
    r.record_id = Some(" ".into());
    assert_eq!(r.validate().unwrap_err().code, "empty_field");
}

#[test]
fn stored_entries_round_trip_for_platform_and_collector_records() {
    for (_, rec) in samples() {
        let entry = AuditEntry::platform(rec.clone(), 42, &Origin::default());
        let v = serde_json::to_value(&entry).unwrap();
        assert_eq!(v["source"], "platform");
        assert_eq!(v["type"], rec.record_type().as_str());
        let back: AuditEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, entry);
    }
    let entry = AuditEntry::access(
        user("ana"),
        AccessAction::Viewed,
        &SessionId::parse("s-1").unwrap(),
        Origin {
            ip: Some("127.0.0.1".into()),
            user_agent: None,
        },
        7,
    );
    let v = serde_json::to_value(&entry).unwrap();
    assert_eq!(v["source"], "collector");
    assert_eq!(v["action"], "session.viewed");
    assert_eq!(v["entity"], json!({"kind": "session", "id": "s-1"}));
    assert!(v.get("type").is_none(), "{v}");
    let back: AuditEntry = serde_json::from_value(v).unwrap();
    assert_eq!(back, entry);
}

#[test]
fn a_missing_origin_is_stamped_with_the_posting_request() {
    let rec = samples().remove(1).1;
    let fallback = Origin {
        ip: Some("10.0.0.1".into()),
        user_agent: Some("platform/1".into()),
    };
    assert_eq!(AuditEntry::platform(rec, 1, &fallback).origin, fallback);
    let rec = samples().remove(0).1;
    let own = rec.origin.clone().unwrap();
    assert_eq!(AuditEntry::platform(rec, 1, &fallback).origin, own);
}

#[test]
fn occurred_at_must_be_after_2000_and_at_most_a_day_ahead_of_the_receiver() {
    let now = 1_763_800_000_000;
    let at = |t: i64| {
        let mut r = record(0, PlatformData::LoggedIn);
        r.occurred_at = t;
        r
    };
    assert!(at(MIN_OCCURRED_AT_MS).validate().is_ok());
    let err = at(MIN_OCCURRED_AT_MS - 1).validate().unwrap_err();
    assert_eq!(err.code, "bad_time");
    assert!(err.message.contains("the limit is"), "{}", err.message);
    assert!(at(-1).validate().is_err());
    let ahead = now + MAX_OCCURRED_AT_AHEAD_MS;
    assert!(at(ahead).validate_time(now).is_ok());
    for t in [ahead + 1, i64::MAX] {
        let err = at(t).validate_time(now).unwrap_err();
        assert_eq!(err.code, "bad_time");
        assert!(err.message.contains(&ahead.to_string()), "{}", err.message);
    }
    // A receiver at the end of time does not overflow.
    assert!(at(i64::MAX).validate_time(i64::MAX).is_ok());
}
