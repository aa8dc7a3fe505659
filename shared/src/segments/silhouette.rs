//! The mean silhouette coefficient (Rousseeuw 1987) with Euclidean distance, as scikit-learn's
//! `silhouette_score` computes it: for each point, `a` = mean distance to the other members of
//! its cluster, `b` = the smallest mean distance to another cluster's members,
//! `s = (b - a) / max(a, b)`, and 0 for members of singleton clusters.
//!
//! Exact (all pairs, in parallel) up to [`EXACT_LIMIT`] points; above that, over a seeded
//! sample of that many points (like scikit-learn's `sample_size`), so the k sweep stays fast at
//! any scale.

use rayon::prelude::*;

/// Largest number of points scored exactly.
pub const EXACT_LIMIT: usize = 20_000;

/// Mean silhouette of `points` (rows of `dims` values) under `labels` (0..k).
#[must_use]
pub fn silhouette(points: &[f64], dims: usize, labels: &[usize], k: usize, seed: u64) -> f64 {
    silhouettes(points, dims, &[(labels, k)], seed)[0]
}

/// Mean silhouettes of several labelings of the same points in one pass over the pairs: each
/// distance is computed once and added to every labeling's per-cluster sums (a k sweep costs
/// little more than one k).
#[must_use]
pub fn silhouettes(points: &[f64], dims: usize, labelings: &[(&[usize], usize)], seed: u64) -> Vec<f64> {
    let n = points.len() / dims.max(1);
    if n < 2 {
        return vec![0.0; labelings.len()];
    }
    let chosen: Vec<usize> = if n <= EXACT_LIMIT { (0..n).collect() } else { sample(n, EXACT_LIMIT, seed) };
    // Offsets of each labeling's sums in one flat per-point buffer.
    let mut offsets = Vec::with_capacity(labelings.len());
    let mut width = 0;
    for (_, k) in labelings {
        offsets.push(width);
        width += k;
    }
    let sizes: Vec<Vec<usize>> = labelings
        .iter()
        .map(|(labels, k)| {
            let mut sizes = vec![0usize; *k];
            for &i in &chosen {
                sizes[labels[i]] += 1;
            }
            sizes
        })
        .collect();
    let row = |i: usize| &points[i * dims..(i + 1) * dims];
    // Per-point values in parallel, summed in order: the result is the same on every run.
    let per_point: Vec<Vec<f64>> = chosen
        .par_iter()
        .map(|&i| {
            let mut sums = vec![0.0f64; width];
            let p = row(i);
            for &j in &chosen {
                let q = row(j);
                let d = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
                for ((labels, _), offset) in labelings.iter().zip(&offsets) {
                    sums[offset + labels[j]] += d;
                }
            }
            labelings
                .iter()
                .zip(&offsets)
                .zip(&sizes)
                .map(|(((labels, k), offset), sizes)| {
                    let sums = &sums[*offset..offset + k];
                    point_silhouette(sums, sizes, labels[i])
                })
                .collect()
        })
        .collect();
    (0..labelings.len())
        .map(|l| {
            if labelings[l].1 < 2 {
                return 0.0;
            }
            per_point.iter().map(|v| v[l]).sum::<f64>() / chosen.len() as f64
        })
        .collect()
}

/// One point's silhouette from its distance sums to each cluster.
fn point_silhouette(sums: &[f64], sizes: &[usize], own: usize) -> f64 {
    if sizes[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (sizes[own] - 1) as f64;
    let b = (0..sizes.len())
        .filter(|&c| c != own && sizes[c] > 0)
        .map(|c| sums[c] / sizes[c] as f64)
        .fold(f64::INFINITY, f64::min);
    if !b.is_finite() {
        return 0.0;
    }
    let denominator = a.max(b);
    if denominator > 0.0 { (b - a) / denominator } else { 0.0 }
}

/// `m` distinct indices of `0..n`, chosen by a seeded partial Fisher–Yates shuffle.
fn sample(n: usize, m: usize, seed: u64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    for i in 0..m {
        // splitmix64: a fixed, documented generator, so samples are reproducible everywhere.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let j = i + (z % (n - i) as u64) as usize;
        indices.swap(i, j);
    }
    indices.truncate(m);
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_worked_two_cluster_case_matches() {
        // Points on a line: 0, 1 | 5, 6 (clusters 0 and 1).
        // Point 0: a = 1, b = (5 + 6) / 2 = 5.5, s = 4.5 / 5.5.
        // Point 1: a = 1, b = (4 + 5) / 2 = 4.5, s = 3.5 / 4.5. Symmetric for 5 and 6.
        let s = silhouette(&[0.0, 1.0, 5.0, 6.0], 1, &[0, 0, 1, 1], 2, 0);
        let expected = (4.5 / 5.5 + 3.5 / 4.5) / 2.0;
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
    }

    #[test]
    fn singletons_score_zero_and_one_cluster_scores_zero() {
        let s = silhouette(&[0.0, 1.0, 10.0], 1, &[0, 0, 1], 2, 0);
        let point0 = (10.0 - 1.0) / 10.0;
        let point1 = (9.0 - 1.0) / 9.0;
        assert!((s - (point0 + point1) / 3.0).abs() < 1e-12);
        assert_eq!(silhouette(&[0.0, 1.0], 1, &[0, 0], 1, 0), 0.0);
    }

    #[test]
    fn one_pass_over_several_labelings_equals_each_alone() {
        let points = [0.0, 1.0, 5.0, 6.0, 9.0, 11.0];
        let two = [0, 0, 1, 1, 1, 1];
        let three = [0, 0, 1, 1, 2, 2];
        let both = silhouettes(&points, 1, &[(&two, 2), (&three, 3)], 0);
        assert_eq!(both[0], silhouette(&points, 1, &two, 2, 0));
        assert_eq!(both[1], silhouette(&points, 1, &three, 3, 0));
    }

    #[test]
    fn samples_are_distinct_and_reproducible() {
        let a = sample(1000, 100, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 100);
        assert_eq!(a, sample(1000, 100, 7));
    }
}
