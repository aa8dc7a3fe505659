//! Gradient-boosted regression trees for [`super::level`]: Huber loss, row weights, features cut
//! into at most 255 quantile bins, trees grown leaf by leaf (the leaf whose best split gains most
//! is split next), a seeded share of rows and features per tree.
//!
//! The grammar of the rest of the forecaster: [`BoostParams`] -> `fit(rows, targets, weights)`
//! -> [`Boosted`] -> `predict(row)`. A fit is deterministic for a given seed.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::errors::ForecastError;

/// How to fit [`Boosted`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostParams {
    /// Trees (default 300).
    pub rounds: usize,
    /// Shrinkage of every leaf value (default 0.03).
    pub learning_rate: f64,
    /// Leaves per tree (default 15).
    pub max_leaves: usize,
    /// Sampled rows a leaf needs at least (default 200).
    pub min_leaf_rows: usize,
    /// Residuals beyond this size count linearly, not squared (default 1): one wholesale order
    /// then pulls a leaf no harder than a typical miss.
    pub huber_delta: f64,
    /// Share of rows each tree sees (default 0.8).
    pub row_fraction: f64,
    /// Share of features each tree may split on (default 0.8).
    pub feature_fraction: f64,
    /// Quantile bins per feature, 2..=255 (default 64).
    pub bins: usize,
    /// Seed of the row and feature samples (default 1).
    pub seed: u64,
}

impl Default for BoostParams {
    fn default() -> Self {
        Self {
            rounds: 300,
            learning_rate: 0.03,
            max_leaves: 15,
            min_leaf_rows: 200,
            huber_delta: 1.0,
            row_fraction: 0.8,
            feature_fraction: 0.8,
            bins: 64,
            seed: 1,
        }
    }
}

/// A fitted ensemble of trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosted {
    /// The prediction before any tree: the weighted mean target.
    pub base: f64,
    /// The trees, each already scaled by the learning rate.
    pub trees: Vec<Tree>,
}

/// One regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

/// A node of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// Rows with `row[feature] <= threshold` go to `left`, the others to `right`.
    Split {
        /// Feature index.
        feature: usize,
        /// The cut.
        threshold: f64,
        /// The bin the cut closes (rows in bins `<= bin` go left), for the fit's own rows.
        bin: u8,
        /// Node index of the left child.
        left: usize,
        /// Node index of the right child.
        right: usize,
    },
    /// The value added to the prediction.
    Leaf(f64),
}

impl Tree {
    /// The leaf value a row reaches, `goes_left(feature, threshold, bin)` deciding each split.
    fn walk(&self, goes_left: impl Fn(usize, f64, u8) -> bool) -> f64 {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Split { feature, threshold, bin, left, right } => {
                    at = if goes_left(feature, threshold, bin) { left } else { right };
                }
                Node::Leaf(value) => return value,
            }
        }
    }

    fn predict(&self, row: &[f64]) -> f64 {
        self.walk(|feature, threshold, _| row[feature] <= threshold)
    }

    /// The leaf value of row `r` of the fit, from its bins in `binned` (column-major).
    fn predict_binned(&self, binned: &Binned<'_>, r: usize) -> f64 {
        self.walk(|feature, _, bin| binned.bin(feature, r) <= bin)
    }
}

impl Boosted {
    /// The prediction for one row of features (as many as the fit had).
    #[must_use]
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.base + self.trees.iter().map(|t| t.predict(row)).sum::<f64>()
    }
}

