//! The Cosmos DB backend against the Cosmos DB emulator: every conformance check as its own
//! test, then what only this backend has (query results identical to the embedded backend's
//! for ties, mixed types and keyword-like field names; reconnecting to an existing database;
//! no key in debug output). Each test works in a fresh database of its own.

use std::sync::Arc;

use serde_json::{Value, json};
use shopsense::settings::{CosmosAuth, CosmosConnection, Secret};
use shopsense::store::cosmos::CosmosDatabase;
use shopsense::store::{Direction, Document, DocumentDatabase, DocumentStore, Op, Query, conformance};

use crate::support::{emulator_env, unique_name};

/// The Cosmos DB emulator's documented well-known key (public; the test server checks no key).
const EMULATOR_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU9DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

fn connection(database: &str) -> CosmosConnection {
    CosmosConnection {
        endpoint: emulator_env("SHOPSENSE_TEST_COSMOS_ENDPOINT", "Cosmos DB"),
        auth: CosmosAuth::Key(Secret::new(EMULATOR_KEY)),
        database: database.to_owned(),
    }
}

async fn fresh_store() -> Arc<dyn DocumentStore> {
    let database =
        CosmosDatabase::connect(&connection(&unique_name())).await.expect("connect to the emulator");
    database.container("conformance").await.expect("open a fresh container")
}

/// One test per conformance check, so a failure names the behaviour.
macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            conformance::$check(&*fresh_store().await).await;
        }
    )*};
}

conformance_tests!(
    document_round_trips_with_an_etag,
    document_missing_is_none_not_an_error,
    document_create_refuses_an_existing_id,
    document_replace_requires_the_current_etag,
    document_query_filters_orders_and_limits_within_a_partition,
    document_delete_reports_whether_it_existed,
    document_rejects_reserved_fields_and_bad_queries,
    document_batches_write_and_delete_every_document,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn document_parallel_replaces_have_exactly_one_winner() {
    conformance::document_parallel_replaces_have_exactly_one_winner(fresh_store().await).await;
}

/// The whole suite in one container: the checks do not disturb each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_store_suite_in_one_container() {
    conformance::document_store_suite(fresh_store().await).await;
}

fn doc(partition: &str, id: &str, body: &Value) -> Document {
    Document::new(partition, id, body).expect("document")
}

fn ids(docs: &[Document]) -> Vec<&str> {
    docs.iter().map(|d| d.id.as_str()).collect()
}

/// Writes `docs` and checks that each query answers exactly what [`Query::apply`] (the
/// embedded backend's semantics) answers over the same documents.
async fn assert_queries_match_apply(store: &dyn DocumentStore, docs: &[Document], queries: &[Query]) {
    for d in docs {
        store.upsert(d).await.expect("upsert");
    }
    for query in queries {
        let got = store.query(&docs[0].partition, query).await.expect("query");
        let want = query.apply(docs.to_vec());
        assert_eq!(ids(&got), ids(&want), "query {query:?}");
    }
}

#[tokio::test]
async fn ties_at_the_limit_are_broken_by_id_like_the_embedded_backend() {
    let store = fresh_store().await;
    // Ids written out of order, many sharing a score, so `TOP n` alone could cut anywhere.
    let docs: Vec<Document> = ["k", "c", "x", "a", "m", "b", "z", "d"]
        .iter()
        .enumerate()
        .map(|(i, id)| doc("ties", id, &json!({"score": if i % 3 == 0 { 1 } else { 2 }, "n": i})))
        .collect();
    let queries = [
        Query::all().order_by("score", Direction::Desc).limit(1),
        Query::all().order_by("score", Direction::Desc).limit(3),
        Query::all().order_by("score", Direction::Asc).limit(2),
        Query::all().order_by("score", Direction::Asc).limit(4),
        Query::all().order_by("score", Direction::Asc).limit(100),
        Query::all().filter("n", Op::Gt, 2).order_by("score", Direction::Desc).limit(2),
        Query::all().limit(3),
    ];
    assert_queries_match_apply(&*store, &docs, &queries).await;
}

#[tokio::test]
async fn mixed_types_and_missing_fields_follow_cosmos_semantics_like_the_embedded_backend() {
    let store = fresh_store().await;
    let docs = vec![
        doc("mixed", "n1", &json!({"v": 3})),
        doc("mixed", "n2", &json!({"v": 1.5})),
        doc("mixed", "s1", &json!({"v": "3"})),
        doc("mixed", "s2", &json!({"v": "apple"})),
        doc("mixed", "b1", &json!({"v": true})),
        doc("mixed", "b2", &json!({"v": false})),
        doc("mixed", "null", &json!({"v": null})),
        doc("mixed", "arr", &json!({"v": [1]})),
        doc("mixed", "none", &json!({"w": 1})),
    ];
    let queries = [
        Query::all(),
        Query::all().order_by("v", Direction::Asc),
        Query::all().order_by("v", Direction::Desc),
        Query::all().order_by("v", Direction::Desc).limit(3),
        Query::all().filter("v", Op::Gt, 1),
        Query::all().filter("v", Op::Ge, "3"),
        Query::all().filter("v", Op::Ne, 3),
        Query::all().filter("v", Op::Eq, true),
        Query::all().filter("v", Op::Lt, 3.0).order_by("v", Direction::Asc),
    ];
    assert_queries_match_apply(&*store, &docs, &queries).await;
}

