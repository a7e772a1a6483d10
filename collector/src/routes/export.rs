//! `GET /api/v1/sessions/{session_id}/export?format=ndjson|csv`: a whole trail
//! as a download.
//!
//! Streamed: the store is read one page at a time while the body is sent, so
//! memory stays constant however long the session. Both formats cover the
//! chain head read when the export starts (also in the `X-Cotrail-Chain-Head`
//! header). Every export is recorded in the activity log.
//!
//! NDJSON is for checking: with it the chain can be recomputed without the
//! store (see [`crate::chain`]), so an export can be held against a head kept
//! elsewhere. Its lines:
//!
//! - first `{"tenant": …, "session_id": …}`: the names the hashes cover;
//! - then every chained record, events and gap records, in chain order:
//!   `{"pos":P,"kind":"event"|"gap","record":R}` where `R` is the record's
//!   JSON byte for byte as its link hashed it (the line is exactly that text, so the hashed
//!   bytes are what lies between `"record":` and the line's last `}`), or
//!   `null` when the store has lost it; the record key the hash covers is
//!   `tab_id 0x00 n:u64be`, `n` being an event's `seq` or a gap's `from`;
//! - last `{"chain_head": …, "chain_length": L, "events": n, "gaps": g}`.
//!
//! A session deleted while its export streams has its body cut short before
//! the last line (CSV: row), so a partial file never looks whole.
//!
//! CSV is for people: a header row, one row per event in client-time order,
//! and a last row `chain_head,<head>,events,<n>,lost events,<lost>` (no comment
//! syntax: every CSV reader keeps it). It reads the timeline as it streams, so
//! on a session still recording it can hold events stored after the head;
//! keeping it to the head would mean remembering every arrival during the
//! export, and the NDJSON export is the exact one.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use shared::api::EventRecord;
use shared::{Actor, EventData, SessionId, TenantId};

use crate::audit::record_export;
use crate::auth::Reader;
use crate::chain::RecordKind;
use crate::error::ApiError;
use crate::routes::sessions::{blocking, not_readable, parse_session};
use crate::store::{EventFilter, SessionStatus, Store};

/// Events read from the store per step of the stream.
const EXPORT_PAGE: usize = 500;

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 10] = [
    "when",
    "type",
    "actor",
    "agent id",
    "tab",
    "seq",
    "element/page",
    "data",
    "ip",
    "user agent",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Ndjson,
    Csv,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `ndjson` (default) or `csv`.
    #[param(inline)]
    format: Option<Format>,
}

