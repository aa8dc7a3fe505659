//! `shopsense segment`: RFM + k-means segments of the customers in a transactions file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use shopsense::features;
use shopsense::ingest::{DEFAULT_MAX_TABLE_BYTES, Mapping, UploadKind, parse_upload};
use shopsense::segments::{RfmTable, SegmentParams, last_day};

/// What `shopsense segment` was asked.
#[derive(Debug, Clone)]
pub struct SegmentArgs {
    /// Transactions in any format ingest reads (UCI Online Retail as published works).
    pub transactions: PathBuf,
    /// Where the per-customer CSV goes.
    pub out: PathBuf,
    /// A fixed k instead of the silhouette sweep.
    pub k: Option<usize>,
    /// Recency is measured at this date (default: the day after the last sale).
    pub reference_date: Option<NaiveDate>,
    /// Print one JSON document instead of text.
    pub json: bool,
}

/// Runs the command (CPU-bound: call it off the async runtime).
pub fn run(args: &SegmentArgs) -> anyhow::Result<()> {
    let file = args.transactions.display().to_string();
    // Before the work: an output that cannot be written is said at once, not after the fit.
    let out_dir = match args.out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    anyhow::ensure!(
        out_dir.is_dir(),
        "cannot write {}: {} is not a folder",
        args.out.display(),
        out_dir.display()
    );
    anyhow::ensure!(!args.out.is_dir(), "cannot write {}: it is a folder", args.out.display());
    let bytes = std::fs::read(&args.transactions).with_context(|| format!("cannot read {file}"))?;
    let batch = shopsense::bronze::sha256_hex(&bytes);
    let parsed = parse_upload(
        &file,
        &bytes,
        UploadKind::Transactions,
        &Mapping::default(),
        &batch,
        DEFAULT_MAX_TABLE_BYTES,
    )?;
    if let Some(error) = parsed.error {
        anyhow::bail!("{error}");
    }
    if let Some(first) = parsed.quarantined.first() {
        eprintln!(
            "{} rows quarantined (e.g. {}:{} {}: {}); segmenting the {} accepted rows",
            parsed.quarantined.len(),
            first.file,
            first.line,
            first.column.as_deref().unwrap_or(""),
            first.message,
            parsed.frame.as_ref().map_or(0, polars::prelude::DataFrame::height)
        );
    }
    let frame = parsed.frame.with_context(|| format!("{file}: no rows were accepted"))?;
    let rows = frame.height();
    let tables = features::refresh(vec![frame])?;
    let reference = args.reference_date.and_then(|d| d.and_hms_opt(0, 0, 0));
    let rfm = RfmTable::from_inputs(&tables.rfm_inputs, reference, last_day(&tables.daily_demand)?)
        .with_context(|| file.clone())?;
    anyhow::ensure!(rows > 0, "{file}: no data rows, so there is no one to segment");
    anyhow::ensure!(
        !rfm.is_empty(),
        "{file}: none of the {rows} accepted rows is a customer's sale of a product that they kept (a \
         sale needs a customer id, a product code, a positive quantity and a price above 0), so \
         there is no one to segment"
    );
    let params = SegmentParams { fixed_k: args.k, ..SegmentParams::default() };
    let started = Instant::now();
    let model = params.fit(&rfm).with_context(|| format!("{file}: segmenting {} customers", rfm.len()))?;
    let seconds = started.elapsed().as_secs_f64();
    write_csv(&args.out, &rfm, &model)?;
    if args.json {
        let report = serde_json::json!({
            "customers": rfm.len(),
            "reference": rfm.reference,
            "k": model.k,
            "silhouette": model.silhouette,
            "sweep": model.sweep,
            "segments": model.segments,
            "fit_seconds": seconds,
            "out": args.out,
        });
        println!("{report}");
    } else {
        print!("{}", summary(&rfm, &model, seconds));
    }
    Ok(())
}

