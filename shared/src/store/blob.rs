//! The blob-like store: named byte objects in a container, with ETags and metadata.
//!
//! Modelled on a Blob Storage container (and on `object_store`'s bucket-scoped store): paths
//! are `/`-separated names inside one container; listing is by prefix, not by directory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{StoreError, StoreResult};

/// An opaque version tag: changes whenever the stored object changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ETag(pub String);

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a store knows about one blob, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMeta {
    /// Path inside the container.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Current version tag, for conditional writes.
    pub etag: ETag,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// MIME type given at write time, if any.
    pub content_type: Option<String>,
    /// User metadata given at write time (keys are lowercase identifiers, values ASCII).
    pub metadata: BTreeMap<String, String>,
}

/// A blob with its bytes.
#[derive(Debug, Clone)]
pub struct Blob {
    /// What the store knows about it.
    pub meta: BlobMeta,
    /// The bytes, exactly as written.
    pub body: Bytes,
}

/// When a put may happen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PutMode {
    /// Always write, replacing whatever is there.
    #[default]
    Overwrite,
    /// Write only if nothing is at the path (`If-None-Match: *`); else `AlreadyExists`.
    Create,
    /// Write only if the stored ETag still equals this one (`If-Match`); else `Precondition`
    /// (or `NotFound` when nothing is there).
    Update(ETag),
}

/// Options of a put.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// The write condition.
    pub mode: PutMode,
    /// MIME type to record.
    pub content_type: Option<String>,
    /// User metadata to record (replaces any previous metadata).
    pub metadata: BTreeMap<String, String>,
}

impl PutOptions {
    /// Create-only put.
    #[must_use]
    pub fn create() -> Self {
        Self { mode: PutMode::Create, ..Self::default() }
    }

    /// Put only over this ETag.
    #[must_use]
    pub fn update(etag: ETag) -> Self {
        Self { mode: PutMode::Update(etag), ..Self::default() }
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the content type.
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

/// One container of blobs. Every backend passes [`crate::store::conformance`].
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Where this store points, for messages and logs (never includes secrets).
    fn location(&self) -> String;

    /// Writes `body` at `path` under the condition in `options`.
    async fn put(&self, path: &str, body: Bytes, options: PutOptions) -> StoreResult<BlobMeta>;

    /// Reads a blob; `Ok(None)` when there is none.
    async fn get(&self, path: &str) -> StoreResult<Option<Blob>>;

    /// Reads a blob's properties without its bytes; `Ok(None)` when there is none.
    async fn head(&self, path: &str) -> StoreResult<Option<BlobMeta>>;

    /// Whether a blob is at `path`.
    async fn exists(&self, path: &str) -> StoreResult<bool> {
        Ok(self.head(path).await?.is_some())
    }

    /// Every blob whose path starts with `prefix` (plain string prefix), sorted by path.
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>>;

    /// Deletes a blob; `Ok(true)` if one was there.
    async fn delete(&self, path: &str) -> StoreResult<bool>;

    /// Deletes the blob only if its ETag is still `etag`: `Ok(true)` when deleted, `Ok(false)`
    /// when none is there, `Precondition` when it was written since. The default reads then
    /// deletes (not atomic: test doubles); the backends do it in one step.
    async fn delete_if(&self, path: &str, etag: &ETag) -> StoreResult<bool> {
        match self.head(path).await? {
            None => Ok(false),
            Some(meta) if meta.etag != *etag => Err(StoreError::Precondition { what: path.to_owned() }),
            Some(_) => self.delete(path).await,
        }
    }
}

/// A blob account: opens containers by name, creating them when missing.
#[async_trait]
pub trait BlobService: Send + Sync + fmt::Debug {
    /// Opens (and creates if needed) the container `name`.
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn BlobStore>>;
}

/// Checks a blob path: 1..=1024 bytes, `/`-separated non-empty segments, no `.`/`..`
/// segments, no backslashes or control characters, no leading or trailing `/`.
pub fn validate_path(path: &str) -> StoreResult<()> {
    let bad = |reason: &str| Err(StoreError::invalid(format!("blob path {path:?}"), reason));
    if path.is_empty() || path.len() > 1024 {
        return bad("must be 1 to 1024 bytes long");
    }
    if path.chars().any(|c| c == '\\' || c.is_control()) {
        return bad("must not contain backslashes or control characters");
    }
    for segment in path.split('/') {
        if segment.is_empty() {
            return bad("must not start or end with '/' or contain '//'");
        }
        if segment == "." || segment == ".." {
            return bad("must not contain '.' or '..' segments");
        }
    }
    Ok(())
}

/// Checks a container name the way Blob Storage does: 3..=63 characters of lowercase letters,
/// digits and single hyphens, starting and ending with a letter or digit.
pub fn validate_container_name(name: &str) -> StoreResult<()> {
    let ok = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            format!("container name {name:?}"),
            "use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
        ))
    }
}

/// Checks metadata: keys are lowercase ASCII identifiers (Blob Storage requires C# identifiers
/// and folds case), values printable ASCII (they travel as HTTP headers).
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> StoreResult<()> {
    for (key, value) in metadata {
        let key_ok = key.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(StoreError::invalid(
                format!("metadata key {key:?}"),
                "use lowercase ASCII letters, digits and '_', not starting with a digit",
            ));
        }
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(StoreError::invalid(
                format!("metadata value of {key:?}"),
                "use printable ASCII only",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_empty_or_dot_segments_are_rejected() {
        for bad in ["", "/a", "a/", "a//b", "a/../b", "./a", "a\\b", "a\nb"] {
            assert!(validate_path(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["a", "a/b.csv", "uploads/transactions/2024 01.csv.gz", "é/ü"] {
            validate_path(good).unwrap();
        }
    }

    #[test]
    fn container_names_follow_blob_storage_rules() {
        for bad in ["ab", "Upper", "-abc", "abc-", "a--b", "a_b", &"a".repeat(64)] {
            assert!(validate_container_name(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["abc", "uploads", "t-0123456789abcdef", &"a".repeat(63)] {
            validate_container_name(good).unwrap();
        }
    }

    #[test]
    fn metadata_keys_must_be_lowercase_identifiers() {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(validate_metadata(&one("sha256", "abc")).is_ok());
        assert!(validate_metadata(&one("Sha", "abc")).is_err());
        assert!(validate_metadata(&one("a-b", "abc")).is_err());
        assert!(validate_metadata(&one("1a", "abc")).is_err());
        assert!(validate_metadata(&one("a", "é")).is_err());
    }
}
