//! `shopsense uploads`: what ingest has counted, and taking an upload back.

use shopsense::alerts::upload_verdict::of_uploads;
use shopsense::ingest::withdraw::Withdrawal;
use shopsense::ingest::{Ingestor, UploadKind, Verdict};

use crate::state::AppState;

/// Every upload of a kind and, for inventory, what the alerts made of each.
#[derive(Debug)]
pub struct Listing {
    /// Ingest's reports, oldest first.
    pub reports: Vec<shopsense::ingest::QualityReport>,
    /// Beside each report, the alerts' verdict (inventory only, and only when they answered).
    pub verdicts: Vec<Option<shopsense::alerts::upload_verdict::AlertsVerdict>>,
    /// Why the alerts' verdicts are missing: their store could not be read. Ingest's own
    /// record (in blob storage) still lists every upload.
    pub alerts_unread: Option<String>,
}

/// The uploads of `kind` ingest has read, with the alerts' verdicts for inventory.
///
/// # Errors
/// When ingest's reports cannot be read.
pub async fn listing(state: &AppState, kind: UploadKind) -> anyhow::Result<Listing> {
    let reports = state.ingestor.reports(kind).await?;
    let (verdicts, alerts_unread) = if kind == UploadKind::Inventory {
        match of_uploads(&*state.alerts, &reports).await {
            Ok(verdicts) => (verdicts, None),
            Err(e) => (vec![None; reports.len()], Some(e.to_string())),
        }
    } else {
        (vec![None; reports.len()], None)
    };
    Ok(Listing { reports, verdicts, alerts_unread })
}

/// `shopsense uploads list`: every upload of `kind` ingest has read (one row per distinct bytes,
/// under the name first read), oldest first: path, sha256 (first 12 digits), verdict, rows
/// accepted, the sales' span, and whether it counts, was withdrawn or added nothing; for
/// inventory, what the alerts made of it instead
/// ([`shopsense::alerts::upload_verdict::AlertsVerdict`]: `--json` adds it to each
/// report as `alerts`). When the alerts' store does not answer, the list is ingest's alone and
/// stderr says so.
///
/// # Errors
/// When the store fails or a report is unreadable.
pub async fn list(state: &AppState, kind: UploadKind, as_json: bool) -> anyhow::Result<()> {
    let Listing { reports, verdicts, alerts_unread } = listing(state, kind).await?;
    if let Some(error) = &alerts_unread {
        eprintln!(
            "warning: the alerts' store could not be read ({error}): the list shows what ingest counted, \
             not what the alerts made of each count"
        );
    }
    if as_json {
        let listed: Vec<serde_json::Value> = reports
            .iter()
            .zip(&verdicts)
            .map(|(report, verdict)| {
                let mut value = serde_json::to_value(report)?;
                if let Some(verdict) = verdict {
                    value["alerts"] = serde_json::Value::String(verdict.to_string());
                }
                Ok(value)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        println!("{}", serde_json::Value::Array(listed));
        return Ok(());
    }
    println!(
        "{:<44} {:<12} {:<7} {:>9} {:<23} status",
        "upload", "sha256", "verdict", "accepted", "sales from .. to"
    );
    for (r, alerts) in reports.iter().zip(&verdicts) {
        let verdict = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        };
        let span = r
            .date_range
            .as_ref()
            .map(|d| format!("{} .. {}", d.min.date(), d.max.date()))
            .unwrap_or_default();
        let status = match (r.withdrawn_at, &r.outputs.silver, alerts) {
            (Some(at), _, _) => format!("withdrawn {}", at.format("%Y-%m-%d %H:%M")),
            (None, Some(_), Some(alerts)) => alerts.to_string(),
            (None, Some(_), None) => "counted".to_owned(),
            (None, None, _) => "adds nothing".to_owned(),
        };
        println!(
            "{:<44} {:<12} {:<7} {:>9} {:<23} {status}",
            r.file,
            &r.sha256[..12.min(r.sha256.len())],
            verdict,
            r.rows_accepted,
            span
        );
    }
    Ok(())
}

/// `shopsense uploads withdraw`: withdraws the transactions upload named by its path or sha256
/// ([`Ingestor::withdraw`]) and says what it took back.
///
/// # Errors
/// Nothing matches, or the store fails.
pub async fn withdraw(
    ingestor: &Ingestor,
    which: &str,
    every_version: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let done = ingestor.withdraw(which, every_version).await?;
    if as_json {
        println!("{}", serde_json::to_string(&done)?);
        return Ok(());
    }
    let Withdrawal { withdrawn, already, features_refreshed } = done;
    for (path, sha, rows) in &withdrawn {
        println!("withdrawn {path} (sha256 {}): its {rows} rows count no longer", &sha[..12.min(sha.len())]);
    }
    for (path, sha) in &already {
        println!("{path} (sha256 {}) was withdrawn before", &sha[..12.min(sha.len())]);
    }
    if features_refreshed {
        println!(
            "features refreshed without it; `shopsense train` (or the nightly retrain) serves models without it"
        );
    }
    Ok(())
}
