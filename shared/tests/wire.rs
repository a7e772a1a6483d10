//! Golden fixtures and round trips: the wire format is a contract with every page
//! that embeds an older or newer recorder, so a change here must be deliberate.
//! Each fixture under `tests/fixtures/` is the exact JSON of one event type.

use serde_json::json;
use shared::api::EventRecord;
use shared::limits::*;
use shared::*;

fn el(id: &str, tag: &str, path: &str) -> ElementRef {
    ElementRef {
        id: Some(id.into()),
        name: None,
        tag: tag.into(),
        path: path.into(),
        label: None,
    }
}

fn event(seq: u64, actor: Actor, data: EventData) -> Event {
    Event {
        seq,
        ts: 1_763_800_000_000 + seq as i64,
        mono: 1000 + seq,
        actor,
        data,
    }
}

/// One event of every type, named after its fixture file.
fn samples() -> Vec<(&'static str, Event)> {
    let agent = Actor::Agent {
        id: AgentId::parse("agent-7").unwrap(),
    };
    vec![
        (
            "click",
            event(
                0,
                Actor::Customer,
                EventData::Click(ClickData {
                    target: ElementRef {
                        label: Some("Add to cart".into()),
                        ..el("add-to-cart", "button", "main>button#add-to-cart")
                    },
                }),
            ),
        ),
        (
            "scroll",
            event(
                1,
                agent.clone(),
                EventData::Scroll(ScrollData {
                    target: Some(el("reviews", "div", "section>div#reviews")),
                    x: 0,
                    y: 420,
                }),
            ),
        ),
        (
            "form",
            event(
                2,
                Actor::Customer,
                EventData::Form(FormData {
                    target: ElementRef {
                        name: Some("checkout".into()),
                        ..el("checkout-form", "form", "form#checkout-form")
                    },
                    action: Some("/checkout".into()),
                    method: Some("post".into()),
                }),
            ),
        ),
        (
            "input",
            event(
                3,
                Actor::Customer,
                EventData::Input(InputData {
                    target: ElementRef {
                        name: Some("email".into()),
                        label: Some("E-mail".into()),
                        ..el("email", "input", "form#checkout-form>input#email")
                    },
                    value: Some("ana@example.com".into()),
                    checked: None,
                    masked: None,
                }),
            ),
        ),
        (
            "input_masked",
            event(
                4,
                Actor::Customer,
                EventData::Input(InputData {
                    target: el("password", "input", "form#checkout-form>input#password"),
                    value: None,
                    checked: None,
                    masked: Some(MaskReason::Password),
                }),
            ),
        ),
        (
            "page_change",
            event(
                5,
                Actor::Customer,
                EventData::PageChange(PageChangeData {
                    url: "https://shop.example/products".into(),
                    title: "Products".into(),
                    nav: Navigation::Push,
                }),
            ),
        ),
        (
            "selection",
            event(
                6,
                Actor::Script,
                EventData::Selection(SelectionData {
                    text: Some("free returns within 30 days".into()),
                    target: Some(el("returns", "p", "main>p#returns")),
                    masked: None,
                }),
            ),
        ),
        (
            "custom",
            event(
                7,
                agent,
                EventData::Custom(CustomData {
                    custom_type: "cart".into(),
                    value: json!({"sku": "A-1", "qty": 2}),
                }),
            ),
        ),
    ]
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"))
}

#[test]
fn every_event_type_matches_its_golden_fixture() {
    // COTRAIL_BLESS=1 rewrites the fixtures; review the diff before committing it.
    let bless = std::env::var_os("COTRAIL_BLESS").is_some();
    for (name, ev) in samples() {
        let path = fixture_path(name);
        let actual = serde_json::to_string_pretty(&ev).unwrap() + "\n";
        if bless {
            std::fs::write(&path, &actual).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
        // Compared as JSON values: map key order depends on serde_json's
        // `preserve_order` feature, which other workspace crates may switch on.
        let golden_value: serde_json::Value = serde_json::from_str(&golden).unwrap();
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            golden_value,
            "fixture {name} changed:\n{actual}"
        );
        let parsed: Event = serde_json::from_str(&golden).unwrap();
        assert_eq!(parsed, ev, "fixture {name} does not parse back");
    }
}