fn write_csv(out: &Path, rfm: &RfmTable, model: &shopsense::segments::SegmentModel) -> anyhow::Result<()> {
    let mut writer =
        csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    // `label` names the segment by its members' mean scores; `customer_label` the customer by
    // their own (with few segments, one who bought yesterday can sit in `hibernating`).
    writer.write_record([
        "customer",
        "segment",
        "label",
        "recency_days",
        "frequency",
        "monetary",
        "customer_label",
    ])?;
    for ((i, customer), scores) in rfm.customers.iter().enumerate().zip(rfm.scores()) {
        let segment = &model.segments[model.assignments[i]];
        writer.write_record([
            customer.as_str(),
            &segment.id.to_string(),
            &segment.label,
            &rfm.recency_days[i].to_string(),
            &rfm.frequency[i].to_string(),
            &format!("{:.2}", rfm.monetary[i]),
            shopsense::segments::label(scores.map(f64::from)),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

fn summary(rfm: &RfmTable, model: &shopsense::segments::SegmentModel, seconds: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} customers, reference {}: k = {}, silhouette {:.3} (sweep in {:.3} s)",
        rfm.len(),
        rfm.reference.map(|r| r.date().to_string()).unwrap_or_default(),
        model.k,
        model.silhouette,
        seconds
    );
    let _ = writeln!(out, "| k | silhouette | smallest cluster | accepted |");
    let _ = writeln!(out, "|---|---|---|---|");
    for s in &model.sweep {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {} | {} |",
            s.k,
            s.silhouette,
            s.smallest,
            if s.accepted { "yes" } else { "no" }
        );
    }
    let _ = writeln!(
        out,
        "| segment | label | customers | mean recency (days) | mean invoices | mean net spend |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for s in &model.segments {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.1} | {:.0} |",
            s.id, s.label, s.size, s.mean_recency_days, s.mean_frequency, s.mean_monetary
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample/online_retail_sample.csv")
    }

    fn args(transactions: PathBuf, out: PathBuf) -> SegmentArgs {
        SegmentArgs { transactions, out, k: None, reference_date: None, json: true }
    }

    fn message(result: anyhow::Result<()>) -> String {
        format!("{:#}", result.unwrap_err())
    }

    #[test]
    fn the_sample_is_segmented_and_bad_requests_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("segments.csv");
        run(&args(sample(), out.clone())).unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(written.lines().count(), 89, "a header and the sample's 88 customers who kept a purchase");
        assert_eq!(
            written.lines().next(),
            Some("customer,segment,label,recency_days,frequency,monetary,customer_label")
        );
        let own_labels: std::collections::BTreeSet<&str> =
            written.lines().skip(1).map(|line| line.rsplit(',').next().unwrap()).collect();
        let known = ["champions", "loyal", "at risk", "new", "hibernating", "promising", "needs attention"];
        assert!(own_labels.iter().all(|l| known.contains(l)) && own_labels.len() > 2, "{own_labels:?}");

        let before = SegmentArgs {
            reference_date: NaiveDate::from_ymd_opt(2011, 1, 1),
            ..args(sample(), out.clone())
        };
        let said = message(run(&before));
        assert!(
            said.contains("online_retail_sample.csv") && said.contains("before the last sale (2011-12-09)"),
            "{said}"
        );

        let huge = SegmentArgs { k: Some(usize::MAX / 2 + 1), ..args(sample(), out.clone()) };
        assert!(message(run(&huge)).contains("a fixed k must be from 2 to 30"));

        let nowhere = args(sample(), dir.path().join("no/such/folder/out.csv"));
        assert!(message(run(&nowhere)).contains("is not a folder"));

        let header = dir.path().join("header.csv");
        let first = std::fs::read_to_string(sample()).unwrap().lines().next().unwrap().to_owned();
        std::fs::write(&header, format!("{first}\n")).unwrap();
        let said = message(run(&args(header, out)));
        assert!(said.contains("header.csv: no data rows"), "{said}");
    }
}
