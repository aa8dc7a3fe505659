//! The demand panel: daily net units per SKU on a calendar of consecutive days, read from the
//! canonical `sku,date,quantity` CSV or built from a raw UCI Online Retail export.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calendar::{TradingCalendar, add_days};
use super::errors::ForecastError;
use crate::sku::normalise_sku;

/// Columns of the canonical history CSV, in order.
pub const HISTORY_COLUMNS: [&str; 3] = ["sku", "date", "quantity"];

/// Units of one SKU on one day, at most: more is a unit mix-up or a corrupt row (and sums of
/// quantities near `f64::MAX` overflow to infinity, which made every forecast 0).
pub const MAX_QUANTITY: f64 = 1e12;

/// Days a history may span, first date to last (20 years): the panel holds every SKU on every
/// day, so a mistyped year (`0001-01-01`) would otherwise ask for millions of days per SKU.
pub const MAX_HISTORY_DAYS: i64 = 7_305;

/// Daily demand of many SKUs over consecutive calendar days (absent = 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// First day.
    pub first: NaiveDate,
    /// Number of days.
    pub days: usize,
    /// SKU keys, sorted (whatever order the rows came in).
    pub skus: Vec<String>,
    /// `values[s][d]`: units of SKU `s` on day `first + d`.
    pub values: Vec<Vec<f64>>,
}

impl Panel {
    /// Builds a panel from `(sku, date, quantity)` triples; days without a row are 0.
    #[must_use]
    pub fn from_rows(rows: &[(String, NaiveDate, f64)]) -> Self {
        let Some(first) = rows.iter().map(|r| r.1).min() else {
            return Self { first: NaiveDate::MIN, days: 0, skus: Vec::new(), values: Vec::new() };
        };
        let last = rows.iter().map(|r| r.1).max().expect("non-empty");
        let days = usize::try_from((last - first).num_days()).expect("last >= first") + 1;
        // By SKU, not by first appearance: a fit samples rows by their place, so the same sales
        // in another order (an export sorted otherwise) must make the same panel.
        let mut by_sku: std::collections::BTreeMap<&str, Vec<f64>> = std::collections::BTreeMap::new();
        for (sku, date, quantity) in rows {
            let d = usize::try_from((*date - first).num_days()).expect("date >= first");
            by_sku.entry(sku.as_str()).or_insert_with(|| vec![0.0; days])[d] += quantity;
        }
        let (skus, values) = by_sku.into_iter().map(|(sku, units)| (sku.to_owned(), units)).unzip();
        Self { first, days, skus, values }
    }

    /// Reads the canonical history CSV (`sku,date,quantity`, header, ISO dates, one row per SKU
    /// per day, quantity a non-negative number; SKUs read as ingest stores them, trimmed and
    /// upper-cased). Errors name the file, line and column.
    pub fn read_csv(path: &Path) -> Result<Self, ForecastError> {
        let file = path.display().to_string();
        let reader = open(path)?;
        Self::parse_csv(&file, reader)
    }

