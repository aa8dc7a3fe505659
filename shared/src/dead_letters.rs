//! Event Grid's dead letters: the events a subscription gave up delivering.
//!
//! Each Event Grid subscription retries a failing delivery for a day (`infra/app`), then writes
//! the event to the [`DEAD_LETTER_CONTAINER`] container instead of dropping it. Event Grid names
//! such a blob after the subscription in capitals and the hour it gave up
//! (`<TOPIC>/INVENTORY-ALERT/2026/11/26/3/<guid>.json`; some topics leave out the topic segment)
//! and writes a JSON array of events, each with its `deadLetterReason` and `deliveryAttempts`.
//!
//! The nightly retrain reads them ([`pending`]), hands each to the function its subscription
//! served, and files a blob that was fully handled under [`REPLAYED_PREFIX`] ([`file`]). Nothing
//! is deleted: a blob that cannot be read is filed under [`UNREADABLE_PREFIX`] with the reason, and
//! one whose events could not be handled yet stays where it is for the next night.

use bytes::Bytes;
use serde_json::Value;

use crate::store::{BlobStore, PutOptions, StoreError};

/// Blob container Event Grid writes the dead letters to (created by `infra/main.bicep`).
pub const DEAD_LETTER_CONTAINER: &str = "deadletters";
/// Where a dead letter goes once every event in it was handled.
pub const REPLAYED_PREFIX: &str = "replayed/";
/// Where a dead letter goes that is not a JSON array of events.
pub const UNREADABLE_PREFIX: &str = "unreadable/";
/// Dead letters read per night at most (the rest wait for the next one).
pub const MAX_PER_RUN: usize = 200;

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

/// One dead-letter blob, read.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its path in [`DEAD_LETTER_CONTAINER`].
    pub path: String,
    /// The subscription it came from (None: a path naming none of ours).
    pub subscription: Option<Subscription>,
    /// Its events, as Event Grid wrote them.
    pub events: Vec<Value>,
}

/// What reading the dead letters found.
#[derive(Debug, Default)]
pub struct Pending {
    /// Readable dead letters, oldest first.
    pub letters: Vec<DeadLetter>,
    /// Dead letters filed under [`UNREADABLE_PREFIX`] just now, with the reason.
    pub unreadable: Vec<(String, String)>,
    /// Dead letters beyond [`MAX_PER_RUN`], left for the next run.
    pub left_for_next: usize,
}

/// Reads the dead letters not filed yet, oldest first, at most [`MAX_PER_RUN`]. One that is
/// not a JSON array of objects is filed under [`UNREADABLE_PREFIX`] with the reason in its
/// metadata, not passed over every night.
///
/// # Errors
/// When the container cannot be listed or a blob cannot be read or filed.
pub async fn pending(store: &dyn BlobStore) -> Result<Pending, StoreError> {
    let mut found: Vec<_> = store
        .list("")
        .await?
        .into_iter()
        .filter(|b| !b.path.starts_with(REPLAYED_PREFIX) && !b.path.starts_with(UNREADABLE_PREFIX))
        .collect();
    found.sort_by(|a, b| a.last_modified.cmp(&b.last_modified).then_with(|| a.path.cmp(&b.path)));
    let mut pending =
        Pending { left_for_next: found.len().saturating_sub(MAX_PER_RUN), ..Pending::default() };
    for meta in found.into_iter().take(MAX_PER_RUN) {
        let Some(blob) = store.get(&meta.path).await? else { continue };
        match parse(&blob.body) {
            Ok(events) => pending.letters.push(DeadLetter {
                subscription: Subscription::of_path(&meta.path),
                path: meta.path,
                events,
            }),
            Err(reason) => {
                move_to(store, &meta.path, UNREADABLE_PREFIX, blob.body, &reason).await?;
                pending.unreadable.push((meta.path, reason));
            }
        }
    }
    Ok(pending)
}

/// Files a dead letter under [`REPLAYED_PREFIX`] (every event handled) or [`UNREADABLE_PREFIX`]
/// (an event that is not one), same name, with `note` (what was done, or why) in its metadata.
///
/// # Errors
/// When the blob cannot be read, copied or removed.
pub async fn file(store: &dyn BlobStore, path: &str, handled: bool, note: &str) -> Result<(), StoreError> {
    let Some(blob) = store.get(path).await? else { return Ok(()) };
    let prefix = if handled { REPLAYED_PREFIX } else { UNREADABLE_PREFIX };
    move_to(store, path, prefix, blob.body, note).await
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

/// Copies `path` under `prefix` with `note` in its metadata (ASCII, at most 256 characters), then
/// removes the original: the copy exists before the original goes.
async fn move_to(
    store: &dyn BlobStore,
    path: &str,
    prefix: &str,
    body: Bytes,
    note: &str,
) -> Result<(), StoreError> {
    let note: String =
        note.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(256).collect();
    let options = PutOptions::default().with_content_type("application/json").with_metadata("note", note);
    store.put(&format!("{prefix}{path}"), body, options).await?;
    store.delete(path).await?;
    Ok(())
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
    async fn readable_letters_come_oldest_first_and_unreadable_ones_are_filed_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderBlobService::new(dir.path()).unwrap().open(DEAD_LETTER_CONTAINER).unwrap();
        for (path, body) in [
            ("T/INGEST/2026/11/26/1/a.json", r#"[{"id": "1"}, {"id": "2"}]"#),
            ("T/INVENTORY-ALERT/2026/11/26/2/b.json", "not json"),
            ("T/INVENTORY-ALERT/2026/11/26/3/c.json", r#"{"id": "3"}"#),
            ("replayed/T/INGEST/2026/11/25/1/old.json", "[]"),
        ] {
            store.put(path, Bytes::from(body), PutOptions::default()).await.unwrap();
        }

        let found = pending(&store).await.unwrap();
        let paths: Vec<_> =
            found.letters.iter().map(|l| (l.path.as_str(), l.subscription, l.events.len())).collect();
        assert_eq!(
            paths,
            [
                ("T/INGEST/2026/11/26/1/a.json", Some(Subscription::Ingest), 2),
                ("T/INVENTORY-ALERT/2026/11/26/3/c.json", Some(Subscription::InventoryAlert), 1)
            ]
        );
        assert_eq!(found.unreadable.len(), 1);
        assert!(found.unreadable[0].1.starts_with("not JSON"), "{:?}", found.unreadable);
        assert!(!store.exists("T/INVENTORY-ALERT/2026/11/26/2/b.json").await.unwrap());
        let kept = store.head("unreadable/T/INVENTORY-ALERT/2026/11/26/2/b.json").await.unwrap().unwrap();
        assert!(kept.metadata["note"].starts_with("not JSON"));

        file(&store, "T/INGEST/2026/11/26/1/a.json", true, "ingested by the sweep").await.unwrap();
        let filed = store.get("replayed/T/INGEST/2026/11/26/1/a.json").await.unwrap().unwrap();
        assert_eq!(&filed.body[..], br#"[{"id": "1"}, {"id": "2"}]"#);
        assert_eq!(filed.meta.metadata["note"], "ingested by the sweep");
        let again = pending(&store).await.unwrap();
        assert_eq!(again.letters.len(), 1, "only c.json is left");
    }
}
