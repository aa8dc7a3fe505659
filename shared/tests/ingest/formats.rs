//! The same rows through every format and export style land as the same silver rows.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use polars::prelude::*;
use shopsense::ingest::encoding::EncodingSource;
use shopsense::ingest::{IngestOptions, Mapping, Verdict};
use shopsense::store::BlobService;

use crate::support::{content, fixture, ingestor, sample, silver, upload};

fn first_lines(text: &[u8], n: usize) -> Vec<u8> {
    let text = std::str::from_utf8(text).unwrap();
    text.lines().take(n + 1).map(|l| format!("{l}\n")).collect::<String>().into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn options() -> IngestOptions {
    IngestOptions { refresh_features: false, ..IngestOptions::default() }
}

/// The first `n` sample rows as JSON lines with the published column names.
fn as_json_lines(csv_bytes: &[u8]) -> Vec<u8> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header = reader.headers().unwrap().clone();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        let object: serde_json::Map<String, serde_json::Value> = header
            .iter()
            .zip(record.iter())
            .map(|(k, v)| {
                // Numbers as JSON numbers, like a real JSON export.
                let value = match k {
                    "Quantity" | "UnitPrice" => serde_json::from_str(v).unwrap(),
                    "CustomerID" if v.is_empty() => serde_json::Value::Null,
                    _ => serde_json::Value::String(v.to_owned()),
                };
                (k.to_owned(), value)
            })
            .collect();
        serde_json::to_writer(&mut out, &object).unwrap();
        out.push(b'\n');
    }
    out
}

/// The first rows as Parquet with real types (integers, floats, datetimes).
fn as_parquet(csv_bytes: &[u8]) -> Vec<u8> {
    let mut frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(std::io::Cursor::new(csv_bytes.to_vec()))
        .finish()
        .unwrap();
    let typed = frame
        .clone()
        .lazy()
        .with_columns([
            col("Quantity").cast(DataType::Int64),
            col("UnitPrice").cast(DataType::Float64),
            col("InvoiceDate").str().to_datetime(
                Some(TimeUnit::Milliseconds),
                None,
                StrptimeOptions { format: Some("%Y-%m-%d %H:%M:%S".into()), ..Default::default() },
                lit("raise"),
            ),
        ])
        .collect()
        .unwrap();
    frame = typed;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame).unwrap();
    out
}

/// The same Parquet with the small integers pandas' `downcast` writes: quantities as int16 (a
/// cancellation's is negative) and customer ids as uint16. Such columns failed the whole file
/// as unreadable Parquet before polars was built with those types.
fn downcast(parquet: &[u8]) -> Vec<u8> {
    let frame = ParquetReader::new(std::io::Cursor::new(parquet)).finish().unwrap();
    let mut frame = frame
        .lazy()
        .with_columns([
            col("Quantity").cast(DataType::Int16),
            col("CustomerID").cast(DataType::Float64).cast(DataType::UInt16),
        ])
        .collect()
        .unwrap();
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut frame).unwrap();
    out
}

// Multi-threaded: the test's own Parquet writer runs polars' lazy engine, which blocks in place.
#[tokio::test(flavor = "multi_thread")]
async fn csv_gzip_json_lines_and_parquet_of_the_same_rows_give_the_same_silver_rows() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let csv = first_lines(&sample(), 300);
    let from_csv = upload(&ingestor, "transactions/a.csv", csv.clone(), &options()).await;
    assert_eq!(from_csv.rows_accepted, 300);
    let expected = content(&silver(&blobs, &from_csv).await);

    let variants: [(&str, Vec<u8>, &str, bool); 4] = [
        ("transactions/a.csv.gz", gzip(&csv), "csv", true),
        ("transactions/a.jsonl", as_json_lines(&csv), "json_lines", false),
        ("transactions/a.parquet", as_parquet(&csv), "parquet", false),
        ("transactions/a_downcast.parquet", downcast(&as_parquet(&csv)), "parquet", false),
    ];
    for (path, bytes, format, gzip) in variants {
        let report = upload(&ingestor, path, bytes, &options()).await;
        assert_eq!(report.format.as_deref(), Some(format), "{path}");
        assert_eq!(report.gzip, gzip, "{path}");
        assert_eq!(
            (report.rows_read, report.rows_accepted),
            (300, 300),
            "{path}: {:?}",
            report.quarantine_sample
        );
        let got = content(&silver(&blobs, &report).await);
        assert!(got.equals_missing(&expected), "{path}: silver rows differ\n{got}\n{expected}");
    }
}

