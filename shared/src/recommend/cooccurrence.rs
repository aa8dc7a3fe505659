//! SAR-style item-to-item similarity from co-occurrence: `C = XᵀX` over binary interactions,
//! then cosine `c_ij / sqrt(c_ii c_jj)`, asymmetric cosine `c_ij / (c_ii^a c_jj^(1-a))`,
//! Jaccard `c_ij / (c_ii + c_jj - c_ij)` or lift `c_ij / (c_ii c_jj)`, keeping each item's top
//! neighbours (sparse, so it scales where the
//! dense EASE cannot). A user's affinity to a seen item is its weight, optionally decayed by
//! `2^(-age / half_life)`, and scores are `affinity · S`.
//!
//! ## Why it scales
//! Counting visits, for every item `i`, each user who took `i` and each item that user took:
//! `Σ_u |u|²` steps, with a dense counter per thread (`items` integers, never `items²`), so
//! time and memory do not depend on the catalogue squared. One very active account (a
//! wholesaler, a bot) would still cost `|u|²` alone, so only each user's
//! [`CooccurrenceParams::max_user_items`] most recent items are counted. The kept similarities
//! are `items x neighbours`. Above the dense EASE limit this is the hybrid's item-neighbourhood
//! signal, and it is what [`super::HybridModel::similar_items`] reads.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Csr, Interactions, keep_best};
use super::errors::{RecommendError, Result};

/// How co-occurrence counts become a similarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// `c_ij / sqrt(c_ii c_jj)`.
    Cosine,
    /// `c_ij / (c_ii^a c_jj^(1-a))` for item `i`'s neighbour `j`, `a` =
    /// [`CooccurrenceParams::asymmetry`]: between cosine (`a` = 0.5) and the confidence
    /// `P(j | i)` (`a` = 1), which favours what sells anyway less than confidence does, while
    /// lift and cosine raise items seen in a handful of baskets.
    AsymmetricCosine,
    /// `c_ij / (c_ii + c_jj - c_ij)`.
    Jaccard,
    /// `c_ij / (c_ii c_jj)`.
    Lift,
}

/// Co-occurrence hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CooccurrenceParams {
    /// The similarity (default cosine).
    pub similarity: Similarity,
    /// Neighbours kept per item (default 200).
    pub neighbours: usize,
    /// Pairs seen together by fewer users are dropped (default 1).
    pub min_count: u32,
    /// Half-life in days of a user's affinity to an item (default none: no decay).
    pub half_life_days: Option<f32>,
    /// Affinity uses the interaction weight (default false: 1 per seen item).
    pub weighted: bool,
    /// Only each user's most recent this-many items are counted (default 2,000, above every
    /// customer of Online Retail; it bounds the `|u|²` cost of one very active account).
    pub max_user_items: usize,
    /// Users (baskets) holding more items than this are not counted at all (default none): a
    /// wholesale order of 500 lines says little about what goes together.
    pub skip_users_over: Option<usize>,
    /// `a` of [`Similarity::AsymmetricCosine`] (default 0.7).
    pub asymmetry: f32,
}

impl Default for CooccurrenceParams {
    fn default() -> Self {
        Self {
            similarity: Similarity::Cosine,
            neighbours: 200,
            min_count: 1,
            half_life_days: None,
            weighted: false,
            max_user_items: 2_000,
            skip_users_over: None,
            asymmetry: 0.7,
        }
    }
}

/// Fitted item neighbours.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CooccurrenceModel {
    /// The parameters used.
    pub params: CooccurrenceParams,
    /// Items x items, each row its top neighbours (similarity values).
    pub similar: Csr,
    /// Wall-clock seconds the fit took.
    pub train_seconds: f64,
}

