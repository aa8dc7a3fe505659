//! Every kind of bad input gets a clear error naming the file (and line and column where there
//! is one), and the raw upload is kept in bronze, byte for byte.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use polars::prelude::*;
use shopsense::ingest::report::GapSide;
use shopsense::ingest::{IngestOptions, IngestOutcome, QualityReport, UploadKind, Verdict};
use shopsense::store::BlobService;
use shopsense::store::folder::FolderBlobService;

use crate::support::{ingestor, sample, upload};

const HEADER: &str = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
const GOOD: &str =
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n";

/// One sale line of 85123A to customer 17850 (no header), invoice and time as given.
fn sale(invoice: impl std::fmt::Display, time: &str) -> String {
    format!("{invoice},85123A,HEART,6,{time},2.55,17850,United Kingdom\n")
}

fn options() -> IngestOptions {
    IngestOptions { refresh_features: false, ..IngestOptions::default() }
}

async fn raw_is_kept(blobs: &FolderBlobService, report: &QualityReport, bytes: &[u8]) {
    let bronze = blobs.container("bronze").await.unwrap();
    let kept = bronze.get(&report.outputs.bronze).await.unwrap().expect("the raw upload is in bronze");
    assert_eq!(&kept.body[..], bytes, "kept byte for byte");
}

async fn refused(path: &str, bytes: Vec<u8>, code: &str) -> QualityReport {
    let (_dir, blobs, ingestor) = ingestor().await;
    let report = upload(&ingestor, path, bytes.clone(), &options()).await;
    assert_eq!(report.verdict, Verdict::Fail, "{path}");
    let error = report.error.as_ref().unwrap_or_else(|| panic!("{path}: expected a file error"));
    assert_eq!(error.code, code, "{path}: {error}");
    assert!(error.to_string().starts_with(path), "the message names the file: {error}");
    assert!(report.outputs.silver.is_none(), "nothing reaches silver");
    raw_is_kept(&blobs, &report, &bytes).await;
    report
}

#[tokio::test]
async fn a_binary_file_is_not_a_table() {
    refused("transactions/photo.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "not_a_table").await;
    // UTF-16 without its byte-order mark looks binary too, but the message says what to set.
    let utf16: Vec<u8> = HEADER.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let report = refused("transactions/unicode.txt", utf16, "not_a_table").await;
    let error = report.error.unwrap();
    assert!(error.message.contains("encoding = \"utf-16le\""), "{error}");
}

#[tokio::test]
async fn a_header_without_rows_is_a_day_without_sales_not_a_broken_file() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let report = upload(&ingestor, "transactions/sunday.csv", HEADER, &options()).await;
    assert_eq!((report.rows_read, report.verdict), (0, Verdict::Warn), "{:?}", report.verdict_reasons);
    assert!(report.verdict_reasons[0].contains("no rows"), "{:?}", report.verdict_reasons);
    assert_eq!(report.outputs.silver, None, "nothing to add, so no silver table");
    // Rows that are all refused still fail.
    let bad = format!("{HEADER}536365,85123A,X,six,2010-12-01 08:26:00,2.55,17850,UK\n");
    assert_eq!(upload(&ingestor, "transactions/bad.csv", bad, &options()).await.verdict, Verdict::Fail);
}

#[tokio::test]
async fn a_missing_or_wrong_header_names_the_missing_columns_at_line_one() {
    let report = refused("transactions/noheader.csv", GOOD.repeat(3).into_bytes(), "missing_columns").await;
    let error = report.error.unwrap();
    assert_eq!(error.line, Some(1));
    assert!(error.message.contains("invoice") && error.message.contains("InvoiceNo"), "{}", error.message);
    let wrong = "Order,Item,Qty\n1,2,3\n".to_owned();
    refused("transactions/wrong.csv", wrong.into_bytes(), "missing_columns").await;
    // Split by semicolons, the header is one name: the message says what to set.
    let semicolons = HEADER.replace(',', ";") + &GOOD.replace(',', ";");
    let report = refused("transactions/semicolons.csv", semicolons.into_bytes(), "missing_columns").await;
    let message = report.error.unwrap().message;
    assert!(message.ends_with("the header looks separated by \";\": set `delimiter = \";\"` in the folder's mapping (or the file given with --mapping)"), "{message}");
}

/// Two columns that could each be the customer: reading whichever alias comes first would be a
/// guess, so the file is refused with the mapping entry that settles it, and read once it is set.
#[tokio::test]
async fn two_columns_standing_for_one_canonical_column_are_refused_until_the_mapping_names_one() {
    let header =
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Customer ID,Country\n";
    let row = "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,99999,United Kingdom\n";
    let bytes = format!("{header}{row}").into_bytes();
    let report = refused("transactions/two_ids.csv", bytes.clone(), "ambiguous_columns").await;
    let error = report.error.unwrap();
    assert_eq!(error.line, Some(1));
    assert!(
        error.message.contains("customer_id (\"CustomerID\" and \"Customer ID\")")
            && error.message.contains("{\"columns\": {\"customer_id\": \"CustomerID\"}}"),
        "{}",
        error.message
    );
    let (_dir, _blobs, ingestor) = ingestor().await;
    let mapping = shopsense::ingest::Mapping {
        columns: [("customer_id".to_owned(), "Customer ID".to_owned())].into(),
        ..shopsense::ingest::Mapping::default()
    };
    let chosen = IngestOptions { mapping: Some(mapping), ..options() };
    let report = upload(&ingestor, "transactions/two_ids.csv", bytes, &chosen).await;
    assert_eq!((report.error, report.rows_accepted), (None, 1), "{:?}", report.verdict_reasons);
    // JSON lines: the line with both keys is quarantined, naming them.
    let lines = "{\"InvoiceNo\": \"1\", \"StockCode\": \"85123A\", \"Quantity\": 6, \"InvoiceDate\": \"2010-12-01 08:26:00\", \"UnitPrice\": 2.55, \"CustomerID\": \"17850\", \"customer_id\": \"9\"}\n";
    let report = upload(&ingestor, "transactions/two_ids.jsonl", lines, &options()).await;
    assert_eq!(report.rows_quarantined, 1, "{report:?}");
    // One of the two given as null, or names matching different aliases (`Price` and
    // `UnitPrice`: the aliases' order decides), is no clash.
    let null = lines.replace("\"customer_id\": \"9\"", "\"customer_id\": null");
    let report = upload(&ingestor, "transactions/null_id.jsonl", null, &options()).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined), (1, 0), "{report:?}");
    let two_prices = format!(
        "{}\n{}",
        HEADER.trim_end().replace("UnitPrice", "UnitPrice,Price"),
        GOOD.replace(",2.55,", ",2.55,9.99,")
    );
    let report = upload(&ingestor, "transactions/two_prices.csv", two_prices, &options()).await;
    assert_eq!((report.error, report.rows_accepted), (None, 1), "{:?}", report.verdict_reasons);
}

