//! What serving knows of stock: the latest inventory snapshot's summary (document
//! `snapshots/latest` in the `alerts` container), written by the inventory-alert run and read by
//! the recommendation answers to leave out-of-stock SKUs out.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{DocumentStore, StoreError};

/// Document container of alerts and snapshot summaries.
pub const ALERTS_CONTAINER: &str = "alerts";
/// Partition of snapshot summaries.
pub const SNAPSHOTS_PARTITION: &str = "snapshots";
/// Id of the latest snapshot's summary.
pub const LATEST_ID: &str = "latest";

/// Unknown SKUs a latest count names, at most.
pub const UNKNOWN_NAMED: usize = 20;

/// The latest inventory snapshot, as serving needs it: the latest whole count (or the first
/// count of all, when that was partial) and the partial counts judged after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatestSnapshot {
    /// The snapshot's id (its content hash unless the sender named it).
    pub snapshot_id: String,
    /// When it was evaluated.
    pub evaluated_at: Option<DateTime<Utc>>,
    /// The snapshot's date.
    #[serde(default)]
    pub as_of: Option<chrono::NaiveDate>,
    /// When on that day its stock was counted, when known (`None` in summaries written before it
    /// was kept): a count of the same day taken earlier and delivered late does not replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<DateTime<Utc>>,
    /// When it was last sent, when known (`None` in pointers written before it was kept): ranks
    /// two counts of one day when either's time counted is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// Its SKUs with nothing on hand (of those a partial count since counted, that count says:
    /// [`LatestSnapshot::out_of_stock_now`]).
    pub out_of_stock: Vec<String>,
    /// Alerts it raised.
    pub alerts: usize,
    /// SKUs it held.
    pub skus: usize,
    /// Its SKUs that were not judged because the live forecast is too old for their lead time
    /// (0 in summaries written before it was kept).
    #[serde(default)]
    pub stale_skus: usize,
    /// Its SKUs without a forecast (new or unknown products), not judged.
    #[serde(default)]
    pub unknown_skus: usize,
    /// The first [`UNKNOWN_NAMED`] of them, for the answer's warning to name (empty in
    /// summaries written before they were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_named: Vec<String>,
    /// The count it replaced, when it holds fewer than half of that count's SKUs: a partial count
    /// (one aisle's), or a mistaken or forged one, whose SKUs' alerts alone are now the open ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_larger: Option<ReplacedCount>,
    /// Whether this count counted some SKUs only: the first count judged was partial, and no
    /// whole count came after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// When it is partial, the SKUs it counted, sorted: a count counted before it and delivered
    /// after it is still the latest of the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_skus: Vec<String>,
    /// When it is partial, those of its SKUs it could not judge, sorted (kept should a whole
    /// count slide beneath it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_not_judged: Vec<String>,
    /// Where it came from, when known (the event's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The partial counts (cycle counts) judged after this one, oldest first, each with the SKUs
    /// it is the latest count of: no two share a SKU, and one left none is dropped. Their alerts
    /// are those SKUs' open ones; this count's are the rest's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partials: Vec<PartialCount>,
    /// Whether it is made up rather than counted ([`crate::alerts::InventorySnapshot::made_up`]:
    /// the demo's): any count the shop sends replaces it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub made_up: bool,
}

impl LatestSnapshot {
    /// The id of the count whose alert for `sku` is open: the partial count holding it, else
    /// this one.
    #[must_use]
    pub fn count_of(&self, sku: &str) -> &str {
        self.partials.iter().find(|p| p.holds(sku)).map_or(&self.snapshot_id, |p| &p.snapshot_id)
    }

    /// Whether `snapshot_id` is this count or one of the partial counts after it.
    #[must_use]
    pub fn includes(&self, snapshot_id: &str) -> bool {
        self.snapshot_id == snapshot_id || self.partials.iter().any(|p| p.snapshot_id == snapshot_id)
    }

    /// SKUs of the partial counts that could not be judged (and so have no open alert).
    #[must_use]
    pub fn partials_not_judged(&self) -> usize {
        self.partials.iter().map(|p| p.not_judged.len()).sum()
    }

    /// SKUs with nothing on hand by the latest count of each.
    #[must_use]
    pub fn out_of_stock_now(&self) -> HashSet<String> {
        let mut out: HashSet<String> = self
            .out_of_stock
            .iter()
            .filter(|sku| !self.partials.iter().any(|p| p.holds(sku)))
            .cloned()
            .collect();
        for partial in &self.partials {
            out.extend(partial.out_of_stock.iter().cloned());
        }
        out
    }
}

