//! Reading an upload's rows: CSV (RFC 4180 quoting, any one-byte delimiter), JSON lines and
//! Parquet, each handing the canonical columns' cells of every row to a [`RowSink`] with the
//! row's line number. Rows that cannot be split into cells (wrong field count, invalid UTF-8,
//! invalid JSON, an over-long row) go to the sink's quarantine with their line and reason.
//!
//! CSV is tokenised with the `csv` crate rather than polars' CSV reader: we need each record's
//! line number and must quarantine a ragged or non-UTF-8 row without failing the whole file,
//! which polars' reader cannot do. Parquet is read with polars.

use std::hash::{Hash, Hasher};

use polars::prelude::*;
use serde_json::Value;

use super::error::FileError;
use super::mapping::Mapping;
use super::schema::{ColumnSpec, ColumnType, fold_header};
use super::validate::QuarantinedRow;

/// Rows longer than this are quarantined (`row_too_long`) rather than carried through.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// Quarantined raw text is cut to this many characters.
const MAX_RAW_CHARS: usize = 2000;

/// Receives the rows of an upload.
pub trait RowSink {
    /// One row: its line, the canonical columns' cells (`None` when absent or blank, in the
    /// order of the kind's columns), a fingerprint of the whole row for exact-duplicate detection,
    /// and a way to render the raw row for quarantine messages.
    fn row(&mut self, line: u64, cells: &[Option<&str>], fingerprint: u64, raw: &dyn Fn() -> String);
    /// A row that could not be split into cells.
    fn bad(&mut self, row: QuarantinedRow);
    /// The names an upload gives its columns, before any of their rows: a CSV's header (line 1)
    /// and a Parquet file's columns (no line) once, each JSON line's keys (its line). An error
    /// refuses the whole file. Ingest reads the columns it knows and passes over the others; a
    /// sink that must refuse a misspelt column says so here.
    fn names(&mut self, line: Option<u64>, names: &[String]) -> Result<(), FileError> {
        let _ = (line, names);
        Ok(())
    }
    /// Which canonical columns those names hold (the index of each, in the order of the kind's
    /// columns; `None` where absent), after each call of [`RowSink::names`].
    fn resolved(&mut self, resolved: &[Option<usize>]) {
        let _ = resolved;
    }
    /// Per canonical column, whether its cells are typed date-times written as
    /// [`TYPED_TIMESTAMP_FORMAT`] (a Parquet date or timestamp): read in that form, not in the
    /// mapping's `date_format`, which is for text.
    fn typed(&mut self, typed: &[bool]) {
        let _ = typed;
    }
}

/// How a typed date or date-time (Parquet) is handed to a sink: its local wall-clock time.
pub const TYPED_TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f";

/// For each canonical column, the index of the file column that holds it.
pub fn resolve_columns(
    file: &str,
    columns: &[ColumnSpec],
    mapping: &Mapping,
    header: &[String],
) -> Result<Vec<Option<usize>>, FileError> {
    check_mapping_names(file, columns, mapping)?;
    if let Some(message) = ambiguous_columns(columns, mapping, header) {
        return Err(FileError::new(file, "ambiguous_columns", message).at_line(1));
    }
    let resolved = resolve_optional(columns, mapping, header);
    let mut missing = Vec::new();
    for (spec, index) in columns.iter().zip(&resolved) {
        // A column the mapping names must be there, optional or not: a misspelt name would
        // otherwise leave the column empty without a word.
        if index.is_none() && (spec.required || mapping.columns.contains_key(spec.name)) {
            let looked_for = match mapping.columns.get(spec.name) {
                Some(name) => format!("{name:?} (from the mapping)"),
                None => spec.aliases.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" or "),
            };
            missing.push(format!("{} (looked for {looked_for})", spec.name));
        }
    }
    if missing.is_empty() {
        Ok(resolved)
    } else {
        // The header as read, cut: a file without line breaks is one huge header field.
        let shown: Vec<String> = header.iter().take(20).map(|h| cut_to(h, 80)).collect();
        // One field holding the whole header: the file is split by another character.
        let hint = match header {
            [only] => mapping.delimiter_hint(only),
            _ => String::new(),
        };
        Err(FileError::new(
            file,
            "missing_columns",
            format!(
                "the header lacks column(s) {}; the header is [{}]{hint}",
                missing.join(", "),
                shown.join(", ")
            ),
        )
        .at_line(1))
    }
}