#[tokio::test]
async fn a_windows_1252_export_and_utf16_unicode_text_give_the_same_silver_rows_as_utf8() {
    let (_dir, blobs, ingestor) = ingestor().await;
    // Accents and a pound sign, which Excel writes in Windows-1252 on a Western Windows.
    let utf8 =
        String::from_utf8(first_lines(&sample(), 40)).unwrap().replacen("CRAZY DAISY", "CRÈME BRÛLÉE £5", 1);
    let from_utf8 = upload(&ingestor, "transactions/utf8.csv", utf8.clone().into_bytes(), &options()).await;
    assert_eq!((from_utf8.rows_accepted, from_utf8.encoding.as_ref()), (40, None));
    let expected = content(&silver(&blobs, &from_utf8).await);
    let descriptions = expected.column("description").unwrap().str().unwrap();
    assert!(descriptions.iter().flatten().any(|d| d.starts_with("CRÈME BRÛLÉE £5")));

    let (cp1252, _, lossy) = encoding_rs::WINDOWS_1252.encode(&utf8);
    assert!(!lossy);
    let report = upload(&ingestor, "transactions/excel.csv", cp1252.into_owned(), &options()).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined), (40, 0), "{:?}", report.quarantine_sample);
    let read = report.encoding.as_ref().expect("the report names the encoding");
    assert_eq!((read.name.as_str(), read.from), ("windows-1252", EncodingSource::Content));
    assert!(report.summary().contains("text read as windows-1252"), "{}", report.summary());
    assert!(content(&silver(&blobs, &report).await).equals_missing(&expected));

    // A file with more UTF-8 than not stays UTF-8, its other rows refused; sent again under a
    // mapping that names the encoding, the same bytes are read again, whole.
    let mut mixed = utf8.clone().into_bytes();
    mixed.extend(
        encoding_rs::WINDOWS_1252
            .encode("536999,21212,CAFÉ CRÈME,1,2010-12-01 09:00:00,1.0,17850.0,United Kingdom\n")
            .0
            .iter(),
    );
    let first = upload(&ingestor, "transactions/mixed.csv", mixed.clone(), &options()).await;
    assert_eq!((first.rows_quarantined, first.quarantined_by_reason.get("invalid_utf8")), (1, Some(&1)));
    let cp1252 = IngestOptions {
        mapping: Some(Mapping { encoding: Some("windows-1252".into()), ..Mapping::default() }),
        ..options()
    };
    let again = upload(&ingestor, "transactions/mixed.csv", mixed, &cp1252).await;
    assert!(!again.duplicate_upload, "read again under the new mapping");
    assert_eq!(again.rows_quarantined, 0, "{:?}", again.quarantine_sample);

    // Excel's "Unicode text": UTF-16LE with a byte-order mark, tab-separated (quoted commas kept).
    let tab_separated: String = utf8
        .lines()
        .map(|line| {
            let mut quoted = false;
            let mut out: String = line
                .chars()
                .map(|c| {
                    quoted ^= c == '"';
                    if c == ',' && !quoted { '\t' } else { c }
                })
                .collect();
            out.push_str("\r\n");
            out
        })
        .collect();
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(tab_separated.encode_utf16().flat_map(u16::to_le_bytes));
    let tabs =
        IngestOptions { mapping: Some(Mapping { delimiter: Some('\t'), ..Mapping::default() }), ..options() };
    let report = upload(&ingestor, "transactions/unicode.txt", utf16, &tabs).await;
    assert_eq!((report.rows_accepted, report.rows_quarantined), (40, 0), "{:?}", report.error);
    assert_eq!(report.encoding.as_ref().map(|e| e.from), Some(EncodingSource::ByteOrderMark));
    assert!(content(&silver(&blobs, &report).await).equals_missing(&expected));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_split_inside_an_invoice_gives_the_features_of_the_whole_file() {
    let whole = String::from_utf8(first_lines(&sample(), 1500)).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    let invoice = |line: &str| line.split(',').next().unwrap().to_owned();
    // Data rows 1-700 and 701-1500: the cut falls inside one invoice.
    let (header, cut) = (lines[0], 701);
    assert_eq!(invoice(lines[cut - 1]), invoice(lines[cut]), "the cut is inside an invoice");
    let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
    let refreshing = IngestOptions { refresh_features: true, ..IngestOptions::default() };

    let (_dir, _blobs, one) = ingestor().await;
    upload(&one, "transactions/whole.csv", whole.clone(), &options()).await;
    let expected = one.refresh_features().await.unwrap();
    let (_dir2, _blobs2, split) = ingestor().await;
    upload(&split, "transactions/part1.csv", part(&lines[1..cut]), &options()).await;
    upload(&split, "transactions/part2.csv", part(&lines[cut..]), &refreshing).await;
    let got = split.refresh_features().await.unwrap();
    assert_eq!(
        (got.interactions, got.basket_lines, got.rfm_customers),
        (expected.interactions, expected.basket_lines, expected.rfm_customers)
    );
    assert_eq!(got.daily_demand, expected.daily_demand);

    // part1.csv sent again without its last line: that line is gone, the rest of the invoice stays.
    upload(&split, "transactions/part1.csv", part(&lines[1..cut - 1]), &options()).await;
    let corrected = split.refresh_features().await.unwrap();
    assert_eq!(corrected.basket_lines, expected.basket_lines - 1, "{corrected:?}");
}

