//! The `ingest` function: a blob-created trigger on `uploads/{name}` (Event Grid source). It
//! runs the ingest pipeline (bronze, silver, quarantine, report, features) on the upload, read
//! through the store by path.
//!
//! A blob trigger rather than an Event Grid trigger (which `inventory-alert` is), although the host
//! then inlines the upload in the invocation (so uploads over about 380 MiB are left to the
//! nightly sweep): Event Grid waits 30 seconds for its endpoint's answer and then delivers the
//! event again, and an `eventGridTrigger` answers only when the function has run, so a long
//! ingest would be redelivered and run twice at once. The blobs extension's webhook queues the
//! blob and answers at once; the host then runs the function from its own queue, with its own
//! retries and poison queue.
//!
//! Permanent failures (the blob is gone, an unknown kind, an unusable mapping, a file that is not
//! a table) are answered as done with a log line and, where there is one, a failed report, so the
//! host does not retry forever; transient storage failures fail the invocation so the host
//! retries.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;
use shopsense::ingest::{IngestOutcome, UploadKind};

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
    if container != state.uploads_container {
        return Ok(InvokeResponse::ok(Value::Null).log(format!(
            "ignored {container}/{path}: ingest only reads the {} container",
            state.uploads_container
        )));
    }
    match state.ingestor.ingest(path, &state.ingest_options).await {
        Ok(IngestOutcome::Reported(report)) => {
            if report.kind == UploadKind::Catalog {
                // Discontinued lines leave this instance's answers now, not when the cache expires.
                state.catalog.refresh();
            }
            let summary = report.summary();
            Ok(InvokeResponse::ok(&*report).log(summary.trim_end()))
        }
        Ok(IngestOutcome::Skipped { reason }) => {
            // A catalogue folder's mapping may have read its uploads again.
            if shopsense::ingest::folder_mapping_kind(path) == Some(UploadKind::Catalog) {
                state.catalog.refresh();
            }
            Ok(InvokeResponse::ok(Value::Null).log(reason))
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(upload = path, error = %e, "ingest failed transiently; the host will retry");
            Ok(InvokeResponse::failed(format!("transient failure, retry: {e}")))
        }
        Err(e) => {
            tracing::warn!(upload = path, error = %e, "ingest gave up on an upload");
            Ok(InvokeResponse::ok(Value::Null).log(format!("not ingested: {e}")))
        }
    }
}