/// A whole trail as a download, streamed.
///
/// NDJSON, to recompute the chain: a first line `{"tenant", "session_id"}`,
/// then every chained record (events and gap records) in chain order as
/// `{"pos", "kind": "event"|"gap", "record": <the hashed JSON, byte for byte>}`,
/// then `{"chain_head", "chain_length", "events", "gaps"}`.
/// CSV, to read: a header row, one row per event in client-time order, then
/// `chain_head,<head>,events,<n>,lost events,<lost>`.
/// Recorded in the activity log as `session.exported`.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{session_id}/export",
    tag = "sessions",
    params(("session_id" = shared::SessionId, Path, description = "The session."), ExportQuery),
    responses(
        (status = 200, description = "The trail, with the chain head it had when the export started.",
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=\"cotrail-<session>.<ext>\"`"),
                ("X-Cotrail-Chain-Head" = String, description = "The integrity chain's head (hex), when the session has events."),
            ),
            content(
                (String = "application/x-ndjson", example = json!("{\"tenant\":\"acme\",\"session_id\":\"s-1\"}\n{\"pos\":0,\"kind\":\"event\",\"record\":{\"session_id\":\"s-1\",\"tab_id\":\"t-1\",\"received_at\":1763800000500,\"origin\":{},\"seq\":0,\"ts\":1763800000000,\"mono\":1000,\"actor\":{\"kind\":\"customer\"},\"type\":\"CLICK\",\"data\":{\"target\":{\"tag\":\"button\",\"path\":\"button#buy\"}}}}\n{\"chain_head\":\"9f2c…\",\"chain_length\":1,\"events\":1,\"gaps\":0}\n")),
                (String = "text/csv", example = json!("when,type,actor,agent id,tab,seq,element/page,data,ip,user agent\r\n2025-11-22T08:26:40.000Z,CLICK,customer,,t-1,0,button#buy,{\"target\":{\"tag\":\"button\",\"path\":\"button#buy\"}},,\r\nchain_head,9f2c…,events,1,lost events,0,,,,\r\n")),
            ),
        ),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 410, response = crate::openapi::Gone),
        (status = 500, response = crate::openapi::Internal),
    ),
    security(("reader_token" = [])),
)]
pub async fn export(
    Reader(who): Reader,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ExportQuery>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let session = parse_session(path)?;
    let format = q.format.unwrap_or(Format::Ndjson);
    let store = (*store.into_inner()).clone();
    let (s, t, id) = (store.clone(), who.tenant.clone(), session.clone());
    // A deleted session is 410 with its tombstone, an unknown one 404, as on
    // every other read of a trail.
    let (lost, chain) = blocking(move || match s.status(&t, &id)? {
        SessionStatus::Live(summary) => Ok(Ok((summary.lost_events, s.chain_state(&t, &id)?))),
        other => Ok(Err(other)),
    })
    .await?
    .map_err(not_readable)?;
    let (ext, content_type) = match format {
        Format::Ndjson => ("ndjson", "application/x-ndjson"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
    };
    // What is handed out is in the chained activity log before it goes:
    // the format and the chain the export covers.
    record_export(&store, &who, &req, &session, ext, chain.clone()).await?;
    let (chain_len, head) = match chain {
        Some((len, head)) => (len, Some(head)),
        None => (0, None),
    };
    let mut res = HttpResponse::Ok();
    res.content_type(content_type).insert_header((
        header::CONTENT_DISPOSITION,
        // Session ids are `[A-Za-z0-9-_.:]`, safe inside a quoted filename.
        format!("attachment; filename=\"cotrail-{session}.{ext}\""),
    ));
    if let Some(h) = &head {
        res.insert_header(("X-Cotrail-Chain-Head", h.as_str()));
    }
    let state = Export {
        store,
        tenant: who.tenant,
        session,
        format,
        head,
        chain_len,
        lost,
        after: None,
        pos: 0,
        count: 0,
        gaps: 0,
        step: Step::Start,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        match st.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, actix_web::Error>(chunk), st)),
            Ok(None) => None,
            Err(e) => {
                // Headers are gone: all that is left is to cut the body short,
                // which the client sees as a broken download, not a valid file.
                tracing::error!(error = format!("{e:#}"), "export failed");
                Some((
                    Err(actix_web::error::ErrorInternalServerError("export failed")),
                    {
                        st.step = Step::Done;
                        st
                    },
                ))
            }
        }
    });
    Ok(res.streaming(stream))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    Pages,
    Trailer,
    Done,
}

struct Export {
    store: Store,
    tenant: TenantId,
    session: SessionId,
    format: Format,
    head: Option<String>,
    /// Links the head covers: the NDJSON export sends positions `0..chain_len`.
    chain_len: u64,
    /// Events recorders reported lost, for the CSV's last row.
    lost: u64,
    /// CSV: timeline position of the last event sent.
    after: Option<Vec<u8>>,
    /// NDJSON: the next chain position to read.
    pos: u64,
    /// Events sent.
    count: u64,
    /// Gap records sent (NDJSON).
    gaps: u64,
    step: Step,
}

