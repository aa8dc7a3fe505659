//! ADIDA (Nikolopoulos et al. 2011): aggregate the open-day series into non-overlapping buckets,
//! forecast the buckets by SES, and spread the bucket forecast evenly over its days. The bucket
//! is the mean interval between demands (as statsforecast's `ADIDA`) or one week of open days.

use serde::{Deserialize, Serialize};

use super::ets::ses;

/// ADIDA parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Adida {
    /// Buckets of one week of open days instead of the mean inter-demand interval (default
    /// false).
    pub weekly: bool,
}

/// A fitted ADIDA model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdidaModel {
    /// Open days per bucket.
    pub bucket: usize,
    /// Units per open day.
    pub forecast: f64,
}

impl Adida {
    /// Fits on a series.
    #[must_use]
    pub fn fit(&self, series: &super::method::Series) -> AdidaModel {
        let y = series.y;
        let demands = y.iter().filter(|&&v| v > 0.0).count();
        if demands == 0 {
            return AdidaModel { bucket: 1, forecast: 0.0 };
        }
        let bucket = if self.weekly {
            series.period
        } else {
            ((y.len() as f64 / demands as f64).round() as usize).max(1)
        };
        let buckets: Vec<f64> = y.rchunks_exact(bucket).rev().map(|c| c.iter().sum()).collect();
        if buckets.is_empty() {
            return AdidaModel { bucket, forecast: y.iter().sum::<f64>() / y.len() as f64 };
        }
        let (_, level) = ses(&buckets);
        AdidaModel { bucket, forecast: level / bucket as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::super::method::Series;
    use super::*;

    #[test]
    fn adida_aggregates_by_the_mean_interval_and_spreads_evenly() {
        // A demand of 6 every third day: buckets of 3 days each hold 6, so 2 per day.
        let y: Vec<f64> = (0..30).map(|i| if i % 3 == 2 { 6.0 } else { 0.0 }).collect();
        let slots = vec![0u8; 30];
        let model = Adida::default().fit(&Series { y: &y, slots: &slots, period: 1, panel: None });
        assert_eq!(model.bucket, 3);
        assert!((model.forecast - 2.0).abs() < 1e-9, "{}", model.forecast);
    }
}