#[tokio::test]
async fn typed_parquet_timestamps_are_read_at_their_zones_clock_whatever_the_text_date_format() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let times = |frame: &DataFrame| -> Vec<String> {
        let column = frame.column("invoice_time").unwrap().cast(&DataType::String).unwrap();
        column.str().unwrap().iter().map(|t| t.unwrap().to_owned()).collect()
    };
    let local = ["2010-12-01 12:43:00.000", "2010-12-01 12:50:00.000", "2010-12-02 04:05:00.000"];
    // timestamp[us, tz=America/New_York], and a customer column of Arrow's null type.
    let zoned =
        upload(&ingestor, "transactions/ny.parquet", fixture("typed_zone_new_york.parquet"), &options())
            .await;
    assert_eq!((zoned.rows_accepted, zoned.verdict), (3, Verdict::Warn), "{:?}", zoned.error);
    let frame = silver(&blobs, &zoned).await;
    assert_eq!(times(&frame), local, "12:43 in New York, as a JSON line's -05:00 reads");
    assert_eq!(frame.column("customer_id").unwrap().null_count(), 3);
    // A shop's date-only format for its CSVs does not cut the time off typed values.
    let mapping = Mapping { date_format: Some("%d.%m.%Y".into()), ..Mapping::default() };
    let dated = IngestOptions { mapping: Some(mapping), ..options() };
    let naive = upload(&ingestor, "transactions/naive.parquet", fixture("typed_naive.parquet"), &dated).await;
    assert_eq!(naive.rows_accepted, 3, "{:?}", naive.error);
    assert_eq!(times(&silver(&blobs, &naive).await), local);
    // Codes pandas wrote as floats (a column of numbers with a gap): `21794.0` is `21794`.
    let floats =
        upload(&ingestor, "transactions/f.parquet", fixture("float_codes.parquet"), &options()).await;
    assert_eq!((floats.rows_read, floats.rows_accepted), (2, 2), "{:?}", floats.error);
    let frame = silver(&blobs, &floats).await;
    let text = |name: &str| frame.column(name).unwrap().str().unwrap().get(0).unwrap().to_owned();
    assert_eq!(
        (text("stock_code"), text("invoice"), text("customer_id")),
        ("21794".into(), "536520".into(), "17850".into())
    );
}

#[tokio::test]
async fn an_online_retail_ii_header_ingests_with_the_default_mapping() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let report = upload(&ingestor, "transactions/ii.csv", fixture("online_retail_ii.csv"), &options()).await;
    assert_eq!((report.rows_read, report.rows_accepted), (40, 40), "{:?}", report.error);
    let expected = upload(&ingestor, "transactions/orig.csv", first_lines(&sample(), 40), &options()).await;
    assert!(
        content(&silver(&blobs, &report).await).equals_missing(&content(&silver(&blobs, &expected).await))
    );
}

#[tokio::test]
async fn a_semicolon_export_ingests_through_a_mapping_file_with_no_code_change() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let expected = upload(&ingestor, "transactions/orig.csv", first_lines(&sample(), 40), &options()).await;
    let expected = content(&silver(&blobs, &expected).await);

    // Given as an option (the CLI's --mapping) ...
    let mapping = Mapping::from_bytes("semicolon_mapping.toml", &fixture("semicolon_mapping.toml")).unwrap();
    let with_option = IngestOptions { mapping: Some(mapping), ..options() };
    let report =
        upload(&ingestor, "transactions/erp.csv", fixture("semicolon_export.csv"), &with_option).await;
    assert_eq!(
        (report.rows_read, report.rows_accepted, report.verdict),
        (40, 40, Verdict::Warn),
        "{:?}",
        report.error
    );
    assert!(content(&silver(&blobs, &report).await).equals_missing(&expected));

    // ... or uploaded beside the data (what a shop does through blob storage).
    let (_dir2, blobs2, beside) = crate::support::ingestor().await;
    upload(&beside, "transactions/orig.csv", first_lines(&sample(), 1), &options()).await;
    beside
        .uploads()
        .put("transactions/_mapping.toml", fixture("semicolon_mapping.toml").into(), Default::default())
        .await
        .unwrap();
    let report = upload(&beside, "transactions/erp.csv", fixture("semicolon_export.csv"), &options()).await;
    assert_eq!(report.rows_accepted, 40, "{:?}", report.error);
    assert!(content(&silver(&blobs2, &report).await).equals_missing(&expected));
}

