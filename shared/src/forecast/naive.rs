//! Seasonal naive: each open day repeats the last observed value of the same weekday. Its lag is
//! the number of open days per week (6 for a shop closed on Saturdays).

use serde::{Deserialize, Serialize};

use super::method::{Series, mean};

/// Seasonal naive parameters (none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SeasonalNaive {}

/// The last value seen on each weekday slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalNaiveModel {
    /// Last value per slot; a slot never observed falls back to the mean of the last week.
    pub last: Vec<f64>,
}

impl SeasonalNaive {
    /// Fits on a series.
    #[must_use]
    pub fn fit(&self, series: &Series) -> SeasonalNaiveModel {
        let fallback = mean(&series.y[series.y.len().saturating_sub(series.period)..]);
        let mut last = vec![f64::NAN; series.period];
        for (&y, &slot) in series.y.iter().zip(series.slots) {
            last[usize::from(slot)] = y;
        }
        SeasonalNaiveModel { last: last.into_iter().map(|v| if v.is_nan() { fallback } else { v }).collect() }
    }
}

impl SeasonalNaiveModel {
    /// Forecasts the open days with the given slots.
    #[must_use]
    pub fn predict(&self, slots: &[u8]) -> Vec<f64> {
        slots.iter().map(|&s| self.last[usize::from(s)]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_naive_repeats_the_last_week() {
        let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let slots = [0, 1, 2, 0, 1, 2];
        let model = SeasonalNaive::default().fit(&Series { y: &y, slots: &slots, period: 3, panel: None });
        assert_eq!(model.predict(&[0, 1, 2, 0]), vec![4.0, 5.0, 6.0, 4.0]);
    }
}
