//! The inventory-alert functions.
//!
//! - `inventory-alert` (Event Grid): a `Microsoft.Storage.BlobCreated` event for an inventory
//!   snapshot uploaded under `uploads/inventory/` (CSV, JSON lines or Parquet, gzip or not, read
//!   as ingest reads it with the folder's mapping; or `.json` in the custom event's shape), or a
//!   custom `Shopsense.Inventory.Snapshot` event whose `data` carries the stock levels. The
//!   snapshot is evaluated against the live forecast as of the day it was counted (its
//!   `snapshot_time` or `as_of`), or else the event's date, and its alerts are
//!   stored, idempotent per (snapshot, SKU): a redelivered event writes no duplicate. An event
//!   time more than a day after now ([`shopsense::alerts::inventory::CLOCK_SKEW`]) is refused,
//!   as a counted day after the event's is: either would stand as the latest count for ever.
//!   A malformed event or snapshot cannot get better by retrying: it is kept whole in the
//!   `quarantine` container under `events/<event id>.json` with the reason, and answered as done.
//!   No live forecast yet or a transient storage failure fails the invocation, so Event Grid
//!   delivers it again (for up to a day, per the subscription's retry policy).
//!   A snapshot none of whose SKUs has a forecast is refused and kept the same way (its summary
//!   is stored, and it does not become the latest). An upload under `inventory/partial/`, or an
//!   event with `"partial": true`, is a partial count: the latest of its own SKUs only.
//! - `alerts` (HTTP): `GET /api/alerts?severity=&sku=&limit=` lists the open alerts (each SKU's
//!   latest count's: the latest whole snapshot's, or a partial count's after it), most urgent
//!   first, with a `warning` when some of its SKUs were not judged; `sku` names one SKU or several
//!   (comma-separated), and the answer then says where each stands
//!   ([`shopsense::alerts::sku_status`]).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};
use shopsense::alerts::inventory::is_partial_upload;
use shopsense::alerts::run::{AlertRunError, open_alerts, run};
use shopsense::alerts::sku_status::{MAX_STATUS_SKUS, Standing};
use shopsense::alerts::{InventorySnapshot, Severity};
use shopsense::ingest::{IngestError, UploadKind};
use shopsense::serving::LatestSnapshot;
use shopsense::serving::stock::{LATEST_ID, REFUSALS_PARTITION, RefusedCount, SNAPSHOTS_PARTITION};
use shopsense::sku::distinct_skus;
use shopsense::store::PutOptions;
use shopsense::tables::QUARANTINE_CONTAINER;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::host::{EventGridEvent, Invoke, InvokeResponse};
use crate::state::AppState;

/// The custom event type carrying stock levels.
pub const SNAPSHOT_EVENT_TYPE: &str = "Shopsense.Inventory.Snapshot";
/// The storage event type of a new blob.
pub const BLOB_CREATED: &str = "Microsoft.Storage.BlobCreated";

/// Refused counts an alerts answer's `warning` names; the rest are counted.
const SHOWN_REFUSALS: usize = 5;

/// `alerts`' routes.
pub fn alerts_router() -> Router<AppState> {
    Router::new().route("/api/alerts", get(list))
}

/// `inventory-alert`'s routes.
pub fn inventory_alert_router() -> Router<AppState> {
    Router::new().route("/inventory-alert", post(inventory_alert))
}