impl CooccurrenceParams {
    /// Refuses zero neighbours or a non-positive half-life.
    ///
    /// # Errors
    /// As above.
    pub fn check(&self) -> Result<()> {
        if self.neighbours == 0 {
            return Err(RecommendError::InvalidParams { name: "neighbours", reason: "must be > 0".into() });
        }
        if self.max_user_items == 0 {
            return Err(RecommendError::InvalidParams {
                name: "max_user_items",
                reason: "must be > 0".into(),
            });
        }
        if !(0.0..=1.0).contains(&self.asymmetry) {
            return Err(RecommendError::InvalidParams {
                name: "asymmetry",
                reason: "must be in [0, 1]".into(),
            });
        }
        if self.skip_users_over == Some(0) {
            return Err(RecommendError::InvalidParams {
                name: "skip_users_over",
                reason: "must be > 0".into(),
            });
        }
        if self.half_life_days.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
            return Err(RecommendError::InvalidParams {
                name: "half_life_days",
                reason: "must be > 0".into(),
            });
        }
        Ok(())
    }

    /// Counts co-occurrences item by item (a dense accumulator per thread, never items²).
    ///
    /// # Errors
    /// Invalid parameters or no interactions.
    pub fn fit(&self, data: &Interactions) -> Result<CooccurrenceModel> {
        self.check()?;
        if data.matrix.nnz() == 0 {
            return Err(RecommendError::Empty);
        }
        let started = Instant::now();
        let n = data.n_items();
        let capped = self.counted(data);
        let matrix = capped.as_ref().unwrap_or(&data.matrix);
        let by_item = matrix.transpose();
        let counts: Vec<f32> = (0..n).map(|i| by_item.row_indices(i).len() as f32).collect();
        let a = self.asymmetry;
        let rows: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map_init(
                || (vec![0u32; n], Vec::new()),
                |(acc, touched), i| {
                    let mut row: Vec<(u32, f32)> = Vec::new();
                    by_item.count_two_hop(i, matrix, acc, touched, |j, c| {
                        if j as usize == i || c < self.min_count {
                            return;
                        }
                        let (c, ci, cj) = (c as f32, counts[i], counts[j as usize]);
                        let s = match self.similarity {
                            Similarity::Cosine => c / (ci * cj).sqrt(),
                            Similarity::AsymmetricCosine => c / (ci.powf(a) * cj.powf(1.0 - a)),
                            Similarity::Jaccard => c / (ci + cj - c),
                            Similarity::Lift => c / (ci * cj),
                        };
                        row.push((j, s));
                    });
                    keep_best(&mut row, self.neighbours);
                    row
                },
            )
            .collect();
        Ok(CooccurrenceModel {
            params: self.clone(),
            similar: Csr::from_rows(n, rows),
            train_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The interactions counted: without the users over [`Self::skip_users_over`] items, and
    /// each other user cut to their `max_user_items` most recent (ties: the lower item index);
    /// `None` when that is all of them.
    fn counted(&self, data: &Interactions) -> Option<Csr> {
        let m = &data.matrix;
        let cap = self.max_user_items;
        let skip = self.skip_users_over.unwrap_or(usize::MAX);
        let size = |u: usize| m.indptr[u + 1] - m.indptr[u];
        if (0..m.n_rows).all(|u| size(u) <= cap && size(u) <= skip) {
            return None;
        }
        let mut keep = vec![true; m.nnz()];
        for u in (0..m.n_rows).filter(|&u| size(u) > skip) {
            keep[m.indptr[u]..m.indptr[u + 1]].iter_mut().for_each(|k| *k = false);
        }
        for u in (0..m.n_rows).filter(|&u| size(u) > cap && size(u) <= skip) {
            let mut positions: Vec<usize> = (m.indptr[u]..m.indptr[u + 1]).collect();
            positions.sort_by(|&a, &b| data.times.values[a].total_cmp(&data.times.values[b]).then(a.cmp(&b)));
            positions[cap..].iter().for_each(|&p| keep[p] = false);
        }
        Some(data.subset(&keep).matrix)
    }
}

impl CooccurrenceModel {
    /// Item `i`'s `k` most similar items, best first (ties: the lower index).
    #[must_use]
    pub fn neighbours(&self, i: usize, k: usize) -> Vec<(u32, f32)> {
        let mut row: Vec<(u32, f32)> = self.similar.row(i).collect();
        row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        row.truncate(k);
        row
    }

    /// Scores every item for a history of `(item, weight, age in days)` into `out`.
    pub fn score_history(&self, history: impl Iterator<Item = (u32, f32, f32)>, out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (i, w, age) in history {
            let a = self.affinity(w, age);
            for (j, s) in self.similar.row(i as usize) {
                out[j as usize] += a * s;
            }
        }
    }

    /// A user's affinity to an item they took with weight `w`, `age` days ago.
    fn affinity(&self, w: f32, age: f32) -> f32 {
        let mut a = if self.params.weighted { w } else { 1.0 };
        if let Some(h) = self.params.half_life_days {
            a *= (-age / h).exp2();
        }
        a
    }

    /// Adds the scores of a history of `(item, weight, age in days)` into `out` at the items
    /// it reaches only (all others score 0), pushing each newly reached item onto `touched`.
    /// `out` must be 0 wherever it has not been touched: cost is the neighbours visited, not
    /// the catalogue.
    pub fn accumulate_history(
        &self,
        history: impl Iterator<Item = (u32, f32, f32)>,
        out: &mut [f32],
        touched: &mut Vec<u32>,
    ) {
        for (i, w, age) in history {
            self.similar.accumulate_row(i as usize, self.affinity(w, age), out, touched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::data::Record;

    fn data() -> Interactions {
        // a and b always together; c with a once.
        let rows = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "a"), ("u3", "c")];
        let records: Vec<_> = rows
            .iter()
            .map(|(u, i)| Record { user: (*u).into(), item: (*i).into(), weight: 1.0, ts: 0 })
            .collect();
        Interactions::from_records(&records)
    }

    #[test]
    fn cosine_jaccard_and_lift_match_the_counts() {
        // c_ab = 2, c_aa = 3, c_bb = 2, c_ac = 1, c_cc = 1.
        let d = data();
        let (a, b, c) = (d.items.get("a").unwrap(), d.items.get("b").unwrap(), d.items.get("c").unwrap());
        let sim = |s: Similarity, x: u32, y: u32| {
            let params = CooccurrenceParams { similarity: s, ..CooccurrenceParams::default() };
            let m = params.fit(&d).unwrap();
            m.similar.row(x as usize).find(|&(j, _)| j == y).map_or(0.0, |(_, v)| v)
        };
        assert!((sim(Similarity::Cosine, a, b) - 2.0 / 6f32.sqrt()).abs() < 1e-6);
        assert!((sim(Similarity::Jaccard, a, b) - 2.0 / 3.0).abs() < 1e-6);
        assert!((sim(Similarity::Lift, a, c) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(sim(Similarity::Cosine, b, c), 0.0);
    }

    #[test]
    fn only_the_most_recent_items_of_a_heavy_user_are_counted() {
        // u1 took a long ago, b and c recently; with a cap of 2 only b and c count for u1, so
        // a and c never co-occur; u2 keeps a and b together.
        let rows = [("u1", "a", 100), ("u1", "b", 150), ("u1", "c", 200), ("u2", "a", 0), ("u2", "b", 0)];
        let records: Vec<_> = rows
            .iter()
            .map(|(u, i, t)| Record { user: (*u).into(), item: (*i).into(), weight: 1.0, ts: *t })
            .collect();
        let d = Interactions::from_records(&records);
        let (a, b, c) = (d.items.get("a").unwrap(), d.items.get("b").unwrap(), d.items.get("c").unwrap());
        let uncapped = CooccurrenceParams::default().fit(&d).unwrap();
        assert!(uncapped.similar.row(a as usize).any(|(j, _)| j == c));
        let capped =
            CooccurrenceParams { max_user_items: 2, ..CooccurrenceParams::default() }.fit(&d).unwrap();
        assert_eq!(capped.similar.row(a as usize).map(|(j, _)| j).collect::<Vec<_>>(), vec![b]);
        assert!(capped.similar.row(c as usize).all(|(j, _)| j != a));
    }

    #[test]
    fn neighbours_come_best_first_and_cut_at_k() {
        let d = data();
        let m = CooccurrenceParams::default().fit(&d).unwrap();
        let (a, b, c) = (d.items.get("a").unwrap(), d.items.get("b").unwrap(), d.items.get("c").unwrap());
        // cos(a, b) = 2/sqrt(6) ≈ 0.82 > cos(a, c) = 1/sqrt(3) ≈ 0.58.
        assert_eq!(m.neighbours(a as usize, 5).iter().map(|p| p.0).collect::<Vec<_>>(), vec![b, c]);
        assert_eq!(m.neighbours(a as usize, 1).len(), 1);
    }

    #[test]
    fn a_decayed_old_interaction_counts_half_after_one_half_life() {
        let d = data();
        let params = CooccurrenceParams { half_life_days: Some(10.0), ..CooccurrenceParams::default() };
        let m = params.fit(&d).unwrap();
        let (a, b) = (d.items.get("a").unwrap(), d.items.get("b").unwrap());
        let mut fresh = vec![0.0; 3];
        let mut old = vec![0.0; 3];
        m.score_history([(a, 1.0, 0.0)].into_iter(), &mut fresh);
        m.score_history([(a, 1.0, 10.0)].into_iter(), &mut old);
        assert!((old[b as usize] - fresh[b as usize] / 2.0).abs() < 1e-6);
    }
}
