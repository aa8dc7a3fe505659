//! Prediction quantiles from backtest errors: empirical quantiles of `y / f` (actual over point
//! forecast) at every backtest point with `f > 0`, pooled over every series in groups by the
//! size of the series' forecast ([`QuantileTable`]). A quantile at level `q` is then
//! `f * Q_size(q)`: a multiplicative error model, so a series' band scales with its level, and
//! pooling gives each group thousands of samples where one series has a few dozen. Grouping by
//! size, not demand class: a SKU forecast at 0.05 units a day sells nothing on 97 % of days and
//! one forecast at 50 on few, so one band per class (almost every Online Retail SKU is lumpy)
//! covered 97 % of the slowest fifth's days and 65 % of the fastest fifths'.
//!
//! The total over several days needs its own table: forecast errors persist (a forecast too low
//! stays too low for weeks), so a total's spread is far wider than the daily bands summed as if
//! days were independent (on the Online Retail top 500 such a p10-p90 of the 28-day total covered
//! 21-30 % of the actual totals). [`TotalTable`] holds empirical quantiles of
//! `sum y / sum f` over the first `n` open days of every backtest origin, for a ladder of `n`
//! ([`TOTAL_SPANS`]), pooled over every series in groups by the forecast's size (a slow
//! seller's total spreads far wider than a fast one's); a total's quantile is its point forecast
//! times the factor at its number of open days and its size. Above p95 a total's factor follows
//! a power law through the group's p90 and p95 ([`TAIL_SHARE`]) rather than the few largest
//! windows, which swing from one refit to the next.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::classify::DemandClass;
use super::metrics::quantile_sorted;
use super::model::WEEK_DAYS;

/// Daily quantile factors: per group of series by forecast size, the empirical quantiles of
/// `y / f` and the stretch of levels that calibrates their p10-p90 interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileTable {
    /// Models fitted before size groups existed: 101 percentiles per demand class with enough
    /// samples, and the class's level stretch (read only when `by_size` is empty).
    #[serde(default)]
    pub by_class: BTreeMap<DemandClass, (Vec<f64>, f64)>,
    /// Models fitted before size groups existed: 101 percentiles of every sample, and its level
    /// stretch (for a class without its own table). All ones in newer models, whose every
    /// sample is in a size group.
    pub all: (Vec<f64>, f64),
    /// Equal-count groups of the samples by their series' mean daily forecast in the window,
    /// ascending (empty in models fitted before them).
    #[serde(default)]
    pub by_size: Vec<VolumeGroup>,
}

/// The level of the empirical distribution that quantile `level` reads under `stretch`:
/// `0.5 + s (level - 0.5)` from p10 to p90, so the stretch narrows (or widens) the p10-p90
/// interval as a pair, where zeros inflate it. Beyond, piecewise linear from the band's end to
/// the extreme (`(0, 0)`, `(1, 1)`), but never nearer the median than `level` itself: a service
/// level above p90 reads at least its own percentile of the backtest ratios. Stretching every
/// level about the median made p99 read the 87th percentile and hold 86-90 % of the Online
/// Retail holdout days; the line alone, with the band narrowed to nothing (a slow seller's
/// zeros), read p95 at the 75th percentile and p99 at the 95th, which for a SKU selling on 3 %
/// of days is 0.
#[must_use]
pub fn stretched_level(level: f64, stretch: f64) -> f64 {
    let level = level.clamp(0.0, 1.0);
    let (low, high) = (0.5 - 0.4 * stretch, 0.5 + 0.4 * stretch);
    if level < 0.1 {
        (level / 0.1 * low).min(level)
    } else if level > 0.9 {
        (high + (level - 0.9) / 0.1 * (1.0 - high)).max(level)
    } else {
        0.5 + stretch * (level - 0.5)
    }
}

/// The stretch `s` of levels ([`stretched_level`]) at which the p10-p90 interval covers
/// `target` of the samples (bisection; 1 when no target). With many zero actuals p10 is 0 and
/// covers every zero, so the raw interval covers more than 80 %: the stretch narrows it.
fn stretch(sorted: &[f64], grid: &[f64], target: Option<f64>) -> f64 {
    let Some(target) = target else { return 1.0 };
    if sorted.is_empty() {
        return 1.0;
    }
    let covered = |s: f64| {
        let lo = quantile_sorted(grid, 0.5 - 0.4 * s);
        let hi = quantile_sorted(grid, 0.5 + 0.4 * s);
        sorted.iter().filter(|&&z| lo <= z && z <= hi).count() as f64 / sorted.len() as f64
    };
    let (mut a, mut b) = (0.0, 1.25);
    for _ in 0..30 {
        let m = f64::midpoint(a, b);
        if covered(m) < target { a = m } else { b = m }
    }
    b
}

fn percentiles(mut samples: Vec<f64>, target: Option<f64>) -> (Vec<f64>, f64) {
    samples.sort_by(f64::total_cmp);
    if samples.is_empty() {
        return (vec![1.0; 101], 1.0);
    }
    let grid: Vec<f64> = (0..=100).map(|p| quantile_sorted(&samples, f64::from(p) / 100.0)).collect();
    let s = stretch(&samples, &grid, target);
    (grid, s)
}

impl QuantileTable {
    /// Builds the table from every series' `(mean daily forecast of the window, y / f)`
    /// samples, calibrating each size group's p10-p90 to `interval_coverage` of its samples.
    #[must_use]
    pub fn from_samples(samples: &[&[(f64, f64)]], interval_coverage: Option<f64>) -> Self {
        let pooled: Vec<(f64, f64)> = samples.iter().flat_map(|s| s.iter().copied()).collect();
        // With any sample there is a size group, and `all` is never read: left at ones.
        Self {
            by_class: BTreeMap::new(),
            all: percentiles(Vec::new(), None),
            by_size: volume_groups(pooled, interval_coverage, false),
        }
    }

    /// The multiplier of the point forecast at `level` for a series of `class` whose mean daily
    /// forecast over open days is `size`.
    #[must_use]
    pub fn factor(&self, class: DemandClass, size: f64, level: f64) -> f64 {
        if !self.by_size.is_empty() {
            return volume_factor(&self.by_size, size, level);
        }
        let (grid, stretch) = self.by_class.get(&class).unwrap_or(&self.all);
        quantile_sorted(grid, stretched_level(level, *stretch))
    }
}

/// Open-day spans at which [`TotalTable`] keeps percentiles (those within the backtest's
/// horizon are filled, and beyond it those the history holds after an origin, the backtest's
/// forecasts run on; a longer total reads the longest span filled).
pub const TOTAL_SPANS: [usize; 12] = [1, 2, 3, 5, 7, 10, 14, 18, 24, 36, 48, 77];

/// The name of quantile `level` in columns and JSON keys: `p10` for 0.1, `p97.5` for 0.975, to
/// at most four decimals of a percent (0.285 is `p28.5`, not the float's `p28.499999999999996`).
#[must_use]
pub fn level_name(level: f64) -> String {
    let percent = format!("{:.4}", level * 100.0);
    format!("p{}", percent.trim_end_matches('0').trim_end_matches('.'))
}

/// Open days since the last day of `y` that sold (0 when that is its last day), `None` when no
/// day did: how long a SKU has been idle, which [`ZeroGroup`]s read.
#[must_use]
pub fn idle_days(y: &[f64]) -> Option<usize> {
    y.iter().rposition(|&v| v > 0.0).map(|last| y.len() - 1 - last)
}

