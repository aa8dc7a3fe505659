//! Daily demand forecasts per SKU on the shop's trading calendar.
//!
//! ## Layout
//! - [`panel`]: the demand history (`sku,date,quantity` CSV, or built from raw transactions).
//! - [`calendar`]: open days, weekly closures and weekday slots inferred from the history.
//! - [`method`]: the candidate methods as one enum; one file per family: [`naive`],
//!   [`window`], [`ets`], [`croston`], [`adida`]; [`optim`] holds their minimisers.
//! - [`classify`]: Syntetos–Boylan demand classes.
//! - [`select`]: the rolling-origin backtest and the per-series ensemble.
//! - [`level`]: the cross-SKU level model, on [`boost`]'s gradient-boosted trees.
//! - [`model`]: [`ForecasterParams`] -> `fit` -> [`ForecastModel`] -> `predict`.
//! - [`yearly`]: last year's same weeks, once the history holds them.
//! - [`quantiles`]: prediction quantiles from pooled backtest errors.
//! - [`metrics`], [`eval`]: the accuracy metrics and the holdout evaluation.
//!
//! ## The calendar
//! A day on which every SKU is 0 or absent is closed. A weekday closed on >= 90 % of its
//! occurrences is a weekly closure: forecast 0 and absent from the training series. Other closed
//! days (holidays) are dropped from training. The training series of a SKU is its sequence of
//! open days from its first sale (for a SKU with fewer selling days than a week has open days,
//! from `min_exposure_weeks` before the end if that is earlier); seasonal methods key on the
//! weekday slot of each open day, so the period is the number of open weekdays (6 for a shop
//! closed on Saturdays).
//!
//! ## The selection rule
//! Training values above 30 times the SKU's median non-zero day are capped, and the capped
//! excess is added back as its long-run rate per open day. Each SKU is classified (smooth / erratic / intermittent / lumpy) and every candidate of
//! [`model::default_methods`] is backtested on the SKU's own history at 10 rolling origins
//! spaced one horizon apart, refitting at each origin. A forecast scores the sum of its daily
//! absolute errors plus the absolute error of each origin's horizon total. Per demand class,
//! greedy ensemble selection over the backtests of all the class's SKUs picks weights (multiples
//! of 1/20) for a weighted mean of methods; each SKU then fits those methods on its own history
//! (its own levels, the class's recipe). [`model::Selection::PerSeries`] instead averages the
//! SKU's own 3 best methods. Flat methods (window averages, SES, Holt, Croston, TSB, ADIDA) are
//! shaped by the SKU's weekday profile, shrunk towards the panel's profile.
//!
//! ## The level model
//! After the ensembles, one model learned across every SKU and many past origins predicts each
//! SKU's units over the horizon's open days relative to its recent level; each SKU's forecast is
//! scaled half way to it, the model's totals first scaled to the ensembles' sum, so the shop's
//! level stays the ensembles' and demand moves between SKUs ([`level`]).
//!
//! ## Last year
//! With a year and half a year of history, the forecaster is fitted again a year back, and each
//! forecast week is corrected by how that forecast fared over the same week, shrunk towards the
//! shop's correction ([`yearly`]).
//!
//! ## Quantiles
//! Empirical quantiles of actual / forecast over the chosen ensemble's backtest points, pooled
//! over all SKUs in groups by the size of the SKU's forecast, times the point forecast; within
//! a group the levels between p10 and p90 are stretched so that the band covers 80 % of the
//! group's backtest points, and the tails run on to the extremes ([`quantiles`]). Totals over several days
//! read their own table: quantiles of `sum y / sum f` over the first `n` open days of each
//! backtest window, by `n` and by the size of the forecast total
//! ([`quantiles::TotalTable`]).

pub mod adida;
pub mod boost;
pub mod calendar;
pub mod classify;
pub mod croston;
pub mod errors;
pub mod ets;
pub mod eval;
pub mod fade;
pub mod level;
pub mod method;
pub mod metrics;
pub mod model;
pub mod naive;
pub mod optim;
pub mod panel;
pub mod quantiles;
pub mod select;
pub mod window;
pub mod yearly;

pub use calendar::TradingCalendar;
pub use classify::DemandClass;
pub use errors::ForecastError;
pub use eval::{EvalMetrics, EvalReport, evaluate};
pub use method::Method;
pub use model::{BucketTotal, ForecastModel, ForecasterParams, Forecasts, SkuForecast, SkuModel, WEEK_DAYS};
pub use panel::Panel;
pub use quantiles::{
    BOUND_TIMES, TOTAL_LEVELS, TOTAL_SPANS, bound_total, cap_days_by_week, idle_days, largest_totals,
    level_name, running_total_quantile,
};
