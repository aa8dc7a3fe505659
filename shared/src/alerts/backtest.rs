//! A replay of the alert policy on a demand history: each SKU's stock simulated day by day under
//! our policy (the forecaster refitted as the days pass) and under a naive fixed reorder point,
//! scored on stock-outs, fill rate, cycle service level, stock held and orders placed.
//!
//! ## The simulation
//! - **Window**: the second half of the panel's calendar days, from day `days / 2` (0-based) to
//!   the last; the days before are the training part (on the UCI Online Retail file: 187
//!   training days 2010-12-01..2011-06-05, 187 simulated days 2011-06-06..2011-12-09).
//! - **Each simulated day**: that day's demand is served from stock on hand; demand not met is
//!   lost (counted, never back-ordered). Then the orders due that day are received; then, on a
//!   day the shop trades (the panel's trading calendar: not a weekly closure or a holiday
//!   break), the policy looks at its position (on hand + on order) and may order.
//! - **Lead time**: an order placed at the end of day `t` is received at the end of day
//!   `t + lead time`, so the stock on hand must cover exactly the lead time's days
//!   `t + 1 ..= t + L`, which is what the policy's lead-time demand measures.
//! - **Start**: each policy starts with its own order-up-to level on hand and nothing on order.
//!
//! ## The policies
//! - **ours** ([`AlertPolicy::evaluate`] at a service level): the forecaster is fitted on the
//!   history up to the day before the window, then refitted every `refit_every_days` days on
//!   the history up to that day (forecasting `refit_every + lead + cover` days, at most 90, so
//!   every day until the next refit reads the same forecast from its own tomorrow). Each day it
//!   orders the suggested quantity when the position is at or below the reorder point.
//! - **naive**: a reorder point fixed at the start, the mean daily demand over the training
//!   part (all its calendar days) times the lead time times `naive_reorder_factor` (1.5, a
//!   rule of thumb of half a lead time's demand as buffer), and a fixed order of the mean daily
//!   demand times `naive_order_days` (28, rounded up), placed whenever the position is at or
//!   below the reorder point. It starts with reorder point + order quantity on hand.
//!
//! The panel's SKUs are chosen by total units over the whole file (a look-ahead both policies
//! share).

use std::time::Instant;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::demand::{DEMAND_PATH_LEVELS, DemandPath};
use super::errors::AlertError;
use super::inventory::{InventoryRow, MAX_LEAD_TIME_DAYS, SERVICE_LEVEL_RANGE};
use super::policy::AlertPolicy;
use crate::forecast::calendar::{TradingCalendar, add_days};
use crate::forecast::model::MAX_HORIZON;
use crate::forecast::{ForecasterParams, Panel};

/// Fewest training days (before the window) the backtest accepts.
pub const MIN_TRAINING_DAYS: usize = 14;

/// How to replay the policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BacktestParams {
    /// Lead time of every order, in days (default 7, at most 365).
    pub lead_time_days: u32,
    /// Our policy's service level (default 0.95).
    pub service_level: f64,
    /// A second service level for our policy, to show the trade-off (default 0.8).
    pub compare_service_level: f64,
    /// Our policy's cover beyond the lead time, in days (default 28, as [`AlertPolicy`]).
    pub cover_days: u32,
    /// Days between refits of the forecaster (default 1, as the nightly retrain runs in
    /// production: the 188 refits of the Online Retail top 100 over its second half take about
    /// 3.5 s on 2 cores; weekly refits react a week late to a burst of demand and leave more
    /// stock-outs).
    pub refit_every_days: usize,
    /// The naive reorder point in lead times of mean demand (default 1.5).
    pub naive_reorder_factor: f64,
    /// The naive order quantity in days of mean demand (default 28).
    pub naive_order_days: f64,
    /// The forecaster; its `horizon` is replaced by `lead + cover` (at most 90), the horizon
    /// the forecasts are used for (each refit is still fitted for at most its
    /// `max_fit_horizon`, 28 days by default, as the nightly retrain's).
    pub forecaster: ForecasterParams,
}

impl Default for BacktestParams {
    fn default() -> Self {
        Self {
            lead_time_days: 7,
            service_level: 0.95,
            compare_service_level: 0.8,
            cover_days: 28,
            refit_every_days: 1,
            naive_reorder_factor: 1.5,
            naive_order_days: 28.0,
            forecaster: ForecasterParams::default(),
        }
    }
}