/// The largest sum of `n` consecutive values of `y` (a SKU's units on its open days), for each
/// `n` of [`TOTAL_SPANS`] (the whole sum for spans longer than `y`).
#[must_use]
pub fn largest_totals(y: &[f64]) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(y.len() + 1);
    prefix.push(0.0);
    for v in y {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v.max(0.0));
    }
    TOTAL_SPANS
        .iter()
        .map(|&n| {
            let n = n.min(y.len());
            (n..prefix.len()).map(|end| prefix[end] - prefix[end - n]).fold(0.0, f64::max)
        })
        .collect()
}

/// How many times the largest total of a SKU's history its totals' quantiles may add to the
/// point forecast ([`bound_total`]). At 1 the alert replay's 0.99 service level held 2,171
/// units per SKU for 94 stock-out days, but the autumn's growth took the top 500's 28-day p99
/// (four origins) from 98.3 % to 95.6 %; at 2: 3,114 units, 60 days, and 97.5 %.
pub const BOUND_TIMES: f64 = 2.0;

/// A total's quantile bounded by the SKU's own history: at most its point forecast plus
/// [`BOUND_TIMES`] the largest total its history shows over as many open days
/// ([`largest_totals`]; a span between two of [`TOTAL_SPANS`] reads the longer, one beyond the
/// longest scales it). The factors are pooled over many SKUs' backtest windows; on a small
/// panel they share one group, where a window forecast at a fraction of a unit that met one
/// wholesale order has a ratio in the thousands, and a SKU reading it asked 60,000 units of
/// safety stock for a year's demand of 2,000. `largest` empty (models saved before it): no
/// bound.
#[must_use]
pub fn bound_total(quantile: f64, forecast: f64, open_days: usize, largest: &[f64]) -> f64 {
    let Some(&longest) = largest.last() else { return quantile };
    if open_days == 0 {
        return quantile;
    }
    let most = TOTAL_SPANS.iter().zip(largest).find(|&(&n, _)| n >= open_days).map_or_else(
        || longest * open_days as f64 / TOTAL_SPANS[TOTAL_SPANS.len() - 1] as f64,
        |(_, &most)| most,
    );
    quantile.min(forecast.max(0.0) + BOUND_TIMES * most)
}

/// Quantile `level` of the total of consecutive days, each `(point forecast, open)`: the
/// table's factor at its open days and forecast times the forecast, at least what totals
/// forecast at 0 sold over as many open days after as long without a sale
/// ([`TotalTable::zero_quantile`], `idle_days` the SKU's open days since its last sale: a larger
/// forecast never reads less than none), bounded by the SKU's history ([`bound_total`],
/// `largest` its [`largest_totals`]), and at least the quantile of each shorter total from the
/// same first day, since a total holds every shorter one within it (the table's own reading is
/// only nearly monotone where the forecast is not spread evenly). A table fitted before these
/// rules ([`TotalTable::consistent`]) is read at the whole total only, as it was. `None` when the
/// table is empty.
#[must_use]
pub fn running_total_quantile(
    table: &TotalTable,
    days: impl IntoIterator<Item = (f64, bool)>,
    level: f64,
    largest: &[f64],
    idle_days: Option<usize>,
) -> Option<f64> {
    running_total_quantiles(table, days, level, largest, idle_days, |_| {})
}

/// Caps each of `daily`, the quantiles at `level` of consecutive days forecast at `mean` (open
/// or not) from the first forecast day, at the quantile of the total from the start of its week
/// ([`WEEK_DAYS`]-day buckets from the first day, as the weekly outputs read them) to itself: a
/// week, or the shorter last bucket of a horizon, cannot sell less than one of its days, and the
/// cap does not depend on how far the horizon runs. The daily table has none of the totals' rules
/// (the quarter-unit floor, the SKU's history bound), and for a SKU selling 1.4 units a week a
/// day's p99 read 221 units and its week's 34. `largest` and `idle_days` as for
/// [`running_total_quantile`]; unchanged for a level beyond [`TOTAL_LEVELS`] or an empty table.
pub fn cap_days_by_week(
    table: &TotalTable,
    daily: &mut [f64],
    mean: &[f64],
    open: &[bool],
    level: f64,
    largest: &[f64],
    idle_days: Option<usize>,
) {
    if !(TOTAL_LEVELS.0..=TOTAL_LEVELS.1).contains(&level) {
        return;
    }
    let weeks = daily.chunks_mut(WEEK_DAYS).zip(mean.chunks(WEEK_DAYS)).zip(open.chunks(WEEK_DAYS));
    for ((days, mean), open) in weeks {
        // The total from the week's start to each day, in one pass over the week.
        let mut day = days.iter_mut();
        let week = mean.iter().copied().zip(open.iter().copied());
        running_total_quantiles(table, week, level, largest, idle_days, |most| {
            if let Some(q) = day.next() {
                *q = q.min(most);
            }
        });
    }
}

/// [`running_total_quantile`] of every total from the first day: `each` gets the quantile of the
/// total up to each day in turn, in one pass; the whole total's is returned.
pub fn running_total_quantiles(
    table: &TotalTable,
    days: impl IntoIterator<Item = (f64, bool)>,
    level: f64,
    largest: &[f64],
    idle_days: Option<usize>,
    mut each: impl FnMut(f64),
) -> Option<f64> {
    if table.is_empty() {
        return None;
    }
    let read = |open_days: usize, sum: f64| {
        let scaled = table.factor(open_days, sum, level).map_or(0.0, |f| sum * f);
        bound_total(scaled.max(table.zero_quantile(open_days, level, idle_days)), sum, open_days, largest)
    };
    let (mut sum, mut open_days, mut most) = (0.0, 0, 0.0_f64);
    let mut whole = if table.consistent { 0.0 } else { read(0, 0.0) };
    for (forecast, open) in days {
        sum += forecast.max(0.0);
        if open {
            open_days += 1;
            if table.consistent {
                most = most.max(read(open_days, sum));
            }
        }
        whole = if table.consistent { most } else { read(open_days, sum) };
        each(whole);
    }
    Some(whole)
}

/// Samples per size group, at least, in the daily table and in each span of the totals' (fewer
/// samples make fewer groups; fewer than this make one): a group's 99th percentile then rests
/// on its 10 largest samples, not on one or two wild windows. At 200 the
/// alert backtest's panel (100 SKUs, 1,000 windows per span) made five groups, and two
/// wholesale orders in one of them set a 7-day total's p99 at 189 times its forecast: safety
/// stock at a 0.99 service level averaged 13,746 units on hand per SKU (5,537 at 1,000).
pub const MIN_GROUP_SAMPLES: usize = 1000;

/// Volume groups per span, at most.
pub const MAX_GROUPS: usize = 8;

/// The levels [`TotalTable::factor`] reads; a level outside reads the nearest end. With a
/// thousand or so windows to a group, even the power-law tail ([`TAIL_SHARE`]) would be
/// extrapolated far beyond anything the windows show.
pub const TOTAL_LEVELS: (f64, f64) = (0.01, 0.99);

