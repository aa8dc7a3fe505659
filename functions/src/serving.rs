//! The serving functions: plain axum routes under `/api` that read live model documents.
//!
//! - `recommend-customer`: `GET /api/recommendations/customers/{customer_id}?k=10[&include_purchased=true]`
//! - `recommend-similar`: `GET /api/recommendations/items/{sku}/similar?k=10`
//! - `recommend-cart`: `POST /api/recommendations/cart` `{"items": [...], "customer_id": "...", "k": 10}`
//! - `segments`: `GET /api/segments/{customer_id}`
//! - `forecasts`: `GET /api/forecasts/{sku}?horizon=28[&levels=0.1,0.5,0.9]`: daily rows with
//!   the point forecast and each level's quantile; weekly rows (7-day buckets from the first
//!   day) and the horizon's total, each with its point forecast and each level's quantile of the
//!   total (factors measured on the forecaster's backtest totals, see
//!   `ItemForecast::total_quantile`)
//! - `models`: `GET /api/models`: every kind's versions, live first
//!
//! Parameters are checked here and named in 400s; the library builds the answers.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use shopsense::forecast::{TOTAL_LEVELS, WEEK_DAYS, level_name};
use shopsense::registry::ModelKind;
use shopsense::serving::{
    CustomerSegment, ForecastSummary, ItemForecast, SHOP_PARTITION, SegmentsSummary, answers,
    customer_document, item_partition,
};
use shopsense::sku::{distinct_skus, normalise_sku};

use crate::error::ApiError;
use crate::extract::{PathParam, QueryParams};
use crate::state::AppState;

/// Most items one answer may hold: as many as the retrain precomputes per customer.
pub const MAX_K: usize = shopsense::train::CANDIDATES;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest { message: message.into() }
}

/// An id as an error message quotes it: whole up to 64 characters, else its start and length
/// (a 5,000-character id is not worth echoing back whole).
fn quoted(id: &str) -> String {
    const SHOWN: usize = 64;
    match id.char_indices().nth(SHOWN) {
        None => format!("{id:?}"),
        Some((cut, _)) => format!("{:?}... ({} characters)", &id[..cut], id.chars().count()),
    }
}

/// The list length asked for: 10 when not given.
fn k_of(value: Option<&str>) -> Result<usize, ApiError> {
    match value {
        None => Ok(10),
        Some(text) => match text.parse::<usize>() {
            Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
            _ => Err(bad(format!("k must be a whole number from 1 to {MAX_K}, got {text:?}"))),
        },
    }
}

/// The path's SKU as the catalogue keys it; a blank one is refused, as a blank customer id is.
fn sku_of(asked: &str) -> Result<String, ApiError> {
    let sku = normalise_sku(asked);
    if sku.is_empty() {
        return Err(bad("the SKU is empty"));
    }
    Ok(sku)
}

/// `recommend-customer`'s routes.
pub fn customer_router() -> Router<AppState> {
    Router::new().route("/api/recommendations/customers/{customer_id}", get(customer))
}

/// `recommend-similar`'s routes.
pub fn similar_router() -> Router<AppState> {
    Router::new().route("/api/recommendations/items/{sku}/similar", get(similar))
}

/// `recommend-cart`'s routes.
pub fn cart_router() -> Router<AppState> {
    Router::new().route("/api/recommendations/cart", post(cart))
}

/// `segments`' routes.
pub fn segments_router() -> Router<AppState> {
    Router::new().route("/api/segments/{customer_id}", get(segment))
}

/// `forecasts`' routes.
pub fn forecasts_router() -> Router<AppState> {
    Router::new().route("/api/forecasts/{sku}", get(forecast))
}

/// `models`' routes.
pub fn models_router() -> Router<AppState> {
    Router::new().route("/api/models", get(models))
}

