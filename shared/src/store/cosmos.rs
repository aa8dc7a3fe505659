//! Cosmos DB (NoSQL API) behind [`DocumentDatabase`] / [`DocumentStore`], with the official
//! `azure_data_cosmos` 1.x client.
//!
//! Authentication follows [`CosmosAuth`]:
//! - `Key`: the account key (emulators). Missing databases and containers are created.
//! - `Identity`: Entra ID tokens from `ManagedIdentityCredential` (user-assigned when a client
//!   id is given) or, on a workstation, `DeveloperToolsCredential` (Azure CLI, then azd).
//!   Data-plane RBAC cannot create databases or containers, so they must exist (infra creates
//!   them) and are only opened.
//!
//! Wire shape: a stored item is the document body plus `id` and `pk` (the container's
//! partition key path is `/pk`). Reads strip `id`, `pk` and every `_`-prefixed system field and
//! take the ETag from `_etag`.
//!
//! Queries are parameterised SQL scoped to one partition (the partition key is both the
//! request's scope and a `c.pk = @pk` condition, which the emulator needs). Field names are
//! validated identifiers and go in as `c["field"]`, so a field named like a keyword (`value`,
//! `order`) still works; values only ever travel as parameters. Results follow
//! [`Query::apply`] exactly: ties in `ORDER BY` are broken by id and unordered results come
//! sorted by id (see [`CosmosContainer::query`] for how `TOP` stays exact with ties).
//!
//! Errors: 404 on reads is `Ok(None)`/`false`; 409 on create is `AlreadyExists`; 412 on a
//! conditional replace is `Precondition`, 404 there is `NotFound`; everything else is
//! `Backend { backend: "cosmos" }`, transient for 408, 429, 449, 5xx and transport failures.
//! Messages say what was being done and carry the status code; never the key.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::Etag;
use azure_data_cosmos::clients::{ContainerClient, DatabaseClient};
use azure_data_cosmos::models::{ContainerProperties, ItemResponse, PartitionKeyDefinition};
use azure_data_cosmos::options::{ItemWriteOptions, Precondition};
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, CosmosClient, CosmosClientBuilder, CosmosError, CosmosRuntime,
    FeedScope, RoutingStrategy,
};
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use futures::TryStreamExt as _;
use serde_json::{Map, Value};

use super::blob::ETag;
use super::document::{Direction, Document, DocumentDatabase, DocumentStore, Query, validate_key_part};
use super::error::{StoreError, StoreResult};
use crate::settings::{CosmosAuth, CosmosConnection, IdentityCredential};

/// The `backend` name in [`StoreError::Backend`].
const BACKEND: &str = "cosmos";

/// The partition key path of every container we create or expect.
const PARTITION_KEY_PATH: &str = "/pk";

/// A Cosmos DB database reached through one shared `CosmosClient`.
pub struct CosmosDatabase {
    database: DatabaseClient,
    endpoint: String,
    name: String,
    /// Key auth may create databases and containers; Entra ID (data-plane RBAC) may not.
    can_create: bool,
    /// Opening a container reads its metadata and partition map: do it once per name.
    containers: Mutex<HashMap<String, Arc<CosmosContainer>>>,
}

impl fmt::Debug for CosmosDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosmosDatabase")
            .field("endpoint", &self.endpoint)
            .field("database", &self.name)
            .finish_non_exhaustive()
    }
}

