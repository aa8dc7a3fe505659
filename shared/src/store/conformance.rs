//! The one conformance suite every storage backend passes.
//!
//! Each check is an `async fn` taking the trait object, so the same code runs against the
//! folder and embedded backends in unit tests and against Azurite and the Cosmos DB emulator in
//! integration tests (one test per check, so a failure names the behaviour). Checks panic with a
//! message on failure, like assertions. Each expects an empty container of its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::{BlobStore, Direction, Document, DocumentStore, ETag, Op, PutOptions, Query, StoreError};

/// Every blob check in turn, on one store (each check uses its own path prefix).
pub async fn blob_store_suite(store: Arc<dyn BlobStore>) {
    blob_round_trips_bytes_and_metadata(&*store).await;
    blob_missing_is_none_not_an_error(&*store).await;
    blob_create_only_refuses_an_existing_blob(&*store).await;
    blob_update_requires_the_current_etag(&*store).await;
    blob_list_is_by_prefix_and_sorted(&*store).await;
    blob_delete_reports_whether_it_existed(&*store).await;
    blob_delete_if_requires_the_current_etag(&*store).await;
    blob_rejects_invalid_paths_and_metadata(&*store).await;
    blob_parallel_creates_have_exactly_one_winner(store.clone()).await;
}

/// Every document check in turn, on one store (each check uses its own partition).
pub async fn document_store_suite(store: Arc<dyn DocumentStore>) {
    document_round_trips_with_an_etag(&*store).await;
    document_missing_is_none_not_an_error(&*store).await;
    document_create_refuses_an_existing_id(&*store).await;
    document_replace_requires_the_current_etag(&*store).await;
    document_query_filters_orders_and_limits_within_a_partition(&*store).await;
    document_delete_reports_whether_it_existed(&*store).await;
    document_rejects_reserved_fields_and_bad_queries(&*store).await;
    document_parallel_replaces_have_exactly_one_winner(store.clone()).await;
    document_batches_write_and_delete_every_document(&*store).await;
}

/// Bytes (including non-UTF-8 and empty bodies), content type and metadata come back as written;
/// `head` agrees with `get`; every write changes the ETag.
pub async fn blob_round_trips_bytes_and_metadata(store: &dyn BlobStore) {
    let body = Bytes::from_static(b"\x00\xffsku,qty\n\"a,b\",1\n");
    let options = PutOptions::default()
        .with_content_type("text/csv")
        .with_metadata("sha256", "abc123")
        .with_metadata("kind", "transactions");
    let written = store.put("rt/one.csv", body.clone(), options).await.expect("put");
    assert_eq!(written.size, body.len() as u64, "size after put");
    let read = store.get("rt/one.csv").await.expect("get").expect("blob present");
    assert_eq!(read.body, body, "bytes round-trip exactly");
    assert_eq!(read.meta.etag, written.etag, "get returns the put's etag");
    assert_eq!(read.meta.content_type.as_deref(), Some("text/csv"));
    assert_eq!(read.meta.metadata.get("sha256").map(String::as_str), Some("abc123"));
    assert_eq!(read.meta.metadata.get("kind").map(String::as_str), Some("transactions"));
    let head = store.head("rt/one.csv").await.expect("head").expect("head present");
    assert_eq!(head.etag, written.etag);
    assert_eq!(head.size, body.len() as u64);
    assert_eq!(head.metadata, read.meta.metadata);
    assert!(store.exists("rt/one.csv").await.expect("exists"));

    let again =
        store.put("rt/one.csv", Bytes::from_static(b"v2"), PutOptions::default()).await.expect("overwrite");
    assert_ne!(again.etag, written.etag, "an overwrite changes the etag");
    let read = store.get("rt/one.csv").await.expect("get").expect("present");
    assert_eq!(&read.body[..], b"v2");
    assert!(read.meta.metadata.is_empty(), "an overwrite replaces metadata");

    store.put("rt/empty", Bytes::new(), PutOptions::default()).await.expect("empty put");
    let empty = store.get("rt/empty").await.expect("get").expect("present");
    assert!(empty.body.is_empty() && empty.meta.size == 0, "empty blobs are blobs");
}

