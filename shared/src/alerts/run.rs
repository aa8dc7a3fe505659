//! An alert run end to end: an inventory snapshot, the live forecast, the policy, and the
//! documents serving reads.
//!
//! ## Documents (container `alerts`)
//! | partition | id | body |
//! |---|---|---|
//! | `snapshot:<snapshot id>` | the SKU (escaped) | [`StoredAlert`]: the [`Alert`] with its snapshot and time |
//! | `snapshots` | the snapshot id | [`SnapshotSummary`]: counts, unknown and stale SKUs |
//! | `snapshots` | `latest` | [`crate::serving::LatestSnapshot`]: the newest whole snapshot, its out-of-stock SKUs, the partial counts after it |
//!
//! A snapshot is judged once: its summary, written last, marks it judged whole, and a redelivered
//! event (same snapshot id) finds it, writes nothing and returns the stored alerts and summary,
//! even when a retrain has since moved the forecast (it would now refuse the day as too old).
//! The same stock sent again at another time is judged once too, but it is a newer count and may
//! become the latest again (see [`redelivered`]).
//! Before its alerts, a run claims the id with a pending summary (a conditional create), so two
//! counts under one name at once cannot both write; a run that fails before the final summary
//! leaves the claim, and the next delivery of the same count judges again and rewrites the
//! snapshot's partition whole. The id covers the day judged
//! ([`InventorySnapshot::judged_on`]): the same stock judged on another day is another snapshot;
//! a named snapshot sent again for another day or with other stock is refused. The alerts of the
//! latest snapshot are the open ones, but for the SKUs a partial count (a cycle count) judged
//! after it counted: theirs are that count's ([`next_latest`]); an older snapshot delivered late
//! does not replace a newer one as latest: one of an earlier day, or of the same day counted earlier when both times are
//! known (Event Grid does not keep order; see [`replaces`]). A snapshot of which no SKU could be
//! judged (all without a forecast, or with one too old) does not become the latest either, as
//! its empty list would read as all clear; its summary is stored and says why, and is not a
//! judgement: the same count sent again (after a retrain, say) is judged again.

//! ## The demand path
//! Daily point forecasts come from the live forecast's documents, the spread of their totals
//! (what the reorder point reads) from the forecast summary's total factors and open days, when
//! the summary has them and covers the same days as the SKU's document. A path read from a later
//! day (below) reads the factors at its own lead time's open days and size, though they were
//! measured on windows starting at a forecast's first day. The daily p10 and p90 come from the
//! quantile factors, with the p10-p90 spread floored at a Poisson's (`2 x 1.2816 x sqrt(mean)`):
//! only summaries published before the total factors existed make the policy read them.
//!
//! ## Reading the forecast at the snapshot's date
//! The live forecast starts the day after the data it was trained on (`first_date`). A snapshot
//! as of day D reads it from D + 1: the first `D + 1 - first_date` days are skipped. A SKU
//! whose remaining forecast is shorter than its lead time plus one day is reported as stale
//! (retrain first), not evaluated on a truncated horizon. A lead time the forecast cannot cover
//! once [`LONG_LEAD_MAX_AGE_DAYS`] days old (83 days or more of its 90; lead times go to 365) is
//! read past its end at the path's mean daily units ([`super::policy`]) while the forecast is at
//! most that old.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::normal::Z_P90;
use super::sku_status::{self, CountedList, SkuStatus};
use super::{Alert, AlertError, AlertPolicy, DemandPath, InventorySnapshot, Severity, evaluate_snapshot};
use crate::registry::ModelKind;
use crate::serving::stock::{LATEST_ID, PartialCount, ReplacedCount, SNAPSHOTS_PARTITION};
use crate::serving::{
    ForecastSummary, ItemForecast, LatestSnapshot, Reader, SHOP_PARTITION, escape_key, item_partition,
};
use crate::store::{Document, DocumentStore, Op, Query, StoreError};

/// Days a forecast may have aged and still judge a lead time longer than it covers: such a lead
/// time always reads days past the forecast's end at its mean, and a week of age adds at most a
/// week more of them (a missed nightly retrain or two, not a forgotten model).
pub const LONG_LEAD_MAX_AGE_DAYS: usize = 7;

/// Forecast documents a run reads at once.
const CONCURRENT_READS: usize = 32;

/// The partition of one snapshot's alerts.
#[must_use]
pub fn snapshot_partition(snapshot_id: &str) -> String {
    format!("snapshot:{}", escape_key(snapshot_id))
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// The snapshot it came from.
    pub snapshot_id: String,
    /// The snapshot's date.
    pub as_of: NaiveDate,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// The forecast version it was computed from.
    pub forecast_version: String,
    /// The alert.
    #[serde(flatten)]
    pub alert: Alert,
}

/// What a run did, stored as the snapshot's summary and returned to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    /// The snapshot id.
    pub snapshot_id: String,
    /// Its date.
    pub as_of: NaiveDate,
    /// When on that day its stock was counted, when known ([`InventorySnapshot::counted_at`];
    /// `None` in summaries stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<DateTime<Utc>>,
    /// When the count judged was sent ([`InventorySnapshot::sent`]; `None` when unknown or in
    /// summaries stored before it was kept): a delivery sent at another time is the same stock
    /// sent again, not a redelivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was judged (the clock's time: how long it has been kept; `None` in summaries
    /// stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<DateTime<Utc>>,
    /// The forecast version used.
    pub forecast_version: String,
    /// SKUs in the snapshot.
    pub skus: usize,
    /// Alerts raised (severity other than `ok`).
    pub alerts: usize,
    /// Per severity.
    pub by_severity: std::collections::BTreeMap<String, usize>,
    /// SKUs evaluated as `ok`.
    pub ok: usize,
    /// SKUs without a forecast: not evaluated (new or unknown products).
    pub unknown_skus: Vec<String>,
    /// SKUs whose forecast is too old for their lead time as of the snapshot's date (see the
    /// module docs).
    pub stale_skus: Vec<String>,
    /// Alert documents written by this run.
    pub written: usize,
    /// Alert documents already there (a redelivery): not written again.
    pub already_there: usize,
    /// Whether this snapshot is now the latest.
    pub latest: bool,
    /// Why it is not the latest (`None` when it is): another snapshot, counted later, is, or none
    /// of its SKUs could be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_latest: Option<String>,
    /// Whether this answer is of a count judged before (a redelivery, or the same stock sent
    /// again): its stored alerts, nothing judged anew.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub judged_before: bool,
    /// The judged snapshot's [`InventorySnapshot::content_id`] (`None` in summaries stored
    /// before it was kept): a named snapshot sent again with other stock is refused by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Its SKUs whose open alert is a later count's, when it is the latest of the others: a
    /// partial count judged late, or one counted again since (its alerts for them are stored, and
    /// not the open ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// A claim, not a judgement: written before the alerts and replaced by the judgement's
    /// summary after them (a run that stops in between leaves it, and the next delivery of the
    /// same count judges again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

impl SnapshotSummary {
    /// Records where the count stands once `latest` is settled: the latest (of the SKUs not in
    /// `superseded`, for a partial count), or why not.
    fn settle(&mut self, snapshot: &InventorySnapshot, settled: Result<LatestSnapshot, String>) {
        match settled {
            Ok(latest) => {
                self.superseded = snapshot
                    .rows
                    .iter()
                    .filter(|r| latest.count_of(&r.sku) != snapshot.id)
                    .map(|r| r.sku.clone())
                    .collect();
                (self.latest, self.not_latest) = (true, None);
            }
            Err(why) => (self.latest, self.not_latest, self.superseded) = (false, Some(why), Vec::new()),
        }
    }

    /// SKUs judged: those with an alert and those ok.
    #[must_use]
    pub fn judged(&self) -> usize {
        self.alerts + self.ok
    }

    /// The refusal of a snapshot none of whose SKUs has a forecast ([`AlertError::UnknownSkus`]):
    /// bad input, where one whose forecast is too old waits for a retrain.
    #[must_use]
    pub fn unknown_only(&self) -> Option<AlertError> {
        (self.judged() == 0 && self.stale_skus.is_empty() && !self.unknown_skus.is_empty())
            .then(|| AlertError::UnknownSkus { skus: self.unknown_skus.clone() })
    }

