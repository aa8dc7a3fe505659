//! Row validation: each row's canonical cells become typed values, or the row goes to
//! quarantine with its line, the offending column, a reason code and a message. Typed values
//! accumulate column-wise and become a polars `DataFrame`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::FileError;
use super::mapping::Mapping;
use super::read::RowSink;
use super::schema::{ColumnSpec, ColumnType};

/// One quarantined row: where it was and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedRow {
    /// The upload.
    pub file: String,
    /// Its line in the upload (for Parquet, row number + 1).
    pub line: u64,
    /// The canonical column at fault, when one is.
    pub column: Option<String>,
    /// Machine-readable reason (`missing_value`, `invalid_integer`, `invalid_decimal`,
    /// `invalid_timestamp`, `implausible_timestamp`, `out_of_range`, `wrong_field_count`, `open_quote`, `inside_open_quote`, `invalid_utf8`, `invalid_json`, `row_too_long`, ...).
    pub reason: String,
    /// What is wrong, for people.
    pub message: String,
    /// The row as read (cut to 2,000 characters).
    pub raw: String,
}

/// The timestamp formats tried when the mapping names none, most likely first.
const DEFAULT_TIMESTAMP_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
];

/// [`DEFAULT_TIMESTAMP_FORMATS`] with the slashed dates read day first (`D/M/YYYY`), for an
/// upload whose dates prove it ([`TimestampParser::day_first_proven`]).
const DAY_FIRST_TIMESTAMP_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
];

/// Whether ISO 8601 dates are read beside `format`: not when the format itself writes the year
/// first and the day before the month (`%Y-%d-%m`), whose own dates an ISO reading would swap.
fn iso_beside(format: &str) -> bool {
    let year_first = format.starts_with("%Y") || format.starts_with("%y");
    let day_first = matches!((format.find("%d"), format.find("%m")), (Some(d), Some(m)) if d < m);
    !(year_first && day_first)
}

/// The ISO 8601 forms of [`DEFAULT_TIMESTAMP_FORMATS`] (those year first), then
/// [`parse_zoned_or_date`].
fn parse_iso(text: &str) -> Option<NaiveDateTime> {
    DEFAULT_TIMESTAMP_FORMATS
        .iter()
        .filter(|f| f.starts_with("%Y"))
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| parse_zoned_or_date(text))
}

/// RFC 3339 at its local wall-clock reading, or an ISO date alone as midnight.
fn parse_zoned_or_date(text: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_local())
        .ok()
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

/// A slashed date alone (as midnight), month first or day first.
const SLASHED_DATES: (&str, &str) = ("%m/%d/%Y", "%d/%m/%Y");

/// A slashed date's two-digit year (`12/9/11`, Excel's short date) as a four-digit one: 00-68 are
/// 2000-2068 and 69-99 1969-1999, as `%y` reads them. A year written with four digits stays as
/// written, so `12/9/0011` is still refused as a mistyped year.
fn widen_two_digit_year(text: &str, t: NaiveDateTime) -> NaiveDateTime {
    let date = text.split_whitespace().next().unwrap_or(text);
    let two_digits =
        date.rsplit('/').next().is_some_and(|y| y.len() == 2 && y.bytes().all(|b| b.is_ascii_digit()));
    if !two_digits || t.year() >= 100 {
        return t;
    }
    let year = if t.year() < 69 { 2000 + t.year() } else { 1900 + t.year() };
    t.with_year(year).unwrap_or(t)
}

/// A column of typed values.
#[derive(Debug, Clone)]
enum Values {
    Text(Vec<Option<String>>),
    Integer(Vec<Option<i64>>),
    Decimal(Vec<Option<f64>>),
    /// Milliseconds since 1970-01-01T00:00 of the local (zone-less) time.
    Timestamp(Vec<Option<i64>>),
    Flag(Vec<Option<bool>>),
}

/// One parsed cell, before the row is known to be whole.
#[derive(Debug, Clone)]
enum Cell {
    Text(Option<String>),
    Integer(Option<i64>),
    Decimal(Option<f64>),
    Timestamp(Option<i64>),
    Flag(Option<bool>),
}