/// A partial count after the latest whole one ([`LatestSnapshot::partials`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialCount {
    /// Its id.
    pub snapshot_id: String,
    /// Its day.
    pub as_of: chrono::NaiveDate,
    /// When on that day it was counted, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<DateTime<Utc>>,
    /// When it was sent, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Where it came from, when known (the event's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The SKUs it is the latest count of, sorted.
    pub skus: Vec<String>,
    /// Those of them with nothing on hand, sorted.
    pub out_of_stock: Vec<String>,
    /// Those of them it could not judge (no forecast, or one too old for their lead time),
    /// sorted: they have no open alert, and the alerts' `warning` says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<String>,
}

impl PartialCount {
    /// Whether it is the latest count of `sku`.
    #[must_use]
    pub fn holds(&self, sku: &str) -> bool {
        self.skus.binary_search_by(|s| s.as_str().cmp(sku)).is_ok()
    }

    /// Hands `skus` (sorted) over to a later count.
    pub fn give_up(&mut self, skus: &[String]) {
        let later = |sku: &String| skus.binary_search(sku).is_ok();
        self.skus.retain(|sku| !later(sku));
        self.out_of_stock.retain(|sku| !later(sku));
        self.not_judged.retain(|sku| !later(sku));
    }
}

/// A count a much smaller one replaced as the latest ([`LatestSnapshot::replaced_larger`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedCount {
    /// Its id.
    pub snapshot_id: String,
    /// The SKUs it held.
    pub skus: usize,
}

/// Partition of the inventory counts the alerts refused: the last from each upload, and the last
/// custom event ([`RefusedCount::id`]).
pub const REFUSALS_PARTITION: &str = "refusals";
/// Id of the last refused custom event (and, in documents written before refusals were kept per
/// upload, of the last refusal of any kind).
pub const LAST_REFUSAL_ID: &str = "last";

/// An inventory count refused (bad input: a bad row, a wrong day, no SKU known), kept so that
/// the open alerts of an older count do not read as current until a count answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedCount {
    /// When it was refused (this clock, as `LatestSnapshot::evaluated_at`).
    pub refused_at: DateTime<Utc>,
    /// When the sender says it was sent (the event's time, which may be what was wrong).
    pub sent_at: DateTime<Utc>,
    /// The event's id.
    pub event_id: String,
    /// The event's subject (the blob, for an upload).
    pub subject: String,
    /// Why it was refused.
    pub reason: String,
    /// Where it is kept.
    pub kept: String,
    /// Whether it came as an upload: a later count from the same blob (`subject`, the file sent
    /// again fixed) answers it, as a later whole count does. A custom event's subject names no
    /// place (every aisle's may share one), so only a whole count answers it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub upload: bool,
    /// The count's id when it was read but none of its SKUs could be judged (no forecast, or one
    /// too old), rather than refused: judged later, that count answers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
}

impl RefusedCount {
    /// Its document's id: one per upload (the start of its blob's sha256), so a refused aisle
    /// does not hide a refused whole count; [`LAST_REFUSAL_ID`] for custom events.
    #[must_use]
    pub fn id(&self) -> String {
        if let Some(count) = &self.not_judged {
            format!("unjudged-{}", &crate::bronze::sha256_hex(count.as_bytes())[..32])
        } else if self.is_upload() {
            format!("upload-{}", &crate::bronze::sha256_hex(self.subject.as_bytes())[..32])
        } else {
            LAST_REFUSAL_ID.to_owned()
        }
    }

    /// Whether it came as an upload: so marked, or (kept before it was marked) with a blob's
    /// event subject.
    #[must_use]
    pub fn is_upload(&self) -> bool {
        self.upload || self.subject.starts_with("/blobServices/")
    }

    /// Whether it was refused after `latest` was judged and sent after it (when both are known),
    /// or there is no latest: the open alerts are then those of an older count than the shop
    /// last sent. A late delivery of an earlier count, refused after a newer one was judged, is
    /// not.
    #[must_use]
    pub fn is_newer_than(&self, latest: Option<&LatestSnapshot>) -> bool {
        latest.is_none_or(|l| {
            let newer = |evaluated: Option<DateTime<Utc>>, sent: Option<DateTime<Utc>>| {
                evaluated.is_none_or(|t| self.refused_at > t) && sent.is_none_or(|t| self.sent_at > t)
            };
            self.answering(l).all(|(evaluated, sent)| newer(evaluated, sent))
        })
    }