/// Refuses a mapping that names a canonical column this kind does not have.
pub fn check_mapping_names(file: &str, columns: &[ColumnSpec], mapping: &Mapping) -> Result<(), FileError> {
    for name in mapping.columns.keys() {
        if !columns.iter().any(|c| c.name == name) {
            let known: Vec<&str> = columns.iter().map(|c| c.name).collect();
            return Err(FileError::new(
                file,
                "unknown_mapped_column",
                format!(
                    "the mapping names canonical column {name:?}, which this kind does not have (it has {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn blank_to_none(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// `text` cut to at most `max` bytes (at a character boundary), with `...` when cut.
fn cut_to(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

fn cut(text: String) -> String {
    if text.len() > MAX_RAW_CHARS { cut_to(&text, MAX_RAW_CHARS) } else { text }
}

/// Physical line numbers of byte offsets. The csv crate's own line count is off for CRLF files
/// (every row one line early), counts a lone CR (old Mac files) as no break, and gives a row
/// after a blank line the blank line's number; here `\n`, `\r\n` and a lone `\r` each end a
/// line, and a record starts at its first byte that is not a line break.
struct LineIndex {
    /// Byte offset where each line starts, ascending (the first is 0).
    starts: Vec<u64>,
}

impl LineIndex {
    fn new(bytes: &[u8]) -> Self {
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i as u64 + 1);
            }
        }
        Self { starts }
    }

    /// The 1-based line of the record starting at byte `offset`.
    fn line_of(&self, bytes: &[u8], offset: u64) -> u64 {
        let skipped = bytes
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let at = offset + skipped as u64;
        self.starts.partition_point(|&start| start <= at) as u64
    }
}

/// Reads CSV rows. The first record is the header.
pub fn read_csv(
    file: &str,
    bytes: &[u8],
    columns: &[ColumnSpec],
    mapping: &Mapping,
    sink: &mut dyn RowSink,
) -> Result<u64, FileError> {
    let delimiter = mapping.delimiter_byte();
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let lines = LineIndex::new(bytes);
    let read = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::ByteRecord| {
        reader.read_byte_record(record).map_err(|e| {
            let line = e.position().map_or(0, |p| lines.line_of(bytes, p.byte()));
            FileError::new(file, "not_a_table", format!("cannot read CSV: {e}")).at_line(line)
        })
    };
    if !read(&mut reader, &mut record)? {
        return Err(FileError::new(file, "empty_file", "no header row"));
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            std::str::from_utf8(field).map(|s| s.trim_start_matches('\u{feff}').trim().to_owned()).map_err(
                |_| {
                    FileError::new(file, "not_a_table", format!("header field {} is not UTF-8 text", i + 1))
                        .at_line(1)
                },
            )
        })
        .collect::<Result<_, _>>()?;
    sink.names(Some(1), &header)?;
    let resolved = resolve_columns(file, columns, mapping, &header)?;
    sink.resolved(&resolved);
    let width = header.len();
    let mut rows = 0u64;
    // The row as written, its fields joined by the delimiter, stopping once past what is kept
    // (a row over the size limit is not copied whole to be cut).
    let render = |record: &csv::ByteRecord| {
        let mut text = String::new();
        for (i, field) in record.iter().enumerate() {
            if i > 0 {
                text.push(char::from(delimiter));
            }
            text.push_str(&String::from_utf8_lossy(&field[..field.len().min(MAX_RAW_CHARS + 1)]));
            if text.len() > MAX_RAW_CHARS {
                break;
            }
        }
        cut(text)
    };
    while read(&mut reader, &mut record)? {
        rows += 1;
        let line = record.position().map_or(0, |p| lines.line_of(bytes, p.byte()));
        let bad = |reason: &str, column: Option<String>, message: String| QuarantinedRow {
            file: file.into(),
            line,
            column,
            reason: reason.into(),
            message,
            raw: render(&record),
        };
        // A quote opened and not closed on its line (`8"` for inches, a lone `"12 INCH`) holds
        // the lines after it in one cell, to the next quote or the end of the file. Those lines
        // are rows not read: each is quarantined as such, not folded into one bad row. A quoted
        // cell may hold a line break of its own (a two-line description); a record is taken to
        // have swallowed rows when it comes out ragged or too long, or when a line it holds has
        // a row's worth of delimiters.
        let held = held_lines(bytes, &record, reader.position().byte(), line);
        let too_long = record.as_slice().len() > MAX_ROW_BYTES;
        let ragged = record.len() != width;
        let row_like =
            |text: &[u8]| width > 1 && text.iter().filter(|&&b| b == delimiter).count() + 1 >= width;
        let swallowed =
            !held.is_empty() && (too_long || ragged || held.iter().any(|(_, text)| row_like(text)));
        if too_long || ragged || swallowed {
            let (reason, what) = if too_long {
                let len = record.as_slice().len();
                ("row_too_long", format!("the row is {len} bytes; the limit is {MAX_ROW_BYTES}"))
            } else if ragged {
                (
                    "wrong_field_count",
                    format!("expected {width} fields as in the header, found {}", record.len()),
                )
            } else {
                (
                    "open_quote",
                    format!("the row holds {} more lines that read as rows of their own", held.len()),
                )
            };
            let message = match held.last().filter(|_| swallowed) {
                Some((last, _)) => format!(
                    "{what}: a quote opened on this line is closed only on line {last} (or never), so the \
                     {} lines after it were read as part of this row (quarantined too); fix or double the \
                     quote and upload the file again",
                    held.len()
                ),
                None => what,
            };
            sink.bad(bad(reason, None, message));
            for (held_line, text) in held.iter().filter(|_| swallowed) {
                rows += 1;
                sink.bad(QuarantinedRow {
                    file: file.into(),
                    line: *held_line,
                    column: None,
                    reason: "inside_open_quote".into(),
                    message: format!(
                        "read as part of the row on line {line}, whose quote is not closed on its line"
                    ),
                    raw: cut(String::from_utf8_lossy(&text[..text.len().min(MAX_RAW_CHARS + 1)])
                        .trim_end_matches('\r')
                        .to_owned()),
                });
            }
            continue;
        }
        let mut cells: Vec<Option<&str>> = Vec::with_capacity(columns.len());
        let mut utf8_error = None;
        for (spec, index) in columns.iter().zip(&resolved) {
            let cell = match index {
                None => None,
                Some(i) => match std::str::from_utf8(&record[*i]) {
                    Ok(text) => blank_to_none(text),
                    Err(_) => {
                        utf8_error = Some(spec.name);
                        None
                    }
                },
            };
            cells.push(cell);
        }
        if let Some(column) = utf8_error {
            sink.bad(bad("invalid_utf8", Some(column.into()), "the value is not valid UTF-8".into()));
            continue;
        }
        // Field by field (a slice hashes its length too): `SET OF 1,12` and `SET OF 11,2` join
        // to the same bytes but are different rows.
        let mut hasher = std::hash::DefaultHasher::new();
        record.iter().for_each(|field| field.hash(&mut hasher));
        let fingerprint = hasher.finish();
        sink.row(line, &cells, fingerprint, &|| render(&record));
    }
    Ok(rows)
}

/// The physical lines after the first that `record` spans (a quoted cell's line breaks), with
/// their line numbers, blank ones left out; `next` is where the record after it starts, `line`
/// its own first line. Empty for a record on one line (the usual case, found without a scan).
fn held_lines<'b>(bytes: &'b [u8], record: &csv::ByteRecord, next: u64, line: u64) -> Vec<(u64, &'b [u8])> {
    if !record.as_slice().iter().any(|&b| b == b'\n' || b == b'\r') {
        return Vec::new();
    }
    let start = record.position().map_or(0, |p| p.byte() as usize).min(bytes.len());
    let end = usize::try_from(next).unwrap_or(usize::MAX).clamp(start, bytes.len());
    let span = &bytes[start..end];
    // A record starts where the one before it ended: on the `\n` of its `\r\n`, or on a blank
    // line (as [`LineIndex::line_of`] steps past them).
    let skip = span.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
    span[skip..]
        .split(|&b| b == b'\n')
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.is_empty() && *l != b"\r")
        .map(|(i, l)| (line + i as u64, l))
        .collect()
}

/// Reads JSON lines: one object per non-blank line, keys matched like CSV headers.
pub fn read_json_lines(
    file: &str,
    bytes: &[u8],
    columns: &[ColumnSpec],
    mapping: &Mapping,
    sink: &mut dyn RowSink,
) -> Result<u64, FileError> {
    check_mapping_names(file, columns, mapping)?;
    let mut rows = 0u64;
    let mut seen = vec![false; columns.len()];
    let mut texts: Vec<Option<String>> = Vec::with_capacity(columns.len());
    // A UTF-8 byte-order mark (some exporters write one) is not part of the first object.
    let bytes = super::format::without_bom(bytes);
    for (index, raw_line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = index as u64 + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if raw_line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        rows += 1;
        let raw = || cut(String::from_utf8_lossy(raw_line).into_owned());
        let bad = |reason: &str, column: Option<String>, message: String| QuarantinedRow {
            file: file.into(),
            line,
            column,
            reason: reason.into(),
            message,
            raw: raw(),
        };
        if raw_line.len() > MAX_ROW_BYTES {
            sink.bad(bad(
                "row_too_long",
                None,
                format!("the line is {} bytes; the limit is {MAX_ROW_BYTES}", raw_line.len()),
            ));
            continue;
        }
        let object = match serde_json::from_slice::<Value>(raw_line) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                sink.bad(bad("not_an_object", None, "each line must be one JSON object".into()));
                continue;
            }
            Err(e)
                if e.classify() == serde_json::error::Category::Io
                    || std::str::from_utf8(raw_line).is_err() =>
            {
                sink.bad(bad("invalid_utf8", None, format!("the line is not valid UTF-8 JSON: {e}")));
                continue;
            }
            Err(e) => {
                sink.bad(bad("invalid_json", None, format!("invalid JSON at column {}: {e}", e.column())));
                continue;
            }
        };
        let keys: Vec<String> = object.keys().cloned().collect();
        sink.names(Some(line), &keys)?;
        let resolved = resolve_optional(columns, mapping, &keys);
        sink.resolved(&resolved);
        texts.clear();
        let mut nested = None;
        for (i, (spec, index)) in columns.iter().zip(&resolved).enumerate() {
            let text = index.and_then(|k| match &object[&keys[k]] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                // A code written as a float (`21794.0`: pandas turns a column of numeric codes with
                // a gap into floats) is the code `21794`, as it is in a CSV.
                Value::Number(n) if spec.ty == ColumnType::Text => {
                    Some(n.as_f64().and_then(integral_text).unwrap_or_else(|| n.to_string()))
                }
                // A JSON number has a decimal point whatever the folder's text convention: say
                // it in that convention, since the text is read with it (`2.55` under a decimal
                // comma was refused as not a number).
                Value::Number(n) => Some(n.to_string().replace('.', &mapping.decimal_char().to_string())),
                Value::Bool(b) => Some(b.to_string()),
                Value::Array(_) | Value::Object(_) => {
                    nested = Some(spec.name);
                    None
                }
            });
            seen[i] |= index.is_some();
            texts.push(text);
        }
        if let Some(column) = nested {
            sink.bad(bad(
                "invalid_value",
                Some(column.into()),
                "expected a string or number, found an array or object".into(),
            ));
            continue;
        }
        // A key given as null holds nothing to choose between.
        let given: Vec<String> =
            object.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k.clone()).collect();
        if let Some(message) = ambiguous_columns(columns, mapping, &given) {
            sink.bad(bad("ambiguous_keys", None, message));
            continue;
        }
        let cells: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref().and_then(blank_to_none)).collect();
        let mut hasher = std::hash::DefaultHasher::new();
        raw_line.hash(&mut hasher);
        sink.row(line, &cells, hasher.finish(), &raw);
    }
    if rows == 0 {
        return Err(FileError::new(file, "empty_file", "no JSON lines"));
    }
    // A key the mapping names must be there, as a CSV's or Parquet file's column must: a
    // misspelt name would otherwise leave the column empty without a word.
    let missing: Vec<String> = columns
        .iter()
        .zip(&seen)
        .filter(|(spec, seen)| !**seen && (spec.required || mapping.columns.contains_key(spec.name)))
        .map(|(spec, _)| match mapping.columns.get(spec.name) {
            Some(name) => format!("{} ({name:?} from the mapping)", spec.name),
            None => spec.name.to_owned(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(FileError::new(
            file,
            "missing_columns",
            format!("no line has the key(s) {}", missing.join(", ")),
        ));
    }
    Ok(rows)
}

/// Whether `mapping` gives header name or key `key` to a canonical column (exact but for case
/// and surrounding whitespace). A name the mapping gives is not read through any alias: with
/// `on_order = "stock"`, a `stock` column is on order, not also on hand (`stock` is an alias of
/// `on_hand`).
fn mapped_to<'m>(mapping: &'m Mapping, key: &str) -> Option<&'m str> {
    mapping
        .columns
        .iter()
        .find(|(_, name)| name.trim().eq_ignore_ascii_case(key.trim()))
        .map(|(c, _)| c.as_str())
}

