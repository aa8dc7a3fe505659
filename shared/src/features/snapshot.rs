//! Feature snapshots: every refresh's tables stay together, and readers see one refresh whole.
//!
//! A refresh writes its tables under `features/<id>/` (the ids sort by time) and then moves the
//! pointer `features/current.json` to that id with a conditional write on the ETag it read
//! before computing. So:
//! - a reader (a training run, a benchmark) resolves the pointer once and reads every table of
//!   that one refresh, even while another refresh is writing the next one;
//! - two refreshes racing (two uploads landing at once) cannot leave a mix, nor let the one that
//!   saw fewer batches win last: the loser's pointer write fails, it deletes its files and
//!   recomputes from the batches then present ([`crate::ingest::Ingestor::refresh_features`]
//!   retries);
//! - a refresh that dies before its pointer write leaves unreferenced files that the next
//!   refresh's [`prune`] removes.
//!
//! Homes written before snapshots existed keep their tables at the flat paths of
//! [`crate::tables`] (`features/interactions.parquet`, ...): without a pointer those are read,
//! and the first snapshot's prune removes them.

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Blob, BlobStore, ETag, PutOptions, StoreError, StoreResult};
use crate::tables::FEATURE_PATHS;

/// The pointer to the current snapshot, in the silver container.
pub const CURRENT_POINTER: &str = "features/current.json";
/// Snapshots kept by [`prune`] (the current one included): a reader that resolved an older
/// pointer a moment ago still finds its files.
pub const KEEP_SNAPSHOTS: usize = 3;
const FEATURES_PREFIX: &str = "features/";

/// One refresh's tables, as the pointer names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSnapshot {
    /// The folder under `features/` (`YYYYMMDDTHHMMSSmmmZ-xxxxxx`).
    pub id: String,
    /// When the refresh published it.
    pub created_at: DateTime<Utc>,
    /// The silver transaction batches it was computed from, oldest first.
    pub batches: Vec<String>,
    /// The snapshots current before it, newest first (at most [`KEEP_SNAPSHOTS`] - 1): what
    /// [`prune`] keeps besides this one.
    #[serde(default)]
    pub previous: Vec<String>,
    /// The newest day of sales in its tables (the calendar's last day; `None` without sales, or
    /// in pointers written before it was kept): what a live model's data is measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_end: Option<NaiveDate>,
    /// Each table's sha256 by its file name (`interactions.parquet`); empty in pointers written
    /// before it was kept. A model version whose manifest names the same tables and hashes was
    /// trained on these features, whichever uploads they came from.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tables: std::collections::BTreeMap<String, String>,
}

impl FeatureSnapshot {
    /// Where `table` (one of [`FEATURE_PATHS`], e.g. `features/items.parquet`) lives in this
    /// snapshot.
    #[must_use]
    pub fn path(&self, table: &str) -> String {
        format!("{FEATURES_PREFIX}{}/{}", self.id, table.strip_prefix(FEATURES_PREFIX).unwrap_or(table))
    }
}

/// The current snapshot and the pointer's ETag; `None` before the first snapshot.
///
/// # Errors
/// Store failures; [`StoreError::Invalid`] when the pointer is not a snapshot.
pub async fn current(silver: &dyn BlobStore) -> StoreResult<Option<(FeatureSnapshot, ETag)>> {
    let Some(blob) = silver.get(CURRENT_POINTER).await? else { return Ok(None) };
    let snapshot = serde_json::from_slice(&blob.body)
        .map_err(|e| StoreError::invalid(format!("blob {CURRENT_POINTER}"), e.to_string()))?;
    Ok(Some((snapshot, blob.meta.etag)))
}

/// Where `table` is read from now: in the current snapshot, or at its flat path without one.
///
/// # Errors
/// As [`current`].
pub async fn resolve(silver: &dyn BlobStore, table: &str) -> StoreResult<String> {
    Ok(match current(silver).await? {
        Some((snapshot, _)) => snapshot.path(table),
        None => table.to_owned(),
    })
}

/// The newest day of sales in the current features ([`FeatureSnapshot::sales_end`]).
///
/// # Errors
/// As [`current`].
pub async fn sales_end(silver: &dyn BlobStore) -> StoreResult<Option<NaiveDate>> {
    Ok(current(silver).await?.and_then(|(snapshot, _)| snapshot.sales_end))
}

