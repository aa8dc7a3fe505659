//! Prediction quantiles from backtest errors: empirical quantiles of `y / f` (actual over point
//! forecast) at every backtest point with `f > 0`, pooled over the series of one demand class.
//! A quantile at level `q` is then `f * Q_class(q)`: a multiplicative error model, so a series'
//! band scales with its level, and pooling gives each class thousands of samples where one
//! series has a few dozen.
//!
//! The total over several days needs its own table: forecast errors persist (a forecast too low
//! stays too low for weeks), so a total's spread is far wider than the daily bands summed as if
//! days were independent (on the Online Retail top 500 such a p10-p90 of the 28-day total covered
//! 21-30 % of the actual totals). [`TotalTable`] holds empirical quantiles of
//! `sum y / sum f` over the first `n` open days of every backtest origin, for a ladder of `n`
//! ([`TOTAL_SPANS`]), pooled per class the same way; a total's quantile is its point forecast
//! times the factor at its number of open days.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::classify::DemandClass;
use super::metrics::quantile_sorted;

/// Fewer pooled samples than this and a class borrows the all-class table.
pub const MIN_CLASS_SAMPLES: usize = 200;

/// Percentiles 0..=100 of `y / f` per demand class, plus all classes together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileTable {
    /// 101 percentiles per class with enough samples, and the class's level stretch.
    pub by_class: BTreeMap<DemandClass, (Vec<f64>, f64)>,
    /// 101 percentiles of every sample (the fallback), and its level stretch.
    pub all: (Vec<f64>, f64),
}

/// The stretch `s` of levels (`q -> 0.5 + s (q - 0.5)`) at which the p10-p90 interval covers
/// `target` of the samples (bisection; 1 when no target). With many zero actuals p10 is 0 and
/// covers every zero, so the raw interval covers more than 80 %: the stretch narrows it.
fn stretch(sorted: &[f64], grid: &[f64], target: Option<f64>) -> f64 {
    let Some(target) = target else { return 1.0 };
    if sorted.is_empty() {
        return 1.0;
    }
    let covered = |s: f64| {
        let lo = quantile_sorted(grid, 0.5 - 0.4 * s);
        let hi = quantile_sorted(grid, 0.5 + 0.4 * s);
        sorted.iter().filter(|&&z| lo <= z && z <= hi).count() as f64 / sorted.len() as f64
    };
    let (mut a, mut b) = (0.0, 1.25);
    for _ in 0..30 {
        let m = f64::midpoint(a, b);
        if covered(m) < target { a = m } else { b = m }
    }
    b
}

fn percentiles(mut samples: Vec<f64>, target: Option<f64>) -> (Vec<f64>, f64) {
    samples.sort_by(f64::total_cmp);
    if samples.is_empty() {
        return (vec![1.0; 101], 1.0);
    }
    let grid: Vec<f64> = (0..=100).map(|p| quantile_sorted(&samples, f64::from(p) / 100.0)).collect();
    let s = stretch(&samples, &grid, target);
    (grid, s)
}

impl QuantileTable {
    /// Builds the table from `(class, ratios)` of every series.
    #[must_use]
    pub fn from_samples(samples: &[(DemandClass, &[f64])], interval_coverage: Option<f64>) -> Self {
        let mut pooled: BTreeMap<DemandClass, Vec<f64>> = BTreeMap::new();
        let mut all = Vec::new();
        for (class, ratios) in samples {
            pooled.entry(*class).or_default().extend_from_slice(ratios);
            all.extend_from_slice(ratios);
        }
        let by_class = pooled
            .into_iter()
            .filter(|(_, s)| s.len() >= MIN_CLASS_SAMPLES)
            .map(|(class, s)| (class, percentiles(s, interval_coverage)))
            .collect();
        Self { by_class, all: percentiles(all, interval_coverage) }
    }

    /// The multiplier of the point forecast at `level` for a series of `class`.
    #[must_use]
    pub fn factor(&self, class: DemandClass, level: f64) -> f64 {
        let (grid, stretch) = self.by_class.get(&class).unwrap_or(&self.all);
        quantile_sorted(grid, 0.5 + stretch * (level - 0.5))
    }
}

/// Open-day spans at which [`TotalTable`] keeps percentiles (those within the backtest's
/// horizon are filled; a longer total reads the longest span filled).
pub const TOTAL_SPANS: [usize; 12] = [1, 2, 3, 5, 7, 10, 14, 18, 24, 36, 48, 77];

/// Percentiles 0..=100 of `sum y / sum f` over the first `n` open days of a backtest window, for
/// each `n` of [`TOTAL_SPANS`] with enough samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanTable {
    /// `(n, 101 percentiles)`, `n` ascending.
    pub spans: Vec<(usize, Vec<f32>)>,
}

impl SpanTable {
    fn from_samples(samples: &BTreeMap<usize, Vec<f64>>, min_samples: usize) -> Self {
        let spans = samples
            .iter()
            .filter(|(_, s)| s.len() >= min_samples)
            .map(|(&n, s)| {
                let (grid, _) = percentiles(s.clone(), None);
                (n, grid.into_iter().map(|v| v as f32).collect())
            })
            .collect();
        Self { spans }
    }

