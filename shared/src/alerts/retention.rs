//! How long judged counts are kept. Each count leaves its summary, its alerts (one document per
//! SKU with one) and its SKU list in the alerts container; a shop counting every day would keep
//! every one of them for ever. The nightly retrain deletes the counts judged more than
//! `keep_days` ago that the latest no longer holds: their alerts are answered by later counts
//! and no answer reads them.
//!
//! What keeping them was for lasts far shorter: a redelivered event finds its count's summary
//! and writes no duplicate (Event Grid retries for a day, the retrain replays its dead letters
//! the next night); a count sent again is judged again either way. A count older than the window
//! that arrives after it is pruned is judged as new, and is not the latest unless it is later.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::run::{AlertRunError, SnapshotSummary, snapshot_partition};
use super::sku_status::CountedList;
use crate::serving::LatestSnapshot;
use crate::serving::stock::{LATEST_ID, SNAPSHOTS_PARTITION};
use crate::store::{DocumentStore, Query, StoreError};

/// Days a judged count is kept after it was judged (default).
pub const DEFAULT_KEEP_DAYS: u32 = 90;

/// The fewest days a shop may keep counts: a day of Event Grid's retries and the next night's
/// replay of its dead letters must still find their count.
pub const MIN_KEEP_DAYS: u32 = 3;

/// What a pruning deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Counts deleted (summary, alerts and SKU list).
    pub counts: usize,
    /// Their alerts.
    pub alerts: usize,
    /// Counts kept although older: the latest holds them.
    pub held: usize,
    /// Old counts left for the next pruning: the time budget ran out first.
    pub left: usize,
    /// Old counts a store error stopped deleting (tried again next time), with the first error.
    pub failed: Vec<String>,
}

