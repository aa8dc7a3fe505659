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
//! not an accident). Popularity weights may be negative: that is how the blend trades a
//! little accuracy for coverage. The signals are then refitted on all the training data and
//! combined with the chosen weights. Signals with weight 0 are not refitted.
//!
//! Users without history get the trending (recency-weighted popularity) list.

use std::collections::HashSet;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::als::{AlsModel, AlsParams};
use super::content::{ContentModel, ContentParams};
use super::cooccurrence::{CooccurrenceModel, CooccurrenceParams};
use super::data::{Csr, IdMap, Interactions};
use super::ease::{EaseModel, EaseParams};
use super::errors::{RecommendError, Result};
use super::metrics::{Judged, Metrics, summarise};
use super::popularity::{PopularityModel, PopularityParams};
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
}

/// Every signal, in blend order.
pub const SIGNALS: [Signal; 6] =
    [Signal::Als, Signal::Ease, Signal::Cooccurrence, Signal::Popularity, Signal::Trending, Signal::Content];

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
    /// How the validation slice is carved (default random by user).
    pub validation: Validation,
    /// Share of the training data held out for validation (default 0.2).
    pub validation_ratio: f64,
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
            validation: Validation::RandomByUser,
            validation_ratio: 0.2,
            max_validation_users: 2_000,
            min_coverage: 0.25,
            k: 10,
            seed: 42,
            weights: None,
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
    signals: Signals,
}

