//! Prediction quantiles from backtest errors: empirical quantiles of `y / f` (actual over point
//! forecast) at every backtest point with `f > 0`, pooled over the series of one demand class.
//! A quantile at level `q` is then `f * Q_class(q)`: a multiplicative error model, so a series'
//! band scales with its level, and pooling gives each class thousands of samples where one
//! series has a few dozen.

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
}
