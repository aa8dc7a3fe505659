//! The alert policy: from one SKU's stock position and forecast demand path to an [`Alert`]
//! with a severity and a suggested order.
//!
//! ## The arithmetic (`L` = lead time, `R` = cover days, `D(n)` = forecast units over the next
//! `n` calendar days, `z` = standard normal quantile of the service level)
//!
//! Orders are placed on open days: when the shop is shut for the `C` days after the count
//! ([`DemandPath::closed_days_ahead`]), every `L` below reads `C + L` (the span until an order
//! placed at the next chance would arrive), including where units on order are compared with the
//! lead time; `C` is 0 when tomorrow is open, and the alert says `closed_days_ahead`.
//! - **lead-time demand** `D(L)`: the point forecast summed over the lead time.
//! - **safety stock** `Q_L(s) - D(L)`, at least 0, where `Q_L(s)` is the path's total
//!   quantile ([`DemandPath::total_quantile`]) at the service level `s` for a total over the
//!   lead time's open days: `D(L)` times the empirical quantile of `actual total / forecast
//!   total` over the forecaster's backtest windows (for `D(L)` = 0, at least what windows
//!   forecast at 0 sold), so the reorder point below is that quantile, or `D(L)` when the
//!   quantile is below it. Levels
//!   above 0.95 read a power-law tail through the p90 and p95 factors
//!   (`forecast::quantiles::TAIL_SHARE`), not the few largest windows, and levels above 0.99
//!   read the 99th percentile (`TOTAL_LEVELS`): the backtest holds too few windows to say
//!   more. Forecast errors persist (a forecast too low
//!   stays too low for weeks), which daily bands summed as independent days miss: with them the
//!   p10-p90 of a 28-day total covered 21-30 % of actual totals on Online Retail.
//!   A path without a total spread (forecasts published before it existed) falls back to that
//!   sum, `z * sqrt(sum over the lead time of sigma_d^2)` with
//!   `sigma_d = (p90_d - p10_d) / (2 * 1.2816)`. The backtest (`shopsense eval alerts`)
//!   measures what the policy achieves on real demand.
//! - **reorder point** `D(L) + safety stock`; **inventory position** `on_hand + on_order`,
//!   where units on order count only when they arrive within the lead time (or no arrival day
//!   is given): units due after it arrive after an order placed now would, so they cannot keep
//!   the shelf stocked until then (500 units due in 30 days, with nothing on hand and a 7-day
//!   lead time, left the position "above the reorder point" and the shop told to order nothing).
//! - **order-up-to level** `D(L + R) + safety stock`: an order placed now should cover the lead
//!   time and then `R` more days. **Suggested order** `max(0, order-up-to - position)`; with
//!   units on order due after the lead time but within `L + R` days (day `d`), at least what
//!   lasts until they come, `D(d) + safety stock - position`, and counting them after it
//!   (`order-up-to - position - late units`), whichever is more; due after `L + R`, they are not
//!   counted. Rounded up to whole units and then up to a multiple of the SKU's pack size when
//!   one is given.
//! - **days of cover**: calendar days from tomorrow until the cumulative point forecast exceeds
//!   `on_hand` (the largest `d` with `D(d) <= on_hand`), counted on the path; when the stock
//!   outlasts the path it is the path's length and `days_of_cover_capped` says so; with nothing
//!   on hand it is 0, even when the first days ahead are closed.
//!
//! Days beyond the path (a lead time plus cover longer than the forecast, which is at most
//! 90 days) are forecast at the path's mean daily units and mean daily variance.
//!
//! ## Severity, first match wins
//! 1. `stockout_risk`: stock runs out before replenishment can arrive, short by more than half a
//!    unit (`D - stock > 0.5`, written `stock < D` below): stock is counted in whole units, and a
//!    SKU forecast to sell 0.1 units over its lead time sells nothing in most lead times (584 of
//!    Online Retail's 3,805 SKUs are forecast between 0 and 0.5 units over 7 days; with nothing on
//!    hand each was a stock-out risk, the top severity, ahead of a real shortage further down
//!    the list). Without an arrival day
//!    for the units on order (or with one beyond the lead time): `on_hand < D(L)`, since an
//!    order placed now is the first replenishment counted on. With units on order due in `d <= L`
//!    days: `on_hand < D(d)` (it runs out before they come) or `on_hand + on_order < D(L)`
//!    (together they do not last until an order placed now arrives). Such a SKU still gets
//!    `below_reorder_point` and its order when the position is at or below the reorder point.
//! 2. `below_reorder_point`: `position <= reorder point` with something to order (a SKU forecast
//!    to sell nothing, with a reorder point of 0 and nothing on hand, is `ok`, not an alert to
//!    order nothing). A line gone idle orders nothing: with stock on hand, unsold for at least
//!    `L + R` open days and forecast to sell under half a unit over `L + R` days, it is `ok`
//!    whatever its reorder point (what windows forecast at 0 sold after as long idle) says.
//!    With nothing on hand it may be unsold only for want of stock: it keeps its alert and
//!    order, and the reason asks which.
//! 3. `overstock`: stock less the safety stock covers more days, on the path extended as above,
//!    than the threshold, and is above 0 (a SKU forecast to sell nothing with stock beyond its
//!    safety stock, and beyond what one order leaves, below, is overstock): on hand from today, or on hand plus on order from the day the
//!    units on order arrive (due in `d` days, else the lead time; units due only after the
//!    threshold are not counted), that is, covering more than `d +` the threshold from today:
//!    before they come, the shop sells what it has. And it holds more than one order to the
//!    order-up-to level does, rounded up to whole units and a whole pack: the policy never calls overstock what
//!    its own orders leave (with a 70-day lead time, following its advice was flagged as
//!    overstock by the next count, and a slow SKU's one pack can hold months of demand). The
//!    safety stock is held for the lead time's uncertainty, not to be sold off: a SKU forecast
//!    at 0 whose lead time's p95 is 4 units, holding 3, was told both to order one more and that
//!    it held too much.
//! 4. `ok`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::alert::{Alert, Severity};
use super::demand::DemandPath;
use super::errors::AlertError;
use super::inventory::{InventoryRow, MAX_LEAD_TIME_DAYS, SERVICE_LEVEL_RANGE};
use super::normal::{Z_P90, inverse_normal_cdf};
use crate::forecast::model::MAX_HORIZON;
use crate::forecast::quantiles::TOTAL_LEVELS;
use crate::sku::normalise_sku;

/// Units a stock must fall short of a demand by to run out ([`runs_short`]).
const SHORT_BY: f64 = 0.5;

/// `stock` (whole units) falls short of the forecast `demand` by more than half a unit.
fn runs_short(stock: f64, demand: f64) -> bool {
    demand - stock > SHORT_BY
}

