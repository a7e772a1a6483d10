//! `GET /api/v1/sessions/{id}/export`: NDJSON and CSV downloads that parse back
//! to the stored events, tricky strings included.

use crate::helpers::*;
use serde_json::{json, Value};
use shared::api::EventRecord;

const TRICKY: &str = "He said \"hi\", then\nleft; naïve café — 日本語 🎉\r\n=SUM(A1)";
const UA: &str = "Mozilla/5.0 (X11; \"quoted\", comma)";

async fn seed(app: &TestApp) -> Vec<EventRecord> {
    let events = vec![
        json!({"seq": 0, "ts": 1_763_800_000_000i64, "mono": 1, "actor": {"kind": "customer"},
               "type": "PAGE-CHANGE", "data": {"url": "https://shop.example/a,b?x=\"1\"", "title": TRICKY, "nav": "load"}}),
        json!({"seq": 1, "ts": 1_763_800_000_005i64, "mono": 2, "actor": {"kind": "agent", "id": "agent-7"},
               "type": "INPUT", "data": {"target": {"id": "q", "tag": "input", "path": "=cmd|' /C calc'!A0", "label": TRICKY}, "value": TRICKY}}),
        json!({"seq": 2, "ts": 1_763_800_000_009i64, "mono": 3, "actor": {"kind": "script"},
               "type": "CUSTOM_EVENT", "data": {"type": "cart,\"x\"\nnext", "value": {"note": TRICKY, "n": [1, 2.5, null]}}}),
        click(3, 1_763_800_000_010, "buy"),
    ];
    let res = app
        .client
        .post(format!("{}/api/v1/batches?site_key={SITE_KEY}", app.base))
        .header("content-type", "application/json")
        .header("user-agent", UA)
        .body(batch("sess-x", "tab-1", events).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    app.events("sess-x", "limit=1000").await.events
}

async fn export(app: &TestApp, format: &str) -> (reqwest::header::HeaderMap, String) {
    let res = app
        .get(&format!("/api/v1/sessions/sess-x/export?format={format}"))
        .await;
    assert_eq!(res.status(), 200);
    (res.headers().clone(), res.text().await.unwrap())
}

#[tokio::test]
async fn ndjson_export_parses_back_to_the_same_events() {
    let app = TestApp::spawn().await;
    let stored = seed(&app).await;
    let (headers, body) = export(&app, "ndjson").await;
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"cotrail-sess-x.ndjson\""
    );
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), stored.len() + 2);
    assert_eq!(
        serde_json::from_str::<Value>(lines[0]).unwrap(),
        json!({"tenant": "acme", "session_id": "sess-x"})
    );
    // One batch of one tab, in time order: chain order is client-time order.
    let back: Vec<EventRecord> = lines[1..=stored.len()]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let line: Value = serde_json::from_str(l).unwrap();
            assert_eq!((&line["pos"], &line["kind"]), (&json!(i), &json!("event")));
            serde_json::from_value(line["record"].clone()).unwrap()
        })
        .collect();
    assert_eq!(back, stored);
    let trailer: Value = serde_json::from_str(lines[stored.len() + 1]).unwrap();
    // The export carries the chain head, so it can be checked against verify.
    let head = app
        .verify("sess-x")
        .await
        .head
        .expect("an intact chain has a head");
    assert_eq!(
        trailer,
        json!({"chain_head": head, "chain_length": stored.len(), "events": stored.len(), "gaps": 0})
    );
    assert_eq!(headers["x-cotrail-chain-head"], head.as_str());

    // The export is in the activity log.
    let log: shared::audit::AuditPage = app
        .get_as(Some(ADMIN_TOKEN), "/api/v1/audit?source=collector")
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<_> = log
        .records
        .iter()
        .filter_map(|r| r.action.clone())
        .collect();
    // Newest first: the verify this test made, the export, the seeding read.
    assert_eq!(
        actions,
        ["session.verified", "session.exported", "session.viewed"]
    );
    app.stop().await;
}

