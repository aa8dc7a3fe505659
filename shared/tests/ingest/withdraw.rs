//! Withdrawing an upload: what a file said, taken back, and nothing lost.

use std::sync::atomic::{AtomicBool, Ordering};

use shopsense::ingest::withdraw::WITHDRAWN_PREFIX;
use shopsense::ingest::{IngestError, IngestOptions, UploadKind};
use shopsense::store::{BlobService, BlobStore, PutMode, PutOptions, StoreResult};

use crate::support::{BeforePut, HookedSilver, ingestor, upload};

const HEADER: &str = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";

fn line(invoice: u32, sku: &str, customer: u32) -> String {
    format!("{invoice},{sku},THING,6,2011-01-0{} 10:00:00,2.55,{customer},United Kingdom\n", invoice % 9 + 1)
}

/// A month exported, then exported again corrected without its second invoice: the second stays
/// (a fixed file name carrying each day's sales alone must not erase the days before) until the
/// file is withdrawn; sent again, the corrected bytes count again, alone.
#[tokio::test]
async fn a_withdrawn_upload_counts_no_longer_is_kept_and_counts_again_when_sent_again() {
    let (_dir, blobs, ingestor) = ingestor().await;
    let options = IngestOptions::default();
    let month = format!(
        "{HEADER}{}{}{}",
        line(1, "85123A", 17850),
        line(2, "22423", 12583),
        line(2, "84029E", 12583)
    );
    let corrected = format!("{HEADER}{}", line(1, "85123A", 17850));
    let first = upload(&ingestor, "transactions/2011-01.csv", month, &options).await;
    upload(&ingestor, "transactions/2011-01.csv", corrected.clone(), &options).await;
    // The same corrected bytes also saved under another name: counted once.
    let copy = upload(&ingestor, "transactions/2011-01 (1).csv", corrected.clone(), &options).await;
    assert!(copy.duplicate_upload);
    let before = ingestor.refresh_features().await.unwrap();
    assert_eq!((before.batches, before.interactions), (2, 3), "the dropped invoice still counts");

    let err = ingestor.withdraw("transactions/nope.csv", false).await.unwrap_err();
    assert!(matches!(err, IngestError::NothingToWithdraw { .. }), "{err}");
    assert!(err.to_string().contains("no transactions upload of that name"), "{err}");

    // Two versions count under the path: refused, each named, unless every one is meant (a
    // fixed daily file name must not take every earlier day back with one wrong file).
    let err = ingestor.withdraw("transactions/2011-01.csv", false).await.unwrap_err();
    assert!(err.to_string().contains("2 versions of it count ("), "{err}");
    assert!(
        err.to_string().contains(&first.sha256[..12]) && err.to_string().contains("--every-version"),
        "{err}"
    );
    assert_eq!(ingestor.refresh_features().await.unwrap().batches, 2, "nothing withdrawn");
    let done = ingestor.withdraw("transactions/2011-01.csv", true).await.unwrap();
    assert_eq!(done.withdrawn.len(), 2, "both versions of the file: {done:?}");
    assert!(done.features_refreshed);
    let after = ingestor.refresh_features().await.unwrap();
    assert_eq!((after.batches, after.interactions), (0, 0));
    // Kept, not deleted: the silver table aside, the bytes in bronze, the report saying when.
    let silver = blobs.container("silver").await.unwrap();
    let table = first.outputs.silver.clone().unwrap();
    assert!(silver.get(&format!("{WITHDRAWN_PREFIX}{table}")).await.unwrap().is_some());
    assert!(silver.get(&table).await.unwrap().is_none());
    let bronze = blobs.container("bronze").await.unwrap();
    assert!(bronze.get(&first.outputs.bronze).await.unwrap().is_some());
    let reports = ingestor.reports(UploadKind::Transactions).await.unwrap();
    assert!(reports.iter().all(|r| r.withdrawn_at.is_some()), "{reports:?}");
    // Run again (as after a withdrawal cut short): nothing new, the features refreshed anyway.
    let again = ingestor.withdraw("uploads/Transactions/2011-01.csv", true).await.unwrap();
    assert_eq!((again.withdrawn.len(), again.already.len()), (0, 2), "{again:?}");

    // The withdrawn upload seen again (a restarted watcher, a redelivered event), or a copy of
    // its bytes written before the withdrawal under another name, stays withdrawn.
    for path in ["transactions/2011-01.csv", "transactions/2011-01 (1).csv"] {
        let seen = ingestor.ingest(path, &options).await.unwrap();
        let shopsense::ingest::IngestOutcome::Reported(seen) = seen else { panic!("skipped") };
        assert!(seen.duplicate_upload && seen.withdrawn_at.is_some(), "{path}: {seen:?}");
        assert!(seen.summary().contains("withdrawn at"), "{}", seen.summary());
    }
    assert_eq!(ingestor.refresh_features().await.unwrap().batches, 0);
    // The corrected bytes sent again are read again, not answered as a duplicate.
    let resent = upload(&ingestor, "transactions/2011-01.csv", corrected, &options).await;
    assert!(!resent.duplicate_upload && resent.withdrawn_at.is_none(), "{resent:?}");
    let now = ingestor.refresh_features().await.unwrap();
    assert_eq!((now.batches, now.interactions), (1, 1), "the corrected month alone");
    // Ambiguous or unknown names are refused, naming why.
    let short = ingestor.withdraw("0123456789abcdef", false).await.unwrap_err();
    assert!(short.to_string().contains("no transactions upload"), "{short}");
    // By sha256 too.
    let by_sha = ingestor.withdraw(&resent.sha256[..12], false).await.unwrap();
    assert_eq!(by_sha.withdrawn, [("transactions/2011-01.csv".to_owned(), resent.sha256.clone(), 1)]);
}

