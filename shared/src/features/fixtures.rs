//! Test-only silver batches: hand-written rows and the repo's Online Retail sample, converted
//! to the silver schema with the rules of `tables.rs`. A stand-in for ingest (which owns the
//! real conversion and its quarantine) so that the features are tested on their own.

use polars::prelude::*;

/// One raw line: invoice, stock code, quantity, `YYYY-MM-DD HH:MM`, unit price, customer,
/// country, as in the Online Retail CSV.
pub(crate) type Row<'a> = (&'a str, &'a str, i64, &'a str, f64, Option<&'a str>, &'a str);

/// Codes (upper-cased) that are not products: postage, fees, manual lines, ...
const NON_PRODUCT_CODES: [&str; 11] =
    ["POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B"];
/// Prefixes (upper-cased) of non-product codes: gift vouchers, DCGS lines.
const NON_PRODUCT_PREFIXES: [&str; 2] = ["GIFT_0001_", "DCGS"];

/// A silver batch named `name` from hand-written rows.
pub(crate) fn batch(name: &str, rows: &[Row]) -> DataFrame {
    let raw = df!(
        "InvoiceNo" => rows.iter().map(|row| row.0).collect::<Vec<_>>(),
        "StockCode" => rows.iter().map(|row| row.1).collect::<Vec<_>>(),
        "Description" => rows.iter().map(|_| None::<&str>).collect::<Vec<_>>(),
        "Quantity" => rows.iter().map(|row| row.2.to_string()).collect::<Vec<_>>(),
        "InvoiceDate" => rows.iter().map(|row| format!("{}:00", row.3)).collect::<Vec<_>>(),
        "UnitPrice" => rows.iter().map(|row| row.4.to_string()).collect::<Vec<_>>(),
        "CustomerID" => rows.iter().map(|row| row.5).collect::<Vec<_>>(),
        "Country" => rows.iter().map(|row| row.6).collect::<Vec<_>>(),
    )
    .unwrap();
    silver(raw, name).unwrap()
}

/// The repo's sample of Online Retail (`data/sample/online_retail_sample.csv`) as one batch.
pub(crate) fn sample_batch() -> DataFrame {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample/online_retail_sample.csv");
    let raw = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.into()))
        .unwrap()
        .finish()
        .unwrap();
    silver(raw, "sample").unwrap()
}

/// Online Retail columns, all strings, to the silver schema. `is_duplicate` is left false: the
/// features do not read it.
fn silver(raw: DataFrame, batch: &str) -> PolarsResult<DataFrame> {
    let code = col("StockCode").str().strip_chars(lit(NULL)).str().to_uppercase();
    let invoice = col("InvoiceNo");
    let quantity = col("Quantity").strict_cast(DataType::Int64);
    let non_product = NON_PRODUCT_PREFIXES.iter().fold(
        code.clone().is_in(lit(Series::new("".into(), NON_PRODUCT_CODES)).implode(false), false),
        |non_product, prefix| non_product.or(code.clone().str().starts_with(lit(*prefix))),
    );
    let time_format =
        StrptimeOptions { format: Some("%Y-%m-%d %H:%M:%S".into()), ..StrptimeOptions::default() };
    raw.lazy()
        .with_row_index("row", Some(2))
        .select([
            lit(batch).alias("batch"),
            col("row").cast(DataType::UInt64).alias("line"),
            invoice.clone().alias("invoice"),
            code.alias("stock_code"),
            col("StockCode").alias("stock_code_raw"),
            col("Description").alias("description"),
            quantity.clone().alias("quantity"),
            col("InvoiceDate")
                .str()
                .to_datetime(Some(TimeUnit::Milliseconds), None, time_format, lit("raise"))
                .alias("invoice_time"),
            col("UnitPrice").strict_cast(DataType::Float64).alias("unit_price"),
            col("CustomerID").str().strip_suffix(lit(".0")).alias("customer_id"),
            col("Country").alias("country"),
            when(invoice.clone().str().starts_with(lit("C")))
                .then(lit("cancellation"))
                .when(invoice.str().starts_with(lit("A")))
                .then(lit("bad_debt"))
                .when(quantity.lt_eq(lit(0i64)))
                .then(lit("adjustment"))
                .otherwise(lit("sale"))
                .alias("kind"),
            non_product.not().alias("is_product"),
            lit(false).alias("is_duplicate"),
        ])
        .collect()
}

/// Asserts that `table` has exactly these columns, in this order, with these types.
pub(crate) fn assert_schema(table: &DataFrame, expected: &[(&str, DataType)]) {
    let found: Vec<(String, DataType)> =
        table.schema().iter().map(|(name, dtype)| (name.to_string(), dtype.clone())).collect();
    let expected: Vec<(String, DataType)> =
        expected.iter().map(|(name, dtype)| ((*name).to_owned(), dtype.clone())).collect();
    assert_eq!(found, expected);
}
