//! Last year's same weeks: with more than a year of history, each SKU's forecast for the k-th
//! week ahead is corrected by how the same forecast fared a year earlier over the same week.
//!
//! Why: every other part of the forecast reads the recent weeks, so a forecast made in December
//! carries the Christmas rate into January. On a three-year history built from Online Retail (the
//! real year and two noisy copies of it a year and two years back), a paper chain kit was
//! forecast at 1,683 units a week through January and February, and sold 28 units over those
//! weeks the year before; the alerts then ordered Christmas stock to arrive after Christmas.
//!
//! ## The rule
//! - When the history holds a year ([`YEAR_DAYS`], so weekdays line up) plus
//!   [`YearlyParams::min_history_days`], the same forecaster is fitted again on the history up to
//!   a year before its end, and forecasts the 90 days from there, which the history holds.
//! - For each SKU `s` and forecast week `k`: `F` that forecast's units and `A` the units sold.
//!   The shop's factor is `R_k = sum A / sum F` over the SKUs; the SKU's is
//!   `(A + p R_k) / (F + p)`, with `p` the mean `F` that week of the SKUs forecast to sell, times
//!   [`YearlyParams::prior`]: a SKU forecast at a few units, or a new one, moves as the shop did,
//!   whatever units the shop counts in. Each factor is clamped to `[1 / max_factor, max_factor]`.
//! - A forecast day in week `k` is multiplied by `1 - weight + weight x factor_k`; its quantiles
//!   scale with it.
//!
//! Correcting last year's *errors*, not applying last year's rise or fall itself: the level model
//! already carries part of a season (a rise in the autumn), and the raw ratio of last year's weeks
//! to the weeks before them counted it twice (the November origin of the three-year history went
//! from 33.5 % to 48.8 % WAPE of the 28-day totals, with +19 % bias). A year of history (the Online
//! Retail file, 374 days) never reaches the rule, so its forecasts are unchanged.

use serde::{Deserialize, Serialize};

use super::errors::ForecastError;
use super::model::WEEK_DAYS;

/// Days from a date to the same weekday a year later.
pub const YEAR_DAYS: usize = 364;

/// How to correct forecasts by last year's same weeks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearlyParams {
    /// Weight of the shop's factor, in forecasts of the week's mean SKU (default 2). On the
    /// three-year history, in units: 20 let one SKU's lucky week swing its factor (the November
    /// origin lost 7 points), 200 scored as 2 does, and no fixed count suits every shop's units.
    pub prior: f64,
    /// Factors are clamped to `[1 / max_factor, max_factor]` (default 4).
    pub max_factor: f64,
    /// Weight of the factor (default 1).
    pub weight: f64,
    /// Days of history the year-earlier fit needs at least (default 182).
    pub min_history_days: usize,
}

impl Default for YearlyParams {
    fn default() -> Self {
        Self { prior: 2.0, max_factor: 4.0, weight: 1.0, min_history_days: 182 }
    }
}

impl YearlyParams {
    /// Refuses parameters outside their documented ranges.
    pub fn check(&self) -> Result<(), ForecastError> {
        let invalid =
            |name, reason: &str| Err(ForecastError::InvalidParams { name, reason: reason.to_owned() });
        if !(self.prior >= 0.0 && self.prior.is_finite()) {
            return invalid("yearly.prior", "must be a number >= 0");
        }
        if !(self.max_factor >= 1.0 && self.max_factor.is_finite()) {
            return invalid("yearly.max_factor", "must be a number >= 1");
        }
        if !(0.0..=1.0).contains(&self.weight) {
            return invalid("yearly.weight", "must be in [0, 1]");
        }
        if self.min_history_days == 0 {
            return invalid("yearly.min_history_days", "must be at least 1");
        }
        Ok(())
    }

    /// Where the year-earlier fit's history ends (exclusive) in a history of `days` days, when
    /// it is long enough.
    #[must_use]
    pub fn cut(&self, days: usize) -> Option<usize> {
        days.checked_sub(YEAR_DAYS).filter(|&cut| cut >= self.min_history_days)
    }