/// The backtest samples whose point forecast was about `forecast` units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeGroup {
    /// The median point forecast of the group's samples.
    pub forecast: f32,
    /// Percentiles 0..=100 of actual over forecast in the group.
    pub percentiles: Vec<f32>,
    /// The level stretch calibrating the group's p10-p90 ([`stretched_level`]; 1, none, for
    /// totals).
    #[serde(default = "no_stretch")]
    pub stretch: f32,
    /// Totals only: the Hill estimate of the tail index over the group's top [`TAIL_SHARE`] of
    /// ratios, from which levels above `1 - TAIL_SHARE` are extrapolated (`VolumeGroup::at`);
    /// `None` (daily groups, tables fitted before it, or a group whose top 5 % starts at 0): the
    /// empirical percentiles all the way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_index: Option<f32>,
}

fn no_stretch() -> f32 {
    1.0
}

impl VolumeGroup {
    /// The group's factor at `level`: its percentile at the stretched level, linear between
    /// the stored percentiles; above `1 - TAIL_SHARE` with a tail index `g`, the Weissman
    /// extrapolation `Q(1 - TAIL_SHARE) * (TAIL_SHARE / (1 - level))^g` instead.
    fn at(&self, level: f64) -> f64 {
        if let Some(index) = self.tail_index
            && level > 1.0 - TAIL_SHARE
        {
            let anchor = self.grid_at(1.0 - TAIL_SHARE);
            let largest = self.percentiles.last().map_or(anchor, |&p| f64::from(p));
            // Never beyond the largest ratio any window showed: a p90 just above 0 (one slow
            // seller's window in ten sells) makes a steep index that nothing observed supports.
            // Tables fitted before the cap hold steeper indices: read them capped too.
            let index = f64::from(index).min(MAX_TAIL_INDEX);
            let tail = anchor * (TAIL_SHARE / (1.0 - level).max(1e-9)).powf(index);
            return tail.min(largest).max(anchor);
        }
        self.grid_at(level)
    }

    fn grid_at(&self, level: f64) -> f64 {
        percentile_at(&self.percentiles, stretched_level(level, f64::from(self.stretch))).unwrap_or(1.0)
    }
}

/// Percentiles 0..=100 (`grid`) read at `level`, linear between the stored ones; `None` when
/// there are none.
fn percentile_at(grid: &[f32], level: f64) -> Option<f64> {
    let last = grid.len().checked_sub(1)?;
    let position = level.clamp(0.0, 1.0) * last as f64;
    let below = (position.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let (low, high) = (f64::from(grid[below]), f64::from(grid[above]));
    Some(low + (position - below as f64) * (high - low))
}

/// Up to [`MAX_GROUPS`] groups of `(forecast, ratio)` samples by forecast, of about equal
/// counts and at least [`MIN_GROUP_SAMPLES`] each (one group when there are fewer), each
/// calibrated to `target` (see [`stretch`]) and, `with_tail` (totals), given a tail index.
fn volume_groups(mut samples: Vec<(f64, f64)>, target: Option<f64>, with_tail: bool) -> Vec<VolumeGroup> {
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let count = (samples.len() / MIN_GROUP_SAMPLES).clamp(1, MAX_GROUPS);
    // Equal-count cuts, each moved past samples tied with the one before it so that equal
    // forecasts share a group (within a tie the order says nothing about the ratio).
    let mut cuts = vec![0];
    for g in 1..count {
        let mut cut = (g * samples.len() / count).max(*cuts.last().unwrap_or(&0));
        while cut > 0 && cut < samples.len() && samples[cut].0 == samples[cut - 1].0 {
            cut += 1;
        }
        // A cut pushed past a long tie can leave too few samples after it: skip it.
        if cut - cuts.last().unwrap_or(&0) >= MIN_GROUP_SAMPLES && samples.len() - cut >= MIN_GROUP_SAMPLES {
            cuts.push(cut);
        }
    }
    cuts.push(samples.len());
    cuts.dedup();
    cuts.windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| {
            let part = &samples[w[0]..w[1]];
            let forecasts: Vec<f64> = part.iter().map(|s| s.0).collect();
            let (grid, stretch) = percentiles(part.iter().map(|s| s.1).collect(), target);
            let tail_index = if with_tail { tail_index(&grid) } else { None };
            VolumeGroup {
                forecast: quantile_sorted(&forecasts, 0.5) as f32,
                percentiles: grid.into_iter().map(|v| v as f32).collect(),
                stretch: stretch as f32,
                tail_index: tail_index.map(|g| g as f32),
            }
        })
        .collect()
}

/// The share of a totals group's largest ratios its tail index is estimated on, and the level
/// (`1 - TAIL_SHARE`) above which its factors are extrapolated. The empirical 99th percentile
/// of a group rests on its 10 largest windows, and windows of the same backtest origin share
/// their days (one shop-wide burst lifts many SKUs' ratios at once): on the alert backtest's
/// nightly refits the 7-day p99 of one and the same group swung between 5 and 62 times the
/// forecast from one night to the next (the p95 between 2.3 and 4.1), and a 0.99 service level
/// held 14,416 units per SKU. The top 5 % hold 50 windows or more.
pub const TAIL_SHARE: f64 = 0.05;

/// The tail index of a power-law tail through the group's percentiles at `1 - 2 TAIL_SHARE`
/// and `1 - TAIL_SHARE` (p90 and p95): `ln(Q95 / Q90) / ln 2`, so that the extrapolation
/// [`VolumeGroup::at`] passes through both. Two percentiles that rest on 100 and 50 windows or
/// more, not on the few largest (a Hill estimate over the top 5 % still swung with them, 6 to
/// 40 times the forecast at p99). `None`, the empirical percentiles, when Q90 is 0 (no power
/// law through a zero) or Q95 equals it: a plateau of tied ratios (slow sellers' whole units)
/// says nothing of the tail beyond, and a flat tail would read p99 as p95.
fn tail_index(grid: &[f64]) -> Option<f64> {
    let q = |level: f64| quantile_sorted(grid, level);
    let (lower, upper) = (q(1.0 - 2.0 * TAIL_SHARE), q(1.0 - TAIL_SHARE));
    (lower > 0.0 && upper > lower).then(|| ((upper / lower).ln() / 2f64.ln()).min(MAX_TAIL_INDEX))
}

/// The steepest tail [`tail_index`] gives: at 1, a Pareto tail whose mean is only just infinite,
/// p99 is five times p95. A group of short totals of slow sellers, most of them 0, had p90 at
/// 0.88 times the forecast and p95 at 4.3: an index of 2.3 read p99 at 170 times the forecast,
/// far beyond anything but a group's few wildest windows.
pub const MAX_TAIL_INDEX: f64 = 1.0;

/// The factor at `level` for a forecast of `forecast` units: linear in the log of the forecast
/// between the neighbouring groups' medians, the end groups' beyond them.
fn volume_factor(groups: &[VolumeGroup], forecast: f64, level: f64) -> f64 {
    let log = |v: f64| v.max(1e-6).ln();
    match groups.iter().position(|g| f64::from(g.forecast) >= forecast) {
        None => groups.last().map_or(1.0, |g| g.at(level)),
        Some(0) => groups[0].at(level),
        Some(i) => {
            let (g0, g1) = (&groups[i - 1], &groups[i]);
            let (x0, x1) = (log(f64::from(g0.forecast)), log(f64::from(g1.forecast)));
            let t = if x1 > x0 { (log(forecast) - x0) / (x1 - x0) } else { 1.0 };
            (1.0 - t) * g0.at(level) + t * g1.at(level)
        }
    }
}