/// How alerts are raised and orders sized; per-SKU lead times and service levels in the
/// snapshot override the defaults here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertPolicy {
    /// Supplier lead time in days when the snapshot gives none (default 7, at most 365).
    pub lead_time_days: u32,
    /// Probability of not running out during a lead time when the snapshot gives none
    /// (default 0.95, in the open interval (0.5, 0.9999)).
    pub service_level: f64,
    /// Days of demand an order should cover beyond its lead time: the review period, since the
    /// next order decision comes about that much later (default 28, 1..=365).
    pub cover_days: u32,
    /// Days of cover above which stock is overstock (default 90; must exceed `cover_days`, or
    /// every freshly replenished SKU would be flagged).
    pub overstock_cover_days: u32,
    /// Units per pack by SKU (normalised: trimmed, upper-case); orders are rounded up to a whole
    /// number of packs. SKUs not listed order in single units.
    pub pack_sizes: BTreeMap<String, u32>,
    /// Lines the shop no longer sells (normalised SKUs, from the catalogue's `discontinued`):
    /// never reordered; their stock is judged only for overstock, with no safety stock held.
    pub discontinued: BTreeSet<String>,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            lead_time_days: 7,
            service_level: 0.95,
            cover_days: 28,
            overstock_cover_days: 90,
            pack_sizes: BTreeMap::new(),
            discontinued: BTreeSet::new(),
        }
    }
}

impl AlertPolicy {
    /// Refuses parameters outside their documented ranges.
    pub fn check(&self) -> Result<(), AlertError> {
        let invalid = |name, reason: String| Err(AlertError::InvalidParams { name, reason });
        if self.lead_time_days > MAX_LEAD_TIME_DAYS {
            return invalid("lead_time_days", format!("{} is above 365", self.lead_time_days));
        }
        let (low, high) = SERVICE_LEVEL_RANGE;
        if !(self.service_level > low && self.service_level < high) {
            return invalid("service_level", format!("{} is outside ({low}, {high})", self.service_level));
        }
        if !(1..=365).contains(&self.cover_days) {
            return invalid("cover_days", format!("{} is outside 1..=365", self.cover_days));
        }
        if self.overstock_cover_days <= self.cover_days {
            return invalid(
                "overstock_cover_days",
                format!("{} must exceed cover_days {}", self.overstock_cover_days, self.cover_days),
            );
        }
        for (sku, &pack) in &self.pack_sizes {
            if sku.is_empty() || normalise_sku(sku) != *sku {
                return invalid(
                    "pack_sizes",
                    format!("key {sku:?} is not a normalised SKU (trimmed, upper-case)"),
                );
            }
            if pack == 0 {
                return invalid("pack_sizes", format!("{sku}: a pack of 0 units"));
            }
        }
        if let Some(sku) = self.discontinued.iter().find(|sku| sku.is_empty() || normalise_sku(sku) != **sku)
        {
            return invalid("discontinued", format!("{sku:?} is not a normalised SKU (trimmed, upper-case)"));
        }
        Ok(())
    }

    /// Calendar days to forecast for this policy's default lead time and cover (at most 90):
    /// pass it to `ForecastModel::predict` with [`super::DEMAND_PATH_LEVELS`].
    #[must_use]
    pub fn horizon(&self) -> usize {
        (self.lead_time_days as usize + self.cover_days as usize).clamp(1, MAX_HORIZON)
    }

    /// The pack size of `sku`, if one is set.
    #[must_use]
    pub fn pack_size(&self, sku: &str) -> Option<u32> {
        self.pack_sizes.get(sku).copied().filter(|&p| p > 0)
    }

