//! The public evaluation datasets beside the checkout (`../shared/data`, never committed):
//! MovieLens 100K as binary implicit feedback, and UCI Online Retail cleaned to one
//! interaction per customer x stock code (weight = distinct invoices, time = first purchase).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::data::{Record, parse_time};
use super::errors::{RecommendError, Result};

fn open_gz(path: &Path) -> Result<impl Read> {
    let file =
        std::fs::File::open(path).map_err(|source| RecommendError::Io { path: path.to_owned(), source })?;
    Ok(flate2::read::GzDecoder::new(file))
}

/// `movielens-100k/u.data.gz` under `data_dir`: every rating is one interaction of weight 1.
///
/// # Errors
/// I/O, or a line without four tab-separated integers.
pub fn movielens_100k(data_dir: &Path) -> Result<Vec<Record>> {
    let path = data_dir.join("movielens-100k/u.data.gz");
    let name = path.display().to_string();
    let mut records = Vec::with_capacity(100_000);
    for (n, line) in BufReader::new(open_gz(&path)?).lines().enumerate() {
        let line = line.map_err(|source| RecommendError::Io { path: path.clone(), source })?;
        let fields: Vec<&str> = line.split('\t').collect();
        let invalid = |column: &str, reason: &str| RecommendError::InvalidRow {
            file: name.clone(),
            line: n as u64 + 1,
            column: column.into(),
            reason: reason.into(),
        };
        if fields.len() != 4 {
            return Err(invalid("row", "expected user, item, rating, time separated by tabs"));
        }
        let ts = fields[3].trim().parse().map_err(|_| invalid("timestamp", "not an integer"))?;
        records.push(Record { user: fields[0].into(), item: fields[1].into(), weight: 1.0, ts });
    }
    Ok(records)
}

/// `online_retail/online_retail.csv.gz` under `data_dir`, cleaned (customer present,
/// quantity > 0, price > 0, not a `C` invoice) and aggregated per customer x stock code.
/// Also returns each stock code's first description (for the content signal).
///
/// # Errors
/// I/O, or a row whose quantity, price or date does not parse.
pub fn online_retail(data_dir: &Path) -> Result<(Vec<Record>, HashMap<String, String>)> {
    let path = data_dir.join("online_retail/online_retail.csv.gz");
    let mut pairs: HashMap<(String, String), (HashSet<String>, i64)> = HashMap::new();
    let mut order = Vec::new();
    let mut descriptions: HashMap<String, String> = HashMap::new();
    each_retail_row(open_gz(&path)?, &path, |row| {
        let (invoice, code, description, customer) = (row.field(0), row.field(1), row.field(2), row.field(6));
        if customer.is_empty() || invoice.starts_with('C') {
            return Ok(());
        }
        let (quantity, price) = (row.number(3, "Quantity")?, row.number(5, "UnitPrice")?);
        if quantity <= 0.0 || price <= 0.0 {
            return Ok(());
        }
        let ts = row.time(4, "InvoiceDate")?;
        let customer = customer.strip_suffix(".0").unwrap_or(customer).to_owned();
        if !description.is_empty() {
            descriptions.entry(code.to_owned()).or_insert_with(|| description.to_owned());
        }
        let key = (customer, code.to_owned());
        match pairs.get_mut(&key) {
            Some((invoices, first)) => {
                invoices.insert(invoice.to_owned());
                *first = (*first).min(ts);
            }
            None => {
                order.push(key.clone());
                pairs.insert(key, (HashSet::from([invoice.to_owned()]), ts));
            }
        }
        Ok(())
    })?;
    let records = order
        .into_iter()
        .map(|key| {
            let (invoices, ts) = &pairs[&key];
            Record { user: key.0, item: key.1, weight: invoices.len() as f32, ts: *ts }
        })
        .collect();
    Ok((records, descriptions))
}

/// One sale line of a product, as [`online_retail_lines`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct SaleLine {
    /// The invoice.
    pub invoice: String,
    /// The customer (`17850`, not `17850.0`); empty for a guest.
    pub customer: String,
    /// The SKU, normalised as ingest does.
    pub sku: String,
    /// The line's description (may be empty).
    pub description: String,
    /// Invoice time (seconds since the epoch).
    pub ts: i64,
}

