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