    /// The alert for one SKU (see the module docs for every formula). Values the snapshot did
    /// not check (a row built by hand) are clamped to the documented ranges.
    #[must_use]
    pub fn evaluate(&self, row: &InventoryRow, path: &DemandPath) -> Alert {
        let lead_time_days = row.lead_time_days.unwrap_or(self.lead_time_days).min(MAX_LEAD_TIME_DAYS);
        let (low, high) = SERVICE_LEVEL_RANGE;
        let service_level = row.service_level.unwrap_or(self.service_level).clamp(low, high);
        let lead = lead_time_days as usize;
        // Orders are placed on open days: closed days ahead (a weekly closure, a holiday break)
        // put the next order after today's beyond them, so stock must last through them and
        // then a lead time. A Friday count before a closed Saturday covers the Saturday too, and
        // the last count before Christmas the break and a lead time after it.
        let closed_ahead = path.closed_days_ahead();
        let protected = lead + closed_ahead;
        let demand = Extended::new(path);
        let lead_time_demand = super::alert::units(demand.units(protected));
        let quantile = path.total_quantile(protected, lead_time_demand, service_level);
        // The total factors stop at the 99th percentile: say so rather than echo a higher level.
        let read_as = (quantile.is_some() && service_level > TOTAL_LEVELS.1).then_some(TOTAL_LEVELS.1);
        let safety_stock = super::alert::units(quantile.map_or_else(
            || inverse_normal_cdf(service_level) * demand.variance(protected).sqrt(),
            |quantile| (quantile - lead_time_demand).max(0.0),
        ));
        let reorder_point = lead_time_demand + safety_stock;
        let horizon = protected + self.cover_days as usize;
        let order_up_to = super::alert::units(demand.units(horizon)) + safety_stock;
        // Units on order due after the lead time are not in the position: an order placed now
        // comes first.
        let late_due = row.on_order_due_days.filter(|&d| row.on_order > 0 && d as usize > protected);
        let position = if late_due.is_some() { row.on_hand } else { row.position() };
        let pack_size = self.pack_size(&row.sku);
        let shortfall = match late_due {
            // They come within the cover: last until they do, then count them.
            Some(d) if d as usize <= horizon => (demand.units(d as usize) + safety_stock - position as f64)
                .max(order_up_to - position as f64 - row.on_order as f64)
                .max(0.0),
            _ => (order_up_to - position as f64).max(0.0),
        };
        let discontinued = self.discontinued.contains(&row.sku);
        // Idle: no sale for at least as many open days as the lead time and cover span (as
        // given: closed days ahead do not move it), and forecast to sell under half a unit over
        // it. With stock on the shelf all that time the line has gone idle: an order for the tail
        // of windows that sold after as long (the reorder point of a SKU forecast at 0), or for
        // 0.01 units rounded up, is noise. With nothing on hand it may be idle only for want of
        // stock: its order stays, and its reason asks which (a whole count of Online Retail's
        // 3,805 lines had 265 such orders among 1,019 reorder alerts, 66 for lines unsold over
        // 180 days). A SKU that sold lately keeps its order either way.
        let span = lead + self.cover_days as usize;
        let idle = path.idle_days().filter(|&idle| idle >= span && demand.units(span) < SHORT_BY);
        let gone_idle = idle.is_some() && row.on_hand > 0;
        let suggested_order_qty = if discontinued || gone_idle { 0 } else { round_up(shortfall, pack_size) };
        let on_hand = row.on_hand as f64;
        let days_of_cover = demand.cover(on_hand, path.len());
        let days_of_cover_capped = days_of_cover >= path.len();
        let overstock_days = self.overstock_cover_days as usize;
        // On the position: units on order arrive, and then the shop holds them; not those the
        // snapshot says come only after the threshold (on hand may run out before them).
        let arriving = match row.on_order_due_days {
            Some(d) if d as usize > overstock_days => 0,
            _ => row.on_order,
        };
        let held = row.on_hand + arriving;
        // Units on order are held once they come: the shop holds too much when what is left then
        // covers more than the threshold, so they are judged at their arrival day (the lead time
        // when the snapshot gives none), while on hand alone is judged from today. A long lead
        // time's order-up-to level (lead time + cover days) is not overstock once ordered.
        let arrival = match row.on_order_due_days {
            _ if arriving == 0 => 0,
            Some(d) => d as usize,
            None => lead,
        };
        let beyond = |stock: u64, from: usize| {
            let excess = stock as f64 - safety_stock;
            excess > 0.0 && demand.cover(excess, from + overstock_days + 1) > from + overstock_days
        };
        // Nor is what a whole pack ordered to the order-up-to level leaves (a slow SKU's pack
        // may hold months of demand, but it is the least the shop can buy).
        let one_order =
            (order_up_to - 1e-9).ceil().max(0.0) + f64::from(pack_size.unwrap_or(1).max(1) - 1) + 1e-9;
        let overstocked = if discontinued {
            // Nothing more is bought and nothing is held against a lead time: all of it is to be
            // sold, and too much when it outlasts the threshold.
            held > 0 && demand.cover(held as f64, overstock_days + 1) > overstock_days
        } else {
            held as f64 > one_order && (beyond(row.on_hand, 0) || beyond(held, arrival))
        };
        // Units on order count against a stock-out only when the snapshot says they arrive within
        // the lead time: then on hand must last until they come, and both together the lead time.
        let due = row.on_order_due_days.filter(|&d| row.on_order > 0 && d as usize <= protected);
        let (stockout_risk, due_demand) = match due {
            Some(d) => {
                let until_due = demand.units(d as usize);
                (
                    runs_short(on_hand, until_due) || runs_short(position as f64, lead_time_demand),
                    Some(until_due),
                )
            }
            None => (runs_short(on_hand, lead_time_demand), None),
        };
        let severity = if discontinued {
            if overstocked { Severity::Overstock } else { Severity::Ok }
        } else if stockout_risk {
            Severity::StockoutRisk
        } else if (position as f64) <= reorder_point && suggested_order_qty > 0 {
            Severity::BelowReorderPoint
        } else if overstocked {
            Severity::Overstock
        } else {
            Severity::Ok
        };
        let cover_text = if days_of_cover_capped {
            format!("more than {days_of_cover} days (the whole forecast)")
        } else {
            plural_days(days_of_cover)
        };
        let lead_text = match closed_ahead {
            0 => format!("{lead_time_days}-day lead time"),
            closed => format!(
                "{lead_time_days}-day lead time of an order placed after the {} closed ahead",
                plural_days(closed)
            ),
        };
        let order_text = if suggested_order_qty > 0 {
            format!("order {suggested_order_qty}")
        } else {
            "nothing to order: the position already reaches the order-up-to level".to_owned()
        };
        let reason = match severity {
            Severity::StockoutRisk => match (due, due_demand) {
                (Some(d), Some(until_due)) if runs_short(on_hand, until_due) => format!(
                    "on hand {} lasts {cover_text}, less than the {} until the {} on order \
                     arrive (demand {until_due:.1} by then); {order_text}",
                    row.on_hand,
                    plural_days(d as usize),
                    row.on_order
                ),
                (Some(d), Some(_)) => format!(
                    "on hand {} with the {} on order due in {} falls short of the demand over the \
                     {lead_text}, {lead_time_demand:.1}; {order_text}",
                    row.on_hand,
                    row.on_order,
                    plural_days(d as usize)
                ),
                _ => format!(
                    "on hand {} lasts {cover_text}, less than the {lead_text} (lead-time demand \
                     {lead_time_demand:.1}); {order_text}{}",
                    row.on_hand,
                    match row.on_order_due_days {
                        _ if row.on_order == 0 => String::new(),
                        Some(d) => format!(
                            " (on order {} due in {}, after the lead time)",
                            row.on_order,
                            plural_days(d as usize)
                        ),
                        None => format!(" (on order {}, arrival not given)", row.on_order),
                    },
                ),
            },
            Severity::BelowReorderPoint => format!(
                "{}position {position} ({}) is at or below the reorder point {reorder_point:.1}; \
                 {order_text}",
                match idle {
                    Some(days) => format!(
                        "out of stock and unsold for {days} open days: gone idle, or out of stock that \
                         long? Order only if it still sells. "
                    ),
                    None => String::new(),
                },
                match late_due {
                    Some(d) => format!(
                        "on hand {}; the {} on order due in {} come after the lead time",
                        row.on_hand,
                        row.on_order,
                        plural_days(d as usize)
                    ),
                    None => format!("on hand {} + on order {}", row.on_hand, row.on_order),
                }
            ),
            Severity::Overstock => format!(
                "{} covers more than {overstock_days} days of forecast demand \
                 ({:.2} units a day over the next {} days)",
                if arriving == 0 || beyond(row.on_hand, 0) {
                    format!("on hand {}", row.on_hand)
                } else if arrival == 0 {
                    format!("on hand {} + on order {arriving}", row.on_hand)
                } else {
                    format!(
                        "on hand {} + on order {arriving}, less the demand until it arrives in {},",
                        row.on_hand,
                        plural_days(arrival)
                    )
                },
                demand.units(path.len()) / path.len() as f64,
                path.len()
            ),
            Severity::Ok if gone_idle && (position as f64) <= reorder_point => format!(
                "on hand {} unsold for {} open days and forecast to sell {:.2} units over the next {}: \
                 nothing to order (at the service level up to {reorder_point:.1} may sell over the \
                 lead time; order when the line sells again)",
                row.on_hand,
                idle.unwrap_or_default(),
                demand.units(span),
                plural_days(span)
            ),
            Severity::Ok if (position as f64) <= reorder_point => match late_due {
                Some(d) => format!(
                    "position {position} lasts until the {} on order due in {} arrive, and with \
                     them the order-up-to level {order_up_to:.1}: nothing to order; cover {cover_text}",
                    row.on_order,
                    plural_days(d as usize)
                ),
                None => format!(
                    "position {position} is at the reorder point and the order-up-to level \
                     {order_up_to:.1}: nothing to order; cover {cover_text}"
                ),
            },
            Severity::Ok => format!(
                "position {position} is above the reorder point {reorder_point:.1}; cover {cover_text}"
            ),
        };
        let reason = if discontinued {
            let held_text = if arriving == 0 {
                format!("on hand {}", row.on_hand)
            } else {
                format!("on hand {} + on order {arriving}", row.on_hand)
            };
            match severity {
                Severity::Overstock => format!(
                    "discontinued: nothing to order; {held_text} covers more than {overstock_days} days of \
                     forecast demand ({:.2} units a day over the next {} days): clear it",
                    demand.units(path.len()) / path.len() as f64,
                    path.len()
                ),
                _ if arriving == 0 => {
                    format!("discontinued: nothing to order; on hand {} lasts {cover_text}", row.on_hand)
                }
                _ => format!(
                    "discontinued: nothing to order; on hand {} lasts {cover_text}, and {arriving} more are on order",
                    row.on_hand
                ),
            }
        } else {
            reason
        };
        let reason = match read_as {
            Some(level) => format!(
                "{reason} (service level {service_level} read as {level}: the backtests hold too few \
                 windows to say more)"
            ),
            None => reason,
        };
        // Nothing is held back or ordered up to for a line no longer sold.
        let (safety_stock, reorder_point, order_up_to) = if discontinued {
            (0.0, lead_time_demand, 0.0)
        } else {
            (safety_stock, reorder_point, order_up_to)
        };
        Alert {
            sku: row.sku.clone(),
            severity,
            on_hand: row.on_hand,
            on_order: row.on_order,
            on_order_due_days: row.on_order_due_days,
            inventory_position: position,
            lead_time_days,
            closed_days_ahead: u32::try_from(closed_ahead).unwrap_or(u32::MAX),
            service_level,
            service_level_read_as: read_as,
            lead_time_demand,
            safety_stock,
            reorder_point,
            order_up_to,
            days_of_cover: u32::try_from(days_of_cover).unwrap_or(u32::MAX),
            days_of_cover_capped,
            forecast_days: path.len(),
            suggested_order_qty,
            pack_size,
            reason,
            description: None,
            discontinued,
        }
    }
}

