//! The feature refresh: from every silver transaction batch to the feature tables the
//! recommender, forecasts and segments read (columns in [`crate::tables`]).
//!
//! [`refresh`] is pure: batches in, [`Features`] out. Storage stays with the caller, which
//! writes each table with [`write_parquet`] (and `closed_weekdays` as JSON, e.g.
//! `serde_json::to_vec(&features.closed_weekdays)` gives `["Sat"]`) at the paths in
//! [`crate::tables`].
//!
//! # The rules
//! "Sale" below means a line of kind `sale` (neither a `C` nor an `A` invoice, quantity > 0);
//! kinds and `is_product` come from ingest, as [`crate::tables`] describes.
//!
//! - **Overlapping batches** (given oldest first). A line is dropped when a newer batch of the
//!   same upload path holds its invoice on its day (a corrected file sent again under its name
//!   replaces the invoice whole: lines it dropped disappear), or when a newer batch of any path
//!   holds its invoice and SKU on its day (an overlapping export repeats lines, which count once;
//!   the parts of an invoice split over two files add up). An invoice number on another day is
//!   another order (two channels numbering alike, a till's numbers restarting each day or year):
//!   it replaces nothing, and its lines there read as invoice `<invoice>@<day>` (baskets,
//!   distinct-invoice counts). Batches without an `upload` column share one path.
//!   An invoice a corrected file no longer holds stays, until the file is withdrawn
//!   ([`crate::ingest::withdraw`]): a withdrawn batch is no longer among the batches.
//!   Exact duplicate lines *within* one batch are kept (the contract's documented choice).
//! - **Interactions** (`customer_id` x `stock_code`): sale lines of products with a customer,
//!   quantity > 0 and unit price > 0. Cancellations are excluded (they are not a change of
//!   taste). `invoices` = distinct invoices (the implicit-feedback weight), `quantity` = sum of
//!   units, `first_time`/`last_time` = first and last `invoice_time`. Sorted by customer, SKU.
//! - **Calendar.** Every date from the first to the last line's date. A day is open if any
//!   line of any kind falls on it. A weekday is a *weekly closure* when the shop traded on fewer
//!   than 10 % of its occurrences in the span ([`WEEKLY_CLOSURE_MAX_OPEN_PERCENT`]), provided it
//!   occurs at least twice ([`WEEKLY_CLOSURE_MIN_OCCURRENCES`]: one closed Monday is no pattern).
//!   Its closed days get reason `weekly_closure`; every other closed day is a `holiday`. On
//!   Online Retail: Saturday (never traded) is the weekly closure; the holidays are
//!   2010-12-23..2011-01-04, Easter and the bank holidays.
//! - **Daily demand** (`stock_code` x open day): product lines (`is_product`) of kind sale or
//!   cancellation with a unit price > 0 (free lines are stock found or written off, not sales);
//!   net units per SKU per day, each cancellation at its own (negative) quantity
//!   on its own day, then clipped at 0. A SKU's series runs from its first sale day to the last
//!   open day of the calendar, with an explicit 0 on each open day without demand; closed days
//!   are absent (not zero demand). Consequences: cancellation-only days before a SKU's first
//!   sale are dropped, and a SKU with no sale at all has no rows. Adjustments and bad debt are
//!   not demand. Lines without a customer count (demand is units, whoever bought them).
//!   Sorted by SKU, date.
//! - **RFM inputs** (one row per customer with at least one sale line that has a customer,
//!   quantity > 0 and unit price > 0): `first_time`/`last_time` = first and last such sale,
//!   `invoices` = distinct such sale invoices, `lines` = such sale lines, `net_spend` = sum of
//!   quantity x unit price over the customer's sale *and* cancellation lines (non-products such
//!   as postage included: it is what the customer paid), `country` = most frequent country over
//!   all the customer's lines, ties broken alphabetically (null when none is given). Sorted by
//!   customer.
//! - **Items** (one row per product SKU with a sale line of quantity > 0 and price > 0, customer
//!   or not): the description of its latest such line that has one, units, distinct invoices and
//!   customers, first and last sale, latest price. Sorted by SKU.
//! - **Baskets**: the distinct product SKUs of each such sale line's invoice, with the
//!   invoice's time (the "bought together" signal of cart completion). Sorted by invoice, SKU.
//!
//! # Layout
//! - `transactions`: checks each batch against the contract and merges them (invoice replace).
//! - `interactions`, `calendar`, `demand`, `rfm`, `items`: one feature table each (`items`
//!   also holds baskets).
//! - `parquet`: the (de)serialisation helpers.