#[tokio::test]
async fn an_empty_file_is_refused() {
    refused("transactions/empty.csv", Vec::new(), "empty_file").await;
    refused("transactions/empty.jsonl", Vec::new(), "empty_file").await;
}

#[tokio::test]
async fn an_empty_json_array_holds_no_rows_as_a_header_alone_does() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    for (path, body) in [("transactions/quiet_day.json", "[]"), ("transactions/quiet_day.csv", HEADER)] {
        let report = upload(&ingestor, path, body.to_owned(), &options()).await;
        assert_eq!((report.verdict, report.rows_read, &report.error), (Verdict::Warn, 0, &None), "{path}");
        assert_eq!(report.verdict_reasons, ["the upload holds no rows: nothing was added"], "{path}");
    }
}

#[tokio::test]
async fn a_truncated_gzip_is_refused_as_incomplete() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&sample()).unwrap();
    let whole = encoder.finish().unwrap();
    refused("transactions/cut.csv.gz", whole[..whole.len() / 3].to_vec(), "truncated_gzip").await;
}

#[tokio::test]
async fn a_parquet_file_with_wrong_types_names_the_column() {
    let mut frame = df!(
        "InvoiceNo" => ["536365"],
        "StockCode" => ["85123A"],
        "Quantity" => [true],
        "InvoiceDate" => ["2010-12-01 08:26:00"],
        "UnitPrice" => [2.55],
    )
    .unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    let report = refused("transactions/typed.parquet", bytes, "wrong_column_type").await;
    assert_eq!(report.error.unwrap().column.as_deref(), Some("quantity"));
}

#[tokio::test]
async fn a_huge_line_is_quarantined_with_its_line_number_and_the_rest_ingests() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let huge_description = "X".repeat(3 << 20);
    let huge = GOOD.replace("WHITE HANGING HEART T-LIGHT HOLDER", &huge_description);
    let body = format!("{HEADER}{GOOD}{huge}{GOOD}");
    let report = upload(&ingestor, "transactions/huge.csv", body.clone(), &options()).await;
    assert_eq!((report.rows_read, report.rows_accepted, report.rows_quarantined), (3, 2, 1));
    assert_eq!(report.quarantined_by_reason["row_too_long"], 1);
    let row = &report.quarantine_sample[0];
    assert_eq!((row.file.as_str(), row.line), ("transactions/huge.csv", 3));
    assert!(row.raw.len() < 3000, "quarantine keeps a cut of the row, not megabytes");
    assert!(row.raw.starts_with("536365,85123A,XXX"), "the cut keeps its delimiters: {}", &row.raw[..40]);
    raw_is_kept(&blobs, &report, body.as_bytes()).await;
}

#[tokio::test]
async fn invalid_utf8_ragged_rows_and_bad_values_are_quarantined_row_by_row_with_reasons() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let mut body = Vec::new();
    body.extend_from_slice(HEADER.as_bytes());
    body.extend_from_slice(GOOD.as_bytes()); // line 2
    body.extend_from_slice(
        b"536366,22633,HAND WARMER \xff\xfe UNION JACK,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n",
    ); // 3
    body.extend_from_slice(b"536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2010-12-01 08:34:00\n"); // 4: too few fields
    body.extend_from_slice(
        b"536367,22745,\"POPPY'S PLAYHOUSE, BEDROOM\",six,2010-12-01 08:34:00,2.10,13047.0,United Kingdom\n",
    ); // 5
    body.extend_from_slice(
        b"536367,22748,POPPY'S PLAYHOUSE KITCHEN,6,01/12/2010 at 8:34,2.10,13047.0,United Kingdom\n",
    ); // 6
    body.extend_from_slice(b"536368,,JAM MAKING SET,6,2010-12-01 08:34:00,4.25,13047.0,United Kingdom\n"); // 7
    body.extend_from_slice(
        b"536368,22960,\"JAM MAKING SET\nWITH JARS\",6,2010-12-01 08:34:00,4.25,13047.0,United Kingdom\n",
    ); // 8-9: quoted newline
    // Valid UTF-8 beside the invalid bytes: a damaged UTF-8 file, not a legacy export.
    body.extend_from_slice(
        "536369,21756,BATH BUILDING BLOCK WORD – BLÅ ÖL,3,2010-12-01 08:35:00,5.95,,United Kingdom\n"
            .as_bytes(),
    ); // 10
    let report = upload(&ingestor, "transactions/messy.csv", body.clone(), &options()).await;
    assert_eq!((report.rows_read, report.rows_accepted, report.rows_quarantined), (8, 3, 5));
    let found: Vec<(u64, Option<&str>, &str)> =
        report.quarantine_sample.iter().map(|q| (q.line, q.column.as_deref(), q.reason.as_str())).collect();
    assert_eq!(
        found,
        [
            (3, Some("description"), "invalid_utf8"),
            (4, None, "wrong_field_count"),
            (5, Some("quantity"), "invalid_integer"),
            (6, Some("invoice_time"), "invalid_timestamp"),
            (7, Some("stock_code"), "missing_value"),
        ]
    );
    assert!(report.quarantine_sample[2].raw.contains("POPPY'S PLAYHOUSE, BEDROOM"));
    let quarantine = blobs.container("quarantine").await.unwrap();
    let file = quarantine.get(report.outputs.quarantine.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        file.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
        5,
        "every refused row is kept"
    );
    assert_eq!(report.verdict, Verdict::Fail, "5 of 8 rows refused is past the fail threshold");
    raw_is_kept(&blobs, &report, &body).await;
}

#[tokio::test]
async fn invalid_json_lines_are_quarantined_with_their_line() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let good = r#"{"InvoiceNo":"536365","StockCode":"85123A","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":"17850.0"}"#;
    let body = format!("{good}\n{{\"InvoiceNo\": \"53\n[1,2]\n\n{good}\n");
    let report = upload(&ingestor, "transactions/a.jsonl", Bytes::from(body), &options()).await;
    assert_eq!((report.rows_read, report.rows_accepted), (4, 2));
    let found: Vec<(u64, &str)> =
        report.quarantine_sample.iter().map(|q| (q.line, q.reason.as_str())).collect();
    assert_eq!(found, [(2, "invalid_json"), (3, "not_an_object")]);
}