impl Signals {
    fn fit(
        params: &HybridParams,
        data: &Interactions,
        texts: Option<&[String]>,
        wanted: &[Signal],
        seconds: &mut Vec<(Signal, f64)>,
    ) -> Result<Self> {
        let mut s = Self::default();
        for &signal in wanted {
            let started = Instant::now();
            match signal {
                Signal::Als => s.als = Some(params.als.fit(data)?),
                Signal::Ease => match params.ease.fit(data) {
                    Ok(m) => s.ease = Some(m),
                    Err(RecommendError::TooManyItems { .. }) => {}
                    Err(e) => return Err(e),
                },
                Signal::Cooccurrence => s.cooccurrence = Some(params.cooccurrence.fit(data)?),
                Signal::Popularity => s.popularity = Some(params.popularity.fit(data)?),
                Signal::Trending => s.trending = Some(params.trending.fit(data)?),
                Signal::Content => s.content = texts.map(|t| params.content.fit(t)),
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
                    .score_history(items.iter().copied().zip(weights.iter().copied()), out);
            }
            Signal::Cooccurrence => self
                .cooccurrence
                .as_ref()
                .expect("fitted")
                .score_history(items.iter().zip(weights).zip(age).map(|((&i, &w), &a)| (i, w, a)), out),
            Signal::Popularity | Signal::Trending => {
                let m = if signal == Signal::Popularity { &self.popularity } else { &self.trending };
                out.iter_mut().zip(&m.as_ref().expect("fitted").scores).for_each(|(o, s)| *o = s.ln_1p());
            }
            Signal::Content => {
                self.content.as_ref().expect("fitted").score_history(items.iter().copied(), out);
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

/// Per-user buffers for blending.
struct Scratch {
    signal: Vec<f32>,
    total: Vec<f32>,
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
        let available: Vec<Signal> = SIGNALS
            .into_iter()
            .filter(|&s| s != Signal::Content || texts.is_some())
            .filter(|&s| s != Signal::Ease || data.n_items() <= self.ease.max_items)
            .collect();
        let (weights, validation) = match &self.weights {
            Some(w) => (w.clone(), None),
            None => {
                let (w, report) = self.search_weights(data, texts, &available)?;
                (w, Some(report))
            }
        };
        let wanted: Vec<Signal> = weights.iter().filter(|(_, w)| *w != 0.0).map(|&(s, _)| s).collect();
        let mut signal_seconds = Vec::new();
        let signals = Signals::fit(self, data, texts, &wanted, &mut signal_seconds)?;
        let weights = weights.into_iter().filter(|&(s, w)| w != 0.0 && signals.has(s)).collect();
        Ok(HybridModel {
            params: self.clone(),
            users: data.users.clone(),
            items: data.items.clone(),
            history: data.matrix.clone(),
            ages: data.times.clone(),
            weights,
            validation,
            signal_seconds,
            train_seconds: started.elapsed().as_secs_f64(),
            signals,
        })
    }

    /// Carves the validation slice, fits every available signal on the rest, and searches the
    /// weights by coordinate ascent.
    fn search_weights(
        &self,
        data: &Interactions,
        texts: Option<&[String]>,
        available: &[Signal],
    ) -> Result<(Vec<(Signal, f32)>, ValidationReport)> {
        let started = Instant::now();
        let held = self.carve(data);
        let keep: Vec<bool> = held.iter().map(|h| !h).collect();
        let fit_part = data.subset(&keep);
        let mut ignored = Vec::new();
        let signals = Signals::fit(self, &fit_part, texts, available, &mut ignored)?;
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
        // Standardised signal scores per validation user, seen and non-candidate items at -inf.
        let scored: Vec<Vec<Vec<f32>>> = users
            .par_iter()
            .map(|(u, _)| {
                available
                    .iter()
                    .map(|&s| {
                        let mut v = vec![0f32; n];
                        signals.score(s, *u, &fit_part.matrix, &fit_part.times, &mut v);
                        standardise(&mut v);
                        for (x, &c) in v.iter_mut().zip(&candidate) {
                            if !c {
                                *x = f32::NEG_INFINITY;
                            }
                        }
                        for &i in fit_part.matrix.row_indices(*u) {
                            v[i as usize] = f32::NEG_INFINITY;
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        let evaluate = |w: &[f32]| -> Metrics {
            let recs: Vec<Vec<u32>> = scored
                .par_iter()
                .map(|per_signal| {
                    let mut total = vec![0f32; n];
                    for (v, &wi) in per_signal.iter().zip(w) {
                        if wi != 0.0 {
                            total.iter_mut().zip(v).for_each(|(t, x)| *t += wi * x);
                        }
                    }
                    // -inf * 0 is NaN and -inf * negative is +inf: re-mask from any signal.
                    for (t, x) in total.iter_mut().zip(&per_signal[0]) {
                        if *x == f32::NEG_INFINITY {
                            *t = f32::NEG_INFINITY;
                        }
                    }
                    top_k(&total, self.k).into_iter().map(|(i, _)| i).collect()
                })
                .collect();
            let judged: Vec<Judged<'_>> = recs
                .iter()
                .zip(&users)
                .map(|(r, (_, rel))| Judged { recommended: r, relevant: rel, n_relevant: rel.len() })
                .collect();
            summarise(&judged, self.k, n_candidates)
        };
        let objective = |m: &Metrics| m.ndcg - 2.0 * (self.min_coverage - m.coverage).max(0.0);
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
        for _round in 0..4 {
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
        Ok((weights, ValidationReport { metrics: best, trials, seconds: started.elapsed().as_secs_f64() }))
    }

    /// Which stored interactions (by position in the matrix) are held out for validation.
    fn carve(&self, data: &Interactions) -> Vec<bool> {
        let nnz = data.matrix.nnz();
        let mut held = vec![false; nnz];
        match self.validation {
            Validation::RandomByUser => {
                let mut rng = SplitMix64::new(self.seed);
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
                let mut rng = SplitMix64::new(self.seed);
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
                let count = (nnz as f64 * self.validation_ratio).round() as usize;
                positions[..count].iter().for_each(|&p| held[p] = true);
            }
        }
        held
    }
}

impl HybridModel {
    /// Top `k` unseen items for the user at index `u`, best first, with blended scores.
    #[must_use]
    pub fn recommend_index(&self, u: usize, k: usize) -> Vec<(u32, f32)> {
        let n = self.items.len();
        let mut scratch = Scratch { signal: vec![0f32; n], total: vec![0f32; n] };
        self.recommend_with(u, k, &mut scratch)
    }

    fn recommend_with(&self, u: usize, k: usize, scratch: &mut Scratch) -> Vec<(u32, f32)> {
        scratch.total.iter_mut().for_each(|t| *t = 0.0);
        for &(signal, w) in &self.weights {
            self.signals.score(signal, u, &self.history, &self.ages, &mut scratch.signal);
            standardise(&mut scratch.signal);
            scratch.total.iter_mut().zip(&scratch.signal).for_each(|(t, x)| *t += w * x);
        }
        for &i in self.history.row_indices(u) {
            scratch.total[i as usize] = f32::NEG_INFINITY;
        }
        top_k(&scratch.total, k)
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
                let counts: Vec<f32> = (0..self.items.len())
                    .map(|i| self.history.indices.iter().filter(|&&j| j as usize == i).count() as f32)
                    .collect();
                top_k(&counts, k)
            }
        }
    }

    /// Top `k` for each user index in `users`, in parallel.
    #[must_use]
    pub fn recommend_many(&self, users: &[usize], k: usize) -> Vec<Vec<(u32, f32)>> {
        let n = self.items.len();
        users
            .par_iter()
            .map_init(
                || Scratch { signal: vec![0f32; n], total: vec![0f32; n] },
                |scratch, &u| self.recommend_with(u, k, scratch),
            )
            .collect()
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
}
