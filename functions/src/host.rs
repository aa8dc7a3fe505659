//! The Azure Functions custom-handler wire protocol, owned here and nowhere else.
//!
//! - [`serve`] binds `127.0.0.1:<port>`, answers the host's readiness probe (`GET /`) and shuts
//!   down gracefully on SIGTERM/Ctrl-C, finishing in-flight invocations.
//! - [`Invoke`] extracts the host's invoke payload `{"Data": {...}, "Metadata": {...}}` with a
//!   typed trigger payload ([`TimerInfo`], [`BlobTrigger`], [`EventGridEvent`],
//!   [`HttpTriggerRequest`]); a malformed payload is a 400 with a JSON body naming the problem.
//! - [`InvokeResponse`] renders `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
//!
//! HTTP-triggered functions are not invoked through this protocol: `host.json` enables request
//! forwarding, so they are plain axum routes under `/api`.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::error::ApiError;

/// Binds `addr`, serves `router` until `shutdown` resolves, then drains in-flight requests.
/// Returns once the server has stopped. The bound address is reported through `on_bound`
/// (port 0 picks a free port: tests read the real one there).
pub async fn serve(
    router: axum::Router,
    addr: SocketAddr,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// Resolves on SIGTERM (what the Functions host and Flex Consumption send) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received: finishing what is in flight");
}

/// The host's readiness probe: any answer to `GET /` means "listening".
pub async fn readiness() -> &'static str {
    "shopsense custom handler ready"
}

/// The raw invoke payload as the host sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvokeRequest {
    /// Binding name -> value (the trigger's payload and any input bindings).
    #[serde(rename = "Data")]
    pub data: Map<String, Value>,
    /// Trigger metadata, plus `sys` with the method name, time and a request id.
    #[serde(rename = "Metadata")]
    pub metadata: Map<String, Value>,
}

/// The `sys` part of the invoke metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysMetadata {
    /// The function's name.
    #[serde(rename = "MethodName")]
    pub method_name: String,
    /// When the host invoked us.
    #[serde(rename = "UtcNow")]
    pub utc_now: String,
    /// A fresh id per invocation, for logs.
    #[serde(rename = "RandGuid")]
    pub rand_guid: String,
}

/// A trigger payload type: where the host puts it in `Data`, and how it is read.
pub trait TriggerPayload: Sized {
    /// The binding `name` our `function.json` files give this trigger kind.
    const BINDING: &'static str;
    /// The trigger `type` in `function.json`.
    const TRIGGER_TYPE: &'static str;

    /// Reads the payload from the binding value and the invocation's metadata.
    fn from_invoke(value: Value, metadata: &Map<String, Value>) -> Result<Self, String>;
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{...},"IsPastDue":false}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerInfo {
    /// The schedule's options.
    #[serde(rename = "Schedule")]
    pub schedule: TimerSchedule,
    /// Last and next occurrences, when the host tracks them.
    #[serde(rename = "ScheduleStatus", default)]
    pub schedule_status: Option<ScheduleStatus>,
    /// Whether this invocation is late (the app was down at the due time).
    #[serde(rename = "IsPastDue")]
    pub is_past_due: bool,
}

/// The `Schedule` of a [`TimerInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSchedule {
    /// Whether the schedule follows daylight-saving shifts.
    #[serde(rename = "AdjustForDST")]
    pub adjust_for_dst: bool,
}

/// The `ScheduleStatus` of a [`TimerInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleStatus {
    /// The previous occurrence.
    #[serde(rename = "Last")]
    pub last: String,
    /// The next occurrence.
    #[serde(rename = "Next")]
    pub next: String,
    /// When the status was written.
    #[serde(rename = "LastUpdated")]
    pub last_updated: String,
}

impl TriggerPayload for TimerInfo {
    const BINDING: &'static str = "timer";
    const TRIGGER_TYPE: &'static str = "timerTrigger";

    fn from_invoke(value: Value, _metadata: &Map<String, Value>) -> Result<Self, String> {
        parse(value)
    }
}

/// A blob-created trigger (with `source: EventGrid`): which blob. The bytes the host inlines
/// (base64) are not decoded: handlers read the blob through the store by its
/// [`blob_trigger`](Self::blob_trigger) path, which gives the ETag too, and a decoded copy
/// would hold another copy of a large upload for the whole invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobTrigger {
    /// `container/path` of the blob (`Metadata.BlobTrigger`).
    pub blob_trigger: String,
    /// The blob's URI.
    pub uri: Option<String>,
    /// The `{name}` of the binding path.
    pub name: Option<String>,
    /// The blob's properties as the host reports them.
    pub properties: Value,
    /// The blob's user metadata.
    pub metadata: BTreeMap<String, String>,
    /// Whether the host inlined the bytes (always, for a blob trigger bound as binary).
    pub inlined: bool,
}

