//! The catch-up sweep: uploads the ingest trigger never saw are ingested once, the rest are
//! passed over by path and ETag.

use bytes::Bytes;
use shopsense::ingest::IngestOptions;
use shopsense::store::PutOptions;

use crate::support::{ingestor, sample, upload};

#[tokio::test]
async fn the_sweep_ingests_only_what_the_trigger_missed_and_a_replaced_file_again() {
    let (_dir, _blobs, ingestor) = ingestor().await;
    let options = IngestOptions { refresh_features: false, ..IngestOptions::default() };
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

    let sweep = ingestor.sweep(&options).await.unwrap();
    assert_eq!(sweep.ingested, ["transactions/b.csv"], "{sweep:?}");
    assert_eq!((sweep.already_handled, sweep.failed.len()), (1, 0), "{sweep:?}");
    let again = ingestor.sweep(&options).await.unwrap();
    assert!(again.ingested.is_empty() && again.already_handled == 2, "{again:?}");

    // Replaced under the same name: read again. The same bytes under a new ETag count once.
    ingestor.uploads().put("transactions/a.csv", Bytes::from(first), PutOptions::default()).await.unwrap();
    let replaced = ingestor.sweep(&options).await.unwrap();
    assert_eq!(replaced.ingested, ["transactions/a.csv"], "{replaced:?}");

    // A file no kind claims lands in bronze, fails for good, and is not read every night.
    ingestor
        .uploads()
        .put("misc/notes.txt", Bytes::from_static(b"hello"), PutOptions::default())
        .await
        .unwrap();
    let unclaimed = ingestor.sweep(&options).await.unwrap();
    assert_eq!(unclaimed.failed.len(), 1, "{unclaimed:?}");
    assert!(unclaimed.failed[0].1.contains("misc/notes.txt"), "{unclaimed:?}");
    assert!(ingestor.sweep(&options).await.unwrap().failed.is_empty(), "remembered as handled");
}
