//! Offline evaluation: train on one set, recommend for the test users seen in training
//! (training items excluded from their candidates), and average the metrics of [`super::metrics`].
//! Relevant items the model never saw stay in the denominators: a new product bought in the
//! test period counts as a miss, as it would in production.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::data::Record;
use super::hybrid::HybridModel;
use super::metrics::{Judged, Metrics, summarise};

/// Metrics plus how long the batch of recommendations took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    /// The cut-off.
    pub k: usize,
    /// Averages over test users known to the model.
    pub metrics: Metrics,
    /// Test users without training history (skipped).
    pub unknown_users: usize,
    /// Seconds to produce the top-k lists for every evaluated user.
    pub recommend_seconds: f64,
    /// Evaluated users per second of that batch.
    pub users_per_second: f64,
}

/// Evaluates `model` against `test`.
#[must_use]
pub fn evaluate(model: &HybridModel, test: &[Record], k: usize) -> EvalReport {
    // Per user (by id, sorted for determinism): known relevant items and the relevant count.
    let mut per_user: BTreeMap<&str, (HashSet<&str>, Vec<u32>)> = BTreeMap::new();
    for r in test {
        let (all, known) = per_user.entry(&r.user).or_default();
        if all.insert(&r.item)
            && let Some(i) = model.items.get(&r.item)
        {
            known.push(i);
        }
    }
    let mut unknown_users = 0;
    let mut users = Vec::new();
    let mut relevant = Vec::new();
    for (user, (all, known)) in &per_user {
        match model.users.get(user) {
            Some(u) => {
                users.push(u as usize);
                relevant.push((known.clone(), all.len()));
            }
            None => unknown_users += 1,
        }
    }
    let started = Instant::now();
    let recs = model.recommend_many(&users, k);
    let recommend_seconds = started.elapsed().as_secs_f64();
    let ids: Vec<Vec<u32>> = recs.iter().map(|r| r.iter().map(|&(i, _)| i).collect()).collect();
    let judged: Vec<Judged<'_>> = ids
        .iter()
        .zip(&relevant)
        .map(|(r, (known, n))| Judged { recommended: r, relevant: known, n_relevant: *n })
        .collect();
    EvalReport {
        k,
        metrics: summarise(&judged, k, model.items.len()),
        unknown_users,
        recommend_seconds,
        users_per_second: users.len() as f64 / recommend_seconds.max(1e-9),
    }
}