/// Timestamps before this are refused (`implausible_timestamp`), as are those after tomorrow: a
/// mistyped year (`0011`, `2101`) would otherwise stretch every daily series over centuries.
pub const EARLIEST_TIMESTAMP: NaiveDateTime = DateTime::<chrono::Utc>::UNIX_EPOCH.naive_utc();

/// Reads local date-times (no zone) in the mapping's `date_format`, or else in the common forms
/// (ISO 8601 with or without seconds and fractions, `M/D/YYYY H:MM[:SS]` with or without
/// `AM`/`PM`, a two-digit year read as `%y` does, RFC 3339 with a zone kept at its wall-clock
/// reading, a bare date, ISO or slashed, as midnight).
#[derive(Debug, Clone)]
pub struct TimestampParser {
    date_format: Option<String>,
    /// Index into [`DEFAULT_TIMESTAMP_FORMATS`] that matched last: tried first next time.
    last_format: usize,
    /// Timestamps read month first (`M/D/YYYY`, no date format given), and those of them whose
    /// day is above 12, which cannot be read day first.
    month_first: (u64, u64),
    /// Slashed dates read day first ([`DAY_FIRST_TIMESTAMP_FORMATS`]) instead of month first.
    day_first: bool,
    /// Timestamps that could not be read month first but could day first (`13/11/2011`).
    day_first_only: u64,
}

impl TimestampParser {
    /// A parser with the mapping's date format, if it names one.
    #[must_use]
    pub fn new(mapping: &Mapping) -> Self {
        Self {
            date_format: mapping.date_format.clone(),
            last_format: 0,
            month_first: (0, 0),
            day_first: false,
            day_first_only: 0,
        }
    }

    /// How many timestamps could be read only day first when none could be read only month
    /// first (no date format given): the upload writes the day first, and reading it month
    /// first would put every day up to the 12th in the wrong month. `None` otherwise.
    #[must_use]
    pub fn day_first_proven(&self) -> Option<u64> {
        (!self.day_first && self.month_first.1 == 0 && self.day_first_only > 0).then_some(self.day_first_only)
    }

    /// How many timestamps were read month first when every one of them reads day first too
    /// (`01/12/2011` is 12 January or 1 December): a shop that writes the day first had them all
    /// read wrong, and nothing in the file says which it meant. `None` when any was certain.
    #[must_use]
    pub fn month_first_unsure(&self) -> Option<u64> {
        let (read, certain) = self.month_first;
        (read > 0 && certain == 0).then_some(read)
    }