impl Export {
    async fn next_chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        match self.step {
            Step::Start => {
                self.step = Step::Pages;
                Ok(Some(match self.format {
                    Format::Csv => {
                        let mut out = String::new();
                        csv_row(&mut out, CSV_HEADER.iter().map(|s| s.to_string()));
                        Bytes::from(out)
                    }
                    Format::Ndjson => {
                        let mut out = serde_json::to_string(&serde_json::json!({
                            "tenant": self.tenant.as_str(),
                            "session_id": self.session.as_str(),
                        }))?;
                        out.push('\n');
                        Bytes::from(out)
                    }
                }))
            }
            Step::Pages if self.format == Format::Ndjson => {
                let (store, tenant, session) = (
                    self.store.clone(),
                    self.tenant.clone(),
                    self.session.clone(),
                );
                let (from, end) = (self.pos, self.chain_len);
                let records = web::block(move || {
                    store.chained_records(&tenant, &session, from, end, EXPORT_PAGE)
                })
                .await??;
                let mut out = Vec::new();
                for r in &records {
                    let kind = match r.kind {
                        RecordKind::Event => {
                            self.count += 1;
                            "event"
                        }
                        RecordKind::Gap => {
                            self.gaps += 1;
                            "gap"
                        }
                        // Never in a session's chain unless the store was
                        // edited: the export stops there, as for any corrupt
                        // entry, rather than look whole.
                        RecordKind::Audit => {
                            anyhow::bail!("corrupt chain entry at position {}", r.pos)
                        }
                    };
                    // The stored bytes verbatim: they are what the link hashed.
                    out.extend_from_slice(
                        format!("{{\"pos\":{},\"kind\":\"{kind}\",\"record\":", r.pos).as_bytes(),
                    );
                    out.extend_from_slice(r.record.as_deref().unwrap_or(b"null"));
                    out.extend_from_slice(b"}\n");
                }
                match records.last() {
                    Some(last) if last.pos + 1 < self.chain_len => self.pos = last.pos + 1,
                    _ => self.step = Step::Trailer,
                }
                Ok(Some(Bytes::from(out)))
            }
            // CSV: events in client-time order.
            Step::Pages => {
                let (store, tenant, session, after) = (
                    self.store.clone(),
                    self.tenant.clone(),
                    self.session.clone(),
                    self.after.clone(),
                );
                let scan = web::block(move || {
                    store.events(
                        &tenant,
                        &session,
                        &EventFilter::default(),
                        after.as_deref(),
                        false,
                        EXPORT_PAGE,
                    )
                })
                .await??;
                let mut out = String::new();
                for rec in &scan.events {
                    csv_row(&mut out, csv_fields(rec)?);
                }
                self.count += scan.events.len() as u64;
                match scan.next {
                    Some(next) => self.after = Some(next),
                    None => self.step = Step::Trailer,
                }
                Ok(Some(Bytes::from(out)))
            }
            Step::Trailer => {
                self.step = Step::Done;
                // A session deleted while its export streamed lost records
                // from under it: no trailer then, so the file cannot pass for a
                // whole trail (the client sees the body cut short).
                let (store, tenant, session) = (
                    self.store.clone(),
                    self.tenant.clone(),
                    self.session.clone(),
                );
                let status = web::block(move || store.status(&tenant, &session)).await??;
                if !matches!(status, SessionStatus::Live(_)) {
                    anyhow::bail!("session {} was deleted while it was exported", self.session);
                }
                let mut out = String::new();
                match self.format {
                    Format::Ndjson => {
                        out = serde_json::to_string(&serde_json::json!({
                            "chain_head": self.head,
                            "chain_length": self.chain_len,
                            "events": self.count,
                            "gaps": self.gaps,
                        }))?;
                        out.push('\n');
                    }
                    Format::Csv => csv_row(
                        &mut out,
                        [
                            "chain_head".to_string(),
                            self.head.clone().unwrap_or_default(),
                            "events".to_string(),
                            self.count.to_string(),
                            "lost events".to_string(),
                            self.lost.to_string(),
                        ]
                        .into_iter()
                        .chain(std::iter::repeat_n(String::new(), CSV_HEADER.len() - 6)),
                    ),
                }
                Ok(Some(Bytes::from(out)))
            }
            Step::Done => Ok(None),
        }
    }
}

