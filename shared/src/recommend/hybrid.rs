//! The hybrid ranker: every signal scores every item for a user, each signal's scores are
//! standardised per user (z-scores over the catalogue; popularity as `log1p` counts, which is
//! the same for every user), and the final score is a weighted sum of those z-scores.
//!
//! ## How the weights are fitted
//! A validation slice is carved **from the training data only** (never the test split): per
//! user a random `validation_ratio` of their interactions (`RandomByUser`), or the latest
//! `validation_ratio` of all interactions by time (`Chronological`, for data where the future
//! is what is asked for). Every signal is fitted on the rest, and the weights are chosen by
//! coordinate ascent over a small grid per signal to maximise validation nDCG@k, minus a
//! penalty when catalogue coverage falls below `min_coverage` (breadth is a goal of the shop,
//! not an accident). With [`HybridParams::validation_slices`] above 1 the objective is the mean
//! over several slices, each fitted on its own rest (random carves with other seeds; the
//! chronological one a shrinking share of the latest data, e.g. 20 %, 15 %, 10 % for three):
//! one slice's optimum can swing with a small change of a signal, the mean moves less.
//! Popularity weights may be negative: that is how the blend trades a little accuracy for
//! coverage. Two bounds keep that trade honest on a small shop:
//! - the floor is scaled by the share of the catalogue a slice's users can reach (`users x k`
//!   recommendations over its candidate items, at most 1): 50 customers over 2,000 items cannot
//!   cover a quarter of them, and an unreachable floor bought coverage at any price in accuracy;
//! - a blend scoring below the popularity list alone on the same slices ranks under every blend
//!   above it, whatever its coverage: the gate holds the model to popularity, and coverage below
//!   it is not worth having.
//!   A shop of 375 customers (Online Retail outside the UK from March 2011) got a blend with
//!   popularity at -2 and nDCG 0.062 against popularity's 0.081 on its held-out customers, which
//!   the gate rejected; it now gets 0.109. The floor is unchanged wherever every slice reaches
//!   the whole catalogue; the bar applies at any size. On the four benchmark splits (MovieLens,
//!   the full Online Retail) both leave the chosen blends as they were: a measurement, not a
//!   guarantee for other data (a catalogue above `max_validation_users x k` candidates has a
//!   reach below 1 from the users' sample alone).
//!
//! The signals are then refitted on all the training data and
//! combined with the chosen weights. Signals with weight 0 are not refitted.
//!
//! Users without history get the trending (recency-weighted popularity) list.
//!
//! ## Large catalogues
//! Nothing in the fit or the scoring is dense in `items²` or `users x items`:
//! - The item-neighbourhood signal is dense EASE up to [`super::ease::EaseParams::max_items`]
//!   items and the sparse co-occurrence model above (its counting is bounded per user, see
//!   [`super::cooccurrence`]); the co-occurrence model is always fitted, since
//!   [`HybridModel::similar_items`] reads it.
//! - From [`LargeData::min_interactions`] interactions a preset applies by itself: the weight
//!   search's ALS takes fewer sweeps and the refit starts from its factors ([`LargeData`]).
//! - The weight search scores a sample of validation users; when every candidate item of
//!   every sampled user would take more than [`HybridParams::validation_budget_mib`], each user's pool is
//!   the union of every signal's top [`HybridParams::validation_pool`] (exact below that).
//!
//! ## How a user is scored
//! A z-score is `(raw - mean) / sd` over the catalogue, so the blend is
//! `Σ (w / sd) raw + constant`, and the constant does not change the ranking. The per-user
//! means and deviations are found without a dense pass where possible: ALS in closed form
//! (`mean = x·ȳ`, `E[s²] = xᵀ(YᵀY / n)x`), the sparse signals (co-occurrence, content, similar
//! users) from the items they reach (every other item scores 0), popularity once for every
//! user. Up to [`HybridParams::exact_scoring_items`] items every item is scored. Above, scores
//! exist only where a sparse signal reached, plus the items found by visiting clusters of ALS
//! item factors best bound first ([`InnerProductIndex`]): exact when the bound proves no unvisited
//! item can enter the top k, otherwise cut after [`HybridParams::candidate_scan`] items.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::als::{AlsModel, AlsParams, InnerProductIndex, dot};
use super::content::{ContentModel, ContentParams};
use super::cooccurrence::{CooccurrenceModel, CooccurrenceParams};
use super::data::{Csr, IdMap, Interactions};
use super::ease::{EaseModel, EaseParams};
use super::errors::{RecommendError, Result};
use super::metrics::{Judged, Metrics, summarise};
use super::popularity::{PopularityModel, PopularityParams};
use super::similar_users::{SimilarUsersModel, SimilarUsersParams};
use super::split::SplitMix64;

/// One signal of the blend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Implicit ALS.
    Als,
    /// Dense EASE (only when the catalogue is small enough).
    Ease,
    /// SAR-style item co-occurrence (sparse).
    Cooccurrence,
    /// All-time popularity.
    Popularity,
    /// Recency-weighted popularity.
    Trending,
    /// TF-IDF description similarity to the user's history (when texts are given).
    Content,
    /// What the most similar customers took recently (sparse).
    SimilarUsers,
}

/// Every signal, in blend order.
pub const SIGNALS: [Signal; 7] = [
    Signal::Als,
    Signal::Ease,
    Signal::Cooccurrence,
    Signal::Popularity,
    Signal::Trending,
    Signal::Content,
    Signal::SimilarUsers,
];

/// How the validation slice is carved from the training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// A random share of each user's interactions.
    RandomByUser,
    /// The latest share of all interactions by time.
    Chronological,
    /// A random share of each item's interactions (mirrors a per-item stratified test split).
    StratifiedByItem,
}

/// Hybrid hyper-parameters: each signal's own parameters plus how the blend is fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HybridParams {
    /// ALS (see its defaults).
    pub als: AlsParams,
    /// EASE (see its defaults).
    pub ease: EaseParams,
    /// Co-occurrence (default: cosine, 200 neighbours, affinity half-life 120 days).
    pub cooccurrence: CooccurrenceParams,
    /// All-time popularity.
    pub popularity: PopularityParams,
    /// Recency-weighted popularity (default half-life 14 days).
    pub trending: PopularityParams,
    /// TF-IDF similarity.
    pub content: ContentParams,
    /// Similar customers' recent purchases (default none: not a signal; the chronological
    /// Online Retail preset turns it on).
    pub similar_users: Option<SimilarUsersParams>,
    /// How the validation slice is carved (default random by user).
    pub validation: Validation,
    /// Share of the training data held out for validation (default 0.2).
    pub validation_ratio: f64,
    /// Validation slices whose mean objective the weights maximise (default 1). Several make
    /// the choice steadier where one slice's optimum swings with small changes of a signal:
    /// random carves draw with other seeds, the chronological one holds out less of the latest
    /// data (down to half of `validation_ratio`).
    pub validation_slices: usize,
    /// At most this many validation users are scored (default 2,000, sampled with the seed).
    pub max_validation_users: usize,
    /// Coverage floor of the weight search (default 0.25).
    pub min_coverage: f64,
    /// The cut-off the weights are fitted for (default 10).
    pub k: usize,
    /// Seed of the validation carve (default 42).
    pub seed: u64,
    /// Fixed weights instead of fitting them (default none).
    pub weights: Option<Vec<(Signal, f32)>>,
    /// Largest catalogue in which every item is scored for every user (default 20,000); above
    /// it candidates come from the sparse signals and the ALS factor index.
    pub exact_scoring_items: usize,
    /// Most items scored from the ALS factor index per user in a large catalogue, beyond those
    /// the sparse signals reach (default 8,192).
    pub candidate_scan: usize,
    /// In a large weight search, the top this-many items of each signal form a validation
    /// user's pool (default 1,000).
    pub validation_pool: usize,
    /// The weight search keeps every candidate item of every sampled validation user while
    /// their scores take at most this many MiB (default 512: MovieLens and Online Retail fit);
    /// above it, pools of [`HybridParams::validation_pool`].
    pub validation_budget_mib: usize,
    /// The large-data preset, applied automatically by size (see [`LargeData`]).
    pub large: LargeData,
}

/// The weight search's result: the blend, its report, and (large data) the ALS model to warm
/// start the refit from.
type SearchOutcome = (Vec<(Signal, f32)>, ValidationReport, Option<AlsModel>);

/// What changes in the fit when the data is large: ALS is what takes the time there (two fits,
/// the weight search's and the refit, each `users x interactions` work per sweep), so the
/// weight search's ALS takes fewer sweeps (its weights are a coarse grid choice) and the refit
/// starts from the weight search's factors instead of random ones, so a few sweeps finish it.
/// Nothing changes below [`LargeData::min_interactions`] (MovieLens, Online Retail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LargeData {
    /// Interactions from which the preset applies (default 5,000,000).
    pub min_interactions: usize,
    /// ALS sweeps of the weight search's fit (default 6).
    pub validation_iterations: usize,
    /// ALS sweeps of the refit on all the data, warm-started (default 5).
    pub refit_iterations: usize,
    /// Whether the similar-customers signal stays on (default false: it is dropped). Its
    /// neighbour lists hold `users x neighbours` entries (800 MB for a million customers at
    /// 100) and its counting grows with the users of the best-sellers; it was measured on
    /// Online Retail's size only.
    pub similar_users: bool,
}