/// RFC 4180 records (quoted cells may hold commas, quotes, CR and LF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "file ends with a full row"
    );
    rows
}

/// ms since the epoch of `2025-11-22T08:26:40.007Z`.
fn parse_iso(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400_000 + n(11..13) * 3_600_000 + n(14..16) * 60_000 + n(17..19) * 1000 + n(20..23)
}

#[tokio::test]
async fn csv_export_quotes_tricky_text_and_parses_back_to_the_same_events() {
    let app = TestApp::spawn().await;
    let stored = seed(&app).await;
    let (headers, body) = export(&app, "csv").await;
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"cotrail-sess-x.csv\""
    );
    let rows = parse_csv(&body);
    assert_eq!(
        rows[0],
        [
            "when",
            "type",
            "actor",
            "agent id",
            "tab",
            "seq",
            "element/page",
            "data",
            "ip",
            "user agent"
        ]
    );
    assert_eq!(rows.len(), stored.len() + 2);
    for (row, rec) in rows[1..=stored.len()].iter().zip(&stored) {
        assert_eq!(row.len(), 10);
        assert_eq!(parse_iso(&row[0]), rec.event.ts, "{}", row[0]);
        assert_eq!(row[1], rec.event.event_type().as_str());
        assert_eq!(row[2], rec.event.actor.kind());
        let agent = match &rec.event.actor {
            shared::Actor::Agent { id } => id.to_string(),
            _ => String::new(),
        };
        assert_eq!(row[3], agent);
        assert_eq!(row[4], rec.tab_id.as_str());
        assert_eq!(row[5], rec.event.seq.to_string());
        // The data column is the event's exact data.
        let data: Value = serde_json::from_str(&row[7]).unwrap();
        assert_eq!(data, serde_json::to_value(&rec.event.data).unwrap()["data"]);
        assert_eq!(row[8], "127.0.0.1");
        assert_eq!(row[9], UA);
        // Rebuilt from its cells, the row is the stored event.
        let rebuilt: shared::Event = serde_json::from_value(json!({
            "seq": row[5].parse::<u64>().unwrap(), "ts": parse_iso(&row[0]), "mono": rec.event.mono,
            "actor": if row[3].is_empty() { json!({"kind": row[2]}) } else { json!({"kind": row[2], "id": row[3]}) },
            "type": row[1], "data": data,
        }))
        .unwrap();
        assert_eq!(rebuilt, rec.event);
    }
    // Formula-looking element paths are defused for spreadsheets.
    assert_eq!(rows[2][6], "'=cmd|' /C calc'!A0");
    assert_eq!(rows[1][6], "https://shop.example/a,b?x=\"1\"");
    assert_eq!(rows[3][6], "cart,\"x\"\nnext");
    let last = &rows[stored.len() + 1];
    let head = app
        .verify("sess-x")
        .await
        .head
        .expect("an intact chain has a head");
    assert_eq!(
        &last[..6],
        [
            "chain_head",
            head.as_str(),
            "events",
            &stored.len().to_string(),
            "lost events",
            "0"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn exporting_needs_credentials_a_known_session_and_a_known_format() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let res = app.get_as(None, "/api/v1/sessions/sess-x/export").await;
    assert_error(res, 401, "missing_credentials").await;
    // Another tenant's session does not exist for this agent.
    let res = app
        .get_as(Some(OTHER_TOKEN), "/api/v1/sessions/sess-x/export")
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app.get("/api/v1/sessions/sess-x/export?format=xml").await;
    assert_error(res, 400, "bad_query").await;
    app.stop().await;
}

/// Recomputes the chain from an NDJSON export alone: `(head, length, events, gaps)`.
fn recompute_chain(body: &str) -> (String, u64, u64, u64) {
    use collector::chain::{link_hash, Link, RecordKind, GENESIS};
    let mut lines = body.lines();
    let names: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let (tenant, session) = (
        names["tenant"].as_str().unwrap(),
        names["session_id"].as_str().unwrap(),
    );
    let (mut prev, mut len, mut events, mut gaps) = (GENESIS, 0u64, 0, 0);
    let mut trailer = None;
    for line in lines {
        let Some(rest) = line.strip_prefix(&format!("{{\"pos\":{len},\"kind\":\"")) else {
            trailer = Some(line);
            break;
        };
        let (kind, rest) = rest.split_once('"').unwrap();
        // The hashed bytes: exactly the text of `record`.
        let record = rest
            .strip_prefix(",\"record\":")
            .and_then(|r| r.strip_suffix('}'))
            .unwrap();
        let value: Value = serde_json::from_str(record).unwrap();
        let (kind, n) = match kind {
            "event" => {
                events += 1;
                (RecordKind::Event, &value["seq"])
            }
            "gap" => {
                gaps += 1;
                (RecordKind::Gap, &value["from"])
            }
            other => panic!("kind {other}"),
        };
        let mut key = value["tab_id"].as_str().unwrap().as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(&n.as_u64().unwrap().to_be_bytes());
        let link = Link {
            pos: len,
            tenant,
            session,
            kind,
            key: &key,
            record: record.as_bytes(),
        };
        prev = link_hash(&link, &prev);
        len += 1;
    }
    let trailer: Value = serde_json::from_str(trailer.expect("a trailer")).unwrap();
    assert_eq!(
        trailer,
        json!({"chain_head": hex_of(&prev), "chain_length": len, "events": events, "gaps": gaps})
    );
    (hex_of(&prev), len, events, gaps)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_chain_is_recomputed_from_an_ndjson_export_of_several_tabs_with_lost_events() {
    let app = TestApp::spawn().await;
    let post = |tab: &'static str, events: Vec<Value>, gaps: Value| {
        let mut b = batch("sess-m", tab, events);
        b["gaps"] = gaps;
        let app = &app;
        async move { assert_eq!(app.post_batch(&b).await.status(), 200) }
    };
    // Tab a, then tab b with earlier client times, then a late batch of tab a
    // reporting lost events and carrying the oldest event of all: chain order
    // is neither client-time order nor one tab's order.
    post(
        "a",
        (0..3).map(|i| click(i, 100 + i as i64, "a")).collect(),
        json!([]),
    )
    .await;
    post(
        "b",
        (0..2).map(|i| click(i, 50 + i as i64, "b")).collect(),
        json!([]),
    )
    .await;
    post(
        "a",
        vec![click(6, 10, "late")],
        json!([{"from": 3, "to": 5, "reason": "queue_full"}]),
    )
    .await;
    let res = app
        .get("/api/v1/sessions/sess-m/export?format=ndjson")
        .await;
    assert_eq!(res.status(), 200);
    let header_head = res.headers()["x-cotrail-chain-head"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = res.text().await.unwrap();
    let (head, len, events, gaps) = recompute_chain(&body);
    assert_eq!((len, events, gaps), (7, 6, 1));
    assert_eq!(head, header_head);
    let v = app.verify("sess-m").await;
    assert_eq!((v.head, v.length), (Some(head), Some(7)));

    // The CSV stays for people: events by client time, and what was lost.
    let res = app.get("/api/v1/sessions/sess-m/export?format=csv").await;
    let rows = parse_csv(&res.text().await.unwrap());
    let seqs: Vec<(&str, &str)> = rows[1..rows.len() - 1]
        .iter()
        .map(|r| (r[4].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        seqs,
        [
            ("a", "6"),
            ("b", "0"),
            ("b", "1"),
            ("a", "0"),
            ("a", "1"),
            ("a", "2")
        ]
    );
    assert_eq!(
        &rows[rows.len() - 1][2..6],
        ["events", "6", "lost events", "3"]
    );
    app.stop().await;
}
