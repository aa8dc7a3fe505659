//! What serving knows of the catalogue: the discontinued lines ([`crate::catalog`]), which no
//! answer recommends. The silver catalogue tables are listed at most every `ttl` and read again
//! only when the listing changed (a new upload, or one replaced), so an upload marking a line
//! discontinued takes effect within `ttl` without a retrain. A request waits at most
//! [`READ_DEADLINE`] for that read: past it, or when storage fails, the set last read answers
//! and the tables are tried again only after [`FAILURE_BACKOFF`] (an unreachable blob endpoint
//! took 82 s to fail, and every recommendation waited for it).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, tables};
use crate::store::{BlobStore, StoreError};

/// How long a request waits for the catalogue tables to be listed and read.
pub const READ_DEADLINE: Duration = Duration::from_secs(2);

/// How long after a failed or slow read the tables are left alone.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(60);

/// One listing of the catalogue tables: each table's path and version.
type Listing = Vec<(String, String)>;

struct Cached {
    listing: Listing,
    discontinued: Arc<BTreeSet<String>>,
    /// Not read again before this.
    next_read: Instant,
}

/// The discontinued set, re-listed at most every `ttl`.
pub struct CatalogView {
    silver: Arc<dyn BlobStore>,
    ttl: Duration,
    read_deadline: Duration,
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
        Self { silver, ttl, read_deadline: READ_DEADLINE, cached: Mutex::new(None) }
    }

    /// Waits `deadline` for a read instead of [`READ_DEADLINE`] (tests).
    #[must_use]
    pub fn with_read_deadline(mut self, deadline: Duration) -> Self {
        self.read_deadline = deadline;
        self
    }

    /// The lines the catalogue says are discontinued (empty before any catalogue upload). When
    /// the store fails or is slower than the read deadline, the set last read answers (none
    /// before the first read), with a warning: a storage hiccup must neither turn every
    /// recommendation into an error nor hold it up.
    pub async fn discontinued(&self) -> Arc<BTreeSet<String>> {
        let previous = match self.cached.lock() {
            Ok(cached) => match cached.as_ref() {
                Some(c) if Instant::now() < c.next_read => return c.discontinued.clone(),
                Some(c) => Some((c.listing.clone(), c.discontinued.clone())),
                None => None,
            },
            Err(_) => None,
        };
        let read = tokio::time::timeout(self.read_deadline, self.read(previous.clone())).await;
        let (listing, discontinued, wait) = match read {
            Ok(Ok((listing, discontinued))) => (listing, discontinued, self.ttl),
            failed => {
                match failed {
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "cannot read the catalogue: the discontinued lines last read stand");
                    }
                    _ => tracing::warn!(
                        deadline_ms = self.read_deadline.as_millis(),
                        "the catalogue did not answer in time: the discontinued lines last read stand"
                    ),
                }
                let (listing, discontinued) = previous.unwrap_or_default();
                // Tried again after a while, not on every request while storage is down.
                (listing, discontinued, self.ttl.max(FAILURE_BACKOFF))
            }
        };
        if let Ok(mut cached) = self.cached.lock() {
            let next_read = Instant::now() + wait;
            *cached = Some(Cached { listing, discontinued: discontinued.clone(), next_read });
        }
        discontinued
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

    /// A silver container whose listing never answers, as an unreachable blob endpoint retrying.
    #[derive(Debug)]
    struct Hanging(Arc<dyn BlobStore>);

    #[async_trait::async_trait]
    impl BlobStore for Hanging {
        fn location(&self) -> String {
            self.0.location()
        }
        async fn put(
            &self,
            path: &str,
            body: bytes::Bytes,
            options: PutOptions,
        ) -> crate::store::StoreResult<crate::store::BlobMeta> {
            self.0.put(path, body, options).await
        }
        async fn get(&self, path: &str) -> crate::store::StoreResult<Option<crate::store::Blob>> {
            self.0.get(path).await
        }
        async fn head(&self, path: &str) -> crate::store::StoreResult<Option<crate::store::BlobMeta>> {
            self.0.head(path).await
        }
        async fn list(&self, _prefix: &str) -> crate::store::StoreResult<Vec<crate::store::BlobMeta>> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!("a request gives up long before")
        }
        async fn delete(&self, path: &str) -> crate::store::StoreResult<bool> {
            self.0.delete(path).await
        }
    }

    #[tokio::test]
    async fn a_catalogue_that_does_not_answer_holds_a_request_up_only_until_the_deadline_then_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let silver: Arc<dyn BlobStore> =
            Arc::new(FolderBlobService::new(dir.path()).unwrap().open("silver").unwrap());
        put(&*silver, "catalog/a.parquet", "85123A", true).await;
        let view = CatalogView::new(silver.clone(), Duration::ZERO);
        assert_eq!(*view.discontinued().await, ["85123A".to_owned()].into());
        // Storage stops answering: the set last read stands, after the deadline at most.
        let stuck = CatalogView { silver: Arc::new(Hanging(silver)), ..view }
            .with_read_deadline(Duration::from_millis(50));
        let started = Instant::now();
        assert_eq!(*stuck.discontinued().await, ["85123A".to_owned()].into());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        // The requests after it do not wait at all while the backoff lasts.
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(*stuck.discontinued().await, ["85123A".to_owned()].into());
        }
        assert!(started.elapsed() < Duration::from_millis(50), "{:?}", started.elapsed());
    }
}