impl BoostParams {
    /// Refuses parameters outside their documented ranges.
    pub fn check(&self) -> Result<(), ForecastError> {
        let invalid =
            |name, reason: &str| Err(ForecastError::InvalidParams { name, reason: reason.to_owned() });
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return invalid("boost.learning_rate", "must be in (0, 1]");
        }
        if self.max_leaves < 2 {
            return invalid("boost.max_leaves", "must be at least 2");
        }
        if self.min_leaf_rows == 0 {
            return invalid("boost.min_leaf_rows", "must be at least 1");
        }
        if self.huber_delta.is_nan() || self.huber_delta <= 0.0 {
            return invalid("boost.huber_delta", "must be > 0");
        }
        if !(self.row_fraction > 0.0 && self.row_fraction <= 1.0) {
            return invalid("boost.row_fraction", "must be in (0, 1]");
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return invalid("boost.feature_fraction", "must be in (0, 1]");
        }
        if !(2..=255).contains(&self.bins) {
            return invalid("boost.bins", "must be 2..=255");
        }
        Ok(())
    }

    /// Fits `rows` (each with the same number of finite features: a NaN would fall in the first
    /// bin here and to the right in [`Boosted::predict`]) to `targets`, each row
    /// weighing `weights[i]` (> 0) in the loss.
    ///
    /// # Panics
    /// When the three slices differ in length.
    #[must_use]
    pub fn fit(&self, rows: &[Vec<f64>], targets: &[f64], weights: &[f64]) -> Boosted {
        assert!(rows.len() == targets.len() && rows.len() == weights.len(), "rows, targets, weights");
        let total_weight: f64 = weights.iter().sum();
        let base = if total_weight > 0.0 {
            targets.iter().zip(weights).map(|(y, w)| y * w).sum::<f64>() / total_weight
        } else {
            0.0
        };
        let features = rows.first().map_or(0, Vec::len);
        debug_assert!(rows.iter().flatten().all(|x| x.is_finite()), "features must be finite");
        if rows.is_empty() || features == 0 {
            return Boosted { base, trees: Vec::new() };
        }
        let cuts: Vec<Vec<f64>> = (0..features)
            .into_par_iter()
            // A bin index is a u8: more bins than `check` allows would wrap the top one to 0.
            .map(|f| quantile_cuts(rows.iter().map(|r| r[f]).collect(), self.bins.clamp(2, 255)))
            .collect();
        // Column-major: a histogram pass reads one feature's bins for a leaf's rows.
        let columns: Vec<u8> = cuts
            .par_iter()
            .enumerate()
            .flat_map_iter(|(f, cut)| rows.iter().map(move |r| bin_of(cut, r[f])))
            .collect();
        let binned = Binned { columns: &columns, rows: rows.len() };
        let offsets = prefix_offsets(&cuts);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut prediction = vec![base; rows.len()];
        let mut gradient = vec![0.0; rows.len()];
        let mut sampled = vec![false; rows.len()];
        let mut trees = Vec::with_capacity(self.rounds);
        let keep_features = ((self.feature_fraction * features as f64).ceil() as usize).clamp(1, features);
        for _ in 0..self.rounds {
            gradient.par_iter_mut().enumerate().for_each(|(i, g)| {
                *g = weights[i] * (prediction[i] - targets[i]).clamp(-self.huber_delta, self.huber_delta);
            });
            sampled
                .iter_mut()
                .for_each(|s| *s = self.row_fraction >= 1.0 || unit(&mut rng) < self.row_fraction);
            let sample: Vec<u32> = (0..rows.len() as u32).filter(|&r| sampled[r as usize]).collect();
            let mut order: Vec<usize> = (0..features).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            let mut allowed: Vec<usize> = order[..keep_features].to_vec();
            allowed.sort_unstable();
            // Feature 0 is always summed: its bins give a leaf's totals, the same sums whichever
            // features the tree may split on.
            let summed: Vec<usize> =
                if allowed[0] == 0 { allowed.clone() } else { [&[0], allowed.as_slice()].concat() };
            let grower = Grower {
                params: self,
                binned,
                cuts: &cuts,
                offsets: &offsets,
                gradient: &gradient,
                weights,
                allowed,
                summed,
            };
            let (tree, leaves) = grower.grow(sample);
            // A sampled row's leaf is known from the growth; the others walk the tree.
            for (rows, value) in leaves {
                rows.iter().for_each(|&r| prediction[r as usize] += value);
            }
            prediction
                .par_iter_mut()
                .zip(&sampled)
                .enumerate()
                .filter(|(_, (_, s))| !**s)
                .for_each(|(r, (p, _))| *p += tree.predict_binned(&binned, r));
            trees.push(tree);
        }
        // The leaves' row lists kept every row's prediction as walking every tree gives it.
        debug_assert!(
            (0..rows.len()).all(|r| {
                prediction[r] == trees.iter().fold(base, |p, t| p + t.predict_binned(&binned, r))
            })
        );
        Boosted { base, trees }
    }
}

/// A uniform draw in [0, 1).
fn unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Cuts between bins: a value `x` falls in the first bin whose cut is `>= x` (or after the last).
/// Few distinct values get a cut midway between each pair; many get cuts near equal-count
/// quantiles.
fn quantile_cuts(mut values: Vec<f64>, bins: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    if distinct.len() <= bins {
        return distinct.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    }
    // Midway below the k-th quantile value, so that it opens its bin; inside a run of ties,
    // at the tie (the run goes left).
    let mut cuts: Vec<f64> = (1..bins)
        .map(|k| {
            let i = k * values.len() / bins;
            if values[i - 1] < values[i] { 0.5 * (values[i - 1] + values[i]) } else { values[i] }
        })
        .collect();
    cuts.dedup();
    // A cut at the largest value would leave its upper bin empty.
    if cuts.last() == distinct.last() {
        cuts.pop();
    }
    cuts
}