/// `units` rounded up to whole units, then up to a multiple of `pack`.
fn round_up(units: f64, pack: Option<u32>) -> u64 {
    // Forecast sums carry float noise: 296.0000000001 units is 296.
    let whole = (units - 1e-9).ceil().max(0.0) as u64;
    match pack {
        Some(pack) if pack > 1 => whole.div_ceil(u64::from(pack)) * u64::from(pack),
        _ => whole,
    }
}

/// The path with days beyond its end at its mean daily units and variance.
struct Extended<'a> {
    path: &'a DemandPath,
    rate: f64,
    variance_rate: f64,
}

impl<'a> Extended<'a> {
    fn new(path: &'a DemandPath) -> Self {
        let days = path.len().max(1) as f64;
        let rate = path.mean.iter().sum::<f64>() / days;
        let variance_rate = (0..path.len()).map(|d| day_variance(path, d)).sum::<f64>() / days;
        Self { path, rate, variance_rate }
    }

    /// Forecast units over the first `days` days.
    fn units(&self, days: usize) -> f64 {
        let known = days.min(self.path.len());
        self.path.mean[..known].iter().sum::<f64>() + (days - known) as f64 * self.rate
    }

    /// Variance of the demand summed over the first `days` days (days independent).
    fn variance(&self, days: usize) -> f64 {
        let known = days.min(self.path.len());
        (0..known).map(|d| day_variance(self.path, d)).sum::<f64>()
            + (days - known) as f64 * self.variance_rate
    }

    /// The largest `d <= limit` with `units(d) <= stock`.
    fn cover(&self, stock: f64, limit: usize) -> usize {
        // No stock covers no day, even when the first days ahead are closed.
        if stock <= 0.0 {
            return 0;
        }
        let mut total = 0.0;
        for d in 0..limit {
            total += self.path.mean.get(d).copied().unwrap_or(self.rate);
            // Tolerance: a stock of exactly 10 covers two forecast days of 5.000000001.
            if total > stock + 1e-9 {
                return d;
            }
        }
        limit
    }
}

/// Day `d`'s variance from its p10–p90 spread under a normal.
fn day_variance(path: &DemandPath, d: usize) -> f64 {
    let sigma = (path.p90[d] - path.p10[d]).max(0.0) / (2.0 * Z_P90);
    sigma * sigma
}

