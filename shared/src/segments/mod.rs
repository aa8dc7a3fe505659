//! # Customer segments: RFM + k-means
//!
//! Per customer: recency, frequency and monetary value ([`rfm`]) from the `rfm_inputs` feature
//! table, transformed with `ln(1 + x)` (monetary clipped at 0 first: a customer whose
//! cancellations exceed their purchases has spent nothing) and standardised to zero mean and unit
//! variance. k-means (linfa, k-means++ initialisation, [`SegmentParams::restarts`] restarts,
//! fixed seed) runs for every k in `k_min..=k_max`; each k is scored by its mean [`silhouette`].
//!
//! **Choosing k.** The k with the highest silhouette among those that pass the guard against
//! degenerate splits: every cluster must hold at least [`SegmentParams::min_cluster_share`] of
//! the customers (default 2%) and at least 10 of them, so a handful of extreme outliers cannot
//! buy a cluster of their own. A caller may fix k instead.
//!
//! **Naming.** Clusters are numbered by mean monetary value, highest first, and named from their
//! mean 1-5 RFM scores (R recent = 5, F and M high = 5), first matching rule wins:
//!
//! | label | rule |
//! |---|---|
//! | `champions` | R >= 4 and F >= 4 |
//! | `loyal` | F >= 3.5 and R >= 3 |
//! | `at risk` | R < 3 and F >= 3 |
//! | `new` | R >= 4 and F < 2.5 |
//! | `hibernating` | R < 2.5 and F < 2.5 |
//! | `promising` | R >= 3 (recent, middling frequency) |
//! | `needs attention` | otherwise |
//!
//! A label used twice gets a number (`loyal 2`), in cluster order.

pub mod error;
pub mod rfm;
pub mod silhouette;

use linfa::DatasetBase;
use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

pub use error::SegmentError;
pub use rfm::{RfmTable, last_day};

/// Smallest number of customers any accepted cluster may hold.
pub const MIN_CLUSTER_CUSTOMERS: usize = 10;

/// Most segments a segmentation may have: beyond this, segments stop being something a person
/// can act on (and the sweep's cost grows with k).
pub const MAX_SEGMENTS: usize = 30;

/// How segments are computed, with documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentParams {
    /// Smallest k tried (default 2).
    pub k_min: usize,
    /// Largest k tried (default 8).
    pub k_max: usize,
    /// A fixed k instead of the sweep's choice (default none).
    pub fixed_k: Option<usize>,
    /// k-means restarts per k; the run with the lowest inertia is kept (default 10).
    pub restarts: usize,
    /// Seed of every random choice (default 42).
    pub seed: u64,
    /// Smallest share of customers any cluster may hold for its k to be chosen (default 0.02).
    pub min_cluster_share: f64,
    /// Iteration cap of one k-means run (default 300).
    pub max_iterations: u64,
    /// Convergence tolerance on centroid movement (default 1e-6).
    pub tolerance: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            k_min: 2,
            k_max: 8,
            fixed_k: None,
            restarts: 10,
            seed: 42,
            min_cluster_share: 0.02,
            max_iterations: 300,
            tolerance: 1e-6,
        }
    }
}

/// One k of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// The k.
    pub k: usize,
    /// Mean silhouette.
    pub silhouette: f64,
    /// Size of the smallest cluster.
    pub smallest: usize,
    /// Whether it passed the guard against degenerate splits.
    pub accepted: bool,
}

/// One segment's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Segment number (0 = highest mean monetary value).
    pub id: usize,
    /// Name from its RFM profile.
    pub label: String,
    /// Customers in it.
    pub size: usize,
    /// Mean days since last purchase.
    pub mean_recency_days: f64,
    /// Mean distinct invoices.
    pub mean_frequency: f64,
    /// Mean net spend.
    pub mean_monetary: f64,
    /// Mean 1-5 R, F and M scores.
    pub mean_scores: [f64; 3],
}

/// A fitted segmentation: the chosen k, the sweep, the segments and every customer's segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentModel {
    /// The parameters it was fitted with.
    pub params: SegmentParams,
    /// The chosen k.
    pub k: usize,
    /// Its mean silhouette.
    pub silhouette: f64,
    /// Every k tried.
    pub sweep: Vec<KScore>,
    /// The segments, by id.
    pub segments: Vec<Segment>,
    /// Segment id of each customer, in the order of the [`RfmTable`].
    pub assignments: Vec<usize>,
    /// Standardisation of the transformed features: means then standard deviations.
    pub scaling: [[f64; 3]; 2],
    /// Centroids in standardised space, by segment id.
    pub centroids: Vec<[f64; 3]>,
}

