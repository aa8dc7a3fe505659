//! `shopsense local`: the whole app on one machine. It serves the HTTP API, runs every timer
//! function on its own NCRONTAB schedule, and watches the uploads container (on the local
//! backend, the folder `<home>/blobs/uploads/`) standing in for Event Grid blob events. Every
//! invocation goes through `app()` with the payload the Functions host would send, so what runs
//! locally is what runs in Azure.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use shopsense::bronze::UPLOADS_CONTAINER;
use shopsense::schedule::Schedule;
use shopsense::settings::Settings;
use shopsense::store::{BlobMeta, BlobStore, ETag, PutOptions};
use tower::ServiceExt;

use crate::functions::FunctionSpec;
use crate::host::{InvokeResponse, invoke_payload};

/// One function invocation's outcome, as the local runner saw it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The function.
    pub function: String,
    /// The HTTP status the app answered (2xx: done; anything else: failed).
    pub status: u16,
    /// The answer's `Logs`.
    pub logs: Vec<String>,
    /// The answer's `ReturnValue`.
    pub return_value: Value,
}

/// Posts an invoke payload to `app` the way the host does and reads the answer.
pub async fn invoke(app: &Router, function: &str, payload: &Value) -> Invocation {
    let request = Request::post(format!("/{function}"))
        .header("content-type", "application/json")
        .body(Body::from(payload.to_string()))
        .expect("a POST with a JSON body is a valid request");
    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let body =
        response.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
    let answer: InvokeResponse = serde_json::from_slice(&body)
        .unwrap_or_else(|_| InvokeResponse::failed(String::from_utf8_lossy(&body).into_owned()));
    for line in &answer.logs {
        tracing::info!(function, status, "{line}");
    }
    Invocation { function: function.to_owned(), status, logs: answer.logs, return_value: answer.return_value }
}

/// A timer function and its resolved schedule.
#[derive(Debug, Clone)]
pub struct LocalTimer {
    /// The function.
    pub function: String,
    /// When it fires.
    pub schedule: Schedule,
    /// `runOnStartup` from its `function.json`.
    pub run_on_startup: bool,
    /// The waits before each run again after a failure (its `function.json`'s `retry`, as the
    /// host reads it); empty: none.
    pub retry: Vec<Duration>,
}

/// Why the local runner cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A timer function's schedule is unusable.
    #[error("function {function}: {source}")]
    Schedule {
        /// The function.
        function: String,
        /// The schedule error.
        #[source]
        source: shopsense::schedule::ScheduleError,
    },
    /// A `function.json` could not be read.
    #[error("function {function}: function.json: {reason}")]
    FunctionJson {
        /// The function.
        function: String,
        /// The parse error.
        reason: String,
    },
}

/// Schedules the local runner uses when their setting is not set (Azure requires the setting:
/// the Bicep sets it).
pub const LOCAL_SCHEDULE_DEFAULTS: [(&str, &str); 1] = [("SHOPSENSE_RETRAIN_SCHEDULE", "0 0 2 * * *")];

/// The timer functions among `specs`, with schedules resolved against `settings`.
pub fn timers(specs: &[FunctionSpec], settings: &Settings) -> Result<Vec<LocalTimer>, LocalError> {
    let mut out = Vec::new();
    for spec in specs {
        let parsed = spec
            .parsed()
            .map_err(|e| LocalError::FunctionJson { function: spec.name.into(), reason: e.to_string() })?;
        let Some(trigger) = spec.trigger().filter(|t| t.kind == "timerTrigger") else { continue };
        let expr = trigger.text("schedule").ok_or_else(|| LocalError::FunctionJson {
            function: spec.name.into(),
            reason: "timerTrigger has no schedule".into(),
        })?;
        let default = LOCAL_SCHEDULE_DEFAULTS
            .iter()
            .find(|(name, _)| expr.trim() == format!("%{name}%") && settings.get(name).is_none());
        let schedule = match default {
            Some((name, value)) => {
                tracing::info!(
                    function = spec.name,
                    setting = name,
                    schedule = value,
                    "setting not set: local default schedule"
                );
                value.parse()
            }
            None => Schedule::resolve(expr, settings),
        }
        .map_err(|source| LocalError::Schedule { function: spec.name.into(), source })?;
        let run_on_startup = trigger.rest.get("runOnStartup").and_then(Value::as_bool).unwrap_or(false);
        let retry = match &parsed.retry {
            Some(policy) => policy
                .delays()
                .map_err(|reason| LocalError::FunctionJson { function: spec.name.into(), reason })?,
            None => Vec::new(),
        };
        out.push(LocalTimer { function: spec.name.into(), schedule, run_on_startup, retry });
    }
    Ok(out)
}

