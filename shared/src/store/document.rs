//! The document store: JSON documents keyed by (partition, id), with ETags and partition-scoped
//! parameterised queries.
//!
//! Modelled on a Cosmos DB container whose partition key path is `/pk`: every document carries
//! `id` and `pk`, every query names its partition (no cross-partition fan-out, which the
//! emulator cannot do and which costs money in Azure).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::blob::ETag;
use super::error::{StoreError, StoreResult};

/// A document: its key and its JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Unique within the partition.
    pub id: String,
    /// The partition key value.
    pub partition: String,
    /// The user fields. Must not hold `id`, `pk` or fields starting with `_` (those belong to
    /// the store); read documents come back without them.
    pub body: Map<String, Value>,
    /// The version tag when read from a store; ignored on writes (conditions are explicit).
    pub etag: Option<ETag>,
}

impl Document {
    /// A new document from any serialisable value that renders as a JSON object.
    pub fn new(
        partition: impl Into<String>,
        id: impl Into<String>,
        body: &impl Serialize,
    ) -> StoreResult<Self> {
        let id = id.into();
        let body = match serde_json::to_value(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(StoreError::invalid(format!("document {id:?}"), "body must be a JSON object"));
            }
            Err(e) => return Err(StoreError::invalid(format!("document {id:?}"), e.to_string())),
        };
        Ok(Self { id, partition: partition.into(), body, etag: None })
    }

    /// The body as a typed value.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> StoreResult<T> {
        serde_json::from_value(Value::Object(self.body.clone()))
            .map_err(|e| StoreError::invalid(format!("document {}", self.key()), e.to_string()))
    }

    /// `partition/id`, for messages.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.partition, self.id)
    }

    /// Checks the id, the partition and the body's field names.
    pub fn validate(&self) -> StoreResult<()> {
        validate_key_part("document id", &self.id)?;
        validate_key_part("partition key", &self.partition)?;
        for field in self.body.keys() {
            if field == "id" || field == "pk" || field.starts_with('_') {
                return Err(StoreError::invalid(
                    format!("document {} field {field:?}", self.key()),
                    "`id`, `pk` and fields starting with `_` are reserved for the store",
                ));
            }
        }
        Ok(())
    }
}

/// Ids and partition keys: 1..=255 characters, none of `/ \ ? #` (Cosmos DB forbids them in
/// ids) and no control characters.
pub fn validate_key_part(what: &str, value: &str) -> StoreResult<()> {
    if value.is_empty() || value.chars().count() > 255 {
        return Err(StoreError::invalid(format!("{what} {value:?}"), "must be 1 to 255 characters"));
    }
    if value.chars().any(|c| matches!(c, '/' | '\\' | '?' | '#') || c.is_control()) {
        return Err(StoreError::invalid(
            format!("{what} {value:?}"),
            "must not contain '/', '\\', '?', '#' or control characters",
        ));
    }
    Ok(())
}

/// A comparison in a [`Query`] filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The SQL spelling.
    #[must_use]
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// One `field op value` condition. The value travels as a query parameter, never spliced
/// into query text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// A top-level field name (an identifier).
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The value compared with (string, number or bool).
    pub value: Value,
}

/// A partition-scoped query: filters joined by AND, an optional order and an optional limit.
///
/// Semantics follow Cosmos DB SQL, and the embedded backend reproduces them: a comparison
/// between values of different types (or with a missing field) is false; strings compare by
/// code point; a document without the `order_by` field is left out of an ordered result.
/// Ties in `order_by` come in no promised order (the embedded backend breaks them by id; Cosmos
/// DB would need a composite index to do the same), so callers that page by score must make
/// scores distinct or order by a unique field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Conditions that all must hold.
    pub filters: Vec<Filter>,
    /// Field to sort by, and the direction. Unordered results come back sorted by id.
    pub order_by: Option<(String, Direction)>,
    /// At most this many documents.
    pub limit: Option<usize>,
}