impl CosmosDatabase {
    /// Builds the client (which reads the account's regions, so this talks to the service) and,
    /// under key auth, creates the database when missing.
    pub async fn connect(connection: &CosmosConnection) -> StoreResult<Self> {
        validate_key_part("Cosmos DB database name", &connection.database)?;
        let endpoint: AccountEndpoint = connection.endpoint.parse().map_err(|e| {
            StoreError::Config(format!("Cosmos DB endpoint {:?} is not a URL: {e}", connection.endpoint))
        })?;
        let (account, can_create) = match &connection.auth {
            CosmosAuth::Key(key) => (
                AccountReference::with_authentication_key(
                    endpoint,
                    azure_core::credentials::Secret::from(key.expose().to_owned()),
                ),
                true,
            ),
            CosmosAuth::Identity(identity) => {
                (AccountReference::with_credential(endpoint, token_credential(identity)?), false)
            }
        };
        // A runtime (connection pool, caches) of this client's own rather than the SDK's
        // process-wide one: pooled connections are tasks on the tokio runtime that opened them
        // and die with it, so a shared pool fails ("runtime dropped the dispatch task") as soon
        // as a second tokio runtime (another test, a CLI command) uses it.
        let runtime = CosmosRuntime::builder()
            .build()
            .await
            .map_err(|e| backend_error("setting up the Cosmos DB client runtime", &e))?;
        // No preferred regions: the account's own order (write region first) decides.
        let client: CosmosClient = CosmosClientBuilder::new()
            .with_runtime(runtime)
            .build(account, RoutingStrategy::PreferredRegions(Vec::new()))
            .await
            .map_err(|e| connect_error(&format!("connecting to Cosmos DB at {}", connection.endpoint), &e))?;
        if can_create {
            match client.create_database(&connection.database, None).await {
                Ok(_) => {}
                Err(e) if status(&e) == 409 => {}
                Err(e) => {
                    return Err(connect_error(&format!("creating database {:?}", connection.database), &e));
                }
            }
        }
        Ok(Self {
            database: client.database_client(connection.database.as_str()),
            endpoint: connection.endpoint.clone(),
            name: connection.database.clone(),
            can_create,
            containers: Mutex::new(HashMap::new()),
        })
    }

    async fn open(&self, name: &str) -> StoreResult<CosmosContainer> {
        if self.can_create {
            let properties =
                ContainerProperties::new(name.to_owned(), PartitionKeyDefinition::from(PARTITION_KEY_PATH));
            match self.database.create_container(properties, None).await {
                Ok(_) => {}
                Err(e) if status(&e) == 409 => {}
                Err(e) => return Err(backend_error(&format!("creating container {name:?}"), &e)),
            }
        }
        let client = self.database.container_client(name, None).await.map_err(|e| {
            if status(&e) == 404 && !self.can_create {
                StoreError::Config(format!(
                    "Cosmos DB container {name:?} does not exist in database {:?} at {} (with Entra ID \
                     auth it must be created by the infrastructure, partition key {PARTITION_KEY_PATH}): {e}",
                    self.name, self.endpoint
                ))
            } else {
                backend_error(&format!("opening container {name:?}"), &e)
            }
        })?;
        let location = format!("cosmos {} database {} container {name}", self.endpoint, self.name);
        Ok(CosmosContainer { client, location })
    }
}

#[async_trait]
impl DocumentDatabase for CosmosDatabase {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn DocumentStore>> {
        validate_key_part("Cosmos DB container name", name)?;
        if let Some(open) = self.containers.lock().expect("container cache lock").get(name) {
            return Ok(open.clone());
        }
        // Opened without holding the lock; a concurrent opener of the same name loses the race
        // harmlessly (both clients are equivalent) and the first one stays cached.
        let opened = Arc::new(self.open(name).await?);
        let mut containers = self.containers.lock().expect("container cache lock");
        Ok(containers.entry(name.to_owned()).or_insert(opened).clone())
    }
}

fn token_credential(identity: &IdentityCredential) -> StoreResult<Arc<dyn TokenCredential>> {
    let credential: Arc<dyn TokenCredential> = match identity {
        IdentityCredential::ManagedIdentity { client_id } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                ..ManagedIdentityCredentialOptions::default()
            };
            ManagedIdentityCredential::new(Some(options))
                .map_err(|e| StoreError::Config(format!("managed identity credential for Cosmos DB: {e}")))?
        }
        IdentityCredential::Developer => DeveloperToolsCredential::new(None).map_err(|e| {
            StoreError::Config(format!("developer credential (Azure CLI / azd) for Cosmos DB: {e}"))
        })?,
    };
    Ok(credential)
}

/// One Cosmos DB container whose partition key path is `/pk`.
pub struct CosmosContainer {
    client: ContainerClient,
    location: String,
}

impl fmt::Debug for CosmosContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosmosContainer").field("location", &self.location).finish_non_exhaustive()
    }
}

#[async_trait]
impl DocumentStore for CosmosContainer {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn upsert(&self, doc: &Document) -> StoreResult<ETag> {
        doc.validate()?;
        let response = self
            .client
            .upsert_item(doc.partition.clone(), &doc.id, wire_item(doc), None)
            .await
            .map_err(|e| backend_error(&format!("upserting document {}", doc.key()), &e))?;
        response_etag(&response, &doc.key())
    }

