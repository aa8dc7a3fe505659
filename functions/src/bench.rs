//! `shopsense bench ...`: benchmarks that print a table (timing goals live here, never in tests).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use shopsense::ingest::{IngestOptions, IngestOutcome, UploadKind};
use shopsense::settings::Settings;
use shopsense::store::PutOptions;

use crate::state::AppState;

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
#[must_use]
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// Resident memory of this process now (Linux `VmRSS`), in MiB.
#[must_use]
pub fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

/// Restarts the peak-memory mark at the current resident size (Linux: `5` to
/// `/proc/self/clear_refs`), so the next [`peak_rss_mib`] is the peak of what follows; false
/// where the kernel refuses.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Ingests `file` as transactions `runs` times, each in a fresh local home, timing the whole
/// pipeline (bronze, parse, validate, silver Parquet, quarantine, report, feature refresh).
pub async fn ingest(file: &Path, runs: usize, as_json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("upload.csv").to_owned();
    let mut rows = Vec::new();
    for run in 1..=runs.max(1) {
        let home = tempfile::tempdir()?;
        let values = [
            ("SHOPSENSE_HOME".to_owned(), home.path().display().to_string()),
            ("SHOPSENSE_BACKEND".to_owned(), "local".to_owned()),
        ];
        let state = AppState::open(Settings::from_values(values.into(), None)?).await?;
        let path = format!("transactions/{name}");
        let options = IngestOptions { kind: Some(UploadKind::Transactions), ..IngestOptions::default() };
        let started = Instant::now();
        state.ingestor.uploads().put(&path, bytes.clone().into(), PutOptions::default()).await?;
        let outcome = state.ingestor.ingest(&path, &options).await?;
        let seconds = started.elapsed().as_secs_f64();
        let IngestOutcome::Reported(report) = outcome else { anyhow::bail!("the upload was skipped") };
        rows.push(json!({
            "run": run,
            "rows_read": report.rows_read,
            "rows_accepted": report.rows_accepted,
            "rows_quarantined": report.rows_quarantined,
            "seconds": seconds,
            "rows_per_second": report.rows_read as f64 / seconds,
        }));
    }
    let peak = peak_rss_mib();
    if as_json {
        println!(
            "{}",
            json!({ "file": file, "runs": rows, "peak_rss_mib": peak, "goal_seconds": 2.0, "goal_peak_mib": 1024 })
        );
        return Ok(());
    }
    println!("ingest {} ({} bytes), local backend, end to end", file.display(), bytes.len());
    println!("| run | rows read | accepted | quarantined | seconds | rows/s |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.0} |",
            r["run"],
            r["rows_read"],
            r["rows_accepted"],
            r["rows_quarantined"],
            r["seconds"].as_f64().unwrap_or_default(),
            r["rows_per_second"].as_f64().unwrap_or_default()
        );
    }
    println!(
        "peak RSS: {:.0} MiB (goal < 1024 MiB); goal: < 2 s per run on 2 cores",
        peak.unwrap_or(f64::NAN)
    );
    Ok(())
}