#[tokio::test]
async fn a_json_array_float_codes_and_a_misspelt_mapped_key_read_as_in_a_csv() {
    let (_dir, blobs, ingestor) = ingestor().await;
    // An array of objects, a code written as a float (pandas' `21794.0`).
    let array = r#"[
        {"InvoiceNo": 536365, "StockCode": 21794.0, "Quantity": 6, "InvoiceDate": "2010-12-01 08:26:00", "UnitPrice": 2.55, "CustomerID": 17850},
        {"InvoiceNo": 536365, "StockCode": "85123A", "Quantity": 6, "InvoiceDate": "2010-12-01 08:26:00", "UnitPrice": 2.55, "CustomerID": 17850}
    ]"#;
    let report = upload(&ingestor, "transactions/export.json", array, &options()).await;
    assert_eq!((report.rows_read, report.rows_accepted), (2, 2), "{:?}", report.error);
    let frame = crate::support::silver(&blobs, &report).await;
    let codes: Vec<&str> = frame.column("stock_code").unwrap().str().unwrap().iter().flatten().collect();
    let invoices: Vec<&str> = frame.column("invoice").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!((codes, invoices), (vec!["21794", "85123A"], vec!["536365", "536365"]));
    // A key the mapping names that no line has fails the file, as a missing CSV column does.
    let mapping = shopsense::ingest::Mapping {
        columns: [("customer_id".to_owned(), "Kundennr".to_owned())].into(),
        ..shopsense::ingest::Mapping::default()
    };
    let mapped = IngestOptions { mapping: Some(mapping), ..options() };
    let line = r#"{"InvoiceNo": "1", "StockCode": "A", "Quantity": 1, "InvoiceDate": "2010-12-01 08:26:00", "UnitPrice": 1.0, "Kunde": "7"}"#;
    let report = upload(&ingestor, "transactions/de.jsonl", format!("{line}\n"), &mapped).await;
    let error = report.error.expect("refused");
    assert_eq!(error.code, "missing_columns");
    assert!(error.message.contains("Kundennr"), "{error}");
}

/// A German export: `;` separated, decimal commas, German headers.
const GERMAN_EXPORT: &str = "Rechnung;Artikel;Beschreibung;Menge;Datum;Preis;Kunde;Land\n\
                             536365;85123A;HEART;6;2010-12-01 08:26:00;2,55;17850;United Kingdom\n";

/// The folder mapping that reads [`GERMAN_EXPORT`].
const GERMAN_MAPPING: &str = r#"delimiter = ";"
decimal = ","
[columns]
invoice = "Rechnung"
stock_code = "Artikel"
description = "Beschreibung"
quantity = "Menge"
invoice_time = "Datum"
unit_price = "Preis"
customer_id = "Kunde"
country = "Land"
"#;

#[tokio::test]
async fn a_failed_upload_is_read_again_once_its_folder_mapping_is_fixed() {
    // A German export under a capitalised folder: without a mapping its header is unknown.
    let (_dir, _blobs, ingestor) = ingestor().await;
    let export = GERMAN_EXPORT;
    let failed = upload(&ingestor, "Transactions/export.csv", export.to_owned(), &options()).await;
    assert_eq!(failed.verdict, Verdict::Fail);
    assert!(failed.error.unwrap().message.contains("set `delimiter = \";\"`"));
    // Sent again as it is, it is not said to have counted.
    let resent = upload(&ingestor, "Transactions/export-resent.csv", export.to_owned(), &options()).await;
    assert!(resent.duplicate_upload && resent.verdict == Verdict::Fail);
    assert!(
        resent
            .summary()
            .contains("the same bytes failed before under the same mapping, and nothing of them was counted")
    );
    let uploads = ingestor.uploads();
    uploads.put("Transactions/_mapping.toml", Bytes::from(GERMAN_MAPPING), Default::default()).await.unwrap();
    let again = upload(&ingestor, "Transactions/export-again.csv", export.to_owned(), &options()).await;
    assert!(!again.duplicate_upload, "a failure counted nothing: the same bytes are read again");
    assert_eq!((again.verdict == Verdict::Fail, again.rows_accepted), (false, 1), "{:?}", again.error);
    let third = upload(&ingestor, "Transactions/export-3.csv", export.to_owned(), &options()).await;
    assert!(third.duplicate_upload, "once read, the same bytes count once");
}

