//! An inventory snapshot read from an upload's bytes the way ingest reads the same upload:
//! gzip or not; CSV (with the mapping's delimiter), JSON lines or Parquet; columns found by the
//! inventory schema's names and aliases or by the folder's mapping
//! (`uploads/inventory/_mapping.toml`); numbers with the mapping's decimal separator. The
//! readers are ingest's own ([`crate::ingest::read`]), so an export ingest accepts is not refused
//! here for its format or its header names.
//!
//! Two things are stricter than ingest, because every order the alerts suggest rests on every
//! column of the snapshot:
//! - **A column neither the schema nor the mapping names is refused**, where ingest passes it
//!   over: a misspelt `lead_tme` would otherwise leave every lead time at the policy's default.
//! - **The first bad row refuses the snapshot**, where ingest quarantines the row and keeps the
//!   rest: a snapshot missing a SKU's row would raise no alert for that SKU, and a stock-out
//!   alert that is never raised is the costly mistake. The event or file is kept whole and the
//!   error names the file, the line (CSV and JSON lines; Parquet's row number, from 1) and the
//!   column.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use super::errors::AlertError;
use super::inventory::{
    Field, INVENTORY_COLUMNS, InventoryRow, InventorySnapshot, optional, parse_days, parse_service_level,
    parse_sku, parse_units, required,
};
use crate::ingest::DEFAULT_MAX_TABLE_BYTES;
use crate::ingest::error::FileError;
use crate::ingest::format::{Decoded, TableFormat, decode, items_document};
use crate::ingest::mapping::Mapping;
use crate::ingest::read::{RowSink, canonical_column, read_csv, read_json_lines, read_parquet};
use crate::ingest::schema::INVENTORY;
use crate::ingest::validate::{QuarantinedRow, TimestampParser, decimal_text};

impl InventorySnapshot {
    /// Reads an inventory file from disk as an upload (see the module docs) with `mapping`.
    /// `id`: the snapshot id, or `None` for the content hash.
    pub fn read_file(path: &Path, mapping: &Mapping, id: Option<&str>) -> Result<Self, AlertError> {
        let file = path.display().to_string();
        let raw = std::fs::read(path).map_err(|source| AlertError::Io { file: file.clone(), source })?;
        Self::parse_upload(&file, &raw, mapping, id, DEFAULT_MAX_TABLE_BYTES)
    }

    /// Reads an upload's raw bytes (see the module docs); `file` names it in errors and, with the
    /// content, tells its format as ingest tells it. Tables over `max_table_bytes` once
    /// decompressed are refused.
    pub fn parse_upload(
        file: &str,
        raw: &[u8],
        mapping: &Mapping,
        id: Option<&str>,
        max_table_bytes: u64,
    ) -> Result<Self, AlertError> {
        let table =
            decode(file, raw, max_table_bytes, mapping.text_encoding()).map_err(|e| file_error(file, e))?;
        crate::ingest::check_rows(file, &table, max_table_bytes).map_err(|e| file_error(file, e))?;
        if let Some(document) = Self::document(file, &table) {
            return match (document?, id) {
                (snapshot, Some(id)) => snapshot.named_as(id),
                (snapshot, None) => Ok(snapshot),
            };
        }
        // A JSON array of rows is read as ingest reads it.
        if table.format == TableFormat::JsonLines
            && let Some(lines) = crate::ingest::format::array_as_json_lines(&table.bytes)
        {
            return Self::parse_table(file, &lines, table.format, mapping, id);
        }
        Self::parse_table(file, &table.bytes, table.format, mapping, id)
    }

