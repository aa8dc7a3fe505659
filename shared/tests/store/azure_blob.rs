//! The Azure Blob backend against Azurite: every conformance check as its own test, then what
//! only this backend has (key and SAS auth, ETags across put/head/list, paging, names that
//! need escaping, block uploads). Each test works in a fresh container of its own.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shopsense::settings::{BlobAuth, BlobConnection, EMULATOR_ACCOUNT, EMULATOR_KEY, Secret};
use shopsense::store::azure_blob::AzureBlobService;
use shopsense::store::{BlobService, BlobStore, PutOptions, StoreError, conformance};

use crate::support::{emulator_env, unique_name};

fn connection(auth: BlobAuth) -> BlobConnection {
    BlobConnection { endpoint: emulator_env("SHOPSENSE_TEST_BLOB_ENDPOINT", "Azurite"), auth }
}

fn key_auth(key: &str) -> BlobAuth {
    BlobAuth::AccountKey { account: EMULATOR_ACCOUNT.into(), key: Secret::new(key) }
}

fn service() -> AzureBlobService {
    AzureBlobService::new(&connection(key_auth(EMULATOR_KEY))).expect("blob client")
}

async fn fresh_store() -> Arc<dyn BlobStore> {
    service().container(&unique_name()).await.expect("open a fresh container")
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
    blob_round_trips_bytes_and_metadata,
    blob_missing_is_none_not_an_error,
    blob_create_only_refuses_an_existing_blob,
    blob_update_requires_the_current_etag,
    blob_list_is_by_prefix_and_sorted,
    blob_delete_reports_whether_it_existed,
    blob_rejects_invalid_paths_and_metadata,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blob_parallel_creates_have_exactly_one_winner() {
    conformance::blob_parallel_creates_have_exactly_one_winner(fresh_store().await).await;
}

/// The whole suite in one container: the checks do not disturb each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_store_suite_in_one_container() {
    conformance::blob_store_suite(fresh_store().await).await;
}

#[tokio::test]
async fn etags_agree_between_put_get_head_and_list() {
    let store = fresh_store().await;
    let put = store.put("e/a.csv", Bytes::from_static(b"a,b\n"), PutOptions::default()).await.expect("put");
    let head = store.head("e/a.csv").await.expect("head").expect("present");
    let got = store.get("e/a.csv").await.expect("get").expect("present");
    let listed = store.list("e/").await.expect("list");
    assert_eq!(head.etag, put.etag);
    assert_eq!(got.meta.etag, put.etag);
    assert_eq!(listed[0].etag, put.etag, "listing ETags are written like header ETags");
    // An ETag from a listing is good for a conditional write.
    store
        .put("e/a.csv", Bytes::from_static(b"v2"), PutOptions::update(listed[0].etag.clone()))
        .await
        .expect("update");
}

#[tokio::test]
async fn listing_follows_every_page_and_reports_properties() {
    let store = service().open_container(&unique_name()).await.expect("container").with_list_page_size(2);
    for i in (0..7).rev() {
        let options = PutOptions::default().with_content_type("text/csv").with_metadata("row", i.to_string());
        store.put(&format!("paged/{i}.csv"), Bytes::from(vec![b'x'; i]), options).await.expect("put");
    }
    store.put("paged-not/x", Bytes::new(), PutOptions::default()).await.expect("put");
    let listed = store.list("paged/").await.expect("list");
    let paths: Vec<_> = listed.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "paged/0.csv",
            "paged/1.csv",
            "paged/2.csv",
            "paged/3.csv",
            "paged/4.csv",
            "paged/5.csv",
            "paged/6.csv"
        ]
    );
    for (i, meta) in listed.iter().enumerate() {
        assert_eq!(meta.size, i as u64, "{meta:?}");
        assert_eq!(meta.content_type.as_deref(), Some("text/csv"), "{meta:?}");
        assert_eq!(meta.metadata.get("row"), Some(&i.to_string()), "listing includes metadata: {meta:?}");
        assert!(meta.last_modified > Utc::now() - Duration::hours(1), "{meta:?}");
    }
    assert_eq!(store.list("").await.expect("list all").len(), 8);
}

