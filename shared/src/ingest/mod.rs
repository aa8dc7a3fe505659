//! # Ingest: uploads become validated, quarantined, reported and refreshed features
//!
//! For each upload (`uploads/<kind>/<name>`; CSV, JSON lines or Parquet, optionally gzip):
//! 1. [`crate::bronze::land`] keeps the raw bytes under their sha256 before anything reads them.
//! 2. If a report for those bytes exists, the upload is a duplicate: nothing is counted again.
//! 3. The bytes are decoded ([`format`](mod@format)), split into rows ([`read`]) with the kind's column
//!    mapping ([`schema`], [`mapping`]; a `uploads/<kind>/_mapping.toml` or `.json` applies to
//!    its folder), validated ([`validate`]) and, for transactions, given their retail meaning
//!    ([`transactions`]).
//! 4. Accepted rows go to `silver/<kind>/<sha256>.parquet`, refused rows with file, line, column
//!    and reason to `quarantine/<kind>/<sha256>.jsonl`, and the [`report`] to
//!    `silver/reports/<kind>/<sha256>.json`, written last: it marks the upload done, so a retry
//!    after a crash redoes the work rather than passing it by.
//! 5. After a transactions upload the feature tables are refreshed ([`crate::features`]).
//!
//! A file that cannot be read as a table is a failed report (the raw bytes stay in bronze) and
//! the invocation is done; a storage failure is an error the host retries.

pub mod encoding;
pub mod error;
pub mod format;
pub mod mapping;
pub mod read;
pub mod report;
pub mod schema;
pub mod transactions;
pub mod validate;
pub mod withdraw;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use polars::prelude::DataFrame;

pub use error::{FileError, IngestError};
pub use mapping::Mapping;
pub use report::{QualityReport, Thresholds, Verdict};
pub use schema::UploadKind;

use crate::bronze::{self, BRONZE_CONTAINER, LandingError, UPLOADS_CONTAINER};
use crate::features;
use crate::store::{BlobMeta, BlobService, BlobStore, PutOptions, StoreError};
use crate::tables::{
    BASKETS_PATH, CALENDAR_PATH, CLOSED_WEEKDAYS_PATH, DAILY_DEMAND_PATH, INTERACTIONS_PATH, ITEMS_PATH,
    QUARANTINE_CONTAINER, RFM_INPUTS_PATH, SILVER_CONTAINER, TRANSACTIONS_PREFIX, UPLOAD_COLUMN,
};
use format::TableFormat;
use validate::{QuarantinedRow, Validator};

/// Uploads whose file name starts with this are configuration (mapping files), not data.
pub const CONFIG_FILE_PREFIX: char = '_';
/// Largest decompressed table accepted by default (settings `INGEST_MAX_TABLE_BYTES`): an upload
/// of 2.7M lines (245 MB of CSV, just over the row limit below) peaked at 1.64 GB, near what a
/// 2 GB instance has beside the host.
/// It was 2 GiB, as much as the instance: a 327 KB Parquet file of 10M rows, or an 8 MB gzip,
/// took 2.3-5.9 GB to be read or refused (a security review).
pub const DEFAULT_MAX_TABLE_BYTES: u64 = 256 << 20;
/// Bytes of the limit each row is allowed: a table may hold at most `INGEST_MAX_TABLE_BYTES / 100`
/// rows (2.68M at the default), whatever its size on disk, since rows, not bytes, take the memory
/// (a dictionary-encoded Parquet file holds millions in kilobytes). Online Retail's CSV lines
/// average 88.6 bytes.
pub const MIN_BYTES_PER_ROW: u64 = 100;
/// How many times a feature refresh recomputes when other refreshes keep publishing first.
pub const REFRESH_ATTEMPTS: usize = 5;
/// How many quarantined rows the report itself lists.
const QUARANTINE_SAMPLE: usize = 20;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The kind, when not given by the path's first folder.
    pub kind: Option<UploadKind>,
    /// The column mapping, when not found beside the upload.
    pub mapping: Option<Mapping>,
    /// Verdict thresholds.
    pub thresholds: Thresholds,
    /// Largest decompressed table accepted.
    pub max_table_bytes: u64,
    /// Whether a transactions upload refreshes the features.
    pub refresh_features: bool,
    /// How old a transactions table without a report must be before the catch-up sweep takes
    /// its ingest for dead ([`Ingestor::sweep`]); default [`ORPHANED_AFTER`].
    pub orphaned_after: std::time::Duration,
}