    /// Whether a count in `latest` that answers it was sent when it was or after: a late delivery
    /// of a refused count, not worth a warning.
    #[must_use]
    pub fn sent_before_an_answer(&self, latest: &LatestSnapshot) -> bool {
        self.answering(latest).any(|(_, sent)| sent.is_some_and(|sent| sent >= self.sent_at))
    }

    /// When each count in `latest` that answers this refusal was judged and sent. A whole count
    /// answers any; a partial count (or a partial first count) only an upload's from the same
    /// blob, its file sent again fixed: one aisle counted after a refused whole count, or after
    /// another aisle's refused count, leaves those SKUs at an older count's stock.
    fn answering<'a>(
        &'a self,
        latest: &'a LatestSnapshot,
    ) -> impl Iterator<Item = (Option<DateTime<Utc>>, Option<DateTime<Utc>>)> + 'a {
        let same_place =
            move |source: &Option<String>| self.is_upload() && source.as_deref() == Some(&self.subject);
        // A count not judged is answered by itself, judged since.
        let itself = move |id: &str| self.not_judged.as_deref() == Some(id);
        let base = (!latest.partial || same_place(&latest.source) || itself(&latest.snapshot_id))
            .then_some((latest.evaluated_at, latest.sent_at));
        base.into_iter().chain(
            latest
                .partials
                .iter()
                .filter(move |p| same_place(&p.source) || itself(&p.snapshot_id))
                .map(|p| (p.evaluated_at, p.sent_at)),
        )
    }

    /// One sentence for the alerts' `warning`.
    #[must_use]
    pub fn warning(&self) -> String {
        let sent = self.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let at = self.refused_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if self.not_judged.is_some() {
            // Nothing wrong with the file: the forecast could not judge it.
            return format!(
                "the inventory count sent at {sent} ({}) could not be judged at {at} and raised no alerts: {}; \
                 the open alerts are an older count's until it or a later one is judged",
                self.subject, self.reason
            );
        }
        let again = if self.is_upload() {
            "fix it and upload it again under the same name, or send a whole count"
        } else {
            "fix it and send it again (sent as an event, only a whole count clears this warning)"
        };
        format!(
            "the inventory count sent at {sent} ({}) was refused at {at} and raised no alerts: {} (kept in {}); {again}",
            self.subject, self.reason, self.kept
        )
    }
}

/// The out-of-stock set, re-read at most every `ttl`.
#[derive(Debug)]
pub struct StockView {
    store: Arc<dyn DocumentStore>,
    ttl: Duration,
    cached: Mutex<Option<(Arc<HashSet<String>>, Instant)>>,
}

impl StockView {
    /// A view over the alerts container.
    #[must_use]
    pub fn new(store: Arc<dyn DocumentStore>, ttl: Duration) -> Self {
        Self { store, ttl, cached: Mutex::new(None) }
    }

