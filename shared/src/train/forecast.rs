//! Training the demand forecast for serving and alerts.
//!
//! ## Held-out evaluation (the gate's numbers)
//! The last [`ForecastTraining::holdout`] calendar days are held out; the forecaster fits on
//! the rest and is scored on them (WAPE of each SKU's holdout total, daily WAPE, bias, MASE,
//! p10-p90 coverage). The sanity baseline is the seasonal naive forecast (each SKU's last
//! trading week repeated, a closure skipped) on the same holdout. Then the model is refitted on everything and
//! forecasts [`ForecastTraining::publish_horizon`] days for serving.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::TrainError;
use super::inputs::TrainingData;
use crate::forecast::calendar::add_days;
use crate::forecast::metrics::total_wape;
use crate::forecast::panel::MAX_HISTORY_DAYS;
use crate::forecast::{ForecastModel, ForecasterParams, Forecasts, Panel, evaluate};
use crate::registry::ModelKind;
use crate::serving::{ForecastSummary, ItemForecast, SHOP_PARTITION, doc_id, item_partition};
use crate::store::Document;

/// The forecast's training parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastTraining {
    /// The forecaster.
    pub params: ForecasterParams,
    /// Held-out calendar days (default 28).
    pub holdout: usize,
    /// Days forecast for serving (default 90, the most `GET /api/forecasts` serves).
    pub publish_horizon: usize,
}

impl Default for ForecastTraining {
    fn default() -> Self {
        Self { params: ForecasterParams::default(), holdout: 28, publish_horizon: 90 }
    }
}

/// What the forecast kind stores in `model.bin`: the fitted model and its published forecast.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForecastArtifact {
    /// The model fitted on all history.
    pub model: ForecastModel,
    /// Its forecast of the publish horizon, point and quantile factors per SKU.
    pub forecasts: Forecasts,
    /// `(sku, description)` of the SKUs the catalogue describes, published with each forecast
    /// so the shop's tools name the product (empty in artifacts written before).
    #[serde(default)]
    pub descriptions: Vec<(String, String)>,
}

/// The quantile levels whose factors are published (0.01..=0.99).
fn levels() -> Vec<f64> {
    (1..=99).map(|p| f64::from(p) / 100.0).collect()
}

/// Days of sales a forecast is fitted on, at least, before the days it is judged on.
pub const MIN_FIT_DAYS: usize = 28;

/// Seasonal naive: each SKU's last trading week repeated over the holdout, weekday by weekday.
/// The last trading week is the latest 7 days whose every day was open or a weekly closure: the
/// last 7 calendar days were Online Retail's Christmas break in a January retrain, a forecast of
/// 0 everywhere, which any model beat (WAPE 1.0 against the model's 0.89, where repeating the
/// week before the break scores 0.87).
fn naive_wape_total(train: &Panel, test: &Panel) -> f64 {
    let calendar = train.calendar();
    let trading = |d: usize| calendar.open[d] || calendar.is_weekly_closure(calendar.date(d));
    let start = (7..=train.days)
        .rev()
        .map(|end| end - 7)
        .find(|&start| (start..start + 7).all(trading))
        .unwrap_or(train.days.saturating_sub(7));
    let forecast: Vec<Vec<f64>> = train
        .values
        .iter()
        .map(|v| {
            (0..test.days)
                .map(|d| match v.len() {
                    0 => 0.0,
                    // Less than a week: the days there are, repeated.
                    n if n < 7 => v[d % n],
                    _ => v[start + (train.days + d - start) % 7],
                })
                .collect()
        })
        .collect();
    total_wape(&test.values, &forecast)
}

/// The rows of the last [`MAX_HISTORY_DAYS`] days up to the latest: the panel holds every SKU on
/// every day, so a stray early date in silver would otherwise ask for millions of days per SKU
/// (the forecast CLI refuses such a file at its line instead).
fn within_history_span(mut rows: Vec<(String, NaiveDate, f64)>) -> Vec<(String, NaiveDate, f64)> {
    let Some(last) = rows.iter().map(|r| r.1).max() else { return rows };
    let before = rows.len();
    rows.retain(|r| (last - r.1).num_days() < MAX_HISTORY_DAYS);
    if rows.len() < before {
        tracing::warn!(
            dropped = before - rows.len(),
            "daily demand more than {MAX_HISTORY_DAYS} days before {last} left out of the forecast"
        );
    }
    rows
}