/// Reading, heading or checking a missing blob is `Ok(None)` / `Ok(false)`.
pub async fn blob_missing_is_none_not_an_error(store: &dyn BlobStore) {
    assert!(store.get("missing/nothing.bin").await.expect("get").is_none());
    assert!(store.head("missing/nothing.bin").await.expect("head").is_none());
    assert!(!store.exists("missing/nothing.bin").await.expect("exists"));
}

/// `PutMode::Create` writes once, then fails with `AlreadyExists` and leaves the blob alone.
pub async fn blob_create_only_refuses_an_existing_blob(store: &dyn BlobStore) {
    store.put("create/a", Bytes::from_static(b"first"), PutOptions::create()).await.expect("first create");
    let err = store.put("create/a", Bytes::from_static(b"second"), PutOptions::create()).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "expected AlreadyExists, got {err:?}");
    let kept = store.get("create/a").await.expect("get").expect("present");
    assert_eq!(&kept.body[..], b"first", "a refused create changes nothing");
}

/// `PutMode::Update` succeeds with the current ETag, fails with `Precondition` on a stale one
/// and with `NotFound` when there is nothing to update.
pub async fn blob_update_requires_the_current_etag(store: &dyn BlobStore) {
    let v1 = store.put("update/a", Bytes::from_static(b"v1"), PutOptions::default()).await.expect("put");
    let v2 = store
        .put("update/a", Bytes::from_static(b"v2"), PutOptions::update(v1.etag.clone()))
        .await
        .expect("update");
    let err =
        store.put("update/a", Bytes::from_static(b"v3"), PutOptions::update(v1.etag)).await.unwrap_err();
    assert!(matches!(err, StoreError::Precondition { .. }), "stale etag: expected Precondition, got {err:?}");
    assert_eq!(&store.get("update/a").await.expect("get").expect("present").body[..], b"v2");
    let err =
        store.put("update/none", Bytes::from_static(b"x"), PutOptions::update(v2.etag)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "missing blob: expected NotFound, got {err:?}");
    assert!(store.get("update/none").await.expect("get").is_none(), "a refused update creates nothing");
}

/// Listing is by plain string prefix (not by folder), recursive and sorted by path.
pub async fn blob_list_is_by_prefix_and_sorted(store: &dyn BlobStore) {
    for path in ["list/b/2.csv", "list/a.csv", "list/b/1.csv", "listing.csv", "other/list/x"] {
        store.put(path, Bytes::from(path.to_owned()), PutOptions::default()).await.expect("put");
    }
    let paths = |metas: Vec<super::BlobMeta>| metas.into_iter().map(|m| m.path).collect::<Vec<_>>();
    assert_eq!(
        paths(store.list("list/").await.expect("list")),
        ["list/a.csv", "list/b/1.csv", "list/b/2.csv"]
    );
    assert_eq!(
        paths(store.list("list").await.expect("list")),
        ["list/a.csv", "list/b/1.csv", "list/b/2.csv", "listing.csv"]
    );
    assert!(store.list("nothing-here/").await.expect("list").is_empty());
    let listed = store.list("list/a").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, "list/a.csv".len() as u64, "listing reports sizes");
}

/// Delete answers `true` once and `false` after; the blob is gone.
pub async fn blob_delete_reports_whether_it_existed(store: &dyn BlobStore) {
    store.put("delete/a", Bytes::from_static(b"x"), PutOptions::default()).await.expect("put");
    assert!(store.delete("delete/a").await.expect("delete"), "first delete finds it");
    assert!(!store.delete("delete/a").await.expect("delete"), "second delete finds nothing");
    assert!(store.get("delete/a").await.expect("get").is_none());
}

