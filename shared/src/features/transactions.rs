//! The silver transaction batches as one frame of lines: each batch checked against the
//! contract, overlapping invoices resolved (a newer batch replaces an invoice's lines of a day
//! whole when it is the same upload path, else the lines of the SKUs it holds that day), an invoice
//! number seen on several days split into one order a day, a `date` column added, and the line
//! predicates the feature tables share.

use polars::prelude::*;

use super::FeatureError;
use crate::tables::LineKind;

/// The day of `invoice_time`, added to the merged lines (several tables group by it).
pub(crate) const DATE: &str = "date";

/// The optional description column: read when a batch has it, null otherwise.
pub(crate) const DESCRIPTION: &str = "description";

/// Position of a line's batch in the list given, to find an invoice's newest batch.
const BATCH_POSITION: &str = "__batch_position";

use crate::tables::UPLOAD_COLUMN;

/// The silver columns the features read, their contract types and whether nulls are allowed.
/// The other contract columns (`batch`, `line`, `stock_code_raw`, `is_duplicate`) are not
/// read, so they are not required either; `description` is read when present
/// ([`DESCRIPTION`]).
fn read_columns() -> [(&'static str, DataType, bool); 9] {
    [
        ("invoice", DataType::String, false),
        ("stock_code", DataType::String, false),
        ("quantity", DataType::Int64, false),
        ("invoice_time", DataType::Datetime(TimeUnit::Milliseconds, None), false),
        ("unit_price", DataType::Float64, false),
        ("customer_id", DataType::String, true),
        ("country", DataType::String, true),
        ("kind", DataType::String, false),
        ("is_product", DataType::Boolean, false),
    ]
}

/// A silver transactions batch from its Parquet bytes, with only the columns the features read
/// ([`read_columns`], [`DESCRIPTION`] and the upload path, when the table has them): a shop's
/// whole history is read at every refresh, and the columns no feature reads (the raw code, the
/// batch id, line numbers) were a third of what it held in memory.
///
/// # Errors
/// When the bytes are not a readable Parquet file.
pub fn read_batch(bytes: &[u8]) -> Result<DataFrame, FeatureError> {
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let schema = reader.schema()?;
    let wanted: Vec<String> = read_columns()
        .iter()
        .map(|(name, ..)| *name)
        .chain([DESCRIPTION, UPLOAD_COLUMN])
        .filter(|name| schema.contains(name))
        .map(str::to_owned)
        .collect();
    Ok(ParquetReader::new(std::io::Cursor::new(bytes)).with_columns(Some(wanted)).finish()?)
}

/// Every line of every batch once ([`crate::features`], "Overlapping batches"): a line is kept
/// unless a newer batch of the same upload path holds its invoice, or a newer batch of any path
/// holds its invoice and SKU. Columns: those of [`read_columns`] plus [`DESCRIPTION`] and
/// [`DATE`].
pub(crate) fn combine(batches: Vec<DataFrame>) -> Result<DataFrame, FeatureError> {
    let columns: Vec<Expr> = read_columns().iter().map(|(name, ..)| col(*name)).collect();
    let mut frames = Vec::with_capacity(batches.len().max(1));
    let several = batches.len() > 1;
    for (position, batch) in batches.into_iter().enumerate() {
        check(&batch, position)?;
        let description = if batch.schema().contains(DESCRIPTION) {
            col(DESCRIPTION).cast(DataType::String)
        } else {
            lit(NULL).cast(DataType::String).alias(DESCRIPTION)
        };
        // Tables written before the upload path was kept share one unnamed path: among
        // themselves they replace invoices whole, as they did.
        let upload = if batch.schema().contains(UPLOAD_COLUMN) {
            col(UPLOAD_COLUMN).cast(DataType::String).fill_null(lit(""))
        } else {
            lit("").alias(UPLOAD_COLUMN)
        };
        let mut select = columns.clone();
        select.push(description);
        select.push(upload);
        frames.push(batch.lazy().select(select).with_column(lit(position as u64).alias(BATCH_POSITION)));
    }
    if frames.is_empty() {
        let empty = DataFrame::empty_with_schema(
            &read_columns().into_iter().map(|(name, dtype, _)| Field::new(name.into(), dtype)).collect(),
        );
        frames.push(empty.lazy().with_columns([
            lit(NULL).cast(DataType::String).alias(DESCRIPTION),
            lit("").alias(UPLOAD_COLUMN),
            lit(0u64).alias(BATCH_POSITION),
        ]));
    }
    let mut lines =
        concat(frames, UnionArgs::default())?.with_column(col("invoice_time").dt().date().alias(DATE));
    if several {
        // Within a day: a file sent under one name every day whose numbers restart (a till's
        // receipts) must not erase the days before.
        let newest_of_upload =
            col(BATCH_POSITION).max().over([col("invoice"), col(DATE), col(UPLOAD_COLUMN)])?;
        let newest_of_sku = col(BATCH_POSITION).max().over([col("invoice"), col(DATE), col("stock_code")])?;
        lines =
            lines.filter(col(BATCH_POSITION).eq(newest_of_upload).and(col(BATCH_POSITION).eq(newest_of_sku)));
    }
    // One number on another day is another order: its lines there are `<invoice>@<day>`.
    let first_day = col(DATE).min().over([col("invoice")])?;
    let order = when(col(DATE).eq(first_day))
        .then(col("invoice"))
        .otherwise(col("invoice") + lit("@") + col(DATE).cast(DataType::String));
    let mut output: Vec<Expr> = columns
        .into_iter()
        .map(|c| if c == col("invoice") { order.clone().alias("invoice") } else { c })
        .collect();
    output.push(col(DESCRIPTION));
    output.push(col(DATE));
    Ok(lines.select(output).collect()?)
}

/// Refuses a batch that breaks the part of the contract the features rely on.
fn check(batch: &DataFrame, position: usize) -> Result<(), FeatureError> {
    let table = || format!("transactions batch {position}");
    for (column, expected, nullable) in read_columns() {
        let Some(found) = batch.schema().get(column) else {
            return Err(FeatureError::MissingColumn { table: table(), column });
        };
        if *found != expected {
            return Err(FeatureError::WrongType {
                table: table(),
                column,
                expected: expected.to_string(),
                found: found.to_string(),
            });
        }
        let count = batch.column(column)?.null_count();
        if !nullable && count > 0 {
            return Err(FeatureError::NullValues { table: table(), column, count });
        }
    }
    let known = [LineKind::Sale, LineKind::Cancellation, LineKind::Adjustment, LineKind::BadDebt]
        .map(LineKind::as_str);
    let kinds = batch.column("kind")?.str()?;
    if let Some(kind) = kinds.iter().flatten().find(|kind| !known.contains(kind)) {
        return Err(FeatureError::UnknownKind { table: table(), kind: kind.to_owned() });
    }
    Ok(())
}

/// Lines of one kind.
pub(crate) fn is_kind(kind: LineKind) -> Expr {
    col("kind").eq(lit(kind.as_str()))
}

/// A customer's purchase of a product: kind sale, a customer, a product code, quantity > 0 and
/// unit price > 0 (free lines are not purchases; postage and fees alone are no purchase).
pub(crate) fn is_product_purchase() -> Expr {
    is_kind(LineKind::Sale)
        .and(col("customer_id").is_not_null())
        .and(col("is_product"))
        .and(col("quantity").gt(lit(0i64)))
        .and(col("unit_price").gt(lit(0.0)))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::batch;
    use super::*;

    fn invoice_lines(lines: &DataFrame) -> Vec<(String, String, i64)> {
        let invoice = lines.column("invoice").unwrap().str().unwrap();
        let code = lines.column("stock_code").unwrap().str().unwrap();
        let quantity = lines.column("quantity").unwrap().i64().unwrap();
        let mut rows: Vec<_> = invoice
            .iter()
            .zip(code.iter())
            .zip(quantity.iter())
            .map(|((i, c), q)| (i.unwrap().to_owned(), c.unwrap().to_owned(), q.unwrap()))
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn an_invoice_in_two_batches_keeps_only_the_lines_of_the_newest_batch() {
        let old = batch(
            "old",
            &[
                ("536001", "A", 5, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
                ("536001", "E", 3, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
                ("536002", "A", 1, "2011-01-03 11:00", 1.0, Some("2"), "UK"),
            ],
        );
        let new = batch(
            "new",
            &[
                ("536001", "A", 6, "2011-01-03 10:00", 1.0, Some("1"), "UK"),
                ("536003", "C", 2, "2011-01-04 10:00", 1.0, Some("3"), "UK"),
            ],
        );
        let lines = combine(vec![old, new]).unwrap();
        assert_eq!(
            invoice_lines(&lines),
            vec![
                ("536001".into(), "A".into(), 6),
                ("536002".into(), "A".into(), 1),
                ("536003".into(), "C".into(), 2),
            ]
        );
    }

    fn from_upload(mut batch: DataFrame, path: &str) -> DataFrame {
        let height = batch.height();
        batch.with_column(Column::new(UPLOAD_COLUMN.into(), vec![path; height])).unwrap();
        batch
    }

    #[test]
    fn an_invoice_split_over_two_files_adds_up_and_a_file_sent_again_replaces_its_invoices_whole() {
        let line = |code, quantity| ("536001", code, quantity, "2011-01-03 10:00", 1.0, Some("1"), "UK");
        let part1 = from_upload(batch("p1", &[line("A", 5), line("B", 3)]), "transactions/part1.csv");
        let part2 = from_upload(batch("p2", &[line("C", 2)]), "transactions/part2.csv");
        let both = combine(vec![part1.clone(), part2.clone()]).unwrap();
        let ab_c = vec![
            ("536001".into(), "A".into(), 5),
            ("536001".into(), "B".into(), 3),
            ("536001".into(), "C".into(), 2),
        ];
        assert_eq!(invoice_lines(&both), ab_c, "the parts of a split export add up");
        // An overlapping export under another name repeats lines: they count once, and a SKU's
        // line it holds replaces the older one.
        let overlap = from_upload(batch("o", &[line("A", 6), line("C", 2)]), "transactions/week2.csv");
        let lines = combine(vec![part1.clone(), part2.clone(), overlap]).unwrap();
        let a6_b_c = vec![
            ("536001".into(), "A".into(), 6),
            ("536001".into(), "B".into(), 3),
            ("536001".into(), "C".into(), 2),
        ];
        assert_eq!(invoice_lines(&lines), a6_b_c);
        // part1.csv corrected and sent again: its invoice as it now stands, B dropped.
        let corrected = from_upload(batch("p1b", &[line("A", 4)]), "transactions/part1.csv");
        let lines = combine(vec![part1, part2, corrected]).unwrap();
        assert_eq!(
            invoice_lines(&lines),
            vec![("536001".into(), "A".into(), 4), ("536001".into(), "C".into(), 2)]
        );
    }

    #[test]
    fn an_invoice_number_on_another_day_is_another_order_and_replaces_nothing() {
        // The web shop's order 536520 in January; the marketplace's 536520 in June, another
        // customer, sharing one SKU with it.
        let web = from_upload(
            batch(
                "web",
                &[
                    ("536520", "21794", 2, "2011-01-03 10:00", 1.0, Some("14729"), "UK"),
                    ("536520", "22423", 1, "2011-01-03 10:00", 12.75, Some("14729"), "UK"),
                ],
            ),
            "transactions/web.csv",
        );
        let market = from_upload(
            batch(
                "market",
                &[
                    ("536520", "21794", 5, "2011-06-01 09:00", 1.0, Some("99999"), "UK"),
                    ("536520", "99999X", 1, "2011-06-01 09:00", 3.0, Some("99999"), "UK"),
                ],
            ),
            "transactions/marketplace.csv",
        );
        let lines = combine(vec![web.clone(), market.clone()]).unwrap();
        assert_eq!(
            invoice_lines(&lines),
            vec![
                ("536520".into(), "21794".into(), 2),
                ("536520".into(), "22423".into(), 1),
                ("536520@2011-06-01".into(), "21794".into(), 5),
                ("536520@2011-06-01".into(), "99999X".into(), 1),
            ],
            "both orders kept, each its own basket"
        );
        // The marketplace file sent again under its name replaces its own order, not the web's.
        let again = from_upload(
            batch("market2", &[("536520", "21794", 4, "2011-06-01 09:00", 1.0, Some("99999"), "UK")]),
            "transactions/marketplace.csv",
        );
        let lines = combine(vec![web.clone(), market.clone(), again.clone()]).unwrap();
        assert_eq!(
            invoice_lines(&lines),
            vec![
                ("536520".into(), "21794".into(), 2),
                ("536520".into(), "22423".into(), 1),
                ("536520@2011-06-01".into(), "21794".into(), 4),
            ]
        );
        // The web file under the same name the next day, its till's numbers restarted: the
        // day before stays.
        let next_day = from_upload(
            batch("web2", &[("536520", "22423", 3, "2011-01-04 10:00", 12.75, Some("12680"), "UK")]),
            "transactions/web.csv",
        );
        let lines = combine(vec![web, market, again, next_day]).unwrap();
        assert_eq!(
            invoice_lines(&lines),
            vec![
                ("536520".into(), "21794".into(), 2),
                ("536520".into(), "22423".into(), 1),
                ("536520@2011-01-04".into(), "22423".into(), 3),
                ("536520@2011-06-01".into(), "21794".into(), 4),
            ]
        );
    }

    #[test]
    fn the_last_batch_in_the_slice_is_the_newest() {
        let first = batch("first", &[("536001", "A", 1, "2011-01-03 10:00", 1.0, None, "UK")]);
        let second = batch("second", &[("536001", "A", 2, "2011-01-03 10:00", 1.0, None, "UK")]);
        let lines = combine(vec![second.clone(), first.clone()]).unwrap();
        assert_eq!(invoice_lines(&lines), vec![("536001".into(), "A".into(), 1)]);
        let lines = combine(vec![first, second]).unwrap();
        assert_eq!(invoice_lines(&lines), vec![("536001".into(), "A".into(), 2)]);
    }

    #[test]
    fn duplicate_lines_within_one_batch_are_kept() {
        let row = ("536001", "A", 1, "2011-01-03 10:00", 1.0, None, "UK");
        let lines = combine(vec![batch("b", &[row, row])]).unwrap();
        assert_eq!(lines.height(), 2);
    }

    #[test]
    fn combined_lines_carry_the_day_of_their_invoice_time() {
        let row = ("536001", "A", 1, "2011-01-03 23:59", 1.0, None, "UK");
        let lines = combine(vec![batch("b", &[row])]).unwrap();
        let date = lines.column(DATE).unwrap().date().unwrap();
        assert_eq!(date.as_date_iter().next().unwrap(), chrono::NaiveDate::from_ymd_opt(2011, 1, 3));
    }

    #[test]
    fn a_missing_column_is_reported_with_its_batch() {
        let good = batch("b", &[]);
        let bad = good.drop("unit_price").unwrap();
        let error = combine(vec![good, bad]).unwrap_err();
        assert!(
            matches!(
                &error,
                FeatureError::MissingColumn { table, column: "unit_price" }
                    if table == "transactions batch 1"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_column_of_another_type_is_refused() {
        let mut bad = batch("b", &[("1", "A", 1, "2011-01-03 10:00", 1.0, None, "UK")]);
        let quantity = bad.column("quantity").unwrap().cast(&DataType::Int32).unwrap();
        bad.replace("quantity", quantity).unwrap();
        let error = combine(vec![bad]).unwrap_err();
        assert!(
            matches!(
                &error,
                FeatureError::WrongType { column: "quantity", expected, found, .. }
                    if expected == "i64" && found == "i32"
            ),
            "{error}"
        );
    }

    #[test]
    fn nulls_in_a_required_column_are_refused() {
        let mut bad = batch("b", &[("1", "A", 1, "2011-01-03 10:00", 1.0, None, "UK")]);
        bad.replace("invoice", Column::new("invoice".into(), [None::<&str>])).unwrap();
        let error = combine(vec![bad]).unwrap_err();
        assert!(matches!(&error, FeatureError::NullValues { column: "invoice", count: 1, .. }), "{error}");
    }

    #[test]
    fn an_unknown_line_kind_is_refused() {
        let mut bad = batch("b", &[("1", "A", 1, "2011-01-03 10:00", 1.0, None, "UK")]);
        bad.replace("kind", Column::new("kind".into(), ["refund"])).unwrap();
        let error = combine(vec![bad]).unwrap_err();
        assert!(matches!(&error, FeatureError::UnknownKind { kind, .. } if kind == "refund"), "{error}");
    }
}
