//! The cross-SKU level model: one set of boosted trees ([`super::boost`]) learned across every
//! SKU of the panel and many past origins, predicting each SKU's demand over the next `window`
//! open days relative to its recent level. Each SKU's own ensemble is then moved towards it.
//!
//! Why: a SKU's own history says little about how the next month differs from its recent weeks
//! (its backtests hold a dozen windows). Across 500 SKUs and 60 origins there are 30,000 such
//! windows to learn from which recent patterns last: a rise carried by many selling days or by one
//! burst, a young SKU's climb, last December's sellers in the autumn. On the Online Retail top 500
//! it cuts the 28-day total WAPE from 35.1 % to 33.2 % at the last origin and by 2 points on
//! average over four origins.
//!
//! ## The rule
//! - Rows: every SKU that has sold before an origin, at origins every `origin_step` open days
//!   back from the last one whose next `window` days are known, as long as `min_history` open days
//!   precede them (fewer origins, then every k-th SKU, when the rows would pass `max_rows`).
//! - Target: units over the next `window` open days / (`window` x the SKU's base), weighted by the
//!   base, with a Huber loss; the base is the median of the SKU's mean daily units over the last
//!   1, 2, 4, 8 and 16 weeks of open days (plus 0.01, so a SKU without recent sales has one).
//! - Features ([`FEATURES`]): those five means over the base; the share of selling days over the
//!   last 4 and 16 weeks; the SKU's age; its units per open day in the last December that ended
//!   before the origin over its mean since the panel began (-1 without one); its largest day in the
//!   last 4 weeks over the base; the base itself (log); the shop's units over the last 2 weeks over
//!   the last 8.
//! - The SKU's own forecast total `own` becomes `(1 - blend) own + blend k model`, where `k`
//!   scales the model's totals so that they add up to the own totals: the SKUs' ensembles keep
//!   setting the shop's level (their bias over the backtests is small), the model moves demand
//!   between SKUs. Every forecast day of the SKU is scaled by the same factor.

use serde::{Deserialize, Serialize};

use super::boost::BoostParams;
use super::errors::ForecastError;

/// The features, in the order of a row.
pub const FEATURES: [&str; 12] = [
    "mean_1w",
    "mean_2w",
    "mean_4w",
    "mean_8w",
    "mean_16w",
    "selling_days_4w",
    "selling_days_16w",
    "age",
    "last_december",
    "max_day_4w",
    "base",
    "shop_trend",
];

/// Weeks of the five window means.
const WINDOW_WEEKS: [usize; 5] = [1, 2, 4, 8, 16];

/// Added to the base so that a SKU without recent sales has a positive one.
const BASE_FLOOR: f64 = 0.01;

/// How to fit the level model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelParams {
    /// Weight of the model's total against the SKU's own ensemble (default 0.5: on the Online
    /// Retail top 500, 33.2 % WAPE of the 28-day totals and MASE median 0.911; 0.75 gave 33.3 %
    /// and 0.924, 1 gave 34.0 % and 0.931).
    pub blend: f64,
    /// Open days between training origins (default 3).
    pub origin_step: usize,
    /// Training rows at most (default 120,000): more origins are skipped beyond it, and beyond
    /// one origin's worth, SKUs (every k-th is kept). Every SKU is still predicted.
    pub max_rows: usize,
    /// Open days of history before a training origin (default 100, and at least 16 weeks).
    pub min_history: usize,
    /// The trees.
    pub boost: BoostParams,
}

impl Default for LevelParams {
    fn default() -> Self {
        Self {
            blend: 0.5,
            origin_step: 3,
            max_rows: 120_000,
            min_history: 100,
            boost: BoostParams::default(),
        }
    }
}