/// How long an ingest may take between writing its silver table and its report (a refresh of a
/// large history takes a minute or two) before a table without a report counts as orphaned.
pub const ORPHANED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            kind: None,
            mapping: None,
            thresholds: Thresholds::default(),
            max_table_bytes: DEFAULT_MAX_TABLE_BYTES,
            refresh_features: true,
            orphaned_after: ORPHANED_AFTER,
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub enum IngestOutcome {
    /// The upload was read (or recognised as a duplicate) and reported.
    Reported(Box<QualityReport>),
    /// The path is a configuration file (a mapping), not data.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// The rows of one upload, parsed and validated (CPU work, no I/O).
#[derive(Debug)]
pub struct ParsedUpload {
    /// Accepted rows in the kind's silver schema; `None` when the file could not be read.
    pub frame: Option<DataFrame>,
    /// Refused rows.
    pub quarantined: Vec<QuarantinedRow>,
    /// Data rows read.
    pub rows_read: u64,
    /// The file-level error, if any.
    pub error: Option<FileError>,
    /// The table format, when recognised.
    pub format: Option<TableFormat>,
    /// Whether the upload was gzip-compressed.
    pub gzip: bool,
    /// Retail counts (transactions).
    pub retail: Option<transactions::RetailCounts>,
    /// Timestamps read month first that all read day first too
    /// ([`validate::TimestampParser::month_first_unsure`]).
    pub month_first_unsure: Option<u64>,
    /// Set when the upload's dates proved it writes the day first, so it was read that way: how
    /// many timestamps could be read no other way ([`validate::Validator::day_first_proven`]).
    pub dates_read_day_first: Option<u64>,
    /// Canonical columns the upload did not have ([`validate::Validator::absent_columns`]).
    pub absent_columns: Vec<String>,
    /// Columns of the upload no canonical column reads ([`validate::Validator::unread_columns`]).
    pub unread_columns: Vec<String>,
    /// The encoding its text was read in, when not UTF-8.
    pub encoding: Option<encoding::TextEncoding>,
}

/// Refuses a table of more rows than `max_table_bytes` allows ([`MIN_BYTES_PER_ROW`]) before any
/// is read: an upper bound, without parsing (lines of CSV, header and quoted line breaks
/// included; JSON's lines or array elements, [`read::json_rows`]; a Parquet file's rows from its
/// footer, [`read::parquet_rows`]; one whose footer cannot be read is left to the reader, which
/// names what is wrong). The inventory alerts read uploads through it too.
///
/// # Errors
/// `too_large`, naming the rows and the limit.
pub fn check_rows(file: &str, decoded: &format::Decoded, max_table_bytes: u64) -> Result<(), FileError> {
    let most = max_table_bytes / MIN_BYTES_PER_ROW;
    let rows = match decoded.format {
        TableFormat::Parquet => match read::parquet_rows(&decoded.bytes) {
            Some(rows) => rows,
            None => return Ok(()),
        },
        TableFormat::Csv => read::line_ends(&decoded.bytes),
        TableFormat::JsonLines => read::json_rows(&decoded.bytes),
    };
    if rows > most {
        return Err(FileError::new(
            file,
            "too_large",
            format!(
                "holds {rows} rows, more than the {most} allowed (INGEST_MAX_TABLE_BYTES / \
                 {MIN_BYTES_PER_ROW}): split it, or raise INGEST_MAX_TABLE_BYTES on an instance with \
                 more memory"
            ),
        ));
    }
    Ok(())
}

/// Parses and validates one upload's bytes. `batch` is its sha256.
pub fn parse_upload(
    file: &str,
    raw: &[u8],
    kind: UploadKind,
    mapping: &Mapping,
    batch: &str,
    max_table_bytes: u64,
) -> Result<ParsedUpload, IngestError> {
    let failed = |error: FileError, format, gzip| ParsedUpload {
        frame: None,
        quarantined: Vec::new(),
        rows_read: 0,
        error: Some(error),
        format,
        gzip,
        retail: None,
        month_first_unsure: None,
        dates_read_day_first: None,
        absent_columns: Vec::new(),
        unread_columns: Vec::new(),
        encoding: None,
    };
    let mut decoded = match format::decode(file, raw, max_table_bytes, mapping.text_encoding()) {
        Ok(decoded) => decoded,
        Err(error) => return Ok(failed(error, None, raw.starts_with(&[0x1f, 0x8b]))),
    };
    // Before a JSON array is turned into lines: that builds a value for every element.
    if let Err(error) = check_rows(file, &decoded, max_table_bytes) {
        return Ok(failed(error, Some(decoded.format), decoded.gzip));
    }
    // A JSON array of objects is the rows of its elements; an empty one (`[]`, an API's export
    // of a day without sales) holds no rows, as a CSV of its header alone does.
    let mut no_rows = false;
    if decoded.format == TableFormat::JsonLines
        && let Some(lines) = format::array_as_json_lines(&decoded.bytes)
    {
        no_rows = lines.is_empty();
        decoded.bytes = lines;
    }
    // An inventory snapshot in its event's shape is the rows of its items, as the alerts read it.
    if kind == UploadKind::Inventory
        && decoded.format == TableFormat::JsonLines
        && let Some(document) = format::items_document(&decoded.bytes)
    {
        decoded.bytes = format::items_as_json_lines(&document);
    }
    let columns = kind.columns();
    let read = |validator: &mut Validator| match decoded.format {
        _ if no_rows => Ok(0),
        TableFormat::Csv => read::read_csv(file, &decoded.bytes, columns, mapping, validator),
        TableFormat::JsonLines => read::read_json_lines(file, &decoded.bytes, columns, mapping, validator),
        TableFormat::Parquet => read::read_parquet(file, &decoded.bytes, columns, mapping, validator),
    };
    let mut validator = Validator::new(file, columns, mapping);
    let mut rows_read = match read(&mut validator) {
        Ok(rows) => rows,
        Err(error) => return Ok(failed(error, Some(decoded.format), decoded.gzip)),
    };
    // Dates that only read day first, and none that only read month first: the whole upload is
    // read again day first, rather than half of it put in the wrong months.
    let dates_read_day_first = validator.day_first_proven();
    if dates_read_day_first.is_some() {
        validator = Validator::new(file, columns, mapping).reading_day_first();
        rows_read = match read(&mut validator) {
            Ok(rows) => rows,
            Err(error) => return Ok(failed(error, Some(decoded.format), decoded.gzip)),
        };
    }
    let month_first_unsure = validator.month_first_unsure();
    let absent_columns = validator.absent_columns();
    let unread_columns = validator.unread_columns();
    let fingerprints = std::mem::take(&mut validator.fingerprints);
    let quarantined = std::mem::take(&mut validator.quarantined);
    let frame = validator.into_frame()?;
    let (frame, retail) = if kind == UploadKind::Transactions {
        let (mut frame, counts) = transactions::apply_retail_rules(frame, batch, &fingerprints)?;
        // Which upload the lines came from: a corrected file sent again under its name replaces
        // its invoices whole (`features::transactions::combine`).
        let height = frame.height();
        frame.with_column(polars::prelude::Column::new(UPLOAD_COLUMN.into(), vec![file; height]))?;
        (frame, Some(counts))
    } else {
        let mut frame = frame;
        let height = frame.height();
        frame.with_column(polars::prelude::Column::new("batch".into(), vec![batch; height]))?;
        (frame, None)
    };
    Ok(ParsedUpload {
        frame: Some(frame),
        quarantined,
        rows_read,
        error: None,
        format: Some(decoded.format),
        gzip: decoded.gzip,
        retail,
        month_first_unsure,
        dates_read_day_first,
        absent_columns,
        unread_columns,
        encoding: decoded.encoding,
    })
}

/// The containers an ingest reads and writes, opened once.
#[derive(Debug, Clone)]
pub struct Ingestor {
    uploads: Arc<dyn BlobStore>,
    bronze: Arc<dyn BlobStore>,
    silver: Arc<dyn BlobStore>,
    quarantine: Arc<dyn BlobStore>,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Endings of files still being written by a browser, a sync or an FTP client, or an editor.
const UNFINISHED_SUFFIXES: [&str; 8] =
    [".part", ".partial", ".crdownload", ".download", ".filepart", ".tmp", ".temp", ".swp"];

/// Why an upload at `path` is not data to ingest, or `None` when it is: a configuration file
/// (`_mapping.toml`), a hidden or system file (`.DS_Store`, macOS's `._feb.csv`), an office
/// program's lock file (`~$feb.xlsx`) or a file still being written (`feb.csv.part`). Such files
/// stay in the uploads container, untouched; the finished file is an upload of its own.
#[must_use]
pub fn not_data(path: &str) -> Option<&'static str> {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    if name.starts_with(CONFIG_FILE_PREFIX) {
        Some("a configuration file, not data")
    } else if name.starts_with('.')
        || name.eq_ignore_ascii_case("thumbs.db")
        || name.eq_ignore_ascii_case("desktop.ini")
    {
        Some("a hidden or system file, not data")
    } else if name.starts_with('~') {
        Some("a lock or backup file, not data")
    } else if UNFINISHED_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix)) {
        Some("a file still being written (its finished copy is ingested when it lands), not data")
    } else {
        None
    }
}