    /// SKUs the latest snapshot shows out of stock (empty before any snapshot).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn out_of_stock(&self) -> Result<Arc<HashSet<String>>, StoreError> {
        if let Ok(cached) = self.cached.lock()
            && let Some((set, at)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(set.clone());
        }
        let set: HashSet<String> = match self.store.get(SNAPSHOTS_PARTITION, LATEST_ID).await? {
            Some(doc) => doc.parse::<LatestSnapshot>()?.out_of_stock_now(),
            None => HashSet::new(),
        };
        let set = Arc::new(set);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((set.clone(), Instant::now()));
        }
        Ok(set)
    }

    /// Forgets the cached set.
    pub fn refresh(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn refused(sent: &str, refused: &str) -> RefusedCount {
        RefusedCount {
            refused_at: at(refused),
            sent_at: at(sent),
            event_id: "e".into(),
            subject: "s".into(),
            reason: "r".into(),
            kept: "k".into(),
            upload: false,
            not_judged: None,
        }
    }

    #[test]
    fn a_refusal_is_newer_only_when_refused_after_the_latest_was_judged_and_sent_after_it() {
        let latest = LatestSnapshot {
            evaluated_at: Some(at("2026-11-27T10:00:00Z")),
            sent_at: Some(at("2026-11-27T09:00:00Z")),
            ..LatestSnapshot::default()
        };
        assert!(refused("2026-11-27T09:30:00Z", "2026-11-27T11:00:00Z").is_newer_than(Some(&latest)));
        // Refused before the latest was judged: the later count answers it.
        assert!(!refused("2026-11-27T09:30:00Z", "2026-11-27T09:45:00Z").is_newer_than(Some(&latest)));
        // A late delivery of an earlier count, refused after: not newer than what the shop sent last.
        assert!(!refused("2026-11-27T08:00:00Z", "2026-11-27T11:00:00Z").is_newer_than(Some(&latest)));
        // No latest at all: any refusal is the news.
        assert!(refused("2026-11-27T08:00:00Z", "2026-11-27T08:01:00Z").is_newer_than(None));
        // A partial count judged and sent after a refused partial count from the same place
        // answers it (the aisle's file sent again, fixed); not another aisle's, nor a refused
        // whole count; one sent before it answers nothing.
        let partial = |source: &str, sent: &str, judged: &str| PartialCount {
            snapshot_id: "aisle".into(),
            as_of: "2026-11-27".parse().unwrap(),
            counted_at: None,
            sent_at: Some(at(sent)),
            evaluated_at: Some(at(judged)),
            source: Some(source.into()),
            skus: vec!["A".into()],
            out_of_stock: Vec::new(),
            not_judged: Vec::new(),
        };
        let with = |partial: PartialCount| LatestSnapshot { partials: vec![partial], ..latest.clone() };
        let aisle = RefusedCount { upload: true, ..refused("2026-11-27T09:30:00Z", "2026-11-27T11:00:00Z") };
        let fixed = with(partial("s", "2026-11-27T11:30:00Z", "2026-11-27T11:31:00Z"));
        assert!(!aisle.is_newer_than(Some(&fixed)));
        assert!(aisle.sent_before_an_answer(&fixed));
        assert!(refused("2026-11-27T09:30:00Z", "2026-11-27T11:00:00Z").is_newer_than(Some(&fixed)));
        let another = with(partial("elsewhere", "2026-11-27T11:30:00Z", "2026-11-27T11:31:00Z"));
        assert!(aisle.is_newer_than(Some(&another)));
        assert!(!aisle.sent_before_an_answer(&another));
        let earlier = with(partial("s", "2026-11-27T09:10:00Z", "2026-11-27T09:11:00Z"));
        assert!(aisle.is_newer_than(Some(&earlier)));
        // A partial first count answers only its own place's refusal, never a whole count's.
        let first = LatestSnapshot { partial: true, source: Some("elsewhere".into()), ..latest.clone() };
        assert!(refused("2026-11-27T08:00:00Z", "2026-11-27T11:00:00Z").is_newer_than(Some(&first)));
        let own = LatestSnapshot { source: Some("s".into()), ..first };
        assert!(
            !RefusedCount { upload: true, ..refused("2026-11-27T08:00:00Z", "2026-11-27T08:30:00Z") }
                .is_newer_than(Some(&own))
        );
        // One refusal kept per upload, one for every custom event (their subjects name no place).
        assert_eq!(refused("2026-11-27T08:00:00Z", "2026-11-27T08:01:00Z").id(), LAST_REFUSAL_ID);
        let file =
            |subject: &str| RefusedCount { upload: true, subject: subject.into(), ..aisle.clone() }.id();
        assert_ne!(file("inventory/partial/a.csv"), file("inventory/partial/b.csv"));
        assert_eq!(file("inventory/partial/a.csv"), file("inventory/partial/a.csv"));
        // A latest stored before its sending time was kept: judged on this clock alone.
        let older = LatestSnapshot { sent_at: None, ..latest.clone() };
        assert!(refused("2026-11-27T08:00:00Z", "2026-11-27T11:00:00Z").is_newer_than(Some(&older)));
        // A count not judged (a custom event's aisle) is answered by itself judged since, not by
        // another aisle's count; it is kept under its own id, apart from refused events.
        let unjudged = RefusedCount {
            not_judged: Some("aisle".into()),
            ..refused("2026-11-27T11:00:00Z", "2026-11-27T11:00:01Z")
        };
        let other = LatestSnapshot { partial: true, snapshot_id: "other".into(), ..latest.clone() };
        let aisle_judged = with(partial("elsewhere", "2026-11-27T11:00:00Z", "2026-11-27T12:00:00Z"));
        assert!(unjudged.is_newer_than(Some(&other)));
        assert!(!unjudged.is_newer_than(Some(&LatestSnapshot { partial: true, ..aisle_judged })));
        assert_ne!(unjudged.id(), LAST_REFUSAL_ID);
        assert!(
            unjudged.warning().contains("could not be judged at 2026-11-27T11:00:01Z"),
            "{}",
            unjudged.warning()
        );
    }
}
