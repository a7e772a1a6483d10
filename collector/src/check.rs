//! `collector --check`: the whole store's integrity, offline, as an operator
//! runs it after a restore or an incident. Every session's chain (with its
//! indexes, summary and last checkpoint, as `GET .../verify` checks it) and
//! every tenant's activity log (with every trail its checkpoints name, as
//! `GET /api/v1/audit/verify` checks it) are verified, one line per problem,
//! then a summary; the exit code says whether all of it holds. A record that
//! does not read is reported as a problem and the check goes on. A broken
//! trail that an activity log checkpointed fails that log's check too: one
//! problem, the second failure a note under the first.

use std::io::Write;

use shared::api::ChainVerification;

use crate::config::Settings;
use crate::store::Store;

/// What a check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub sessions: u64,
    pub tenants: u64,
    pub problems: u64,
}

/// Exit codes: all of it holds, something does not (or does not read), the
/// store did not open or could not be walked.
pub const INTACT: i32 = 0;
pub const BROKEN: i32 = 1;
pub const NOT_CHECKED: i32 = 2;

/// Opens the store `settings` name and checks it, writing to `out`; the
/// exit code. The store must not be in use (sled takes one process).
pub fn run(settings: &Settings, out: &mut impl Write) -> anyhow::Result<i32> {
    // Opening creates a store where there is none: a mistyped or forgotten
    // `--data-dir` would check an empty one and find it intact.
    if !settings.data_dir.join("sled").exists() {
        writeln!(
            out,
            "there is no store in {} (give the collector's data directory with --data-dir)",
            settings.data_dir.display()
        )?;
        return Ok(NOT_CHECKED);
    }
    let store = match Store::open(&settings.data_dir, settings.cache_mb) {
        Ok(store) => store,
        Err(e) => {
            writeln!(
                out,
                "cannot open the store in {}: {e:#}\n(is a collector running on it? stop it first: sled lets one process open a store)",
                settings.data_dir.display()
            )?;
            return Ok(NOT_CHECKED);
        }
    };
    writeln!(out, "checking the store in {}", settings.data_dir.display())?;
    let summary = match check(&store, out) {
        Ok(summary) => summary,
        Err(e) => {
            writeln!(out, "the check could not go on: {e:#}")?;
            return Ok(NOT_CHECKED);
        }
    };
    let verdict = if summary.problems == 0 {
        "all intact".to_string()
    } else {
        format!(
            "{} problem{}",
            summary.problems,
            if summary.problems == 1 { "" } else { "s" }
        )
    };
    writeln!(
        out,
        "checked {} session{} and the activity logs of {} tenant{}: {verdict}",
        summary.sessions,
        if summary.sessions == 1 { "" } else { "s" },
        summary.tenants,
        if summary.tenants == 1 { "" } else { "s" },
    )?;
    Ok(if summary.problems == 0 {
        INTACT
    } else {
        BROKEN
    })
}

/// Checks every session and every tenant's activity log of `store`.
pub fn check(store: &Store, out: &mut impl Write) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let reason = |v: &ChainVerification| {
        v.reason
            .clone()
            .unwrap_or_else(|| "the chain does not check out".into())
    };
    // The sessions already reported: an activity log that checkpointed one
    // of them fails on it too, which is the same problem (counted once).
    let mut reported = std::collections::HashSet::new();
    // A record that does not read is a problem of its own, reported, and
    // the check goes on with the rest.
    for key in store.session_ids() {
        let (tenant, session) = match key {
            Ok(key) => key,
            Err(e) => {
                summary.problems += 1;
                writeln!(out, "UNREADABLE a session key: {e:#}")?;
                continue;
            }
        };
        summary.sessions += 1;
        match store.verify(&tenant, &session) {
            // `None`: deleted since it was listed.
            Ok(None) => {}
            Ok(Some(v)) if v.valid => {}
            Ok(Some(v)) => {
                summary.problems += 1;
                reported.insert(format!("{tenant}/{session}"));
                let at = v.first_broken.unwrap_or(0);
                writeln!(
                    out,
                    "BROKEN session {tenant}/{session} at record {at}: {}",
                    reason(&v)
                )?;
            }
            Err(e) => {
                summary.problems += 1;
                reported.insert(format!("{tenant}/{session}"));
                writeln!(out, "UNREADABLE session {tenant}/{session}: {e:#}")?;
            }
        }
    }
    for tenant in store.tenants()? {
        summary.tenants += 1;
        let v = match store.verify_audit(&tenant, None) {
            Ok(v) => v,
            Err(e) => {
                summary.problems += 1;
                writeln!(out, "UNREADABLE activity log of {tenant}: {e:#}")?;
                continue;
            }
        };
        if !v.valid {
            let at = v.first_broken.unwrap_or(0);
            if let Some(s) = v
                .session_id
                .as_ref()
                .filter(|s| reported.contains(&format!("{tenant}/{s}")))
            {
                writeln!(
                    out,
                    "  (session {tenant}/{s}, reported above, is also what checkpoint entry {at} of the activity log of {tenant} no longer matches)"
                )?;
                continue;
            }
            summary.problems += 1;
            match &v.session_id {
                Some(s) => writeln!(
                    out,
                    "BROKEN session {tenant}/{s} (by checkpoint entry {at} of the activity log of {tenant}): {}",
                    reason(&v)
                )?,
                None => writeln!(out, "BROKEN activity log of {tenant} at entry {at}: {}", reason(&v))?,
            }
        }
    }
    Ok(summary)
}
