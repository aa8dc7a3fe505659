//! `features/rfm_inputs.parquet`: per customer, the recency, frequency and monetary inputs the
//! segments are cut from.

use polars::prelude::*;

use super::transactions::{is_kind, is_product_purchase};
use crate::tables::LineKind;

/// One row per customer who bought a product (see [`is_product_purchase`]; postage, fees and other
/// non-product lines alone are no purchase) and kept some (net product spend above half a
/// penny; a manual credit or fee refund does not take kept goods back): first and
/// last product sale, distinct invoices with a product sale, net spend over every sale and
/// cancellation line (non-products included: spend only), product sale lines and most frequent
/// country. Sorted by customer.
pub(crate) fn rfm_inputs(lines: &DataFrame) -> PolarsResult<DataFrame> {
    let customer_lines = lines.clone().lazy().filter(col("customer_id").is_not_null());
    let sale = is_product_purchase();
    let spending = customer_lines
        .clone()
        .filter(is_kind(LineKind::Sale).or(is_kind(LineKind::Cancellation)))
        .group_by([col("customer_id")])
        .agg([
            col("invoice_time").filter(sale.clone()).min().alias("first_time"),
            col("invoice_time").filter(sale.clone()).max().alias("last_time"),
            col("invoice").filter(sale.clone()).n_unique().cast(DataType::UInt32).alias("invoices"),
            (col("quantity").cast(DataType::Float64) * col("unit_price")).sum().alias("net_spend"),
            (col("quantity").cast(DataType::Float64) * col("unit_price"))
                .filter(col("is_product"))
                .sum()
                .alias("product_spend"),
            sale.cast(DataType::UInt32).sum().alias("lines"),
        ])
        // A customer whose cancellations take back all the goods they bought has kept nothing
        // to segment by: not a prospect, and not someone to send offers as one. Below half a
        // penny is nothing (summed prices leave 1e-14 where they cancel out).
        .filter(col("lines").gt(lit(0u32)).and(col("product_spend").gt(lit(0.005))));

    let by_count_then_name = SortMultipleOptions::default().with_order_descending_multi([true, false]);
    let country = customer_lines
        .filter(col("country").is_not_null())
        .group_by([col("customer_id"), col("country")])
        .agg([len().alias("count")])
        .group_by([col("customer_id")])
        .agg([col("country").sort_by([col("count"), col("country")], by_count_then_name).first()]);

    spending
        .join(country, [col("customer_id")], [col("customer_id")], JoinArgs::new(JoinType::Left))
        .select([
            col("customer_id"),
            col("first_time"),
            col("last_time"),
            col("invoices"),
            col("net_spend"),
            col("lines"),
            col("country"),
        ])
        .sort(["customer_id"], SortMultipleOptions::default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Row, batch};
    use super::super::transactions::combine;
    use super::*;

    fn rfm_of(rows: &[Row]) -> DataFrame {
        rfm_inputs(&combine(vec![batch("b", rows)]).unwrap()).unwrap()
    }

    fn customers(table: &DataFrame) -> Vec<&str> {
        let customer = table.column("customer_id").unwrap().str().unwrap();
        customer.iter().map(Option::unwrap).collect()
    }

    #[test]
    fn net_spend_includes_cancellations_and_non_product_lines() {
        let rows = [
            ("536001", "A", 10, "2011-01-03 10:00", 2.0, Some("1"), "UK"),
            ("536001", "POST", 1, "2011-01-03 10:00", 5.0, Some("1"), "UK"),
            ("C536002", "A", -3, "2011-01-05 10:00", 2.0, Some("1"), "UK"),
        ];
        let table = rfm_of(&rows);
        let spend = table.column("net_spend").unwrap().f64().unwrap();
        assert_eq!(spend.get(0), Some(20.0 + 5.0 - 6.0));
    }

    #[test]
    fn frequency_is_distinct_sale_invoices_and_lines_are_sale_lines() {
        let rows = [
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536001", "E", 1, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "A", 1, "2011-01-04 10:00", 1.0, Some("1"), "UK"),
            ("C536003", "A", -1, "2011-01-05 10:00", 1.0, Some("1"), "UK"),
            ("536004", "A", 1, "2011-01-06 10:00", 0.0, Some("1"), "UK"),
        ];
        let table = rfm_of(&rows);
        assert_eq!(table.column("invoices").unwrap().u32().unwrap().get(0), Some(2));
        assert_eq!(table.column("lines").unwrap().u32().unwrap().get(0), Some(3));
        let last = table.column("last_time").unwrap().datetime().unwrap();
        assert_eq!(
            last.as_datetime_iter().next().unwrap().unwrap().to_string(),
            "2011-01-04 10:00:00",
            "the cancellation and the free line are not sales"
        );
    }

    #[test]
    fn postage_alone_is_no_purchase_and_a_customer_who_sent_everything_back_is_not_segmented() {
        let rows = [
            ("536001", "A", 10, "2011-01-03 10:00", 2.0, Some("1"), "UK"),
            // Postage billed alone weeks later: spend, not a visit.
            ("536009", "POST", 1, "2011-02-03 10:00", 18.0, Some("1"), "UK"),
            // Customer 2 paid a bank charge only; customer 3 bought and cancelled it all.
            ("536010", "BANK CHARGES", 1, "2011-01-04 10:00", 15.0, Some("2"), "UK"),
            ("536011", "A", 5, "2011-01-05 10:00", 2.0, Some("3"), "UK"),
            ("C536012", "A", -5, "2011-01-06 10:00", 2.0, Some("3"), "UK"),
            // Prices that cancel out in floating point leave dust, not spend.
            ("536013", "A", 1, "2011-01-05 10:00", 0.1, Some("4"), "UK"),
            ("536013", "E", 1, "2011-01-05 10:00", 0.2, Some("4"), "UK"),
            ("C536014", "A", -1, "2011-01-06 10:00", 0.3, Some("4"), "UK"),
            // Customer 5 kept their goods; a manual credit larger than them is spend, not a return.
            ("536015", "A", 10, "2011-01-07 10:00", 2.0, Some("5"), "UK"),
            ("C536016", "M", -1, "2011-01-08 10:00", 50.0, Some("5"), "UK"),
        ];
        let table = rfm_of(&rows);
        assert_eq!(customers(&table), vec!["1", "5"]);
        assert_eq!(table.column("invoices").unwrap().u32().unwrap().get(0), Some(1));
        assert_eq!(table.column("net_spend").unwrap().f64().unwrap().get(0), Some(38.0));
        assert_eq!(table.column("net_spend").unwrap().f64().unwrap().get(1), Some(-30.0));
        let last = table.column("last_time").unwrap().datetime().unwrap();
        assert_eq!(last.as_datetime_iter().next().unwrap().unwrap().to_string(), "2011-01-03 10:00:00");
    }

    #[test]
    fn only_customers_with_a_sale_are_in_rfm() {
        let rows = [
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("C536002", "A", -1, "2011-01-03 10:00", 1.0, Some("2"), "UK"),
            ("536003", "A", 1, "2011-01-03 10:00", 0.0, Some("3"), "UK"),
            ("536004", "A", 1, "2011-01-03 10:00", 1.0, None, "UK"),
        ];
        assert_eq!(customers(&rfm_of(&rows)), vec!["1"]);
    }

    #[test]
    fn country_is_the_most_frequent_with_ties_going_to_the_alphabetically_first() {
        let rows = [
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, Some("1"), "France"),
            ("536001", "E", 1, "2011-01-03 10:00", 1.0, Some("1"), "Spain"),
            ("536001", "C", 1, "2011-01-03 10:00", 1.0, Some("1"), "Spain"),
            ("536002", "A", 1, "2011-01-03 10:00", 1.0, Some("2"), "Spain"),
            ("536002", "E", 1, "2011-01-03 10:00", 1.0, Some("2"), "EIRE"),
        ];
        let table = rfm_of(&rows);
        assert_eq!(customers(&table), vec!["1", "2"]);
        let country = table.column("country").unwrap().str().unwrap();
        assert_eq!(country.get(0), Some("Spain"));
        assert_eq!(country.get(1), Some("EIRE"));
    }
}
