//! What the policy says about a SKU ([`Alert`], [`Severity`]) and about a whole snapshot
//! ([`AlertRun`], [`evaluate_snapshot`]).

use serde::{Deserialize, Serialize};

use super::demand::DemandPath;
use super::inventory::InventorySnapshot;
use super::policy::AlertPolicy;

/// How urgent a SKU's stock position is, most urgent first (the derived order sorts that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stock on hand runs out before replenishment can arrive: an order placed now, or units on
    /// order that the snapshot says arrive sooner.
    StockoutRisk,
    /// The inventory position is at or below the reorder point: order now.
    BelowReorderPoint,
    /// The position (on hand, and on order when due within the overstock threshold or with no
    /// arrival day) covers more days than the overstock threshold.
    Overstock,
    /// Nothing to do.
    Ok,
}

impl Severity {
    /// The serialised name (`stockout_risk`, `below_reorder_point`, `overstock`, `ok`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StockoutRisk => "stockout_risk",
            Self::BelowReorderPoint => "below_reorder_point",
            Self::Overstock => "overstock",
            Self::Ok => "ok",
        }
    }

    /// The severity of an open alert named as [`Severity::as_str`] names it (`ok` is no alert).
    ///
    /// # Errors
    /// Any other name, with the names it takes.
    pub fn of_alert(name: &str) -> Result<Self, String> {
        [Self::StockoutRisk, Self::BelowReorderPoint, Self::Overstock]
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                format!("severity must be stockout_risk, below_reorder_point or overstock, got {name:?}")
            })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Units as alerts hold and write them: to 1/10,000 (a forecast's own precision), not the 17
/// digits of a double (`15.0129`, not `15.012905359268188`). The policy rounds the lead-time
/// demand and safety stock before adding them up and judging, so what an alert shows adds up
/// and agrees with its severity.
pub(crate) fn units(value: f64) -> f64 {
    (value * 1e4).round() / 1e4
}

/// A count left out of an alert when 0.
#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// [`units`] when writing (a sum of two rounded values may carry float noise).
fn to_units<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(units(*value))
}

/// The policy's verdict on one SKU, with every figure it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The SKU (normalised).
    pub sku: String,
    /// How urgent.
    pub severity: Severity,
    /// Units on hand in the snapshot.
    pub on_hand: u64,
    /// Units on order in the snapshot.
    pub on_order: u64,
    /// Days until they arrive, as the snapshot gave it (counted on only when within the lead
    /// time and something is on order).
    #[serde(default)]
    pub on_order_due_days: Option<u32>,
    /// `on_hand + on_order`, but not units on order due after the lead time (an order placed now
    /// comes first): what the reorder point is compared with.
    pub inventory_position: u64,
    /// The lead time used (the row's, or the policy's default).
    pub lead_time_days: u32,
    /// Closed days from tomorrow before the next open one (0: tomorrow is open). Orders are
    /// placed on open days, so the next order after today's is placed after them: the
    /// lead-time demand, reorder point and order-up-to level count them before the lead time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub closed_days_ahead: u32,
    /// The service level asked for (the row's, or the policy's default).
    pub service_level: f64,
    /// The level the safety stock was read at when it is not `service_level`: above 0.99 the
    /// backtests hold too few windows to say more, so 0.999 reads the 99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level_read_as: Option<f64>,
    /// Forecast units over the closed days ahead and then the lead time: what must be on hand
    /// until an order placed at the next chance would arrive.
    #[serde(serialize_with = "to_units")]
    pub lead_time_demand: f64,
    /// Units held against forecast error over the closed days ahead and the lead time, at the
    /// service level.
    #[serde(serialize_with = "to_units")]
    pub safety_stock: f64,
    /// `lead_time_demand + safety_stock`.
    #[serde(serialize_with = "to_units")]
    pub reorder_point: f64,
    /// Forecast units over the closed days ahead, the lead time and the cover days, plus the
    /// safety stock: what an order brings the position up to.
    #[serde(serialize_with = "to_units")]
    pub order_up_to: f64,
    /// Calendar days from tomorrow that `on_hand` lasts at the forecast, closed days included
    /// (on them the forecast is 0, so stock lasts through them).
    pub days_of_cover: u32,
    /// The stock outlasts the forecast: `days_of_cover` is the forecast's length, a lower bound.
    pub days_of_cover_capped: bool,
    /// Calendar days of forecast the alert was computed from.
    pub forecast_days: usize,
    /// Units to order now (0: none), a multiple of `pack_size` when there is one.
    pub suggested_order_qty: u64,
    /// The SKU's pack size, when the policy sets one.
    pub pack_size: Option<u32>,
    /// One sentence for people saying why.
    pub reason: String,
    /// The catalogue's description of the SKU, from the forecast it was judged against (`None`
    /// when the catalogue has none, and in alerts written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The catalogue says the shop no longer sells it: nothing is ordered, and only overstock
    /// is raised.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discontinued: bool,
}