/// The CSV cells of one event, in [`CSV_HEADER`] order.
pub fn csv_fields(rec: &EventRecord) -> anyhow::Result<[String; 10]> {
    let ev = &rec.event;
    let agent = match &ev.actor {
        Actor::Agent { id } => id.to_string(),
        _ => String::new(),
    };
    let place = match &ev.data {
        EventData::Click(d) => d.target.path.clone(),
        EventData::Form(d) => d.target.path.clone(),
        EventData::Input(d) => d.target.path.clone(),
        EventData::Scroll(d) => d
            .target
            .as_ref()
            .map(|t| t.path.clone())
            .unwrap_or_default(),
        EventData::Selection(d) => d
            .target
            .as_ref()
            .map(|t| t.path.clone())
            .unwrap_or_default(),
        EventData::PageChange(d) => d.url.clone(),
        EventData::Custom(d) => d.custom_type.clone(),
    };
    // The `data` object as it is on the wire (without the `type` tag), with
    // `;` written as the JSON escape `\u003b` (the same value): a spreadsheet
    // that splits CSV on `;` would otherwise start a cell inside a recorded
    // string (`x;=cmd|…`), and a cell starting with `=` is a formula.
    let data = serde_json::to_value(&ev.data)?
        .get("data")
        .map(|d| d.to_string().replace(';', "\\u003b"))
        .unwrap_or_else(|| "{}".into());
    Ok([
        iso8601(ev.ts),
        ev.event_type().as_str().to_string(),
        ev.actor.kind().to_string(),
        // Ids may start with `-` (`-1-1` would show as -2): every text cell
        // that is not JSON or a number the collector wrote is defused.
        spreadsheet_safe(agent),
        spreadsheet_safe(rec.tab_id.to_string()),
        ev.seq.to_string(),
        spreadsheet_safe(place),
        data,
        spreadsheet_safe(rec.origin.ip.clone().unwrap_or_default()),
        spreadsheet_safe(rec.origin.user_agent.clone().unwrap_or_default()),
    ])
}

/// Recorded text is data: a cell starting with `=`, `+`, `-`, `@`, tab or CR
/// would be run as a formula by spreadsheet programs (CSV injection), so such a
/// cell gets a leading `'`. So does each part of it after a `;` or a tab:
/// where the locale's list separator is `;` (German, French, Dutch …),
/// spreadsheets split CSV rows there, quotes or not. The `data` column is
/// JSON (it starts with `{`, its `;` escaped) and keeps the exact values.
fn spreadsheet_safe(s: String) -> String {
    let formula = |c: char| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r');
    let mut out = String::with_capacity(s.len() + 1);
    let mut cell_start = true;
    for c in s.chars() {
        if cell_start && formula(c) {
            out.push('\'');
        }
        out.push(c);
        // A quote opening the part (`;"=…`, doubled in the quoted cell) does
        // not end its start; a line break inside a cell starts a row there.
        cell_start = matches!(c, ';' | '\t' | '\r' | '\n') || (cell_start && c == '"');
    }
    out
}

