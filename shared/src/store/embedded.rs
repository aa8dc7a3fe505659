//! The local document backend: one embedded redb file, no server to install.
//!
//! Each document container is a redb table `docs/<name>` keyed by `(partition, id)`, so a
//! partition's documents are one contiguous key range and a partition query is a range scan.
//! redb's single-writer transactions make conditional writes atomic, and each commit is
//! durable before it returns. redb locks its file: one process opens a given database at a time
//! (the local runner holds it; other commands talk to the runner or use another `--home`).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Document, DocumentDatabase, DocumentStore, ETag, Query, StoreError, StoreResult, validate_key_part,
};

const BACKEND: &str = "embedded";

/// The redb file holding every local document container.
#[derive(Clone)]
pub struct EmbeddedDatabase {
    db: Arc<Database>,
    path: String,
}

impl std::fmt::Debug for EmbeddedDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbeddedDatabase({})", self.path)
    }
}

fn db_error(doing: &str, e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    StoreError::backend(BACKEND, format!("{doing}: {e}"), false, e)
}

impl EmbeddedDatabase {
    /// Opens or creates the database file (and its folder).
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::backend(BACKEND, format!("create {}", dir.display()), false, e))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Config(format!(
                "{} is open in another process: a running `shopsense local`, `train`, `ingest` or other \
                 command on this home (the local backend lets one process at a time use a home); wait \
                 for it to finish or stop it, or use another --home",
                path.display()
            )),
            other => db_error(&format!("open {}", path.display()), other),
        })?;
        Ok(Self { db: Arc::new(db), path: path.display().to_string() })
    }

    /// Opens one container directly (the trait method returns it as a trait object).
    pub fn open_container(&self, name: &str) -> StoreResult<EmbeddedContainer> {
        validate_key_part("container name", name)?;
        let container = EmbeddedContainer { db: self.db.clone(), table: format!("docs/{name}") };
        // Create the table now, so reads of an empty container find it.
        let txn = self.db.begin_write().map_err(|e| db_error("begin write", e))?;
        txn.open_table(container.definition()).map_err(|e| db_error("create table", e))?;
        txn.commit().map_err(|e| db_error("commit", e))?;
        Ok(container)
    }
}

#[async_trait]
impl DocumentDatabase for EmbeddedDatabase {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn DocumentStore>> {
        let (this, name) = (self.clone(), name.to_owned());
        let container = blocking(move || this.open_container(&name)).await?;
        Ok(Arc::new(container))
    }
}

/// One document container (a redb table).
#[derive(Clone)]
pub struct EmbeddedContainer {
    db: Arc<Database>,
    table: String,
}

impl std::fmt::Debug for EmbeddedContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbeddedContainer({})", self.table)
    }
}

/// How a document is stored: its ETag beside its body.
#[derive(Serialize, Deserialize)]
struct Stored {
    etag: String,
    body: Map<String, Value>,
}

/// The write condition of [`EmbeddedContainer::write`].
enum Condition<'a> {
    Always,
    Absent,
    Matches(&'a ETag),
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::backend(BACKEND, "blocking task failed", false, e))?
}

fn decode(partition: &str, id: &str, bytes: &[u8]) -> StoreResult<Document> {
    let stored: Stored = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::backend(BACKEND, format!("decode {partition}/{id}"), false, e))?;
    Ok(Document {
        id: id.to_owned(),
        partition: partition.to_owned(),
        body: stored.body,
        etag: Some(ETag(stored.etag)),
    })
}

impl EmbeddedContainer {
    fn definition(&self) -> TableDefinition<'_, (&'static str, &'static str), &'static [u8]> {
        TableDefinition::new(&self.table)
    }

    fn write(&self, doc: &Document, condition: &Condition<'_>) -> StoreResult<ETag> {
        doc.validate()?;
        let etag = ETag(format!("\"{}\"", uuid::Uuid::new_v4().simple()));
        let bytes = serde_json::to_vec(&Stored { etag: etag.0.clone(), body: doc.body.clone() })
            .map_err(|e| StoreError::backend(BACKEND, "encode document", false, e))?;
        let txn = self.db.begin_write().map_err(|e| db_error("begin write", e))?;
        {
            let mut table = txn.open_table(self.definition()).map_err(|e| db_error("open table", e))?;
            let key = (doc.partition.as_str(), doc.id.as_str());
            let current = table
                .get(key)
                .map_err(|e| db_error("read", e))?
                .map(|guard| decode(&doc.partition, &doc.id, guard.value()))
                .transpose()?;
            match (condition, current) {
                (Condition::Absent, Some(_)) => return Err(StoreError::AlreadyExists { what: doc.key() }),
                (Condition::Matches(_), None) => return Err(StoreError::NotFound { what: doc.key() }),
                (Condition::Matches(expected), Some(found)) if found.etag.as_ref() != Some(*expected) => {
                    return Err(StoreError::Precondition { what: doc.key() });
                }
                _ => {}
            }
            table.insert(key, bytes.as_slice()).map_err(|e| db_error("insert", e))?;
        }
        txn.commit().map_err(|e| db_error("commit", e))?;
        Ok(etag)
    }

    /// Writes every document in one transaction (one fsync), unconditionally.
    fn upsert_all(&self, docs: &[Document]) -> StoreResult<()> {
        let txn = self.db.begin_write().map_err(|e| db_error("begin write", e))?;
        {
            let mut table = txn.open_table(self.definition()).map_err(|e| db_error("open table", e))?;
            for doc in docs {
                doc.validate()?;
                let etag = format!("\"{}\"", uuid::Uuid::new_v4().simple());
                let bytes = serde_json::to_vec(&Stored { etag, body: doc.body.clone() })
                    .map_err(|e| StoreError::backend(BACKEND, "encode document", false, e))?;
                table
                    .insert((doc.partition.as_str(), doc.id.as_str()), bytes.as_slice())
                    .map_err(|e| db_error("insert", e))?;
            }
        }
        txn.commit().map_err(|e| db_error("commit", e))
    }