/// A shop fixes its folder's mapping after an export failed: the mapping's landing reads the
/// failed export again (the blob trigger and the local watcher hand every upload to ingest), so
/// it counts without being sent again; an upload with a mapping of its own keeps that one.
#[tokio::test]
async fn a_folder_mapping_landing_reads_the_folders_failed_uploads_again() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let export = GERMAN_EXPORT;
    let failed = upload(&ingestor, "transactions/export.csv", export.to_owned(), &options()).await;
    assert_eq!(failed.verdict, Verdict::Fail);
    let own = export.replace("536365", "536366");
    let own_mapping = shopsense::ingest::Mapping { delimiter: Some(','), ..Default::default() };
    ingestor.keep_mapping_of_upload("transactions/own.csv", &own_mapping).await.unwrap();
    let kept_own = upload(&ingestor, "transactions/own.csv", own, &options()).await;
    assert_eq!(kept_own.verdict, Verdict::Fail, "read under its own mapping");
    let elsewhere =
        upload(&ingestor, "catalog/items.csv", "Artikel;Name\n85123A;HEART\n".to_owned(), &options()).await;
    assert_eq!(elsewhere.verdict, Verdict::Fail);

    ingestor
        .uploads()
        .put("transactions/_mapping.toml", Bytes::from(GERMAN_MAPPING), Default::default())
        .await
        .unwrap();
    let outcome = ingestor.ingest("transactions/_mapping.toml", &options()).await.unwrap();
    let IngestOutcome::Skipped { reason } = outcome else { panic!("a mapping is not data: {outcome:?}") };
    assert_eq!(
        reason,
        "transactions/_mapping.toml is the folder's column mapping: read again under it: transactions/export.csv (counted)"
    );
    let reports = ingestor.reports(UploadKind::Transactions).await.unwrap();
    let export = reports.iter().find(|r| r.sha256 == failed.sha256).unwrap();
    assert_eq!((export.verdict == Verdict::Fail, export.rows_accepted), (false, 1));
    let silver = crate::support::silver(&blobs, export).await;
    assert_eq!(silver.height(), 1);
    // Landing again, it has nothing left to read.
    let outcome = ingestor.ingest("transactions/_mapping.toml", &options()).await.unwrap();
    assert!(
        matches!(&outcome, IngestOutcome::Skipped { reason } if reason.ends_with("no upload of it needed reading again")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_upload_no_kind_claims_is_still_kept_in_bronze() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let bytes = b"whatever,this,is\n1,2,3\n".to_vec();
    ingestor.uploads().put("misc/notes.csv", Bytes::from(bytes.clone()), Default::default()).await.unwrap();
    let err = ingestor.ingest("misc/notes.csv", &options()).await.unwrap_err();
    assert!(err.to_string().contains("misc/notes.csv"), "{err}");
    let bronze = blobs.container("bronze").await.unwrap();
    let kept = bronze.list("").await.unwrap();
    assert_eq!(kept.len(), 1, "landed before the kind was asked");
    assert_eq!(&bronze.get(&kept[0].path).await.unwrap().unwrap().body[..], &bytes[..]);
}

#[tokio::test]
async fn quarantined_rows_name_their_physical_line_whatever_the_line_breaks() {
    let bad = "536367,22745,PLAYHOUSE,six,2010-12-01 08:34:00,2.10,13047.0,United Kingdom";
    let good = GOOD.trim_end();
    let header = HEADER.trim_end();
    for (name, text, line) in [
        ("crlf", format!("{header}\r\n{good}\r\n{bad}\r\n{good}\r\n"), 3),
        ("cr", format!("{header}\r{good}\r{good}\r{bad}\r"), 4),
        ("blank", format!("{header}\n{good}\n\n{bad}\n"), 4),
        (
            "quoted",
            format!(
                "{header}\r\n536368,22960,\"SET\r\nWITH JARS\",6,2010-12-01 08:34:00,4.25,,UK\r\n{bad}\r\n"
            ),
            4,
        ),
    ] {
        let (_dir, _blobs, ingestor) = ingestor().await;
        let report = upload(&ingestor, &format!("transactions/{name}.csv"), text, &options()).await;
        let lines: Vec<u64> = report.quarantine_sample.iter().map(|q| q.line).collect();
        assert_eq!(lines, vec![line], "{name}: {:?}", report.quarantine_sample);
    }
}

#[tokio::test]
async fn a_mapped_column_missing_from_the_header_is_refused_even_when_optional() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let mapping = shopsense::ingest::mapping::Mapping::from_bytes(
        "m.toml",
        b"[columns]\ncustomer_id = \"Kundenummer\"\n",
    )
    .unwrap();
    let options = IngestOptions { mapping: Some(mapping), ..options() };
    let report = upload(&ingestor, "transactions/typo.csv", format!("{HEADER}{GOOD}"), &options).await;
    let error = report.error.expect("a file error");
    assert_eq!(error.code, "missing_columns");
    assert!(
        error.message.contains(r#"customer_id (looked for "Kundenummer" (from the mapping))"#),
        "{error}"
    );
}

#[tokio::test]
async fn a_huge_header_is_shown_cut() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let report = upload(&ingestor, "transactions/one-line.csv", "x".repeat(100_000), &options()).await;
    let error = report.error.expect("a file error");
    assert!(error.message.len() < 2_000, "{} bytes", error.message.len());
}

#[tokio::test]
async fn exact_duplicates_are_told_field_by_field() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let a = "536365,85123A,SET OF 1,12,2010-12-01 08:26:00,2.55,17850,United Kingdom\n";
    let b = "536365,85123A,SET OF 11,2,2010-12-01 08:26:00,2.55,17850,United Kingdom\n";
    let report = upload(&ingestor, "transactions/dups.csv", format!("{HEADER}{a}{b}{a}"), &options()).await;
    assert_eq!(report.retail.unwrap().exact_duplicate_lines, 1, "only the repeated row");
}

#[tokio::test]
async fn a_byte_order_mark_before_json_lines_is_read_past() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let line = r#"{"InvoiceNo": "536365", "StockCode": "85123A", "Description": "HEART", "Quantity": 6, "InvoiceDate": "2010-12-01 08:26:00", "UnitPrice": 2.55, "CustomerID": 17850, "Country": "United Kingdom"}"#;
    let report = upload(&ingestor, "transactions/bom.txt", format!("\u{feff}{line}\n"), &options()).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined), (1, 0), "{:?}", report.quarantine_sample);
}

#[tokio::test]
async fn catalog_and_inventory_numbers_outside_their_range_are_quarantined() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let inventory =
        "sku,on_hand,lead_time_days,service_level\nA,5,7,0.95\nB,-5,7,0.95\nC,5,-7,0.95\nD,5,7,1.5\n";
    let report = upload(&ingestor, "inventory/stock.csv", inventory.to_owned(), &options()).await;
    let found: Vec<(u64, Option<&str>, &str)> =
        report.quarantine_sample.iter().map(|q| (q.line, q.column.as_deref(), q.reason.as_str())).collect();
    assert_eq!(
        found,
        [
            (3, Some("on_hand"), "out_of_range"),
            (4, Some("lead_time_days"), "out_of_range"),
            (5, Some("service_level"), "out_of_range")
        ]
    );
    assert!(
        report.quarantine_sample[2].message.contains("must be in (0.5, 0.9999)"),
        "{:?}",
        report.quarantine_sample
    );
    let catalog = "sku,description,pack_size,unit_price,discontinued\nA,a,12,1.5,no\nB,b,0,1.5,no\nC,c,6,-2,no\nD,d,6,2,maybe\n";
    let report = upload(&ingestor, "catalog/items.csv", catalog.to_owned(), &options()).await;
    let found: Vec<(u64, Option<&str>)> =
        report.quarantine_sample.iter().map(|q| (q.line, q.column.as_deref())).collect();
    assert_eq!(found, [(3, Some("pack_size")), (4, Some("unit_price")), (5, Some("discontinued"))]);
    let flag = &report.quarantine_sample[2];
    assert_eq!(flag.reason, "invalid_flag");
    assert!(flag.message.contains("\"maybe\" is not a yes or no"), "{}", flag.message);
}

#[tokio::test]
async fn json_numbers_are_read_whatever_decimal_separator_the_folder_uses() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let mapping =
        shopsense::ingest::mapping::Mapping::from_bytes("m.toml", b"delimiter = \";\"\ndecimal = \",\"\n")
            .unwrap();
    let options = IngestOptions { mapping: Some(mapping), ..options() };
    let line = r#"{"InvoiceNo": "536365", "StockCode": "85123A", "Quantity": 6, "InvoiceDate": "2010-12-01 08:26:00", "UnitPrice": 2.55, "CustomerID": 17850.0}"#;
    let report = upload(&ingestor, "transactions/typed.jsonl", format!("{line}\n"), &options).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined), (1, 0), "{:?}", report.quarantine_sample);
}