    /// Reads an upload that is the event's shape in a file, one JSON object with `items`
    /// (gzip or not), as the event is read (ingest reads its items as rows); `None` for any other
    /// upload. A folder's mapping has nothing to say about it.
    pub fn parse_document(file: &str, raw: &[u8], max_table_bytes: u64) -> Option<Result<Self, AlertError>> {
        let table = decode(file, raw, max_table_bytes, None).ok()?;
        // Only JSON can be the document: anything else is `None`, bounded or not.
        if table.format == TableFormat::JsonLines
            && let Err(e) = crate::ingest::check_rows(file, &table, max_table_bytes)
        {
            return Some(Err(file_error(file, e)));
        }
        Self::document(file, &table)
    }

    fn document(file: &str, table: &Decoded) -> Option<Result<Self, AlertError>> {
        let document = (table.format == TableFormat::JsonLines).then(|| items_document(&table.bytes))??;
        Some(Self::from_json(&serde_json::Value::Object(document)).map_err(|e| match e {
            AlertError::Empty { .. } => AlertError::Empty { source_name: file.to_owned() },
            other => AlertError::InDocument { file: file.to_owned(), source: Box::new(other) },
        }))
    }

    /// Reads an inventory CSV with the default mapping (comma, `.` decimals, the schema's header
    /// names); `file` names it in errors.
    pub fn parse_csv(
        file: &str,
        mut reader: impl std::io::Read,
        id: Option<&str>,
    ) -> Result<Self, AlertError> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|source| AlertError::Io { file: file.to_owned(), source })?;
        Self::parse_table(file, &bytes, TableFormat::Csv, &Mapping::default(), id)
    }

    /// Reads decoded table bytes of a known format.
    pub fn parse_table(
        file: &str,
        bytes: &[u8],
        format: TableFormat,
        mapping: &Mapping,
        id: Option<&str>,
    ) -> Result<Self, AlertError> {
        let mut sink = SnapshotSink::new(file, mapping, format == TableFormat::Csv);
        let read = match format {
            TableFormat::Csv => read_csv(file, bytes, INVENTORY, mapping, &mut sink),
            TableFormat::JsonLines => read_json_lines(file, bytes, INVENTORY, mapping, &mut sink),
            TableFormat::Parquet => read_parquet(file, bytes, INVENTORY, mapping, &mut sink),
        };
        // The sink's own error comes first: a refused header also stops the reader.
        if let Some(error) = sink.error {
            return Err(error);
        }
        read.map_err(|e| file_error(file, e))?;
        if sink.rows.is_empty() {
            return Err(AlertError::Empty { source_name: file.to_owned() });
        }
        // Its time of day is not kept: it is the shop's clock, with no zone to rank it against the
        // events' UTC times by.
        Self::with_id(id, sink.rows, sink.as_of.map(|(day, _)| day))
    }
}

/// A file-level reading error; "no rows at all" reads as the snapshot being empty.
fn file_error(file: &str, error: FileError) -> AlertError {
    if error.code == "empty_file" {
        AlertError::Empty { source_name: file.to_owned() }
    } else {
        AlertError::Unreadable(error)
    }
}

/// Columns pandas writes for a DataFrame's index (`__index_level_0__`) when it saves Parquet:
/// not a misspelt inventory column, so passed over rather than refused.
const PANDAS_INDEX_PREFIX: &str = "__index_level_";

/// The inventory schema's column of the day the stock was counted, read apart from the row's
/// fields ([`InventorySnapshot::as_of`]).
const SNAPSHOT_TIME: &str = "snapshot_time";

/// The alert field an inventory schema column feeds: `Some(None)` for [`SNAPSHOT_TIME`], which
/// feeds the snapshot's day rather than a row, `None` for a column neither knows.
fn field_of(canonical: &str) -> Option<Option<Field>> {
    Some(match canonical {
        "stock_code" => Some(Field::Sku),
        "on_hand" => Some(Field::OnHand),
        "on_order" => Some(Field::OnOrder),
        "lead_time_days" => Some(Field::LeadTime),
        "service_level" => Some(Field::ServiceLevel),
        "on_order_due_days" => Some(Field::OnOrderDue),
        SNAPSHOT_TIME => None,
        _ => return None,
    })
}

