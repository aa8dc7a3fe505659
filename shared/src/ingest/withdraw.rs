//! Withdrawing a transactions upload: what a file said, taken back.
//!
//! A corrected file sent again under its name replaces the invoices it holds, but an invoice it
//! no longer holds stays (a fixed file name that each day carries only that day's sales must not
//! erase the days before), and the local demo's sample stays beside a shop's own data. So an
//! upload can be withdrawn by name (its path in the uploads container) or by its bytes' sha256:
//! its silver table moves to [`WITHDRAWN_PREFIX`] (kept, as bronze keeps the bytes), its report
//! says when, the features are refreshed without it, and the same bytes sent again count again
//! (the withdrawn upload itself seen again, as a restarted local watcher sees every upload, stays
//! withdrawn).

use chrono::Utc;
use serde::Serialize;

use super::report::QualityReport;
use super::{IngestError, Ingestor, UploadKind, report_path};
use crate::store::PutOptions;

/// Where a withdrawn upload's silver table is kept, in the silver container.
pub const WITHDRAWN_PREFIX: &str = "withdrawn/";

/// What [`Ingestor::withdraw`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    /// The uploads withdrawn: `(path, sha256, rows it had added)`.
    pub withdrawn: Vec<(String, String, u64)>,
    /// Whether the features were refreshed.
    pub features_refreshed: bool,
}

impl Ingestor {
    /// The reports of every upload of `kind` ingest has read, oldest first.
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

    /// Withdraws the transactions uploads named by `which`: an upload path (`transactions/x.csv`,
    /// as ingest first read those bytes) or a sha256 (8 hex digits or more of it). Then refreshes
    /// the features once (module docs).
    ///
    /// # Errors
    /// [`IngestError::NothingToWithdraw`] when no counted upload matches; store failures.
    pub async fn withdraw(&self, which: &str) -> Result<Withdrawal, IngestError> {
        let which = which.trim().trim_start_matches('/');
        let by_sha = which.len() >= 8 && which.chars().all(|c| c.is_ascii_hexdigit());
        let reports = self.reports(UploadKind::Transactions).await?;
        let matching: Vec<QualityReport> = reports
            .into_iter()
            .filter(
                |r| if by_sha { r.sha256.starts_with(&which.to_ascii_lowercase()) } else { r.file == which },
            )
            .collect();
        let counted: Vec<QualityReport> = matching
            .iter()
            .filter(|r| r.withdrawn_at.is_none() && r.outputs.silver.is_some())
            .cloned()
            .collect();
        if counted.is_empty() {
            let why = match matching.first() {
                Some(r) if r.withdrawn_at.is_some() => "it was withdrawn before".to_owned(),
                Some(_) => {
                    "it added nothing (it failed, was empty, or its bytes were counted under another name)"
                        .to_owned()
                }
                None => "no transactions upload of that name or sha256 was ingested".to_owned(),
            };
            return Err(IngestError::NothingToWithdraw { which: which.to_owned(), why });
        }
        let now = Utc::now();
        let mut withdrawn = Vec::new();
        for mut report in counted {
            let Some(silver) = report.outputs.silver.clone() else { continue };
            if let Some(table) = self.silver.get(&silver).await? {
                let mut options = PutOptions::default().with_content_type("application/vnd.apache.parquet");
                for (key, value) in &table.meta.metadata {
                    options = options.with_metadata(key.clone(), value.clone());
                }
                self.silver.put(&format!("{WITHDRAWN_PREFIX}{silver}"), table.body, options).await?;
                self.silver.delete(&silver).await?;
            }
            report.withdrawn_at = Some(now);
            report.withdrawn_etag = self.uploads.head(&report.file).await?.map(|meta| meta.etag.0);
            report.outputs.silver = Some(format!("{WITHDRAWN_PREFIX}{silver}"));
            let json = serde_json::to_vec_pretty(&report).map_err(|e| IngestError::Table(e.to_string()))?;
            self.silver
                .put(
                    &report_path(report.kind, &report.sha256),
                    bytes::Bytes::from(json),
                    PutOptions::default().with_content_type("application/json"),
                )
                .await?;
            tracing::info!(upload = %report.file, sha256 = %report.sha256, rows = report.rows_accepted, "withdrawn");
            withdrawn.push((report.file.clone(), report.sha256.clone(), report.rows_accepted));
        }
        self.refresh_features().await?;
        Ok(Withdrawal { withdrawn, features_refreshed: true })
    }
}
