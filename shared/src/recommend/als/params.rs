//! ALS hyper-parameters with documented defaults (tuned on a validation slice of
//! MovieLens 100K carved from its training split).

use serde::{Deserialize, Serialize};

use crate::recommend::errors::{RecommendError, Result};

/// ALS hyper-parameters; `AlsParams::default()` then the builder methods, then `fit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlsParams {
    /// Latent factors (default 64).
    pub factors: usize,
    /// L2 regulariser λ (default 50).
    pub regularization: f32,
    /// Confidence slope: `c = 1 + alpha * weight` (default 10).
    pub alpha: f32,
    /// Alternating sweeps (default 15).
    pub iterations: usize,
    /// Conjugate-gradient steps per row and sweep (default 3, as Takács et al.).
    pub cg_steps: usize,
    /// Seed of the initial factors (default 42).
    pub seed: u64,
    /// Apply `log1p` to weights before confidence (default false; useful for counts).
    pub log_weights: bool,
    /// Half-life in days of an interaction's confidence boost, `c = 1 + alpha · w · 2^(-age /
    /// h)` (default none): recent interactions say more about a customer's current taste.
    pub half_life_days: Option<f32>,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            factors: 64,
            regularization: 50.0,
            alpha: 10.0,
            iterations: 15,
            cg_steps: 3,
            seed: 42,
            log_weights: false,
            half_life_days: None,
        }
    }
}

impl AlsParams {
    /// Sets the number of factors.
    #[must_use]
    pub fn factors(mut self, factors: usize) -> Self {
        self.factors = factors;
        self
    }

    /// Sets λ.
    #[must_use]
    pub fn regularization(mut self, regularization: f32) -> Self {
        self.regularization = regularization;
        self
    }

    /// Sets alpha.
    #[must_use]
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets the sweeps.
    #[must_use]
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Refuses parameters that cannot train.
    ///
    /// # Errors
    /// Zero factors or CG steps, a negative λ or alpha, non-finite values.
    pub fn check(&self) -> Result<()> {
        let bad = |name, reason: &str| Err(RecommendError::InvalidParams { name, reason: reason.into() });
        if self.factors == 0 {
            return bad("factors", "must be > 0");
        }
        if self.cg_steps == 0 {
            return bad("cg_steps", "must be > 0");
        }
        if !(self.regularization.is_finite() && self.regularization >= 0.0) {
            return bad("regularization", "must be finite and >= 0");
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad("alpha", "must be finite and >= 0");
        }
        if self.half_life_days.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
            return bad("half_life_days", "must be > 0");
        }
        Ok(())
    }
}
