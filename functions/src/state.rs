//! What every handler shares: settings and store clients, built once per process.

use std::sync::Arc;

use shopsense::settings::Settings;
use shopsense::store::Stores;

/// Application state: cheap to clone (everything behind `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The process's settings.
    pub settings: Arc<Settings>,
    /// Blob and document stores, clients built once.
    pub stores: Stores,
}

impl AppState {
    /// Opens the stores the settings choose.
    pub async fn open(settings: Settings) -> Result<Self, shopsense::store::StoreError> {
        let stores = Stores::open(&settings).await?;
        Ok(Self { settings: Arc::new(settings), stores })
    }
}
