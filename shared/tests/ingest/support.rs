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
