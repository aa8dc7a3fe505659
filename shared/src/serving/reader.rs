//! [`Reader`]: resolves each kind's live version (re-read at most every `pointer_ttl`) and
//! reads that version's documents through an in-process cache keyed by version, so a hot
//! customer or SKU costs one store read per version per process, and a flip is seen within the
//! TTL without any invalidation message.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::documents::doc_id;
use crate::registry::{LivePointer, ModelKind, REGISTRY_CONTAINER, SERVING_CONTAINER};
use crate::store::{DocumentStore, StoreError, Stores, validate_key_part};

/// Documents the cache expects to hold (a sizing hint; the bound is [`CACHE_BYTES`]).
const CACHE_DOCUMENTS: usize = 50_000;
/// Estimated memory the cached documents may take ([`approx_bytes`]). A customer's document holds
/// 100 candidates with their descriptions (about 40 KB by that estimate) and a wholesaler's can
/// list 50,000 purchases, so a bound in documents alone could hold gigabytes on a 2 GB instance.
const CACHE_BYTES: u64 = 256 << 20;

/// A cache entry: the parsed document (`Option<Arc<T>>`, absent ones too) and its estimated size.
#[derive(Clone)]
struct Cached {
    parsed: Arc<dyn Any + Send + Sync>,
    bytes: u64,
}

/// Weighs a cache entry by its estimated memory.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<(String, String, TypeId), Cached> for ByBytes {
    fn weight(&self, key: &(String, String, TypeId), value: &Cached) -> u64 {
        (key.0.len() + key.1.len()) as u64 + value.bytes
    }
}

/// Estimated memory of a JSON value once parsed: its strings plus a fixed cost per node (a
/// parsed struct's `String`s, `Vec`s and numbers take about the same).
fn approx_bytes(value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 16,
        Value::String(s) => 32 + s.len() as u64,
        Value::Array(items) => 32 + items.iter().map(approx_bytes).sum::<u64>(),
        Value::Object(fields) => approx_fields(fields),
    }
}

fn approx_fields(fields: &serde_json::Map<String, serde_json::Value>) -> u64 {
    32 + fields.iter().map(|(k, v)| 32 + k.len() as u64 + approx_bytes(v)).sum::<u64>()
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A document does not have the shape its kind promises.
    #[error("serving document {key} is malformed: {reason}")]
    Malformed {
        /// Its key.
        key: String,
        /// The parse error.
        reason: String,
    },
}

/// Reads live serving documents with a version-keyed cache.
#[derive(Debug)]
pub struct Reader {
    records: Arc<dyn DocumentStore>,
    serving: Arc<dyn DocumentStore>,
    pointer_ttl: Duration,
    pointers: Mutex<HashMap<ModelKind, (Option<String>, Instant)>>,
    /// (partition, id, parsed type) -> the parsed document, bounded by estimated bytes.
    cache: quick_cache::sync::Cache<(String, String, TypeId), Cached, ByBytes>,
}

impl Reader {
    /// A reader over the stores' registry and serving containers.
    ///
    /// # Errors
    /// When a container cannot be opened.
    pub async fn open(stores: &Stores, pointer_ttl: Duration) -> Result<Self, StoreError> {
        Ok(Self::new(
            stores.documents.container(REGISTRY_CONTAINER).await?,
            stores.documents.container(SERVING_CONTAINER).await?,
            pointer_ttl,
        ))
    }

    /// A reader over given containers.
    #[must_use]
    pub fn new(
        records: Arc<dyn DocumentStore>,
        serving: Arc<dyn DocumentStore>,
        pointer_ttl: Duration,
    ) -> Self {
        let mut options = quick_cache::OptionsBuilder::new();
        options.estimated_items_capacity(CACHE_DOCUMENTS).weight_capacity(CACHE_BYTES);
        Self::with_cache(records, serving, pointer_ttl, &options)
    }

    /// `options` size the cache. Each of its shards (by default 4 per core) holds an equal share
    /// of the bytes, and a document heavier than a shard's share is read but not kept: 256 MiB
    /// over 8 or 16 shards keeps documents up to 16 MiB (Cosmos DB stores 2 MB at most).
    fn with_cache(
        records: Arc<dyn DocumentStore>,
        serving: Arc<dyn DocumentStore>,
        pointer_ttl: Duration,
        options: &quick_cache::OptionsBuilder,
    ) -> Self {
        let options = options.build().expect("the cache's options are complete");
        Self {
            records,
            serving,
            pointer_ttl,
            pointers: Mutex::new(HashMap::new()),
            cache: quick_cache::sync::Cache::with_options(
                options,
                ByBytes,
                Default::default(),
                Default::default(),
            ),
        }
    }