    /// Why a snapshot of which no SKU was judged does not become the latest, or `None`.
    #[must_use]
    pub fn nothing_judged(&self) -> Option<String> {
        (self.judged() == 0).then(|| {
            format!(
                "none of its {} SKUs was judged ({} without a forecast, {} with a forecast too old for \
                 their lead time as of {}): the open alerts stay the latest snapshot's",
                self.skus,
                self.unknown_skus.len(),
                self.stale_skus.len(),
                self.as_of
            )
        })
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertRunError {
    /// The snapshot or policy is unusable.
    #[error(transparent)]
    Alert(#[from] AlertError),
    /// No forecast is live.
    #[error("no forecast model is live yet: train one first (shopsense train)")]
    NoForecast,
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The forecast documents could not be read.
    #[error(transparent)]
    Reader(#[from] crate::serving::ReaderError),
    /// Other counts judged at the same moment changed the latest under each try to update it:
    /// the count's judgement is left unfinished (its claim), so a retry takes it up again.
    #[error("the latest snapshot changed under each of {tries} tries to update it: retry")]
    Contended {
        /// Tries made.
        tries: usize,
    },
}

impl AlertRunError {
    /// Whether retrying later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(e) => e.is_transient(),
            Self::Reader(crate::serving::ReaderError::Store(e)) => e.is_transient(),
            Self::Contended { .. } => true,
            _ => false,
        }
    }
}

/// The live forecast's first day and version.
///
/// # Errors
/// [`AlertRunError::NoForecast`] when none is live.
pub async fn forecast_origin(reader: &Reader) -> Result<(String, NaiveDate), AlertRunError> {
    live_summary(reader).await.map(|(version, summary)| (version, summary.first_date))
}

/// The live forecast's first day and days forecast.
///
/// # Errors
/// [`AlertRunError::NoForecast`] when none is live.
pub async fn forecast_span(reader: &Reader) -> Result<(NaiveDate, usize), AlertRunError> {
    live_summary(reader).await.map(|(_, summary)| (summary.first_date, summary.horizon))
}

/// The live forecast's version and summary.
async fn live_summary(reader: &Reader) -> Result<(String, Arc<ForecastSummary>), AlertRunError> {
    match reader.get::<ForecastSummary>(ModelKind::Forecast, SHOP_PARTITION).await? {
        Some((version, Some(summary))) => Ok((version, summary)),
        _ => Err(AlertRunError::NoForecast),
    }
}

/// Evaluates `snapshot` as of `as_of` (default: the day before the live forecast's first day,
/// i.e. the last day it was trained on) and stores its alerts and summary.
///
/// # Errors
/// No live forecast, an unusable policy, store failures.
pub async fn run(
    reader: &Reader,
    store: &Arc<dyn DocumentStore>,
    policy: &AlertPolicy,
    snapshot: &InventorySnapshot,
    as_of: Option<NaiveDate>,
) -> Result<(SnapshotSummary, Vec<Alert>), AlertRunError> {
    policy.check()?;
    let (version, summary) = live_summary(reader).await?;
    let first_date = summary.first_date;
    let totals = summary.spread().map(|(table, open)| (Arc::new(table.clone()), open));
    let day_before = first_date.pred_opt().unwrap_or(first_date);
    let as_of = as_of.unwrap_or(day_before);
    let judged = snapshot.judged_on(as_of).under_policy(policy);
    let snapshot = &judged;
    let content = snapshot.content_id();
    // Before anything that depends on today's forecast: a redelivery is answered with what was
    // judged, even when a retrain has since moved the forecast past its day.
    let summary_key = escape_key(&snapshot.id);
    // A claim of this count is already there when a run of it stopped before its summary.
    let claimed = match store.get(SNAPSHOTS_PARTITION, &summary_key).await? {
        Some(stored) => match judged_before(snapshot, &content, as_of, stored.parse()?)? {
            Some(done) => return redelivered(store, snapshot, done).await,
            None => true,
        },
        None => false,
    };
    if as_of < day_before {
        // Demand between that day and the forecast's first day is in no path: judging the count
        // against the path from its first day would pass over it as if no time had gone by.
        return Err(AlertError::CountedDay {
            as_of,
            reason: format!(
                "before the live forecast ({version}) starts on {first_date}: too old to judge \
                 (send a current count, or evaluate it against a forecast trained up to that day)"
            ),
        }
        .into());
    }
    let offset = usize::try_from((as_of - first_date).num_days() + 1).unwrap_or(0);
    let mut paths = HashMap::new();
    let mut descriptions = HashMap::new();
    let mut stale = Vec::new();
    // The summary's version, not whatever is live by now: a retrain going live mid-run cannot
    // mix two forecasts in one snapshot's alerts. Read [`CONCURRENT_READS`] at a time: one
    // after another, a few thousand SKUs at a few milliseconds a read outlast Event Grid's 30 s.
    let partitions: Vec<String> = snapshot.rows.iter().map(|row| item_partition(&row.sku)).collect();
    let reads: Vec<_> = partitions
        .iter()
        .map(|partition| reader.get_at::<ItemForecast>(ModelKind::Forecast, &version, partition))
        .collect();
    let items: Vec<Option<Arc<ItemForecast>>> =
        futures::stream::iter(reads).buffered(CONCURRENT_READS).try_collect().await?;
    for (row, item) in snapshot.rows.iter().zip(items) {
        let Some(item) = item else { continue };
        let lead = row.lead_time_days.unwrap_or(policy.lead_time_days) as usize;
        let needed = (lead + 1).min(item.mean.len().saturating_sub(LONG_LEAD_MAX_AGE_DAYS)).max(1);
        if offset + needed > item.mean.len() {
            stale.push(row.sku.clone());
            continue;
        }
        let mean: Vec<f64> = item.mean.iter().map(|&m| f64::from(m)).collect();
        let mid = item.factor(0.5);
        // The p10-p90 spread of a normal with the day's sigma (floored at a Poisson's).
        let spread = |m: f64| 2.0 * Z_P90 * item.sigma(m);
        let p10: Vec<f64> = mean.iter().map(|&m| (m * mid - spread(m) / 2.0).max(0.0)).collect();
        let p90: Vec<f64> = mean.iter().zip(&p10).map(|(&m, &low)| low + spread(m)).collect();
        let p50: Vec<f64> = mean.iter().map(|&m| m * mid).collect();
        let mut path = DemandPath::new(&row.sku, first_date, mean.clone(), p10, p50, p90)?;
        if let Some((table, open)) = totals.as_ref().filter(|_| summary.covers(&item)) {
            path =
                path.with_totals(&row.sku, Arc::clone(table), open.to_vec(), item.largest(), item.idle())?;
        }
        paths.insert(row.sku.clone(), path.skip(offset));
        if let Some(description) = &item.description {
            descriptions.insert(row.sku.clone(), description.clone());
        }
    }
    let mut evaluated = evaluate_snapshot(policy, snapshot, |sku| paths.get(sku).cloned());
    for alert in &mut evaluated.alerts {
        alert.description = descriptions.get(&alert.sku).cloned();
    }
    let unknown: Vec<String> =
        evaluated.unknown_skus.iter().filter(|s| !stale.contains(s)).cloned().collect();

    let mut by_severity = std::collections::BTreeMap::new();
    for alert in &evaluated.alerts {
        *by_severity.entry(alert.severity.as_str().to_owned()).or_insert(0) += 1;
    }
    let mut summary = SnapshotSummary {
        snapshot_id: snapshot.id.clone(),
        as_of,
        counted_at: snapshot.counted_at,
        sent_at: snapshot.sent,
        judged_at: Some(Utc::now()),
        forecast_version: version.clone(),
        skus: snapshot.rows.len(),
        alerts: evaluated.alerts.len(),
        by_severity,
        ok: evaluated.ok_count,
        unknown_skus: unknown,
        stale_skus: stale,
        written: evaluated.alerts.len(),
        already_there: 0,
        latest: false,
        not_latest: None,
        judged_before: false,
        content: Some(content.clone()),
        superseded: Vec::new(),
        pending: true,
    };
    // The claim: whoever creates it judges this count; a run of another count under the same
    // name at the same moment finds it and is refused, one of the same count judges alike (a
    // claim of this count already there is taken up).
    if !claimed {
        match store.create(&Document::new(SNAPSHOTS_PARTITION, &summary_key, &summary)?).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                if let Some(doc) = store.get(SNAPSHOTS_PARTITION, &summary_key).await?
                    && let Some(done) = judged_before(snapshot, &content, as_of, doc.parse()?)?
                {
                    return redelivered(store, snapshot, done).await;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Not judged whole yet: this is the snapshot's judgement. Documents a run that failed midway
    // left (perhaps under another forecast) are replaced, and those of SKUs now ok removed, so
    // the partition holds exactly this judgement.
    let partition = snapshot_partition(&snapshot.id);
    let keys: std::collections::HashSet<String> =
        evaluated.alerts.iter().map(|a| escape_key(&a.sku)).collect();
    let left: Vec<(String, String)> = store
        .query(&partition, &Query::all())
        .await?
        .into_iter()
        .filter(|d| !keys.contains(&d.id))
        .map(|d| (d.partition, d.id))
        .collect();
    store.delete_many(&left).await?;
    let created_at = Utc::now();
    let documents = evaluated
        .alerts
        .iter()
        .map(|alert| {
            let body = StoredAlert {
                snapshot_id: snapshot.id.clone(),
                as_of,
                created_at,
                forecast_version: version.clone(),
                alert: alert.clone(),
            };
            Document::new(&partition, escape_key(&alert.sku), &body)
        })
        .collect::<Result<Vec<_>, _>>()?;
    store.upsert_many(&documents).await?;
    summary.pending = false;
    match summary.nothing_judged() {
        Some(why) => summary.not_latest = Some(why),
        None => {
            keep_counted_list(store, snapshot).await;
            summary.settle(snapshot, make_latest(store, snapshot, &summary).await?);
        }
    }
    store.upsert(&Document::new(SNAPSHOTS_PARTITION, &summary_key, &summary)?).await?;
    Ok((summary, evaluated.alerts))
}

/// Keeps which SKUs a whole count held, before it can become the latest, for the SKUs without an
/// alert ([`super::sku_status`]); a partial count's are in the latest. A failure is logged and
/// passed over: the count is judged all the same, and its SKUs without an alert read `no_alert`.
async fn keep_counted_list(store: &Arc<dyn DocumentStore>, snapshot: &InventorySnapshot) {
    if snapshot.partial {
        return;
    }
    let skus = snapshot.rows.iter().map(|row| row.sku.clone());
    if let Err(e) = CountedList::write(store, &snapshot.id, skus).await {
        tracing::warn!(snapshot = %snapshot.id, error = %e, "the count's SKU list was not kept: those without an alert read no_alert");
    }
}

/// What a stored summary says of this count: `Some` when it was judged whole (a redelivery),
/// `None` when a run of the same count claimed it and has not finished (crashed, or running now:
/// judge it, alike) or judged none of its SKUs (judge it again: a retrain may have given them a
/// forecast), an error when it holds another count under the same name.
fn judged_before(
    snapshot: &InventorySnapshot,
    content: &str,
    as_of: NaiveDate,
    stored: SnapshotSummary,
) -> Result<Option<SnapshotSummary>, AlertRunError> {
    let reason = if stored.as_of != as_of {
        Some(format!("as of {}, not {as_of}", stored.as_of))
    } else if stored.content.as_deref().is_some_and(|c| c != content) {
        Some(format!("as of {as_of} with other stock"))
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(AlertError::SnapshotJudged { id: snapshot.id.clone(), reason }.into());
    }
    Ok((!stored.pending && stored.judged() > 0).then_some(stored))
}

/// A snapshot judged before (its summary, written last, after `latest`, is there): its stored
/// alerts and summary, not a new judgement, so that what the run reports is what serving shows
/// even when the forecast changed in between. No alert is written. A redelivery (sent when a
/// sending of this count already judged was, or earlier, or at a time unknown) leaves `latest`
/// as it was settled: it must not take it back from a newer count of the same day. The same
/// stock sent again later than any sending judged so far is a newer count like any other (a
/// shop sent the right count, a wrong one, then the right one again): its summary keeps this
/// sending's time, so a redelivery of it is one too, and it becomes the latest by the rules any
/// count does ([`make_latest`]).
async fn redelivered(
    store: &Arc<dyn DocumentStore>,
    snapshot: &InventorySnapshot,
    stored_summary: SnapshotSummary,
) -> Result<(SnapshotSummary, Vec<Alert>), AlertRunError> {
    let docs = store.query(&snapshot_partition(&snapshot.id), &Query::all()).await?;
    let stored: Vec<StoredAlert> = docs.iter().map(Document::parse).collect::<Result<_, _>>()?;
    // Judged before its SKU list was kept: kept now, so it can say which SKUs are fine.
    if stored_summary.nothing_judged().is_none() && !CountedList::is_kept(store, &snapshot.id).await? {
        keep_counted_list(store, snapshot).await;
    }
    let sent_again =
        matches!((stored_summary.sent_at, snapshot.sent), (Some(before), Some(now)) if now > before);
    let mut summary = if sent_again {
        let again = SnapshotSummary {
            counted_at: snapshot.counted_at,
            sent_at: snapshot.sent,
            judged_at: Some(Utc::now()),
            ..stored_summary
        };
        let key = escape_key(&snapshot.id);
        // The latest first: a retry after it failed finds this sending not yet stored, and
        // tries again.
        let settled = make_latest(store, snapshot, &again).await?;
        store.upsert(&Document::new(SNAPSHOTS_PARTITION, &key, &again)?).await?;
        let mut summary = again.clone();
        summary.settle(snapshot, settled);
        summary
    } else {
        let mut summary = stored_summary;
        let latest = match store.get(SNAPSHOTS_PARTITION, LATEST_ID).await? {
            Some(doc) => Some(doc.parse::<LatestSnapshot>()?),
            None => None,
        };
        let at = summary.counted_at.or(summary.sent_at);
        let settled = match latest {
            Some(l) if l.includes(&snapshot.id) => Ok(l),
            // Later than the whole count, a partial one left out was outcounted SKU by SKU.
            Some(l) if snapshot.partial && replaces(&l, &snapshot.id, summary.as_of, at) => {
                Err(counted_later(summary.skus))
            }
            Some(l) => Err(kept_latest(&l)),
            None => Err("no count is the latest".to_owned()),
        };
        summary.settle(snapshot, settled);
        summary
    };
    summary.written = 0;
    summary.already_there = stored.len();
    summary.judged_before = true;
    // As the first judgement listed them: most urgent first, then in the snapshot's order.
    let position: HashMap<&str, usize> =
        snapshot.rows.iter().enumerate().map(|(i, row)| (row.sku.as_str(), i)).collect();
    let mut alerts: Vec<Alert> = stored.into_iter().map(|s| s.alert).collect();
    alerts.sort_by_key(|a| (a.severity, position.get(a.sku.as_str()).copied().unwrap_or(usize::MAX)));
    Ok((summary, alerts))
}

/// Makes the snapshot the latest unless a newer one already is ([`next_latest`]; conditional on
/// the ETag, so two runs at once cannot both win with the older one). `Ok` with the latest as
/// written when it is now the latest (of its SKUs, for a partial count), else why not.
async fn make_latest(
    store: &Arc<dyn DocumentStore>,
    snapshot: &InventorySnapshot,
    summary: &SnapshotSummary,
) -> Result<Result<LatestSnapshot, String>, AlertRunError> {
    let count = LatestSnapshot {
        snapshot_id: snapshot.id.clone(),
        evaluated_at: Some(Utc::now()),
        as_of: Some(summary.as_of),
        counted_at: summary.counted_at,
        sent_at: summary.sent_at,
        out_of_stock: snapshot.rows.iter().filter(|r| r.on_hand == 0).map(|r| r.sku.clone()).collect(),
        alerts: summary.alerts,
        skus: summary.skus,
        stale_skus: summary.stale_skus.len(),
        unknown_skus: summary.unknown_skus.len(),
        unknown_named: summary
            .unknown_skus
            .iter()
            .take(crate::serving::stock::UNKNOWN_NAMED)
            .cloned()
            .collect(),
        replaced_larger: None,
        partial: snapshot.partial,
        base_skus: Vec::new(),
        base_not_judged: Vec::new(),
        source: snapshot.source.clone(),
        partials: Vec::new(),
        made_up: snapshot.made_up,
    };
    let mut skus: Vec<String> = snapshot.rows.iter().map(|r| r.sku.clone()).collect();
    skus.sort();
    let mut not_judged = [&summary.stale_skus[..], &summary.unknown_skus[..]].concat();
    not_judged.sort();
    // Kept only while it is the base: a partial base's SKUs tell what it did not count.
    let count = match snapshot.partial {
        true => LatestSnapshot { base_skus: skus.clone(), base_not_judged: not_judged.clone(), ..count },
        false => count,
    };
    for attempt in 0..LATEST_TRIES {
        if attempt > 0 {
            // Partial counts of several aisles sent at once all write here: spread the retries.
            let jitter = u64::from(Utc::now().timestamp_subsec_micros() % 20);
            tokio::time::sleep(std::time::Duration::from_millis(5 * attempt as u64 + jitter)).await;
        }
        let (written, latest) = match store.get(SNAPSHOTS_PARTITION, LATEST_ID).await? {
            None => {
                (store.create(&Document::new(SNAPSHOTS_PARTITION, LATEST_ID, &count)?).await, count.clone())
            }
            Some(current) => {
                let existing: LatestSnapshot = current.parse()?;
                let latest = match next_latest(&existing, &count, &skus, &not_judged) {
                    Ok(latest) => latest,
                    Err(why) => return Ok(Err(why)),
                };
                // Once, when a whole count takes the base's place.
                let new_base =
                    latest.snapshot_id == count.snapshot_id && existing.snapshot_id != count.snapshot_id;
                if let Some(larger) = latest.replaced_larger.as_ref().filter(|_| new_base) {
                    tracing::warn!(snapshot = %latest.snapshot_id, skus = latest.skus, replaced = %larger.snapshot_id, replaced_skus = larger.skus, "a whole count of fewer than half the SKUs of the one it replaces is the latest: its SKUs' alerts alone are open");
                }
                let etag = current.etag.clone().unwrap_or_else(|| crate::store::ETag(String::new()));
                (store.replace(&Document::new(SNAPSHOTS_PARTITION, LATEST_ID, &latest)?, &etag).await, latest)
            }
        };
        match written {
            Ok(_) => return Ok(Ok(latest)),
            Err(StoreError::AlreadyExists { .. } | StoreError::Precondition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Not judged whole: the summary stays a claim, and a retry of the delivery judges it again.
    Err(AlertRunError::Contended { tries: LATEST_TRIES })
}

/// Tries to update the latest before a run gives up for a retry ([`AlertRunError::Contended`]).
const LATEST_TRIES: usize = 16;

/// The latest once `count` (of `skus`) is judged after `existing`, or why `existing` stays.
///
/// - A whole count not later than `existing` ([`replaces`]) leaves it; a later one takes its
///   place, with the partial counts counted after it (a partial count delivered after a whole one
///   it followed). The same count again (its own pointer) takes its place too.
/// - A partial count not later than `existing` leaves it too (a later whole count has counted its
///   SKUs since). A later one becomes the latest count of each of its SKUs no partial count
///   counted later, and takes them from the earlier ones, which go once they hold none.
/// - The shop's counts are never refused for a made-up one ([`LatestSnapshot::made_up`], the
///   demo's): a whole count takes its place whatever its day, keeping the partial counts counted
///   after it, and a partial one counted before it takes its place as the base.
fn next_latest(
    existing: &LatestSnapshot,
    count: &LatestSnapshot,
    skus: &[String],
    not_judged: &[String],
) -> Result<LatestSnapshot, String> {
    // Judged again without knowing where it came from (the CLI), a count keeps the place it had.
    let before = existing.partials.iter().find(|p| p.snapshot_id == count.snapshot_id).map(|p| &p.source);
    let before = if existing.snapshot_id == count.snapshot_id { Some(&existing.source) } else { before };
    let count = &LatestSnapshot {
        source: count.source.clone().or_else(|| before.cloned().flatten()),
        ..count.clone()
    };
    let day = count.as_of.unwrap_or_default();
    let at = count.counted_at.or(count.sent_at);
    // A made-up base (the demo's) is never a reason to refuse the shop's count: a whole count
    // replaces it whatever day it is of; a cycle count counted after it stands on it as on any
    // base, one counted before it takes its place as the first count would, under the cycle
    // counts counted after the made-up one (after this one too).
    let over_made_up = existing.made_up && !count.made_up && !count.partial;
    let later_than_base = over_made_up || replaces(existing, &count.snapshot_id, day, at);
    if existing.made_up && !count.made_up && !later_than_base {
        return Ok(LatestSnapshot { partials: existing.partials.clone(), ..count.clone() });
    }
    // A partial base (the first count judged) did not count the SKUs it left out: a count counted
    // before it and delivered after is still the latest of those.
    let under_base = !later_than_base && existing.partial && !existing.base_skus.is_empty();
    if !later_than_base && !under_base {
        return Err(kept_latest(existing));
    }
    let after = |p: &PartialCount| counted_after(day, at, Some(p.as_of), p.counted_at.or(p.sent_at));
    let others = existing.partials.iter().filter(|p| p.snapshot_id != count.snapshot_id);
    let mut mine: Vec<String> = skus.to_vec();
    mine.sort();
    mine.dedup();
    if existing.snapshot_id == count.snapshot_id {
        // Its own pointer: judged again (a claim taken up), or sent again. A sending earlier than
        // the one there (two of the same stock at once) moves nothing back; with its time unknown
        // it is no newer than the partial counts that followed it.
        let there = existing.counted_at.or(existing.sent_at);
        match (at, there) {
            (Some(this), Some(there)) if this < there => return Ok(existing.clone()),
            (None, _) => {
                return Ok(LatestSnapshot {
                    partials: existing.partials.clone(),
                    replaced_larger: existing.replaced_larger.clone(),
                    ..count.clone()
                });
            }
            _ => {}
        }
    }
    if under_base && !count.partial {
        // A whole count counted before the partial base: the base under it, the partial base one
        // of the partial counts after it, of its SKUs no later partial count holds.
        let mut base = PartialCount {
            snapshot_id: existing.snapshot_id.clone(),
            as_of: existing.as_of.unwrap_or_default(),
            counted_at: existing.counted_at,
            sent_at: existing.sent_at,
            evaluated_at: existing.evaluated_at,
            source: existing.source.clone(),
            skus: existing.base_skus.clone(),
            out_of_stock: existing.out_of_stock.clone(),
            not_judged: existing.base_not_judged.clone(),
        };
        base.out_of_stock.sort();
        for partial in &existing.partials {
            base.give_up(&partial.skus);
        }
        let mut partials: Vec<PartialCount> = std::iter::once(base)
            .chain(others.filter(|p| !after(p)).cloned())
            .filter(|p| !p.skus.is_empty())
            .collect();
        partials.sort_by_key(|p| (p.as_of, p.counted_at.or(p.sent_at)));
        return Ok(LatestSnapshot { partials, ..count.clone() });
    }
    if under_base {
        mine.retain(|sku| existing.base_skus.binary_search(sku).is_err());
    }
    if !count.partial || existing.snapshot_id == count.snapshot_id {
        // A whole count is the latest of every SKU counted before it; a partial one that is the
        // base (the first count judged, sent again) of its own SKUs only.
        let partials = others
            .filter_map(|p| match (after(p), count.partial) {
                (false, _) => Some(p.clone()),
                (true, false) => None,
                (true, true) => {
                    let mut p = p.clone();
                    p.give_up(&mine);
                    (!p.skus.is_empty()).then_some(p)
                }
            })
            .collect();
        return Ok(LatestSnapshot {
            partials,
            replaced_larger: if count.partial || over_made_up {
                None
            } else {
                replaced_larger(existing, count)
            },
            ..count.clone()
        });
    }
    let mut partials: Vec<PartialCount> = others.cloned().collect();
    for partial in &mut partials {
        if after(partial) {
            partial.give_up(&mine);
        } else {
            mine.retain(|sku| !partial.holds(sku));
        }
    }
    if mine.is_empty() {
        return Err(if under_base { kept_latest(existing) } else { counted_later(skus.len()) });
    }
    partials.retain(|p| !p.skus.is_empty());
    let held = |list: &[String]| {
        let mut held: Vec<String> =
            list.iter().filter(|sku| mine.binary_search(sku).is_ok()).cloned().collect();
        held.sort();
        held
    };
    let (out_of_stock, not_judged) = (held(&count.out_of_stock), held(not_judged));
    partials.push(PartialCount {
        snapshot_id: count.snapshot_id.clone(),
        as_of: day,
        counted_at: count.counted_at,
        sent_at: count.sent_at,
        evaluated_at: count.evaluated_at,
        source: count.source.clone(),
        skus: mine,
        out_of_stock,
        not_judged,
    });
    // Oldest first; a time unknown ranks first within its day, as it loses to any known one
    // arriving later.
    partials.sort_by_key(|p| (p.as_of, p.counted_at.or(p.sent_at)));
    Ok(LatestSnapshot { partials, ..existing.clone() })
}

/// Why a partial count of `skus` SKUs, later than the whole count, is the latest of none.
fn counted_later(skus: usize) -> String {
    format!("each of its {skus} SKUs was counted later by another partial count: the open alerts stay theirs")
}

/// What `latest` says it replaced when it takes `existing`'s place: `existing` when it holds fewer
/// than half of its SKUs; what `existing` said when it is the same count again.
fn replaced_larger(existing: &LatestSnapshot, latest: &LatestSnapshot) -> Option<ReplacedCount> {
    if existing.snapshot_id == latest.snapshot_id {
        return existing.replaced_larger.clone();
    }
    (latest.skus * 2 < existing.skus)
        .then(|| ReplacedCount { snapshot_id: existing.snapshot_id.clone(), skus: existing.skus })
}

/// Whether a count of `as_of`, taken by `at` when known (the time counted, else the time sent:
/// the latest either can have been counted), replaces `current` as the latest: it is `current`
/// itself (a run of it taken up again after it stopped, or the same stock sent again later), or
/// it was counted after it ([`counted_after`]).
fn replaces(
    current: &LatestSnapshot,
    snapshot_id: &str,
    as_of: NaiveDate,
    at: Option<DateTime<Utc>>,
) -> bool {
    current.snapshot_id == snapshot_id
        || counted_after(as_of, at, current.as_of, current.counted_at.or(current.sent_at))
}

/// Whether a count of `day`, taken by `at` when known, was counted after one of `other_day` by
/// `other_at`. A later day was. On the same day, a later time was when both times are known; at
/// the same instant it was not (nothing says which is newer, and a race then settles on the
/// first); when either time is unknown (pointers and counts from before times were kept), the
/// count judged last was (its arrival is all there is to go by), as it was before any day was
/// known.
fn counted_after(
    day: NaiveDate,
    at: Option<DateTime<Utc>>,
    other_day: Option<NaiveDate>,
    other_at: Option<DateTime<Utc>>,
) -> bool {
    match other_day {
        None => true,
        Some(other) if other != day => day > other,
        Some(_) => match (at, other_at) {
            (Some(this), Some(there)) => this > there,
            _ => true,
        },
    }
}

/// Why a count did not replace `current`, the latest.
fn kept_latest(current: &LatestSnapshot) -> String {
    let when = match (current.counted_at, current.as_of) {
        (Some(time), _) => format!("at {}", time.to_rfc3339_opts(SecondsFormat::Secs, true)),
        (None, Some(day)) => format!("on {day}"),
        (None, None) => "at an unknown time".into(),
    };
    format!("snapshot {} (counted {when}) stays the latest: this count is not later", current.snapshot_id)
}

/// A page of the open alerts ([`open_alerts`]).
#[derive(Debug, Clone)]
pub struct OpenAlerts {
    /// The snapshot they were raised on.
    pub latest: LatestSnapshot,
    /// Where each SKU asked for stands, in the order asked (none when none was asked for).
    pub statuses: Vec<SkuStatus>,
    /// The page.
    pub alerts: Vec<StoredAlert>,
    /// How many match in all.
    pub matching: usize,
    /// SKUs whose alert to order was withheld: the catalogue discontinued them after the count
    /// was judged.
    pub withheld: Vec<String>,
}

/// The open alerts: the latest snapshot's, optionally of one severity and one SKU, most urgent
/// first (by severity, then fewest days of cover, then the largest lead-time demand), at most
/// `limit`, and how many match in all. An alert to order a SKU in `discontinued` (the catalogue
/// said so after the count was judged) is withheld: nothing should be bought for it, and the next
/// count judges it as discontinued.
///
/// # Errors
/// When the store fails.
pub async fn open_alerts(
    store: &Arc<dyn DocumentStore>,
    severity: Option<Severity>,
    skus: &[String],
    discontinued: &std::collections::BTreeSet<String>,
    (offset, limit): (usize, usize),
) -> Result<Option<OpenAlerts>, AlertRunError> {
    let Some(latest) = store.get(SNAPSHOTS_PARTITION, LATEST_ID).await? else { return Ok(None) };
    let latest: LatestSnapshot = latest.parse()?;
    // Asked for SKUs, every one of their alerts is read, of any severity: each one's standing
    // is its alert's, whatever the page lists.
    let mut query = Query::all();
    if let Some(severity) = severity.filter(|_| skus.is_empty()) {
        query = query.filter("severity", Op::Eq, severity.as_str());
    }
    // Each SKU's alert is its latest count's: the whole count's, or a partial count's after it.
    // Asked for SKUs, one point read of each in its count (an alert's id is its SKU's key);
    // else one query of each count.
    let counts: Vec<&str> = if skus.is_empty() {
        std::iter::once(latest.snapshot_id.as_str())
            .chain(latest.partials.iter().map(|p| p.snapshot_id.as_str()))
            .collect()
    } else {
        skus.iter().map(|sku| latest.count_of(sku)).collect()
    };
    let reads: Vec<_> = counts
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (partition, query) = (snapshot_partition(id), &query);
            async move {
                match skus.get(i) {
                    // A SKU no key can name (too long once escaped) has no alert stored.
                    Some(sku) => match store.get(&partition, &escape_key(sku)).await {
                        Ok(doc) => Ok(doc.into_iter().collect()),
                        Err(StoreError::Invalid { .. }) => Ok(Vec::new()),
                        Err(e) => Err(e),
                    },
                    None => store.query(&partition, query).await,
                }
            }
        })
        .collect();
    let pages: Vec<Vec<Document>> =
        futures::stream::iter(reads).buffered(CONCURRENT_READS).try_collect().await?;
    let mut docs = Vec::new();
    for (id, page) in counts.iter().zip(pages) {
        for doc in page {
            let alert: StoredAlert = doc.parse()?;
            if latest.count_of(&alert.alert.sku) == *id {
                docs.push(alert);
            }
        }
    }
    let (mut withheld, mut alerts): (Vec<StoredAlert>, Vec<StoredAlert>) = docs.into_iter().partition(|a| {
        let alert = &a.alert;
        !alert.discontinued && alert.severity != Severity::Overstock && discontinued.contains(&alert.sku)
    });
    let statuses = if skus.is_empty() {
        Vec::new()
    } else {
        let alerted: HashMap<String, (Severity, bool)> = alerts
            .iter()
            .map(|a| (a.alert.sku.clone(), (a.alert.severity, false)))
            .chain(withheld.iter().map(|a| (a.alert.sku.clone(), (a.alert.severity, true))))
            .collect();
        sku_status::statuses(store, &latest, skus, &alerted).await?
    };
    if let Some(severity) = severity {
        alerts.retain(|a| a.alert.severity == severity);
        withheld.retain(|a| a.alert.severity == severity);
    }
    let mut withheld: Vec<String> = withheld.into_iter().map(|a| a.alert.sku).collect();
    withheld.sort();
    alerts.sort_by(|a, b| {
        a.alert
            .severity
            .cmp(&b.alert.severity)
            .then(a.alert.days_of_cover.cmp(&b.alert.days_of_cover))
            // Among SKUs out of stock alike, the one a stock-out costs most first: a best seller
            // with nothing on hand before a SKU idle for months.
            .then(b.alert.lead_time_demand.total_cmp(&a.alert.lead_time_demand))
            .then_with(|| a.alert.sku.cmp(&b.alert.sku))
    });
    let matching = alerts.len();
    let alerts: Vec<StoredAlert> = alerts.into_iter().skip(offset).take(limit).collect();
    Ok(Some(OpenAlerts { latest, statuses, alerts, matching, withheld }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::InventoryRow;
    use crate::alerts::embedded_alerts;

    fn summary(as_of: &str, content: Option<&str>, pending: bool) -> SnapshotSummary {
        SnapshotSummary {
            snapshot_id: "store-7".into(),
            as_of: as_of.parse().unwrap(),
            counted_at: None,
            sent_at: None,
            judged_at: None,
            forecast_version: "v1".into(),
            skus: 1,
            alerts: 1,
            by_severity: std::collections::BTreeMap::new(),
            ok: 0,
            unknown_skus: Vec::new(),
            stale_skus: Vec::new(),
            written: 1,
            already_there: 0,
            latest: true,
            not_latest: None,
            judged_before: false,
            content: content.map(str::to_owned),
            superseded: Vec::new(),
            pending,
        }
    }

    /// A path of 5 units a day (p10 2, p90 8) for 30 days from 2011-12-10.
    fn flat_path(sku: &str) -> DemandPath {
        let days = |units: f64| vec![units; 30];
        DemandPath::new(sku, "2011-12-10".parse().unwrap(), days(5.0), days(2.0), days(5.0), days(8.0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_redelivery_lists_the_stored_alerts_as_the_first_judgement_did() {
        let dir = tempfile::tempdir().unwrap();
        let store = embedded_alerts(dir.path()).await;
        let items = br#"{"snapshot_id": "s1", "items": [
            {"sku": "Z", "on_hand": 40}, {"sku": "A", "on_hand": 40}, {"sku": "M", "on_hand": 0}
        ]}"#;
        let snapshot = InventorySnapshot::parse_json(items).unwrap();
        let path = flat_path("Z");
        let judged = evaluate_snapshot(&AlertPolicy::default(), &snapshot, |_| Some(path.clone()));
        let first: Vec<&str> = judged.alerts.iter().map(|a| a.sku.as_str()).collect();
        assert_eq!(first, ["M", "Z", "A"], "most urgent first, then the snapshot's order");
        for alert in &judged.alerts {
            let body = StoredAlert {
                snapshot_id: "s1".into(),
                as_of: "2011-12-09".parse().unwrap(),
                created_at: Utc::now(),
                forecast_version: "v1".into(),
                alert: alert.clone(),
            };
            store
                .upsert(&Document::new(snapshot_partition("s1"), escape_key(&alert.sku), &body).unwrap())
                .await
                .unwrap();
        }
        let (_, again) = redelivered(&store, &snapshot, summary("2011-12-09", None, false)).await.unwrap();
        let again: Vec<&str> = again.iter().map(|a| a.sku.as_str()).collect();
        assert_eq!(again, first, "not the store's order by key");
    }

    #[tokio::test]
    async fn open_alerts_list_the_fewest_days_of_cover_then_the_costliest_stock_out_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = embedded_alerts(dir.path()).await;
        let flat = |mean: f64| {
            let days = vec![mean; 40];
            DemandPath::new(
                "X",
                "2011-12-10".parse().unwrap(),
                days.clone(),
                days.clone(),
                days.clone(),
                days,
            )
            .unwrap()
        };
        // A slow SKU (0.7 units over the lead time) and a best seller, both out of stock; one with
        // two days left.
        for (sku, on_hand, mean) in [("A-SLOW", 0, 0.1), ("FAST", 0, 5.0), ("MID", 12, 5.0)] {
            let alert = AlertPolicy::default().evaluate(&InventoryRow::new(sku, on_hand), &flat(mean));
            assert_eq!(alert.severity, Severity::StockoutRisk, "{alert:?}");
            let body = StoredAlert {
                snapshot_id: "s1".into(),
                as_of: "2011-12-09".parse().unwrap(),
                created_at: Utc::now(),
                forecast_version: "v1".into(),
                alert,
            };
            store
                .upsert(&Document::new(snapshot_partition("s1"), escape_key(sku), &body).unwrap())
                .await
                .unwrap();
        }
        let latest = LatestSnapshot { snapshot_id: "s1".into(), ..LatestSnapshot::default() };
        store.upsert(&Document::new(SNAPSHOTS_PARTITION, LATEST_ID, &latest).unwrap()).await.unwrap();
        let none = std::collections::BTreeSet::new();
        let open = open_alerts(&store, None, &[], &none, (0, 10)).await.unwrap().unwrap();
        let order: Vec<&str> = open.alerts.iter().map(|a| a.alert.sku.as_str()).collect();
        assert_eq!((order, open.matching), (vec!["FAST", "A-SLOW", "MID"], 3));
        let page = open_alerts(&store, None, &[], &none, (1, 1)).await.unwrap().unwrap();
        assert_eq!(
            (page.alerts[0].alert.sku.as_str(), page.alerts.len(), page.matching),
            ("A-SLOW", 1, 3),
            "the second page of one"
        );
        // Discontinued since the count: its alert to order is withheld, and said.
        let gone = std::collections::BTreeSet::from(["FAST".to_owned()]);
        let open = open_alerts(&store, None, &[], &gone, (0, 10)).await.unwrap().unwrap();
        let order: Vec<&str> = open.alerts.iter().map(|a| a.alert.sku.as_str()).collect();
        assert_eq!(
            (order, open.matching, open.withheld),
            (vec!["A-SLOW", "MID"], 2, vec!["FAST".to_owned()])
        );
    }

    #[test]
    fn a_later_day_or_a_later_time_that_day_replaces_the_latest_and_the_same_instant_keeps_it() {
        let day: NaiveDate = "2011-12-09".parse().unwrap();
        let at = |time: &str| Some(format!("2011-12-09T{time}Z").parse::<DateTime<Utc>>().unwrap());
        let current = LatestSnapshot {
            snapshot_id: "c".into(),
            as_of: Some(day),
            counted_at: at("12:00:00"),
            ..LatestSnapshot::default()
        };
        assert!(replaces(&current, "d", day.succ_opt().unwrap(), None), "a later day");
        assert!(!replaces(&current, "d", day.pred_opt().unwrap(), None), "an earlier day");
        assert!(replaces(&current, "d", day, at("12:00:01")), "later the same day");
        assert!(!replaces(&current, "d", day, at("11:59:59")), "earlier the same day");
        assert!(!replaces(&current, "d", day, at("12:00:00")), "the same instant keeps what is there");
        assert!(replaces(&current, "c", day, at("12:00:00")), "a snapshot's own pointer");
        assert!(replaces(&current, "d", day, None), "a time unknown: the count judged last");
        // A pointer stored before counted times were kept still parses.
        let old: LatestSnapshot = serde_json::from_str(
            r#"{"snapshot_id": "old", "evaluated_at": null, "as_of": "2011-12-09", "out_of_stock": [], "alerts": 0, "skus": 1}"#,
        )
        .unwrap();
        assert_eq!(old.counted_at, None);
        assert!(replaces(&old, "d", day, at("06:00:00")), "a time unknown: the count judged last");
    }

    #[tokio::test]
    async fn a_count_of_fewer_than_half_the_skus_of_the_one_it_replaces_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = embedded_alerts(dir.path()).await;
        let count = |skus: usize| {
            let items: Vec<String> =
                (0..skus).map(|i| format!(r#"{{"sku": "S{i}", "on_hand": 1}}"#)).collect();
            let json = format!(r#"{{"items": [{}]}}"#, items.join(","));
            let snapshot = InventorySnapshot::parse_json(json.as_bytes()).unwrap();
            let summary = SnapshotSummary {
                snapshot_id: snapshot.id.clone(),
                skus,
                ..summary("2011-12-09", None, false)
            };
            (snapshot, summary)
        };
        let latest = || async {
            let doc = store.get(SNAPSHOTS_PARTITION, LATEST_ID).await.unwrap().unwrap();
            doc.parse::<LatestSnapshot>().unwrap()
        };
        let (full, full_summary) = count(10);
        make_latest(&store, &full, &full_summary).await.unwrap().err();
        assert_eq!(latest().await.replaced_larger, None, "nothing replaced");
        // Half is no shrink; fewer than half is, and says what it replaced.
        let (half, half_summary) = count(5);
        make_latest(&store, &half, &half_summary).await.unwrap().err();
        assert_eq!(latest().await.replaced_larger, None);
        let (one, one_summary) = count(1);
        make_latest(&store, &one, &one_summary).await.unwrap().err();
        let expected = ReplacedCount { snapshot_id: half.id.clone(), skus: 5 };
        assert_eq!(latest().await.replaced_larger, Some(expected.clone()));
        // The same count again keeps saying so; a full count after says nothing.
        make_latest(&store, &one, &one_summary).await.unwrap().err();
        assert_eq!(latest().await.replaced_larger, Some(expected));
        make_latest(&store, &full, &full_summary).await.unwrap().err();
        assert_eq!(latest().await.replaced_larger, None);
    }

    /// A count as `make_latest` writes it: of `skus` (those ending in `!` out of stock), on
    /// `day` at `time`, partial or whole.
    fn count_of(id: &str, skus: &[&str], at: &str, partial: bool) -> (LatestSnapshot, Vec<String>) {
        let at: DateTime<Utc> = at.parse().unwrap();
        let names: Vec<String> = skus.iter().map(|s| s.trim_end_matches('!').to_owned()).collect();
        let count = LatestSnapshot {
            snapshot_id: id.into(),
            as_of: Some(at.date_naive()),
            counted_at: Some(at),
            out_of_stock: skus
                .iter()
                .filter(|s| s.ends_with('!'))
                .map(|s| s.trim_end_matches('!').into())
                .collect(),
            skus: skus.len(),
            partial,
            base_skus: if partial { names.clone() } else { Vec::new() },
            ..LatestSnapshot::default()
        };
        (count, names)
    }

    fn held(latest: &LatestSnapshot) -> Vec<(String, Vec<String>)> {
        latest.partials.iter().map(|p| (p.snapshot_id.clone(), p.skus.clone())).collect()
    }

    fn owned(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(id, skus)| ((*id).to_owned(), skus.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn a_partial_count_is_the_latest_of_its_skus_only_until_a_later_count_of_them() {
        let (whole, skus) = count_of("whole", &["A!", "B!", "C"], "2011-12-10T08:00:00Z", false);
        let (first, _) = count_of("first", &["A!"], "2011-12-09T08:00:00Z", false);
        let latest = next_latest(&first, &whole, &skus, &[]).unwrap();
        assert_eq!(latest.snapshot_id, "whole");
        // An aisle counted at noon: B is back in stock, C now out.
        let (aisle, skus) = count_of("aisle", &["B", "C!"], "2011-12-10T12:00:00Z", true);
        let latest = next_latest(&latest, &aisle, &skus, &[]).unwrap();
        assert_eq!((latest.snapshot_id.as_str(), latest.replaced_larger.as_ref()), ("whole", None));
        assert_eq!(held(&latest), owned(&[("aisle", &["B", "C"])]));
        assert_eq!((latest.count_of("A"), latest.count_of("B")), ("whole", "aisle"));
        let out: std::collections::BTreeSet<String> = latest.out_of_stock_now().into_iter().collect();
        assert_eq!(out, ["A", "C"].map(String::from).into());
        // The next aisle overlaps it at C; one counted at ten, delivered late, gets only A.
        let (next, skus) = count_of("next", &["C", "D"], "2011-12-11T09:00:00Z", true);
        let latest = next_latest(&latest, &next, &skus, &[]).unwrap();
        assert_eq!(held(&latest), owned(&[("aisle", &["B"]), ("next", &["C", "D"])]));
        let (late, skus) = count_of("late", &["A", "B"], "2011-12-10T10:00:00Z", true);
        let latest = next_latest(&latest, &late, &skus, &[]).unwrap();
        assert_eq!(held(&latest), owned(&[("late", &["A"]), ("aisle", &["B"]), ("next", &["C", "D"])]));
        assert!(latest.out_of_stock_now().is_empty(), "{:?}", latest.out_of_stock_now());
        // Sent again later, a partial count takes its SKUs back; counted before all of them, it
        // is not the latest of any; counted before the whole count, of none either.
        let (stale, skus) = count_of("stale", &["B"], "2011-12-10T11:00:00Z", true);
        let why = next_latest(&latest, &stale, &skus, &[]).unwrap_err();
        assert_eq!(
            why,
            "each of its 1 SKUs was counted later by another partial count: the open alerts stay theirs"
        );
        let (before, skus) = count_of("before", &["B"], "2011-12-10T07:00:00Z", true);
        assert!(next_latest(&latest, &before, &skus, &[]).unwrap_err().contains("whole"));
        // A whole count after the first aisles keeps only the partial counts after it.
        let (evening, skus) = count_of("evening", &["A", "B", "C", "D", "E"], "2011-12-10T18:00:00Z", false);
        let latest = next_latest(&latest, &evening, &skus, &[]).unwrap();
        assert_eq!(latest.snapshot_id, "evening");
        assert_eq!(held(&latest), owned(&[("next", &["C", "D"])]));
        // The whole count judged again (a run taken up after it stopped) keeps them too.
        let again = next_latest(&latest, &evening, &skus, &[]).unwrap();
        assert_eq!(held(&again), held(&latest));
        // The first count of all partial: the base, whose absent SKUs have no alerts.
        let (only, skus) = count_of("only", &["A"], "2011-12-12T08:00:00Z", true);
        let (base, base_skus) = count_of("base", &["A", "B"], "2011-12-12T07:00:00Z", true);
        let latest = next_latest(&base, &only, &skus, &[]).unwrap();
        assert_eq!((latest.snapshot_id.as_str(), held(&latest)), ("base", owned(&[("only", &["A"])])));
        let (other, skus) = count_of("other", &["X", "Y!"], "2011-12-12T09:00:00Z", true);
        let latest = next_latest(&latest, &other, &skus, &["Y".to_owned()]).unwrap();
        assert_eq!(latest.partials[1].not_judged, ["Y"]);
        // Sent again later, it takes back its own SKUs only: X and Y stay the other aisle's.
        let (again, _) = count_of("base", &["A", "B"], "2011-12-12T10:00:00Z", true);
        let latest = next_latest(&latest, &again, &base_skus, &[]).unwrap();
        assert_eq!(latest.counted_at, again.counted_at);
        assert_eq!(held(&latest), owned(&[("other", &["X", "Y"])]));
        assert_eq!(latest.partials_not_judged(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aisles_counted_at_once_each_become_the_latest_of_their_skus() {
        let dir = tempfile::tempdir().unwrap();
        let store = embedded_alerts(dir.path()).await;
        let whole = InventorySnapshot::parse_json(
            br#"{"snapshot_id": "whole", "items": [{"sku": "S0", "on_hand": 1}]}"#,
        )
        .unwrap()
        .judged_on("2011-12-10".parse().unwrap());
        let summary_of = |snapshot: &InventorySnapshot| SnapshotSummary {
            snapshot_id: snapshot.id.clone(),
            skus: snapshot.rows.len(),
            ..summary("2011-12-10", None, false)
        };
        assert_eq!(make_latest(&store, &whole, &summary_of(&whole)).await.unwrap().err(), None);
        let runs = (1..=8).map(|aisle| {
            let store = Arc::clone(&store);
            async move {
                let json = format!(
                    r#"{{"snapshot_id": "aisle-{aisle}", "partial": true, "items": [{{"sku": "S{aisle}", "on_hand": 0}}]}}"#
                );
                let snapshot = InventorySnapshot::parse_json(json.as_bytes())
                    .unwrap()
                    .judged_on("2011-12-10".parse().unwrap());
                let summary = summary_of(&snapshot);
                tokio::spawn(async move { make_latest(&store, &snapshot, &summary).await.map(Result::err) }).await.unwrap()
            }
        });
        for made in futures::future::join_all(runs).await {
            assert_eq!(made.unwrap(), None);
        }
        let latest: LatestSnapshot =
            store.get(SNAPSHOTS_PARTITION, LATEST_ID).await.unwrap().unwrap().parse().unwrap();
        let mut aisles: Vec<String> = latest.partials.iter().map(|p| p.snapshot_id.clone()).collect();
        aisles.sort();
        assert_eq!(aisles, (1..=8).map(|a| format!("aisle-{a}")).collect::<Vec<_>>());
        assert_eq!(latest.out_of_stock_now().len(), 8);
    }

    /// A store whose conditional replaces fail as if another writer came first, `left` times.
    #[derive(Debug)]
    struct Contending {
        inner: Arc<dyn DocumentStore>,
        left: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl DocumentStore for Contending {
        fn location(&self) -> String {
            self.inner.location()
        }
        async fn upsert(&self, doc: &Document) -> Result<crate::store::ETag, StoreError> {
            self.inner.upsert(doc).await
        }
        async fn create(&self, doc: &Document) -> Result<crate::store::ETag, StoreError> {
            self.inner.create(doc).await
        }
        async fn replace(
            &self,
            doc: &Document,
            if_match: &crate::store::ETag,
        ) -> Result<crate::store::ETag, StoreError> {
            use std::sync::atomic::Ordering;
            if self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                return Err(StoreError::Precondition { what: format!("{}/{}", doc.partition, doc.id) });
            }
            self.inner.replace(doc, if_match).await
        }
        async fn get(&self, partition: &str, id: &str) -> Result<Option<Document>, StoreError> {
            self.inner.get(partition, id).await
        }
        async fn delete(&self, partition: &str, id: &str) -> Result<bool, StoreError> {
            self.inner.delete(partition, id).await
        }
        async fn query(&self, partition: &str, query: &Query) -> Result<Vec<Document>, StoreError> {
            self.inner.query(partition, query).await
        }
    }

    #[tokio::test]
    async fn a_count_outraced_for_the_latest_retries_and_past_its_tries_fails_for_a_retry() {
        let dir = tempfile::tempdir().unwrap();
        let inner = embedded_alerts(dir.path()).await;
        let count = |id: &str| {
            let json = format!(
                r#"{{"snapshot_id": "{id}", "partial": true, "items": [{{"sku": "{id}", "on_hand": 0}}]}}"#
            );
            let snapshot = InventorySnapshot::parse_json(json.as_bytes())
                .unwrap()
                .judged_on("2011-12-10".parse().unwrap());
            let summary =
                SnapshotSummary { snapshot_id: snapshot.id.clone(), ..summary("2011-12-10", None, false) };
            (snapshot, summary)
        };
        let (first, first_summary) = count("A");
        assert_eq!(make_latest(&inner, &first, &first_summary).await.unwrap().err(), None);
        // Outraced a few times: the retries win.
        let store: Arc<dyn DocumentStore> =
            Arc::new(Contending { inner: Arc::clone(&inner), left: (LATEST_TRIES - 1).into() });
        let (second, second_summary) = count("B");
        assert_eq!(make_latest(&store, &second, &second_summary).await.unwrap().err(), None);
        // Outraced every time: a transient error, for the delivery to be retried.
        let store: Arc<dyn DocumentStore> =
            Arc::new(Contending { inner: Arc::clone(&inner), left: LATEST_TRIES.into() });
        let (third, third_summary) = count("C");
        let error = make_latest(&store, &third, &third_summary).await.unwrap_err();
        assert!(
            matches!(error, AlertRunError::Contended { tries: LATEST_TRIES }) && error.is_transient(),
            "{error}"
        );
        let latest: LatestSnapshot =
            inner.get(SNAPSHOTS_PARTITION, LATEST_ID).await.unwrap().unwrap().parse().unwrap();
        assert_eq!((latest.snapshot_id.as_str(), held(&latest)), ("A", owned(&[("B", &["B"])])));
    }

    #[test]
    fn counts_counted_before_a_partial_first_count_are_the_latest_of_what_it_left_out() {
        // The first count of all, as `make_latest` creates it, with A and B not judged.
        let (latest, _) = count_of("base", &["A", "B!"], "2011-12-10T12:00:00Z", true);
        let latest = LatestSnapshot { base_not_judged: vec!["A".into(), "B".into()], ..latest };
        let (later, later_skus) = count_of("later", &["A"], "2011-12-10T13:00:00Z", true);
        let latest = next_latest(&latest, &later, &later_skus, &[]).unwrap();
        // An aisle counted at nine, delivered after: C and D, not B, which the base counted since.
        let (aisle, aisle_skus) = count_of("aisle", &["B", "C", "D!"], "2011-12-10T09:00:00Z", true);
        let latest = next_latest(&latest, &aisle, &aisle_skus, &[]).unwrap();
        assert_eq!(latest.snapshot_id, "base");
        assert_eq!(held(&latest), owned(&[("aisle", &["C", "D"]), ("later", &["A"])]));
        let out: std::collections::BTreeSet<String> = latest.out_of_stock_now().into_iter().collect();
        assert_eq!(out, ["B", "D"].map(String::from).into());
        // One of the base's own SKUs alone, counted before it: nothing to take.
        let (old, old_skus) = count_of("old", &["B"], "2011-12-10T08:00:00Z", true);
        assert!(next_latest(&latest, &old, &old_skus, &[]).unwrap_err().contains("stays the latest"));
        // A whole count from before everything: the base beneath, the rest partial counts above it.
        let (whole, whole_skus) =
            count_of("whole", &["A", "B", "C", "D", "E!"], "2011-12-10T07:00:00Z", false);
        let latest = next_latest(&latest, &whole, &whole_skus, &[]).unwrap();
        assert_eq!((latest.snapshot_id.as_str(), latest.partial), ("whole", false));
        assert_eq!(held(&latest), owned(&[("aisle", &["C", "D"]), ("base", &["B"]), ("later", &["A"])]));
        // Not judged by the base, B still says so; A is the later count's now.
        assert_eq!(latest.partials[1].not_judged, ["B"]);
        assert_eq!(latest.partials_not_judged(), 1);
        let out: std::collections::BTreeSet<String> = latest.out_of_stock_now().into_iter().collect();
        assert_eq!(out, ["B", "D", "E"].map(String::from).into());
        // Under a whole base, a count from before it changes nothing.
        let (older, older_skus) = count_of("older", &["E"], "2011-12-10T06:00:00Z", true);
        assert!(next_latest(&latest, &older, &older_skus, &[]).is_err());
    }

    #[test]
    fn a_count_settled_as_the_latest_names_its_skus_a_later_count_holds() {
        let (whole, _) = count_of("whole", &["A", "B"], "2011-12-10T08:00:00Z", false);
        let (aisle, aisle_skus) = count_of("aisle", &["B"], "2011-12-10T12:00:00Z", true);
        let latest = next_latest(&whole, &aisle, &aisle_skus, &[]).unwrap();
        let json =
            br#"{"snapshot_id": "whole", "items": [{"sku": "A", "on_hand": 1}, {"sku": "B", "on_hand": 1}]}"#;
        let snapshot = InventorySnapshot::parse_json(json).unwrap();
        let mut settled = summary("2011-12-10", None, false);
        settled.settle(&snapshot, Ok(latest));
        assert_eq!((settled.latest, settled.superseded.as_slice()), (true, ["B".to_owned()].as_slice()));
        settled.settle(&snapshot, Err("a later count".into()));
        assert_eq!((settled.latest, settled.not_latest.as_deref()), (false, Some("a later count")));
        assert!(settled.superseded.is_empty());
    }

    #[test]
    fn a_count_judged_again_keeps_the_partial_counts_after_it_and_never_moves_back() {
        let (whole, skus) = count_of("whole", &["A", "B"], "2011-12-10T08:00:00Z", false);
        let (aisle, aisle_skus) = count_of("aisle", &["B"], "2011-12-10T12:00:00Z", true);
        let latest = next_latest(&LatestSnapshot::default(), &whole, &skus, &[]).unwrap();
        let latest = next_latest(&latest, &aisle, &aisle_skus, &[]).unwrap();
        // Judged again with no time known (a pointer from before times were kept).
        let untimed = LatestSnapshot { counted_at: None, sent_at: None, ..whole.clone() };
        let again = next_latest(&latest, &untimed, &skus, &[]).unwrap();
        assert_eq!(held(&again), owned(&[("aisle", &["B"])]));
        // Judged again from the CLI, which knows no place: the place it came from stays.
        let placed = next_latest(
            &latest,
            &LatestSnapshot { source: Some("blob".into()), ..aisle.clone() },
            &aisle_skus,
            &[],
        );
        let again = next_latest(&placed.unwrap(), &aisle, &aisle_skus, &[]).unwrap();
        assert_eq!(again.partials[0].source.as_deref(), Some("blob"));
        // A sending of the same stock earlier than the one there, judged after it: nothing moves.
        let (early, _) = count_of("whole", &["A", "B"], "2011-12-10T07:00:00Z", false);
        assert_eq!(next_latest(&latest, &early, &skus, &[]).unwrap(), latest);
    }

    #[tokio::test]
    async fn the_open_alerts_of_each_sku_are_its_latest_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = embedded_alerts(dir.path()).await;
        let path = flat_path("A");
        let judge = |id: &str, items: &str, partial: bool, at: &str| {
            let json = format!(r#"{{"snapshot_id": "{id}", "partial": {partial}, "items": [{items}]}}"#);
            let snapshot = InventorySnapshot::parse_json(json.as_bytes())
                .unwrap()
                .sent_at(at.parse().unwrap(), at.parse().unwrap())
                .unwrap();
            let judged = evaluate_snapshot(&AlertPolicy::default(), &snapshot, |_| Some(path.clone()));
            (snapshot, judged)
        };
        let store_count = |(snapshot, judged): (InventorySnapshot, crate::alerts::AlertRun)| {
            let store = Arc::clone(&store);
            async move {
                for alert in &judged.alerts {
                    let body = StoredAlert {
                        snapshot_id: snapshot.id.clone(),
                        as_of: snapshot.as_of.unwrap(),
                        created_at: Utc::now(),
                        forecast_version: "v1".into(),
                        alert: alert.clone(),
                    };
                    let doc = Document::new(snapshot_partition(&snapshot.id), escape_key(&alert.sku), &body);
                    store.upsert(&doc.unwrap()).await.unwrap();
                }
                let summary = SnapshotSummary {
                    snapshot_id: snapshot.id.clone(),
                    as_of: snapshot.as_of.unwrap(),
                    counted_at: snapshot.counted_at,
                    sent_at: snapshot.sent,
                    skus: snapshot.rows.len(),
                    alerts: judged.alerts.len(),
                    ..summary("2011-12-10", None, false)
                };
                make_latest(&store, &snapshot, &summary).await.unwrap().err()
            }
        };
        let whole = r#"{"sku": "A", "on_hand": 0}, {"sku": "B", "on_hand": 0}, {"sku": "C", "on_hand": 0}"#;
        assert_eq!(store_count(judge("whole", whole, false, "2011-12-10T08:00:00Z")).await, None);
        let aisle = r#"{"sku": "B", "on_hand": 60}, {"sku": "C", "on_hand": 1}"#;
        assert_eq!(store_count(judge("aisle", aisle, true, "2011-12-10T12:00:00Z")).await, None);
        let none = std::collections::BTreeSet::new();
        let open = |skus: &'static [&'static str]| {
            let store = Arc::clone(&store);
            let none = none.clone();
            async move {
                let skus: Vec<String> = skus.iter().map(|s| (*s).to_owned()).collect();
                let open = open_alerts(&store, None, &skus, &none, (0, 100)).await.unwrap().unwrap();
                let statuses: Vec<(String, sku_status::Standing)> =
                    open.statuses.iter().map(|s| (s.sku.clone(), s.status)).collect();
                let alerts = open.alerts.iter().map(|a| (a.alert.sku.clone(), a.snapshot_id.clone()));
                (alerts.collect::<Vec<_>>(), statuses)
            }
        };
        let pair = |sku: &str, id: &str| (sku.to_owned(), id.to_owned());
        use sku_status::Standing::{Alert, NoAlert, Ok as Fine};
        let standing = |sku: &str, status| (sku.to_owned(), status);
        // B restocked above its reorder point has no alert; C's comes from the aisle's count.
        assert_eq!(open(&[]).await, (vec![pair("A", "whole"), pair("C", "aisle")], vec![]));
        assert_eq!(open(&["C"]).await, (vec![pair("C", "aisle")], vec![standing("C", Alert)]));
        // Counted by the aisle, nothing to say; the whole count's list was not kept (written by
        // hand here), so a SKU it may or may not have held has no alert, no more.
        assert_eq!(open(&["B"]).await, (vec![], vec![standing("B", Fine)]));
        assert_eq!(
            open(&["A", "Z"]).await,
            (vec![pair("A", "whole")], vec![standing("A", Alert), standing("Z", NoAlert)])
        );
        let stock = crate::serving::StockView::new(Arc::clone(&store), std::time::Duration::ZERO);
        let out: std::collections::BTreeSet<String> =
            stock.out_of_stock().await.unwrap().iter().cloned().collect();
        assert_eq!(out, ["A".to_owned()].into(), "B and C are on hand by the aisle's count");
    }

    #[test]
    fn the_shops_whole_count_replaces_a_made_up_one_whatever_its_day() {
        // The demo's made-up count of the sample's last day, and an aisle the shop counted since.
        let (made_up, _) = count_of("demo", &["A!", "B", "C"], "2011-12-09T12:00:00Z", false);
        let made_up = LatestSnapshot { made_up: true, ..made_up };
        let (aisle, skus) = count_of("aisle", &["B!"], "2011-12-09T13:00:00Z", true);
        let with_aisle = next_latest(&made_up, &aisle, &skus, &[]).unwrap();
        assert_eq!(
            (with_aisle.snapshot_id.as_str(), held(&with_aisle)),
            ("demo", owned(&[("aisle", &["B"])]))
        );
        // An aisle counted before it takes its place as the base, under the aisle after it.
        let (early, skus) = count_of("early", &["B", "C"], "2011-11-30T13:00:00Z", true);
        let latest = next_latest(&with_aisle, &early, &skus, &[]).unwrap();
        assert_eq!((latest.snapshot_id.as_str(), latest.made_up, latest.partial), ("early", false, true));
        assert_eq!(
            (held(&latest), latest.count_of("B"), latest.count_of("C")),
            (owned(&[("aisle", &["B"])]), "aisle", "early")
        );
        assert_eq!(latest.out_of_stock_now().into_iter().collect::<Vec<_>>(), ["B"]);
        // The shop's whole count of an earlier day is the latest, with none of the made-up alerts
        // left and no word of the made-up count's larger size; the aisle counted after it stays.
        let (shop, skus) = count_of("shop", &["C!"], "2011-11-30T18:00:00Z", false);
        let latest = next_latest(&with_aisle, &shop, &skus, &[]).unwrap();
        assert_eq!((latest.snapshot_id.as_str(), latest.made_up), ("shop", false));
        assert_eq!((held(&latest), latest.replaced_larger.as_ref()), (owned(&[("aisle", &["B"])]), None));
        let mut out: Vec<String> = latest.out_of_stock_now().into_iter().collect();
        out.sort();
        assert_eq!(out, ["B", "C"]);
        // Not so over a real count: an earlier day leaves it the latest.
        let real = LatestSnapshot { made_up: false, ..made_up };
        assert!(next_latest(&real, &shop, &skus, &[]).unwrap_err().ends_with("this count is not later"));
    }

    #[tokio::test]
    async fn an_earlier_count_of_the_same_day_delivered_late_does_not_replace_the_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = embedded_alerts(dir.path()).await;
        let now: DateTime<Utc> = "2011-12-12T00:00:00Z".parse().unwrap();
        let count = |on_hand: u64, sent: &str| {
            let items = format!(r#"{{"items": [{{"sku": "22701", "on_hand": {on_hand}}}]}}"#);
            let snapshot = InventorySnapshot::parse_json(items.as_bytes())
                .unwrap()
                .sent_at(sent.parse().unwrap(), now)
                .unwrap();
            let summary = SnapshotSummary {
                snapshot_id: snapshot.id.clone(),
                as_of: snapshot.as_of.unwrap(),
                counted_at: snapshot.counted_at,
                ..summary("2011-12-09", None, false)
            };
            (snapshot, summary)
        };
        let (c, c_summary) = count(1, "2011-12-09T23:00:00Z");
        let (d, d_summary) = count(2, "2011-12-09T06:00:00Z");
        assert_eq!(make_latest(&store, &c, &c_summary).await.unwrap().err(), None, "the first count");
        let kept = make_latest(&store, &d, &d_summary).await.unwrap().err();
        assert_eq!(
            kept,
            Some(format!(
                "snapshot {} (counted at 2011-12-09T23:00:00Z) stays the latest: this count is not later",
                c.id
            ))
        );
        let latest: LatestSnapshot =
            store.get(SNAPSHOTS_PARTITION, LATEST_ID).await.unwrap().unwrap().parse().unwrap();
        assert_eq!((latest.snapshot_id, latest.counted_at), (c.id.clone(), c.counted_at));
        let (e, e_summary) = count(3, "2011-12-09T23:30:00Z");
        assert_eq!(make_latest(&store, &e, &e_summary).await.unwrap().err(), None, "counted later that day");
    }

    #[test]
    fn a_stored_summary_is_a_redelivery_a_claim_to_finish_or_another_count() {
        let snapshot = InventorySnapshot::parse_json(br#"{"items": [{"sku": "A", "on_hand": 1}]}"#)
            .unwrap()
            .named_as("store-7")
            .unwrap();
        let day: NaiveDate = "2011-12-09".parse().unwrap();
        let judged = |stored| judged_before(&snapshot, "c1", day, stored);
        assert!(judged(summary("2011-12-09", Some("c1"), false)).unwrap().is_some(), "judged whole");
        assert!(judged(summary("2011-12-09", None, false)).unwrap().is_some(), "stored before content ids");
        assert!(judged(summary("2011-12-09", Some("c1"), true)).unwrap().is_none(), "a claim of this count");
        let other_day = judged(summary("2011-12-08", Some("c1"), false)).unwrap_err().to_string();
        assert!(other_day.contains("judged before as of 2011-12-08, not 2011-12-09"), "{other_day}");
        let other_stock = judged(summary("2011-12-09", Some("c2"), true)).unwrap_err().to_string();
        assert!(other_stock.contains("as of 2011-12-09 with other stock"), "{other_stock}");
    }

    #[test]
    fn a_snapshot_with_nothing_judged_is_not_the_latest_is_judged_again_and_refused_if_all_unknown() {
        let snapshot = InventorySnapshot::parse_json(br#"{"items": [{"sku": "TYPO1", "on_hand": 0}]}"#)
            .unwrap()
            .named_as("store-7")
            .unwrap();
        let day: NaiveDate = "2011-12-09".parse().unwrap();
        let typos = SnapshotSummary {
            skus: 2,
            alerts: 0,
            unknown_skus: vec!["TYPO1".into(), "TYPO2".into()],
            ..summary("2011-12-09", Some("c1"), false)
        };
        assert_eq!(
            typos.nothing_judged().as_deref(),
            Some(
                "none of its 2 SKUs was judged (2 without a forecast, 0 with a forecast too old for their \
                 lead time as of 2011-12-09): the open alerts stay the latest snapshot's"
            )
        );
        assert!(judged_before(&snapshot, "c1", day, typos.clone()).unwrap().is_none(), "judged again");
        assert_eq!(
            typos.unknown_only().unwrap().to_string(),
            "none of the snapshot's 2 SKUs has a forecast (TYPO1, TYPO2): nothing was judged, and the \
             open alerts stay the latest snapshot's"
        );
        let stale =
            SnapshotSummary { unknown_skus: Vec::new(), stale_skus: vec!["A".into()], ..typos.clone() };
        assert!(stale.nothing_judged().is_some(), "not the latest");
        assert!(stale.unknown_only().is_none(), "not refused: a retrain gives it a forecast");
        let mixed = SnapshotSummary { ok: 1, ..typos };
        assert_eq!(
            (mixed.nothing_judged(), mixed.unknown_only().is_none()),
            (None, true),
            "judged, unknowns named"
        );
        let many: Vec<String> = (1..=12).map(|i| format!("T{i}")).collect();
        let error = AlertError::UnknownSkus { skus: many }.to_string();
        assert!(error.contains("(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10 and 2 more)"), "{error}");
    }
}
