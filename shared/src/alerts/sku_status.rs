//! Where a SKU stands in the latest counts: `GET /api/alerts?sku=` answers every SKU asked for,
//! not only those with an alert, so that a planner can tell a SKU judged fine from one no count
//! held and from one a count held but could not judge.
//!
//! The rule, for each SKU: its latest count is the partial count after the whole one that holds
//! it, else the whole count. It has an open alert there (`alert`, or `withheld` when the catalogue
//! discontinued it since), or that count could not judge it (`not_judged`: no forecast, or one
//! too old for its lead time), or the count held it and found nothing to say (`ok`), or no count
//! held it (`not_counted`). A partial count's SKUs are in the latest; a whole count's are kept
//! beside its alerts ([`CountedList`]), in [`BUCKETS`] documents by a hash of the SKU, so that a
//! question about a few SKUs reads a few small documents whatever the catalogue's size. A whole
//! count judged before the list was kept says `no_alert` instead of `ok` or `not_counted`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::Severity;
use super::run::SnapshotSummary;
use crate::serving::LatestSnapshot;
use crate::serving::escape_key;
use crate::serving::stock::SNAPSHOTS_PARTITION;
use crate::store::{Document, DocumentStore, StoreError};

/// Documents a whole count's SKU list is spread over: 50,000 SKUs of 40 characters make about
/// 35 KB each, far under a document store's 2 MB.
pub const BUCKETS: u32 = 64;

/// Id of a list's index in its partition.
const INDEX_ID: &str = "index";

/// Most SKUs one answer gives the status of.
pub const MAX_STATUS_SKUS: usize = 100;

/// The partition of one whole count's SKU list.
#[must_use]
pub fn counted_partition(snapshot_id: &str) -> String {
    format!("counted:{}", escape_key(snapshot_id))
}

/// The bucket of a SKU: FNV-1a of its bytes (stable across versions and platforms).
#[must_use]
pub fn bucket(sku: &str) -> u32 {
    let hash = sku.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % BUCKETS
}

/// That a whole count's list is kept, and how long it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedIndex {
    /// The count.
    pub snapshot_id: String,
    /// Its SKUs.
    pub skus: usize,
}

/// The SKUs of one bucket of a whole count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedBucket {
    /// The count.
    pub snapshot_id: String,
    /// Its SKUs in this bucket, sorted.
    pub skus: Vec<String>,
}

/// A whole count's SKU list, as stored: the buckets, then the index that says it is whole.
pub struct CountedList;

impl CountedList {
    /// Keeps the list of `snapshot_id`'s SKUs: each non-empty bucket, then the index (a list cut
    /// short has no index, and reads as not kept).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn write(
        store: &Arc<dyn DocumentStore>,
        snapshot_id: &str,
        skus: impl IntoIterator<Item = String>,
    ) -> Result<(), StoreError> {
        let skus: BTreeSet<String> = skus.into_iter().collect();
        let mut buckets: HashMap<u32, Vec<String>> = HashMap::new();
        for sku in &skus {
            buckets.entry(bucket(sku)).or_default().push(sku.clone());
        }
        let partition = counted_partition(snapshot_id);
        let docs = buckets
            .into_iter()
            .map(|(n, skus)| {
                Document::new(
                    &partition,
                    n.to_string(),
                    &CountedBucket { snapshot_id: snapshot_id.to_owned(), skus },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        store.upsert_many(&docs).await?;
        let index = CountedIndex { snapshot_id: snapshot_id.to_owned(), skus: skus.len() };
        store.upsert(&Document::new(&partition, INDEX_ID, &index)?).await.map(|_| ())
    }

    /// Whether the list of `snapshot_id` is kept.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn is_kept(store: &Arc<dyn DocumentStore>, snapshot_id: &str) -> Result<bool, StoreError> {
        Ok(store.get(&counted_partition(snapshot_id), INDEX_ID).await?.is_some())
    }

    /// Which of `skus` the count held, or `None` when its list is not kept.
    ///
    /// # Errors
    /// When the store fails or a document is malformed.
    pub async fn held<'a>(
        store: &Arc<dyn DocumentStore>,
        snapshot_id: &str,
        skus: impl IntoIterator<Item = &'a String>,
    ) -> Result<Option<BTreeSet<String>>, StoreError> {
        if !Self::is_kept(store, snapshot_id).await? {
            return Ok(None);
        }
        let partition = counted_partition(snapshot_id);
        let skus: Vec<&String> = skus.into_iter().collect();
        let buckets: BTreeSet<u32> = skus.iter().map(|sku| bucket(sku)).collect();
        // At once, 16 at a time: a hundred SKUs touch about 51 of the 64 buckets.
        let reads = buckets.into_iter().map(|n| {
            let partition = &partition;
            async move { store.get(partition, &n.to_string()).await.map(|doc| (n, doc)) }
        });
        let found: Vec<_> = futures::stream::iter(reads).buffer_unordered(16).try_collect().await?;
        let mut held = BTreeSet::new();
        for (n, doc) in found {
            let Some(doc) = doc else { continue };
            let listed = doc.parse::<CountedBucket>()?.skus;
            held.extend(
                skus.iter()
                    .filter(|sku| bucket(sku) == n && listed.binary_search(sku).is_ok())
                    .map(|s| (*s).clone()),
            );
        }
        Ok(Some(held))
    }

    /// Deletes the list of `snapshot_id`, the index first (a deletion cut short reads as not
    /// kept).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete(store: &Arc<dyn DocumentStore>, snapshot_id: &str) -> Result<(), StoreError> {
        let partition = counted_partition(snapshot_id);
        store.delete(&partition, INDEX_ID).await?;
        store.delete_partition(&partition).await.map(|_| ())
    }
}

