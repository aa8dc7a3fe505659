//! Retail semantics of transaction lines, each a documented rule (README, "Retail rules"):
//!
//! 1. **Cancellations**: a line of an invoice starting with `C` with a negative quantity is a
//!    cancellation (often days after the sale). Kept; netted against sales for demand; excluded
//!    from interactions. A `C` invoice's line with a positive quantity is a sale: invoice numbers
//!    of other shops start with `C` for other reasons (a channel, `CO-1001`), and read as
//!    cancellations they lost the sales (counted in the report, which warns when the upload
//!    holds cancellations too).
//! 2. **Bad debt**: a line of an invoice starting with `A` with code `B` ("Adjust bad debt", the
//!    only negative prices) is an accounting line: kept, never demand, never an interaction. An
//!    `A` invoice's other lines (`AMZ-1001`: its products, postage, fees) are what they would be
//!    on any invoice.
//! 3. **Stock adjustments**: any other line with quantity <= 0 (no customer, price 0) records
//!    stock written off or corrected: kept, never demand, never an interaction.
//! 4. **Zero prices**: kept and counted in the report; a zero-price sale is not an interaction
//!    (free samples and corrections say nothing of taste) but is demand (units left the shelf).
//! 5. **Exact duplicate lines** (every field equal to an earlier line of the same upload): kept
//!    and counted, flagged `is_duplicate`. The invoice is the record of sale and repeated lines
//!    occur when the same item is scanned twice; interactions count distinct invoices, so
//!    duplicates do not inflate them.
//! 6. **Non-product codes** (postage, fees, manual lines, vouchers: POST, DOT, M, C2, D, S,
//!    BANK CHARGES, AMAZONFEE, CRUK, PADS, B, gift_0001_*, DCGS*) are `is_product = false`:
//!    excluded from recommendations and SKU demand, kept for money totals.
//! 7. **Stock code case**: codes differing only in case are one SKU (`stock_code` is upper-cased;
//!    `stock_code_raw` keeps the original).
//! 8. **No customer**: lines without a customer count for demand, not for recommendations or
//!    segments.
//! 9. **Customer keys as floats**: `17850.0` is customer `17850` (see [`super::validate`]).

use std::collections::HashSet;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::sku::normalise_sku;
use crate::tables::LineKind;

/// Exact codes that are not products (compared upper-cased).
pub const NON_PRODUCT_CODES: &[&str] =
    &["POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B"];
/// Code prefixes that are not products (compared upper-cased).
pub const NON_PRODUCT_PREFIXES: &[&str] = &["GIFT_0001_", "DCGS"];

/// Whether an (upper-cased) stock code is a product.
#[must_use]
pub fn is_product(stock_code: &str) -> bool {
    !(NON_PRODUCT_CODES.contains(&stock_code)
        || NON_PRODUCT_PREFIXES.iter().any(|p| stock_code.starts_with(p)))
}

/// The code of a bad-debt adjustment's line ("Adjust bad debt").
pub const BAD_DEBT_CODE: &str = "B";

/// The kind of a line from its invoice, (upper-cased) stock code, quantity and unit price.
#[must_use]
pub fn line_kind(invoice: &str, stock_code: &str, quantity: i64, unit_price: f64) -> LineKind {
    match invoice.as_bytes().first().map(u8::to_ascii_uppercase) {
        Some(b'A') if stock_code == BAD_DEBT_CODE => LineKind::BadDebt,
        // Only a bad-debt adjustment carries a negative price; on a sale or a return it would
        // turn spend around, so the line is an adjustment, counted as one.
        _ if unit_price < 0.0 => LineKind::Adjustment,
        Some(b'C') if quantity < 0 => LineKind::Cancellation,
        _ if quantity <= 0 => LineKind::Adjustment,
        _ => LineKind::Sale,
    }
}

/// Whether an invoice number starts with `C` or `A`, the letters of cancellations and bad debt.
fn prefixed(invoice: &str) -> bool {
    invoice.as_bytes().first().is_some_and(|b| matches!(b.to_ascii_uppercase(), b'A' | b'C'))
}

/// Retail counts for the quality report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetailCounts {
    /// Distinct orders: invoice numbers, one for each day a number is on.
    pub invoices: u64,
    /// Distinct stock codes as given (before case-normalising).
    pub stock_codes_raw: u64,
    /// Distinct stock codes after case-normalising.
    pub stock_codes: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Distinct countries.
    pub countries: u64,
    /// Lines of `C` invoices with a negative quantity.
    pub cancellation_lines: u64,
    /// Other lines with quantity <= 0, and lines with a negative price but bad debt.
    pub adjustment_lines: u64,
    /// Lines of `A` invoices with code `B`.
    pub bad_debt_lines: u64,
    /// Sales on invoices starting with `C` or `A` (a positive quantity; a product code): read
    /// as sales, and warned about when the upload holds cancellations or bad debt too.
    #[serde(default)]
    pub prefixed_sale_lines: u64,
    /// Lines with price 0.
    pub zero_price_lines: u64,
    /// Lines without a customer.
    pub lines_without_customer: u64,
    /// Lines whose stock code is not a product.
    pub non_product_lines: u64,
    /// Lines that repeat an earlier line of the upload exactly.
    pub exact_duplicate_lines: u64,
}

