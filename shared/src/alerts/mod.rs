//! Inventory alerts: an inventory snapshot and each SKU's forecast demand path in, one alert per
//! SKU out (stock-out risk, below the reorder point, overstock, or ok) with a suggested order.
//!
//! ## Layout
//! - [`inventory`]: the snapshot
//!   (`sku,on_hand[,on_order][,lead_time_days][,service_level][,on_order_due_days]`, or an Event
//!   Grid custom event's JSON `data`) and its content-hash id.
//! - [`inventory_upload`]: a snapshot read from an upload (CSV, JSON lines or Parquet, gzip or
//!   not, the folder's column mapping) by ingest's own readers.
//! - [`demand`]: [`DemandPath`], a SKU's daily point forecast and p10/p50/p90 from tomorrow on,
//!   and the spread of its totals, built from the forecaster's output.
//! - [`policy`]: [`AlertPolicy`] and its arithmetic: lead-time demand, safety stock, reorder
//!   point, days of cover, the suggested order and the severity.
//! - [`alert`]: [`Alert`], [`Severity`], and [`evaluate_snapshot`] -> [`AlertRun`].
//! - [`normal`]: the standard normal quantile behind the safety factor.
//! - [`backtest`]: the policy replayed day by day on a demand history against a naive fixed
//!   reorder point (`shopsense eval alerts`).
//! - [`run`]: a count judged against the live forecast and stored, and the open alerts.
//! - [`sku_status`]: where each SKU asked for stands in the latest counts.
//! - [`retention`]: judged counts deleted once they are old and no longer the latest.
//! - [`errors`]: [`AlertError`], what can go wrong.
//!
//! ## Use
//! ```
//! use std::collections::HashMap;
//!
//! use shopsense::alerts::{AlertError, AlertPolicy, AlertRun, DEMAND_PATH_LEVELS, DemandPath};
//! use shopsense::alerts::{InventorySnapshot, evaluate_snapshot};
//! use shopsense::forecast::ForecastModel;
//!
//! /// The alerts of an inventory event's `data` against a fitted forecaster.
//! fn alerts(model: &ForecastModel, data: &[u8]) -> Result<AlertRun, AlertError> {
//!     let policy = AlertPolicy::default();
//!     policy.check()?;
//!     let snapshot = InventorySnapshot::parse_json(data)?;
//!     let forecasts = model.predict(policy.horizon(), &DEMAND_PATH_LEVELS)?;
//!     let paths = DemandPath::all_from(model, &forecasts)?;
//!     let by_sku: HashMap<&str, &DemandPath> =
//!         forecasts.skus.iter().map(|f| f.sku.as_str()).zip(&paths).collect();
//!     Ok(evaluate_snapshot(&policy, &snapshot, |sku| by_sku.get(sku).map(|p| (*p).clone())))
//! }
//! ```

pub mod alert;
pub mod backtest;
pub mod demand;
pub mod errors;
pub mod inventory;
pub mod inventory_upload;
pub mod normal;
pub mod policy;
pub mod retention;
pub mod run;
pub mod sku_status;
pub mod upload_verdict;

pub use alert::{Alert, AlertRun, Severity, evaluate_snapshot};
pub use backtest::{BacktestParams, BacktestReport, PolicyOutcome};
pub use demand::{DEMAND_PATH_LEVELS, DemandPath};
pub use errors::AlertError;
pub use inventory::{InventoryRow, InventorySnapshot};
pub use policy::AlertPolicy;

/// An alerts container on the embedded store in `dir`, for tests.
#[cfg(test)]
pub(crate) async fn embedded_alerts(
    dir: &std::path::Path,
) -> std::sync::Arc<dyn crate::store::DocumentStore> {
    let db = crate::store::embedded::EmbeddedDatabase::open(&dir.join("db.redb")).unwrap();
    crate::store::DocumentDatabase::container(&db, "alerts").await.unwrap()
}