/// The blob-trigger functions among `specs` that watch `container`.
#[must_use]
pub fn blob_functions(specs: &[FunctionSpec], container: &str) -> Vec<String> {
    specs
        .iter()
        .filter(|spec| {
            spec.trigger().is_some_and(|t| {
                t.kind == "blobTrigger" && t.text("path").and_then(|p| p.split('/').next()) == Some(container)
            })
        })
        .map(|spec| spec.name.to_owned())
        .collect()
}

/// Event Grid subscriptions the local runner stands in for: function and the uploads prefix its
/// subscription filters on (as `infra/app/event-subscriptions.bicep` subscribes them in Azure).
pub const LOCAL_EVENT_ROUTES: [(&str, &str); 1] = [("inventory-alert", "inventory/")];

/// The `eventGridTrigger` functions among `specs` with the uploads prefix they receive.
#[must_use]
pub fn event_functions(specs: &[FunctionSpec]) -> Vec<(String, String)> {
    specs
        .iter()
        .filter(|spec| spec.trigger().is_some_and(|t| t.kind == "eventGridTrigger"))
        .filter_map(|spec| {
            LOCAL_EVENT_ROUTES
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map(|(name, prefix)| ((*name).to_owned(), (*prefix).to_owned()))
        })
        .collect()
}

/// The Event Grid `BlobCreated` payload the host sends to an `eventGridTrigger` function. As
/// Event Grid's, the event is the blob's creation: its id follows from the blob's path and ETag
/// and its time is when the blob was written, so the same file seen again after a restart of
/// `shopsense local` is the same event (judged as of the same day, its alerts not written twice).
#[must_use]
pub fn blob_created_payload(function: &str, container: &str, blob: &BlobMeta, uri: &str) -> Value {
    invoke_payload(function, "event", blob_created_event(container, blob, uri), Map::new())
}

/// The Event Grid `BlobCreated` event of a blob ([`blob_created_payload`] sends it).
#[must_use]
pub fn blob_created_event(container: &str, blob: &BlobMeta, uri: &str) -> Value {
    let id = shopsense::bronze::sha256_hex(format!("{container}/{}\n{}", blob.path, blob.etag.0).as_bytes());
    json!({
        "id": id,
        "subject": format!("/blobServices/default/containers/{container}/blobs/{}", blob.path),
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": blob.last_modified.to_rfc3339(),
        "data": {
            "api": "PutBlob",
            "eTag": blob.etag.0,
            "contentType": blob.content_type,
            "contentLength": blob.size,
            "blobType": "BlockBlob",
            "url": uri,
        },
        "dataVersion": "",
        "metadataVersion": "1",
    })
}

/// The timer payload the host sends.
#[must_use]
pub fn timer_payload(function: &str, is_past_due: bool, last: &str, next: &str) -> Value {
    let now = Utc::now().to_rfc3339();
    let timer = json!({
        "Schedule": { "AdjustForDST": true },
        "ScheduleStatus": { "Last": last, "Next": next, "LastUpdated": now },
        "IsPastDue": is_past_due,
    });
    invoke_payload(function, "timer", timer, Map::new())
}

/// The blob-trigger payload the host sends (without inlined bytes: handlers read by path).
#[must_use]
pub fn blob_payload(function: &str, container: &str, blob: &BlobMeta, uri: &str) -> Value {
    let mut metadata = Map::new();
    metadata.insert("BlobTrigger".into(), json!(format!("{container}/{}", blob.path)));
    metadata.insert("Uri".into(), json!(uri));
    metadata.insert("name".into(), json!(blob.path));
    metadata.insert(
        "Properties".into(),
        json!({
            "Length": blob.size,
            "ETag": blob.etag.0,
            "ContentType": blob.content_type,
            "LastModified": blob.last_modified.to_rfc3339(),
        }),
    );
    metadata.insert("Metadata".into(), json!(blob.metadata));
    invoke_payload(function, "blob", Value::Null, metadata)
}

