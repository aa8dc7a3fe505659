//! A read from each store, for a health check that says whether the stores answer, not
//! only whether the process does.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{StoreError, StoreResult, Stores};

/// The blob a probe asks for: it need not exist (a missing blob is an answer too).
pub const PROBE_BLOB: &str = "health/probe";
/// The document a probe asks for (partition, id): it need not exist either.
pub const PROBE_DOCUMENT: (&str, &str) = ("health", "probe");

/// What one store's round trip found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreProbe {
    /// Whether the store answered within the deadline.
    pub ok: bool,
    /// How long the round trip took, or the deadline when it did not finish.
    pub millis: u64,
    /// Why not, in words that name no endpoint or credential (a health route may be public);
    /// the full error goes to the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Both stores' round trips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoresProbe {
    /// The blob account: open a container, read one blob's properties.
    pub blobs: StoreProbe,
    /// The document database: open a container, read one document.
    pub documents: StoreProbe,
}

impl StoresProbe {
    /// Whether every store answered.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.blobs.ok && self.documents.ok
    }
}

impl Stores {
    /// Reads [`PROBE_BLOB`] in `blob_container` and [`PROBE_DOCUMENT`] in `document_container`,
    /// both at once, each given at most `deadline`.
    pub async fn probe(
        &self,
        blob_container: &str,
        document_container: &str,
        deadline: Duration,
    ) -> StoresProbe {
        let blobs = timed("blobs", deadline, async {
            let container = self.blobs.container(blob_container).await?;
            container.head(PROBE_BLOB).await.map(drop)
        });
        let documents = timed("documents", deadline, async {
            let container = self.documents.container(document_container).await?;
            container.get(PROBE_DOCUMENT.0, PROBE_DOCUMENT.1).await.map(drop)
        });
        let (blobs, documents) = tokio::join!(blobs, documents);
        StoresProbe { blobs, documents }
    }
}

async fn timed(
    store: &str,
    deadline: Duration,
    round_trip: impl Future<Output = StoreResult<()>>,
) -> StoreProbe {
    let started = Instant::now();
    let outcome = tokio::time::timeout(deadline, round_trip).await;
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(store, error = %e, "health probe failed");
            Some(public_reason(&e))
        }
        Err(_) => {
            tracing::warn!(store, deadline_ms = deadline.as_millis(), "health probe timed out");
            Some(format!("no answer within {} ms", deadline.as_millis()))
        }
    };
    StoreProbe { ok: error.is_none(), millis, error }
}

/// The error's kind without its message (which names endpoints and containers).
fn public_reason(error: &StoreError) -> String {
    match error {
        StoreError::Config(_) => "the settings do not describe a usable store (see the log)".into(),
        StoreError::Backend { backend, transient: true, .. } => {
            format!("{backend} failed, maybe for a while (see the log)")
        }
        StoreError::Backend { backend, .. } => format!("{backend} refused the request (see the log)"),
        other => format!("unexpected answer: {}", variant_name(other)),
    }
}

fn variant_name(error: &StoreError) -> &'static str {
    match error {
        StoreError::AlreadyExists { .. } => "already exists",
        StoreError::Precondition { .. } => "precondition failed",
        StoreError::NotFound { .. } => "not found",
        StoreError::Invalid { .. } => "invalid request",
        StoreError::Config(_) => "configuration",
        StoreError::Backend { .. } => "backend",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fresh_local_home_answers_both_probes_though_neither_target_exists() {
        let home = tempfile::tempdir().unwrap();
        let values = [("SHOPSENSE_HOME".to_owned(), home.path().display().to_string())].into();
        let settings = crate::settings::Settings::from_values(values, None).unwrap();
        let stores = Stores::open(&settings).await.unwrap();
        let probe = stores.probe("silver", "registry", Duration::from_secs(5)).await;
        assert!(probe.ok(), "{probe:?}");
        assert_eq!(probe.blobs.error, None);
        assert!(probe.documents.millis < 5_000);
    }

    #[tokio::test]
    async fn a_round_trip_past_its_deadline_is_reported_as_no_answer() {
        let slow = timed("blobs", Duration::from_millis(20), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        })
        .await;
        assert!(!slow.ok);
        assert_eq!(slow.error.as_deref(), Some("no answer within 20 ms"));
        assert!(slow.millis < 5_000, "{}", slow.millis);
    }

    #[test]
    fn the_public_reason_names_neither_endpoint_nor_message() {
        let error = StoreError::Backend {
            backend: "cosmos",
            message: "GET https://shop.documents.azure.com/dbs/x: connection refused".into(),
            transient: true,
            source: None,
        };
        let reason = public_reason(&error);
        assert_eq!(reason, "cosmos failed, maybe for a while (see the log)");
        assert!(!public_reason(&StoreError::Config("AccountKey=secret".into())).contains("secret"));
    }
}