impl SegmentParams {
    /// Checks the parameters.
    pub fn check(&self) -> Result<(), SegmentError> {
        let bad = |m: &str| Err(SegmentError::Params(m.into()));
        if self.k_min < 2 || self.k_max < self.k_min || self.k_max > MAX_SEGMENTS {
            return Err(SegmentError::Params(format!("need 2 <= k_min <= k_max <= {MAX_SEGMENTS}")));
        }
        if self.fixed_k.is_some_and(|k| !(2..=MAX_SEGMENTS).contains(&k)) {
            return Err(SegmentError::Params(format!("a fixed k must be from 2 to {MAX_SEGMENTS}")));
        }
        if self.restarts == 0 || self.max_iterations == 0 {
            return bad("restarts and max_iterations must be positive");
        }
        if !(0.0..0.5).contains(&self.min_cluster_share) {
            return bad("min_cluster_share must be in [0, 0.5)");
        }
        Ok(())
    }

    /// Fits segments to the customers of `rfm`.
    pub fn fit(&self, rfm: &RfmTable) -> Result<SegmentModel, SegmentError> {
        self.check()?;
        let n = rfm.len();
        let ks: Vec<usize> = match self.fixed_k {
            Some(k) => vec![k],
            None => (self.k_min..=self.k_max).collect(),
        };
        let smallest_k = ks[0];
        if n / 2 < smallest_k {
            return Err(SegmentError::TooFewCustomers { customers: n, k: smallest_k });
        }
        let (points, scaling) = standardised_features(rfm);
        let data = Array2::from_shape_vec((n, 3), points.clone())
            .map_err(|e| SegmentError::KMeans(e.to_string()))?;
        let dataset = DatasetBase::from(data);
        let min_size = ((self.min_cluster_share * n as f64).ceil() as usize)
            .max(MIN_CLUSTER_CUSTOMERS.min(n / smallest_k));
        let fits: Vec<(usize, Vec<usize>, Vec<[f64; 3]>)> = ks
            .iter()
            .map(|&k| {
                let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(self.seed))
                    .n_runs(self.restarts)
                    .max_n_iterations(self.max_iterations)
                    .tolerance(self.tolerance)
                    .init_method(KMeansInit::KMeansPlusPlus)
                    .fit(&dataset)
                    .map_err(|e| SegmentError::KMeans(e.to_string()))?;
                let labels = model.predict(&dataset).to_vec();
                let centroids = model.centroids().rows().into_iter().map(|r| [r[0], r[1], r[2]]).collect();
                Ok((k, labels, centroids))
            })
            .collect::<Result<_, SegmentError>>()?;
        let labelings: Vec<(&[usize], usize)> =
            fits.iter().map(|(k, labels, _)| (labels.as_slice(), *k)).collect();
        let silhouettes = silhouette::silhouettes(&points, 3, &labelings, self.seed);
        let sweep: Vec<KScore> = fits
            .iter()
            .zip(silhouettes)
            .map(|((k, labels, _), silhouette)| {
                let mut sizes = vec![0usize; *k];
                for &l in labels {
                    sizes[l] += 1;
                }
                let smallest = sizes.iter().copied().min().unwrap_or(0);
                KScore {
                    k: *k,
                    silhouette,
                    smallest,
                    accepted: smallest >= min_size || self.fixed_k.is_some(),
                }
            })
            .collect();
        let best = sweep
            .iter()
            .enumerate()
            .filter(|(_, s)| s.accepted)
            .max_by(|(_, a), (_, b)| a.silhouette.total_cmp(&b.silhouette))
            .map(|(i, _)| i)
            .ok_or(SegmentError::AllDegenerate { k_min: self.k_min, k_max: self.k_max, min_size })?;
        if let Some(k) = self.fixed_k
            && sweep[best].smallest == 0
        {
            return Err(SegmentError::EmptySegment { k });
        }
        let (k, labels, centroids) = fits.into_iter().nth(best).expect("best indexes the fits");
        Ok(self.describe(rfm, k, sweep[best].silhouette, sweep, &labels, &centroids, scaling))
    }

    #[allow(clippy::too_many_arguments)]
    fn describe(
        &self,
        rfm: &RfmTable,
        k: usize,
        silhouette: f64,
        sweep: Vec<KScore>,
        labels: &[usize],
        centroids: &[[f64; 3]],
        scaling: [[f64; 3]; 2],
    ) -> SegmentModel {
        let scores = rfm.scores();
        let mut sums = vec![[0.0f64; 7]; k];
        for (i, &c) in labels.iter().enumerate() {
            let s = &mut sums[c];
            s[0] += 1.0;
            s[1] += rfm.recency_days[i];
            s[2] += rfm.frequency[i];
            s[3] += rfm.monetary[i];
            for (j, score) in scores[i].iter().enumerate() {
                s[4 + j] += f64::from(*score);
            }
        }
        // Number clusters by mean monetary value, highest first.
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            (sums[b][3] / sums[b][0].max(1.0)).total_cmp(&(sums[a][3] / sums[a][0].max(1.0)))
        });
        let mut id_of = vec![0usize; k];
        for (id, &cluster) in order.iter().enumerate() {
            id_of[cluster] = id;
        }
        let mut used: Vec<String> = Vec::new();
        let segments: Vec<Segment> = order
            .iter()
            .enumerate()
            .map(|(id, &cluster)| {
                let s = sums[cluster];
                let size = s[0].max(1.0);
                let mean_scores = [s[4] / size, s[5] / size, s[6] / size];
                let base = label(mean_scores);
                let count = used.iter().filter(|l| l.as_str() == base).count();
                used.push(base.to_owned());
                let label = if count == 0 { base.to_owned() } else { format!("{base} {}", count + 1) };
                Segment {
                    id,
                    label,
                    size: s[0] as usize,
                    mean_recency_days: s[1] / size,
                    mean_frequency: s[2] / size,
                    mean_monetary: s[3] / size,
                    mean_scores,
                }
            })
            .collect();
        SegmentModel {
            params: self.clone(),
            k,
            silhouette,
            sweep,
            segments,
            assignments: labels.iter().map(|&c| id_of[c]).collect(),
            scaling,
            centroids: order.iter().map(|&c| centroids[c]).collect(),
        }
    }
}

