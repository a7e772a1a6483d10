//! Hostile input: generated bodies thrown at the decoder (pure, many cases) and
//! through the real route (fewer). Nothing panics, every refusal is a 4xx, and
//! nothing is stored from a refused body.

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::ResponseError;
use collector::routes::ingest::decode;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::helpers::*;

/// Cases per decoder property; four properties, so 120,000 decoded bodies.
const DECODE_CASES: u32 = 30_000;
/// Bodies sent through the HTTP route.
const HTTP_CASES: usize = 2_000;

/// The golden event fixtures: the building blocks of valid batches.
fn fixtures() -> Vec<Value> {
    [
        include_str!("../../../shared/tests/fixtures/click.json"),
        include_str!("../../../shared/tests/fixtures/custom.json"),
        include_str!("../../../shared/tests/fixtures/form.json"),
        include_str!("../../../shared/tests/fixtures/input.json"),
        include_str!("../../../shared/tests/fixtures/page_change.json"),
        include_str!("../../../shared/tests/fixtures/scroll.json"),
        include_str!("../../../shared/tests/fixtures/selection.json"),
    ]
    .iter()
    .map(|s| serde_json::from_str(s).expect("fixture is JSON"))
    .collect()
}

/// A valid batch body.
fn valid_batch() -> impl Strategy<Value = Vec<u8>> {
    let events = fixtures();
    (
        "[a-z0-9-]{1,24}",
        "[a-z0-9]{1,12}",
        prop::collection::vec((0..events.len(), 0u64..1_000_000), 1..8),
    )
        .prop_map(move |(session, tab, picks)| {
            let evs: Vec<Value> = picks
                .iter()
                .map(|(i, seq)| {
                    let mut e = events[*i].clone();
                    e["seq"] = json!(seq);
                    e
                })
                .collect();
            serde_json::to_vec(
                &json!({"v": 1, "session_id": session, "tab_id": tab, "events": evs}),
            )
            .unwrap()
        })
}

/// A valid batch, damaged: truncated, a byte flipped, inserted or removed.
fn mutated_batch() -> impl Strategy<Value = (Vec<u8>, bool)> {
    (
        valid_batch(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0..4u8,
    )
        .prop_map(|(mut b, at, byte, how)| {
            let i = at.index(b.len());
            match how {
                // A strict prefix of a JSON object is never a JSON object.
                0 => {
                    b.truncate(i);
                    return (b, true);
                }
                1 => b[i] ^= byte | 1,
                2 => b.insert(i, byte),
                _ => {
                    b.remove(i);
                }
            }
            (b, false)
        })
}

/// A valid batch with one field replaced by something hostile.
fn hostile_field() -> impl Strategy<Value = Vec<u8>> {
    let nasty = prop_oneof![
        // Huge and odd numbers.
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        "[0-9]{20,400}".prop_map(|d| serde_json::from_str::<Value>(&d).unwrap_or(json!(0))),
        // Wrong types.
        Just(json!(null)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        Just(json!("")),
        // Over-long strings and control characters.
        (60usize..5000).prop_map(|n| json!("x".repeat(n))),
        "\\PC{0,40}".prop_map(|s| json!(s)),
        // Deep nesting below the parser's own limit.
        (1usize..40).prop_map(|n| serde_json::from_str::<Value>(&format!(
            "{}{}",
            "[".repeat(n),
            "]".repeat(n)
        ))
        .unwrap()),
    ];
    let field = prop_oneof![
        Just("/v"),
        Just("/session_id"),
        Just("/tab_id"),
        Just("/events"),
        Just("/events/0/seq"),
        Just("/events/0/ts"),
        Just("/events/0/type"),
        Just("/events/0/actor"),
        Just("/events/0/data"),
        Just("/events/0/data/value"),
        Just("/events/0/data/target/id"),
        Just("/events/0/unknown_field"),
        Just("/unknown_field"),
        Just("/gaps"),
    ];
    (valid_batch(), field, nasty).prop_map(|(b, field, value)| {
        let mut v: Value = serde_json::from_slice(&b).unwrap();
        let (parent, last) = field.rsplit_once('/').unwrap();
        if let Some(Value::Object(o)) = v.pointer_mut(parent) {
            o.insert(last.to_owned(), value);
        }
        serde_json::to_vec(&v).unwrap()
    })
}

/// Bodies no JSON parser should accept, or should accept only as nonsense.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        // Deep nesting far past every limit.
        (
            1usize..20_000,
            prop_oneof![Just("["), Just("{\"a\":"), Just("[{\"x\":[")]
        )
            .prop_map(|(n, open)| open.repeat(n).into_bytes()),
        // Invalid UTF-8 inside an otherwise valid batch.
        (
            valid_batch(),
            any::<prop::sample::Index>(),
            prop_oneof![
                Just(vec![0xff]),
                Just(vec![0xc3]),
                Just(vec![0xed, 0xa0, 0x80]),
                Just(vec![0xf4, 0x90, 0x80, 0x80]),
            ]
        )
            .prop_map(|(mut b, at, bad)| {
                let i = at.index(b.len());
                b.splice(i..i, bad);
                b
            }),
    ]
}

