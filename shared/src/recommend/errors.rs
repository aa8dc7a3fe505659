//! What can go wrong while reading interactions, splitting, fitting or evaluating a recommender.

use std::path::PathBuf;

/// Why a recommender step failed.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A row of an input file is malformed; `line` is 1-based and counts the header.
    #[error("{file}:{line}: column `{column}`: {reason}")]
    InvalidRow {
        /// The file.
        file: String,
        /// 1-based line number, header included.
        line: u64,
        /// The column's name.
        column: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Hyper-parameters that cannot work (e.g. zero factors or a negative regulariser).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParams {
        /// The parameter.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// Nothing to learn from: no interactions (after filtering).
    #[error("no interactions to train on")]
    Empty,
    /// The dense closed form would not fit: too many items for a dense Gram matrix.
    #[error("{items} items exceed the dense EASE limit of {limit}; use the sparse co-occurrence model")]
    TooManyItems {
        /// Items in the training data.
        items: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The Gram matrix was not positive definite (only with a non-positive regulariser).
    #[error("matrix is not positive definite at pivot {pivot}")]
    NotPositiveDefinite {
        /// The pivot that failed.
        pivot: usize,
    },
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, RecommendError>;