#[tokio::test]
async fn typed_parquet_numbers_and_dates_are_read_under_the_folder_text_conventions() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let day = chrono::NaiveDate::from_ymd_opt(2010, 12, 1).unwrap();
    let mut frame = df!(
        "InvoiceNo" => ["536365"],
        "StockCode" => ["85123A"],
        "Quantity" => [6i64],
        "InvoiceDate" => [day],
        "UnitPrice" => [2.55f64],
    )
    .unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    let mapping = shopsense::ingest::mapping::Mapping::from_bytes(
        "m.toml",
        b"delimiter = \";\"\ndecimal = \",\"\ndate_format = \"%d.%m.%Y %H:%M\"\n",
    )
    .unwrap();
    let options = IngestOptions { mapping: Some(mapping), ..options() };
    let report = upload(&ingestor, "transactions/typed.parquet", bytes, &options).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!((report.rows_accepted, report.rows_quarantined), (1, 0), "{:?}", report.quarantine_sample);
}

#[tokio::test]
async fn warehouse_decimals_and_dictionary_text_in_parquet_read_as_their_values() {
    let mut frame = df!(
        "InvoiceNo" => ["536365", "536366"],
        "StockCode" => ["85123A", "22423"],
        "Quantity" => [6i64, 2],
        "InvoiceDate" => ["2010-12-01 08:26:00", "2010-12-01 08:28:00"],
        "UnitPrice" => [2.55f64, 12.75],
        "Country" => ["United Kingdom", "France"],
    )
    .unwrap();
    // A `decimal(10, 2)` price, as a warehouse exports it, and a pandas `category` column: one
    // made polars panic mid-ingest (no report), the other was refused as the wrong type.
    let price = frame.column("UnitPrice").unwrap().cast(&DataType::Decimal(10, 2)).unwrap();
    let country =
        frame.column("Country").unwrap().cast(&DataType::from_categories(Categories::global())).unwrap();
    frame.with_column(price).unwrap();
    frame.with_column(country).unwrap();
    for mapping in [None, Some(b"delimiter = \";\"\ndecimal = \",\"\n".as_slice())] {
        let (_dir, _blobs, ingestor) = ingestor().await;
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut frame.clone()).unwrap();
        let mapping = mapping.map(|m| shopsense::ingest::mapping::Mapping::from_bytes("m.toml", m).unwrap());
        let options = IngestOptions { mapping, ..options() };
        let report = upload(&ingestor, "transactions/typed.parquet", bytes, &options).await;
        assert!(report.error.is_none(), "{:?}", report.error);
        assert_eq!((report.rows_accepted, report.rows_quarantined), (2, 0), "{:?}", report.quarantine_sample);
    }
}

#[tokio::test]
async fn dates_that_read_day_first_as_well_warn_and_read_again_under_a_date_format() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    // A UK shop's first week of December: month first, these are January to July.
    let header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
    let rows: String = (1..=7)
        .map(|d| format!("5800{d},85123A,HEART,6,0{d}/12/2011 10:00,2.55,17850,United Kingdom\n"))
        .collect();
    let export = format!("{header}{rows}");
    let unsure = upload(&ingestor, "transactions/uk.csv", export.clone(), &options()).await;
    assert_eq!((unsure.verdict, unsure.month_first_unsure), (Verdict::Warn, Some(7)));
    assert!(
        unsure.verdict_reasons.iter().any(|r| r.contains("read month first")),
        "{:?}",
        unsure.verdict_reasons
    );
    let mapping =
        shopsense::ingest::mapping::Mapping::from_bytes("m.toml", b"date_format = \"%d/%m/%Y %H:%M\"\n")
            .unwrap();
    let options = IngestOptions { mapping: Some(mapping), ..options() };
    let again = upload(&ingestor, "transactions/uk-again.csv", export, &options).await;
    assert!(!again.duplicate_upload, "read again under the mapping that says which");
    assert_eq!(again.month_first_unsure, None);
    let range = again.date_range.unwrap();
    assert_eq!(range.min.date(), chrono::NaiveDate::from_ymd_opt(2011, 12, 1).unwrap());
    // One day past 12 in the second place says month first: no warning.
    let us = format!("{header}580099,85123A,HEART,6,12/13/2011 10:00,2.55,17850,United Kingdom\n{rows}");
    let sure = upload(&ingestor, "transactions/us.csv", us, &self::options()).await;
    assert_eq!(sure.month_first_unsure, None, "{:?}", sure.verdict_reasons);
}

#[tokio::test]
async fn sales_far_from_those_ingested_before_warn_with_the_gap_and_are_still_kept() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let refreshing = IngestOptions::default();
    let day = |date: &str| format!("{HEADER}{}", sale(date.replace('-', ""), &format!("{date} 10:00")));
    let first = upload(&ingestor, "transactions/first.csv", day("2011-12-01"), &refreshing).await;
    assert_eq!(first.sales_gap, None, "nothing was ingested before it");
    // A week later is an ordinary gap (a Christmas break); 180 days later is a wrong year.
    let next = upload(&ingestor, "transactions/next.csv", day("2011-12-09"), &refreshing).await;
    assert_eq!(next.sales_gap.as_ref().map(|g| g.days), Some(7));
    assert!(!next.verdict_reasons.iter().any(|r| r.contains("without a sale")), "{:?}", next.verdict_reasons);
    let late = upload(&ingestor, "transactions/late.csv", day("2012-06-07"), &refreshing).await;
    assert_eq!(late.sales_gap.as_ref().map(|g| (g.days, g.side)), Some((180, GapSide::After)));
    let said = late.verdict_reasons.iter().find(|r| r.contains("180 days without")).expect("a gap warning");
    assert!(said.starts_with(
        "its first sale (2012-06-07) follows the last sale ingested before it (2011-12-09) after 180 days without a sale"
    ));
    assert_eq!(late.verdict, Verdict::Warn);
    assert!(late.features_refreshed, "a warning keeps the rows");
    // A backfill from long before is told the other way round.
    let early = upload(&ingestor, "transactions/early.csv", day("2011-06-01"), &refreshing).await;
    let said = early.verdict_reasons.iter().find(|r| r.contains("precedes")).expect("a gap warning");
    assert!(
        said.starts_with(
            "its last sale (2011-06-01) precedes the first sale ingested before it (2011-12-01) by 182 days without a sale"
        ),
        "{said}"
    );
}

#[tokio::test]
async fn one_invoice_dated_a_year_late_in_a_first_upload_warns_with_the_gap_it_leaves() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let rows: String = (1..=9).map(|d| sale(format!("58{d:03}"), &format!("2011-12-0{d} 10:00"))).collect();
    let typo = sale(58999, "2012-12-05 10:00");
    let report =
        upload(&ingestor, "transactions/typo.csv", format!("{HEADER}{rows}{typo}"), &options()).await;
    let gap = report.sales_gap.clone().expect("a gap");
    assert_eq!((gap.days, gap.side), (361, GapSide::Within));
    assert!(
        report.verdict_reasons.iter().any(|r| r
            .starts_with("its own sales leave 361 days without a sale between 2011-12-09 and 2012-12-05")),
        "{:?}",
        report.verdict_reasons
    );
}