/// Invokes `function` and, while it fails (any answer but 2xx), again after each of `waits`;
/// the last invocation's outcome.
pub async fn invoke_retrying(
    app: &Router,
    function: &str,
    payload: &Value,
    waits: &[Duration],
) -> Invocation {
    let mut outcome = invoke(app, function, payload).await;
    for (run, wait) in waits.iter().enumerate() {
        if (200..300).contains(&outcome.status) {
            break;
        }
        tracing::warn!(
            function,
            status = outcome.status,
            again_in_s = wait.as_secs(),
            run_again = run + 1,
            of = waits.len(),
            "invocation failed; its retry policy runs it again"
        );
        tokio::time::sleep(*wait).await;
        outcome = invoke(app, function, payload).await;
    }
    outcome
}

/// Runs one timer forever: sleeps until each occurrence, then invokes the function (again after
/// a failure, as its retry policy says).
pub async fn run_timer(app: Router, timer: LocalTimer) {
    let mut last = Utc::now();
    if timer.run_on_startup {
        let next = timer.schedule.next_after(last).map(|t| t.to_rfc3339()).unwrap_or_default();
        let payload = timer_payload(&timer.function, false, &last.to_rfc3339(), &next);
        invoke_retrying(&app, &timer.function, &payload, &timer.retry).await;
    }
    while let Some(due) = timer.schedule.next_after(Utc::now()) {
        tracing::info!(function = %timer.function, schedule = %timer.schedule, next = %due, "local timer waiting");
        let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        let after = timer.schedule.next_after(due).map(|t| t.to_rfc3339()).unwrap_or_default();
        let past_due = Utc::now() - due > chrono::Duration::seconds(30);
        let payload = timer_payload(&timer.function, past_due, &last.to_rfc3339(), &after);
        invoke_retrying(&app, &timer.function, &payload, &timer.retry).await;
        last = due;
    }
}

/// Watches one container by polling, standing in for Event Grid's BlobCreated events: a blob
/// that is new or changed (by ETag), unchanged since the previous poll and not written for
/// [`QUIET_FOR`] (so a file still being copied in is not read half-written, even by a writer
/// that pauses for a few seconds), triggers every function in `functions` once.
#[derive(Debug)]
pub struct UploadWatcher {
    container: String,
    store: std::sync::Arc<dyn BlobStore>,
    functions: Vec<String>,
    /// Event Grid functions and the path prefix each receives.
    events: Vec<(String, String)>,
    /// Path -> the ETag last triggered for.
    triggered: HashMap<String, ETag>,
    /// Path -> the ETag seen on the previous poll (not yet triggered).
    pending: HashMap<String, ETag>,
    /// Path -> the invocations that failed for that ETag, to be tried again.
    retrying: HashMap<String, Retry>,
    /// Waits before each try again ([`RETRY_AFTER`] unless set).
    retry_after: Vec<std::time::Duration>,
    /// Tries, and time since the first failure, after which an invocation is given up
    /// ([`GIVE_UP_AFTER_TRIES`], [`GIVE_UP_AFTER`] unless set).
    give_up: (usize, chrono::Duration),
    /// Where a given-up event goes, as Event Grid's dead letters do (none: only logged).
    dead_letters: Option<std::sync::Arc<dyn BlobStore>>,
    /// Where a receipt of each handled upload is kept (its path, holding the ETag handled), so a
    /// restart triggers only what changed meanwhile, as the Functions host's blob receipts do
    /// (none: every upload is triggered again after a restart), and whether they were read.
    receipts: Option<(std::sync::Arc<dyn BlobStore>, bool)>,
    /// How long a blob must go unwritten before it is read.
    quiet_for: chrono::Duration,
}

