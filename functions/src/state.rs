//! What every handler shares: settings, store clients and the ingestor, built once per process.

use std::sync::Arc;

use shopsense::ingest::{DEFAULT_MAX_TABLE_BYTES, IngestOptions, Ingestor, Thresholds};
use shopsense::settings::Settings;
use shopsense::store::Stores;

/// Why the application state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A store could not be opened.
    #[error(transparent)]
    Store(#[from] shopsense::store::StoreError),
    /// The ingest containers could not be opened.
    #[error(transparent)]
    Ingest(#[from] shopsense::ingest::IngestError),
    /// A setting is unusable.
    #[error(transparent)]
    Settings(#[from] shopsense::settings::SettingsError),
}

/// Application state: cheap to clone (everything behind `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The process's settings.
    pub settings: Arc<Settings>,
    /// Blob and document stores, clients built once.
    pub stores: Stores,
    /// The ingest pipeline's containers.
    pub ingestor: Arc<Ingestor>,
    /// How uploads are ingested (thresholds and limits from settings).
    pub ingest_options: Arc<IngestOptions>,
    /// The real name of the uploads container (with any configured prefix), as blob events name it.
    pub uploads_container: String,
}

impl AppState {
    /// Opens the stores the settings choose and everything built on them.
    pub async fn open(settings: Settings) -> Result<Self, StateError> {
        let stores = Stores::open(&settings).await?;
        let ingestor = Ingestor::open(&*stores.blobs).await?;
        let ingest_options = IngestOptions {
            thresholds: Thresholds::from_settings(&settings)?,
            max_table_bytes: settings.parse_or("INGEST_MAX_TABLE_BYTES", DEFAULT_MAX_TABLE_BYTES)?,
            ..IngestOptions::default()
        };
        let prefix = settings.get(shopsense::store::CONTAINER_PREFIX_SETTING).unwrap_or_default();
        let uploads_container = format!("{prefix}{}", shopsense::bronze::UPLOADS_CONTAINER);
        Ok(Self {
            uploads_container,
            settings: Arc::new(settings),
            stores,
            ingestor: Arc::new(ingestor),
            ingest_options: Arc::new(ingest_options),
        })
    }
}