    /// Whether no span has a table.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The multiplier of the point forecast of a total over `open_days` open days at `level`:
    /// linear between the neighbouring spans, the shortest span's below it, the longest's above.
    /// `None` when the table is empty.
    #[must_use]
    pub fn factor(&self, open_days: usize, level: f64) -> Option<f64> {
        let at = |grid: &[f32]| {
            let grid: Vec<f64> = grid.iter().map(|&v| f64::from(v)).collect();
            quantile_sorted(&grid, level)
        };
        let upper = self.spans.iter().position(|(n, _)| *n >= open_days);
        Some(match upper {
            None => at(&self.spans.last()?.1),
            Some(0) => at(&self.spans[0].1),
            Some(i) => {
                let ((n0, g0), (n1, g1)) = (&self.spans[i - 1], &self.spans[i]);
                let t = (open_days - n0) as f64 / (n1 - n0) as f64;
                (1.0 - t) * at(g0) + t * at(g1)
            }
        })
    }
}

/// [`SpanTable`]s per demand class, plus all classes together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TotalTable {
    /// Classes with enough samples at a span at least.
    pub by_class: BTreeMap<DemandClass, SpanTable>,
    /// Every sample (the fallback).
    pub all: SpanTable,
}

impl TotalTable {
    /// Builds the table from `(class, [(open days, ratio)])` of every series; a class's span
    /// needs [`MIN_CLASS_SAMPLES`] samples, or the class reads the all-class table.
    #[must_use]
    pub fn from_samples(samples: &[(DemandClass, &[(usize, f64)])]) -> Self {
        let mut pooled: BTreeMap<DemandClass, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
        let mut all: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for (class, ratios) in samples {
            let class = pooled.entry(*class).or_default();
            for &(n, ratio) in *ratios {
                class.entry(n).or_default().push(ratio);
                all.entry(n).or_default().push(ratio);
            }
        }
        let all = SpanTable::from_samples(&all, 1);
        let by_class = pooled
            .iter()
            .map(|(class, s)| (*class, SpanTable::from_samples(s, MIN_CLASS_SAMPLES)))
            .filter(|(_, t)| t.spans.len() == all.spans.len())
            .collect();
        Self { by_class, all }
    }

    /// The table a series of `class` reads.
    #[must_use]
    pub fn for_class(&self, class: DemandClass) -> &SpanTable {
        self.by_class.get(&class).unwrap_or(&self.all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_are_empirical_quantiles_of_actual_over_forecast() {
        let ratios: Vec<f64> = (0..=400).map(|i| f64::from(i) / 200.0).collect(); // 0..2 uniform
        let table = QuantileTable::from_samples(&[(DemandClass::Smooth, &ratios)], None);
        assert!((table.factor(DemandClass::Smooth, 0.1) - 0.2).abs() < 1e-9);
        assert!((table.factor(DemandClass::Smooth, 0.5) - 1.0).abs() < 1e-9);
        // A class without samples uses the pooled table.
        assert!((table.factor(DemandClass::Lumpy, 0.9) - 1.8).abs() < 1e-9);
    }

    #[test]
    fn calibration_narrows_an_interval_widened_by_zeros() {
        // Half the actuals are 0: the raw p10-p90 interval [0, Q90] covers 90 %.
        let mut ratios = vec![0.0; 500];
        ratios.extend((1..=500).map(|i| f64::from(i) / 250.0));
        let table = QuantileTable::from_samples(&[(DemandClass::Lumpy, &ratios)], Some(0.8));
        let (lo, hi) = (table.factor(DemandClass::Lumpy, 0.1), table.factor(DemandClass::Lumpy, 0.9));
        let covered = ratios.iter().filter(|&&z| lo <= z && z <= hi).count() as f64 / ratios.len() as f64;
        assert!((covered - 0.8).abs() < 0.01, "{covered}");
    }

    #[test]
    fn total_factors_interpolate_between_spans_and_fall_back_to_all_classes() {
        // Span 1: ratios 0..2 uniform; span 3: all 1 (a total over 3 days is always right).
        let mut samples: Vec<(usize, f64)> = (0..=400).map(|i| (1, f64::from(i) / 200.0)).collect();
        samples.extend((0..=400).map(|_| (3, 1.0)));
        let table = TotalTable::from_samples(&[(DemandClass::Smooth, &samples)]);
        let smooth = table.for_class(DemandClass::Smooth);
        assert!((smooth.factor(1, 0.9).unwrap() - 1.8).abs() < 1e-6);
        assert!((smooth.factor(3, 0.9).unwrap() - 1.0).abs() < 1e-6);
        assert!((smooth.factor(2, 0.9).unwrap() - 1.4).abs() < 1e-6, "halfway between spans");
        assert!((smooth.factor(30, 0.9).unwrap() - 1.0).abs() < 1e-6, "the longest span above it");
        // A class without samples reads the pooled table; an empty table has no factor.
        assert_eq!(table.for_class(DemandClass::Lumpy), &table.all);
        assert_eq!(SpanTable::default().factor(3, 0.9), None);
    }
}