impl BlobTrigger {
    /// The container and the path inside it.
    #[must_use]
    pub fn container_and_path(&self) -> Option<(&str, &str)> {
        self.blob_trigger.split_once('/').filter(|(c, p)| !c.is_empty() && !p.is_empty())
    }
}

impl TriggerPayload for BlobTrigger {
    const BINDING: &'static str = "blob";
    const TRIGGER_TYPE: &'static str = "blobTrigger";

    fn from_invoke(value: Value, metadata: &Map<String, Value>) -> Result<Self, String> {
        let inlined = match value {
            Value::Null => false,
            Value::String(_) => true,
            other => {
                return Err(format!(
                    "Data.blob must be a base64 string, found {}",
                    shopsense::json::kind(&other)
                ));
            }
        };
        let text = |key: &str| metadata.get(key).and_then(Value::as_str).map(str::to_owned);
        let blob_trigger =
            text("BlobTrigger").ok_or("Metadata.BlobTrigger (\"container/path\") is missing")?;
        let user_metadata = match metadata.get("Metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(value) => parse(value.clone()).map_err(|e| format!("Metadata.Metadata: {e}"))?,
        };
        let trigger = Self {
            uri: text("Uri"),
            name: text("name"),
            properties: metadata.get("Properties").cloned().unwrap_or(Value::Null),
            metadata: user_metadata,
            inlined,
            blob_trigger,
        };
        if trigger.container_and_path().is_none() {
            return Err(format!("Metadata.BlobTrigger {:?} is not \"container/path\"", trigger.blob_trigger));
        }
        Ok(trigger)
    }
}

/// An Event Grid event (Event Grid schema), as an `eventGridTrigger` receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGridEvent {
    /// Unique per event: the idempotency key for redeliveries.
    pub id: String,
    /// The source resource's topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// What the event is about (for blob events, `/blobServices/default/containers/<c>/blobs/<p>`).
    pub subject: String,
    /// E.g. `Microsoft.Storage.BlobCreated` or our `Shopsense.Inventory.Snapshot`.
    pub event_type: String,
    /// When it happened.
    #[serde(deserialize_with = "event_time")]
    pub event_time: DateTime<Utc>,
    /// Event-specific data.
    #[serde(default)]
    pub data: Value,
    /// The data's schema version.
    #[serde(default)]
    pub data_version: Option<String>,
    /// The envelope's schema version.
    #[serde(default)]
    pub metadata_version: Option<String>,
}

/// An event's `eventTime`, refused with its name and text (serde's own message names neither).
fn event_time<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    // chrono's own parser, as the derived field read it (RFC 3339, or with a space for the `T`).
    text.parse::<DateTime<Utc>>().map_err(|e| {
        serde::de::Error::custom(format!("eventTime {text:?} is not an RFC 3339 date-time: {e}"))
    })
}

impl EventGridEvent {
    /// The container and blob path of a blob event's subject
    /// (`/blobServices/default/containers/<c>/blobs/<p>`), `None` for any other subject.
    #[must_use]
    pub fn blob(&self) -> Option<(&str, &str)> {
        self.subject.strip_prefix("/blobServices/default/containers/")?.split_once("/blobs/")
    }
}

impl TriggerPayload for EventGridEvent {
    const BINDING: &'static str = "event";
    const TRIGGER_TYPE: &'static str = "eventGridTrigger";

    fn from_invoke(value: Value, _metadata: &Map<String, Value>) -> Result<Self, String> {
        // The host may send the event as a JSON string or as an object.
        match value {
            Value::String(text) => serde_json::from_str(&text).map_err(|e| e.to_string()),
            Value::Array(events) => Err(format!(
                "expected one event (an object), found an array of {}: an eventGridTrigger gets one event per invocation",
                events.len()
            )),
            other => parse(other),
        }
    }
}

/// An HTTP request delivered through the invoke protocol (only for HTTP functions when
/// forwarding is off; ours are forwarded, but the shape is parsed and tested all the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpTriggerRequest {
    /// The full URL.
    #[serde(rename = "Url")]
    pub url: String,
    /// The HTTP method.
    #[serde(rename = "Method")]
    pub method: String,
    /// Query parameters.
    #[serde(rename = "Query", default)]
    pub query: BTreeMap<String, String>,
    /// Headers, each with its values.
    #[serde(rename = "Headers", default)]
    pub headers: BTreeMap<String, Vec<String>>,
    /// Route parameters.
    #[serde(rename = "Params", default)]
    pub params: BTreeMap<String, String>,
    /// Caller identities, when authenticated.
    #[serde(rename = "Identities", default)]
    pub identities: Value,
    /// The body as a string (or JSON, as the host parsed it).
    #[serde(rename = "Body", default)]
    pub body: Value,
}

impl TriggerPayload for HttpTriggerRequest {
    const BINDING: &'static str = "req";
    const TRIGGER_TYPE: &'static str = "httpTrigger";