impl LevelParams {
    /// Refuses parameters outside their documented ranges.
    pub fn check(&self) -> Result<(), ForecastError> {
        let invalid =
            |name, reason: &str| Err(ForecastError::InvalidParams { name, reason: reason.to_owned() });
        if !(0.0..=1.0).contains(&self.blend) {
            return invalid("level.blend", "must be in [0, 1]");
        }
        if self.origin_step == 0 {
            return invalid("level.origin_step", "must be at least 1");
        }
        if self.max_rows == 0 {
            return invalid("level.max_rows", "must be at least 1");
        }
        self.boost.check()
    }

    /// Each SKU's units over the next `window` open days as the model predicts them (`None` for
    /// a SKU that has not sold yet); empty when there is too little history to learn from, no
    /// window, or the model is blended at 0. It does not depend on the SKUs' own forecasts, so it can be
    /// fitted while they are.
    ///
    /// `series[s]`: SKU `s`'s units on every open day since the panel began; `december[t]`: open
    /// day `t` falls in December; `december_goes_on`: the first day after the history does too
    /// (else a December running at the history's end has ended: a history to 31 December reads
    /// that December, not the one before); `period`: open days per week; `window`: open days of
    /// the fit's horizon.
    #[must_use]
    pub fn predict_totals(
        &self,
        series: &[Vec<f64>],
        december: &[bool],
        december_goes_on: bool,
        period: usize,
        window: usize,
    ) -> Vec<Option<f64>> {
        let days = december.len();
        let min_history = self.min_history.max(16 * period);
        if window == 0 || days < min_history + window || self.blend == 0.0 {
            return Vec::new();
        }
        let started = std::time::Instant::now();
        let history = History::new(series, december, december_goes_on, period);
        let (rows, targets, weights) = self.training_set(&history, min_history, window);
        if rows.len() < 2 * self.boost.min_leaf_rows {
            return Vec::new();
        }
        let model = self.boost.fit(&rows, &targets, &weights);
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), rows = rows.len(), "level model fitted");
        (0..series.len())
            .map(|s| {
                history.row(s, days).map(|(row, base)| model.predict(&row).max(0.0) * base * window as f64)
            })
            .collect()
    }

    /// The factor for each SKU's forecast, from the model's totals `predicted` (of
    /// [`Self::predict_totals`]) and `own[s]`, SKU `s`'s own forecast over the same days: 1 where
    /// the model has nothing to say (no totals, or a SKU whose own total is 0).
    #[must_use]
    pub fn scales(&self, predicted: &[Option<f64>], own: &[f64]) -> Vec<f64> {
        let ones = vec![1.0; own.len()];
        debug_assert!(predicted.is_empty() || predicted.len() == own.len(), "a total per SKU");
        if predicted.len() != own.len() {
            return ones;
        }
        // Only SKUs that will be scaled: a SKU whose own total is 0 keeps it, so its model total
        // must not count towards `k`.
        let (own_sum, model_sum) = predicted
            .iter()
            .zip(own)
            .filter_map(|(p, &o)| p.filter(|_| o > 0.0).map(|p| (o, p)))
            .fold((0.0, 0.0), |(a, b), (o, p)| (a + o, b + p));
        if own_sum <= 0.0 || model_sum <= 0.0 {
            return ones;
        }
        let k = own_sum / model_sum;
        predicted
            .iter()
            .zip(own)
            .map(|(p, &o)| match p {
                Some(p) if o > 0.0 => ((1.0 - self.blend) * o + self.blend * k * p) / o,
                _ => 1.0,
            })
            .collect()
    }

    /// Rows, targets and weights at origins `min_history..=days - window`, every `origin_step`
    /// back from the last, and fewer (origins, then SKUs) to stay within `max_rows`.
    fn training_set(
        &self,
        history: &History<'_>,
        min_history: usize,
        window: usize,
    ) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
        let skus = history.series.len();
        let last_origin = history.shop.len() - 1 - window;
        let origins = last_origin - min_history + 1;
        // A catalogue larger than `max_rows` trains on every k-th SKU (and one origin).
        let sku_step = skus.div_ceil(self.max_rows).max(1);
        let per_origin = skus.div_ceil(sku_step);
        let step = self.origin_step.max(origins.div_ceil((self.max_rows / per_origin).max(1)));
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        let mut weights = Vec::new();
        for origin in (min_history..=last_origin).rev().step_by(step) {
            for s in (0..skus).step_by(sku_step) {
                let Some((row, base)) = history.row(s, origin) else { continue };
                targets.push(history.units(s, origin, origin + window) / (base * window as f64));
                weights.push(base);
                rows.push(row);
            }
        }
        (rows, targets, weights)
    }
}

