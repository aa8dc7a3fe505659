//! Distribution shift of the training data between versions: the population stability index
//! (PSI) of key features, binned at the previous training data's deciles.
//!
//! PSI = sum over bins of `(p_new - p_old) * ln(p_new / p_old)`, proportions floored at 1e-4.
//! Rule of thumb used by credit-risk teams since the 1990s: below 0.1 stable, 0.1 to 0.25 some
//! shift, above 0.25 a shift worth a look; the flag threshold is [`DEFAULT_PSI_THRESHOLD`]
//! (setting `SHOPSENSE_DRIFT_PSI_THRESHOLD`).

use serde::{Deserialize, Serialize};

/// PSI above which a feature is flagged.
pub const DEFAULT_PSI_THRESHOLD: f64 = 0.25;

/// Bins per feature (deciles).
const BINS: usize = 10;

/// Smallest proportion used in the PSI (an empty bin would otherwise be infinite).
const FLOOR: f64 = 1e-4;

/// One feature's distribution: its decile edges and the share of values in each bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The feature's name.
    pub feature: String,
    /// The 9 inner decile edges (bins are `(-inf, e0], (e0, e1], ..., (e8, inf)`).
    pub edges: Vec<f64>,
    /// Share of values per bin.
    pub shares: Vec<f64>,
    /// How many values.
    pub count: usize,
    /// Their mean.
    pub mean: f64,
}

/// The training data's profile, stored with each version for the next one to compare with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The binned features.
    pub features: Vec<Distribution>,
}

/// One feature's shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// The feature.
    pub feature: String,
    /// Its PSI against the previous version's data.
    pub psi: f64,
    /// Previous and current mean.
    pub means: (f64, f64),
    /// Whether the PSI passed the threshold.
    pub flagged: bool,
}

/// Drift of one training run against the previous version's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The version compared with.
    pub against: String,
    /// The flag threshold used.
    pub threshold: f64,
    /// Every feature present in both profiles.
    pub features: Vec<FeatureDrift>,
    /// Whether any feature was flagged.
    pub flagged: bool,
}

fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e < x)
}

impl Distribution {
    /// Deciles and shares of `values` (non-finite values dropped).
    #[must_use]
    pub fn of(feature: &str, values: &[f64]) -> Self {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let edges: Vec<f64> =
            if n == 0 { Vec::new() } else { (1..BINS).map(|q| sorted[(q * n / BINS).min(n - 1)]).collect() };
        let edges = {
            let mut e = edges;
            e.dedup();
            e
        };
        let shares = shares(&edges, &sorted);
        let mean = if n == 0 { 0.0 } else { sorted.iter().sum::<f64>() / n as f64 };
        Self { feature: feature.to_owned(), edges, shares, count: n, mean }
    }

    /// PSI of `current` values against this distribution's bins.
    #[must_use]
    pub fn psi(&self, current_values: &[f64]) -> f64 {
        let finite: Vec<f64> = current_values.iter().copied().filter(|v| v.is_finite()).collect();
        let new_shares = shares(&self.edges, &finite);
        self.shares
            .iter()
            .zip(&new_shares)
            .map(|(&old, &new)| {
                let (old, new) = (old.max(FLOOR), new.max(FLOOR));
                (new - old) * (new / old).ln()
            })
            .sum()
    }
}

fn shares(edges: &[f64], values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; edges.len() + 1];
    for &v in values {
        counts[bin_of(edges, v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / n).collect()
}

impl Profile {
    /// The profile of named feature values.
    #[must_use]
    pub fn of(features: &[(&str, Vec<f64>)]) -> Self {
        Self { features: features.iter().map(|(name, values)| Distribution::of(name, values)).collect() }
    }

    /// Drift of `values` (the current data, by feature name) against this (previous) profile.
    #[must_use]
    pub fn drift(
        &self,
        against: &str,
        current: &Self,
        values: &[(&str, Vec<f64>)],
        threshold: f64,
    ) -> DriftReport {
        let mut features = Vec::new();
        for old in &self.features {
            let (Some(new), Some((_, raw))) = (
                current.features.iter().find(|d| d.feature == old.feature),
                values.iter().find(|(name, _)| *name == old.feature),
            ) else {
                continue;
            };
            let psi = old.psi(raw);
            features.push(FeatureDrift {
                feature: old.feature.clone(),
                psi,
                means: (old.mean, new.mean),
                flagged: psi > threshold,
            });
        }
        let flagged = features.iter().any(|f| f.flagged);
        DriftReport { against: against.to_owned(), threshold, features, flagged }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, scale: f64, shift: f64) -> Vec<f64> {
        (0..n).map(|i| shift + scale * ((i * 7919) % n) as f64 / n as f64).collect()
    }

    #[test]
    fn the_same_distribution_has_a_psi_near_zero_and_a_shifted_one_is_flagged() {
        let old = values(1000, 10.0, 0.0);
        let previous = Profile::of(&[("basket_size", old.clone())]);
        let same = vec![("basket_size", values(500, 10.0, 0.0))];
        let report = previous.drift("v1", &Profile::of(&same), &same, DEFAULT_PSI_THRESHOLD);
        assert!(report.features[0].psi < 0.01, "{report:?}");
        assert!(!report.flagged);
        let shifted = vec![("basket_size", values(500, 10.0, 5.0))];
        let report = previous.drift("v1", &Profile::of(&shifted), &shifted, DEFAULT_PSI_THRESHOLD);
        assert!(report.features[0].psi > 1.0, "{report:?}");
        assert!(report.flagged);
        assert!((report.features[0].means.1 - report.features[0].means.0 - 5.0).abs() < 0.1);
    }

    #[test]
    fn a_hand_worked_psi() {
        // Two bins with edge 1: old shares (0.5, 0.5), new (0.25, 0.75).
        let old = Distribution {
            feature: "x".into(),
            edges: vec![1.0],
            shares: vec![0.5, 0.5],
            count: 4,
            mean: 1.0,
        };
        let new_values = [0.0, 2.0, 2.0, 2.0];
        let expected = (0.25 - 0.5) * (0.25f64 / 0.5).ln() + (0.75 - 0.5) * (0.75f64 / 0.5).ln();
        assert!((old.psi(&new_values) - expected).abs() < 1e-12);
    }
}
