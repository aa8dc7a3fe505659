//! Event Grid's dead letters: the events a subscription gave up delivering.
//!
//! Each Event Grid subscription retries a failing delivery for a day (`infra/app`), then writes
//! the event to the [`DEAD_LETTER_CONTAINER`] container instead of dropping it. Event Grid names
//! such a blob after the subscription in capitals and the hour it gave up
//! (`<TOPIC>/INVENTORY-ALERT/2026/11/26/3/<guid>.json`; some topics leave out the topic segment)
//! and writes a JSON array of events, each with its `deadLetterReason` and `deliveryAttempts`.
//!
//! The nightly retrain lists them ([`pending`]), reads each ([`read`]), hands its events to the
//! function its subscription served, and files a blob that was fully handled under
//! [`REPLAYED_PREFIX`] ([`file`]). Nothing is deleted: a blob with nothing to replay (not events,
//! or from no subscription of ours) is filed under [`REFUSED_PREFIX`] with the reason, and one
//! whose events could not be handled yet stays where it is for the next night.

use bytes::Bytes;
use serde_json::Value;

use crate::store::{BlobMeta, BlobStore, PutOptions, StoreError};

/// Blob container Event Grid writes the dead letters to (created by `infra/main.bicep`).
pub const DEAD_LETTER_CONTAINER: &str = "deadletters";
/// Where a dead letter goes once every event in it was handled.
pub const REPLAYED_PREFIX: &str = "replayed/";
/// Where a dead letter goes that cannot be replayed: not a JSON array of events, or from no
/// subscription of ours.
pub const REFUSED_PREFIX: &str = "refused/";

/// The subscription whose events a dead letter holds, as `infra/app/event-subscriptions.bicep`
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// Blob uploads for the `ingest` function.
    Ingest,
    /// Inventory snapshots for the `inventory-alert` function.
    InventoryAlert,
}

impl Subscription {
    /// The subscription's name (the function's).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::InventoryAlert => "inventory-alert",
        }
    }

    /// The subscription a dead letter's path names, if it is one of ours.
    #[must_use]
    pub fn of_path(path: &str) -> Option<Self> {
        path.split('/').find_map(|segment| {
            [Self::Ingest, Self::InventoryAlert].into_iter().find(|s| segment.eq_ignore_ascii_case(s.name()))
        })
    }
}

/// What one dead-letter blob holds.
#[derive(Debug, Clone)]
pub enum Letter {
    /// Events of one of our subscriptions, as Event Grid wrote them.
    Events {
        /// The subscription.
        subscription: Subscription,
        /// The events.
        events: Vec<Value>,
    },
    /// Nothing to replay, and why.
    Refused(String),
}

/// Where a dead letter is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filing {
    /// Under [`REPLAYED_PREFIX`]: every event handled.
    Replayed,
    /// Under [`REFUSED_PREFIX`]: nothing to replay.
    Refused,
}

