//! Holdout evaluation: fit on all but the last `holdout` days, forecast them, and score the
//! forecasts with the metrics (see [`EvalMetrics`]).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::errors::ForecastError;
use super::metrics::{bias, buckets, coverage, mase, median, total_wape, wape};
use super::model::{ForecastModel, ForecasterParams, SkuForecast, SkuModel};
use super::panel::Panel;

/// Lag of the seasonal naive forecast that scales MASE: 7 calendar days.
pub const MASE_LAG: usize = 7;

/// Days per bucket of the weekly metric.
pub const WEEK: usize = 7;

/// The metrics on a holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    /// `sum |f - y| / sum y` over SKUs x days.
    pub wape_daily: f64,
    /// `sum_sku |sum f - sum y| / sum y` over the holdout.
    pub wape_total: f64,
    /// `sum (f - y) / sum y`.
    pub bias: f64,
    /// MASE per SKU (scale: in-sample seasonal naive, lag 7 calendar days), mean over SKUs.
    pub mase_mean: f64,
    /// ... and median.
    pub mase_median: f64,
    /// SKUs with a defined MASE (non-zero scale).
    pub mase_skus: usize,
    /// Share of SKU-days with `p10 <= y <= p90`.
    pub coverage_p10_p90: f64,
    /// WAPE of 7-day buckets from the first holdout day (4 buckets for 28 days).
    pub wape_weekly: f64,
    /// Share of SKUs whose holdout total lies within the p10-p90 of its forecast total (the
    /// model's total factors at the holdout's open days): the band a lead-time demand reads.
    #[serde(default)]
    pub coverage_total_p10_p90: f64,
    /// Daily calibration: `(level, share of open SKU-days with y <= the level's quantile)` for
    /// [`CALIBRATION_LEVELS`]; a calibrated quantile holds its level's share.
    #[serde(default)]
    pub calibration: Vec<(f64, f64)>,
    /// Daily p10-p90 coverage over open days (where `coverage_p10_p90` counts every calendar day,
    /// closed ones covered by [0, 0]) in each fifth of the SKUs by mean daily forecast (fewer
    /// groups with fewer than 5 SKUs), slowest first: a band calibrated only on average can
    /// cover 95 % of slow sellers' days and 65 % of fast sellers'.
    #[serde(default)]
    pub coverage_by_size: Vec<f64>,
    /// Calibration of totals: `(level, share of SKUs whose actual total is at or below the
    /// total's quantile)` for [`CALIBRATION_LEVELS`], over the first [`WEEK`] days (a lead
    /// time's total, which the alerts' reorder point reads) and over the whole holdout.
    #[serde(default)]
    pub calibration_totals: Vec<TotalCalibration>,
}

/// The calibration of one span's totals (see [`EvalMetrics::calibration_totals`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalCalibration {
    /// Calendar days from the first holdout day.
    pub days: usize,
    /// `(level, share of SKUs at or below)`.
    pub levels: Vec<(f64, f64)>,
}

/// Levels whose daily calibration [`EvalMetrics::calibration`] reports: p10 first, p90 third.
pub const CALIBRATION_LEVELS: [f64; 5] = [0.1, 0.5, 0.9, 0.95, 0.99];

/// Positions of p10 and p90 in [`CALIBRATION_LEVELS`].
const P10_P90: (usize, usize) = (0, 2);

/// Size groups of [`EvalMetrics::coverage_by_size`].
pub const SIZE_GROUPS: usize = 5;

/// What `shopsense eval forecast` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// SKUs evaluated.
    pub skus: usize,
    /// Training days (calendar).
    pub train_days: usize,
    /// Held-out days (calendar).
    pub holdout_days: usize,
    /// First held-out day.
    pub holdout_first: chrono::NaiveDate,
    /// Weekly closures inferred from the training days.
    pub closed_weekdays: Vec<String>,
    /// The metrics.
    pub metrics: EvalMetrics,
    /// Seconds to fit every series (backtests included).
    pub fit_seconds: f64,
    /// Seconds to forecast every series.
    pub predict_seconds: f64,
    /// SKUs per demand class.
    pub classes: BTreeMap<String, usize>,
    /// How often each method is in a SKU's ensemble.
    pub methods_chosen: BTreeMap<String, usize>,
}

