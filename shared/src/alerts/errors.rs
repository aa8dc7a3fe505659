//! What can go wrong when reading an inventory snapshot, checking a policy or replaying it.

use crate::forecast::ForecastError;

/// Why an inventory snapshot, a demand path or an alert policy was refused, or a backtest failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A table's row breaks the inventory format; names the file, line (a CSV's header = 1, a
    /// Parquet file's first row = 1) and column.
    #[error("{file}:{line}: column {column}: {reason}")]
    InvalidRow {
        /// The file as given.
        file: String,
        /// 1-based line in the file (the header is line 1).
        line: u64,
        /// The column name (`header` for a header without a usable name).
        column: String,
        /// What is wrong with it, quoting the value as written.
        reason: String,
    },
    /// A column of a table without lines (Parquet) is unknown, repeated or missing.
    #[error("{file}: column {column}: {reason}")]
    InvalidColumn {
        /// The file as given.
        file: String,
        /// The column's name in the file, or the canonical name of a missing one.
        column: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An upload that cannot be read as a table at all (not gzip, not Parquet, too large, ...).
    #[error(transparent)]
    Unreadable(#[from] crate::ingest::FileError),
    /// An item of a JSON snapshot is wrong; names the item's index in `items` and the field.
    #[error("items[{index}]: field {field}: {reason}")]
    InvalidItem {
        /// 0-based index in the payload's `items` array.
        index: usize,
        /// The field.
        field: String,
        /// What is wrong with it, quoting the value as sent.
        reason: String,
    },
    /// A JSON snapshot is not an object with an `items` array (or has an unknown top-level field).
    #[error("inventory payload: {reason}")]
    InvalidPayload {
        /// What is wrong with it.
        reason: String,
    },
    /// A snapshot without a single row: an empty file, a header alone, or `items: []`.
    #[error("{source_name}: the snapshot has no inventory rows")]
    Empty {
        /// The file, or `payload` for JSON.
        source_name: String,
    },
    /// A snapshot id given by the caller that cannot serve as a document key.
    #[error("snapshot id {id:?}: {reason}")]
    InvalidSnapshotId {
        /// The id as given.
        id: String,
        /// Why it is refused.
        reason: String,
    },
    /// A file holding a snapshot in the event's shape (one JSON object with `items`) is wrong
    /// where the event would be ([`AlertError::InvalidItem`], [`AlertError::InvalidPayload`]).
    #[error("{file}: {source}")]
    InDocument {
        /// The file as given.
        file: String,
        /// What is wrong with its content.
        #[source]
        source: Box<AlertError>,
    },
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file as given.
        file: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The day a snapshot says its stock was counted cannot be judged: after the day it was
    /// sent (a typo such as 9999-12-09 would otherwise stand as the latest snapshot for ever),
    /// or before the live forecast starts (its demand path has no days for the time between).
    #[error("snapshot counted on {as_of}: {reason}")]
    CountedDay {
        /// The day the snapshot names.
        as_of: chrono::NaiveDate,
        /// Why it cannot be judged.
        reason: String,
    },
    /// An event sent more than [`super::inventory::CLOCK_SKEW`] after now: a wrong clock or a
    /// typo. Taken at its word, its day would be the snapshot's (or bound it), and it would stand
    /// as the latest snapshot for ever.
    #[error(
        "snapshot sent at {sent}, more than a day after now ({now}): a wrong clock or date; \
         stock cannot be counted in the future"
    )]
    SentInFuture {
        /// The time the event says it was sent.
        sent: chrono::DateTime<chrono::Utc>,
        /// The time it arrived.
        now: chrono::DateTime<chrono::Utc>,
    },
    /// A snapshot named by the caller was judged before and is sent again for another day or
    /// with other stock: its stored alerts are that count's, and a name is one count.
    #[error("snapshot {id:?} was judged before {reason}: another count needs another id")]
    SnapshotJudged {
        /// The caller's id.
        id: String,
        /// How this one differs from the count judged.
        reason: String,
    },
    /// None of a snapshot's SKUs has a forecast, so nothing in it could be judged: mistyped SKUs,
    /// another shop's codes, or a mapping that reads the wrong column. Refused rather than taken
    /// as the latest count, whose empty list of alerts would read as all clear.
    #[error(
        "none of the snapshot's {} SKUs has a forecast ({}): nothing was judged, and the open alerts \
         stay the latest snapshot's",
        .skus.len(),
        named_skus(.skus)
    )]
    UnknownSkus {
        /// The snapshot's SKUs.
        skus: Vec<String>,
    },
    /// A policy or backtest parameter is outside its documented range (`check()` refused it).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParams {
        /// The parameter.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// A demand path that cannot be evaluated (lengths differ, negative or missing quantiles).
    #[error("demand path of {sku}: {reason}")]
    InvalidDemandPath {
        /// The SKU the path is for.
        sku: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The forecaster failed during a backtest.
    #[error(transparent)]
    Forecast(#[from] ForecastError),
}

/// SKUs named in an error: the first ten, and how many more (a file read under the wrong mapping
/// may hold thousands).
fn named_skus(skus: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = skus.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if skus.len() > SHOWN {
        text.push_str(&format!(" and {} more", skus.len() - SHOWN));
    }
    text
}

impl AlertError {
    /// Whether the caller sent something wrong (a 4xx, or a quarantined upload) rather than the
    /// service failing: every variant except `Io` and `Forecast`.
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Io { .. } | Self::Forecast(_))
    }
}