/// The label of a cluster from its mean R, F and M scores (rules in the module docs).
#[must_use]
pub fn label(mean_scores: [f64; 3]) -> &'static str {
    let [r, f, _m] = mean_scores;
    if r >= 4.0 && f >= 4.0 {
        "champions"
    } else if f >= 3.5 && r >= 3.0 {
        "loyal"
    } else if r < 3.0 && f >= 3.0 {
        "at risk"
    } else if r >= 4.0 && f < 2.5 {
        "new"
    } else if r < 2.5 && f < 2.5 {
        "hibernating"
    } else if r >= 3.0 {
        "promising"
    } else {
        "needs attention"
    }
}

/// `ln(1 + x)` of recency, frequency and monetary (clipped at 0), standardised; returns the
/// points row-major and the means and standard deviations used.
#[must_use]
pub fn standardised_features(rfm: &RfmTable) -> (Vec<f64>, [[f64; 3]; 2]) {
    let n = rfm.len();
    let mut raw = Vec::with_capacity(n * 3);
    for i in 0..n {
        raw.push(rfm.recency_days[i].max(0.0).ln_1p());
        raw.push(rfm.frequency[i].max(0.0).ln_1p());
        raw.push(rfm.monetary[i].max(0.0).ln_1p());
    }
    let mut means = [0.0; 3];
    let mut stds = [0.0; 3];
    for d in 0..3 {
        let column = raw.iter().skip(d).step_by(3);
        let mean = column.clone().sum::<f64>() / n.max(1) as f64;
        let var = column.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(1) as f64;
        means[d] = mean;
        stds[d] = if var > 0.0 { var.sqrt() } else { 1.0 };
    }
    for (i, v) in raw.iter_mut().enumerate() {
        *v = (*v - means[i % 3]) / stds[i % 3];
    }
    (raw, [means, stds])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(groups: &[(usize, f64, f64, f64)]) -> RfmTable {
        let mut t = RfmTable::default();
        let mut id = 0;
        for &(count, r, f, m) in groups {
            for j in 0..count {
                let jitter = (j % 7) as f64 * 0.01;
                t.customers.push(format!("c{id}"));
                t.recency_days.push(r * (1.0 + jitter));
                t.frequency.push(f * (1.0 + jitter));
                t.monetary.push(m * (1.0 + jitter));
                id += 1;
            }
        }
        t
    }

    #[test]
    fn well_separated_groups_are_found_and_named_from_their_profile() {
        let rfm = table(&[(60, 2.0, 40.0, 9000.0), (60, 300.0, 1.0, 50.0), (60, 5.0, 1.0, 80.0)]);
        let model = SegmentParams::default().fit(&rfm).unwrap();
        assert_eq!(model.k, 3, "sweep: {:?}", model.sweep);
        assert!(model.silhouette > 0.8, "{}", model.silhouette);
        let labels: Vec<&str> = model.segments.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels[0], "champions", "the richest segment is id 0: {labels:?}");
        assert_eq!(labels[2], "hibernating", "the lapsed, low-value group: {labels:?}");
        assert_eq!(model.assignments[0], 0);
        assert_eq!(model.segments.iter().map(|s| s.size).sum::<usize>(), 180);
    }

    #[test]
    fn a_handful_of_outliers_cannot_buy_a_cluster_of_their_own() {
        let rfm = table(&[(200, 10.0, 5.0, 500.0), (200, 200.0, 1.0, 40.0), (3, 1.0, 900.0, 5_000_000.0)]);
        let model = SegmentParams::default().fit(&rfm).unwrap();
        assert!(model.segments.iter().all(|s| s.size >= 10), "{:?}", model.segments);
        assert!(model.sweep.iter().any(|s| !s.accepted), "some k isolated the outliers and was refused");
    }

    #[test]
    fn a_fixed_k_that_leaves_a_segment_empty_or_is_out_of_range_is_refused() {
        let identical: RfmTable = {
            let mut t = table(&[(100, 5.0, 3.0, 300.0)]);
            t.recency_days.fill(5.0);
            t.frequency.fill(3.0);
            t.monetary.fill(300.0);
            t
        };
        let fixed = |k| SegmentParams { fixed_k: Some(k), ..SegmentParams::default() };
        let error = fixed(2).fit(&identical).unwrap_err();
        assert!(matches!(error, SegmentError::EmptySegment { k: 2 }), "{error}");
        for k in [1, MAX_SEGMENTS + 1, usize::MAX / 2 + 1, usize::MAX] {
            let error = fixed(k).fit(&identical).unwrap_err();
            assert!(matches!(error, SegmentError::Params(_)), "k = {k}: {error}");
        }
        let few = table(&[(5, 5.0, 3.0, 300.0)]);
        let error = fixed(3).fit(&few).unwrap_err();
        assert!(error.to_string().contains("5 customers cannot form 3 segments"), "{error}");
    }

    #[test]
    fn the_same_seed_gives_the_same_segments() {
        let rfm = table(&[(50, 3.0, 10.0, 900.0), (50, 100.0, 2.0, 100.0), (50, 30.0, 4.0, 300.0)]);
        let a = SegmentParams::default().fit(&rfm).unwrap();
        let b = SegmentParams::default().fit(&rfm).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_customer_who_bought_once_yesterday_is_new_whatever_the_segment_is_called() {
        let customer = crate::serving::CustomerSegment {
            segment: 1,
            label: "hibernating".into(),
            recency_days: 0.0,
            frequency: 1.0,
            monetary: 10.0,
            rfm_scores: [5, 1, 1],
        };
        assert_eq!(customer.customer_label(), "new");
    }

    #[test]
    fn labels_follow_the_documented_rules() {
        assert_eq!(label([4.5, 4.2, 4.8]), "champions");
        assert_eq!(label([3.2, 3.8, 3.0]), "loyal");
        assert_eq!(label([1.8, 3.4, 3.5]), "at risk");
        assert_eq!(label([4.6, 1.5, 1.9]), "new");
        assert_eq!(label([1.2, 1.3, 1.4]), "hibernating");
        assert_eq!(label([3.4, 2.8, 2.5]), "promising");
        assert_eq!(label([2.7, 2.6, 2.0]), "needs attention");
    }
}