/// The canonical column a header name or key stands for, exactly as [`resolve_columns`] reads
/// it: the one the mapping gives that name, or else the one (among those the mapping does not
/// name) with an alias equal to it folded ([`fold_header`]). `None`: a column ingest passes over.
#[must_use]
pub fn canonical_column<'c>(
    columns: &'c [ColumnSpec],
    mapping: &Mapping,
    name: &str,
) -> Option<&'c ColumnSpec> {
    if let Some(canonical) = mapped_to(mapping, name) {
        return columns.iter().find(|spec| spec.name == canonical);
    }
    let folded = fold_header(name);
    columns.iter().find(|spec| {
        !mapping.columns.contains_key(spec.name)
            && spec.aliases.iter().any(|alias| fold_header(alias) == folded)
    })
}

/// Canonical columns whose chosen alias more than one header name or key matches (`CustomerID`
/// and `Customer ID` both fold to `customerid`, or one name twice), among those the mapping does
/// not name: which one is read would be the file's column order, not the shop's choice, so the
/// file (or JSON line) is refused with a message naming them and the mapping entry that settles
/// it. Names matching different aliases (`sku` and `product_id`) are not a clash: the aliases'
/// order decides, as [`resolve_optional`] reads it. `None` when unambiguous.
fn ambiguous_columns(columns: &[ColumnSpec], mapping: &Mapping, names: &[String]) -> Option<String> {
    let free: Vec<(&String, String)> =
        names.iter().filter(|n| mapped_to(mapping, n).is_none()).map(|n| (n, fold_header(n))).collect();
    let clashes: Vec<(String, Vec<&String>)> = columns
        .iter()
        .filter(|spec| !mapping.columns.contains_key(spec.name))
        .filter_map(|spec| {
            let matching = spec.aliases.iter().map(|alias| fold_header(alias)).find_map(|alias| {
                let matching: Vec<&String> =
                    free.iter().filter(|(_, folded)| *folded == alias).map(|(n, _)| *n).collect();
                (!matching.is_empty()).then_some(matching)
            })?;
            (matching.len() > 1).then(|| (spec.name.to_owned(), matching))
        })
        .collect();
    let (first, names) = clashes.first()?;
    let listed: Vec<String> = clashes
        .iter()
        .map(|(canonical, names)| {
            let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!("{canonical} ({})", names.join(" and "))
        })
        .collect();
    Some(format!(
        "more than one column stands for {}; name the one to read in the mapping, e.g. {{\"columns\": {{\"{first}\": {:?}}}}}",
        listed.join(", "),
        names[0]
    ))
}

