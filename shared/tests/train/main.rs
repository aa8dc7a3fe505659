//! The retrain pipeline's guarantees under failure and concurrency, on the embedded default:
//! a version goes live whole or not at all, and two retrains never both run.
//!
//! Faults are injected by wrapping a real store: a serving store that fails half-way through a
//! publish, a model blob store that fails before a version's manifest, and a registry store that
//! refuses the pointer flip (what a process killed between writing a version and flipping the
//! pointer leaves behind).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use shopsense::ingest::{IngestOptions, IngestOutcome, Ingestor};
use shopsense::registry::{ModelKind, Registry, RetiredBy, VersionStatus};
use shopsense::serving::{CustomerSegment, Reader, customer_partition};
use shopsense::store::{
    Blob, BlobMeta, BlobStore, Document, DocumentStore, ETag, PutOptions, Query, StoreError, StoreResult,
    Stores,
};
use shopsense::tables::SILVER_CONTAINER;
use shopsense::train::{TrainError, TrainOptions, Trainer};

/// Local stores in a fresh home, and their ingestor.
async fn empty_stores() -> (tempfile::TempDir, Stores, Ingestor) {
    let home = tempfile::tempdir().unwrap();
    let values = [("SHOPSENSE_HOME".to_owned(), home.path().display().to_string())].into();
    let settings = shopsense::settings::Settings::from_values(values, None).unwrap();
    let stores = Stores::open(&settings).await.unwrap();
    let ingestor = Ingestor::open(&*stores.blobs).await.unwrap();
    (home, stores, ingestor)
}

/// Local stores in a fresh home with the shipped sample ingested.
async fn stores_with_sample() -> (tempfile::TempDir, Stores) {
    let (home, stores, ingestor) = empty_stores().await;
    let sample =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample/online_retail_sample.csv"))
            .unwrap();
    let path = "transactions/sample.csv";
    ingestor.uploads().put(path, Bytes::from(sample), PutOptions::default()).await.unwrap();
    assert!(matches!(
        ingestor.ingest(path, &IngestOptions::default()).await.unwrap(),
        IngestOutcome::Reported(_)
    ));
    (home, stores)
}

/// A trainer that trains every kind asked for: these tests retrain the same sample to see what
/// the registry does with each new version.
async fn trainer(stores: &Stores, registry: Registry) -> Trainer {
    Trainer::new(stores.blobs.container(SILVER_CONTAINER).await.unwrap(), registry, TrainOptions::default())
        .forcing()
}

async fn healthy(stores: &Stores) -> Trainer {
    trainer(stores, Registry::open(stores, 5).await.unwrap()).await
}

/// A trainer as the nightly timer runs it: not forcing, so unchanged inputs are left alone.
async fn nightly(stores: &Stores) -> Trainer {
    Trainer::new(
        stores.blobs.container(SILVER_CONTAINER).await.unwrap(),
        Registry::open(stores, 5).await.unwrap(),
        TrainOptions::default(),
    )
}

/// A trainer (not forcing) whose segments gate needs a silhouette of 0.99: the sample's fails it.
async fn strict_segments(stores: &Stores) -> Trainer {
    let options = TrainOptions {
        gates: shopsense::registry::Gates { segments_min_silhouette: 0.99, ..Default::default() },
        ..TrainOptions::default()
    };
    Trainer::new(
        stores.blobs.container(SILVER_CONTAINER).await.unwrap(),
        Registry::open(stores, 5).await.unwrap(),
        options,
    )
}

fn quiet(_: shopsense::train::Progress) {}

async fn live(registry: &Registry, kind: ModelKind) -> Option<String> {
    registry.live(kind).await.unwrap().map(|(p, _)| p.version)
}

fn injected() -> StoreError {
    StoreError::backend("test", "injected failure", false, std::io::Error::other("injected"))
}

/// A document store that, once armed, writes half of each batch and then fails, or refuses
/// conditional writes (the pointer flip).
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn DocumentStore>,
    fail_batches: AtomicBool,
    fail_flips: AtomicBool,
}

impl Faulty {
    fn new(inner: Arc<dyn DocumentStore>) -> Arc<Self> {
        Arc::new(Self { inner, fail_batches: AtomicBool::new(false), fail_flips: AtomicBool::new(false) })
    }
}

#[async_trait]
impl DocumentStore for Faulty {
    fn location(&self) -> String {
        format!("faulty {}", self.inner.location())
    }
    async fn upsert(&self, doc: &Document) -> StoreResult<ETag> {
        self.inner.upsert(doc).await
    }
    async fn create(&self, doc: &Document) -> StoreResult<ETag> {
        if self.fail_flips.load(Ordering::SeqCst) && doc.id == "live" {
            return Err(injected());
        }
        self.inner.create(doc).await
    }
    async fn replace(&self, doc: &Document, if_match: &ETag) -> StoreResult<ETag> {
        if self.fail_flips.load(Ordering::SeqCst) && doc.id == "live" {
            return Err(injected());
        }
        self.inner.replace(doc, if_match).await
    }
    async fn get(&self, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        self.inner.get(partition, id).await
    }
    async fn delete(&self, partition: &str, id: &str) -> StoreResult<bool> {
        self.inner.delete(partition, id).await
    }
    async fn query(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>> {
        self.inner.query(partition, query).await
    }
    async fn upsert_many(&self, docs: &[Document]) -> StoreResult<()> {
        if self.fail_batches.load(Ordering::SeqCst) {
            self.inner.upsert_many(&docs[..docs.len() / 2]).await?;
            return Err(injected());
        }
        self.inner.upsert_many(docs).await
    }
}

/// A blob store that fails every write of a manifest under `prefix`.
#[derive(Debug)]
struct NoManifest {
    inner: Arc<dyn BlobStore>,
    prefix: &'static str,
}

#[async_trait]
impl BlobStore for NoManifest {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn put(&self, path: &str, body: Bytes, options: PutOptions) -> StoreResult<BlobMeta> {
        if path.starts_with(self.prefix) && path.ends_with("manifest.json") {
            return Err(injected());
        }
        self.inner.put(path, body, options).await
    }
    async fn get(&self, path: &str) -> StoreResult<Option<Blob>> {
        self.inner.get(path).await
    }
    async fn head(&self, path: &str) -> StoreResult<Option<BlobMeta>> {
        self.inner.head(path).await
    }
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, path: &str) -> StoreResult<bool> {
        self.inner.delete(path).await
    }
}

struct Parts {
    models: Arc<dyn BlobStore>,
    records: Arc<dyn DocumentStore>,
    serving: Arc<dyn DocumentStore>,
}

