//! The one error type every storage backend returns, with variants that carry meaning.

use std::error::Error as StdError;

/// What went wrong in a store. Backends map their wire errors onto these variants so that
/// callers can act on meaning (`Precondition` means "re-read and retry", `is_transient` means
/// "let the host retry the invocation") without knowing which backend they talk to.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create-only write found the blob or document already there (HTTP 409/412 on the wire).
    #[error("{what} already exists")]
    AlreadyExists {
        /// The blob path or `partition/id` that exists.
        what: String,
    },
    /// A conditional write's ETag no longer matches what is stored (HTTP 412 on the wire).
    #[error("precondition failed for {what}: it changed since it was read (ETag mismatch)")]
    Precondition {
        /// The blob path or `partition/id` that changed.
        what: String,
    },
    /// A conditional write targeted something that does not exist. Reads never return this:
    /// they return `Ok(None)`.
    #[error("{what} was not found")]
    NotFound {
        /// The blob path or `partition/id` that is missing.
        what: String,
    },
    /// The caller passed something no backend accepts (a bad path, name, field or metadata key).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid (`blob path "a//b"`, `metadata key "x-y"`, ...).
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Settings do not describe a usable backend.
    #[error("storage configuration: {0}")]
    Config(String),
    /// The backend itself failed (I/O, network, a 5xx, a parse error of its answer).
    #[error("{backend} failed: {message}")]
    Backend {
        /// Which backend (`folder`, `embedded`, `azure-blob`, `cosmos`).
        backend: &'static str,
        /// What it was doing and what it said.
        message: String,
        /// Whether retrying the same call later may succeed (timeouts, 429, 5xx, I/O).
        transient: bool,
        /// The underlying error, for logs.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
}

impl StoreError {
    /// Whether the same call may succeed later, so an invocation should fail and be retried
    /// rather than be answered as permanently done.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Backend { transient: true, .. })
    }

    /// Shorthand for an [`StoreError::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { what: what.into(), reason: reason.into() }
    }

    /// Shorthand for a [`StoreError::Backend`] wrapping a source error.
    pub fn backend(
        backend: &'static str,
        message: impl Into<String>,
        transient: bool,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self::Backend { backend, message: message.into(), transient, source: Some(source.into()) }
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;
