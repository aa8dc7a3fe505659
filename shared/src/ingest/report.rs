//! The data-quality report of one upload: what was read, accepted and quarantined (by reason),
//! completeness and distinct counts per column, date range, duplicates, freshness, the retail
//! counts for transactions, and a pass/warn/fail verdict against thresholds from settings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::encoding::{EncodingSource, TextEncoding};
use super::error::FileError;
use super::schema::UploadKind;
use super::transactions::RetailCounts;
use super::validate::QuarantinedRow;
use crate::settings::{Settings, SettingsError};

/// Verdict thresholds (settings `INGEST_QUARANTINE_WARN`, `INGEST_QUARANTINE_FAIL`,
/// `INGEST_STALE_WARN_DAYS`, `INGEST_GAP_WARN_DAYS`, `INGEST_DUPLICATE_WARN`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Quarantined share of rows from which the verdict is `warn` (default 1%).
    pub quarantine_warn: f64,
    /// Quarantined share of rows from which the verdict is `fail` (default 25%).
    pub quarantine_fail: f64,
    /// Days between the newest row and the upload from which the verdict is `warn` (default 30).
    pub stale_warn_days: f64,
    /// Days between a transactions upload and the sales ingested before it (after their last
    /// day or before their first) from which the verdict is `warn` (default 30).
    #[serde(default = "default_gap_warn_days")]
    pub gap_warn_days: f64,
    /// Share of a transactions upload's lines repeating an earlier line exactly from which the
    /// verdict is `warn` (default 10%; Online Retail's are 1%): an export holding every line
    /// twice doubles the demand it adds.
    #[serde(default = "default_duplicate_warn")]
    pub duplicate_warn: f64,
}

fn default_gap_warn_days() -> f64 {
    30.0
}

fn default_duplicate_warn() -> f64 {
    0.1
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            quarantine_warn: 0.01,
            quarantine_fail: 0.25,
            stale_warn_days: 30.0,
            gap_warn_days: default_gap_warn_days(),
            duplicate_warn: default_duplicate_warn(),
        }
    }
}

impl Thresholds {
    /// Thresholds from settings, defaults where unset.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let d = Self::default();
        Ok(Self {
            quarantine_warn: settings.parse_or("INGEST_QUARANTINE_WARN", d.quarantine_warn)?,
            quarantine_fail: settings.parse_or("INGEST_QUARANTINE_FAIL", d.quarantine_fail)?,
            stale_warn_days: settings.parse_or("INGEST_STALE_WARN_DAYS", d.stale_warn_days)?,
            gap_warn_days: settings.parse_or("INGEST_GAP_WARN_DAYS", d.gap_warn_days)?,
            duplicate_warn: match settings.parse_or("INGEST_DUPLICATE_WARN", d.duplicate_warn)? {
                share if share > 0.0 && share <= 1.0 => share,
                _ => {
                    return Err(SettingsError::Invalid {
                        name: "INGEST_DUPLICATE_WARN".into(),
                        reason: "must be a share above 0 and at most 1".into(),
                    });
                }
            },
        })
    }
}

/// The overall judgement of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Good to use.
    Pass,
    /// Used, but look at the reasons.
    Warn,
    /// Not used (file error, or too many bad rows): the raw upload is kept in bronze.
    Fail,
}

/// First and last timestamp among accepted rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// Earliest.
    pub min: NaiveDateTime,
    /// Latest.
    pub max: NaiveDateTime,
}

/// How recent the data is relative to its upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    /// Newest row's timestamp (shop-local).
    pub newest_row: NaiveDateTime,
    /// When the upload was written.
    pub uploaded_at: DateTime<Utc>,
    /// Days between the two (treating shop time as UTC).
    pub age_days: f64,
}

