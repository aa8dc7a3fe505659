//! Exponential smoothing with additive errors: simple (A,N,N), damped trend (A,Ad,N), and weekly
//! seasonality on weekday slots (A,N,A), (A,Ad,A). Parameters minimise the in-sample one-step
//! SSE: golden-section for SES, Nelder–Mead on logistic-bounded parameters otherwise.
//!
//! Bounds: `alpha` in (0, 1); `beta` in (0, alpha); `gamma` in (0, 1 - alpha); `phi` in
//! [0.8, 0.98] (Hyndman et al., *Forecasting with Exponential Smoothing*, ch. 5).

use serde::{Deserialize, Serialize};

use super::method::{Series, mean};
use super::optim::{golden_section, logistic, nelder_mead};

/// Exponential smoothing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ets {
    /// A damped additive trend (default false: level only).
    pub damped_trend: bool,
    /// Additive weekly seasonality on weekday slots (default false).
    pub seasonal: bool,
    /// Objective evaluations allowed to Nelder–Mead (default 120): SSE surfaces are flat, more
    /// buys little accuracy and costs time on thousands of series.
    pub max_evals: usize,
}

impl Default for Ets {
    fn default() -> Self {
        Self { damped_trend: false, seasonal: false, max_evals: 120 }
    }
}

/// A fitted exponential smoothing model: final states and the parameters that produced them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtsModel {
    /// Level smoothing.
    pub alpha: f64,
    /// Trend smoothing (0 without trend).
    pub beta: f64,
    /// Seasonal smoothing (0 without seasonality).
    pub gamma: f64,
    /// Damping (0 without trend).
    pub phi: f64,
    /// Final level.
    pub level: f64,
    /// Final trend.
    pub trend: f64,
    /// Final seasonal state per weekday slot (empty without seasonality).
    pub seasonal: Vec<f64>,
    /// In-sample one-step SSE.
    pub sse: f64,
}

#[derive(Clone, Copy)]
struct Smoothing {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

impl Ets {
    /// `ets(A,N,N)`, `ets(A,Ad,A)`, ...
    #[must_use]
    pub fn name(&self) -> String {
        format!(
            "ets(A,{},{})",
            if self.damped_trend { "Ad" } else { "N" },
            if self.seasonal { "A" } else { "N" }
        )
    }

    /// Fits on a series.
    #[must_use]
    pub fn fit(&self, series: &Series) -> EtsModel {
        let run = |s: Smoothing| self.filter(series, s);
        let smoothing = match (self.damped_trend, self.seasonal) {
            (false, false) => {
                let alpha = golden_section(
                    |a| run(Smoothing { alpha: a, beta: 0.0, gamma: 0.0, phi: 0.0 }).sse,
                    1e-4,
                    0.9999,
                    1e-3,
                );
                Smoothing { alpha, beta: 0.0, gamma: 0.0, phi: 0.0 }
            }
            _ => {
                let decode = |x: &[f64]| {
                    let alpha = 1e-4 + 0.9998 * logistic(x[0]);
                    let mut s = Smoothing { alpha, beta: 0.0, gamma: 0.0, phi: 0.0 };
                    let mut i = 1;
                    if self.damped_trend {
                        s.beta = alpha * logistic(x[i]);
                        s.phi = 0.8 + 0.18 * logistic(x[i + 1]);
                        i += 2;
                    }
                    if self.seasonal {
                        s.gamma = (1.0 - alpha) * logistic(x[i]);
                    }
                    s
                };
                // Start: alpha 0.1, beta 0.01, phi 0.9, gamma 0.05 (small, as for noisy retail data).
                let mut x0 = vec![-2.2];
                if self.damped_trend {
                    x0.extend([-2.2, 0.0]);
                }
                if self.seasonal {
                    x0.push(-2.9);
                }
                let best = nelder_mead(|x| run(decode(x)).sse, &x0, 1.0, self.max_evals);
                decode(&best)
            }
        };
        run(smoothing)
    }

