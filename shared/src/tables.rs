//! The tables later stages read, with their columns: the contract between ingest, features,
//! and the recommender, forecast and segment models. Every table is Parquet in the `silver`
//! blob container.
//!
//! ## `transactions/<batch>.parquet` — one per transactions upload (batch = its sha256)
//! | column | type | meaning |
//! |---|---|---|
//! | `batch` | str | sha256 of the upload |
//! | `upload` | str | the upload's path in the uploads container (`transactions/2011-12.csv`; absent in tables written before it was kept) |
//! | `line` | u64 | line of the row in the uploaded file (header = 1; for Parquet, row index + 1) |
//! | `invoice` | str | invoice number as given (`C...` cancellations, `A...` bad-debt adjustments) |
//! | `stock_code` | str | SKU, trimmed and upper-cased (`85123a` and `85123A` are one SKU) |
//! | `stock_code_raw` | str | SKU as given |
//! | `description` | str? | product text as given |
//! | `quantity` | i64 | units; negative on cancellations and stock adjustments |
//! | `invoice_time` | datetime\[ms\] | local shop time, no zone |
//! | `unit_price` | f64 | price per unit in the shop's currency |
//! | `customer_id` | str? | customer key, float strings normalised (`17850.0` -> `17850`); null when absent |
//! | `country` | str? | as given |
//! | `kind` | str | `sale`, `cancellation`, `adjustment` or `bad_debt` (see [`LineKind`]) |
//! | `is_product` | bool | false for non-product codes (postage, fees, manual lines, gift vouchers, ...) |
//! | `is_duplicate` | bool | an exact repeat of an earlier line of the same upload (kept and counted: documented choice) |
//!
//! ## Features (recomputed from all transaction batches after each transactions upload)
//! Every feature table comes sorted by its key columns (customer, SKU, date).
//! When several batches hold the same invoice, a newer upload of the same path (a corrected file)
//! replaces the invoice's older lines whole, and a newer upload of another path (an overlapping
//! export, the next part of a split one) replaces only the lines of the SKUs it holds
//! ([`crate::features`] has the rule).
//!
//! `features/interactions.parquet` — customer x item, product sales with a customer only:
//! | column | type | meaning |
//! |---|---|---|
//! | `customer_id` | str | |
//! | `stock_code` | str | |
//! | `invoices` | u32 | distinct invoices with this item (the implicit-feedback weight) |
//! | `quantity` | i64 | units bought in those invoices |
//! | `first_time` | datetime\[ms\] | first purchase |
//! | `last_time` | datetime\[ms\] | last purchase |
//! | `returned` | bool | the customer cancelled as many units as they bought: never offered as new, nor as a repurchase (absent in tables written before it: false) |
//!
//! `features/calendar.parquet` — every day from the first to the last transaction:
//! | column | type | meaning |
//! |---|---|---|
//! | `date` | date | |
//! | `open` | bool | whether the shop traded that day |
//! | `reason` | str | `open`, `weekly_closure` (a weekday traded on in fewer than 10% of its occurrences, when it occurs at least twice) or `holiday` |
//!
//! `features/closed_weekdays.json` — the inferred weekly closures, e.g. `["Sat"]`.
//!
//! `features/daily_demand.parquet` — product SKUs x open days, net units:
//! | column | type | meaning |
//! |---|---|---|
//! | `stock_code` | str | |
//! | `date` | date | an open day (closed days are absent: not zero demand) |
//! | `quantity` | i64 | sales plus cancellations that day, clipped at 0; explicit 0 on open days without sales between the SKU's first sale and the last open day |
//!
//! `features/rfm_inputs.parquet` — one row per customer with a product sale whose product sales
//! and cancellations net above half a penny (postage or fees alone are no purchase; a customer
//! who sent all their goods back is not one):
//! | column | type | meaning |
//! |---|---|---|
//! | `customer_id` | str | |
//! | `first_time` | datetime\[ms\] | first product sale |
//! | `last_time` | datetime\[ms\] | last product sale |
//! | `invoices` | u32 | distinct invoices with a product sale (frequency) |
//! | `net_spend` | f64 | sum of quantity x price over every sale and cancellation line, non-products included (monetary) |
//! | `lines` | u32 | product sale lines |
//! | `country` | str? | most frequent country of the customer's lines (ties: alphabetically first) |
//!
//! `features/items.parquet` — one row per product SKU with a sale (quantity > 0, price > 0):
//! | column | type | meaning |
//! |---|---|---|
//! | `stock_code` | str | |
//! | `description` | str? | from its latest sale line that has one |
//! | `units` | i64 | units sold |
//! | `invoices` | u32 | distinct invoices |
//! | `customers` | u32 | distinct known customers |
//! | `first_time` | datetime\[ms\] | first sale |
//! | `last_time` | datetime\[ms\] | last sale |
//! | `last_price` | f64 | unit price of its latest sale line |
//!
//! `features/baskets.parquet` — the distinct product SKUs of each sale invoice:
//! | column | type | meaning |
//! |---|---|---|
//! | `invoice` | str | |
//! | `stock_code` | str | |
//! | `invoice_time` | datetime\[ms\] | |

use serde::{Deserialize, Serialize};

/// Blob container of silver tables and features.
pub const SILVER_CONTAINER: &str = "silver";
/// Blob container of quarantined rows.
pub const QUARANTINE_CONTAINER: &str = "quarantine";
/// The silver transactions column naming the upload a batch came from.
pub const UPLOAD_COLUMN: &str = "upload";

/// Prefix of the transaction batches in the silver container.
pub const TRANSACTIONS_PREFIX: &str = "transactions/";
/// Path of the interactions feature table.
pub const INTERACTIONS_PATH: &str = "features/interactions.parquet";
/// Path of the trading calendar.
pub const CALENDAR_PATH: &str = "features/calendar.parquet";
/// Path of the inferred weekly closures.
pub const CLOSED_WEEKDAYS_PATH: &str = "features/closed_weekdays.json";
/// Path of the daily demand table.
pub const DAILY_DEMAND_PATH: &str = "features/daily_demand.parquet";
/// Path of the RFM inputs table.
pub const RFM_INPUTS_PATH: &str = "features/rfm_inputs.parquet";
/// Path of the items table.
pub const ITEMS_PATH: &str = "features/items.parquet";
/// Path of the baskets table.
pub const BASKETS_PATH: &str = "features/baskets.parquet";
/// Every feature file a refresh writes (the data snapshot a model version is trained on).
pub const FEATURE_PATHS: [&str; 7] = [
    INTERACTIONS_PATH,
    CALENDAR_PATH,
    CLOSED_WEEKDAYS_PATH,
    DAILY_DEMAND_PATH,
    RFM_INPUTS_PATH,
    ITEMS_PATH,
    BASKETS_PATH,
];

/// What a transaction line is, by the retail rules in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A sale: not a `C`/`A` invoice, positive quantity.
    Sale,
    /// A `C` invoice: a cancelled sale (negative quantity), netted against sales for demand,
    /// excluded from interactions.
    Cancellation,
    /// A non-`C` line with quantity <= 0: a stock adjustment (no customer, price 0), not demand.
    Adjustment,
    /// An `A` invoice ("Adjust bad debt"): an accounting line, not demand.
    BadDebt,
}

impl LineKind {
    /// The value stored in the `kind` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Cancellation => "cancellation",
            Self::Adjustment => "adjustment",
            Self::BadDebt => "bad_debt",
        }
    }
}
