//! A fitted ALS model: user and item factors, row-major.

use serde::{Deserialize, Serialize};

use super::params::AlsParams;

/// User and item factors with the parameters and training metadata that made them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlsModel {
    /// The parameters used.
    pub params: AlsParams,
    /// Users x factors, row-major.
    pub user_factors: Vec<f32>,
    /// Items x factors, row-major.
    pub item_factors: Vec<f32>,
    /// Users trained on.
    pub n_users: usize,
    /// Items trained on.
    pub n_items: usize,
    /// Wall-clock seconds the fit took.
    pub train_seconds: f64,
}

impl AlsModel {
    /// The factor vector of user `u`.
    #[must_use]
    pub fn user(&self, u: usize) -> &[f32] {
        let f = self.params.factors;
        &self.user_factors[u * f..(u + 1) * f]
    }

    /// Writes `x_u · y_i` for every item into `out` (length `n_items`).
    pub fn score_user(&self, u: usize, out: &mut [f32]) {
        let x = self.user(u);
        let f = self.params.factors;
        for (o, y) in out.iter_mut().zip(self.item_factors.chunks_exact(f)) {
            *o = dot(x, y);
        }
    }
}

/// Dot product, written so the compiler vectorises it (8 independent accumulators).
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    acc.iter().sum::<f32>() + tail
}
