//! The local backends through `Stores::open`, as the local runner opens them.

use shopsense::settings::Settings;
use shopsense::store::{Stores, conformance};

#[tokio::test]
async fn stores_opened_from_empty_settings_are_the_local_backends_under_home_and_pass_conformance() {
    let home = tempfile::tempdir().unwrap();
    let values = [("SHOPSENSE_HOME".to_owned(), home.path().display().to_string())].into();
    let settings = Settings::from_values(values, None).unwrap();
    let stores = Stores::open(&settings).await.unwrap();
    conformance::blob_store_suite(stores.blobs.container("conformance").await.unwrap()).await;
    conformance::document_store_suite(stores.documents.container("conformance").await.unwrap()).await;
    assert!(home.path().join("blobs/conformance").is_dir(), "blobs live under home");
    assert!(home.path().join("documents.redb").is_file(), "documents live under home");
}