/// Appends one RFC 4180 row: cells with a comma, quote, CR or LF are quoted,
/// quotes doubled; rows end with CRLF.
pub fn csv_row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// `2025-11-22T08:26:40.000Z` for a time in ms since the Unix epoch (UTC).
pub fn iso8601(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn drain(export: &mut Export) -> anyhow::Result<String> {
        let mut body = Vec::new();
        while let Some(chunk) = export.next_chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(body)?)
    }

    #[actix_web::test]
    async fn an_export_racing_a_deletion_is_cut_short_not_finished() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        for format in [Format::Ndjson, Format::Csv] {
            let session = SessionId::parse(format!("s-{format:?}")).unwrap();
            let records: Vec<EventRecord> = (0..3)
                .map(|seq| {
                    serde_json::from_value(serde_json::json!({
                        "session_id": session.as_str(), "tab_id": "t", "received_at": 1,
                        "origin": {}, "seq": seq, "ts": 1_763_800_000_000i64 + seq, "mono": 0,
                        "actor": {"kind": "customer"}, "type": "CLICK",
                        "data": {"target": {"tag": "button", "path": "button"}}
                    }))
                    .unwrap()
                })
                .collect();
            store
                .insert(crate::store::Ingest {
                    tenant: &tenant,
                    session: &session,
                    tab: &shared::TabId::parse("t").unwrap(),
                    received_at: 1,
                    origin: &Default::default(),
                    records: &records,
                    gaps: &[],
                })
                .unwrap();
            let (chain_len, head) = store.chain_state(&tenant, &session).unwrap().unwrap();
            let export = || Export {
                store: store.clone(),
                tenant: tenant.clone(),
                session: session.clone(),
                format,
                head: Some(head.clone()),
                chain_len,
                lost: 0,
                after: None,
                pos: 0,
                count: 0,
                gaps: 0,
                step: Step::Start,
            };
            // Undisturbed, the file ends with its trailer.
            let whole = drain(&mut export()).await.unwrap();
            let last = whole.lines().last().unwrap_or_default();
            assert!(
                last.contains("chain_head") && last.contains(&head),
                "{format:?}: {whole}"
            );
            // Deleted after the export began: no trailer, an error instead.
            let mut racing = export();
            racing.next_chunk().await.unwrap().unwrap();
            store
                .delete(
                    &tenant,
                    &session,
                    "test",
                    &crate::store::DeletedBy {
                        user: shared::UserId::parse("root").unwrap(),
                        origin: Default::default(),
                    },
                    2,
                )
                .unwrap()
                .unwrap();
            let err = drain(&mut racing).await.unwrap_err();
            assert!(
                err.to_string().contains("was deleted"),
                "{format:?}: {err:#}"
            );
        }
    }

    #[test]
    fn times_format_as_utc_iso8601_with_milliseconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_763_800_000_007), "2025-11-22T08:26:40.007Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn cells_with_separators_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        csv_row(
            &mut out,
            ["a,b", "say \"hi\"", "line\nbreak", "plain"].map(String::from),
        );
        assert_eq!(out, "\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",plain\r\n");
        assert_eq!(spreadsheet_safe("=SUM(A1)".into()), "'=SUM(A1)");
        assert_eq!(spreadsheet_safe("main>a".into()), "main>a");
        // Where spreadsheets split on `;`, each part is a cell of its own.
        assert_eq!(
            spreadsheet_safe("x;=cmd|'/C calc'!A0".into()),
            "x;'=cmd|'/C calc'!A0"
        );
        assert_eq!(spreadsheet_safe("a; b;;@c\t-d".into()), "a; b;;'@c\t'-d");
        assert_eq!(spreadsheet_safe("x;\"=1+1".into()), "x;\"'=1+1");
        assert_eq!(spreadsheet_safe("x\n+1".into()), "x\n'+1");
    }

    #[test]
    fn no_part_of_a_row_split_on_semicolons_starts_a_formula() {
        let rec: EventRecord = serde_json::from_value(serde_json::json!({
            "session_id": "s-1", "tab_id": "t", "received_at": 0,
            "origin": {"ip": "127.0.0.1", "user_agent": "x;\"=HYPERLINK(\"http://e.x\")"},
            "seq": 0, "ts": 0, "mono": 0, "actor": {"kind": "customer"},
            "type": "CUSTOM_EVENT", "data": {"type": "a;+b\n=c", "value": {"k": "v;=1+1", "n": "@;-"}},
        }))
        .unwrap();
        let mut row = String::new();
        csv_row(&mut row, csv_fields(&rec).unwrap());
        for part in row.split([';', '\n']) {
            let part = part.trim_start_matches('"');
            assert!(
                !part.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{part:?} of {row:?}"
            );
        }
        // The data column is still the same JSON value.
        let data = &csv_fields(&rec).unwrap()[7];
        let back: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"type": "a;+b\n=c", "value": {"k": "v;=1+1", "n": "@;-"}})
        );
    }

    #[test]
    fn ids_that_look_like_formulas_are_defused_too() {
        let rec: EventRecord = serde_json::from_value(serde_json::json!({
            "session_id": "s-1", "tab_id": "-1-1", "received_at": 0,
            "origin": {"ip": "127.0.0.1", "user_agent": "@ua"},
            "seq": 0, "ts": 0, "mono": 0,
            "actor": {"kind": "agent", "id": "-2-3"},
            "type": "CUSTOM_EVENT", "data": {"type": "=calc", "value": 1},
        }))
        .unwrap();
        let cells = csv_fields(&rec).unwrap();
        assert_eq!(cells[3], "'-2-3");
        assert_eq!(cells[4], "'-1-1");
        assert_eq!(cells[6], "'=calc");
        assert_eq!(cells[8], "127.0.0.1");
        assert_eq!(cells[9], "'@ua");
    }
}