#[tokio::test]
async fn uploads_read_one_by_one_before_a_refresh_are_judged_against_each_other_too() {
    // What a sweep does: every missed upload read, the features refreshed once at the end.
    let (_dir, _blobs, ingestor) = ingestor().await;
    let day = |date: &str| format!("{HEADER}{}", sale(date.replace('-', ""), &format!("{date} 10:00")));
    // The features were last refreshed with 1 December; then two uploads come before the next.
    upload(&ingestor, "transactions/0.csv", day("2011-12-01"), &IngestOptions::default()).await;
    for (n, date) in ["2011-12-20", "2012-01-10"].into_iter().enumerate() {
        // 10 January is 40 days after 1 December, but 20 after the upload read just before it.
        let report = upload(&ingestor, &format!("transactions/{}.csv", n + 1), day(date), &options()).await;
        assert!(
            !report.verdict_reasons.iter().any(|r| r.contains("without a sale")),
            "{date}: {:?}",
            report.verdict_reasons
        );
        assert!(!report.features_refreshed);
    }
}

#[tokio::test]
async fn an_upload_whose_dates_read_only_day_first_is_read_day_first_whole() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    // November, day first: the 13th to the 30th cannot be month first, the 1st to the 12th could.
    let rows: String =
        (1..=30).map(|d| sale(format!("58{d:03}"), &format!("{d:02}/11/2011 10:00"))).collect();
    let report = upload(&ingestor, "transactions/dmy.csv", format!("{HEADER}{rows}"), &options()).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined), (30, 0), "{:?}", report.quarantine_sample);
    assert_eq!(report.dates_read_day_first, Some(18));
    let range = report.date_range.clone().unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2011, 11, d).unwrap();
    assert_eq!((range.min.date(), range.max.date()), (day(1), day(30)));
    assert!(report.summary().contains("dates read day first (D/M/YYYY): 18 could be read no other way"));
    // One date that only reads month first keeps the upload month first: the other is refused.
    let mixed = format!("{HEADER}{}{}", sale(59001, "11/13/2011 10:00"), sale(59002, "13/11/2011 10:00"));
    let report = upload(&ingestor, "transactions/mixed.csv", mixed, &options()).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined, report.dates_read_day_first), (1, 1, None));
}

/// A UK shop's sales of 1-7 December 2011, day first: read month first, January to July.
fn uk_first_week() -> String {
    let rows: String = (1..=7).map(|d| sale(format!("5800{d}"), &format!("0{d}/12/2011 10:00"))).collect();
    format!("{HEADER}{rows}")
}

#[tokio::test]
async fn dates_read_again_under_a_date_format_are_not_judged_against_their_own_wrong_first_reading() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let export = uk_first_week();
    // Read month first (January to July) and refreshed into the features...
    let unsure = upload(&ingestor, "transactions/uk.csv", export.clone(), &IngestOptions::default()).await;
    assert!(unsure.features_refreshed && unsure.month_first_unsure.is_some());
    // ... then read again day first: 1-7 December is no gap after July, since July was this file.
    let mapping =
        shopsense::ingest::mapping::Mapping::from_bytes("m.toml", b"date_format = \"%d/%m/%Y %H:%M\"\n")
            .unwrap();
    let options = IngestOptions { mapping: Some(mapping), ..IngestOptions::default() };
    let again = upload(&ingestor, "transactions/uk-again.csv", export, &options).await;
    assert_eq!((again.sales_gap, again.verdict_reasons.len()), (None, 1), "{:?}", again.verdict_reasons);
}

#[tokio::test]
async fn an_upload_without_a_customer_column_warns_that_recommendations_learn_nothing_from_it() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let anonymous = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,Country\n\
                     536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,United Kingdom\n";
    let report = upload(&ingestor, "transactions/anonymous.csv", anonymous, &options()).await;
    assert_eq!((report.verdict, report.rows_accepted), (Verdict::Warn, 1));
    assert!(
        report.verdict_reasons.iter().any(|r| r.starts_with("the file has no customer column")),
        "{:?}",
        report.verdict_reasons
    );
    assert_eq!(report.absent_columns, ["customer_id"]);
    // A day of guest sales only (the column there, every cell blank) is ordinary.
    let guests = format!("{HEADER}536366,85123A,HEART,6,2010-12-01 08:26:00,2.55,,United Kingdom\n");
    let report = upload(&ingestor, "transactions/guests.csv", guests, &options()).await;
    assert!(report.absent_columns.is_empty());
    assert!(
        !report.verdict_reasons.iter().any(|r| r.contains("customer column")),
        "{:?}",
        report.verdict_reasons
    );
    // The shipped sample has lines without a customer, but not only those.
    let sample = upload(&ingestor, "transactions/sample.csv", sample(), &options()).await;
    assert!(
        !sample.verdict_reasons.iter().any(|r| r.contains("names a customer")),
        "{:?}",
        sample.verdict_reasons
    );
}

#[tokio::test]
async fn bytes_read_again_to_a_failure_no_longer_count_their_first_reading() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let export = uk_first_week();
    let unsure = upload(&ingestor, "transactions/uk.csv", export.clone(), &IngestOptions::default()).await;
    let table = unsure.outputs.silver.clone().unwrap();
    // Read again under a date format none of its dates has: every row refused, nothing counted.
    let mapping =
        shopsense::ingest::mapping::Mapping::from_bytes("m.toml", b"date_format = \"%Y-%m-%d %H:%M\"\n")
            .unwrap();
    let options = IngestOptions { mapping: Some(mapping), ..IngestOptions::default() };
    let failed = upload(&ingestor, "transactions/uk-again.csv", export, &options).await;
    assert_eq!((failed.verdict, failed.rows_accepted, &failed.outputs.silver), (Verdict::Fail, 0, &None));
    // So the first reading's rows are not counted either: set aside (kept), features refreshed.
    let silver = blobs.container("silver").await.unwrap();
    assert!(silver.head(&table).await.unwrap().is_none(), "{table} still counted under a failed report");
    assert!(silver.head(&format!("withdrawn/{table}")).await.unwrap().is_some(), "kept");
    assert!(failed.features_refreshed);
    let counts = ingestor.refresh_features().await.unwrap();
    assert_eq!(counts.batches, 0, "{counts:?}");
}