/// The longest run of days without any sale that a transactions upload leaves, against the
/// sales ingested before it or among its own: a shop closed that long, or dates shifted by a
/// wrong year or format (one mistyped invoice is enough). Every customer's recency and every
/// SKU's trend jump across it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesGap {
    /// Whole days without a sale, the two ends excluded.
    pub days: i64,
    /// The last day with a sale before the gap.
    pub from: NaiveDate,
    /// The first day with a sale after it.
    pub to: NaiveDate,
    /// Where the gap lies.
    pub side: GapSide,
}

/// Where a [`SalesGap`] lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapSide {
    /// Between the sales ingested before and the upload's, which come after them.
    After,
    /// Between the upload's sales and the sales ingested before, which come after them (a
    /// backfill).
    Before,
    /// Among the upload's own sales, with none ingested before in between.
    Within,
}

impl SalesGap {
    /// The longest gap between the days with sales in an upload (`days`, any order) and the
    /// span of the sales ingested before it (`before`, taken as one block), if any.
    #[must_use]
    pub fn largest(days: &[NaiveDate], before: Option<(NaiveDate, NaiveDate)>) -> Option<Self> {
        let mut blocks: Vec<(NaiveDate, NaiveDate, bool)> = days.iter().map(|&d| (d, d, false)).collect();
        blocks.extend(before.map(|(first, last)| (first, last, true)));
        blocks.sort_unstable();
        // Merge overlapping blocks; the widest hole between what is left is the gap.
        let mut merged: Vec<(NaiveDate, NaiveDate, bool)> = Vec::with_capacity(blocks.len());
        for (first, last, earlier) in blocks {
            match merged.last_mut() {
                Some(open) if first <= open.1 => {
                    open.1 = open.1.max(last);
                    open.2 |= earlier;
                }
                _ => merged.push((first, last, earlier)),
            }
        }
        merged
            .windows(2)
            .map(|pair| {
                let side = match (pair[0].2, pair[1].2) {
                    (true, _) => GapSide::After,
                    (_, true) => GapSide::Before,
                    _ => GapSide::Within,
                };
                Self { days: (pair[1].0 - pair[0].1).num_days() - 1, from: pair[0].1, to: pair[1].0, side }
            })
            .filter(|gap| gap.days > 0)
            .max_by_key(|gap| gap.days)
    }
}

/// The distinct days of a timestamp column, sorted.
pub fn days_of(frame: &DataFrame, column: &str) -> PolarsResult<Vec<NaiveDate>> {
    let Ok(column) = frame.column(column) else { return Ok(Vec::new()) };
    let millis = column.cast(&DataType::Int64)?;
    let mut days: Vec<NaiveDate> = millis
        .i64()?
        .iter()
        .flatten()
        .filter_map(|ms| DateTime::from_timestamp_millis(ms).map(|t| t.date_naive()))
        .collect();
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// Where an upload's outputs went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The raw bytes, content-addressed, in the bronze container.
    pub bronze: String,
    /// The typed rows in the silver container.
    pub silver: Option<String>,
    /// The quarantined rows (JSON lines) in the quarantine container.
    pub quarantine: Option<String>,
    /// This report in the silver container.
    pub report: String,
}

