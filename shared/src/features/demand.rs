//! `features/daily_demand.parquet`: net units per product SKU per open day, with explicit
//! zeros, so that forecasts see intermittent demand as zeros and closed days as absent.

use polars::prelude::*;

use super::transactions::{DATE, is_kind};
use crate::tables::LineKind;

/// Net units per SKU and open day, clipped at 0, from the SKU's first sale day to the last
/// open day (`open_days`: ascending polars `Date` values). Sorted by SKU, then date.
pub(crate) fn daily_demand(lines: &DataFrame, open_days: &[i32]) -> PolarsResult<DataFrame> {
    let net = lines
        .clone()
        .lazy()
        .filter(col("is_product").and(is_kind(LineKind::Sale).or(is_kind(LineKind::Cancellation))))
        .group_by([col("stock_code"), col(DATE)])
        .agg([col("quantity").sum().alias("net"), is_kind(LineKind::Sale).any(true).alias("has_sale")])
        .collect()?;
    let first_sales = net
        .clone()
        .lazy()
        .filter(col("has_sale"))
        .group_by([col("stock_code")])
        .agg([col(DATE).min()])
        .sort(["stock_code"], SortMultipleOptions::default())
        .collect()?;

    // The grid of (SKU, open day) rows, built directly: each SKU takes the tail of the sorted
    // open days from its first sale day (a cross join would build and then drop the head).
    let mut sku_rows: Vec<IdxSize> = Vec::new();
    let mut days: Vec<i32> = Vec::new();
    let first_days = first_sales.column(DATE)?.date()?.physical();
    for (row, first_day) in (0..).zip(first_days.iter()) {
        let Some(first_day) = first_day else { continue };
        let from = open_days.partition_point(|day| *day < first_day);
        sku_rows.extend(std::iter::repeat_n(row, open_days.len() - from));
        days.extend_from_slice(&open_days[from..]);
    }
    let grid = DataFrame::new(
        days.len(),
        vec![
            first_sales.column("stock_code")?.take_slice(&sku_rows)?,
            Int32Chunked::from_vec(DATE.into(), days).into_date().into_column(),
        ],
    )?;

    let mut keep_grid_order = JoinArgs::new(JoinType::Left);
    keep_grid_order.maintain_order = MaintainOrderJoin::Left;
    grid.lazy()
        .join(
            net.lazy().select([col("stock_code"), col(DATE), col("net")]),
            [col("stock_code"), col(DATE)],
            [col("stock_code"), col(DATE)],
            keep_grid_order,
        )
        .select([
            col("stock_code"),
            col(DATE),
            // No row (null) or a net return (< 0) are both no demand.
            when(col("net").gt(lit(0i64))).then(col("net")).otherwise(lit(0i64)).alias("quantity"),
        ])
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::calendar::calendar;
    use super::super::fixtures::{Row, batch};
    use super::super::transactions::combine;
    use super::*;

    fn demand_of(rows: &[Row]) -> Vec<(String, NaiveDate, i64)> {
        let lines = combine(&[batch("b", rows)]).unwrap();
        let open_days = calendar(&lines).unwrap().open_days;
        let table = daily_demand(&lines, &open_days).unwrap();
        let code = table.column("stock_code").unwrap().str().unwrap();
        let date = table.column("date").unwrap().date().unwrap();
        let quantity = table.column("quantity").unwrap().i64().unwrap();
        code.iter()
            .zip(date.as_date_iter())
            .zip(quantity.iter())
            .map(|((c, d), q)| (c.unwrap().to_owned(), d.unwrap(), q.unwrap()))
            .collect()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2011, 1, d).unwrap()
    }

    #[test]
    fn cancellations_are_netted_on_their_own_day_and_clipped_at_zero() {
        let rows = [
            ("536001", "A", 10, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("C536002", "A", -4, "2011-01-03 16:00", 1.0, Some("1"), "UK"),
            ("536003", "A", 5, "2011-01-04 10:00", 1.0, Some("2"), "UK"),
            // Cancels Monday's sale on Tuesday: Tuesday goes negative, Monday stays 6.
            ("C536004", "A", -6, "2011-01-04 11:00", 1.0, Some("1"), "UK"),
            ("536005", "A", 2, "2011-01-05 10:00", 1.0, Some("2"), "UK"),
        ];
        assert_eq!(
            demand_of(&rows),
            vec![("A".into(), day(3), 6), ("A".into(), day(4), 0), ("A".into(), day(5), 2),]
        );
    }

    #[test]
    fn adjustments_bad_debt_and_non_products_are_not_demand() {
        let rows = [
            ("536001", "A", 1, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "A", -30, "2011-01-03 11:00", 0.0, None, "UK"),
            ("536003", "A", 7, "2011-01-04 10:00", 1.0, Some("1"), "UK"),
            ("A563185", "B", 1, "2011-01-04 10:00", -11062.06, None, "UK"),
            ("536005", "POST", 3, "2011-01-04 10:00", 18.0, Some("1"), "UK"),
            ("536006", "DCGS0003", 3, "2011-01-04 10:00", 18.0, Some("1"), "UK"),
        ];
        assert_eq!(demand_of(&rows), vec![("A".into(), day(3), 1), ("A".into(), day(4), 7)]);
    }

    #[test]
    fn a_sale_without_a_customer_counts_as_demand() {
        let rows = [("536001", "A", 4, "2011-01-03 10:00", 2.5, None, "UK")];
        assert_eq!(demand_of(&rows), vec![("A".into(), day(3), 4)]);
    }

    #[test]
    fn explicit_zeros_fill_only_open_days_from_the_first_sale_to_the_last_open_day() {
        let rows = [
            // Monday: only B trades. A is first sold on Tuesday.
            ("536001", "E", 1, "2011-01-03 10:00", 1.0, None, "UK"),
            ("536002", "A", 2, "2011-01-04 10:00", 1.0, None, "UK"),
            // Wednesday: open (B), no A. Thursday: closed. Friday: open (B), no A.
            ("536003", "E", 1, "2011-01-05 10:00", 1.0, None, "UK"),
            ("536004", "E", 1, "2011-01-07 10:00", 1.0, None, "UK"),
        ];
        assert_eq!(
            demand_of(&rows),
            vec![
                ("A".into(), day(4), 2),
                ("A".into(), day(5), 0),
                ("A".into(), day(7), 0),
                ("E".into(), day(3), 1),
                ("E".into(), day(4), 0),
                ("E".into(), day(5), 1),
                ("E".into(), day(7), 1),
            ]
        );
    }

    #[test]
    fn cancellations_before_a_skus_first_sale_are_dropped() {
        let rows = [
            ("C536001", "A", -5, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "A", 2, "2011-01-04 10:00", 1.0, Some("1"), "UK"),
        ];
        assert_eq!(demand_of(&rows), vec![("A".into(), day(4), 2)]);
    }

    #[test]
    fn a_sku_only_ever_cancelled_has_no_demand_rows() {
        let rows = [
            ("C536001", "A", -5, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "E", 2, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
        ];
        assert_eq!(demand_of(&rows), vec![("E".into(), day(3), 2)]);
    }
}
