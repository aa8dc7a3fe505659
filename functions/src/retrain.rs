//! The `retrain` function: a timer (NCRONTAB from the `SHOPSENSE_RETRAIN_SCHEDULE` setting,
//! nightly by default) that trains every model, versions it, gates it and publishes it whole.
//!
//! Another retrain holding the lease (a second instance, an overlapping manual run, a second
//! invocation on this instance) makes this one exit cleanly with a log line. Transient storage
//! failures fail the invocation (the host runs it again as `function.json`'s `retry` says);
//! permanent ones (no features yet, a refused model) are answered as done with the reason logged
//! under [`FAILED`], the line the alert rules in `infra/app/alerts.bicep` look for. One kind
//! failing does not stop the others. Before training, it ingests any upload the ingest trigger
//! missed ([`shopsense::ingest::Ingestor::sweep`]), handles the events Event Grid gave up
//! delivering ([`crate::dead_letters`]) and deletes inventory counts older than
//! `SHOPSENSE_ALERTS_KEEP_DAYS` that are no longer the latest
//! ([`shopsense::alerts::retention`]).

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;
use shopsense::registry::ModelKind;
use shopsense::train::TrainError;

use crate::error::ApiError;
use crate::host::{Invoke, InvokeResponse, TimerInfo};
use crate::state::AppState;

/// How every log line of a permanent failure starts: the whole run's, or one kind's. A transient
/// failure is run again and does not say it.
pub const FAILED: &str = "retrain failed";

/// The function's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/retrain", post(retrain))
}

/// How long the catch-up sweep may run before training (the rest waits for the next night;
/// `host.json`'s `functionTimeout` stops a function after 30 minutes).
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// How long replaying dead letters may run after the sweep (the rest waits for the next night).
const REPLAY_BUDGET: std::time::Duration = std::time::Duration::from_secs(5 * 60);

async fn retrain(
    State(state): State<AppState>,
    invoke: Invoke<TimerInfo>,
) -> Result<InvokeResponse, ApiError> {
    if invoke.trigger.is_past_due {
        tracing::info!("retrain timer is past due; running now");
    }
    // First what the ingest trigger missed (uploads made before the event subscription existed,
    // events dropped after a day of failed deliveries), so the models see every upload.
    let sweep = state.ingestor.sweep(&state.ingest_options, SWEEP_BUDGET).await;
    let mut caught_up = match &sweep {
        Ok(sweep) => sweep.summary(),
        Err(e) => vec![format!("sweep: failed, training on what is ingested: {e}")],
    };
    for line in &caught_up {
        tracing::info!("{line}");
    }
    // Then the events Event Grid gave up delivering (the replay logs its own lines).
    caught_up.extend(crate::dead_letters::replay(&state, sweep.as_ref().ok(), REPLAY_BUDGET).await);
    let holder = shopsense::registry::holder_name("retrain-timer");
    let progress = |p: shopsense::train::Progress| {
        tracing::info!(kind = ?p.kind.map(ModelKind::as_str), phase = p.phase, step = p.step.0, of = p.step.1, "retrain");
    };
    let trained = state.trainer.run(&ModelKind::ALL, &holder, &progress).await;
    shopsense::memory::give_back_freed_memory("retrain").await;
    let (response, lines) = match trained {
        Ok(report) => {
            state.reader.refresh_pointers();
            let mut lines: Vec<String> = report
                .kinds
                .iter()
                .flat_map(|k| {
                    let line = format!(
                        "{} {}: {}{}",
                        k.kind,
                        k.version,
                        k.status,
                        k.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    );
                    // Its own line, as a take-out for lack of sales says it (the alert rule's).
                    let took_out = k
                        .took_out
                        .as_ref()
                        .map(|t| format!("{} {}: retired ({})", k.kind, t.version, t.reason));
                    std::iter::once(line).chain(took_out)
                })
                .collect();
            lines.extend(report.failed.iter().map(|f| {
                if f.transient {
                    format!("{f} (transient: what was live for it stays live, and the run is tried again)")
                } else {
                    format!("{FAILED} for {} (what was live for it stays live): {}", f.kind, f.error)
                }
            }));
            let response = match report.failed.iter().find(|f| f.transient) {
                Some(transient) => {
                    InvokeResponse::failed(format!("transient failure, will run again: {transient}"))
                }
                None => InvokeResponse::ok(json!(report)),
            };
            (response, lines)
        }
        Err(TrainError::Busy(who)) => (InvokeResponse::ok(json!(null)), vec![format!("skipped: {who}")]),
        Err(e) if e.is_transient() => {
            (InvokeResponse::failed(format!("transient failure, will run again: {e}")), Vec::new())
        }
        Err(e) => {
            tracing::warn!(error = %e, "retrain failed");
            (InvokeResponse::ok(json!(null)), vec![format!("{FAILED}: {e}")])
        }
    };
    // Last, the inventory counts old enough to go (after the replay, which may still need one,
    // and after training, which matters more within the function's time).
    let keep = state.alerts_keep_days;
    let pruned = prune_lines(
        shopsense::alerts::retention::prune_counts(&state.alerts, keep, chrono::Utc::now(), PRUNE_BUDGET)
            .await,
        keep,
    );
    for line in &pruned {
        tracing::info!("{line}");
    }
    Ok(caught_up.into_iter().chain(lines).chain(pruned).fold(response, InvokeResponse::log))
}

/// How long pruning old inventory counts may run (the rest waits for the next night).
const PRUNE_BUDGET: std::time::Duration = std::time::Duration::from_secs(3 * 60);

/// What a pruning of counts kept `keep` days says in the log (nothing when it did nothing).
fn prune_lines(
    pruned: Result<shopsense::alerts::retention::Pruned, shopsense::alerts::run::AlertRunError>,
    keep: u32,
) -> Vec<String> {
    let pruned = match pruned {
        Ok(pruned) => pruned,
        Err(e) => return vec![format!("alerts: old inventory counts not pruned, tried again tomorrow: {e}")],
    };
    let mut lines = Vec::new();
    if pruned.counts > 0 || pruned.left > 0 {
        lines.push(format!(
            "alerts: inventory counts judged over {keep} days ago and no longer the latest deleted: {} (their alerts: {}); {} left for the next night (time budget)",
            pruned.counts, pruned.alerts, pruned.left
        ));
    }
    if let Some(first) = pruned.failed.first() {
        lines.push(format!(
            "alerts: {} old inventory counts not deleted, tried again tomorrow; the first: {first}",
            pruned.failed.len()
        ));
    }
    lines
}