    /// [`Panel::read_csv`] over any reader; `file` names it in errors.
    pub fn parse_csv(file: &str, reader: impl Read) -> Result<Self, ForecastError> {
        let invalid = |line: u64, column: &str, reason: String| ForecastError::InvalidRow {
            file: file.to_owned(),
            line,
            column: column.to_owned(),
            reason,
        };
        let io = |source| ForecastError::Io { file: file.to_owned(), source };
        // Lines as bytes first, so that text that is not UTF-8 (a Latin-1 export) is named by
        // its line and the character where it stops being UTF-8.
        let mut number = 0_u64;
        let mut lines = BufReader::new(reader).split(b'\n').map(|bytes| {
            number += 1;
            let bytes = bytes.map_err(io)?;
            String::from_utf8(bytes).map_err(|e| {
                let prefix = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                // A byte-order mark is not a character an editor shows.
                let prefix = prefix.strip_prefix("\u{feff}".as_bytes()).unwrap_or(prefix);
                let valid = String::from_utf8_lossy(prefix).chars().count();
                invalid(
                    number,
                    "row",
                    format!("character {} is not UTF-8: save the file as UTF-8 text", valid + 1),
                )
            })
        });
        // Line by line (the csv crate's record positions skip blank lines), each line split as
        // CSV: a quoted field may hold a comma, and its quotes are not part of it.
        let mut quoted = QuotedLine::default();
        let mut split = |number: u64, line: &str| -> Result<Vec<String>, ForecastError> {
            if line.contains('"') {
                quoted.split(line).map_err(|reason| invalid(number, "row", reason))
            } else {
                Ok(line.split(',').map(|f| f.trim().to_owned()).collect())
            }
        };
        let first = lines.next().transpose()?.unwrap_or_default();
        // A UTF-8 byte-order mark (spreadsheets write one) is not part of the first name.
        let first = first.strip_prefix('\u{feff}').unwrap_or(&first).trim_end_matches('\r');
        let header = if first.trim().is_empty() { Vec::new() } else { split(1, first)? };
        if header != HISTORY_COLUMNS {
            let found = header.join(",");
            // The first name that differs, else the first one missing or extra.
            let column = match header.iter().zip(HISTORY_COLUMNS).find(|(c, e)| c != e) {
                Some((c, _)) if !c.is_empty() => c.as_str(),
                Some(_) => "header",
                None => HISTORY_COLUMNS
                    .get(header.len())
                    .copied()
                    .unwrap_or_else(|| if header[3].is_empty() { "header" } else { header[3].as_str() }),
            };
            return Err(invalid(1, column, format!("expected header `sku,date,quantity`, found `{found}`")));
        }
        let mut rows = Vec::new();
        let mut seen: HashMap<(String, NaiveDate), u64> = HashMap::new();
        // Every way each SKU was written, to say which were read as one.
        let mut spellings: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
        // The earliest and latest dates so far, with their lines.
        let mut span: Option<((NaiveDate, u64), (NaiveDate, u64))> = None;
        for (i, line) in lines.enumerate() {
            let number = i as u64 + 2;
            let line = line?;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let fields = split(number, line)?;
            if fields.len() != 3 {
                let column = if fields.len() < 3 { HISTORY_COLUMNS[fields.len()] } else { "quantity" };
                return Err(invalid(number, column, format!("expected 3 fields, found {}", fields.len())));
            }
            // One SKU however it is written, as ingest and the alerts read it.
            let sku = normalise_sku(&fields[0]);
            if sku.is_empty() {
                return Err(invalid(number, "sku", "empty SKU".into()));
            }
            let date: NaiveDate = iso_date(&fields[1]).map_err(|e| {
                invalid(number, "date", format!("`{}` is not an ISO date (YYYY-MM-DD): {e}", fields[1]))
            })?;
            let quantity: f64 = fields[2]
                .parse()
                .ok()
                .filter(|q: &f64| q.is_finite())
                .ok_or_else(|| invalid(number, "quantity", format!("`{}` is not a number", fields[2])))?;
            if quantity < 0.0 {
                return Err(invalid(number, "quantity", format!("{quantity} is negative")));
            }
            if quantity > MAX_QUANTITY {
                return Err(invalid(
                    number,
                    "quantity",
                    format!("`{}` is more than {MAX_QUANTITY:e} units", fields[2]),
                ));
            }
            let (earliest, latest) = span.get_or_insert(((date, number), (date, number)));
            // The far end from this date: the only one it can be too far from.
            let (day, line) = if date < earliest.0 { *latest } else { *earliest };
            let apart = (date - day).num_days().abs();
            if apart > MAX_HISTORY_DAYS {
                return Err(invalid(
                    number,
                    "date",
                    format!(
                        "{date} is {apart} days from {day} (line {line}): a history spans at most \
                             {MAX_HISTORY_DAYS} days (20 years)"
                    ),
                ));
            }
            if date < earliest.0 {
                *earliest = (date, number);
            } else if date > latest.0 {
                *latest = (date, number);
            }
            if let Some(earlier) = seen.insert((sku.clone(), date), number) {
                let written = if sku == fields[0] {
                    String::new()
                } else {
                    format!(" (`{}` reads as {sku})", fields[0])
                };
                return Err(invalid(
                    number,
                    "date",
                    format!("a second row for {sku} on {date}{written} (first on line {earlier})"),
                ));
            }
            if !spellings.get(&sku).is_some_and(|s| s.contains(&fields[0])) {
                spellings.entry(sku.clone()).or_default().insert(fields[0].clone());
            }
            rows.push((sku, date, quantity));
        }
        if rows.is_empty() {
            return Err(ForecastError::NotEnoughHistory(format!("{file} has no rows")));
        }
        let mut merged: Vec<String> = spellings
            .into_iter()
            .filter(|(_, written)| written.len() > 1)
            .map(|(sku, written)| format!("{} as {sku}", written.into_iter().collect::<Vec<_>>().join(", ")))
            .collect();
        if !merged.is_empty() {
            merged.sort();
            tracing::warn!(
                "{file}: {} SKUs written in more than one way were read as one each (as ingest stores them): {}{}",
                merged.len(),
                merged.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
                if merged.len() > 5 { "; ..." } else { "" }
            );
        }
        Ok(Self::from_rows(&rows))
    }

