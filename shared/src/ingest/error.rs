//! Ingest errors: problems with a whole file (refused, reported, raw kept), problems with one
//! row (quarantined with a reason), and failures of the stores underneath.

use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// Why a whole file could not be read as a table. The upload is kept in bronze and the report
/// says this; the invocation is answered as done (retrying cannot help).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}{}: {message} [{code}]", location(*.line, .column.as_deref()))]
pub struct FileError {
    /// Machine-readable reason (`empty_file`, `not_a_table`, `missing_columns`, `truncated_gzip`,
    /// `invalid_parquet`, `wrong_column_type`, `too_large`, ...).
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
    /// The upload.
    pub file: String,
    /// The line, where there is one.
    pub line: Option<u64>,
    /// The column, where there is one.
    pub column: Option<String>,
}

fn location(line: Option<u64>, column: Option<&str>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line} (column {column})"),
        (Some(line), None) => format!(":{line}"),
        (None, Some(column)) => format!(" (column {column})"),
        (None, None) => String::new(),
    }
}

impl FileError {
    /// A file error without a position.
    pub fn new(file: &str, code: &str, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), file: file.into(), line: None, column: None }
    }

    /// Adds the line.
    #[must_use]
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Adds the column.
    #[must_use]
    pub fn at_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

/// Why an ingest did not complete.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A mapping file is unusable.
    #[error("mapping {file}: {message}")]
    Mapping {
        /// The mapping file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The upload path names no kind and none was given.
    #[error("cannot tell the kind of upload {path}: put it under transactions/, catalog/ or inventory/")]
    UnknownKind {
        /// The upload's path.
        path: String,
    },
    /// The upload is not there (deleted after its event, or a stale event).
    #[error("upload {path} does not exist")]
    UploadMissing {
        /// The upload's path.
        path: String,
    },
    /// A store failed; [`IngestError::is_transient`] says whether to retry.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Building or writing a table failed.
    #[error("table: {0}")]
    Table(String),
    /// [`super::Ingestor::withdraw`] found no counted upload to withdraw.
    #[error("nothing to withdraw for {which:?}: {why}")]
    NothingToWithdraw {
        /// The path or sha256 asked for.
        which: String,
        /// Why not.
        why: String,
    },
}

impl IngestError {
    /// Whether retrying the invocation later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_transient())
    }
}

impl From<polars::error::PolarsError> for IngestError {
    fn from(e: polars::error::PolarsError) -> Self {
        Self::Table(e.to_string())
    }
}