/// Fits, evaluates and forecasts. Returns the artifact with its metrics.
///
/// # Errors
/// When the history is too short for the holdout or the forecaster refuses it.
pub fn train(
    data: &TrainingData,
    params: &ForecastTraining,
) -> Result<(ForecastArtifact, Value), TrainError> {
    let panel = Panel::from_rows(&within_history_span(data.demand_rows()?));
    if panel.skus.is_empty() {
        return Err(TrainError::Data("no daily demand: ingest transactions first".into()));
    }
    // Judged on its last `holdout` days, fitted on at least four weeks before them: a shorter
    // history leaves the judging model nearly nothing to fit (a shop's first three weeks went
    // live judged on a model of none, 2,721 of 2,775 SKUs read as no demand, and the alerts read
    // a safety stock from no backtest at all).
    let first_sale = panel.values.iter().filter_map(|v| v.iter().position(|&q| q > 0.0)).min().unwrap_or(0);
    let span = panel.days - first_sale;
    if span < params.holdout + MIN_FIT_DAYS {
        return Err(TrainError::Forecast(crate::forecast::ForecastError::NotEnoughHistory(format!(
            "the sales span {span} days ({} to {}): a forecast is judged on its last {} days and fitted \
             on at least {MIN_FIT_DAYS} before them, so it needs {} (ingest more history; recommendations \
             and segments train without it)",
            add_days(panel.first, first_sale),
            panel.last(),
            params.holdout,
            params.holdout + MIN_FIT_DAYS
        ))));
    }
    let report = evaluate(&panel, params.holdout, &params.params)?;
    let (train_part, test_part) = panel.split(params.holdout)?;
    let naive = naive_wape_total(&train_part, &test_part);
    let model = params.params.fit(&panel)?;
    let forecasts = model.predict(params.publish_horizon, &levels())?;
    let m = &report.metrics;
    let metrics = json!({
        "holdout_days": params.holdout,
        "data_end": panel.last(),
        "skus": report.skus,
        "wape_total": m.wape_total,
        "wape_daily": m.wape_daily,
        "wape_weekly": m.wape_weekly,
        "bias": m.bias,
        "mase_median": m.mase_median,
        "coverage_p10_p90": m.coverage_p10_p90,
        "coverage_total_p10_p90": m.coverage_total_p10_p90,
        "naive_wape_total": naive,
        "classes": report.classes,
    });
    let described: HashSet<&str> = forecasts.skus.iter().map(|s| s.sku.as_str()).collect();
    let descriptions =
        data.descriptions()?.into_iter().filter(|(sku, _)| described.contains(sku.as_str())).collect();
    Ok((ForecastArtifact { model, forecasts, descriptions }, metrics))
}

impl ForecastArtifact {
    /// The serving documents under `version`.
    ///
    /// # Errors
    /// When a document cannot be built.
    pub fn documents(&self, version: &str) -> Result<Vec<Document>, TrainError> {
        let id = doc_id(ModelKind::Forecast, version);
        let first_date = self.forecasts.dates.first().copied().unwrap_or_default();
        let mut docs = Vec::with_capacity(self.forecasts.skus.len() + 1);
        let descriptions: HashMap<&str, &str> =
            self.descriptions.iter().map(|(sku, d)| (sku.as_str(), d.as_str())).collect();
        for (sku, fitted) in self.forecasts.skus.iter().zip(&self.model.skus) {
            let factor_of = |level: f64| self.model.quantiles.factor(fitted.class, sku.size, level);
            let body = ItemForecast {
                first_date,
                mean: sku.mean.iter().map(|&m| m as f32).collect(),
                quantile_factors: levels().into_iter().map(|l| (l as f32, factor_of(l) as f32)).collect(),
                class: fitted.class.as_str().to_owned(),
                methods: fitted.methods.iter().map(crate::forecast::Method::name).collect(),
                largest_totals: fitted.largest_totals.iter().map(|&v| v as f32).collect(),
                idle_days: fitted.idle_days.and_then(|d| u32::try_from(d).ok()),
                description: descriptions.get(sku.sku.as_str()).map(|d| (*d).to_owned()),
            };
            docs.push(Document::new(item_partition(&sku.sku), &id, &body)?);
        }
        let summary = ForecastSummary {
            first_date,
            horizon: self.forecasts.dates.len(),
            skus: self.forecasts.skus.len(),
            closed_weekdays: self.model.calendar.closed_weekdays.iter().map(ToString::to_string).collect(),
            open: self.model.calendar.future_open(self.forecasts.dates.len()),
            total_factors: self.model.totals.clone(),
        };
        docs.push(Document::new(SHOP_PARTITION, &id, &summary)?);
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demand_older_than_the_history_span_is_left_out() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let rows = vec![
            ("A".to_owned(), day("0011-12-09"), 5.0),
            ("A".to_owned(), day("2011-12-08"), 1.0),
            ("B".to_owned(), day("2011-12-09"), 2.0),
        ];
        let kept = within_history_span(rows.clone());
        assert_eq!(kept, rows[1..].to_vec());
        assert_eq!(Panel::from_rows(&kept).days, 2);
        assert_eq!(within_history_span(rows[1..].to_vec()), rows[1..].to_vec(), "nothing to drop");
    }

    /// Four weeks of trade (Sundays closed), a week's break, then the holdout: the baseline
    /// repeats the last week of trade, not the break.
    #[test]
    fn the_naive_baseline_repeats_the_last_trading_week_not_a_closure() {
        use chrono::Datelike;
        let first = "2010-11-29".parse::<NaiveDate>().unwrap(); // a Monday
        let units = |d: usize| {
            let date = crate::forecast::calendar::add_days(first, d);
            let closed = date.weekday() == chrono::Weekday::Sun || (28..35).contains(&d);
            if closed { 0.0 } else { 10.0 + (d % 7) as f64 }
        };
        let rows: Vec<(String, NaiveDate, f64)> = (0..42)
            .flat_map(|d| {
                let date = crate::forecast::calendar::add_days(first, d);
                [("A".to_owned(), date, units(d)), ("B".to_owned(), date, 2.0 * units(d))]
            })
            .collect();
        let (train, test) = Panel::from_rows(&rows).split(7).unwrap();
        assert!(naive_wape_total(&train, &test) < 1e-9, "{}", naive_wape_total(&train, &test));
    }
}