/// For each canonical column, the index of the header name or key that holds it: the mapping's
/// name (case-insensitive) or else the first alias that matches folded, among the names the
/// mapping does not give to a column. Missing columns are `None`; [`resolve_columns`] turns
/// missing required ones into a file error, JSON lines quarantine the row instead.
fn resolve_optional(columns: &[ColumnSpec], mapping: &Mapping, keys: &[String]) -> Vec<Option<usize>> {
    let folded: Vec<Option<String>> =
        keys.iter().map(|k| mapped_to(mapping, k).is_none().then(|| fold_header(k))).collect();
    columns
        .iter()
        .map(|spec| match mapping.columns.get(spec.name) {
            Some(name) => keys.iter().position(|k| k.trim().eq_ignore_ascii_case(name.trim())),
            None => spec.aliases.iter().find_map(|alias| {
                let alias = fold_header(alias);
                folded.iter().position(|k| k.as_deref() == Some(alias.as_str()))
            }),
        })
        .collect()
}

/// The rows a Parquet file holds, from its footer alone: the larger of what the file says and
/// what its row groups say (the reader goes by the row groups, and a crafted footer may say 1);
/// `None` when the footer cannot be read.
#[must_use]
pub fn parquet_rows(bytes: &[u8]) -> Option<u64> {
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let metadata = reader.get_metadata().ok()?;
    let groups =
        metadata.row_groups.iter().fold(0u64, |rows, group| rows.saturating_add(group.num_rows() as u64));
    Some((metadata.num_rows as u64).max(groups))
}