/// Invocations of one upload that failed and wait for their next try.
#[derive(Debug)]
struct Retry {
    etag: ETag,
    /// `(function, is an Event Grid event)` of each failed invocation.
    failed: Vec<(String, bool)>,
    /// Tries so far.
    tries: usize,
    /// When the first try failed.
    since: chrono::DateTime<Utc>,
    /// Not before then.
    next: chrono::DateTime<Utc>,
}

/// Waits before each try again of a failed invocation, the last repeated: Event Grid's first
/// steps (10 s, 30 s, 1 min, 5 min), then every 10 minutes. Trying on every poll re-read and
/// re-judged an inventory file every half second while no forecast was live: 474 tries in two
/// minutes, 4 KB of log a second.
pub const RETRY_AFTER: [std::time::Duration; 5] = [
    std::time::Duration::from_secs(10),
    std::time::Duration::from_secs(30),
    std::time::Duration::from_secs(60),
    std::time::Duration::from_secs(300),
    std::time::Duration::from_secs(600),
];

/// Tries after which the watcher gives up on an upload's failed invocation, as an Event Grid
/// subscription does by default (`maxDeliveryAttempts` 30). A given-up event is written to the
/// dead-letter container, which the nightly retrain replays; a given-up `ingest` is left to the
/// retrain's catch-up sweep, which ingests every upload no run has handled.
pub const GIVE_UP_AFTER_TRIES: usize = 30;

/// Time since the first failure after which the watcher gives up, as Event Grid does
/// (`eventTimeToLiveInMinutes` 1,440). With [`RETRY_AFTER`] the 30 tries come first, after about
/// four and a half hours.
pub const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How long an upload must go unwritten before the local watcher reads it. One 1-second poll was
/// too short: a writer that paused for 3 seconds had its first 700 bytes ingested as an upload of
/// their own. (In Azure, Event Grid sends BlobCreated only once a blob is committed whole.)
pub const QUIET_FOR: std::time::Duration = std::time::Duration::from_secs(5);

impl UploadWatcher {
    /// A watcher of `store` (the container named `container`) for `functions`.
    #[must_use]
    pub fn new(container: &str, store: std::sync::Arc<dyn BlobStore>, functions: Vec<String>) -> Self {
        Self {
            container: container.to_owned(),
            store,
            functions,
            events: Vec::new(),
            triggered: HashMap::new(),
            pending: HashMap::new(),
            retrying: HashMap::new(),
            retry_after: RETRY_AFTER.to_vec(),
            give_up: (GIVE_UP_AFTER_TRIES, chrono::Duration::from_std(GIVE_UP_AFTER).unwrap_or_default()),
            dead_letters: None,
            receipts: None,
            quiet_for: chrono::Duration::from_std(QUIET_FOR).unwrap_or_default(),
        }
    }

    /// Gives a failed invocation up after `tries` tries or `after` since its first failure
    /// ([`GIVE_UP_AFTER_TRIES`], [`GIVE_UP_AFTER`] unless set).
    #[must_use]
    pub fn with_give_up(mut self, tries: usize, after: std::time::Duration) -> Self {
        self.give_up = (tries.max(1), chrono::Duration::from_std(after).unwrap_or_default());
        self
    }

    /// Writes a given-up event to `store` (the dead-letter container) as Event Grid would.
    #[must_use]
    pub fn with_dead_letters(mut self, store: std::sync::Arc<dyn BlobStore>) -> Self {
        self.dead_letters = Some(store);
        self
    }

    /// Keeps a receipt of every handled upload in `store`, and reads them on the first poll: an
    /// upload handled before a restart is not triggered again until its bytes change (without
    /// them a restart re-read every upload, the demo's sample included, and said each was a
    /// duplicate).
    #[must_use]
    pub fn with_receipts(mut self, store: std::sync::Arc<dyn BlobStore>) -> Self {
        self.receipts = Some((store, false));
        self
    }