#[tokio::test]
async fn a_reading_again_whose_refresh_fails_after_setting_its_table_aside_is_read_again_by_the_sweep() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let export = uk_first_week();
    upload(&ingestor, "transactions/uk.csv", export.clone(), &IngestOptions::default()).await;
    let silver = blobs.container("silver").await.unwrap();
    // Every refresh fails for good (an unreadable batch) while it is read again to no rows.
    silver.put("transactions/broken.parquet", Bytes::from_static(b"no"), Default::default()).await.unwrap();
    let mapping =
        shopsense::ingest::mapping::Mapping::from_bytes("m.toml", b"date_format = \"%Y-%m-%d %H:%M\"\n")
            .unwrap();
    ingestor.keep_mapping_of_upload("transactions/uk-again.csv", &mapping).await.unwrap();
    ingestor
        .uploads()
        .put("transactions/uk-again.csv", Bytes::from(export), Default::default())
        .await
        .unwrap();
    let err = ingestor.ingest("transactions/uk-again.csv", &IngestOptions::default()).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    // Not remembered as handled: the sweep reads it again once the batch is dealt with, and the
    // report then says what is counted (nothing), with the features refreshed to match.
    silver.delete("transactions/broken.parquet").await.unwrap();
    let swept =
        ingestor.sweep(&IngestOptions::default(), std::time::Duration::from_secs(3600)).await.unwrap();
    assert!(swept.ingested.contains(&"transactions/uk-again.csv".to_owned()), "{swept:?}");
    assert!(swept.failed.is_empty(), "{swept:?}");
    let (snapshot, _) = shopsense::features::snapshot::current(&*silver).await.unwrap().unwrap();
    assert!(snapshot.batches.is_empty(), "the features no longer count it: {:?}", snapshot.batches);
}

#[tokio::test]
async fn a_table_of_more_rows_than_the_limit_allows_is_refused_before_it_is_read_whatever_its_size() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    // 3,000 bytes allow 30 rows: a Parquet file of one repeated row takes a few hundred bytes on
    // disk for any number of rows (as a dictionary-encoded bomb does), and its footer says how many.
    let options = IngestOptions { max_table_bytes: 3_000, ..options() };
    let rows = 5_000;
    let mut frame = df!(
        "InvoiceNo" => vec!["536365"; rows],
        "StockCode" => vec!["85123A"; rows],
        "Quantity" => vec![6i64; rows],
        "InvoiceDate" => vec!["2010-12-01 08:26:00"; rows],
        "UnitPrice" => vec![2.55f64; rows],
    )
    .unwrap();
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet).finish(&mut frame).unwrap();
    assert!(parquet.len() < 3_000, "smaller than the limit on disk: {} bytes", parquet.len());
    let report = upload(&ingestor, "transactions/bomb.parquet", parquet, &options).await;
    let error = report.error.expect("refused");
    assert_eq!((error.code.as_str(), report.rows_read), ("too_large", 0), "{error:?}");
    assert!(error.message.contains("holds 5000 rows, more than the 30 allowed"), "{}", error.message);
    // Lines of text likewise, counted before they are parsed; at the limit they are read.
    let lines = |n: usize| {
        format!("{HEADER}{}", (0..n).map(|i| sale(58000 + i, "2011-12-01 10:00")).collect::<String>())
    };
    let refused = upload(&ingestor, "transactions/many.csv", lines(35), &options).await;
    assert_eq!(refused.error.map(|e| e.code), Some("too_large".to_owned()));
    let read = upload(&ingestor, "transactions/few.csv", lines(29), &options).await;
    assert_eq!((read.rows_read, read.error), (29, None));
}

#[tokio::test]
async fn an_export_holding_its_lines_twice_warns_that_it_doubles_demand() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let lines: String = (0..10).map(|i| sale(536_400 + i, "2010-12-01 09:00:00")).collect();
    let twice =
        upload(&ingestor, "transactions/twice.csv", format!("{HEADER}{lines}{lines}"), &options()).await;
    assert_eq!((twice.verdict, twice.retail.as_ref().unwrap().exact_duplicate_lines), (Verdict::Warn, 10));
    let said =
        twice.verdict_reasons.iter().find(|r| r.contains("repeat an earlier line")).expect("a warning");
    assert!(said.starts_with("10 of 20 lines (50.0%)") && said.contains("doubles the demand"), "{said}");
    // The shipped sample repeats about 1% of its lines, as the whole Online Retail file does.
    let sample = upload(&ingestor, "transactions/sample.csv", sample(), &options()).await;
    assert!(sample.retail.as_ref().unwrap().exact_duplicate_lines > 0);
    assert!(
        !sample.verdict_reasons.iter().any(|r| r.contains("repeat an earlier line")),
        "{:?}",
        sample.verdict_reasons
    );
}

#[tokio::test]
async fn invoices_starting_with_c_or_a_are_sales_unless_they_cancel_or_adjust_bad_debt() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    // A shop whose order numbers name channels: every line a sale, nothing to warn about.
    let channels = format!(
        "{HEADER}{}{}{}",
        sale("CO-1001", "2010-12-01 09:00:00"),
        sale("AMZ-1002", "2010-12-01 09:05:00"),
        sale("WEB-1003", "2010-12-01 09:10:00")
    );
    let report = upload(&ingestor, "transactions/channels.csv", channels, &options()).await;
    let retail = report.retail.as_ref().unwrap();
    assert_eq!((retail.cancellation_lines, retail.bad_debt_lines, retail.prefixed_sale_lines), (0, 0, 2));
    assert!(
        !report.verdict_reasons.iter().any(|r| r.contains("starting with C or A")),
        "{:?}",
        report.verdict_reasons
    );
    // Beside a real cancellation, a C invoice's positive line may be a cancellation exported
    // unsigned: read as a sale, and said.
    let mixed = format!(
        "{HEADER}{}C536379,85123A,HEART,-2,2010-12-01 10:00:00,2.55,17850,United Kingdom\n",
        sale("C536380", "2010-12-01 09:00:00")
    );
    let report = upload(&ingestor, "transactions/mixed.csv", mixed, &options()).await;
    let retail = report.retail.as_ref().unwrap();
    assert_eq!((retail.cancellation_lines, retail.prefixed_sale_lines), (1, 1));
    assert_eq!(report.verdict, Verdict::Warn);
    assert!(
        report
            .verdict_reasons
            .iter()
            .any(|r| r.starts_with("1 line of invoices starting with C or A is read as sales")),
        "{:?}",
        report.verdict_reasons
    );
}