    /// Builds the evaluation panel from a raw UCI Online Retail CSV (optionally `.gz`): product
    /// lines only (stock code of five digits and optional letters, price > 0), quantities netted
    /// per SKU-day with cancellations (`C` invoices) at their negative quantity, clipped at 0,
    /// every calendar day from the first to the last with explicit zeros, then the `top` SKUs by
    /// net units (0 = all).
    pub fn from_transactions(path: &Path, top: usize) -> Result<Self, ForecastError> {
        let file = path.display().to_string();
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(open(path)?);
        let headers = reader.headers().map_err(|e| csv_error(&file, &e))?.clone();
        let column = |name: &str| {
            headers.iter().position(|h| h.trim() == name).ok_or_else(|| ForecastError::InvalidRow {
                file: file.clone(),
                line: 1,
                column: name.to_owned(),
                reason: "missing column".into(),
            })
        };
        let (c_code, c_qty, c_date, c_price) =
            (column("StockCode")?, column("Quantity")?, column("InvoiceDate")?, column("UnitPrice")?);
        let mut net: HashMap<(String, NaiveDate), f64> = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(&file, &e))?;
            let line = record.position().map_or(0, csv::Position::line);
            let field = |c: usize| record.get(c).unwrap_or("").trim();
            let code = field(c_code);
            if !is_product_code(code) {
                continue;
            }
            let bad = |column: &str, what: &str| ForecastError::InvalidRow {
                file: file.clone(),
                line,
                column: column.to_owned(),
                reason: format!("`{what}` is not valid"),
            };
            let price: f64 = field(c_price).parse().map_err(|_| bad("UnitPrice", field(c_price)))?;
            if price <= 0.0 {
                continue;
            }
            let quantity: f64 = field(c_qty).parse().map_err(|_| bad("Quantity", field(c_qty)))?;
            let stamp = field(c_date);
            let date: NaiveDate =
                stamp.get(..10).and_then(|d| d.parse().ok()).ok_or_else(|| bad("InvoiceDate", stamp))?;
            *net.entry((normalise_sku(code), date)).or_insert(0.0) += quantity;
        }
        let mut rows: Vec<(String, NaiveDate, f64)> =
            net.into_iter().map(|((s, d), q)| (s, d, q.max(0.0))).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let panel = Self::from_rows(&rows);
        Ok(panel.top(top))
    }

    /// The `top` SKUs by total units (ties by key), kept in key order; 0 keeps all.
    #[must_use]
    pub fn top(self, top: usize) -> Self {
        let mut order: Vec<usize> = (0..self.skus.len()).collect();
        let totals: Vec<f64> = self.values.iter().map(|v| v.iter().sum()).collect();
        order.sort_by(|&a, &b| totals[b].total_cmp(&totals[a]).then(self.skus[a].cmp(&self.skus[b])));
        if top > 0 {
            order.truncate(top);
        }
        // Kept in SKU order, as every panel is ([`Panel::from_rows`]): the same SKUs fit alike
        // whether chosen here or read back from a written panel.
        order.sort_unstable();
        Self {
            first: self.first,
            days: self.days,
            skus: order.iter().map(|&s| self.skus[s].clone()).collect(),
            values: order.iter().map(|&s| self.values[s].clone()).collect(),
        }
    }

    /// The last day.
    #[must_use]
    pub fn last(&self) -> NaiveDate {
        add_days(self.first, self.days.saturating_sub(1))
    }

    /// The calendar inferred from this panel ([`TradingCalendar::from_demand`]: a day is open
    /// when any SKU sold on it, or when so quiet a day is likely for these SKUs).
    #[must_use]
    pub fn calendar(&self) -> TradingCalendar {
        TradingCalendar::from_demand(self.first, &self.values)
    }

    /// Splits off the last `holdout` days: `(training, holdout)`.
    pub fn split(&self, holdout: usize) -> Result<(Self, Self), ForecastError> {
        if holdout == 0 || holdout >= self.days {
            return Err(ForecastError::NotEnoughHistory(format!(
                "a holdout of {holdout} days needs more than {holdout} days of history (have {})",
                self.days
            )));
        }
        let cut = self.days - holdout;
        let part = |first, range: std::ops::Range<usize>| Self {
            first,
            days: range.len(),
            skus: self.skus.clone(),
            values: self.values.iter().map(|v| v[range.clone()].to_vec()).collect(),
        };
        Ok((part(self.first, 0..cut), part(add_days(self.first, cut), cut..self.days)))
    }

    /// Writes the canonical `sku,date,quantity` CSV, every SKU on every day.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "sku,date,quantity")?;
        for (sku, values) in self.skus.iter().zip(&self.values) {
            let sku = csv_field(sku);
            for (d, q) in values.iter().enumerate() {
                writeln!(out, "{sku},{},{q}", add_days(self.first, d))?;
            }
        }
        Ok(())
    }
}

