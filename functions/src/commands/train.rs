//! `shopsense train` and `shopsense models list|promote|rollback|unpin`: the retrain and the registry
//! for people, on whatever backend the settings choose.

use std::sync::Mutex;

use anyhow::Context;
use serde_json::json;
use shopsense::registry::{Lease, ModelKind, VersionRecord};
use shopsense::train::{Progress, RETRAIN_LEASE, TrainReport, Trainer};

/// Trains `kinds` and prints what became of each (a progress bar on a terminal, log lines
/// otherwise).
pub async fn train(trainer: &Trainer, kinds: &[ModelKind], as_json: bool) -> anyhow::Result<TrainReport> {
    let report = train_each(trainer, kinds, as_json).await?;
    if !report.failed.is_empty() {
        let failed: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "{} of {} kinds failed (what was live for them, if anything, stays live): {}",
            failed.len(),
            kinds.len(),
            failed.join("; ")
        );
    }
    Ok(report)
}

/// [`train`], with the kinds that failed in the report rather than an error.
///
/// # Errors
/// When the run could not start or finish (the lease, the stores, a signal).
pub async fn train_each(
    trainer: &Trainer,
    kinds: &[ModelKind],
    as_json: bool,
) -> anyhow::Result<TrainReport> {
    let bar = super::terminal_bar(1);
    if let Some(bar) = &bar {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    let bar = Mutex::new(bar);
    let progress = |p: Progress| {
        let what = p.kind.map_or_else(|| p.phase.to_owned(), |k| format!("{k}: {}", p.phase));
        match bar.lock().ok().as_deref() {
            Some(Some(bar)) => {
                bar.set_length(p.step.1 as u64);
                bar.set_position(p.step.0 as u64);
                bar.set_message(what);
            }
            _ => tracing::info!(step = p.step.0, of = p.step.1, "train: {what}"),
        }
    };
    let holder = shopsense::registry::holder_name("cli");
    let live_before = live_versions(trainer, kinds).await;
    // Stopped by Ctrl-C or SIGTERM, the run gives its lease back on the way out, so the next run
    // (or the nightly timer) need not wait for it to expire. What it wrote is left as a killed
    // run leaves it: never half live.
    let report = tokio::select! {
        report = trainer.run(kinds, &holder, &progress) => report,
        () = crate::host::shutdown_signal() => {
            if let Ok(Some(bar)) = bar.lock().map(|mut b| b.take()) {
                bar.finish_and_clear();
            }
            let store = trainer.registry().records_store();
            if let Err(e) = Lease::release_held_by(&*store, RETRAIN_LEASE, &holder).await {
                tracing::warn!(error = %e, "could not give the retrain lease back; it expires on its own");
            }
            let live_now = live_versions(trainer, kinds).await;
            let said: Vec<String> = kinds
                .iter()
                .zip(live_before.iter().zip(&live_now))
                .map(|(kind, (before, now))| match (before, now) {
                    (_, Err(e)) => format!("{kind}: could not read what is live ({e})"),
                    (Ok(before), Ok(now)) if before == now => {
                        format!("{kind}: unchanged, {}", now.as_deref().unwrap_or("nothing live"))
                    }
                    (Ok(_), Ok(now)) => {
                        format!("{kind}: {} went live in this run", now.as_deref().unwrap_or("nothing live"))
                    }
                    (Err(_), Ok(now)) => format!("{kind}: {}", now.as_deref().unwrap_or("nothing live")),
                })
                .collect();
            anyhow::bail!(
                "stopped by a signal; what serving reads: {} (a version stopped half-way is never live, and the \
                 next run records it as interrupted)",
                said.join("; ")
            );
        }
    };
    if let Ok(Some(bar)) = bar.into_inner() {
        bar.finish_and_clear();
    }
    let report = report?;
    if as_json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for k in &report.kinds {
            println!("{:<10} {}  {}", k.kind.as_str(), k.version, k.status);
            println!("           metrics: {}", k.metrics);
            if let Some(reason) = &k.reason {
                println!("           reason:  {reason}");
            }
            if let Some(drift) = &k.drift {
                let features: Vec<String> = drift
                    .features
                    .iter()
                    .map(|f| format!("{} {:.3}{}", f.feature, f.psi, if f.flagged { " (!)" } else { "" }))
                    .collect();
                println!("           drift (PSI vs {}): {}", drift.against, features.join(", "));
            }
            if k.metric_trend.len() > 1 {
                let trend: Vec<String> = k.metric_trend.iter().map(|(_, v)| format!("{v:.4}")).collect();
                println!("           {} trend: {}", k.kind.key_metric(), trend.join(" -> "));
            }
            if let Some(took_out) = &k.took_out {
                println!("{:<10} {}  retired", k.kind.as_str(), took_out.version);
                println!("           reason:  {}", took_out.reason);
            }
        }
        for failure in &report.failed {
            println!("{:<10} failed: {}", failure.kind.as_str(), failure.error);
        }
        println!("trained in {:.1} s", report.seconds);
    }
    Ok(report)
}