fn bin_of(cuts: &[f64], x: f64) -> u8 {
    cuts.partition_point(|&c| c < x) as u8
}

/// Where each feature's bins start in a [`Histogram`] (and, last, its length).
fn prefix_offsets(cuts: &[Vec<f64>]) -> Vec<usize> {
    let mut offsets = vec![0];
    for cut in cuts {
        offsets.push(offsets.last().copied().unwrap_or(0) + cut.len() + 1);
    }
    offsets
}

/// The fit's rows cut into bins, column-major: feature `f` of row `r` is
/// `columns[f * rows + r]`.
#[derive(Clone, Copy)]
struct Binned<'a> {
    columns: &'a [u8],
    rows: usize,
}

impl Binned<'_> {
    fn column(&self, feature: usize) -> &[u8] {
        &self.columns[feature * self.rows..(feature + 1) * self.rows]
    }

    fn bin(&self, feature: usize, r: usize) -> u8 {
        self.columns[feature * self.rows + r]
    }
}

/// Sums of gradient, hessian (the weights) and rows per bin, every feature's bins one after the
/// other (see [`prefix_offsets`]); only the features a tree may split on, and the first, are
/// summed.
type Histogram = Vec<[f64; 3]>;

/// Rows from which a histogram's features are summed in parallel (each feature's sums are the
/// same whichever thread adds them).
const PARALLEL_ROWS: usize = 2_048;

struct Leaf {
    rows: Vec<u32>,
    histogram: Histogram,
    gradient: f64,
    hessian: f64,
    /// Best split: gain, feature, bin.
    best: Option<(f64, usize, u8)>,
    node: usize,
}

struct Grower<'a> {
    params: &'a BoostParams,
    binned: Binned<'a>,
    cuts: &'a [Vec<f64>],
    offsets: &'a [usize],
    gradient: &'a [f64],
    weights: &'a [f64],
    /// The features this tree may split on, ascending.
    allowed: Vec<usize>,
    /// The features whose histograms are summed: `allowed`, and feature 0.
    summed: Vec<usize>,
}

/// `rows` split by `bins[r] <= bin`, each part in the order of `rows`.
fn split_rows(rows: &[u32], bins: &[u8], bin: u8) -> (Vec<u32>, Vec<u32>) {
    // Without a branch per row: every row is written at the next left slot and the next right
    // slot (from the end); only the slot of its side is kept.
    let mut out = vec![0u32; rows.len()];
    let (mut left, mut right_start) = (0, rows.len());
    for &r in rows {
        let goes_left = usize::from(bins[r as usize] <= bin);
        out[left] = r;
        out[right_start - 1] = r;
        left += goes_left;
        right_start -= 1 - goes_left;
    }
    let mut right = out.split_off(left);
    right.reverse();
    (out, right)
}