/// A conditional delete removes the blob only at the ETag given: one written since stays.
pub async fn blob_delete_if_requires_the_current_etag(store: &dyn BlobStore) {
    let v1 = store.put("delete-if/a", Bytes::from_static(b"v1"), PutOptions::default()).await.expect("put");
    let v2 = store.put("delete-if/a", Bytes::from_static(b"v2"), PutOptions::default()).await.expect("put");
    let err = store.delete_if("delete-if/a", &v1.etag).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Precondition { .. }),
        "written since: expected Precondition, got {err:?}"
    );
    assert_eq!(&store.get("delete-if/a").await.expect("get").expect("kept").body[..], b"v2");
    assert!(store.delete_if("delete-if/a", &v2.etag).await.expect("delete_if"), "at its ETag it goes");
    assert!(store.get("delete-if/a").await.expect("get").is_none());
    assert!(!store.delete_if("delete-if/a", &v2.etag).await.expect("delete_if"), "gone: false");
}

/// Paths that could escape or be ambiguous and metadata a blob service would refuse are
/// `Invalid` before anything is written.
pub async fn blob_rejects_invalid_paths_and_metadata(store: &dyn BlobStore) {
    for path in ["", "../escape", "a//b", "/abs", "trailing/"] {
        let err = store.put(path, Bytes::from_static(b"x"), PutOptions::default()).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "path {path:?}: expected Invalid, got {err:?}");
    }
    let bad =
        PutOptions { metadata: BTreeMap::from([("Bad-Key".into(), "v".into())]), ..PutOptions::default() };
    let err = store.put("invalid/meta", Bytes::from_static(b"x"), bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "metadata: expected Invalid, got {err:?}");
    assert!(store.get("invalid/meta").await.expect("get").is_none());
}

/// Eight concurrent create-only puts of one path: exactly one succeeds, the rest get
/// `AlreadyExists`, and the stored bytes are the winner's.
pub async fn blob_parallel_creates_have_exactly_one_winner(store: Arc<dyn BlobStore>) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let body = Bytes::from(format!("writer {i}"));
                store.put("parallel/lease", body, PutOptions::create()).await.map(|_| i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(i) => winners.push(i),
            Err(StoreError::AlreadyExists { .. }) => {}
            Err(other) => panic!("parallel create: unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins, got {winners:?}");
    let stored = store.get("parallel/lease").await.expect("get").expect("present");
    assert_eq!(stored.body, Bytes::from(format!("writer {}", winners[0])));
}

fn doc(partition: &str, id: &str, body: serde_json::Value) -> Document {
    Document::new(partition, id, &body).expect("document")
}

/// A document comes back with its body (nested values intact) and an ETag that every write
/// changes; ids and partitions are independent keys.
pub async fn document_round_trips_with_an_etag(store: &dyn DocumentStore) {
    let body = json!({"sku": "85123A", "score": 0.75, "tags": ["a", "b"], "nested": {"n": 1}, "text": "ünï"});
    let first = store.upsert(&doc("rt", "item-1", body.clone())).await.expect("upsert");
    let read = store.get("rt", "item-1").await.expect("get").expect("present");
    assert_eq!(serde_json::Value::Object(read.body.clone()), body, "body round-trips without system fields");
    assert_eq!(read.etag.as_ref(), Some(&first), "get returns the write's etag");
    assert_eq!((read.partition.as_str(), read.id.as_str()), ("rt", "item-1"));
    let second = store.upsert(&doc("rt", "item-1", json!({"score": 1}))).await.expect("upsert again");
    assert_ne!(first, second, "every write changes the etag");
    assert_eq!(store.get("rt", "item-1").await.expect("get").expect("present").body["score"], json!(1));
    store.upsert(&doc("rt-other", "item-1", json!({"score": 2}))).await.expect("same id, other partition");
    assert_eq!(store.get("rt", "item-1").await.expect("get").expect("present").body["score"], json!(1));
}