/// Splits one line holding quotes as CSV (a quoted field may hold a comma; doubled quotes are
/// one), with one csv-core reader for every line: the csv crate's record positions skip blank
/// lines, so lines are counted here, and a reader built per line cost 13 times the load of an
/// unquoted file on a fully quoted one.
struct QuotedLine {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Default for QuotedLine {
    fn default() -> Self {
        // `csv_core::Reader::default()` is not a working reader: `new()` builds its tables.
        Self { reader: csv_core::Reader::new(), out: Vec::new(), ends: Vec::new() }
    }
}

impl QuotedLine {
    fn split(&mut self, line: &str) -> Result<Vec<String>, String> {
        let mut input = Vec::with_capacity(line.len() + 1);
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
        self.out.resize(input.len(), 0);
        self.ends.resize(input.len() + 1, 0);
        let (result, _, _, fields) = self.reader.read_record(&input, &mut self.out, &mut self.ends);
        if !matches!(result, csv_core::ReadRecordResult::Record) {
            self.reader.reset();
            return Err("a quote is never closed on this line".into());
        }
        let mut start = 0;
        self.ends[..fields]
            .iter()
            .map(|&end| {
                let field = std::str::from_utf8(&self.out[start..end]).map_err(|e| e.to_string());
                start = end;
                field.map(|f| f.trim().to_owned())
            })
            .collect()
    }
}

/// `field` as a CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or a
/// line break, which [`Panel::parse_csv`] would otherwise split.
#[must_use]
pub fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// A product stock code: five digits then letters only (`85123A`), per the data README.
#[must_use]
pub fn is_product_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() >= 5
        && bytes[..5].iter().all(u8::is_ascii_digit)
        && bytes[5..].iter().all(u8::is_ascii_alphabetic)
}

/// `YYYY-MM-DD` exactly: chrono alone also takes `2011-1-5` and `+2011-01-05`, which no ISO
/// export writes and which usually mean a column was typed by hand.
fn iso_date(text: &str) -> Result<NaiveDate, String> {
    let shaped = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err("four-digit year, two-digit month and day".into());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| e.to_string())
}

