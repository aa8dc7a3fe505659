//! Where a SKU stands in the latest counts: `GET /api/alerts?sku=` answers every SKU asked for,
//! not only those with an alert, so that a planner can tell a SKU judged fine from one no count
//! held and from one a count held but could not judge.
//!
//! The rule, for each SKU: its latest count is the partial count after the whole one that holds
//! it, else the whole count. It has an open alert there (`alert`, or `withheld` when the catalogue
//! discontinued it since), or that count could not judge it (`not_judged`: no forecast, or one
//! too old for its lead time), or the count held it and found nothing to say (`ok`), or no count
//! held it (`not_counted`). Which SKUs a whole count held is kept beside its alerts
//! ([`CountedSkus`]); a count judged before that list was kept, or one too long to keep, says
//! `no_alert` instead of `ok` or `not_counted`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Severity;
use super::run::SnapshotSummary;
use crate::serving::LatestSnapshot;
use crate::serving::escape_key;
use crate::serving::stock::SNAPSHOTS_PARTITION;
use crate::store::{DocumentStore, StoreError};

/// The partition holding each judged count's SKUs, one document per count under its summary's
/// key.
pub const COUNTED_PARTITION: &str = "counted";

/// The most SKUs a count's list keeps (about 20 bytes each against a document store's 2 MB
/// bound per document); a longer count's SKUs without an alert read `no_alert`.
pub const MAX_COUNTED_LISTED: usize = 50_000;

/// Most SKUs one answer gives the status of.
pub const MAX_STATUS_SKUS: usize = 100;

/// The SKUs one judged count held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedSkus {
    /// The count.
    pub snapshot_id: String,
    /// Its SKUs, sorted.
    pub skus: Vec<String>,
}

impl CountedSkus {
    /// The list of a count's SKUs, or `None` when it is too long to keep.
    #[must_use]
    pub fn of(snapshot_id: &str, skus: impl IntoIterator<Item = String>) -> Option<Self> {
        let skus: BTreeSet<String> = skus.into_iter().collect();
        (skus.len() <= MAX_COUNTED_LISTED)
            .then(|| Self { snapshot_id: snapshot_id.to_owned(), skus: skus.into_iter().collect() })
    }

    /// Its document's id.
    #[must_use]
    pub fn key(snapshot_id: &str) -> String {
        escape_key(snapshot_id)
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
    /// Its latest count (the whole count when none holds it).
    pub snapshot_id: String,
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
        let counted: Option<BTreeSet<String>> = if latest.base_skus.is_empty() {
            match store.get(COUNTED_PARTITION, &CountedSkus::key(&latest.snapshot_id)).await? {
                Some(doc) => Some(doc.parse::<CountedSkus>()?.skus.into_iter().collect()),
                None => None,
            }
        } else {
            Some(latest.base_skus.iter().cloned().collect())
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
            SkuStatus { sku: sku.clone(), status, severity, snapshot_id, as_of }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serving::stock::PartialCount;
    use crate::store::Document;

    #[tokio::test]
    async fn each_sku_stands_by_its_latest_count_alerted_fine_unjudged_or_uncounted() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::embedded::EmbeddedDatabase::open(&dir.path().join("db.redb")).unwrap();
        let store = crate::store::DocumentDatabase::container(&db, "alerts").await.unwrap();
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
            statuses.into_iter().map(|s| (s.sku, s.status, s.snapshot_id)).collect::<Vec<_>>()
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
        let counted = CountedSkus::of("whole", ["N", "C", "B", "A"].map(str::to_owned)).unwrap();
        assert_eq!(counted.skus, ["A", "B", "C", "N"], "sorted");
        store
            .upsert(&Document::new(COUNTED_PARTITION, CountedSkus::key("whole"), &counted).unwrap())
            .await
            .unwrap();
        let asked = vec!["Z".to_owned(), "N".to_owned()];
        let after = statuses(&store, &latest, &asked, &HashMap::new()).await.unwrap();
        assert_eq!(
            standing(after),
            [row("Z", Standing::NotCounted, "whole"), row("N", Standing::NotJudged, "whole")]
        );
        // A whole count's SKU without an alert, its list kept: fine.
        let latest = LatestSnapshot { partials: Vec::new(), ..latest };
        let after = statuses(&store, &latest, &["B".to_owned()], &HashMap::new()).await.unwrap();
        assert_eq!(standing(after), [row("B", Standing::Ok, "whole")]);
    }

    #[test]
    fn a_count_too_long_to_list_keeps_no_list() {
        assert!(CountedSkus::of("big", (0..=MAX_COUNTED_LISTED).map(|i| i.to_string())).is_none());
        assert!(CountedSkus::of("big", (0..MAX_COUNTED_LISTED).map(|i| i.to_string())).is_some());
    }
}
