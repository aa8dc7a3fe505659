//! The documents serving reads, one type per document, and where each lives.
//!
//! | partition | id | body |
//! |---|---|---|
//! | `customer:<id>` | `rec.<version>` | [`CustomerRecs`] |
//! | `customer:<id>` | `seg.<version>` | [`CustomerSegment`] |
//! | `item:<sku>` | `rec.<version>` | [`ItemRecs`] |
//! | `item:<sku>` | `fc.<version>` | [`ItemForecast`] |
//! | `shop` | `rec.<version>` | [`ShopRecs`] |
//! | `shop` | `seg.<version>` | [`SegmentsSummary`] |
//! | `shop` | `fc.<version>` | [`ForecastSummary`] |
//!
//! Every read is a point read (one partition, one id): the cheapest operation Cosmos DB has
//! (1 RU for a document up to 1 KB) and one lookup in the embedded database. Keys escape
//! the characters ids may not hold (`/ \ ? #`) and `%` as `%XX`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::forecast::quantiles::TotalTable;
use crate::registry::ModelKind;
use crate::segments::Segment;

/// The partition of shop-wide documents.
pub const SHOP_PARTITION: &str = "shop";

/// Escapes a customer id or SKU for use in a key.
#[must_use]
pub fn escape_key(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The partition of a customer's documents.
#[must_use]
pub fn customer_partition(customer: &str) -> String {
    format!("customer:{}", escape_key(customer))
}

/// The customer whose documents a partition holds, as [`customer_partition`] was given it;
/// `None` for any other partition.
#[must_use]
pub fn customer_of_partition(partition: &str) -> Option<String> {
    let escaped = partition.strip_prefix("customer:")?;
    Some(percent_encoding::percent_decode_str(escaped).decode_utf8_lossy().into_owned())
}

/// The partition of a SKU's documents.
#[must_use]
pub fn item_partition(sku: &str) -> String {
    format!("item:{}", escape_key(sku))
}

/// The id of a kind's document of `version`.
#[must_use]
pub fn doc_id(kind: ModelKind, version: &str) -> String {
    let prefix = match kind {
        ModelKind::Recommend => "rec",
        ModelKind::Forecast => "fc",
        ModelKind::Segments => "seg",
    };
    format!("{prefix}.{version}")
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The SKU.
    pub sku: String,
    /// Its score (comparable within one list only).
    pub score: f32,
    /// The model part that produced it: `hybrid`, `neighbours`, `content`, `basket`,
    /// `trending`, `repurchase`.
    pub source: String,
    /// Its description, filled in when published (every document carries its own, so no
    /// catalogue-sized document is ever needed: Cosmos DB items stop at 2 MB).
    #[serde(default)]
    pub description: Option<String>,
}

/// A customer's precomputed candidates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerRecs {
    /// Unseen items, best first (more than any `k` asked, so exclusions still leave enough).
    pub candidates: Vec<Scored>,
    /// Items the customer bought, most often first (`include_purchased` ranks these).
    pub purchased: Vec<Scored>,
    /// The rest of what the customer bought, beyond `purchased` (SKUs only, up to
    /// [`MAX_PURCHASES_KEPT`] in all): never ranked, but never recommended as new either.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_purchases: Vec<String>,
    /// [`Self::bought`] as a set, built on first use and kept with the cached document, so an
    /// answer for a wholesaler with tens of thousands of SKUs does not copy them every time.
    #[serde(skip)]
    bought_set: std::sync::OnceLock<std::collections::HashSet<String>>,
}

/// Most distinct SKUs a customer document lists as bought (about 10 bytes each: half a MB,
/// within Cosmos DB's 2 MB per document).
pub const MAX_PURCHASES_KEPT: usize = 50_000;

/// Equal when the documents are (whether either has built its set yet does not count).
impl PartialEq for CustomerRecs {
    fn eq(&self, other: &Self) -> bool {
        (&self.candidates, &self.purchased, &self.other_purchases)
            == (&other.candidates, &other.purchased, &other.other_purchases)
    }
}

