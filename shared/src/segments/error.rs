//! Segmentation errors.

/// Why segments could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// Parameters out of range.
    #[error("invalid segment parameters: {0}")]
    Params(String),
    /// Too few customers for the smallest k.
    #[error("{customers} customers cannot form {k} segments (at least two per segment are needed)")]
    TooFewCustomers {
        /// Customers available.
        customers: usize,
        /// Segments asked for.
        k: usize,
    },
    /// A row of `rfm_inputs` lacks a value.
    #[error("rfm_inputs row {row} has a missing value")]
    MissingValue {
        /// The row.
        row: usize,
    },
    /// No k in the range passed the guard against degenerate splits.
    #[error("no k in {k_min}..={k_max} gives segments of at least {min_size} customers each")]
    AllDegenerate {
        /// Range start.
        k_min: usize,
        /// Range end.
        k_max: usize,
        /// The guard's minimum size.
        min_size: usize,
    },
    /// A fixed k left a segment without customers.
    #[error(
        "k = {k} leaves a segment empty: the customers' RFM values form fewer than {k} distinct groups; choose a smaller k"
    )]
    EmptySegment {
        /// The k asked for.
        k: usize,
    },
    /// The reference date falls before the last sale.
    #[error(
        "the reference date {reference} is before the last sale ({last_sale}): recency cannot be measured there \
         (use a date on or after {last_sale}, or cut the transactions first)"
    )]
    ReferenceBeforeLastSale {
        /// The date asked for.
        reference: chrono::NaiveDate,
        /// The day of the last customer sale.
        last_sale: chrono::NaiveDate,
    },
    /// k-means failed.
    #[error("k-means: {0}")]
    KMeans(String),
    /// Reading the table failed.
    #[error("table: {0}")]
    Table(#[from] polars::error::PolarsError),
}