/// The groups of one span, by ascending forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanGroups {
    /// Open days the totals cover.
    pub open_days: usize,
    /// Equal-count groups of the span's samples by their point forecast.
    pub groups: Vec<VolumeGroup>,
}

/// Percentiles of `sum y / sum f` over the first `n` open days of the backtest windows, for each
/// `n` of [`TOTAL_SPANS`] within the backtest horizon, and within a span by the size of the
/// forecast: a total forecast at 2 units (one order more or less doubles it) spreads far wider
/// than one forecast at 2,000, so a single table for all would be too narrow for slow sellers
/// and several times too wide for fast ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TotalTable {
    /// By ascending open days.
    pub spans: Vec<SpanGroups>,
    /// Fitted with forecasts floored at [`MIN_TOTAL_FORECAST`] and read with the rules that keep
    /// a quantile from falling as the days or the forecast grow. A table fitted before (false)
    /// is read as it was: its small groups hold ratios of forecasts far below a unit, which the
    /// rules would carry up to every larger forecast.
    #[serde(default)]
    pub consistent: bool,
    /// Totals forecast at 0, by how long the SKU had not sold ([`ZeroGroup`]; empty in tables
    /// fitted before them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zero: Vec<ZeroGroup>,
}

/// What backtest windows forecast at 0 sold, for SKUs that had not sold for `idle_from` open
/// days or more before the window (up to the next group's). A ratio to a forecast of 0 says
/// nothing, yet such a forecast is often wrong: on every Online Retail SKU at four 28-day
/// origins, 545 SKUs a time were forecast at 0 for the next four weeks (their window averages
/// and TSB fall to 0 two weeks after the last sale, and for a SKU that sells in under half its
/// windows 0 is the total's median), and 10.3 % of their weeks sold, up to a hundred units: read
/// as a multiple of 0, the p95 and p99 of those weeks were 0 and held 89.7 % of them. How long
/// the SKU has been idle says most of how likely a sale is: of those weeks 24 % sold when the
/// last sale was 2-4 weeks before, 3 % when it was more than 16 weeks before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroGroup {
    /// Open days since the SKU's last sale, at least, at the window's start.
    pub idle_from: usize,
    /// By ascending open days; only spans with [`MIN_ZERO_SAMPLES`] windows or more.
    pub spans: Vec<ZeroSpan>,
}

/// What the windows of one [`ZeroGroup`] sold over their first `open_days` open days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroSpan {
    /// Open days the totals cover.
    pub open_days: usize,
    /// Percentiles 0..=100 of the units sold.
    pub percentiles: Vec<f32>,
}

/// Windows forecast at 0, at least, for a [`ZeroSpan`]: its 99th percentile then rests on five
/// windows. A small panel (the shipped sample's top SKUs) has fewer and reads a zero forecast's
/// quantiles as 0, as before.
pub const MIN_ZERO_SAMPLES: usize = 500;

/// Where the [`ZeroGroup`]s start, in weeks of open days since the SKU's last sale: under 4
/// weeks, 4 to 16, more.
pub const ZERO_IDLE_WEEKS: [usize; 3] = [0, 4, 16];

impl ZeroSpan {
    fn at(&self, level: f64) -> f64 {
        percentile_at(&self.percentiles, level).unwrap_or(0.0)
    }
}

/// Totals forecast at fewer units than this are measured, and read, as forecast at this many
/// ([`SpanGroups`]). Far below a unit the forecast's size says how often a sale comes, not how
/// large it is: a window forecast at 0.01 units that sold one order of 24 has a ratio of 2,400,
/// and the smallest group's factors, read at a dead SKU's 0.24 units over 28 days, made its p95
/// 884 units and its reorder point at 0.99 the 3,456 its history's bound allowed (now 23 and
/// 116). Measured on every SKU's 7-day totals at four origins (`forecast --weekly-out`), totals
/// forecast below 0.25 units held 97.7 % and 99.5 % at or below their p95 and p99 without the
/// floor, 94.4 % and 98.2 % with it, and 92.0 % and 96.1 % with a floor of one unit (which also
/// cost the alert replay 17 stock-out days at 0.95 for 2 % less stock).
pub const MIN_TOTAL_FORECAST: f64 = 0.25;

impl SpanGroups {
    fn from_samples(open_days: usize, samples: Vec<(f64, f64)>) -> Self {
        let floored = samples
            .into_iter()
            .map(|(forecast, ratio)| {
                let floor = forecast.max(MIN_TOTAL_FORECAST);
                (floor, ratio * forecast / floor)
            })
            .collect();
        Self { open_days, groups: volume_groups(floored, None, true) }
    }

    /// The factor at `forecast` (read at [`MIN_TOTAL_FORECAST`] at least, so a smaller forecast's
    /// quantile shrinks with it). Between two groups the factor is linear in the log of the
    /// forecast, and the quantile in units at most the larger group's; each group's quantile is
    /// taken as at least the smaller groups': a larger forecast never reads a smaller quantile.
    /// Uncapped, a forecast between the tiny forecasts' group (an order of 24 against one unit)
    /// and the fast sellers' read a quantile above both.
    fn factor(&self, forecast: f64, level: f64, consistent: bool) -> f64 {
        if !consistent {
            return volume_factor(&self.groups, forecast, level);
        }
        let at = forecast.max(MIN_TOTAL_FORECAST);
        // The last group below `at`: its median and its quantile in units (at least the smaller
        // groups'). One pass on the serving path, nothing allocated.
        let mut below: Option<(f64, f64)> = None;
        for group in &self.groups {
            // Tables fitted before the floor have groups below it.
            let median = f64::from(group.forecast).max(MIN_TOTAL_FORECAST);
            let quantile = below.map_or(0.0, |(_, q)| q).max(median * group.at(level));
            if median >= at {
                let Some((m0, q0)) = below else { return quantile / median };
                let t = if median > m0 { (at / m0).ln() / (median / m0).ln() } else { 1.0 };
                // Linear in the factor, capped at the larger group's quantile: between a wide
                // group and a narrow one the product rises above it and falls back.
                return ((1.0 - t) * q0 / m0 + t * quantile / median).min(quantile / at);
            }
            below = Some((median, quantile));
        }
        below.map_or(1.0, |(median, q)| q / median)
    }
}

impl TotalTable {
    /// Builds the table from every series' `(open days, sum f, sum y / sum f)` samples.
    #[must_use]
    pub fn from_samples(samples: &[&[(usize, f64, f64)]]) -> Self {
        let mut by_span: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for series in samples {
            for &(n, forecast, ratio) in *series {
                by_span.entry(n).or_default().push((forecast, ratio));
            }
        }
        Self {
            spans: by_span.into_iter().map(|(n, s)| SpanGroups::from_samples(n, s)).collect(),
            consistent: true,
            zero: Vec::new(),
        }
    }

