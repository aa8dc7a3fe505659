//! A deterministic synthetic shop for scale tests: power-law (Zipf) item popularity, power-law
//! (Pareto) customer activity, a latent category structure so that collaborative and content
//! signals have something to find, timestamps over a span of days, counts as weights, and
//! optional item descriptions.
//!
//! The data is built straight into [`Interactions`] (no string records: 20 million `Record`s
//! would take gigabytes before the model saw them). Each user is drawn from its own generator,
//! seeded with `(seed, user)`, so the result is the same for any thread count.
//!
//! ## How a customer is drawn
//! - Activity: `n_u = round(scale · U^(-1/user_exponent))` (a Pareto tail; `U` uniform in
//!   (0, 1]), at least 1 and at most [`SyntheticParams::max_user_items`], with `scale` chosen
//!   so the total over the users drawn is `interactions`.
//! - Items: with probability [`SyntheticParams::affinity`] from the customer's favourite
//!   category, else from the whole catalogue, each time by Zipf popularity
//!   (`p_i ∝ rank_i^(-item_exponent)`, ranks a seeded permutation of the items); repeats are
//!   drawn again, so each pair appears once.
//! - Weight: 1 plus a geometric number of repeat purchases (mean 0.5); age: uniform over
//!   `days`, in days before the end of the span.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Csr, IdMap, Interactions};
use super::split::SplitMix64;

/// Shape of the synthetic shop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticParams {
    /// Customers (default 10,000).
    pub users: usize,
    /// SKUs (default 2,000).
    pub items: usize,
    /// Target number of distinct customer x SKU pairs (default 200,000; met to within rounding,
    /// unless the cap or the catalogue leaves too few SKUs to draw).
    pub interactions: usize,
    /// Zipf exponent of item popularity (default 1.0).
    pub item_exponent: f64,
    /// Pareto tail index of customer activity (default 1.5: a heavy tail, finite mean).
    pub user_exponent: f64,
    /// Most SKUs one customer takes (default 2,000, and never more than a fifth of the catalogue).
    pub max_user_items: usize,
    /// SKUs per latent category on average (default 500).
    pub items_per_category: usize,
    /// Share of a customer's picks from their favourite category (default 0.5).
    pub affinity: f64,
    /// Span of the timestamps in days (default 365).
    pub days: f32,
    /// Seed (default 42).
    pub seed: u64,
}

impl Default for SyntheticParams {
    fn default() -> Self {
        Self {
            users: 10_000,
            items: 2_000,
            interactions: 200_000,
            item_exponent: 1.0,
            user_exponent: 1.5,
            max_user_items: 2_000,
            items_per_category: 500,
            affinity: 0.5,
            days: 365.0,
            seed: 42,
        }
    }
}

/// A generated shop: interactions and, per item, its latent category and a description.
#[derive(Debug, Clone)]
pub struct SyntheticShop {
    /// Customers x SKUs with weights and ages, ids `c0000001`, `s000001`, ...
    pub data: Interactions,
    /// Latent category of each item.
    pub categories: Vec<u32>,
}

/// One chunk of generated users: row lengths, then items, weights and ages of every row.
type Rows = (Vec<usize>, Vec<u32>, Vec<f32>, Vec<f32>);

/// Cumulative weights for sampling by binary search.
struct Sampler {
    items: Vec<u32>,
    cumulative: Vec<f64>,
}

impl Sampler {
    fn new(items: Vec<u32>, weight: impl Fn(u32) -> f64) -> Self {
        let mut total = 0.0;
        let cumulative = items
            .iter()
            .map(|&i| {
                total += weight(i);
                total
            })
            .collect();
        Self { items, cumulative }
    }

    fn draw(&self, rng: &mut SplitMix64) -> u32 {
        let total = *self.cumulative.last().expect("a non-empty sampler");
        let x = unit(rng) * total;
        let at = self.cumulative.partition_point(|&c| c <= x).min(self.items.len() - 1);
        self.items[at]
    }
}

/// Mixes the seed with a stream number, so each user (and each purpose) has its own generator.
fn stream(seed: u64, n: u64) -> SplitMix64 {
    let mut mix = SplitMix64::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    SplitMix64::new(mix.next_u64())
}

impl SyntheticParams {
    /// The full-size scale target of the recommender: 1M customers x 100k SKUs x 20M pairs.
    #[must_use]
    pub fn full_scale() -> Self {
        Self { users: 1_000_000, items: 100_000, interactions: 20_000_000, ..Self::default() }
    }

    /// Most SKUs one customer may take.
    fn cap(&self) -> usize {
        self.max_user_items.min(self.items / 5).max(1)
    }