impl CustomerRecs {
    /// A customer's document.
    #[must_use]
    pub fn new(candidates: Vec<Scored>, purchased: Vec<Scored>, other_purchases: Vec<String>) -> Self {
        Self { candidates, purchased, other_purchases, bought_set: std::sync::OnceLock::new() }
    }

    /// Every SKU the customer bought that the document lists.
    pub fn bought(&self) -> impl Iterator<Item = &str> {
        self.purchased.iter().map(|s| s.sku.as_str()).chain(self.other_purchases.iter().map(String::as_str))
    }

    /// Whether the customer bought `sku` (as far as the document lists).
    #[must_use]
    pub fn has_bought(&self, sku: &str) -> bool {
        self.bought_set.get_or_init(|| self.bought().map(str::to_owned).collect()).contains(sku)
    }
}

/// A SKU's neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecs {
    /// Its description.
    pub description: Option<String>,
    /// Similar items: customers who bought it bought these (cosine), topped up by description
    /// similarity for items with few or no buyers.
    pub similar: Vec<Scored>,
    /// Bought in the same invoice ([`crate::recommend::cart::basket_params`]), for cart completion.
    pub bought_with: Vec<Scored>,
}

/// Shop-wide recommendation lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopRecs {
    /// Recency-weighted popularity: the cold-start answer.
    pub trending: Vec<Scored>,
    /// Products the model knows.
    pub items: usize,
    /// Customers with precomputed candidates.
    pub customers: usize,
}

/// A customer's segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerSegment {
    /// Segment number (0 = highest mean spend).
    pub segment: usize,
    /// Its name.
    pub label: String,
    /// Days since the last purchase at the model's reference date.
    pub recency_days: f64,
    /// Distinct invoices.
    pub frequency: f64,
    /// Net spend.
    pub monetary: f64,
    /// 1-5 R, F and M scores.
    pub rfm_scores: [u8; 3],
}

impl CustomerSegment {
    /// The customer's own name by the segments' rules applied to their own scores
    /// ([`crate::segments::label`]): `label` names the segment by its members' mean scores, so
    /// with few segments a customer who bought yesterday for the first time can sit in one named
    /// `hibernating`; this one says `new`.
    #[must_use]
    pub fn customer_label(&self) -> &'static str {
        crate::segments::label(self.rfm_scores.map(f64::from))
    }
}

/// The segmentation as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentsSummary {
    /// Chosen k.
    pub k: usize,
    /// Its silhouette.
    pub silhouette: f64,
    /// Profiles.
    pub segments: Vec<Segment>,
    /// The date recency is measured at.
    pub reference: Option<chrono::NaiveDateTime>,
}

/// A SKU's forecast for the days after the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemForecast {
    /// The first forecast day.
    pub first_date: NaiveDate,
    /// Daily point forecast (0 on closed days).
    pub mean: Vec<f32>,
    /// Multipliers of the point forecast giving quantile `level`: `(level, factor)`, levels
    /// 0.01..=0.99 (any level in between is interpolated).
    pub quantile_factors: Vec<(f32, f32)>,
    /// The SKU's demand class.
    pub class: String,
    /// The methods of its ensemble.
    pub methods: Vec<String>,
    /// Its largest totals over [`crate::forecast::TOTAL_SPANS`] open days in its history, which
    /// bound its totals' quantiles (empty in documents published before: no bound).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub largest_totals: Vec<f32>,
    /// Open days from its last sale to the end of its history: which spread a horizon forecast at
    /// 0 reads ([`crate::forecast::SkuModel::idle_days`]; `None` in documents published before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<u32>,
    /// The catalogue's description of the SKU (`None` when it has none, and in documents
    /// published before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The forecast model as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSummary {
    /// The first forecast day.
    pub first_date: NaiveDate,
    /// Days forecast per SKU.
    pub horizon: usize,
    /// SKUs with a forecast.
    pub skus: usize,
    /// Weekly closures.
    pub closed_weekdays: Vec<String>,
    /// Whether the shop is open on each forecast day (empty in summaries published before it).
    #[serde(default)]
    pub open: Vec<bool>,
    /// The quantile factors of totals ([`TotalTable`]; empty in summaries published before it).
    #[serde(default)]
    pub total_factors: TotalTable,
}