impl Grower<'_> {
    /// The tree, and the rows of each leaf with its value.
    fn grow(&self, rows: Vec<u32>) -> (Tree, Vec<(Vec<u32>, f64)>) {
        let mut nodes = vec![Node::Leaf(0.0)];
        let histogram = self.histogram(&rows);
        let mut leaves = vec![self.leaf(rows, histogram, 0)];
        while leaves.len() < self.params.max_leaves {
            let Some((at, _)) = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.map(|(gain, ..)| (i, gain)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
            else {
                break;
            };
            let parent = leaves.swap_remove(at);
            let (_, feature, bin) = parent.best.expect("chosen for its split");
            let (left_rows, right_rows) = split_rows(&parent.rows, self.binned.column(feature), bin);
            let (small, large, small_is_left) = if left_rows.len() <= right_rows.len() {
                (left_rows, right_rows, true)
            } else {
                (right_rows, left_rows, false)
            };
            let small_histogram = self.histogram(&small);
            let large_histogram: Histogram = parent
                .histogram
                .iter()
                .zip(&small_histogram)
                .map(|(p, s)| [p[0] - s[0], p[1] - s[1], p[2] - s[2]])
                .collect();
            let (left, right) = (nodes.len(), nodes.len() + 1);
            nodes.push(Node::Leaf(0.0));
            nodes.push(Node::Leaf(0.0));
            nodes[parent.node] =
                Node::Split { feature, threshold: self.cuts[feature][usize::from(bin)], bin, left, right };
            let (small_node, large_node) = if small_is_left { (left, right) } else { (right, left) };
            leaves.push(self.leaf(small, small_histogram, small_node));
            leaves.push(self.leaf(large, large_histogram, large_node));
        }
        let leaves = leaves
            .into_iter()
            .map(|leaf| {
                let value = if leaf.hessian > 0.0 { -leaf.gradient / leaf.hessian } else { 0.0 };
                let value = self.params.learning_rate * value;
                nodes[leaf.node] = Node::Leaf(value);
                (leaf.rows, value)
            })
            .collect();
        (Tree { nodes }, leaves)
    }

    fn histogram(&self, rows: &[u32]) -> Histogram {
        // The rows' gradients and weights gathered once, read once per feature.
        let gradients: Vec<[f64; 2]> =
            rows.iter().map(|&r| [self.gradient[r as usize], self.weights[r as usize]]).collect();
        let feature = |f: usize| {
            let bins = self.binned.column(f);
            let mut h = vec![[0.0; 3]; self.offsets[f + 1] - self.offsets[f]];
            for (&r, &[g, w]) in rows.iter().zip(&gradients) {
                let cell = &mut h[usize::from(bins[r as usize])];
                cell[0] += g;
                cell[1] += w;
                cell[2] += 1.0;
            }
            h
        };
        let parts: Vec<Vec<[f64; 3]>> = if rows.len() >= PARALLEL_ROWS {
            self.summed.par_iter().map(|&f| feature(f)).collect()
        } else {
            self.summed.iter().map(|&f| feature(f)).collect()
        };
        let mut histogram = vec![[0.0; 3]; *self.offsets.last().unwrap_or(&0)];
        for (&f, part) in self.summed.iter().zip(parts) {
            histogram[self.offsets[f]..self.offsets[f + 1]].copy_from_slice(&part);
        }
        histogram
    }

    fn leaf(&self, rows: Vec<u32>, histogram: Histogram, node: usize) -> Leaf {
        // Every feature's bins hold all the rows: the first one's add up to the leaf.
        let (gradient, hessian) =
            histogram[..self.offsets[1]].iter().fold((0.0, 0.0), |(g, w), c| (g + c[0], w + c[1]));
        let min = self.params.min_leaf_rows as f64;
        let score = |g: f64, h: f64| if h > 0.0 { g * g / h } else { 0.0 };
        let parent_score = score(gradient, hessian);
        let mut best: Option<(f64, usize, u8)> = None;
        if rows.len() as f64 >= 2.0 * min {
            for &f in &self.allowed {
                let h = &histogram[self.offsets[f]..self.offsets[f + 1]];
                let (mut g_left, mut h_left, mut n_left) = (0.0, 0.0, 0.0);
                for (bin, cell) in h.iter().enumerate().take(h.len() - 1) {
                    g_left += cell[0];
                    h_left += cell[1];
                    n_left += cell[2];
                    let n_right = rows.len() as f64 - n_left;
                    if n_left < min {
                        continue;
                    }
                    if n_right < min {
                        break;
                    }
                    let gain =
                        score(g_left, h_left) + score(gradient - g_left, hessian - h_left) - parent_score;
                    if gain > 1e-12 && best.is_none_or(|(b, ..)| gain > b) {
                        best = Some((gain, f, bin as u8));
                    }
                }
            }
        }
        Leaf { rows, histogram, gradient, hessian, best, node }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BoostParams {
        BoostParams { min_leaf_rows: 5, row_fraction: 1.0, feature_fraction: 1.0, ..BoostParams::default() }
    }

    #[test]
    fn a_step_function_is_learned_and_read_at_the_cut() {
        let rows: Vec<Vec<f64>> = (0..200).map(|i| vec![f64::from(i)]).collect();
        let targets: Vec<f64> = (0..200).map(|i| if i < 100 { 1.0 } else { 3.0 }).collect();
        let p = BoostParams { huber_delta: 10.0, learning_rate: 0.3, rounds: 60, ..params() };
        let model = p.fit(&rows, &targets, &vec![1.0; 200]);
        assert!((model.base - 2.0).abs() < 1e-12);
        assert!((model.predict(&[10.0]) - 1.0).abs() < 0.01, "{}", model.predict(&[10.0]));
        assert!((model.predict(&[150.0]) - 3.0).abs() < 0.01, "{}", model.predict(&[150.0]));
        assert!(model.predict(&[99.0]) < 1.1 && model.predict(&[100.0]) > 2.9);
    }

    #[test]
    fn the_huber_loss_resists_an_outlier_that_squares_would_follow() {
        // One feature value shared by 50 rows, one of them a burst at 1000.
        let rows: Vec<Vec<f64>> = (0..100).map(|i| vec![f64::from(i / 50)]).collect();
        let mut targets = vec![1.0; 100];
        targets[10] = 1000.0;
        let fit = |delta| {
            BoostParams { huber_delta: delta, learning_rate: 0.5, rounds: 100, ..params() }.fit(
                &rows,
                &targets,
                &[1.0; 100],
            )
        };
        let robust = fit(1.0).predict(&[0.0]);
        let squared = fit(1e9).predict(&[0.0]);
        assert!(robust < 2.0, "Huber: {robust}");
        assert!((squared - (49.0 + 1000.0) / 50.0).abs() < 0.5, "squares: {squared}");
    }

    #[test]
    fn weights_pull_a_leaf_towards_the_heavy_rows() {
        let rows = vec![vec![0.0]; 10];
        let targets: Vec<f64> = (0..10).map(|i| if i < 5 { 0.0 } else { 1.0 }).collect();
        let weights: Vec<f64> = (0..10).map(|i| if i < 5 { 1.0 } else { 4.0 }).collect();
        let model = params().fit(&rows, &targets, &weights);
        assert!((model.predict(&[0.0]) - 0.8).abs() < 1e-9);
    }

    #[test]
    fn a_seed_fixes_the_fit_and_another_seed_changes_it() {
        let rows: Vec<Vec<f64>> =
            (0..400).map(|i| vec![f64::from(i % 37), f64::from((i * 7) % 11), f64::from(i % 5)]).collect();
        let targets: Vec<f64> = rows.iter().map(|r| r[0] * 0.1 + r[1] - r[2] * 0.5).collect();
        let p = BoostParams { row_fraction: 0.7, feature_fraction: 0.7, rounds: 20, ..params() };
        let a = p.fit(&rows, &targets, &[1.0; 400]);
        assert_eq!(a, p.fit(&rows, &targets, &[1.0; 400]));
        assert_ne!(a, BoostParams { seed: 2, ..p }.fit(&rows, &targets, &[1.0; 400]));
    }

    #[test]
    fn leaves_keep_their_minimum_rows() {
        let rows: Vec<Vec<f64>> = (0..30).map(|i| vec![f64::from(i)]).collect();
        let targets: Vec<f64> = (0..30).map(f64::from).collect();
        let leaves = |min_leaf_rows| {
            let p = BoostParams { min_leaf_rows, max_leaves: 8, rounds: 1, huber_delta: 1e9, ..params() };
            let tree = &p.fit(&rows, &targets, &[1.0; 30]).trees[0];
            tree.nodes.iter().filter(|n| matches!(n, Node::Leaf(_))).count()
        };
        // The best first split is 15 / 15; neither half has the 20 rows two leaves of 10 need.
        assert_eq!(leaves(10), 2);
        assert_eq!(leaves(1), 8);
    }

    #[test]
    fn rows_split_keep_their_order_on_both_sides() {
        let bins = [3u8, 0, 7, 1, 5, 2, 9, 4];
        let (left, right) = split_rows(&[0, 2, 3, 4, 6, 7], &bins, 3);
        assert_eq!(left, vec![0, 3]);
        assert_eq!(right, vec![2, 4, 6, 7]);
        assert_eq!(split_rows(&[1, 3], &bins, 0), (vec![1], vec![3]));
        assert_eq!(split_rows(&[], &bins, 0), (vec![], vec![]));
    }

    #[test]
    fn a_fit_is_the_same_on_one_thread_as_on_four() {
        // Enough rows for the histograms' parallel path.
        let rows: Vec<Vec<f64>> = (0..5_000)
            .map(|i| vec![f64::from(i % 97), f64::from((i * 7) % 13), f64::from(i % 5), f64::from(i / 50)])
            .collect();
        let targets: Vec<f64> = rows.iter().map(|r| r[0] * 0.01 + (r[1] - 6.0).abs() + r[3] * 0.02).collect();
        // Half the features per tree: some trees may not split on the first.
        let p =
            BoostParams { rounds: 30, min_leaf_rows: 50, feature_fraction: 0.5, ..BoostParams::default() };
        let fit = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| p.fit(&rows, &targets, &vec![1.0; rows.len()]))
        };
        let one = fit(1);
        assert!(one.trees.iter().all(|t| t.nodes.len() > 1), "every tree splits");
        assert_eq!(one, fit(4));
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let err = BoostParams { bins: 300, ..BoostParams::default() }.check().unwrap_err();
        assert!(err.to_string().contains("boost.bins"), "{err}");
        assert!(BoostParams { learning_rate: 0.0, ..BoostParams::default() }.check().is_err());
        assert!(BoostParams::default().check().is_ok());
    }
}
