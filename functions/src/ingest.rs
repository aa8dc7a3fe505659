//! The `ingest` function: a blob-created trigger on `uploads/{name}` (Event Grid source). It
//! lands the raw upload in bronze under its sha256 before anything else reads it; the same
//! bytes uploaded twice count once.
//!
//! Permanent failures (the blob is gone, a path outside `uploads`) are answered as done with a
//! log line, so the host does not retry forever; transient store failures fail the invocation
//! so the host retries.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use shopsense::bronze::{self, BRONZE_CONTAINER, UPLOADS_CONTAINER};

use crate::error::ApiError;
use crate::host::{BlobTrigger, Invoke, InvokeResponse};
use crate::state::AppState;

/// The function's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/ingest", post(ingest))
}

async fn ingest(
    State(state): State<AppState>,
    invoke: Invoke<BlobTrigger>,
) -> Result<InvokeResponse, ApiError> {
    let Some((container, path)) = invoke.trigger.container_and_path() else {
        return Err(ApiError::InvalidInvokePayload {
            message: "Metadata.BlobTrigger is not container/path".into(),
        });
    };
    if container != UPLOADS_CONTAINER {
        return Ok(InvokeResponse::ok(serde_json::Value::Null).log(format!(
            "ignored {container}/{path}: ingest only reads the {UPLOADS_CONTAINER} container"
        )));
    }
    let uploads = state.stores.blobs.container(UPLOADS_CONTAINER).await?;
    let bronze = state.stores.blobs.container(BRONZE_CONTAINER).await?;
    match bronze::land(&*uploads, &*bronze, path).await {
        Ok(landing) => {
            let line = if landing.duplicate {
                format!("{path}: same bytes as an earlier upload (sha256 {}), counted once", landing.sha256)
            } else {
                format!("{path}: landed {} bytes in bronze as {}", landing.size, landing.bronze_path)
            };
            Ok(InvokeResponse::ok(&landing).log(line))
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(error = %e, "ingest failed transiently; the host will retry");
            Ok(InvokeResponse::failed(format!("transient failure, retry: {e}")))
        }
        Err(e) => {
            tracing::warn!(error = %e, "ingest gave up on an upload");
            Ok(InvokeResponse::ok(serde_json::Value::Null).log(format!("not ingested: {e}")))
        }
    }
}