impl ForecastSummary {
    /// How totals spread: the factor table and the open days, when the summary holds them.
    #[must_use]
    pub fn spread(&self) -> Option<(&TotalTable, &[bool])> {
        (!self.total_factors.is_empty() && !self.open.is_empty())
            .then_some((&self.total_factors, self.open.as_slice()))
    }

    /// Whether `item` was published with this summary: the same first day and days (an item
    /// and the summary read apart could straddle a promotion).
    #[must_use]
    pub fn covers(&self, item: &ItemForecast) -> bool {
        self.first_date == item.first_date && self.open.len() == item.mean.len()
    }
}

impl ItemForecast {
    /// A day's standard deviation at point forecast `mean`: its p10-p90 spread read as a
    /// normal's, floored at a Poisson's `sqrt(mean)` (daily quantiles of intermittent demand
    /// collapse to zero when most days sell nothing, though such demand varies the most).
    #[must_use]
    pub fn sigma(&self, mean: f64) -> f64 {
        let spread = (self.factor(0.9) - self.factor(0.1)).max(0.0) * mean;
        (spread / (2.0 * crate::alerts::normal::Z_P90)).max(mean.max(0.0).sqrt())
    }

    /// Quantile `level` of the total over the days `range`. With a `spread` (the summary's
    /// [`ForecastSummary::spread`]): [`crate::forecast::running_total_quantile`] over the range's
    /// days, from factors measured on backtest totals (a range that does not start on the first
    /// day reads the factors of totals as long). Without one (documents
    /// published before it existed): normal approximation, days independent
    /// (`sum of means + z * sqrt(sum of variances)`), at least 0.
    #[must_use]
    pub fn total_quantile(
        &self,
        range: std::ops::Range<usize>,
        level: f64,
        spread: Option<(&TotalTable, &[bool])>,
    ) -> f64 {
        let days = &self.mean[range.start.min(self.mean.len())..range.end.min(self.mean.len())];
        let mean: f64 = days.iter().map(|&m| f64::from(m)).sum();
        if let Some((table, open)) = spread {
            let flags = open.get(range.start..range.end.min(open.len())).unwrap_or_default();
            let days = days.iter().map(|&m| f64::from(m)).zip(flags.iter().copied());
            if let Some(q) =
                crate::forecast::running_total_quantile(table, days, level, &self.largest(), self.idle())
            {
                return q;
            }
        }
        let variance: f64 = days.iter().map(|&m| self.sigma(f64::from(m)).powi(2)).sum();
        (mean + crate::alerts::normal::inverse_normal_cdf(level) * variance.sqrt()).max(0.0)
    }

    /// Quantile `level` of day `day`: its point forecast times [`Self::factor`], and with a
    /// `spread` at most the quantile of the total from the start of its week to itself
    /// ([`crate::forecast::cap_days_by_week`], as the forecaster caps its days).
    #[must_use]
    pub fn day_quantile(&self, day: usize, level: f64, spread: Option<(&TotalTable, &[bool])>) -> f64 {
        let factor = self.factor(level);
        let start = day - day % crate::forecast::WEEK_DAYS;
        let mean: Vec<f64> =
            self.mean.get(start..=day).unwrap_or_default().iter().map(|&m| f64::from(m)).collect();
        let mut daily: Vec<f64> = mean.iter().map(|m| m * factor).collect();
        if let Some((table, open)) = spread
            && let Some(open) = open.get(start..=day)
        {
            crate::forecast::cap_days_by_week(
                table,
                &mut daily,
                &mean,
                open,
                level,
                &self.largest(),
                self.idle(),
            );
        }
        daily.last().copied().unwrap_or(0.0)
    }

    /// [`Self::largest_totals`] as read.
    #[must_use]
    pub fn largest(&self) -> Vec<f64> {
        self.largest_totals.iter().map(|&v| f64::from(v)).collect()
    }

    /// [`Self::idle_days`] as read.
    #[must_use]
    pub fn idle(&self) -> Option<usize> {
        self.idle_days.map(|d| d as usize)
    }