impl Default for LargeData {
    fn default() -> Self {
        Self {
            min_interactions: 5_000_000,
            validation_iterations: 6,
            refit_iterations: 5,
            similar_users: false,
        }
    }
}

impl Default for HybridParams {
    fn default() -> Self {
        Self {
            als: AlsParams::default(),
            ease: EaseParams::default(),
            cooccurrence: CooccurrenceParams { half_life_days: Some(120.0), ..CooccurrenceParams::default() },
            popularity: PopularityParams { half_life_days: None },
            trending: PopularityParams { half_life_days: Some(14.0) },
            content: ContentParams::default(),
            similar_users: None,
            validation: Validation::RandomByUser,
            validation_ratio: 0.2,
            validation_slices: 1,
            max_validation_users: 2_000,
            min_coverage: 0.25,
            k: 10,
            seed: 42,
            weights: None,
            exact_scoring_items: 20_000,
            candidate_scan: 8_192,
            validation_pool: 1_000,
            validation_budget_mib: 512,
            large: LargeData::default(),
        }
    }
}

/// The fitted signals (absent ones were not needed or not possible).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Signals {
    als: Option<AlsModel>,
    ease: Option<EaseModel>,
    cooccurrence: Option<CooccurrenceModel>,
    popularity: Option<PopularityModel>,
    trending: Option<PopularityModel>,
    content: Option<ContentModel>,
    similar_users: Option<SimilarUsersModel>,
    /// `ln(1 + score)` of popularity and trending, the same for every user, computed once.
    #[serde(skip)]
    log_popularity: [OnceLock<Vec<f32>>; 2],
}

/// What the weight search saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Validation metrics of the chosen weights.
    pub metrics: Metrics,
    /// Weight vectors tried.
    pub trials: usize,
    /// Seconds spent fitting on the carved slice and searching.
    pub seconds: f64,
    /// The coverage floor the search held the blends to: [`HybridParams::min_coverage`] scaled
    /// by the share of the catalogue the slices' users could reach (0 in models from before it).
    #[serde(default)]
    pub coverage_floor: f64,
    /// The popularity list's own validation nDCG, below which no blend was taken (none when
    /// popularity was not a signal, or in models from before it).
    #[serde(default)]
    pub popularity_ndcg: Option<f64>,
}

/// The fitted hybrid: id maps, the training history (to exclude seen items), the signals and
/// their weights, with the parameters and training metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HybridModel {
    /// The parameters used.
    pub params: HybridParams,
    /// User ids.
    pub users: IdMap,
    /// Item ids.
    pub items: IdMap,
    /// What each user has already interacted with (excluded from recommendations).
    pub history: Csr,
    /// Ages in days of those interactions (for time decay).
    pub ages: Csr,
    /// The blend.
    pub weights: Vec<(Signal, f32)>,
    /// The validation search, when the weights were fitted.
    pub validation: Option<ValidationReport>,
    /// Seconds to fit each signal on all the data.
    pub signal_seconds: Vec<(Signal, f64)>,
    /// Wall-clock seconds of the whole fit.
    pub train_seconds: f64,
    /// Of which: the scoring constants and, for a large catalogue, the factor index.
    #[serde(default)]
    pub prepare_seconds: f64,
    signals: Signals,
    /// Per-model constants of the scoring, derived from the rest (rebuilt on first use after
    /// deserialisation).
    #[serde(skip)]
    prepared: OnceLock<Prepared>,
}

/// How the large-catalogue candidate path found one user's list (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateStats {
    /// Items a sparse signal reached.
    pub reached: usize,
    /// Of which scored in full (the others' bound showed they could not enter the list).
    pub reached_scored: usize,
    /// Items scored from the ALS factor index (or the fixed order) beyond those.
    pub scanned: usize,
    /// Clusters of the index visited.
    pub clusters: usize,
    /// Whether the bound proved that no unscored item could enter the list.
    pub exact: bool,
}

/// What scoring needs beyond the fitted signals, computed once per model.
#[derive(Debug, Clone, Default)]
struct Prepared {
    /// Per item, `Σ w · z` of the user-independent signals (popularity, trending).
    fixed: Vec<f32>,
    /// Items by decreasing `fixed` (ties: lower index), for large catalogues without ALS.
    fixed_order: Vec<u32>,
    /// ALS: the mean item factor and `YᵀY / n` (`f64`), for closed-form per-user z-scores.
    als_mean: Vec<f64>,
    als_moment: Vec<f64>,
    /// ALS item factors factor-major (`f x n`), when every item is scored: a user's scores
    /// are then `f` vectorised passes over the catalogue rather than `n` short dot products.
    als_columns: Vec<f32>,
    /// Large catalogues with ALS in the blend: the factor index and each cluster's largest
    /// `fixed`.
    index: Option<(InnerProductIndex, Vec<f32>)>,
}

impl Signals {
    fn fit(
        params: &HybridParams,
        data: &Interactions,
        texts: Option<&[String]>,
        wanted: &[Signal],
        seconds: &mut Vec<(Signal, f64)>,
        als_start: Option<&AlsModel>,
    ) -> Result<Self> {
        let mut s = Self::default();
        for &signal in wanted {
            let started = Instant::now();
            match signal {
                Signal::Als => s.als = Some(params.als.fit_from(data, als_start)?),
                Signal::Ease => match params.ease.fit(data) {
                    Ok(m) => s.ease = Some(m),
                    Err(RecommendError::TooManyItems { .. }) => {}
                    Err(e) => return Err(e),
                },
                Signal::Cooccurrence => s.cooccurrence = Some(params.cooccurrence.fit(data)?),
                Signal::Popularity => s.popularity = Some(params.popularity.fit(data)?),
                Signal::Trending => s.trending = Some(params.trending.fit(data)?),
                Signal::Content => s.content = texts.map(|t| params.content.fit(t)),
                Signal::SimilarUsers => {
                    s.similar_users = params.similar_users.as_ref().map(|p| p.fit(data)).transpose()?;
                }
            }
            seconds.push((signal, started.elapsed().as_secs_f64()));
        }
        Ok(s)
    }

    fn has(&self, signal: Signal) -> bool {
        match signal {
            Signal::Als => self.als.is_some(),
            Signal::Ease => self.ease.is_some(),
            Signal::Cooccurrence => self.cooccurrence.is_some(),
            Signal::Popularity => self.popularity.is_some(),
            Signal::Trending => self.trending.is_some(),
            Signal::Content => self.content.is_some(),
            Signal::SimilarUsers => self.similar_users.is_some(),
        }
    }

    /// Raw scores of `signal` for user `u` into `out`.
    fn score(&self, signal: Signal, u: usize, history: &Csr, ages: &Csr, out: &mut [f32]) {
        let span = history.indptr[u]..history.indptr[u + 1];
        let items = &history.indices[span.clone()];
        let weights = &history.values[span.clone()];
        let age = &ages.values[span];
        match signal {
            Signal::Als => self.als.as_ref().expect("fitted").score_user(u, out),
            Signal::Ease => {
                self.ease
                    .as_ref()
                    .expect("fitted")
                    .score_history(items.iter().zip(weights).zip(age).map(|((&i, &w), &a)| (i, w, a)), out);
            }
            Signal::Cooccurrence => self
                .cooccurrence
                .as_ref()
                .expect("fitted")
                .score_history(items.iter().zip(weights).zip(age).map(|((&i, &w), &a)| (i, w, a)), out),
            Signal::Popularity | Signal::Trending => {
                let (m, slot) = if signal == Signal::Popularity {
                    (&self.popularity, &self.log_popularity[0])
                } else {
                    (&self.trending, &self.log_popularity[1])
                };
                let logs = slot
                    .get_or_init(|| m.as_ref().expect("fitted").scores.iter().map(|s| s.ln_1p()).collect());
                out.copy_from_slice(logs);
            }
            Signal::Content => {
                self.content.as_ref().expect("fitted").score_history(items.iter().copied(), out);
            }
            Signal::SimilarUsers => {
                self.similar_users.as_ref().expect("fitted").score_user(u, history, ages, out);
            }
        }
    }
}

/// Standardises `v` in place (mean 0, standard deviation 1; constant vectors become 0).
fn standardise(v: &mut [f32]) {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    let scale = if var > 0.0 { 1.0 / var.sqrt() } else { 0.0 };
    v.iter_mut().for_each(|x| *x = (*x - mean) * scale);
}

/// The best `k` of `scores` (`-inf` never chosen), best first, earlier index on ties.
#[must_use]
pub fn top_k(scores: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    if k > 32 {
        // Insertion costs O(k) per entrant: select instead.
        let mut all: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != f32::NEG_INFINITY && !s.is_nan())
            .map(|(i, &s)| (i as u32, s))
            .collect();
        let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if all.len() > k {
            all.select_nth_unstable_by(k, order);
            all.truncate(k);
        }
        all.sort_unstable_by(order);
        return all;
    }
    for (i, &s) in scores.iter().enumerate() {
        if s == f32::NEG_INFINITY || s.is_nan() {
            continue;
        }
        if best.len() < k || s > best[best.len() - 1].1 {
            let pos = best.partition_point(|&(_, b)| b >= s);
            best.insert(pos, (i as u32, s));
            best.truncate(k);
        }
    }
    best
}

