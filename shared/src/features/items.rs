//! `features/items.parquet` (one row per product SKU sold) and `features/baskets.parquet` (the
//! distinct products of each sale invoice): what the recommender's content signal, the serving
//! documents and the basket ("complete the cart") model read.

use polars::prelude::*;

use super::transactions::is_kind;
use crate::tables::LineKind;

/// Product sale lines with quantity > 0 and price > 0, customer or not.
fn product_sales() -> Expr {
    is_kind(LineKind::Sale)
        .and(col("is_product"))
        .and(col("quantity").gt(lit(0i64)))
        .and(col("unit_price").gt(lit(0.0)))
}

/// Per product SKU: the description of its latest sale line that has one, units, distinct
/// invoices and customers, first and last sale, and the price of its latest sale. Sorted by SKU.
pub(crate) fn items(lines: &DataFrame) -> PolarsResult<DataFrame> {
    lines
        .clone()
        .lazy()
        .filter(product_sales())
        .sort(["invoice_time", "invoice"], SortMultipleOptions::default())
        .group_by([col("stock_code")])
        .agg([
            col("description").drop_nulls().last().alias("description"),
            col("quantity").sum().alias("units"),
            col("invoice").n_unique().cast(DataType::UInt32).alias("invoices"),
            col("customer_id").drop_nulls().n_unique().cast(DataType::UInt32).alias("customers"),
            col("invoice_time").min().alias("first_time"),
            col("invoice_time").max().alias("last_time"),
            col("unit_price").last().alias("last_price"),
        ])
        .sort(["stock_code"], SortMultipleOptions::default())
        .collect()
}

/// The distinct product SKUs of each sale invoice, with the invoice's time. Sorted by invoice,
/// then SKU.
pub(crate) fn baskets(lines: &DataFrame) -> PolarsResult<DataFrame> {
    lines
        .clone()
        .lazy()
        .filter(product_sales())
        .group_by([col("invoice"), col("stock_code")])
        .agg([col("invoice_time").min().alias("invoice_time")])
        .sort(["invoice", "stock_code"], SortMultipleOptions::default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::batch;
    use super::super::transactions::combine;
    use super::*;

    #[test]
    fn items_take_the_latest_description_and_price_and_count_customers_once() {
        let rows = [
            ("536001", "A", 2, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "A", 3, "2011-01-05 10:00", 1.5, Some("1"), "UK"),
            ("536003", "A", 1, "2011-01-06 10:00", 1.25, None, "UK"),
            ("C536004", "A", -1, "2011-01-07 10:00", 1.25, Some("2"), "UK"),
            ("536005", "POST", 1, "2011-01-03 10:00", 18.0, Some("1"), "UK"),
        ];
        let table = items(&combine(vec![batch("b", &rows)]).unwrap()).unwrap();
        assert_eq!(table.height(), 1, "postage and cancellations are not items: {table}");
        let get = |name: &str| table.column(name).unwrap().get(0).unwrap().to_string();
        assert_eq!(get("stock_code"), "\"A\"");
        assert_eq!(get("units"), "6");
        assert_eq!(get("invoices"), "3");
        assert_eq!(get("customers"), "1");
        assert_eq!(get("last_price"), "1.25");
    }

    #[test]
    fn baskets_hold_each_product_of_an_invoice_once() {
        let rows = [
            ("536001", "A", 2, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536001", "E", 1, "2011-01-03 10:00", 2.0, Some("1"), "UK"),
            ("536002", "E", 1, "2011-01-04 10:00", 2.0, None, "UK"),
        ];
        let table = baskets(&combine(vec![batch("b", &rows)]).unwrap()).unwrap();
        let invoices: Vec<_> =
            table.column("invoice").unwrap().str().unwrap().iter().map(Option::unwrap).collect();
        let skus: Vec<_> =
            table.column("stock_code").unwrap().str().unwrap().iter().map(Option::unwrap).collect();
        assert_eq!(invoices, ["536001", "536001", "536002"]);
        assert_eq!(skus, ["A", "E", "E"]);
    }
}
