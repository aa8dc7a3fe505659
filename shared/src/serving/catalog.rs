//! What serving knows of the catalogue: the discontinued lines ([`crate::catalog`]), which no
//! answer recommends. The silver catalogue tables are listed at most every `ttl` and read again
//! only when the listing changed (a new upload, or one replaced), so an upload marking a line
//! discontinued takes effect within `ttl` without a retrain.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, tables};
use crate::store::{BlobStore, StoreError};

/// One listing of the catalogue tables: each table's path and version.
type Listing = Vec<(String, String)>;

struct Cached {
    listing: Listing,
    discontinued: Arc<BTreeSet<String>>,
    checked: Instant,
}

/// The discontinued set, re-listed at most every `ttl`.
pub struct CatalogView {
    silver: Arc<dyn BlobStore>,
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for CatalogView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogView")
            .field("silver", &self.silver.location())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl CatalogView {
    /// A view over the silver container.
    #[must_use]
    pub fn new(silver: Arc<dyn BlobStore>, ttl: Duration) -> Self {
        Self { silver, ttl, cached: Mutex::new(None) }
    }

    /// The lines the catalogue says are discontinued (empty before any catalogue upload). When
    /// the store fails, the set last read answers (none before the first read), with a warning:
    /// a storage hiccup must not turn every recommendation into an error.
    pub async fn discontinued(&self) -> Arc<BTreeSet<String>> {
        let previous = match self.cached.lock() {
            Ok(cached) => match cached.as_ref() {
                Some(c) if c.checked.elapsed() < self.ttl => return c.discontinued.clone(),
                Some(c) => Some((c.listing.clone(), c.discontinued.clone())),
                None => None,
            },
            Err(_) => None,
        };
        match self.read(previous.clone()).await {
            Ok((listing, discontinued)) => {
                if let Ok(mut cached) = self.cached.lock() {
                    *cached =
                        Some(Cached { listing, discontinued: discontinued.clone(), checked: Instant::now() });
                }
                discontinued
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the catalogue: the discontinued lines last read stand");
                let (listing, discontinued) = previous.unwrap_or_default();
                // Tried again after the ttl, not on every request while storage is down.
                if let Ok(mut cached) = self.cached.lock() {
                    *cached =
                        Some(Cached { listing, discontinued: discontinued.clone(), checked: Instant::now() });
                }
                discontinued
            }
        }
    }

    /// Lists the tables, and reads them when the listing is not `previous`'s.
    async fn read(
        &self,
        previous: Option<(Listing, Arc<BTreeSet<String>>)>,
    ) -> Result<(Listing, Arc<BTreeSet<String>>), StoreError> {
        let listed = tables(&*self.silver).await?;
        let listing: Listing = listed.iter().map(|t| (t.path.clone(), t.etag.0.clone())).collect();
        let discontinued = match previous {
            Some((before, set)) if before == listing => set,
            _ => Arc::new(Catalog::read_listed(&*self.silver, &listed).await?.discontinued),
        };
        Ok((listing, discontinued))
    }

    /// Forgets the cached set: the next call reads the tables again (after a catalogue upload
    /// was ingested in this process).
    pub fn refresh(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PutOptions;
    use crate::store::folder::FolderBlobService;

    async fn put(silver: &dyn BlobStore, path: &str, sku: &str, discontinued: bool) {
        let mut frame = polars::df!("stock_code" => [sku], "discontinued" => [discontinued]).unwrap();
        let body = crate::features::write_parquet(&mut frame).unwrap();
        silver.put(path, body, PutOptions::default()).await.unwrap();
    }

    #[tokio::test]
    async fn a_new_upload_is_read_once_the_ttl_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let silver: Arc<dyn BlobStore> =
            Arc::new(FolderBlobService::new(dir.path()).unwrap().open("silver").unwrap());
        let view = CatalogView::new(silver.clone(), Duration::ZERO);
        assert!(view.discontinued().await.is_empty(), "no catalogue: nothing discontinued");
        put(&*silver, "catalog/a.parquet", "85123A", true).await;
        assert_eq!(*view.discontinued().await, ["85123A".to_owned()].into());
        put(&*silver, "catalog/b.parquet", "85123A", false).await;
        assert!(view.discontinued().await.is_empty(), "listed again as on sale");

        let slow = CatalogView::new(silver.clone(), Duration::from_secs(3600));
        assert!(slow.discontinued().await.is_empty());
        put(&*silver, "catalog/c.parquet", "22423", true).await;
        assert!(slow.discontinued().await.is_empty(), "within the ttl the cached set answers");
    }
}