/// Prefix sums of the panel for features in constant time.
struct History<'a> {
    series: &'a [Vec<f64>],
    period: usize,
    /// `units[s][t]`: units of SKU `s` before open day `t`.
    units: Vec<Vec<f64>>,
    /// Selling days of SKU `s` before open day `t`.
    selling: Vec<Vec<f64>>,
    /// The shop's units before open day `t`.
    shop: Vec<f64>,
    /// First selling day per SKU.
    first: Vec<Option<usize>>,
    /// For each open day `t`, the open days `[start, end)` of the last December that ended
    /// before `t`: inside a December (or at the end of a history that ends in one) the December
    /// before it, as every origin outside December sees it.
    december: Vec<Option<(usize, usize)>>,
}

/// Running sums: entry `t` is the sum of the values before `t`.
fn prefix(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut out = vec![0.0];
    let mut sum = 0.0;
    for v in values {
        sum += v;
        out.push(sum);
    }
    out
}

/// Mean per open day over the `days` before `origin` (fewer at the start), from running sums.
fn trailing_mean(sums: &[f64], origin: usize, days: usize) -> f64 {
    let from = origin.saturating_sub(days);
    (sums[origin] - sums[from]) / (origin - from).max(1) as f64
}

impl<'a> History<'a> {
    fn new(series: &'a [Vec<f64>], december: &[bool], december_goes_on: bool, period: usize) -> Self {
        let days = december.len();
        let shop = prefix((0..days).map(|t| series.iter().map(|y| y[t]).sum::<f64>()));
        let mut runs = vec![None; days + 1];
        let mut ended: Option<(usize, usize)> = None;
        // The run of December days ending at `t`, if day `t - 1` was one.
        let mut running: Option<(usize, usize)> = None;
        for t in 0..=days {
            let still_december = if t == days { december_goes_on } else { december[t] };
            runs[t] = match running {
                Some(run) if !still_december => Some(run),
                _ => ended,
            };
            if t == days {
                break;
            }
            if december[t] {
                running = Some(running.map_or((t, t + 1), |(start, _)| (start, t + 1)));
            } else if let Some(run) = running.take() {
                ended = Some(run);
            }
        }
        Self {
            series,
            period,
            units: series.iter().map(|y| prefix(y.iter().copied())).collect(),
            selling: series.iter().map(|y| prefix(y.iter().map(|&v| f64::from(u8::from(v > 0.0))))).collect(),
            shop,
            first: series.iter().map(|y| y.iter().position(|&v| v > 0.0)).collect(),
            december: runs,
        }
    }

    fn units(&self, s: usize, from: usize, to: usize) -> f64 {
        self.units[s][to] - self.units[s][from]
    }

