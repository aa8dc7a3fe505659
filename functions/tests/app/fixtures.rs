//! Every recorded host payload parses into its typed trigger, round-trips, and routes; malformed
//! payloads get a 400 naming the problem.

use axum::http::StatusCode;
use serde_json::{Value, json};
use shopsense::store::PutOptions;
use shopsense_functions::host::{
    BlobTrigger, EventGridEvent, HttpTriggerRequest, Invoke, InvokeRequest, InvokeResponse, TimerInfo,
};

use crate::support::{fixture, local_app, post, send};

fn raw(name: &str) -> Vec<u8> {
    serde_json::to_vec(&fixture(name)).unwrap()
}

#[test]
fn every_fixture_round_trips_through_the_raw_invoke_request() {
    for name in ["timer.json", "blob.json", "eventgrid.json", "http.json"] {
        let original = fixture(name);
        let parsed: InvokeRequest = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), original, "{name} round-trips");
    }
}

#[test]
fn the_timer_fixture_parses_and_its_typed_payload_round_trips() {
    let invoke = Invoke::<TimerInfo>::from_request_body(&raw("timer.json")).unwrap();
    assert!(!invoke.trigger.is_past_due);
    assert!(invoke.trigger.schedule.adjust_for_dst);
    assert_eq!(invoke.trigger.schedule_status.as_ref().unwrap().next, "2026-11-25T02:00:00+00:00");
    assert_eq!(invoke.sys.method_name, "retrain");
    assert_eq!(serde_json::to_value(&invoke.trigger).unwrap(), fixture("timer.json")["Data"]["timer"]);
}

#[test]
fn the_blob_fixture_gives_container_path_and_properties() {
    let invoke = Invoke::<BlobTrigger>::from_request_body(&raw("blob.json")).unwrap();
    assert_eq!(invoke.trigger.container_and_path(), Some(("uploads", "transactions/2011-12.csv")));
    assert_eq!(invoke.trigger.name.as_deref(), Some("transactions/2011-12.csv"));
    assert!(invoke.trigger.inlined, "the host inlined the bytes; they are read from storage instead");
    assert_eq!(invoke.trigger.properties["Length"], json!(34));
    assert_eq!(invoke.sys.method_name, "ingest");
}

#[test]
fn the_event_grid_fixture_parses_and_round_trips_as_an_object_or_a_string() {
    let invoke = Invoke::<EventGridEvent>::from_request_body(&raw("eventgrid.json")).unwrap();
    assert_eq!(invoke.trigger.event_type, "Microsoft.Storage.BlobCreated");
    assert_eq!(invoke.trigger.data["contentLength"], json!(524_288));
    let original = fixture("eventgrid.json")["Data"]["event"].clone();
    assert_eq!(serde_json::to_value(&invoke.trigger).unwrap(), original);

    let mut as_string = fixture("eventgrid.json");
    as_string["Data"]["event"] = Value::String(original.to_string());
    let again =
        Invoke::<EventGridEvent>::from_request_body(&serde_json::to_vec(&as_string).unwrap()).unwrap();
    assert_eq!(again.trigger, invoke.trigger);

    // A batch (the Event Grid webhook's shape) is not what the trigger gets: said so.
    let mut batch = fixture("eventgrid.json");
    batch["Data"]["event"] = json!([original]);
    let err = Invoke::<EventGridEvent>::from_request_body(&serde_json::to_vec(&batch).unwrap()).unwrap_err();
    assert!(err.to_string().contains("found an array of 1"), "{err}");
}

#[test]
fn the_http_fixture_parses_and_round_trips() {
    let invoke = Invoke::<HttpTriggerRequest>::from_request_body(&raw("http.json")).unwrap();
    assert_eq!(invoke.trigger.method, "GET");
    assert_eq!(invoke.trigger.params["customer_id"], "17850");
    assert_eq!(invoke.trigger.headers["Accept"], ["application/json"]);
    assert_eq!(serde_json::to_value(&invoke.trigger).unwrap(), fixture("http.json")["Data"]["req"]);
}

#[test]
fn an_invoke_response_renders_outputs_logs_and_return_value() {
    let response =
        InvokeResponse::ok(json!({"landed": true})).log("one line").output("alerts", json!({"n": 1}));
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"Outputs": {"alerts": {"n": 1}}, "Logs": ["one line"], "ReturnValue": {"landed": true}})
    );
    assert!(InvokeResponse::failed("x").is_failure());
}