async fn list(State(state): State<AppState>, params: QueryParams) -> Result<Json<Value>, ApiError> {
    params.only(&["severity", "sku", "limit", "offset"])?;
    let severity = match params.get("severity") {
        None => None,
        Some(text) => Some(Severity::of_alert(text).map_err(|message| ApiError::BadRequest { message })?),
    };
    let limit = match params.get("limit") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest {
                    message: format!("limit must be a whole number from 1 to 1000, got {text:?}"),
                });
            }
        },
    };
    // The next page: a full catalogue out of stock is thousands of alerts.
    let offset = match params.get("offset") {
        None => 0,
        Some(text) => text.parse::<usize>().map_err(|_| ApiError::BadRequest {
            message: format!("offset must be a whole number from 0, got {text:?}"),
        })?,
    };
    // One SKU or several, comma-separated (a planner's page of lines): each one's standing too.
    let skus = distinct_skus(params.get("sku").unwrap_or_default().split(','));
    if skus.len() > MAX_STATUS_SKUS {
        return Err(ApiError::BadRequest {
            message: format!("sku names {} SKUs; at most {MAX_STATUS_SKUS}", skus.len()),
        });
    }
    let discontinued = state.catalog.discontinued().await;
    let open = open_alerts(&state.alerts, severity, &skus, &discontinued, (offset, limit))
        .await
        .map_err(run_error)?;
    let latest = open.as_ref().map(|open| &open.latest);
    // The forecast the open alerts were judged against (the live one when none is listed).
    let judged_by = open.as_ref().and_then(|o| o.alerts.first()).map(|a| a.forecast_version.clone());
    // A count sent after the latest was refused: the alerts listed are older than the shop thinks.
    let refusals = open_refusals(&state, latest).await?;
    let mut warnings: Vec<String> = refusals.iter().take(SHOWN_REFUSALS).map(RefusedCount::warning).collect();
    if refusals.len() > SHOWN_REFUSALS {
        warnings.push(format!(
            "and {} more counts refused (kept in quarantine/events/) or not judged",
            refusals.len() - SHOWN_REFUSALS
        ));
    }
    let mut answer = match open {
        // No count judged yet: nothing says the stock is fine.
        None => {
            warnings.push(
                "no inventory snapshot is the latest yet: none was judged, or none of those sent could be \
                 (see their summaries); send one (an inventory upload or a Shopsense.Inventory.Snapshot \
                 event) once a forecast is live"
                    .to_owned(),
            );
            let mut none = json!({ "snapshot": null, "alerts": [], "count": 0, "matching": 0 });
            if !skus.is_empty() {
                none["skus"] = skus
                    .iter()
                    .map(|sku| json!({ "sku": sku, "status": Standing::NotCounted, "snapshot_id": null, "as_of": null }))
                    .collect();
            }
            none
        }
        // `count` listed of `matching` from `offset`: a caller sees when `limit` cut the list, and
        // asks for the next page from `offset + count`.
        Some(open) => {
            // The registry is read for the advice only when a SKU needs it.
            let advice = if open.latest.stale_skus > 0 { retrain_advice(&state).await } else { "" };
            if open.latest.made_up {
                warnings.push(format!(
                    "the latest count, {}, is made up (the demo's stock of the sample's trending SKUs), not \
                     counted: the first whole count of yours judged against the live forecast replaces it, \
                     even one counted on an earlier day",
                    open.latest.snapshot_id
                ));
            }
            warnings.extend(not_judged_warning(&open.latest, advice));
            warnings.extend(smaller_count_warning(&open.latest));
            if !open.withheld.is_empty() {
                let (n, what) = match open.withheld.len() {
                    1 => (1, "alert to order was"),
                    n => (n, "alerts to order were"),
                };
                warnings.push(format!(
                    "{n} {what} withheld: the catalogue discontinued {} after the count was judged (the next \
                     count judges them as discontinued)",
                    open.withheld.join(", ")
                ));
            }
            // The SKUs out of stock now: the whole count's, as the partial counts since have them.
            let mut out_of_stock: Vec<String> = open.latest.out_of_stock_now().into_iter().collect();
            out_of_stock.sort();
            // `base_skus` is bookkeeping, as long as a catalogue; the unknown SKUs are named in
            // the warning.
            let snapshot = LatestSnapshot {
                out_of_stock,
                base_skus: Vec::new(),
                unknown_named: Vec::new(),
                ..open.latest
            };
            let mut page = json!({
                "snapshot": snapshot, "offset": offset, "count": open.alerts.len(), "matching": open.matching,
                "alerts": open.alerts
            });
            if !skus.is_empty() {
                page["skus"] = json!(open.statuses);
            }
            page
        }
    };
    if let Some(stale) = state.stale_alerts(judged_by.as_deref()).await {
        warnings.push(stale);
    }
    if !warnings.is_empty() {
        answer["warning"] = json!(warnings.join("; "));
    }
    Ok(Json(answer))
}

