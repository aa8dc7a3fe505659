//! The catch-up sweep: uploads the ingest trigger never saw are ingested once, the rest are
//! passed over by path and ETag.

use std::time::Duration;

use bytes::Bytes;
use shopsense::ingest::IngestOptions;
use shopsense::store::{BlobService, PutOptions};

use crate::support::{ingestor, sample, upload};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn the_sweep_ingests_only_what_the_trigger_missed_and_a_replaced_file_again() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions::default();
    let sample = sample();
    let head: Vec<&str> = std::str::from_utf8(&sample).unwrap().lines().take(200).collect();
    let (first, second) = (head[..100].join("\n"), [&head[..1], &head[100..]].concat().join("\n"));
    // One upload went through the trigger; one landed while no event reached us.
    upload(&ingestor, "transactions/a.csv", first.clone(), &options).await;
    ingestor.uploads().put("transactions/b.csv", Bytes::from(second), PutOptions::default()).await.unwrap();
    ingestor
        .uploads()
        .put("transactions/_mapping.json", Bytes::from_static(b"{}"), PutOptions::default())
        .await
        .unwrap();

    // With no time left, nothing is read and the missed upload waits.
    let waiting = ingestor.sweep(&options, Duration::ZERO).await.unwrap();
    assert_eq!((waiting.ingested.len(), waiting.left_for_next), (0, 1), "{waiting:?}");

    let sweep = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(sweep.ingested, ["transactions/b.csv"], "{sweep:?}");
    assert_eq!((sweep.already_handled, sweep.failed.len()), (1, 0), "{sweep:?}");
    assert!(sweep.features_refreshed, "one refresh at the end for the new batch");
    let again = ingestor.sweep(&options, HOUR).await.unwrap();
    assert!(
        again.ingested.is_empty() && again.already_handled == 2 && !again.features_refreshed,
        "{again:?}"
    );

    // Uploads handled before markers existed are known by their bronze copy and its report.
    let silver = blobs.container("silver").await.unwrap();
    for marker in silver.list("uploads_seen/").await.unwrap() {
        silver.delete(&marker.path).await.unwrap();
    }
    let upgraded = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!((upgraded.ingested.len(), upgraded.already_handled), (0, 2), "{upgraded:?}");

    // Replaced under the same name: read again. The same bytes under a new ETag count once.
    ingestor.uploads().put("transactions/a.csv", Bytes::from(first), PutOptions::default()).await.unwrap();
    let replaced = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(replaced.duplicates, ["transactions/a.csv"], "{replaced:?}");

    // A file no kind claims lands in bronze, fails for good, and is not read every night.
    ingestor
        .uploads()
        .put("misc/notes.txt", Bytes::from_static(b"hello"), PutOptions::default())
        .await
        .unwrap();
    let unclaimed = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(unclaimed.failed.len(), 1, "{unclaimed:?}");
    assert!(unclaimed.failed[0].1.contains("misc/notes.txt"), "{unclaimed:?}");
    assert!(ingestor.sweep(&options, HOUR).await.unwrap().failed.is_empty(), "remembered as handled");
}