/// How far one ingest got, for [`Ingestor::ingest`] to tell whether it may remember the upload as
/// handled.
#[derive(Debug, Default)]
struct Progress {
    /// The upload's ETag once its bytes are in bronze.
    upload_etag: Option<crate::store::ETag>,
    /// Whether its silver table was written or set aside (its report comes after).
    silver_changed: bool,
}

/// Metadata key of a silver table and of its report: the mapping the bytes were read under.
const MAPPING_METADATA: &str = "mapping";
/// Metadata key of a report: present (`true`) once its upload is withdrawn.
const WITHDRAWN_METADATA: &str = "withdrawn";

/// Which reading of some bytes a silver table holds, or a report describes, from their metadata.
#[derive(Debug, Default, PartialEq, Eq)]
struct ReadingMark {
    mapping: Option<String>,
    withdrawn: bool,
}

impl ReadingMark {
    fn of(metadata: &BTreeMap<String, String>) -> Self {
        Self {
            mapping: metadata.get(MAPPING_METADATA).cloned(),
            withdrawn: metadata.get(WITHDRAWN_METADATA).is_some_and(|v| v == "true"),
        }
    }

    /// The mark a report's JSON says (reports written before the marks carry none in metadata).
    fn of_report(report: &QualityReport) -> Self {
        Self { mapping: report.mapping.clone(), withdrawn: report.withdrawn_at.is_some() }
    }

    /// Whether a report marked `self` describes a table marked `table`: not withdrawn, and read
    /// under the same mapping. The same bytes read twice at once under one mapping write the
    /// same table, so either report describes it; tables and reports from before the marks are
    /// taken as described.
    fn describes(&self, table: &Self) -> bool {
        !self.withdrawn
            && match (&self.mapping, &table.mapping) {
                (Some(report), Some(table)) => report == table,
                _ => true,
            }
    }

    /// The put options of `report`'s JSON, marked.
    fn report_options(report: &QualityReport) -> PutOptions {
        let mut options = PutOptions::default().with_content_type("application/json");
        if let Some(mapping) = &report.mapping {
            options = options.with_metadata(MAPPING_METADATA, mapping.clone());
        }
        if report.withdrawn_at.is_some() {
            options = options.with_metadata(WITHDRAWN_METADATA, "true");
        }
        options
    }
}

/// Where the silver container remembers uploads handled, by path and ETag.
const SEEN_PREFIX: &str = "uploads_seen/";

/// The marker of the upload at `path` as it was at `etag` (hashed: paths may hold anything).
fn seen_marker(path: &str, etag: &crate::store::ETag) -> String {
    format!("{SEEN_PREFIX}{}", bronze::sha256_hex(format!("{path}\n{}", etag.0).as_bytes()))
}

/// Largest upload the catch-up sweep reads (it holds the upload in memory, as the trigger's
/// invocation does): a larger one is reported, to be split.
pub const MAX_SWEPT_UPLOAD_BYTES: u64 = 512 << 20;

/// What a catch-up sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Uploads read now, oldest first.
    pub ingested: Vec<String>,
    /// Uploads whose bytes had been counted under another name: counted once, not again.
    pub duplicates: Vec<String>,
    /// Uploads handled before, passed over.
    pub already_handled: usize,
    /// Uploads over [`MAX_SWEPT_UPLOAD_BYTES`], left in place.
    pub too_large: Vec<String>,
    /// Uploads left for the next sweep when the time budget ran out.
    pub left_for_next: usize,
    /// Uploads that failed, with the error; the next sweep tries them again.
    pub failed: Vec<(String, String)>,
    /// Transactions tables set aside under `withdrawn/`: their ingest stopped after writing the
    /// table and before its report, and no upload left can finish it (`(upload path, sha256)`).
    pub set_aside: Vec<(String, String)>,
    /// Whether the features were refreshed (new transactions batches).
    pub features_refreshed: bool,
}

impl SweepReport {
    /// Whether the upload at `path` is ingested or handled now, as far as this sweep can tell:
    /// nothing was left for the next sweep and `path` neither failed nor was too large.
    #[must_use]
    pub fn covers(&self, path: &str) -> bool {
        self.left_for_next == 0
            && !self.too_large.iter().any(|p| p == path)
            && !self.failed.iter().any(|(p, _)| p == path)
    }

    /// One log line per thing worth saying (nothing when every upload was handled before).
    #[must_use]
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.ingested.is_empty() {
            lines.push(format!(
                "sweep: ingested {} missed uploads: {}",
                self.ingested.len(),
                self.ingested.join(", ")
            ));
        }
        if !self.duplicates.is_empty() {
            lines.push(format!("sweep: {} missed uploads held bytes already counted", self.duplicates.len()));
        }
        lines.extend(
            self.too_large
                .iter()
                .map(|path| format!("sweep: {path} is over {} MiB: split it", MAX_SWEPT_UPLOAD_BYTES >> 20)),
        );
        if self.left_for_next > 0 {
            lines.push(format!("sweep: {} uploads left for the next run (time budget)", self.left_for_next));
        }
        lines.extend(self.failed.iter().map(|(path, e)| format!("sweep: {path} failed: {e}")));
        lines.extend(self.set_aside.iter().map(|(path, sha256)| {
            format!(
                "sweep: set aside the rows of {path} ({sha256}) under silver/{}: its ingest stopped before \
                 its report and no upload left can finish it; send the file again to count them",
                withdraw::WITHDRAWN_PREFIX
            )
        }));
        lines
    }
}

/// The sha256 a report keeps of the mapping its bytes were read under.
fn mapping_id(mapping: &Mapping) -> String {
    bronze::sha256_hex(&serde_json::to_vec(mapping).unwrap_or_default())
}

/// The kind of the folder whose column mapping `path` is (`<folder>/_mapping.toml` or `.json`,
/// the folder a kind's), for the transactions and catalogue folders: an inventory count's
/// reading is judged by the `inventory-alert` function, which a mapping's landing does not run.
#[must_use]
pub fn folder_mapping_kind(path: &str) -> Option<UploadKind> {
    let (folder, name) = path.split_once('/')?;
    let kind = folder.parse::<UploadKind>().ok().filter(|k| *k != UploadKind::Inventory)?;
    ["_mapping.toml", "_mapping.json"].contains(&name).then_some(kind)
}

/// Where the mapping of one upload is kept: `<folder>/_<file name>.mapping.json`.
fn upload_mapping_path(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((folder, name)) => format!("{folder}/{CONFIG_FILE_PREFIX}{name}.mapping.json"),
        None => format!("{CONFIG_FILE_PREFIX}{path}.mapping.json"),
    }
}

/// Where the report of the upload of `kind` with bytes `sha256` is kept (in silver): the mark
/// that those bytes were read.
pub(crate) fn report_path(kind: UploadKind, sha256: &str) -> String {
    format!("reports/{kind}/{sha256}.json")
}

