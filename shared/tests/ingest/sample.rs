//! The shipped Online Retail sample: known counts (worked out independently from the CSV), the
//! retail rules, silver and features written, and a second upload that changes nothing.

use shopsense::features::snapshot;
use shopsense::ingest::{IngestOptions, Verdict};
use shopsense::store::BlobService;

use crate::support::{ingestor, sample, silver, upload};

#[tokio::test]
async fn the_sample_ingests_with_its_known_counts_and_the_same_bytes_again_change_nothing() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions::default();
    let report = upload(&ingestor, "transactions/sample.csv", sample(), &options).await;

    assert_eq!((report.rows_read, report.rows_accepted, report.rows_quarantined), (8083, 8083, 0));
    let retail = report.retail.as_ref().unwrap();
    assert_eq!(retail.invoices, 1030);
    assert_eq!(
        (retail.stock_codes_raw, retail.stock_codes),
        (2174, 2161),
        "codes differing in case are one SKU"
    );
    assert_eq!(retail.customers, 91);
    assert_eq!(retail.countries, 12);
    assert_eq!(retail.cancellation_lines, 193);
    assert_eq!(retail.lines_without_customer, 1410);
    assert_eq!(retail.adjustment_lines, 17);
    assert_eq!(retail.zero_price_lines, 34);
    assert_eq!(retail.exact_duplicate_lines, 75);
    assert_eq!(retail.non_product_lines, 55);
    let range = report.date_range.as_ref().unwrap();
    assert_eq!(range.min.to_string(), "2010-12-01 12:43:00");
    assert_eq!(range.max.to_string(), "2011-12-09 10:46:00");
    assert_eq!(report.completeness["invoice"], 1.0);
    assert!((report.completeness["customer_id"] - (8083.0 - 1410.0) / 8083.0).abs() < 1e-9);
    // Data from 2011 uploaded today is stale: a warning, not a failure.
    assert_eq!(report.verdict, Verdict::Warn, "{:?}", report.verdict_reasons);
    assert!(report.verdict_reasons.iter().any(|r| r.contains("days older")));
    assert!(report.features_refreshed);

    let table = silver(&blobs, &report).await;
    assert_eq!(table.height(), 8083);
    let kinds = table.column("kind").unwrap().str().unwrap().clone();
    assert_eq!(kinds.iter().filter(|k| *k == Some("cancellation")).count(), 193);
    let silver_store = blobs.container("silver").await.unwrap();
    let (first, pointer_before) =
        snapshot::current(&*silver_store).await.unwrap().expect("a feature snapshot");
    assert_eq!(first.batches, vec![report.outputs.silver.clone().unwrap()], "computed from the one batch");
    for table in shopsense::tables::FEATURE_PATHS {
        assert!(silver_store.exists(&first.path(table)).await.unwrap(), "{table} is written in the snapshot");
    }
    let closed = snapshot::get(&*silver_store, "features/closed_weekdays.json").await.unwrap().unwrap();
    assert_eq!(&closed.body[..], br#"["Sat"]"#, "Online Retail never trades on Saturdays");

    let again = upload(&ingestor, "transactions/sample-again.csv", sample(), &options).await;
    assert!(again.duplicate_upload, "the same bytes under another name");
    assert_eq!((again.rows_read, again.rows_accepted), (8083, 8083), "the report is the first one's");
    assert!(!again.features_refreshed);
    assert_eq!(silver_store.list("transactions/").await.unwrap().len(), 1, "one silver batch");
    let (_, pointer_after) = snapshot::current(&*silver_store).await.unwrap().unwrap();
    assert_eq!(pointer_after, pointer_before, "features untouched");
    assert_eq!(
        blobs.container("bronze").await.unwrap().list("").await.unwrap().len(),
        1,
        "bronze holds one copy"
    );
}

#[tokio::test]
async fn a_mapping_file_in_the_uploads_folder_is_configuration_not_data() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    ingestor
        .uploads()
        .put(
            "transactions/_mapping.toml",
            bytes::Bytes::from_static(b"delimiter = \";\"\n"),
            Default::default(),
        )
        .await
        .unwrap();
    let outcome = ingestor.ingest("transactions/_mapping.toml", &IngestOptions::default()).await.unwrap();
    assert!(matches!(outcome, shopsense::ingest::IngestOutcome::Skipped { .. }));
}

#[tokio::test]
async fn system_lock_and_unfinished_files_are_passed_over_and_kept() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let csv = &b"InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,1,2011-01-03 10:00,1.0\n"[..];
    for path in [
        "transactions/.DS_Store",
        "transactions/._feb.csv",
        "transactions/~$feb.xlsx",
        "transactions/.feb.csv.swp",
        "transactions/feb.csv.part",
        "transactions/feb.csv.crdownload",
        "transactions/Thumbs.db",
    ] {
        ingestor.uploads().put(path, bytes::Bytes::from_static(csv), Default::default()).await.unwrap();
        let outcome = ingestor.ingest(path, &IngestOptions::default()).await.unwrap();
        let shopsense::ingest::IngestOutcome::Skipped { reason } = outcome else {
            panic!("{path} was ingested")
        };
        assert!(reason.starts_with(path) && reason.ends_with("not data"), "{reason}");
        assert!(ingestor.uploads().get(path).await.unwrap().is_some(), "{path} stays where it was");
    }
    let bronze = blobs.container("bronze").await.unwrap();
    assert!(bronze.list("").await.unwrap().is_empty(), "nothing counted");
    // The finished file is data.
    assert_eq!(shopsense::ingest::not_data("transactions/feb.csv"), None);
    assert_eq!(shopsense::ingest::not_data("transactions/partners.csv"), None);
}

#[tokio::test]
async fn an_upload_outside_the_kind_folders_without_a_kind_is_a_clear_error() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    ingestor
        .uploads()
        .put("misc/a.csv", bytes::Bytes::from_static(b"a\n1\n"), Default::default())
        .await
        .unwrap();
    let err = ingestor.ingest("misc/a.csv", &IngestOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("misc/a.csv") && err.to_string().contains("transactions/"), "{err}");
    assert!(!err.is_transient());
}

#[test]
fn the_samples_customers_fall_into_named_segments_chosen_by_silhouette() {
    let bytes = sample();
    let parsed = shopsense::ingest::parse_upload(
        "sample.csv",
        &bytes,
        shopsense::ingest::UploadKind::Transactions,
        &shopsense::ingest::Mapping::default(),
        "batch",
        1 << 30,
    )
    .unwrap();
    let tables = shopsense::features::refresh(vec![parsed.frame.unwrap()]).unwrap();
    let end = shopsense::segments::last_day(&tables.daily_demand).unwrap();
    let rfm = shopsense::segments::RfmTable::from_inputs(&tables.rfm_inputs, None, end).unwrap();
    assert_eq!(
        rfm.len(),
        88,
        "the sample customers with a sale (2 only cancelled; 12607 sent its one order back whole)"
    );
    let model = shopsense::segments::SegmentParams::default().fit(&rfm).unwrap();
    let best = model.sweep.iter().filter(|s| s.accepted).map(|s| s.silhouette).fold(f64::MIN, f64::max);
    assert!((model.silhouette - best).abs() < 1e-12, "the chosen k has the best accepted silhouette");
    assert!(model.silhouette > 0.25, "{}", model.silhouette);
    assert_eq!(model.assignments.len(), 88);
    assert_eq!(model.segments.iter().map(|s| s.size).sum::<usize>(), 88);
    assert!(model.segments.iter().all(|s| !s.label.is_empty()));
}