#[tokio::test]
async fn a_quote_left_open_quarantines_every_line_it_swallowed_not_one_row() {
    let (_dir, blobs, ingestor) = ingestor().await;
    for eol in ["\n", "\r\n"] {
        let crlf = |text: String| text.replace('\n', eol);
        // A naive export writes 8" for inches: the quote opened there closes on the next line
        // with a quote, and the lines between are read as one cell.
        let good: String = (0..6).map(|i| sale(536_400 + i, "2010-12-01 09:00:00")).collect();
        let inch = "536500,21212,\"ROUND CAKE TIN, 8\"\",2,2010-12-01 10:00:00,2.5,17850,United Kingdom\n";
        let quoted = "536501,21213,\"TIN, ROUND\",2,2010-12-01 10:00:00,2.5,17850,United Kingdom\n";
        let text = crlf(format!("{HEADER}{good}{inch}{good}{quoted}{good}"));
        let report =
            upload(&ingestor, &format!("transactions/inch{}.csv", eol.len()), text.clone(), &options()).await;
        assert_eq!(report.rows_read, 20, "every physical line is a row read: {report:?}");
        assert_eq!(report.rows_accepted, 12, "the 6 before the quote and the 6 after the line closing it");
        assert_eq!(report.rows_quarantined, 8, "the line opening the quote and the 7 it held");
        assert_eq!(
            report.quarantined_by_reason.get("inside_open_quote"),
            Some(&7),
            "{:?}",
            report.quarantined_by_reason
        );
        let lines: Vec<u64> = report.quarantine_sample.iter().map(|q| q.line).collect();
        assert_eq!(lines, (8..=15).collect::<Vec<u64>>(), "the opening line 8, then lines 9-15: {eol:?}");
        assert_eq!(report.verdict, Verdict::Fail, "8 of 20 rows: {:?}", report.verdict_reasons);
        raw_is_kept(&blobs, &report, text.as_bytes()).await;
        // A lone quote never closed holds every line to the end of the file.
        let lone = "536600,21214,\"12 INCH PLATE,2,2010-12-01 10:00:00,2.5,17850,United Kingdom\n";
        let report = upload(
            &ingestor,
            &format!("transactions/lone{}.csv", eol.len()),
            crlf(format!("{HEADER}{good}{lone}{good}{good}")),
            &options(),
        )
        .await;
        assert_eq!(
            (report.rows_read, report.rows_accepted, report.rows_quarantined),
            (19, 6, 13),
            "{report:?}"
        );
        // A ragged row after a blank line is one bad row on its own line, nothing held.
        let ragged = "536700,21215,SHORT ROW\n";
        let report = upload(
            &ingestor,
            &format!("transactions/ragged{}.csv", eol.len()),
            crlf(format!("{HEADER}{good}\n{ragged}{good}")),
            &options(),
        )
        .await;
        assert_eq!(
            (report.rows_read, report.rows_accepted, report.rows_quarantined),
            (13, 12, 1),
            "{report:?}"
        );
        assert_eq!(report.quarantine_sample[0].line, 9, "after the blank line 8");
        assert_eq!(report.quarantine_sample[0].reason, "wrong_field_count");
        // A quoted description on two lines is a cell, not a swallow; a quote that comes out
        // with the header's field count but holds a line of a row's width is one.
        let two_lines = "536800,21216,\"HEART\nWHITE\",2,2010-12-01 10:00:00,2.5,17850,United Kingdom\n";
        let hidden = "536900,21217,\"12 INCH PLATE\n".to_owned()
            + "536901,21218,PLATE,2,2010-12-01 10:00:00,2.5,17850,United Kingdom\n"
            + "536902,21219,\"\"BLUE\"\" PLATE\",2,2010-12-01 10:00:00,2.5,17850,United Kingdom\n";
        let report = upload(
            &ingestor,
            &format!("transactions/cells{}.csv", eol.len()),
            crlf(format!("{HEADER}{two_lines}{hidden}{good}")),
            &options(),
        )
        .await;
        assert_eq!(
            (report.rows_read, report.rows_accepted, report.rows_quarantined),
            (10, 7, 3),
            "{report:?}"
        );
        let reasons: Vec<&str> = report.quarantine_sample.iter().map(|q| q.reason.as_str()).collect();
        assert_eq!(reasons, ["open_quote", "inside_open_quote", "inside_open_quote"], "{eol:?}");
    }
}

#[tokio::test]
async fn a_column_passed_over_whose_name_is_a_typo_of_one_the_file_lacks_warns() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let catalog = "sku,description,pack_size,unit_price,discontinue,notes\nA,a,12,1.5,yes,x\n";
    let report = upload(&ingestor, "catalog/items.csv", catalog.to_owned(), &options()).await;
    assert_eq!(report.unread_columns, ["discontinue", "notes"]);
    assert!(report.absent_columns.contains(&"discontinued".to_owned()), "{:?}", report.absent_columns);
    assert_eq!(report.verdict, Verdict::Warn, "{:?}", report.verdict_reasons);
    let said: Vec<&String> = report.verdict_reasons.iter().filter(|r| r.contains("is not read")).collect();
    assert_eq!(said.len(), 1, "notes is no typo: {said:?}");
    assert!(
        said[0].starts_with("column \"discontinue\" is not read: did you mean \"discontinued\"?"),
        "{}",
        said[0]
    );
    // An alias's typo too (`CustomrID`); a column read under its alias is not listed.
    let text = format!(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomrID,Country\n{}",
        "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    );
    let report = upload(&ingestor, "transactions/typo.csv", text, &options()).await;
    assert_eq!(report.unread_columns, ["CustomrID"]);
    assert!(
        report.verdict_reasons.iter().any(|r| r.contains("did you mean \"customer_id\"")),
        "{:?}",
        report.verdict_reasons
    );
    let sample = upload(&ingestor, "transactions/sample.csv", sample(), &options()).await;
    assert!(sample.unread_columns.is_empty(), "{:?}", sample.unread_columns);
}

#[tokio::test]
async fn ordinary_headers_a_letter_from_a_short_column_name_do_not_warn() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let catalog = "sku,Time,Site,Aisle\nA,1,2,3\n";
    let report = upload(&ingestor, "catalog/plain.csv", catalog.to_owned(), &options()).await;
    assert!(
        !report.verdict_reasons.iter().any(|r| r.contains("is not read")),
        "{:?}",
        report.verdict_reasons
    );
    let inventory = "sku,on_hand,Reorder,County\nA,5,2,Kent\n";
    let report = upload(&ingestor, "inventory/plain.csv", inventory.to_owned(), &options()).await;
    assert_eq!(report.unread_columns, ["County", "Reorder"]);
    assert!(
        !report.verdict_reasons.iter().any(|r| r.contains("is not read")),
        "{:?}",
        report.verdict_reasons
    );
}