/// Reading or querying what is not there is `Ok(None)` / empty, not an error.
pub async fn document_missing_is_none_not_an_error(store: &dyn DocumentStore) {
    assert!(store.get("missing", "nobody").await.expect("get").is_none());
    assert!(store.query("missing", &Query::all()).await.expect("query").is_empty());
}

/// `create` refuses an id that exists in the partition with `AlreadyExists`.
pub async fn document_create_refuses_an_existing_id(store: &dyn DocumentStore) {
    store.create(&doc("create", "a", json!({"v": 1}))).await.expect("first create");
    let err = store.create(&doc("create", "a", json!({"v": 2}))).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "expected AlreadyExists, got {err:?}");
    assert_eq!(store.get("create", "a").await.expect("get").expect("present").body["v"], json!(1));
}

/// `replace` works with the current ETag, fails with `Precondition` on a stale one (the
/// 412 of the wire) and with `NotFound` when the document does not exist.
pub async fn document_replace_requires_the_current_etag(store: &dyn DocumentStore) {
    let v1 = store.create(&doc("replace", "ptr", json!({"live": "v1"}))).await.expect("create");
    let v2 = store.replace(&doc("replace", "ptr", json!({"live": "v2"})), &v1).await.expect("replace");
    let err = store.replace(&doc("replace", "ptr", json!({"live": "v3"})), &v1).await.unwrap_err();
    assert!(matches!(err, StoreError::Precondition { .. }), "stale etag: expected Precondition, got {err:?}");
    assert_eq!(store.get("replace", "ptr").await.expect("get").expect("present").body["live"], json!("v2"));
    let err = store.replace(&doc("replace", "absent", json!({})), &v2).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "missing: expected NotFound, got {err:?}");
}

/// Queries see only their partition, apply every filter with its parameter, order and limit;
/// unordered results come sorted by id. (No ties in the ordered field: their order is not
/// promised across backends.)
pub async fn document_query_filters_orders_and_limits_within_a_partition(store: &dyn DocumentStore) {
    let rows = [
        ("a1", "high", 5.0, "85123A"),
        ("a2", "low", 1.5, "22423"),
        ("a3", "high", 9.25, "84879"),
        ("a4", "medium", 5.5, "47566"),
        ("a5", "high", 2.0, "20725"),
    ];
    for (id, severity, score, sku) in rows {
        store
            .upsert(&doc("q", id, json!({"severity": severity, "score": score, "sku": sku})))
            .await
            .expect("upsert");
    }
    store.upsert(&doc("q-other", "z1", json!({"severity": "high", "score": 100.0}))).await.expect("upsert");
    let ids = |docs: Vec<Document>| docs.into_iter().map(|d| d.id).collect::<Vec<_>>();

    assert_eq!(ids(store.query("q", &Query::all()).await.expect("all")), ["a1", "a2", "a3", "a4", "a5"]);
    let high = Query::all().filter("severity", Op::Eq, "high");
    assert_eq!(ids(store.query("q", &high).await.expect("eq")), ["a1", "a3", "a5"]);
    let by_score = high.clone().order_by("score", Direction::Desc);
    assert_eq!(ids(store.query("q", &by_score).await.expect("order")), ["a3", "a1", "a5"]);
    assert_eq!(ids(store.query("q", &by_score.limit(2)).await.expect("limit")), ["a3", "a1"]);
    let range = Query::all()
        .filter("score", Op::Ge, 2.0)
        .filter("score", Op::Lt, 9)
        .order_by("score", Direction::Asc);
    assert_eq!(ids(store.query("q", &range).await.expect("range")), ["a5", "a1", "a4"]);
    let not_high = Query::all().filter("severity", Op::Ne, "high");
    assert_eq!(ids(store.query("q", &not_high).await.expect("ne")), ["a2", "a4"]);
    let tricky = Query::all().filter("sku", Op::Eq, "x' OR 1=1 --");
    assert!(
        store.query("q", &tricky).await.expect("parameterised").is_empty(),
        "values are parameters, not SQL"
    );
    let read = store.query("q", &Query::all().filter("sku", Op::Eq, "84879")).await.expect("query");
    assert!(read[0].etag.is_some(), "queried documents carry their etag");
}

