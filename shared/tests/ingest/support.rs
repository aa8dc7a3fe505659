//! Helpers of the ingest tests.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use polars::prelude::*;
use shopsense::ingest::{IngestOptions, IngestOutcome, Ingestor, QualityReport};
use shopsense::store::folder::FolderBlobService;
use shopsense::store::{BlobService, PutOptions};

/// An ingestor over a fresh folder of containers (kept alive by the returned guard).
pub async fn ingestor() -> (tempfile::TempDir, FolderBlobService, Ingestor) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FolderBlobService::new(dir.path().join("blobs")).unwrap();
    let ingestor = Ingestor::open(&blobs).await.unwrap();
    (dir, blobs, ingestor)
}

/// Uploads `bytes` at `path` and ingests it, checking the report's bookkeeping invariant.
pub async fn upload(
    ingestor: &Ingestor,
    path: &str,
    bytes: impl Into<Bytes>,
    options: &IngestOptions,
) -> QualityReport {
    ingestor.uploads().put(path, bytes.into(), PutOptions::default()).await.unwrap();
    match ingestor.ingest(path, options).await.unwrap() {
        IngestOutcome::Reported(report) => {
            assert_eq!(
                report.rows_read,
                report.rows_accepted + report.rows_quarantined,
                "read = accepted + quarantined"
            );
            *report
        }
        IngestOutcome::Skipped { reason } => panic!("{path} was skipped: {reason}"),
    }
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fixture of this test binary.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ingest/fixtures").join(name)).unwrap()
}

/// The shipped Online Retail sample.
pub fn sample() -> Vec<u8> {
    std::fs::read(repo().join("data/sample/online_retail_sample.csv")).unwrap()
}

/// The silver table an ingest wrote.
pub async fn silver(blobs: &FolderBlobService, report: &QualityReport) -> DataFrame {
    let path = report.outputs.silver.as_deref().expect("a silver table");
    let blob = blobs.container("silver").await.unwrap().get(path).await.unwrap().unwrap();
    ParquetReader::new(std::io::Cursor::new(blob.body.to_vec())).finish().unwrap()
}

/// A frame without the columns that say where rows came from (batch, line, upload), for comparing
/// the same rows read from different formats.
pub fn content(frame: &DataFrame) -> DataFrame {
    frame.drop_many(["batch", "line", "upload"])
}

/// What a [`HookedSilver`] does before each write to the silver container: inject a failure, or
/// have "another writer" act first.
#[async_trait::async_trait]
pub trait BeforePut: Send + Sync + std::fmt::Debug {
    /// Runs before `path` is written with `options`; an error is the write's.
    async fn before_put(
        &self,
        silver: &dyn shopsense::store::BlobStore,
        path: &str,
        options: &PutOptions,
    ) -> shopsense::store::StoreResult<()>;
}

/// A blob service over a fresh folder whose silver container runs `hook` before every write.
#[derive(Debug)]
pub struct HookedSilver<H> {
    inner: FolderBlobService,
    silver: std::sync::Arc<Hooked<H>>,
}

#[derive(Debug)]
struct Hooked<H> {
    inner: std::sync::Arc<dyn shopsense::store::BlobStore>,
    hook: H,
}

impl<H: BeforePut + 'static> HookedSilver<H> {
    /// The service, and the plain silver container beside it.
    pub async fn new(dir: &Path, hook: H) -> (Self, std::sync::Arc<dyn shopsense::store::BlobStore>) {
        let inner = FolderBlobService::new(dir.join("blobs")).unwrap();
        let plain = inner.container("silver").await.unwrap();
        let silver = std::sync::Arc::new(Hooked { inner: plain.clone(), hook });
        (Self { inner, silver }, plain)
    }

    /// The hook, to arm it.
    pub fn hook(&self) -> &H {
        &self.silver.hook
    }
}

#[async_trait::async_trait]
impl<H: BeforePut + 'static> BlobService for HookedSilver<H> {
    async fn container(
        &self,
        name: &str,
    ) -> shopsense::store::StoreResult<std::sync::Arc<dyn shopsense::store::BlobStore>> {
        if name == "silver" {
            return Ok(self.silver.clone());
        }
        self.inner.container(name).await
    }
}

#[async_trait::async_trait]
impl<H: BeforePut + 'static> shopsense::store::BlobStore for Hooked<H> {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn put(
        &self,
        path: &str,
        body: Bytes,
        options: PutOptions,
    ) -> shopsense::store::StoreResult<shopsense::store::BlobMeta> {
        self.hook.before_put(&*self.inner, path, &options).await?;
        self.inner.put(path, body, options).await
    }
    async fn get(&self, path: &str) -> shopsense::store::StoreResult<Option<shopsense::store::Blob>> {
        self.inner.get(path).await
    }
    async fn head(&self, path: &str) -> shopsense::store::StoreResult<Option<shopsense::store::BlobMeta>> {
        self.inner.head(path).await
    }
    async fn list(&self, prefix: &str) -> shopsense::store::StoreResult<Vec<shopsense::store::BlobMeta>> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, path: &str) -> shopsense::store::StoreResult<bool> {
        self.inner.delete(path).await
    }
}