#[tokio::test]
async fn catalog_and_inventory_uploads_have_their_own_canonical_columns() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let catalog = b"StockCode,Description,Category,UnitPrice,PackSize\n85123A,WHITE HANGING HEART T-LIGHT HOLDER,home,2.55,6\n71053,WHITE METAL LANTERN,,3.39,\n";
    let report = upload(&ingestor, "catalog/products.csv", catalog.to_vec(), &options()).await;
    assert_eq!((report.rows_accepted, report.verdict), (2, Verdict::Pass), "{:?}", report.verdict_reasons);
    let table = silver(&blobs, &report).await;
    assert_eq!(table.column("pack_size").unwrap().i64().unwrap().get(0), Some(6));

    assert_eq!(table.column("discontinued").unwrap().null_count(), 2, "no column: not said");

    // A discontinued flag, however the export writes a yes or no, in each table format.
    let flags = b"sku,discontinued\n1,yes\n2,N\n3,TRUE\n4,0\n5,\n6,1.0\n";
    let expected = [Some(true), Some(false), Some(true), Some(false), None, Some(true)];
    let report = upload(&ingestor, "catalog/flags.csv", flags.to_vec(), &options()).await;
    assert_eq!(report.rows_accepted, 6, "{:?}", report.quarantine_sample);
    let table = silver(&blobs, &report).await;
    assert_eq!(table.column("discontinued").unwrap().bool().unwrap().iter().collect::<Vec<_>>(), expected);
    let lines = b"{\"sku\": \"1\", \"discontinued\": true}\n{\"sku\": \"2\", \"discontinued\": false}\n{\"sku\": \"3\", \"discontinued\": 1}\n{\"sku\": \"4\", \"discontinued\": null}\n";
    let report = upload(&ingestor, "catalog/flags.jsonl", lines.to_vec(), &options()).await;
    let table = silver(&blobs, &report).await;
    assert_eq!(
        table.column("discontinued").unwrap().bool().unwrap().iter().collect::<Vec<_>>(),
        [Some(true), Some(false), Some(true), None]
    );
    let mut frame =
        df!("StockCode" => ["1", "2", "3"], "Discontinued" => [Some(true), Some(false), None]).unwrap();
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet).finish(&mut frame).unwrap();
    let report = upload(&ingestor, "catalog/flags.parquet", parquet, &options()).await;
    let table = silver(&blobs, &report).await;
    assert_eq!(
        table.column("discontinued").unwrap().bool().unwrap().iter().collect::<Vec<_>>(),
        [Some(true), Some(false), None]
    );
    // pandas writes a 0/1 column with a gap as floats.
    let mut floats =
        df!("StockCode" => ["1", "2", "3"], "Discontinued" => [Some(1.0), Some(0.0), None]).unwrap();
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet).finish(&mut floats).unwrap();
    let report = upload(&ingestor, "catalog/floats.parquet", parquet, &options()).await;
    assert_eq!(report.rows_accepted, 3, "{:?}", report.error);
    let table = silver(&blobs, &report).await;
    assert_eq!(
        table.column("discontinued").unwrap().bool().unwrap().iter().collect::<Vec<_>>(),
        [Some(true), Some(false), None]
    );

    // A code listed twice is said, not settled silently.
    let twice = b"sku,pack_size\n85123A,6\n71053,12\n85123A,12\n";
    let report = upload(&ingestor, "catalog/twice.csv", twice.to_vec(), &options()).await;
    assert_eq!(report.verdict, Verdict::Warn);
    assert!(
        report.verdict_reasons[0].starts_with("1 rows repeat a stock code"),
        "{:?}",
        report.verdict_reasons
    );
    let twice = b"sku,on_hand\n85123A,6\n85123A,12\n";
    let report = upload(&ingestor, "inventory/two-locations.csv", twice.to_vec(), &options()).await;
    assert!(report.verdict_reasons[0].contains("the alerts refuse a count"), "{:?}", report.verdict_reasons);

    let inventory = b"sku,on_hand,on_order,lead_time_days\n85123A,120,0,14\n71053,-5,0,7\n22423,x,0,7\n";
    let report = upload(&ingestor, "inventory/2011-12-09.csv", inventory.to_vec(), &options()).await;
    assert_eq!((report.rows_read, report.rows_accepted, report.rows_quarantined), (3, 1, 2));
    let found: Vec<(u64, Option<&str>, &str)> =
        report.quarantine_sample.iter().map(|q| (q.line, q.column.as_deref(), q.reason.as_str())).collect();
    assert_eq!(found, [(3, Some("on_hand"), "out_of_range"), (4, Some("on_hand"), "invalid_integer")]);
}