#[tokio::test]
async fn fields_named_like_sql_keywords_can_be_filtered_and_ordered() {
    let store = fresh_store().await;
    let docs = vec![
        doc("kw", "a", &json!({"value": 2, "order": "x", "select": true})),
        doc("kw", "b", &json!({"value": 1, "order": "y", "select": true})),
        doc("kw", "c", &json!({"value": 3, "order": "x", "select": false})),
    ];
    let queries = [
        Query::all().filter("order", Op::Eq, "x").order_by("value", Direction::Desc),
        Query::all().filter("select", Op::Eq, true).order_by("order", Direction::Asc).limit(1),
    ];
    assert_queries_match_apply(&*store, &docs, &queries).await;
}

#[tokio::test]
async fn queries_return_every_document_of_a_large_partition() {
    let store = fresh_store().await;
    let docs: Vec<Document> = (0..230).map(|i| doc("big", &format!("d{i:04}"), &json!({"i": i}))).collect();
    assert_queries_match_apply(
        &*store,
        &docs,
        &[
            Query::all(),
            Query::all().order_by("i", Direction::Desc),
            Query::all().filter("i", Op::Ge, 100).limit(150),
        ],
    )
    .await;
}

#[tokio::test]
async fn reconnecting_to_an_existing_database_and_container_sees_the_same_documents() {
    let name = unique_name();
    let first = CosmosDatabase::connect(&connection(&name)).await.expect("connect");
    let etag = first
        .container("c")
        .await
        .expect("open")
        .upsert(&doc("p", "a", &json!({"v": 1})))
        .await
        .expect("upsert");
    let again = first.container("c").await.expect("open again from the cache");
    assert_eq!(again.get("p", "a").await.expect("get").expect("present").etag, Some(etag.clone()));

    let second = CosmosDatabase::connect(&connection(&name)).await.expect("reconnect: the database exists");
    let store = second.container("c").await.expect("reopen: the container exists");
    assert_eq!(store.get("p", "a").await.expect("get").expect("present").etag, Some(etag));
}

#[tokio::test]
async fn debug_output_and_locations_name_the_endpoint_and_database_but_never_the_key() {
    let name = unique_name();
    let database = CosmosDatabase::connect(&connection(&name)).await.expect("connect");
    let shown = format!("{database:?}");
    assert!(shown.contains(&name) && shown.contains("127.0.0.1"), "{shown}");
    let store = database.container("c").await.expect("open");
    let location = store.location();
    assert!(location.contains(&name) && location.contains('c'), "{location}");
    for text in [shown, location, format!("{store:?}")] {
        assert!(!text.contains(EMULATOR_KEY), "key leaked: {text}");
    }
}

#[tokio::test]
async fn invalid_names_are_refused_before_any_request() {
    let err = CosmosDatabase::connect(&connection("bad/name")).await.unwrap_err();
    assert!(matches!(err, shopsense::store::StoreError::Invalid { .. }), "{err:?}");
    let database = CosmosDatabase::connect(&connection(&unique_name())).await.expect("connect");
    let err = database.container("a#b").await.unwrap_err();
    assert!(matches!(err, shopsense::store::StoreError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transient_backend_error() {
    // A loopback port that nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let connection =
        CosmosConnection { endpoint: format!("https://127.0.0.1:{port}/"), ..connection(&unique_name()) };
    let err = CosmosDatabase::connect(&connection).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains(&connection.endpoint), "the message names the endpoint: {err}");
}

/// Each tokio runtime (each test, each CLI command) gets working connections: a client must
/// not reuse pooled connections whose tasks died with another runtime. Threads with runtimes
/// of their own start and finish at different times, as parallel tests do.
#[test]
fn databases_opened_in_many_tokio_runtimes_all_work() {
    let name = unique_name();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let name = name.clone();
            std::thread::spawn(move || {
                for round in 0..(20 + t) {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    runtime.block_on(async {
                        let database = CosmosDatabase::connect(&connection(&name)).await.expect("connect");
                        let store = database.container("c").await.expect("open");
                        let partition = format!("t{t}");
                        for i in 0..5 {
                            let id = format!("r{round}-{i}");
                            store.upsert(&doc(&partition, &id, &json!({}))).await.expect("upsert");
                        }
                        assert_eq!(
                            store.query(&partition, &Query::all()).await.expect("query").len(),
                            5 * (round + 1)
                        );
                    });
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread failed");
    }
}
