//! Window averages: the mean of the last weeks of open days, flat (shaped later by the weekday
//! profile), or per weekday slot.

use serde::{Deserialize, Serialize};

use super::method::{Series, mean};

/// The mean of the last `weeks` weeks of open days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowAverage {
    /// Window length in weeks of open days (default 4: about the 28 days statsforecast's
    /// `WindowAverage(28)` uses on calendar days).
    pub weeks: usize,
}

impl Default for WindowAverage {
    fn default() -> Self {
        Self { weeks: 4 }
    }
}

/// The fitted level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowAverageModel {
    /// Units per open day.
    pub level: f64,
}

impl WindowAverage {
    /// Fits on a series (all of it when shorter than the window).
    #[must_use]
    pub fn fit(&self, series: &Series) -> WindowAverageModel {
        let n = self.weeks * series.period;
        WindowAverageModel { level: mean(&series.y[series.y.len().saturating_sub(n)..]) }
    }
}

/// The SKU's mean over a long window times the shop-wide ratio of the recent to the long
/// window: the SKU's level from many weeks (little noise), the seasonal ramp from every SKU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PooledWindowAverage {
    /// The SKU's window, in weeks of open days (default 12).
    pub long_weeks: usize,
    /// The recent shop-wide window, in weeks (default 4).
    pub recent_weeks: usize,
}

impl Default for PooledWindowAverage {
    fn default() -> Self {
        Self { long_weeks: 12, recent_weeks: 4 }
    }
}

impl PooledWindowAverage {
    /// Fits on a series; without panel totals the ratio is 1.
    #[must_use]
    pub fn fit(&self, series: &Series) -> WindowAverageModel {
        let n = series.y.len();
        let long = n.saturating_sub(self.long_weeks * series.period);
        let recent = n.saturating_sub(self.recent_weeks * series.period);
        let ratio = series.panel.map_or(1.0, |p| {
            let long_mean = mean(&p[long..]);
            if long_mean > 0.0 { mean(&p[recent..]) / long_mean } else { 1.0 }
        });
        WindowAverageModel { level: mean(&series.y[long..]) * ratio }
    }
}

/// The mean of each weekday slot over the last `weeks` occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeasonalWindowAverage {
    /// Occurrences of each slot averaged (default 8).
    pub weeks: usize,
}

impl Default for SeasonalWindowAverage {
    fn default() -> Self {
        Self { weeks: 8 }
    }
}

/// The fitted per-slot means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalWindowModel {
    /// Units per open day of each slot.
    pub levels: Vec<f64>,
}

impl SeasonalWindowAverage {
    /// Fits on a series; a slot never seen gets the overall mean of the window.
    #[must_use]
    pub fn fit(&self, series: &Series) -> SeasonalWindowModel {
        let mut sums = vec![0.0; series.period];
        let mut counts = vec![0usize; series.period];
        for (&y, &slot) in series.y.iter().zip(series.slots).rev() {
            let s = usize::from(slot);
            if counts[s] < self.weeks {
                sums[s] += y;
                counts[s] += 1;
            }
        }
        let overall = sums.iter().sum::<f64>() / counts.iter().sum::<usize>().max(1) as f64;
        let levels =
            sums.iter().zip(&counts).map(|(s, &c)| if c == 0 { overall } else { s / c as f64 }).collect();
        SeasonalWindowModel { levels }
    }
}

impl SeasonalWindowModel {
    /// Forecasts the open days with the given slots.
    #[must_use]
    pub fn predict(&self, slots: &[u8]) -> Vec<f64> {
        slots.iter().map(|&s| self.levels[usize::from(s)]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_series_gives_a_constant_forecast() {
        let y = [3.0; 20];
        let slots: Vec<u8> = (0..20).map(|i| (i % 5) as u8).collect();
        let series = Series { y: &y, slots: &slots, period: 5, panel: None };
        assert!((WindowAverage { weeks: 2 }.fit(&series).level - 3.0).abs() < 1e-12);
        assert_eq!(SeasonalWindowAverage { weeks: 2 }.fit(&series).predict(&[0, 4]), vec![3.0, 3.0]);
    }

    #[test]
    fn window_average_uses_only_the_last_weeks() {
        let y = [100.0, 100.0, 1.0, 2.0, 3.0, 4.0];
        let slots = [0, 1, 0, 1, 0, 1];
        let model = WindowAverage { weeks: 2 }.fit(&Series { y: &y, slots: &slots, period: 2, panel: None });
        assert!((model.level - 2.5).abs() < 1e-12);
        let panel = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0];
        let pooled = PooledWindowAverage { long_weeks: 3, recent_weeks: 1 }.fit(&Series {
            y: &y,
            slots: &slots,
            period: 2,
            panel: Some(&panel),
        });
        // SKU mean over 6 days = 35, shop ratio = 2 / (8/6) = 1.5.
        assert!((pooled.level - 52.5).abs() < 1e-9, "{}", pooled.level);
        let seasonal =
            SeasonalWindowAverage { weeks: 2 }.fit(&Series { y: &y, slots: &slots, period: 2, panel: None });
        assert_eq!(seasonal.levels, vec![2.0, 3.0]);
    }
}
