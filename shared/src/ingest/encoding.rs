//! The text encoding of a CSV or JSON lines upload, and its conversion to UTF-8 before it is read.
//!
//! Shops export from tools that do not all write UTF-8: Excel's "CSV" on a Western Windows writes
//! Windows-1252, its "Unicode text" UTF-16 with a byte-order mark. Read as UTF-8, every row with
//! an accent or a pound sign would be quarantined. The rule:
//! - a byte-order mark decides (UTF-16, or UTF-8), whatever the mapping says;
//! - else the mapping's `encoding` (any WHATWG label: `windows-1252`, `latin1`, `shift_jis`, ...);
//! - else UTF-8 when the bytes are valid UTF-8, or hold NUL bytes (UTF-16 without its mark, or
//!   binary: the format check names which);
//! - else UTF-8 when they hold more well-formed UTF-8 sequences beyond ASCII than invalid ones (a
//!   damaged UTF-8 file: its invalid rows are quarantined);
//! - else Windows-1252: a legacy export (Windows-1252, which the WHATWG also reads for `latin1`
//!   and `iso-8859-1`, maps every byte). The report says it guessed.
//!
//! Line structure survives the conversion (every encoding here writes a line break as one
//! character), so quarantined rows keep their line numbers. Bronze keeps the bytes as uploaded.

use encoding_rs::{DecoderResult, Encoding, UTF_8, WINDOWS_1252};
use serde::{Deserialize, Serialize};

use super::error::FileError;

/// How an upload's text encoding was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodingSource {
    /// A UTF-16 byte-order mark.
    ByteOrderMark,
    /// The mapping's `encoding`.
    Mapping,
    /// Guessed: the bytes are not UTF-8 anywhere.
    Content,
}

/// The encoding an upload's text was read in, when it was not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextEncoding {
    /// The WHATWG name (`windows-1252`, `UTF-16LE`, ...).
    pub name: String,
    /// How it was decided.
    pub from: EncodingSource,
}

/// The encoding a mapping's `encoding` label names, or why it names none we read.
pub fn encoding_for_label(label: &str) -> Result<&'static Encoding, String> {
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(encoding) if encoding.name() == "replacement" || encoding.name() == "x-user-defined" => {
            Err(format!("encoding {label:?} cannot be read as text"))
        }
        Some(encoding) => Ok(encoding),
        None => Err(format!(
            "encoding {label:?} is not a known label (e.g. \"utf-8\", \"windows-1252\", \"latin1\", \"utf-16le\", \
             \"shift_jis\")"
        )),
    }
}

/// `bytes` as UTF-8 under the rule above, with the encoding read when it was not UTF-8. `None`
/// from the mapping means it named no encoding.
pub fn to_utf8(
    file: &str,
    bytes: Vec<u8>,
    mapped: Option<&'static Encoding>,
) -> Result<(Vec<u8>, Option<TextEncoding>), FileError> {
    // Any byte-order mark decides, as WHATWG decoding has it: a UTF-8 one too, so a shop whose
    // mapping names Windows-1252 can still send Excel's "CSV UTF-8" (the readers drop its mark).
    if let Some((encoding, mark)) = Encoding::for_bom(&bytes) {
        if encoding == UTF_8 {
            return Ok((bytes, None));
        }
        let text = decode(file, encoding, &bytes[mark..])?;
        let read = TextEncoding { name: encoding.name().to_owned(), from: EncodingSource::ByteOrderMark };
        return Ok((text.into_bytes(), Some(read)));
    }
    let (encoding, from) = match mapped {
        Some(encoding) => (encoding, EncodingSource::Mapping),
        // NUL bytes: UTF-16 without its mark, or binary; the format check names which.
        None if bytes[..bytes.len().min(8192)].contains(&0) => (UTF_8, EncodingSource::Content),
        None if std::str::from_utf8(&bytes).is_ok() || mostly_utf8(&bytes) => {
            (UTF_8, EncodingSource::Content)
        }
        None => (WINDOWS_1252, EncodingSource::Content),
    };
    if encoding == UTF_8 {
        // Read as it is: invalid rows are quarantined one by one.
        return Ok((bytes, None));
    }
    let text = decode(file, encoding, &bytes)?;
    Ok((text.into_bytes(), Some(TextEncoding { name: encoding.name().to_owned(), from })))
}

/// Whether `bytes` (not valid UTF-8) hold more well-formed UTF-8 sequences beyond ASCII than
/// invalid ones: a damaged UTF-8 file, not a legacy export. One sequence is no proof: Windows-1252
/// text forms one by chance (`É` then a no-break space, `CAFÉ\xa0:`, reads as one character).
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    valid > invalid
}

/// `body` decoded from `encoding`, or the line of the first byte sequence it cannot hold.
fn decode(file: &str, encoding: &'static Encoding, body: &[u8]) -> Result<String, FileError> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(body.len())
        .unwrap_or(body.len().saturating_mul(3));
    let mut text = String::with_capacity(capacity);
    let (result, _read) = decoder.decode_to_string_without_replacement(body, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(..) => {
            // `text` holds what decoded before the bad bytes.
            let line = text.matches('\n').count() as u64 + 1;
            Err(FileError::new(
                file,
                "invalid_encoding",
                format!(
                    "the text is not valid {}: set the mapping's `encoding` to the one the file is written in",
                    encoding.name()
                ),
            )
            .at_line(line))
        }
        DecoderResult::OutputFull => Err(FileError::new(
            file,
            "invalid_encoding",
            format!("the text did not fit its {} decoding buffer", encoding.name()),
        )),
    }
}