/// Once armed, "an ingest" rewrites a report just before the first conditional write to it.
#[derive(Debug, Default)]
struct ReportRewrittenFirst {
    armed: AtomicBool,
}

#[async_trait::async_trait]
impl BeforePut for ReportRewrittenFirst {
    async fn before_put(&self, silver: &dyn BlobStore, path: &str, options: &PutOptions) -> StoreResult<()> {
        if path.starts_with("reports/")
            && matches!(options.mode, PutMode::Update(_))
            && self.armed.swap(false, Ordering::SeqCst)
        {
            let now = silver.get(path).await?.expect("the report");
            silver.put(path, now.body, PutOptions::default()).await?;
        }
        Ok(())
    }
}

/// A report an ingest rewrote after the withdrawal read it is not overwritten with the old one
/// marked withdrawn: that batch is left (and said so in the log), to be withdrawn again.
#[tokio::test]
async fn a_report_rewritten_while_being_withdrawn_is_left_as_its_ingest_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let (blobs, silver) = HookedSilver::new(dir.path(), ReportRewrittenFirst::default()).await;
    let ingestor = shopsense::ingest::Ingestor::open(&blobs).await.unwrap();
    let report = upload(
        &ingestor,
        "transactions/a.csv",
        format!("{HEADER}{}", line(1, "85123A", 17850)),
        &IngestOptions::default(),
    )
    .await;
    blobs.hook().armed.store(true, Ordering::SeqCst);
    let done = ingestor.withdraw("transactions/a.csv", false).await.unwrap();
    assert!(done.withdrawn.is_empty(), "{done:?}");
    let stored = silver.get(&format!("reports/transactions/{}.json", report.sha256)).await.unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&stored.body).unwrap();
    assert!(stored["withdrawn_at"].is_null(), "{stored}");
    assert!(silver.head(&format!("transactions/{}.parquet", report.sha256)).await.unwrap().is_some());
    // Withdrawn again, with nothing in the way: withdrawn.
    let again = ingestor.withdraw("transactions/a.csv", false).await.unwrap();
    assert_eq!(again.withdrawn.len(), 1, "{again:?}");
}