/// One policy's outcome over every SKU-day of the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    /// `ours` or `naive`.
    pub policy: String,
    /// Our policy's service level (`None` for naive).
    pub service_level: Option<f64>,
    /// SKU-days with demand not met in full.
    pub stockout_days: u64,
    /// SKU-days simulated.
    pub sku_days: u64,
    /// Units served over units demanded.
    pub fill_rate: f64,
    /// Units demanded.
    pub units_demanded: f64,
    /// Units served from stock.
    pub units_served: f64,
    /// Units demanded and not served (lost sales).
    pub units_lost: f64,
    /// Mean units on hand at the end of a day, per SKU-day.
    pub avg_on_hand: f64,
    /// Orders placed.
    pub orders: u64,
    /// Units ordered.
    pub units_ordered: f64,
    /// Orders received within the window (with a lead time of 0 an order has no lead time to
    /// run out in and is not a cycle).
    pub cycles: u64,
    /// Share of those orders whose lead time (the days after the order up to its arrival) saw
    /// no stock-out: the cycle service level the policy's `service_level` aims at (`None`
    /// without a received order).
    pub cycle_service_level: Option<f64>,
}

/// What `shopsense eval alerts` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// SKUs simulated.
    pub skus: usize,
    /// Calendar days before the window (the naive policy's training part).
    pub training_days: usize,
    /// First simulated day.
    pub first_day: NaiveDate,
    /// Last simulated day.
    pub last_day: NaiveDate,
    /// Simulated calendar days.
    pub days: usize,
    /// Lead time of every order.
    pub lead_time_days: u32,
    /// Our policy's cover beyond the lead time.
    pub cover_days: u32,
    /// Days between refits.
    pub refit_every_days: usize,
    /// Fits of the forecaster (the first included).
    pub refits: usize,
    /// Calendar days each refit forecasts.
    pub forecast_horizon: usize,
    /// Ours at `service_level`, ours at `compare_service_level` (when it is another), naive.
    pub policies: Vec<PolicyOutcome>,
    /// Seconds spent fitting and forecasting.
    pub fit_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
}

impl BacktestParams {
    /// Refuses parameters outside their documented ranges.
    pub fn check(&self) -> Result<(), AlertError> {
        let invalid = |name, reason: String| Err(AlertError::InvalidParams { name, reason });
        if self.lead_time_days > MAX_LEAD_TIME_DAYS {
            return invalid("lead_time_days", format!("{} is above 365", self.lead_time_days));
        }
        let (low, high) = SERVICE_LEVEL_RANGE;
        for (name, level) in
            [("service_level", self.service_level), ("compare_service_level", self.compare_service_level)]
        {
            if !(level > low && level < high) {
                return invalid(name, format!("{level} is outside ({low}, {high})"));
            }
        }
        if !(1..=365).contains(&self.cover_days) {
            return invalid("cover_days", format!("{} is outside 1..=365", self.cover_days));
        }
        if self.refit_every_days == 0 {
            return invalid("refit_every_days", "must be at least 1".into());
        }
        if !(self.naive_reorder_factor >= 0.0 && self.naive_reorder_factor.is_finite()) {
            return invalid("naive_reorder_factor", "must be >= 0".into());
        }
        if !(self.naive_order_days > 0.0 && self.naive_order_days.is_finite()) {
            return invalid("naive_order_days", "must be > 0".into());
        }
        Ok(self.forecaster.check()?)
    }

    /// Our policy at `service_level`.
    fn policy(&self, service_level: f64) -> AlertPolicy {
        AlertPolicy {
            lead_time_days: self.lead_time_days,
            service_level,
            cover_days: self.cover_days,
            overstock_cover_days: AlertPolicy::default().overstock_cover_days.max(self.cover_days + 1),
            ..AlertPolicy::default()
        }
    }