/// When a count was judged (last, when judged again); for a summary stored before that was kept,
/// when it was sent, else counted, else the start of its day.
fn judged(summary: &SnapshotSummary) -> DateTime<Utc> {
    summary
        .judged_at
        .or(summary.sent_at)
        .or(summary.counted_at)
        .unwrap_or_else(|| summary.as_of.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// Deletes the counts judged more than `keep_days` before `now` that the latest does not hold:
/// their alerts and SKU list first, their summary last, so that a pruning cut short is finished
/// by the next one. It stops starting new counts once `budget` has passed (the rest wait for the
/// next night; one count always goes), and a count a store error stops is named and passed over,
/// not a stop to the rest.
///
/// # Errors
/// When the summaries or the latest cannot be read. A summary that cannot be parsed is left.
pub async fn prune_counts(
    store: &Arc<dyn DocumentStore>,
    keep_days: u32,
    now: DateTime<Utc>,
    budget: std::time::Duration,
) -> Result<Pruned, AlertRunError> {
    let cutoff = now - chrono::Duration::days(i64::from(keep_days.max(MIN_KEEP_DAYS)));
    let latest: Option<LatestSnapshot> = match store.get(SNAPSHOTS_PARTITION, LATEST_ID).await? {
        Some(doc) => Some(doc.parse()?),
        None => None,
    };
    let mut pruned = Pruned::default();
    let summaries = store.query(SNAPSHOTS_PARTITION, &Query::all()).await?;
    // The budget is for deleting: reading the summaries, however long it took, is not held
    // against it, and one count always goes, so a backlog shrinks every night.
    let started = std::time::Instant::now();
    for doc in summaries {
        if doc.id == LATEST_ID {
            continue;
        }
        let Ok(summary) = doc.parse::<SnapshotSummary>() else { continue };
        if judged(&summary) >= cutoff {
            continue;
        }
        if latest.as_ref().is_some_and(|l| l.includes(&summary.snapshot_id)) {
            pruned.held += 1;
            continue;
        }
        if pruned.counts > 0 && started.elapsed() >= budget {
            pruned.left += 1;
            continue;
        }
        match delete_count(store, &summary.snapshot_id, &doc.id).await {
            Ok(alerts) => {
                pruned.counts += 1;
                pruned.alerts += alerts;
            }
            Err(e) => pruned.failed.push(format!("{}: {e}", summary.snapshot_id)),
        }
    }
    Ok(pruned)
}

/// Deletes one count: its alerts, its SKU list, then its summary (`summary_id`). How many
/// alerts went.
async fn delete_count(
    store: &Arc<dyn DocumentStore>,
    snapshot_id: &str,
    summary_id: &str,
) -> Result<usize, StoreError> {
    let alerts = store.delete_partition(&snapshot_partition(snapshot_id)).await?;
    CountedList::delete(store, snapshot_id).await?;
    store.delete(SNAPSHOTS_PARTITION, summary_id).await?;
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::stock::PartialCount;
    use crate::store::Document;

    const FOREVER: std::time::Duration = std::time::Duration::from_secs(3600);

    async fn count(store: &Arc<dyn DocumentStore>, id: &str, sent_at: &str, alerts: usize) {
        let summary = serde_json::json!({
            "snapshot_id": id, "as_of": &sent_at[..10], "sent_at": sent_at, "forecast_version": "v1",
            "skus": alerts + 1, "alerts": alerts, "by_severity": {}, "ok": 1, "unknown_skus": [],
            "stale_skus": [], "written": alerts, "already_there": 0, "latest": false
        });
        store.upsert(&Document::new(SNAPSHOTS_PARTITION, escape(id), &summary).unwrap()).await.unwrap();
        for sku in 0..alerts {
            let alert = serde_json::json!({ "sku": sku.to_string() });
            let doc = Document::new(snapshot_partition(id), sku.to_string(), &alert).unwrap();
            store.upsert(&doc).await.unwrap();
        }
        CountedList::write(store, id, (0..=alerts).map(|s| s.to_string())).await.unwrap();
    }

    fn escape(id: &str) -> String {
        crate::serving::escape_key(id)
    }

    async fn left(store: &Arc<dyn DocumentStore>, id: &str) -> (bool, usize, bool) {
        let summary = store.get(SNAPSHOTS_PARTITION, &escape(id)).await.unwrap().is_some();
        let alerts = store.query(&snapshot_partition(id), &Query::all()).await.unwrap().len();
        let list = CountedList::is_kept(store, id).await.unwrap();
        (summary, alerts, list)
    }

    #[tokio::test]
    async fn old_counts_go_whole_unless_the_latest_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::alerts::embedded_alerts(dir.path()).await;
        count(&store, "january", "2011-01-10T08:00:00Z", 3).await;
        count(&store, "whole/march", "2011-03-01T08:00:00Z", 2).await;
        count(&store, "aisle", "2011-03-05T08:00:00Z", 1).await;
        count(&store, "last-week", "2011-05-25T08:00:00Z", 2).await;
        // Sent in January, judged last week (a late delivery): its judging counts.
        count(&store, "late", "2011-01-05T08:00:00Z", 1).await;
        let mut late: SnapshotSummary =
            store.get(SNAPSHOTS_PARTITION, "late").await.unwrap().unwrap().parse().unwrap();
        late.judged_at = Some("2011-05-25T09:00:00Z".parse().unwrap());
        store.upsert(&Document::new(SNAPSHOTS_PARTITION, "late", &late).unwrap()).await.unwrap();
        // The latest is March's whole count and an aisle counted after it: both old, both kept.
        let latest = LatestSnapshot {
            snapshot_id: "whole/march".into(),
            partials: vec![PartialCount {
                snapshot_id: "aisle".into(),
                as_of: "2011-03-05".parse().unwrap(),
                counted_at: None,
                sent_at: None,
                evaluated_at: None,
                source: None,
                skus: vec!["0".into()],
                out_of_stock: Vec::new(),
                not_judged: Vec::new(),
            }],
            ..LatestSnapshot::default()
        };
        store.upsert(&Document::new(SNAPSHOTS_PARTITION, LATEST_ID, &latest).unwrap()).await.unwrap();
        let now: DateTime<Utc> = "2011-06-01T00:00:00Z".parse().unwrap();
        let pruned = prune_counts(&store, 90, now, FOREVER).await.unwrap();
        // March's whole count is older than 90 days and held; the aisle is not that old yet.
        assert_eq!(pruned, Pruned { counts: 1, alerts: 3, held: 1, ..Pruned::default() });
        assert_eq!(left(&store, "january").await, (false, 0, false));
        assert_eq!(left(&store, "whole/march").await, (true, 2, true));
        assert_eq!(left(&store, "aisle").await, (true, 1, true));
        assert_eq!(left(&store, "last-week").await, (true, 2, true));
        assert_eq!(left(&store, "late").await, (true, 1, true));
        assert!(store.get(SNAPSHOTS_PARTITION, LATEST_ID).await.unwrap().is_some(), "the latest stays");
        // A window shorter than a day of retries and a night is read as the shortest allowed:
        // last week's count goes, the latest's stay.
        let pruned = prune_counts(&store, 0, now, FOREVER).await.unwrap();
        assert_eq!(pruned, Pruned { counts: 2, alerts: 3, held: 2, ..Pruned::default() });
        assert_eq!(left(&store, "last-week").await, (false, 0, false));
        assert_eq!(left(&store, "late").await, (false, 0, false));
        let pruned = prune_counts(&store, 0, "2011-05-26T00:00:00Z".parse().unwrap(), FOREVER).await.unwrap();
        assert_eq!(pruned, Pruned { held: 2, ..Pruned::default() }, "nothing left to prune");
    }

    #[tokio::test]
    async fn a_pruning_out_of_time_leaves_the_rest_for_the_next_night() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::alerts::embedded_alerts(dir.path()).await;
        count(&store, "a", "2011-01-10T08:00:00Z", 1).await;
        count(&store, "b", "2011-01-11T08:00:00Z", 1).await;
        let now: DateTime<Utc> = "2011-06-01T00:00:00Z".parse().unwrap();
        // Out of time from the start, one count goes all the same: a backlog always shrinks.
        let pruned = prune_counts(&store, 90, now, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(pruned, Pruned { counts: 1, alerts: 1, left: 1, ..Pruned::default() });
        assert_eq!(left(&store, "a").await, (false, 0, false));
        assert_eq!(left(&store, "b").await, (true, 1, true));
        let pruned = prune_counts(&store, 90, now, FOREVER).await.unwrap();
        assert_eq!((pruned.counts, pruned.left), (1, 0));
    }
}