    /// The table with the spread of totals forecast at 0, from every series' `(open days idle,
    /// open days, sum y)` over the first open days of its backtest windows whose forecast was 0
    /// there; `period` is the open days of a week ([`ZERO_IDLE_WEEKS`]).
    #[must_use]
    pub fn with_zero_forecasts(self, samples: &[&[(usize, usize, f64)]], period: usize) -> Self {
        let starts: Vec<usize> = ZERO_IDLE_WEEKS.iter().map(|w| w * period.max(1)).collect();
        let mut by_group: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
        for series in samples {
            for &(idle, n, actual) in *series {
                let group = starts.iter().rposition(|&from| idle >= from).unwrap_or(0);
                by_group.entry((group, n)).or_default().push(actual.max(0.0));
            }
        }
        let mut zero: Vec<ZeroGroup> =
            starts.iter().map(|&idle_from| ZeroGroup { idle_from, spans: Vec::new() }).collect();
        for ((group, open_days), mut sold) in by_group {
            if sold.len() < MIN_ZERO_SAMPLES {
                continue;
            }
            sold.sort_by(f64::total_cmp);
            let percentiles =
                (0..=100).map(|p| quantile_sorted(&sold, f64::from(p) / 100.0) as f32).collect();
            zero[group].spans.push(ZeroSpan { open_days, percentiles });
        }
        // A group without spans stays, so that its SKUs do not read another group's.
        if zero.iter().all(|g| g.spans.is_empty()) {
            zero.clear();
        }
        Self { zero, ..self }
    }