/// The best `k` offered so far, best first, earlier index on ties (for sparse candidates
/// offered in any order).
struct Best {
    k: usize,
    items: Vec<(u32, f32)>,
}

impl Best {
    fn new(k: usize) -> Self {
        Self { k, items: Vec::with_capacity(k + 1) }
    }

    /// The score an entrant must beat (`-inf` until full).
    fn threshold(&self) -> f32 {
        if self.items.len() < self.k { f32::NEG_INFINITY } else { self.items[self.k - 1].1 }
    }

    fn offer(&mut self, i: u32, s: f32) {
        if self.k == 0 || s.is_nan() || s == f32::NEG_INFINITY {
            return;
        }
        if self.items.len() == self.k {
            let (last_i, last_s) = self.items[self.k - 1];
            if s < last_s || (s == last_s && i > last_i) {
                return;
            }
        }
        let pos = self.items.partition_point(|&(j, b)| b > s || (b == s && j < i));
        self.items.insert(pos, (i, s));
        self.items.truncate(self.k);
    }
}

/// Users whose EASE scores are computed together by `recommend_many` (their score rows stay in
/// a core's cache while the item-item weight rows stream past once).
const EASE_BLOCK: usize = 64;

/// Clusters ordered by bound first in the candidate path (the rest only if the visit goes on).
const CLUSTER_HEAD: usize = 64;

/// Per-thread buffers for blending one user at a time.
struct Scratch {
    /// One sparse signal's accumulation (0 wherever it has not reached).
    signal: Vec<f32>,
    /// One dense signal's raw scores (EASE).
    dense: Vec<f32>,
    /// The blend (dense path), or the sparse signals' blended part (0 elsewhere).
    total: Vec<f32>,
    /// Items a sparse signal reached.
    touched: Vec<u32>,
    /// Items with a sparse blended part (large catalogues).
    reached: Vec<u32>,
    /// Items already scored or excluded (large catalogues).
    done: Vec<bool>,
    /// Clusters with their bounds (large catalogues).
    clusters: Vec<(f32, u32)>,
    /// Each cluster's bound on the ALS part of the blend (large catalogues).
    als_bound: Vec<f32>,
    /// Reached items with their bounds (large catalogues).
    candidates: Vec<(f32, u32)>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self {
            signal: vec![0f32; n],
            dense: vec![0f32; n],
            total: vec![0f32; n],
            touched: Vec::new(),
            reached: Vec::new(),
            done: vec![false; n],
            clusters: Vec::new(),
            als_bound: Vec::new(),
            candidates: Vec::new(),
        }
    }
}

/// `Σ f(x)` over `v`, summed in 8 lanes so the compiler vectorises it (a strict left-to-right
/// `f32` sum cannot be).
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `(mean, sd)` of `v` as [`standardise`] defines them.
fn moments(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f32;
    let mean = lane_sum(v, |x| x) / n;
    let var = lane_sum(v, |x| (x - mean) * (x - mean)) / n;
    (mean, var.sqrt())
}

/// `(mean, sd)` over `n` items of a vector that is 0 except at `touched`.
fn sparse_moments(v: &[f32], touched: &[u32], n: usize) -> (f32, f32) {
    let (mut s1, mut s2) = (0f64, 0f64);
    for &j in touched {
        let x = f64::from(v[j as usize]);
        s1 += x;
        s2 += x * x;
    }
    let n = n.max(1) as f64;
    let mean = s1 / n;
    ((mean) as f32, (s2 / n - mean * mean).max(0.0).sqrt() as f32)
}

/// One validation slice as the weight search reads it.
struct ValidationSlice {
    /// Validation users with their held-out items.
    users: Vec<(usize, Vec<u32>)>,
    /// Per user: the candidate pool (ascending) and each signal's z-scores on it, signal-major.
    pooled: Vec<(Vec<u32>, Vec<f32>)>,
    /// Items that were candidates (seen in the fitted part).
    n_candidates: usize,
}

impl ValidationSlice {
    /// The slice's metrics at `k` for the weights `w` (one per signal, in the order the slice
    /// was scored).
    fn evaluate(&self, w: &[f32], k: usize) -> Metrics {
        let recs: Vec<Vec<u32>> = self
            .pooled
            .par_iter()
            .map(|(pool, scores)| {
                let mut total = vec![0f32; pool.len()];
                for (v, &wi) in scores.chunks_exact(pool.len().max(1)).zip(w) {
                    if wi != 0.0 {
                        total.iter_mut().zip(v).for_each(|(t, x)| *t += wi * x);
                    }
                }
                top_k(&total, k).into_iter().map(|(p, _)| pool[p as usize]).collect()
            })
            .collect();
        let judged: Vec<Judged<'_>> = recs
            .iter()
            .zip(&self.users)
            .map(|(r, (_, rel))| Judged { recommended: r, relevant: rel, n_relevant: rel.len() })
            .collect();
        summarise(&judged, k, self.n_candidates)
    }
}

/// Fewest users a blend is judged on, below which one blend cannot be told from another: the
/// weight search keeps its starting blend, and the gate lets a first version tie with popularity
/// ([`crate::registry::Gates::judge`]).
pub const MIN_EVIDENCE_USERS: usize = 20;

/// The mean of each metric over validation slices (users summed).
fn mean_metrics(each: &[Metrics]) -> Metrics {
    let n = each.len().max(1) as f64;
    let mean = |f: fn(&Metrics) -> f64| each.iter().map(f).sum::<f64>() / n;
    Metrics {
        precision: mean(|m| m.precision),
        recall: mean(|m| m.recall),
        ndcg: mean(|m| m.ndcg),
        map: mean(|m| m.map),
        coverage: mean(|m| m.coverage),
        users: each.iter().map(|m| m.users).sum(),
    }
}

impl HybridParams {
    /// Fits the hybrid to `data`; `texts` (one per item id, optional) enables the content signal.
    ///
    /// # Errors
    /// Any signal's parameter check, or no interactions.
    pub fn fit(&self, data: &Interactions, texts: Option<&[String]>) -> Result<HybridModel> {
        if data.matrix.nnz() == 0 {
            return Err(RecommendError::Empty);
        }
        let started = Instant::now();
        let large = data.matrix.nnz() >= self.large.min_interactions;
        let available: Vec<Signal> = SIGNALS
            .into_iter()
            .filter(|&s| s != Signal::Content || texts.is_some())
            .filter(|&s| s != Signal::Ease || data.n_items() <= self.ease.max_items)
            .filter(|&s| {
                s != Signal::SimilarUsers
                    || (self.similar_users.is_some() && (!large || self.large.similar_users))
            })
            .collect();
        let (weights, validation, als_start) = match &self.weights {
            Some(w) => (w.clone(), None, None),
            None => {
                let (w, report, als) = self.search_weights(data, texts, &available, large)?;
                (w, Some(report), als)
            }
        };
        // Co-occurrence and content are fitted whatever their weight: `similar_items` reads them.
        let mut wanted: Vec<Signal> =
            weights.iter().filter(|(s, w)| *w != 0.0 && available.contains(s)).map(|&(s, _)| s).collect();
        for s in [Signal::Cooccurrence, Signal::Content] {
            if !wanted.contains(&s) && (s != Signal::Content || texts.is_some()) {
                wanted.push(s);
            }
        }
        let mut signal_seconds = Vec::new();
        let refit = match &als_start {
            Some(_) => {
                let mut p = self.clone();
                p.als.iterations = self.large.refit_iterations;
                p
            }
            None => self.clone(),
        };
        let signals = Signals::fit(&refit, data, texts, &wanted, &mut signal_seconds, als_start.as_ref())?;
        drop(als_start);
        let weights = weights.into_iter().filter(|&(s, w)| w != 0.0 && signals.has(s)).collect();
        let model = HybridModel {
            params: self.clone(),
            users: data.users.clone(),
            items: data.items.clone(),
            history: data.matrix.clone(),
            ages: data.times.clone(),
            weights,
            validation,
            signal_seconds,
            train_seconds: 0.0,
            prepare_seconds: 0.0,
            signals,
            prepared: OnceLock::new(),
        };
        // The scoring constants (and a large catalogue's factor index) are part of training.
        let prepared = Instant::now();
        model.prepared();
        let mut model = model;
        model.prepare_seconds = prepared.elapsed().as_secs_f64();
        model.train_seconds = started.elapsed().as_secs_f64();
        Ok(model)
    }

