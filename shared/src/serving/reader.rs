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

/// Documents kept in the cache (each a few KB at most).
const CACHE_DOCUMENTS: usize = 50_000;

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
    /// (partition, id, parsed type) -> the parsed document (`Option<T>`, absent ones too).
    cache: quick_cache::sync::Cache<(String, String, TypeId), Arc<dyn Any + Send + Sync>>,
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
        Self {
            records,
            serving,
            pointer_ttl,
            pointers: Mutex::new(HashMap::new()),
            cache: quick_cache::sync::Cache::new(CACHE_DOCUMENTS),
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
            && let Some(parsed) = cached.downcast_ref::<Option<Arc<T>>>()
        {
            return Ok(parsed.clone());
        }
        let parsed: Option<Arc<T>> = match self.serving.get(&key.0, &key.1).await? {
            Some(doc) => Some(Arc::new(
                doc.parse::<T>()
                    .map_err(|e| ReaderError::Malformed { key: doc.key(), reason: e.to_string() })?,
            )),
            None => None,
        };
        self.cache.insert(key, Arc::new(parsed.clone()));
        Ok(parsed)
    }
}