mod calendar;
mod demand;
mod error;
#[cfg(test)]
mod fixtures;
mod interactions;
mod items;
mod parquet;
mod rfm;
pub mod snapshot;
mod transactions;

pub use calendar::{WEEKLY_CLOSURE_MAX_OPEN_PERCENT, WEEKLY_CLOSURE_MIN_OCCURRENCES};
pub use error::FeatureError;
pub use parquet::{read_parquet, write_parquet};
pub use snapshot::FeatureSnapshot;
pub use transactions::read_batch;

use polars::prelude::DataFrame;

/// Every feature table, recomputed from all transaction batches.
#[derive(Debug, Clone)]
pub struct Features {
    /// `features/interactions.parquet`: customer x item implicit feedback.
    pub interactions: DataFrame,
    /// `features/calendar.parquet`: every day of the span, open or why closed.
    pub calendar: DataFrame,
    /// `features/closed_weekdays.json`: the inferred weekly closures, Monday first. Kept apart
    /// from the calendar because forecasts project them beyond its last day.
    pub closed_weekdays: Vec<chrono::Weekday>,
    /// `features/daily_demand.parquet`: SKU x open day net units.
    pub daily_demand: DataFrame,
    /// `features/rfm_inputs.parquet`: per-customer recency, frequency, monetary inputs.
    pub rfm_inputs: DataFrame,
    /// `features/items.parquet`: one row per product SKU sold (description, volume, price).
    pub items: DataFrame,
    /// `features/baskets.parquet`: the distinct products of each sale invoice.
    pub baskets: DataFrame,
}