    fn from_invoke(value: Value, _metadata: &Map<String, Value>) -> Result<Self, String> {
        parse(value)
    }
}

/// An invocation with its typed trigger payload: the axum extractor for trigger routes.
#[derive(Debug, Clone)]
pub struct Invoke<T> {
    /// The trigger payload.
    pub trigger: T,
    /// `Metadata.sys`.
    pub sys: SysMetadata,
    /// The whole metadata, for anything else a handler needs.
    pub metadata: Map<String, Value>,
    /// The other entries of `Data` (input bindings).
    pub inputs: Map<String, Value>,
}

/// Largest invocation the host may send: a blob trigger inlines the blob as base64 (4/3 of its
/// size), so this admits uploads of about 380 MiB. The host holds the blob in memory too: on the
/// default 2 GB Flex Consumption instance, that is what one upload can take.
pub const MAX_INVOKE_BYTES: usize = 512 << 20;

impl<T: TriggerPayload> Invoke<T> {
    /// Reads an invocation from the raw payload.
    pub fn from_request_body(bytes: &[u8]) -> Result<Self, ApiError> {
        let bad = |message: String| ApiError::InvalidInvokePayload { message };
        let request: InvokeRequest = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("expected {{\"Data\": {{...}}, \"Metadata\": {{...}}}}: {e}")))?;
        let mut inputs = request.data;
        let value = inputs.remove(T::BINDING).ok_or_else(|| {
            bad(format!("Data.{} (the {} payload) is missing", T::BINDING, T::TRIGGER_TYPE))
        })?;
        let sys = request
            .metadata
            .get("sys")
            .cloned()
            .ok_or_else(|| bad("Metadata.sys is missing".into()))
            .and_then(|sys| parse::<SysMetadata>(sys).map_err(|e| bad(format!("Metadata.sys: {e}"))))?;
        let trigger = T::from_invoke(value, &request.metadata)
            .map_err(|e| bad(format!("Data.{} ({}): {e}", T::BINDING, T::TRIGGER_TYPE)))?;
        Ok(Self { trigger, sys, metadata: request.metadata, inputs })
    }
}

impl<S: Send + Sync, T: TriggerPayload> FromRequest<S> for Invoke<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        // Not axum's 2 MB default: a blob trigger's invocation carries the blob inline (base64).
        let bytes = axum::body::to_bytes(req.into_body(), MAX_INVOKE_BYTES).await.map_err(|e| {
            ApiError::InvalidInvokePayload {
                message: format!(
                    "cannot read the body (at most {} MiB, the blob inline as base64): {e}",
                    MAX_INVOKE_BYTES >> 20
                ),
            }
        })?;
        Self::from_request_body(&bytes)
    }
}

/// What an invocation answers: outputs by binding name, log lines for the host's log, and the
/// return value. Rendered with 200, or 500 when [`InvokeResponse::failed`] (the host then
/// records a failure and retries where the trigger retries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvokeResponse {
    /// Output bindings by name. Give JSON objects: strings that look like base64 are decoded
    /// by the host.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the function's log.
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// The function's return value.
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
    /// Whether the invocation failed (not serialised: it sets the status code).
    #[serde(skip)]
    failed: bool,
}

impl InvokeResponse {
    /// A successful invocation returning `value`.
    pub fn ok(value: impl Serialize) -> Self {
        Self { return_value: serde_json::to_value(value).unwrap_or(Value::Null), ..Self::default() }
    }

    /// A failed invocation (500): the host counts it as failed and retries where the trigger
    /// allows. The host drops a failed answer's `Logs` (it reads them only from a 2xx), so
    /// [`IntoResponse`] also writes them to this process's log.
    #[must_use]
    pub fn failed(message: impl Into<String>) -> Self {
        Self { logs: vec![message.into()], failed: true, ..Self::default() }
    }

    /// Adds a log line.
    #[must_use]
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Sets an output binding.
    #[must_use]
    pub fn output(mut self, binding: impl Into<String>, value: impl Serialize) -> Self {
        self.outputs.insert(binding.into(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// Whether this answer tells the host the invocation failed.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        self.failed
    }
}

impl IntoResponse for InvokeResponse {
    fn into_response(self) -> Response {
        let status = if self.failed { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
        if self.failed {
            for line in &self.logs {
                tracing::warn!("failed invocation: {line}");
            }
        }
        (status, Json(self)).into_response()
    }
}

/// Builds an invoke payload the way the host does, for the local runner and tests.
#[must_use]
pub fn invoke_payload(
    function: &str,
    binding: &str,
    value: Value,
    mut metadata: Map<String, Value>,
) -> Value {
    let sys = serde_json::json!({
        "MethodName": function,
        "UtcNow": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "RandGuid": uuid::Uuid::new_v4().to_string(),
    });
    metadata.insert("sys".into(), sys);
    serde_json::json!({ "Data": { binding: value }, "Metadata": metadata })
}