    /// The features of SKU `s` at `origin` (open days before it are known) and its base; `None`
    /// when it has not sold before the origin.
    fn row(&self, s: usize, origin: usize) -> Option<(Vec<f64>, f64)> {
        let first = self.first[s].filter(|&f| f < origin)?;
        let means: Vec<f64> =
            WINDOW_WEEKS.iter().map(|w| trailing_mean(&self.units[s], origin, w * self.period)).collect();
        let base = super::metrics::median(&means) + BASE_FLOOR;
        let four_weeks = 4 * self.period;
        let since_start = self.units(s, 0, origin) / origin as f64;
        let last_december = self.december[origin].map_or(-1.0, |(start, end)| {
            self.units(s, start, end) / (end - start) as f64 / (since_start + BASE_FLOOR)
        });
        let max_day =
            self.series[s][origin.saturating_sub(four_weeks)..origin].iter().copied().fold(0.0, f64::max);
        let long = trailing_mean(&self.shop, origin, 8 * self.period);
        let mut row: Vec<f64> = means.iter().map(|m| m / base).collect();
        row.extend([
            trailing_mean(&self.selling[s], origin, four_weeks),
            trailing_mean(&self.selling[s], origin, 16 * self.period),
            ((origin - first) as f64).ln_1p(),
            last_december,
            max_day / base,
            base.ln_1p(),
            if long > 0.0 { trailing_mean(&self.shop, origin, 2 * self.period) / long } else { 1.0 },
        ]);
        Some((row, base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Odd SKUs grow by 1 % a day (from 1 to about 7 units), even ones sell 7 to 9 a day: the
    /// model must learn from the past windows that a rise holds.
    fn rising_and_flat(days: usize, skus: usize) -> Vec<Vec<f64>> {
        (0..skus)
            .map(|s| {
                (0..days)
                    .map(|t| if s % 2 == 1 { 1.01f64.powi(t as i32) } else { 7.0 + (s % 3) as f64 })
                    .collect()
            })
            .collect()
    }

    fn params() -> LevelParams {
        LevelParams {
            blend: 1.0,
            min_history: 60,
            boost: BoostParams {
                min_leaf_rows: 20,
                rounds: 100,
                learning_rate: 0.1,
                ..BoostParams::default()
            },
            ..LevelParams::default()
        }
    }

    #[test]
    fn rising_skus_are_lifted_and_flat_ones_lowered_with_the_total_kept() {
        let series = rising_and_flat(200, 40);
        let december = vec![false; 200];
        // Own forecasts: every SKU's last week, flat.
        let own: Vec<f64> = series.iter().map(|y| y[194..].iter().sum::<f64>() / 6.0 * 24.0).collect();
        let scales = params().scales(&params().predict_totals(&series, &december, false, 6, 24), &own);
        type Scales = Vec<(usize, f64)>;
        let (flat, rising): (Scales, Scales) =
            scales.iter().copied().enumerate().partition(|(s, _)| s % 2 == 0);
        for &(s, scale) in &flat {
            assert!(scale < 1.0, "flat SKU {s}: {scale}");
        }
        let lowest_rising = rising.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        let highest_flat = flat.iter().map(|f| f.1).fold(0.0, f64::max);
        // A month ahead a 1 %-a-day rise is ~16 % above the last week's rate.
        assert!(lowest_rising > 1.05 * highest_flat, "{rising:?} vs {flat:?}");
        let before: f64 = own.iter().sum();
        let after: f64 = own.iter().zip(&scales).map(|(o, k)| o * k).sum();
        assert!((after / before - 1.0).abs() < 1e-9, "{before} -> {after}");
    }

    #[test]
    fn too_short_a_history_or_no_blend_leaves_every_forecast_alone() {
        // 96 open days of history (16 weeks of 6) and a 24-day window need 120 days: one short.
        let own = vec![100.0; 40];
        let short = rising_and_flat(119, 40);
        assert!(params().predict_totals(&short, &[false; 119], false, 6, 24).is_empty());
        let enough = rising_and_flat(120, 40);
        let predicted = params().predict_totals(&enough, &[false; 120], false, 6, 24);
        assert_ne!(params().scales(&predicted, &own), vec![1.0; 40]);
        let long = rising_and_flat(200, 40);
        let off = LevelParams { blend: 0.0, ..params() };
        assert!(off.predict_totals(&long, &[false; 200], false, 6, 24).is_empty());
        assert_eq!(off.scales(&[], &own), vec![1.0; 40]);
    }

    #[test]
    fn a_sku_without_sales_or_without_an_own_forecast_keeps_factor_one() {
        let mut series = rising_and_flat(200, 40);
        series[0] = vec![0.0; 200];
        let mut own: Vec<f64> = series.iter().map(|y| y[194..].iter().sum::<f64>() * 4.0).collect();
        own[3] = 0.0;
        let scales = params().scales(&params().predict_totals(&series, &[false; 200], false, 6, 24), &own);
        assert_eq!(scales[0], 1.0);
        assert_eq!(scales[3], 1.0);
        // The others' scaled totals still add up to their own.
        let before: f64 = own.iter().sum();
        let after: f64 = own.iter().zip(&scales).map(|(o, k)| o * k).sum();
        assert!((after / before - 1.0).abs() < 1e-9, "{before} -> {after}");
    }

    #[test]
    fn the_last_december_is_its_run_of_days_and_missing_before_any() {
        let series = vec![vec![1.0; 10], vec![0.0, 0.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]];
        let december = [false, false, true, true, false, false, false, false, false, false];
        let history = History::new(&series, &december, false, 1);
        assert_eq!(history.december[2], None);
        // Inside the December: none has ended yet.
        assert_eq!(history.december[3], None);
        assert_eq!(history.december[4], Some((2, 4)));
        assert_eq!(history.december[9], Some((2, 4)));
        let (row, _) = history.row(1, 9).unwrap();
        // 4 units a day in December against 8 / 9 a day since the start.
        let expected = 4.0 / (8.0 / 9.0 + BASE_FLOOR);
        assert!((row[8] - expected).abs() < 1e-12, "{}", row[8]);
        let (row, _) = history.row(0, 2).unwrap();
        assert_eq!(row[8], -1.0);
        assert_eq!(history.row(1, 2), None);
        assert_eq!(row.len(), FEATURES.len());
    }

    #[test]
    fn the_training_rows_stay_under_their_cap() {
        let series = rising_and_flat(200, 40);
        let history = History::new(&series, &[false; 200], false, 6);
        // Origins 96..=176 every 3 back: 27 origins of 40 SKUs.
        let rows = |max_rows| LevelParams { max_rows, ..params() }.training_set(&history, 96, 24).0.len();
        assert_eq!(rows(120_000), 27 * 40);
        // 100 rows: two origins of every SKU.
        assert_eq!(rows(100), 80);
        // 60 rows: one origin; 30 rows: one origin of every other SKU.
        assert_eq!(rows(60), 40);
        assert_eq!(rows(30), 20);
    }

    #[test]
    fn an_origin_inside_a_december_reads_the_one_before() {
        // Open days 0-1 and 5-7 are in December; the history ends inside the second.
        let series = vec![vec![1.0; 8]];
        let december = [true, true, false, false, false, true, true, true];
        let history = History::new(&series, &december, true, 1);
        assert_eq!(history.december[5], Some((0, 2)));
        assert_eq!(history.december[7], Some((0, 2)));
        assert_eq!(history.december[8], Some((0, 2)), "the forecast origin, at the end");
        // The history ends on 31 December: the December it ends in is over by the forecast.
        let history = History::new(&series, &december, false, 1);
        assert_eq!(history.december[7], Some((0, 2)), "a training origin inside it");
        assert_eq!(history.december[8], Some((5, 8)), "the forecast origin reads the one just ended");
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let err = LevelParams { blend: 1.5, ..LevelParams::default() }.check().unwrap_err();
        assert!(err.to_string().contains("level.blend"), "{err}");
        let err = LevelParams { origin_step: 0, ..LevelParams::default() }.check().unwrap_err();
        assert!(err.to_string().contains("level.origin_step"), "{err}");
        assert!(LevelParams::default().check().is_ok());
    }
}
