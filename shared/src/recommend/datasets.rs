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
    let name = path.display().to_string();
    let mut csv = csv::Reader::from_reader(open_gz(&path)?);
    let mut pairs: HashMap<(String, String), (HashSet<String>, i64)> = HashMap::new();
    let mut order = Vec::new();
    let mut descriptions: HashMap<String, String> = HashMap::new();
    for (n, row) in csv.records().enumerate() {
        let line = n as u64 + 2;
        let invalid = |column: &str, reason: String| RecommendError::InvalidRow {
            file: name.clone(),
            line,
            column: column.into(),
            reason,
        };
        let row = row.map_err(|e| invalid("row", e.to_string()))?;
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        let (invoice, code, description, quantity, date, price, customer) =
            (field(0), field(1), field(2), field(3), field(4), field(5), field(6));
        if customer.is_empty() || invoice.starts_with('C') {
            continue;
        }
        let quantity: f64 = quantity.parse().map_err(|_| invalid("Quantity", format!("`{quantity}`")))?;
        let price: f64 = price.parse().map_err(|_| invalid("UnitPrice", format!("`{price}`")))?;
        if quantity <= 0.0 || price <= 0.0 {
            continue;
        }
        let ts = parse_time(date).ok_or_else(|| invalid("InvoiceDate", format!("`{date}`")))?;
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
    }
    let records = order
        .into_iter()
        .map(|key| {
            let (invoices, ts) = &pairs[&key];
            Record { user: key.0, item: key.1, weight: invoices.len() as f32, ts: *ts }
        })
        .collect();
    Ok((records, descriptions))
}

/// The invoices of an Online Retail layout CSV (optionally gzip, by its name) as invoice x SKU
/// records (`user` = invoice, weight 1, `ts` = invoice time): sale lines only (not a `C` or `A`
/// invoice, quantity > 0, price > 0) of product codes, SKUs normalised as ingest does, with a
/// customer or not (the baskets the features build for cart completion).
///
/// # Errors
/// I/O, or a row whose quantity, price or date does not parse.
pub fn online_retail_baskets(path: &Path) -> Result<Vec<Record>> {
    let name = path.display().to_string();
    let reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(open_gz(path)?)
    } else {
        Box::new(
            std::fs::File::open(path)
                .map_err(|source| RecommendError::Io { path: path.to_owned(), source })?,
        )
    };
    let mut csv = csv::Reader::from_reader(reader);
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut records = Vec::new();
    for (n, row) in csv.records().enumerate() {
        let line = n as u64 + 2;
        let invalid = |column: &str, reason: String| RecommendError::InvalidRow {
            file: name.clone(),
            line,
            column: column.into(),
            reason,
        };
        let row = row.map_err(|e| invalid("row", e.to_string()))?;
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        let (invoice, code, quantity, date, price) = (field(0), field(1), field(3), field(4), field(5));
        if invoice.starts_with(['C', 'c', 'A', 'a']) {
            continue;
        }
        let quantity: f64 = quantity.parse().map_err(|_| invalid("Quantity", format!("`{quantity}`")))?;
        let price: f64 = price.parse().map_err(|_| invalid("UnitPrice", format!("`{price}`")))?;
        let sku = crate::sku::normalise_sku(code);
        if quantity <= 0.0 || price <= 0.0 || !crate::ingest::transactions::is_product(&sku) {
            continue;
        }
        let ts = parse_time(date).ok_or_else(|| invalid("InvoiceDate", format!("`{date}`")))?;
        if seen.insert((invoice.to_owned(), sku.clone())) {
            records.push(Record { user: invoice.to_owned(), item: sku, weight: 1.0, ts });
        }
    }
    Ok(records)
}
