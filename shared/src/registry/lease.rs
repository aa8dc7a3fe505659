//! A lease so that only one retrain runs at a time: a document (partition `leases`) holding the
//! holder and an expiry, taken by a conditional create (nobody holds it) or a conditional
//! replace on the expired holder's ETag. Of two trainers racing, exactly one write succeeds;
//! the other sees [`LeaseError::Held`] and exits cleanly.
//!
//! Every run takes it under its own name ([`holder_name`]: instance, process and a random run
//! id), so a second run of the same process or instance is refused like any other. A run keeps
//! it with [`Lease::keep`]: a short expiry renewed in the background, so a crashed or killed
//! run blocks the next one for at most that expiry (two minutes by default), however long runs
//! last. A run checks [`KeptLease::is_held`] before it publishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// A holder name no other run shares: `{role}@{instance} pid {pid} run {6 hex digits}`, the
/// instance from `WEBSITE_INSTANCE_ID` (Azure) or `HOSTNAME`.
#[must_use]
pub fn holder_name(role: &str) -> String {
    let instance = std::env::var("WEBSITE_INSTANCE_ID")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_owned());
    let run = uuid::Uuid::new_v4().simple().to_string();
    format!("{role}@{instance} pid {} run {}", std::process::id(), &run[..6])
}

/// A held lease; [`Lease::release`] gives it back (dropping it without releasing leaves it to
/// expire).
#[derive(Debug)]
pub struct Lease {
    store: Arc<dyn DocumentStore>,
    name: String,
    holder: String,
    etag: ETag,
    expires_at: DateTime<Utc>,
}