impl Query {
    /// Every document of the partition.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds a condition.
    #[must_use]
    pub fn filter(mut self, field: impl Into<String>, op: Op, value: impl Into<Value>) -> Self {
        self.filters.push(Filter { field: field.into(), op, value: value.into() });
        self
    }

    /// Sorts by a field.
    #[must_use]
    pub fn order_by(mut self, field: impl Into<String>, direction: Direction) -> Self {
        self.order_by = Some((field.into(), direction));
        self
    }

    /// Keeps at most `n` documents.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Checks field names (identifiers, not reserved) and values (scalars).
    pub fn validate(&self) -> StoreResult<()> {
        let fields = self.filters.iter().map(|f| &f.field).chain(self.order_by.iter().map(|(f, _)| f));
        for field in fields {
            let ident = field.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ident || field == "id" || field == "pk" || field.starts_with('_') {
                return Err(StoreError::invalid(
                    format!("query field {field:?}"),
                    "must be a top-level body field: an identifier other than `id`, `pk` or `_...`",
                ));
            }
        }
        for filter in &self.filters {
            if !(filter.value.is_string() || filter.value.is_number() || filter.value.is_boolean()) {
                return Err(StoreError::invalid(
                    format!("query value for {:?}", filter.field),
                    "must be a string, number or boolean",
                ));
            }
        }
        if self.limit == Some(0) {
            return Err(StoreError::invalid("query limit", "must be at least 1"));
        }
        Ok(())
    }

    /// Whether `doc` satisfies every filter (with Cosmos DB's typed comparison rules).
    #[must_use]
    pub fn matches(&self, doc: &Document) -> bool {
        self.filters.iter().all(|f| {
            let Some(actual) = field_value(doc, &f.field) else { return false };
            match compare_scalars(actual, &f.value) {
                None => false,
                Some(ord) => match f.op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                },
            }
        })
    }

    /// Filters, orders and limits documents in memory, exactly as the query means.
    #[must_use]
    pub fn apply(&self, docs: impl IntoIterator<Item = Document>) -> Vec<Document> {
        let mut out: Vec<Document> = docs.into_iter().filter(|d| self.matches(d)).collect();
        match &self.order_by {
            Some((field, direction)) => {
                out.retain(|d| field_value(d, field).is_some_and(is_scalar));
                out.sort_by(|a, b| {
                    let (x, y) = (field_value(a, field), field_value(b, field));
                    let ord = order_values(x.unwrap_or(&Value::Null), y.unwrap_or(&Value::Null));
                    let ord = if *direction == Direction::Desc { ord.reverse() } else { ord };
                    ord.then_with(|| a.id.cmp(&b.id))
                });
            }
            None => out.sort_by(|a, b| a.id.cmp(&b.id)),
        }
        if let Some(n) = self.limit {
            out.truncate(n);
        }
        out
    }
}

fn field_value<'a>(doc: &'a Document, field: &str) -> Option<&'a Value> {
    doc.body.get(field)
}

fn is_scalar(v: &Value) -> bool {
    v.is_string() || v.is_number() || v.is_boolean()
}

