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
//! ([`TOTAL_SPANS`]), pooled over every series in groups by the forecast's size (a slow
//! seller's total spreads far wider than a fast one's); a total's quantile is its point forecast
//! times the factor at its number of open days and its size.

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

/// Samples per volume group of a span, at least (fewer samples make fewer groups).
pub const MIN_GROUP_SAMPLES: usize = 200;

/// Volume groups per span, at most.
pub const MAX_GROUPS: usize = 8;

/// The levels [`TotalTable::factor`] reads; a level outside reads the nearest end. With a few
/// hundred windows to a group, a percentile beyond these is one window's accident.
pub const TOTAL_LEVELS: (f64, f64) = (0.01, 0.99);

/// The backtest totals whose point forecast was about `forecast` units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeGroup {
    /// The median point forecast of the group's totals.
    pub forecast: f32,
    /// Percentiles 0..=100 of `sum y / sum f` in the group.
    pub percentiles: Vec<f32>,
}

/// The groups of one span, by ascending forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanGroups {
    /// Open days the totals cover.
    pub open_days: usize,
    /// Equal-count groups of the span's samples by their point forecast.
    pub groups: Vec<VolumeGroup>,
}

/// Percentiles of `sum y / sum f` over the first `n` open days of the backtest windows, for each
/// `n` of [`TOTAL_SPANS`] within the backtest horizon, and within a span by the size of the
/// forecast: a total forecast at 2 units (one order more or less doubles it) spreads far wider
/// than one forecast at 2,000, so a single table for all would be too narrow for slow sellers
/// and several times too wide for fast ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TotalTable {
    /// By ascending open days.
    pub spans: Vec<SpanGroups>,
}

impl SpanGroups {
    fn from_samples(open_days: usize, mut samples: Vec<(f64, f64)>) -> Self {
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let count = (samples.len() / MIN_GROUP_SAMPLES).clamp(1, MAX_GROUPS);
        // Equal-count cuts, each moved past samples tied with the one before it so that equal
        // forecasts share a group (within a tie the order says nothing about the ratio).
        let mut cuts = vec![0];
        for g in 1..count {
            let mut cut = (g * samples.len() / count).max(*cuts.last().unwrap_or(&0));
            while cut > 0 && cut < samples.len() && samples[cut].0 == samples[cut - 1].0 {
                cut += 1;
            }
            cuts.push(cut);
        }
        cuts.push(samples.len());
        cuts.dedup();
        let groups = cuts
            .windows(2)
            .filter(|w| w[1] > w[0])
            .map(|w| {
                let part = &samples[w[0]..w[1]];
                let forecasts: Vec<f64> = part.iter().map(|s| s.0).collect();
                let (grid, _) = percentiles(part.iter().map(|s| s.1).collect(), None);
                VolumeGroup {
                    forecast: quantile_sorted(&forecasts, 0.5) as f32,
                    percentiles: grid.into_iter().map(|v| v as f32).collect(),
                }
            })
            .collect();
        Self { open_days, groups }
    }

    /// The factor at `level` for a total forecast at `forecast` units: linear in the log of the
    /// forecast between the neighbouring groups' medians, the end groups' beyond them.
    fn factor(&self, forecast: f64, level: f64) -> f64 {
        let at = |g: &VolumeGroup| {
            let grid: Vec<f64> = g.percentiles.iter().map(|&v| f64::from(v)).collect();
            quantile_sorted(&grid, level)
        };
        let log = |v: f64| v.max(1e-6).ln();
        let upper = self.groups.iter().position(|g| f64::from(g.forecast) >= forecast);
        match upper {
            None => self.groups.last().map_or(1.0, at),
            Some(0) => at(&self.groups[0]),
            Some(i) => {
                let (g0, g1) = (&self.groups[i - 1], &self.groups[i]);
                let (x0, x1) = (log(f64::from(g0.forecast)), log(f64::from(g1.forecast)));
                let t = if x1 > x0 { (log(forecast) - x0) / (x1 - x0) } else { 1.0 };
                (1.0 - t) * at(g0) + t * at(g1)
            }
        }
    }
}

impl TotalTable {
    /// Builds the table from every series' `(open days, sum f, sum y / sum f)` samples.
    #[must_use]
    pub fn from_samples(samples: &[&[(usize, f64, f64)]]) -> Self {
        let mut by_span: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for series in samples {
            for &(n, forecast, ratio) in *series {
                by_span.entry(n).or_default().push((forecast, ratio));
            }
        }
        Self { spans: by_span.into_iter().map(|(n, s)| SpanGroups::from_samples(n, s)).collect() }
    }