#[test]
fn fixtures_cover_all_seven_seed_type_names() {
    let mut seen: Vec<&str> = samples()
        .iter()
        .map(|(_, e)| e.event_type().as_str())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "CLICK",
            "CUSTOM_EVENT",
            "FORM",
            "INPUT",
            "PAGE-CHANGE",
            "SCROLL",
            "SELECTION"
        ]
    );
    for (name, _) in samples() {
        let text = std::fs::read_to_string(fixture_path(name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let t = v["type"].as_str().unwrap();
        assert_eq!(EventType::parse(t).map(|t| t.as_str()), Some(t));
    }
}

#[test]
fn a_batch_round_trips_through_json() {
    let batch = Batch {
        v: WIRE_VERSION,
        session_id: SessionId::parse("sess-1").unwrap(),
        tab_id: TabId::parse("tab-1").unwrap(),
        events: samples().into_iter().map(|(_, e)| e).collect(),
        gaps: vec![],
    };
    let text = serde_json::to_string(&batch).unwrap();
    let back: Batch = serde_json::from_str(&text).unwrap();
    assert_eq!(back, batch);
    assert_eq!(back.validate(), Ok(()));
}

#[test]
fn a_stored_record_flattens_the_event_beside_the_collector_stamps() {
    let (_, ev) = samples().remove(0);
    let rec = EventRecord {
        session_id: SessionId::parse("s").unwrap(),
        tab_id: TabId::parse("t").unwrap(),
        received_at: 5,
        origin: Default::default(),
        event: ev,
    };
    let v = serde_json::to_value(&rec).unwrap();
    assert_eq!(v["type"], "CLICK");
    assert_eq!(v["data"]["target"]["id"], "add-to-cart");
    assert_eq!(v["received_at"], 5);
    let back: EventRecord = serde_json::from_value(v).unwrap();
    assert_eq!(back, rec);
}

#[test]
fn unknown_fields_and_types_are_rejected_with_their_name() {
    let mut v = serde_json::to_value(&samples()[0].1).unwrap();
    v["colour"] = json!("red");
    let err = serde_json::from_value::<Event>(v).unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");

    let mut v = serde_json::to_value(&samples()[0].1).unwrap();
    v["type"] = json!("DOUBLE_CLICK");
    let err = serde_json::from_value::<Event>(v).unwrap_err().to_string();
    assert!(err.contains("DOUBLE_CLICK"), "{err}");

    let mut v = serde_json::to_value(&samples()[0].1).unwrap();
    v["data"]["target"]["onclick"] = json!("x");
    let err = serde_json::from_value::<Event>(v).unwrap_err().to_string();
    assert!(err.contains("onclick"), "{err}");
}

#[test]
fn an_actor_carries_an_id_only_when_it_is_an_agent() {
    for (json, ok) in [
        (json!({"kind": "customer"}), Some(Actor::Customer)),
        (json!({"kind": "script"}), Some(Actor::Script)),
        (
            json!({"kind": "agent", "id": "agent-7"}),
            Some(Actor::Agent {
                id: shared::AgentId::parse("agent-7").unwrap(),
            }),
        ),
        (json!({"kind": "customer", "id": "x"}), None),
        (json!({"kind": "script", "id": "x"}), None),
        (json!({"kind": "customer", "id": null}), None),
        (json!({"kind": "agent"}), None),
        (json!({"kind": "agent", "id": null}), None),
        (json!({"kind": "agent", "id": "a", "team": "b"}), None),
        (json!({"kind": "customer", "colour": "red"}), None),
        (json!({"kind": "robot"}), None),
        (json!({"id": "a"}), None),
    ] {
        let got = serde_json::from_value::<Actor>(json.clone());
        if let Err(e) = &got {
            assert!(!e.to_string().contains("ActorWire"), "{e}");
        }
        match ok {
            Some(actor) => {
                assert_eq!(got.unwrap(), actor, "{json}");
                // The wire format is unchanged: it writes back what it read.
                assert_eq!(serde_json::to_value(&actor).unwrap(), json);
            }
            None => assert!(got.is_err(), "{json} was accepted as {got:?}"),
        }
    }
    // A string where the object goes: the error says what an actor is.
    let e = serde_json::from_value::<Actor>(json!("customer")).unwrap_err();
    assert!(e.to_string().contains("an actor"), "{e}");
    // Inside an event, and inside a stored record (flattened) too.
    let mut v = serde_json::to_value(&samples()[0].1).unwrap();
    v["actor"] = json!({"kind": "customer", "id": "x"});
    let err = serde_json::from_value::<Event>(v).unwrap_err().to_string();
    assert!(err.contains("no `id`"), "{err}");
}

#[test]
fn validation_names_the_limit_that_was_broken() {
    let mut batch = Batch {
        v: WIRE_VERSION,
        session_id: SessionId::parse("s").unwrap(),
        tab_id: TabId::parse("t").unwrap(),
        events: vec![],
        gaps: vec![],
    };
    assert_eq!(batch.validate().unwrap_err().code, "empty_batch");

    batch.events = (0..=MAX_EVENTS_PER_BATCH as u64)
        .map(|i| samples()[0].1.clone().with_seq(i))
        .collect();
    assert_eq!(batch.validate().unwrap_err().code, "too_many_events");

    let mut long = samples()[3].1.clone();
    if let EventData::Input(d) = &mut long.data {
        d.value = Some("x".repeat(MAX_TEXT_CHARS + 1));
    }
    batch.events = vec![long];
    let err = batch.validate().unwrap_err();
    assert_eq!(err.code, "text_too_long");
    assert!(
        err.message.contains("seq 3") && err.message.contains("value"),
        "{err}"
    );

    let mut deep = json!(1);
    for _ in 0..MAX_JSON_DEPTH {
        deep = json!([deep]);
    }
    batch.events = vec![event(
        0,
        Actor::Customer,
        EventData::Custom(CustomData {
            custom_type: "x".into(),
            value: deep,
        }),
    )];
    assert_eq!(batch.validate().unwrap_err().code, "json_too_deep");

    batch.events = vec![event(
        0,
        Actor::Customer,
        EventData::Custom(CustomData {
            custom_type: " ".into(),
            value: json!(null),
        }),
    )];
    assert_eq!(batch.validate().unwrap_err().code, "bad_custom_type");

    batch.events = vec![samples()[0].1.clone()];
    batch.v = WIRE_VERSION + 1;
    assert_eq!(batch.validate().unwrap_err().code, "unsupported_version");
}

#[test]
fn a_batch_may_carry_gap_records_and_matches_its_fixture() {
    let batch = Batch {
        v: WIRE_VERSION,
        session_id: SessionId::parse("sess-1").unwrap(),
        tab_id: TabId::parse("tab-1").unwrap(),
        events: vec![],
        gaps: vec![Gap {
            from: 10,
            to: 41,
            reason: GapReason::QueueFull,
        }],
    };
    let path = fixture_path("batch_with_gap");
    if std::env::var_os("COTRAIL_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&batch).unwrap() + "\n").unwrap();
    }
    let golden: Batch = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(golden, batch);
    assert_eq!(batch.validate(), Ok(()));
    // Without gaps the field is absent: batches of older recorders stay valid.
    let mut plain = batch.clone();
    plain.gaps.clear();
    assert!(!serde_json::to_string(&plain).unwrap().contains("gaps"));

    let mut backwards = batch.clone();
    backwards.gaps[0].from = 50;
    assert_eq!(backwards.validate().unwrap_err().code, "bad_gap");
    plain.events.clear();
    assert_eq!(plain.validate().unwrap_err().code, "empty_batch");
}

trait WithSeq {
    fn with_seq(self, seq: u64) -> Self;
}

impl WithSeq for Event {
    fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }
}

#[test]
fn truncation_respects_character_boundaries() {
    assert_eq!(truncate_chars("ação", 2), "aç");
    assert_eq!(truncate_chars("ab", 5), "ab");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever bytes arrive, decoding answers Ok or Err and never panics.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = serde_json::from_slice::<Batch>(&bytes);
        }

        #[test]
        fn input_values_round_trip(value in ".{0,64}", seq in 0u64..1_000_000) {
            let ev = event(seq, Actor::Customer, EventData::Input(InputData {
                target: el("f", "input", "input#f"), value: Some(value), checked: None, masked: None,
            }));
            let back: Event = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
            prop_assert_eq!(back, ev);
        }
    }
}