#[tokio::test]
async fn names_that_need_escaping_round_trip() {
    let store = fresh_store().await;
    let paths = ["odd/na me+plus%25#hash?q=1.csv", "odd/ünïcødé/日本.txt", "odd/a;b,c&d=e@f"];
    for path in paths {
        store.put(path, Bytes::from(path.to_owned()), PutOptions::default()).await.expect("put");
        let got = store.get(path).await.expect("get").unwrap_or_else(|| panic!("{path:?} not found"));
        assert_eq!(got.body, Bytes::from(path.to_owned()));
    }
    let mut expected = paths.to_vec();
    expected.sort_unstable();
    let listed: Vec<_> = store.list("odd/").await.expect("list").into_iter().map(|m| m.path).collect();
    assert_eq!(listed, expected);
    for path in paths {
        assert!(store.delete(path).await.expect("delete"), "{path:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blobs_go_up_in_blocks_and_come_back_whole() {
    let store = fresh_store().await;
    // Over the client's 4 MiB partition size: staged blocks plus a commit, ranged downloads.
    let body: Bytes = (0..9 * 1024 * 1024 + 17).map(|i: usize| (i % 251) as u8).collect::<Vec<_>>().into();
    let put = store.put("big/blob.bin", body.clone(), PutOptions::create()).await.expect("put");
    assert_eq!(put.size, body.len() as u64);
    let got = store.get("big/blob.bin").await.expect("get").expect("present");
    assert_eq!(got.meta.size, body.len() as u64);
    assert!(got.body == body, "the bytes come back whole and in order");
    assert_eq!(got.meta.etag, put.etag);
    let err = store.put("big/blob.bin", body, PutOptions::create()).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "the commit carries If-None-Match: got {err:?}");
}

#[tokio::test]
async fn opening_a_container_again_is_fine_and_bad_names_are_refused() {
    let service = service();
    let name = unique_name();
    let first = service.container(&name).await.expect("create");
    first.put("k", Bytes::from_static(b"kept"), PutOptions::default()).await.expect("put");
    let again = service.container(&name).await.expect("open existing");
    assert_eq!(&again.get("k").await.expect("get").expect("present").body[..], b"kept");
    assert!(again.location().ends_with(&format!("/devstoreaccount1/{name}")), "{}", again.location());
    let err = service.container("Not_A_Container").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn a_wrong_key_gives_a_clear_permanent_403_error() {
    let wrong = STANDARD.encode([7u8; 64]);
    let service =
        AzureBlobService::new(&connection(key_auth(&wrong))).expect("client builds without a request");
    let err = service.container(&unique_name()).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Backend { backend: "azure-blob", transient: false, .. }), "{err:?}");
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(message.contains("container"), "says what it was doing: {message}");
    assert!(!message.contains("sig=") || message.contains("sig=REDACTED"), "{message}");
    assert!(!message.contains(&wrong), "{message}");
}

/// A ready SAS (signed here independently of the library) in place of a key.
#[tokio::test]
async fn a_ready_sas_token_works() {
    let (st, se) = (Utc::now() - Duration::minutes(5), Utc::now() + Duration::hours(1));
    let (st, se) = (st.format("%Y-%m-%dT%H:%M:%SZ").to_string(), se.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let to_sign = format!("{EMULATOR_ACCOUNT}\nrwdlc\nb\nsco\n{st}\n{se}\n\nhttps,http\n2022-11-02\n\n");
    let mut mac = Hmac::<Sha256>::new_from_slice(&STANDARD.decode(EMULATOR_KEY).unwrap()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let token = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("sv", "2022-11-02"), ("ss", "b"), ("srt", "sco"), ("sp", "rwdlc")])
        .extend_pairs([
            ("st", st.as_str()),
            ("se", se.as_str()),
            ("spr", "https,http"),
            ("sig", sig.as_str()),
        ])
        .finish();
    let service =
        AzureBlobService::new(&connection(BlobAuth::Sas(Secret::new(token.clone())))).expect("client");
    assert!(!format!("{service:?}").contains(&sig), "Debug hides the SAS");
    let store = service.container(&unique_name()).await.expect("container via SAS");
    store.put("s/a", Bytes::from_static(b"via sas"), PutOptions::default()).await.expect("put");
    assert_eq!(&store.get("s/a").await.expect("get").expect("present").body[..], b"via sas");
    assert_eq!(store.list("s/").await.expect("list").len(), 1);
}