/// What of the latest snapshot was not judged, so that an empty list does not read as "all
/// clear" when part of the count was never looked at.
/// When the latest count holds fewer than half of the SKUs of the one it replaced: its SKUs'
/// alerts alone are listed, and the others' stock-outs are neither listed nor kept out of
/// recommendations. A cycle count of one aisle does this; so would a mistaken or forged one.
fn smaller_count_warning(latest: &LatestSnapshot) -> Option<String> {
    let larger = latest.replaced_larger.as_ref()?;
    Some(format!(
        "the latest count ({}) holds {} SKUs, fewer than half of the {} of the count it replaced ({}): \
         only its SKUs' alerts are listed, and the other SKUs' stock-outs are no longer listed or kept \
         out of recommendations; if it was a partial count, send it as one (under inventory/partial/, or \
         with \"partial\": true), or send the whole stock",
        latest.snapshot_id, latest.skus, larger.skus, larger.snapshot_id
    ))
}

/// How to get a fresh forecast: retrain, or first lift the pin a rollback put on the forecast
/// (while it stands, retrains hold what passes and the forecast stays as old as it is).
async fn retrain_advice(state: &AppState) -> &'static str {
    let registry = state.trainer.registry();
    match registry.live(shopsense::registry::ModelKind::Forecast).await {
        Ok(Some((pointer, _))) if pointer.pinned.is_some() => {
            "the forecast is pinned by a rollback, so retrains hold what passes: `shopsense models unpin \
             forecast` (or promote a held version), then send a new count"
        }
        _ => "retrain, then send a new count",
    }
}

