//! Withdrawing a transactions upload: what a file said, taken back.
//!
//! A corrected file sent again under its name replaces the invoices it holds, but an invoice it
//! no longer holds stays (a fixed file name that each day carries only that day's sales must not
//! erase the days before), and the local demo's sample stays beside a shop's own data. So an
//! upload can be withdrawn by name (its path in the uploads container) or by its bytes' sha256:
//! its silver table moves to [`WITHDRAWN_PREFIX`] (kept, as bronze keeps the bytes), its report
//! says when, the features are refreshed without it, and the same bytes uploaded after the
//! withdrawal count again. An upload written before it (the withdrawn file seen again by a
//! restarted local watcher or a redelivered event, or a copy of its bytes under another name)
//! stays withdrawn.
//!
//! Each batch is marked withdrawn in its report first, then its table is moved, then the features
//! are refreshed: a withdrawal cut short anywhere is finished by running it again (a report
//! marked withdrawn whose table is still in place is moved then).

use chrono::Utc;
use serde::Serialize;

use super::report::QualityReport;
use super::{IngestError, Ingestor, UploadKind, report_path};
use crate::store::{ETag, PutMode, PutOptions, StoreError};

/// Where a withdrawn upload's silver table is kept, in the silver container.
pub const WITHDRAWN_PREFIX: &str = "withdrawn/";

/// What [`Ingestor::withdraw`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    /// The uploads withdrawn now: `(path, sha256, rows it had added)`.
    pub withdrawn: Vec<(String, String, u64)>,
    /// Those withdrawn before: `(path, sha256)`.
    pub already: Vec<(String, String)>,
    /// Whether the features were refreshed (always, once anything matched).
    pub features_refreshed: bool,
}

/// Upload paths as the uploads container names them: `uploads/transactions/x.csv` and
/// `/transactions/x.csv` are `transactions/x.csv`.
fn upload_path(which: &str) -> &str {
    let which = which.trim().trim_start_matches('/');
    which.strip_prefix("uploads/").unwrap_or(which)
}