/// Fits on all but the last `holdout` days of `panel` and scores the forecast of those days.
pub fn evaluate(
    panel: &Panel,
    holdout: usize,
    params: &ForecasterParams,
) -> Result<EvalReport, ForecastError> {
    let (train, test) = panel.split(holdout)?;
    let params = ForecasterParams { horizon: holdout.min(super::model::MAX_HORIZON), ..params.clone() };
    let started = Instant::now();
    let model = params.fit(&train)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let forecasts = model.predict(holdout, &CALIBRATION_LEVELS)?;
    let predict_seconds = started.elapsed().as_secs_f64();

    let actual: Vec<f64> = test.values.iter().flatten().copied().collect();
    let mean: Vec<Vec<f64>> = forecasts.skus.iter().map(|s| s.mean.clone()).collect();
    let flat: Vec<f64> = mean.iter().flatten().copied().collect();
    let (p10, p90) = P10_P90;
    let lower: Vec<f64> = forecasts.skus.iter().flat_map(|s| s.quantiles[p10].1.clone()).collect();
    let upper: Vec<f64> = forecasts.skus.iter().flat_map(|s| s.quantiles[p90].1.clone()).collect();
    let mases: Vec<f64> = test
        .values
        .iter()
        .zip(&mean)
        .zip(&train.values)
        .filter_map(|((y, f), insample)| mase(y, f, insample, MASE_LAG))
        .collect();
    let weekly_actual: Vec<f64> = test.values.iter().flat_map(|y| buckets(y, WEEK)).collect();
    let weekly_forecast: Vec<f64> = mean.iter().flat_map(|f| buckets(f, WEEK)).collect();
    let open = model.calendar.future_open(holdout);
    let totals_covered = model
        .skus
        .iter()
        .zip(&mean)
        .zip(&test.values)
        .filter(|((sku, f), y)| {
            let (total, y): (f64, f64) = (f.iter().sum(), y.iter().sum());
            let days = || f.iter().copied().zip(open.iter().copied());
            let band = |level| sku.total_quantile(&model.totals, days(), level).unwrap_or(total);
            band(0.1) - 1e-9 <= y && y <= band(0.9) + 1e-9
        })
        .count();
    let metrics = EvalMetrics {
        wape_daily: wape(&actual, &flat),
        wape_total: total_wape(&test.values, &mean),
        bias: bias(&actual, &flat),
        mase_mean: mases.iter().sum::<f64>() / mases.len() as f64,
        mase_median: median(&mases),
        mase_skus: mases.len(),
        coverage_p10_p90: coverage(&actual, &lower, &upper),
        wape_weekly: wape(&weekly_actual, &weekly_forecast),
        coverage_total_p10_p90: totals_covered as f64 / model.skus.len().max(1) as f64,
        calibration: calibration(&forecasts.skus, &test.values, &open),
        coverage_by_size: coverage_by_size(&forecasts.skus, &test.values, &open, (p10, p90)),
        calibration_totals: [WEEK.min(holdout), holdout]
            .into_iter()
            .collect::<std::collections::BTreeSet<usize>>()
            .into_iter()
            .map(|days| TotalCalibration {
                days,
                levels: total_calibration(&model, &mean, &test.values, days),
            })
            .collect(),
    };
    let mut classes = BTreeMap::new();
    let mut methods_chosen = BTreeMap::new();
    for sku in &model.skus {
        *classes.entry(sku.class.as_str().to_owned()).or_insert(0) += 1;
        for method in &sku.methods {
            *methods_chosen.entry(method.name()).or_insert(0) += 1;
        }
    }
    Ok(EvalReport {
        skus: panel.skus.len(),
        train_days: train.days,
        holdout_days: holdout,
        holdout_first: test.first,
        closed_weekdays: model.calendar.closed_weekdays.iter().map(ToString::to_string).collect(),
        metrics,
        fit_seconds,
        predict_seconds,
        classes,
        methods_chosen,
    })
}

/// `(level, share of open SKU-days at or below the level's quantile)` per predicted level.
fn calibration(skus: &[SkuForecast], actual: &[Vec<f64>], open: &[bool]) -> Vec<(f64, f64)> {
    let days = skus.len() * open.iter().filter(|&&o| o).count();
    (0..skus.first().map_or(0, |s| s.quantiles.len()))
        .map(|q| {
            let below = skus
                .iter()
                .zip(actual)
                .flat_map(|(s, y)| s.quantiles[q].1.iter().zip(y).zip(open))
                .filter(|((p, y), open)| **open && **y <= **p + 1e-9)
                .count();
            let level = skus.first().map_or(0.0, |s| s.quantiles[q].0);
            (level, below as f64 / days.max(1) as f64)
        })
        .collect()
}

