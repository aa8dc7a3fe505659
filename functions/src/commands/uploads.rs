//! `shopsense uploads`: what ingest has counted, and taking an upload back.

use shopsense::ingest::withdraw::Withdrawal;
use shopsense::ingest::{Ingestor, UploadKind, Verdict};

/// `shopsense uploads list`: every upload of `kind` ingest has read (one row per distinct bytes,
/// under the name first read), oldest first: path, sha256 (first 12 digits), verdict, rows
/// accepted, the sales' span, and whether it counts, was withdrawn or added nothing.
///
/// # Errors
/// When the store fails or a report is unreadable.
pub async fn list(ingestor: &Ingestor, kind: UploadKind, as_json: bool) -> anyhow::Result<()> {
    let reports = ingestor.reports(kind).await?;
    if as_json {
        println!("{}", serde_json::to_string(&reports)?);
        return Ok(());
    }
    println!(
        "{:<44} {:<12} {:<7} {:>9} {:<23} status",
        "upload", "sha256", "verdict", "accepted", "sales from .. to"
    );
    for r in &reports {
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
        let status = match (r.withdrawn_at, &r.outputs.silver) {
            (Some(at), _) => format!("withdrawn {}", at.format("%Y-%m-%d %H:%M")),
            (None, Some(_)) => "counted".to_owned(),
            (None, None) => "adds nothing".to_owned(),
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