#[tokio::test]
async fn a_catalogue_sent_again_is_the_newest_word_on_its_products() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let silver = blobs.container("silver").await.unwrap();
    let discontinued = || async { shopsense::catalog::Catalog::read(&*silver).await.unwrap().discontinued };
    let yes = b"sku,discontinued\n22510,yes\n".to_vec();
    upload(&ingestor, "catalog/monday.csv", yes.clone(), &options()).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    upload(&ingestor, "catalog/tuesday.csv", b"sku,discontinued\n22510,no\n".to_vec(), &options()).await;
    assert!(discontinued().await.is_empty(), "Tuesday put it back on sale");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // Wednesday's full export is Monday's bytes again: counted once, and the newest word.
    let report = upload(&ingestor, "catalog/wednesday.csv", yes, &options()).await;
    assert!(report.duplicate_upload);
    assert_eq!(discontinued().await, ["22510".to_owned()].into());
}

#[tokio::test]
async fn an_inventory_upload_in_the_events_shape_is_ingested_as_its_items() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let document = br#"{"snapshot_id": "morning", "as_of": "2011-12-09", "items": [
        {"sku": "85123A", "on_hand": 120, "lead_time_days": 14},
        {"sku": "22423", "on_hand": 3},
        {"sku": "21212", "on_hand": 40},
        {"sku": "84879", "on_hand": 0},
        {"sku": "22086", "on_hand": 7},
        {"sku": "22720", "on_hand": 1},
        {"sku": "23084", "on_hand": 9},
        {"sku": "22197", "on_hand": 12},
        {"sku": "21034", "on_hand": 5},
        {"sku": "71053", "on_hand": -5}
    ]}"#;
    let report = upload(&ingestor, "inventory/morning.json", document.to_vec(), &options()).await;
    let counts = (report.rows_read, report.rows_accepted, report.rows_quarantined);
    assert_eq!(counts, (10, 9, 1), "{:?} {:?}", report.error, report.verdict_reasons);
    assert_eq!(report.quarantine_sample[0].line, 10, "line n is item n");
    let table = silver(&blobs, &report).await;
    assert_eq!(table.column("stock_code").unwrap().str().unwrap().get(0), Some("85123A"));
    assert!(table.column("snapshot_time").unwrap().null_count() == 0, "the document's as_of is each row's");
}

#[tokio::test]
async fn an_upload_kept_with_its_own_mapping_reads_the_same_when_it_is_sent_again() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let export = "order_id;sku;title;qty;ordered_at;price;customer;country\n\
                  536365;85123A;HEART;6;01/12/2010 08:26;2,55;17850;United Kingdom\n";
    let mapping = Mapping::from_bytes(
        "m.toml",
        b"delimiter = \";\"\ndecimal = \",\"\ndate_format = \"%d/%m/%Y %H:%M\"\n[columns]\ninvoice_time = \"ordered_at\"\nunit_price = \"price\"\n",
    )
    .unwrap();
    // What `shopsense ingest --mapping` does: the mapping is kept beside the upload.
    let path = "transactions/shop.csv";
    ingestor.keep_mapping_of_upload(path, &mapping).await.unwrap();
    assert_eq!(ingestor.mapping_of_upload(path).await.unwrap(), Some(mapping.clone()));
    let first = upload(
        &ingestor,
        path,
        export.to_owned(),
        &IngestOptions { mapping: Some(mapping), ..Default::default() },
    )
    .await;
    assert_eq!((first.verdict == Verdict::Fail, first.rows_accepted), (false, 1), "{:?}", first.error);
    // Sent again with no mapping given (a watcher after a restart, a sweep): read the same way,
    // so it is the same upload, counted once, not a failure.
    let again = upload(&ingestor, path, export.to_owned(), &IngestOptions::default()).await;
    assert!(again.duplicate_upload && again.verdict != Verdict::Fail, "{:?}", again.error);
    assert_eq!(again.date_range, first.date_range);
    // `title` is a description, as in the catalogue.
    assert!(first.absent_columns.iter().all(|c| c != "description"), "{:?}", first.absent_columns);
}