    /// Generates the shop.
    ///
    /// # Panics
    /// With zero users or items.
    #[must_use]
    pub fn generate(&self) -> SyntheticShop {
        assert!(self.users > 0 && self.items > 0, "a shop needs users and items");
        let n_items = u32::try_from(self.items).expect("fewer than 2^32 items");
        // Popularity ranks: a seeded permutation, so popular items are spread over the ids.
        let mut rank: Vec<u32> = (0..n_items).collect();
        stream(self.seed, u64::MAX).shuffle(&mut rank);
        let popularity = |i: u32| f64::from(rank[i as usize] + 1).powf(-self.item_exponent);
        let n_categories = (self.items / self.items_per_category.max(1)).max(1);
        let mut category_rng = stream(self.seed, u64::MAX - 1);
        let categories: Vec<u32> = (0..self.items).map(|_| category_rng.below(n_categories) as u32).collect();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_categories];
        for (i, &c) in categories.iter().enumerate() {
            members[c as usize].push(i as u32);
        }
        let global = Sampler::new((0..n_items).collect(), popularity);
        let by_category: Vec<Option<Sampler>> =
            members.into_iter().map(|m| (!m.is_empty()).then(|| Sampler::new(m, popularity))).collect();
        // Activity: each user's raw Pareto draw (the first number of their own generator), then
        // the one scale that makes `Σ clamp(round(s · draw), 1, cap)` the target, by bisection
        // over every user's draw (a sample would miss the heavy tail and overshoot).
        let cap = self.cap();
        let a = self.user_exponent.max(1.01);
        let draws: Vec<f64> = (0..self.users)
            .into_par_iter()
            .map(|u| uniform_open(&mut stream(self.seed, u as u64)).powf(-1.0 / a))
            .collect();
        let total = |s: f64| draws.iter().map(|&d| (s * d).round().clamp(1.0, cap as f64)).sum::<f64>();
        let target = self.interactions as f64;
        let (mut lo, mut hi) = (1e-9, (target / self.users as f64).max(1.0) * 2.0);
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if total(mid) < target { lo = mid } else { hi = mid }
        }
        let scale = 0.5 * (lo + hi);
        // Users in chunks, each its own generator: identical output for any thread count.
        const CHUNK: usize = 4_096;
        let chunks: Vec<Rows> = (0..self.users.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut lengths = Vec::with_capacity(CHUNK);
                let mut items = Vec::new();
                let mut weights = Vec::new();
                let mut ages = Vec::new();
                let mut picked: Vec<(u32, f32, f32)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                let users = c * CHUNK..((c + 1) * CHUNK).min(self.users);
                for (u, &draw) in users.clone().zip(&draws[users]) {
                    let mut rng = stream(self.seed, u as u64);
                    let _ = uniform_open(&mut rng); // the activity draw, in `draws`
                    let n = (scale * draw).round().clamp(1.0, cap as f64) as usize;
                    let favourite = by_category[rng.below(n_categories)].as_ref();
                    picked.clear();
                    seen.clear();
                    let mut attempts = 0;
                    while picked.len() < n && attempts < 50 * n {
                        attempts += 1;
                        let i = match favourite {
                            Some(f) if unit(&mut rng) < self.affinity => f.draw(&mut rng),
                            _ => global.draw(&mut rng),
                        };
                        if seen.insert(i) {
                            let mut w = 1.0f32;
                            while rng.next_f32() < 1.0 / 3.0 {
                                w += 1.0;
                            }
                            picked.push((i, w, rng.next_f32() * self.days));
                        }
                    }
                    picked.sort_unstable_by_key(|p| p.0);
                    lengths.push(picked.len());
                    for &(i, w, age) in &picked {
                        items.push(i);
                        weights.push(w);
                        ages.push(age);
                    }
                }
                (lengths, items, weights, ages)
            })
            .collect();
        let nnz: usize = chunks.iter().map(|c| c.1.len()).sum();
        let mut indptr = Vec::with_capacity(self.users + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(nnz);
        let mut values = Vec::with_capacity(nnz);
        let mut age_values = Vec::with_capacity(nnz);
        for (lengths, items, weights, ages) in chunks {
            for l in lengths {
                indptr.push(indptr.last().expect("non-empty") + l);
            }
            indices.extend_from_slice(&items);
            values.extend_from_slice(&weights);
            age_values.extend_from_slice(&ages);
        }
        let matrix = Csr { n_rows: self.users, n_cols: self.items, indptr, indices, values };
        let times = Csr { values: age_values, ..matrix.clone() };
        let mut users = IdMap::default();
        let width = digits(self.users);
        (0..self.users).for_each(|u| {
            users.intern(&format!("c{u:0width$}"));
        });
        let mut item_ids = IdMap::default();
        let width = digits(self.items);
        (0..self.items).for_each(|i| {
            item_ids.intern(&format!("s{i:0width$}"));
        });
        SyntheticShop { data: Interactions { users, items: item_ids, matrix, times }, categories }
    }
}

/// Uniform in `[0, 1)` with 53 bits (a 100k-item Zipf tail needs more than `f32` gives).
fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform in `(0, 1]` (never 0, so negative powers stay finite).
fn uniform_open(rng: &mut SplitMix64) -> f64 {
    1.0 - unit(rng)
}

fn digits(n: usize) -> usize {
    n.max(2).saturating_sub(1).to_string().len()
}

