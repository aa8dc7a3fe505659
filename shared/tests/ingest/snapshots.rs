//! Feature snapshots: a refresh publishes its tables whole, a refresh that loses a race
//! recomputes, one that dies changes nothing readers see, and old snapshots are pruned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use shopsense::features::snapshot::{self, CURRENT_POINTER, FeatureSnapshot, KEEP_SNAPSHOTS};
use shopsense::ingest::{IngestOptions, Ingestor};
use shopsense::store::{BlobStore, PutOptions, StoreError, StoreResult};
use shopsense::tables::{FEATURE_PATHS, INTERACTIONS_PATH};

use crate::support::{BeforePut, HookedSilver, sample, upload};

/// What the silver container does at the first pointer write.
#[derive(Debug, Clone, Copy)]
enum AtPointer {
    /// Another refresh publishes (from the first batch only) just before this write.
    Race,
    /// The write fails: the refresh dies there.
    Die,
}

/// Intercepts the first write of the feature pointer once armed.
#[derive(Debug)]
struct AtFirstPointer {
    at_pointer: AtPointer,
    armed: Arc<AtomicBool>,
}

#[async_trait]
impl BeforePut for AtFirstPointer {
    async fn before_put(&self, silver: &dyn BlobStore, path: &str, _: &PutOptions) -> StoreResult<()> {
        if path == CURRENT_POINTER && self.armed.swap(false, Ordering::SeqCst) {
            match self.at_pointer {
                AtPointer::Race => {
                    let read = snapshot::current(silver).await?;
                    let first = silver.list("transactions/").await?.remove(0).path;
                    let files = FEATURE_PATHS
                        .iter()
                        .map(|t| ((*t).to_owned(), Bytes::from_static(b"other")))
                        .collect();
                    snapshot::publish(silver, files, vec![first], None, read).await?;
                }
                AtPointer::Die => {
                    return Err(StoreError::backend(
                        "test",
                        "injected",
                        false,
                        std::io::Error::other("died"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A second transactions batch: the sample's first sale lines under other invoice numbers.
fn second_batch() -> Vec<u8> {
    let text = String::from_utf8(sample()).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines.filter(|l| !l.starts_with('C')).take(200) {
        out.push_str(&format!("9{line}\n"));
    }
    out.into_bytes()
}

/// Two batches in silver (no refresh yet) behind `at_pointer`, and the plain silver container.
async fn two_batches(
    at_pointer: AtPointer,
) -> (tempfile::TempDir, Ingestor, Arc<dyn BlobStore>, Arc<AtomicBool>) {
    let dir = tempfile::tempdir().unwrap();
    let armed = Arc::new(AtomicBool::new(false));
    let hook = AtFirstPointer { at_pointer, armed: Arc::clone(&armed) };
    let (service, silver) = HookedSilver::new(dir.path(), hook).await;
    let ingestor = Ingestor::open(&service).await.unwrap();
    let quiet = IngestOptions { refresh_features: false, ..IngestOptions::default() };
    upload(&ingestor, "transactions/a.csv", sample(), &quiet).await;
    upload(&ingestor, "transactions/b.csv", second_batch(), &quiet).await;
    (dir, ingestor, silver, armed)
}

async fn pointer(silver: &dyn BlobStore) -> FeatureSnapshot {
    snapshot::current(silver).await.unwrap().expect("a pointer").0
}

async fn snapshot_folders(silver: &dyn BlobStore) -> Vec<String> {
    let mut ids: Vec<String> = silver
        .list("features/")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|b| b.path.strip_prefix("features/")?.split_once('/').map(|(id, _)| id.to_owned()))
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn a_refresh_that_loses_the_pointer_race_recomputes_so_the_last_snapshot_covers_every_batch() {
    let (_dir, ingestor, silver, armed) = two_batches(AtPointer::Race).await;
    armed.store(true, Ordering::SeqCst);
    ingestor.refresh_features().await.unwrap();
    assert!(!armed.load(Ordering::SeqCst), "the race happened");

    let current = pointer(&*silver).await;
    assert_eq!(current.batches.len(), 2, "the retry saw both batches: {:?}", current.batches);
    assert_eq!(current.previous.len(), 1, "the competitor's snapshot is the previous one");
    let folders = snapshot_folders(&*silver).await;
    assert_eq!(
        folders.len(),
        2,
        "the competitor's and the retry's; the lost attempt's files are gone: {folders:?}"
    );
    assert!(folders.contains(&current.id) && folders.contains(&current.previous[0]));
    let interactions = snapshot::get(&*silver, INTERACTIONS_PATH).await.unwrap().unwrap();
    assert_ne!(&interactions.body[..], b"other", "readers see the retry's tables");
    let data = shopsense::train::load(&*silver).await.unwrap();
    assert!(data.files.iter().all(|f| f.path.starts_with(&format!("features/{}/", current.id))));
}

#[tokio::test]
async fn a_refresh_that_dies_before_its_pointer_changes_nothing_readers_see_and_the_next_prunes_it() {
    let (_dir, ingestor, silver, armed) = two_batches(AtPointer::Die).await;
    ingestor.refresh_features().await.unwrap();
    let before = pointer(&*silver).await;
    let hashes_before: Vec<String> =
        shopsense::train::load(&*silver).await.unwrap().files.into_iter().map(|f| f.sha256).collect();

    armed.store(true, Ordering::SeqCst);
    let err = ingestor.refresh_features().await.unwrap_err();
    assert!(err.to_string().contains("injected"), "{err}");
    assert_eq!(pointer(&*silver).await, before, "the pointer did not move");
    assert_eq!(snapshot_folders(&*silver).await.len(), 2, "the dead refresh's files are still there");
    let hashes_after: Vec<String> =
        shopsense::train::load(&*silver).await.unwrap().files.into_iter().map(|f| f.sha256).collect();
    assert_eq!(hashes_after, hashes_before, "readers still read the previous snapshot whole");

    ingestor.refresh_features().await.unwrap();
    let current = pointer(&*silver).await;
    assert_eq!(current.previous, vec![before.id.clone()]);
    let folders = snapshot_folders(&*silver).await;
    assert_eq!(folders, vec![before.id, current.id], "the dead refresh's files are pruned");
}

#[tokio::test]
async fn pruning_keeps_the_newest_snapshots_and_removes_the_flat_pre_snapshot_tables() {
    let (_dir, ingestor, silver, _armed) = two_batches(AtPointer::Race).await;
    // A home from before snapshots: flat tables and no pointer are read as they are.
    ingestor.refresh_features().await.unwrap();
    let first = pointer(&*silver).await;
    for table in FEATURE_PATHS {
        let body = silver.get(&first.path(table)).await.unwrap().unwrap().body;
        silver.put(table, body, PutOptions::default()).await.unwrap();
    }
    silver.delete(CURRENT_POINTER).await.unwrap();
    let legacy = shopsense::train::load(&*silver).await.unwrap();
    assert!(
        legacy.files.iter().all(|f| FEATURE_PATHS.contains(&f.path.as_str())),
        "read from the flat paths"
    );

    for _ in 0..KEEP_SNAPSHOTS + 1 {
        ingestor.refresh_features().await.unwrap();
    }
    let current = pointer(&*silver).await;
    let mut kept = vec![current.id.clone()];
    kept.extend(current.previous.iter().rev().cloned());
    kept.sort();
    assert_eq!(current.previous.len(), KEEP_SNAPSHOTS - 1);
    assert_eq!(snapshot_folders(&*silver).await, kept, "the current one and its previous ones");
    for table in FEATURE_PATHS {
        assert!(!silver.exists(table).await.unwrap(), "{table}: the flat copy is removed");
    }
    let data = shopsense::train::load(&*silver).await.unwrap();
    assert_eq!(data.interactions.height(), legacy.interactions.height(), "same batches, same tables");
}
