//! A lease so that only one retrain runs at a time: a document (partition `leases`) holding the
//! holder and an expiry, taken by a conditional create (nobody holds it) or a conditional
//! replace on the expired holder's ETag. Of two trainers racing, exactly one write succeeds;
//! the other sees [`LeaseError::Held`] and exits cleanly. A crashed holder's lease expires.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Document, DocumentStore, ETag, StoreError};

/// The partition of lease documents.
pub const LEASE_PARTITION: &str = "leases";

/// Why a lease was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Someone else holds it.
    #[error("lease {name} is held by {holder} until {until}")]
    Held {
        /// The lease.
        name: String,
        /// Its holder.
        holder: String,
        /// When it expires.
        until: DateTime<Utc>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseBody {
    holder: String,
    expires_at: DateTime<Utc>,
}

/// A held lease; [`Lease::release`] gives it back (dropping it without releasing leaves it to
/// expire).
#[derive(Debug)]
pub struct Lease {
    store: Arc<dyn DocumentStore>,
    name: String,
    holder: String,
    etag: ETag,
}

impl Lease {
    /// Takes lease `name` for `holder` for `ttl`, or says who holds it.
    ///
    /// # Errors
    /// [`LeaseError::Held`] when another holder's lease has not expired (or another taker won
    /// the race); [`LeaseError::Store`] when the store fails.
    pub async fn acquire(
        store: Arc<dyn DocumentStore>,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Self, LeaseError> {
        let now = Utc::now();
        let body = LeaseBody { holder: holder.to_owned(), expires_at: now + ttl };
        let doc = Document::new(LEASE_PARTITION, name, &body)?;
        let lost = |current: Option<LeaseBody>| LeaseError::Held {
            name: name.to_owned(),
            holder: current.as_ref().map_or_else(|| "another trainer".to_owned(), |c| c.holder.clone()),
            until: current.map_or(now + ttl, |c| c.expires_at),
        };
        let written = match store.get(LEASE_PARTITION, name).await? {
            None => store.create(&doc).await,
            Some(existing) => {
                let current: LeaseBody = existing.parse()?;
                if current.expires_at > now && current.holder != holder {
                    return Err(lost(Some(current)));
                }
                let etag = existing.etag.clone().unwrap_or_else(|| ETag(String::new()));
                store.replace(&doc, &etag).await
            }
        };
        match written {
            Ok(etag) => Ok(Self { store, name: name.to_owned(), holder: holder.to_owned(), etag }),
            Err(
                StoreError::AlreadyExists { .. }
                | StoreError::Precondition { .. }
                | StoreError::NotFound { .. },
            ) => {
                let current = store.get(LEASE_PARTITION, name).await?.map(|d| d.parse()).transpose()?;
                Err(lost(current))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The holder's name.
    #[must_use]
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Gives the lease back by expiring it (conditional on still holding it).
    ///
    /// # Errors
    /// When the store fails; a lease taken over meanwhile is left alone.
    pub async fn release(self) -> Result<(), StoreError> {
        let body = LeaseBody { holder: self.holder.clone(), expires_at: Utc::now() - Duration::seconds(1) };
        let doc = Document::new(LEASE_PARTITION, &self.name, &body)?;
        match self.store.replace(&doc, &self.etag).await {
            Ok(_) | Err(StoreError::Precondition { .. } | StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DocumentDatabase;
    use crate::store::embedded::EmbeddedDatabase;

    async fn store() -> (tempfile::TempDir, Arc<dyn DocumentStore>) {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDatabase::open(&dir.path().join("db.redb")).unwrap();
        let store = db.container("registry").await.unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_eight_racing_takers_exactly_one_wins_and_release_frees_it() {
        let (_dir, store) = store().await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                Lease::acquire(store, "retrain", &format!("t{i}"), Duration::minutes(5)).await
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(lease) => winners.push(lease),
                Err(LeaseError::Held { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(winners.len(), 1);
        let winner = winners.pop().unwrap();
        assert!(matches!(
            Lease::acquire(store.clone(), "retrain", "late", Duration::minutes(5)).await,
            Err(LeaseError::Held { .. })
        ));
        winner.release().await.unwrap();
        assert!(Lease::acquire(store, "retrain", "late", Duration::minutes(5)).await.is_ok());
    }

    #[tokio::test]
    async fn an_expired_lease_can_be_taken_over() {
        let (_dir, store) = store().await;
        let _crashed = Lease::acquire(store.clone(), "retrain", "a", Duration::seconds(-1)).await.unwrap();
        let taken = Lease::acquire(store, "retrain", "b", Duration::minutes(5)).await.unwrap();
        assert_eq!(taken.holder(), "b");
    }
}
