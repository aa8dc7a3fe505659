//! Clusters of item factors for maximum inner-product search over a large catalogue.
//!
//! Scoring every item for every user is `users x items x factors` multiply-adds: 6.4 · 10¹²
//! for 1M customers x 100k SKUs x 64 factors, hours on two cores. Instead the item factors
//! are grouped by k-means (Lloyd's iterations from a seeded sample, Euclidean, as an IVF index
//! does), and each cluster keeps its centroid `c` and radius `r = max ||y_i - c||`. For a user
//! `x`, every item of the cluster scores at most `x·c + ||x|| r` (Cauchy-Schwarz), so clusters
//! can be visited best bound first and the visit stopped once no unvisited cluster can beat the
//! current k-th best (then the result is exact) or a scan budget is spent (then it is an
//! approximation whose recall `shopsense bench scale` measures).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::dot;
use crate::recommend::split::SplitMix64;

/// Item factors grouped into clusters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InnerProductIndex {
    /// Factors per vector.
    pub factors: usize,
    /// Clusters x factors, row-major.
    pub centroids: Vec<f32>,
    /// Largest distance of a member from its centroid, per cluster.
    pub radius: Vec<f32>,
    /// Cluster `c` holds `members[indptr[c]..indptr[c + 1]]`, ascending item indices.
    pub indptr: Vec<usize>,
    /// Item indices grouped by cluster.
    pub members: Vec<u32>,
    /// The cluster of each item.
    pub assignment: Vec<u32>,
}

fn distance2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centroid to `v` (ties: the lower cluster): the smallest `||c||² - 2 v·c`,
/// through the vectorised [`dot`].
fn nearest(v: &[f32], centroids: &[f32], norms: &[f32], f: usize) -> usize {
    let mut best = (0, f32::INFINITY);
    for (c, centroid) in centroids.chunks_exact(f).enumerate() {
        let d = norms[c] - 2.0 * dot(v, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
}

fn norms(centroids: &[f32], f: usize) -> Vec<f32> {
    centroids.chunks_exact(f).map(|c| dot(c, c)).collect()
}

impl InnerProductIndex {
    /// Clusters `vectors` (`n x f`, row-major) into about `clusters` groups: `iterations` Lloyd
    /// steps on a seeded sample of at most 64 vectors per cluster, then every vector is
    /// assigned to its nearest centroid. Deterministic for a seed, whatever the thread count.
    ///
    /// # Panics
    /// When `f` is 0 or does not divide `vectors.len()`.
    #[must_use]
    pub fn build(vectors: &[f32], f: usize, clusters: usize, iterations: usize, seed: u64) -> Self {
        assert!(f > 0 && vectors.len().is_multiple_of(f), "vectors must be n x f");
        let n = vectors.len() / f;
        let k = clusters.clamp(1, n.max(1));
        let mut rng = SplitMix64::new(seed);
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let sample: Vec<usize> = order[..n.min(64 * k)].to_vec();
        let mut centroids: Vec<f32> =
            order[..k].iter().flat_map(|&i| vectors[i * f..(i + 1) * f].to_vec()).collect();
        for _ in 0..iterations {
            let norm = norms(&centroids, f);
            let assigned: Vec<usize> = sample
                .par_iter()
                .map(|&i| nearest(&vectors[i * f..(i + 1) * f], &centroids, &norm, f))
                .collect();
            let mut sums = vec![0f64; k * f];
            let mut counts = vec![0usize; k];
            for (&i, &c) in sample.iter().zip(&assigned) {
                counts[c] += 1;
                sums[c * f..(c + 1) * f].iter_mut().zip(&vectors[i * f..(i + 1) * f]).for_each(|(s, &v)| {
                    *s += f64::from(v);
                });
            }
            for c in (0..k).filter(|&c| counts[c] > 0) {
                for (dst, s) in centroids[c * f..(c + 1) * f].iter_mut().zip(&sums[c * f..(c + 1) * f]) {
                    *dst = (*s / counts[c] as f64) as f32;
                }
            }
        }
        let norm = norms(&centroids, f);
        let assigned: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| nearest(&vectors[i * f..(i + 1) * f], &centroids, &norm, f))
            .collect();
        let mut indptr = vec![0usize; k + 1];
        assigned.iter().for_each(|&c| indptr[c + 1] += 1);
        for c in 0..k {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut members = vec![0u32; n];
        let mut radius = vec![0f32; k];
        for (i, &c) in assigned.iter().enumerate() {
            members[next[c]] = i as u32;
            next[c] += 1;
            let d = distance2(&vectors[i * f..(i + 1) * f], &centroids[c * f..(c + 1) * f]).sqrt();
            // A little slack so rounding never makes the bound smaller than a member's score.
            radius[c] = radius[c].max(d * (1.0 + 1e-5) + 1e-6);
        }
        let assignment = assigned.into_iter().map(|c| c as u32).collect();
        Self { factors: f, centroids, radius, indptr, members, assignment }
    }

    /// Clusters.
    #[must_use]
    pub fn len(&self) -> usize {
        self.radius.len()
    }

    /// Whether there are no clusters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.radius.is_empty()
    }

    /// The items of cluster `c`.
    #[must_use]
    pub fn cluster(&self, c: usize) -> &[u32] {
        &self.members[self.indptr[c]..self.indptr[c + 1]]
    }

    /// `x · c` for the centroid of cluster `c`.
    #[must_use]
    pub fn centre(&self, c: usize, x: &[f32]) -> f32 {
        let f = self.factors;
        dot(x, &self.centroids[c * f..(c + 1) * f])
    }

    /// The highest `x · y` any item of cluster `c` can have.
    #[must_use]
    pub fn bound(&self, c: usize, x: &[f32], x_norm: f32) -> f32 {
        let f = self.factors;
        dot(x, &self.centroids[c * f..(c + 1) * f]) + x_norm * self.radius[c]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_in_one_cluster_and_no_member_beats_its_bound() {
        let f = 4;
        let mut rng = SplitMix64::new(3);
        let vectors: Vec<f32> = (0..500 * f).map(|_| rng.next_f32() - 0.5).collect();
        let index = InnerProductIndex::build(&vectors, f, 12, 5, 1);
        let mut all: Vec<u32> = index.members.clone();
        all.sort_unstable();
        assert_eq!(all, (0..500).collect::<Vec<u32>>());
        for c in 0..index.len() {
            assert!(index.cluster(c).iter().all(|&i| index.assignment[i as usize] == c as u32));
        }
        let x = [0.3, -1.0, 0.5, 2.0];
        let norm = dot(&x, &x).sqrt();
        for c in 0..index.len() {
            for &i in index.cluster(c) {
                let s = dot(&x, &vectors[i as usize * f..(i as usize + 1) * f]);
                assert!(s <= index.bound(c, &x, norm), "item {i} of cluster {c}");
            }
        }
    }

    #[test]
    fn two_separated_groups_land_in_two_clusters() {
        let mut vectors = Vec::new();
        for i in 0..40 {
            let base = if i < 20 { 10.0 } else { -10.0 };
            vectors.extend_from_slice(&[base + (i % 5) as f32 * 0.1, base]);
        }
        let index = InnerProductIndex::build(&vectors, 2, 2, 10, 7);
        let mut sizes: Vec<usize> = (0..2).map(|c| index.cluster(c).len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![20, 20]);
        assert!(index.cluster(0).iter().all(|&i| (i < 20) == (index.cluster(0)[0] < 20)));
    }
}
