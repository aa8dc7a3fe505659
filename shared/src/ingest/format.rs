//! What an upload's bytes are: gzip or not, then CSV, JSON lines or Parquet; decompression with
//! a size cap so a gzip bomb or a truncated stream is a clear file error, not a crash.

use std::io::Read;

use flate2::bufread::GzDecoder;

use super::encoding::TextEncoding;
use super::error::FileError;

/// The table format inside an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    /// RFC 4180 CSV (any one-byte delimiter).
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The name used in reports (`csv`, `json_lines`, `parquet`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "json_lines",
            Self::Parquet => "parquet",
        }
    }
}

/// An upload's bytes, decompressed, with what they are.
#[derive(Debug)]
pub struct Decoded {
    /// The table bytes.
    pub bytes: Vec<u8>,
    /// Their format.
    pub format: TableFormat,
    /// Whether the upload was gzip-compressed.
    pub gzip: bool,
    /// The encoding its text was read in, when not UTF-8 ([`super::encoding`]).
    pub encoding: Option<TextEncoding>,
}

/// Detects compression and format (magic bytes first, then the file name, then the content),
/// decompresses, refusing more than `max_bytes` of table, and converts text to UTF-8
/// ([`super::encoding::to_utf8`]; `encoding` is the mapping's).
pub fn decode(
    file: &str,
    raw: &[u8],
    max_bytes: u64,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<Decoded, FileError> {
    if raw.is_empty() {
        return Err(FileError::new(file, "empty_file", "the file is empty"));
    }
    let gzip = raw.starts_with(&[0x1f, 0x8b]);
    let bytes = if gzip { gunzip(file, raw, max_bytes)? } else { raw.to_vec() };
    if bytes.len() as u64 > max_bytes {
        return Err(FileError::new(
            file,
            "too_large",
            format!("the table is over the limit of {max_bytes} bytes"),
        ));
    }
    let (bytes, encoding) = if bytes.starts_with(b"PAR1") {
        (bytes, None)
    } else {
        super::encoding::to_utf8(file, bytes, encoding)?
    };
    let name = file.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let format = if bytes.starts_with(b"PAR1") {
        TableFormat::Parquet
    } else if name.ends_with(".parquet") {
        return Err(FileError::new(
            file,
            "invalid_parquet",
            "named .parquet but does not start with the Parquet magic PAR1",
        ));
    } else if name.ends_with(".jsonl")
        || name.ends_with(".ndjson")
        || name.ends_with(".json")
        || matches!(without_bom(&bytes).iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
    {
        TableFormat::JsonLines
    } else {
        TableFormat::Csv
    };
    if format != TableFormat::Parquet && bytes.is_empty() {
        return Err(FileError::new(file, "empty_file", "the file holds no bytes after decompression"));
    }
    if format != TableFormat::Parquet && bytes[..bytes.len().min(8192)].contains(&0) {
        let message = match super::encoding::utf16_without_bom(&bytes) {
            Some(label) => format!(
                "NUL bytes between the characters: the text looks like {label} without a byte-order mark; \
                 set `encoding = \"{label}\"` in the folder's mapping (or the file given with --mapping)"
            ),
            None => "binary content (NUL bytes): not CSV, JSON lines or Parquet".to_owned(),
        };
        return Err(FileError::new(file, "not_a_table", message));
    }
    Ok(Decoded { bytes, format, gzip, encoding })
}

/// An inventory upload that is one JSON object holding an `items` array, the inventory event's
/// shape (`{"snapshot_id"?, "as_of"?, "items": [...]}`), rather than JSON lines: the object.
/// JSON lines of two or more rows fail to parse as one value at their second line, and a single
/// row has no `items`.
#[must_use]
pub fn items_document(bytes: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(without_bom(bytes)).ok()? {
        serde_json::Value::Object(object)
            if matches!(object.get("items"), Some(serde_json::Value::Array(_))) =>
        {
            Some(object)
        }
        _ => None,
    }
}

/// The items of an [`items_document`] as JSON lines, one per item (line n is item n), each given
/// the document's `as_of` unless it names its own, so ingest reads the same rows the alerts do.
#[must_use]
pub fn items_as_json_lines(document: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    let as_of = document.get("as_of").filter(|v| !v.is_null());
    let mut lines = Vec::new();
    for item in document.get("items").and_then(serde_json::Value::as_array).into_iter().flatten() {
        let mut item = item.clone();
        if let (Some(as_of), serde_json::Value::Object(fields)) = (as_of, &mut item) {
            fields.entry("as_of").or_insert_with(|| as_of.clone());
        }
        // Writing a Value to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut lines, &item);
        lines.push(b'\n');
    }
    lines
}

/// A JSON array of objects (`[{...}, {...}]`, what many tools export as "JSON") as JSON lines,
/// one element per line, so its rows are numbered by their place in the array; `None` for
/// anything else.
#[must_use]
pub fn array_as_json_lines(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = without_bom(bytes);
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
        return None;
    }
    let serde_json::Value::Array(elements) = serde_json::from_slice(text).ok()? else { return None };
    let mut lines = Vec::with_capacity(bytes.len());
    for element in &elements {
        serde_json::to_writer(&mut lines, element).ok()?;
        lines.push(b'\n');
    }
    Some(lines)
}

/// `bytes` without a leading UTF-8 byte-order mark (some exporters write one; it is not data).
pub(crate) fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes)
}