    /// Forgets the cached live pointers (the next read resolves them again).
    pub fn refresh_pointers(&self) {
        if let Ok(mut pointers) = self.pointers.lock() {
            pointers.clear();
        }
    }

    /// The live version of `kind`, if any.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn live_version(&self, kind: ModelKind) -> Result<Option<String>, ReaderError> {
        if let Ok(pointers) = self.pointers.lock()
            && let Some((version, read_at)) = pointers.get(&kind)
            && read_at.elapsed() < self.pointer_ttl
        {
            return Ok(version.clone());
        }
        let version = match self.records.get(kind.as_str(), "live").await? {
            Some(doc) => Some(
                doc.parse::<LivePointer>()
                    .map_err(|e| ReaderError::Malformed { key: doc.key(), reason: e.to_string() })?
                    .version,
            ),
            None => None,
        };
        if let Ok(mut pointers) = self.pointers.lock() {
            pointers.insert(kind, (version.clone(), Instant::now()));
        }
        Ok(version)
    }

    /// The live `kind` document in `partition`: `None` when nothing is live, otherwise the
    /// version and the document if there is one. An answer built from several documents reads
    /// the live version once and then [`Reader::get_at`] it, so a flip between two reads cannot
    /// mix versions.
    ///
    /// # Errors
    /// When the store fails or the document is malformed.
    pub async fn get<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        kind: ModelKind,
        partition: &str,
    ) -> Result<Option<(String, Option<Arc<T>>)>, ReaderError> {
        let Some(version) = self.live_version(kind).await? else { return Ok(None) };
        let document = self.get_at(kind, &version, partition).await?;
        Ok(Some((version, document)))
    }

    /// `kind`'s document of `version` in `partition`, if there is one. Parsed documents are
    /// cached (keyed by partition, id, which carries the version, and type): a hot document is
    /// parsed once. A partition no document can have (over 255 characters: an id nobody sold
    /// to) is absent, like any other unknown id.
    ///
    /// # Errors
    /// When the store fails or the document is malformed.
    pub async fn get_at<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        kind: ModelKind,
        version: &str,
        partition: &str,
    ) -> Result<Option<Arc<T>>, ReaderError> {
        if validate_key_part("partition key", partition).is_err() {
            return Ok(None);
        }
        let key = (partition.to_owned(), doc_id(kind, version), TypeId::of::<T>());
        if let Some(cached) = self.cache.get(&key)
            && let Some(parsed) = cached.parsed.downcast_ref::<Option<Arc<T>>>()
        {
            return Ok(parsed.clone());
        }
        let (parsed, bytes): (Option<Arc<T>>, u64) = match self.serving.get(&key.0, &key.1).await? {
            Some(doc) => {
                let bytes = approx_fields(&doc.body);
                let parsed = doc
                    .parse::<T>()
                    .map_err(|e| ReaderError::Malformed { key: doc.key(), reason: e.to_string() })?;
                (Some(Arc::new(parsed)), bytes)
            }
            None => (None, 16),
        };
        self.cache.insert(key, Cached { parsed: Arc::new(parsed.clone()), bytes });
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::store::embedded::EmbeddedDatabase;
    use crate::store::{Document, DocumentDatabase};

    #[tokio::test]
    async fn the_cache_holds_documents_up_to_its_bytes_and_answers_the_same_after_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDatabase::open(&dir.path().join("docs.redb")).unwrap();
        let (records, serving) =
            (db.container("registry").await.unwrap(), db.container("serving").await.unwrap());
        // Forty documents of about 10 KB each, against a cache of 100 KB.
        let big =
            |i: usize| json!({ "skus": (0..300).map(|j| format!("SKU-{i}-{j:04}")).collect::<Vec<_>>() });
        for i in 0..40 {
            serving
                .upsert(&Document::new(format!("customer:{i}"), "rec.v1", &big(i)).unwrap())
                .await
                .unwrap();
        }
        let mut options = quick_cache::OptionsBuilder::new();
        options.estimated_items_capacity(40).weight_capacity(100_000).shards(1);
        let reader = Reader::with_cache(records, serving, Duration::from_secs(60), &options);
        for round in 0..2 {
            for i in 0..40 {
                let doc = reader
                    .get_at::<Value>(ModelKind::Recommend, "v1", &format!("customer:{i}"))
                    .await
                    .unwrap();
                assert_eq!(doc.unwrap()["skus"][299], json!(format!("SKU-{i}-0299")), "round {round}");
            }
        }
        let one = approx_fields(big(0).as_object().unwrap());
        assert!((8_000..20_000).contains(&one), "a 300-SKU list weighs {one} bytes");
        assert!(reader.cache.weight() <= 100_000, "{} bytes cached", reader.cache.weight());
        assert!((4..=12).contains(&reader.cache.len()), "{} documents cached", reader.cache.len());
    }
}