    /// Whether no span has samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The multiplier of a total's point forecast `forecast` over `open_days` open days at
    /// `level` (clamped to [`TOTAL_LEVELS`]): linear between the neighbouring spans, the shortest
    /// span's below it, the longest's above. `None` when the table is empty.
    #[must_use]
    pub fn factor(&self, open_days: usize, forecast: f64, level: f64) -> Option<f64> {
        let level = level.clamp(TOTAL_LEVELS.0, TOTAL_LEVELS.1);
        let upper = self.spans.iter().position(|s| s.open_days >= open_days);
        Some(match upper {
            None => self.spans.last()?.factor(forecast, level),
            Some(0) => self.spans[0].factor(forecast, level),
            Some(i) => {
                let (s0, s1) = (&self.spans[i - 1], &self.spans[i]);
                let t = (open_days - s0.open_days) as f64 / (s1.open_days - s0.open_days) as f64;
                (1.0 - t) * s0.factor(forecast, level) + t * s1.factor(forecast, level)
            }
        })
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
    fn total_factors_interpolate_between_spans_and_between_volumes() {
        // Span 1: ratios 0..2 uniform; span 3: all 1 (a total over 3 days is always right).
        let mut samples: Vec<(usize, f64, f64)> =
            (0..=400).map(|i| (1, 10.0, f64::from(i) / 200.0)).collect();
        samples.extend((0..=400).map(|_| (3, 10.0, 1.0)));
        let table = TotalTable::from_samples(&[&samples]);
        assert!((table.factor(1, 10.0, 0.9).unwrap() - 1.8).abs() < 1e-6);
        assert!((table.factor(3, 10.0, 0.9).unwrap() - 1.0).abs() < 1e-6);
        assert!((table.factor(2, 10.0, 0.9).unwrap() - 1.4).abs() < 1e-6, "halfway between spans");
        assert!((table.factor(30, 10.0, 0.9).unwrap() - 1.0).abs() < 1e-6, "the longest span above it");
        assert_eq!(TotalTable::default().factor(3, 10.0, 0.9), None);

        // Totals forecast at about 1 unit spread 0..4, at about 100 units 0.9..1.1 (forecasts
        // nudged so their order does not follow the ratios): four groups of 200.
        let shuffled = |i: u32| f64::from((i * 7919) % 400);
        let mut samples: Vec<(usize, f64, f64)> =
            (0..400).map(|i| (5, 1.0 + f64::from(i) * 1e-6, shuffled(i) / 100.0)).collect();
        samples.extend((0..400).map(|i| (5, 100.0 + f64::from(i) * 1e-4, 0.9 + shuffled(i) / 2000.0)));
        let table = TotalTable::from_samples(&[&samples]);
        assert_eq!(table.spans[0].groups.len(), 4);
        let p90 = |forecast| table.factor(5, forecast, 0.9).unwrap();
        assert!((p90(0.5) - 3.6).abs() < 0.2, "below the smallest group: {}", p90(0.5));
        assert!((p90(1000.0) - 1.08).abs() < 0.01, "above the largest group: {}", p90(1000.0));
        assert!(p90(1.0) > p90(10.0) && p90(10.0) > p90(100.0), "narrower as the forecast grows");

        // Tied forecasts stay in one group whatever order their ratios come in.
        let tied: Vec<(usize, f64, f64)> = (0..=1000).map(|i| (5, 40.0, f64::from(i) / 1000.0)).collect();
        let table = TotalTable::from_samples(&[&tied]);
        assert_eq!(table.spans[0].groups.len(), 1);
        assert!((table.factor(5, 40.0, 0.9).unwrap() - 0.9).abs() < 1e-6);

        // Beyond the 99th percentile the table reads the 99th: one wild window (a ratio of
        // 3000 among 1000 exact ones) does not set a 0.999 quantile.
        let mut wild: Vec<(usize, f64, f64)> = (0..999).map(|_| (5, 40.0, 1.0)).collect();
        wild.push((5, 40.0, 3000.0));
        let table = TotalTable::from_samples(&[&wild]);
        assert!((table.factor(5, 40.0, 0.999).unwrap() - 1.0).abs() < 1e-6);
    }
}
