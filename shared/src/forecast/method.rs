//! The methods a series can be forecast with, as one serialisable enum of parameters
//! ([`Method`]) whose `fit` returns one serialisable enum of fitted models ([`Fitted`]).
//!
//! Every method works on the open-day series: `y[t]` are units on the t-th open day and
//! `slots[t]` its weekday slot (0..period). Seasonal methods key on slots, so a removed holiday
//! does not shift the weekly pattern.

use serde::{Deserialize, Serialize};

use super::adida::{Adida, AdidaModel};
use super::croston::{CrostonSba, CrostonSbaModel, Tsb, TsbModel};
use super::ets::{Ets, EtsModel};
use super::naive::{SeasonalNaive, SeasonalNaiveModel};
use super::window::{
    PooledWindowAverage, SeasonalWindowAverage, SeasonalWindowModel, WindowAverage, WindowAverageModel,
};

/// An open-day series: units and weekday slots, with the number of slots per week.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Units per open day, oldest first.
    pub y: &'a [f64],
    /// Weekday slot of each open day (0..period).
    pub slots: &'a [u8],
    /// Open days per week.
    pub period: usize,
    /// Units of the whole panel on the same open days (for methods that borrow the shop-wide
    /// momentum); `None` when fitting a lone series.
    pub panel: Option<&'a [f64]>,
}

impl<'a> Series<'a> {
    /// The first `n` open days.
    #[must_use]
    pub fn head(&self, n: usize) -> Series<'a> {
        Series {
            y: &self.y[..n],
            slots: &self.slots[..n],
            period: self.period,
            panel: self.panel.map(|p| &p[..n]),
        }
    }
}

/// A forecasting method with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// The last value of the same weekday.
    SeasonalNaive(SeasonalNaive),
    /// The mean of the last open days.
    WindowAverage(WindowAverage),
    /// The mean of the same weekday over the last weeks.
    SeasonalWindowAverage(SeasonalWindowAverage),
    /// A long window average scaled by the shop-wide recent/long ratio.
    PooledWindowAverage(PooledWindowAverage),
    /// Exponential smoothing (simple, damped trend, weekly seasonality).
    Ets(Ets),
    /// Croston with the Syntetos–Boylan correction.
    CrostonSba(CrostonSba),
    /// Teunter–Syntetos–Babai: demand probability and size smoothed apart.
    Tsb(Tsb),
    /// Temporal aggregation, SES, and disaggregation.
    Adida(Adida),
}

impl Method {
    /// Fits the method on a series (at least one observation).
    #[must_use]
    pub fn fit(&self, series: &Series) -> Fitted {
        match self {
            Self::SeasonalNaive(p) => Fitted::SeasonalNaive(p.fit(series)),
            Self::WindowAverage(p) => Fitted::WindowAverage(p.fit(series)),
            Self::SeasonalWindowAverage(p) => Fitted::SeasonalWindowAverage(p.fit(series)),
            Self::PooledWindowAverage(p) => Fitted::WindowAverage(p.fit(series)),
            Self::Ets(p) => Fitted::Ets(p.fit(series)),
            Self::CrostonSba(p) => Fitted::CrostonSba(p.fit(series)),
            Self::Tsb(p) => Fitted::Tsb(p.fit(series)),
            Self::Adida(p) => Fitted::Adida(p.fit(series)),
        }
    }

    /// Whether the method models the weekday pattern itself (otherwise its flat forecast is
    /// shaped by the series' weekday profile).
    #[must_use]
    pub fn is_seasonal(&self) -> bool {
        match self {
            Self::SeasonalNaive(_) | Self::SeasonalWindowAverage(_) => true,
            Self::Ets(p) => p.seasonal,
            _ => false,
        }
    }

    /// A short name for reports, e.g. `ets(A,Ad,A)` or `window_average(24)`.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::SeasonalNaive(_) => "seasonal_naive".into(),
            Self::WindowAverage(p) => format!("window_average({}w)", p.weeks),
            Self::SeasonalWindowAverage(p) => format!("seasonal_window_average({}w)", p.weeks),
            Self::PooledWindowAverage(p) => {
                format!("pooled_window_average({}w/{}w)", p.long_weeks, p.recent_weeks)
            }
            Self::Ets(p) => p.name(),
            Self::CrostonSba(_) => "croston_sba".into(),
            Self::Tsb(_) => "tsb".into(),
            Self::Adida(p) => {
                if p.weekly {
                    "adida(weekly)".into()
                } else {
                    "adida".into()
                }
            }
        }
    }
}

/// A fitted model of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fitted {
    /// See [`Method::SeasonalNaive`].
    SeasonalNaive(SeasonalNaiveModel),
    /// See [`Method::WindowAverage`].
    WindowAverage(WindowAverageModel),
    /// See [`Method::SeasonalWindowAverage`].
    SeasonalWindowAverage(SeasonalWindowModel),
    /// See [`Method::Ets`].
    Ets(EtsModel),
    /// See [`Method::CrostonSba`].
    CrostonSba(CrostonSbaModel),
    /// See [`Method::Tsb`].
    Tsb(TsbModel),
    /// See [`Method::Adida`].
    Adida(AdidaModel),
}

impl Fitted {
    /// Forecasts the next open days, given their weekday slots (one value per slot given).
    #[must_use]
    pub fn predict(&self, slots: &[u8]) -> Vec<f64> {
        match self {
            Self::SeasonalNaive(m) => m.predict(slots),
            Self::WindowAverage(m) => vec![m.level; slots.len()],
            Self::SeasonalWindowAverage(m) => m.predict(slots),
            Self::Ets(m) => m.predict(slots),
            Self::CrostonSba(m) => vec![m.forecast; slots.len()],
            Self::Tsb(m) => vec![m.forecast; slots.len()],
            Self::Adida(m) => vec![m.forecast; slots.len()],
        }
    }
}

/// Mean of a slice (0 when empty).
#[must_use]
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}