    /// Carves the validation slice, fits every available signal on the rest, and searches the
    /// weights by coordinate ascent.
    fn search_weights(
        &self,
        data: &Interactions,
        texts: Option<&[String]>,
        available: &[Signal],
        large: bool,
    ) -> Result<SearchOutcome> {
        let started = Instant::now();
        let mut params = self.clone();
        if large {
            params.als.iterations = self.large.validation_iterations;
        }
        let mut slices = Vec::with_capacity(self.validation_slices.max(1));
        let mut available = available.to_vec();
        let mut als_start = None;
        for slice in 0..self.validation_slices.max(1) {
            let (prepared, signals) = params.prepare_slice(data, texts, &available, slice)?;
            available.retain(|&s| signals.has(s));
            if slice == 0 && large {
                als_start = signals.als;
            }
            slices.push(prepared);
        }
        // The coverage floor, as a share of what the slices' users can reach: `users x k`
        // recommendations cannot cover more of the catalogue than that, and a small shop's
        // slice of 50 customers over 2,000 items would otherwise be held to a floor no blend
        // reaches, which buys coverage at any price in accuracy. Each slice's floor is scaled
        // by its own reach and the objective reads their mean (the floor itself wherever every
        // slice reaches the whole catalogue: MovieLens, Online Retail).
        let floor = slices
            .iter()
            .map(|slice| {
                let reach = (slice.users.len() * self.k) as f64 / slice.n_candidates.max(1) as f64;
                self.min_coverage * reach.min(1.0)
            })
            .sum::<f64>()
            / slices.len().max(1) as f64;
        let evaluate = |w: &[f32]| -> Metrics {
            let each: Vec<Metrics> = slices.iter().map(|slice| slice.evaluate(w, self.k)).collect();
            mean_metrics(&each)
        };
        // The popularity list alone on the same slices: a blend scoring below it is worse than
        // the best-seller list the gate holds the model to, whatever coverage it buys. Below
        // it, a blend is ranked by nDCG alone, under every blend above it.
        let popularity_ndcg = available.iter().position(|&s| s == Signal::Popularity).map(|p| {
            let mut only = vec![0.0; available.len()];
            only[p] = 1.0;
            evaluate(&only).ndcg
        });
        let objective = |m: &Metrics| match popularity_ndcg {
            Some(bar) if m.ndcg < bar - 1e-9 => m.ndcg - 10.0,
            _ => m.ndcg - 2.0 * (floor - m.coverage).max(0.0),
        };
        let grid_for = |s: Signal| -> &'static [f32] {
            match s {
                Signal::Popularity | Signal::Trending => &[
                    -2.0, -1.5, -1.0, -0.75, -0.5, -0.3, -0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3,
                    0.5, 1.0,
                ],
                _ => &[0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0],
            }
        };
        let mut w: Vec<f32> = available
            .iter()
            .map(|&s| if matches!(s, Signal::Als | Signal::Ease) { 1.0 } else { 0.0 })
            .collect();
        if !available.contains(&Signal::Ease)
            && let Some(p) = available.iter().position(|&s| s == Signal::Cooccurrence)
        {
            w[p] = 1.0;
        }
        let mut best = evaluate(&w);
        let mut best_objective = objective(&best);
        let mut trials = 1;
        let mut tried: HashSet<Vec<u32>> = HashSet::new();
        tried.insert(w.iter().map(|x| x.to_bits()).collect());
        // Too few validation users to tell one blend from another (a shop's first week): every
        // blend scores nDCG 0 on one user, and the coverage penalty alone chose anti-popular
        // lists. The neighbourhood signals' starting blend stands.
        let rounds = if best.users < MIN_EVIDENCE_USERS { 0 } else { 4 };
        for _round in 0..rounds {
            let mut improved = false;
            for c in 0..available.len() {
                for &value in grid_for(available[c]) {
                    let mut candidate_w = w.clone();
                    candidate_w[c] = value;
                    if candidate_w.iter().all(|&x| x <= 0.0) {
                        continue;
                    }
                    if !tried.insert(candidate_w.iter().map(|x| x.to_bits()).collect()) {
                        continue;
                    }
                    let m = evaluate(&candidate_w);
                    trials += 1;
                    if objective(&m) > best_objective + 1e-6 {
                        best_objective = objective(&m);
                        best = m;
                        w = candidate_w;
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        let weights = available.iter().copied().zip(w).collect();
        let report = ValidationReport {
            metrics: best,
            trials,
            seconds: started.elapsed().as_secs_f64(),
            coverage_floor: floor,
            popularity_ndcg,
        };
        // Large data: the refit starts from these factors (same users and items).
        Ok((weights, report, als_start))
    }

    /// Carves validation slice `slice`, fits `available` on the rest and scores its users:
    /// the slice ready for the weight search, and the signals fitted (those absent there are
    /// left out of the slice's scores).
    fn prepare_slice(
        &self,
        data: &Interactions,
        texts: Option<&[String]>,
        available: &[Signal],
        slice: usize,
    ) -> Result<(ValidationSlice, Signals)> {
        let held = self.carve(data, slice);
        let keep: Vec<bool> = held.iter().map(|h| !h).collect();
        let fit_part = data.subset(&keep);
        let mut ignored = Vec::new();
        let signals = Signals::fit(self, &fit_part, texts, available, &mut ignored, None)?;
        let available: Vec<Signal> = available.iter().copied().filter(|&s| signals.has(s)).collect();
        // Items nobody interacted with in the fitted part are not candidates (as in a test).
        let mut candidate = vec![false; data.n_items()];
        fit_part.matrix.indices.iter().for_each(|&i| candidate[i as usize] = true);
        let n_candidates = candidate.iter().filter(|&&c| c).count();
        // Validation users: held-out items and some history, sampled to a bound.
        let mut users: Vec<(usize, Vec<u32>)> = (0..data.n_users())
            .filter_map(|u| {
                let span = data.matrix.indptr[u]..data.matrix.indptr[u + 1];
                let relevant: Vec<u32> =
                    span.clone().filter(|&p| held[p]).map(|p| data.matrix.indices[p]).collect();
                let has_history = span.clone().any(|p| !held[p]);
                (has_history && !relevant.is_empty()).then_some((u, relevant))
            })
            .collect();
        if users.len() > self.max_validation_users {
            SplitMix64::new(self.seed ^ 0x5EED).shuffle(&mut users);
            users.truncate(self.max_validation_users);
            users.sort_by_key(|(u, _)| *u);
        }
        let n = data.n_items();
        // Per validation user: a pool of candidate items (ascending, so ties break by index as
        // in a full ranking) and each signal's standardised score on it, signal-major.
        let signals_n = available.len();
        let exact = users.len() * n_candidates * signals_n * 4 <= self.validation_budget_mib << 20;
        let pool_size = self.validation_pool.max(self.k);
        let pooled: Vec<(Vec<u32>, Vec<f32>)> = users
            .par_iter()
            .map_init(
                || (vec![0f32; n], vec![false; n]),
                |(v, in_pool), (u, _)| {
                    let seen = fit_part.matrix.row_indices(*u);
                    let mut per_signal = Vec::with_capacity(signals_n);
                    for &s in &available {
                        signals.score(s, *u, &fit_part.matrix, &fit_part.times, v);
                        standardise(v);
                        for (x, &c) in v.iter_mut().zip(&candidate) {
                            if !c {
                                *x = f32::NEG_INFINITY;
                            }
                        }
                        for &i in seen {
                            v[i as usize] = f32::NEG_INFINITY;
                        }
                        per_signal.push(v.clone());
                    }
                    let pool: Vec<u32> = if exact {
                        (0..n as u32).filter(|&i| per_signal[0][i as usize] != f32::NEG_INFINITY).collect()
                    } else {
                        let mut pool = Vec::new();
                        for scores in &per_signal {
                            for (i, _) in top_k(scores, pool_size) {
                                if !in_pool[i as usize] {
                                    in_pool[i as usize] = true;
                                    pool.push(i);
                                }
                            }
                        }
                        pool.iter().for_each(|&i| in_pool[i as usize] = false);
                        pool.sort_unstable();
                        pool
                    };
                    let mut scores = Vec::with_capacity(pool.len() * signals_n);
                    for per in &per_signal {
                        scores.extend(pool.iter().map(|&i| per[i as usize]));
                    }
                    (pool, scores)
                },
            )
            .collect();
        Ok((ValidationSlice { users, pooled, n_candidates }, signals))
    }

    /// Which stored interactions (by position in the matrix) are held out for validation
    /// slice `slice`: the random carves draw with the seed plus the slice; the chronological
    /// one holds out the latest `validation_ratio` for slice 0 and shares evenly down to half
    /// of it for the last slice.
    fn carve(&self, data: &Interactions, slice: usize) -> Vec<bool> {
        let nnz = data.matrix.nnz();
        let mut held = vec![false; nnz];
        let seed = self.seed.wrapping_add(slice as u64);
        match self.validation {
            Validation::RandomByUser => {
                let mut rng = SplitMix64::new(seed);
                for u in 0..data.n_users() {
                    let mut positions: Vec<usize> =
                        (data.matrix.indptr[u]..data.matrix.indptr[u + 1]).collect();
                    if positions.len() < 2 {
                        continue;
                    }
                    rng.shuffle(&mut positions);
                    let count = ((positions.len() as f64 * self.validation_ratio).round() as usize)
                        .clamp(1, positions.len() - 1);
                    positions[..count].iter().for_each(|&p| held[p] = true);
                }
            }
            Validation::StratifiedByItem => {
                let mut rng = SplitMix64::new(seed);
                let mut by_item: Vec<Vec<usize>> = vec![Vec::new(); data.n_items()];
                for (p, &i) in data.matrix.indices.iter().enumerate() {
                    by_item[i as usize].push(p);
                }
                for positions in &mut by_item {
                    rng.shuffle(positions);
                    let count = (positions.len() as f64 * self.validation_ratio).round() as usize;
                    positions[..count].iter().for_each(|&p| held[p] = true);
                }
            }
            Validation::Chronological => {
                // Ages are days before the latest interaction: the smallest are the newest.
                let mut positions: Vec<usize> = (0..nnz).collect();
                positions
                    .sort_by(|&a, &b| data.times.values[a].total_cmp(&data.times.values[b]).then(a.cmp(&b)));
                let slices = self.validation_slices.max(1);
                let ratio = if slices > 1 {
                    self.validation_ratio * (1.0 - slice as f64 / (2.0 * (slices - 1) as f64))
                } else {
                    self.validation_ratio
                };
                let count = (nnz as f64 * ratio).round() as usize;
                positions[..count].iter().for_each(|&p| held[p] = true);
            }
        }
        held
    }
}

impl HybridModel {
    /// The scoring constants, computed on first use.
    fn prepared(&self) -> &Prepared {
        self.prepared.get_or_init(|| self.prepare())
    }

    fn prepare(&self) -> Prepared {
        let n = self.items.len();
        let mut fixed = vec![0f32; n];
        let mut z = vec![0f32; n];
        for &(signal, w) in &self.weights {
            let model = match signal {
                Signal::Popularity => self.signals.popularity.as_ref(),
                Signal::Trending => self.signals.trending.as_ref(),
                _ => None,
            };
            if let Some(m) = model {
                z.iter_mut().zip(&m.scores).for_each(|(o, s)| *o = s.ln_1p());
                standardise(&mut z);
                fixed.iter_mut().zip(&z).for_each(|(t, x)| *t += w * x);
            }
        }
        let mut fixed_order: Vec<u32> = (0..n as u32).collect();
        fixed_order.sort_by(|&a, &b| fixed[b as usize].total_cmp(&fixed[a as usize]).then(a.cmp(&b)));
        let (mut als_mean, mut als_moment, mut als_columns, mut index) =
            (Vec::new(), Vec::new(), Vec::new(), None);
        if let Some(als) = self.signals.als.as_ref().filter(|_| self.weight(Signal::Als) != 0.0) {
            let f = als.params.factors;
            als_mean = vec![0f64; f];
            als_moment = vec![0f64; f * f];
            for y in als.item_factors.chunks_exact(f) {
                for a in 0..f {
                    let ya = f64::from(y[a]);
                    als_mean[a] += ya;
                    als_moment[a * f..(a + 1) * f]
                        .iter_mut()
                        .zip(y)
                        .for_each(|(m, &yb)| *m += ya * f64::from(yb));
                }
            }
            let items = n.max(1) as f64;
            als_mean.iter_mut().for_each(|m| *m /= items);
            als_moment.iter_mut().for_each(|m| *m /= items);
            if n <= self.params.exact_scoring_items {
                als_columns = vec![0f32; f * n];
                for (i, y) in als.item_factors.chunks_exact(f).enumerate() {
                    for (a, &v) in y.iter().enumerate() {
                        als_columns[a * n + i] = v;
                    }
                }
            } else {
                // About 128 items per cluster: a user's bounds cost n/128 dot products.
                let built =
                    InnerProductIndex::build(&als.item_factors, f, n.div_ceil(128), 8, self.params.seed);
                let best_fixed: Vec<f32> = (0..built.len())
                    .map(|c| {
                        built.cluster(c).iter().map(|&i| fixed[i as usize]).fold(f32::NEG_INFINITY, f32::max)
                    })
                    .collect();
                index = Some((built, best_fixed));
            }
        }
        Prepared { fixed, fixed_order, als_mean, als_moment, als_columns, index }
    }

    fn weight(&self, signal: Signal) -> f32 {
        self.weights.iter().find(|(s, _)| *s == signal).map_or(0.0, |&(_, w)| w)
    }

    /// ALS's `(scale, offset)` in the blend for user `u`: the blend gets `scale · x·y + offset`.
    fn als_terms(&self, prepared: &Prepared, u: usize, w: f32) -> (f32, f64) {
        let als = self.signals.als.as_ref().expect("fitted");
        let f = als.params.factors;
        let x = als.user(u);
        let mean: f64 = x.iter().zip(&prepared.als_mean).map(|(&a, m)| f64::from(a) * m).sum();
        let mut second = 0f64;
        for a in 0..f {
            let row = &prepared.als_moment[a * f..(a + 1) * f];
            second += f64::from(x[a]) * x.iter().zip(row).map(|(&b, m)| f64::from(b) * m).sum::<f64>();
        }
        let sd = (second - mean * mean).max(0.0).sqrt();
        if sd > 0.0 {
            let scale = f64::from(w) / sd;
            (scale as f32, -scale * mean)
        } else {
            (0.0, 0.0)
        }
    }

    /// Adds the sparse signals' blended part for user `u` into `scratch.total` (0 elsewhere,
    /// the reached items listed in `scratch.reached`); returns the constant offset.
    fn sparse_terms(&self, u: usize, scratch: &mut Scratch) -> f64 {
        let n = self.items.len();
        let (items, weights, ages) = self.row(u);
        let mut offset = 0f64;
        for &(signal, w) in &self.weights {
            match signal {
                Signal::Cooccurrence => {
                    self.signals.cooccurrence.as_ref().expect("fitted").accumulate_history(
                        items.iter().zip(weights).zip(ages).map(|((&i, &w), &a)| (i, w, a)),
                        &mut scratch.signal,
                        &mut scratch.touched,
                    );
                }
                Signal::Content => {
                    self.signals.content.as_ref().expect("fitted").accumulate_history(
                        items.iter().copied(),
                        &mut scratch.signal,
                        &mut scratch.touched,
                    );
                }
                Signal::SimilarUsers => {
                    self.signals.similar_users.as_ref().expect("fitted").accumulate_user(
                        u,
                        &self.history,
                        &self.ages,
                        &mut scratch.signal,
                        &mut scratch.touched,
                    );
                }
                _ => continue,
            }
            let (mean, sd) = sparse_moments(&scratch.signal, &scratch.touched, n);
            if sd > 0.0 {
                let scale = w / sd;
                offset -= f64::from(scale) * f64::from(mean);
                for &j in &scratch.touched {
                    let t = &mut scratch.total[j as usize];
                    if *t == 0.0 {
                        scratch.reached.push(j);
                    }
                    *t += scale * scratch.signal[j as usize];
                    if *t == 0.0 {
                        // Keep it listed: a cancelled sum is still a reached item.
                        *t = f32::MIN_POSITIVE;
                    }
                }
            }
            for &j in &scratch.touched {
                scratch.signal[j as usize] = 0.0;
            }
            scratch.touched.clear();
        }
        offset
    }

    /// User `u`'s history: items, weights and ages in days.
    fn row(&self, u: usize) -> (&[u32], &[f32], &[f32]) {
        let span = self.history.indptr[u]..self.history.indptr[u + 1];
        (&self.history.indices[span.clone()], &self.history.values[span.clone()], &self.ages.values[span])
    }

    /// Top `k` unseen items for the user at index `u`, best first, with blended scores.
    #[must_use]
    pub fn recommend_index(&self, u: usize, k: usize) -> Vec<(u32, f32)> {
        let mut scratch = Scratch::new(self.items.len());
        self.recommend_with(u, k, &mut scratch)
    }

    /// Top `k` for user `u` scoring every item, whatever the catalogue size: the reference
    /// the large-catalogue candidate path is checked against.
    #[must_use]
    pub fn recommend_exact(&self, u: usize, k: usize) -> Vec<(u32, f32)> {
        let mut scratch = Scratch::new(self.items.len());
        self.recommend_dense(u, k, &mut scratch, None)
    }

    /// How the candidate path builds user `u`'s top `k` (`None` when every item is scored).
    #[must_use]
    pub fn candidate_stats(&self, u: usize, k: usize) -> Option<CandidateStats> {
        if self.items.len() <= self.params.exact_scoring_items {
            return None;
        }
        let mut stats = CandidateStats::default();
        let mut scratch = Scratch::new(self.items.len());
        let _ = self.recommend_candidates(u, k, &mut scratch, self.prepared(), &mut stats);
        Some(stats)
    }

    fn recommend_with(&self, u: usize, k: usize, scratch: &mut Scratch) -> Vec<(u32, f32)> {
        let prepared = self.prepared();
        if self.items.len() > self.params.exact_scoring_items {
            self.recommend_candidates(u, k, scratch, prepared, &mut CandidateStats::default())
        } else {
            self.recommend_dense(u, k, scratch, None)
        }
    }

    /// Every item scored: fixed part, ALS in one pass over the item factors, EASE densely,
    /// sparse signals where they reach.
    /// `ease` holds user `u`'s EASE scores when the caller computed them for a block of users.
    fn recommend_dense(
        &self,
        u: usize,
        k: usize,
        scratch: &mut Scratch,
        ease: Option<&[f32]>,
    ) -> Vec<(u32, f32)> {
        let prepared = self.prepared();
        let n = self.items.len();
        scratch.total.copy_from_slice(&prepared.fixed);
        let mut offset = 0f64;
        for &(signal, w) in &self.weights {
            match signal {
                Signal::Als => {
                    let (scale, shift) = self.als_terms(prepared, u, w);
                    offset += shift;
                    if scale != 0.0 {
                        let als = self.signals.als.as_ref().expect("fitted");
                        let x = als.user(u);
                        if prepared.als_columns.is_empty() {
                            // A large catalogue scored in full (`recommend_exact`).
                            let f = als.params.factors;
                            scratch
                                .total
                                .iter_mut()
                                .zip(als.item_factors.chunks_exact(f))
                                .for_each(|(t, y)| *t += scale * dot(x, y));
                        } else {
                            for (&xa, column) in x.iter().zip(prepared.als_columns.chunks_exact(n)) {
                                let c = scale * xa;
                                scratch.total.iter_mut().zip(column).for_each(|(t, y)| *t += c * y);
                            }
                        }
                    }
                }
                Signal::Ease | Signal::Cooccurrence | Signal::Content | Signal::SimilarUsers => {
                    // A catalogue this small is mostly reached by the sparse signals too:
                    // dense, branch-free passes beat tracking what was reached.
                    let scores = match ease.filter(|_| signal == Signal::Ease) {
                        Some(scores) => scores,
                        None => {
                            self.signals.score(signal, u, &self.history, &self.ages, &mut scratch.dense);
                            &scratch.dense
                        }
                    };
                    let (mean, sd) = moments(scores);
                    if sd > 0.0 {
                        let scale = w / sd;
                        offset -= f64::from(scale) * f64::from(mean);
                        scratch.total.iter_mut().zip(scores).for_each(|(t, x)| *t += scale * x);
                    }
                }
                _ => {}
            }
        }
        for &i in self.history.row_indices(u) {
            scratch.total[i as usize] = f32::NEG_INFINITY;
        }
        debug_assert_eq!(scratch.total.len(), n);
        let mut best = top_k(&scratch.total, k);
        best.iter_mut().for_each(|(_, s)| *s = (f64::from(*s) + offset) as f32);
        best
    }

    /// A large catalogue: only the items a sparse signal reached, plus those found through the
    /// ALS factor index (or, without ALS, the best of the fixed part), are scored.
    fn recommend_candidates(
        &self,
        u: usize,
        k: usize,
        scratch: &mut Scratch,
        prepared: &Prepared,
        stats: &mut CandidateStats,
    ) -> Vec<(u32, f32)> {
        let mut offset = self.sparse_terms(u, scratch);
        let seen = self.history.row_indices(u);
        seen.iter().for_each(|&i| scratch.done[i as usize] = true);
        let als = self.signals.als.as_ref().filter(|_| prepared.index.is_some());
        let (scale, shift) = match als {
            Some(_) => self.als_terms(prepared, u, self.weight(Signal::Als)),
            None => (0.0, 0.0),
        };
        offset += shift;
        let score = |i: u32, sparse: f32| -> f32 {
            let mut s = prepared.fixed[i as usize] + sparse;
            if let Some(als) = als {
                let f = als.params.factors;
                s += scale * dot(als.user(u), &als.item_factors[i as usize * f..(i as usize + 1) * f]);
            }
            s
        };
        let mut best = Best::new(k);
        // Each cluster's bound on scale · (x·y): scale·x·c + |scale|·||x||·r for a member y.
        scratch.als_bound.clear();
        if let (Some(als), Some((index, _))) = (als, &prepared.index) {
            let x = als.user(u);
            let norm = dot(x, x).sqrt();
            scratch.als_bound.extend(
                (0..index.len()).map(|c| scale * index.centre(c, x) + scale.abs() * norm * index.radius[c]),
            );
        }
        // Reached items: the most promising k by bound are scored first, then the others only
        // while their bound can still beat the k-th best.
        scratch.candidates.clear();
        for &j in &scratch.reached {
            if !scratch.done[j as usize] {
                let als_part = match &prepared.index {
                    Some((index, _)) if als.is_some() => {
                        scratch.als_bound[index.assignment[j as usize] as usize]
                    }
                    _ => 0.0,
                };
                let ub = prepared.fixed[j as usize] + scratch.total[j as usize] + als_part;
                scratch.candidates.push((ub, j));
            }
        }
        stats.reached = scratch.candidates.len();
        let by_bound = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if scratch.candidates.len() > k && k > 0 {
            scratch.candidates.select_nth_unstable_by(k - 1, by_bound);
        }
        for (n, &(ub, j)) in scratch.candidates.iter().enumerate() {
            if n < k || ub >= best.threshold() {
                best.offer(j, score(j, scratch.total[j as usize]));
                stats.reached_scored += 1;
            }
        }
        scratch.reached.iter().for_each(|&j| scratch.done[j as usize] = true);
        match (als, &prepared.index) {
            (Some(_), Some((index, best_fixed))) => {
                scratch.clusters.clear();
                scratch
                    .clusters
                    .extend((0..index.len()).map(|c| (scratch.als_bound[c] + best_fixed[c], c as u32)));
                // Most users stop within the first few dozen clusters: order those first.
                let head = CLUSTER_HEAD.min(scratch.clusters.len());
                if head < scratch.clusters.len() {
                    scratch.clusters.select_nth_unstable_by(head, by_bound);
                }
                scratch.clusters[..head].sort_unstable_by(by_bound);
                stats.exact = true;
                for v in 0..scratch.clusters.len() {
                    if v == head {
                        scratch.clusters[head..].sort_unstable_by(by_bound);
                    }
                    let (bound, c) = scratch.clusters[v];
                    if bound < best.threshold() {
                        break;
                    }
                    if stats.scanned >= self.params.candidate_scan {
                        stats.exact = false;
                        break;
                    }
                    stats.clusters += 1;
                    let als_bound = scratch.als_bound[c as usize];
                    for &i in index.cluster(c as usize) {
                        // An item's own fixed part tightens the cluster's bound before any dot
                        // product (popular items carry a large negative one in a coverage blend).
                        if !scratch.done[i as usize]
                            && prepared.fixed[i as usize] + als_bound >= best.threshold()
                        {
                            best.offer(i, score(i, 0.0));
                            stats.scanned += 1;
                        }
                    }
                }
            }
            _ => {
                // Unreached items score their fixed part alone: the best come in that order.
                let mut taken = 0;
                for &i in &prepared.fixed_order {
                    if taken >= k || prepared.fixed[i as usize] < best.threshold() {
                        break;
                    }
                    if !scratch.done[i as usize] {
                        best.offer(i, prepared.fixed[i as usize]);
                        taken += 1;
                    }
                }
                stats.scanned = taken;
                stats.exact = true;
            }
        }
        for &j in &scratch.reached {
            scratch.total[j as usize] = 0.0;
            scratch.done[j as usize] = false;
        }
        scratch.reached.clear();
        seen.iter().for_each(|&i| scratch.done[i as usize] = false);
        let mut picks = best.items;
        picks.iter_mut().for_each(|(_, s)| *s = (f64::from(*s) + offset) as f32);
        picks
    }

    /// Top `k` for a user id: their unseen items, or the trending list for a new user.
    #[must_use]
    pub fn recommend(&self, user: &str, k: usize) -> Vec<(String, f32)> {
        let picks = match self.users.get(user) {
            Some(u) => self.recommend_index(u as usize, k),
            None => self.cold_start(k),
        };
        picks.into_iter().map(|(i, s)| (self.items.name(i).to_owned(), s)).collect()
    }

    /// The trending list (or all-time popularity if trending was not kept).
    #[must_use]
    pub fn cold_start(&self, k: usize) -> Vec<(u32, f32)> {
        let model = self.signals.trending.as_ref().or(self.signals.popularity.as_ref());
        match model {
            Some(m) => top_k(&m.scores, k),
            None => {
                let mut counts = vec![0f32; self.items.len()];
                self.history.indices.iter().for_each(|&j| counts[j as usize] += 1.0);
                top_k(&counts, k)
            }
        }
    }

    /// Top `k` for each user index in `users`, in parallel (one set of buffers per thread, so
    /// every user of a large shop can be scored in one call).
    #[must_use]
    pub fn recommend_many(&self, users: &[usize], k: usize) -> Vec<Vec<(u32, f32)>> {
        let n = self.items.len();
        self.prepared();
        let ease = self.signals.ease.as_ref().filter(|_| self.weight(Signal::Ease) != 0.0);
        match ease {
            Some(ease) if n <= self.params.exact_scoring_items => {
                // Blocks of users share each EASE weight row read from memory.
                let chunks: Vec<Vec<Vec<(u32, f32)>>> = users
                    .par_chunks(EASE_BLOCK)
                    .map_init(
                        || (Scratch::new(n), vec![0f32; EASE_BLOCK * n], Vec::new()),
                        |(scratch, block, pairs), chunk| {
                            ease.score_users(&self.history, &self.ages, chunk, block, pairs);
                            chunk
                                .iter()
                                .enumerate()
                                .map(|(b, &u)| {
                                    self.recommend_dense(u, k, scratch, Some(&block[b * n..(b + 1) * n]))
                                })
                                .collect()
                        },
                    )
                    .collect();
                chunks.into_iter().flatten().collect()
            }
            _ => users
                .par_iter()
                .map_init(|| Scratch::new(n), |scratch, &u| self.recommend_with(u, k, scratch))
                .collect(),
        }
    }

    /// The `k` items most like `item`, best first (serving's similar items come from
    /// [`super::similar_items`] instead, fitted beside the hybrid): its
    /// co-occurrence neighbours (or, if co-occurrence was not fitted, its EASE weights), and
    /// for an item nobody bought together with anything, its description neighbours. Empty for
    /// an unknown index or when no signal knows the item.
    #[must_use]
    pub fn similar_items(&self, item: usize, k: usize) -> Vec<(u32, f32)> {
        let n = self.items.len();
        if item >= n || k == 0 {
            return Vec::new();
        }
        let from_interactions = match (&self.signals.cooccurrence, &self.signals.ease) {
            (Some(c), _) => c.neighbours(item, k),
            (None, Some(e)) => {
                let mut row = e.weights[item * n..(item + 1) * n].to_vec();
                row[item] = f32::NEG_INFINITY;
                row.iter_mut().filter(|w| **w <= 0.0).for_each(|w| *w = f32::NEG_INFINITY);
                top_k(&row, k)
            }
            (None, None) => Vec::new(),
        };
        if !from_interactions.is_empty() {
            return from_interactions;
        }
        self.signals.content.as_ref().map_or_else(Vec::new, |c| c.neighbours(item, k))
    }

    /// Rebuilds the id lookup tables after deserialisation.
    pub fn rebuild_indexes(&mut self) {
        self.users.rebuild_index();
        self.items.rebuild_index();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::data::Record;

    #[test]
    fn top_k_keeps_the_best_in_order_skips_excluded_and_breaks_ties_by_index() {
        let scores = [0.5, f32::NEG_INFINITY, 2.0, 0.5, 1.0];
        assert_eq!(top_k(&scores, 3), vec![(2, 2.0), (4, 1.0), (0, 0.5)]);
        assert_eq!(top_k(&scores, 10).len(), 4);
    }

    #[test]
    fn the_fitted_hybrid_recommends_within_the_block_and_never_a_seen_item() {
        let mut records = Vec::new();
        for u in 0..12 {
            let base = if u < 6 { 0 } else { 6 };
            for i in 0..6 {
                if i != u % 6 {
                    records.push(Record {
                        user: format!("u{u}"),
                        item: format!("i{}", base + i),
                        weight: 1.0,
                        ts: i,
                    });
                }
            }
        }
        let data = Interactions::from_records(&records);
        let params = HybridParams {
            als: AlsParams::default().factors(4).iterations(5),
            min_coverage: 0.0,
            ..HybridParams::default()
        };
        let model = params.fit(&data, None).unwrap();
        for u in 0..12 {
            let recs = model.recommend(&format!("u{u}"), 1);
            let base = if u < 6 { 0 } else { 6 };
            assert_eq!(recs[0].0, format!("i{}", base + u % 6), "user {u}");
        }
        assert_eq!(model.recommend("stranger", 3).len(), 3);
    }

    /// A synthetic shop small enough for tests, with descriptions.
    fn shop(items: usize) -> (Interactions, Vec<String>) {
        synthetic_shop(600, items, 12_000, 50)
    }

    /// A synthetic shop of `users` customers, `items` SKUs in categories of about `per_category`,
    /// and `interactions` customer x SKU pairs, with descriptions.
    fn synthetic_shop(
        users: usize,
        items: usize,
        interactions: usize,
        per_category: usize,
    ) -> (Interactions, Vec<String>) {
        let shop = crate::recommend::synthetic::SyntheticParams {
            users,
            items,
            interactions,
            items_per_category: per_category,
            ..crate::recommend::synthetic::SyntheticParams::default()
        }
        .generate();
        let texts = shop.texts(3);
        (shop.data, texts)
    }

    fn sorted_scores(list: &[(u32, f32)]) -> Vec<f32> {
        let mut s: Vec<f32> = list.iter().map(|p| p.1).collect();
        s.sort_by(|a, b| b.total_cmp(a));
        s
    }

    fn fixed_weights() -> Vec<(Signal, f32)> {
        vec![
            (Signal::Als, 1.0),
            (Signal::Cooccurrence, 0.75),
            (Signal::Popularity, -0.2),
            (Signal::Trending, 0.1),
            (Signal::Content, 0.35),
            (Signal::SimilarUsers, 0.5),
        ]
    }

    #[test]
    fn with_too_few_validation_users_the_search_keeps_the_starting_blend() {
        // Three customers: one validation user, on whom every blend scores alike.
        let records: Vec<Record> = (0..3)
            .flat_map(|u| {
                (0..8).map(move |i| Record {
                    user: format!("u{u}"),
                    item: format!("i{}", (u * 3 + i) % 12),
                    weight: 1.0,
                    ts: i,
                })
            })
            .collect();
        let data = Interactions::from_records(&records);
        let params =
            HybridParams { als: AlsParams::default().factors(4).iterations(5), ..HybridParams::default() };
        let model = params.fit(&data, None).unwrap();
        let validation = model.validation.as_ref().expect("the weights were searched");
        assert!(validation.metrics.users < MIN_EVIDENCE_USERS, "{validation:?}");
        assert_eq!(validation.trials, 1, "no blend but the first was tried");
        assert!(
            model.weights.iter().all(|&(s, w)| w >= 0.0
                && (w == 0.0 || matches!(s, Signal::Als | Signal::Ease | Signal::Cooccurrence))),
            "{:?}",
            model.weights
        );
    }

    /// A shop of `users` customers each taking about `per_user` of 2,000 SKUs, with descriptions.
    fn small_shop(users: usize, per_user: usize) -> (Interactions, Vec<String>) {
        synthetic_shop(users, 2_000, users * per_user, 100)
    }

    #[test]
    fn the_weight_search_buys_no_coverage_below_the_popularity_lists_accuracy() {
        // 120 customers: the coverage floor took blends with half of popularity's nDCG
        // (0.109 against 0.183), which the gate then rejects against popularity.
        let (data, texts) = small_shop(120, 25);
        let params =
            HybridParams { als: AlsParams::default().factors(8).iterations(4), ..HybridParams::default() };
        let model = params.fit(&data, Some(&texts)).unwrap();
        let validation = model.validation.as_ref().expect("the weights were searched");
        let popularity = validation.popularity_ndcg.expect("popularity is a signal");
        assert!(validation.metrics.ndcg >= popularity, "{validation:?} {:?}", model.weights);
        // Without the floor the search is free to go further above it.
        let free = HybridParams { min_coverage: 0.0, ..params }.fit(&data, Some(&texts)).unwrap();
        let free = free.validation.as_ref().unwrap();
        assert!(free.metrics.ndcg >= validation.metrics.ndcg, "{free:?} {validation:?}");
    }

    #[test]
    fn the_coverage_floor_is_scaled_by_the_share_of_the_catalogue_the_validation_users_reach() {
        // 40 customers taking 60 SKUs each: 400 recommendations over more than a thousand
        // candidates can never cover a quarter of them.
        let (data, texts) = small_shop(40, 60);
        let params = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            validation: Validation::RandomByUser,
            ..HybridParams::default()
        };
        let small = params.fit(&data, Some(&texts)).unwrap();
        let small = small.validation.as_ref().unwrap();
        assert!(small.coverage_floor > 0.0 && small.coverage_floor < 0.25 * 0.5, "{small:?}");
        // Where the users reach the whole catalogue the floor is the one asked for.
        let (data, texts) = shop(300);
        let large = params.fit(&data, Some(&texts)).unwrap();
        assert_eq!(large.validation.as_ref().unwrap().coverage_floor, 0.25);
    }

    #[test]
    fn the_fused_scoring_equals_the_sum_of_standardised_signals() {
        let (data, texts) = shop(300);
        let params = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            weights: Some(fixed_weights()),
            similar_users: Some(SimilarUsersParams::default()),
            ..HybridParams::default()
        };
        let model = params.fit(&data, Some(&texts)).unwrap();
        assert_eq!(model.weights, fixed_weights(), "every signal of the blend is fitted");
        let n = data.n_items();
        for u in (0..data.n_users()).step_by(37) {
            // The definition: every signal scored densely, z-scored, weighted and summed.
            let mut total = vec![0f32; n];
            let mut v = vec![0f32; n];
            for &(s, w) in &model.weights {
                model.signals.score(s, u, &model.history, &model.ages, &mut v);
                standardise(&mut v);
                total.iter_mut().zip(&v).for_each(|(t, x)| *t += w * x);
            }
            for &i in model.history.row_indices(u) {
                total[i as usize] = f32::NEG_INFINITY;
            }
            let want = top_k(&total, 10);
            let got = model.recommend_index(u, 10);
            for (g, w) in sorted_scores(&got).iter().zip(sorted_scores(&want)) {
                assert!((g - w).abs() < 1e-3, "user {u}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn large_data_drops_the_similar_customers_signal_unless_kept() {
        let (data, texts) = shop(300);
        let params = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            weights: Some(fixed_weights()),
            similar_users: Some(SimilarUsersParams::default()),
            large: LargeData { min_interactions: 1, ..LargeData::default() },
            ..HybridParams::default()
        };
        let model = params.fit(&data, Some(&texts)).unwrap();
        assert!(!model.signals.has(Signal::SimilarUsers), "not fitted from min_interactions");
        assert!(model.weights.iter().all(|(s, _)| *s != Signal::SimilarUsers));
        let kept =
            HybridParams { large: LargeData { similar_users: true, ..params.large.clone() }, ..params };
        let model = kept.fit(&data, Some(&texts)).unwrap();
        assert!(model.signals.has(Signal::SimilarUsers));
    }

    #[test]
    fn with_a_scan_budget_of_the_whole_catalogue_the_candidate_path_is_exact() {
        let (data, texts) = shop(400);
        let params = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            weights: Some(fixed_weights()),
            similar_users: Some(SimilarUsersParams::default()),
            exact_scoring_items: 100,
            candidate_scan: 400,
            ..HybridParams::default()
        };
        let model = params.fit(&data, Some(&texts)).unwrap();
        let users: Vec<usize> = (0..data.n_users()).collect();
        let fast = model.recommend_many(&users, 20);
        for (&u, got) in users.iter().zip(&fast) {
            let want = model.recommend_exact(u, 20);
            assert_eq!(got.len(), want.len(), "user {u}");
            for (g, w) in sorted_scores(got).iter().zip(sorted_scores(&want)) {
                assert!((g - w).abs() < 1e-3, "user {u}: {got:?} vs {want:?}");
            }
            assert!(
                got.iter().all(|(i, _)| !model.history.row_indices(u).contains(i)),
                "user {u}: a seen item"
            );
        }
    }

    #[test]
    fn when_only_the_factor_index_finds_candidates_its_bound_still_gives_the_full_ranking() {
        // No sparse signal in the blend: every candidate comes from the cluster visit.
        let (data, _) = shop(400);
        let params = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            weights: Some(vec![(Signal::Als, 1.0), (Signal::Popularity, -0.2)]),
            exact_scoring_items: 100,
            candidate_scan: 400,
            ..HybridParams::default()
        };
        let model = params.fit(&data, None).unwrap();
        let mut visited = 0;
        for u in 0..data.n_users() {
            let got = model.recommend_index(u, 10);
            let want = model.recommend_exact(u, 10);
            for (g, w) in sorted_scores(&got).iter().zip(sorted_scores(&want)) {
                assert!((g - w).abs() < 1e-3, "user {u}: {got:?} vs {want:?}");
            }
            let stats = model.candidate_stats(u, 10).unwrap();
            assert!(stats.exact && stats.reached == 0, "user {u}: {stats:?}");
            visited += stats.clusters;
        }
        // The bound prunes: on average far fewer than all clusters are visited.
        let clusters = data.n_items().div_ceil(128);
        assert!(visited < data.n_users() * clusters, "{visited} visits");
    }

    #[test]
    fn without_als_a_large_catalogue_ranks_unreached_items_by_popularity() {
        let (data, _) = shop(400);
        let weights = vec![(Signal::Cooccurrence, 1.0), (Signal::Popularity, 0.3)];
        let params =
            HybridParams { weights: Some(weights), exact_scoring_items: 100, ..HybridParams::default() };
        let model = params.fit(&data, None).unwrap();
        for u in (0..data.n_users()).step_by(11) {
            let got = model.recommend_index(u, 15);
            let want = model.recommend_exact(u, 15);
            for (g, w) in sorted_scores(&got).iter().zip(sorted_scores(&want)) {
                assert!((g - w).abs() < 1e-3, "user {u}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn similar_items_come_from_co_occurrence_and_from_descriptions_for_an_unbought_item() {
        // a and b bought together; c bought alone; d never bought but described like a.
        let rows = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "c")];
        let records: Vec<_> = rows
            .iter()
            .map(|(u, i)| Record { user: (*u).into(), item: (*i).into(), weight: 1.0, ts: 0 })
            .collect();
        let mut data = Interactions::from_records(&records);
        let d = data.items.intern("d");
        data.matrix.n_cols += 1;
        data.times.n_cols += 1;
        let name = |i: u32| data.items.name(i).to_owned();
        let texts: Vec<String> = (0..4u32)
            .map(|i| match name(i).as_str() {
                "a" | "d" => "zinc lantern".to_owned(),
                _ => format!("plain {}", name(i)),
            })
            .collect();
        let params = HybridParams {
            als: AlsParams::default().factors(2).iterations(2),
            weights: Some(vec![(Signal::Als, 1.0)]),
            ..HybridParams::default()
        };
        let model = params.fit(&data, Some(&texts)).unwrap();
        let (a, b) = (data.items.get("a").unwrap(), data.items.get("b").unwrap());
        assert_eq!(model.similar_items(a as usize, 5).iter().map(|p| p.0).collect::<Vec<_>>(), vec![b]);
        assert_eq!(model.similar_items(d as usize, 5).iter().map(|p| p.0).collect::<Vec<_>>(), vec![a]);
        assert!(model.similar_items(99, 5).is_empty());
    }

    #[test]
    fn chronological_slices_hold_out_the_latest_share_down_to_half_of_it() {
        // 100 interactions, one a day: ages 0..100 days.
        let records: Vec<Record> = (0..100)
            .map(|d| Record {
                user: format!("u{}", d % 7),
                item: format!("i{d}"),
                weight: 1.0,
                ts: d * 86_400,
            })
            .collect();
        let data = Interactions::from_records(&records);
        let params = HybridParams {
            validation: Validation::Chronological,
            validation_ratio: 0.2,
            validation_slices: 3,
            ..HybridParams::default()
        };
        for (slice, want) in [(0, 20), (1, 15), (2, 10)] {
            let held = params.carve(&data, slice);
            assert_eq!(held.iter().filter(|&&h| h).count(), want, "slice {slice}");
            // Exactly the latest: every held age is below every kept one.
            let newest_kept = (0..held.len())
                .filter(|&p| !held[p])
                .map(|p| data.times.values[p])
                .fold(f32::INFINITY, f32::min);
            assert!((0..held.len()).filter(|&p| held[p]).all(|p| data.times.values[p] < newest_kept));
        }
        // One slice: the whole ratio, as before.
        let one = HybridParams { validation_slices: 1, ..params };
        assert_eq!(one.carve(&data, 0).iter().filter(|&&h| h).count(), 20);
    }

    #[test]
    fn slice_metrics_are_averaged_and_their_users_summed() {
        let a = Metrics { precision: 0.2, recall: 0.4, ndcg: 0.3, map: 0.1, coverage: 0.5, users: 10 };
        let b = Metrics { precision: 0.4, recall: 0.2, ndcg: 0.1, map: 0.3, coverage: 0.1, users: 30 };
        let m = mean_metrics(&[a, b]);
        assert!((m.ndcg - 0.2).abs() < 1e-12 && (m.coverage - 0.3).abs() < 1e-12);
        assert!((m.precision - 0.3).abs() < 1e-12 && (m.map - 0.2).abs() < 1e-12);
        assert_eq!(m.users, 40);
    }

    #[test]
    fn several_validation_slices_fit_a_blend_and_report_every_slices_users() {
        let (data, _) = shop(300);
        let base = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            validation: Validation::Chronological,
            similar_users: Some(SimilarUsersParams::default()),
            ..HybridParams::default()
        };
        let one = base.fit(&data, None).unwrap();
        let three = HybridParams { validation_slices: 3, ..base }.fit(&data, None).unwrap();
        assert!(!three.weights.is_empty());
        let (v1, v3) = (one.validation.unwrap(), three.validation.unwrap());
        assert!(v3.metrics.users > v1.metrics.users, "{} vs {}", v3.metrics.users, v1.metrics.users);
    }

    #[test]
    fn a_pooled_weight_search_with_a_pool_of_the_whole_catalogue_matches_the_exact_one() {
        let (data, _) = shop(300);
        let base = HybridParams {
            als: AlsParams::default().factors(8).iterations(4),
            max_validation_users: 200,
            ..HybridParams::default()
        };
        let exact = base.fit(&data, None).unwrap();
        let pooled = HybridParams { validation_budget_mib: 0, validation_pool: 300, ..base.clone() }
            .fit(&data, None)
            .unwrap();
        assert_eq!(exact.weights, pooled.weights);
        let (e, p) = (exact.validation.unwrap(), pooled.validation.unwrap());
        assert!((e.metrics.ndcg - p.metrics.ndcg).abs() < 1e-12);
        // A small pool still searches and finds a blend.
        let small =
            HybridParams { validation_budget_mib: 0, validation_pool: 20, ..base }.fit(&data, None).unwrap();
        assert!(!small.weights.is_empty());
    }
}