async fn customer(
    State(state): State<AppState>,
    PathParam(customer_id): PathParam,
    params: QueryParams,
) -> Result<Json<Value>, ApiError> {
    params.only(&["k", "include_purchased"])?;
    let k = k_of(params.get("k"))?;
    let include_purchased = params.flag("include_purchased")?;
    let customer_id = customer_id.trim();
    if customer_id.is_empty() {
        return Err(bad("the customer id is empty"));
    }
    let exclusions = state.exclusions().await?;
    let answer = answers::for_customer(&state.reader, customer_id, k, include_purchased, &exclusions).await?;
    let Some(answer) = answer else { return Err(state.no_model(ModelKind::Recommend).await) };
    // The id as stored when found (`17850.0` answers `17850`, as segments do), else as asked.
    let echoed = answer.customer_key.clone().unwrap_or_else(|| customer_id.to_owned());
    Ok(Json(json!({ "customer_id": echoed, "k": k, "answer": answer })))
}

async fn similar(
    State(state): State<AppState>,
    PathParam(sku): PathParam,
    params: QueryParams,
) -> Result<Json<Value>, ApiError> {
    params.only(&["k"])?;
    let k = k_of(params.get("k"))?;
    let sku = sku_of(&sku)?;
    let exclusions = state.exclusions().await?;
    let answer = answers::similar(&state.reader, &sku, k, &exclusions).await?;
    let Some(answer) = answer else { return Err(state.no_model(ModelKind::Recommend).await) };
    Ok(Json(json!({ "sku": sku, "k": k, "answer": answer })))
}

/// The cart request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CartRequest {
    items: Vec<String>,
    /// A string, or a number as a shop's own JSON often writes its customer ids (`17850`).
    customer_id: Option<Value>,
    /// Any JSON value, judged as the query's `k` is: `10` or `"10"`, null or `""` for the
    /// default; `5.5` gets the query's message, not a Rust type's name.
    k: Option<Value>,
}

/// Most distinct SKUs one cart may hold: each is a document read.
const MAX_CART_SKUS: usize = 200;

/// The form encoding a request's `content-type` names, if it names one.
fn form_sent(headers: &HeaderMap) -> Option<&'static str> {
    let kind = headers.get(header::CONTENT_TYPE)?.to_str().ok()?.trim().to_ascii_lowercase();
    ["multipart/form-data", "application/x-www-form-urlencoded"]
        .into_iter()
        .find(|form| kind.starts_with(form))
}

async fn cart(
    State(state): State<AppState>,
    params: QueryParams,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // Everything is in the body: a `?k=` would otherwise be passed over without a word.
    params.only(&[])?;
    const LIKE: &str = r#"{"items": ["85123A"], "customer_id": "17850", "k": 10}"#;
    // A byte-order mark, as some Windows tools write JSON, is no part of it.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").map_or(body.clone(), |rest| body.slice_ref(rest));
    let looks_like_json =
        body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| matches!(b, b'{' | b'['));
    let value: Value = serde_json::from_slice(&body).map_err(|e| match form_sent(&headers) {
        // A form (`curl -F`, an HTML form posted as is) is not JSON whatever it holds: say so,
        // rather than where its bytes stopped parsing. A JSON body labelled as a form (what
        // `curl -d` sends) is read as JSON, and a typo in it is named where it is.
        Some(kind) if !looks_like_json => ApiError::UnsupportedMediaType {
            message: format!(
                "the body was sent as {kind}; send JSON (content-type: application/json) like {LIKE}"
            ),
        },
        _ => bad(format!("the body must be JSON like {LIKE}: {e}")),
    })?;
    if !value.is_object() {
        return Err(bad(format!(
            "the body must be a JSON object like {LIKE}, got {}",
            shopsense::json::kind(&value)
        )));
    }
    // From the bytes, not the value: a field given twice is refused, and errors keep their place.
    let request: CartRequest = serde_json::from_slice(&body).map_err(|e| bad(format!("the body: {e}")))?;
    // `85123a` and `85123A` are one SKU, in the cart once: twice would double its neighbours.
    // The bound counts distinct SKUs (a cart's lines repeat one when sizes or gift wrap differ).
    let items = distinct_skus(request.items.iter().map(String::as_str));
    if items.len() > MAX_CART_SKUS {
        return Err(bad(format!("items holds {} distinct SKUs; at most {MAX_CART_SKUS}", items.len())));
    }
    if items.is_empty() {
        return Err(bad("items must name at least one SKU"));
    }
    let k = match &request.k {
        None | Some(Value::Null) => k_of(None)?,
        Some(Value::String(text)) => k_of(Some(text.as_str()).filter(|t| !t.is_empty()))?,
        Some(other) => k_of(Some(&other.to_string()))?,
    };
    let exclusions = state.exclusions().await?;
    let customer_id = match request.customer_id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id),
        Some(Value::Number(id)) => Some(id.to_string()),
        Some(other) => return Err(bad(format!("customer_id must be a string or a number, got {other}"))),
    };
    let customer = customer_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let answer = answers::cart(&state.reader, &items, customer, k, &exclusions).await?;
    let Some(answer) = answer else { return Err(state.no_model(ModelKind::Recommend).await) };
    let answer_key = answer.customer_key.clone();
    let mut echo = json!({ "items": items, "k": k, "answer": answer });
    if let Some(customer) = customer {
        echo["customer_id"] = json!(answer_key.unwrap_or_else(|| customer.to_owned()));
    }
    Ok(Json(echo))
}