/// `(level, share of SKUs whose total over the first `days` days is at or below its quantile)`
/// per level of [`CALIBRATION_LEVELS`], the quantile read from the model's total factors.
fn total_calibration(
    model: &ForecastModel,
    mean: &[Vec<f64>],
    actual: &[Vec<f64>],
    days: usize,
) -> Vec<(f64, f64)> {
    let open = model.calendar.future_open(days);
    let totals: Vec<(&SkuModel, &[f64], f64)> = model
        .skus
        .iter()
        .zip(mean)
        .zip(actual)
        .map(|((sku, f), y)| (sku, &f[..days.min(f.len())], y[..days.min(y.len())].iter().sum()))
        .collect();
    CALIBRATION_LEVELS
        .iter()
        .map(|&level| {
            let below = totals
                .iter()
                .filter(|&&(sku, f, y)| {
                    let days = f.iter().copied().zip(open.iter().copied());
                    let quantile = sku.total_quantile(&model.totals, days, level).unwrap_or(f.iter().sum());
                    y <= quantile + 1e-9
                })
                .count();
            (level, below as f64 / totals.len().max(1) as f64)
        })
        .collect()
}

/// p10-p90 coverage over open days in [`SIZE_GROUPS`] equal-count groups of SKUs by mean
/// forecast, slowest first (`band`: the positions of p10 and p90 among the quantiles).
fn coverage_by_size(
    skus: &[SkuForecast],
    actual: &[Vec<f64>],
    open: &[bool],
    band: (usize, usize),
) -> Vec<f64> {
    let mut order: Vec<(f64, usize)> =
        skus.iter().enumerate().map(|(i, s)| (s.mean.iter().sum::<f64>(), i)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let groups = SIZE_GROUPS.min(order.len());
    (0..groups)
        .map(|g| {
            let members = &order[g * order.len() / groups..(g + 1) * order.len() / groups];
            let (mut y, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
            for &(_, i) in members {
                for t in (0..open.len()).filter(|&t| open[t]) {
                    y.push(actual[i][t]);
                    lo.push(skus[i].quantiles[band.0].1[t]);
                    hi.push(skus[i].quantiles[band.1].1[t]);
                }
            }
            if y.is_empty() { 0.0 } else { coverage(&y, &lo, &hi) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibration_levels_hold_p10_and_p90_where_the_band_reads_them() {
        assert_eq!((CALIBRATION_LEVELS[P10_P90.0], CALIBRATION_LEVELS[P10_P90.1]), (0.1, 0.9));
    }

    /// 70 days of SKUs A and B from 2011-01-03, `units(day)` giving their sales.
    fn two_skus(units: impl Fn(u64) -> (f64, f64)) -> Panel {
        let first: chrono::NaiveDate = "2011-01-03".parse().unwrap();
        let rows: Vec<(String, chrono::NaiveDate, f64)> = (0..70)
            .flat_map(|d| {
                let date = first + chrono::Days::new(d);
                let (a, b) = units(d);
                [("A".to_owned(), date, a), ("B".to_owned(), date, b)]
            })
            .collect();
        Panel::from_rows(&rows)
    }

    #[test]
    fn a_perfectly_forecast_constant_panel_scores_zero_error() {
        let report = evaluate(&two_skus(|_| (4.0, 1.0)), 14, &ForecasterParams::default()).unwrap();
        assert!(report.metrics.wape_daily < 1e-9);
        assert!(report.metrics.wape_total < 1e-9);
        assert!(report.metrics.bias.abs() < 1e-9);
        assert_eq!(report.metrics.mase_skus, 0, "a constant history has no MASE scale");
        assert!((report.metrics.coverage_p10_p90 - 1.0).abs() < 1e-9);
        // Exact totals sit at every quantile of theirs: at or below each, over 7 and 14 days.
        let spans: Vec<usize> = report.metrics.calibration_totals.iter().map(|c| c.days).collect();
        assert_eq!(spans, vec![7, 14]);
        for span in &report.metrics.calibration_totals {
            assert_eq!(span.levels.iter().map(|l| l.0).collect::<Vec<_>>(), CALIBRATION_LEVELS.to_vec());
            assert!(span.levels.iter().all(|&(_, share)| (share - 1.0).abs() < 1e-9), "{span:?}");
        }
    }

    #[test]
    fn total_calibration_counts_the_skus_at_or_below_each_quantile() {
        // A and B sell 4 and 1 a day for 63 days, then 8 and 0: above every quantile of A's
        // total and at or below every one of B's.
        let panel = two_skus(|d| if d < 63 { (4.0, 1.0) } else { (8.0, 0.0) });
        let report = evaluate(&panel, 7, &ForecasterParams::default()).unwrap();
        assert_eq!(report.metrics.calibration_totals.len(), 1, "a 7-day holdout is one span");
        let week = &report.metrics.calibration_totals[0];
        assert_eq!(week.days, 7);
        assert!(week.levels.iter().all(|&(_, share)| (share - 0.5).abs() < 1e-9), "{week:?}");
    }
}