    /// The receipts kept before this run, as if triggered by it. A receipt that cannot be read
    /// is passed over: its upload is triggered again, which ingest counts once.
    async fn read_receipts(&mut self) {
        let Some((store, read)) = &mut self.receipts else { return };
        if *read {
            return;
        }
        let listed = match store.list("").await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the upload receipts; will try again");
                return;
            }
        };
        for receipt in listed {
            if let Ok(Some(blob)) = store.get(&receipt.path).await
                && let Ok(etag) = String::from_utf8(blob.body.to_vec())
            {
                self.triggered.insert(receipt.path, ETag(etag));
            }
        }
        *read = true;
    }

    /// Records that `path` was handled at `etag` (logged, not fatal, when it cannot be).
    async fn keep_receipt(&self, path: &str, etag: &ETag) {
        if let Some((store, _)) = &self.receipts {
            keep_receipt(&**store, path, etag).await;
        }
    }

    /// Reads a blob once it has gone unwritten this long ([`QUIET_FOR`] unless set).
    #[must_use]
    pub fn with_quiet_for(mut self, quiet_for: std::time::Duration) -> Self {
        self.quiet_for = chrono::Duration::from_std(quiet_for).unwrap_or_default();
        self
    }

    /// Waits `waits` before the successive tries of a failed invocation, the last repeated
    /// ([`RETRY_AFTER`] unless set).
    #[must_use]
    pub fn with_retry_after(mut self, waits: &[std::time::Duration]) -> Self {
        if !waits.is_empty() {
            self.retry_after = waits.to_vec();
        }
        self
    }

    /// Also sends `BlobCreated` events to these `(function, path prefix)` pairs.
    #[must_use]
    pub fn with_events(mut self, events: Vec<(String, String)>) -> Self {
        self.events = events;
        self
    }

    /// One poll: lists the container and invokes the functions for every settled new blob.
    pub async fn poll(&mut self, app: &Router) -> Vec<Invocation> {
        self.read_receipts().await;
        let listed = match self.store.list("").await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(container = %self.container, error = %e, "cannot list uploads; will retry");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let mut still_pending = HashMap::new();
        let now = Utc::now();
        let mut seen = std::collections::HashSet::new();
        for blob in listed {
            if self.triggered.get(&blob.path) == Some(&blob.etag) {
                continue;
            }
            let uri = format!("{}/{}", self.store.location(), blob.path);
            // A failed upload waits for its next try; a new version of it starts afresh.
            if self.retrying.get(&blob.path).is_some_and(|r| r.etag == blob.etag && now < r.next) {
                seen.insert(blob.path.clone());
                continue;
            }
            let retry = self.retrying.remove(&blob.path).filter(|r| r.etag == blob.etag);
            let quiet = now - blob.last_modified >= self.quiet_for;
            if retry.is_none() && (self.pending.get(&blob.path) != Some(&blob.etag) || !quiet) {
                still_pending.insert(blob.path.clone(), blob.etag.clone());
                continue;
            }
            let targets: Vec<(String, bool)> = match &retry {
                Some(retry) => retry.failed.clone(),
                None => self
                    .functions
                    .iter()
                    .map(|f| (f.clone(), false))
                    .chain(
                        self.events
                            .iter()
                            .filter(|(_, prefix)| blob.path.starts_with(prefix.as_str()))
                            .map(|(f, _)| (f.clone(), true)),
                    )
                    .collect(),
            };
            let mut failed = Vec::new();
            let mut statuses = Vec::new();
            for (function, event) in targets {
                let payload = if event {
                    blob_created_payload(&function, &self.container, &blob, &uri)
                } else {
                    blob_payload(&function, &self.container, &blob, &uri)
                };
                let invocation = invoke(app, &function, &payload).await;
                if !(200..300).contains(&invocation.status) {
                    failed.push((function, event));
                    statuses.push(invocation.status);
                }
                out.push(invocation);
            }
            let (tries, since) = retry.map_or((1, Utc::now()), |r| (r.tries + 1, r.since));
            let mut done = failed.is_empty();
            if !done && (tries >= self.give_up.0 || Utc::now() - since >= self.give_up.1) {
                let reason = if tries >= self.give_up.0 {
                    "MaxDeliveryAttemptsExceeded"
                } else {
                    "TimeToLiveExceeded"
                };
                // Given up, it is not tried again until the file changes; but a dead letter that
                // could not be written is tried again later, rather than the event lost.
                done = true;
                for ((function, event), status) in failed.iter().zip(&statuses) {
                    done &=
                        self.give_up(&blob, &uri, function, *event, (reason, tries, since, *status)).await;
                }
            }
            if done {
                self.keep_receipt(&blob.path, &blob.etag).await;
                self.triggered.insert(blob.path.clone(), blob.etag.clone());
            } else {
                // The host retries failed blob invocations, backing off: so do we.
                let wait = self.retry_after[(tries - 1).min(self.retry_after.len() - 1)];
                // From when it failed: the poll's other uploads may have taken minutes.
                let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                let names: Vec<&str> = failed.iter().map(|(f, _)| f.as_str()).collect();
                tracing::warn!(upload = %blob.path, functions = ?names, tries, next = %next, "failed; will try again");
                self.retrying
                    .insert(blob.path.clone(), Retry { etag: blob.etag.clone(), failed, tries, since, next });
                seen.insert(blob.path.clone());
            }
        }
        // An upload deleted while it waited is not tried again.
        self.retrying.retain(|path, _| seen.contains(path));
        self.pending = still_pending;
        out
    }

    /// Gives one failed invocation up: an event goes to the dead letters as Event Grid writes
    /// them (`LOCAL/<FUNCTION>/yyyy/MM/dd/H/<event id>.json`, a JSON array holding the event with
    /// its `deadLetterReason` and `deliveryAttempts`); a blob trigger is left to the nightly
    /// catch-up sweep. Either way the log says so. False when a dead letter could not be written
    /// (the event would be lost).
    async fn give_up(
        &self,
        blob: &BlobMeta,
        uri: &str,
        function: &str,
        event: bool,
        (reason, tries, since, status): (&str, usize, chrono::DateTime<Utc>, u16),
    ) -> bool {
        if !event {
            tracing::error!(upload = %blob.path, function, tries, "gave up; the nightly retrain's catch-up sweep ingests every upload no run has handled");
            return true;
        }
        let now = Utc::now();
        let mut letter = blob_created_event(&self.container, blob, uri);
        letter["deadLetterReason"] = json!(reason);
        letter["deliveryAttempts"] = json!(tries);
        letter["lastDeliveryOutcome"] = json!("Failed");
        letter["lastHttpStatusCode"] = json!(status);
        letter["publishTime"] = json!(since.to_rfc3339());
        letter["lastDeliveryAttemptTime"] = json!(now.to_rfc3339());
        let id = letter["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("LOCAL/{}/{}/{id}.json", function.to_uppercase(), now.format("%Y/%m/%d/%-H"));
        let Some(store) = &self.dead_letters else {
            tracing::error!(upload = %blob.path, function, tries, reason, "gave up; no dead-letter container to keep the event in");
            return true;
        };
        let body = bytes::Bytes::from(json!([letter]).to_string());
        match store.put(&path, body, shopsense::store::PutOptions::default()).await {
            Ok(_) => {
                tracing::error!(
                    upload = %blob.path, function, tries, reason, dead_letter = %path,
                    "gave up; the event is kept with the dead letters, which the nightly retrain replays"
                );
                true
            }
            Err(e) => {
                tracing::error!(upload = %blob.path, function, tries, error = %e, "the dead letter could not be written; will try again");
                false
            }
        }
    }

    /// Polls forever every `interval`.
    pub async fn run(mut self, app: Router, interval: Duration) {
        tracing::info!(container = %self.container, location = %self.store.location(), functions = ?self.functions, "watching uploads");
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.poll(&app).await;
        }
    }
}

/// The uploads container every local run watches.
pub const WATCHED_CONTAINER: &str = UPLOADS_CONTAINER;

/// Where the local watcher keeps its receipts of handled uploads ([`UploadWatcher::with_receipts`]).
pub const RECEIPTS_CONTAINER: &str = "upload-receipts";

/// Records in the receipts `store` that the upload at `path` was handled at `etag`, so the
/// watcher does not trigger it again (logged, not fatal, when it cannot be).
pub async fn keep_receipt(store: &dyn BlobStore, path: &str, etag: &ETag) {
    if let Err(e) = store.put(path, bytes::Bytes::from(etag.0.clone()), PutOptions::default()).await {
        tracing::warn!(upload = path, error = %e, "cannot keep the upload's receipt; a restart triggers it again");
    }
}