/// Collects the rows ingest's readers hand over, keeping the first error.
struct SnapshotSink<'a> {
    file: &'a str,
    mapping: &'a Mapping,
    /// Delimited text (CSV): a header in one name may be split by another character.
    delimited: bool,
    /// For each [`Field`], its cell's index in a row of [`INVENTORY`] cells.
    cell_of: [usize; INVENTORY_COLUMNS.len()],
    rows: Vec<InventoryRow>,
    first_line: HashMap<String, u64>,
    /// Index of `snapshot_time` in a row of [`INVENTORY`] cells, and its reader.
    time_cell: usize,
    timestamps: TimestampParser,
    /// Whether `snapshot_time` is a typed date-time ([`RowSink::typed`]).
    typed_time: bool,
    /// The day counted and the first line that gave it.
    as_of: Option<(NaiveDate, u64)>,
    error: Option<AlertError>,
}

impl<'a> SnapshotSink<'a> {
    fn new(file: &'a str, mapping: &'a Mapping, delimited: bool) -> Self {
        let mut cell_of = [0; INVENTORY_COLUMNS.len()];
        for (i, spec) in INVENTORY.iter().enumerate() {
            if let Some(Some(field)) = field_of(spec.name) {
                cell_of[field as usize] = i;
            }
        }
        Self {
            file,
            mapping,
            delimited,
            cell_of,
            rows: Vec::new(),
            first_line: HashMap::new(),
            time_cell: INVENTORY.iter().position(|spec| spec.name == SNAPSHOT_TIME).unwrap_or(usize::MAX),
            timestamps: TimestampParser::new(mapping),
            typed_time: false,
            as_of: None,
            error: None,
        }
    }

    fn invalid(&self, line: Option<u64>, column: &str, reason: String) -> AlertError {
        match line {
            Some(line) => {
                AlertError::InvalidRow { file: self.file.to_owned(), line, column: column.to_owned(), reason }
            }
            None => {
                AlertError::InvalidColumn { file: self.file.to_owned(), column: column.to_owned(), reason }
            }
        }
    }

    /// Every name must stand for a column of the schema, once; `sku` and `on_hand` must be there.
    fn check_names(&self, line: Option<u64>, names: &[String]) -> Result<(), AlertError> {
        let mut seen = [false; INVENTORY_COLUMNS.len()];
        for name in names {
            if name.starts_with(PANDAS_INDEX_PREFIX) {
                continue;
            }
            let name = name.as_str();
            let spec = canonical_column(INVENTORY, self.mapping, name);
            let Some(field) = spec.and_then(|spec| field_of(spec.name)) else {
                let column = if name.is_empty() { "header" } else { name };
                // A whole header in one name: the file is split by another character.
                let split = if self.delimited { self.mapping.delimiter_hint(name) } else { String::new() };
                return Err(self.invalid(
                    line,
                    column,
                    format!(
                        "unknown column {name:?} (expected {}, snapshot_time, or a header name ingest reads as one of \
                         them){split}",
                        INVENTORY_COLUMNS.join(", ")
                    ),
                ));
            };
            if let Some(field) = field
                && std::mem::replace(&mut seen[field as usize], true)
            {
                return Err(self.invalid(line, name, format!("a second column for {}", field.name())));
            }
        }
        for needed in [Field::Sku, Field::OnHand] {
            if !seen[needed as usize] {
                return Err(self.invalid(line, needed.name(), "missing required column".into()));
            }
        }
        Ok(())
    }