/// Delete answers `true` once and `false` after.
pub async fn document_delete_reports_whether_it_existed(store: &dyn DocumentStore) {
    store.upsert(&doc("delete", "a", json!({}))).await.expect("upsert");
    assert!(store.delete("delete", "a").await.expect("delete"));
    assert!(!store.delete("delete", "a").await.expect("delete again"));
    assert!(store.get("delete", "a").await.expect("get").is_none());
}

/// Reserved fields, ids with `/`, and queries on non-identifier fields are `Invalid` before
/// anything reaches the backend.
pub async fn document_rejects_reserved_fields_and_bad_queries(store: &dyn DocumentStore) {
    let reserved = store.upsert(&doc("bad", "a", json!({"_etag": "x"}))).await.unwrap_err();
    assert!(matches!(reserved, StoreError::Invalid { .. }), "reserved field: got {reserved:?}");
    let slash = store.upsert(&doc("bad", "a/b", json!({}))).await.unwrap_err();
    assert!(matches!(slash, StoreError::Invalid { .. }), "slash in id: got {slash:?}");
    let field = store.query("bad", &Query::all().filter("a) OR (1", Op::Eq, 1)).await.unwrap_err();
    assert!(matches!(field, StoreError::Invalid { .. }), "bad field: got {field:?}");
    assert!(store.query("bad", &Query::all()).await.expect("query").is_empty(), "nothing was written");
}

/// Eight concurrent replaces over the same ETag: exactly one wins, the rest get `Precondition`.
pub async fn document_parallel_replaces_have_exactly_one_winner(store: Arc<dyn DocumentStore>) {
    let etag: ETag = store.create(&doc("parallel", "pointer", json!({"live": "v0"}))).await.expect("create");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, etag) = (store.clone(), etag.clone());
            tokio::spawn(async move {
                store
                    .replace(&doc("parallel", "pointer", json!({"live": format!("v{}", i + 1)})), &etag)
                    .await
                    .map(|_| i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(i) => winners.push(i),
            Err(StoreError::Precondition { .. }) => {}
            Err(other) => panic!("parallel replace: unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one replace wins, got {winners:?}");
    let live = store.get("parallel", "pointer").await.expect("get").expect("present");
    assert_eq!(live.body["live"], json!(format!("v{}", winners[0] + 1)));
}

/// `upsert_many` writes every document (over existing ones too) and `delete_many` removes every
/// key, missing keys included.
pub async fn document_batches_write_and_delete_every_document(store: &dyn DocumentStore) {
    let docs: Vec<Document> =
        (0..40).map(|i| doc(&format!("batch-{}", i % 3), &format!("d{i:02}"), json!({ "n": i }))).collect();
    store.upsert(&doc("batch-0", "d00", json!({ "n": -1 }))).await.expect("upsert");
    store.upsert_many(&docs).await.expect("upsert_many");
    for d in &docs {
        let found = store.get(&d.partition, &d.id).await.expect("get").expect("written");
        assert_eq!(found.body, d.body, "{}", d.key());
    }
    let mut keys: Vec<(String, String)> = docs.iter().map(|d| (d.partition.clone(), d.id.clone())).collect();
    keys.push(("batch-0".into(), "never-written".into()));
    store.delete_many(&keys).await.expect("delete_many");
    for partition in ["batch-0", "batch-1", "batch-2"] {
        assert!(store.query(partition, &Query::all()).await.expect("query").is_empty(), "{partition}");
    }
}
