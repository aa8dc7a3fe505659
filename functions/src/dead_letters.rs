//! The retrain timer's second catch-up: the events Event Grid gave up delivering
//! ([`shopsense::dead_letters`]), handled as their function would have.
//!
//! - `inventory-alert`: each event is judged again ([`crate::alerts::handle`]) as of the day its
//!   stock was counted; alerts are idempotent per snapshot, so an event that did get through once
//!   writes nothing new. One the function refuses (kept in `quarantine/events/`) is done too, and
//!   the log says why.
//! - `ingest`: the upload sweep that ran just before reads every upload not ingested yet, so the
//!   event is done once that sweep covered its upload.
//!
//! Oldest first, within a time budget (the rest waits a night). A dead letter whose events are
//! all done is filed under `replayed/`; one with nothing to replay under `refused/`; any other
//! (a transient failure, an upload the sweep has not read yet) stays for the next night, and the
//! log names it with the reason. One letter failing never stops the others.

use std::time::{Duration, Instant};

use serde_json::Value;
use shopsense::dead_letters::{self, DEAD_LETTER_CONTAINER, Filing, Letter, Subscription};
use shopsense::ingest::SweepReport;

use crate::host::EventGridEvent;
use crate::state::AppState;

/// What became of one dead letter.
enum Outcome {
    /// Every event done: filed under `replayed/` with this note; `remark`: the log says so too.
    Done {
        note: String,
        remark: bool,
        /// 1 for a letter of counts judged but not the open alerts' (a later count was judged
        /// first, or some of their SKUs were counted since): replayed, and still not what the
        /// alerts show.
        behind: usize,
    },
    /// Nothing to replay: filed under `refused/` with the reason.
    Refused(String),
    /// Left for the next night, with the reason.
    Kept(String),
}

/// Handles the pending dead letters, oldest first, until `budget` runs out; returns the log
/// lines (none when there were none). `sweep` is the upload sweep that ran just before, if it ran.
pub async fn replay(state: &AppState, sweep: Option<&SweepReport>, budget: Duration) -> Vec<String> {
    let started = Instant::now();
    let store = match state.stores.blobs.container(DEAD_LETTER_CONTAINER).await {
        Ok(store) => store,
        Err(e) => return warn(vec![format!("dead letters: cannot open {DEAD_LETTER_CONTAINER}: {e}")]),
    };
    let pending = match dead_letters::pending(&*store).await {
        Ok(pending) => pending,
        Err(e) => return warn(vec![format!("dead letters: cannot list {DEAD_LETTER_CONTAINER}: {e}")]),
    };
    let mut lines = Vec::new();
    let (mut replayed, mut refused, mut kept, mut left, mut behind_open) = (0, 0, 0, 0, 0);
    for letter in &pending {
        let path = letter.path.as_str();
        if started.elapsed() >= budget {
            left += 1;
            continue;
        }
        let (outcome, body) = match dead_letters::read(&*store, path).await {
            Ok(None) => continue,
            Ok(Some((Letter::Refused(reason), body))) => (Outcome::Refused(reason), body),
            Ok(Some((Letter::Events { subscription, events }, body))) => {
                (outcome(state, sweep, subscription, &events).await, body)
            }
            Err(e) => (Outcome::Kept(format!("cannot read it: {e}")), bytes::Bytes::new()),
        };
        let (filing, note) = match &outcome {
            Outcome::Done { note, .. } => (Some(Filing::Replayed), note),
            Outcome::Refused(reason) => (Some(Filing::Refused), reason),
            Outcome::Kept(reason) => (None, reason),
        };
        if let Some(filing) = filing
            && let Err(e) = dead_letters::file(&*store, path, body, filing, note).await
        {
            kept += 1;
            lines.push(format!(
                "dead letters: {path} kept for the next night: {note}, but it could not be filed: {e}"
            ));
            continue;
        }
        match outcome {
            Outcome::Done { note, remark, behind } => {
                replayed += 1;
                behind_open += behind;
                if remark || behind > 0 {
                    lines.push(format!("dead letters: {path} replayed: {note}"));
                }
            }
            Outcome::Refused(reason) => {
                refused += 1;
                lines.push(format!("dead letters: {path} filed under refused/: {reason}"));
            }
            Outcome::Kept(reason) => {
                kept += 1;
                lines.push(format!("dead letters: {path} kept for the next night: {reason}"));
            }
        }
    }
    if !pending.is_empty() {
        // Replayed is not judged into the open alerts: a count a day late may find a later one
        // judged first (each such letter has its own line).
        let behind = match behind_open {
            0 => String::new(),
            n => format!("; {n} of them not the open alerts' count: a later count is, see each line"),
        };
        lines.insert(
            0,
            format!(
                "dead letters: {replayed} replayed (filed under replayed/{behind}), {refused} refused, {kept} kept, {left} left for the next night (time budget)"
            ),
        );
    }
    warn(lines)
}

fn warn(lines: Vec<String>) -> Vec<String> {
    for line in &lines {
        tracing::warn!("{line}");
    }
    lines
}

async fn outcome(
    state: &AppState,
    sweep: Option<&SweepReport>,
    subscription: Subscription,
    values: &[Value],
) -> Outcome {
    let mut events = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        match serde_json::from_value::<EventGridEvent>(value.clone()) {
            Ok(event) => events.push(event),
            Err(e) => return Outcome::Refused(format!("event {i} is not an Event Grid event: {e}")),
        }
    }
    match subscription {
        Subscription::InventoryAlert => {
            let mut notes = Vec::new();
            let mut remark = false;
            let mut behind = false;
            for event in &events {
                match crate::alerts::handle(state, event).await {
                    Ok(response) if response.is_failure() => {
                        return Outcome::Kept(format!("event {}: {}", event.id, response.logs.join("; ")));
                    }
                    Ok(response) => {
                        // A refusal is done (kept in quarantine with its reason) but worth a line.
                        remark |= response.return_value.get("refused").is_some();
                        // Judged, but a later count is the open one for some or all of its SKUs
                        // (one of which nothing was judged is a refusal, said as such).
                        let summary = &response.return_value;
                        let listed =
                            |field: &str| summary.get(field).and_then(Value::as_array).map_or(0, Vec::len);
                        let skus = summary.get("skus").and_then(Value::as_u64).unwrap_or(0) as usize;
                        let judged = skus > listed("unknown_skus") + listed("stale_skus");
                        let not_open = summary.get("not_latest").is_some_and(|v| !v.is_null())
                            || listed("superseded") > 0;
                        behind |= judged && not_open;
                        notes.push(format!("event {}: {}", event.id, response.logs.join("; ")));
                    }
                    Err(e) => return Outcome::Kept(format!("event {}: {e}", event.id)),
                }
            }
            Outcome::Done {
                note: format!("inventory-alert: {}", notes.join(" | ")),
                remark,
                behind: usize::from(behind),
            }
        }
        Subscription::Ingest => {
            let Some(sweep) = sweep else {
                return Outcome::Kept("the upload sweep did not run".to_owned());
            };
            let mut notes = Vec::new();
            for event in &events {
                match event.blob() {
                    Some((container, path)) if container == state.uploads_container => {
                        if !sweep.covers(path) {
                            return Outcome::Kept(format!(
                                "the upload sweep has not read {container}/{path} yet"
                            ));
                        }
                        notes.push(format!("{container}/{path}: read by the upload sweep"));
                    }
                    _ => notes.push(format!("{}: not an upload, nothing to ingest", event.subject)),
                }
            }
            Outcome::Done { note: format!("ingest: {}", notes.join(" | ")), remark: false, behind: 0 }
        }
    }
}