impl Ingestor {
    /// Opens (and creates where needed) the containers.
    pub async fn open(blobs: &dyn BlobService) -> Result<Self, IngestError> {
        Ok(Self {
            uploads: blobs.container(UPLOADS_CONTAINER).await?,
            bronze: blobs.container(BRONZE_CONTAINER).await?,
            silver: blobs.container(SILVER_CONTAINER).await?,
            quarantine: blobs.container(QUARANTINE_CONTAINER).await?,
        })
    }

    /// The uploads container.
    #[must_use]
    pub fn uploads(&self) -> &Arc<dyn BlobStore> {
        &self.uploads
    }

    /// Ingests the upload at `path` (in the uploads container). Once its bytes are in bronze
    /// and it was handled (or refused for good), the upload's path and ETag are remembered, so
    /// [`Ingestor::sweep`] passes over it. Not after a failure that left its silver table
    /// without a report (a feature refresh or the report's write failing, even for good): its
    /// rows are counted by every refresh, and only the ingest done again reports them.
    pub async fn ingest(&self, path: &str, options: &IngestOptions) -> Result<IngestOutcome, IngestError> {
        if let Some(kind) = folder_mapping_kind(path).filter(|_| options.mapping.is_none()) {
            return self.read_again_under(path, kind, options).await;
        }
        let mut progress = Progress::default();
        let result = self.ingest_landed(path, options, &mut progress).await;
        let unfinished = progress.silver_changed && result.is_err();
        if let Some(etag) = progress.upload_etag
            && !unfinished
            && !result.as_ref().is_err_and(IngestError::is_transient)
        {
            let marker = seen_marker(path, &etag);
            if let Err(e) = self.silver.put(&marker, Bytes::new(), PutOptions::default()).await {
                tracing::warn!(upload = path, error = %e, "could not remember the upload as handled; the next sweep reads it again (and counts it once)");
            }
        }
        result
    }