/// The sale lines of an Online Retail layout CSV (optionally gzip, by its name): not a `C` or `A`
/// invoice, quantity > 0, price > 0, product codes only, each (invoice, SKU) once, with a
/// customer or not.
///
/// # Errors
/// I/O, or a row whose quantity, price or date does not parse.
pub fn online_retail_lines(path: &Path) -> Result<Vec<SaleLine>> {
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(open_gz(path)?)
    } else {
        Box::new(
            std::fs::File::open(path)
                .map_err(|source| RecommendError::Io { path: path.to_owned(), source })?,
        )
    };
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut lines = Vec::new();
    each_retail_row(reader, path, |row| {
        let invoice = row.field(0);
        if invoice.starts_with(['C', 'c', 'A', 'a']) {
            return Ok(());
        }
        let (quantity, price) = (row.number(3, "Quantity")?, row.number(5, "UnitPrice")?);
        let sku = crate::sku::normalise_sku(row.field(1));
        if quantity <= 0.0 || price <= 0.0 || !crate::ingest::transactions::is_product(&sku) {
            return Ok(());
        }
        let ts = row.time(4, "InvoiceDate")?;
        if seen.insert((invoice.to_owned(), sku.clone())) {
            let customer = row.field(6);
            lines.push(SaleLine {
                invoice: invoice.to_owned(),
                customer: customer.strip_suffix(".0").unwrap_or(customer).to_owned(),
                sku,
                description: row.field(2).to_owned(),
                ts,
            });
        }
        Ok(())
    })?;
    Ok(lines)
}

/// The invoices of an Online Retail layout CSV as invoice x SKU records (`user` = invoice,
/// weight 1, `ts` = invoice time) of its [`online_retail_lines`]: the baskets the features build
/// for cart completion.
///
/// # Errors
/// As [`online_retail_lines`].
pub fn online_retail_baskets(path: &Path) -> Result<Vec<Record>> {
    Ok(online_retail_lines(path)?
        .into_iter()
        .map(|l| Record { user: l.invoice, item: l.sku, weight: 1.0, ts: l.ts })
        .collect())
}

/// One data row of an Online Retail layout CSV (`InvoiceNo,StockCode,Description,Quantity,
/// InvoiceDate,UnitPrice,CustomerID,Country`), its errors naming file, line and column.
struct RetailRow<'a> {
    file: &'a Path,
    line: u64,
    row: csv::StringRecord,
}

impl RetailRow<'_> {
    /// Field `i`, trimmed (empty when absent).
    fn field(&self, i: usize) -> &str {
        self.row.get(i).unwrap_or("").trim()
    }

    fn invalid(&self, column: &str, value: &str) -> RecommendError {
        RecommendError::InvalidRow {
            file: self.file.display().to_string(),
            line: self.line,
            column: column.into(),
            reason: format!("`{value}`"),
        }
    }

    /// Field `i` as a number.
    fn number(&self, i: usize, column: &str) -> Result<f64> {
        let text = self.field(i);
        text.parse().map_err(|_| self.invalid(column, text))
    }

    /// Field `i` as a time (seconds).
    fn time(&self, i: usize, column: &str) -> Result<i64> {
        let text = self.field(i);
        parse_time(text).ok_or_else(|| self.invalid(column, text))
    }
}

/// Calls `visit` with every data row of an Online Retail layout CSV read from `reader`.
fn each_retail_row(
    reader: impl Read,
    file: &Path,
    mut visit: impl FnMut(&RetailRow<'_>) -> Result<()>,
) -> Result<()> {
    let mut csv = csv::Reader::from_reader(reader);
    for (n, row) in csv.records().enumerate() {
        let line = n as u64 + 2;
        let row = row.map_err(|e| RecommendError::InvalidRow {
            file: file.display().to_string(),
            line,
            column: "row".into(),
            reason: e.to_string(),
        })?;
        visit(&RetailRow { file, line, row })?;
    }
    Ok(())
}