    async fn create(&self, doc: &Document) -> StoreResult<ETag> {
        doc.validate()?;
        match self.client.create_item(doc.partition.clone(), &doc.id, wire_item(doc), None).await {
            Ok(response) => response_etag(&response, &doc.key()),
            Err(e) if status(&e) == 409 => Err(StoreError::AlreadyExists { what: doc.key() }),
            Err(e) => Err(backend_error(&format!("creating document {}", doc.key()), &e)),
        }
    }

    async fn replace(&self, doc: &Document, if_match: &ETag) -> StoreResult<ETag> {
        doc.validate()?;
        let options = ItemWriteOptions::default()
            .with_precondition(Precondition::if_match(Etag::from(if_match.0.clone())));
        match self.client.replace_item(doc.partition.clone(), &doc.id, wire_item(doc), Some(options)).await {
            Ok(response) => response_etag(&response, &doc.key()),
            Err(e) if status(&e) == 412 => Err(StoreError::Precondition { what: doc.key() }),
            Err(e) if e.status().is_not_found() => Err(StoreError::NotFound { what: doc.key() }),
            Err(e) => Err(backend_error(&format!("replacing document {}", doc.key()), &e)),
        }
    }

    async fn get(&self, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        validate_key_part("partition key", partition)?;
        validate_key_part("document id", id)?;
        let key = format!("{partition}/{id}");
        match self.client.read_item(partition.to_owned(), id, None).await {
            Ok(response) => {
                let item: Map<String, Value> = response
                    .into_model()
                    .map_err(|e| backend_error(&format!("parsing document {key}"), &e))?;
                from_wire(item).map(Some)
            }
            Err(e) if e.status().is_not_found() => Ok(None),
            Err(e) => Err(backend_error(&format!("reading document {key}"), &e)),
        }
    }

    async fn delete(&self, partition: &str, id: &str) -> StoreResult<bool> {
        validate_key_part("partition key", partition)?;
        validate_key_part("document id", id)?;
        match self.client.delete_item(partition.to_owned(), id, None).await {
            Ok(_) => Ok(true),
            Err(e) if e.status().is_not_found() => Ok(false),
            Err(e) => Err(backend_error(&format!("deleting document {partition}/{id}"), &e)),
        }
    }