    /// Whether no span has samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.zero.is_empty()
    }

    /// Quantile `level` (clamped to [`TOTAL_LEVELS`]) in units of a total over `open_days`
    /// open days forecast at 0, for a SKU that has not sold for `idle_days` open days: its
    /// [`ZeroGroup`]'s spans, linear between the neighbouring ones and from nothing over no open
    /// day up to the shortest, the longest's above it. 0 over no open day, without a group for it (a SKU that never sold,
    /// or a group too small), or without `idle_days` (models fitted before it).
    #[must_use]
    pub fn zero_quantile(&self, open_days: usize, level: f64, idle_days: Option<usize>) -> f64 {
        let Some(idle) = idle_days else { return 0.0 };
        let Some(group) = self.zero.iter().rev().find(|g| idle >= g.idle_from) else { return 0.0 };
        if open_days == 0 {
            return 0.0;
        }
        let level = level.clamp(TOTAL_LEVELS.0, TOTAL_LEVELS.1);
        let spans = &group.spans;
        match spans.iter().position(|s| s.open_days >= open_days) {
            None => spans.last().map_or(0.0, |s| s.at(level)),
            Some(0) => spans[0].at(level) * (open_days as f64 / spans[0].open_days as f64).min(1.0),
            Some(i) => {
                let (s0, s1) = (&spans[i - 1], &spans[i]);
                let t = (open_days - s0.open_days) as f64 / (s1.open_days - s0.open_days) as f64;
                (1.0 - t) * s0.at(level) + t * s1.at(level)
            }
        }
    }

    /// The multiplier of a total's point forecast `forecast` over `open_days` open days at
    /// `level` (clamped to [`TOTAL_LEVELS`]): linear between the neighbouring spans, the shortest
    /// span's below it, the longest's above. Read one total at a time it may fall as the days
    /// grow; [`running_total_quantile`] reads a forecast path so that it cannot. `None` when the
    /// table has no span of ratios (empty, or only [`Self::zero`]).
    #[must_use]
    pub fn factor(&self, open_days: usize, forecast: f64, level: f64) -> Option<f64> {
        let level = level.clamp(TOTAL_LEVELS.0, TOTAL_LEVELS.1);
        let upper = self.spans.iter().position(|s| s.open_days >= open_days);
        let consistent = self.consistent;
        Some(match upper {
            None => self.spans.last()?.factor(forecast, level, consistent),
            Some(0) => self.spans[0].factor(forecast, level, consistent),
            Some(i) => {
                let (s0, s1) = (&self.spans[i - 1], &self.spans[i]);
                let t = (open_days - s0.open_days) as f64 / (s1.open_days - s0.open_days) as f64;
                (1.0 - t) * s0.factor(forecast, level, consistent)
                    + t * s1.factor(forecast, level, consistent)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_totals_quantile_is_bounded_by_the_most_the_sku_sold_in_as_many_days() {
        // One wholesale order of 1,728 in a year of single units.
        let mut y = vec![0.0; 300];
        y[100] = 1728.0;
        y.iter_mut().step_by(10).for_each(|v| *v += 1.0);
        let largest = largest_totals(&y);
        assert_eq!(largest.len(), TOTAL_SPANS.len());
        assert_eq!(largest[0], 1729.0, "one day");
        assert_eq!(largest[4], 1729.0, "seven days hold one unit of the one-in-ten days");
        assert_eq!(largest[11], 1728.0 + 8.0, "77 days");
        // A factor of 2,000 on a forecast of 10 asks 20,000: bounded at 10 + 2 x 1,729 (7 days).
        assert_eq!(bound_total(20_000.0, 10.0, 7, &largest), 10.0 + BOUND_TIMES * 1729.0);
        assert_eq!(bound_total(20_000.0, 10.0, 6, &largest), 10.0 + BOUND_TIMES * 1729.0, "6 days read 7");
        assert_eq!(bound_total(25.0, 10.0, 7, &largest), 25.0, "a quantile within the bound stays");
        assert_eq!(bound_total(20_000.0, 10.0, 7, &[]), 20_000.0, "no history kept: no bound");
        assert_eq!(
            bound_total(1e9, 0.0, 154, &largest),
            BOUND_TIMES * 1736.0 * 2.0,
            "beyond 77 days it scales"
        );
        // Short histories: a span longer than the series sums all of it.
        assert_eq!(
            largest_totals(&[1.0, 2.0]),
            vec![2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
        );
    }

    #[test]
    fn levels_are_named_by_their_percent() {
        let names: Vec<String> = [0.1, 0.5, 0.05, 0.975, 0.285, 0.99].into_iter().map(level_name).collect();
        assert_eq!(names, ["p10", "p50", "p5", "p97.5", "p28.5", "p99"]);
    }

    #[test]
    fn factors_are_empirical_quantiles_of_actual_over_forecast() {
        let ratios: Vec<(f64, f64)> = (0..=400).map(|i| (5.0, f64::from(i) / 200.0)).collect(); // 0..2 uniform
        let table = QuantileTable::from_samples(&[&ratios], None);
        assert!((table.factor(DemandClass::Smooth, 5.0, 0.1) - 0.2).abs() < 1e-6);
        assert!((table.factor(DemandClass::Smooth, 5.0, 0.5) - 1.0).abs() < 1e-6);
        // One group: every size and class reads it.
        assert!((table.factor(DemandClass::Lumpy, 500.0, 0.9) - 1.8).abs() < 1e-6);
    }

    #[test]
    fn daily_factors_follow_the_size_of_the_forecast() {
        // Slow series (0.1 a day) sell nothing on 9 days in 10 and 10 units on the tenth; fast
        // ones (50 a day) spread 0.5..1.5. One table for both would be wrong for both.
        let slow: Vec<(f64, f64)> = (0..1500).map(|i| (0.1, if i % 10 == 0 { 10.0 } else { 0.0 })).collect();
        let fast: Vec<(f64, f64)> = (0..=1500).map(|i| (50.0, 0.5 + f64::from(i) / 1500.0)).collect();
        let table = QuantileTable::from_samples(&[&slow, &fast], Some(0.8));
        assert_eq!(table.by_size.len(), 2, "three equal-count groups would split the ties");
        let q = |size, level| table.factor(DemandClass::Lumpy, size, level);
        // Slow: every day with a sale is above p90 and the zeros are the band (covering 90 %,
        // the closest it can get to 80 %); the far tail still reaches the sale.
        assert!(q(0.1, 0.1).abs() < 1e-9 && q(0.1, 0.9).abs() < 1e-9);
        assert!((q(0.1, 0.995) - 10.0).abs() < 1e-6, "{}", q(0.1, 0.995));
        // Fast: p10-p90 calibrated to 80 % of its samples.
        assert!((q(50.0, 0.1) - 0.6).abs() < 0.01 && (q(50.0, 0.9) - 1.4).abs() < 0.01);
        // In between, interpolated in the log of the size.
        let mid = q((0.1f64 * 50.0).sqrt(), 0.9);
        assert!((mid - 0.7).abs() < 0.01, "{mid}");
    }

    #[test]
    fn calibration_narrows_the_interval_and_keeps_the_tails() {
        // Half the actuals are 0: the raw p10-p90 interval [0, Q90] covers 90 %.
        let mut ratios = vec![(1.0, 0.0); 500];
        ratios.extend((1..=500).map(|i| (1.0, f64::from(i) / 250.0)));
        let table = QuantileTable::from_samples(&[&ratios], Some(0.8));
        let q = |level| table.factor(DemandClass::Lumpy, 1.0, level);
        let covered =
            ratios.iter().filter(|&&(_, z)| q(0.1) <= z && z <= q(0.9)).count() as f64 / ratios.len() as f64;
        assert!((covered - 0.8).abs() < 0.01, "{covered}");
        // Beyond p90 the levels run on to the sample's maximum: p99 reads the 98th percentile
        // here (stretched about the median, it read the 89th).
        let held = ratios.iter().filter(|&&(_, z)| z <= q(0.99)).count() as f64 / ratios.len() as f64;
        assert!((0.975..=0.99).contains(&held), "{held}");
        assert!((q(1.0) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn stretched_levels_rise_fix_the_ends_and_the_median_and_keep_the_tails_out() {
        for s in [0.0, 1e-9, 0.6, 1.0, 1.25] {
            assert!(stretched_level(0.0, s).abs() < 1e-12 && (stretched_level(1.0, s) - 1.0).abs() < 1e-12);
            assert!((stretched_level(0.5, s) - 0.5).abs() < 1e-12);
            let mut last = 0.0;
            for p in 0..=1000 {
                let level = f64::from(p) / 1000.0;
                let at = stretched_level(level, s);
                assert!(at >= last - 1e-12, "s {s} level {level}: falls");
                if level > 0.9 {
                    assert!(at >= level - 1e-12, "s {s} level {level}: p>90 reads nearer the median");
                } else if level < 0.1 {
                    assert!(at <= level + 1e-12, "s {s} level {level}: p<10 reads nearer the median");
                }
                last = at;
            }
        }
        // Within the band, about the median; beyond it, the line to the end where it is farther out.
        assert!((stretched_level(0.9, 0.5) - 0.7).abs() < 1e-12);
        assert!((stretched_level(0.95, 0.5) - 0.95).abs() < 1e-12);
        assert!((stretched_level(0.95, 1.1) - 0.97).abs() < 1e-12);
        // A band narrowed to nothing: p90 is the median, p95 and p99 their own percentiles.
        assert!((stretched_level(0.9, 0.0) - 0.5).abs() < 1e-12);
        assert!((stretched_level(0.99, 0.0) - 0.99).abs() < 1e-12);
    }

    #[test]
    fn tables_of_models_fitted_before_size_groups_read_their_class() {
        // The layout models were saved in before `by_size` (MessagePack with field names).
        #[derive(Serialize)]
        struct Before {
            by_class: BTreeMap<DemandClass, (Vec<f64>, f64)>,
            all: (Vec<f64>, f64),
        }
        let grid: Vec<f64> = (0..=100).map(|p| f64::from(p) / 50.0).collect(); // 0..2
        let before = Before {
            by_class: BTreeMap::from([(DemandClass::Lumpy, (grid, 0.5))]),
            all: (vec![1.0; 101], 1.0),
        };
        let bytes = rmp_serde::to_vec_named(&before).unwrap();
        let table: QuantileTable = rmp_serde::from_slice(&bytes).unwrap();
        assert!(table.by_size.is_empty());
        // Within p10-p90 as before (0.5 + s (q - 0.5)); the tails now run on to the ends:
        // p99 reads the 99th percentile, not the 74.5th.
        let lumpy = |level| table.factor(DemandClass::Lumpy, 7.0, level);
        assert!((lumpy(0.9) - 2.0 * 0.7).abs() < 1e-9);
        assert!((lumpy(0.99) - 2.0 * 0.99).abs() < 1e-9, "{}", lumpy(0.99));
        assert!((table.factor(DemandClass::Smooth, 7.0, 0.75) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn total_factors_interpolate_between_spans_and_between_volumes() {
        // Span 1: ratios 0..2 uniform; span 3: all 1 (a total over 3 days is always right).
        let mut samples: Vec<(usize, f64, f64)> =
            (0..=400).map(|i| (1, 10.0, f64::from(i) / 200.0)).collect();
        samples.extend((0..=400).map(|_| (3, 10.0, 1.0)));
        let table = TotalTable::from_samples(&[&samples]);
        assert!((table.factor(1, 10.0, 0.9).unwrap() - 1.8).abs() < 1e-6);
        assert!((table.factor(3, 10.0, 0.9).unwrap() - 1.0).abs() < 1e-6);
        assert!((table.factor(2, 10.0, 0.9).unwrap() - 1.4).abs() < 1e-6, "halfway between spans");
        assert!((table.factor(30, 10.0, 0.9).unwrap() - 1.0).abs() < 1e-6, "the longest span above it");
        assert_eq!(TotalTable::default().factor(3, 10.0, 0.9), None);

        // Totals forecast at about 1 unit spread 0..4, at about 100 units 0.9..1.1 (forecasts
        // nudged so their order does not follow the ratios): four groups of 1000.
        let shuffled = |i: u32| f64::from((i * 7919) % 2000);
        let mut samples: Vec<(usize, f64, f64)> =
            (0..2000).map(|i| (5, 1.0 + f64::from(i) * 1e-6, shuffled(i) / 500.0)).collect();
        samples.extend((0..2000).map(|i| (5, 100.0 + f64::from(i) * 1e-5, 0.9 + shuffled(i) / 10000.0)));
        let table = TotalTable::from_samples(&[&samples]);
        assert_eq!(table.spans[0].groups.len(), 4);
        let p90 = |forecast| table.factor(5, forecast, 0.9).unwrap();
        assert!((p90(0.5) - 3.6).abs() < 0.2, "below the smallest group: {}", p90(0.5));
        assert!((p90(1000.0) - 1.08).abs() < 0.01, "above the largest group: {}", p90(1000.0));
        assert!(p90(1.0) > p90(10.0) && p90(10.0) > p90(100.0), "narrower as the forecast grows");

        // Tied forecasts stay in one group whatever order their ratios come in.
        let tied: Vec<(usize, f64, f64)> = (0..=3000).map(|i| (5, 40.0, f64::from(i) / 3000.0)).collect();
        let table = TotalTable::from_samples(&[&tied]);
        assert_eq!(table.spans[0].groups.len(), 1);
        assert!((table.factor(5, 40.0, 0.9).unwrap() - 0.9).abs() < 1e-6);

        // Two wholesale orders among 1,200 windows do not make a p99: no group is small enough
        // for them to be its top percent.
        let mut orders: Vec<(usize, f64, f64)> = (1..=1200).map(|i| (5, f64::from(i), 1.0)).collect();
        orders[99].2 = 189.0;
        orders[100].2 = 189.0;
        let table = TotalTable::from_samples(&[&orders]);
        assert!((table.factor(5, 100.0, 0.99).unwrap() - 1.0).abs() < 1e-6);

        // Beyond the 99th percentile the table reads the 99th: one wild window (a ratio of
        // 3000 among 1000 exact ones) does not set a 0.999 quantile.
        let mut wild: Vec<(usize, f64, f64)> = (0..999).map(|_| (5, 40.0, 1.0)).collect();
        wild.push((5, 40.0, 3000.0));
        let table = TotalTable::from_samples(&[&wild]);
        assert!((table.factor(5, 40.0, 0.999).unwrap() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn levels_above_p95_of_a_total_follow_a_power_law_through_p90_and_p95() {
        // 2,000 windows: ratios 0..2 uniform, and 25 shop-wide bursts at 100 times the forecast.
        // The empirical p99 is set by the bursts; the tail through p90 and p95 is not.
        let mut samples: Vec<(usize, f64, f64)> =
            (0..1975).map(|i| (7, 50.0, f64::from(i) / 987.0)).collect();
        samples.extend((0..25).map(|_| (7, 50.0, 100.0)));
        let table = TotalTable::from_samples(&[&samples]);
        let group = &table.spans[0].groups[0];
        let q = |level| table.factor(7, 50.0, level).unwrap();
        let (p90, p95) = (group.grid_at(0.9), group.grid_at(0.95));
        let index = (p95 / p90).ln() / 2f64.ln();
        assert!((f64::from(group.tail_index.unwrap()) - index).abs() < 1e-6);
        assert!((q(0.95) - p95).abs() < 1e-9 && (q(0.9) - p90).abs() < 1e-9, "both read as before");
        assert!((q(0.99) - p95 * 5f64.powf(index)).abs() < 1e-6, "p99 {}", q(0.99));
        assert!(q(0.99) < 2.5 && group.grid_at(0.99) > 90.0, "the bursts set the empirical p99 only");
        assert!(q(0.95) < q(0.97) && q(0.97) < q(0.99), "rising through the tail");

        // A table fitted before the tail index reads its percentiles all the way.
        let mut old = table.clone();
        old.spans[0].groups[0].tail_index = None;
        assert!(old.factor(7, 50.0, 0.99).unwrap() > 90.0);
        // No power law through a p90 of 0 (most totals zero): the percentiles, as before.
        let zeros: Vec<(usize, f64, f64)> =
            (0..1000).map(|i| (7, 0.5, if i % 50 == 0 { 30.0 } else { 0.0 })).collect();
        assert_eq!(TotalTable::from_samples(&[&zeros]).spans[0].groups[0].tail_index, None);
        // Daily tables keep their percentiles, calibrated or not.
        let daily: Vec<(f64, f64)> = samples.iter().map(|&(_, f, r)| (f, r)).collect();
        for target in [Some(0.8), None] {
            let table = QuantileTable::from_samples(&[&daily], target);
            assert!(table.by_size.iter().all(|g| g.tail_index.is_none()), "{target:?}");
        }
    }

    #[test]
    fn the_tail_never_passes_the_largest_window_nor_flattens_a_plateau() {
        // One window in ten sells, at twice its forecast: p90 sits just above 0 and the index is
        // steep, but no level reads more than the 2.0 every selling window showed.
        let sparse: Vec<(usize, f64, f64)> =
            (0..1000).map(|i| (7, 3.0, if i % 10 == 0 { 2.0 } else { 0.0 })).collect();
        let table = TotalTable::from_samples(&[&sparse]);
        assert!(table.spans[0].groups[0].tail_index.is_some());
        for level in [0.96, 0.98, 0.99] {
            let factor = table.factor(7, 3.0, level).unwrap();
            assert!((factor - 2.0).abs() < 1e-6, "{level}: {factor}");
        }
        // Tied ratios with p90 = p95 = 1 and 3 % of windows at 5: no power law, the percentiles.
        let mut plateau: Vec<(usize, f64, f64)> = (0..800).map(|_| (7, 3.0, 0.0)).collect();
        plateau.extend((0..170).map(|_| (7, 3.0, 1.0)));
        plateau.extend((0..30).map(|_| (7, 3.0, 5.0)));
        let table = TotalTable::from_samples(&[&plateau]);
        assert_eq!(table.spans[0].groups[0].tail_index, None);
        assert!((table.factor(7, 3.0, 0.99).unwrap() - 5.0).abs() < 1e-6);
    }

    #[test]
    fn a_steep_tail_is_capped_and_a_longer_total_never_reads_a_smaller_quantile() {
        // 3-day totals, most at half their forecast, 6 % at ten times it and one at 10,000:
        // p90 1 and p95 10 make an index of 3.3, which read p99 at 2,000 times the forecast.
        let mut samples: Vec<(usize, f64, f64)> = (0..1000)
            .map(|i| {
                (
                    3,
                    3.0,
                    if i < 880 {
                        0.5
                    } else if i < 940 {
                        1.0
                    } else {
                        10.0
                    },
                )
            })
            .collect();
        samples[999].2 = 10_000.0;
        // 7-day totals are always exactly right.
        samples.extend((0..1000).map(|_| (7, 7.0, 1.0)));
        let table = TotalTable::from_samples(&[&samples]);
        let three = &table.spans[0];
        assert_eq!(three.groups[0].tail_index, Some(MAX_TAIL_INDEX as f32));
        let p99 = table.factor(3, 3.0, 0.99).unwrap();
        assert!((p99 - 10.0 * 5f64.powf(MAX_TAIL_INDEX)).abs() < 1e-3, "{p99}");
        // Read on its own, the 7-day total's p99 is 7 units against the 3-day total's 150; along
        // a path each total is at least every shorter one from the same day, even where the
        // forecast is not spread evenly.
        let path = [0.2, 5.0, 0.1, 0.1, 0.1, 0.1, 0.1];
        let days = |n: usize| path[..n].iter().map(|&f| (f, true));
        let plain: Vec<f64> = (1..=path.len())
            .map(|n| {
                let sum: f64 = path[..n].iter().sum();
                sum * table.factor(n, sum, 0.99).unwrap()
            })
            .collect();
        assert!(plain.windows(2).any(|w| w[1] < w[0]), "read one total at a time it falls: {plain:?}");
        let running: Vec<f64> = (1..=path.len())
            .map(|n| running_total_quantile(&table, days(n), 0.99, &[], None).unwrap())
            .collect();
        for n in 0..path.len() {
            let most = plain[..=n].iter().copied().fold(0.0, f64::max);
            assert!((running[n] - most).abs() < 1e-9, "{n}: {running:?} {plain:?}");
        }
        // Closed days add nothing and count no open day.
        let closed = [(0.2, true), (0.0, false), (5.0, true)];
        assert_eq!(running_total_quantile(&table, closed, 0.99, &[], None), Some(running[1]));
        assert_eq!(running_total_quantile(&TotalTable::default(), days(7), 0.99, &[], None), None);
        // A table fitted before these rules reads the whole total alone, as it did.
        let old = TotalTable { consistent: false, ..table.clone() };
        let whole = running_total_quantile(&old, days(7), 0.99, &[], None).unwrap();
        assert!((whole - plain[6]).abs() < 1e-9 && whole < running[6], "{whole}");
    }

    #[test]
    fn a_total_forecast_at_zero_reads_what_such_windows_sold_after_as_long_without_a_sale() {
        // A week of 6 open days. Windows forecast at 0 over 7 open days: a SKU idle 2 days
        // sold in one window in five (4 units), one idle 120 days in one in a hundred (3).
        let recent: Vec<(usize, usize, f64)> =
            (0..1000).map(|i| (2, 7, if i % 5 == 0 { 4.0 } else { 0.0 })).collect();
        let dormant: Vec<(usize, usize, f64)> =
            (0..1000).map(|i| (120, 7, if i % 100 == 0 { 3.0 } else { 0.0 })).collect();
        let few: Vec<(usize, usize, f64)> = (0..10).map(|_| (2, 14, 50.0)).collect();
        let ratios: Vec<(usize, f64, f64)> = (0..1000).map(|_| (7, 10.0, 1.0)).collect();
        let table = TotalTable::from_samples(&[&ratios]).with_zero_forecasts(&[&recent, &dormant, &few], 6);
        let starts: Vec<usize> = table.zero.iter().map(|g| g.idle_from).collect();
        assert_eq!(starts, [0, 24, 96], "weeks of open days; the middle group stays, empty");
        assert!(table.zero[1].spans.is_empty());
        assert_eq!(table.zero[0].spans.len(), 1, "ten 14-day windows are too few for a span");
        assert_eq!(table.zero_quantile(7, 0.9, Some(2)), 4.0);
        assert_eq!(table.zero_quantile(7, 0.5, Some(2)), 0.0);
        assert_eq!(table.zero_quantile(7, 0.95, Some(150)), 0.0);
        assert!(table.zero_quantile(7, 0.995, Some(150)) > 0.0, "read at p99");
        // Shorter totals rise from nothing to the shortest span, longer read the longest.
        assert!((table.zero_quantile(3, 0.9, Some(2)) - 4.0 * 3.0 / 7.0).abs() < 1e-9);
        assert_eq!(table.zero_quantile(30, 0.9, Some(2)), 4.0);
        assert_eq!(table.zero_quantile(0, 0.9, Some(2)), 0.0);
        // Idle 30 days: its group has no span, and it does not borrow another's.
        assert_eq!(table.zero_quantile(7, 0.9, Some(30)), 0.0);
        assert_eq!(table.zero_quantile(7, 0.9, None), 0.0, "never sold, or a model fitted before");

        // A path forecast at 0 reads them, bounded by the SKU's history; a small forecast never
        // reads less.
        let zeros = || std::iter::repeat_n((0.0, true), 7);
        assert_eq!(running_total_quantile(&table, zeros(), 0.9, &[], Some(2)), Some(4.0));
        assert_eq!(running_total_quantile(&table, zeros(), 0.9, &[], None), Some(0.0));
        let sold_one = [1.0; TOTAL_SPANS.len()];
        assert_eq!(running_total_quantile(&table, zeros(), 0.9, &sold_one, Some(2)), Some(2.0));
        let small = running_total_quantile(&table, std::iter::repeat_n((0.01, true), 7), 0.9, &[], Some(2));
        assert!(small.unwrap() >= 4.0, "{small:?}");
        let decoded: TotalTable = serde_json::from_value(serde_json::json!({ "spans": [] })).unwrap();
        assert!(decoded.zero.is_empty(), "tables saved before read a zero forecast's total as 0");
    }

    #[test]
    fn a_forecast_below_a_unit_does_not_read_the_ratios_of_the_tiniest_windows() {
        // Windows forecast at 0.01 units: nine in ten sell nothing, one in ten an order of 24
        // (a ratio of 2,400); fast sellers are about right.
        let mut samples: Vec<(usize, f64, f64)> =
            (0..1000).map(|i| (7, 0.01, if i % 10 == 0 { 2400.0 } else { 0.0 })).collect();
        samples.extend((0..1000).map(|i| (7, 50.0, 0.9 + f64::from(i % 20) / 100.0)));
        let table = TotalTable::from_samples(&[&samples]);
        // A dead SKU's 0.24 units read p95 at 0.24 x 2,400 = 576 units; now the order of 24
        // against the floor, shrunk with the forecast.
        let p95 = 0.24 * table.factor(7, 0.24, 0.95).unwrap();
        assert!((p95 - 0.24 * 24.0 / MIN_TOTAL_FORECAST).abs() < 1e-6, "{p95}");
        assert!(p95 < 576.0 / 20.0);

        // A table fitted before the floor holds the tiny forecasts' ratios in its smallest group;
        // read as it was, they stay there (the rules would carry 0.25 x 3,683 units up to every
        // larger forecast).
        let group = |forecast: f32, ratio: f32| VolumeGroup {
            forecast,
            percentiles: vec![ratio; 101],
            stretch: 1.0,
            tail_index: None,
        };
        let groups = vec![group(0.24, 3683.0), group(2.0, 3.0), group(20.0, 1.5)];
        let old = TotalTable {
            spans: vec![SpanGroups { open_days: 7, groups }],
            consistent: false,
            zero: Vec::new(),
        };
        let at_five = old.factor(7, 5.0, 0.95).unwrap();
        assert!(at_five > 1.5 && at_five < 3.0, "{at_five}");
        let reread = TotalTable { consistent: true, ..old.clone() };
        assert!(reread.factor(7, 5.0, 0.95).unwrap() > 100.0);
        let decoded: TotalTable = serde_json::from_value(serde_json::json!({ "spans": [] })).unwrap();
        assert!(!decoded.consistent, "tables saved before the flag read as they were");
        assert!((table.factor(7, 50.0, 0.95).unwrap() - 1.09).abs() < 0.011, "fast sellers as before");
    }

    #[test]
    fn groups_saved_before_the_tail_index_decode_without_it() {
        let old =
            VolumeGroup { forecast: 2.0, percentiles: vec![0.5, 1.0, 3.0], stretch: 1.0, tail_index: None };
        let json = serde_json::json!({ "forecast": 2.0, "percentiles": [0.5, 1.0, 3.0], "stretch": 1.0 });
        assert_eq!(serde_json::from_value::<VolumeGroup>(json).unwrap(), old);
        #[derive(Serialize)]
        struct Before {
            forecast: f32,
            percentiles: Vec<f32>,
            stretch: f32,
        }
        let bytes = rmp_serde::to_vec_named(&Before {
            forecast: 2.0,
            percentiles: vec![0.5, 1.0, 3.0],
            stretch: 1.0,
        })
        .unwrap();
        assert_eq!(rmp_serde::from_slice::<VolumeGroup>(&bytes).unwrap(), old);
        let with = VolumeGroup { tail_index: Some(0.5), ..old };
        let bytes = rmp_serde::to_vec_named(&with).unwrap();
        assert_eq!(rmp_serde::from_slice::<VolumeGroup>(&bytes).unwrap(), with);
    }
}