fn gunzip(file: &str, raw: &[u8], max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let mut out =
        Vec::with_capacity(raw.len().saturating_mul(4).min(usize::try_from(max_bytes).unwrap_or(usize::MAX)));
    // Member by member (a concatenation of gzip files is one stream), until only zero bytes are
    // left: block or tape padding after the last member, which gzip itself ignores.
    let mut rest = raw;
    loop {
        let mut member = GzDecoder::new(rest);
        let read = (&mut member).take(max_bytes + 1 - out.len() as u64).read_to_end(&mut out);
        match read {
            Ok(_) if out.len() as u64 > max_bytes => {
                return Err(FileError::new(
                    file,
                    "too_large",
                    format!("decompresses to more than the limit of {max_bytes} bytes"),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FileError::new(
                    file,
                    "truncated_gzip",
                    format!(
                        "the gzip stream ends early after {} decompressed bytes: the upload is incomplete",
                        out.len()
                    ),
                ));
            }
            Err(e) => {
                return Err(FileError::new(file, "invalid_gzip", format!("not a valid gzip stream: {e}")));
            }
        }
        rest = member.into_inner();
        if rest.iter().all(|&b| b == 0) {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn decode_plain(file: &str, raw: &[u8], max_bytes: u64) -> Result<Decoded, FileError> {
        decode(file, raw, max_bytes, None)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn formats_are_told_by_magic_name_and_content() {
        assert_eq!(decode_plain("a.csv", b"a,b\n1,2\n", 1 << 20).unwrap().format, TableFormat::Csv);
        assert_eq!(decode_plain("a.txt", b"{\"a\":1}\n", 1 << 20).unwrap().format, TableFormat::JsonLines);
        assert_eq!(
            decode_plain("a.ndjson.gz", &gz(b"a,b\n"), 1 << 20).unwrap().format,
            TableFormat::JsonLines
        );
        let d = decode_plain("a.csv.gz", &gz(b"a,b\n1,2\n"), 1 << 20).unwrap();
        assert!(d.gzip);
        assert_eq!(d.bytes, b"a,b\n1,2\n");
    }

    #[test]
    fn concatenated_members_are_one_stream_and_zero_padding_ends_it() {
        let mut two = gz(b"a,b\n");
        two.extend(gz(b"1,2\n"));
        assert_eq!(decode_plain("t.csv.gz", &two, 1 << 20).unwrap().bytes, b"a,b\n1,2\n");
        let mut padded = two.clone();
        padded.extend([0u8; 512]);
        assert_eq!(decode_plain("t.csv.gz", &padded, 1 << 20).unwrap().bytes, b"a,b\n1,2\n");
        let mut garbage = two;
        garbage.extend(b"this is not a gzip member");
        assert_eq!(decode_plain("t.csv.gz", &garbage, 1 << 20).unwrap_err().code, "invalid_gzip");
    }

    #[test]
    fn a_truncated_gzip_is_named_as_such() {
        let whole = gz(&b"InvoiceNo,StockCode\n".repeat(1000));
        let err = decode_plain("t.csv.gz", &whole[..whole.len() / 2], 1 << 20).unwrap_err();
        assert_eq!(err.code, "truncated_gzip", "{err}");
        assert!(err.to_string().starts_with("t.csv.gz"));
    }

    #[test]
    fn empty_binary_and_oversized_uploads_are_refused() {
        assert_eq!(decode_plain("e.csv", b"", 100).unwrap_err().code, "empty_file");
        assert_eq!(decode_plain("e.csv.gz", &gz(b""), 100).unwrap_err().code, "empty_file");
        assert_eq!(decode_plain("p.png", b"\x89PNG\r\n\x1a\n\0\0\0", 100).unwrap_err().code, "not_a_table");
        assert_eq!(decode_plain("big.csv.gz", &gz(&[b'a'; 1000]), 100).unwrap_err().code, "too_large");
        assert_eq!(decode_plain("x.parquet", b"a,b", 100).unwrap_err().code, "invalid_parquet");
    }
}