/// An upper bound on the rows of JSON text, scanned without parsing it: its top-level values
/// (JSON lines), the elements of a top-level array, or those of the arrays a single top-level
/// object holds directly (`{"items": [...]}`), whichever is more. A JSON array of a million rows is
/// a million rows before anything builds a value for each; arrays deeper down (a row's own list)
/// are not rows. Only the first two levels' kinds are kept, so a file of brackets costs nothing.
#[must_use]
pub fn json_rows(bytes: &[u8]) -> u64 {
    let (mut in_string, mut escaped) = (false, false);
    let mut depth = 0usize;
    // Whether the container at level 1 and 2 is an array, and whether it holds anything yet.
    let mut levels = [(false, false); 2];
    let (mut top_values, mut top_elements, mut inner_elements) = (0u64, 0u64, 0u64);
    let mut after_separator = true; // at depth 0: whether a value may start here
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            if depth == 0 {
                after_separator = true;
            }
            continue;
        }
        if depth == 0 {
            if after_separator && b != b',' {
                top_values += 1;
            }
            after_separator = matches!(b, b',' | b'{' | b'[' | b'"');
        } else if (1..=2).contains(&depth) && !matches!(b, b']' | b'}') {
            let (is_array, holds) = &mut levels[depth - 1];
            if *is_array && !*holds {
                if depth == 1 { top_elements += 1 } else { inner_elements += 1 }
            }
            *holds = true;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth <= 2 {
                    levels[depth - 1] = (b == b'[', false);
                }
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    after_separator = true;
                }
            }
            b',' if depth == 1 && levels[0].0 => top_elements += 1,
            b',' if depth == 2 && levels[1].0 && !levels[0].0 => inner_elements += 1,
            _ => {}
        }
    }
    let inner = if top_values <= 1 { inner_elements } else { 0 };
    top_values.max(top_elements).max(inner)
}

