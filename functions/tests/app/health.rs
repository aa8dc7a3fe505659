//! `GET /api/health`: liveness from the process alone, `?check=stores` from a round trip to each
//! store, with a document database that can be taken down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use shopsense::settings::Settings;
use shopsense::store::{
    Document, DocumentDatabase, DocumentStore, ETag, Query, StoreError, StoreResult, Stores,
};
use shopsense_functions::app::app;
use shopsense_functions::state::AppState;

use crate::support::{get, send};

/// A document database that answers as `inner` does until `down` is set, then fails every call
/// as an unreachable Cosmos DB account does.
#[derive(Debug)]
struct Switchable {
    inner: Arc<dyn DocumentDatabase>,
    down: Arc<AtomicBool>,
}

#[derive(Debug)]
struct SwitchableContainer {
    inner: Arc<dyn DocumentStore>,
    down: Arc<AtomicBool>,
}

impl SwitchableContainer {
    fn check(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Backend {
                backend: "cosmos",
                message: "GET https://secret-account.documents.azure.com/: connection refused".into(),
                transient: true,
                source: None,
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl DocumentDatabase for Switchable {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn DocumentStore>> {
        let inner = self.inner.container(name).await?;
        Ok(Arc::new(SwitchableContainer { inner, down: self.down.clone() }))
    }
}

#[async_trait::async_trait]
impl DocumentStore for SwitchableContainer {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn upsert(&self, doc: &Document) -> StoreResult<ETag> {
        self.check()?;
        self.inner.upsert(doc).await
    }
    async fn create(&self, doc: &Document) -> StoreResult<ETag> {
        self.check()?;
        self.inner.create(doc).await
    }
    async fn replace(&self, doc: &Document, if_match: &ETag) -> StoreResult<ETag> {
        self.check()?;
        self.inner.replace(doc, if_match).await
    }
    async fn get(&self, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        self.check()?;
        self.inner.get(partition, id).await
    }
    async fn delete(&self, partition: &str, id: &str) -> StoreResult<bool> {
        self.check()?;
        self.inner.delete(partition, id).await
    }
    async fn query(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>> {
        self.check()?;
        self.inner.query(partition, query).await
    }
}

/// A local state whose document database goes down when the flag is set.
async fn state_with_switch() -> (tempfile::TempDir, Arc<AtomicBool>, AppState) {
    let home = tempfile::tempdir().unwrap();
    let values = [("SHOPSENSE_HOME".to_owned(), home.path().display().to_string())].into();
    let settings = Settings::from_values(values, None).unwrap();
    let mut stores = Stores::open(&settings).await.unwrap();
    let down = Arc::new(AtomicBool::new(false));
    stores.documents = Arc::new(Switchable { inner: stores.documents, down: down.clone() });
    (home, down, AppState::with_stores(settings, stores).await.unwrap())
}

/// [`state_with_switch`] behind the app.
async fn app_with_switch() -> (tempfile::TempDir, Arc<AtomicBool>, axum::Router) {
    let (home, down, state) = state_with_switch().await;
    (home, down, app(state))
}

/// Ingest's record of the inventory counts lives in blob storage: with the alerts' store down,
/// `uploads list --kind inventory` still lists them, and says the alerts' verdicts are missing.
#[tokio::test]
async fn with_the_documents_down_the_inventory_uploads_are_listed_without_the_alerts_verdicts() {
    use shopsense::ingest::UploadKind;
    use shopsense::store::PutOptions;
    use shopsense_functions::commands::uploads::listing;

    let (_home, down, state) = state_with_switch().await;
    let path = "inventory/2011-12-09.csv";
    let count = bytes::Bytes::from_static(b"sku,on_hand\n85123A,40\n");
    state.ingestor.uploads().put(path, count, PutOptions::default()).await.unwrap();
    state.ingestor.ingest(path, &state.ingest_options).await.unwrap();

    let up = listing(&state, UploadKind::Inventory).await.unwrap();
    assert_eq!((up.reports.len(), up.alerts_unread), (1, None));
    assert!(up.verdicts[0].is_some(), "the alerts answered: {:?}", up.verdicts);

    down.store(true, Ordering::SeqCst);
    let down_listing = listing(&state, UploadKind::Inventory).await.unwrap();
    assert_eq!(down_listing.reports.len(), 1, "ingest's own record still lists the count");
    assert_eq!(down_listing.reports[0].file, path);
    assert_eq!(down_listing.verdicts, [None]);
    let why = down_listing.alerts_unread.expect("the missing verdicts are explained");
    assert!(why.contains("connection refused"), "{why}");
}

#[tokio::test]
async fn with_the_stores_up_the_deep_check_answers_ok_with_each_round_trip() {
    let (_home, _down, app) = app_with_switch().await;
    let (status, body) = send(&app, get("/api/health?check=stores")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    for store in ["blobs", "documents"] {
        assert_eq!(body["stores"][store]["ok"], true, "{body}");
        assert!(body["stores"][store]["millis"].is_u64(), "{body}");
        assert!(body["stores"][store].get("error").is_none(), "{body}");
    }
    assert_eq!(body["checked_seconds_ago"], 0);
}

#[tokio::test]
async fn with_the_documents_down_liveness_stays_ok_and_the_deep_check_answers_503_naming_the_store() {
    let (_home, down, app) = app_with_switch().await;
    down.store(true, Ordering::SeqCst);
    let (status, body) = send(&app, get("/api/health")).await;
    assert_eq!(status, StatusCode::OK, "liveness reads no store: {body}");
    assert!(body.get("stores").is_none(), "{body}");

    let (status, body) = send(&app, get("/api/health?check=stores")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["stores"]["blobs"]["ok"], true, "{body}");
    assert_eq!(body["stores"]["documents"]["ok"], false, "{body}");
    let reason = body["stores"]["documents"]["error"].as_str().unwrap();
    assert_eq!(reason, "cosmos failed, maybe for a while (see the log)");
    assert!(!body.to_string().contains("secret-account"), "the public answer names no endpoint: {body}");

    // Within the reuse window the next caller gets the same answer without a second round trip,
    // even though the store is back.
    down.store(false, Ordering::SeqCst);
    let (status, again) = send(&app, get("/api/health?check=stores")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{again}");
    assert_eq!(again["stores"], body["stores"]);
}

#[tokio::test]
async fn an_unknown_check_is_a_json_400_and_a_monitors_cache_buster_is_let_through() {
    let (_home, _down, app) = app_with_switch().await;
    let (status, body) = send(&app, get("/api/health?check=everything")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("\"stores\""), "{body}");
    let (status, body) = send(&app, get("/api/health?_=1732")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("stores").is_none(), "{body}");
}
