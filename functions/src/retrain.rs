//! The `retrain` function: a timer (NCRONTAB from the `SHOPSENSE_RETRAIN_SCHEDULE` setting,
//! nightly by default) that trains every model, versions it, gates it and publishes it whole.
//!
//! Another retrain holding the lease (a second instance, an overlapping manual run, a second
//! invocation on this instance) makes this one exit cleanly with a log line. Transient storage
//! failures fail the invocation (the host logs it; the next occurrence retries); permanent ones
//! (no features yet, a refused model) are answered as done with the reason logged. One kind
//! failing does not stop the others. Before training, it ingests any upload the ingest trigger
//! missed ([`shopsense::ingest::Ingestor::sweep`]).

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::json;
use shopsense::registry::ModelKind;
use shopsense::train::TrainError;

use crate::error::ApiError;
use crate::host::{Invoke, InvokeResponse, TimerInfo};
use crate::state::AppState;

/// The function's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/retrain", post(retrain))
}

/// How long the catch-up sweep may run before training (the rest waits for the next night;
/// Flex Consumption stops a function after 30 minutes by default).
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(10 * 60);

async fn retrain(
    State(state): State<AppState>,
    invoke: Invoke<TimerInfo>,
) -> Result<InvokeResponse, ApiError> {
    if invoke.trigger.is_past_due {
        tracing::info!("retrain timer is past due; running now");
    }
    // First what the ingest trigger missed (uploads made before the event subscription existed,
    // events dropped after a day of failed deliveries), so the models see every upload.
    let mut caught_up = Vec::new();
    match state.ingestor.sweep(&state.ingest_options, SWEEP_BUDGET).await {
        Ok(sweep) => {
            if !sweep.ingested.is_empty() {
                caught_up.push(format!(
                    "sweep: ingested {} missed uploads: {}",
                    sweep.ingested.len(),
                    sweep.ingested.join(", ")
                ));
            }
            if !sweep.duplicates.is_empty() {
                caught_up.push(format!(
                    "sweep: {} missed uploads held bytes already counted",
                    sweep.duplicates.len()
                ));
            }
            caught_up.extend(sweep.too_large.iter().map(|path| {
                format!(
                    "sweep: {path} is over {} MiB: split it",
                    shopsense::ingest::MAX_SWEPT_UPLOAD_BYTES >> 20
                )
            }));
            if sweep.left_for_next > 0 {
                caught_up.push(format!(
                    "sweep: {} uploads left for the next run (time budget)",
                    sweep.left_for_next
                ));
            }
            caught_up.extend(sweep.failed.iter().map(|(path, e)| format!("sweep: {path} failed: {e}")));
        }
        Err(e) => caught_up.push(format!("sweep: failed, training on what is ingested: {e}")),
    }
    for line in &caught_up {
        tracing::info!("{line}");
    }
    let holder = shopsense::registry::holder_name("retrain-timer");
    let progress = |p: shopsense::train::Progress| {
        tracing::info!(kind = ?p.kind.map(ModelKind::as_str), phase = p.phase, step = p.step.0, of = p.step.1, "retrain");
    };
    match state.trainer.run(&ModelKind::ALL, &holder, &progress).await {
        Ok(report) => {
            state.reader.refresh_pointers();
            let mut lines: Vec<String> = report
                .kinds
                .iter()
                .map(|k| {
                    format!(
                        "{} {}: {}{}",
                        k.kind,
                        k.version,
                        k.status,
                        k.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    )
                })
                .collect();
            lines.extend(report.failed.iter().map(|f| format!("{f} (what was live for it stays live)")));
            lines.splice(0..0, caught_up);
            let mut response = match report.failed.iter().find(|f| f.transient) {
                Some(transient) => {
                    InvokeResponse::failed(format!("transient failure, will run again: {transient}"))
                }
                None => InvokeResponse::ok(json!(report)),
            };
            for line in lines {
                response = response.log(line);
            }
            Ok(response)
        }
        Err(TrainError::Busy(who)) => {
            let response = caught_up.into_iter().fold(InvokeResponse::ok(json!(null)), InvokeResponse::log);
            Ok(response.log(format!("skipped: {who}")))
        }
        Err(e) if e.is_transient() => {
            let response = InvokeResponse::failed(format!("transient failure, will run again: {e}"));
            Ok(caught_up.into_iter().fold(response, InvokeResponse::log))
        }
        Err(e) => {
            tracing::warn!(error = %e, "retrain failed");
            let response = caught_up.into_iter().fold(InvokeResponse::ok(json!(null)), InvokeResponse::log);
            Ok(response.log(format!("retrain failed: {e}")))
        }
    }
}