fn distinct(column: &Column) -> PolarsResult<u64> {
    Ok(column.drop_nulls().n_unique()? as u64)
}

/// Distinct orders: an invoice number on another day is another order, as the features read it
/// (two channels numbering alike, a till restarting its numbers), so the report counts each.
/// `invoice_time` is milliseconds of local time.
fn orders(frame: &DataFrame) -> PolarsResult<u64> {
    const MS_PER_DAY: i64 = 86_400_000;
    let invoices = frame.column("invoice")?.str()?;
    let times = frame.column("invoice_time")?.to_physical_repr();
    let orders: std::collections::HashSet<(&str, Option<i64>)> = invoices
        .iter()
        .zip(times.i64()?.iter())
        .filter_map(|(invoice, time)| Some((invoice?, time.map(|ms| ms.div_euclid(MS_PER_DAY)))))
        .collect();
    Ok(orders.len() as u64)
}

/// Adds `batch`, `stock_code_raw`, `kind`, `is_product` and `is_duplicate` to validated
/// transaction lines, upper-cases `stock_code`, and counts what the report states.
pub fn apply_retail_rules(
    frame: DataFrame,
    batch: &str,
    fingerprints: &[u64],
) -> PolarsResult<(DataFrame, RetailCounts)> {
    let invoices = frame.column("invoice")?.str()?.clone();
    let raw_codes = frame.column("stock_code")?.str()?.clone();
    let quantities = frame.column("quantity")?.i64()?.clone();
    let prices = frame.column("unit_price")?.f64()?.clone();
    let height = frame.height();

    let codes: StringChunked = raw_codes.apply_values(|code| normalise_sku(code).into());
    let mut kinds = Vec::with_capacity(height);
    let mut products = Vec::with_capacity(height);
    let mut duplicates = Vec::with_capacity(height);
    let mut seen = HashSet::with_capacity(height);
    let mut counts = RetailCounts::default();
    for (i, fingerprint) in fingerprints.iter().enumerate() {
        let invoice = invoices.get(i).unwrap_or_default();
        let code = codes.get(i).unwrap_or_default();
        let kind = line_kind(
            invoice,
            code,
            quantities.get(i).unwrap_or_default(),
            prices.get(i).unwrap_or_default(),
        );
        let product = is_product(code);
        let duplicate = !seen.insert(*fingerprint);
        match kind {
            LineKind::Cancellation => counts.cancellation_lines += 1,
            LineKind::Adjustment => counts.adjustment_lines += 1,
            LineKind::BadDebt => counts.bad_debt_lines += 1,
            LineKind::Sale => counts.prefixed_sale_lines += u64::from(prefixed(invoice)),
        }
        counts.zero_price_lines += u64::from(prices.get(i) == Some(0.0));
        counts.non_product_lines += u64::from(!product);
        counts.exact_duplicate_lines += u64::from(duplicate);
        kinds.push(kind.as_str());
        products.push(product);
        duplicates.push(duplicate);
    }
    counts.lines_without_customer = frame.column("customer_id")?.null_count() as u64;
    counts.invoices = orders(&frame)?;
    counts.stock_codes_raw = distinct(frame.column("stock_code")?)?;
    counts.stock_codes = codes.n_unique()? as u64;
    counts.customers = distinct(frame.column("customer_id")?)?;
    counts.countries = distinct(frame.column("country")?)?;

    let mut out = frame;
    out.rename("stock_code", "stock_code_raw".into())?;
    out.with_column(codes.with_name("stock_code".into()).into_column())?;
    out.with_column(Column::new("kind".into(), kinds))?;
    out.with_column(Column::new("is_product".into(), products))?;
    out.with_column(Column::new("is_duplicate".into(), duplicates))?;
    out.with_column(Column::new("batch".into(), vec![batch; height]))?;
    let ordered = out.select([
        "batch",
        "line",
        "invoice",
        "stock_code",
        "stock_code_raw",
        "description",
        "quantity",
        "invoice_time",
        "unit_price",
        "customer_id",
        "country",
        "kind",
        "is_product",
        "is_duplicate",
    ])?;
    Ok((ordered, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_and_quantities_decide_the_line_kind() {
        assert_eq!(line_kind("536365", "85123A", 6, 2.55), LineKind::Sale);
        assert_eq!(line_kind("C536379", "D", -1, 2.55), LineKind::Cancellation);
        assert_eq!(line_kind("A563185", "B", 1, -11062.06), LineKind::BadDebt);
        assert_eq!(line_kind("A563185", "B", 1, 11062.06), LineKind::BadDebt);
        assert_eq!(line_kind("536589", "21275", -10, 0.0), LineKind::Adjustment);
        assert_eq!(line_kind("536589", "21275", 0, 0.0), LineKind::Adjustment);
        // A negative price outside a bad-debt invoice would subtract from spend: an adjustment.
        assert_eq!(line_kind("536590", "21275", 2, -3.0), LineKind::Adjustment);
        assert_eq!(line_kind("C536591", "21275", -2, -3.0), LineKind::Adjustment);
        // Other shops' invoice numbers start with C or A for other reasons: their sales are sales.
        assert_eq!(line_kind("CO-1001", "21275", 4, 2.5), LineKind::Sale);
        assert_eq!(line_kind("AMZ-1001", "21275", 4, 2.5), LineKind::Sale);
        assert_eq!(line_kind("CO-1001", "21275", 0, 2.5), LineKind::Adjustment);
        // A channel's postage or fee on an `A` invoice is no bad debt: it counts in spend.
        assert_eq!(line_kind("AMZ-1001", "POST", 1, 18.0), LineKind::Sale);
        assert_eq!(line_kind("AMZ-1001", "AMAZONFEE", 1, 5.0), LineKind::Sale);
    }

    #[test]
    fn postage_fees_and_vouchers_are_not_products() {
        for code in
            ["POST", "DOT", "M", "C2", "BANK CHARGES", "AMAZONFEE", "GIFT_0001_40", "DCGSSBOY", "B", "PADS"]
        {
            assert!(!is_product(code), "{code}");
        }
        for code in ["85123A", "22423", "MUG", "POSTCARD", "BAG", "47566B"] {
            assert!(is_product(code), "{code}");
        }
    }

    #[test]
    fn stock_codes_differing_in_case_become_one_sku_and_duplicates_are_flagged() {
        let frame = df!(
            "line" => [2u64, 3, 4],
            "invoice" => ["1", "C2", "1"],
            "stock_code" => ["85123a", "85123A", "85123a"],
            "description" => [Some("x"), None, Some("x")],
            "quantity" => [1i64, -1, 1],
            "invoice_time" => [0i64, 0, 0],
            "unit_price" => [0.0, 2.0, 0.0],
            "customer_id" => [Some("1"), None, Some("1")],
            "country" => [Some("UK"), Some("UK"), Some("UK")],
        )
        .unwrap();
        let (out, counts) = apply_retail_rules(frame, "abc", &[7, 8, 7]).unwrap();
        assert_eq!(counts.invoices, 2);
        assert_eq!(counts.stock_codes_raw, 2);
        assert_eq!(counts.stock_codes, 1);
        assert_eq!(counts.cancellation_lines, 1);
        assert_eq!(counts.zero_price_lines, 2);
        assert_eq!(counts.lines_without_customer, 1);
        assert_eq!(counts.exact_duplicate_lines, 1);
        let dup: Vec<Option<bool>> = out.column("is_duplicate").unwrap().bool().unwrap().iter().collect();
        assert_eq!(dup, [Some(false), Some(false), Some(true)]);
        assert_eq!(out.column("stock_code").unwrap().str().unwrap().get(0), Some("85123A"));
        assert_eq!(out.column("stock_code_raw").unwrap().str().unwrap().get(0), Some("85123a"));
        assert_eq!(out.get_column_names()[0].as_str(), "batch");
    }

    #[test]
    fn an_invoice_number_on_two_days_counts_as_two_orders() {
        let day = 86_400_000i64;
        let frame = df!(
            "line" => [2u64, 3, 4, 5],
            "invoice" => ["536520", "536520", "536520", "536521"],
            "stock_code" => ["21794", "22423", "21794", "21794"],
            "description" => [Some("x"); 4],
            "quantity" => [1i64, 1, 1, 1],
            "invoice_time" => [10 * day + 3_600_000, 10 * day + 3_660_000, 190 * day, 190 * day],
            "unit_price" => [1.0; 4],
            "customer_id" => [Some("1"); 4],
            "country" => [Some("UK"); 4],
        )
        .unwrap();
        let (_, counts) = apply_retail_rules(frame, "abc", &[1, 2, 3, 4]).unwrap();
        assert_eq!(counts.invoices, 3, "536520 on two days, and 536521");
    }
}