    /// Removes every key in one transaction.
    fn delete_all(&self, keys: &[(String, String)]) -> StoreResult<()> {
        let txn = self.db.begin_write().map_err(|e| db_error("begin write", e))?;
        {
            let mut table = txn.open_table(self.definition()).map_err(|e| db_error("open table", e))?;
            for (partition, id) in keys {
                table.remove((partition.as_str(), id.as_str())).map_err(|e| db_error("remove", e))?;
            }
        }
        txn.commit().map_err(|e| db_error("commit", e))
    }

    fn get_blocking(&self, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        let txn = self.db.begin_read().map_err(|e| db_error("begin read", e))?;
        let table = txn.open_table(self.definition()).map_err(|e| db_error("open table", e))?;
        let found = table.get((partition, id)).map_err(|e| db_error("read", e))?;
        found.map(|guard| decode(partition, id, guard.value())).transpose()
    }

    fn delete_blocking(&self, partition: &str, id: &str) -> StoreResult<bool> {
        let txn = self.db.begin_write().map_err(|e| db_error("begin write", e))?;
        let existed = {
            let mut table = txn.open_table(self.definition()).map_err(|e| db_error("open table", e))?;
            table.remove((partition, id)).map_err(|e| db_error("remove", e))?.is_some()
        };
        txn.commit().map_err(|e| db_error("commit", e))?;
        Ok(existed)
    }

    fn query_blocking(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>> {
        let txn = self.db.begin_read().map_err(|e| db_error("begin read", e))?;
        let table = txn.open_table(self.definition()).map_err(|e| db_error("open table", e))?;
        let mut docs = Vec::new();
        for entry in table.range((partition, "")..).map_err(|e| db_error("scan", e))? {
            let (key, value) = entry.map_err(|e| db_error("scan", e))?;
            let (p, id) = key.value();
            if p != partition {
                break;
            }
            let doc = decode(p, id, value.value())?;
            if query.matches(&doc) {
                docs.push(doc);
            }
        }
        Ok(query.apply(docs))
    }
}

#[async_trait]
impl DocumentStore for EmbeddedContainer {
    fn location(&self) -> String {
        format!("embedded table {}", self.table)
    }

    async fn upsert(&self, doc: &Document) -> StoreResult<ETag> {
        let (this, doc) = (self.clone(), doc.clone());
        blocking(move || this.write(&doc, &Condition::Always)).await
    }

    async fn create(&self, doc: &Document) -> StoreResult<ETag> {
        let (this, doc) = (self.clone(), doc.clone());
        blocking(move || this.write(&doc, &Condition::Absent)).await
    }

    async fn upsert_many(&self, docs: &[Document]) -> StoreResult<()> {
        let (this, docs) = (self.clone(), docs.to_vec());
        blocking(move || this.upsert_all(&docs)).await
    }

    async fn delete_many(&self, keys: &[(String, String)]) -> StoreResult<()> {
        let (this, keys) = (self.clone(), keys.to_vec());
        blocking(move || this.delete_all(&keys)).await
    }

    async fn replace(&self, doc: &Document, if_match: &ETag) -> StoreResult<ETag> {
        let (this, doc, etag) = (self.clone(), doc.clone(), if_match.clone());
        blocking(move || this.write(&doc, &Condition::Matches(&etag))).await
    }

    async fn get(&self, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        validate_key_part("partition key", partition)?;
        validate_key_part("document id", id)?;
        let (this, partition, id) = (self.clone(), partition.to_owned(), id.to_owned());
        blocking(move || this.get_blocking(&partition, &id)).await
    }

    async fn delete(&self, partition: &str, id: &str) -> StoreResult<bool> {
        validate_key_part("partition key", partition)?;
        validate_key_part("document id", id)?;
        let (this, partition, id) = (self.clone(), partition.to_owned(), id.to_owned());
        blocking(move || this.delete_blocking(&partition, &id)).await
    }

    async fn query(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>> {
        validate_key_part("partition key", partition)?;
        query.validate()?;
        let (this, partition, query) = (self.clone(), partition.to_owned(), query.clone());
        blocking(move || this.query_blocking(&partition, &query)).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::conformance;

    #[tokio::test]
    async fn the_embedded_backend_passes_the_document_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDatabase::open(&dir.path().join("docs.redb")).unwrap();
        conformance::document_store_suite(db.container("conformance").await.unwrap()).await;
    }

    #[tokio::test]
    async fn documents_survive_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.redb");
        {
            let db = EmbeddedDatabase::open(&path).unwrap();
            let c = db.container("alerts").await.unwrap();
            c.upsert(&Document::new("p", "a", &json!({"v": 1})).unwrap()).await.unwrap();
        }
        let db = EmbeddedDatabase::open(&path).unwrap();
        let c = db.container("alerts").await.unwrap();
        assert_eq!(c.get("p", "a").await.unwrap().unwrap().body["v"], json!(1));
        assert!(
            db.container("other").await.unwrap().get("p", "a").await.unwrap().is_none(),
            "containers are separate"
        );
    }

    #[tokio::test]
    async fn a_second_process_style_open_of_the_same_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.redb");
        let _first = EmbeddedDatabase::open(&path).unwrap();
        let err = EmbeddedDatabase::open(&path).unwrap_err();
        assert!(err.to_string().contains("another process"), "{err}");
    }
}