    /// Per SKU, the multiplier of each forecast week, weight applied, from last year's weekly
    /// `forecast[s][k]` and `actual[s][k]` units (the same weeks for every SKU).
    #[must_use]
    pub fn factors(&self, forecast: &[Vec<f64>], actual: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let weeks = forecast.iter().chain(actual).map(Vec::len).max().unwrap_or(0);
        let at = |rows: &[Vec<f64>], s: usize, k: usize| rows.get(s).and_then(|r| r.get(k)).copied();
        let clamp = |f: f64| f.clamp(1.0 / self.max_factor, self.max_factor);
        let skus = forecast.len().max(actual.len());
        // Per week: the shop's factor, and the prior's weight in units (the mean over the SKUs
        // forecast to sell that week: a long tail of idle SKUs would thin it).
        let (shop, prior): (Vec<f64>, Vec<f64>) = (0..weeks)
            .map(|k| {
                let forecasts: Vec<f64> = (0..forecast.len()).filter_map(|s| at(forecast, s, k)).collect();
                let f: f64 = forecasts.iter().sum();
                let selling = forecasts.iter().filter(|&&f| f > 0.0).count();
                let a: f64 = (0..actual.len()).filter_map(|s| at(actual, s, k)).sum();
                let factor = if f > 0.0 { clamp(a / f) } else { 1.0 };
                (factor, self.prior * f / selling.max(1) as f64)
            })
            .unzip();
        (0..skus)
            .map(|s| {
                (0..weeks)
                    .map(|k| {
                        let (f, a, p) =
                            (at(forecast, s, k).unwrap_or(0.0), at(actual, s, k).unwrap_or(0.0), prior[k]);
                        let factor = if f + p > 0.0 { clamp((a + p * shop[k]) / (f + p)) } else { shop[k] };
                        1.0 - self.weight + self.weight * factor
                    })
                    .collect()
            })
            .collect()
    }
}

/// Sums of consecutive days in weeks of [`WEEK_DAYS`] (the last may be shorter).
#[must_use]
pub fn weekly(daily: &[f64]) -> Vec<f64> {
    daily.chunks(WEEK_DAYS).map(|week| week.iter().sum()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_years_error_over_a_week_corrects_it_shrunk_towards_the_shops() {
        let params = YearlyParams { prior: 0.0, ..YearlyParams::default() };
        // A Christmas SKU forecast at 700 a week that sold 70, and a steady one forecast right.
        let forecast = vec![vec![700.0, 700.0], vec![350.0, 350.0]];
        let actual = vec![vec![70.0, 700.0], vec![350.0, 350.0]];
        let factors = params.factors(&forecast, &actual);
        assert_eq!(factors[0], [0.25, 1.0], "a tenth, clamped at a quarter");
        assert_eq!(factors[1], [1.0, 1.0]);

        let shrunk = YearlyParams::default().factors(&forecast, &actual);
        // The shop's 420 of 1,050, at twice the mean SKU's 525 units.
        let (shop, prior) = (420.0 / 1050.0, 2.0 * 525.0);
        assert!((shrunk[1][0] - (350.0 + prior * shop) / (350.0 + prior)).abs() < 1e-12, "{shrunk:?}");
        // A SKU with nothing forecast or sold (new since) moves as the shop did.
        // It does not thin the prior (the mean of the SKUs forecast to sell) either.
        let with_new = YearlyParams::default()
            .factors(&[forecast[0].clone(), Vec::new()], &[actual[0].clone(), Vec::new()]);
        assert_eq!(with_new[1], [0.25, 1.0], "the shop's: 70 of 700, clamped; then 700 of 700");
        let idle = vec![0.0; 2];
        let with_idle = YearlyParams::default().factors(
            &[forecast[0].clone(), forecast[1].clone(), idle.clone()],
            &[actual[0].clone(), actual[1].clone(), idle],
        );
        assert_eq!(with_idle[..2], shrunk[..], "an idle SKU changes no other's factor");
    }

    #[test]
    fn weight_mixes_in_one_and_a_history_needs_a_year_and_its_minimum() {
        let params = YearlyParams { prior: 0.0, weight: 0.5, ..YearlyParams::default() };
        let factors = params.factors(&[vec![100.0]], &[vec![25.0]]);
        assert!((factors[0][0] - (0.5 + 0.5 * 0.25)).abs() < 1e-12);
        let params = YearlyParams::default();
        assert_eq!(params.cut(374), None, "a year and ten days: Online Retail");
        assert_eq!(params.cut(YEAR_DAYS + 181), None);
        assert_eq!(params.cut(YEAR_DAYS + 182), Some(182));
    }

    #[test]
    fn weekly_sums_weeks_of_seven_days() {
        let days: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(weekly(&days), [28.0, 17.0]);
    }
}