/// Where one SKU stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// An open alert, listed in `alerts`.
    Alert,
    /// An alert to order a SKU the catalogue has discontinued since: not listed.
    Withheld,
    /// Counted and judged, nothing to say.
    Ok,
    /// Counted, but not judged: no forecast, or one too old for its lead time.
    NotJudged,
    /// No count held it.
    NotCounted,
    /// No open alert, and the count's list of SKUs was not kept: ok or not counted.
    NoAlert,
}

/// One SKU's standing and the count that decides it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkuStatus {
    /// The SKU.
    pub sku: String,
    /// Where it stands.
    pub status: Standing,
    /// Its open alert's severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Its latest count (none when no count held it).
    pub snapshot_id: Option<String>,
    /// That count's day.
    pub as_of: Option<NaiveDate>,
}

/// The standing of each of `skus`, given the severity of those with an alert in their latest
/// count (and whether it is withheld).
///
/// # Errors
/// When the store fails or a stored document is malformed.
pub async fn statuses(
    store: &Arc<dyn DocumentStore>,
    latest: &LatestSnapshot,
    skus: &[String],
    alerted: &HashMap<String, (Severity, bool)>,
) -> Result<Vec<SkuStatus>, StoreError> {
    let base_needed =
        skus.iter().any(|sku| !alerted.contains_key(sku) && latest.count_of(sku) == latest.snapshot_id);
    // The whole count's SKUs it could not judge and the SKUs it held, read only when asked about.
    let (base_not_judged, base_counted) = if base_needed {
        let key = escape_key(&latest.snapshot_id);
        let summary = match store.get(SNAPSHOTS_PARTITION, &key).await? {
            Some(doc) => Some(doc.parse::<SnapshotSummary>()?),
            None => None,
        };
        let mut not_judged: BTreeSet<String> = latest.base_not_judged.iter().cloned().collect();
        if let Some(summary) = &summary {
            not_judged.extend(summary.unknown_skus.iter().chain(&summary.stale_skus).cloned());
        }
        let asked = skus.iter().filter(|sku| {
            !alerted.contains_key(*sku)
                && !not_judged.contains(*sku)
                && latest.count_of(sku) == latest.snapshot_id
        });
        let counted: Option<BTreeSet<String>> = if latest.base_skus.is_empty() {
            CountedList::held(store, &latest.snapshot_id, asked).await?
        } else {
            Some(asked.filter(|sku| latest.base_skus.contains(sku)).cloned().collect())
        };
        (not_judged, counted)
    } else {
        (BTreeSet::new(), None)
    };
    Ok(skus
        .iter()
        .map(|sku| {
            let partial = latest.partials.iter().find(|p| p.holds(sku));
            let (snapshot_id, as_of) = match partial {
                Some(p) => (p.snapshot_id.clone(), Some(p.as_of)),
                None => (latest.snapshot_id.clone(), latest.as_of),
            };
            let (status, severity) = match (alerted.get(sku), partial) {
                (Some(&(severity, withheld)), _) => {
                    (if withheld { Standing::Withheld } else { Standing::Alert }, Some(severity))
                }
                (None, Some(p)) if p.not_judged.contains(sku) => (Standing::NotJudged, None),
                (None, Some(_)) => (Standing::Ok, None),
                (None, None) if base_not_judged.contains(sku) => (Standing::NotJudged, None),
                (None, None) => match &base_counted {
                    Some(counted) if counted.contains(sku) => (Standing::Ok, None),
                    Some(_) => (Standing::NotCounted, None),
                    None => (Standing::NoAlert, None),
                },
            };
            // No count held it: it has none to name.
            let (snapshot_id, as_of) =
                if status == Standing::NotCounted { (None, None) } else { (Some(snapshot_id), as_of) };
            SkuStatus { sku: sku.clone(), status, severity, snapshot_id, as_of }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::stock::PartialCount;
    use crate::store::{Document, Query};

    #[tokio::test]
    async fn each_sku_stands_by_its_latest_count_alerted_fine_unjudged_or_uncounted() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::alerts::embedded_alerts(dir.path()).await;
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        // The whole count held A, B, C and N (N without a forecast); the aisle counted B and D
        // since, and could not judge D.
        let latest = LatestSnapshot {
            snapshot_id: "whole".into(),
            as_of: Some(day("2011-12-09")),
            skus: 4,
            partials: vec![PartialCount {
                snapshot_id: "aisle".into(),
                as_of: day("2011-12-10"),
                counted_at: None,
                sent_at: None,
                evaluated_at: None,
                source: None,
                skus: vec!["B".into(), "D".into()],
                out_of_stock: Vec::new(),
                not_judged: vec!["D".into()],
            }],
            ..LatestSnapshot::default()
        };
        let summary = serde_json::json!({
            "snapshot_id": "whole", "as_of": "2011-12-09", "forecast_version": "v1", "skus": 4, "alerts": 1,
            "by_severity": {}, "ok": 2, "unknown_skus": ["N"], "stale_skus": [], "written": 1,
            "already_there": 0, "latest": true
        });
        store.upsert(&Document::new(SNAPSHOTS_PARTITION, "whole", &summary).unwrap()).await.unwrap();
        let alerted: HashMap<String, (Severity, bool)> = [
            ("A".to_owned(), (Severity::StockoutRisk, false)),
            ("C".to_owned(), (Severity::BelowReorderPoint, true)),
        ]
        .into();
        let asked: Vec<String> = ["A", "B", "C", "D", "N", "Z"].iter().map(|s| (*s).to_owned()).collect();
        let standing = |statuses: Vec<SkuStatus>| {
            statuses
                .into_iter()
                .map(|s| (s.sku, s.status, s.snapshot_id.unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let row = |sku: &str, status, count: &str| (sku.to_owned(), status, count.to_owned());
        // Before the whole count's list is kept, its SKUs without an alert are told from the
        // uncounted by nothing.
        let before = statuses(&store, &latest, &asked, &alerted).await.unwrap();
        assert_eq!(before[0].severity, Some(Severity::StockoutRisk));
        assert_eq!(before[3].as_of, Some(day("2011-12-10")));
        assert_eq!(
            standing(before),
            [
                row("A", Standing::Alert, "whole"),
                row("B", Standing::Ok, "aisle"),
                row("C", Standing::Withheld, "whole"),
                row("D", Standing::NotJudged, "aisle"),
                row("N", Standing::NotJudged, "whole"),
                row("Z", Standing::NoAlert, "whole"),
            ]
        );
        assert!(!CountedList::is_kept(&store, "whole").await.unwrap());
        CountedList::write(&store, "whole", ["N", "C", "B", "A", "B"].map(str::to_owned)).await.unwrap();
        assert!(CountedList::is_kept(&store, "whole").await.unwrap());
        let asked = vec!["Z".to_owned(), "N".to_owned()];
        let after = statuses(&store, &latest, &asked, &HashMap::new()).await.unwrap();
        assert_eq!(
            standing(after),
            [row("Z", Standing::NotCounted, ""), row("N", Standing::NotJudged, "whole")]
        );
        // A whole count's SKU without an alert, its list kept: fine.
        let latest = LatestSnapshot { partials: Vec::new(), ..latest };
        let after = statuses(&store, &latest, &["B".to_owned()], &HashMap::new()).await.unwrap();
        assert_eq!(standing(after), [row("B", Standing::Ok, "whole")]);
    }

    #[tokio::test]
    async fn a_long_list_is_spread_over_small_documents_and_read_by_the_skus_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::alerts::embedded_alerts(dir.path()).await;
        // 50,000 SKUs of 40 characters: about 2 MB in one document, a document store's bound.
        let sku = |i: usize| format!("{i:0>40}");
        CountedList::write(&store, "big/count", (0..50_000).map(sku)).await.unwrap();
        let docs = store.query(&counted_partition("big/count"), &Query::all()).await.unwrap();
        assert_eq!(docs.len(), BUCKETS as usize + 1, "every bucket and the index");
        let largest = docs.iter().map(|d| serde_json::to_vec(&d.body).unwrap().len()).max().unwrap();
        assert!(largest < 64 * 1024, "{largest} bytes");
        let asked = [sku(7), sku(49_999), sku(50_000), "x".to_owned()];
        let held = CountedList::held(&store, "big/count", &asked).await.unwrap().unwrap();
        assert_eq!(held, [sku(7), sku(49_999)].into());
        assert_eq!(CountedList::held(&store, "other", &asked).await.unwrap(), None, "not kept");
        // The buckets never move: the same SKU, the same bucket, in every version.
        assert_eq!((bucket("85123A"), bucket("22423"), bucket("")), (41, 48, 5));
        CountedList::delete(&store, "big/count").await.unwrap();
        assert!(store.query(&counted_partition("big/count"), &Query::all()).await.unwrap().is_empty());
    }
}