    /// The factor for quantile `level`, interpolated between the stored levels.
    #[must_use]
    pub fn factor(&self, level: f64) -> f64 {
        let f = &self.quantile_factors;
        match f.iter().position(|&(l, _)| f64::from(l) >= level) {
            None => f.last().map_or(1.0, |&(_, v)| f64::from(v)),
            Some(0) => f.first().map_or(1.0, |&(_, v)| f64::from(v)),
            Some(i) => {
                let ((l0, v0), (l1, v1)) = (f[i - 1], f[i]);
                let t = (level - f64::from(l0)) / f64::from(l1 - l0).max(1e-9);
                f64::from(v0) + t * f64::from(v1 - v0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_partition_gives_its_customer_back_whatever_it_escaped() {
        for customer in ["17850", "a/b?c#d%e", "line\nbreak", "Zoë"] {
            assert_eq!(customer_of_partition(&customer_partition(customer)).as_deref(), Some(customer));
        }
        assert_eq!(customer_of_partition(&item_partition("85123A")), None);
        assert_eq!(customer_of_partition(SHOP_PARTITION), None);
    }

    #[test]
    fn a_customer_bought_what_either_list_names_and_the_set_does_not_change_equality() {
        let scored =
            |sku: &str| Scored { sku: sku.into(), score: 1.0, source: "als".into(), description: None };
        let recs = CustomerRecs::new(vec![scored("NEW")], vec![scored("A")], vec!["B".into()]);
        let read_back: CustomerRecs = serde_json::from_str(&serde_json::to_string(&recs).unwrap()).unwrap();
        assert!(read_back.has_bought("A") && read_back.has_bought("B"));
        assert!(!read_back.has_bought("NEW") && !read_back.has_bought("C"));
        assert_eq!(read_back, recs, "the built set is a cache, not content");
    }

    #[test]
    fn keys_escape_what_ids_may_not_hold_and_stay_distinct() {
        assert_eq!(escape_key("85123A"), "85123A");
        assert_eq!(escape_key("a/b?c#d%e"), "a%2Fb%3Fc%23d%25e");
        assert_ne!(escape_key("a/b"), escape_key("a%2Fb"));
        assert_eq!(customer_partition("17850"), "customer:17850");
        assert_eq!(doc_id(ModelKind::Forecast, "v1"), "fc.v1");
    }

    #[test]
    fn quantile_factors_interpolate_between_levels() {
        let f = ItemForecast {
            first_date: NaiveDate::MIN,
            mean: vec![],
            quantile_factors: vec![(0.1, 0.5), (0.5, 1.0), (0.9, 2.0)],
            class: "smooth".into(),
            methods: vec![],
            largest_totals: vec![],
            idle_days: None,
            description: None,
        };
        assert!((f.factor(0.7) - 1.5).abs() < 1e-6);
        assert!((f.factor(0.05) - 0.5).abs() < 1e-6);
        assert!((f.factor(0.99) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn totals_add_variances_and_intermittent_days_keep_a_poisson_spread() {
        let mut f = ItemForecast {
            first_date: NaiveDate::MIN,
            mean: vec![4.0, 4.0],
            quantile_factors: vec![(0.1, 0.0), (0.5, 1.0), (0.9, 2.0)],
            class: "smooth".into(),
            methods: vec![],
            largest_totals: vec![],
            idle_days: None,
            description: None,
        };
        // sigma per day = (2 - 0) * 4 / (2 * 1.28155) = 3.1213; total sd = sqrt(2) * 3.1213.
        let expected = 8.0 + 1.281_551_565_5 * (2.0f64).sqrt() * 8.0 / (2.0 * 1.281_551_565_5);
        assert!((f.total_quantile(0..2, 0.9, None) - expected).abs() < 1e-3);
        assert!((f.total_quantile(0..2, 0.5, None) - 8.0).abs() < 1e-3);
        // Collapsed daily quantiles (most days sell nothing): the spread is a Poisson's.
        f.quantile_factors = vec![(0.1, 0.0), (0.5, 0.0), (0.9, 0.0)];
        assert!((f.sigma(4.0) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_day_reads_at_most_its_weeks_quantile() {
        // A day's table says 100 times the forecast at p99; a week of such days' totals at most 3.
        let samples: Vec<(usize, f64, f64)> = [1, 2, 3, 5, 7]
            .iter()
            .flat_map(|&n| (0..=400).map(move |i| (n, 8.0, f64::from(i) / 133.0)))
            .collect();
        let summary = ForecastSummary {
            first_date: NaiveDate::MIN,
            horizon: 10,
            skus: 1,
            closed_weekdays: vec![],
            open: vec![true; 10],
            total_factors: TotalTable::from_samples(&[&samples]),
        };
        let f = ItemForecast {
            first_date: NaiveDate::MIN,
            mean: vec![1.0; 10],
            quantile_factors: vec![(0.1, 0.0), (0.5, 1.0), (0.99, 100.0)],
            class: "lumpy".into(),
            methods: vec![],
            largest_totals: vec![],
            idle_days: None,
            description: None,
        };
        let spread = summary.spread();
        // Day 3 reads at most the total of days 0-3, so never more than its week's nor the
        // horizon's, however long that runs.
        let four = f.total_quantile(0..4, 0.99, spread);
        assert!(four < 100.0, "{four}");
        assert!((f.day_quantile(3, 0.99, spread) - four).abs() < 1e-9);
        assert!(four <= f.total_quantile(0..7, 0.99, spread));
        // Day 8, the second of the second week: the total of days 7-8.
        assert!((f.day_quantile(8, 0.99, spread) - f.total_quantile(7..9, 0.99, spread)).abs() < 1e-9);
        // The median is below them; without the totals' table the daily table stands.
        assert!((f.day_quantile(3, 0.5, spread) - 1.0).abs() < 1e-6);
        assert!((f.day_quantile(3, 0.99, None) - 100.0).abs() < 1e-4);
    }

    #[test]
    fn totals_read_the_table_at_their_open_days() {
        let mut samples: Vec<(usize, f64, f64)> = (0..=400).map(|i| (1, 8.0, f64::from(i) / 200.0)).collect();
        samples.extend((0..=400).map(|i| (2, 8.0, 0.5 + f64::from(i) / 400.0)));
        let summary = ForecastSummary {
            first_date: NaiveDate::MIN,
            horizon: 3,
            skus: 1,
            closed_weekdays: vec![],
            open: vec![true, false, true],
            total_factors: TotalTable::from_samples(&[&samples]),
        };
        let f = ItemForecast {
            first_date: NaiveDate::MIN,
            mean: vec![4.0, 0.0, 4.0],
            quantile_factors: vec![(0.1, 0.0), (0.5, 1.0), (0.9, 2.0)],
            class: "smooth".into(),
            methods: vec![],
            largest_totals: vec![],
            idle_days: None,
            description: None,
        };
        assert!(summary.covers(&f));
        assert!(!summary.covers(&ItemForecast { first_date: NaiveDate::MAX, ..f.clone() }));
        let spread = summary.spread();
        // Three calendar days, two open: the span-2 factor at 0.9 is 0.5 + 0.9 = 1.4.
        assert!((f.total_quantile(0..3, 0.9, spread) - 8.0 * 1.4).abs() < 1e-5);
        // One open day (the second range starts later): the span-1 factor, 1.8.
        assert!((f.total_quantile(1..3, 0.9, spread) - 4.0 * 1.8).abs() < 1e-5);
        // Bounded by the SKU's history: never more than its forecast plus twice the most it sold
        // in as many open days (span 1: 1 unit, span 2: 1.5).
        let bounded = ItemForecast { largest_totals: vec![1.0, 1.5, 1.5], ..f.clone() };
        assert!((bounded.total_quantile(1..3, 0.9, spread) - (4.0 + 2.0)).abs() < 1e-5);
        assert!((bounded.total_quantile(0..3, 0.9, spread) - (8.0 + 3.0)).abs() < 1e-5);
        assert!(
            (bounded.total_quantile(0..3, 0.5, spread) - f.total_quantile(0..3, 0.5, spread)).abs() < 1e-9
        );
        let old = ForecastSummary { total_factors: TotalTable::default(), ..summary };
        assert_eq!(old.spread(), None, "published before the table: the caller falls back");
    }
}