/// `1 day`, `3 days`.
fn plural_days(days: usize) -> String {
    format!("{days} day{}", if days == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z95: f64 = 1.644_853_626_951_472_2;

    /// `days` days of `mean` a day with a per-day sigma of `sigma` (p10/p90 at -/+ 1.2816 sigma).
    fn flat(days: usize, mean: f64, sigma: f64) -> DemandPath {
        let first = "2011-12-10".parse().unwrap();
        let spread = Z_P90 * sigma;
        DemandPath::new(
            "A",
            first,
            vec![mean; days],
            vec![(mean - spread).max(0.0); days],
            vec![mean; days],
            vec![mean + spread; days],
        )
        .unwrap()
    }

    fn row(on_hand: u64, on_order: u64, lead: u32) -> InventoryRow {
        InventoryRow {
            on_order,
            lead_time_days: Some(lead),
            service_level: Some(0.95),
            ..InventoryRow::new("A", on_hand)
        }
    }

    /// Equal to the 1/10,000 of a unit alerts hold (two rounded parts may add up 1e-4 apart).
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-4 + 1e-9
    }

    #[test]
    fn lead_time_demand_safety_stock_and_reorder_point_by_hand() {
        // 10 a day, sigma 2 a day, lead time 4: D(L) = 40, sigma_L = 2 * sqrt(4) = 4,
        // safety stock = 1.6449 * 4 = 6.5794, reorder point 46.5794,
        // order-up-to = D(4 + 28) + 6.5794 = 326.5794.
        let policy = AlertPolicy::default();
        let alert = policy.evaluate(&row(45, 0, 4), &flat(40, 10.0, 2.0));
        assert!(close(alert.lead_time_demand, 40.0), "{alert:?}");
        assert!(close(alert.safety_stock, Z95 * 4.0), "{alert:?}");
        assert!(close(alert.reorder_point, 40.0 + Z95 * 4.0), "{alert:?}");
        assert!(close(alert.order_up_to, 320.0 + Z95 * 4.0), "{alert:?}");
        assert_eq!(alert.severity, Severity::BelowReorderPoint, "45 <= 46.58, and 45 >= 40 on hand");
        assert_eq!(alert.suggested_order_qty, 282, "326.58 - 45 = 281.58, rounded up");
        assert_eq!(alert.days_of_cover, 4);
        assert!(!alert.days_of_cover_capped);
    }

    /// SKU A's path with zero-width daily bands at `mean` and its totals spread by `table`.
    fn spread_path(
        mean: Vec<f64>,
        open: Vec<bool>,
        table: crate::forecast::quantiles::TotalTable,
    ) -> DemandPath {
        let first = "2011-12-10".parse().unwrap();
        DemandPath::new("A", first, mean.clone(), mean.clone(), mean.clone(), mean)
            .unwrap()
            .with_totals("A", std::sync::Arc::new(table), open, Vec::new(), None)
            .unwrap()
    }

    #[test]
    fn a_longer_lead_time_never_lowers_the_reorder_point() {
        // One day's total spreads 0..10 times its forecast, a week's is always exact: read one
        // total at a time, the 0.95 quantile of a day (95 units) is above the week's (70).
        let mut samples: Vec<(usize, f64, f64)> =
            (0..=1000).map(|i| (1, 10.0, f64::from(i) / 100.0)).collect();
        samples.extend((0..=1000).map(|_| (7, 70.0, 1.0)));
        let table = crate::forecast::quantiles::TotalTable::from_samples(&[&samples]);
        assert!(10.0 * table.factor(1, 10.0, 0.95).unwrap() > 70.0 * table.factor(7, 70.0, 0.95).unwrap());
        let path = spread_path(vec![10.0; 40], vec![true; 40], table);
        let points: Vec<f64> = (1..=60)
            .map(|lead| AlertPolicy::default().evaluate(&row(0, 0, lead), &path).reorder_point)
            .collect();
        assert!(points.windows(2).all(|w| w[1] >= w[0] - 1e-9), "{points:?}");
        assert!(points[6] >= points[0] && points[0] > 90.0, "{points:?}");
    }

    #[test]
    fn a_count_before_a_closure_covers_it_and_a_lead_time_after_it() {
        // Every total exact; the shop is shut for the 11 days after the count (the Christmas
        // break) and sells 10 a day from the 12th day on.
        let samples: Vec<(usize, f64, f64)> = (1..=30).map(|n| (n, 10.0 * n as f64, 1.0)).collect();
        let table = crate::forecast::quantiles::TotalTable::from_samples(&[&samples]);
        let open: Vec<bool> = (0..60).map(|d| d >= 11).collect();
        let mean: Vec<f64> = open.iter().map(|&o| if o { 10.0 } else { 0.0 }).collect();
        let path = spread_path(mean.clone(), open, table.clone());
        assert_eq!(path.closed_days_ahead(), 11);
        // Ordered now, 100 units arrive in the break; the next order, on the first open day,
        // arrives 7 days later, so the 100 must last those 7 days (70 units): they do.
        let alert = AlertPolicy::default().evaluate(&row(100, 0, 7), &path);
        assert_eq!(alert.closed_days_ahead, 11);
        assert!(close(alert.lead_time_demand, 70.0), "{alert:?}");
        assert_eq!(alert.severity, Severity::Ok, "{alert:?}");
        // 50 do not: a stock-out before an order placed after the break can arrive, though
        // nothing sells over the 7-day lead time of an order placed today.
        let alert = AlertPolicy::default().evaluate(&row(50, 0, 7), &path);
        assert_eq!(alert.severity, Severity::StockoutRisk, "{alert:?}");
        assert!(
            alert.reason.contains("7-day lead time of an order placed after the 11 days closed ahead"),
            "{}",
            alert.reason
        );
        assert!(close(alert.order_up_to, 70.0 + 280.0), "18 days, then 28 of cover: {alert:?}");
        assert_eq!(alert.suggested_order_qty, 300);
        // Units on order due within the break and the lead time after it count.
        let due = InventoryRow { on_order_due_days: Some(15), ..row(0, 80, 7) };
        let alert = AlertPolicy::default().evaluate(&due, &path);
        assert_eq!(alert.inventory_position, 80, "due in 15 days, before day 18: {alert:?}");
        // With tomorrow open nothing changes: the lead time alone.
        let open_path = spread_path(mean[11..].to_vec(), vec![true; 49], table);
        let alert = AlertPolicy::default().evaluate(&row(50, 0, 7), &open_path);
        assert_eq!((alert.closed_days_ahead, alert.lead_time_demand), (0, 70.0));
        assert!(!serde_json::to_string(&alert).unwrap().contains("closed_days_ahead"));
    }

    #[test]
    fn with_a_total_spread_the_reorder_point_is_the_lead_time_demands_quantile() {
        // Totals over n open days: ratios 0.5..1.5 uniform at n = 1, 3 u^3 (u uniform) at n = 4;
        // the path is open every day but the second. Lead time 5 -> 4 open days; D(5) = 40.
        let mut samples: Vec<(usize, f64, f64)> =
            (0..=1000).map(|i| (1, 10.0, 0.5 + f64::from(i) / 1000.0)).collect();
        samples.extend((0..=1000).map(|i| (4, 40.0, 3.0 * (f64::from(i) / 1000.0).powi(3))));
        let table = crate::forecast::quantiles::TotalTable::from_samples(&[&samples]);
        let open: Vec<bool> = (0..40).map(|d| d != 1).collect();
        let mut mean = vec![10.0; 40];
        mean[1] = 0.0;
        let path = spread_path(mean, open, table);
        let alert = AlertPolicy::default().evaluate(&row(45, 0, 5), &path);
        // The 0.95 quantile of the 4-open-day ratio is 3 * 0.95^3 = 2.572125: reorder point
        // 102.885, safety stock 62.885 (the daily bands, zero-width here, would give none).
        assert!(close(alert.lead_time_demand, 40.0), "{alert:?}");
        assert!((alert.reorder_point - 102.885).abs() < 1e-3, "{alert:?}");
        assert!((alert.safety_stock - 62.885).abs() < 1e-3, "{alert:?}");
        // The 0.6 quantile, 3 * 0.6^3 = 0.648, is below the point forecast: no (negative)
        // safety stock.
        let low = AlertPolicy { service_level: 0.6, ..AlertPolicy::default() };
        let alert = low.evaluate(&InventoryRow { service_level: None, ..row(45, 0, 5) }, &path);
        assert_eq!(alert.safety_stock, 0.0, "{alert:?}");
        assert!(!alert.reason.contains("read as"), "{}", alert.reason);
        // Above 0.99 the factors read their 99th percentile, and the reason says so.
        let at = |level| {
            AlertPolicy::default()
                .evaluate(&InventoryRow { service_level: Some(level), ..row(45, 0, 5) }, &path)
        };
        let (p99, p999) = (at(0.99), at(0.999));
        assert_eq!(p99.reorder_point, p999.reorder_point);
        assert_eq!(
            (p99.service_level_read_as, p999.service_level_read_as),
            (None, Some(0.99)),
            "a field says it too"
        );
        assert!(!p99.reason.contains("read as"), "{}", p99.reason);
        assert!(
            p999.reason.ends_with(
                "(service level 0.999 read as 0.99: the backtests hold too few windows to say more)"
            ),
            "{}",
            p999.reason
        );
    }

    #[test]
    fn the_order_is_rounded_up_to_the_pack_size() {
        let policy =
            AlertPolicy { pack_sizes: BTreeMap::from([("A".to_owned(), 12)]), ..AlertPolicy::default() };
        policy.check().unwrap();
        let alert = policy.evaluate(&row(30, 0, 4), &flat(40, 10.0, 2.0));
        // 326.58 - 30 = 296.58 -> 297 units -> 25 packs of 12.
        assert_eq!(alert.suggested_order_qty, 300);
        assert_eq!(alert.pack_size, Some(12));
        let exact =
            AlertPolicy { pack_sizes: BTreeMap::from([("A".to_owned(), 10)]), ..AlertPolicy::default() };
        let alert = exact.evaluate(&row(30, 0, 4), &flat(40, 10.0, 0.0));
        assert_eq!(alert.suggested_order_qty, 290, "320 - 30 is already a whole number of packs");
    }

    #[test]
    fn a_discontinued_line_is_never_reordered_and_only_its_overstock_is_raised() {
        let policy = AlertPolicy {
            discontinued: BTreeSet::from(["A".to_owned()]),
            pack_sizes: BTreeMap::from([("A".to_owned(), 12)]),
            ..AlertPolicy::default()
        };
        policy.check().unwrap();
        let path = flat(35, 2.0, 0.5);
        // Nothing on hand: a stock-out risk for a line on sale, nothing for one discontinued.
        let empty = policy.evaluate(&row(0, 0, 7), &path);
        assert_eq!(AlertPolicy::default().evaluate(&row(0, 0, 7), &path).severity, Severity::StockoutRisk);
        assert_eq!((empty.severity, empty.suggested_order_qty), (Severity::Ok, 0), "{empty:?}");
        assert!(empty.discontinued);
        assert_eq!((empty.safety_stock, empty.order_up_to), (0.0, 0.0), "nothing held back or ordered up to");
        assert!(close(empty.reorder_point, empty.lead_time_demand), "{empty:?}");
        assert!(empty.reason.starts_with("discontinued: nothing to order"), "{}", empty.reason);
        // 170 on hand lasts 85 days: below the threshold of 90, so nothing to say.
        assert_eq!(policy.evaluate(&row(170, 0, 7), &path).severity, Severity::Ok);
        // 184 lasts 92 days: a line on sale holds its safety stock (2.2) beyond them, which is not
        // overstock, but all of a discontinued line's stock is to be sold.
        assert_eq!(AlertPolicy::default().evaluate(&row(184, 0, 7), &path).severity, Severity::Ok);
        let over = policy.evaluate(&row(184, 0, 7), &path);
        assert_eq!((over.severity, over.suggested_order_qty), (Severity::Overstock, 0), "{over:?}");
        assert!(over.reason.contains("covers more than 90 days"), "{}", over.reason);
        // Units already on order are stock it will hold.
        assert_eq!(policy.evaluate(&row(100, 90, 7), &path).severity, Severity::Overstock);
        // Another SKU is judged as before.
        let other = InventoryRow { sku: "B".into(), ..row(0, 0, 7) };
        assert_eq!(policy.evaluate(&other, &path).severity, Severity::StockoutRisk);
    }

    #[test]
    fn policies_refuse_a_discontinued_sku_that_is_not_normalised() {
        let policy =
            AlertPolicy { discontinued: BTreeSet::from(["a ".to_owned()]), ..AlertPolicy::default() };
        assert!(policy.check().unwrap_err().to_string().contains("discontinued"));
    }

    #[test]
    fn on_hand_below_lead_time_demand_is_a_stockout_risk_even_with_stock_on_order() {
        let alert = AlertPolicy::default().evaluate(&row(35, 500, 4), &flat(40, 10.0, 2.0));
        assert_eq!(alert.severity, Severity::StockoutRisk);
        assert_eq!(alert.days_of_cover, 3);
        assert_eq!(alert.suggested_order_qty, 0, "the position 535 exceeds the order-up-to level");
        assert!(alert.reason.contains("on order 500, arrival not given"), "{}", alert.reason);
    }

    #[test]
    fn a_slow_sku_with_nothing_on_hand_is_a_stockout_risk_only_when_short_by_more_than_half_a_unit() {
        let policy = AlertPolicy::default();
        // 0.05 a day: D(7) = 0.35, most lead times sell nothing. Still an order to place.
        let slow = policy.evaluate(&row(0, 0, 7), &flat(40, 0.05, 0.0));
        assert_eq!(slow.severity, Severity::BelowReorderPoint, "{slow:?}");
        assert_eq!(slow.suggested_order_qty, 2, "D(35) = 1.75");
        // 0.1 a day: D(7) = 0.7, short by more than half a unit.
        assert_eq!(policy.evaluate(&row(0, 0, 7), &flat(40, 0.1, 0.0)).severity, Severity::StockoutRisk);
        // One unit on hand against 1.4: short by 0.4; against 1.75, by 0.75.
        assert_ne!(policy.evaluate(&row(1, 0, 7), &flat(40, 0.2, 0.0)).severity, Severity::StockoutRisk);
        assert_eq!(policy.evaluate(&row(1, 0, 7), &flat(40, 0.25, 0.0)).severity, Severity::StockoutRisk);
    }

    #[test]
    fn stock_on_order_due_within_the_lead_time_counts_against_a_stockout() {
        // 10 a day, lead time 7 (D(L) = 70), 100 on order.
        let policy = AlertPolicy::default();
        let path = flat(40, 10.0, 2.0);
        let due =
            |on_hand, on_order, days| InventoryRow { on_order_due_days: days, ..row(on_hand, on_order, 7) };
        // 30 on hand lasts 3 days (D(3) = 30): units due at the end of day 3 come in time, at
        // the end of day 4 they do not.
        let alert = policy.evaluate(&due(30, 100, Some(3)), &path);
        assert_ne!(alert.severity, Severity::StockoutRisk, "{alert:?}");
        assert_eq!(alert.on_order_due_days, Some(3));
        let alert = policy.evaluate(&due(30, 100, Some(4)), &path);
        assert_eq!(alert.severity, Severity::StockoutRisk);
        assert!(
            alert.reason.contains("less than the 4 days until the 100 on order arrive"),
            "{}",
            alert.reason
        );
        // Due tomorrow but too little: 30 + 30 < 70.
        let alert = policy.evaluate(&due(30, 30, Some(1)), &path);
        assert_eq!(alert.severity, Severity::StockoutRisk);
        assert!(alert.reason.contains("with the 30 on order due in 1 day falls short"), "{}", alert.reason);
        // Due today (end of day 0): only the total counts.
        assert_ne!(policy.evaluate(&due(0, 100, Some(0)), &path).severity, Severity::StockoutRisk);
        // 75 on hand covers the lead time (D(7) = 70) but not day 8: units due after the lead
        // time are not counted on, and an order placed now comes first, so no risk either way.
        let alert = policy.evaluate(&due(75, 100, Some(10)), &path);
        assert_ne!(alert.severity, Severity::StockoutRisk, "{alert:?}");
        // Due after the lead time, or not said, with too little on hand: a risk, and the reason
        // says why the units on order were not counted.
        let alert = policy.evaluate(&due(30, 100, Some(10)), &path);
        assert_eq!(alert.severity, Severity::StockoutRisk);
        assert!(
            alert.reason.contains("(on order 100 due in 10 days, after the lead time)"),
            "{}",
            alert.reason
        );
        let alert = policy.evaluate(&due(30, 100, None), &path);
        assert!(alert.reason.contains("(on order 100, arrival not given)"), "{}", alert.reason);
    }

    #[test]
    fn units_on_order_due_after_the_lead_time_are_not_in_the_position() {
        let policy = AlertPolicy::default();
        let due = |on_hand, on_order, days| InventoryRow {
            on_order_due_days: Some(days),
            ..row(on_hand, on_order, 7)
        };
        // 1 a day, lead time 7, cover 28: 7 on hand meets the lead time, and the 20 due in a
        // year do not lift the position above the reorder point 7; the order covers 35 days.
        let alert = policy.evaluate(&due(7, 20, 365), &flat(40, 1.0, 0.0));
        assert_eq!(alert.severity, Severity::BelowReorderPoint, "{alert:?}");
        assert_eq!(alert.suggested_order_qty, 28);
        assert!(
            alert.reason.contains("the 20 on order due in 365 days come after the lead time"),
            "{}",
            alert.reason
        );
        // Due within the lead time they count, as before.
        assert_eq!(policy.evaluate(&due(7, 20, 5), &flat(40, 1.0, 0.0)).severity, Severity::Ok);
        // 10 a day, nothing on hand, 500 due in 30 days: order what lasts until they come
        // (D(30) = 300), not nothing because the 500 would cover the 35 days once there.
        let alert = policy.evaluate(&due(0, 500, 30), &flat(40, 10.0, 0.0));
        assert_eq!(alert.severity, Severity::StockoutRisk);
        assert_eq!(alert.suggested_order_qty, 300, "{alert:?}");
        // 50 due in 30 days: lasting until they come needs 300, the whole cover 350 - 50.
        assert_eq!(policy.evaluate(&due(0, 50, 30), &flat(40, 10.0, 0.0)).suggested_order_qty, 300);
        assert_eq!(policy.evaluate(&due(0, 20, 30), &flat(40, 10.0, 0.0)).suggested_order_qty, 330);
    }

    #[test]
    fn a_position_at_the_reorder_point_is_below_it_and_one_more_unit_is_ok() {
        // sigma 0: reorder point exactly 40.
        let policy = AlertPolicy::default();
        assert_eq!(
            policy.evaluate(&row(40, 0, 4), &flat(40, 10.0, 0.0)).severity,
            Severity::BelowReorderPoint
        );
        let ok = policy.evaluate(&row(40, 1, 4), &flat(40, 10.0, 0.0));
        assert_eq!(ok.severity, Severity::Ok);
        assert_eq!(ok.suggested_order_qty, 279, "the order-up-to level is 320");
    }

    #[test]
    fn stock_covering_more_than_the_threshold_is_overstock_beyond_the_path() {
        // 35 forecast days at 2 a day; 200 on hand lasts 100 days, past the path and past 90.
        let policy = AlertPolicy::default();
        let alert = policy.evaluate(&row(200, 0, 7), &flat(35, 2.0, 0.5));
        assert_eq!(alert.severity, Severity::Overstock);
        assert_eq!((alert.days_of_cover, alert.days_of_cover_capped), (35, true));
        assert_eq!(alert.suggested_order_qty, 0);
        // 170 lasts 85 days: capped on the path, but not overstock.
        let alert = policy.evaluate(&row(170, 0, 7), &flat(35, 2.0, 0.5));
        assert_eq!(alert.severity, Severity::Ok);
        assert!(alert.days_of_cover_capped);
        // 100 on hand and 5,000 on order: 2,550 days of demand once it arrives.
        let alert = policy.evaluate(&row(100, 5000, 7), &flat(35, 2.0, 0.5));
        assert_eq!(alert.severity, Severity::Overstock);
        assert_eq!(alert.days_of_cover, 35, "cover counts what is on hand: {alert:?}");
        assert!(
            alert.reason.starts_with(
                "on hand 100 + on order 5000, less the demand until it arrives in 7 days, covers \
                 more than 90 days"
            ),
            "{}",
            alert.reason
        );
        // The same order due only in 120 days: on hand runs out long before; not overstock.
        let late = InventoryRow { on_order_due_days: Some(120), ..row(100, 5000, 7) };
        assert_eq!(policy.evaluate(&late, &flat(35, 2.0, 0.5)).severity, Severity::Ok);
        let soon = InventoryRow { on_order_due_days: Some(20), ..row(100, 5000, 7) };
        assert_eq!(policy.evaluate(&soon, &flat(35, 2.0, 0.5)).severity, Severity::Overstock);
    }

    #[test]
    fn what_the_policy_orders_is_not_overstock_at_the_next_count() {
        let policy = AlertPolicy::default();
        // 10 a day, lead time 70: the order-up-to level covers 98 days, past the threshold of 90.
        let long =
            |on_hand, on_order, due| InventoryRow { on_order_due_days: due, ..row(on_hand, on_order, 70) };
        let path = flat(90, 10.0, 0.0);
        let first = policy.evaluate(&long(700, 0, None), &path);
        assert_eq!((first.severity, first.suggested_order_qty), (Severity::BelowReorderPoint, 280));
        for due in [Some(70), None] {
            let next = policy.evaluate(&long(700, 280, due), &path);
            assert_eq!(next.severity, Severity::Ok, "the order placed, due {due:?}: {next:?}");
        }
        // 2,000 on order is too much: 2,700 cover 270 days, 200 past the arrival and the 90.
        let twice = policy.evaluate(&long(700, 2000, Some(70)), &path);
        assert_eq!(twice.severity, Severity::Overstock, "{twice:?}");
        assert!(twice.reason.contains("less the demand until it arrives in 70 days"), "{}", twice.reason);
        // On hand alone beyond the threshold is overstock whatever is on order.
        let held = policy.evaluate(&long(1500, 10, Some(70)), &path);
        assert!(held.reason.starts_with("on hand 1500 covers more than 90 days"), "{}", held.reason);

        // A slow SKU sold in packs of 24: one pack lasts 240 days, and is no overstock.
        let packed = AlertPolicy { pack_sizes: [("A".to_owned(), 24)].into(), ..AlertPolicy::default() };
        let slow = flat(90, 0.1, 0.0);
        let order = packed.evaluate(&row(0, 0, 7), &slow);
        assert_eq!(order.suggested_order_qty, 24);
        assert_eq!(packed.evaluate(&row(24, 0, 7), &slow).severity, Severity::Ok);
        assert_eq!(packed.evaluate(&row(30, 0, 7), &slow).severity, Severity::Overstock);
        assert_eq!(policy.evaluate(&row(24, 0, 7), &slow).severity, Severity::Overstock, "in single units");
    }

    #[test]
    fn days_of_cover_count_closed_days_until_the_forecast_exceeds_the_stock() {
        // 5, 0 (closed), 5, 5: 10 units cover days 1-3 and run out on day 4.
        let first = "2011-12-10".parse().unwrap();
        let mean = vec![5.0, 0.0, 5.0, 5.0];
        let path = DemandPath::new("A", first, mean.clone(), mean.clone(), mean.clone(), mean).unwrap();
        let alert = AlertPolicy::default().evaluate(&row(10, 0, 1), &path);
        assert_eq!((alert.days_of_cover, alert.days_of_cover_capped), (3, false));
        // Nothing on hand covers nothing, a closed tomorrow or not.
        let closed_first =
            DemandPath::new("A", first, vec![0.0, 5.0], vec![0.0, 5.0], vec![0.0, 5.0], vec![0.0, 5.0])
                .unwrap();
        let alert = AlertPolicy::default().evaluate(&row(0, 0, 2), &closed_first);
        assert_eq!(alert.days_of_cover, 0);
        assert!(alert.reason.contains("on hand 0 lasts 0 days"), "{}", alert.reason);
    }

    #[test]
    fn a_sku_forecast_to_sell_nothing_orders_what_such_skus_sold_and_holds_no_more() {
        let policy = AlertPolicy::default();
        let empty = policy.evaluate(&row(0, 0, 7), &flat(35, 0.0, 0.0));
        assert_eq!(empty.severity, Severity::Ok, "position 0 at the reorder point 0, nothing to order");
        assert_eq!(empty.suggested_order_qty, 0);
        assert!(close(empty.safety_stock, 0.0) && close(empty.lead_time_demand, 0.0));
        assert!(empty.reason.contains("nothing to order"), "{}", empty.reason);
        let stocked = policy.evaluate(&row(3, 0, 7), &flat(35, 0.0, 0.0));
        assert_eq!(stocked.severity, Severity::Overstock);

        // With what windows forecast at 0 sold after a few idle days (p95 of a week 4 units):
        // 3 on hand is below that reorder point, not overstock; 10 holds 6 beyond it.
        let zero: Vec<(usize, usize, f64)> =
            (0..1000).map(|i| (2, 7, if i % 10 < 9 { 0.0 } else { 4.0 })).collect();
        let ratios: Vec<(usize, f64, f64)> = (0..1000).map(|_| (7, 10.0, 1.0)).collect();
        let table =
            crate::forecast::quantiles::TotalTable::from_samples(&[&ratios]).with_zero_forecasts(&[&zero], 6);
        let open: Vec<bool> = (0..35).map(|d| d % 7 != 5).collect();
        let path_open = |open: &[bool], idle| {
            DemandPath::new(
                "A",
                "2011-12-10".parse().unwrap(),
                vec![0.0; 35],
                vec![0.0; 35],
                vec![0.0; 35],
                vec![0.0; 35],
            )
            .unwrap()
            .with_totals("A", std::sync::Arc::new(table.clone()), open.to_vec(), Vec::new(), idle)
            .unwrap()
        };
        let path = |idle| path_open(&open, idle);
        // A week of 7 days holds 6 open ones: 6/7 of the 7-open-day span's 4 units.
        let week = 4.0 * 6.0 / 7.0;
        let low = policy.evaluate(&row(3, 0, 7), &path(Some(2)));
        assert!(close(low.reorder_point, week), "{low:?}");
        assert_eq!((low.severity, low.suggested_order_qty), (Severity::BelowReorderPoint, 1), "{low:?}");
        // That order placed and come, 4 on hand is what it leaves: ok, not overstock.
        assert_eq!(policy.evaluate(&row(4, 0, 7), &path(Some(2))).severity, Severity::Ok);
        assert_eq!(policy.evaluate(&row(10, 0, 7), &path(Some(2))).severity, Severity::Overstock);
        // Idle as long as the lead time and cover (14 days at a week's cover) with stock on the
        // shelf, and forecast at 0: a line gone idle, not reordered for the windows that sold
        // after as long.
        let short = AlertPolicy { cover_days: 7, ..AlertPolicy::default() };
        let gone = short.evaluate(&row(3, 0, 7), &path(Some(14)));
        assert!(close(gone.reorder_point, week), "{gone:?}");
        assert_eq!((gone.severity, gone.suggested_order_qty), (Severity::Ok, 0), "{gone:?}");
        assert!(
            gone.reason.starts_with(
                "on hand 3 unsold for 14 open days and forecast to sell 0.00 units over the next 14 days"
            ),
            "{}",
            gone.reason
        );
        assert_eq!(short.evaluate(&row(3, 0, 7), &path(Some(13))).severity, Severity::BelowReorderPoint);
        // With nothing on hand it may be unsold for want of stock: its order stays, and asks.
        let empty = short.evaluate(&row(0, 0, 7), &path(Some(14)));
        assert_eq!(
            (empty.severity, empty.suggested_order_qty),
            (Severity::BelowReorderPoint, 4),
            "{empty:?}"
        );
        assert!(
            empty.reason.starts_with("out of stock and unsold for 14 open days: gone idle"),
            "{}",
            empty.reason
        );
        // Closed days ahead do not move the span: a Friday before a closed Saturday reads alike.
        let mut friday = open.clone();
        friday[0] = false;
        let alert = short.evaluate(&row(3, 0, 7), &path_open(&friday, Some(14)));
        assert_eq!((alert.closed_days_ahead, alert.severity), (1, Severity::Ok), "{alert:?}");
        // Idle 20 weeks: that group has no windows here, and nothing is read for it.
        assert_eq!(policy.evaluate(&row(0, 0, 7), &path(Some(120))).reorder_point, 0.0);
        // Read 14 days on, the skipped open days count as idle: the same group until 4 weeks.
        assert!(close(policy.evaluate(&row(3, 0, 7), &path(Some(2)).skip(14)).reorder_point, week));
        assert_eq!(policy.evaluate(&row(3, 0, 7), &path(Some(20)).skip(14)).reorder_point, 0.0);
    }

    #[test]
    fn a_lead_time_longer_than_the_path_is_extrapolated_at_the_path_rate() {
        // 10 days at 4 a day, lead time 30: D(30) = 120; variance 20 more days at sigma 1.
        let alert = AlertPolicy::default().evaluate(&row(500, 0, 30), &flat(10, 4.0, 1.0));
        assert!(close(alert.lead_time_demand, 120.0), "{alert:?}");
        assert!(close(alert.safety_stock, Z95 * 30f64.sqrt()), "{alert:?}");
        assert!(close(alert.order_up_to, 4.0 * 58.0 + Z95 * 30f64.sqrt()), "{alert:?}");
    }

    #[test]
    fn the_row_overrides_the_policy_defaults() {
        let policy = AlertPolicy::default();
        let default_row = InventoryRow::new("A", 100);
        let alert = policy.evaluate(&default_row, &flat(40, 10.0, 2.0));
        assert_eq!((alert.lead_time_days, alert.service_level), (7, 0.95));
        let own = InventoryRow { lead_time_days: Some(3), service_level: Some(0.8), ..default_row };
        let alert = policy.evaluate(&own, &flat(40, 10.0, 2.0));
        assert!(close(alert.safety_stock, 0.841_621_233_572_914_3 * 2.0 * 3f64.sqrt()), "{alert:?}");
    }

    #[test]
    fn policies_outside_their_ranges_are_refused() {
        AlertPolicy::default().check().unwrap();
        assert!(AlertPolicy { service_level: 0.5, ..AlertPolicy::default() }.check().is_err());
        assert!(AlertPolicy { lead_time_days: 366, ..AlertPolicy::default() }.check().is_err());
        assert!(AlertPolicy { overstock_cover_days: 28, ..AlertPolicy::default() }.check().is_err());
        let lower =
            AlertPolicy { pack_sizes: BTreeMap::from([("a".to_owned(), 6)]), ..AlertPolicy::default() };
        assert!(lower.check().is_err());
        let zero =
            AlertPolicy { pack_sizes: BTreeMap::from([("A".to_owned(), 0)]), ..AlertPolicy::default() };
        assert!(zero.check().is_err());
        let parsed: AlertPolicy = serde_json::from_str(r#"{"service_level": 0.9}"#).unwrap();
        assert_eq!(parsed, AlertPolicy { service_level: 0.9, ..AlertPolicy::default() });
        assert!(serde_json::from_str::<AlertPolicy>(r#"{"lead_time": 3}"#).is_err());
    }
}