    /// The date-time `text` stands for, or `None`.
    pub fn parse(&mut self, text: &str) -> Option<NaiveDateTime> {
        if let Some(format) = &self.date_format {
            // ISO 8601 as well (unless the format is one an ISO reading would swap): a folder's
            // mapping names its CSV exports' form (`%d/%m/%Y %H:%M`), its JSON exports write ISO.
            return NaiveDateTime::parse_from_str(text, format)
                .ok()
                .or_else(|| NaiveDate::parse_from_str(text, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
                .or_else(|| iso_beside(format).then(|| parse_iso(text)).flatten());
        }
        let formats = if self.day_first { DAY_FIRST_TIMESTAMP_FORMATS } else { DEFAULT_TIMESTAMP_FORMATS };
        let n = formats.len();
        for k in 0..n {
            let i = (self.last_format + k) % n;
            if let Ok(t) = NaiveDateTime::parse_from_str(text, formats[i]) {
                self.last_format = i;
                if formats[i].starts_with("%m/%d") {
                    self.month_first.0 += 1;
                    self.month_first.1 += u64::from(t.day() > 12);
                }
                return Some(widen_two_digit_year(text, t));
            }
        }
        // A slashed date alone is midnight, read as the slashed date-times are.
        let (month_first, day_first) = SLASHED_DATES;
        let slashed = if self.day_first { day_first } else { month_first };
        if let Some(t) = NaiveDate::parse_from_str(text, slashed).ok().and_then(|d| d.and_hms_opt(0, 0, 0)) {
            if !self.day_first {
                self.month_first.0 += 1;
                self.month_first.1 += u64::from(t.day() > 12);
            }
            return Some(widen_two_digit_year(text, t));
        }
        // A zone-qualified time keeps its local wall-clock reading; a bare date is midnight.
        let read = parse_zoned_or_date(text);
        if read.is_none()
            && !self.day_first
            && (DAY_FIRST_TIMESTAMP_FORMATS
                .iter()
                .filter(|f| f.starts_with("%d/%m"))
                .any(|f| NaiveDateTime::parse_from_str(text, f).is_ok())
                || NaiveDate::parse_from_str(text, day_first).is_ok())
        {
            self.day_first_only += 1;
        }
        read
    }

    /// A typed date-time as a reader writes it ([`super::read::TYPED_TIMESTAMP_FORMAT`]).
    #[must_use]
    pub fn parse_typed(text: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(text, super::read::TYPED_TIMESTAMP_FORMAT).ok()
    }

    /// The formats accepted, for error messages.
    #[must_use]
    pub fn expected(&self) -> String {
        self.date_format.clone().unwrap_or_else(|| {
            if self.day_first {
                "YYYY-MM-DD HH:MM[:SS] or D/M/YYYY [H:MM[:SS] [AM|PM]]"
            } else {
                "YYYY-MM-DD HH:MM[:SS] or M/D/YYYY [H:MM[:SS] [AM|PM]]"
            }
            .into()
        })
    }
}

/// Validates rows into typed columns and a quarantine list.
#[derive(Debug)]
pub struct Validator<'a> {
    file: String,
    columns: &'a [ColumnSpec],
    decimal: char,
    timestamps: TimestampParser,
    /// The end of tomorrow (UTC, exclusive: midnight after it): a timestamp from then on is
    /// refused.
    latest: NaiveDateTime,
    values: Vec<Values>,
    scratch: Vec<Cell>,
    /// Line of each accepted row.
    pub lines: Vec<u64>,
    /// Fingerprint of each accepted row (exact-duplicate detection).
    pub fingerprints: Vec<u64>,
    /// Refused rows.
    pub quarantined: Vec<QuarantinedRow>,
    /// Per canonical column, whether any header or JSON line held it.
    present: Vec<bool>,
    /// Per canonical column, whether its cells are typed date-times ([`RowSink::typed`]).
    typed: Vec<bool>,
    /// The names of the last [`RowSink::names`] call, until [`RowSink::resolved`] says which
    /// it reads.
    names: Vec<String>,
    /// Names the upload gives columns that no canonical column reads (at most
    /// [`MAX_UNREAD_COLUMNS`]).
    unread: std::collections::BTreeSet<String>,
}

/// Unread column names kept for the report, at most.
pub const MAX_UNREAD_COLUMNS: usize = 200;

impl<'a> Validator<'a> {
    /// A validator of `columns` with the mapping's number and date conventions.
    #[must_use]
    pub fn new(file: &str, columns: &'a [ColumnSpec], mapping: &Mapping) -> Self {
        let values = columns
            .iter()
            .map(|c| match c.ty {
                ColumnType::Text | ColumnType::CustomerKey => Values::Text(Vec::new()),
                ColumnType::Integer => Values::Integer(Vec::new()),
                ColumnType::Decimal => Values::Decimal(Vec::new()),
                ColumnType::Timestamp => Values::Timestamp(Vec::new()),
                ColumnType::Flag => Values::Flag(Vec::new()),
            })
            .collect();
        Self {
            file: file.into(),
            columns,
            decimal: mapping.decimal_char(),
            timestamps: TimestampParser::new(mapping),
            latest: (chrono::Utc::now().date_naive() + chrono::Days::new(2))
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists"),
            values,
            scratch: Vec::with_capacity(columns.len()),
            lines: Vec::new(),
            fingerprints: Vec::new(),
            quarantined: Vec::new(),
            present: vec![false; columns.len()],
            typed: vec![false; columns.len()],
            names: Vec::new(),
            unread: std::collections::BTreeSet::new(),
        }
    }

    /// The names the upload gives columns that no canonical column reads, sorted.
    #[must_use]
    pub fn unread_columns(&self) -> Vec<String> {
        self.unread.iter().cloned().collect()
    }

    /// Rows accepted so far.
    #[must_use]
    pub fn accepted(&self) -> usize {
        self.lines.len()
    }