/// The live version of each of `kinds` (or why it could not be read).
async fn live_versions(trainer: &Trainer, kinds: &[ModelKind]) -> Vec<Result<Option<String>, String>> {
    let mut versions = Vec::with_capacity(kinds.len());
    for &kind in kinds {
        let live = trainer.registry().live(kind).await;
        versions.push(live.map(|l| l.map(|(pointer, _)| pointer.version)).map_err(|e| e.to_string()));
    }
    versions
}

fn version_line(r: &VersionRecord, live: Option<&str>) -> String {
    let marker = if live == Some(r.version.as_str()) { "*" } else { " " };
    let key = r.kind.key_metric();
    let value = |name: &str| r.metrics.get(name).and_then(serde_json::Value::as_f64);
    // Beside the raw metric, the skill over the baseline on the same holdout, which the gate
    // compares: a harder holdout raises the raw WAPE of a model as good as before.
    let skill = match r.kind {
        ModelKind::Recommend => Some(("popularity_ndcg", "x popularity's")),
        ModelKind::Forecast => Some(("naive_wape_total", "of naive's")),
        ModelKind::Segments => None,
    }
    .and_then(|(baseline, said)| {
        let (v, b) = (value(key)?, value(baseline).filter(|b| *b > 0.0)?);
        Some(format!(" ({:.2} {said})", v / b))
    });
    let metric =
        value(key).map_or_else(String::new, |v| format!("{key} {v:.4}{}", skill.unwrap_or_default()));
    format!(
        "{marker} {:<10} {}  {:<9} {:<38} {}",
        r.kind.as_str(),
        r.version,
        r.status.to_string(),
        metric,
        r.reason.as_deref().unwrap_or("")
    )
}

/// `shopsense models list`.
pub async fn list(state: &crate::state::AppState, as_json: bool) -> anyhow::Result<()> {
    let standings = crate::serving::standings(state).await?;
    if as_json {
        // The document `GET /api/models` answers.
        let kinds: serde_json::Map<String, serde_json::Value> =
            standings.iter().map(|k| (k.kind.as_str().to_owned(), json!(k))).collect();
        println!("{}", serde_json::Value::Object(kinds));
        return Ok(());
    }
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    for standing in &standings {
        let kind = standing.kind;
        if let (Some(pin), Some(live)) = (&standing.pinned, &standing.live) {
            notes.push(format!(
                "{kind} is pinned to {live} ({pin}): retrains hold what passes; `shopsense models unpin {kind}` lifts it"
            ));
        }
        if let Some(failure) = &standing.last_failure {
            let serving = standing.live.as_deref().map_or_else(
                || "nothing serves it yet".to_owned(),
                |live| format!("{live} serves meanwhile"),
            );
            notes.push(format!(
                "warning: the last {kind} training, at {}, failed: {}; {serving} (the next retrain tries again)",
                failure.failed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                failure.error
            ));
        }
        if let Some(warning) = &standing.warning {
            notes.push(format!("warning: {warning}"));
        }
        lines.extend(standing.versions.iter().map(|r| version_line(r, standing.live.as_deref())));
    }
    if lines.is_empty() {
        println!("no model versions yet: run `shopsense train`");
    } else {
        println!(
            "  kind       version                  status    {:<38} reason",
            "metric (skill the gate compares)"
        );
        for line in lines {
            println!("{line}");
        }
    }
    for note in notes {
        println!("{note}");
    }
    Ok(())
}

