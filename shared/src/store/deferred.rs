//! A document database connected on first use, for a process that must start while it cannot
//! be reached.
//!
//! The Functions host restarts a custom handler that has not answered within 30 s of starting.
//! With Cosmos DB unreachable (an outage, a firewall rule, a private endpoint's DNS), `serve`
//! used to fail its start: every new instance was restarted over and over, and with it the
//! functions that need only Blob storage (ingest) and the health route. [`DeferredDatabase`]
//! lets it start: each container it hands out connects on its first call, and until then every
//! call fails with a transient error (answered 503 at the edge, retried by the host) that says
//! why. One connection attempt runs at a time, in a task of its own given [`ATTEMPT_TIMEOUT`]:
//! calls arriving meanwhile fail at once rather than queue, and after a failure the next attempt
//! waits [`RECONNECT_PAUSE`] rather than have every request start one.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::{Document, DocumentDatabase, DocumentStore, ETag, Query, StoreError, StoreResult};

/// How long after a failed connection attempt calls fail at once, without another attempt.
pub const RECONNECT_PAUSE: Duration = Duration::from_secs(5);

/// How long one connection attempt may take: an endpoint that takes the connection and never
/// answers would otherwise hold it for the client's retries (about 40 s).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);

/// Connects the database (the Azure backend's [`super::cosmos::CosmosDatabase::connect`]).
pub type Connect = Arc<dyn Fn() -> BoxFuture<'static, StoreResult<Arc<dyn DocumentDatabase>>> + Send + Sync>;

/// A [`DocumentDatabase`] that connects on first use; see the module docs.
#[derive(Clone)]
pub struct DeferredDatabase {
    shared: Arc<Shared>,
}

struct Shared {
    /// Where it points, for messages (never secrets).
    location: String,
    connect: Connect,
    database: OnceLock<Arc<dyn DocumentDatabase>>,
    attempt: Mutex<Attempt>,
    pause: Duration,
    timeout: Duration,
}

/// Where connecting stands.
enum Attempt {
    /// None yet.
    Idle,
    /// One runs, since then.
    Running(Instant),
    /// The last one failed then, saying this.
    Failed(Instant, String),
}

impl fmt::Debug for DeferredDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_connected() { "connected" } else { "not connected yet" };
        f.debug_struct("DeferredDatabase")
            .field("location", &self.shared.location)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl DeferredDatabase {
    /// A database at `location` that `connect` opens on first use, each attempt given
    /// `timeout`; after a failed attempt, calls fail at once for `pause`.
    #[must_use]
    pub fn new(location: impl Into<String>, connect: Connect, timeout: Duration, pause: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                location: location.into(),
                connect,
                database: OnceLock::new(),
                attempt: Mutex::new(Attempt::Idle),
                pause,
                timeout,
            }),
        }
    }

    /// Whether a connection attempt has succeeded.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shared.database.get().is_some()
    }
}

/// Marks the attempt failed when dropped before it finished.
struct Unfinished(Option<Arc<Shared>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take()
            && let Ok(mut attempt) = shared.attempt.lock()
        {
            *attempt = Attempt::Failed(Instant::now(), "the connection attempt stopped".into());
        }
    }
}

impl Shared {
    fn unavailable(&self, message: String) -> StoreError {
        StoreError::Backend { backend: "cosmos", message, transient: true, source: None }
    }