    fn parse_cell(
        &mut self,
        spec: &ColumnSpec,
        text: Option<&str>,
        typed: bool,
    ) -> Result<Cell, (&'static str, String)> {
        let Some(text) = text else {
            if spec.required {
                return Err(("missing_value", format!("{} is required and empty", spec.name)));
            }
            return Ok(match spec.ty {
                ColumnType::Text | ColumnType::CustomerKey => Cell::Text(None),
                ColumnType::Integer => Cell::Integer(None),
                ColumnType::Decimal => Cell::Decimal(None),
                ColumnType::Timestamp => Cell::Timestamp(None),
                ColumnType::Flag => Cell::Flag(None),
            });
        };
        match spec.ty {
            ColumnType::Text => Ok(Cell::Text(Some(text.to_owned()))),
            ColumnType::CustomerKey => {
                Ok(Cell::Text(Some(normalise_customer_key(text, self.decimal).to_owned())))
            }
            ColumnType::Integer => {
                let n = parse_integer(text, self.decimal).ok_or_else(|| {
                    ("invalid_integer", format!("{} {text:?} is not a whole number", spec.name))
                })?;
                in_bounds(spec, text, n as f64)?;
                Ok(Cell::Integer(Some(n)))
            }
            ColumnType::Decimal => {
                let n = parse_decimal(text, self.decimal)
                    .ok_or_else(|| ("invalid_decimal", format!("{} {text:?} is not a number", spec.name)))?;
                in_bounds(spec, text, n)?;
                Ok(Cell::Decimal(Some(n)))
            }
            ColumnType::Flag => parse_flag(text).map(|b| Cell::Flag(Some(b))).ok_or_else(|| {
                (
                    "invalid_flag",
                    format!("{} {text:?} is not a yes or no (true/false, t/f, yes/no, y/n, 1/0)", spec.name),
                )
            }),
            ColumnType::Timestamp => {
                let parsed =
                    if typed { TimestampParser::parse_typed(text) } else { self.timestamps.parse(text) };
                let Some(t) = parsed else {
                    return Err((
                        "invalid_timestamp",
                        format!(
                            "{} {text:?} is not a date-time in the format {}",
                            spec.name,
                            self.timestamps.expected()
                        ),
                    ));
                };
                if !(EARLIEST_TIMESTAMP..self.latest).contains(&t) {
                    return Err((
                        "implausible_timestamp",
                        format!(
                            "{} {text:?} is before {} or after tomorrow ({}): a mistyped year?",
                            spec.name,
                            EARLIEST_TIMESTAMP.date(),
                            self.latest.date().pred_opt().unwrap_or(self.latest.date())
                        ),
                    ));
                }
                Ok(Cell::Timestamp(Some(t.and_utc().timestamp_millis())))
            }
        }
    }

    /// The canonical columns no header or JSON line of the upload held (left empty).
    #[must_use]
    pub fn absent_columns(&self) -> Vec<String> {
        self.columns.iter().zip(&self.present).filter(|(_, p)| !**p).map(|(c, _)| c.name.to_owned()).collect()
    }

    /// The same validator, reading slashed dates day first (see
    /// [`TimestampParser::day_first_proven`]).
    #[must_use]
    pub fn reading_day_first(mut self) -> Self {
        self.timestamps.day_first = true;
        self
    }

    /// [`TimestampParser::day_first_proven`] of the rows read so far.
    #[must_use]
    pub fn day_first_proven(&self) -> Option<u64> {
        self.timestamps.day_first_proven()
    }

    /// [`TimestampParser::month_first_unsure`] of the rows read so far.
    #[must_use]
    pub fn month_first_unsure(&self) -> Option<u64> {
        self.timestamps.month_first_unsure()
    }