    /// A row's `snapshot_time`: the day it names must be every dated row's.
    fn count_day(&mut self, line: u64, text: &str) -> Result<(), AlertError> {
        let column = SNAPSHOT_TIME;
        let parsed =
            if self.typed_time { TimestampParser::parse_typed(text) } else { self.timestamps.parse(text) };
        let Some(day) = parsed.map(|t| t.date()) else {
            let expected = self.timestamps.expected();
            return Err(self.invalid(
                Some(line),
                column,
                format!("{text:?} is not a date-time in the format {expected}"),
            ));
        };
        match self.as_of {
            None => self.as_of = Some((day, line)),
            Some((first, first_line)) if first != day => {
                return Err(self.invalid(
                    Some(line),
                    column,
                    format!(
                        "{day} is another day than line {first_line}'s {first}: a snapshot is one day's \
                         stock (send each day's count as its own snapshot)"
                    ),
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn parse_row(&self, line: u64, cells: &[Option<&str>]) -> Result<InventoryRow, AlertError> {
        let text = |field: Field| cells.get(self.cell_of[field as usize]).copied().flatten().unwrap_or("");
        let at = |field: Field| move |reason: String| self.invalid(Some(line), field.name(), reason);
        // A number's text with the mapping's decimal separator read as `.`, as ingest reads it.
        let number = |field: Field| -> Result<String, String> {
            let text = text(field);
            let decimal = self.mapping.decimal_char();
            decimal_text(text, decimal).map(String::from).ok_or_else(|| {
                format!("{text:?} has a '.', and the mapping's decimal separator is '{decimal}'")
            })
        };
        let optional_number = |field: Field| number(field).map(|t| optional(&t)).map_err(at(field));
        let sku = parse_sku(text(Field::Sku)).map_err(at(Field::Sku))?;
        let on_hand = number(Field::OnHand)
            .and_then(|t| required(&t))
            .and_then(parse_units)
            .map_err(at(Field::OnHand))?;
        let on_order = optional_number(Field::OnOrder)?
            .map(parse_units)
            .transpose()
            .map_err(at(Field::OnOrder))?
            .unwrap_or(0);
        let lead_time_days =
            optional_number(Field::LeadTime)?.map(parse_days).transpose().map_err(at(Field::LeadTime))?;
        let service_level = optional_number(Field::ServiceLevel)?
            .map(parse_service_level)
            .transpose()
            .map_err(at(Field::ServiceLevel))?;
        let on_order_due_days =
            optional_number(Field::OnOrderDue)?.map(parse_days).transpose().map_err(at(Field::OnOrderDue))?;
        if let Some(earlier) = self.first_line.get(&sku) {
            return Err(at(Field::Sku)(format!("{sku:?} appears again (first on line {earlier})")));
        }
        Ok(InventoryRow { sku, on_hand, on_order, lead_time_days, service_level, on_order_due_days })
    }
}

impl RowSink for SnapshotSink<'_> {
    fn typed(&mut self, typed: &[bool]) {
        self.typed_time = typed.get(self.time_cell).copied().unwrap_or(false);
    }

    fn row(&mut self, line: u64, cells: &[Option<&str>], _fingerprint: u64, _raw: &dyn Fn() -> String) {
        if self.error.is_some() || cells.iter().all(Option::is_none) {
            return;
        }
        if let Some(text) = cells.get(self.time_cell).copied().flatten()
            && let Err(error) = self.count_day(line, text)
        {
            self.error = Some(error);
            return;
        }
        match self.parse_row(line, cells) {
            Ok(row) => {
                self.first_line.insert(row.sku.clone(), line);
                self.rows.push(row);
            }
            Err(error) => self.error = Some(error),
        }
    }

    fn bad(&mut self, row: QuarantinedRow) {
        // A blank line of delimiters (`,,` under a wider header), as a spreadsheet leaves at the
        // end of an export, is no row; ingest quarantines it and the alerts pass over it.
        let delimiter = char::from(self.mapping.delimiter_byte());
        if row.reason == "wrong_field_count" && row.raw.chars().all(|c| c == delimiter || c.is_whitespace()) {
            return;
        }
        if self.error.is_none() {
            let column = match row.column.as_deref().and_then(field_of) {
                Some(Some(field)) => field.name().to_owned(),
                _ => row.column.unwrap_or_else(|| "row".into()),
            };
            self.error =
                Some(AlertError::InvalidRow { file: row.file, line: row.line, column, reason: row.message });
        }
    }

    fn names(&mut self, line: Option<u64>, names: &[String]) -> Result<(), FileError> {
        match self.check_names(line, names) {
            Ok(()) => Ok(()),
            Err(error) => {
                let refused = FileError::new(self.file, "invalid_inventory", error.to_string());
                self.error.get_or_insert(error);
                Err(refused)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn upload(file: &str, raw: &[u8], mapping: &Mapping) -> Result<InventorySnapshot, AlertError> {
        InventorySnapshot::parse_upload(file, raw, mapping, None, 1 << 20)
    }

    #[test]
    fn an_inventory_upload_of_more_rows_than_the_limit_allows_is_refused_unread() {
        // 1,000 bytes allow 10 rows: 20 SKUs, as a table or as the event's document, are refused.
        let rows: String = (0..20).map(|i| format!("SKU{i},1\n")).collect();
        let csv = format!("sku,on_hand\n{rows}");
        let err =
            InventorySnapshot::parse_upload("inv.csv", csv.as_bytes(), &Mapping::default(), None, 1_000)
                .unwrap_err();
        assert!(err.to_string().contains("more than the 10 allowed"), "{err}");
        let items: Vec<String> = (0..20).map(|i| format!("{{\"sku\":\"S{i}\",\"on_hand\":1}}")).collect();
        let document = format!("{{\"items\":[{}]}}", items.join(","));
        let err =
            InventorySnapshot::parse_document("inv.json", document.as_bytes(), 1_000).unwrap().unwrap_err();
        assert!(err.to_string().contains("more than the 10 allowed"), "{err}");
        // Under the limit, read.
        assert!(InventorySnapshot::parse_document("inv.json", document.as_bytes(), 1 << 20).unwrap().is_ok());
    }

    fn parquet(frame: &mut polars::prelude::DataFrame) -> Vec<u8> {
        let mut bytes = Vec::new();
        polars::prelude::ParquetWriter::new(&mut bytes).finish(frame).unwrap();
        bytes
    }

    const CSV: &str = "sku,on_hand,on_order,lead_time_days,on_order_due_days\n85123A,12,4,10,3\n22423,3,,,\n";

    #[test]
    fn csv_json_lines_parquet_and_gzip_read_to_the_same_snapshot() {
        let plain = upload("inventory/a.csv", CSV.as_bytes(), &Mapping::default()).unwrap();
        assert_eq!(plain.rows.len(), 2);
        assert_eq!(plain.rows[0].on_order_due_days, Some(3));
        let zipped = upload("inventory/a.csv.gz", &gz(CSV.as_bytes()), &Mapping::default()).unwrap();
        let lines = "{\"StockCode\": \"85123a\", \"OnHand\": 12, \"on_order\": 4, \"lead_time\": 10, \
                     \"on_order_due_days\": 3}\n\n{\"sku\": 22423, \"on_hand\": 3.0, \"on_order\": null}\n";
        let json_lines = upload("inventory/a.jsonl", lines.as_bytes(), &Mapping::default()).unwrap();
        let mut frame = polars::df!(
            "StockCode" => ["85123A", "22423"],
            "on_hand" => [12i64, 3],
            "on_order" => [Some(4i64), None],
            "lead_time_days" => [Some(10i32), None],
            "on_order_due_days" => [Some(3u32), None],
        )
        .unwrap();
        let columnar = upload("inventory/a.parquet", &parquet(&mut frame), &Mapping::default()).unwrap();
        for other in [&zipped, &json_lines, &columnar] {
            assert_eq!(other.rows, plain.rows);
            assert_eq!(other.id, plain.id, "the same stock is the same snapshot whatever its format");
        }
    }

    #[test]
    fn a_json_upload_is_the_events_shape_when_it_is_one_object_with_items_else_json_lines() {
        let plain = upload("inventory/a.csv", CSV.as_bytes(), &Mapping::default()).unwrap();
        let document = r#"{"items": [
            {"sku": "85123A", "on_hand": 12, "on_order": 4, "lead_time_days": 10, "on_order_due_days": 3},
            {"sku": "22423", "on_hand": 3}
        ]}"#;
        let lines = "{\"sku\": \"85123A\", \"on_hand\": 12, \"on_order\": 4, \"lead_time_days\": 10, \
                     \"on_order_due_days\": 3}\n{\"sku\": \"22423\", \"on_hand\": 3}\n";
        for (file, raw) in [
            ("inventory/snap.json", document.as_bytes().to_vec()),
            ("inventory/snap.json.gz", gz(document.as_bytes())),
            ("inventory/lines.json", lines.as_bytes().to_vec()),
        ] {
            let read = upload(file, &raw, &Mapping::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(read.rows, plain.rows, "{file}");
        }
        // A named document keeps its name; the event's checks apply, naming the file and item.
        let named =
            r#"{"snapshot_id": "morning", "as_of": "2011-12-09", "items": [{"sku": "A", "on_hand": 1}]}"#;
        let read = upload("inventory/n.json", named.as_bytes(), &Mapping::default()).unwrap();
        assert_eq!((read.id.as_str(), read.as_of), ("morning", "2011-12-09".parse().ok()));
        let bad = r#"{"items": [{"sku": "A", "on_hand": -1}]}"#;
        let err = upload("inventory/bad.json", bad.as_bytes(), &Mapping::default()).unwrap_err();
        assert!(err.to_string().starts_with("inventory/bad.json: items[0]: field on_hand"), "{err}");
    }

    #[test]
    fn the_folders_mapping_names_columns_delimiter_and_decimal_separator() {
        let mapping = Mapping::from_bytes(
            "inventory/_mapping.toml",
            b"delimiter = \";\"\ndecimal = \",\"\n[columns]\nstock_code = \"Artikel\"\non_hand = \"Bestand\"\n",
        )
        .unwrap();
        let csv = "Artikel;Bestand;service_level\n85123a;12;0,97\n";
        let snapshot = upload("inventory/lager.csv", csv.as_bytes(), &mapping).unwrap();
        assert_eq!(snapshot.rows[0].sku, "85123A");
        assert_eq!(snapshot.rows[0].on_hand, 12);
        assert_eq!(snapshot.rows[0].service_level, Some(0.97));
        // Without the mapping the same file names no known column.
        let error = upload("inventory/lager.csv", csv.as_bytes(), &Mapping::default()).unwrap_err();
        assert!(error.to_string().starts_with("inventory/lager.csv:1: column "), "{error}");
    }

    #[test]
    fn unknown_columns_and_bad_rows_refuse_the_snapshot_naming_where() {
        let error = |file: &str, raw: &[u8]| upload(file, raw, &Mapping::default()).unwrap_err().to_string();
        assert_eq!(
            error(
                "i.jsonl",
                b"{\"sku\": \"A\", \"on_hand\": 1}\n{\"sku\": \"B\", \"on_hand\": 1, \"lead_tme\": 3}\n"
            ),
            "i.jsonl:2: column lead_tme: unknown column \"lead_tme\" (expected sku, on_hand, on_order, \
             lead_time_days, service_level, on_order_due_days, snapshot_time, or a header name ingest reads as \
             one of them)"
        );
        assert_eq!(
            error("i.jsonl", b"{\"sku\": \"A\", \"on_hand\": 1}\n{\"sku\": \"B\", \"on_hand\": -2}\n"),
            r#"i.jsonl:2: column on_hand: "-2" is negative"#
        );
        assert_eq!(
            error("i.jsonl", b"{\"sku\": \"A\", \"on_hand\": 1}\n[1]\n"),
            "i.jsonl:2: column row: each line must be one JSON object"
        );
        let mut frame = polars::df!("sku" => ["A"], "on_hand" => [1i64], "stock" => [2i64]).unwrap();
        assert_eq!(
            error("i.parquet", &parquet(&mut frame)),
            "i.parquet: column stock: a second column for on_hand"
        );
        let mut frame = polars::df!("sku" => ["A", "B"], "on_hand" => [Some(1i64), None]).unwrap();
        assert_eq!(error("i.parquet", &parquet(&mut frame)), "i.parquet:2: column on_hand: missing value");
        assert_eq!(
            error("i.csv", b"sku,on_hand\nA,1\nB\n"),
            "i.csv:3: column row: expected 2 fields as in the header, found 1"
        );
        assert!(error("i.csv.gz", &gz(b"sku,on_hand\nA,1\n")[..10]).contains("[truncated_gzip]"));
        assert_eq!(error("i.csv", b"sku,on_hand\n"), "i.csv: the snapshot has no inventory rows");
        assert_eq!(error("i.jsonl", b"\n\n"), "i.jsonl: the snapshot has no inventory rows");
    }

    #[test]
    fn under_a_comma_decimal_a_dot_is_refused_and_skus_are_left_alone() {
        let mapping = Mapping::from_bytes("m.toml", b"delimiter = \";\"\ndecimal = \",\"\n").unwrap();
        // `1.000` is a thousand in a German export: refused as ingest refuses it, never read as 1.
        let error = upload("i.csv", b"sku;on_hand\nA;1.000\n", &mapping).unwrap_err().to_string();
        assert_eq!(
            error,
            r#"i.csv:2: column on_hand: "1.000" has a '.', and the mapping's decimal separator is ','"#
        );
        let snapshot = upload("i.csv", b"sku;on_hand;service_level\n12,5A;3,0;0,9\n", &mapping).unwrap();
        assert_eq!(snapshot.rows[0].sku, "12,5A", "a SKU is text, not a number");
        assert_eq!((snapshot.rows[0].on_hand, snapshot.rows[0].service_level), (3, Some(0.9)));
    }

    #[test]
    fn a_name_the_mapping_gives_is_read_as_that_column_only() {
        // `stock` is an alias of on_hand; mapped to on_order it is on order and nothing else.
        let mapping = Mapping::from_bytes("m.json", br#"{"columns": {"on_order": "stock"}}"#).unwrap();
        let error = upload("i.csv", b"sku,stock\nA,5\n", &mapping).unwrap_err().to_string();
        assert_eq!(error, "i.csv:1: column on_hand: missing required column");
        let snapshot = upload("i.csv", b"sku,on_hand,stock\nA,1,5\n", &mapping).unwrap();
        assert_eq!((snapshot.rows[0].on_hand, snapshot.rows[0].on_order), (1, 5));
    }

    #[test]
    fn names_the_reader_would_not_match_are_refused_and_known_leftovers_passed_over() {
        // A key with a tab is no alias of lead_time_days for the reader, so not for the check.
        let lines = b"{\"sku\": \"A\", \"on_hand\": 1, \"lead_time\\t\": 3}\n";
        let error = upload("i.jsonl", lines, &Mapping::default()).unwrap_err().to_string();
        assert!(error.starts_with("i.jsonl:1: column lead_time\t: unknown column"), "{error}");
        assert!(!error.contains("delimiter"), "JSON has none: {error}");
        let semicolons = upload("i.csv", b"sku;on_hand\nA;1\n", &Mapping::default()).unwrap_err().to_string();
        assert!(
            semicolons.ends_with(
                "snapshot_time, or a header name ingest reads as one of them); the header looks separated by \
                 \";\": set `delimiter = \";\"` in the folder's mapping (or the file given with --mapping)"
            ),
            "{semicolons}"
        );
        let semi = Mapping::from_bytes("m.toml", b"delimiter = \";\"\n").unwrap();
        let commas = upload("i.csv", b"sku,on_hand\nA,1\n", &semi).unwrap_err().to_string();
        assert!(commas.contains("looks separated by \",\""), "{commas}");
        // A spreadsheet's trailing line of delimiters, and pandas' index column, are no data.
        let snapshot = upload("i.csv", b"sku,on_hand,on_order\nA,1,2\n,\n", &Mapping::default()).unwrap();
        assert_eq!(snapshot.rows.len(), 1);
        let mut frame =
            polars::df!("__index_level_0__" => [0i64], "sku" => ["A"], "on_hand" => [1i64]).unwrap();
        assert_eq!(upload("i.parquet", &parquet(&mut frame), &Mapping::default()).unwrap().rows.len(), 1);
    }

    #[test]
    fn snapshot_time_gives_the_day_counted_and_must_name_one_day() {
        let dated = "sku,on_hand,snapshot_time\nA,1,2011-12-09 08:00\nB,2,\nC,3,2011-12-09 17:30\n";
        let counted = upload("i.csv", dated.as_bytes(), &Mapping::default()).unwrap().counted_at;
        assert_eq!(counted, None, "the shop's time of day has no zone to rank it by");
        let snapshot = upload("i.csv", dated.as_bytes(), &Mapping::default()).unwrap();
        assert_eq!(snapshot.as_of, Some("2011-12-09".parse().unwrap()));
        let mixed = "sku,on_hand,snapshot_time\nA,1,2011-12-09 08:00\nB,2,2011-12-10 08:00\n";
        let error = upload("i.csv", mixed.as_bytes(), &Mapping::default()).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "i.csv:3: column snapshot_time: 2011-12-10 is another day than line 2's 2011-12-09"
            ),
            "{error}"
        );
        let error = upload("i.csv", b"sku,on_hand,as_of\nA,1,yesterday\n", &Mapping::default()).unwrap_err();
        assert!(
            error.to_string().starts_with(r#"i.csv:2: column snapshot_time: "yesterday" is not a date-time"#)
        );
        // The mapping's date format reads it, as ingest reads the same file.
        let mapping = Mapping::from_bytes("m.toml", b"date_format = \"%d.%m.%Y\"\n").unwrap();
        let german = upload("i.csv", b"sku,on_hand,snapshot_time\nA,1,09.12.2011\n", &mapping).unwrap();
        assert_eq!(german.as_of, snapshot.as_of);
        // A typed Parquet date-time is read under that mapping too (written out in its format).
        let counted = chrono::NaiveDate::from_ymd_opt(2011, 12, 9).unwrap().and_hms_opt(16, 0, 0).unwrap();
        let mut frame =
            polars::df!("sku" => ["A"], "on_hand" => [1i64], "snapshot_time" => [counted]).unwrap();
        let typed = upload("i.parquet", &parquet(&mut frame), &mapping).unwrap();
        assert_eq!(typed.as_of, snapshot.as_of);
        assert_eq!(typed.id, german.id, "the same stock on the same day");
        // More than a day after the snapshot was sent is refused by the callers' check; a day
        // after is a shop east of UTC, whose date is already the next.
        let sent = chrono::NaiveDate::from_ymd_opt(2011, 12, 7).unwrap();
        let error = snapshot.check_counted_by(sent).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "snapshot counted on 2011-12-09: more than a day after the day it was sent, 2011-12-07 (UTC)"
            ),
            "{error}"
        );
        assert!(snapshot.check_counted_by(sent.succ_opt().unwrap()).is_ok(), "a day ahead of UTC");
        assert!(snapshot.check_counted_by(snapshot.as_of.unwrap()).is_ok());
    }
}
