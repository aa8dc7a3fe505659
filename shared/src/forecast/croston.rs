//! Croston's method with the Syntetos–Boylan approximation (SBA), and TSB, for intermittent
//! demand.
//!
//! Croston smooths the non-zero demand sizes `z` and the intervals `p` between them, updating
//! only on demand days; SBA multiplies `z / p` by `1 - alpha / 2` to remove Croston's bias.
//! TSB (Teunter, Syntetos & Babai 2011) smooths the demand probability every day and the size on
//! demand days, so an item that stops selling decays towards zero. TSB's two constants are
//! chosen on a small grid by in-sample one-step SSE.

use serde::{Deserialize, Serialize};

use super::method::Series;

/// Croston–SBA parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CrostonSba {
    /// Smoothing of sizes and intervals (default 0.1, as statsforecast's `CrostonSBA`).
    pub alpha: f64,
}

impl Default for CrostonSba {
    fn default() -> Self {
        Self { alpha: 0.1 }
    }
}

/// A fitted Croston–SBA model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrostonSbaModel {
    /// Smoothed demand size.
    pub size: f64,
    /// Smoothed interval between demands, in open days.
    pub interval: f64,
    /// Units per open day: `(1 - alpha/2) size / interval`.
    pub forecast: f64,
}

impl CrostonSba {
    /// Fits on a series; no demand at all forecasts 0.
    #[must_use]
    pub fn fit(&self, series: &Series) -> CrostonSbaModel {
        let mut state: Option<(f64, f64)> = None;
        let mut since = 0.0;
        for &y in series.y {
            since += 1.0;
            if y > 0.0 {
                state = Some(match state {
                    None => (y, since),
                    Some((z, p)) => (z + self.alpha * (y - z), p + self.alpha * (since - p)),
                });
                since = 0.0;
            }
        }
        let (size, interval) = state.unwrap_or((0.0, 1.0));
        CrostonSbaModel { size, interval, forecast: (1.0 - self.alpha / 2.0) * size / interval }
    }
}

/// TSB parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tsb {
    /// Candidate smoothing constants for the size and for the probability (default
    /// 0.05, 0.1, 0.2, 0.3 each; the pair with the least in-sample SSE is kept).
    pub grid: [f64; 4],
}

impl Default for Tsb {
    fn default() -> Self {
        Self { grid: [0.05, 0.1, 0.2, 0.3] }
    }
}

/// A fitted TSB model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsbModel {
    /// Size smoothing chosen.
    pub alpha_size: f64,
    /// Probability smoothing chosen.
    pub alpha_probability: f64,
    /// Smoothed probability of demand on an open day.
    pub probability: f64,
    /// Smoothed size of a demand.
    pub size: f64,
    /// Units per open day: `probability * size`.
    pub forecast: f64,
}

impl Tsb {
    /// Fits on a series.
    #[must_use]
    pub fn fit(&self, series: &Series) -> TsbModel {
        let y = series.y;
        let Some(first) = y.iter().position(|&v| v > 0.0) else {
            return TsbModel {
                alpha_size: self.grid[0],
                alpha_probability: self.grid[0],
                probability: 0.0,
                size: 0.0,
                forecast: 0.0,
            };
        };
        let nonzero = y.iter().filter(|&&v| v > 0.0).count() as f64;
        let run = |a_z: f64, a_p: f64| {
            let mut p = nonzero / y.len() as f64;
            let mut z = y[first];
            let mut sse = 0.0;
            for &v in y {
                let e = v - p * z;
                sse += e * e;
                let hit = f64::from(u8::from(v > 0.0));
                p += a_p * (hit - p);
                if v > 0.0 {
                    z += a_z * (v - z);
                }
            }
            (sse, p, z)
        };
        let mut best: Option<(f64, f64, f64, f64, f64)> = None;
        for &a_z in &self.grid {
            for &a_p in &self.grid {
                let (sse, p, z) = run(a_z, a_p);
                if best.is_none_or(|b| sse < b.0) {
                    best = Some((sse, a_z, a_p, p, z));
                }
            }
        }
        let (_, alpha_size, alpha_probability, probability, size) = best.expect("a non-empty grid");
        TsbModel { alpha_size, alpha_probability, probability, size, forecast: probability * size }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(y: &[f64]) -> (Vec<u8>, usize) {
        (vec![0; y.len()], 1)
    }

    #[test]
    fn croston_sba_on_a_known_intermittent_series() {
        // Demands of 4 every third day from the first day: sizes stay 4; the first interval is 1,
        // then 3, 3, 3: p = 1 -> 1.2 -> 1.38 -> 1.542 with alpha 0.1.
        let y = [4.0, 0.0, 0.0, 4.0, 0.0, 0.0, 4.0, 0.0, 0.0, 4.0];
        let (slots, period) = series(&y);
        let model = CrostonSba::default().fit(&Series { y: &y, slots: &slots, period, panel: None });
        assert!((model.size - 4.0).abs() < 1e-12);
        assert!((model.interval - 1.542).abs() < 1e-9, "{}", model.interval);
        assert!((model.forecast - 0.95 * 4.0 / 1.542).abs() < 1e-9);
    }

    #[test]
    fn tsb_decays_after_demand_stops_and_no_demand_forecasts_zero() {
        let mut y = vec![2.0; 20];
        y.extend([0.0; 30]);
        let (slots, period) = series(&y);
        let model = Tsb::default().fit(&Series { y: &y, slots: &slots, period, panel: None });
        assert!(model.forecast < 0.5, "{}", model.forecast);
        let zeros = [0.0; 10];
        let (slots, period) = series(&zeros);
        assert_eq!(
            Tsb::default().fit(&Series { y: &zeros, slots: &slots, period, panel: None }).forecast,
            0.0
        );
        assert_eq!(
            CrostonSba::default().fit(&Series { y: &zeros, slots: &slots, period, panel: None }).forecast,
            0.0
        );
    }

    #[test]
    fn a_constant_series_is_forecast_as_that_constant() {
        let y = [3.0; 40];
        let (slots, period) = series(&y);
        let tsb = Tsb::default().fit(&Series { y: &y, slots: &slots, period, panel: None });
        assert!((tsb.forecast - 3.0).abs() < 1e-9);
    }
}
