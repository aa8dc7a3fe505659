//! Choosing each series' ensemble from a rolling-origin backtest on its own history.
//!
//! Origins sit `h, 2h, ..., r*h` open days before the end (h = open days in the horizon, r =
//! [`ForecasterParams::origins`]); an origin keeps at least two weeks of training. Each method
//! is refitted at each origin and scored by `sum |e| + total_weight * sum_origins |sum e|` over
//! the h days after it: the daily absolute error (what MASE and daily WAPE reward) plus the
//! error of the horizon total (what ordering and the 28-day WAPE reward).
//!
//! Two rules ([`super::model::Selection`]):
//! - pooled by class (default): greedy ensemble selection with replacement (Caruana et al.
//!   2004) over the backtests of every series of a Syntetos–Boylan class, 20 rounds, so weights
//!   are multiples of 1/20; a class with fewer than 30 series uses the weights pooled over all.
//!   One series' few dozen backtest points are too noisy to choose from; a class's thousands
//!   are not.
//! - per series: the series' own `ensemble_size` best scores, equal weights.
//!
//! A series too short for any origin uses the first `ensemble_size` methods of the list.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classify::DemandClass;
use super::method::{Fitted, Method, Series};
use super::model::ForecasterParams;
use super::quantiles::{TOTAL_SPANS, idle_days};
use super::window::WindowAverage;

/// Backtest figures of the chosen ensemble on one series (open days, all origins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// Origins used.
    pub origins: usize,
    /// Points forecast (origins x steps).
    pub points: usize,
    /// Mean absolute error per open day.
    pub mae: f64,
    /// `sum (f - y)` over `sum y` (`None` without demand in the backtest).
    pub bias: Option<f64>,
    /// `sum |e|` over `sum y` (`None` without demand in the backtest).
    pub wape: Option<f64>,
    /// `sum y` over the backtest points.
    pub demand: f64,
    /// `sum f` over the backtest points.
    pub forecast: f64,
}

/// The choice for one series, before the final fit.
pub(crate) struct Choice {
    pub methods: Vec<Method>,
    pub weights: Vec<f64>,
    pub fitted: Vec<Fitted>,
    pub backtest: Backtest,
    /// `(mean f of the window, y / f)` at every backtest point with `f > 0` (quantile
    /// samples, grouped by the first).
    pub ratios: Vec<(f64, f64)>,
    /// `(n, sum f, sum y / sum f)` over the first `n` open days of every backtest window, for
    /// `n` in [`super::quantiles::TOTAL_SPANS`] within the window and `sum f > 0` (total
    /// quantile samples).
    pub total_ratios: Vec<(usize, f64, f64)>,
    /// `(open days since the last sale, n, sum y)` over the first `n` open days of every
    /// backtest window after a sale, for the same `n`, where `sum f` is 0 (samples of
    /// [`super::quantiles::ZeroGroup`]).
    pub zero_totals: Vec<(usize, usize, f64)>,
    pub class: DemandClass,
}

/// Applies the weekday profile to a flat method's forecast and clips at 0.
pub(crate) fn shape(method: &Method, forecast: &mut [f64], slots: &[u8], profile: &[f64]) {
    let seasonal = method.is_seasonal();
    for (f, &slot) in forecast.iter_mut().zip(slots) {
        if !seasonal {
            *f *= profile[usize::from(slot)];
        }
        *f = f.max(0.0);
    }
}

/// Backtests every method on `series`, keeps the best, fits them on all of it.
/// Every candidate's backtest forecasts on one series.
pub(crate) struct Backtests {
    /// Origins (open-day indices), latest first.
    pub origins: Vec<usize>,
    /// `forecasts[method][origin][t]`.
    pub forecasts: Vec<Vec<Vec<f64>>>,
    /// `actual[origin][t]`.
    pub actual: Vec<Vec<f64>>,
    /// Each method's score: `sum |e| + total_weight * sum_origins |sum e|`.
    pub scores: Vec<f64>,
    /// `longer[origin]`: `(n, sum y)` over the first `n` open days after the origin, for each
    /// `n` of [`TOTAL_SPANS`] beyond the backtest's horizon that the history still holds.
    pub longer: Vec<Vec<(usize, f64)>>,
    /// `longer_forecasts[method][origin][i]`: the method's forecast summed over the span of
    /// `longer[origin][i]` (the same fit, predicted further).
    pub longer_forecasts: Vec<Vec<Vec<f64>>>,
}

impl Backtests {
    /// No backtest (a series not backtested), for `methods` candidates.
    pub(crate) fn none(methods: usize) -> Self {
        Self {
            origins: Vec::new(),
            forecasts: vec![Vec::new(); methods],
            actual: Vec::new(),
            scores: vec![0.0; methods],
            longer: Vec::new(),
            longer_forecasts: vec![Vec::new(); methods],
        }
    }
}