/// Lines of text: `\n`, and a `\r` not followed by one (as the CSV reader and [`LineIndex`] end
/// lines).
#[must_use]
pub fn line_ends(bytes: &[u8]) -> u64 {
    let lone_cr = bytes.windows(2).filter(|pair| pair[0] == b'\r' && pair[1] != b'\n').count();
    let last_cr = usize::from(bytes.last() == Some(&b'\r'));
    (bytes.iter().filter(|&&b| b == b'\n').count() + lone_cr + last_cr) as u64
}

/// Reads Parquet with polars. Line numbers are row numbers + 1 (no header line).
pub fn read_parquet(
    file: &str,
    bytes: &[u8],
    columns: &[ColumnSpec],
    mapping: &Mapping,
    sink: &mut dyn RowSink,
) -> Result<u64, FileError> {
    let frame = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| FileError::new(file, "invalid_parquet", format!("cannot read Parquet: {e}")))?;
    let header: Vec<String> = frame.get_column_names().iter().map(ToString::to_string).collect();
    sink.names(None, &header)?;
    let resolved = resolve_columns(file, columns, mapping, &header)?;
    sink.resolved(&resolved);
    let mut as_text: Vec<Option<StringChunked>> = Vec::with_capacity(columns.len());
    let mut typed: Vec<bool> = Vec::with_capacity(columns.len());
    for (spec, index) in columns.iter().zip(&resolved) {
        let Some(i) = index else {
            as_text.push(None);
            typed.push(false);
            continue;
        };
        let column = &frame.columns()[*i];
        let dtype = column.dtype();
        // A column of nulls only (Arrow's `null` type: pandas writes one for a day of guest sales
        // without a customer id) holds no value of any type.
        if matches!(dtype, DataType::Null) {
            as_text.push(None);
            typed.push(false);
            continue;
        }
        // Text includes a dictionary-encoded column (pandas' `category`), numbers a warehouse's
        // fixed-point `decimal(p, s)`: both read as the text they hold.
        let text_like = dtype.is_string() || dtype.is_categorical() || dtype.is_enum();
        let fits = match spec.ty {
            ColumnType::Integer | ColumnType::Decimal => {
                dtype.is_primitive_numeric() || dtype.is_decimal() || text_like
            }
            ColumnType::Timestamp => matches!(dtype, DataType::Datetime(..) | DataType::Date) || text_like,
            ColumnType::Flag => {
                matches!(dtype, DataType::Boolean) || dtype.is_primitive_numeric() || text_like
            }
            ColumnType::Text | ColumnType::CustomerKey => {
                text_like
                    || dtype.is_primitive_numeric()
                    || dtype.is_decimal()
                    || matches!(dtype, DataType::Boolean)
            }
        };
        if !fits {
            return Err(FileError::new(
                file,
                "wrong_column_type",
                format!(
                    "column {:?} (canonical {}) has Parquet type {dtype}, which cannot hold {:?} values",
                    header[*i], spec.name, spec.ty
                ),
            )
            .at_column(spec.name));
        }
        let wrong = |e: PolarsError| {
            FileError::new(file, "wrong_column_type", format!("column {:?}: {e}", header[*i]))
                .at_column(spec.name)
        };
        let series = column.as_materialized_series();
        let is_time = matches!(dtype, DataType::Datetime(..) | DataType::Date);
        typed.push(is_time);
        // A typed float is written with the mapping's decimal separator, which the validator reads.
        let text = match dtype {
            _ if is_time => Ok(typed_timestamps(series).map_err(|message| {
                FileError::new(file, "wrong_column_type", format!("column {:?}: {message}", header[*i]))
                    .at_column(spec.name)
            })?),
            // A code written as a float is the code: `21794.0` is `21794` (as in a JSON line).
            dtype if dtype.is_float() && spec.ty == ColumnType::Text => {
                column.cast(&DataType::Float64).and_then(|c| {
                    Ok(c.f64()?
                        .iter()
                        .map(|v| v.map(|v| integral_text(v).unwrap_or_else(|| v.to_string())))
                        .collect::<StringChunked>())
                })
            }
            dtype if (dtype.is_float() || dtype.is_decimal()) && mapping.decimal_char() != '.' => {
                let decimal = mapping.decimal_char().to_string();
                column.cast(&DataType::String).and_then(|c| {
                    let written: StringChunked =
                        c.str()?.iter().map(|v| v.map(|v| v.replace('.', &decimal))).collect();
                    Ok(written)
                })
            }
            _ => column.cast(&DataType::String).and_then(|c| c.str().cloned()),
        }
        .map_err(wrong)?;
        as_text.push(Some(text));
    }
    sink.typed(&typed);
    let height = frame.height();
    let mut cells: Vec<Option<&str>> = Vec::with_capacity(columns.len());
    for row in 0..height {
        cells.clear();
        for text in &as_text {
            cells.push(text.as_ref().and_then(|t| t.get(row)).and_then(blank_to_none));
        }
        let mut hasher = std::hash::DefaultHasher::new();
        cells.hash(&mut hasher);
        let raw = || {
            let values: Vec<String> = as_text
                .iter()
                .map(|t| t.as_ref().and_then(|t| t.get(row)).unwrap_or("").to_owned())
                .collect();
            cut(values.join(","))
        };
        sink.row(row as u64 + 1, &cells, hasher.finish(), &raw);
    }
    Ok(height as u64)
}