/// When NUL bytes make a file look binary: whether it reads as UTF-16 without a byte-order mark
/// (nine in ten bytes of one parity NUL), and which order.
#[must_use]
pub fn utf16_without_bom(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(8192) & !1];
    if head.len() < 8 {
        return None;
    }
    // Nine in ten of one parity: accented letters and symbols (`€` is `AC 20`) are not NUL.
    let nul_at = |parity: usize| {
        let nuls = head.iter().skip(parity).step_by(2).filter(|&&b| b == 0).count();
        nuls * 10 >= head.len() / 2 * 9
    };
    if nul_at(1) {
        Some("utf-16le")
    } else if nul_at(0) {
        Some("utf-16be")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut bytes = if bom { vec![0xff, 0xfe] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn utf8_is_read_as_it_is_and_a_legacy_export_is_read_as_windows_1252() {
        let (bytes, read) = to_utf8("a.csv", "Café,£2\n".as_bytes().to_vec(), None).unwrap();
        assert_eq!((bytes.as_slice(), read), ("Café,£2\n".as_bytes(), None));
        // é and £ in Windows-1252, no UTF-8 anywhere.
        let (bytes, read) = to_utf8("a.csv", b"Caf\xe9,\xa32\n".to_vec(), None).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "Café,£2\n");
        assert_eq!(read, Some(TextEncoding { name: "windows-1252".into(), from: EncodingSource::Content }));
    }

    #[test]
    fn a_chance_utf8_pair_in_a_legacy_export_does_not_make_it_utf8() {
        // `É` and a no-break space read as one UTF-8 character; the other accents do not.
        let (bytes, read) =
            to_utf8("fr.csv", b"CAF\xc9\xa0: cr\xe8me br\xfbl\xe9e\n".to_vec(), None).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "CAFÉ\u{a0}: crème brûlée\n");
        assert_eq!(read.unwrap().name, "windows-1252");
    }

    #[test]
    fn a_utf8_byte_order_mark_wins_over_the_mapping() {
        let latin1 = encoding_for_label("latin1").unwrap();
        let bom = b"\xef\xbb\xbfsku,name\nA,Caf\xc3\xa9\n".to_vec();
        assert_eq!(to_utf8("a.csv", bom.clone(), Some(latin1)).unwrap(), (bom, None));
    }

    #[test]
    fn a_damaged_utf8_file_stays_utf8_so_only_its_bad_rows_are_quarantined() {
        let damaged = b"Caf\xc3\xa9 cr\xc3\xa8me\nbad \xe9 row\n".to_vec();
        let (bytes, read) = to_utf8("a.csv", damaged.clone(), None).unwrap();
        assert_eq!((bytes, read), (damaged, None));
    }

    #[test]
    fn the_mapping_names_the_encoding_and_a_utf16_byte_order_mark_overrides_it() {
        let latin1 = encoding_for_label("latin1").unwrap();
        let (bytes, read) = to_utf8("a.csv", b"Caf\xc3\xa9\n".to_vec(), Some(latin1)).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "CafÃ©\n", "the mapping is obeyed, even over UTF-8");
        assert_eq!(read.unwrap().from, EncodingSource::Mapping);
        let (bytes, read) = to_utf8("a.txt", utf16le("sku\tqty\r\n£1\t2\r\n", true), Some(latin1)).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), "sku\tqty\r\n£1\t2\r\n");
        assert_eq!(read, Some(TextEncoding { name: "UTF-16LE".into(), from: EncodingSource::ByteOrderMark }));
    }

    #[test]
    fn bytes_the_named_encoding_cannot_hold_fail_the_file_at_their_line() {
        let sjis = encoding_for_label("shift_jis").unwrap();
        let err = to_utf8("jp.csv", b"a,b\n1,2\n3,\x82\n".to_vec(), Some(sjis)).unwrap_err();
        assert_eq!((err.code.as_str(), err.line), ("invalid_encoding", Some(3)), "{err}");
        assert!(err.to_string().contains("Shift_JIS"), "{err}");
    }

    #[test]
    fn labels_are_checked_and_utf16_without_a_mark_is_recognised() {
        assert_eq!(encoding_for_label(" CP1252 ").unwrap(), WINDOWS_1252);
        assert!(encoding_for_label("klingon").unwrap_err().contains("not a known label"));
        assert!(encoding_for_label("iso-2022-kr").is_err());
        assert_eq!(utf16_without_bom(&utf16le("sku,qty\n", false)), Some("utf-16le"));
        assert_eq!(utf16_without_bom(&utf16le("sku,name,price\nA,Café,€2\n", false)), Some("utf-16le"));
        let (raw, read) = to_utf8("u.txt", utf16le("sku,name\nA,Café\n", false), None).unwrap();
        assert_eq!(
            (raw, read),
            (utf16le("sku,name\nA,Café\n", false), None),
            "left for the format check to name"
        );
        assert_eq!(utf16_without_bom(b"PK\x03\x04\0\0\x08\0"), None);
    }
}