fn not_judged_warning(latest: &LatestSnapshot, advice: &str) -> Option<String> {
    let mut why = Vec::new();
    if latest.stale_skus > 0 {
        why.push(format!(
            "{} because the live forecast is too old for their lead time as of {} ({advice})",
            latest.stale_skus,
            latest.as_of.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    if latest.unknown_skus > 0 {
        let named = match latest.unknown_named.len() {
            0 => String::new(),
            n if n < latest.unknown_skus => {
                format!(": {} and {} more", latest.unknown_named.join(", "), latest.unknown_skus - n)
            }
            _ => format!(": {}", latest.unknown_named.join(", ")),
        };
        why.push(format!(
            "{} because they have no forecast (new or unknown SKUs{named}; the next retrain forecasts \
             those that have sold)",
            latest.unknown_skus
        ));
    }
    let base = (!why.is_empty()).then(|| {
        let n = latest.stale_skus + latest.unknown_skus;
        format!(
            "{n} of the snapshot's {} SKUs {} not judged: {}",
            latest.skus,
            if n == 1 { "was" } else { "were" },
            why.join("; ")
        )
    });
    // A partial count's SKUs it could not judge lost their older alert with nothing to show.
    let partial = match latest.partials_not_judged() {
        0 => None,
        1 => Some(
            "1 SKU of the partial counts since was not judged (no forecast, or one too old for its lead \
             time; named in the latest's partials): it has no open alert"
                .to_owned(),
        ),
        n => Some(format!(
            "{n} SKUs of the partial counts since were not judged (no forecast, or one too old for their \
             lead time; named in the latest's partials): they have no open alert"
        )),
    };
    match (base, partial) {
        (Some(base), Some(partial)) => Some(format!("{base}; {partial}")),
        (base, partial) => base.or(partial),
    }
}

fn run_error(e: AlertRunError) -> ApiError {
    match e {
        AlertRunError::Store(store) => ApiError::Store(store),
        AlertRunError::NoForecast => ApiError::NoModel {
            kind: shopsense::registry::ModelKind::Forecast,
            advice: crate::error::no_model_advice(&[], None),
        },
        other => ApiError::Internal { message: other.to_string() },
    }
}

/// A snapshot from an event, or why not.
enum Snapshot {
    Ready(Box<InventorySnapshot>),
    /// Bad input that retrying cannot fix.
    Refused {
        /// Why.
        reason: String,
        /// Whether it was a count that could not be judged, rather than something that was never
        /// one (another event type, a blob gone): only a count is named in the open alerts.
        a_count: bool,
    },
    /// Not ours (another container, a non-inventory blob).
    Ignored(String),
}

async fn snapshot_of(state: &AppState, event: &EventGridEvent) -> Result<Snapshot, ApiError> {
    match event.event_type.as_str() {
        SNAPSHOT_EVENT_TYPE => Ok(match InventorySnapshot::from_json(&event.data) {
            Ok(snapshot) => Snapshot::Ready(Box::new(snapshot)),
            Err(e) => Snapshot::Refused { reason: format!("event data: {e}"), a_count: true },
        }),
        BLOB_CREATED => {
            let Some((container, path)) = event.blob() else {
                return Ok(Snapshot::Refused {
                    reason: format!("subject {:?} is not a blob path", event.subject),
                    a_count: false,
                });
            };
            if container != state.uploads_container || !path.starts_with("inventory/") {
                return Ok(Snapshot::Ignored(format!("{container}/{path} is not an inventory upload")));
            }
            if let Some(what) = shopsense::ingest::not_data(path) {
                return Ok(Snapshot::Ignored(format!("{path} is {what}")));
            }
            let Some(blob) = state.ingestor.uploads().get(path).await? else {
                return Ok(Snapshot::Refused {
                    reason: format!("{container}/{path} no longer exists"),
                    a_count: false,
                });
            };
            let max = state.ingest_options.max_table_bytes;
            // Read as ingest reads the same upload: its format, its own mapping or its folder's
            // (which has nothing to say about one JSON object with `items`, the event's shape).
            let mapping = match state.ingestor.mapping_for(path, &UploadKind::Inventory.to_string()).await {
                Ok(mapping) => mapping,
                Err(IngestError::Store(e)) => return Err(e.into()),
                Err(e) => match InventorySnapshot::parse_document(path, &blob.body, max) {
                    Some(_) => shopsense::ingest::mapping::Mapping::default(),
                    None => return Ok(Snapshot::Refused { reason: e.to_string(), a_count: true }),
                },
            };
            let parsed = InventorySnapshot::parse_upload(path, &blob.body, &mapping, None, max);
            Ok(match parsed {
                Ok(snapshot) => {
                    let partial = snapshot.partial || is_partial_upload(path);
                    Snapshot::Ready(Box::new(snapshot.counting_in_part(partial)))
                }
                Err(e) => Snapshot::Refused { reason: e.to_string(), a_count: true },
            })
        }
        other => Ok(Snapshot::Refused {
            reason: format!("event type {other:?} is neither {BLOB_CREATED} nor {SNAPSHOT_EVENT_TYPE}"),
            a_count: false,
        }),
    }
}

/// Answers a refused event as done (retrying cannot fix it), kept whole with its reason; a
/// refused count is remembered for the open alerts' `warning`.
async fn refuse(
    state: &AppState,
    event: &EventGridEvent,
    reason: &str,
    a_count: bool,
) -> Result<InvokeResponse, ApiError> {
    let kept = quarantine(state, event, reason).await?;
    if a_count {
        remember_refusal(state, event, reason, &kept, None).await?;
    }
    tracing::warn!(event = %event.id, %reason, kept, "inventory event refused");
    Ok(InvokeResponse::ok(json!({ "refused": reason, "kept": kept }))
        .log(format!("refused event {}: {reason} (kept in {kept})", event.id)))
}

/// Keeps the refusal, one per upload and one for custom events ([`RefusedCount::id`]), for the
/// open alerts' `warning`: not when a count that answers it was sent after it (a late delivery,
/// the nightly replay of old events), and a redelivery keeps the time it was first refused.
/// The count that answers it deletes it ([`answer_refusals`]). A count not judged (its id and
/// day) is not kept when it is older than the latest's day: judged, it would not replace it.
async fn remember_refusal(
    state: &AppState,
    event: &EventGridEvent,
    reason: &str,
    kept: &str,
    not_judged: Option<(&str, chrono::NaiveDate)>,
) -> Result<(), ApiError> {
    let latest = latest_count(state).await?;
    if let Some((_, day)) = not_judged
        && latest.as_ref().and_then(|l| l.as_of).is_some_and(|latest_day| day < latest_day)
    {
        return Ok(());
    }
    let mut refused = RefusedCount {
        refused_at: chrono::Utc::now(),
        sent_at: event.event_time,
        event_id: event.id.clone(),
        subject: event.subject.clone(),
        reason: reason.to_owned(),
        kept: kept.to_owned(),
        upload: event.event_type == BLOB_CREATED,
        not_judged: not_judged.map(|(id, _)| id.to_owned()),
    };
    if latest.as_ref().is_some_and(|latest| refused.sent_before_an_answer(latest)) {
        return Ok(());
    }
    let id = refused.id();
    if let Some(doc) = state.alerts.get(REFUSALS_PARTITION, &id).await?
        && let Ok(last) = doc.parse::<RefusedCount>()
    {
        // A late delivery of an earlier count does not take a later one's place.
        if last.sent_at > refused.sent_at {
            return Ok(());
        }
        if last.event_id == event.id && last.sent_at == event.event_time {
            refused.refused_at = last.refused_at;
        }
    }
    state.alerts.upsert(&shopsense::store::Document::new(REFUSALS_PARTITION, &id, &refused)?).await?;
    Ok(())
}

/// The latest count, if any.
async fn latest_count(state: &AppState) -> Result<Option<LatestSnapshot>, ApiError> {
    match state.alerts.get(SNAPSHOTS_PARTITION, LATEST_ID).await? {
        Some(doc) => Ok(Some(doc.parse()?)),
        None => Ok(None),
    }
}

/// Deletes the refusals a count just judged answers, so that they stay answered when that count
/// is later outcounted: its own upload's refusal sent before it (the file sent again, fixed,
/// whether or not it is now the latest of any SKU), its own not being judged before, and those
/// the latest now answers.
async fn answer_refusals(state: &AppState, event: &EventGridEvent, judged: &str) -> Result<(), ApiError> {
    let latest = latest_count(state).await?;
    let upload = (event.event_type == BLOB_CREATED).then_some(event.subject.as_str());
    let answered: Vec<(String, String)> = state
        .alerts
        .query(REFUSALS_PARTITION, &shopsense::store::Query::all())
        .await?
        .into_iter()
        .filter(|doc| {
            doc.parse::<RefusedCount>().is_ok_and(|refused| {
                let sent_again =
                    upload == Some(refused.subject.as_str()) && refused.sent_at <= event.event_time;
                let judged_now = refused.not_judged.as_deref() == Some(judged);
                sent_again || judged_now || !refused.is_newer_than(latest.as_ref())
            })
        })
        .map(|doc| (doc.partition, doc.id))
        .collect();
    state.alerts.delete_many(&answered).await?;
    Ok(())
}

/// The refused counts no count in `latest` answers, the latest sent first.
pub async fn open_refusals(
    state: &AppState,
    latest: Option<&LatestSnapshot>,
) -> Result<Vec<RefusedCount>, ApiError> {
    let docs = state.alerts.query(REFUSALS_PARTITION, &shopsense::store::Query::all()).await?;
    // One that cannot be read (a future version's) is passed over, not a failed answer.
    let mut open: Vec<RefusedCount> = docs
        .iter()
        .filter_map(|doc| doc.parse::<RefusedCount>().ok())
        .filter(|refused| refused.is_newer_than(latest))
        .collect();
    open.sort_by_key(|refused| std::cmp::Reverse(refused.sent_at));
    Ok(open)
}

/// The blob name an event id is kept under: its key escape with `%` written `_` (blob tools
/// read `%` as URL escapes) and a literal `_` written `_5F`, so that two ids never share a name
/// (`q/1` and `q_2F1` did, and the second refusal overwrote the first).
fn quarantine_name(id: &str) -> String {
    shopsense::serving::escape_key(id).replace('_', "_5F").replace('%', "_")
}

/// Where a refused event is kept: its id's name and the start of its content's sha256, so a
/// redelivery lands on its own file while two different events never share one (an empty id,
/// or an id a sender reused, kept only the last refusal).
fn quarantine_path(event: &EventGridEvent) -> String {
    let content = serde_json::to_vec(event).unwrap_or_default();
    let digest = shopsense::bronze::sha256_hex(&content);
    let name = if event.id.is_empty() { "no-id".to_owned() } else { quarantine_name(&event.id) };
    format!("events/{name}.{}.json", &digest[..16])
}

/// Keeps a refused event whole with its reason.
async fn quarantine(state: &AppState, event: &EventGridEvent, reason: &str) -> Result<String, ApiError> {
    let path = quarantine_path(event);
    let body = json!({ "reason": reason, "event": event });
    let store = state.stores.blobs.container(QUARANTINE_CONTAINER).await?;
    store
        .put(
            &path,
            Bytes::from(body.to_string()),
            PutOptions::default().with_content_type("application/json"),
        )
        .await?;
    Ok(format!("{QUARANTINE_CONTAINER}/{path}"))
}

async fn inventory_alert(
    State(state): State<AppState>,
    invoke: Invoke<EventGridEvent>,
) -> Result<InvokeResponse, ApiError> {
    handle(&state, &invoke.trigger).await
}

/// Judges the snapshot an inventory event brings (the `inventory-alert` function's work, also
/// done for its dead letters by the retrain timer). A failed response asks for a redelivery.
///
/// # Errors
/// A storage failure while reading the upload or keeping a refused event.
pub async fn handle(state: &AppState, event: &EventGridEvent) -> Result<InvokeResponse, ApiError> {
    let snapshot = match snapshot_of(state, event).await? {
        Snapshot::Ready(snapshot) => snapshot,
        Snapshot::Ignored(why) => return Ok(InvokeResponse::ok(Value::Null).log(format!("ignored: {why}"))),
        Snapshot::Refused { reason, a_count } => return refuse(state, event, &reason, a_count).await,
    };
    let names_its_day = snapshot.as_of.is_some();
    // The day the stock was counted when the snapshot says (not after the event was raised),
    // else the day the event was raised (not after now, give or take a clock's skew).
    let snapshot = match snapshot.sent_at(event.event_time, chrono::Utc::now()) {
        // A file's place: its blob. Custom events' subjects are the sender's (one for every aisle).
        Ok(snapshot) => {
            let source = (event.event_type == BLOB_CREATED).then(|| event.subject.clone());
            InventorySnapshot { source, ..snapshot }
        }
        Err(e) => return refuse(state, event, &e.to_string(), true).await,
    };
    let as_of = snapshot.as_of;
    let policy = match state.policy_with_catalog().await {
        Ok(policy) => policy,
        Err(e) => return Ok(InvokeResponse::failed(format!("will be retried: {e}"))),
    };
    match run(&state.reader, &state.alerts, &policy, &snapshot, as_of).await {
        Ok((summary, _)) => {
            // Stored, and not the latest: the event is kept with the reason, as bad input is.
            if let Some(refusal) = summary.unknown_only() {
                return refuse(state, event, &refusal.to_string(), true).await;
            }
            let mut response = InvokeResponse::ok(&summary).log(format!(
                "snapshot {}: {} SKUs, {} alerts ({} written, {} already there), {} unknown, {} stale",
                summary.snapshot_id,
                summary.skus,
                summary.alerts,
                summary.written,
                summary.already_there,
                summary.unknown_skus.len(),
                summary.stale_skus.len()
            ));
            if !summary.unknown_skus.is_empty() {
                response =
                    response.log(format!("SKUs without a forecast: {}", summary.unknown_skus.join(", ")));
            }
            if !summary.stale_skus.is_empty() {
                response = response.log(format!(
                    "the live forecast is too old for the lead time as of {} for {} SKUs: retrain",
                    summary.as_of,
                    summary.stale_skus.len()
                ));
            }
            // Nothing judged for that reason alone: said as a warning, with what would judge it
            // (an undated count dropped into a demo whose forecast ends in 2011 lands here).
            let mut not_judged_hint = None;
            if summary.stale_skus.len() == summary.skus && summary.skus > 0 {
                let hint = if names_its_day {
                    "retrain on current sales"
                } else {
                    "retrain on current sales, or give the file the day it was counted (a snapshot_time \
                     column, or as_of in an event); `shopsense alerts --inventory <file> --as-of <day>` \
                     judges it as of another day"
                };
                tracing::warn!(
                    snapshot = %summary.snapshot_id, as_of = %summary.as_of, forecast = %summary.forecast_version,
                    "no SKU of the snapshot was judged: the live forecast does not reach its day; {hint}"
                );
                response = response.log(format!(
                    "no SKU was judged: the live forecast {} does not reach {}; {hint}",
                    summary.forecast_version, summary.as_of
                ));
                not_judged_hint = Some(hint);
            }
            if let Some(stale) = state.stale_forecast().await {
                let warning = stale.warning("forecast");
                tracing::warn!(snapshot = %summary.snapshot_id, "{warning}");
                response = response.log(warning);
            }
            if let Some(why) = &summary.not_latest {
                response = response.log(format!("not the latest snapshot: {why}"));
            }
            if !summary.superseded.is_empty() {
                response = response.log(format!(
                    "{} of its SKUs were counted later: their open alerts are those counts': {}",
                    summary.superseded.len(),
                    summary.superseded.join(", ")
                ));
            }
            match summary.nothing_judged() {
                // A count sent and not judged leaves every SKU at an older count's stock: the open
                // alerts say so until a count is judged after it, as for a refused one.
                Some(why) => {
                    let why = match not_judged_hint {
                        Some(hint) => format!("{why}; {hint}"),
                        None => format!(
                            "{why}; retrain on current sales, or send a count the live forecast covers"
                        ),
                    };
                    let kept = "its summary (the alerts container's snapshots)";
                    let count = Some((summary.snapshot_id.as_str(), summary.as_of));
                    remember_refusal(state, event, &why, kept, count).await?;
                }
                None => answer_refusals(state, event, &summary.snapshot_id).await?,
            }
            state.stock.refresh();
            Ok(response)
        }
        Err(e @ AlertRunError::Alert(_)) => refuse(state, event, &e.to_string(), true).await,
        Err(AlertRunError::NoForecast) => {
            // Waiting, not lost: the open alerts (and `uploads list`) say a count is queued until
            // a forecast judges it, instead of "none was sent".
            let day = snapshot.as_of.unwrap_or_else(|| event.event_time.date_naive());
            let why = "no forecast is live yet: the event is delivered again (for up to a day) and judged once \
                       one goes live (`shopsense train`, or the nightly retrain)";
            remember_refusal(state, event, why, "the event, delivered again", Some((&snapshot.id, day)))
                .await?;
            Ok(InvokeResponse::failed(format!("will be retried: {}", AlertRunError::NoForecast)))
        }
        Err(e) => Ok(InvokeResponse::failed(format!("will be retried: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_much_smaller_than_the_one_it_replaced_is_named_with_what_it_hides() {
        let mut latest =
            LatestSnapshot { snapshot_id: "aisle-7".into(), skus: 1, ..LatestSnapshot::default() };
        assert_eq!(smaller_count_warning(&latest), None);
        latest.replaced_larger =
            Some(shopsense::serving::stock::ReplacedCount { snapshot_id: "full".into(), skus: 1500 });
        let warning = smaller_count_warning(&latest).unwrap();
        assert!(
            warning.starts_with("the latest count (aisle-7) holds 1 SKUs, fewer than half of the 1500"),
            "{warning}"
        );
        assert!(warning.contains("send the whole stock"), "{warning}");
    }

    const ADVICE: &str = "retrain, then send a new count";

    #[test]
    fn the_warning_names_the_skus_not_judged_for_want_of_a_forecast_or_a_fresh_one() {
        let latest = |stale_skus, unknown_skus| LatestSnapshot {
            skus: 5,
            stale_skus,
            unknown_skus,
            as_of: "2011-12-17".parse().ok(),
            ..LatestSnapshot::default()
        };
        assert_eq!(not_judged_warning(&latest(0, 0), ADVICE), None, "all judged");
        let named = |stale, unknown, named: &[&str]| LatestSnapshot {
            unknown_named: named.iter().map(|s| (*s).to_owned()).collect(),
            ..latest(stale, unknown)
        };
        assert_eq!(
            not_judged_warning(&named(0, 2, &["TYPO1", "TYPO2"]), ADVICE).as_deref(),
            Some(
                "2 of the snapshot's 5 SKUs were not judged: 2 because they have no forecast (new or unknown SKUs: TYPO1, TYPO2; the next retrain forecasts those that have sold)"
            )
        );
        assert_eq!(
            not_judged_warning(&named(1, 3, &["TYPO1", "TYPO2"]), ADVICE).as_deref(),
            Some(
                "4 of the snapshot's 5 SKUs were not judged: 1 because the live forecast is too old for their lead time as of 2011-12-17 (retrain, then send a new count); 3 because they have no forecast (new or unknown SKUs: TYPO1, TYPO2 and 1 more; the next retrain forecasts those that have sold)"
            )
        );
        // A summary written before the names were kept says how many only.
        assert!(
            not_judged_warning(&latest(0, 2), ADVICE)
                .unwrap()
                .ends_with("(new or unknown SKUs; the next retrain forecasts those that have sold)")
        );
    }

    #[test]
    fn refused_events_with_different_ids_are_kept_under_different_names() {
        assert_eq!(quarantine_name("dl-5"), "dl-5");
        assert_eq!(quarantine_name("q/1"), "q_2F1");
        assert_eq!(quarantine_name("q_2F1"), "q_5F2F1");
        let ids = ["a/b", "a_2Fb", "a%2Fb", "a_b", "a%b", "a_25b"];
        let names: std::collections::BTreeSet<String> = ids.iter().map(|id| quarantine_name(id)).collect();
        assert_eq!(names.len(), ids.len(), "{names:?}");
    }

    #[test]
    fn two_refused_events_share_a_file_only_when_they_are_the_same_event() {
        let event = |id: &str, on_hand: i64| -> EventGridEvent {
            serde_json::from_value(json!({
                "id": id, "eventType": SNAPSHOT_EVENT_TYPE, "subject": "s", "eventTime": "2011-12-09T10:00:00Z",
                "data": {"items": [{"sku": "85123A", "on_hand": on_hand}]}
            }))
            .unwrap()
        };
        assert_eq!(quarantine_path(&event("e1", -1)), quarantine_path(&event("e1", -1)), "a redelivery");
        assert_ne!(quarantine_path(&event("e1", -1)), quarantine_path(&event("e1", -2)), "an id reused");
        assert_ne!(quarantine_path(&event("", -1)), quarantine_path(&event("", -2)), "no id");
        assert!(quarantine_path(&event("", -1)).starts_with("events/no-id."));
    }
}