    /// A folder's column mapping landed (`mapping_path`, `<folder>/_mapping.toml` or `.json`):
    /// the uploads of that folder whose reading it may change ([`QualityReport::another_mapping_may_change`]:
    /// failed, dates unsure, bytes not UTF-8) and that were read under another mapping are read
    /// again under it, as if sent again; those with a mapping of their own keep it. A fixed
    /// mapping counts the files it fixes without their being sent again. The features are
    /// refreshed once at the end. The outcome is [`IngestOutcome::Skipped`] (the mapping is not
    /// data), its reason naming each upload read again and how it went.
    ///
    /// # Errors
    /// The mapping cannot be read ([`IngestError::Mapping`] names the file), or the reports
    /// cannot be listed; one upload failing is said in the reason.
    async fn read_again_under(
        &self,
        mapping_path: &str,
        kind: UploadKind,
        options: &IngestOptions,
    ) -> Result<IngestOutcome, IngestError> {
        let folder = mapping_path.split_once('/').map_or("", |(folder, _)| folder);
        let mapping = self.mapping_in(folder).await?;
        let id = mapping_id(&mapping);
        let mut paths: Vec<String> = self
            .reports(kind)
            .await?
            .into_iter()
            .filter(|r| {
                r.withdrawn_at.is_none()
                    && r.another_mapping_may_change()
                    && r.mapping.as_deref() != Some(id.as_str())
                    && r.file.split_once('/').is_some_and(|(f, _)| f == folder)
            })
            .map(|r| r.file)
            .collect();
        let mut seen = std::collections::HashSet::new();
        paths.retain(|path| seen.insert(path.clone()));
        let one_by_one = IngestOptions { refresh_features: false, ..options.clone() };
        let (mut said, mut counted) = (Vec::new(), false);
        for path in paths {
            // A store failing for a while fails the whole reading for the host to retry (what was
            // read meanwhile is read under this mapping and passed over then); an upload's own
            // trouble is said and the others go on.
            match self.mapping_of_upload(&path).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    said.push(format!("{path} (its own mapping cannot be read: {e})"));
                    continue;
                }
            }
            match Box::pin(self.ingest(&path, &one_by_one)).await {
                Ok(IngestOutcome::Reported(report)) => {
                    counted |= report.kind == UploadKind::Transactions
                        && report.outputs.silver.is_some()
                        && !report.duplicate_upload;
                    let how = match report.verdict {
                        Verdict::Fail => "failed again: see its report",
                        Verdict::Warn | Verdict::Pass if report.duplicate_upload => "counted before",
                        Verdict::Warn | Verdict::Pass => "counted",
                    };
                    said.push(format!("{path} ({how})"));
                }
                Ok(IngestOutcome::Skipped { .. }) | Err(IngestError::UploadMissing { .. }) => {}
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::warn!(upload = %path, error = %e, "read again under the folder's new mapping: failed");
                    said.push(format!("{path} (failed: {e})"));
                }
            }
        }
        if counted && options.refresh_features {
            self.refresh_features().await?;
        }
        let reason = match said.is_empty() {
            true => {
                format!("{mapping_path} is the folder's column mapping: no upload of it needed reading again")
            }
            false => format!(
                "{mapping_path} is the folder's column mapping: read again under it: {}",
                said.join(", ")
            ),
        };
        tracing::info!(mapping = mapping_path, "{reason}");
        Ok(IngestOutcome::Skipped { reason })
    }

    /// Ingests every upload not handled yet, oldest first: what the Event Grid trigger missed (an
    /// upload made before the subscription existed, or an event dropped after a day of failed
    /// deliveries). An upload counts as handled under its path and ETag (its marker, or the
    /// bronze copy it landed as), so a file replaced under the same name is read again (and the
    /// same bytes still count once). Uploads over [`MAX_SWEPT_UPLOAD_BYTES`] are left and
    /// reported; the sweep stops at `budget` and the rest waits for the next one. The features
    /// are refreshed once at the end, not per upload.
    ///
    /// # Errors
    /// When the uploads, bronze or silver container cannot be listed. One upload failing is
    /// reported in [`SweepReport::failed`] and the sweep goes on.
    pub async fn sweep(
        &self,
        options: &IngestOptions,
        budget: std::time::Duration,
    ) -> Result<SweepReport, IngestError> {
        let started = std::time::Instant::now();
        let mut seen: std::collections::HashSet<String> =
            self.silver.list(SEEN_PREFIX).await?.into_iter().map(|b| b.path).collect();
        // Uploads handled before markers existed: a bronze copy whose bytes have a report names
        // the upload (path and ETag) it first landed from.
        let reported: std::collections::HashSet<String> = self
            .silver
            .list("reports/")
            .await?
            .into_iter()
            .filter_map(|b| Some(file_name(&b.path).strip_suffix(".json")?.to_owned()))
            .collect();
        for landed in self.bronze.list("").await? {
            let meta = &landed.metadata;
            if let (Some(path), Some(etag)) = (meta.get("upload_path"), meta.get("upload_etag"))
                && reported.contains(file_name(&landed.path))
            {
                seen.insert(seen_marker(path, &crate::store::ETag(etag.clone())));
            }
        }
        let mut uploads = self.uploads.list("").await?;
        uploads.sort_by(|a, b| a.last_modified.cmp(&b.last_modified).then_with(|| a.path.cmp(&b.path)));
        let mut report = SweepReport::default();
        let one_by_one = IngestOptions { refresh_features: false, ..options.clone() };
        let mut new_batches = false;
        for upload in uploads {
            if not_data(&upload.path).is_some() {
                continue;
            }
            if seen.contains(&seen_marker(&upload.path, &upload.etag)) {
                report.already_handled += 1;
                continue;
            }
            if upload.size > MAX_SWEPT_UPLOAD_BYTES {
                report.too_large.push(upload.path);
                continue;
            }
            if started.elapsed() >= budget {
                report.left_for_next += 1;
                continue;
            }
            match self.ingest(&upload.path, &one_by_one).await {
                Ok(IngestOutcome::Reported(done)) if done.duplicate_upload => {
                    report.duplicates.push(upload.path);
                }
                Ok(IngestOutcome::Reported(done)) => {
                    new_batches |= done.kind == UploadKind::Transactions && done.outputs.silver.is_some();
                    report.ingested.push(upload.path);
                }
                Ok(IngestOutcome::Skipped { .. }) | Err(IngestError::UploadMissing { .. }) => {}
                Err(e) => {
                    tracing::warn!(upload = %upload.path, error = %e, "sweep: the upload could not be ingested");
                    report.failed.push((upload.path, e.to_string()));
                }
            }
        }
        // Only when every upload was handled now: an upload left for later, too large or failed
        // may be the one that would finish an orphan's ingest.
        if report.left_for_next == 0 && report.too_large.is_empty() && report.failed.is_empty() {
            match self.set_aside_orphans(options.orphaned_after).await {
                Ok(set_aside) => report.set_aside = set_aside,
                Err(e) => {
                    tracing::warn!(error = %e, "sweep: could not look for tables without a report; the next sweep looks again");
                    report.failed.push(("(tables without a report)".to_owned(), e.to_string()));
                }
            }
            new_batches |= !report.set_aside.is_empty();
        }
        if new_batches && options.refresh_features {
            self.refresh_features().await?;
            report.features_refreshed = true;
        }
        Ok(report)
    }

    /// Moves to `withdrawn/` every transactions table older than `age` that no finished ingest
    /// reports and no upload left can finish. An ingest that stopped between its table and its
    /// report (a crash, a `kill -9`) is redone from its upload; with the upload deleted meanwhile
    /// nothing ever reported it, yet every refresh counted its rows, and neither `uploads list`
    /// nor `withdraw` could see them. A table its report does not describe
    /// ([`ReadingMark::describes`]: the report says withdrawn, or names another mapping) is the
    /// same: bytes sent again after a withdrawal, or read again under a new mapping, whose ingest
    /// stopped before its report. Such a table is set aside whether or not its first upload is
    /// still there: the sweep calling this has just ingested every upload it had not seen, and
    /// reading the first one again would not count it (withdrawn, or read under its old mapping).
    /// Kept, as a withdrawal keeps a table, and counted again when the same bytes are sent again.
    async fn set_aside_orphans(
        &self,
        age: std::time::Duration,
    ) -> Result<Vec<(String, String)>, IngestError> {
        let reported: HashMap<String, ReadingMark> = self
            .silver
            .list(&format!("reports/{}/", UploadKind::Transactions))
            .await?
            .into_iter()
            .filter_map(|b| {
                Some((file_name(&b.path).strip_suffix(".json")?.to_owned(), ReadingMark::of(&b.metadata)))
            })
            .collect();
        // A report from before the marks, beside a marked table (read again since), is read in
        // full below: its JSON says whether it was withdrawn and under which mapping it read.
        let unreported = |sha: &str, table: &BlobMeta| {
            let table = ReadingMark::of(&table.metadata);
            reported.get(sha).is_none_or(|report| {
                !report.describes(&table) || (report.mapping.is_none() && table.mapping.is_some())
            })
        };
        let cutoff = Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let orphans: Vec<BlobMeta> = self
            .silver
            .list(TRANSACTIONS_PREFIX)
            .await?
            .into_iter()
            .filter(|t| t.last_modified < cutoff)
            .filter(|t| file_name(&t.path).strip_suffix(".parquet").is_some_and(|sha| unreported(sha, t)))
            .collect();
        if orphans.is_empty() {
            return Ok(Vec::new());
        }
        // As bronze's metadata writes a path: printable ASCII, the rest escaped.
        let uploads: std::collections::HashSet<String> =
            self.uploads.list("").await?.into_iter().map(|u| bronze::ascii_only(&u.path)).collect();
        let landed: HashMap<String, String> = self
            .bronze
            .list("")
            .await?
            .into_iter()
            .filter_map(|b| Some((file_name(&b.path).to_owned(), b.metadata.get("upload_path")?.clone())))
            .collect();
        let mut set_aside = Vec::new();
        for table in orphans {
            let sha256 = file_name(&table.path).trim_end_matches(".parquet").to_owned();
            let read_again = reported.contains_key(&sha256);
            let path = match landed.get(&sha256) {
                Some(path) if read_again || !uploads.contains(path) => path.clone(),
                // The upload is there: ingesting it again finishes the job.
                Some(_) => continue,
                None if read_again => format!("(bytes {sha256})"),
                // No bronze copy naming its upload: whether the upload is gone cannot be told.
                None => continue,
            };
            // The same bytes may have been ingested since the listing: then the table is
            // reported, or written anew, and counted.
            let report = report_path(UploadKind::Transactions, &sha256);
            let Some(blob) = self.silver.get(&table.path).await? else { continue };
            let current = match self.silver.get(&report).await? {
                Some(stored) => Some((
                    serde_json::from_slice::<QualityReport>(&stored.body)
                        .map_err(|e| IngestError::Table(format!("report {report} is unreadable: {e}")))?,
                    stored.meta.etag,
                )),
                None => None,
            };
            let described = current.as_ref().is_some_and(|(current, _)| {
                ReadingMark::of_report(current).describes(&ReadingMark::of(&blob.meta.metadata))
            });
            if blob.meta.etag != table.etag || described {
                continue;
            }
            if !self.set_aside(&table.path, blob).await? {
                continue; // written again meanwhile: counted under the ingest writing it
            }
            // A report still saying its rows are counted (another mapping's reading, written
            // after this table) says withdrawn now: the same bytes sent again count again, and
            // `uploads list` no longer claims rows nothing counts. Only the report read: one
            // written since describes what is there now.
            if let Some((mut current, etag)) = current.filter(|(current, _)| current.withdrawn_at.is_none()) {
                self.mark_withdrawn(&mut current, etag, Utc::now()).await?;
            }
            tracing::warn!(upload = %path, %sha256, read_again, "set aside a transactions table whose ingest stopped before its report and that no upload left can finish");
            set_aside.push((path, sha256));
        }
        Ok(set_aside)
    }

    async fn ingest_landed(
        &self,
        path: &str,
        options: &IngestOptions,
        progress: &mut Progress,
    ) -> Result<IngestOutcome, IngestError> {
        if let Some(what) = not_data(path) {
            return Ok(IngestOutcome::Skipped { reason: format!("{path} is {what}") });
        }
        // Bronze first, whatever the upload turns out to be: nothing uploaded is lost, not even a
        // file in a folder no kind claims.
        let (landing, raw) =
            bronze::land(&*self.uploads, &*self.bronze, path).await.map_err(|e| match e {
                LandingError::UploadMissing { path } => IngestError::UploadMissing { path },
                LandingError::Store { source, .. } => IngestError::Store(source),
            })?;
        progress.upload_etag = Some(landing.upload_etag.clone());
        let kind = options
            .kind
            .or_else(|| UploadKind::from_path(path))
            .ok_or_else(|| IngestError::UnknownKind { path: path.to_owned() })?;
        let mapping = match &options.mapping {
            Some(mapping) => mapping.clone(),
            // The folder as the upload names it (`Transactions/` is the transactions kind too).
            None => match path.split_once('/').filter(|_| options.kind.is_none()) {
                Some((folder, _)) => self.mapping_for(path, folder).await?,
                None => self.mapping_for(path, &kind.to_string()).await?,
            },
        };
        let mapping_id = mapping_id(&mapping);
        let report_path = report_path(kind, &landing.sha256);
        if let Some(previous) = self.silver.get(&report_path).await? {
            let mut report: QualityReport = serde_json::from_slice(&previous.body)
                .map_err(|e| IngestError::Table(format!("report {report_path} is unreadable: {e}")))?;
            let read_again = match report.withdrawn_at {
                // Withdrawn: bytes uploaded after it count again; an upload written before it (the
                // withdrawn file seen again by a restarted watcher or a redelivered event, or a copy
                // of its bytes under another name) stays withdrawn.
                Some(at) => landing.uploaded_at > at,
                // A failed upload counted nothing: read under another mapping (the folder's, fixed
                // since), the same bytes are read again rather than answered with the old failure.
                // So are dates read month first that could as well be day first, and rows refused
                // as invalid UTF-8, under a mapping that says which: the silver table and report of
                // these bytes (named by their sha256) are replaced, so nothing is counted twice.
                None => {
                    report.another_mapping_may_change()
                        && report.mapping.as_deref() != Some(mapping_id.as_str())
                }
            };
            if read_again {
                tracing::info!(upload = path, sha256 = %landing.sha256, withdrawn = report.withdrawn_at.is_some(), "read again");
            } else {
                if kind == UploadKind::Catalog
                    && report.withdrawn_at.is_none()
                    && let Some(table) = &report.outputs.silver
                {
                    self.restamp(table, landing.uploaded_at).await?;
                }
                report.duplicate_upload = true;
                report.file = path.to_owned();
                report.features_refreshed = false;
                tracing::info!(upload = path, sha256 = %landing.sha256, withdrawn = report.withdrawn_at.is_some(), "duplicate upload: counted once");
                return Ok(IngestOutcome::Reported(Box::new(report)));
            }
        }
        let (file, sha, max) = (path.to_owned(), landing.sha256.clone(), options.max_table_bytes);
        let parsed =
            tokio::task::spawn_blocking(move || parse_upload(&file, &raw, kind, &mapping, &sha, max))
                .await
                .map_err(|e| IngestError::Table(format!("parse task failed: {e}")))??;
        let report = self.write_outputs(kind, &landing, parsed, mapping_id, options, progress).await?;
        Ok(IngestOutcome::Reported(Box::new(report)))
    }

    /// Dates the silver `table` as uploaded at `uploaded_at` when that is later than it says: a
    /// catalogue sent again (a nightly full export back to an earlier day's bytes) is the newest
    /// word on its products, and later uploads override earlier ones SKU by SKU
    /// ([`crate::catalog`]). Nothing is counted twice: the table is the same.
    async fn restamp(
        &self,
        table: &str,
        uploaded_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), IngestError> {
        let Some(blob) = self.silver.get(table).await? else { return Ok(()) };
        // At the stamp's own precision, milliseconds: a redelivery of the upload that wrote it
        // rewrites nothing.
        if bronze::upload_time(&blob.meta).timestamp_millis() >= uploaded_at.timestamp_millis() {
            return Ok(());
        }
        let mut options = PutOptions::default().with_metadata(
            bronze::UPLOADED_AT_METADATA,
            uploaded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        options.content_type = blob.meta.content_type.clone();
        self.silver.put(table, blob.body, options).await?;
        tracing::info!(table, %uploaded_at, "catalogue sent again: it is the newest word on its products");
        Ok(())
    }

    /// The mapping the upload at `path` is read under: its own
    /// ([`Ingestor::mapping_of_upload`]), else that of the uploads folder `folder`, else the
    /// default.
    pub async fn mapping_for(&self, path: &str, folder: &str) -> Result<Mapping, IngestError> {
        match self.mapping_of_upload(path).await? {
            Some(mapping) => Ok(mapping),
            None => self.mapping_in(folder).await,
        }
    }

    /// The mapping kept for one upload by [`Ingestor::keep_mapping_of_upload`] (an upload
    /// ingested with `shopsense ingest --mapping`), if any: it outranks its folder's, so the
    /// upload reads the same when it is sent again (a restart's watcher, a sweep, an inventory
    /// event).
    pub async fn mapping_of_upload(&self, path: &str) -> Result<Option<Mapping>, IngestError> {
        let kept = upload_mapping_path(path);
        match self.uploads.get(&kept).await? {
            Some(blob) => Mapping::from_bytes(&kept, &blob.body).map(Some),
            None => Ok(None),
        }
    }

    /// Keeps `mapping` beside the upload at `path` (a configuration file, `_` first, that no
    /// trigger reads as data) for [`Ingestor::mapping_of_upload`].
    pub async fn keep_mapping_of_upload(&self, path: &str, mapping: &Mapping) -> Result<(), IngestError> {
        let json = serde_json::to_vec_pretty(mapping).map_err(|e| IngestError::Table(e.to_string()))?;
        let options = PutOptions::default().with_content_type("application/json");
        self.uploads.put(&upload_mapping_path(path), Bytes::from(json), options).await?;
        Ok(())
    }

    /// The column mapping of a kind's folder: `uploads/<kind>/_mapping.toml` or `.json`, or the
    /// default when there is none.
    pub async fn mapping_beside(&self, kind: UploadKind) -> Result<Mapping, IngestError> {
        self.mapping_in(&kind.to_string()).await
    }

    /// The column mapping of the uploads folder `folder`, or the default when it has none.
    async fn mapping_in(&self, folder: &str) -> Result<Mapping, IngestError> {
        for name in ["_mapping.toml", "_mapping.json"] {
            let path = format!("{folder}/{name}");
            if let Some(blob) = self.uploads.get(&path).await? {
                return Mapping::from_bytes(&path, &blob.body);
            }
        }
        Ok(Mapping::default())
    }

    async fn write_outputs(
        &self,
        kind: UploadKind,
        landing: &bronze::Landing,
        parsed: ParsedUpload,
        mapping_id: String,
        options: &IngestOptions,
        progress: &mut Progress,
    ) -> Result<QualityReport, IngestError> {
        let path = landing.upload_path.as_str();
        let report_path = &report_path(kind, &landing.sha256);
        let ingested_at = Utc::now();
        let mut outputs = report::Outputs {
            bronze: landing.bronze_path.clone(),
            report: report_path.to_owned(),
            ..Default::default()
        };
        let mut quarantined_by_reason = BTreeMap::new();
        for row in &parsed.quarantined {
            *quarantined_by_reason.entry(row.reason.clone()).or_insert(0u64) += 1;
        }
        if !parsed.quarantined.is_empty() {
            let mut lines = Vec::new();
            for row in &parsed.quarantined {
                serde_json::to_writer(&mut lines, row).map_err(|e| IngestError::Table(e.to_string()))?;
                lines.push(b'\n');
            }
            let target = format!("{kind}/{}.jsonl", landing.sha256);
            let options = PutOptions::default()
                .with_content_type("application/x-ndjson")
                .with_metadata("bronze_path", landing.bronze_path.clone());
            self.quarantine.put(&target, Bytes::from(lines), options).await?;
            outputs.quarantine = Some(target);
        }
        let (completeness, distinct, date_range) = match &parsed.frame {
            Some(frame) => {
                let (c, d) = report::profile(frame)?;
                let time_column =
                    if kind == UploadKind::Inventory { "snapshot_time" } else { "invoice_time" };
                (c, d, report::date_range(frame, time_column)?)
            }
            None => Default::default(),
        };
        let rows_accepted = parsed.frame.as_ref().map_or(0, |f| f.height() as u64);
        let freshness = date_range.as_ref().map(|range| report::Freshness {
            newest_row: range.max,
            uploaded_at: landing.uploaded_at,
            age_days: (landing.uploaded_at.naive_utc() - range.max).num_seconds() as f64 / 86_400.0,
        });
        let mut report = QualityReport {
            file: path.to_owned(),
            kind,
            sha256: landing.sha256.clone(),
            format: parsed.format.map(|f| f.as_str().to_owned()),
            gzip: parsed.gzip,
            duplicate_upload: false,
            rows_read: parsed.rows_read,
            rows_accepted,
            rows_quarantined: parsed.quarantined.len() as u64,
            quarantined_by_reason,
            completeness,
            distinct,
            date_range,
            freshness,
            retail: parsed.retail,
            month_first_unsure: parsed.month_first_unsure,
            dates_read_day_first: parsed.dates_read_day_first,
            absent_columns: parsed.absent_columns,
            unread_columns: parsed.unread_columns,
            encoding: parsed.encoding,
            sales_gap: None,
            quarantine_sample: parsed.quarantined.iter().take(QUARANTINE_SAMPLE).cloned().collect(),
            verdict: Verdict::Pass,
            verdict_reasons: Vec::new(),
            error: parsed.error,
            features_refreshed: false,
            outputs,
            uploaded_at: landing.uploaded_at,
            ingested_at,
            mapping: Some(mapping_id.clone()),
            withdrawn_at: None,
        };
        debug_assert_eq!(report.rows_read, report.rows_accepted + report.rows_quarantined);
        if kind == UploadKind::Transactions
            && let Some(frame) = &parsed.frame
        {
            // Advisory: a span that cannot be read leaves the gap unsaid, never the upload unread.
            let days = report::days_of(frame, "invoice_time")?;
            match self.sales_span(&landing.sha256).await {
                Ok(before) => report.sales_gap = report::SalesGap::largest(&days, before),
                Err(e) => {
                    tracing::warn!(upload = path, error = %e, "could not read the sales ingested before; the gap is not checked");
                }
            }
        }
        report.judge(&options.thresholds);
        // An upload of no rows adds nothing: no silver table, no refresh.
        if report.verdict != Verdict::Fail
            && report.rows_read > 0
            && let Some(mut frame) = parsed.frame
        {
            let target = format!("{kind}/{}.parquet", landing.sha256);
            let bytes = tokio::task::spawn_blocking(move || features::write_parquet(&mut frame))
                .await
                .map_err(|e| IngestError::Table(format!("parquet task failed: {e}")))?
                .map_err(|e| IngestError::Table(e.to_string()))?;
            self.silver
                .put(
                    &target,
                    bytes,
                    PutOptions::default()
                        .with_content_type("application/vnd.apache.parquet")
                        .with_metadata(
                            bronze::UPLOADED_AT_METADATA,
                            landing.uploaded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        )
                        .with_metadata(MAPPING_METADATA, mapping_id.clone()),
                )
                .await?;
            progress.silver_changed = true;
            report.outputs.silver = Some(target);
            if kind == UploadKind::Transactions && options.refresh_features {
                self.refresh_features().await?;
                report.features_refreshed = true;
            }
        } else {
            // Bytes read again (under a new mapping) that now fail or add no rows: the table of
            // their first reading would stay counted under a report saying nothing was. Set it
            // aside (kept) and refresh now, even in a sweep: the sweep refreshes only for tables
            // written.
            let target = format!("{kind}/{}.parquet", landing.sha256);
            let mut stale = false;
            if let Some(blob) = self.silver.get(&target).await? {
                progress.silver_changed = true;
                stale = self.set_aside(&target, blob).await?;
                tracing::warn!(upload = path, table = %target, "read again to no rows: its first reading's table is set aside");
            }
            // Set aside by an earlier try whose refresh failed: the features may still count it.
            if kind == UploadKind::Transactions
                && (stale
                    || features::snapshot::current(&*self.silver)
                        .await?
                        .is_some_and(|(snapshot, _)| snapshot.batches.contains(&target)))
            {
                progress.silver_changed = true;
                self.refresh_features().await?;
                report.features_refreshed = true;
            }
        }
        let json = serde_json::to_vec_pretty(&report).map_err(|e| IngestError::Table(e.to_string()))?;
        self.silver.put(report_path, Bytes::from(json), ReadingMark::report_options(&report)).await?;
        tracing::info!(upload = path, verdict = ?report.verdict, rows_read = report.rows_read, rows_accepted = report.rows_accepted, rows_quarantined = report.rows_quarantined, "ingested");
        Ok(report)
    }

    /// The first and last day of the sales ingested so far: the current features' calendar,
    /// widened by the transactions batches written since it was computed (a sweep refreshes once,
    /// after all of its uploads); the batch `except` (the upload being read again, whose first
    /// reading may have had the dates wrong) left out. `None` before any.
    async fn sales_span(&self, except: &str) -> Result<Option<(NaiveDate, NaiveDate)>, IngestError> {
        let table = |what: &str, e: &dyn std::fmt::Display| IngestError::Table(format!("{what}: {e}"));
        let snapshot = features::snapshot::current(&*self.silver).await?.map(|(s, _)| s);
        let mut span: Option<(NaiveDate, NaiveDate)> = None;
        let mut widen = |first: NaiveDate, last: NaiveDate| {
            span = Some(span.map_or((first, last), |(a, b)| (a.min(first), b.max(last))));
        };
        // Where `snapshot::get` would look, without reading the pointer a second time.
        let calendar_path =
            snapshot.as_ref().map_or_else(|| CALENDAR_PATH.to_owned(), |s| s.path(CALENDAR_PATH));
        let counted = snapshot.map(|s| s.batches).unwrap_or_default();
        // Read again under a new mapping, the upload's earlier reading is in the calendar: then
        // every other batch's own report says the span instead (a rare, slower path).
        let rereading = counted.iter().any(|b| file_name(b).strip_suffix(".parquet") == Some(except));
        if !rereading && let Some(blob) = self.silver.get(&calendar_path).await? {
            let calendar = features::read_parquet(&blob.body).map_err(|e| table(CALENDAR_PATH, &e))?;
            let dates = calendar
                .column("date")
                .and_then(|c| c.date().cloned())
                .map_err(|e| table(CALENDAR_PATH, &e))?;
            let days = || dates.as_date_iter().flatten();
            if let (Some(first), Some(last)) = (days().min(), days().max()) {
                widen(first, last);
            }
        }
        for batch in self.silver.list(TRANSACTIONS_PREFIX).await? {
            let Some(sha) = file_name(&batch.path).strip_suffix(".parquet") else { continue };
            if sha == except || (!rereading && counted.contains(&batch.path)) {
                continue;
            }
            let path = report_path(UploadKind::Transactions, sha);
            let Some(blob) = self.silver.get(&path).await? else { continue };
            let report: QualityReport = serde_json::from_slice(&blob.body).map_err(|e| table(&path, &e))?;
            if let Some(range) = report.date_range {
                widen(range.min.date(), range.max.date());
            }
        }
        Ok(span)
    }

    /// Recomputes the feature tables from every silver transactions batch (oldest first) and
    /// publishes them as one snapshot ([`features::snapshot`]). When another refresh publishes
    /// first, this one recomputes from the batches then present (up to
    /// [`REFRESH_ATTEMPTS`] times), so the last snapshot published covers every batch.
    pub async fn refresh_features(&self) -> Result<FeatureCounts, IngestError> {
        let mut attempt = 1;
        loop {
            let read = features::snapshot::current(&*self.silver).await?;
            let mut batches = self.silver.list(TRANSACTIONS_PREFIX).await?;
            batches.retain(|b| b.path.ends_with(".parquet"));
            batches.sort_by(bronze::upload_order);
            let mut bodies = Vec::with_capacity(batches.len());
            let mut paths = Vec::with_capacity(batches.len());
            for batch in &batches {
                if let Some(blob) = self.silver.get(&batch.path).await? {
                    bodies.push(blob.body);
                    paths.push(batch.path.clone());
                }
            }
            let (files, counts) = tokio::task::spawn_blocking(move || feature_files(&bodies))
                .await
                .map_err(|e| IngestError::Table(format!("feature task failed: {e}")))??;
            match features::snapshot::publish(&*self.silver, files, paths, counts.sales_end, read).await {
                Ok(snapshot) => {
                    let pruned = features::snapshot::prune(&*self.silver).await?;
                    tracing::info!(
                        snapshot = snapshot.id,
                        ?counts,
                        pruned = pruned.len(),
                        "features refreshed"
                    );
                    return Ok(counts);
                }
                Err(StoreError::Precondition { .. } | StoreError::AlreadyExists { .. })
                    if attempt < REFRESH_ATTEMPTS =>
                {
                    tracing::info!(attempt, "another refresh published features first: recomputing");
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Row counts of the refreshed feature tables, for logs and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureCounts {
    /// Transaction batches read.
    pub batches: usize,
    /// Customer x item rows.
    pub interactions: usize,
    /// Calendar days (open and closed).
    pub calendar_days: usize,
    /// SKU x open-day rows.
    pub daily_demand: usize,
    /// Customers.
    pub rfm_customers: usize,
    /// Product SKUs sold.
    pub items: usize,
    /// Invoice x SKU basket rows.
    pub basket_lines: usize,
    /// The newest day of sales (the calendar's last day; `None` without sales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_end: Option<chrono::NaiveDate>,
}

/// Reads the batches, refreshes the features, and renders each table to its path and bytes.
fn feature_files(bodies: &[Bytes]) -> Result<(Vec<(String, Bytes)>, FeatureCounts), IngestError> {
    let table = |e: features::FeatureError| IngestError::Table(e.to_string());
    let batches: Vec<DataFrame> =
        bodies.iter().map(|b| features::read_batch(b)).collect::<Result<_, _>>().map_err(table)?;
    let batch_count = batches.len();
    let mut tables = features::refresh(batches).map_err(table)?;
    let counts = FeatureCounts {
        batches: batch_count,
        interactions: tables.interactions.height(),
        calendar_days: tables.calendar.height(),
        daily_demand: tables.daily_demand.height(),
        rfm_customers: tables.rfm_inputs.height(),
        items: tables.items.height(),
        basket_lines: tables.baskets.height(),
        sales_end: tables
            .calendar
            .column("date")
            .and_then(|c| c.date().cloned())
            .map_err(|e| IngestError::Table(e.to_string()))?
            .as_date_iter()
            .flatten()
            .max(),
    };
    let closed: Vec<String> = tables.closed_weekdays.iter().map(ToString::to_string).collect();
    let closed = serde_json::to_vec(&closed).map_err(|e| IngestError::Table(e.to_string()))?;
    let files = vec![
        (INTERACTIONS_PATH.to_owned(), features::write_parquet(&mut tables.interactions).map_err(table)?),
        (CALENDAR_PATH.to_owned(), features::write_parquet(&mut tables.calendar).map_err(table)?),
        (DAILY_DEMAND_PATH.to_owned(), features::write_parquet(&mut tables.daily_demand).map_err(table)?),
        (RFM_INPUTS_PATH.to_owned(), features::write_parquet(&mut tables.rfm_inputs).map_err(table)?),
        (ITEMS_PATH.to_owned(), features::write_parquet(&mut tables.items).map_err(table)?),
        (BASKETS_PATH.to_owned(), features::write_parquet(&mut tables.baskets).map_err(table)?),
        (CLOSED_WEEKDAYS_PATH.to_owned(), Bytes::from(closed)),
    ];
    Ok((files, counts))
}
