//! The canonical columns of each upload kind, their types, and the header names the default
//! mapping recognises (UCI Online Retail as published, and Online Retail II's renames).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an upload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadKind {
    /// Order lines.
    Transactions,
    /// Products.
    Catalog,
    /// A stock snapshot per SKU.
    Inventory,
}

impl UploadKind {
    /// Every kind, in documentation order.
    pub const ALL: [Self; 3] = [Self::Transactions, Self::Catalog, Self::Inventory];

    /// The name used in paths and flags.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transactions => "transactions",
            Self::Catalog => "catalog",
            Self::Inventory => "inventory",
        }
    }

    /// The kind an upload path names by its first segment (`transactions/2011-12.csv`).
    #[must_use]
    pub fn from_path(path: &str) -> Option<Self> {
        path.split('/').next().and_then(|first| first.parse().ok())
    }

    /// The canonical columns of this kind.
    #[must_use]
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Self::Transactions => TRANSACTIONS,
            Self::Catalog => CATALOG,
            Self::Inventory => INVENTORY,
        }
    }
}

impl fmt::Display for UploadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UploadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "transactions" => Ok(Self::Transactions),
            "catalog" => Ok(Self::Catalog),
            "inventory" => Ok(Self::Inventory),
            other => Err(format!("unknown upload kind {other:?}: use transactions, catalog or inventory")),
        }
    }
}

/// How a canonical column's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text, trimmed; empty is null.
    Text,
    /// A whole number (`12`, `-3`; `12.0` is accepted as 12).
    Integer,
    /// A decimal number, with the mapping's decimal separator.
    Decimal,
    /// A local date-time (no zone), in the mapping's format or one of the common ones.
    Timestamp,
    /// A customer key: text, with float renderings of integers (`17850.0`) normalised to `17850`.
    CustomerKey,
    /// A yes or no ([`crate::ingest::validate::parse_flag`]).
    Flag,
}

/// One canonical column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnSpec {
    /// Canonical name.
    pub name: &'static str,
    /// How it is read.
    pub ty: ColumnType,
    /// Whether a row without it is quarantined (and a file without it refused).
    pub required: bool,
    /// Header names the default mapping recognises, compared case-insensitively with spaces,
    /// `_` and `-` ignored.
    pub aliases: &'static [&'static str],
    /// The values a number may take; outside them the row is quarantined (`out_of_range`).
    pub bounds: Option<Bounds>,
}

/// A number's allowed values: `min..=max`, or `min < v < max` when `open`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// The least value.
    pub min: f64,
    /// The greatest value.
    pub max: f64,
    /// Whether the ends are excluded.
    pub open: bool,
}

impl Bounds {
    /// Whether `value` is allowed.
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        if self.open { self.min < value && value < self.max } else { self.min <= value && value <= self.max }
    }

    /// The bounds for a message: `in [0, 365]`, `in (0.5, 0.9999)`, `at least 1`.
    #[must_use]
    pub fn describe(&self) -> String {
        match (self.max.is_infinite(), self.open) {
            (true, false) => format!("at least {}", self.min),
            (true, true) => format!("above {}", self.min),
            (false, false) => format!("in [{}, {}]", self.min, self.max),
            (false, true) => format!("in ({}, {})", self.min, self.max),
        }
    }
}

const fn col(
    name: &'static str,
    ty: ColumnType,
    required: bool,
    aliases: &'static [&'static str],
) -> ColumnSpec {
    ColumnSpec { name, ty, required, aliases, bounds: None }
}

/// A number column with bounds (closed, `max` infinite for none).
const fn bounded(
    name: &'static str,
    ty: ColumnType,
    required: bool,
    aliases: &'static [&'static str],
    min: f64,
    max: f64,
) -> ColumnSpec {
    ColumnSpec { name, ty, required, aliases, bounds: Some(Bounds { min, max, open: false }) }
}

use ColumnType::{CustomerKey, Decimal, Flag, Integer, Text, Timestamp};

/// The largest quantity or unit price one transaction line may give, either sign (10 million):
/// a thousand times the largest in Online Retail, and small enough that sums over millions of
/// lines stay exact in an `i64` and finite in an `f64`.
pub const MAX_LINE_VALUE: f64 = 1e7;