#[tokio::test]
async fn a_table_whose_ingest_stopped_before_its_report_is_finished_or_once_its_upload_is_gone_set_aside() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions { orphaned_after: Duration::ZERO, ..IngestOptions::default() };
    let sample = sample();
    let head: Vec<&str> = std::str::from_utf8(&sample).unwrap().lines().take(200).collect();
    let (first, second) = (head[..100].join("\n"), [&head[..1], &head[100..]].concat().join("\n"));
    upload(&ingestor, "transactions/a.csv", first, &options).await;
    let b = upload(&ingestor, "transactions/b.csv", second, &options).await;
    let silver = blobs.container("silver").await.unwrap();
    let table = format!("transactions/{}.parquet", b.sha256);
    // b's ingest "stops" after writing its table: no report, no mark that the upload was read.
    let stop = || async {
        silver.delete(&format!("reports/transactions/{}.json", b.sha256)).await.unwrap();
        for marker in silver.list("uploads_seen/").await.unwrap() {
            silver.delete(&marker.path).await.unwrap();
        }
    };
    stop().await;

    // Its upload is still there: the sweep finishes the job (counted once), nothing is set aside.
    let redone = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(redone.ingested, ["transactions/b.csv"], "{redone:?}");
    assert!(redone.set_aside.is_empty(), "{redone:?}");
    assert!(silver.head(&table).await.unwrap().is_some());

    // It stops again, and this time the upload is deleted before anything redoes it: nothing
    // would ever report those rows, so they are set aside (kept) and the features refreshed
    // without them.
    stop().await;
    ingestor.uploads().delete("transactions/b.csv").await.unwrap();
    let swept = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(swept.set_aside, [("transactions/b.csv".to_owned(), b.sha256.clone())], "{swept:?}");
    assert!(swept.features_refreshed, "{swept:?}");
    assert!(silver.head(&table).await.unwrap().is_none());
    assert!(silver.head(&format!("withdrawn/{table}")).await.unwrap().is_some(), "kept, not deleted");
    assert!(
        swept.summary().iter().any(|l| l.contains("transactions/b.csv") && l.contains("send the file again"))
    );
    // The reported batch stays, and a sweep after finds nothing more to set aside.
    let after = ingestor.sweep(&options, HOUR).await.unwrap();
    assert!(after.set_aside.is_empty() && !after.features_refreshed, "{after:?}");
    assert_eq!(silver.list("transactions/").await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_table_without_a_report_younger_than_the_threshold_is_left_to_the_ingest_writing_it() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let b = upload(&ingestor, "transactions/b.csv", sample(), &IngestOptions::default()).await;
    let silver = blobs.container("silver").await.unwrap();
    silver.delete(&format!("reports/transactions/{}.json", b.sha256)).await.unwrap();
    ingestor.uploads().delete("transactions/b.csv").await.unwrap();
    // The default hour: an ingest may still be refreshing the features before its report.
    let swept = ingestor.sweep(&IngestOptions::default(), HOUR).await.unwrap();
    assert!(swept.set_aside.is_empty(), "{swept:?}");
    assert!(silver.head(&format!("transactions/{}.parquet", b.sha256)).await.unwrap().is_some());
}

#[tokio::test]
async fn an_ingest_that_failed_after_writing_its_table_is_not_remembered_and_the_sweep_finishes_it() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions::default();
    let silver = blobs.container("silver").await.unwrap();
    // An unreadable batch makes every feature refresh fail, for good rather than for a moment.
    let broken = "transactions/broken.parquet";
    silver.put(broken, Bytes::from_static(b"not parquet"), PutOptions::default()).await.unwrap();
    ingestor.uploads().put("transactions/b.csv", Bytes::from(sample()), PutOptions::default()).await.unwrap();
    let err = ingestor.ingest("transactions/b.csv", &options).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let tables = silver.list("transactions/").await.unwrap();
    assert_eq!(tables.len(), 2, "b's table was written before the refresh failed: {tables:?}");
    assert!(silver.list("reports/").await.unwrap().is_empty(), "and no report");

    // Not remembered as handled: once the broken batch is dealt with, the sweep reads b again
    // and reports it (before, the failure was remembered and its rows stayed unreported).
    silver.delete(broken).await.unwrap();
    let swept = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(swept.ingested, ["transactions/b.csv"], "{swept:?}");
    assert!(swept.features_refreshed, "{swept:?}");
    assert_eq!(silver.list("reports/transactions/").await.unwrap().len(), 1);
    assert_eq!(ingestor.sweep(&options, HOUR).await.unwrap().already_handled, 1);
}