/// Same-type comparison; `None` for values of different types (Cosmos: undefined).
fn compare_scalars(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Cosmos DB's ORDER BY across types: booleans < numbers < strings, then by value.
fn order_values(a: &Value, b: &Value) -> Ordering {
    let rank = |v: &Value| match v {
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        _ => 0,
    };
    rank(a).cmp(&rank(b)).then_with(|| compare_scalars(a, b).unwrap_or(Ordering::Equal))
}

/// One container of documents. Every backend passes [`crate::store::conformance`].
#[async_trait]
pub trait DocumentStore: Send + Sync + fmt::Debug {
    /// Where this store points, for messages and logs (never includes secrets).
    fn location(&self) -> String;

    /// Writes the document whether or not it exists; returns the new ETag.
    async fn upsert(&self, doc: &Document) -> StoreResult<ETag>;

    /// Writes the document only if none has its key; else `AlreadyExists`.
    async fn create(&self, doc: &Document) -> StoreResult<ETag>;

    /// Replaces the document only if its stored ETag is `if_match`; else `Precondition`
    /// (or `NotFound` when it does not exist).
    async fn replace(&self, doc: &Document, if_match: &ETag) -> StoreResult<ETag>;

    /// Reads one document; `Ok(None)` when there is none.
    async fn get(&self, partition: &str, id: &str) -> StoreResult<Option<Document>>;

    /// Upserts many documents: all are written when it returns `Ok`; on an error some may be
    /// written (not atomic across documents: callers publish under a version nobody reads yet).
    /// The default runs up to 16 upserts at once; backends with batches override it.
    async fn upsert_many(&self, docs: &[Document]) -> StoreResult<()> {
        use futures::{StreamExt, TryStreamExt};
        let writes: Vec<_> = docs.iter().map(|doc| self.upsert(doc)).collect();
        futures::stream::iter(writes).buffer_unordered(16).try_for_each(|_| async { Ok(()) }).await
    }

    /// Deletes many `(partition, id)` keys (missing ones are fine); up to 16 at once by default.
    async fn delete_many(&self, keys: &[(String, String)]) -> StoreResult<()> {
        use futures::{StreamExt, TryStreamExt};
        let deletes: Vec<_> = keys.iter().map(|(partition, id)| self.delete(partition, id)).collect();
        futures::stream::iter(deletes).buffer_unordered(16).try_for_each(|_| async { Ok(()) }).await
    }

    /// Deletes every document of `partition`; how many there were.
    async fn delete_partition(&self, partition: &str) -> StoreResult<usize> {
        let keys: Vec<(String, String)> =
            self.query(partition, &Query::all()).await?.into_iter().map(|d| (d.partition, d.id)).collect();
        self.delete_many(&keys).await?;
        Ok(keys.len())
    }

    /// Deletes one document; `Ok(true)` if one was there.
    async fn delete(&self, partition: &str, id: &str) -> StoreResult<bool>;

    /// Runs `query` within one partition.
    async fn query(&self, partition: &str, query: &Query) -> StoreResult<Vec<Document>>;
}

/// A document database: opens containers by name, creating them when missing and allowed.
#[async_trait]
pub trait DocumentDatabase: Send + Sync + fmt::Debug {
    /// Opens (and, where the credentials allow, creates) the container `name`.
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn DocumentStore>>;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(id: &str, body: Value) -> Document {
        Document::new("p", id, &body).unwrap()
    }

    #[test]
    fn filters_compare_only_values_of_the_same_type() {
        let q = Query::all().filter("n", Op::Gt, 1);
        assert!(q.matches(&doc("a", json!({"n": 2}))));
        assert!(!q.matches(&doc("b", json!({"n": "2"}))));
        assert!(!q.matches(&doc("c", json!({}))));
        let ne = Query::all().filter("n", Op::Ne, 1);
        assert!(!ne.matches(&doc("d", json!({"m": 1}))), "missing field is undefined, not unequal");
    }

    #[test]
    fn ordered_queries_drop_documents_without_the_field_and_break_ties_by_id() {
        let docs = vec![
            doc("a", json!({"s": 2})),
            doc("b", json!({"s": 3})),
            doc("c", json!({})),
            doc("d", json!({"s": 2})),
        ];
        let ids = |q: Query| q.apply(docs.clone()).into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(Query::all().order_by("s", Direction::Desc)), ["b", "a", "d"]);
        assert_eq!(ids(Query::all().order_by("s", Direction::Asc).limit(2)), ["a", "d"]);
        assert_eq!(ids(Query::all()), ["a", "b", "c", "d"]);
    }

    #[test]
    fn reserved_fields_and_bad_keys_are_rejected() {
        assert!(doc("a", json!({"_etag": 1})).validate().is_err());
        assert!(doc("a", json!({"pk": 1})).validate().is_err());
        assert!(doc("a/b", json!({})).validate().is_err());
        assert!(Query::all().filter("a.b", Op::Eq, 1).validate().is_err());
        assert!(Query::all().filter("a", Op::Eq, json!([1])).validate().is_err());
        assert!(Query::all().limit(0).validate().is_err());
    }
}
