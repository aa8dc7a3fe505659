//! What can go wrong in a feature refresh: a batch that breaks the silver contract, or polars.

use polars::prelude::PolarsError;

/// Why a feature refresh or a feature table (de)serialisation failed.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// A batch lacks a column of the silver transactions contract (`tables.rs`).
    #[error("{table}: missing column `{column}`")]
    MissingColumn {
        /// Which table, e.g. `transactions batch 2` (0-based position in the slice given).
        table: String,
        /// The missing column.
        column: &'static str,
    },
    /// A column has another type than the contract says.
    #[error("{table}: column `{column}` is {found}, expected {expected}")]
    WrongType {
        /// Which table.
        table: String,
        /// The column.
        column: &'static str,
        /// The type in `tables.rs`, as polars names it (`i64`, `datetime[ms]`, ...).
        expected: String,
        /// The type found, as polars names it.
        found: String,
    },
    /// A column the contract declares non-nullable holds nulls.
    #[error("{table}: column `{column}` has {count} null values")]
    NullValues {
        /// Which table.
        table: String,
        /// The column.
        column: &'static str,
        /// How many nulls.
        count: usize,
    },
    /// A `kind` outside `sale`, `cancellation`, `adjustment`, `bad_debt`: the rules below would
    /// silently drop such lines, so they are refused instead.
    #[error("{table}: unknown line kind `{kind}`")]
    UnknownKind {
        /// Which table.
        table: String,
        /// The value found.
        kind: String,
    },
    /// Polars failed while computing, writing or reading a table.
    #[error(transparent)]
    Polars(#[from] PolarsError),
}