/// A float with no fraction as an integer's text (`21794.0` -> `21794`), `None` otherwise.
fn integral_text(value: f64) -> Option<String> {
    (value.fract() == 0.0 && value.abs() < 1e15).then(|| format!("{value:.0}"))
}

/// A Parquet date or date-time column as [`TYPED_TIMESTAMP_FORMAT`] text of its local wall-clock
/// time: a zone-qualified one (`timestamp[us, tz=Europe/London]`) at that zone's clock, as a JSON
/// line's `2011-12-09T12:43:00-05:00` keeps 12:43; a naive one as it is. Before, a zone failed
/// the file and a date-only `date_format` cut the time off typed values.
fn typed_timestamps(series: &Series) -> Result<StringChunked, String> {
    let text = |t: Option<chrono::NaiveDateTime>| t.map(|t| t.format(TYPED_TIMESTAMP_FORMAT).to_string());
    match series.dtype() {
        DataType::Date => {
            let days = series.date().map_err(|e| e.to_string())?.physical();
            Ok(days
                .iter()
                .map(|d| {
                    text(d.and_then(|d| {
                        chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0).map(|t| t.naive_utc())
                    }))
                })
                .collect())
        }
        DataType::Datetime(unit, zone) => {
            let zone = zone.as_ref().map(|z| Zone::parse(z.as_str())).transpose()?;
            let values = series.datetime().map_err(|e| e.to_string())?.physical();
            let instant = |v: i64| match unit {
                TimeUnit::Milliseconds => chrono::DateTime::from_timestamp_millis(v),
                TimeUnit::Microseconds => chrono::DateTime::from_timestamp_micros(v),
                TimeUnit::Nanoseconds => Some(chrono::DateTime::from_timestamp_nanos(v)),
            };
            Ok(values
                .iter()
                .map(|v| {
                    text(v.and_then(instant).map(|t| match &zone {
                        None => t.naive_utc(),
                        Some(zone) => zone.local(t),
                    }))
                })
                .collect())
        }
        other => Err(format!("{other} is not a date or date-time")),
    }
}