#[tokio::test]
async fn the_blob_fixture_routed_to_ingest_keeps_the_upload_in_bronze_and_reports_it() {
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let body = bytes::Bytes::from_static(b"InvoiceNo,StockCode\n536365,85123A\n");
    uploads.put("transactions/2011-12.csv", body.clone(), PutOptions::default()).await.unwrap();

    let (status, answer) = send(&app, post("/ingest", raw("blob.json"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ReturnValue"]["duplicate_upload"], json!(false));
    let bronze_path = answer["ReturnValue"]["outputs"]["bronze"].as_str().unwrap().to_owned();
    let bronze = state.stores.blobs.container("bronze").await.unwrap();
    assert_eq!(bronze.get(&bronze_path).await.unwrap().unwrap().body, body);
    // Two columns are not a transactions table: a failed report names what is missing.
    assert_eq!(answer["ReturnValue"]["verdict"], "fail");
    assert_eq!(answer["ReturnValue"]["error"]["code"], "missing_columns");
    assert!(answer["ReturnValue"]["outputs"]["silver"].is_null(), "{answer}");
    let log = answer["Logs"][0].as_str().unwrap();
    assert!(log.contains("nothing was added to silver, not even the rows that passed"), "{log}");

    let (status, again) = send(&app, post("/ingest", raw("blob.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["ReturnValue"]["duplicate_upload"], json!(true), "the same upload twice counts once");
}

#[tokio::test]
async fn an_upload_of_several_megabytes_inlined_by_the_host_is_ingested() {
    use base64::Engine as _;
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let mut body =
        b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n".to_vec();
    while body.len() < 3 << 20 {
        body.extend_from_slice(b"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n");
    }
    uploads.put("transactions/big.csv", body.clone().into(), PutOptions::default()).await.unwrap();
    let mut invoke = fixture("blob.json");
    // As the host sends it: the blob inline, base64 (4 MiB here, over axum's 2 MB default).
    invoke["Data"]["blob"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
    invoke["Metadata"]["BlobTrigger"] = json!("uploads/transactions/big.csv");
    invoke["Metadata"]["name"] = json!("transactions/big.csv");
    let (status, answer) = send(&app, post("/ingest", serde_json::to_vec(&invoke).unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["ReturnValue"]["rows_read"].as_u64().unwrap() > 30_000, "{answer}");
}

#[tokio::test]
async fn an_event_for_a_deleted_upload_is_answered_done_with_a_log_line_not_retried() {
    let (_home, _state, app) = local_app().await;
    let (status, answer) = send(&app, post("/ingest", raw("blob.json"))).await;
    assert_eq!(status, StatusCode::OK, "a permanent failure must not make the host retry");
    let logs = answer["Logs"].to_string();
    assert!(logs.contains("does not exist"), "{logs}");
}

#[tokio::test]
async fn malformed_invoke_payloads_get_a_400_naming_the_problem() {
    let (_home, _state, app) = local_app().await;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("not json", b"{not json".to_vec(), "Data"),
        ("no Data", br#"{"Metadata":{}}"#.to_vec(), "Data"),
        ("no blob binding", br#"{"Data":{},"Metadata":{"sys":{}}}"#.to_vec(), "Data.blob"),
        (
            "no sys",
            br#"{"Data":{"blob":null},"Metadata":{"BlobTrigger":"uploads/a"}}"#.to_vec(),
            "Metadata.sys",
        ),
        (
            "blob not a string",
            br#"{"Data":{"blob":42},"Metadata":{"BlobTrigger":"uploads/a","sys":{"MethodName":"ingest","UtcNow":"x","RandGuid":"y"}}}"#.to_vec(),
            "base64 string",
        ),
    ];
    for (case, body, names) in cases {
        let (status, answer) = send(&app, post("/ingest", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {answer}");
        assert_eq!(answer["error"], "invalid_invoke_payload", "{case}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(names), "{case}: message {message:?} should name {names:?}");
    }
}

/// A blob service whose containers fail every read as a transient backend error (a storage
/// outage), while writes and listings work.
#[derive(Debug)]
struct FlakyBlobs(std::sync::Arc<dyn shopsense::store::BlobService>);

#[derive(Debug)]
struct FlakyContainer(std::sync::Arc<dyn shopsense::store::BlobStore>);

#[async_trait::async_trait]
impl shopsense::store::BlobService for FlakyBlobs {
    async fn container(
        &self,
        name: &str,
    ) -> shopsense::store::StoreResult<std::sync::Arc<dyn shopsense::store::BlobStore>> {
        Ok(std::sync::Arc::new(FlakyContainer(self.0.container(name).await?)))
    }
}

#[async_trait::async_trait]
impl shopsense::store::BlobStore for FlakyContainer {
    fn location(&self) -> String {
        self.0.location()
    }
    async fn put(
        &self,
        path: &str,
        body: bytes::Bytes,
        options: PutOptions,
    ) -> shopsense::store::StoreResult<shopsense::store::BlobMeta> {
        self.0.put(path, body, options).await
    }
    async fn get(&self, path: &str) -> shopsense::store::StoreResult<Option<shopsense::store::Blob>> {
        Err(shopsense::store::StoreError::Backend {
            backend: "test",
            message: format!("reading {path}: 503 Server Busy"),
            transient: true,
            source: None,
        })
    }
    async fn head(&self, path: &str) -> shopsense::store::StoreResult<Option<shopsense::store::BlobMeta>> {
        self.0.head(path).await
    }
    async fn list(&self, prefix: &str) -> shopsense::store::StoreResult<Vec<shopsense::store::BlobMeta>> {
        self.0.list(prefix).await
    }
    async fn delete(&self, path: &str) -> shopsense::store::StoreResult<bool> {
        self.0.delete(path).await
    }
}

#[tokio::test]
async fn a_transient_storage_failure_fails_the_invocation_so_the_host_retries() {
    let (_home, state, _app) = local_app().await;
    let mut flaky = state.clone();
    flaky.stores.blobs = std::sync::Arc::new(FlakyBlobs(state.stores.blobs.clone()));
    flaky.ingestor =
        std::sync::Arc::new(shopsense::ingest::Ingestor::open(&*flaky.stores.blobs).await.unwrap());
    let app = shopsense_functions::app::app(flaky);
    let (status, answer) = send(&app, post("/ingest", raw("blob.json"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(answer["Logs"].to_string().contains("retry"), "{answer}");
}