    /// The database, connecting when no attempt runs and none failed within the pause. The
    /// attempt runs in a task of its own: a caller dropped by its deadline does not cancel it,
    /// and its outcome is kept for everyone. Calls arriving while it runs fail at once.
    async fn database(self: &Arc<Self>) -> StoreResult<Arc<dyn DocumentDatabase>> {
        if let Some(database) = self.database.get() {
            return Ok(Arc::clone(database));
        }
        let outcome = {
            let mut attempt = self.attempt.lock().expect("attempt lock");
            // Again under the lock: an attempt may have connected since the look above.
            if let Some(database) = self.database.get() {
                return Ok(Arc::clone(database));
            }
            match &*attempt {
                Attempt::Running(since) => {
                    return Err(self.unavailable(format!(
                        "connecting to {} (an attempt has run for {:.1} s)",
                        self.location,
                        since.elapsed().as_secs_f64()
                    )));
                }
                Attempt::Failed(at, message) if at.elapsed() < self.pause => {
                    return Err(self.unavailable(format!(
                        "not connected to {} (the last attempt, {:.1} s ago, failed: {message})",
                        self.location,
                        at.elapsed().as_secs_f64()
                    )));
                }
                _ => {}
            }
            *attempt = Attempt::Running(Instant::now());
            let (sender, outcome) = tokio::sync::oneshot::channel();
            let shared = Arc::clone(self);
            tokio::spawn(async move {
                // A task that panics or whose runtime drops it must not leave "running" behind,
                // or every later call would answer 503 until a restart.
                let mut unfinished = Unfinished(Some(Arc::clone(&shared)));
                let result = shared.attempt().await;
                unfinished.0 = None;
                let _ = sender.send(result);
            });
            outcome
        };
        outcome.await.unwrap_or_else(|_| Err(self.unavailable("the connection attempt stopped".into())))
    }

    async fn attempt(&self) -> StoreResult<Arc<dyn DocumentDatabase>> {
        let result = match tokio::time::timeout(self.timeout, (self.connect)()).await {
            Ok(Ok(database)) => Ok(database),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:.1} s", self.timeout.as_secs_f64())),
        };
        let mut attempt = self.attempt.lock().expect("attempt lock");
        match result {
            Ok(database) => {
                tracing::info!(location = %self.location, "document database connected");
                let database = Arc::clone(self.database.get_or_init(|| database));
                *attempt = Attempt::Idle;
                Ok(database)
            }
            Err(message) => {
                tracing::warn!(location = %self.location, error = %message, "document database still unreachable");
                *attempt = Attempt::Failed(Instant::now(), message.clone());
                // Transient whatever it said: the store is unavailable to the caller, and the
                // next attempt may succeed (a firewall rule or a role assignment fixed meanwhile).
                Err(self.unavailable(format!("connecting to {}: {message}", self.location)))
            }
        }
    }
}

#[async_trait]
impl DocumentDatabase for DeferredDatabase {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn DocumentStore>> {
        super::validate_key_part("container name", name)?;
        if let Some(database) = self.shared.database.get() {
            return database.container(name).await;
        }
        Ok(Arc::new(DeferredContainer {
            shared: Arc::clone(&self.shared),
            name: name.to_owned(),
            container: OnceLock::new(),
        }))
    }
}

/// One container of a [`DeferredDatabase`]: opened on its first call.
struct DeferredContainer {
    shared: Arc<Shared>,
    name: String,
    container: OnceLock<Arc<dyn DocumentStore>>,
}

impl fmt::Debug for DeferredContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredContainer")
            .field("location", &self.shared.location)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DeferredContainer {
    /// The container, opened once connected. Not behind a lock held across the attempt: calls
    /// arriving while it runs fail at once rather than queue behind it.
    async fn store(&self) -> StoreResult<&Arc<dyn DocumentStore>> {
        if let Some(store) = self.container.get() {
            return Ok(store);
        }
        let store = self.shared.database().await?.container(&self.name).await?;
        Ok(self.container.get_or_init(|| store))
    }
}

#[async_trait]
impl DocumentStore for DeferredContainer {
    fn location(&self) -> String {
        match self.container.get() {
            Some(store) => store.location(),
            None => format!("{} container {} (not connected yet)", self.shared.location, self.name),
        }
    }

    async fn upsert(&self, doc: &Document) -> StoreResult<ETag> {
        self.store().await?.upsert(doc).await
    }

    async fn create(&self, doc: &Document) -> StoreResult<ETag> {
        self.store().await?.create(doc).await
    }

    async fn replace(&self, doc: &Document, if_match: &ETag) -> StoreResult<ETag> {
        self.store().await?.replace(doc, if_match).await
    }

    async fn get(&self, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        self.store().await?.get(partition, id).await
    }

    async fn upsert_many(&self, docs: &[Document]) -> StoreResult<()> {
        self.store().await?.upsert_many(docs).await
    }