fn open(path: &Path) -> Result<Box<dyn Read>, ForecastError> {
    let file = std::fs::File::open(path)
        .map_err(|source| ForecastError::Io { file: path.display().to_string(), source })?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

fn csv_error(file: &str, error: &csv::Error) -> ForecastError {
    ForecastError::InvalidRow {
        file: file.to_owned(),
        line: error.position().map_or(0, csv::Position::line),
        column: "row".into(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Panel, ForecastError> {
        Panel::parse_csv("history.csv", text.as_bytes())
    }

    fn error_at(text: &str) -> (u64, String) {
        match parse(text) {
            Err(ForecastError::InvalidRow { line, column, .. }) => (line, column),
            other => panic!("expected an invalid row, got {other:?}"),
        }
    }

    #[test]
    fn a_history_is_read_with_absent_days_as_zero() {
        let panel = parse("sku,date,quantity\nA,2011-01-03,2\nB,2011-01-05,1.5\n").unwrap();
        assert_eq!(panel.days, 3);
        assert_eq!(panel.values[0], vec![2.0, 0.0, 0.0]);
        assert_eq!(panel.values[1], vec![0.0, 0.0, 1.5]);
    }

    #[test]
    fn quoted_fields_blank_lines_and_crlf_read_as_csv() {
        let text = "sku,date,quantity\r\n\"A\",2011-01-03,2\r\n\r\nA,2011-01-04,1\r\n\"B,1\",\"2011-01-04\",\"3\"\r\n";
        let panel = parse(text).unwrap();
        assert_eq!(panel.skus, ["A", "B,1"], "a quoted SKU is the same SKU; a quoted comma is part of it");
        assert_eq!(panel.values, vec![vec![2.0, 1.0], vec![0.0, 3.0]]);
        // Line numbers count the blank line.
        let bad = "sku,date,quantity\nA,2011-01-03,2\n\nA,2011-01-04,x\n";
        assert_eq!(error_at(bad), (4, "quantity".into()));
        // An unclosed quote is named at its line, and the next line reads afresh.
        let open = "sku,date,quantity\n\"A,2011-01-03,2\n";
        assert_eq!(error_at(open), (2, "row".into()));
    }

    #[test]
    fn a_written_panel_reads_back_whatever_its_skus_hold() {
        let rows: Vec<(String, NaiveDate, f64)> = ["B,1", "SAY \"HI\"", "PLAIN"]
            .iter()
            .map(|sku| ((*sku).to_owned(), "2011-01-03".parse().unwrap(), 2.0))
            .collect();
        let panel = Panel::from_rows(&rows);
        let mut text = Vec::new();
        panel.write_csv(&mut text).unwrap();
        let back = Panel::parse_csv("written.csv", text.as_slice()).unwrap();
        assert_eq!((back.skus, back.values), (panel.skus, panel.values));
    }

    #[test]
    fn the_same_sales_in_another_order_make_the_same_panel() {
        let sorted = parse("sku,date,quantity\nA,2011-01-03,2\nB,2011-01-04,1\nC,2011-01-03,4\n").unwrap();
        let shuffled = parse("sku,date,quantity\nC,2011-01-03,4\nB,2011-01-04,1\nA,2011-01-03,2\n").unwrap();
        assert_eq!(shuffled, sorted, "a fit samples rows by their place in the panel");
        assert_eq!(sorted.skus, ["A", "B", "C"]);
    }

    #[test]
    fn a_sku_is_one_sku_whatever_its_case() {
        let panel = parse("sku,date,quantity\n85123a,2011-01-03,2\n85123A,2011-01-04,1\n").unwrap();
        assert_eq!(panel.skus, ["85123A"], "as ingest and the alerts read it");
        assert_eq!(panel.values, [vec![2.0, 1.0]]);
        let twice = "sku,date,quantity\n85123A,2011-01-03,2\n85123a,2011-01-03,1\n";
        let error = parse(twice).unwrap_err().to_string();
        assert!(error.contains("history.csv:3:") && error.contains("`85123a` reads as 85123A"), "{error}");
    }

    #[test]
    fn bad_rows_are_named_by_line_and_column() {
        assert_eq!(error_at("sku,date\nA,2011-01-03\n"), (1, "quantity".into()), "the missing column");
        assert_eq!(error_at("sku,date,quantity,price\n"), (1, "price".into()), "the extra column");
        assert_eq!(error_at("sku,date,quantity,\n"), (1, "header".into()), "an empty extra column");
        assert_eq!(error_at(""), (1, "sku".into()));
        assert_eq!(error_at("sku,day,quantity\n"), (1, "day".into()));
        assert_eq!(error_at("sku,date,quantity\nA,2011-01-03,1\nA,03/01/2011,1\n"), (3, "date".into()));
        assert_eq!(error_at("sku,date,quantity\nA,2011-01-03,-1\n"), (2, "quantity".into()));
        assert_eq!(error_at("sku,date,quantity\nA,2011-01-03,x\n"), (2, "quantity".into()));
        assert_eq!(error_at("sku,date,quantity\nA,2011-01-03,1,9\n"), (2, "quantity".into()));
        assert_eq!(error_at("sku,date,quantity\nA,2011-01-03\n"), (2, "quantity".into()));
        assert_eq!(error_at("sku,date,quantity\nA,2011-01-03,1e308\n"), (2, "quantity".into()));
        // Dates chrono alone would take.
        assert_eq!(error_at("sku,date,quantity\nA,2011-1-5,1\n"), (2, "date".into()));
        assert_eq!(error_at("sku,date,quantity\nA,+2011-01-05,1\n"), (2, "date".into()));
        // Latin-1 (an e-acute as one byte) on line 3: named by line and character.
        let latin1 = b"sku,date,quantity\nA,2011-01-03,1\nCAF\xc9,2011-01-03,1\n";
        match Panel::parse_csv("history.csv", &latin1[..]) {
            Err(ForecastError::InvalidRow { line: 3, column, reason, .. }) => {
                assert_eq!(column, "row");
                assert!(reason.contains("character 4 is not UTF-8"), "{reason}");
            }
            other => panic!("expected line 3 named, got {other:?}"),
        }
        // A mistyped year: named at the row that makes the span too long, with the other end.
        let far = "sku,date,quantity\nA,2011-01-03,1\nA,2011-01-04,1\nB,1011-01-04,1\n";
        assert_eq!(error_at(far), (4, "date".into()));
        let message = parse(far).unwrap_err().to_string();
        assert!(message.contains("from 2011-01-04 (line 3)"), "{message}");
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_not_part_of_it() {
        let panel = parse("\u{feff}sku,date,quantity\nA,2011-01-03,2\n").unwrap();
        assert_eq!(panel.skus, vec!["A".to_owned()]);
    }

    #[test]
    fn product_codes_are_five_digits_then_letters() {
        assert!(is_product_code("85123A"));
        assert!(is_product_code("22423"));
        assert!(!is_product_code("POST"));
        assert!(!is_product_code("DCGS0004"));
        assert!(!is_product_code("1234"));
        assert!(!is_product_code("85123A1"));
    }

    #[test]
    fn transactions_are_netted_per_sku_day_clipped_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tx.csv");
        std::fs::write(
            &path,
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
             1,85123A,\"HEART, WHITE\",6,2010-12-01 08:26:00,2.55,17850.0,UK\n\
             2,85123a,HEART,4,2010-12-01 09:00:00,2.55,,UK\n\
             C3,85123A,HEART,-3,2010-12-01 10:00:00,2.55,17850.0,UK\n\
             C4,22423,CAKE STAND,-5,2010-12-02 10:00:00,10.0,17850.0,UK\n\
             5,22423,CAKE STAND,2,2010-12-03 10:00:00,10.0,17850.0,UK\n\
             6,POST,POSTAGE,1,2010-12-03 10:00:00,18.0,17850.0,UK\n\
             7,22423,CAKE STAND,9,2010-12-03 11:00:00,0.0,,UK\n",
        )
        .unwrap();
        let panel = Panel::from_transactions(&path, 0).unwrap();
        assert_eq!(panel.skus, vec!["22423".to_owned(), "85123A".to_owned()], "in key order");
        assert_eq!(panel.values[1], vec![7.0, 0.0, 0.0], "6 + 4 - 3 on the first day");
        assert_eq!(
            panel.values[0],
            vec![0.0, 0.0, 2.0],
            "a cancellation alone clips at 0; price 0 is skipped"
        );
        assert_eq!(Panel::from_transactions(&path, 1).unwrap().skus, vec!["85123A".to_owned()]);
    }

    #[test]
    fn split_keeps_the_last_days_apart() {
        let panel = parse("sku,date,quantity\nA,2011-01-03,1\nA,2011-01-06,4\n").unwrap();
        let (train, test) = panel.split(1).unwrap();
        assert_eq!(train.values[0], vec![1.0, 0.0, 0.0]);
        assert_eq!(test.values[0], vec![4.0]);
        assert_eq!(test.first, "2011-01-06".parse::<NaiveDate>().unwrap());
    }
}
