//! The bronze layer: every upload kept byte for byte, content-addressed, before anything else
//! reads it. The same bytes uploaded twice land once; the second landing says so.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{BlobStore, PutOptions, StoreError};

/// Blob container uploads arrive in.
pub const UPLOADS_CONTAINER: &str = "uploads";
/// Blob container holding content-addressed raw uploads.
pub const BRONZE_CONTAINER: &str = "bronze";

/// Why an upload could not be landed.
#[derive(Debug, thiserror::Error)]
pub enum LandingError {
    /// The event named a blob that is not there (deleted since, or a stale redelivery):
    /// permanent, nothing to retry.
    #[error("upload {path} does not exist (deleted after the event, or a stale event)")]
    UploadMissing {
        /// The upload's path in the uploads container.
        path: String,
    },
    /// A store failed; [`StoreError::is_transient`] says whether to retry.
    #[error("landing upload {path}: {source}")]
    Store {
        /// The upload's path.
        path: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

impl LandingError {
    /// Whether retrying the invocation later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store { source, .. } if source.is_transient())
    }
}

/// Where an upload landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landing {
    /// The upload's path in the uploads container.
    pub upload_path: String,
    /// Hex sha256 of the bytes: the content address.
    pub sha256: String,
    /// Path of the raw copy in the bronze container.
    pub bronze_path: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether these exact bytes had landed before (then nothing downstream should count them
    /// again).
    pub duplicate: bool,
    /// When the upload was written.
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
    /// The upload's ETag when it was read (what the catch-up sweep compares).
    pub upload_etag: crate::store::ETag,
}

/// Metadata key of a silver table: when its upload was written (RFC 3339).
pub const UPLOADED_AT_METADATA: &str = "uploaded_at";

/// Orders silver tables by when their uploads were written, not when they were read: a batch
/// ingested late (by the catch-up sweep) is still older than the ones after it. Tables written
/// before the metadata existed fall back to their own write time.
#[must_use]
pub fn upload_order(a: &crate::store::BlobMeta, b: &crate::store::BlobMeta) -> std::cmp::Ordering {
    upload_time(a).cmp(&upload_time(b)).then_with(|| a.path.cmp(&b.path))
}

/// When a silver table's upload was written ([`UPLOADED_AT_METADATA`], else the table's own
/// write time).
#[must_use]
pub fn upload_time(meta: &crate::store::BlobMeta) -> chrono::DateTime<chrono::Utc> {
    meta.metadata
        .get(UPLOADED_AT_METADATA)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(meta.last_modified, |t| t.with_timezone(&chrono::Utc))
}

/// Hex sha256 of `bytes`: the content address of an upload and the id of its batch.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bronze path of content with this hex sha256 (fanned out by the first two hex digits).
#[must_use]
pub fn bronze_path(sha256_hex: &str) -> String {
    format!("sha256/{}/{sha256_hex}", &sha256_hex[..2])
}

/// Copies the upload at `path` into bronze under its content address, unless those bytes
/// are there already. Returns where it landed and the bytes, so callers read the upload once.
pub async fn land(
    uploads: &dyn BlobStore,
    bronze: &dyn BlobStore,
    path: &str,
) -> Result<(Landing, Bytes), LandingError> {
    let store_error = |source| LandingError::Store { path: path.to_owned(), source };
    let blob = uploads
        .get(path)
        .await
        .map_err(store_error)?
        .ok_or_else(|| LandingError::UploadMissing { path: path.to_owned() })?;
    let sha256 = sha256_hex(&blob.body);
    let target = bronze_path(&sha256);
    let options = PutOptions::create()
        .with_metadata("upload_path", ascii_only(path))
        .with_metadata("upload_etag", ascii_only(&blob.meta.etag.0))
        .with_content_type(
            blob.meta.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
        );
    let size = blob.meta.size;
    let duplicate = match bronze.put(&target, Bytes::clone(&blob.body), options).await {
        Ok(_) => false,
        Err(StoreError::AlreadyExists { .. }) => true,
        Err(e) => return Err(store_error(e)),
    };
    tracing::info!(upload = path, sha256 = %sha256, size, duplicate, "upload landed in bronze");
    let landing = Landing {
        upload_path: path.to_owned(),
        sha256,
        bronze_path: target,
        size,
        duplicate,
        uploaded_at: blob.meta.last_modified,
        upload_etag: blob.meta.etag.clone(),
    };
    Ok((landing, blob.body))
}

/// Metadata values travel as HTTP headers: keep printable ASCII, escape the rest.
pub(crate) fn ascii_only(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c.to_string() } else { format!("\\u{{{:x}}}", c as u32) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_order_by_when_their_uploads_were_written_not_when_they_were_read() {
        let meta = |path: &str, written: &str, uploaded: Option<&str>| crate::store::BlobMeta {
            path: path.to_owned(),
            size: 1,
            etag: crate::store::ETag("e".into()),
            last_modified: written.parse().unwrap(),
            content_type: None,
            metadata: uploaded.map(|u| (UPLOADED_AT_METADATA.to_owned(), u.to_owned())).into_iter().collect(),
        };
        // Swept late: read on the 9th, uploaded on the 1st.
        let late = meta("b", "2011-12-09T02:00:00Z", Some("2011-12-01T08:00:00.000Z"));
        let next = meta("a", "2011-12-02T08:00:00Z", Some("2011-12-02T08:00:00.000Z"));
        let old = meta("c", "2011-11-30T08:00:00Z", None);
        let mut tables = [next, late, old];
        tables.sort_by(upload_order);
        assert_eq!(tables.iter().map(|t| t.path.as_str()).collect::<Vec<_>>(), ["c", "b", "a"]);
    }
    use crate::store::folder::FolderBlobService;

    #[tokio::test]
    async fn the_same_bytes_land_once_under_their_sha256_and_the_second_is_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let service = FolderBlobService::new(dir.path()).unwrap();
        let (uploads, bronze) = (service.open("uploads").unwrap(), service.open("bronze").unwrap());
        let body = Bytes::from_static(b"InvoiceNo,StockCode\n536365,85123A\n");
        uploads.put("transactions/a.csv", body.clone(), PutOptions::default()).await.unwrap();
        uploads.put("transactions/copy of a.csv", body.clone(), PutOptions::default()).await.unwrap();
        let (first, bytes) = land(&uploads, &bronze, "transactions/a.csv").await.unwrap();
        assert_eq!(bytes, body);
        let (second, _) = land(&uploads, &bronze, "transactions/copy of a.csv").await.unwrap();
        assert!(!first.duplicate);
        assert!(second.duplicate, "same bytes under another name count once");
        assert_eq!(first.sha256, hex::encode(Sha256::digest(&body)));
        assert_eq!(first.bronze_path, second.bronze_path);
        let raw = bronze.get(&first.bronze_path).await.unwrap().unwrap();
        assert_eq!(raw.body, body, "bronze keeps the bytes exactly");
        assert_eq!(raw.meta.metadata["upload_path"], "transactions/a.csv");
        assert_eq!(bronze.list("").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_upload_is_a_permanent_error() {
        let dir = tempfile::tempdir().unwrap();
        let service = FolderBlobService::new(dir.path()).unwrap();
        let (uploads, bronze) = (service.open("uploads").unwrap(), service.open("bronze").unwrap());
        let err = land(&uploads, &bronze, "transactions/gone.csv").await.unwrap_err();
        assert!(matches!(err, LandingError::UploadMissing { .. }));
        assert!(!err.is_transient());
    }
}