/// The dead letters not filed yet, oldest first.
///
/// # Errors
/// When the container cannot be listed.
pub async fn pending(store: &dyn BlobStore) -> Result<Vec<BlobMeta>, StoreError> {
    let mut found: Vec<_> = store
        .list("")
        .await?
        .into_iter()
        .filter(|b| !b.path.starts_with(REPLAYED_PREFIX) && !b.path.starts_with(REFUSED_PREFIX))
        .collect();
    found.sort_by(|a, b| a.last_modified.cmp(&b.last_modified).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

/// Reads one dead letter: what it holds and its bytes, kept for [`file`] (`None`: it is gone).
///
/// # Errors
/// When the blob cannot be read.
pub async fn read(store: &dyn BlobStore, path: &str) -> Result<Option<(Letter, Bytes)>, StoreError> {
    let Some(blob) = store.get(path).await? else { return Ok(None) };
    let letter = match (Subscription::of_path(path), parse(&blob.body)) {
        (_, Err(reason)) => Letter::Refused(reason),
        (None, Ok(_)) => {
            Letter::Refused("its path names no shopsense subscription (ingest, inventory-alert)".to_owned())
        }
        (Some(subscription), Ok(events)) => Letter::Events { subscription, events },
    };
    Ok(Some((letter, blob.body)))
}

/// Files the dead letter at `path` (its bytes `body`, as [`read`] gave them) under
/// [`REPLAYED_PREFIX`] or [`REFUSED_PREFIX`] (same name), with `note` (what was done, or why
/// not) in its metadata: copied first, then removed.
///
/// # Errors
/// When the copy cannot be written or the original removed.
pub async fn file(
    store: &dyn BlobStore,
    path: &str,
    body: Bytes,
    filing: Filing,
    note: &str,
) -> Result<(), StoreError> {
    let prefix = match filing {
        Filing::Replayed => REPLAYED_PREFIX,
        Filing::Refused => REFUSED_PREFIX,
    };
    // Metadata values are printable ASCII; a note is kept to 256 characters.
    let note: String =
        note.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(256).collect();
    let options = PutOptions::default().with_content_type("application/json").with_metadata("note", note);
    store.put(&format!("{prefix}{path}"), body, options).await?;
    store.delete(path).await?;
    Ok(())
}

/// The events of a dead-letter blob: a JSON array of objects (one object alone is taken too).
fn parse(body: &[u8]) -> Result<Vec<Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(events)) if events.iter().all(Value::is_object) => Ok(events),
        Ok(event @ Value::Object(_)) => Ok(vec![event]),
        Ok(_) => Err("not a JSON array of events".to_owned()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::folder::FolderBlobService;

    #[test]
    fn the_subscription_is_read_from_any_segment_of_the_path_whatever_its_case() {
        assert_eq!(
            Subscription::of_path("SHOPSENSE-TOPIC/INVENTORY-ALERT/2026/11/26/3/a.json"),
            Some(Subscription::InventoryAlert)
        );
        assert_eq!(Subscription::of_path("INGEST/2026/1/2/0/b.json"), Some(Subscription::Ingest));
        assert_eq!(Subscription::of_path("OTHER/2026/1/2/0/INGESTED.json"), None);
    }

    #[tokio::test]
    async fn letters_are_listed_oldest_first_read_one_by_one_and_filed_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderBlobService::new(dir.path()).unwrap().open(DEAD_LETTER_CONTAINER).unwrap();
        for (path, body) in [
            ("T/INGEST/2026/11/26/1/a.json", r#"[{"id": "1"}, {"id": "2"}]"#),
            ("T/INVENTORY-ALERT/2026/11/26/2/b.json", "not json"),
            ("T/INVENTORY-ALERT/2026/11/26/3/c.json", r#"{"id": "3"}"#),
            ("T/SOMEONE-ELSES/2026/11/26/3/d.json", r#"[{"id": "4"}]"#),
            ("T/INGEST/2026/11/26/3/e.json", "[1, 2]"),
            ("replayed/T/INGEST/2026/11/25/1/old.json", "[]"),
            ("refused/T/INGEST/2026/11/25/1/older.json", "[]"),
        ] {
            store.put(path, bytes::Bytes::from(body), PutOptions::default()).await.unwrap();
        }

        let listed: Vec<String> = pending(&store).await.unwrap().into_iter().map(|b| b.path).collect();
        assert_eq!(
            listed,
            [
                "T/INGEST/2026/11/26/1/a.json",
                "T/INVENTORY-ALERT/2026/11/26/2/b.json",
                "T/INVENTORY-ALERT/2026/11/26/3/c.json",
                "T/SOMEONE-ELSES/2026/11/26/3/d.json",
                "T/INGEST/2026/11/26/3/e.json",
            ]
        );
        let mut read_all = Vec::new();
        let mut bodies = Vec::new();
        for path in &listed {
            let (letter, body) = read(&store, path).await.unwrap().unwrap();
            bodies.push(body);
            read_all.push(match letter {
                Letter::Events { subscription, events } => {
                    format!("{}: {} events", subscription.name(), events.len())
                }
                Letter::Refused(reason) => reason,
            });
        }
        assert_eq!(read_all[0], "ingest: 2 events");
        assert!(read_all[1].starts_with("not JSON"), "{read_all:?}");
        assert_eq!(read_all[2], "inventory-alert: 1 events", "one event alone is taken too");
        assert!(read_all[3].starts_with("its path names no shopsense subscription"), "{read_all:?}");
        assert_eq!(read_all[4], "not a JSON array of events");
        assert!(read(&store, "T/INGEST/gone.json").await.unwrap().is_none());

        file(&store, &listed[0], bodies[0].clone(), Filing::Replayed, "ingested by the sweep").await.unwrap();
        file(&store, &listed[1], bodies[1].clone(), Filing::Refused, "not JSON: \u{e9}t\u{e9}")
            .await
            .unwrap();
        let filed = store.get("replayed/T/INGEST/2026/11/26/1/a.json").await.unwrap().unwrap();
        assert_eq!(&filed.body[..], br#"[{"id": "1"}, {"id": "2"}]"#, "kept byte for byte");
        assert_eq!(filed.meta.metadata["note"], "ingested by the sweep");
        let refused = store.head("refused/T/INVENTORY-ALERT/2026/11/26/2/b.json").await.unwrap().unwrap();
        assert_eq!(refused.metadata["note"], "not JSON: ?t?", "metadata holds printable ASCII only");
        assert_eq!(pending(&store).await.unwrap().len(), 3);
    }
}