/// The data-quality report of one upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// The upload's path in the uploads container.
    pub file: String,
    /// What it holds.
    pub kind: UploadKind,
    /// sha256 of its bytes.
    pub sha256: String,
    /// `csv`, `json_lines` or `parquet`, when the file could be read that far.
    pub format: Option<String>,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// Whether these exact bytes had been ingested before (then nothing was counted again).
    /// Bytes that failed are read again under another mapping ([`QualityReport::mapping`]).
    pub duplicate_upload: bool,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Rows that passed validation.
    pub rows_accepted: u64,
    /// Rows refused; `rows_read = rows_accepted + rows_quarantined` always.
    pub rows_quarantined: u64,
    /// Refused rows per reason code.
    pub quarantined_by_reason: BTreeMap<String, u64>,
    /// Share of accepted rows with a value, per canonical column.
    pub completeness: BTreeMap<String, f64>,
    /// Distinct values among accepted rows, per canonical column.
    pub distinct: BTreeMap<String, u64>,
    /// First and last timestamp.
    pub date_range: Option<DateRange>,
    /// Newest row vs upload time.
    pub freshness: Option<Freshness>,
    /// Retail counts (transactions only).
    pub retail: Option<RetailCounts>,
    /// Timestamps read month first (`M/D/YYYY`, the default) when every one of them would read
    /// day first too: the report warns, and the same bytes are read again under a mapping that
    /// names a `date_format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_first_unsure: Option<u64>,
    /// Set when the timestamps were read day first (`D/M/YYYY`) because some could be read no
    /// other way and none only month first: how many proved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates_read_day_first: Option<u64>,
    /// Optional canonical columns the upload does not have (left empty in silver).
    #[serde(default)]
    pub absent_columns: Vec<String>,
    /// Columns the upload has that no canonical column reads (passed over), at most 200.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread_columns: Vec<String>,
    /// The encoding the text was read in, when it was not UTF-8, and how that was decided
    /// ([`super::encoding`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TextEncoding>,
    /// Days without sales between this transactions upload and the sales ingested before it
    /// (null when it touches or overlaps them, or is the first).
    #[serde(default)]
    pub sales_gap: Option<SalesGap>,
    /// The first quarantined rows, for a quick look (all are in the quarantine file).
    pub quarantine_sample: Vec<QuarantinedRow>,
    /// Pass, warn or fail.
    pub verdict: Verdict,
    /// Why the verdict is not `pass`.
    pub verdict_reasons: Vec<String>,
    /// The file-level error, when the file could not be read as a table.
    pub error: Option<FileError>,
    /// Whether the feature tables were refreshed after this upload.
    pub features_refreshed: bool,
    /// Where everything went.
    pub outputs: Outputs,
    /// When the upload was written.
    pub uploaded_at: DateTime<Utc>,
    /// When the ingest ran.
    pub ingested_at: DateTime<Utc>,
    /// The sha256 of the column mapping it was read under (`None` in reports written before it
    /// was kept): a failed upload sent again under another mapping is read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    /// When the upload was withdrawn ([`super::Ingestor::withdraw`]): its silver table moved
    /// aside, it counts no longer, and the same bytes uploaded after it are read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// Per-column completeness and distinct counts of a validated frame (`line` excluded).
pub fn profile(frame: &DataFrame) -> PolarsResult<(BTreeMap<String, f64>, BTreeMap<String, u64>)> {
    let mut completeness = BTreeMap::new();
    let mut distinct = BTreeMap::new();
    let height = frame.height().max(1) as f64;
    for column in frame.columns() {
        let name = column.name().to_string();
        if name == "line" || name == "batch" {
            continue;
        }
        completeness.insert(name.clone(), (frame.height() - column.null_count()) as f64 / height);
        distinct.insert(name, column.drop_nulls().n_unique()? as u64);
    }
    Ok((completeness, distinct))
}

/// Each unread column whose folded name is an edit or two from an absent column's name or one
/// of its aliases of at least 8 letters (one edit below 10 letters, two from 10): shorter names
/// are a letter from ordinary headers (`Time` from `title`, `County` from `country`).
fn near_misses<'a>(
    kind: UploadKind,
    unread: &'a [String],
    absent: &[String],
) -> Vec<(&'a str, &'static str)> {
    let mut found = Vec::new();
    for name in unread {
        let folded = super::schema::fold_header(name);
        let meant = kind.columns().iter().filter(|c| absent.iter().any(|a| a == c.name)).find(|c| {
            std::iter::once(c.name).chain(c.aliases.iter().copied()).any(|known| {
                let known = super::schema::fold_header(known);
                let edits = if known.len() < 10 { 1 } else { 2 };
                known.len() >= 8 && known != folded && strsim::levenshtein(&known, &folded) <= edits
            })
        });
        if let Some(column) = meant {
            found.push((name.as_str(), column.name));
        }
    }
    found
}

