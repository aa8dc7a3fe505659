//! Column mapping: how another shop's export maps onto our canonical columns, with no code
//! change. A mapping file (TOML or JSON) names columns, the date format, the delimiter and the
//! decimal separator; anything it leaves out falls back to the defaults (the aliases in
//! [`super::schema`], comma, `.`, and the common date formats).
//!
//! ```toml
//! delimiter = ";"
//! decimal = ","
//! date_format = "%d.%m.%Y %H:%M"
//!
//! [columns]
//! invoice = "Belegnummer"
//! stock_code = "Artikel"
//! quantity = "Menge"
//! invoice_time = "Datum"
//! unit_price = "Preis"
//! customer_id = "Kunde"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::encoding::encoding_for_label;
use super::error::IngestError;

/// A column mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Canonical column -> the header name in the file (exact, case-insensitive match).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// CSV field delimiter (one ASCII character; default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// Decimal separator of numbers (`.` or `,`; default `.`).
    #[serde(default)]
    pub decimal: Option<char>,
    /// chrono `strftime` format of timestamps (default: try ISO 8601 forms and `%m/%d/%Y %H:%M`).
    #[serde(default)]
    pub date_format: Option<String>,
    /// Text encoding of CSV and JSON lines files, as a WHATWG label (`windows-1252`, `latin1`,
    /// `utf-16le`, `shift_jis`, ...; default: UTF-8, or Windows-1252 for a file with no UTF-8 in
    /// it, [`super::encoding`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

impl Mapping {
    /// Reads a mapping from TOML (`.toml`) or JSON (anything else), naming the file in errors.
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Self, IngestError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| IngestError::Mapping { file: file.into(), message: format!("not UTF-8: {e}") })?;
        let mapping: Self = if Path::new(file).extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
            toml::from_str(text)
                .map_err(|e| IngestError::Mapping { file: file.into(), message: e.to_string() })?
        } else {
            serde_json::from_str(text)
                .map_err(|e| IngestError::Mapping { file: file.into(), message: e.to_string() })?
        };
        mapping.check(file)?;
        Ok(mapping)
    }

    fn check(&self, file: &str) -> Result<(), IngestError> {
        let bad = |message: String| Err(IngestError::Mapping { file: file.into(), message });
        if let Some(d) = self.delimiter
            && (!d.is_ascii() || d == '"' || d == '\n' || d == '\r')
        {
            return bad(format!("delimiter {d:?} must be one ASCII character other than a quote or newline"));
        }
        if let Some(d) = self.decimal
            && d != '.'
            && d != ','
        {
            return bad(format!("decimal separator {d:?} must be '.' or ','"));
        }
        if self.decimal == Some(',') && self.delimiter.unwrap_or(',') == ',' {
            return bad("a ',' decimal separator needs another delimiter (e.g. ';')".into());
        }
        if let Some(label) = &self.encoding
            && let Err(message) = encoding_for_label(label)
        {
            return bad(message);
        }
        if let Some(format) = &self.date_format
            && chrono::format::StrftimeItems::new(format)
                .any(|item| matches!(item, chrono::format::Item::Error))
        {
            return bad(format!("date_format {format:?} is not a valid strftime format"));
        }
        Ok(())
    }

    /// The encoding the mapping names (checked when the mapping was read).
    #[must_use]
    pub fn text_encoding(&self) -> Option<&'static encoding_rs::Encoding> {
        self.encoding.as_deref().and_then(|label| encoding_for_label(label).ok())
    }

    /// The delimiter byte.
    #[must_use]
    pub fn delimiter_byte(&self) -> u8 {
        self.delimiter.map_or(b',', |c| c as u8)
    }

    /// When a CSV header field holds another common delimiter (the whole header read as one
    /// name), what to set: `; the header looks separated by ";": set ...`. Empty otherwise.
    #[must_use]
    pub fn delimiter_hint(&self, header_field: &str) -> String {
        let delimiter = self.delimiter.unwrap_or(',');
        [';', '\t', '|', ',']
            .into_iter()
            .find(|&c| header_field.contains(c) && c != delimiter)
            .map(|c| {
                let shown = if c == '\t' { "\\t".to_owned() } else { c.to_string() };
                format!(
                    "; the header looks separated by \"{shown}\": set `delimiter = \"{shown}\"` in the folder's \
                     mapping (or the file given with --mapping)"
                )
            })
            .unwrap_or_default()
    }

    /// The decimal separator.
    #[must_use]
    pub fn decimal_char(&self) -> char {
        self.decimal.unwrap_or('.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_mapping_reads_columns_separators_and_date_format() {
        let toml = br#"
delimiter = ";"
decimal = ","
date_format = "%d.%m.%Y %H:%M"
[columns]
invoice = "Beleg"
"#;
        let m = Mapping::from_bytes("shop.toml", toml).unwrap();
        assert_eq!(m.delimiter_byte(), b';');
        assert_eq!(m.decimal_char(), ',');
        assert_eq!(m.columns["invoice"], "Beleg");
    }

    #[test]
    fn a_json_mapping_works_too_and_unknown_keys_are_refused_by_name() {
        let m = Mapping::from_bytes("m.json", br#"{"columns": {"quantity": "Menge"}}"#).unwrap();
        assert_eq!(m.columns["quantity"], "Menge");
        let err = Mapping::from_bytes("m.json", br#"{"colums": {}}"#).unwrap_err();
        assert!(err.to_string().contains("colums") && err.to_string().contains("m.json"), "{err}");
    }

    #[test]
    fn contradictory_separators_and_bad_formats_are_refused() {
        assert!(Mapping::from_bytes("m.json", br#"{"decimal": ","}"#).is_err());
        assert!(Mapping::from_bytes("m.json", br#"{"decimal": ";"}"#).is_err());
        assert!(Mapping::from_bytes("m.json", br#"{"date_format": "%Q"}"#).is_err());
        let err = Mapping::from_bytes("m.toml", b"encoding = \"latin-9000\"").unwrap_err();
        assert!(err.to_string().contains("latin-9000"), "{err}");
        let m = Mapping::from_bytes("m.toml", b"encoding = \"ISO-8859-1\"").unwrap();
        assert_eq!(m.text_encoding(), Some(encoding_rs::WINDOWS_1252));
    }
}