/// Backtests every candidate method on `series`. `excess`: the capped outlier excess per open
/// day, whose mean before each origin is added to every forecast there
/// (see `ForecasterParams::spike_rate`).
pub(crate) fn backtest_all(
    params: &ForecasterParams,
    series: &Series,
    steps: usize,
    profile: &[f64],
    excess: Option<&[f64]>,
) -> Backtests {
    let n = series.y.len();
    let min_train = 2 * series.period;
    let steps = steps.max(1);
    let origins: Vec<usize> =
        (1..=params.origins).filter_map(|j| n.checked_sub(j * steps)).filter(|&o| o >= min_train).collect();
    let actual: Vec<Vec<f64>> = origins.iter().map(|&o| series.y[o..(o + steps).min(n)].to_vec()).collect();
    // Spans beyond the horizon, for the total quantiles of longer totals (a 90-day forecast read
    // from a 28-day fit): the same forecasts run on, where the history holds the actual totals.
    let longer: Vec<Vec<(usize, f64)>> = origins
        .iter()
        .map(|&o| {
            TOTAL_SPANS
                .iter()
                .filter(|&&span| span > steps && o + span <= n)
                .map(|&span| (span, series.y[o..o + span].iter().sum()))
                .collect()
        })
        .collect();
    let mut forecasts: Vec<Vec<Vec<f64>>> = Vec::with_capacity(params.methods.len());
    let mut longer_forecasts: Vec<Vec<Vec<f64>>> = Vec::with_capacity(params.methods.len());
    let mut scores: Vec<f64> = Vec::with_capacity(params.methods.len());
    for method in &params.methods {
        let mut per_origin = Vec::with_capacity(origins.len());
        let mut longer_per_origin = Vec::with_capacity(origins.len());
        let mut score = 0.0;
        for ((&origin, actual), longer) in origins.iter().zip(&actual).zip(&longer) {
            let reach = longer.last().map_or(actual.len(), |&(span, _)| span);
            let slots = &series.slots[origin..origin + reach];
            let mut f = method.fit(&series.head(origin)).predict(slots);
            shape(method, &mut f, slots, profile);
            if let Some(excess) = excess {
                let rate = super::method::mean(&excess[..origin]);
                f.iter_mut().for_each(|v| *v += rate);
            }
            longer_per_origin.push(longer.iter().map(|&(span, _)| f[..span].iter().sum()).collect());
            f.truncate(actual.len());
            score += loss(actual, &f, params.total_weight);
            per_origin.push(f);
        }
        forecasts.push(per_origin);
        longer_forecasts.push(longer_per_origin);
        scores.push(score);
    }
    Backtests { origins, forecasts, actual, scores, longer, longer_forecasts }
}

/// `sum |f - y| + total_weight * |sum (f - y)|`.
fn loss(actual: &[f64], forecast: &[f64], total_weight: f64) -> f64 {
    let total: f64 = actual.iter().zip(forecast).map(|(y, f)| f - y).sum();
    actual.iter().zip(forecast).map(|(y, f)| (f - y).abs()).sum::<f64>() + total_weight * total.abs()
}

/// The series' own choice: the `ensemble_size` best scores, equal weights.
pub(crate) fn own_choice(params: &ForecasterParams, backtests: &Backtests) -> Vec<(usize, f64)> {
    let mut order: Vec<usize> = (0..params.methods.len()).collect();
    if !backtests.origins.is_empty() {
        order.sort_by(|&a, &b| backtests.scores[a].total_cmp(&backtests.scores[b]));
    }
    order.truncate(params.ensemble_size.min(order.len()));
    let weight = 1.0 / order.len() as f64;
    order.into_iter().map(|m| (m, weight)).collect()
}

/// Greedy ensemble selection (Caruana et al. 2004) pooled over many series: `rounds` times, add
/// (with replacement) the method whose inclusion most lowers the summed backtest loss of the
/// running average; weights are the counts over `rounds`.
pub(crate) fn pooled_choice(
    params: &ForecasterParams,
    all: &[&Backtests],
    rounds: usize,
) -> Vec<(usize, f64)> {
    let methods = params.methods.len();
    let mut counts = vec![0usize; methods];
    // Every backtest window of every series laid end to end: `windows[w]` is the range of
    // window `w` in `actual`, in each method's `forecasts[m]` and in `sums`.
    let mut windows = Vec::new();
    let mut actual = Vec::new();
    for b in all {
        for a in &b.actual {
            windows.push(actual.len()..actual.len() + a.len());
            actual.extend_from_slice(a);
        }
    }
    let forecasts: Vec<Vec<f64>> = (0..methods)
        .into_par_iter()
        .map(|m| all.iter().flat_map(|b| b.forecasts[m].iter().flatten().copied()).collect())
        .collect();
    // Each method's forecast of a window is as long as the window (`backtest_all`).
    debug_assert!(forecasts.iter().all(|f| f.len() == actual.len()));
    debug_assert!(all.iter().all(|b| {
        b.forecasts.iter().all(|per_origin| per_origin.iter().map(Vec::len).eq(b.actual.iter().map(Vec::len)))
    }));
    // Running sums of the chosen forecasts.
    let mut sums = vec![0.0; actual.len()];
    for round in 1..=rounds {
        let k = round as f64;
        let best = forecasts
            .par_iter()
            .enumerate()
            .map(|(m, forecast)| {
                let mut total = 0.0;
                for window in &windows {
                    let (mut abs, mut signed) = (0.0, 0.0);
                    let points = actual[window.clone()].iter().zip(&sums[window.clone()]);
                    for ((y, s), f) in points.zip(&forecast[window.clone()]) {
                        let e = (s + f) / k - y;
                        abs += e.abs();
                        signed += e;
                    }
                    total += abs + params.total_weight * signed.abs();
                }
                (m, total)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(m, _)| m);
        counts[best] += 1;
        sums.iter_mut().zip(&forecasts[best]).for_each(|(s, f)| *s += f);
    }
    counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(m, &c)| (m, c as f64 / rounds as f64)).collect()
}