async fn parts(stores: &Stores) -> Parts {
    Parts {
        models: stores.blobs.container("models").await.unwrap(),
        records: stores.documents.container("registry").await.unwrap(),
        serving: stores.documents.container("serving").await.unwrap(),
    }
}

/// Every segment document a reader sees for every customer comes from `version`.
async fn readers_see(stores: &Stores, version: &str) {
    let reader = Reader::open(stores, std::time::Duration::ZERO).await.unwrap();
    for customer in ["14456", "17428", "14071"] {
        let (seen, doc) = reader
            .get::<CustomerSegment>(ModelKind::Segments, &customer_partition(customer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen, version);
        assert!(doc.is_some(), "customer {customer} has a complete document in {version}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_store_failing_mid_publish_leaves_the_old_version_live_and_the_next_run_publishes_whole() {
    let (_home, stores) = stores_with_sample().await;
    let first = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    let v1 = first.kinds[0].version.clone();
    let p = parts(&stores).await;
    let serving = Faulty::new(p.serving.clone());
    serving.fail_batches.store(true, Ordering::SeqCst);
    let broken =
        trainer(&stores, Registry::from_parts(p.models.clone(), p.records.clone(), serving, 5)).await;
    let report = broken.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert!(report.kinds.is_empty());
    assert_eq!(report.failed[0].kind, ModelKind::Segments);
    assert!(report.failed[0].error.contains("injected"), "{:?}", report.failed);
    let registry = Registry::open(&stores, 5).await.unwrap();
    assert_eq!(live(&registry, ModelKind::Segments).await.as_deref(), Some(v1.as_str()));
    readers_see(&stores, &v1).await;
    let failed =
        registry.list(ModelKind::Segments).await.unwrap().into_iter().find(|r| r.version != v1).unwrap();
    assert_eq!(failed.status, VersionStatus::Rejected);
    assert!(failed.reason.as_deref().unwrap().starts_with("publish failed"), "{:?}", failed.reason);

    let third = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    let v3 = &third.kinds[0].version;
    assert_eq!(third.kinds[0].status, VersionStatus::Live);
    readers_see(&stores, v3).await;
    // The failed version's half-written documents were cleaned up by retention.
    let leftovers = p.serving.query(&customer_partition("17428"), &Query::all()).await.unwrap();
    assert!(leftovers.iter().all(|d| !d.id.ends_with(&failed.version)), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_failed_by_a_storage_outage_is_trained_again_by_the_next_nightly_run() {
    // The first version of a kind never goes out: its publish meets an outage. The nightly run
    // after it (not forcing) must train the same inputs again, not take the failed version as
    // the verdict on them: that left the kind with no live model until the data changed.
    let (_home, stores) = stores_with_sample().await;
    let p = parts(&stores).await;
    let serving = Faulty::new(p.serving.clone());
    serving.fail_batches.store(true, Ordering::SeqCst);
    let broken = Trainer::new(
        stores.blobs.container(SILVER_CONTAINER).await.unwrap(),
        Registry::from_parts(p.models.clone(), p.records.clone(), serving, 5),
        TrainOptions::default(),
    );
    let report = broken.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert_eq!(report.failed[0].kind, ModelKind::Segments, "{report:?}");
    let registry = Registry::open(&stores, 5).await.unwrap();
    assert_eq!(live(&registry, ModelKind::Segments).await, None);

    let next = nightly(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert!(next.failed.is_empty(), "{next:?}");
    assert_eq!(next.kinds[0].status, VersionStatus::Live, "{next:?}");
    assert!(!next.kinds[0].unchanged, "{next:?}");
    readers_see(&stores, &next.kinds[0].version).await;
    // Live on these inputs, it is their verdict: the night after leaves it as it is.
    let after = nightly(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert!(after.kinds[0].unchanged, "{after:?}");
    assert_eq!(after.kinds[0].version, next.kinds[0].version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_store_failing_mid_write_leaves_no_version_to_promote() {
    let (_home, stores) = stores_with_sample().await;
    let v1 = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0]
        .version
        .clone();
    let p = parts(&stores).await;
    let models: Arc<dyn BlobStore> = Arc::new(NoManifest { inner: p.models.clone(), prefix: "segments/" });
    let broken =
        trainer(&stores, Registry::from_parts(models, p.records.clone(), p.serving.clone(), 5)).await;
    let report = broken.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert_eq!((report.kinds.len(), report.failed.len()), (0, 1), "{report:?}");
    let registry = Registry::open(&stores, 5).await.unwrap();
    assert_eq!(live(&registry, ModelKind::Segments).await.as_deref(), Some(v1.as_str()));
    assert_eq!(registry.list(ModelKind::Segments).await.unwrap().len(), 1, "no record of the broken version");
    readers_see(&stores, &v1).await;
    let folders = |list: Vec<BlobMeta>| -> std::collections::BTreeSet<String> {
        list.iter().filter_map(|b| b.path.split('/').nth(1).map(str::to_owned)).collect()
    };
    assert_eq!(folders(p.models.list("segments/").await.unwrap()).len(), 2, "the broken write's files");
    let next = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    readers_see(&stores, &next.kinds[0].version).await;
    // Retention deleted the folder no record names.
    let kept = folders(p.models.list("segments/").await.unwrap());
    assert_eq!(kept, [v1, next.kinds[0].version.clone()].into_iter().collect(), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_version_write_and_pointer_flip_changes_nothing_readers_see() {
    let (_home, stores) = stores_with_sample().await;
    let v1 = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0]
        .version
        .clone();
    let p = parts(&stores).await;
    let records = Faulty::new(p.records.clone());
    records.fail_flips.store(true, Ordering::SeqCst);
    let dying = trainer(&stores, Registry::from_parts(p.models.clone(), records, p.serving.clone(), 5)).await;
    assert_eq!(dying.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().failed.len(), 1);
    let registry = Registry::open(&stores, 5).await.unwrap();
    assert_eq!(live(&registry, ModelKind::Segments).await.as_deref(), Some(v1.as_str()));
    readers_see(&stores, &v1).await;
    let next = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert_eq!(next.kinds[0].status, VersionStatus::Live);
    readers_see(&stores, &next.kinds[0].version).await;
    // And a person can roll back to the version it replaced, instantly.
    registry.rollback(ModelKind::Segments).await.unwrap();
    readers_see(&stores, &v1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_retrains_at_once_exactly_one_runs_and_the_other_exits_cleanly() {
    let (_home, stores) = stores_with_sample().await;
    let (a, b) = (healthy(&stores).await, healthy(&stores).await);
    let (ra, rb) =
        tokio::join!(a.run(&[ModelKind::Forecast], "a", &quiet), b.run(&[ModelKind::Forecast], "b", &quiet));
    let busy = [&ra, &rb].iter().filter(|r| matches!(r, Err(TrainError::Busy(_)))).count();
    let ran = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!((ran, busy), (1, 1), "{ra:?} / {rb:?}");
    let registry = Registry::open(&stores, 5).await.unwrap();
    assert_eq!(registry.list(ModelKind::Forecast).await.unwrap().len(), 1);
    // The lease was released: a later run goes ahead.
    assert!(a.run(&[ModelKind::Segments], "a", &quiet).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_newest_versions_and_never_the_live_one_or_its_predecessor() {
    let (_home, stores) = stores_with_sample().await;
    let registry = Registry::open(&stores, 2).await.unwrap();
    let t = trainer(&stores, registry.clone()).await;
    let mut versions = Vec::new();
    for _ in 0..4 {
        versions.push(t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0].version.clone());
    }
    let kept: Vec<String> =
        registry.list(ModelKind::Segments).await.unwrap().into_iter().map(|r| r.version).collect();
    assert_eq!(kept, vec![versions[3].clone(), versions[2].clone()]);
    let models = stores.blobs.container("models").await.unwrap();
    assert!(
        models.list(&format!("segments/{}/", versions[0])).await.unwrap().is_empty(),
        "old blobs deleted"
    );
    let old_docs = stores.documents.container("serving").await.unwrap();
    let docs = old_docs.query(&customer_partition("17428"), &Query::all()).await.unwrap();
    assert_eq!(docs.len(), 2, "serving documents of exactly the kept versions: {docs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_kind_failing_does_not_stop_the_others() {
    let (_home, stores) = stores_with_sample().await;
    let p = parts(&stores).await;
    let models: Arc<dyn BlobStore> = Arc::new(NoManifest { inner: p.models.clone(), prefix: "forecast/" });
    let broken =
        trainer(&stores, Registry::from_parts(models, p.records.clone(), p.serving.clone(), 5)).await;
    let report = broken.run(&[ModelKind::Forecast, ModelKind::Segments], "t", &quiet).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].kind, ModelKind::Forecast);
    assert!(report.failed[0].to_string().starts_with("forecast: "), "{}", report.failed[0]);
    assert_eq!(report.kinds.len(), 1);
    assert_eq!((report.kinds[0].kind, report.kinds[0].status), (ModelKind::Segments, VersionStatus::Live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_its_gate_rejected_goes_live_only_by_hand_and_its_record_keeps_what_the_gate_said() {
    let (_home, stores) = stores_with_sample().await;
    let strict = strict_segments(&stores).await;
    let report = strict.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    let rejected = &report.kinds[0];
    assert_eq!(rejected.status, VersionStatus::Rejected);
    let said = rejected.reason.clone().unwrap();
    assert!(said.starts_with("gate failed: needs silhouette >= floor"), "{said}");
    assert_eq!(live(strict.registry(), ModelKind::Segments).await, None, "nothing live without a person");

    let record = strict.promote(ModelKind::Segments, &rejected.version).await.unwrap();
    assert_eq!(record.status, VersionStatus::Live);
    assert_eq!(record.reason, Some(format!("promoted by hand over its gate ({said})")));
    assert_eq!(
        live(strict.registry(), ModelKind::Segments).await.as_deref(),
        Some(rejected.version.as_str())
    );
    readers_see(&stores, &rejected.version).await;
    // Replaced later, its record still says a person put it live over its gate.
    let next = healthy(&stores).await.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert_eq!(next.kinds[0].status, VersionStatus::Live);
    let retired = strict.registry().record(ModelKind::Segments, &rejected.version).await.unwrap().unwrap();
    assert_eq!(
        retired.reason,
        Some(format!(
            "replaced by {}; it had been promoted by hand over its gate ({said})",
            next.kinds[0].version
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollbacks_walk_back_one_version_at_a_time() {
    let (_home, stores) = stores_with_sample().await;
    let t = healthy(&stores).await;
    let mut versions = Vec::new();
    for _ in 0..3 {
        versions.push(t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0].version.clone());
    }
    let registry = t.registry();
    assert_eq!(t.rollback(ModelKind::Segments).await.unwrap().version, versions[1]);
    assert_eq!(t.rollback(ModelKind::Segments).await.unwrap().version, versions[0], "not back to the newest");
    readers_see(&stores, &versions[0]).await;
    let error = t.rollback(ModelKind::Segments).await.unwrap_err();
    assert!(error.to_string().contains("no earlier"), "{error}");
    let statuses: Vec<(String, VersionStatus)> = registry
        .list(ModelKind::Segments)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.version, r.status))
        .collect();
    assert_eq!(statuses.iter().filter(|(_, s)| *s == VersionStatus::Live).count(), 1, "{statuses:?}");
    // Unpinned, a run after the rollbacks replaces the version they went back to, and can be
    // rolled back.
    assert!(t.unpin(ModelKind::Segments).await.unwrap().is_some());
    let next = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert_eq!(next.status, VersionStatus::Live, "{next:?}");
    assert_eq!(t.rollback(ModelKind::Segments).await.unwrap().version, versions[0]);
    assert_ne!(next.version, versions[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_pins_the_kind_so_retrains_hold_what_passes_until_a_person_unpins_or_promotes() {
    let (_home, stores) = stores_with_sample().await;
    let t = healthy(&stores).await;
    let v1 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0).version;
    let v2 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0).version;
    let registry = t.registry();
    assert_eq!(t.rollback(ModelKind::Segments).await.unwrap().version, v1);
    let (pointer, _) = registry.live(ModelKind::Segments).await.unwrap().unwrap();
    let pin = pointer.pinned.expect("a rollback pins");
    assert_eq!(pin.reason, format!("rolled back from {v2}"));

    // The next night trains and judges, passes, and is held: serving stays on v1.
    let held = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert_eq!(held.status, VersionStatus::Held, "{held:?}");
    let said = held.reason.as_deref().unwrap_or_default();
    assert!(
        said.starts_with(&format!(
            "held: passed its gates while segments was pinned to {v1} (rolled back from {v2} at "
        )),
        "{said}"
    );
    assert!(said.contains(&format!("`shopsense models promote {}`", held.version)), "{said}");
    assert_eq!(live(registry, ModelKind::Segments).await.as_deref(), Some(v1.as_str()));
    readers_see(&stores, &v1).await;
    let record = registry.record(ModelKind::Segments, &held.version).await.unwrap().unwrap();
    assert!(record.gate.is_some_and(|g| g.passed) && !record.published, "judged, not published");

    // Unpinned, the next run goes live.
    assert_eq!(t.unpin(ModelKind::Segments).await.unwrap(), Some(pin));
    assert_eq!(t.unpin(ModelKind::Segments).await.unwrap(), None, "nothing left to lift");
    let next = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert_eq!(next.status, VersionStatus::Live, "{next:?}");
    readers_see(&stores, &next.version).await;

    // Promoting the version a rollback pinned lifts the pin as well.
    let back = t.rollback(ModelKind::Segments).await.unwrap();
    t.promote(ModelKind::Segments, &back.version).await.unwrap();
    let (pointer, _) = registry.live(ModelKind::Segments).await.unwrap().unwrap();
    assert_eq!((pointer.version, pointer.pinned), (back.version, None));
    t.promote(ModelKind::Segments, &next.version).await.unwrap();

    // Pinned again, a held version can be promoted by hand, which lifts the pin.
    t.rollback(ModelKind::Segments).await.unwrap();
    let held = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert_eq!(held.status, VersionStatus::Held);
    assert_eq!(t.promote(ModelKind::Segments, &held.version).await.unwrap().status, VersionStatus::Live);
    readers_see(&stores, &held.version).await;
    let (pointer, _) = registry.live(ModelKind::Segments).await.unwrap().unwrap();
    assert_eq!((pointer.version, pointer.pinned), (held.version, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_left_wrong_by_a_run_killed_after_its_flip_are_reconciled_by_the_next_run() {
    let (_home, stores) = stores_with_sample().await;
    let t = healthy(&stores).await;
    let v1 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0].version.clone();
    let v2 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0].version.clone();
    let registry = t.registry();
    // What a kill between the flip to v2 and its bookkeeping leaves: v1 still says live, v2
    // says candidate; a candidate whose run died while writing its serving documents, and one
    // whose run died before its gates judged it.
    let mut old = registry.record(ModelKind::Segments, &v1).await.unwrap().unwrap();
    old.status = VersionStatus::Live;
    registry.save_record(&old).await.unwrap();
    let mut new = registry.record(ModelKind::Segments, &v2).await.unwrap().unwrap();
    new.status = VersionStatus::Candidate;
    registry.save_record(&new).await.unwrap();
    let mut dead = new.clone();
    dead.version = "20200101T000000000Z-dead00".to_owned();
    dead.published = false;
    registry.save_record(&dead).await.unwrap();
    let mut unjudged = dead.clone();
    unjudged.version = "20200101T000000000Z-dead01".to_owned();
    unjudged.gate = None;
    registry.save_record(&unjudged).await.unwrap();

    let v3 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0].version.clone();
    let status = |version: String| {
        let registry = registry.clone();
        async move { registry.record(ModelKind::Segments, &version).await.unwrap().map(|r| r.status) }
    };
    assert_eq!(status(v3).await, Some(VersionStatus::Live));
    assert_eq!(status(v2).await, Some(VersionStatus::Retired));
    assert_eq!(status(v1).await, Some(VersionStatus::Retired));
    let dead = registry.record(ModelKind::Segments, &dead.version).await.unwrap().unwrap();
    assert_eq!(dead.status, VersionStatus::Rejected);
    assert_eq!(
        dead.reason.as_deref(),
        Some("interrupted: it passed its gates, but its run stopped while writing its serving documents"),
        "it says how far it got"
    );
    let unjudged = registry.record(ModelKind::Segments, &unjudged.version).await.unwrap().unwrap();
    assert_eq!(
        (unjudged.status, unjudged.reason.as_deref()),
        (VersionStatus::Rejected, Some("interrupted: its run stopped before its gates judged it"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_whose_bookkeeping_stopped_is_reconciled_as_a_rollback_and_never_restored() {
    let (_home, stores) = stores_with_sample().await;
    let (plain, first, second) = two_nights(&stores, 999_004).await;
    let back = plain.rollback(ModelKind::Segments).await.unwrap();
    assert_eq!(back.version, first.version);
    // What a kill between the rollback's flip and its bookkeeping leaves: the version rolled
    // back from still says live.
    let registry = plain.registry();
    let mut from = registry.record(ModelKind::Segments, &second.version).await.unwrap().unwrap();
    from.status = VersionStatus::Live;
    registry.save_record(&from).await.unwrap();
    registry.reconcile(ModelKind::Segments).await.unwrap();
    let from = registry.record(ModelKind::Segments, &second.version).await.unwrap().unwrap();
    assert_eq!(from.status, VersionStatus::Retired);
    assert_eq!(from.reason.unwrap_or_default(), format!("rolled back to {}", first.version));
    assert_eq!(from.retired_by, Some(RetiredBy::Rollback));
    // Unpinned on its inputs, it is not put back over the rollback.
    plain.unpin(ModelKind::Segments).await.unwrap();
    let quiet_night = night(&plain).await;
    assert!(quiet_night.unchanged && quiet_night.version == second.version, "{quiet_night:?}");
    assert_eq!(live(registry, ModelKind::Segments).await, Some(first.version));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_failure_after_the_flip_leaves_the_new_version_live_and_recorded_so() {
    let (_home, stores) = stores_with_sample().await;
    let registry = Registry::open(&stores, 1).await.unwrap();
    let t = trainer(&stores, registry.clone()).await;
    let v1 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds[0].version.clone();
    let _v2 = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    // v1 is now beyond retention's reach only once v3 replaces v2: break its key list first.
    let models = stores.blobs.container("models").await.unwrap();
    let keys = format!("segments/{v1}/serving_keys.bin");
    models.put(&keys, Bytes::from_static(b"junk"), PutOptions::default()).await.unwrap();
    let report = t.run(&[ModelKind::Segments], "t", &quiet).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let v3 = &report.kinds[0].version;
    assert_eq!(report.kinds[0].status, VersionStatus::Live);
    assert_eq!(live(&registry, ModelKind::Segments).await.as_ref(), Some(v3));
    assert_eq!(registry.record(ModelKind::Segments, v3).await.unwrap().unwrap().status, VersionStatus::Live);
    readers_see(&stores, v3).await;
    let error = registry.apply_retention(ModelKind::Segments).await.unwrap_err();
    assert!(error.to_string().contains(&keys), "the error names the file: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_whose_live_version_saw_the_same_features_is_left_alone_until_new_data_comes() {
    let (_home, stores) = stores_with_sample().await;
    let plain = nightly(&stores).await;
    let first = plain.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert_eq!((first.status, first.unchanged), (VersionStatus::Live, false));
    let again = plain.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert!(again.unchanged, "{again:?}");
    assert_eq!((again.version.as_str(), again.status), (first.version.as_str(), VersionStatus::Live));
    let said = again.reason.as_deref().unwrap_or_default();
    assert!(said.starts_with("unchanged: ") && said.contains("and is live;"), "{again:?}");
    assert!(again.drift.is_none() && again.metric_trend.is_empty(), "not this run's: {again:?}");
    assert_eq!(plain.registry().list(ModelKind::Segments).await.unwrap().len(), 1, "no copy written");
    // Forced, or with new data, it trains.
    let forced =
        plain.clone().forcing().run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert!(!forced.unchanged && forced.version != first.version, "{forced:?}");
    more_sales(&stores, 999_001).await;
    let fresh = plain.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert!(!fresh.unchanged && fresh.version != forced.version, "{fresh:?}");
    // Rolled back from, it is not refitted over the rollback on a quiet night, even unpinned.
    assert_eq!(fresh.status, VersionStatus::Live, "{fresh:?}");
    let back = plain.rollback(ModelKind::Segments).await.unwrap();
    plain.unpin(ModelKind::Segments).await.unwrap();
    let quiet_night = plain.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert!(quiet_night.unchanged && quiet_night.version == fresh.version, "{quiet_night:?}");
    assert_eq!(quiet_night.status, VersionStatus::Retired);
    assert_eq!(live(plain.registry(), ModelKind::Segments).await, Some(back.version));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_upload_puts_the_version_trained_without_it_back_live() {
    let (_home, stores) = stores_with_sample().await;
    let (plain, before, with) = two_nights(&stores, 999_003).await;
    assert_eq!(with.status, VersionStatus::Live);
    let ingestor = Ingestor::open(&*stores.blobs).await.unwrap();
    ingestor.withdraw("transactions/more-999003.csv", false).await.unwrap();
    // The features are those `before` was trained on again: it serves, not the withdrawn sale's.
    let restored = night(&plain).await;
    assert_eq!((restored.version.as_str(), restored.status), (before.version.as_str(), VersionStatus::Live));
    assert!(restored.reason.as_deref().unwrap_or_default().starts_with("restored: "), "{restored:?}");
    assert_eq!(live(plain.registry(), ModelKind::Segments).await.as_ref(), Some(&before.version));
    readers_see(&stores, &before.version).await;
    let replaced = plain.registry().record(ModelKind::Segments, &with.version).await.unwrap().unwrap();
    assert_eq!(replaced.status, VersionStatus::Retired);
    assert_eq!(replaced.reason.unwrap_or_default(), format!("replaced by restored {}", before.version));
    assert_eq!(replaced.retired_by, Some(RetiredBy::Retrain));
    // Then quiet: the live version saw these inputs.
    let quiet_night = night(&plain).await;
    assert!(quiet_night.unchanged && quiet_night.version == before.version, "{quiet_night:?}");
    // The sale sent again counts again, and the version trained with it comes back the same way.
    more_sales(&stores, 999_003).await;
    let again = night(&plain).await;
    assert_eq!(
        (again.version.as_str(), again.status),
        (with.version.as_str(), VersionStatus::Live),
        "{again:?}"
    );
}

/// Every sale withdrawn leaves nothing to train on: the versions trained on them stop serving (a
/// data-removal request's rows with them) instead of answering from withdrawn data every night,
/// and the same sales ingested again bring each back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_every_sale_takes_each_kind_out_of_serving_until_the_sales_come_back() {
    let (_home, stores) = stores_with_sample().await;
    let plain = nightly(&stores).await;
    let first = plain.run(&ModelKind::ALL, "t", &quiet).await.unwrap();
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    let ingestor = Ingestor::open(&*stores.blobs).await.unwrap();
    ingestor.withdraw("transactions/sample.csv", false).await.unwrap();

    let emptied = plain.run(&ModelKind::ALL, "t", &quiet).await.unwrap();
    assert!(emptied.failed.is_empty(), "taking them out is no failure: {:?}", emptied.failed);
    each_kind_is(&emptied.kinds, &first.kinds, VersionStatus::Retired, ("retired: no ", "were withdrawn"));
    for taken in &emptied.kinds {
        assert_eq!(live(plain.registry(), taken.kind).await, None, "{:?}", taken.kind);
        let record = plain.registry().record(taken.kind, &taken.version).await.unwrap().unwrap();
        assert_eq!((record.status, record.retired_by), (VersionStatus::Retired, Some(RetiredBy::TakenOut)));
    }
    let reader = Reader::open(&stores, std::time::Duration::ZERO).await.unwrap();
    let segment = reader.get::<CustomerSegment>(ModelKind::Segments, &customer_partition("14456")).await;
    assert!(segment.unwrap().is_none(), "no segments are served");
    // Nothing left to train on: each kind fails as on a home that never had sales.
    let again = plain.run(&ModelKind::ALL, "t", &quiet).await.unwrap();
    assert_eq!(again.failed.len(), 3, "{again:?}");

    let sample =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample/online_retail_sample.csv"))
            .unwrap();
    ingestor
        .uploads()
        .put("transactions/sample.csv", Bytes::from(sample), PutOptions::default())
        .await
        .unwrap();
    ingestor.ingest("transactions/sample.csv", &IngestOptions::default()).await.unwrap();
    let back = plain.run(&ModelKind::ALL, "t", &quiet).await.unwrap();
    each_kind_is(&back.kinds, &first.kinds, VersionStatus::Live, ("restored: ", "ingested again"));
    for kind in &back.kinds {
        let said = kind.reason.as_deref().unwrap_or_default();
        assert!(!said.contains("retired:"), "why it was taken out goes once it is back: {said}");
    }
    readers_see(&stores, &first.kinds[2].version).await;
}

/// A kind rolled back (pinned) and then left with no sales: its version is taken out all the
/// same, and says the pin was lifted; a take-out read against a pointer that moved is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_kind_left_without_sales_is_taken_out_and_says_its_pin_was_lifted() {
    let (_home, stores) = stores_with_sample().await;
    let (plain, first, second) = two_nights(&stores, 999_006).await;
    let registry = plain.registry();
    let before_rollback = registry.live(ModelKind::Segments).await.unwrap().unwrap();
    plain.rollback(ModelKind::Segments).await.unwrap();
    let moved = registry.retire_live(&before_rollback, "retired: test").await;
    assert!(matches!(moved, Err(shopsense::registry::RegistryError::PointerMoved { .. })), "{moved:?}");
    assert_eq!(live(registry, ModelKind::Segments).await, Some(first.version.clone()), "left as it was");

    let ingestor = Ingestor::open(&*stores.blobs).await.unwrap();
    ingestor.withdraw("transactions/sample.csv", false).await.unwrap();
    ingestor.withdraw("transactions/more-999006.csv", false).await.unwrap();
    let taken = night(&plain).await;
    assert_eq!((taken.version.as_str(), taken.status), (first.version.as_str(), VersionStatus::Retired));
    let said = taken.reason.unwrap_or_default();
    assert!(said.contains(&format!("; its pin (rolled back from {} at ", second.version)), "{said}");
    assert!(said.ends_with(") is lifted"), "{said}");
    assert!(registry.live(ModelKind::Segments).await.unwrap().is_none());
}

/// The live version trained on an upload withdrawn since (the demo's sample, before the shop's
/// own data): the next version is judged as a first one, not held to metrics of sales that no
/// longer count, which would keep the withdrawn data serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_replacing_one_trained_on_a_withdrawn_upload_is_judged_as_a_first_one() {
    let (_home, stores, ingestor) = empty_stores().await;
    let bodies = ingest_in_thirds(&ingestor).await;
    let plain = nightly(&stores).await;
    let both = night(&plain).await;
    assert_eq!(both.status, VersionStatus::Live);

    // A third withdrawn: the live version answers from it until a retrain, which still compares
    // the candidate with it.
    ingestor.withdraw("transactions/rest.csv", false).await.unwrap();
    let withdrawn = plain.on_withdrawn(ModelKind::Segments, &both.version).await.unwrap();
    assert_eq!(withdrawn.len(), 1, "until a retrain the live version answers from it: {withdrawn:?}");
    let most = night(&plain).await;
    let record = plain.registry().record(ModelKind::Segments, &most.version).await.unwrap().unwrap();
    assert_eq!(record.gate.unwrap().live_version.as_deref(), Some(both.version.as_str()), "compared as ever");
    assert!(plain.on_withdrawn(ModelKind::Segments, &most.version).await.unwrap().is_empty());

    // The third sent again (the version of both comes back), then the two thirds withdrawn.
    let (rest, body) = &bodies[1];
    ingestor.uploads().put(rest, Bytes::from(body.clone()), PutOptions::default()).await.unwrap();
    ingestor.ingest(rest, &IngestOptions::default()).await.unwrap();
    assert_eq!(night(&plain).await.version, both.version);
    ingestor.withdraw("transactions/most.csv", false).await.unwrap();
    let rest_only = night(&plain).await;
    assert_eq!(rest_only.status, VersionStatus::Live, "{rest_only:?}");
    let said = rest_only.reason.as_deref().unwrap_or_default();
    assert!(
        said.starts_with(&format!(
            "judged as a first version: the version it replaced, {}, was trained on 1 upload withdrawn since (sha256 ",
            both.version
        )),
        "{said}"
    );
    let record = plain.registry().record(ModelKind::Segments, &rest_only.version).await.unwrap().unwrap();
    assert_eq!(record.gate.unwrap().live_version, None, "not compared with the withdrawn data's version");
    assert!(plain.on_withdrawn(ModelKind::Segments, &rest_only.version).await.unwrap().is_empty());
}

/// A version rejected against a live version trained on uploads withdrawn since (by a build
/// from before the gate knew of withdrawals) does not make the same inputs `unchanged ...
/// rejected` for ever: they are trained again, judged as a first version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_judged_against_a_version_of_withdrawn_uploads_is_trained_again() {
    let (_home, stores, ingestor) = empty_stores().await;
    ingest_in_thirds(&ingestor).await;
    let plain = nightly(&stores).await;
    let both = night(&plain).await;
    ingestor.withdraw("transactions/most.csv", false).await.unwrap();
    let strict = strict_segments(&stores).await;
    let rejected = night(&strict).await;
    assert_eq!(rejected.status, VersionStatus::Rejected, "{rejected:?}");
    // As judged now (not against the live version), the rejection stands for these inputs.
    let again = night(&plain).await;
    assert!(again.unchanged && again.version == rejected.version, "{again:?}");
    // As judged against a live version (by a build from before the gate knew of withdrawals, or
    // against one live before this one): that verdict does not stand either.
    let registry = plain.registry();
    let mut record = registry.record(ModelKind::Segments, &rejected.version).await.unwrap().unwrap();
    record.gate.as_mut().unwrap().live_version = Some("20111201T000000000Z-before".to_owned());
    registry.save_record(&record).await.unwrap();
    let retrained = night(&plain).await;
    assert!(!retrained.unchanged && retrained.version != rejected.version, "{retrained:?}");
    assert_eq!(retrained.status, VersionStatus::Live, "{retrained:?}");
    let said = retrained.reason.unwrap_or_default();
    assert!(
        said.starts_with(&format!("judged as a first version: the version it replaced, {}", both.version)),
        "{said}"
    );
}

/// The live version was trained only on uploads withdrawn since, and the version trained on the
/// sales that count is rejected: the withdrawn sales do not go on serving. The live version is
/// taken out, saying so on its own line; a version a person chooses afterwards stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_version_of_withdrawn_uploads_alone_is_taken_out_when_its_replacement_is_rejected() {
    let (_home, stores, ingestor) = empty_stores().await;
    let bodies = ingest_in_thirds(&ingestor).await;
    ingestor.withdraw("transactions/rest.csv", false).await.unwrap();
    let plain = nightly(&stores).await;
    let most = night(&plain).await;
    assert_eq!(most.status, VersionStatus::Live, "{most:?}");

    // The shop swaps what counts: the third back, the two thirds withdrawn.
    let (rest, body) = &bodies[1];
    ingestor.uploads().put(rest, Bytes::from(body.clone()), PutOptions::default()).await.unwrap();
    ingestor.ingest(rest, &IngestOptions::default()).await.unwrap();
    ingestor.withdraw("transactions/most.csv", false).await.unwrap();
    let strict = strict_segments(&stores).await;
    let rejected = night(&strict).await;
    assert_eq!(rejected.status, VersionStatus::Rejected, "{rejected:?}");
    let took_out = rejected.took_out.clone().expect("the live version of withdrawn uploads is taken out");
    assert_eq!(took_out.version, most.version);
    assert!(
        took_out.reason.starts_with(
            "retired: no upload it was trained on still counts (1 upload withdrawn since (sha256 "
        ),
        "the alert rule reads this start: {}",
        took_out.reason
    );
    assert!(
        took_out.reason.contains(&format!("`shopsense models promote {}`", rejected.version)),
        "{took_out:?}"
    );
    let registry = strict.registry();
    assert_eq!(live(registry, ModelKind::Segments).await, None);
    let record = registry.record(ModelKind::Segments, &most.version).await.unwrap().unwrap();
    assert_eq!((record.status, record.retired_by), (VersionStatus::Retired, Some(RetiredBy::TakenOut)));

    // The next night the rejection stands and there is nothing left to take out.
    let again = night(&strict).await;
    assert!(again.unchanged && again.version == rejected.version && again.took_out.is_none(), "{again:?}");

    // A person serves the old version anyway: the nights leave that choice alone.
    strict.promote(ModelKind::Segments, &most.version).await.unwrap();
    let chosen = night(&strict).await;
    assert!(chosen.unchanged && chosen.took_out.is_none(), "{chosen:?}");
    assert_eq!(live(registry, ModelKind::Segments).await, Some(most.version.clone()));
}

/// Who retired a version is read from `retired_by`; a record kept from before that field is
/// read from its reason's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whether_a_retired_version_comes_back_with_its_inputs_is_read_from_who_retired_it() {
    let (_home, stores) = stores_with_sample().await;
    let (plain, before, with) = two_nights(&stores, 999_005).await;
    let registry = plain.registry();
    let mut retired = registry.record(ModelKind::Segments, &before.version).await.unwrap().unwrap();
    assert_eq!((retired.status, retired.retired_by), (VersionStatus::Retired, Some(RetiredBy::Retrain)));
    // Marked as a person's rollback, whatever its words say, it stays retired.
    retired.retired_by = Some(RetiredBy::Rollback);
    registry.save_record(&retired).await.unwrap();
    let ingestor = Ingestor::open(&*stores.blobs).await.unwrap();
    ingestor.withdraw("transactions/more-999005.csv", false).await.unwrap();
    let quiet_night = night(&plain).await;
    assert!(quiet_night.unchanged && quiet_night.version == before.version, "{quiet_night:?}");
    assert_eq!(live(registry, ModelKind::Segments).await.as_ref(), Some(&with.version));
    // A record from before the field: its words say a retrain replaced it, so it comes back.
    retired.retired_by = None;
    registry.save_record(&retired).await.unwrap();
    let restored = night(&plain).await;
    assert_eq!((restored.version.as_str(), restored.status), (before.version.as_str(), VersionStatus::Live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_rejected_on_the_same_inputs_is_not_trained_and_rejected_again_every_night() {
    let (_home, stores) = stores_with_sample().await;
    let strict = strict_segments(&stores).await;
    let first = strict.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert_eq!(first.status, VersionStatus::Rejected);
    let again = strict.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0);
    assert!(again.unchanged && again.version == first.version, "{again:?}");
    assert_eq!(again.status, VersionStatus::Rejected);
    let said = again.reason.unwrap_or_default();
    assert!(said.contains("is rejected (gate failed: needs silhouette >= floor"), "{said}");
    assert_eq!(strict.registry().list(ModelKind::Segments).await.unwrap().len(), 1);
}

/// The shipped Online Retail sample, as text.
fn sample_csv() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample/online_retail_sample.csv"))
        .unwrap()
}

/// Ingests the shipped sample as two uploads: two thirds of its lines in
/// `transactions/most.csv`, a third in `transactions/rest.csv`; their paths and bodies.
async fn ingest_in_thirds(ingestor: &Ingestor) -> Vec<(String, String)> {
    let sample = sample_csv();
    let mut lines = sample.lines();
    let header = lines.next().unwrap();
    let lines: Vec<&str> = lines.collect();
    let mut bodies = Vec::new();
    for (name, third) in [("most", false), ("rest", true)] {
        let part = lines.iter().enumerate().filter(|(n, _)| (n % 3 == 0) == third).map(|(_, l)| *l);
        let body: String = std::iter::once(header).chain(part).collect::<Vec<_>>().join("\n");
        let path = format!("transactions/{name}.csv");
        ingestor.uploads().put(&path, Bytes::from(body.clone()), PutOptions::default()).await.unwrap();
        ingestor.ingest(&path, &IngestOptions::default()).await.unwrap();
        bodies.push((path, body));
    }
    bodies
}

/// The sample's segments trained, one more sale ingested (invoice `invoice`) and trained again:
/// the trainer and both nights' outcomes.
async fn two_nights(
    stores: &Stores,
    invoice: u32,
) -> (Trainer, shopsense::train::KindOutcome, shopsense::train::KindOutcome) {
    let plain = nightly(stores).await;
    let first = night(&plain).await;
    more_sales(stores, invoice).await;
    let second = night(&plain).await;
    (plain, first, second)
}

/// Each of `outcomes` is the version of the same kind in `trained`, now `status`, with a reason
/// that starts with `said.0` and holds `said.1`.
fn each_kind_is(
    outcomes: &[shopsense::train::KindOutcome],
    trained: &[shopsense::train::KindOutcome],
    status: VersionStatus,
    said: (&str, &str),
) {
    assert_eq!(outcomes.len(), trained.len());
    for (now, then) in outcomes.iter().zip(trained) {
        assert_eq!((now.kind, now.version.as_str(), now.status), (then.kind, then.version.as_str(), status));
        let reason = now.reason.as_deref().unwrap_or_default();
        assert!(reason.starts_with(said.0) && reason.contains(said.1), "{reason}");
    }
}

/// One night's retrain of the segments alone, as `trainer` runs it.
async fn night(trainer: &Trainer) -> shopsense::train::KindOutcome {
    trainer.run(&[ModelKind::Segments], "t", &quiet).await.unwrap().kinds.remove(0)
}

/// Ingests one more day of sales (a new invoice), so the next retrain sees new inputs.
async fn more_sales(stores: &Stores, invoice: u32) {
    let ingestor = Ingestor::open(&*stores.blobs).await.unwrap();
    let more = format!(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
         {invoice},85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2011-12-09 12:00:00,2.55,17850,United Kingdom\n"
    );
    let path = format!("transactions/more-{invoice}.csv");
    ingestor.uploads().put(&path, Bytes::from(more), PutOptions::default()).await.unwrap();
    ingestor.ingest(&path, &IngestOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_nights_leave_a_pinned_kind_and_a_version_a_person_promoted_over_a_held_one_alone() {
    let (_home, stores) = stores_with_sample().await;
    let (plain, v1, v2) = two_nights(&stores, 999_001).await;
    assert_eq!(v2.status, VersionStatus::Live);
    plain.rollback(ModelKind::Segments).await.unwrap();
    more_sales(&stores, 999_002).await;
    let held = night(&plain).await;
    assert_eq!(held.status, VersionStatus::Held, "{held:?}");
    // Pinned, a quiet night is unchanged: the held version stands for these inputs.
    let quiet = night(&plain).await;
    assert!(
        quiet.unchanged && quiet.version == held.version && quiet.status == VersionStatus::Held,
        "{quiet:?}"
    );
    // A person promotes v2 over the held version: quiet nights keep their choice.
    plain.promote(ModelKind::Segments, &v2.version).await.unwrap();
    let quiet = night(&plain).await;
    assert!(quiet.unchanged && quiet.version == held.version, "{quiet:?}");
    assert_eq!(live(plain.registry(), ModelKind::Segments).await, Some(v2.version.clone()));
    assert_ne!(v1.version, v2.version);
    // Rolled back again and a new version held, a person promotes the live version itself: the
    // pin is lifted, and quiet nights keep their choice too.
    let back = plain.rollback(ModelKind::Segments).await.unwrap().version;
    more_sales(&stores, 999_003).await;
    assert_eq!(night(&plain).await.status, VersionStatus::Held);
    plain.promote(ModelKind::Segments, &back).await.unwrap();
    let quiet = night(&plain).await;
    assert!(quiet.unchanged && quiet.status == VersionStatus::Held, "{quiet:?}");
    assert_eq!(live(plain.registry(), ModelKind::Segments).await, Some(back));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_two_rollbacks_and_an_unpin_the_next_night_publishes_what_was_held() {
    let (_home, stores) = stores_with_sample().await;
    let plain = nightly(&stores).await;
    night(&plain).await;
    for invoice in [999_001, 999_002] {
        more_sales(&stores, invoice).await;
        assert_eq!(night(&plain).await.status, VersionStatus::Live);
    }
    plain.rollback(ModelKind::Segments).await.unwrap();
    more_sales(&stores, 999_003).await;
    let held = night(&plain).await;
    assert_eq!(held.status, VersionStatus::Held);
    plain.rollback(ModelKind::Segments).await.unwrap();
    plain.unpin(ModelKind::Segments).await.unwrap();
    let next = night(&plain).await;
    assert!(!next.unchanged && next.status == VersionStatus::Live, "{next:?}");
    assert_ne!(next.version, held.version);
}

/// Uploads and ingests four SKUs' sales on each of `days`, invoices numbered from `invoice`.
async fn upload_days(
    ingestor: &Ingestor,
    path: &str,
    days: impl Iterator<Item = chrono::NaiveDate>,
    invoice: u64,
) {
    let mut csv =
        String::from("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n");
    for (d, day) in days.enumerate() {
        for (i, sku) in ["85123A", "22423", "84029E", "21212"].iter().enumerate() {
            let customer = 12_000 + (d * 4 + i) % 30;
            csv.push_str(&format!(
                "{}{i},{sku},THING,{},{day} 10:00:00,2.5,{customer},United Kingdom\n",
                invoice + d as u64,
                3 + i
            ));
        }
    }
    ingestor.uploads().put(path, Bytes::from(csv), PutOptions::default()).await.unwrap();
    ingestor.ingest(path, &IngestOptions::default()).await.unwrap();
}

/// A shop's first three weeks: the forecast is refused with the span it needs (a holdout of 28
/// days would leave the model it is judged on nothing to fit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_weeks_of_sales_train_no_forecast_and_say_how_many_days_it_needs() {
    let (_home, stores, ingestor) = empty_stores().await;
    let first = chrono::NaiveDate::from_ymd_opt(2011, 11, 18).unwrap();
    upload_days(
        &ingestor,
        "transactions/first-weeks.csv",
        (0..21).map(|d| first + chrono::Days::new(d)),
        540_000,
    )
    .await;
    let report = healthy(&stores).await.run(&[ModelKind::Forecast], "t", &quiet).await.unwrap();
    assert_eq!((report.failed.len(), report.kinds.len()), (1, 0), "{report:?}");
    let said = report.failed[0].to_string();
    assert!(
        said.contains("the sales span 21 days (2011-11-18 to 2011-12-08)") && said.contains("so it needs 56"),
        "{said}"
    );
    assert!(!report.failed[0].transient, "not worth a retry: {said}");
    // Kept for `GET /api/models` and `models list` until a training of the kind succeeds.
    let trainer = healthy(&stores).await;
    let failure = trainer.registry().last_failure(ModelKind::Forecast).await.unwrap().unwrap();
    assert!(failure.error.contains("so it needs 56"), "{failure:?}");
    upload_days(
        &ingestor,
        "transactions/earlier-weeks.csv",
        (1..=49).map(|d| first - chrono::Days::new(d)),
        530_000,
    )
    .await;
    let report = trainer.run(&[ModelKind::Forecast], "t", &quiet).await.unwrap();
    assert_eq!((report.failed.len(), report.kinds.len()), (0, 1), "{report:?}");
    assert!(trainer.registry().last_failure(ModelKind::Forecast).await.unwrap().is_none());
}

/// A forecast live on sales to October holds back the first version with November's sales too
/// (a gate asking for a far better skill); the next version that far ahead is held to the floor
/// only and goes live, and its gate says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_forecast_that_held_back_newer_sales_once_is_not_compared_with_again() {
    let (_home, stores, ingestor) = empty_stores().await;
    let sample = sample_csv();
    let mut lines = sample.lines();
    let header = lines.next().unwrap();
    let (mut autumn, mut winter) = (format!("{header}\n"), format!("{header}\n"));
    for line in lines {
        let into =
            if line.contains(",2011-11-") || line.contains(",2011-12-") { &mut winter } else { &mut autumn };
        into.push_str(line);
        into.push('\n');
    }
    let send = async |path: &str, text: String| {
        ingestor.uploads().put(path, Bytes::from(text), PutOptions::default()).await.unwrap();
        ingestor.ingest(path, &IngestOptions::default()).await.unwrap();
    };
    send("transactions/to-october.csv", autumn).await;
    let first = healthy(&stores).await.run(&[ModelKind::Forecast], "t", &quiet).await.unwrap();
    // The sample's first ten months alone forecast worse than naive: put live by hand.
    let trainer = healthy(&stores).await;
    trainer.promote(ModelKind::Forecast, &first.kinds[0].version).await.unwrap();
    send("transactions/november-december.csv", winter).await;
    let demanding = Trainer::new(
        stores.blobs.container(SILVER_CONTAINER).await.unwrap(),
        Registry::open(&stores, 5).await.unwrap(),
        TrainOptions {
            gates: shopsense::registry::Gates { forecast_wape_vs_live: 0.01, ..Default::default() },
            ..TrainOptions::default()
        },
    )
    .forcing();
    let held = demanding.run(&[ModelKind::Forecast], "t", &quiet).await.unwrap();
    assert_eq!(held.kinds[0].status, VersionStatus::Rejected, "the first is compared: {held:?}");
    let next = demanding.run(&[ModelKind::Forecast], "t", &quiet).await.unwrap();
    assert_eq!(next.kinds[0].status, VersionStatus::Live, "{next:?}");
    let record =
        demanding.registry().record(ModelKind::Forecast, &next.kinds[0].version).await.unwrap().unwrap();
    let gate = record.gate.unwrap();
    assert!(
        gate.checks[0].check.contains("days before this version's")
            && gate.checks[0].check.contains("held back"),
        "{gate:?}"
    );
    assert_eq!(record.metrics["data_end"], "2011-12-09");
}