impl Lease {
    /// Takes lease `name` for `holder` for `ttl`, or says who holds it.
    ///
    /// # Errors
    /// [`LeaseError::Held`] when a lease has not expired, whoever holds it (or another taker
    /// won the race); [`LeaseError::Store`] when the store fails.
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
                if current.expires_at > now {
                    return Err(lost(Some(current)));
                }
                let etag = existing.etag.clone().unwrap_or_else(|| ETag(String::new()));
                store.replace(&doc, &etag).await
            }
        };
        match written {
            Ok(etag) => Ok(Self {
                store,
                name: name.to_owned(),
                holder: holder.to_owned(),
                etag,
                expires_at: body.expires_at,
            }),
            Err(
                StoreError::AlreadyExists { .. }
                | StoreError::Precondition { .. }
                | StoreError::NotFound { .. },
            ) => match store.get(LEASE_PARTITION, name).await? {
                // Our own write landed although the store answered with an error (a retried
                // request): the lease is ours.
                Some(doc) if doc.parse::<LeaseBody>().is_ok_and(|b| b.holder == holder) => {
                    let current: LeaseBody = doc.parse()?;
                    Ok(Self {
                        store,
                        name: name.to_owned(),
                        holder: holder.to_owned(),
                        etag: doc.etag.clone().unwrap_or_else(|| ETag(String::new())),
                        expires_at: current.expires_at,
                    })
                }
                other => Err(lost(other.map(|d| d.parse()).transpose()?)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The holder's name.
    #[must_use]
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Extends the lease to `ttl` from now, conditionally on still holding it.
    ///
    /// # Errors
    /// [`LeaseError::Held`] when it was taken over (it had expired); store failures.
    pub async fn renew(&mut self, ttl: Duration) -> Result<(), LeaseError> {
        let body = LeaseBody { holder: self.holder.clone(), expires_at: Utc::now() + ttl };
        let doc = Document::new(LEASE_PARTITION, &self.name, &body)?;
        match self.store.replace(&doc, &self.etag).await {
            Ok(etag) => {
                self.etag = etag;
                self.expires_at = body.expires_at;
                Ok(())
            }
            Err(StoreError::Precondition { .. } | StoreError::NotFound { .. }) => {
                let doc = self.store.get(LEASE_PARTITION, &self.name).await?;
                let current: Option<LeaseBody> = doc.as_ref().map(Document::parse).transpose()?;
                match (doc, current) {
                    // An earlier renewal landed though the store answered with an error: its
                    // ETag is the one to hold.
                    (Some(doc), Some(current)) if current.holder == self.holder => {
                        self.etag = doc.etag.clone().unwrap_or_else(|| ETag(String::new()));
                        self.expires_at = current.expires_at;
                        Ok(())
                    }
                    (_, current) => Err(LeaseError::Held {
                        name: self.name.clone(),
                        holder: current.as_ref().map_or_else(|| "nobody".to_owned(), |c| c.holder.clone()),
                        until: current.map_or_else(Utc::now, |c| c.expires_at),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps the lease while the returned handle lives: renewed to `ttl` every quarter of it.
    /// A renewal the store refuses for a while is retried; one that finds the lease taken over
    /// marks it lost.
    #[must_use]
    pub fn keep(self, ttl: Duration) -> KeptLease {
        let lost = Arc::new(AtomicBool::new(false));
        let expires_at = Arc::new(std::sync::Mutex::new(self.expires_at));
        let lease = Arc::new(tokio::sync::Mutex::new(self));
        let every = (ttl / 4).to_std().unwrap_or(std::time::Duration::from_secs(1));
        let task = tokio::spawn({
            let (lease, lost, expires_at) = (lease.clone(), lost.clone(), expires_at.clone());
            async move {
                loop {
                    tokio::time::sleep(every).await;
                    let mut held = lease.lock().await;
                    match held.renew(ttl).await {
                        Ok(()) => {
                            if let Ok(mut at) = expires_at.lock() {
                                *at = held.expires_at;
                            }
                        }
                        Err(LeaseError::Held { holder, .. }) => {
                            tracing::error!(lease = %held.name, %holder, "lease lost: taken over after it expired");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(LeaseError::Store(e)) => {
                            tracing::warn!(lease = %held.name, error = %e, "lease renewal failed; retrying");
                        }
                    }
                }
            }
        });
        KeptLease { lease, lost, expires_at, task }
    }

    /// Gives the lease back by expiring it (conditional on still holding it).
    ///
    /// # Errors
    /// When the store fails; a lease taken over meanwhile is left alone.
    pub async fn release(self) -> Result<(), StoreError> {
        release(&*self.store, &self.name, &self.holder, Some(&self.etag)).await
    }

    /// Gives back lease `name` if `holder` still holds it, without its handle: what a run
    /// stopped by a signal does on its way out.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn release_held_by(
        store: &dyn DocumentStore,
        name: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        release(store, name, holder, None).await
    }
}

async fn release(
    store: &dyn DocumentStore,
    name: &str,
    holder: &str,
    etag: Option<&ETag>,
) -> Result<(), StoreError> {
    let by_etag = etag.is_some();
    let etag = match etag {
        Some(etag) => etag.clone(),
        None => match store.get(LEASE_PARTITION, name).await? {
            Some(doc) if doc.parse::<LeaseBody>().is_ok_and(|b| b.holder == holder) => {
                doc.etag.clone().unwrap_or_else(|| ETag(String::new()))
            }
            _ => return Ok(()),
        },
    };
    let body = LeaseBody { holder: holder.to_owned(), expires_at: Utc::now() - Duration::seconds(1) };
    let doc = Document::new(LEASE_PARTITION, name, &body)?;
    match store.replace(&doc, &etag).await {
        // Ours with another ETag (a renewal landed unseen): release it by name instead.
        Err(StoreError::Precondition { .. }) if by_etag => Box::pin(release(store, name, holder, None)).await,
        Ok(_) | Err(StoreError::Precondition { .. } | StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A lease kept alive in the background ([`Lease::keep`]); dropping it stops the renewals and
/// leaves the lease to expire, [`KeptLease::release`] gives it back at once.
#[derive(Debug)]
pub struct KeptLease {
    lease: Arc<tokio::sync::Mutex<Lease>>,
    lost: Arc<AtomicBool>,
    expires_at: Arc<std::sync::Mutex<DateTime<Utc>>>,
    task: tokio::task::JoinHandle<()>,
}

impl KeptLease {
    /// Whether it is still ours: not taken over, and not past its last known expiry (renewals
    /// failing for a whole expiry mean another run may have taken it).
    #[must_use]
    pub fn is_held(&self) -> bool {
        !self.lost.load(Ordering::SeqCst) && self.expires_at.lock().is_ok_and(|at| *at > Utc::now())
    }

    /// Stops the renewals and gives the lease back.
    ///
    /// # Errors
    /// When the store fails (the lease then expires on its own).
    pub async fn release(self) -> Result<(), StoreError> {
        // The renewal task holds the lock across a renewal: taking it first lets one in flight
        // finish (and record its ETag) before the task is stopped.
        let lease = self.lease.lock().await;
        self.task.abort();
        release(&*lease.store, &lease.name, &lease.holder, Some(&lease.etag)).await
    }
}

impl Drop for KeptLease {
    fn drop(&mut self) {
        self.task.abort();
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
    async fn the_same_holder_name_cannot_take_a_held_lease_again() {
        let (_dir, store) = store().await;
        let _first =
            Lease::acquire(store.clone(), "retrain", "cli@host", Duration::minutes(5)).await.unwrap();
        assert!(matches!(
            Lease::acquire(store, "retrain", "cli@host", Duration::minutes(5)).await,
            Err(LeaseError::Held { .. })
        ));
        let (a, b) = (holder_name("cli"), holder_name("cli"));
        assert_ne!(a, b, "two runs of one process have different names");
        assert!(a.starts_with("cli@") && a.contains(&format!("pid {}", std::process::id())), "{a}");
    }

    #[tokio::test]
    async fn a_kept_lease_is_renewed_and_a_dropped_one_expires_without_renewals() {
        let (_dir, store) = store().await;
        let ttl = Duration::seconds(1);
        let kept = Lease::acquire(store.clone(), "retrain", "a", ttl).await.unwrap().keep(ttl);
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        assert!(kept.is_held(), "renewed past two expiries");
        let refused = Lease::acquire(store.clone(), "retrain", "b", ttl).await;
        assert!(matches!(refused, Err(LeaseError::Held { .. })), "{refused:?}");
        drop(kept);
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        assert!(Lease::acquire(store, "retrain", "b", ttl).await.is_ok(), "expired without renewals");
    }

    /// A store whose next replace lands but answers with an error (a timed-out request).
    #[derive(Debug)]
    struct LandsThenFails {
        inner: Arc<dyn DocumentStore>,
        armed: AtomicBool,
    }

    #[async_trait::async_trait]
    impl DocumentStore for LandsThenFails {
        fn location(&self) -> String {
            self.inner.location()
        }
        async fn upsert(&self, doc: &Document) -> crate::store::StoreResult<ETag> {
            self.inner.upsert(doc).await
        }
        async fn create(&self, doc: &Document) -> crate::store::StoreResult<ETag> {
            self.inner.create(doc).await
        }
        async fn replace(&self, doc: &Document, if_match: &ETag) -> crate::store::StoreResult<ETag> {
            let etag = self.inner.replace(doc, if_match).await?;
            if self.armed.swap(false, Ordering::SeqCst) {
                return Err(StoreError::backend("test", "timed out", true, std::io::Error::other("timeout")));
            }
            Ok(etag)
        }
        async fn get(&self, partition: &str, id: &str) -> crate::store::StoreResult<Option<Document>> {
            self.inner.get(partition, id).await
        }
        async fn delete(&self, partition: &str, id: &str) -> crate::store::StoreResult<bool> {
            self.inner.delete(partition, id).await
        }
        async fn query(
            &self,
            partition: &str,
            query: &crate::store::Query,
        ) -> crate::store::StoreResult<Vec<Document>> {
            self.inner.query(partition, query).await
        }
    }

    #[tokio::test]
    async fn a_renewal_that_landed_unseen_neither_loses_the_lease_nor_blocks_its_release() {
        let (_dir, inner) = store().await;
        let flaky = Arc::new(LandsThenFails { inner: inner.clone(), armed: AtomicBool::new(false) });
        let ttl = Duration::seconds(1);
        let kept = Lease::acquire(flaky.clone(), "retrain", "a", ttl).await.unwrap().keep(ttl);
        flaky.armed.store(true, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
        assert!(!flaky.armed.load(Ordering::SeqCst), "a renewal ran into the failure");
        assert!(kept.is_held(), "the next renewal found its own write and kept the lease");
        kept.release().await.unwrap();
        assert!(Lease::acquire(inner, "retrain", "b", ttl).await.is_ok(), "released at once");
    }

    #[tokio::test]
    async fn a_stopped_run_gives_its_lease_back_by_name_and_leaves_anothers_alone() {
        let (_dir, store) = store().await;
        let _held = Lease::acquire(store.clone(), "retrain", "a", Duration::minutes(5)).await.unwrap();
        Lease::release_held_by(&*store, "retrain", "b").await.unwrap();
        assert!(
            Lease::acquire(store.clone(), "retrain", "c", Duration::minutes(5)).await.is_err(),
            "a's, kept"
        );
        Lease::release_held_by(&*store, "retrain", "a").await.unwrap();
        assert!(Lease::acquire(store, "retrain", "c", Duration::minutes(5)).await.is_ok());
    }

    #[tokio::test]
    async fn an_expired_lease_can_be_taken_over() {
        let (_dir, store) = store().await;
        let _crashed = Lease::acquire(store.clone(), "retrain", "a", Duration::seconds(-1)).await.unwrap();
        let taken = Lease::acquire(store, "retrain", "b", Duration::minutes(5)).await.unwrap();
        assert_eq!(taken.holder(), "b");
    }
}