/// Syllables of the made-up catalogue vocabulary.
const SYLLABLES: [&str; 16] =
    ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de", "fi", "go", "ha", "ju", "pe", "zo"];

/// A made-up word for number `n` (distinct numbers give distinct words).
fn word(mut n: usize) -> String {
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
        if n == 0 {
            break w;
        }
    }
}

impl SyntheticShop {
    /// One description per item (same order as the item ids): two words of its category, a
    /// product-type word, and two to four words from a shared Zipf vocabulary (some very common,
    /// as "set", "red" or "heart" are in a real catalogue). Deterministic in `seed`.
    #[must_use]
    pub fn texts(&self, seed: u64) -> Vec<String> {
        let vocabulary = 5_000usize;
        let common = Sampler::new((0..vocabulary as u32).collect(), |w| f64::from(w + 1).powf(-1.0));
        self.categories
            .par_iter()
            .enumerate()
            .map(|(i, &c)| {
                let mut rng = stream(seed ^ 0x7E47, i as u64);
                let mut words = vec![
                    word(100_000 + 2 * c as usize),
                    word(100_001 + 2 * c as usize),
                    word(50_000 + rng.below(200)),
                ];
                for _ in 0..2 + rng.below(3) {
                    words.push(word(common.draw(&mut rng) as usize));
                }
                words.join(" ")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SyntheticParams {
        SyntheticParams { users: 3_000, items: 1_000, interactions: 40_000, ..SyntheticParams::default() }
    }

    #[test]
    fn the_same_seed_gives_the_same_shop_and_another_seed_another() {
        let a = small().generate();
        let b = small().generate();
        assert_eq!(a.data.matrix.indptr, b.data.matrix.indptr);
        assert_eq!(a.data.matrix.indices, b.data.matrix.indices);
        assert_eq!(a.data.matrix.values, b.data.matrix.values);
        assert_eq!(a.data.times.values, b.data.times.values);
        assert_eq!(a.texts(1), b.texts(1));
        let c = SyntheticParams { seed: 7, ..small() }.generate();
        assert_ne!(a.data.matrix.indices, c.data.matrix.indices);
    }

    #[test]
    fn the_shop_has_the_asked_shape_and_each_pair_once() {
        let shop = small().generate();
        let m = &shop.data.matrix;
        assert_eq!((m.n_rows, m.n_cols), (3_000, 1_000));
        assert_eq!((shop.data.n_users(), shop.data.n_items()), (3_000, 1_000));
        let nnz = m.nnz() as f64;
        assert!((nnz / 40_000.0 - 1.0).abs() < 0.01, "{nnz} pairs for a target of 40,000");
        for u in 0..m.n_rows {
            let row = m.row_indices(u);
            assert!(!row.is_empty(), "user {u} has no interactions");
            assert!(row.windows(2).all(|w| w[0] < w[1]), "user {u}: unsorted or repeated items");
            assert!(row.len() <= 200, "user {u} exceeds a fifth of the catalogue");
        }
        assert!(shop.data.times.values.iter().all(|&a| (0.0..=365.0).contains(&a)));
        assert!(m.values.iter().all(|&w| w >= 1.0));
        assert_eq!(shop.data.users.name(0), "c0000");
        assert_eq!(shop.data.items.get("s999"), Some(999));
        assert_eq!(shop.texts(1).len(), 1_000);
    }

    #[test]
    fn popularity_and_activity_are_skewed_like_a_power_law() {
        let shop = small().generate();
        let m = &shop.data.matrix;
        let mut per_item = vec![0usize; m.n_cols];
        m.indices.iter().for_each(|&i| per_item[i as usize] += 1);
        per_item.sort_unstable_by(|a, b| b.cmp(a));
        // Zipf(1) over 1,000 items puts ~39% of the mass on the top 1%; uniform would put 1%.
        let top: usize = per_item[..10].iter().sum();
        assert!(top as f64 / m.nnz() as f64 > 0.15, "top 1% of items hold {top} of {}", m.nnz());
        let mut per_user: Vec<usize> = (0..m.n_rows).map(|u| m.row_indices(u).len()).collect();
        per_user.sort_unstable();
        let median = per_user[per_user.len() / 2];
        let max = per_user[per_user.len() - 1];
        assert!(max >= 10 * median, "max activity {max} vs median {median}");
    }

    #[test]
    fn customers_favour_one_category() {
        let shop = small().generate();
        let m = &shop.data.matrix;
        // With affinity 0.5 and 2 categories, the commonest category of a heavy customer holds
        // well over the 50% a uniform mix of two would give.
        let mut share = 0.0;
        let mut counted = 0usize;
        for u in (0..m.n_rows).filter(|&u| m.row_indices(u).len() >= 20) {
            let mut count = [0usize; 2];
            m.row_indices(u).iter().for_each(|&i| count[shop.categories[i as usize] as usize] += 1);
            share += *count.iter().max().unwrap() as f64 / m.row_indices(u).len() as f64;
            counted += 1;
        }
        assert!(counted > 0);
        assert!(share / counted as f64 > 0.65, "mean favourite share {}", share / counted as f64);
    }
}
