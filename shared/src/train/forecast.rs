//! Training the demand forecast for serving and alerts.
//!
//! ## Held-out evaluation (the gate's numbers)
//! The last [`ForecastTraining::holdout`] calendar days are held out; the forecaster fits on
//! the rest and is scored on them (WAPE of each SKU's holdout total, daily WAPE, bias, MASE,
//! p10-p90 coverage). The sanity baseline is the seasonal naive forecast (each SKU's last
//! training week repeated) on the same holdout. Then the model is refitted on everything and
//! forecasts [`ForecastTraining::publish_horizon`] days for serving.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::TrainError;
use super::inputs::TrainingData;
use crate::forecast::metrics::total_wape;
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
}

/// The quantile levels whose factors are published (0.01..=0.99).
fn levels() -> Vec<f64> {
    (1..=99).map(|p| f64::from(p) / 100.0).collect()
}

/// Seasonal naive: each SKU's last 7 training days repeated over the holdout.
fn naive_wape_total(train: &Panel, test: &Panel) -> f64 {
    let forecast: Vec<Vec<f64>> = train
        .values
        .iter()
        .map(|v| {
            let week = &v[v.len().saturating_sub(7)..];
            (0..test.days).map(|d| if week.is_empty() { 0.0 } else { week[d % week.len()] }).collect()
        })
        .collect();
    total_wape(&test.values, &forecast)
}

/// Fits, evaluates and forecasts. Returns the artifact with its metrics.
///
/// # Errors
/// When the history is too short for the holdout or the forecaster refuses it.
pub fn train(
    data: &TrainingData,
    params: &ForecastTraining,
) -> Result<(ForecastArtifact, Value), TrainError> {
    let panel = Panel::from_rows(&data.demand_rows()?);
    if panel.skus.is_empty() {
        return Err(TrainError::Data("no daily demand: ingest transactions first".into()));
    }
    let report = evaluate(&panel, params.holdout, &params.params)?;
    let (train_part, test_part) = panel.split(params.holdout)?;
    let naive = naive_wape_total(&train_part, &test_part);
    let model = params.params.fit(&panel)?;
    let forecasts = model.predict(params.publish_horizon, &levels())?;
    let m = &report.metrics;
    let metrics = json!({
        "holdout_days": params.holdout,
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
    Ok((ForecastArtifact { model, forecasts }, metrics))
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
        for (sku, fitted) in self.forecasts.skus.iter().zip(&self.model.skus) {
            let factor_of = |level: f64| self.model.quantiles.factor(fitted.class, sku.size, level);
            let body = ItemForecast {
                first_date,
                mean: sku.mean.iter().map(|&m| m as f32).collect(),
                quantile_factors: levels().into_iter().map(|l| (l as f32, factor_of(l) as f32)).collect(),
                class: fitted.class.as_str().to_owned(),
                methods: fitted.methods.iter().map(crate::forecast::Method::name).collect(),
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