/// Recomputes every feature table from the silver transaction batches, given in upload order
/// (oldest first: for an invoice in several batches, the last one wins).
///
/// No batches (or only empty ones) give empty tables with the contract's columns.
///
/// The batches are taken, not borrowed: they are dropped once merged into one frame of lines,
/// so a refresh never holds the shop's whole history twice (the full Online Retail file's
/// daily-upload refresh peaked at 471 MB with them kept, 404 MB without).
///
/// # Errors
/// [`FeatureError::MissingColumn`], [`FeatureError::WrongType`], [`FeatureError::NullValues`]
/// or [`FeatureError::UnknownKind`] when a batch breaks the contract in [`crate::tables`];
/// [`FeatureError::Polars`] when a computation fails.
pub fn refresh(batches: Vec<DataFrame>) -> Result<Features, FeatureError> {
    let lines = transactions::combine(batches)?;
    let calendar = calendar::calendar(&lines)?;
    let daily_demand = demand::daily_demand(&lines, &calendar.open_days)?;
    Ok(Features {
        interactions: interactions::interactions(&lines)?,
        calendar: calendar.frame,
        closed_weekdays: calendar.closed_weekdays,
        daily_demand,
        rfm_inputs: rfm::rfm_inputs(&lines)?,
        items: items::items(&lines)?,
        baskets: items::baskets(&lines)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use chrono::{Datelike, NaiveDate, Weekday};
    use polars::prelude::*;

    use super::fixtures::{assert_schema, batch, sample_batch};
    use super::*;

    #[test]
    fn refresh_of_no_batches_gives_empty_tables_with_the_contract_columns() {
        let features = refresh(Vec::new()).unwrap();
        assert_eq!(features.interactions.height(), 0);
        assert_eq!(features.calendar.height(), 0);
        assert_eq!(features.daily_demand.height(), 0);
        assert_eq!(features.rfm_inputs.height(), 0);
        assert!(features.closed_weekdays.is_empty());
        assert_contract_schemas(&features);
    }

    #[test]
    fn refresh_of_an_empty_batch_gives_empty_tables() {
        let features = refresh(vec![batch("b1", &[])]).unwrap();
        assert_eq!(features.calendar.height(), 0);
        assert_eq!(features.rfm_inputs.height(), 0);
        assert_contract_schemas(&features);
    }

    #[test]
    fn a_replaced_invoice_counts_once_in_every_table() {
        let old = batch(
            "old",
            &[
                ("536001", "A", 5, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
                ("536001", "E", 3, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ],
        );
        let new = batch("new", &[("536001", "A", 6, "2011-01-03 10:00", 1.0, Some("1"), "UK")]);
        let features = refresh(vec![old, new]).unwrap();
        let interactions = &features.interactions;
        assert_eq!(interactions.height(), 1);
        assert_eq!(interactions.column("quantity").unwrap().i64().unwrap().get(0), Some(6));
        let demand = &features.daily_demand;
        assert_eq!(demand.height(), 1, "{demand}");
        let rfm = &features.rfm_inputs;
        assert_eq!(rfm.column("lines").unwrap().u32().unwrap().get(0), Some(1));
        assert_eq!(rfm.column("net_spend").unwrap().f64().unwrap().get(0), Some(6.0));
    }

    #[test]
    fn feature_tables_round_trip_through_parquet() {
        let features = refresh(vec![sample_batch()]).unwrap();
        for mut table in
            [features.interactions, features.calendar, features.daily_demand, features.rfm_inputs]
        {
            let bytes = write_parquet(&mut table).unwrap();
            let back = read_parquet(&bytes).unwrap();
            assert!(back.equals_missing(&table), "{back}\n{table}");
            assert_eq!(back.schema(), table.schema());
        }
    }

    #[test]
    fn closed_weekdays_serialise_as_the_short_names_of_the_contract() {
        let json = serde_json::to_string(&[Weekday::Sat, Weekday::Sun]).unwrap();
        assert_eq!(json, r#"["Sat","Sun"]"#);
    }

    #[test]
    fn the_sample_refreshes_into_tables_that_hold_the_documented_invariants() {
        let sample = sample_batch();
        let features = refresh(vec![sample.clone()]).unwrap();
        assert_contract_schemas(&features);

        assert_eq!(features.closed_weekdays, vec![Weekday::Sat]);
        let calendar = &features.calendar;
        let dates: Vec<NaiveDate> =
            calendar.column("date").unwrap().date().unwrap().as_date_iter().map(Option::unwrap).collect();
        assert_eq!(dates.first(), NaiveDate::from_ymd_opt(2010, 12, 1).as_ref());
        assert_eq!(dates.last(), NaiveDate::from_ymd_opt(2011, 12, 9).as_ref());
        assert_eq!(dates.len(), 374, "one row per day, none missing");
        let open = calendar.column("open").unwrap().bool().unwrap();
        let reason = calendar.column("reason").unwrap().str().unwrap();
        let mut open_days = HashSet::new();
        for ((date, open), reason) in dates.iter().zip(open.iter()).zip(reason.iter()) {
            let (open, reason) = (open.unwrap(), reason.unwrap());
            if date.weekday() == Weekday::Sat {
                assert!(!open && reason == "weekly_closure", "{date}");
            }
            assert_eq!(open, reason == "open", "{date}");
            if open {
                open_days.insert(*date);
            }
        }
        let christmas = NaiveDate::from_ymd_opt(2010, 12, 27).unwrap();
        assert!(!open_days.contains(&christmas));

        let demand = &features.daily_demand;
        assert!(demand.height() > 0);
        for date in demand.column("date").unwrap().date().unwrap().as_date_iter() {
            assert!(open_days.contains(&date.unwrap()), "{date:?} is closed");
        }
        let quantities = demand.column("quantity").unwrap().i64().unwrap();
        assert_eq!(quantities.null_count(), 0);
        assert!(quantities.min().unwrap() >= 0);

        let weights = features.interactions.column("invoices").unwrap().u32();
        assert!(weights.unwrap().min().unwrap() >= 1);

        let customer = sample.column("customer_id").unwrap().str().unwrap();
        let kind = sample.column("kind").unwrap().str().unwrap();
        let quantity = sample.column("quantity").unwrap().i64().unwrap();
        let price = sample.column("unit_price").unwrap().f64().unwrap();
        let product = sample.column("is_product").unwrap().bool().unwrap();
        // Customers with a product sale whose product sales and cancellations net above half a
        // penny.
        let mut spend: HashMap<&str, f64> = HashMap::new();
        let mut bought_a_product: HashSet<&str> = HashSet::new();
        for i in 0..sample.height() {
            let (Some(customer), Some(kind), Some(quantity), Some(price)) =
                (customer.get(i), kind.get(i), quantity.get(i), price.get(i))
            else {
                continue;
            };
            if kind == "sale" && quantity > 0 && price > 0.0 && product.get(i) == Some(true) {
                bought_a_product.insert(customer);
            }
            if (kind == "sale" || kind == "cancellation") && product.get(i) == Some(true) {
                *spend.entry(customer).or_default() += quantity as f64 * price;
            }
        }
        let customers_with_sales: HashSet<&str> =
            bought_a_product.into_iter().filter(|c| spend[c] > 0.005).collect();
        let rfm = &features.rfm_inputs;
        let rfm_customers: HashSet<&str> =
            rfm.column("customer_id").unwrap().str().unwrap().iter().map(Option::unwrap).collect();
        assert_eq!(rfm_customers.len(), rfm.height(), "one row per customer");
        assert_eq!(rfm_customers, customers_with_sales);
    }

    /// Asserts that every table has exactly the columns and types of `tables.rs`.
    fn assert_contract_schemas(features: &Features) {
        let datetime = DataType::Datetime(TimeUnit::Milliseconds, None);
        assert_schema(
            &features.interactions,
            &[
                ("customer_id", DataType::String),
                ("stock_code", DataType::String),
                ("invoices", DataType::UInt32),
                ("quantity", DataType::Int64),
                ("first_time", datetime.clone()),
                ("last_time", datetime.clone()),
                ("returned", DataType::Boolean),
            ],
        );
        assert_schema(
            &features.calendar,
            &[("date", DataType::Date), ("open", DataType::Boolean), ("reason", DataType::String)],
        );
        assert_schema(
            &features.daily_demand,
            &[("stock_code", DataType::String), ("date", DataType::Date), ("quantity", DataType::Int64)],
        );
        assert_schema(
            &features.rfm_inputs,
            &[
                ("customer_id", DataType::String),
                ("first_time", datetime.clone()),
                ("last_time", datetime),
                ("invoices", DataType::UInt32),
                ("net_spend", DataType::Float64),
                ("lines", DataType::UInt32),
                ("country", DataType::String),
            ],
        );
        let datetime = DataType::Datetime(TimeUnit::Milliseconds, None);
        assert_schema(
            &features.items,
            &[
                ("stock_code", DataType::String),
                ("description", DataType::String),
                ("units", DataType::Int64),
                ("invoices", DataType::UInt32),
                ("customers", DataType::UInt32),
                ("first_time", datetime.clone()),
                ("last_time", datetime.clone()),
                ("last_price", DataType::Float64),
            ],
        );
        assert_schema(
            &features.baskets,
            &[("invoice", DataType::String), ("stock_code", DataType::String), ("invoice_time", datetime)],
        );
    }
}