async fn segment(
    State(state): State<AppState>,
    PathParam(customer_id): PathParam,
    params: QueryParams,
) -> Result<Json<Value>, ApiError> {
    params.only(&[])?;
    let customer_id = customer_id.trim();
    if customer_id.is_empty() {
        return Err(bad("the customer id is empty"));
    }
    let Some(version) = state.reader.live_version(ModelKind::Segments).await? else {
        return Err(state.no_model(ModelKind::Segments).await);
    };
    // The day recency is measured at: what the answer is as of, and why a newer customer has none.
    let as_of = state
        .reader
        .get_at::<SegmentsSummary>(ModelKind::Segments, &version, SHOP_PARTITION)
        .await?
        .and_then(|summary| summary.reference)
        // A day, as every other answer writes one: a time without a zone reads as the
        // browser's local time.
        .map(|reference| reference.date());
    match customer_document::<CustomerSegment>(&state.reader, ModelKind::Segments, &version, customer_id)
        .await?
    {
        Some((key, segment)) => {
            let mut body =
                serde_json::to_value(&segment).map_err(|e| ApiError::Internal { message: e.to_string() })?;
            body["customer_label"] = json!(segment.customer_label());
            // Whole days and invoices read as whole numbers (34, not 34.0).
            body["recency_days"] = json!(segment.recency_days.round() as i64);
            body["frequency"] = json!(segment.frequency.round() as i64);
            Ok(Json(json!({ "customer_id": key, "model_version": version, "as_of": as_of, "segment": body })))
        }
        None => Err(ApiError::NotFound {
            what: match as_of {
                Some(as_of) => format!(
                    "customer {} (no segment in the live segmentation {version}, of customers who bought and kept a product before {as_of})",
                    quoted(customer_id)
                ),
                None => format!("customer {} (no segment)", quoted(customer_id)),
            },
        }),
    }
}

/// Most quantile levels one forecast request may ask for: each adds a column to every daily and
/// weekly row, and 980 of them made a 1.2 MB answer from a 5 KB URL (a security review).
const MAX_LEVELS: usize = 20;

fn levels_of(value: Option<&str>) -> Result<Vec<f64>, ApiError> {
    let Some(text) = value else { return Ok(vec![0.1, 0.5, 0.9]) };
    let count = text.split(',').count();
    if count > MAX_LEVELS {
        return Err(bad(format!("levels may name at most {MAX_LEVELS} quantiles, got {count}")));
    }
    text.split(',')
        .map(|part| match part.trim().parse::<f64>() {
            // The published quantiles run from p1 to p99: a level beyond would read p99 and be
            // named as asked.
            Ok(level) if (TOTAL_LEVELS.0..=TOTAL_LEVELS.1).contains(&level) => Ok(level),
            _ => Err(bad(format!(
                "levels must be numbers from 0.01 to 0.99 separated by commas, got {part:?}"
            ))),
        })
        .collect()
}

