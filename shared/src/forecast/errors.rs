//! What can go wrong when reading a demand history or fitting forecasters.

/// Why a demand history could not be read or a forecaster could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// A row of an input file breaks its format; names the file, line (header = 1) and column.
    #[error("{file}:{line}: column `{column}`: {reason}")]
    InvalidRow {
        /// The file as given.
        file: String,
        /// 1-based line in the file (the header is line 1).
        line: u64,
        /// The column name (or `header` for a header problem).
        column: String,
        /// What is wrong with it.
        reason: String,
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
    /// A parameter is outside its documented range (`check()` refused it).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParams {
        /// The parameter.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// Nothing to fit on: no rows, or a holdout at least as long as the history.
    #[error("not enough history: {0}")]
    NotEnoughHistory(String),
}