/// The policy applied to a whole snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRun {
    /// The snapshot's id: with the SKU, the key that makes alerts idempotent.
    pub snapshot_id: String,
    /// Every SKU whose severity is not `ok`, most urgent first, then in snapshot order.
    pub alerts: Vec<Alert>,
    /// SKUs evaluated as `ok`.
    pub ok_count: usize,
    /// SKUs of the snapshot without a forecast, in snapshot order: not evaluated, for the caller
    /// to report (a 4xx-style problem, or a quarantined row), never silently dropped.
    pub unknown_skus: Vec<String>,
}

/// Evaluates every row of `snapshot` against its forecast from `lookup` (by normalised SKU).
/// Call [`AlertPolicy::check`] on a policy from outside first.
pub fn evaluate_snapshot(
    policy: &AlertPolicy,
    snapshot: &InventorySnapshot,
    lookup: impl Fn(&str) -> Option<DemandPath>,
) -> AlertRun {
    let mut alerts = Vec::new();
    let mut ok_count = 0;
    let mut unknown_skus = Vec::new();
    for row in &snapshot.rows {
        let Some(path) = lookup(&row.sku) else {
            unknown_skus.push(row.sku.clone());
            continue;
        };
        let alert = policy.evaluate(row, &path);
        if alert.severity == Severity::Ok {
            ok_count += 1;
        } else {
            alerts.push(alert);
        }
    }
    // Stable: equal severities keep the snapshot's order.
    alerts.sort_by_key(|a| a.severity);
    AlertRun { snapshot_id: snapshot.id.clone(), alerts, ok_count, unknown_skus }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::alerts::InventoryRow;

    fn path(mean: f64) -> DemandPath {
        let days = 35;
        DemandPath::new(
            "X",
            "2011-12-10".parse().unwrap(),
            vec![mean; days],
            vec![mean * 0.5; days],
            vec![mean; days],
            vec![mean * 1.5; days],
        )
        .unwrap()
    }

    #[test]
    fn a_snapshot_yields_alerts_by_urgency_ok_counts_and_unknown_skus() {
        let snapshot = InventorySnapshot::from_rows(
            Some("s1"),
            vec![
                InventoryRow::new("HEALTHY", 300),
                InventoryRow::new("OVER", 1000),
                InventoryRow::new("LOW", 80),
                InventoryRow::new("GHOST", 5),
                InventoryRow::new("EMPTY", 0),
            ],
        )
        .unwrap();
        let paths: HashMap<&str, DemandPath> = HashMap::from([
            ("HEALTHY", path(10.0)),
            ("OVER", path(2.0)),
            ("LOW", path(10.0)),
            ("EMPTY", path(1.0)),
        ]);
        let run = evaluate_snapshot(&AlertPolicy::default(), &snapshot, |sku| paths.get(sku).cloned());
        assert_eq!(run.snapshot_id, "s1");
        let got: Vec<(&str, Severity)> = run.alerts.iter().map(|a| (a.sku.as_str(), a.severity)).collect();
        assert_eq!(
            got,
            vec![
                ("EMPTY", Severity::StockoutRisk),
                ("LOW", Severity::BelowReorderPoint),
                ("OVER", Severity::Overstock),
            ]
        );
        assert_eq!(run.ok_count, 1);
        assert_eq!(run.unknown_skus, vec!["GHOST".to_owned()]);
    }

    #[test]
    fn severities_serialise_in_snake_case() {
        assert_eq!(serde_json::to_string(&Severity::StockoutRisk).unwrap(), r#""stockout_risk""#);
        assert_eq!(serde_json::to_string(&Severity::BelowReorderPoint).unwrap(), r#""below_reorder_point""#);
        assert_eq!(Severity::Overstock.to_string(), "overstock");
    }
}