    async fn delete_many(&self, keys: &[(String, String)]) -> StoreResult<()> {
        self.store().await?.delete_many(keys).await
    }

    async fn delete(&self, partition: &str, id: &str) -> StoreResult<bool> {
        self.store().await?.delete(partition, id).await
    }

    async fn query(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>> {
        self.store().await?.query(partition, query).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::store::embedded::EmbeddedDatabase;

    /// A database that refuses the first `refusals` connection attempts, counting them.
    fn flaky(
        dir: &std::path::Path,
        refusals: usize,
        attempts: Arc<AtomicUsize>,
        pause: Duration,
    ) -> DeferredDatabase {
        let database: Arc<dyn DocumentDatabase> =
            Arc::new(EmbeddedDatabase::open(&dir.join("documents.redb")).unwrap());
        DeferredDatabase::new(
            "test database",
            Arc::new(move || {
                let (database, attempts) = (Arc::clone(&database), Arc::clone(&attempts));
                Box::pin(async move {
                    if attempts.fetch_add(1, Ordering::SeqCst) < refusals {
                        return Err(StoreError::Backend {
                            backend: "cosmos",
                            message: "connection refused".into(),
                            transient: true,
                            source: None,
                        });
                    }
                    Ok(database)
                })
            }),
            Duration::from_secs(5),
            pause,
        )
    }

    #[tokio::test]
    async fn containers_open_without_a_connection_and_fail_transiently_until_one_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let attempts = Arc::new(AtomicUsize::new(0));
        let database = flaky(dir.path(), 2, Arc::clone(&attempts), Duration::ZERO);
        let alerts = database.container("alerts").await.unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 0, "handing out a container connects nothing");
        assert!(alerts.location().contains("not connected yet"), "{}", alerts.location());
        let doc = Document::new("p", "a", &json!({ "n": 1 })).unwrap();
        for _ in 0..2 {
            let err = alerts.upsert(&doc).await.unwrap_err();
            assert!(err.is_transient() && err.to_string().contains("connection refused"), "{err}");
        }
        assert!(!database.is_connected());
        // The third attempt connects; the container works from then on, with one attempt.
        alerts.upsert(&doc).await.unwrap();
        assert_eq!(alerts.get("p", "a").await.unwrap().unwrap().body["n"], json!(1));
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
        assert!(database.is_connected());
        // Containers handed out once connected are the database's own.
        let again = database.container("alerts").await.unwrap();
        assert!(!again.location().contains("not connected"), "{}", again.location());
        assert_eq!(again.get("p", "a").await.unwrap().unwrap().body["n"], json!(1));
    }

    #[tokio::test]
    async fn after_a_failed_attempt_calls_fail_at_once_for_the_pause_naming_the_failure() {
        let dir = tempfile::tempdir().unwrap();
        let attempts = Arc::new(AtomicUsize::new(0));
        let database = flaky(dir.path(), 1, Arc::clone(&attempts), Duration::from_secs(3600));
        let serving = database.container("serving").await.unwrap();
        let registry = database.container("registry").await.unwrap();
        assert!(serving.get("p", "a").await.is_err());
        let err = registry.get("p", "a").await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("the last attempt") && err.to_string().contains("refused"), "{err}");
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "one attempt for both containers within the pause");
    }

    #[tokio::test]
    async fn an_endpoint_that_never_answers_is_given_up_on_once_even_when_its_caller_gives_up_first() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&attempts);
        let database = DeferredDatabase::new(
            "silent database",
            Arc::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Box::pin(futures::future::pending())
            }),
            Duration::from_millis(200),
            Duration::from_secs(3600),
        );
        let store = database.container("serving").await.unwrap();
        // The caller's own deadline drops it; the attempt goes on without it.
        assert!(tokio::time::timeout(Duration::from_millis(20), store.get("p", "a")).await.is_err());
        let err = store.get("p", "a").await.unwrap_err();
        assert!(err.is_transient() && err.to_string().contains("an attempt has run"), "{err}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let err = store.get("p", "a").await.unwrap_err();
        assert!(err.to_string().contains("no answer within 0.2 s"), "{err}");
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "one attempt, then the pause");
    }
}