/// The choice for a series too young and with too few sales to choose methods by: its mean per
/// open day over the whole series (flat, shaped by the weekday profile), without backtests.
pub(crate) fn whole_mean(series: &Series) -> Choice {
    let method =
        Method::WindowAverage(WindowAverage { weeks: series.y.len().div_ceil(series.period.max(1)) });
    Choice {
        methods: vec![method],
        weights: vec![1.0],
        fitted: vec![method.fit(series)],
        backtest: Backtest::default(),
        ratios: Vec::new(),
        total_ratios: Vec::new(),
        zero_totals: Vec::new(),
        class: DemandClass::of(series.y),
    }
}

/// Fits the chosen methods on the whole series and scores their combination on the backtest.
pub(crate) fn finish(
    params: &ForecasterParams,
    series: &Series,
    backtests: &Backtests,
    chosen: &[(usize, f64)],
) -> Choice {
    let class = DemandClass::of(series.y);
    let mut backtest = Backtest { origins: backtests.origins.len(), ..Backtest::default() };
    let mut ratios = Vec::new();
    let mut total_ratios = Vec::new();
    let mut zero_totals = Vec::new();
    let (mut abs, mut signed, mut demand) = (0.0, 0.0, 0.0);
    let idle: Vec<Option<usize>> = backtests.origins.iter().map(|&o| idle_days(&series.y[..o])).collect();
    for (k, actual) in backtests.actual.iter().enumerate() {
        let forecast: Vec<f64> = (0..actual.len())
            .map(|t| chosen.iter().map(|&(m, w)| w * backtests.forecasts[m][k][t]).sum())
            .collect();
        let size = forecast.iter().sum::<f64>() / forecast.len().max(1) as f64;
        let (mut sum_y, mut sum_f) = (0.0, 0.0);
        for (t, (&y, &f)) in actual.iter().zip(&forecast).enumerate() {
            sum_y += y;
            sum_f += f;
            if TOTAL_SPANS.contains(&(t + 1)) {
                if sum_f > ZERO_FORECAST {
                    total_ratios.push((t + 1, sum_f, sum_y / sum_f));
                } else if let Some(idle) = idle[k] {
                    zero_totals.push((idle, t + 1, sum_y));
                }
            }
            abs += (f - y).abs();
            signed += f - y;
            demand += y;
            backtest.forecast += f;
            backtest.points += 1;
            if f > 1e-9 {
                ratios.push((size, y / f));
            }
        }
    }
    for (k, longer) in backtests.longer.iter().enumerate() {
        for (i, &(span, sum_y)) in longer.iter().enumerate() {
            let sum_f: f64 = chosen.iter().map(|&(m, w)| w * backtests.longer_forecasts[m][k][i]).sum();
            if sum_f > ZERO_FORECAST {
                total_ratios.push((span, sum_f, sum_y / sum_f));
            } else if let Some(idle) = idle[k] {
                zero_totals.push((idle, span, sum_y));
            }
        }
    }
    backtest.demand = demand;
    if backtest.points > 0 {
        backtest.mae = abs / backtest.points as f64;
        if demand > 0.0 {
            backtest.bias = Some(signed / demand);
            backtest.wape = Some(abs / demand);
        }
    }
    let methods: Vec<Method> = chosen.iter().map(|&(m, _)| params.methods[m]).collect();
    let weights = chosen.iter().map(|&(_, w)| w).collect();
    let fitted = methods.iter().map(|m| m.fit(series)).collect();
    Choice { methods, weights, fitted, backtest, ratios, total_ratios, zero_totals, class }
}

/// A window total at or below this is a forecast of 0: no ratio to it says anything.
const ZERO_FORECAST: f64 = 1e-9;