/// Reads one table of the current features (`None` when nothing was refreshed yet).
///
/// # Errors
/// As [`current`].
pub async fn get(silver: &dyn BlobStore, table: &str) -> StoreResult<Option<Blob>> {
    silver.get(&resolve(silver, table).await?).await
}

/// Writes `files` (keyed by their [`FEATURE_PATHS`] name) as a new snapshot and moves the
/// pointer to it, provided the pointer is still `read` (as [`current`] returned it before the
/// tables were computed; `None`: no pointer yet).
///
/// # Errors
/// [`StoreError::Precondition`] or [`StoreError::AlreadyExists`] when another refresh moved the
/// pointer first (this snapshot's files are deleted again); other store failures.
pub async fn publish(
    silver: &dyn BlobStore,
    files: Vec<(String, Bytes)>,
    batches: Vec<String>,
    sales_end: Option<NaiveDate>,
    read: Option<(FeatureSnapshot, ETag)>,
) -> StoreResult<FeatureSnapshot> {
    let now = Utc::now();
    let (previous, expected) = match read {
        Some((before, etag)) => {
            let ids = std::iter::once(before.id).chain(before.previous).take(KEEP_SNAPSHOTS - 1).collect();
            (ids, Some(etag))
        }
        None => (Vec::new(), None),
    };
    let snapshot = FeatureSnapshot {
        id: crate::registry::new_version(now),
        created_at: now,
        batches,
        previous,
        sales_end,
        tables: files
            .iter()
            .map(|(table, bytes)| {
                let name = table.rsplit('/').next().unwrap_or(table).to_owned();
                (name, crate::bronze::sha256_hex(bytes))
            })
            .collect(),
    };
    let mut written = Vec::with_capacity(files.len());
    for (table, bytes) in files {
        let path = snapshot.path(&table);
        silver.put(&path, bytes, PutOptions::default()).await?;
        written.push(path);
    }
    let pointer = Bytes::from(
        serde_json::to_vec_pretty(&snapshot)
            .map_err(|e| StoreError::invalid("feature snapshot pointer", e.to_string()))?,
    );
    let mode = match expected {
        Some(etag) => PutOptions::update(etag),
        None => PutOptions::create(),
    };
    match silver.put(CURRENT_POINTER, pointer, mode.with_content_type("application/json")).await {
        Ok(_) => Ok(snapshot),
        Err(e) => {
            if matches!(e, StoreError::Precondition { .. } | StoreError::AlreadyExists { .. }) {
                for path in &written {
                    silver.delete(path).await?;
                }
            }
            Err(e)
        }
    }
}

/// Deletes the files of every snapshot older than the current one except those it names as
/// previous, the files of refreshes that never published, and the flat pre-snapshot tables once
/// a pointer exists. A folder newer than the current snapshot is a refresh still writing and is
/// left alone (if it died, the next prune after a newer publish removes it). Returns the paths
/// deleted.
///
/// # Errors
/// Store failures.
pub async fn prune(silver: &dyn BlobStore) -> StoreResult<Vec<String>> {
    let Some((current, _)) = current(silver).await? else { return Ok(Vec::new()) };
    let mut deleted = Vec::new();
    for blob in silver.list(FEATURES_PREFIX).await? {
        let Some(rest) = blob.path.strip_prefix(FEATURES_PREFIX) else { continue };
        let stale = match rest.split_once('/') {
            Some((id, _)) => id < current.id.as_str() && !current.previous.iter().any(|p| p == id),
            None => FEATURE_PATHS.contains(&blob.path.as_str()),
        };
        if stale && silver.delete(&blob.path).await? {
            deleted.push(blob.path);
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_lives_in_its_snapshots_folder() {
        let snapshot = FeatureSnapshot {
            id: "20261126T010203004Z-abcdef".into(),
            created_at: Utc::now(),
            batches: vec![],
            previous: vec![],
            sales_end: None,
            tables: std::collections::BTreeMap::new(),
        };
        assert_eq!(
            snapshot.path(crate::tables::ITEMS_PATH),
            "features/20261126T010203004Z-abcdef/items.parquet"
        );
    }
}