/// Decodes, asserting the decoder's contract; returns the outcome's name.
fn check(body: &[u8]) -> String {
    match decode(body) {
        Ok(batch) => {
            batch.validate().expect("decode returns only valid batches");
            "accepted".into()
        }
        Err(e) => {
            let status = e.status_code();
            assert!(status.is_client_error(), "{status} for {e}");
            e.code().into()
        }
    }
}

/// Runs `cases` of `strategy` through `check`, tallying outcomes.
fn run<S: Strategy>(name: &str, strategy: S, check_one: impl Fn(S::Value) -> String) {
    let tally = Mutex::new(BTreeMap::<String, u64>::new());
    let mut runner = TestRunner::new(Config {
        cases: DECODE_CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |v| {
            *tally.lock().unwrap().entry(check_one(v)).or_default() += 1;
            Ok(())
        })
        .unwrap();
    println!("hostile decode, {name}: {:?}", tally.into_inner().unwrap());
}

#[test]
fn the_decoder_refuses_random_bytes_and_deep_nesting_with_4xx() {
    run("garbage", garbage(), |b| check(&b));
}

#[test]
fn the_decoder_refuses_damaged_batches_with_4xx() {
    run("mutated", mutated_batch(), |(b, surely_invalid)| {
        let outcome = check(&b);
        assert!(
            !surely_invalid || outcome != "accepted",
            "a truncated batch was accepted"
        );
        outcome
    });
}

#[test]
fn the_decoder_refuses_hostile_fields_with_4xx() {
    run("hostile fields", hostile_field(), |b| check(&b));
}

#[test]
fn the_decoder_accepts_every_valid_batch() {
    run("valid", valid_batch(), |b| {
        let outcome = check(&b);
        assert_eq!(outcome, "accepted", "{}", String::from_utf8_lossy(&b));
        outcome
    });
}

#[tokio::test]
async fn hostile_bodies_through_the_route_get_4xx_and_store_nothing() {
    let app = TestApp::spawn().await;
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop_oneof![
        garbage(),
        mutated_batch().prop_map(|(b, _)| b),
        hostile_field(),
        valid_batch(),
    ];
    let mut tally = BTreeMap::<u16, u64>::new();
    let mut acked_stored = 0;
    for _ in 0..HTTP_CASES {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let content_type = if body.len() % 2 == 0 {
            "application/json"
        } else {
            "text/plain"
        };
        let res = app.post_batch_raw(content_type, body.clone()).await;
        let status = res.status().as_u16();
        *tally.entry(status).or_default() += 1;
        assert!(
            status < 500,
            "{status} for {}",
            String::from_utf8_lossy(&body)
        );
        let answer: Value = res.json().await.expect("every answer is JSON");
        if status == 200 {
            acked_stored += answer["stored"].as_u64().unwrap();
        } else {
            assert!(answer["error"]["code"].is_string(), "{answer}");
        }
    }
    // Nothing beyond what the accepted bodies stored.
    let (mut stored, mut cursor) = (0, String::new());
    loop {
        let res = app
            .get(&format!("/api/v1/sessions?limit=100{cursor}"))
            .await;
        let page: shared::api::SessionsPage = res.json().await.unwrap();
        stored += page.sessions.iter().map(|s| s.event_count).sum::<u64>();
        match page.next_cursor {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    println!("hostile HTTP: {HTTP_CASES} bodies, statuses {tally:?}, {stored} events stored");
    assert_eq!(stored, acked_stored);
    app.stop().await;
}