    /// Runs the state recursions with fixed parameters from heuristic initial states: the level
    /// is the mean of the first two weeks, the trend 0, the seasonal states each slot's mean in
    /// the first four weeks minus that level.
    fn filter(&self, series: &Series, s: Smoothing) -> EtsModel {
        let y = series.y;
        let mut level = mean(&y[..y.len().min(2 * series.period)]);
        let mut trend = 0.0;
        let mut seasonal = vec![0.0; if self.seasonal { series.period } else { 0 }];
        if self.seasonal {
            let mut sums = vec![0.0; series.period];
            let mut counts = vec![0usize; series.period];
            for (&v, &slot) in y.iter().zip(series.slots).take(4 * series.period) {
                sums[usize::from(slot)] += v;
                counts[usize::from(slot)] += 1;
            }
            for (k, state) in seasonal.iter_mut().enumerate() {
                if counts[k] > 0 {
                    *state = sums[k] / counts[k] as f64 - level;
                }
            }
        }
        let mut sse = 0.0;
        for (&v, &slot) in y.iter().zip(series.slots) {
            let season = if self.seasonal { seasonal[usize::from(slot)] } else { 0.0 };
            let damped = s.phi * trend;
            let error = v - (level + damped + season);
            sse += error * error;
            level += damped + s.alpha * error;
            if self.damped_trend {
                trend = damped + s.beta * error;
            }
            if self.seasonal {
                seasonal[usize::from(slot)] += s.gamma * error;
            }
        }
        EtsModel { alpha: s.alpha, beta: s.beta, gamma: s.gamma, phi: s.phi, level, trend, seasonal, sse }
    }
}

impl EtsModel {
    /// Forecasts the next open days with the given slots.
    #[must_use]
    pub fn predict(&self, slots: &[u8]) -> Vec<f64> {
        let mut damping = 0.0;
        let mut power = 1.0;
        slots
            .iter()
            .map(|&slot| {
                power *= self.phi;
                damping += power;
                let season = self.seasonal.get(usize::from(slot)).copied().unwrap_or(0.0);
                self.level + damping * self.trend + season
            })
            .collect()
    }
}

/// Simple exponential smoothing with `alpha` fitted by in-sample SSE: `(alpha, final level)`.
#[must_use]
pub fn ses(y: &[f64]) -> (f64, f64) {
    let slots = vec![0u8; y.len()];
    let model = Ets::default().fit(&Series { y, slots: &slots, period: 1, panel: None });
    (model.alpha, model.level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize, period: usize) -> Vec<u8> {
        (0..n).map(|i| u8::try_from(i % period).unwrap()).collect()
    }

    #[test]
    fn simple_smoothing_of_a_constant_series_is_that_constant() {
        let y = [5.0; 30];
        let s = slots(30, 6);
        let model = Ets::default().fit(&Series { y: &y, slots: &s, period: 6, panel: None });
        assert!(model.predict(&[0, 1, 2]).iter().all(|f| (f - 5.0).abs() < 1e-9));
    }

    #[test]
    fn damped_holt_on_a_linear_trend_recovers_the_slope() {
        let y: Vec<f64> = (0..120).map(|t| 10.0 + 2.0 * f64::from(t)).collect();
        let s = slots(120, 6);
        let model = Ets { damped_trend: true, seasonal: false, max_evals: 400 }.fit(&Series {
            y: &y,
            slots: &s,
            period: 6,
            panel: None,
        });
        let f = model.predict(&[0, 1]);
        let slope = f[1] - f[0];
        // The one-step forecast continues the line; damping shortens later steps by phi.
        assert!((f[0] - 250.0).abs() < 2.0, "one step ahead {}", f[0]);
        assert!((model.trend - 2.0).abs() < 0.2, "trend state {}", model.trend);
        assert!((slope - 2.0 * model.phi * model.phi).abs() < 0.3, "slope {slope}");
    }

    #[test]
    fn seasonal_smoothing_learns_a_weekday_pattern() {
        let pattern = [1.0, 2.0, 3.0, 4.0, 10.0];
        let y: Vec<f64> = (0..100).map(|i| pattern[i % 5]).collect();
        let s = slots(100, 5);
        let model = Ets { seasonal: true, ..Ets::default() }.fit(&Series {
            y: &y,
            slots: &s,
            period: 5,
            panel: None,
        });
        let f = model.predict(&[0, 1, 2, 3, 4]);
        for (got, want) in f.iter().zip(pattern) {
            assert!((got - want).abs() < 0.05, "{f:?}");
        }
    }
}
