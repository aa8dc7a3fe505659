//! `features/daily_demand.parquet`: net units per product SKU per open day, with explicit
//! zeros, so that forecasts see intermittent demand as zeros and closed days as absent.

use std::collections::HashMap;

use polars::prelude::*;

use super::transactions::{DATE, is_kind};
use crate::tables::LineKind;

/// Net units per SKU and open day, clipped at 0, from the SKU's first sale day to the last
/// open day (`open_days`: ascending polars `Date` values). Sorted by SKU, then date.
pub(crate) fn daily_demand(lines: &DataFrame, open_days: &[i32]) -> PolarsResult<DataFrame> {
    let net = lines
        .clone()
        .lazy()
        .filter(
            col("is_product")
                .and(col("unit_price").gt(lit(0.0)))
                .and(is_kind(LineKind::Sale).or(is_kind(LineKind::Cancellation))),
        )
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
    let skus = first_sales.column("stock_code")?;
    let grid = Grid::lay_out(first_sales.column(DATE)?.date()?.physical(), open_days);

    // Fill the laid-out grid from the net rows by position: a direct index, where a join on
    // (SKU, date) against a million-row grid cost as much as everything else here together.
    let sku_of: HashMap<&str, usize> =
        (0..).zip(skus.str()?.iter()).filter_map(|(i, c)| Some((c?, i))).collect();
    let mut quantity = vec![0i64; grid.rows()];
    let codes = net.column("stock_code")?.str()?;
    let days = net.column(DATE)?.date()?.physical();
    let nets = net.column("net")?.i64()?;
    for ((code, day), units) in codes.iter().zip(days.iter()).zip(nets.iter()) {
        let (Some(code), Some(day), Some(units)) = (code, day, units) else { continue };
        // A SKU only ever cancelled has no series; nor have days before its first sale.
        let Some(&sku) = sku_of.get(code) else { continue };
        if let Some(row) = grid.row(sku, day) {
            quantity[row] = units.max(0);
        }
    }

    DataFrame::new(
        quantity.len(),
        vec![
            skus.take_slice(&grid.sku_of_row)?,
            Int32Chunked::from_vec(DATE.into(), grid.day_of_row).into_date().into_column(),
            Int64Chunked::from_vec("quantity".into(), quantity).into_column(),
        ],
    )
}

/// Where each SKU's series sits in the output: SKU `s` owns rows `start[s]..start[s + 1]`,
/// one per open day from its first sale day (`first_open[s]`, an index into the open days) to
/// the last open day.
struct Grid<'a> {
    open_days: &'a [i32],
    /// Index in `open_days` of each calendar day of the span (`None` when closed).
    open_index: Vec<Option<usize>>,
    /// First output row of each SKU, plus the total row count at the end.
    start: Vec<usize>,
    /// Index in `open_days` of each SKU's first sale day (or the first open day after it).
    first_open: Vec<usize>,
    /// Per output row, the SKU (its row in the sorted first-sales frame) and the day.
    sku_of_row: Vec<IdxSize>,
    day_of_row: Vec<i32>,
}

impl<'a> Grid<'a> {
    fn lay_out(first_days: &Int32Chunked, open_days: &'a [i32]) -> Self {
        let span_start = open_days.first().copied().unwrap_or_default();
        let span = open_days.last().map_or(0, |last| last - span_start + 1);
        let mut open_index = vec![None; usize::try_from(span).unwrap_or_default()];
        for (index, day) in open_days.iter().enumerate() {
            open_index[usize::try_from(day - span_start).expect("sorted days")] = Some(index);
        }
        let (mut start, mut first_open) = (vec![0], Vec::with_capacity(first_days.len()));
        let (mut sku_of_row, mut day_of_row) = (Vec::new(), Vec::new());
        for (sku, first_day) in (0..).zip(first_days.iter()) {
            let from =
                first_day.map_or(open_days.len(), |first| open_days.partition_point(|day| *day < first));
            first_open.push(from);
            sku_of_row.extend(std::iter::repeat_n(sku, open_days.len() - from));
            day_of_row.extend_from_slice(&open_days[from..]);
            start.push(day_of_row.len());
        }
        Self { open_days, open_index, start, first_open, sku_of_row, day_of_row }
    }

    fn rows(&self) -> usize {
        self.day_of_row.len()
    }

    /// The output row of `sku` on `day`, if its series covers that day.
    fn row(&self, sku: usize, day: i32) -> Option<usize> {
        let span_start = *self.open_days.first()?;
        let offset = usize::try_from(day - span_start).ok()?;
        let open = (*self.open_index.get(offset)?)?;
        let from = self.first_open[sku];
        (open >= from).then(|| self.start[sku] + open - from)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::calendar::calendar;
    use super::super::fixtures::{Row, batch};
    use super::super::transactions::combine;
    use super::*;

    fn demand_of(rows: &[Row]) -> Vec<(String, NaiveDate, i64)> {
        let lines = combine(vec![batch("b", rows)]).unwrap();
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
    fn zero_price_lines_are_not_demand() {
        // Online Retail's price-0 lines are mostly stock found or written off ("found", "?", no
        // customer): 5,568 units of one SKU on one day. The panel excludes them too.
        let rows = [
            ("536001", "A", 2, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
            ("536002", "A", 5568, "2011-01-04 10:00", 0.0, None, "UK"),
            ("536003", "A", 3, "2011-01-04 11:00", 1.0, Some("2"), "UK"),
            // A SKU whose only line is free has no series.
            ("536004", "F", 12, "2011-01-04 12:00", 0.0, Some("3"), "UK"),
        ];
        assert_eq!(demand_of(&rows), vec![("A".into(), day(3), 2), ("A".into(), day(4), 3)]);
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