impl Ingestor {
    /// Moves the silver table at `path` (read as `blob`) under [`WITHDRAWN_PREFIX`], metadata and
    /// all: out of every feature refresh, and kept. `false` when the table was written again
    /// meanwhile: that one stays, counted (its copy under `withdrawn/` is the one read).
    pub(super) async fn set_aside(&self, path: &str, blob: crate::store::Blob) -> Result<bool, IngestError> {
        let mut options = PutOptions::default().with_content_type("application/vnd.apache.parquet");
        for (key, value) in &blob.meta.metadata {
            options = options.with_metadata(key.clone(), value.clone());
        }
        let etag = blob.meta.etag.clone();
        self.silver.put(&format!("{WITHDRAWN_PREFIX}{path}"), blob.body, options).await?;
        // Only the table read: one written since (the same bytes ingested meanwhile, counted
        // under their report) stays where it is.
        match self.silver.delete_if(path, &etag).await {
            Ok(_) => Ok(true),
            Err(StoreError::Precondition { .. }) => {
                tracing::warn!(table = path, "written again while being set aside: the new table stays");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Marks `report` (read at `etag`) withdrawn `at`, its table under [`WITHDRAWN_PREFIX`], and
    /// writes it over that version only: `false` when an ingest of the same bytes rewrote it
    /// since (it describes rows this withdrawal never saw).
    pub(super) async fn mark_withdrawn(
        &self,
        report: &mut QualityReport,
        etag: ETag,
        at: chrono::DateTime<Utc>,
    ) -> Result<bool, IngestError> {
        report.withdrawn_at = Some(at);
        report.outputs.silver = Some(format!("{WITHDRAWN_PREFIX}{}/{}.parquet", report.kind, report.sha256));
        let json = serde_json::to_vec_pretty(&*report).map_err(|e| IngestError::Table(e.to_string()))?;
        let options =
            PutOptions { mode: PutMode::Update(etag), ..super::ReadingMark::report_options(report) };
        match self
            .silver
            .put(&report_path(report.kind, &report.sha256), bytes::Bytes::from(json), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Precondition { .. } | StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The reports of every upload of `kind` ingest has read (one per distinct bytes: a copy under
    /// another name was counted once, under the first), oldest first.
    ///
    /// # Errors
    /// When the store fails or a report is unreadable.
    pub async fn reports(&self, kind: UploadKind) -> Result<Vec<QualityReport>, IngestError> {
        let mut reports = Vec::new();
        for meta in self.silver.list(&format!("reports/{kind}/")).await? {
            let Some(blob) = self.silver.get(&meta.path).await? else { continue };
            let report: QualityReport = serde_json::from_slice(&blob.body)
                .map_err(|e| IngestError::Table(format!("report {} is unreadable: {e}", meta.path)))?;
            reports.push(report);
        }
        reports.sort_by(|a, b| a.uploaded_at.cmp(&b.uploaded_at).then_with(|| a.file.cmp(&b.file)));
        Ok(reports)
    }

    /// The reports `which` names: an upload path (`transactions/x.csv`, as ingest first read
    /// those bytes; case-insensitively when that names one upload alone) or 8 or more hex digits
    /// of one upload's sha256.
    async fn named(&self, which: &str) -> Result<Vec<QualityReport>, IngestError> {
        let reports = self.reports(UploadKind::Transactions).await?;
        let nothing =
            |why: &str| IngestError::NothingToWithdraw { which: which.to_owned(), why: why.to_owned() };
        if which.len() >= 8 && which.chars().all(|c| c.is_ascii_hexdigit()) {
            let prefix = which.to_ascii_lowercase();
            let matching: Vec<QualityReport> =
                reports.into_iter().filter(|r| r.sha256.starts_with(&prefix)).collect();
            if matching.len() > 1 {
                let names: Vec<String> = matching
                    .iter()
                    .map(|r| format!("{} ({})", &r.sha256[..16.min(r.sha256.len())], r.file))
                    .collect();
                return Err(nothing(&format!(
                    "it begins {} sha256s: give more digits ({})",
                    matching.len(),
                    names.join(", ")
                )));
            }
            return Ok(matching);
        }
        let path = upload_path(which);
        let exact: Vec<QualityReport> = reports.iter().filter(|r| r.file == path).cloned().collect();
        if !exact.is_empty() {
            return Ok(exact);
        }
        let folded: Vec<QualityReport> =
            reports.into_iter().filter(|r| r.file.eq_ignore_ascii_case(path)).collect();
        let paths: std::collections::BTreeSet<&str> = folded.iter().map(|r| r.file.as_str()).collect();
        if paths.len() > 1 {
            let paths: Vec<&str> = paths.into_iter().collect();
            return Err(nothing(&format!(
                "it names {} uploads but for case: {}",
                paths.len(),
                paths.join(", ")
            )));
        }
        Ok(folded)
    }

    /// Withdraws the transactions uploads named by `which` ([`Ingestor::named`]: the version
    /// counted under a path, or one batch by its sha256), then refreshes the features (module
    /// docs). A path under which several versions still count (a fixed daily file name) takes
    /// them all back only with `every_version`: one day's wrong file must not take the days
    /// before it along.
    ///
    /// # Errors
    /// [`IngestError::NothingToWithdraw`] when no upload that added rows matches, or `which` is
    /// ambiguous, or names several counted versions without `every_version`; store failures
    /// (run it again to finish).
    pub async fn withdraw(&self, which: &str, every_version: bool) -> Result<Withdrawal, IngestError> {
        let matching = self.named(which).await?;
        let added: Vec<QualityReport> = matching.into_iter().filter(|r| r.outputs.silver.is_some()).collect();
        if added.is_empty() {
            return Err(IngestError::NothingToWithdraw {
                which: which.to_owned(),
                why: "no transactions upload of that name or sha256 added rows (never ingested, failed, empty, or its bytes were counted under another name: see `shopsense uploads list`)".to_owned(),
            });
        }
        let counted: Vec<&QualityReport> = added.iter().filter(|r| r.withdrawn_at.is_none()).collect();
        if counted.len() > 1 && !every_version {
            let versions: Vec<String> = counted
                .iter()
                .map(|r| {
                    format!(
                        "{} sent {} with {} rows",
                        &r.sha256[..12.min(r.sha256.len())],
                        r.uploaded_at.format("%Y-%m-%d %H:%M"),
                        r.rows_accepted
                    )
                })
                .collect();
            return Err(IngestError::NothingToWithdraw {
                which: which.to_owned(),
                why: format!(
                    "{} versions of it count ({}): withdraw one by its sha256, or every one with --every-version",
                    counted.len(),
                    versions.join("; ")
                ),
            });
        }
        let now = Utc::now();
        let (mut withdrawn, mut already) = (Vec::new(), Vec::new());
        for listed in added {
            let table = format!("transactions/{}.parquet", listed.sha256);
            let path = report_path(listed.kind, &listed.sha256);
            // Read again with its ETag, and written back only over that: an ingest of the same
            // bytes (sent again, or read under a new mapping) may have rewritten it since it was
            // listed, and a withdrawal takes back what the report says now.
            let Some(stored) = self.silver.get(&path).await? else { continue };
            let mut report: QualityReport = serde_json::from_slice(&stored.body)
                .map_err(|e| IngestError::Table(format!("report {path} is unreadable: {e}")))?;
            if report.withdrawn_at.is_none() {
                if !self.mark_withdrawn(&mut report, stored.meta.etag, now).await? {
                    tracing::warn!(upload = %report.file, sha256 = %report.sha256, "read again while being withdrawn: withdraw it again to take back what it holds now");
                    continue;
                }
                tracing::info!(upload = %report.file, sha256 = %report.sha256, rows = report.rows_accepted, "withdrawn");
                withdrawn.push((report.file.clone(), report.sha256.clone(), report.rows_accepted));
            } else {
                already.push((report.file.clone(), report.sha256.clone()));
            }
            // Moved after the report says so: a table still in place is moved by the next run.
            if let Some(blob) = self.silver.get(&table).await? {
                self.set_aside(&table, blob).await?;
            }
        }
        self.refresh_features().await?;
        Ok(Withdrawal { withdrawn, already, features_refreshed: true })
    }
}
