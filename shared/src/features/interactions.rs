//! `features/interactions.parquet`: customer x item implicit feedback from product sales.

use polars::prelude::*;

use super::transactions::{is_kind, is_product_purchase};
use crate::tables::LineKind;

/// Product sales with a customer, quantity > 0 and price > 0, per customer and SKU: distinct
/// invoices, units, first and last purchase, and whether the customer cancelled as many units as
/// they bought (`returned`: sent it all back). A returned SKU stays an interaction (it was bought,
/// and is never offered as new), but is not offered back as a repurchase. Sorted by customer,
/// then SKU.
pub(crate) fn interactions(lines: &DataFrame) -> PolarsResult<DataFrame> {
    let sale = is_product_purchase();
    let cancellation =
        is_kind(LineKind::Cancellation).and(col("customer_id").is_not_null()).and(col("is_product"));
    lines
        .clone()
        .lazy()
        .filter(sale.clone().or(cancellation.clone()))
        .group_by([col("customer_id"), col("stock_code")])
        .agg([
            col("invoice").filter(sale.clone()).n_unique().cast(DataType::UInt32).alias("invoices"),
            col("quantity").filter(sale.clone()).sum().alias("quantity"),
            col("invoice_time").filter(sale.clone()).min().alias("first_time"),
            col("invoice_time").filter(sale).max().alias("last_time"),
            col("quantity").filter(cancellation).sum().alias("cancelled"),
        ])
        .filter(col("invoices").gt(lit(0u32)))
        .with_column((col("quantity") + col("cancelled")).lt_eq(lit(0i64)).alias("returned"))
        .select([
            col("customer_id"),
            col("stock_code"),
            col("invoices"),
            col("quantity"),
            col("first_time"),
            col("last_time"),
            col("returned"),
        ])
        .sort(["customer_id", "stock_code"], SortMultipleOptions::default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Row, batch};
    use super::super::transactions::combine;
    use super::*;

    fn interactions_of(rows: &[Row]) -> Vec<(String, String, u32, i64)> {
        let table = interactions(&combine(vec![batch("b", rows)]).unwrap()).unwrap();
        let customer = table.column("customer_id").unwrap().str().unwrap();
        let code = table.column("stock_code").unwrap().str().unwrap();
        let invoices = table.column("invoices").unwrap().u32().unwrap();
        let quantity = table.column("quantity").unwrap().i64().unwrap();
        customer
            .iter()
            .zip(code.iter())
            .zip(invoices.iter())
            .zip(quantity.iter())
            .map(|(((c, s), i), q)| (c.unwrap().to_owned(), s.unwrap().to_owned(), i.unwrap(), q.unwrap()))
            .collect()
    }

    #[test]
    fn the_weight_is_distinct_invoices_and_the_quantity_their_units() {
        let rows = [
            ("536001", "A", 2, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536001", "A", 3, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "A", 4, "2011-01-05 10:00", 1.0, Some("1"), "UK"),
            ("536002", "E", 1, "2011-01-05 10:00", 1.0, Some("1"), "UK"),
        ];
        assert_eq!(
            interactions_of(&rows),
            vec![("1".into(), "A".into(), 2, 9), ("1".into(), "E".into(), 1, 1),]
        );
    }

    #[test]
    fn a_sku_sent_back_whole_is_marked_returned_and_one_kept_in_part_is_not() {
        let rows = [
            ("536001", "A", 74, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("C536002", "A", -74, "2011-01-03 10:30", 1.0, Some("1"), "UK"),
            ("536001", "E", 10, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("C536003", "E", -4, "2011-01-04 10:00", 1.0, Some("1"), "UK"),
            // Another customer's cancellation of A does not touch customer 2's purchase.
            ("536004", "A", 5, "2011-01-05 10:00", 1.0, Some("2"), "UK"),
            ("C536005", "A", -5, "2011-01-05 11:00", 1.0, Some("3"), "UK"),
        ];
        let table = interactions(&combine(vec![batch("b", &rows)]).unwrap()).unwrap();
        let returned: Vec<Option<bool>> = table.column("returned").unwrap().bool().unwrap().iter().collect();
        assert_eq!(interactions_of(&rows).len(), 3, "every purchase stays an interaction");
        assert_eq!(returned, [Some(true), Some(false), Some(false)], "1-A went back whole");
    }

    #[test]
    fn first_and_last_time_are_the_first_and_last_purchase() {
        let rows = [
            ("536002", "A", 1, "2011-01-05 12:30", 1.0, Some("1"), "UK"),
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
        ];
        let table = interactions(&combine(vec![batch("b", &rows)]).unwrap()).unwrap();
        let first = table.column("first_time").unwrap().datetime().unwrap();
        let last = table.column("last_time").unwrap().datetime().unwrap();
        assert_eq!(first.as_datetime_iter().next().unwrap().unwrap().to_string(), "2011-01-03 10:00:00");
        assert_eq!(last.as_datetime_iter().next().unwrap().unwrap().to_string(), "2011-01-05 12:30:00");
    }

    #[test]
    fn cancellations_adjustments_bad_debt_non_products_and_free_lines_are_not_interactions() {
        let rows = [
            ("536001", "A", 2, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("C536001", "A", -2, "2011-01-04 10:00", 1.0, Some("1"), "UK"),
            ("536002", "E", -5, "2011-01-03 10:00", 0.0, Some("1"), "UK"),
            ("A563185", "B", 1, "2011-01-03 10:00", -11062.06, Some("1"), "UK"),
            ("536003", "POST", 1, "2011-01-03 10:00", 18.0, Some("1"), "UK"),
            ("536004", "C", 1, "2011-01-03 10:00", 0.0, Some("1"), "UK"),
        ];
        assert_eq!(interactions_of(&rows), vec![("1".into(), "A".into(), 1, 2)]);
    }

    #[test]
    fn a_sale_without_a_customer_is_not_an_interaction() {
        let rows = [("536001", "A", 2, "2011-01-03 10:00", 1.0, None, "UK")];
        assert!(interactions_of(&rows).is_empty());
    }
}
