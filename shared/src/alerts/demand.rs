//! A SKU's forecast demand path, the input the alert policy reads: the daily point forecast and
//! the daily p10, p50 and p90 on consecutive calendar days starting tomorrow (closed days 0), as
//! [`crate::forecast::ForecastModel::predict`] returns them, and how a total over its first
//! days spreads ([`TotalSpread`], from the model's backtest totals).

use std::sync::Arc;

use chrono::NaiveDate;

use super::errors::AlertError;
use crate::forecast::quantiles::TotalTable;
use crate::forecast::{ForecastModel, Forecasts, SkuForecast};

/// The quantile levels a [`DemandPath`] needs: pass these to `ForecastModel::predict`.
pub const DEMAND_PATH_LEVELS: [f64; 3] = [0.1, 0.5, 0.9];

/// How the total demand over a path's first days spreads around its point forecast: quantile
/// factors by number of open days, measured on the forecaster's backtest totals.
#[derive(Debug, Clone, PartialEq)]
pub struct TotalSpread {
    /// Factors of a total's point forecast by open days, size and level (shared between paths).
    pub table: Arc<TotalTable>,
    /// Whether each day of the path is open, one per day.
    pub open: Vec<bool>,
    /// The SKU's largest totals over [`crate::forecast::TOTAL_SPANS`] open days in its history,
    /// which bound its totals' quantiles ([`crate::forecast::bound_total`]; empty: no bound).
    pub largest: Arc<[f64]>,
    /// The SKU's open days since its last sale, which a total forecast at 0 reads
    /// ([`crate::forecast::SkuModel::idle_days`]; `None`: such a total reads 0).
    pub idle_days: Option<usize>,
}

/// One SKU's daily demand forecast from tomorrow on.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandPath {
    /// The first forecast day (tomorrow, for the snapshot's today).
    pub first: NaiveDate,
    /// Point forecast (mean units) per calendar day.
    pub mean: Vec<f64>,
    /// 10th percentile per day.
    pub p10: Vec<f64>,
    /// Median per day: carried for reports; the safety stock reads the p10–p90 spread.
    pub p50: Vec<f64>,
    /// 90th percentile per day.
    pub p90: Vec<f64>,
    /// The spread of totals; `None` (forecasts published before it existed) makes the policy
    /// read totals as sums of independent days.
    pub totals: Option<TotalSpread>,
}