/// Transactions: one order line each.
pub const TRANSACTIONS: &[ColumnSpec] = &[
    col("invoice", Text, true, &["invoice", "InvoiceNo", "invoice_no", "order_id", "order"]),
    col("stock_code", Text, true, &["stock_code", "StockCode", "sku", "product_id"]),
    col("description", Text, false, &["description", "Description", "product_name", "title"]),
    // Negative for returns and cancellations (and a price for adjustments), but bounded: one
    // line of 2^63 - 1 units wrapped a SKU's summed demand around to a negative number, and one
    // price of 1e308 made every spend infinite and the segments unfittable. Online Retail's
    // largest are 80,995 units and 38,970.
    bounded("quantity", Integer, true, &["quantity", "Quantity", "qty"], -MAX_LINE_VALUE, MAX_LINE_VALUE),
    col("invoice_time", Timestamp, true, &["invoice_time", "InvoiceDate", "order_date", "timestamp"]),
    bounded(
        "unit_price",
        Decimal,
        true,
        &["unit_price", "UnitPrice", "Price"],
        -MAX_LINE_VALUE,
        MAX_LINE_VALUE,
    ),
    col("customer_id", CustomerKey, false, &["customer_id", "CustomerID", "Customer ID", "customer"]),
    col("country", Text, false, &["country", "Country"]),
];

/// Catalog: one product each.
pub const CATALOG: &[ColumnSpec] = &[
    col("stock_code", Text, true, &["stock_code", "StockCode", "sku", "product_id"]),
    col("description", Text, false, &["description", "Description", "product_name", "title"]),
    col("category", Text, false, &["category", "Category"]),
    bounded("unit_price", Decimal, false, &["unit_price", "UnitPrice", "Price"], 0.0, f64::INFINITY),
    bounded("pack_size", Integer, false, &["pack_size", "PackSize", "case_size"], 1.0, f64::INFINITY),
    // A line the shop no longer sells: never reordered, never recommended.
    col("discontinued", Flag, false, &["discontinued", "Discontinued", "is_discontinued"]),
];

/// Inventory: one SKU's stock position each.
pub const INVENTORY: &[ColumnSpec] = &[
    col("stock_code", Text, true, &["stock_code", "StockCode", "sku", "product_id"]),
    bounded(
        "on_hand",
        Integer,
        true,
        &["on_hand", "OnHand", "stock", "quantity_on_hand"],
        0.0,
        f64::INFINITY,
    ),
    bounded("on_order", Integer, false, &["on_order", "OnOrder"], 0.0, f64::INFINITY),
    bounded("lead_time_days", Integer, false, &["lead_time_days", "LeadTimeDays", "lead_time"], 0.0, 365.0),
    // The alert policy's range (`alerts::inventory::SERVICE_LEVEL_RANGE`), ends excluded.
    ColumnSpec {
        name: "service_level",
        ty: Decimal,
        required: false,
        aliases: &["service_level", "ServiceLevel"],
        bounds: Some(Bounds { min: 0.5, max: 0.9999, open: true }),
    },
    bounded("on_order_due_days", Integer, false, &["on_order_due_days", "OnOrderDueDays"], 0.0, 365.0),
    col("snapshot_time", Timestamp, false, &["snapshot_time", "SnapshotTime", "as_of"]),
];

/// A header name folded for comparison: lowercase, without spaces, `_` and `-`.
#[must_use]
pub fn fold_header(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_comes_from_the_first_path_segment() {
        assert_eq!(UploadKind::from_path("transactions/2011/12.csv"), Some(UploadKind::Transactions));
        assert_eq!(UploadKind::from_path("Inventory/x.csv"), Some(UploadKind::Inventory));
        assert_eq!(UploadKind::from_path("misc/x.csv"), None);
    }

    #[test]
    fn headers_fold_case_spaces_and_separators() {
        assert_eq!(fold_header("Customer ID"), fold_header("CustomerID"));
        assert_eq!(fold_header("customer_id"), "customerid");
    }

    #[test]
    fn inventory_bounds_are_the_alert_policy_s() {
        let bounds = |name| INVENTORY.iter().find(|c| c.name == name).unwrap().bounds.unwrap();
        let (low, high) = crate::alerts::inventory::SERVICE_LEVEL_RANGE;
        assert_eq!(bounds("service_level"), Bounds { min: low, max: high, open: true });
        let days = f64::from(crate::alerts::inventory::MAX_LEAD_TIME_DAYS);
        assert_eq!(bounds("lead_time_days").max, days);
        assert_eq!(bounds("service_level").describe(), "in (0.5, 0.9999)");
        assert_eq!(bounds("on_hand").describe(), "at least 0");
        assert!(!bounds("on_hand").contains(-1.0) && bounds("lead_time_days").contains(365.0));
    }

    #[test]
    fn every_kind_has_a_required_stock_code_or_invoice() {
        for kind in UploadKind::ALL {
            assert!(kind.columns().iter().any(|c| c.required), "{kind}");
        }
    }
}