    /// The accepted rows as a DataFrame: a `line` column, then the canonical columns.
    pub fn into_frame(self) -> PolarsResult<DataFrame> {
        let mut columns: Vec<Column> = Vec::with_capacity(self.columns.len() + 1);
        columns.push(Column::new("line".into(), self.lines));
        for (spec, values) in self.columns.iter().zip(self.values) {
            let name: PlSmallStr = spec.name.into();
            let column = match values {
                Values::Text(v) => Column::new(name, v),
                Values::Integer(v) => Column::new(name, v),
                Values::Decimal(v) => Column::new(name, v),
                Values::Timestamp(v) => {
                    Column::new(name, v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
                }
                Values::Flag(v) => Column::new(name, v),
            };
            columns.push(column);
        }
        let height = columns.first().map_or(0, Column::len);
        DataFrame::new(height, columns)
    }
}

impl RowSink for Validator<'_> {
    fn names(&mut self, _line: Option<u64>, names: &[String]) -> Result<(), FileError> {
        names.clone_into(&mut self.names);
        Ok(())
    }

    fn resolved(&mut self, resolved: &[Option<usize>]) {
        for (present, index) in self.present.iter_mut().zip(resolved) {
            *present |= index.is_some();
        }
        let read: std::collections::HashSet<usize> = resolved.iter().flatten().copied().collect();
        for (i, name) in std::mem::take(&mut self.names).into_iter().enumerate() {
            if !read.contains(&i) && !name.trim().is_empty() && self.unread.len() < MAX_UNREAD_COLUMNS {
                self.unread.insert(name);
            }
        }
    }

    fn typed(&mut self, typed: &[bool]) {
        self.typed = typed.to_vec();
    }

    fn row(&mut self, line: u64, cells: &[Option<&str>], fingerprint: u64, raw: &dyn Fn() -> String) {
        let columns = self.columns;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for (i, (spec, text)) in columns.iter().zip(cells).enumerate() {
            match self.parse_cell(spec, *text, self.typed[i]) {
                Ok(cell) => scratch.push(cell),
                Err((reason, message)) => {
                    self.quarantined.push(QuarantinedRow {
                        file: self.file.clone(),
                        line,
                        column: Some(spec.name.into()),
                        reason: reason.into(),
                        message,
                        raw: raw(),
                    });
                    self.scratch = scratch;
                    return;
                }
            }
        }
        for (values, cell) in self.values.iter_mut().zip(scratch.drain(..)) {
            match (values, cell) {
                (Values::Text(v), Cell::Text(c)) => v.push(c),
                (Values::Integer(v), Cell::Integer(c)) => v.push(c),
                (Values::Decimal(v), Cell::Decimal(c)) => v.push(c),
                (Values::Timestamp(v), Cell::Timestamp(c)) => v.push(c),
                (Values::Flag(v), Cell::Flag(c)) => v.push(c),
                _ => unreachable!("cells are parsed by their column's type"),
            }
        }
        self.scratch = scratch;
        self.lines.push(line);
        self.fingerprints.push(fingerprint);
    }

    fn bad(&mut self, row: QuarantinedRow) {
        self.quarantined.push(row);
    }
}

/// Refuses a number outside its column's bounds (`out_of_range`).
fn in_bounds(spec: &ColumnSpec, text: &str, value: f64) -> Result<(), (&'static str, String)> {
    match spec.bounds {
        Some(bounds) if !bounds.contains(value) => {
            Err(("out_of_range", format!("{} {text:?} must be {}", spec.name, bounds.describe())))
        }
        _ => Ok(()),
    }
}

/// A yes or no: `true`/`false`, `t`/`f` (as PostgreSQL writes them), `yes`/`no`, `y`/`n`,
/// `1`/`0`, in any case; `1.0` and `0.0` too (`1,0` under a decimal comma), as pandas writes a
/// flag column with a gap.
#[must_use]
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "1.0" | "1,0" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "0.0" | "0,0" => Some(false),
        _ => None,
    }
}

/// `17850.0` -> `17850` (spreadsheets store integer keys as floats; `17850,0` under a decimal
/// comma); anything else as given.
#[must_use]
pub fn normalise_customer_key(text: &str, decimal: char) -> &str {
    match text.split_once(decimal) {
        Some((whole, fraction))
            if !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b == b'0') =>
        {
            whole
        }
        _ => text,
    }
}

/// A whole number; `12.0` (or `12,0` with a comma decimal separator) counts as 12.
#[must_use]
pub fn parse_integer(text: &str, decimal: char) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let (whole, fraction) = text.split_once(decimal)?;
    if fraction.bytes().all(|b| b == b'0') { whole.parse().ok() } else { None }
}