/// The date range of a timestamp column, if it has values.
pub fn date_range(frame: &DataFrame, column: &str) -> PolarsResult<Option<DateRange>> {
    let Ok(column) = frame.column(column) else { return Ok(None) };
    let millis = column.cast(&DataType::Int64)?;
    let millis = millis.i64()?;
    let to_time = |ms: i64| DateTime::from_timestamp_millis(ms).map(|t| t.naive_utc());
    Ok(match (millis.min().and_then(to_time), millis.max().and_then(to_time)) {
        (Some(min), Some(max)) => Some(DateRange { min, max }),
        _ => None,
    })
}

impl QualityReport {
    /// Whether reading the same bytes under another mapping may count them otherwise: the
    /// upload failed, or its dates were read month first where day first could be meant, or
    /// rows were refused as invalid UTF-8 (a mapping names the encoding).
    #[must_use]
    pub fn another_mapping_may_change(&self) -> bool {
        self.verdict == Verdict::Fail
            || self.month_first_unsure.is_some()
            || self.quarantined_by_reason.contains_key("invalid_utf8")
    }

    /// Sets the verdict from the counts, the file error and the thresholds.
    pub fn judge(&mut self, thresholds: &Thresholds) {
        let mut reasons = Vec::new();
        let mut verdict = Verdict::Pass;
        if let Some(error) = &self.error {
            reasons.push(format!("the file could not be read: {error}"));
            verdict = Verdict::Fail;
        } else if self.rows_read == 0 {
            // A header and no rows: an export of a day without sales, or one cut short. Nothing
            // to count either way, and nothing to refuse.
            reasons.push("the upload holds no rows: nothing was added".to_owned());
            verdict = Verdict::Warn;
        } else if self.rows_accepted == 0 {
            reasons.push("no row was accepted".to_owned());
            verdict = Verdict::Fail;
        } else {
            let share = self.rows_quarantined as f64 / self.rows_read.max(1) as f64;
            if share >= thresholds.quarantine_fail {
                reasons.push(format!(
                    "{:.1}% of rows quarantined (fail at {:.1}%)",
                    share * 100.0,
                    thresholds.quarantine_fail * 100.0
                ));
                verdict = Verdict::Fail;
            } else if share >= thresholds.quarantine_warn {
                reasons.push(format!(
                    "{:.2}% of rows quarantined (warn at {:.2}%)",
                    share * 100.0,
                    thresholds.quarantine_warn * 100.0
                ));
                verdict = Verdict::Warn;
            }
            if let Some(read) = self.month_first_unsure {
                reasons.push(format!(
                    "{read} timestamps were read month first (M/D/YYYY) and every one reads day first \
                     too: if the shop writes the day first, set date_format = \"%d/%m/%Y %H:%M\" in the \
                     mapping and upload the file again (it is then read again)"
                ));
                verdict = verdict.max_with(Verdict::Warn);
            }
            if self.kind == UploadKind::Transactions && self.absent_columns.iter().any(|c| c == "customer_id")
            {
                // A day of guest sales only is ordinary; a file without the column is a mapping
                // that missed it.
                reasons.push(
                    "the file has no customer column, so no row names a customer: personal \
                     recommendations, \"also bought\" lists and segments learn nothing from it (if \
                     the shop's export has one under another name, map it to customer_id)"
                        .to_owned(),
                );
                verdict = verdict.max_with(Verdict::Warn);
            }
            // A column passed over whose name is one letter or two from a column the upload
            // lacks: a typo (`discontinue`) would leave every line on sale without a word.
            for (unread, meant) in near_misses(self.kind, &self.unread_columns, &self.absent_columns) {
                reasons.push(format!(
                    "column {unread:?} is not read: did you mean {meant:?}? Rename it, or map it in the \
                     folder's _mapping.toml, and upload the file again (until then every row reads \
                     {meant} as empty)"
                ));
                verdict = verdict.max_with(Verdict::Warn);
            }
            // One row per product: a code listed twice is a conflict the reader settles silently.
            if let Some(&codes) = self.distinct.get("stock_code")
                && codes < self.rows_accepted
                && self.kind != UploadKind::Transactions
            {
                let repeated = self.rows_accepted - codes;
                reasons.push(if self.kind == UploadKind::Inventory {
                    format!(
                        "{repeated} rows repeat a stock code of an earlier row: the alerts refuse a count \
                         that lists a SKU twice (one row per SKU: add up its locations)"
                    )
                } else {
                    format!(
                        "{repeated} rows repeat a stock code of an earlier row: the last row of each code \
                         is the one read (is this a transactions export in catalog/?)"
                    )
                });
                verdict = verdict.max_with(Verdict::Warn);
            }
            if let Some(gap) = &self.sales_gap
                && gap.days as f64 >= thresholds.gap_warn_days
            {
                let said = match gap.side {
                    GapSide::After => format!(
                        "its first sale ({}) follows the last sale ingested before it ({}) after {} days without a sale",
                        gap.to, gap.from, gap.days
                    ),
                    GapSide::Before => format!(
                        "its last sale ({}) precedes the first sale ingested before it ({}) by {} days without a sale",
                        gap.from, gap.to, gap.days
                    ),
                    GapSide::Within => format!(
                        "its own sales leave {} days without a sale between {} and {}",
                        gap.days, gap.from, gap.to
                    ),
                };
                reasons.push(format!(
                    "{said} (warn at {:.0}): if the shop was not closed that long, check the dates (a wrong \
                     year or day/month order; an upload of the corrected file replaces these invoices); \
                     customers' recency and the forecasts read the gap as a closed shop",
                    thresholds.gap_warn_days
                ));
                verdict = verdict.max_with(Verdict::Warn);
            }
            if let Some(r) = &self.retail {
                let share = r.exact_duplicate_lines as f64 / self.rows_accepted.max(1) as f64;
                if share >= thresholds.duplicate_warn {
                    reasons.push(format!(
                        "{} of {} lines ({:.1}%) repeat an earlier line exactly (warn at {:.0}%): each \
                         counts as sold, so an export that holds its lines twice doubles the demand it \
                         adds (upload the corrected file under the same name to replace it)",
                        r.exact_duplicate_lines,
                        self.rows_accepted,
                        share * 100.0,
                        thresholds.duplicate_warn * 100.0
                    ));
                    verdict = verdict.max_with(Verdict::Warn);
                }
                if r.prefixed_sale_lines > 0 && r.cancellation_lines + r.bad_debt_lines > 0 {
                    let (lines, are) =
                        if r.prefixed_sale_lines == 1 { ("line", "is") } else { ("lines", "are") };
                    reasons.push(format!(
                        "{} {lines} of invoices starting with C or A {are} read as sales (a positive \
                         quantity, or a product code), while {} are cancellations or bad debt: a \
                         cancellation is a C invoice's line with a negative quantity, so if those are \
                         cancellations too, export them with a negative quantity",
                        r.prefixed_sale_lines,
                        r.cancellation_lines + r.bad_debt_lines
                    ));
                    verdict = verdict.max_with(Verdict::Warn);
                }
            }
            if let Some(freshness) = &self.freshness
                && freshness.age_days >= thresholds.stale_warn_days
            {
                reasons.push(format!(
                    "the newest row is {:.0} days older than the upload (warn at {:.0})",
                    freshness.age_days, thresholds.stale_warn_days
                ));
                verdict = verdict.max_with(Verdict::Warn);
            }
        }
        self.verdict = verdict;
        self.verdict_reasons = reasons;
    }