/// `shopsense models promote <version>`: the kind is found from the version unless given.
pub async fn promote(trainer: &Trainer, version: &str, kind: Option<ModelKind>) -> anyhow::Result<()> {
    let kind = match kind {
        Some(kind) => kind,
        None => {
            let mut found = None;
            for kind in ModelKind::ALL {
                if trainer.registry().record(kind, version).await?.is_some() {
                    found = Some(kind);
                }
            }
            found.with_context(|| format!("no model version {version:?}: see `shopsense models list`"))?
        }
    };
    if trainer.registry().record(kind, version).await?.is_none() {
        for other in ModelKind::ALL.into_iter().filter(|&k| k != kind) {
            if trainer.registry().record(other, version).await?.is_some() {
                anyhow::bail!(
                    "{version} is a {other} version, not a {kind} one: drop --kind or give --kind {other}"
                );
            }
        }
    }
    let before = trainer.registry().record(kind, version).await?;
    let pinned = trainer.registry().live(kind).await?.and_then(|(p, _)| p.pinned);
    let record = trainer.promote(kind, version).await?;
    println!("{} {} is live", record.kind, record.version);
    if let Some(pin) = pinned {
        println!(
            "  the pin ({pin}) is lifted: a retrain on new data that passes its gates goes live; \
             versions held so far stay held"
        );
    }
    // Trained on uploads withdrawn since (the demo's sample, a data-removal request's rows).
    let withdrawn = trainer.on_withdrawn(kind, &record.version).await?;
    if !withdrawn.is_empty() {
        println!(
            "  warning: it was trained on {}: it answers from sales that no longer count",
            shopsense::train::withdrawn_uploads(&withdrawn)
        );
    }
    // A person's call over the gate: say what the gate had said.
    if let Some(before) = before.filter(|r| r.status == shopsense::registry::VersionStatus::Rejected) {
        println!(
            "  note: it had been rejected ({})",
            before.reason.as_deref().unwrap_or("no reason recorded")
        );
    }
    Ok(())
}

/// `shopsense models rollback <kind>`.
pub async fn rollback(trainer: &Trainer, kind: ModelKind) -> anyhow::Result<()> {
    let record = trainer.rollback(kind).await?;
    println!("{kind} rolled back: {} is live again, and pinned", record.version);
    println!(
        "  retrains still train and judge {kind} but hold what passes (status held) instead of publishing it; \
         `shopsense models unpin {kind}` lets the next one go live, `shopsense models promote <version>` \
         serves a held one now"
    );
    Ok(())
}

/// `shopsense models unpin <kind>`.
pub async fn unpin(trainer: &Trainer, kind: ModelKind) -> anyhow::Result<()> {
    match trainer.unpin(kind).await? {
        Some(pin) => println!(
            "{kind} unpinned (it was pinned since it was {pin}): the next retrain that passes its gates goes live \
             (on a night without new data, only if no version but a held one was trained on that data)"
        ),
        None => println!("{kind} was not pinned: retrains that pass their gates go live"),
    }
    // No longer a person's choice: a retrain takes it out when none of its uploads still counts
    // and what is trained on the sales that do is rejected.
    if let Some((pointer, _)) = trainer.registry().live(kind).await?
        && pointer.chosen_at.is_none()
    {
        let withdrawn = trainer.on_withdrawn(kind, &pointer.version).await?;
        if !withdrawn.is_empty() {
            println!(
                "  warning: {} was trained on {}: if none of its uploads still counts, a retrain whose version \
                 is rejected takes it out of serving",
                pointer.version,
                shopsense::train::withdrawn_uploads(&withdrawn)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walkthrough's April: raw WAPE up from 0.607 to 0.793, live, because its skill over
    /// naive on its own holdout held; the line says both.
    #[test]
    fn a_version_line_gives_the_skill_over_the_baseline_beside_the_raw_metric() {
        let record: VersionRecord = serde_json::from_value(json!({
            "kind": "forecast",
            "version": "20110430T020000000Z-abcdef",
            "status": "live",
            "created_at": "2011-04-30T02:00:00Z",
            "updated_at": "2011-04-30T02:00:00Z",
            "metrics": { "wape_total": 0.793, "naive_wape_total": 1.0571 },
            "gate": null,
            "reason": null,
            "published": true,
            "documents": 0,
            "drift": null
        }))
        .unwrap();
        let line = version_line(&record, Some("20110430T020000000Z-abcdef"));
        assert!(line.starts_with("* forecast"), "{line}");
        assert!(line.contains("wape_total 0.7930 (0.75 of naive's)"), "{line}");
        let segments =
            VersionRecord { kind: ModelKind::Segments, metrics: json!({ "silhouette": 0.43 }), ..record };
        assert!(version_line(&segments, None).contains("silhouette 0.4300 "), "no baseline, no skill");
    }
}