/// A number's text with `decimal` as its separator rewritten with `.`, or `None` when it holds a
/// `.` although the separator is another (`1.000` in a comma-decimal file is ambiguous: never
/// taken for a decimal point).
#[must_use]
pub fn decimal_text(text: &str, decimal: char) -> Option<std::borrow::Cow<'_, str>> {
    if decimal == '.' {
        Some(std::borrow::Cow::Borrowed(text))
    } else if text.contains('.') {
        None
    } else {
        Some(std::borrow::Cow::Owned(text.replacen(decimal, ".", 1)))
    }
}

/// A finite decimal number with `decimal` as separator.
#[must_use]
pub fn parse_decimal(text: &str, decimal: char) -> Option<f64> {
    let value = decimal_text(text, decimal)?.parse::<f64>().ok()?;
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::schema::TRANSACTIONS;

    fn row(v: &mut Validator<'_>, line: u64, cells: &[Option<&str>]) {
        v.row(line, cells, line, &|| format!("raw {line}"));
    }

    #[test]
    fn customer_keys_given_as_float_strings_are_normalised() {
        assert_eq!(normalise_customer_key("17850.0", '.'), "17850");
        assert_eq!(normalise_customer_key("17850", '.'), "17850");
        assert_eq!(normalise_customer_key("17850.5", '.'), "17850.5");
        assert_eq!(normalise_customer_key("C-17.0", '.'), "C-17.0");
        assert_eq!(normalise_customer_key("14729,0", ','), "14729", "under a decimal comma");
        assert_eq!(normalise_customer_key("14729,0", '.'), "14729,0");
    }

    #[test]
    fn numbers_follow_the_decimal_separator() {
        assert_eq!(parse_integer("12", '.'), Some(12));
        assert_eq!(parse_integer("12.0", '.'), Some(12));
        assert_eq!(parse_integer("12.5", '.'), None);
        assert_eq!(parse_integer("-3", ','), Some(-3));
        assert_eq!(parse_decimal("2,55", ','), Some(2.55));
        assert_eq!(parse_decimal("2.55", ','), None, "a dot in a comma-decimal file is ambiguous");
        assert_eq!(parse_decimal("NaN", '.'), None);
        assert_eq!(parse_decimal("inf", '.'), None);
    }

    #[test]
    fn a_bad_cell_quarantines_its_row_naming_line_column_and_reason() {
        let mapping = Mapping::default();
        let mut v = Validator::new("t.csv", TRANSACTIONS, &mapping);
        let good = [
            Some("536365"),
            Some("85123A"),
            Some("HEART"),
            Some("6"),
            Some("2010-12-01 08:26:00"),
            Some("2.55"),
            Some("17850.0"),
            Some("United Kingdom"),
        ];
        row(&mut v, 2, &good);
        let mut bad_qty = good;
        bad_qty[3] = Some("six");
        row(&mut v, 3, &bad_qty);
        let mut no_invoice = good;
        no_invoice[0] = None;
        row(&mut v, 4, &no_invoice);
        let mut bad_date = good;
        bad_date[4] = Some("yesterday");
        row(&mut v, 5, &bad_date);
        let mut us_date = good;
        us_date[4] = Some("12/1/2010 8:26");
        row(&mut v, 6, &us_date);
        let mut mistyped_year = good;
        mistyped_year[4] = Some("0010-12-01 08:26:00");
        row(&mut v, 7, &mistyped_year);
        let mut future = good;
        future[4] = Some("2999-12-01 08:26:00");
        row(&mut v, 8, &future);
        let mut huge = good;
        huge[3] = Some("9223372036854775807");
        row(&mut v, 9, &huge);
        let mut priceless = good;
        priceless[5] = Some("1e308");
        row(&mut v, 10, &priceless);
        let mut returned = good;
        returned[3] = Some("-80995");
        row(&mut v, 11, &returned);
        assert_eq!(v.accepted(), 3, "a return of 80,995 is a line like any");
        let reasons: Vec<(u64, &str, &str)> =
            v.quarantined.iter().map(|q| (q.line, q.column.as_deref().unwrap(), q.reason.as_str())).collect();
        assert_eq!(
            reasons,
            [
                (3, "quantity", "invalid_integer"),
                (4, "invoice", "missing_value"),
                (5, "invoice_time", "invalid_timestamp"),
                (7, "invoice_time", "implausible_timestamp"),
                (8, "invoice_time", "implausible_timestamp"),
                (9, "quantity", "out_of_range"),
                (10, "unit_price", "out_of_range"),
            ]
        );
        assert_eq!(v.quarantined[0].raw, "raw 3");
        let frame = v.into_frame().unwrap();
        assert_eq!(frame.height(), 3);
        assert_eq!(frame.column("customer_id").unwrap().str().unwrap().get(0), Some("17850"));
        let times = frame.column("invoice_time").unwrap();
        assert_eq!(times.get(0).unwrap(), times.get(1).unwrap(), "ISO and US forms read the same instant");
    }

    #[test]
    fn excel_forms_of_a_us_date_read_without_a_date_format() {
        let mut parser = TimestampParser::new(&Mapping::default());
        let at = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        for (text, expected) in [
            ("12/9/2011", "2011-12-09 00:00:00"),
            ("12/9/11 10:00", "2011-12-09 10:00:00"),
            ("12/9/2011 10:00 PM", "2011-12-09 22:00:00"),
            ("12/9/2011 12:05:30 AM", "2011-12-09 00:05:30"),
            ("1/3/99 9:00", "1999-01-03 09:00:00"),
        ] {
            assert_eq!(parser.parse(text), Some(at(expected)), "{text}");
        }
        assert_eq!(parser.parse("12/9/0011 10:00").map(|t| t.year()), Some(11), "four digits as written");
        // A date alone proves the day first as a date-time does.
        let mut parser = TimestampParser::new(&Mapping::default());
        assert_eq!(parser.parse("13/11/2011"), None);
        assert_eq!(parser.day_first_proven(), Some(1));
        parser.day_first = true;
        assert_eq!(parser.parse("13/11/2011"), Some(at("2011-11-13 00:00:00")));
        assert_eq!(parser.parse("13/11/11 9:30 PM"), Some(at("2011-11-13 21:30:00")));
    }

    #[test]
    fn a_mapped_date_format_is_the_only_one_accepted_but_iso() {
        let mapping = Mapping { date_format: Some("%d.%m.%Y %H:%M".into()), ..Mapping::default() };
        let mut v = Validator::new("t.csv", TRANSACTIONS, &mapping);
        let mut cells =
            [Some("1"), Some("A"), None, Some("1"), Some("01.12.2010 08:26"), Some("1"), None, None];
        row(&mut v, 2, &cells);
        // A slashed form, which could mean either day, is refused.
        cells[4] = Some("12/01/2010 08:26");
        row(&mut v, 3, &cells);
        assert_eq!(v.accepted(), 1);
        assert_eq!(v.quarantined[0].reason, "invalid_timestamp");
        assert!(v.quarantined[0].message.contains("%d.%m.%Y %H:%M"));
        // ISO 8601 cannot be misread: the folder's JSON exports beside its CSV ones.
        let mut parser = TimestampParser::new(&mapping);
        for iso in ["2010-12-01 08:26:00", "2010-12-01T08:26:00", "2010-12-01T08:26:00+01:00", "2010-12-01"] {
            assert_eq!(parser.parse(iso).map(|t| t.date()), NaiveDate::from_ymd_opt(2010, 12, 1), "{iso}");
        }
        let at = NaiveDateTime::parse_from_str("2010-12-01 08:26:00", "%Y-%m-%d %H:%M:%S").ok();
        assert_eq!(parser.parse("2010-12-01 08:26"), at);
        // Not beside a format that writes the year first and the day before the month.
        let ydm = Mapping { date_format: Some("%Y-%d-%m %H:%M".into()), ..Mapping::default() };
        let mut parser = TimestampParser::new(&ydm);
        assert_eq!(parser.parse("2010-05-03 08:26").map(|t| t.date()), NaiveDate::from_ymd_opt(2010, 3, 5));
        assert_eq!(parser.parse("2010-05-03 08:26:00"), None, "its own form only");
    }
}