#[tokio::test]
async fn bytes_sent_again_after_a_withdrawal_whose_ingest_stopped_are_finished_or_set_aside() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions { orphaned_after: Duration::ZERO, ..IngestOptions::default() };
    let silver = blobs.container("silver").await.unwrap();
    let a = upload(&ingestor, "transactions/a.csv", sample(), &options).await;
    ingestor.withdraw("transactions/a.csv", false).await.unwrap();
    let (table, report) =
        (format!("transactions/{}.parquet", a.sha256), format!("reports/transactions/{}.json", a.sha256));
    let withdrawn = silver.get(&report).await.unwrap().unwrap();
    assert_eq!(withdrawn.meta.metadata.get("withdrawn").map(String::as_str), Some("true"));
    // The same bytes sent again count again; this ingest "stops" after writing its table: the
    // report still says withdrawn, and no marker says it was read.
    let stop = || async {
        silver.put(&report, withdrawn.body.clone(), with_metadata(&withdrawn.meta)).await.unwrap();
        for marker in silver.list("uploads_seen/").await.unwrap() {
            silver.delete(&marker.path).await.unwrap();
        }
    };
    let resent = upload(&ingestor, "transactions/a-again.csv", sample(), &options).await;
    assert!(resent.withdrawn_at.is_none() && !resent.duplicate_upload, "{resent:?}");
    stop().await;

    // The upload sent again is there: the sweep reads it again and reports it.
    let redone = ingestor.sweep(&options, HOUR).await.unwrap();
    assert!(redone.ingested.contains(&"transactions/a-again.csv".to_owned()), "{redone:?}");
    assert!(redone.set_aside.is_empty(), "{redone:?}");
    assert!(silver.head(&table).await.unwrap().is_some());

    // It stops again and is deleted: the first upload is still there, but reading it would not
    // count it (it stays withdrawn), so the rows are set aside rather than counted unreported;
    // also when the report was withdrawn before reports carried marks (its JSON says so).
    stop().await;
    silver.put(&report, withdrawn.body.clone(), PutOptions::default()).await.unwrap();
    ingestor.uploads().delete("transactions/a-again.csv").await.unwrap();
    let swept = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(swept.set_aside, [("transactions/a.csv".to_owned(), a.sha256.clone())], "{swept:?}");
    assert!(swept.features_refreshed, "{swept:?}");
    assert!(silver.head(&table).await.unwrap().is_none());
    assert!(silver.head(&format!("withdrawn/{table}")).await.unwrap().is_some(), "kept, not deleted");
    let after = ingestor.sweep(&options, HOUR).await.unwrap();
    assert!(after.set_aside.is_empty() && !after.features_refreshed, "{after:?}");
}

fn with_metadata(meta: &shopsense::store::BlobMeta) -> PutOptions {
    let mut options = PutOptions::default();
    for (key, value) in &meta.metadata {
        options = options.with_metadata(key.clone(), value.clone());
    }
    options
}

#[tokio::test]
async fn a_table_its_report_describes_stays_however_its_times_fall_and_one_read_under_another_mapping_goes() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions { orphaned_after: Duration::ZERO, ..IngestOptions::default() };
    let silver = blobs.container("silver").await.unwrap();
    let a = upload(&ingestor, "transactions/a.csv", sample(), &options).await;
    let table = format!("transactions/{}.parquet", a.sha256);
    // The same bytes read twice at once: the second reading rewrites the same table after the
    // first one's report, then stops. Its report would say the same: nothing to set aside.
    let written = silver.get(&table).await.unwrap().unwrap();
    silver.put(&table, written.body.clone(), with_metadata(&written.meta)).await.unwrap();
    let swept = ingestor.sweep(&options, HOUR).await.unwrap();
    assert!(swept.set_aside.is_empty() && swept.failed.is_empty(), "{swept:?}");
    assert!(silver.head(&table).await.unwrap().is_some());

    // Read again under another mapping (as `ingest --mapping` does), stopped before its report:
    // the report describes the first reading, not these rows, and the upload, seen already,
    // would not be read again by the sweep. Set aside.
    let mut other = written.meta.clone();
    other.metadata.insert("mapping".into(), "another-mapping".into());
    silver.put(&table, written.body, with_metadata(&other)).await.unwrap();
    let swept = ingestor.sweep(&options, HOUR).await.unwrap();
    assert_eq!(swept.set_aside, [("transactions/a.csv".to_owned(), a.sha256.clone())], "{swept:?}");
    assert!(silver.head(&table).await.unwrap().is_none());
    // Its report no longer claims rows nothing counts: withdrawn, so the bytes sent again count.
    let report = format!("reports/transactions/{}.json", a.sha256);
    let report: serde_json::Value =
        serde_json::from_slice(&silver.get(&report).await.unwrap().unwrap().body).unwrap();
    assert!(report["withdrawn_at"].is_string(), "{report}");
    let again = upload(&ingestor, "transactions/a-again.csv", sample(), &options).await;
    assert!(!again.duplicate_upload && again.rows_accepted > 0, "{again:?}");
}