/// The time zone of a zone-qualified Parquet timestamp.
enum Zone {
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    fn parse(name: &str) -> Result<Self, String> {
        if let Ok(offset) = name.parse::<chrono::FixedOffset>() {
            return Ok(Self::Fixed(offset));
        }
        name.parse::<chrono_tz::Tz>()
            .map(Self::Named)
            .map_err(|_| format!("time zone {name:?} is neither an offset (+05:30) nor an IANA name"))
    }

    /// The wall-clock time of `instant` in this zone.
    fn local(&self, instant: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
        match self {
            Self::Fixed(offset) => instant.with_timezone(offset).naive_local(),
            Self::Named(zone) => instant.with_timezone(zone).naive_local(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_bounded_from_above_without_parsing() {
        // CSV lines end in LF, CRLF or a lone CR, as the reader ends them.
        assert_eq!(line_ends(b"h\na\nb\n"), 3);
        assert_eq!(line_ends(b"h\r\na\r\nb"), 2);
        assert_eq!(line_ends(b"h\ra\rb\r"), 3);
        // JSON: an array's elements however it is laid out, nested containers and strings aside.
        assert_eq!(json_rows(br#"[{"a":1,"b":[1,2]},{"a":"x,y]"}, {"c":"\"]"}]"#), 3);
        // Laid out over many lines, or with lists in each row: still its rows.
        assert_eq!(json_rows(b"[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": 2\n  }\n]\n"), 2);
        assert_eq!(json_rows(b"{\"tags\":[1,2,3]}\n{\"tags\":[4,5,6]}\n"), 2);
        // Brackets alone are one value, not a stack to keep.
        assert_eq!(json_rows(&[b'['; 100_000]), 1);
        assert_eq!(json_rows(b"[0,0,0,0,0,0,0,0,0,0]"), 10);
        assert!(json_rows(b"[]") <= 1, "an upper bound: one value");
        assert_eq!(
            json_rows(br#"{"snapshot_id":"s","items":[{"sku":"A","on_hand":1},{"sku":"B","on_hand":2}]}"#),
            2
        );
        assert_eq!(json_rows(b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"), 3);
    }

    #[test]
    fn a_parquet_files_rows_are_read_from_its_footer() {
        let mut frame = polars::df!("a" => [1i64, 2, 3]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
        assert_eq!(parquet_rows(&bytes), Some(3));
        assert_eq!(parquet_rows(b"not parquet"), None);
    }
}
