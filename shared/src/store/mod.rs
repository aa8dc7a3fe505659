//! Storage behind two traits, each with a local and an Azure backend.
//!
//! | trait | local default | Azure |
//! |---|---|---|
//! | [`BlobStore`] (one container) / [`BlobService`] | [`folder`]: files under `<home>/blobs` | [`azure_blob`]: Blob Storage via `azure_storage_blob` |
//! | [`DocumentStore`] (one container) / [`DocumentDatabase`] | [`embedded`]: one redb file | [`cosmos`]: Cosmos DB via `azure_data_cosmos` |
//!
//! [`Stores::open`] picks the pair from [`Settings`]; [`conformance`] is the one suite every
//! backend passes.

pub mod azure_blob;
mod blob;
pub mod conformance;
pub mod cosmos;
mod document;
pub mod embedded;
mod error;
pub mod folder;
mod probe;
mod sas;

use std::sync::Arc;

pub use blob::{
    Blob, BlobMeta, BlobService, BlobStore, ETag, PutMode, PutOptions, validate_container_name,
    validate_metadata, validate_path,
};
pub use document::{
    Direction, Document, DocumentDatabase, DocumentStore, Filter, Op, Query, validate_key_part,
};
pub use error::{StoreError, StoreResult};
pub use probe::{PROBE_BLOB, PROBE_DOCUMENT, StoreProbe, StoresProbe};

use crate::settings::{Backend, Settings};

/// The storage a process works with: one blob account and one document database.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Blob containers (uploads, bronze, silver, quarantine, models).
    pub blobs: Arc<dyn BlobService>,
    /// Document containers (serving documents, alerts, registry pointers).
    pub documents: Arc<dyn DocumentDatabase>,
}

/// Prefixes every blob container name: several independent deployments (or parallel test runs)
/// can share one storage account. Setting `SHOPSENSE_BLOB_CONTAINER_PREFIX`, default none.
#[derive(Debug)]
pub struct PrefixedBlobService {
    prefix: String,
    inner: Arc<dyn BlobService>,
}

impl PrefixedBlobService {
    /// Wraps `inner` so that container `name` is `<prefix><name>`.
    #[must_use]
    pub fn new(prefix: impl Into<String>, inner: Arc<dyn BlobService>) -> Self {
        Self { prefix: prefix.into(), inner }
    }
}

#[async_trait::async_trait]
impl BlobService for PrefixedBlobService {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn BlobStore>> {
        self.inner.container(&format!("{}{name}", self.prefix)).await
    }
}

/// The setting naming the blob container prefix.
pub const CONTAINER_PREFIX_SETTING: &str = "SHOPSENSE_BLOB_CONTAINER_PREFIX";

impl Stores {
    /// Opens the backends the settings choose. Clients are built once here and shared.
    pub async fn open(settings: &Settings) -> StoreResult<Self> {
        let mut stores = Self::open_unprefixed(settings).await?;
        if let Some(prefix) = settings.get(CONTAINER_PREFIX_SETTING) {
            validate_container_name(&format!("{prefix}abc"))?;
            stores.blobs = Arc::new(PrefixedBlobService::new(prefix, stores.blobs));
        }
        Ok(stores)
    }

    async fn open_unprefixed(settings: &Settings) -> StoreResult<Self> {
        match &settings.backend {
            Backend::Local => {
                let blobs = folder::FolderBlobService::new(settings.home.join("blobs"))?;
                let documents = embedded::EmbeddedDatabase::open(&settings.home.join("documents.redb"))?;
                Ok(Self { blobs: Arc::new(blobs), documents: Arc::new(documents) })
            }
            Backend::Azure { blob, cosmos } => {
                let blobs = azure_blob::AzureBlobService::new(blob)?;
                let documents = cosmos::CosmosDatabase::connect(cosmos).await?;
                Ok(Self { blobs: Arc::new(blobs), documents: Arc::new(documents) })
            }
        }
    }

    /// Names the backends, for the startup log line (no secrets).
    #[must_use]
    pub fn describe(&self) -> String {
        format!("blobs: {:?}; documents: {:?}", self.blobs, self.documents)
    }
}