    /// Replays both policies over the second half of `panel` (see the module docs).
    pub fn run(&self, panel: &Panel) -> Result<BacktestReport, AlertError> {
        self.check()?;
        let started = Instant::now();
        let start = panel.days / 2;
        if start < MIN_TRAINING_DAYS || panel.skus.is_empty() {
            return Err(AlertError::InvalidParams {
                name: "panel",
                reason: format!(
                    "{} SKUs over {} days: the backtest needs SKUs and at least {} days",
                    panel.skus.len(),
                    panel.days,
                    2 * MIN_TRAINING_DAYS
                ),
            });
        }
        let lead = self.lead_time_days as usize;
        let cover = self.cover_days as usize;
        let horizon = (self.refit_every_days + lead + cover).clamp(1, MAX_HORIZON);
        let forecaster =
            ForecasterParams { horizon: (lead + cover).clamp(1, MAX_HORIZON), ..self.forecaster.clone() };

        // Fits at the end of day start - 1, start - 1 + k * refit_every, ...: `paths[k][sku]`.
        let refit_days: Vec<usize> = (start - 1..panel.days).step_by(self.refit_every_days).collect();
        let fitting = Instant::now();
        let mut paths: Vec<Vec<DemandPath>> = Vec::with_capacity(refit_days.len());
        for &day in &refit_days {
            let model = forecaster.fit(&history(panel, day + 1))?;
            let forecasts = model.predict(horizon, &DEMAND_PATH_LEVELS)?;
            paths.push(DemandPath::all_from(&model, &forecasts)?);
        }
        let fit_seconds = fitting.elapsed().as_secs_f64();

        // Orders are placed on open days only, by either policy (ours counts the closed days
        // ahead of a count before its lead time): the trading calendar of the whole panel.
        let open = TradingCalendar::from_demand(panel.first, &panel.values).open;
        let mut policies = Vec::new();
        // The comparison level only when it is another (`--service-level 0.8` printed two rows).
        let levels = if self.compare_service_level == self.service_level {
            vec![self.service_level]
        } else {
            vec![self.service_level, self.compare_service_level]
        };
        for level in levels {
            let policy = self.policy(level);
            let mut total = Tally::default();
            for (s, demand) in panel.values.iter().enumerate() {
                let path_on = |day: usize| {
                    // The latest refit at or before `day` (refit_days[0] = start - 1 <= day).
                    let k = (day + 1 - start) / self.refit_every_days;
                    paths[k][s].skip(day - refit_days[k])
                };
                let row = |on_hand: f64, on_order: f64| InventoryRow {
                    on_order: on_order.round() as u64,
                    lead_time_days: Some(self.lead_time_days),
                    service_level: Some(level),
                    ..InventoryRow::new(&panel.skus[s], on_hand.round().max(0.0) as u64)
                };
                let initial = policy.evaluate(&row(0.0, 0.0), &path_on(start - 1)).order_up_to.ceil();
                total.add(&simulate(demand, start, lead, initial, |day, on_hand, on_order| {
                    if !open[day] {
                        return 0.0;
                    }
                    let alert = policy.evaluate(&row(on_hand, on_order), &path_on(day));
                    if (alert.inventory_position as f64) <= alert.reorder_point {
                        alert.suggested_order_qty as f64
                    } else {
                        0.0
                    }
                }));
            }
            policies.push(total.outcome("ours", Some(level)));
        }
        let mut naive = Tally::default();
        for demand in &panel.values {
            let mean = demand[..start].iter().sum::<f64>() / start as f64;
            let reorder_point = mean * lead as f64 * self.naive_reorder_factor;
            let quantity = (mean * self.naive_order_days).ceil();
            naive.add(&simulate(
                demand,
                start,
                lead,
                (reorder_point + quantity).ceil(),
                |day, on_hand, on_order| {
                    if open[day] && on_hand + on_order <= reorder_point { quantity } else { 0.0 }
                },
            ));
        }
        policies.push(naive.outcome("naive", None));
        Ok(BacktestReport {
            skus: panel.skus.len(),
            training_days: start,
            first_day: add_days(panel.first, start),
            last_day: panel.last(),
            days: panel.days - start,
            lead_time_days: self.lead_time_days,
            cover_days: self.cover_days,
            refit_every_days: self.refit_every_days,
            refits: refit_days.len(),
            forecast_horizon: horizon,
            policies,
            fit_seconds,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// The first `days` days of `panel`.
fn history(panel: &Panel, days: usize) -> Panel {
    Panel {
        first: panel.first,
        days,
        skus: panel.skus.clone(),
        values: panel.values.iter().map(|v| v[..days].to_vec()).collect(),
    }
}

/// Sums over SKU-days.
#[derive(Debug, Clone, Default, PartialEq)]
struct Tally {
    demanded: f64,
    served: f64,
    stockout_days: u64,
    sku_days: u64,
    on_hand: f64,
    orders: u64,
    ordered: f64,
    cycles: u64,
    cycles_short: u64,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.demanded += other.demanded;
        self.served += other.served;
        self.stockout_days += other.stockout_days;
        self.sku_days += other.sku_days;
        self.on_hand += other.on_hand;
        self.orders += other.orders;
        self.ordered += other.ordered;
        self.cycles += other.cycles;
        self.cycles_short += other.cycles_short;
    }

    fn outcome(&self, policy: &str, service_level: Option<f64>) -> PolicyOutcome {
        PolicyOutcome {
            policy: policy.to_owned(),
            service_level,
            stockout_days: self.stockout_days,
            sku_days: self.sku_days,
            fill_rate: if self.demanded > 0.0 { self.served / self.demanded } else { 1.0 },
            units_demanded: self.demanded,
            units_served: self.served,
            units_lost: self.demanded - self.served,
            avg_on_hand: if self.sku_days > 0 { self.on_hand / self.sku_days as f64 } else { 0.0 },
            orders: self.orders,
            units_ordered: self.ordered,
            cycles: self.cycles,
            cycle_service_level: (self.cycles > 0)
                .then(|| 1.0 - self.cycles_short as f64 / self.cycles as f64),
        }
    }
}

/// One SKU from day `start` to the end of `demand`, starting with `initial` on hand. `decide(day,
/// on_hand, on_order)` runs at the end of each day and returns the units to order (0: none).
fn simulate(
    demand: &[f64],
    start: usize,
    lead: usize,
    initial: f64,
    mut decide: impl FnMut(usize, f64, f64) -> f64,
) -> Tally {
    let mut tally = Tally::default();
    let mut on_hand = initial;
    // (arrival day, units, a stock-out since it was ordered), in order of arrival.
    let mut pipeline: std::collections::VecDeque<(usize, f64, bool)> = std::collections::VecDeque::new();
    for (day, &wanted) in demand.iter().enumerate().skip(start) {
        let served = wanted.min(on_hand);
        on_hand -= served;
        tally.demanded += wanted;
        tally.served += served;
        if wanted > served {
            tally.stockout_days += 1;
            pipeline.iter_mut().for_each(|(_, _, short)| *short = true);
        }
        while let Some((_, units, short)) = pipeline.pop_front_if(|(arrival, _, _)| *arrival <= day) {
            on_hand += units;
            tally.cycles += 1;
            tally.cycles_short += u64::from(short);
        }
        tally.sku_days += 1;
        tally.on_hand += on_hand;
        let on_order: f64 = pipeline.iter().map(|(_, units, _)| units).sum();
        let quantity = decide(day, on_hand, on_order);
        if quantity > 0.0 {
            tally.orders += 1;
            tally.ordered += quantity;
            if lead == 0 {
                on_hand += quantity;
            } else {
                pipeline.push_back((day + lead, quantity, false));
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(series: &[(&str, Vec<f64>)]) -> Panel {
        let first: NaiveDate = "2011-01-03".parse().unwrap();
        Panel {
            first,
            days: series[0].1.len(),
            skus: series.iter().map(|(s, _)| (*s).to_owned()).collect(),
            values: series.iter().map(|(_, v)| v.clone()).collect(),
        }
    }

    #[test]
    fn an_order_placed_at_the_end_of_a_day_arrives_a_lead_time_later_and_unmet_demand_is_lost() {
        // Demand 4 a day from day 0, 5 on hand, lead time 2, order 10 when the position <= 3.
        // Day 0: serve 4 (1 left), order 10 (arrives end of day 2). Day 1: serve 1 of 4, lost 3.
        // Day 2: serve 0, lost 4, receive 10. Day 3: serve 4 (6 left). Day 4: serve 4 (2 left),
        // order 10. Day 5: serve 2, lost 2.
        let demand = vec![4.0; 6];
        let mut decisions = Vec::new();
        let tally = simulate(&demand, 0, 2, 5.0, |day, on_hand, on_order| {
            decisions.push((day, on_hand, on_order));
            if on_hand + on_order <= 3.0 { 10.0 } else { 0.0 }
        });
        assert_eq!(
            decisions,
            vec![(0, 1.0, 0.0), (1, 0.0, 10.0), (2, 10.0, 0.0), (3, 6.0, 0.0), (4, 2.0, 0.0), (5, 0.0, 10.0)]
        );
        assert_eq!(tally.stockout_days, 3);
        assert_eq!((tally.demanded, tally.served), (24.0, 15.0));
        assert_eq!((tally.orders, tally.ordered), (2, 20.0));
        assert_eq!(tally.on_hand, 1.0 + 0.0 + 10.0 + 6.0 + 2.0 + 0.0);
    }

    #[test]
    fn the_naive_policy_by_hand_on_constant_demand() {
        // 100 days of 10: the window is days 50..100. Reorder point 10 * 7 * 1.5 = 105, order
        // 280, start 385. The position reaches 105 at the end of window day 27; the order lands
        // at the end of day 34; no other order before the end; never out of stock.
        let params = BacktestParams { refit_every_days: 28, ..BacktestParams::default() };
        let report = params.run(&panel(&[("A", vec![10.0; 100])])).unwrap();
        let naive = &report.policies[2];
        assert_eq!((naive.orders, naive.units_ordered, naive.stockout_days), (1, 280.0, 0));
        // End-of-day stock: 375 - 10 i for i <= 33, then 655 - 10 i; summed 7140 + 3840 over 50.
        assert!((naive.avg_on_hand - 219.6).abs() < 1e-9, "{naive:?}");
        assert_eq!((report.training_days, report.days, report.refits), (50, 50, 2));
        assert_eq!(report.first_day, "2011-02-22".parse::<NaiveDate>().unwrap());
        // Ours on a constant series never runs out either, and orders in 28-day covers.
        let ours = &report.policies[0];
        assert_eq!(ours.stockout_days, 0, "{ours:?}");
        assert!((ours.fill_rate - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ours_runs_out_less_than_the_naive_policy_on_a_rising_trend() {
        // Demand rising from 4 to about 40 a day over 240 days, with +-30 % deterministic noise:
        // the naive reorder point, fixed on the first half's mean, falls ever further behind.
        let mut state = 7u64;
        let mut noise = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as f64 / f64::from(1u32 << 31) * 0.6 - 0.3
        };
        let rising: Vec<f64> =
            (0..240).map(|t| ((4.0 + 0.15 * f64::from(t)) * (1.0 + noise())).round()).collect();
        let params = BacktestParams { refit_every_days: 14, ..BacktestParams::default() };
        let report = params.run(&panel(&[("UP", rising)])).unwrap();
        let (ours, naive) = (&report.policies[0], &report.policies[2]);
        assert!(naive.stockout_days >= 20, "the trend must hurt the naive policy: {naive:?}");
        // 8 stock-out days against 27 (a window average still lags a trend by half its window).
        assert!(ours.stockout_days * 3 < naive.stockout_days, "ours {ours:?}\nnaive {naive:?}");
        assert!(ours.fill_rate > naive.fill_rate);
        for outcome in &report.policies {
            assert!((outcome.units_served + outcome.units_lost - outcome.units_demanded).abs() < 1e-9);
            assert_eq!(outcome.sku_days, 120);
        }
    }

    #[test]
    fn a_lower_service_level_holds_less_stock() {
        let mut state = 11u64;
        let mut noise = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as f64 / f64::from(1u32 << 31)
        };
        let lumpy: Vec<f64> = (0..200).map(|_| (noise() * 20.0).round()).collect();
        let report = BacktestParams { refit_every_days: 28, ..BacktestParams::default() }
            .run(&panel(&[("L", lumpy)]))
            .unwrap();
        let (high, low) = (&report.policies[0], &report.policies[1]);
        assert_eq!((high.service_level, low.service_level), (Some(0.95), Some(0.8)));
        assert!(low.avg_on_hand < high.avg_on_hand, "{low:?}\n{high:?}");
    }

    #[test]
    fn too_short_a_history_is_refused() {
        assert!(BacktestParams::default().run(&panel(&[("A", vec![1.0; 20])])).is_err());
        assert!(BacktestParams { refit_every_days: 0, ..BacktestParams::default() }.check().is_err());
    }
}
