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
pub mod deferred;
mod document;
pub mod embedded;
mod error;
pub mod folder;
mod probe;
mod sas;

use std::sync::Arc;
use std::time::Duration;

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
        stores.prefix_blobs(settings)?;
        Ok(stores)
    }

    /// Opens the backends as [`Stores::open`] does, but gives Cosmos DB `wait` to answer: when
    /// it has not by then, or failed in a way that may pass, it is connected on first use
    /// instead ([`deferred`]) and the reason is returned beside the stores. A failure that will
    /// not pass (a rejected key, a malformed endpoint) still fails here. The local backend opens
    /// as it always does.
    ///
    /// # Errors
    /// As [`Stores::open`], but for an unreachable Cosmos DB.
    pub async fn open_deferring_documents(
        settings: &Settings,
        wait: Duration,
    ) -> StoreResult<(Self, Option<String>)> {
        let (mut stores, deferred) = Self::open_unprefixed_waiting(settings, Some(wait)).await?;
        stores.prefix_blobs(settings)?;
        Ok((stores, deferred))
    }

    fn prefix_blobs(&mut self, settings: &Settings) -> StoreResult<()> {
        if let Some(prefix) = settings.get(CONTAINER_PREFIX_SETTING) {
            validate_container_name(&format!("{prefix}abc"))?;
            self.blobs = Arc::new(PrefixedBlobService::new(prefix, Arc::clone(&self.blobs)));
        }
        Ok(())
    }

    async fn open_unprefixed(settings: &Settings) -> StoreResult<Self> {
        Ok(Self::open_unprefixed_waiting(settings, None).await?.0)
    }

    async fn open_unprefixed_waiting(
        settings: &Settings,
        wait: Option<Duration>,
    ) -> StoreResult<(Self, Option<String>)> {
        match &settings.backend {
            Backend::Local => {
                let blobs = folder::FolderBlobService::new(settings.home.join("blobs"))?;
                let documents = embedded::EmbeddedDatabase::open(&settings.home.join("documents.redb"))?;
                Ok((Self { blobs: Arc::new(blobs), documents: Arc::new(documents) }, None))
            }
            Backend::Azure { blob, cosmos } => {
                let blobs: Arc<dyn BlobService> = Arc::new(azure_blob::AzureBlobService::new(blob)?);
                let Some(wait) = wait else {
                    let documents = Arc::new(cosmos::CosmosDatabase::connect(cosmos).await?);
                    return Ok((Self { blobs, documents }, None));
                };
                let why = match tokio::time::timeout(wait, cosmos::CosmosDatabase::connect(cosmos)).await {
                    Ok(Ok(documents)) => return Ok((Self { blobs, documents: Arc::new(documents) }, None)),
                    // A malformed setting or a rejected key will not pass; a refusal that may
                    // (a firewall rule, a role assignment still propagating: 403) starts deferred.
                    Ok(Err(e @ StoreError::Config(_))) => return Err(e),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {} s", wait.as_secs_f64()),
                };
                let connection = cosmos.clone();
                let connect: deferred::Connect = Arc::new(move || {
                    let connection = connection.clone();
                    Box::pin(async move {
                        let database = cosmos::CosmosDatabase::connect(&connection).await?;
                        Ok(Arc::new(database) as Arc<dyn DocumentDatabase>)
                    })
                });
                let location = format!("cosmos {} database {}", cosmos.endpoint, cosmos.database);
                let documents = deferred::DeferredDatabase::new(
                    location,
                    connect,
                    deferred::ATTEMPT_TIMEOUT,
                    deferred::RECONNECT_PAUSE,
                );
                Ok((Self { blobs, documents: Arc::new(documents) }, Some(why)))
            }
        }
    }

    /// Names the backends, for the startup log line (no secrets).
    #[must_use]
    pub fn describe(&self) -> String {
        format!("blobs: {:?}; documents: {:?}", self.blobs, self.documents)
    }
}