    /// With an order and a limit, `TOP n` alone is not exact: Cosmos breaks ties in `ORDER BY`
    /// arbitrarily, and a second `ORDER BY c.id` column needs a composite index. So this asks
    /// for `TOP n+1`; when the n-th and the (n+1)-th share the sort value, the documents with
    /// that value are fetched too, and [`Query::apply`] picks the exact first `n`.
    async fn query(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>> {
        validate_key_part("partition key", partition)?;
        query.validate()?;
        let Some((field, _)) = &query.order_by else {
            return Ok(query.apply(self.run(partition, &render_sql(query, query.limit, None)).await?));
        };
        let Some(n) = query.limit else {
            return Ok(query.apply(self.run(partition, &render_sql(query, None, None)).await?));
        };
        let mut docs = self.run(partition, &render_sql(query, Some(n.saturating_add(1)), None)).await?;
        let unlimited = Query { limit: None, ..query.clone() };
        let sorted = unlimited.apply(docs.clone());
        let value = |i: usize| sorted.get(i).and_then(|d| d.body.get(field));
        if let (Some(last), Some(next)) = (value(n - 1), value(n))
            && same_value(last, next)
        {
            let ties = self.run(partition, &render_sql(query, None, Some(last.clone()))).await?;
            let known: HashSet<String> = docs.iter().map(|d| d.id.clone()).collect();
            docs.extend(ties.into_iter().filter(|t| !known.contains(&t.id)));
        }
        Ok(query.apply(docs))
    }
}

/// Cosmos DB equality of two scalars: numbers by value (`5 = 5.0`), others as JSON.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

impl CosmosContainer {
    async fn run(&self, partition: &str, sql: &Sql) -> StoreResult<Vec<Document>> {
        let what = || format!("querying partition {partition:?} ({})", sql.text);
        let mut request = azure_data_cosmos::Query::from(sql.text.as_str());
        request = request.with_parameter("@pk", partition).map_err(|e| backend_error(&what(), &e))?;
        for (name, value) in &sql.parameters {
            request = request.with_parameter(name.as_str(), value).map_err(|e| backend_error(&what(), &e))?;
        }
        let mut items = self
            .client
            .query_items::<Map<String, Value>>(request, FeedScope::partition(partition.to_owned()), None)
            .await
            .map_err(|e| backend_error(&what(), &e))?;
        let mut docs = Vec::new();
        while let Some(item) = items.try_next().await.map_err(|e| backend_error(&what(), &e))? {
            docs.push(from_wire(item)?);
        }
        Ok(docs)
    }
}

/// Query text plus its parameters other than `@pk`.
#[derive(Debug, PartialEq)]
struct Sql {
    text: String,
    parameters: Vec<(String, Value)>,
}

/// `SELECT [TOP n] * FROM c WHERE c.pk = @pk AND c["f"] op @p0 ... ORDER BY ...`.
///
/// `tie` adds `c["order field"] = @tie`, for the documents that share the boundary value.
/// `TOP` is an inlined integer: the emulator does not take a parameter there.
fn render_sql(query: &Query, top: Option<usize>, tie: Option<Value>) -> Sql {
    let mut text = String::from("SELECT ");
    if let Some(n) = top {
        text.push_str(&format!("TOP {n} "));
    }
    text.push_str("* FROM c WHERE c.pk = @pk");
    let mut parameters = Vec::new();
    for (i, filter) in query.filters.iter().enumerate() {
        let name = format!("@p{i}");
        text.push_str(&format!(" AND c[\"{}\"] {} {name}", filter.field, filter.op.sql()));
        parameters.push((name, filter.value.clone()));
    }
    match &query.order_by {
        Some((field, direction)) => {
            // Only scalar values take part in an ordered result (as in `Query::apply`); Cosmos
            // would otherwise sort documents without the field or with null/array/object first.
            let f = format!("c[\"{field}\"]");
            text.push_str(&format!(" AND (IS_STRING({f}) OR IS_NUMBER({f}) OR IS_BOOL({f}))"));
            if let Some(value) = tie {
                text.push_str(&format!(" AND {f} = @tie"));
                parameters.push(("@tie".to_owned(), value));
            }
            let direction = if *direction == Direction::Desc { "DESC" } else { "ASC" };
            text.push_str(&format!(" ORDER BY {f} {direction}"));
        }
        None => text.push_str(" ORDER BY c.id ASC"),
    }
    Sql { text, parameters }
}

/// The stored item: the body plus `id` and `pk`.
fn wire_item(doc: &Document) -> Map<String, Value> {
    let mut item = Map::with_capacity(doc.body.len() + 2);
    item.insert("id".to_owned(), Value::String(doc.id.clone()));
    item.insert("pk".to_owned(), Value::String(doc.partition.clone()));
    item.extend(doc.body.iter().map(|(k, v)| (k.clone(), v.clone())));
    item
}

/// A document from a stored item: `id`/`pk` become the key, `_etag` the ETag, and every other
/// `_` field (`_rid`, `_self`, `_ts`, `_attachments`, ...) is dropped.
fn from_wire(mut item: Map<String, Value>) -> StoreResult<Document> {
    let mut take_string = |field: &str| match item.remove(field) {
        Some(Value::String(s)) => Ok(s),
        other => Err(StoreError::Backend {
            backend: BACKEND,
            message: format!("a stored item has no string {field:?} (found {other:?})"),
            transient: false,
            source: None,
        }),
    };
    let id = take_string("id")?;
    let partition = take_string("pk")?;
    let etag = take_string("_etag").ok().map(ETag);
    item.retain(|k, _| !k.starts_with('_'));
    Ok(Document { id, partition, body: item, etag })
}

fn response_etag(response: &ItemResponse, key: &str) -> StoreResult<ETag> {
    response.headers().etag().map(|etag| ETag(etag.to_string())).ok_or_else(|| StoreError::Backend {
        backend: BACKEND,
        message: format!("writing document {key}: the answer carried no ETag"),
        transient: false,
        source: None,
    })
}

fn status(error: &CosmosError) -> u16 {
    error.status().status_code().into()
}

/// Whether retrying later may help: throttling (429), timeouts (408), "retry with" (449), any
/// 5xx (transport failures surface as SDK-made 503s), and a 404 that only says the session's
/// replica has not caught up yet (404/1002).
fn is_transient(error: &CosmosError) -> bool {
    let cosmos_status = error.status();
    let code = status(error);
    matches!(code, 408 | 429 | 449) || code >= 500 || cosmos_status.is_read_session_not_available()
}

/// As [`backend_error`], but a rejected key (401) is a configuration error: it will not pass,
/// so `serve` fails its start on it rather than start without Cosmos DB.
fn connect_error(doing: &str, error: &CosmosError) -> StoreError {
    if status(error) == 401 {
        return StoreError::Config(format!("{doing}: Cosmos DB refused the credentials (HTTP 401): {error}"));
    }
    backend_error(doing, error)
}

fn backend_error(doing: &str, error: &CosmosError) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        message: format!("{doing}: HTTP {} ({error})", status(error)),
        transient: is_transient(error),
        // Cheap: a `CosmosError` is an `Arc` inside.
        source: Some(Box::new(error.clone())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Op;

    #[test]
    fn sql_is_parameterised_partition_scoped_and_ordered_by_id_by_default() {
        let q = Query::all().filter("severity", Op::Eq, "high").filter("score", Op::Ge, 2.0);
        let sql = render_sql(&q, None, None);
        assert_eq!(
            sql.text,
            r#"SELECT * FROM c WHERE c.pk = @pk AND c["severity"] = @p0 AND c["score"] >= @p1 ORDER BY c.id ASC"#
        );
        assert_eq!(sql.parameters, [("@p0".to_owned(), json!("high")), ("@p1".to_owned(), json!(2.0))]);
    }

    #[test]
    fn ordered_sql_keeps_scalars_only_and_can_ask_for_the_ties_at_the_boundary() {
        let q = Query::all().order_by("value", Direction::Desc).limit(2);
        let sql = render_sql(&q, Some(3), Some(json!(5)));
        assert_eq!(
            sql.text,
            r#"SELECT TOP 3 * FROM c WHERE c.pk = @pk AND (IS_STRING(c["value"]) OR IS_NUMBER(c["value"]) OR IS_BOOL(c["value"])) AND c["value"] = @tie ORDER BY c["value"] DESC"#
        );
        assert_eq!(sql.parameters, [("@tie".to_owned(), json!(5))]);
    }

    #[test]
    fn throttling_timeouts_and_server_errors_are_transient_client_errors_are_not() {
        use azure_core::http::StatusCode;
        use azure_data_cosmos::CosmosStatus;
        let error = |code: u16, sub: Option<u16>| {
            let status = CosmosStatus::new(StatusCode::from(code));
            let status = sub.map_or(status, |s| status.with_sub_status(s));
            backend_error("doing x", &CosmosError::builder().with_status(status).with_message("m").build())
        };
        for (code, sub) in
            [(429, None), (408, None), (449, None), (500, None), (503, Some(20010)), (404, Some(1002))]
        {
            assert!(error(code, sub).is_transient(), "{code}/{sub:?}");
        }
        for (code, sub) in [(400, None), (401, None), (403, None), (404, Some(1003)), (413, None)] {
            assert!(!error(code, sub).is_transient(), "{code}/{sub:?}");
        }
        let message = error(429, None).to_string();
        assert!(message.contains("doing x") && message.contains("429"), "{message}");
    }

    #[test]
    fn wire_items_carry_the_key_and_reads_drop_system_fields() {
        let doc = Document::new("p", "i", &json!({"a": 1})).unwrap();
        let mut item = wire_item(&doc);
        assert_eq!(Value::Object(item.clone()), json!({"id": "i", "pk": "p", "a": 1}));
        item.insert("_etag".into(), json!("\"e1\""));
        item.insert("_ts".into(), json!(1));
        item.insert("_rid".into(), json!("x"));
        let read = from_wire(item).unwrap();
        assert_eq!((read.partition.as_str(), read.id.as_str()), ("p", "i"));
        assert_eq!(Value::Object(read.body), json!({"a": 1}));
        assert_eq!(read.etag, Some(ETag("\"e1\"".into())));
    }
}