async fn forecast(
    State(state): State<AppState>,
    PathParam(sku): PathParam,
    params: QueryParams,
) -> Result<Json<Value>, ApiError> {
    params.only(&["horizon", "levels"])?;
    let horizon = match params.get("horizon") {
        None => 28,
        Some(text) => match text.parse::<usize>() {
            Ok(h) if (1..=90).contains(&h) => h,
            _ => {
                return Err(bad(format!(
                    "horizon must be a whole number of days from 1 to 90, got {text:?}"
                )));
            }
        },
    };
    let levels = levels_of(params.get("levels"))?;
    let sku = sku_of(&sku)?;
    let Some(version) = state.reader.live_version(ModelKind::Forecast).await? else {
        return Err(state.no_model(ModelKind::Forecast).await);
    };
    let Some(item) =
        state.reader.get_at::<ItemForecast>(ModelKind::Forecast, &version, &item_partition(&sku)).await?
    else {
        return Err(ApiError::NotFound { what: format!("SKU {} (no forecast)", quoted(&sku)) });
    };
    let horizon = horizon.min(item.mean.len());
    let names: Vec<String> = levels.iter().map(|&l| level_name(l)).collect();
    let summary =
        state.reader.get_at::<ForecastSummary>(ModelKind::Forecast, &version, SHOP_PARTITION).await?;
    let spread = summary.as_deref().filter(|s| s.covers(&item)).and_then(|s| s.spread());
    let daily: Vec<Value> = item.mean[..horizon]
        .iter()
        .enumerate()
        .map(|(d, &mean)| {
            let mut row = serde_json::Map::new();
            row.insert("date".into(), json!(item.first_date + chrono::Days::new(d as u64)));
            row.insert("forecast".into(), json!(units(f64::from(mean))));
            for (&level, name) in levels.iter().zip(&names) {
                row.insert(name.clone(), json!(units(item.day_quantile(d, level, spread))));
            }
            Value::Object(row)
        })
        .collect();
    let weekly: Vec<Value> = item.mean[..horizon]
        .chunks(WEEK_DAYS)
        .enumerate()
        .map(|(w, week)| {
            let mut row = serde_json::Map::new();
            row.insert(
                "week_start".into(),
                json!(item.first_date + chrono::Days::new((WEEK_DAYS * w) as u64)),
            );
            row.insert("days".into(), json!(week.len()));
            row.insert("forecast".into(), json!(units(week.iter().map(|&m| f64::from(m)).sum::<f64>())));
            for (&level, name) in levels.iter().zip(&names) {
                row.insert(
                    name.clone(),
                    json!(units(item.total_quantile(
                        WEEK_DAYS * w..WEEK_DAYS * w + week.len(),
                        level,
                        spread
                    ))),
                );
            }
            Value::Object(row)
        })
        .collect();
    let total = units(item.mean[..horizon].iter().map(|&m| f64::from(m)).sum());
    let total_quantiles: serde_json::Map<String, Value> = levels
        .iter()
        .zip(&names)
        .map(|(&level, name)| (name.clone(), json!(units(item.total_quantile(0..horizon, level, spread)))))
        .collect();
    let closed = summary.map(|s| s.closed_weekdays.clone()).unwrap_or_default();
    let data_end = item.first_date.pred_opt().unwrap_or(item.first_date);
    let stale = state.stale(data_end).await;
    let mut answer = json!({
        "sku": sku,
        "description": item.description,
        "model_version": version,
        "horizon": horizon,
        "first_date": item.first_date,
        "data_end": data_end,
        "class": item.class,
        "methods": item.methods,
        "closed_weekdays": closed,
        "total": total,
        "total_quantiles": total_quantiles,
        "daily": daily,
        "weekly": weekly,
    });
    if let Some(stale) = stale {
        answer["warning"] = json!(stale.warning("forecast"));
    }
    Ok(Json(answer))
}