impl DemandPath {
    /// A path from its parts: at least one day, every vector the same length, values finite and
    /// >= 0, and `p10 <= p90` each day. `sku` names the path in errors.
    pub fn new(
        sku: &str,
        first: NaiveDate,
        mean: Vec<f64>,
        p10: Vec<f64>,
        p50: Vec<f64>,
        p90: Vec<f64>,
    ) -> Result<Self, AlertError> {
        let invalid = |reason: String| AlertError::InvalidDemandPath { sku: sku.to_owned(), reason };
        if mean.is_empty() {
            return Err(invalid("no forecast days".into()));
        }
        for (name, values) in [("p10", &p10), ("p50", &p50), ("p90", &p90)] {
            if values.len() != mean.len() {
                return Err(invalid(format!(
                    "{} days of {name} for {} days of mean",
                    values.len(),
                    mean.len()
                )));
            }
        }
        for (name, values) in [("mean", &mean), ("p10", &p10), ("p50", &p50), ("p90", &p90)] {
            if let Some((day, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
                return Err(invalid(format!("{name} on day {day} is {v}")));
            }
        }
        // The forecaster's quantiles are sorted multiples of the mean; allow rounding noise.
        if let Some(day) = (0..mean.len()).find(|&d| p10[d] > p90[d] + 1e-9 * p90[d].max(1.0)) {
            return Err(invalid(format!("p10 {} above p90 {} on day {day}", p10[day], p90[day])));
        }
        Ok(Self { first, mean, p10, p50, p90, totals: None })
    }

    /// The path with the spread of its totals: `open` has one flag per day of the path and the
    /// table at least one span; `largest` the SKU's largest totals (empty: no bound) and
    /// `idle_days` its open days since its last sale.
    pub fn with_totals(
        self,
        sku: &str,
        table: Arc<TotalTable>,
        open: Vec<bool>,
        largest: Vec<f64>,
        idle_days: Option<usize>,
    ) -> Result<Self, AlertError> {
        let invalid = |reason: String| AlertError::InvalidDemandPath { sku: sku.to_owned(), reason };
        if open.len() != self.len() {
            return Err(invalid(format!("{} open-day flags for {} days", open.len(), self.len())));
        }
        if table.is_empty() {
            return Err(invalid("the total quantile table is empty".into()));
        }
        Ok(Self { totals: Some(TotalSpread { table, open, largest: largest.into(), idle_days }), ..self })
    }

    /// Quantile `level` in units of the total over the first `days` days, whose point forecast
    /// is `forecast` (`None` without a [`TotalSpread`]): the path's days read as the API reads
    /// them ([`crate::forecast::running_total_quantile`]). Days beyond the path count as open in
    /// the path's share of open days, each with an equal part of what `forecast` holds beyond it.
    #[must_use]
    pub fn total_quantile(&self, days: usize, forecast: f64, level: f64) -> Option<f64> {
        let spread = self.totals.as_ref()?;
        let known = days.min(spread.open.len()).min(self.mean.len());
        let share = spread.open.iter().filter(|&&o| o).count() as f64 / spread.open.len().max(1) as f64;
        let open_beyond = ((days - known) as f64 * share).round() as usize;
        let beyond = (forecast - self.mean[..known].iter().sum::<f64>()).max(0.0) / open_beyond.max(1) as f64;
        let path = self.mean[..known].iter().copied().zip(spread.open[..known].iter().copied());
        let days = path.chain(std::iter::repeat_n((beyond, true), open_beyond));
        crate::forecast::running_total_quantile(&spread.table, days, level, &spread.largest, spread.idle_days)
    }

    /// The path of one SKU of a forecast: `dates` are `Forecasts::dates`, and the forecast must
    /// hold the levels [`DEMAND_PATH_LEVELS`].
    pub fn from_forecast(forecast: &SkuForecast, dates: &[NaiveDate]) -> Result<Self, AlertError> {
        let invalid = |reason: String| AlertError::InvalidDemandPath { sku: forecast.sku.clone(), reason };
        let level = |wanted: f64| {
            forecast
                .quantiles
                .iter()
                .find(|(level, _)| (level - wanted).abs() < 1e-9)
                .map(|(_, values)| values.clone())
                .ok_or_else(|| invalid(format!("the forecast has no quantile at level {wanted}")))
        };
        let first = *dates.first().ok_or_else(|| invalid("the forecast has no dates".into()))?;
        if dates.len() != forecast.mean.len() {
            return Err(invalid(format!("{} dates for {} forecast days", dates.len(), forecast.mean.len())));
        }
        Self::new(&forecast.sku, first, forecast.mean.clone(), level(0.1)?, level(0.5)?, level(0.9)?)
    }

    /// Every SKU's path of `forecasts` (made by `model`, in its SKU order), with the spread of
    /// its totals when the model has a total table (models saved before it have none).
    pub fn all_from(model: &ForecastModel, forecasts: &Forecasts) -> Result<Vec<Self>, AlertError> {
        let table = Arc::new(model.totals.clone());
        let open = model.calendar.future_open(forecasts.dates.len());
        forecasts
            .skus
            .iter()
            .zip(&model.skus)
            .map(|(sku, fitted)| {
                let path = Self::from_forecast(sku, &forecasts.dates)?;
                if table.is_empty() {
                    return Ok(path);
                }
                let largest = fitted.largest_totals.clone();
                path.with_totals(&sku.sku, Arc::clone(&table), open.clone(), largest, fitted.idle_days)
            })
            .collect()
    }

    /// Calendar days forecast.
    #[must_use]
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Closed days from the path's first day (tomorrow) before its first open one: the shop
    /// places no order on them, so the next order after today's is placed after them. 0 for a
    /// path without a [`TotalSpread`], which carries the open days.
    #[must_use]
    pub fn closed_days_ahead(&self) -> usize {
        self.totals.as_ref().map_or(0, |t| t.open.iter().take_while(|open| !**open).count())
    }

    /// The SKU's open days without a sale before the path's first day (`None` without a
    /// [`TotalSpread`], or when the forecaster did not say).
    #[must_use]
    pub fn idle_days(&self) -> Option<usize> {
        self.totals.as_ref().and_then(|t| t.idle_days)
    }

    /// Whether the path has no days (never true of a path built by [`DemandPath::new`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// The path from day `offset` on (at least the last day is kept): the forecast made on an
    /// earlier day, read `offset` days later.
    #[must_use]
    pub fn skip(&self, offset: usize) -> Self {
        let offset = offset.min(self.len().saturating_sub(1));
        let first = self.first.checked_add_days(chrono::Days::new(offset as u64)).unwrap_or(self.first);
        Self {
            first,
            mean: self.mean[offset..].to_vec(),
            p10: self.p10[offset..].to_vec(),
            p50: self.p50[offset..].to_vec(),
            p90: self.p90[offset..].to_vec(),
            totals: self.totals.as_ref().map(|t| TotalSpread {
                table: Arc::clone(&t.table),
                open: t.open[offset..].to_vec(),
                largest: Arc::clone(&t.largest),
                // The skipped open days count as idle: the path does not know what sold on them,
                // and a SKU forecast at 0 (whose totals read the idle days) sold nothing on them
                // as forecast. Read 60 days on, a SKU idle 10 days at the fit would otherwise
                // stay among the recent sellers.
                idle_days: t.idle_days.map(|d| d + t.open[..offset].iter().filter(|&&o| o).count()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_path_is_read_from_a_forecast_with_the_three_levels() {
        let forecast = SkuForecast {
            sku: "A".into(),
            mean: vec![2.0, 0.0],
            quantiles: vec![(0.1, vec![1.0, 0.0]), (0.5, vec![2.0, 0.0]), (0.9, vec![3.5, 0.0])],
            size: 2.0,
        };
        let dates = [day("2011-12-10"), day("2011-12-11")];
        let path = DemandPath::from_forecast(&forecast, &dates).unwrap();
        assert_eq!(path.first, day("2011-12-10"));
        assert_eq!(path.p90, vec![3.5, 0.0]);
        let later = path.skip(1);
        assert_eq!((later.first, later.mean.clone()), (day("2011-12-11"), vec![0.0]));

        let without_median =
            SkuForecast { quantiles: vec![(0.1, vec![1.0, 0.0]), (0.9, vec![3.5, 0.0])], ..forecast };
        assert_eq!(
            DemandPath::from_forecast(&without_median, &dates).unwrap_err().to_string(),
            "demand path of A: the forecast has no quantile at level 0.5"
        );
    }

    #[test]
    fn inconsistent_paths_are_refused() {
        let first = day("2011-12-10");
        assert!(DemandPath::new("A", first, vec![], vec![], vec![], vec![]).is_err());
        assert!(DemandPath::new("A", first, vec![1.0], vec![1.0, 1.0], vec![1.0], vec![1.0]).is_err());
        assert!(DemandPath::new("A", first, vec![-1.0], vec![0.0], vec![0.0], vec![0.0]).is_err());
        assert!(DemandPath::new("A", first, vec![1.0], vec![2.0], vec![1.0], vec![1.5]).is_err());
        assert!(DemandPath::new("A", first, vec![1.0], vec![0.5], vec![1.0], vec![f64::NAN]).is_err());
        assert!(DemandPath::new("A", first, vec![1.0], vec![0.5], vec![1.0], vec![1.5]).is_ok());
    }
}