    /// A readable summary, a few lines long.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let verdict = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        let _ = writeln!(
            out,
            "{verdict} {} ({}, sha256 {})",
            self.file,
            self.kind,
            &self.sha256[..12.min(self.sha256.len())]
        );
        if self.duplicate_upload && self.verdict == Verdict::Fail {
            let _ = writeln!(
                out,
                "  the same bytes failed before under the same mapping, and nothing of them was counted: fix \
                 the file or its folder's mapping and upload it again"
            );
        } else if let (true, Some(at)) = (self.duplicate_upload, self.withdrawn_at) {
            let _ = writeln!(
                out,
                "  these bytes were withdrawn at {}: not counted (upload them again to count them)",
                at.format("%Y-%m-%d %H:%M UTC")
            );
        } else if self.duplicate_upload {
            let _ = writeln!(out, "  the same bytes were ingested before: counted once, nothing changed");
        }
        if let Some(error) = &self.error {
            let _ = writeln!(out, "  error: {error}");
        }
        if self.verdict == Verdict::Fail && !self.duplicate_upload {
            let _ = writeln!(
                out,
                "  nothing was added to silver, not even the rows that passed: fix the file or its folder's mapping and upload it again (the bronze copy and the quarantined rows are kept)"
            );
        }
        let _ = writeln!(
            out,
            "  rows read {}, accepted {}, quarantined {}",
            self.rows_read, self.rows_accepted, self.rows_quarantined
        );
        for (reason, n) in &self.quarantined_by_reason {
            let _ = writeln!(out, "    {reason}: {n}");
        }
        for row in self.quarantine_sample.iter().take(3) {
            let column = row.column.as_deref().map(|c| format!(" column {c}")).unwrap_or_default();
            let _ = writeln!(out, "    e.g. {}:{}{column}: {}", row.file, row.line, row.message);
        }
        if let Some(range) = &self.date_range {
            let _ = writeln!(out, "  dates {} .. {}", range.min, range.max);
        }
        if let Some(encoding) = &self.encoding {
            let why = match encoding.from {
                EncodingSource::ByteOrderMark => "as its byte-order mark says",
                EncodingSource::Mapping => "as the mapping says",
                EncodingSource::Content => {
                    "as it holds no UTF-8 (if accented letters look wrong, set `encoding` in the folder's mapping \
                     for the next exports)"
                }
            };
            let _ = writeln!(out, "  text read as {} {why}", encoding.name);
        }
        if let Some(proof) = self.dates_read_day_first {
            let _ = writeln!(
                out,
                "  dates read day first (D/M/YYYY): {proof} could be read no other way, none only month first"
            );
        }
        if let Some(r) = &self.retail {
            let _ = writeln!(
                out,
                "  invoices {}, stock codes {} ({} case-normalised), customers {}, countries {}",
                r.invoices, r.stock_codes_raw, r.stock_codes, r.customers, r.countries
            );
            let _ = writeln!(
                out,
                "  cancellation lines {}, adjustments {}, bad debt {}, sales on C or A invoices {}, zero price {}, no customer {}, non-product {}, exact duplicates {}",
                r.cancellation_lines,
                r.adjustment_lines,
                r.bad_debt_lines,
                r.prefixed_sale_lines,
                r.zero_price_lines,
                r.lines_without_customer,
                r.non_product_lines,
                r.exact_duplicate_lines
            );
        }
        for reason in &self.verdict_reasons {
            let _ = writeln!(out, "  {reason}");
        }
        if self.features_refreshed {
            let _ = writeln!(out, "  features refreshed");
        }
        out
    }
}

impl Verdict {
    fn max_with(self, other: Self) -> Self {
        let rank = |v: Self| match v {
            Self::Pass => 0,
            Self::Warn => 1,
            Self::Fail => 2,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duplicate_share_must_be_a_share_above_zero() {
        let with = |value: &str| {
            let settings =
                Settings::from_values([("INGEST_DUPLICATE_WARN".to_owned(), value.to_owned())].into(), None)
                    .unwrap();
            Thresholds::from_settings(&settings)
        };
        assert_eq!(with("0.25").unwrap().duplicate_warn, 0.25);
        assert_eq!(with("1").unwrap().duplicate_warn, 1.0);
        for bad in ["0", "-0.1", "1.5", "NaN"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(
                err.contains("INGEST_DUPLICATE_WARN") && err.contains("above 0 and at most 1"),
                "{bad}: {err}"
            );
        }
    }
}