/// Units as the API gives them: to 1/10,000 of a unit, so a level that is 0 up to the float
/// arithmetic (a slow seller's p95 of `5.3e-7`) reads 0.
fn units(value: f64) -> f64 {
    (value * 1e4).round() / 1e4
}

async fn models(State(state): State<AppState>, params: QueryParams) -> Result<Json<Value>, ApiError> {
    params.only(&[])?;
    let kinds = standings(&state).await.map_err(registry_error)?;
    let kinds = kinds.into_iter().map(|k| (k.kind.as_str().to_owned(), json!(k))).collect();
    Ok(Json(Value::Object(kinds)))
}

/// How one kind stands in the registry: what `GET /api/models` gives per kind and `models
/// list` prints.
#[derive(Debug, serde::Serialize)]
pub struct KindStanding {
    /// The kind (the key it is listed under, not a field of its own).
    #[serde(skip)]
    pub kind: ModelKind,
    /// The live version.
    pub live: Option<String>,
    /// The pin a rollback set.
    pub pinned: Option<shopsense::registry::Pin>,
    /// Every version kept, newest first.
    pub versions: Vec<shopsense::registry::VersionRecord>,
    /// The last training failed, and no version was written since: what serves is older than
    /// the retrain meant it to be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<shopsense::registry::TrainingFailure>,
    /// The live model answers from uploads withdrawn since, or its data ends well before the
    /// newest sales.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Every kind's [`KindStanding`], in [`ModelKind::ALL`]'s order.
///
/// # Errors
/// When the registry cannot be read.
pub async fn standings(state: &AppState) -> Result<Vec<KindStanding>, shopsense::registry::RegistryError> {
    let registry = state.trainer.registry();
    let mut kinds = Vec::with_capacity(ModelKind::ALL.len());
    for kind in ModelKind::ALL {
        let pointer = registry.live(kind).await?.map(|(p, _)| p);
        let (live, pinned) = pointer.map_or((None, None), |p| (Some(p.version), p.pinned));
        let versions = registry.list(kind).await?;
        let last_failure = registry.last_failure(kind).await?.filter(|f| f.is_news(&versions));
        let mut warnings = Vec::new();
        // Until a retrain, a withdrawal (a data-removal request's, say) is not in the answers.
        let withdrawn = match live.as_deref() {
            Some(live) => state.withdrawn_under(kind, live).await,
            None => Vec::new(),
        };
        if let Some(live) = live.as_deref().filter(|_| !withdrawn.is_empty()) {
            warnings.push(format!(
                "the live {} ({live}) was trained on {}: it answers from sales that no longer count until a \
                 version trained without them goes live (a retrain that passes its gates, or `shopsense models \
                 promote`)",
                kind.noun(),
                shopsense::train::withdrawn_uploads(&withdrawn)
            ));
        }
        warnings.extend(state.stale_live(live.as_deref(), &versions).await.map(|s| s.warning(kind.noun())));
        let warning = (!warnings.is_empty()).then(|| warnings.join("; also, "));
        kinds.push(KindStanding { kind, live, pinned, versions, last_failure, warning });
    }
    Ok(kinds)
}

fn registry_error(e: shopsense::registry::RegistryError) -> ApiError {
    match e {
        shopsense::registry::RegistryError::Store(store) => ApiError::Store(store),
        other => ApiError::Internal { message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn a_long_id_is_quoted_by_its_start_and_length() {
        assert_eq!(quoted("17850"), "\"17850\"");
        let long = "9".repeat(5_000);
        assert_eq!(quoted(&long), format!("\"{}\"... (5000 characters)", "9".repeat(64)));
        assert_eq!(quoted(&"é".repeat(65)), format!("\"{}\"... (65 characters)", "é".repeat(64)));
    }
}
