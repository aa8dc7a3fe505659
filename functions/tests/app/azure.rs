//! The `ingest` trigger against Azurite and the Cosmos DB emulator produces the same report and
//! silver tables as the local path. The emulators come from `emulators/with-emulators.sh` (the
//! README's test command); without them this test fails, naming what to run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};
use shopsense::features::snapshot;
use shopsense::settings::{EMULATOR_ACCOUNT, EMULATOR_KEY, Settings};
use shopsense::store::PutOptions;
use shopsense_functions::app::app;
use shopsense_functions::state::AppState;

use crate::support::{crate_dir, fixture, get, local_app, post, send};

fn emulator_env(name: &str, emulator: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!("{name} is not set, so this test cannot reach the {emulator} emulator: run ./scripts/test.sh")
    })
}

pub(crate) async fn azure_app() -> (AppState, axum::Router) {
    let cosmos = emulator_env("SHOPSENSE_TEST_COSMOS_ENDPOINT", "Cosmos DB");
    let state = AppState::open(emulator_settings(&cosmos)).await.unwrap();
    let router = app(state.clone());
    (state, router)
}

/// Settings for the emulators, with Cosmos DB at `cosmos`, in a database and containers of
/// their own.
fn emulator_settings(cosmos: &str) -> Settings {
    let unique = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let blob = emulator_env("SHOPSENSE_TEST_BLOB_ENDPOINT", "Azurite");
    let values: BTreeMap<String, String> = [
        (
            "ShopsenseStorage",
            format!("DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};AccountKey={EMULATOR_KEY};BlobEndpoint={blob}"),
        ),
        ("ShopsenseCosmos", format!("AccountEndpoint={cosmos};AccountKey={EMULATOR_KEY}")),
        ("SHOPSENSE_COSMOS_DATABASE", format!("t-{unique}")),
        ("SHOPSENSE_BLOB_CONTAINER_PREFIX", format!("t{unique}-")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = Settings::from_values(values, None).unwrap();
    assert!(matches!(settings.backend, shopsense::settings::Backend::Azure { .. }));
    settings
}

fn sample_head(lines: usize) -> Bytes {
    let text = std::fs::read_to_string(crate_dir().join("../data/sample/online_retail_sample.csv")).unwrap();
    Bytes::from(text.lines().take(lines + 1).map(|l| format!("{l}\n")).collect::<String>())
}

fn payload(container: &str, path: &str) -> Vec<u8> {
    let mut invoke = fixture("blob.json");
    invoke["Data"]["blob"] = Value::Null;
    invoke["Metadata"]["BlobTrigger"] = json!(format!("{container}/{path}"));
    invoke["Metadata"]["name"] = json!(path);
    serde_json::to_vec(&invoke).unwrap()
}

/// The parts of a report that must not depend on where it ran.
fn comparable(report: &Value) -> Value {
    let mut report = report.clone();
    let object = report.as_object_mut().unwrap();
    for varying in ["uploaded_at", "ingested_at", "freshness", "verdict_reasons"] {
        object.remove(varying);
    }
    report
}

#[tokio::test]
async fn an_upload_through_the_ingest_trigger_on_the_emulators_matches_the_local_path() {
    let body = sample_head(1500);
    let path = "transactions/sample.csv";

    let (azure, azure_router) = azure_app().await;
    let uploads = azure.stores.blobs.container("uploads").await.unwrap();
    uploads.put(path, body.clone(), PutOptions::default().with_content_type("text/csv")).await.unwrap();
    let (status, from_azure) =
        send(&azure_router, post("/ingest", payload(&azure.uploads_container, path))).await;
    assert_eq!(status, StatusCode::OK, "{from_azure}");

    let (_home, local, local_router) = local_app().await;
    let local_uploads = local.stores.blobs.container("uploads").await.unwrap();
    local_uploads.put(path, body, PutOptions::default().with_content_type("text/csv")).await.unwrap();
    let (status, from_local) = send(&local_router, post("/ingest", payload("uploads", path))).await;
    assert_eq!(status, StatusCode::OK, "{from_local}");

    let (azure_report, local_report) = (&from_azure["ReturnValue"], &from_local["ReturnValue"]);
    assert_eq!(azure_report["rows_read"], json!(1500));
    assert_eq!(comparable(azure_report), comparable(local_report), "same report on both backends");

    let (azure_silver, local_silver) = (
        azure.stores.blobs.container("silver").await.unwrap(),
        local.stores.blobs.container("silver").await.unwrap(),
    );
    let batch = azure_report["outputs"]["silver"].as_str().unwrap();
    let (on_azure, on_local) = (
        azure_silver.get(batch).await.unwrap().expect(batch),
        local_silver.get(batch).await.unwrap().expect(batch),
    );
    assert_eq!(on_azure.body, on_local.body, "the silver batch is byte-identical on both backends");
    for table in shopsense::tables::FEATURE_PATHS {
        let on_azure = snapshot::get(&*azure_silver, table).await.unwrap().expect(table);
        let on_local = snapshot::get(&*local_silver, table).await.unwrap().expect(table);
        assert_eq!(on_azure.body, on_local.body, "{table} is byte-identical on both backends");
    }

    // The same bytes through the trigger again count once.
    let (_, again) = send(&azure_router, post("/ingest", payload(&azure.uploads_container, path))).await;
    assert_eq!(again["ReturnValue"]["duplicate_upload"], json!(true));
}

/// A TCP proxy in front of the Cosmos DB emulator that takes every connection and never answers
/// (an endpoint behind a firewall that drops packets) until `up` is set.
async fn switchable_cosmos(up: Arc<AtomicBool>) -> String {
    let target = emulator_env("SHOPSENSE_TEST_COSMOS_ENDPOINT", "Cosmos DB");
    let target = url::Url::parse(&target).unwrap();
    let target = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut client, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                held.push(client);
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    format!("https://127.0.0.1:{port}/")
}

#[tokio::test]
async fn an_instance_starts_without_a_silent_cosmos_ingests_answers_503_and_connects_once_it_answers() {
    let up = Arc::new(AtomicBool::new(false));
    let cosmos = switchable_cosmos(Arc::clone(&up)).await;
    let wait = std::time::Duration::from_secs(2);
    let (state, deferred) =
        AppState::open_deferring_documents(emulator_settings(&cosmos), wait).await.unwrap();
    let why = deferred.expect("Cosmos DB did not answer: started without it");
    assert!(why.contains("no answer within 2 s"), "{why}");
    let router = app(state.clone());

    // Blob storage alone: an upload is ingested as ever.
    let path = "transactions/sample.csv";
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    uploads.put(path, sample_head(200), PutOptions::default().with_content_type("text/csv")).await.unwrap();
    let (status, report) = send(&router, post("/ingest", payload(&state.uploads_container, path))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ReturnValue"]["rows_read"], json!(200), "{report}");
    // An inventory count lands too: `uploads list` lists it from ingest's record, and says the
    // alerts' verdicts could not be read.
    let count = "inventory/2011-12-09.csv";
    uploads.put(count, "sku,on_hand\n85123A,40\n".into(), PutOptions::default()).await.unwrap();
    let (status, report) = send(&router, post("/ingest", payload(&state.uploads_container, count))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let listed =
        shopsense_functions::commands::uploads::listing(&state, shopsense::ingest::UploadKind::Inventory)
            .await
            .unwrap();
    assert_eq!(listed.reports.iter().map(|r| r.file.as_str()).collect::<Vec<_>>(), [count]);
    assert_eq!(listed.verdicts, [None]);
    assert!(listed.alerts_unread.is_some(), "{listed:?}");
    // What needs Cosmos DB answers 503 with a JSON body saying so: the first call after the
    // attempt's timeout, others at once while it runs; and health says degraded.
    let (first, second) = tokio::join!(send(&router, get("/api/models")), async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let started = std::time::Instant::now();
        (send(&router, get("/api/models")).await, started.elapsed())
    });
    let (status, models) = first;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{models}");
    assert_eq!(models["error"], json!("unavailable"), "{models}");
    let ((status, models), took) = second;
    assert_eq!((status, &models["error"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("unavailable")));
    assert!(took < std::time::Duration::from_secs(2), "not queued behind the attempt: {took:?}");
    let (status, health) = send(&router, get("/api/health?check=stores")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    let (status, _) = send(&router, get("/api/health")).await;
    assert_eq!(status, StatusCode::OK, "the process itself is fine");

    // Cosmos DB answers again: after the pause between attempts, the next call connects.
    up.store(true, Ordering::SeqCst);
    tokio::time::sleep(shopsense::store::deferred::RECONNECT_PAUSE).await;
    let (status, models) = send(&router, get("/api/models")).await;
    assert_eq!(status, StatusCode::OK, "{models}");
}
