//! [`Registry`]: versions in Blob storage, records and live pointers in the document store.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;

use super::records::{
    FlipBy, LivePointer, Manifest, ModelKind, Pin, RetiredBy, VersionRecord, VersionStatus,
};
use super::{MODELS_CONTAINER, REGISTRY_CONTAINER, SERVING_CONTAINER, codec};
use crate::store::{BlobStore, Document, DocumentStore, ETag, Op, PutOptions, Query, StoreError, Stores};

/// Id of the live pointer document in a kind's partition.
const LIVE_ID: &str = "live";
/// Id of a kind's last failed training, beside its records (it has no `status`, so
/// [`Registry::list`] passes it over).
const LAST_FAILURE_ID: &str = "last_failure";

/// The last training of a kind that failed before it made a version (too little history, no
/// features), for the advice a request for that kind gets while nothing is live.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingFailure {
    /// When.
    pub failed_at: chrono::DateTime<Utc>,
    /// Why.
    pub error: String,
}
impl TrainingFailure {
    /// Whether it says how the kind stands: no version (`versions` newest first) was written
    /// after it. A failure kept from before successes cleared it (or before a person's promote
    /// or rollback) is history, not news.
    #[must_use]
    pub fn is_news(&self, versions: &[VersionRecord]) -> bool {
        versions.first().is_none_or(|newest| self.failed_at > newest.created_at)
    }
}

/// The blob of a version listing the serving documents it wrote.
const SERVING_KEYS_FILE: &str = "serving_keys.bin";
/// The manifest blob; written last.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What went wrong in the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A model or manifest could not be (de)serialised.
    #[error("model encoding: {0}")]
    Codec(String),
    /// No such version.
    #[error("no {kind} version {version} in the registry")]
    UnknownVersion {
        /// The kind.
        kind: ModelKind,
        /// The version asked for.
        version: String,
    },
    /// The version cannot go live.
    #[error("{kind} version {version} cannot go live: {reason}")]
    NotPromotable {
        /// The kind.
        kind: ModelKind,
        /// The version.
        version: String,
        /// Why.
        reason: String,
    },
    /// The live pointer changed between reading it and flipping it: another publisher won.
    #[error("the live {kind} pointer moved while publishing; nothing was flipped")]
    PointerMoved {
        /// The kind.
        kind: ModelKind,
    },
    /// A rollback was asked with nothing to roll back to.
    #[error("no earlier {kind} version to roll back to: {reason}")]
    NoRollback {
        /// The kind.
        kind: ModelKind,
        /// Why.
        reason: String,
    },
}

impl RegistryError {
    /// The same error naming the blob it came from (a codec error alone names nothing).
    #[must_use]
    pub fn in_file(self, path: &str) -> Self {
        match self {
            Self::Codec(message) => Self::Codec(format!("{path}: {message}")),
            other => other,
        }
    }

    /// Whether retrying later may succeed (a transient store failure).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(StoreError::Backend { transient: true, .. }))
    }
}

/// The model registry over one blob container and two document containers.
#[derive(Debug, Clone)]
pub struct Registry {
    models: Arc<dyn BlobStore>,
    records: Arc<dyn DocumentStore>,
    serving: Arc<dyn DocumentStore>,
    keep: usize,
}

fn folder(kind: ModelKind, version: &str) -> String {
    format!("{kind}/{version}/")
}

impl Registry {
    /// Opens the registry's containers; `keep` versions per kind survive retention.
    ///
    /// # Errors
    /// When a container cannot be opened.
    pub async fn open(stores: &Stores, keep: usize) -> Result<Self, RegistryError> {
        Ok(Self {
            models: stores.blobs.container(MODELS_CONTAINER).await?,
            records: stores.documents.container(REGISTRY_CONTAINER).await?,
            serving: stores.documents.container(SERVING_CONTAINER).await?,
            keep: keep.max(1),
        })
    }

    /// A registry over given containers (tests inject failing stores here).
    #[must_use]
    pub fn from_parts(
        models: Arc<dyn BlobStore>,
        records: Arc<dyn DocumentStore>,
        serving: Arc<dyn DocumentStore>,
        keep: usize,
    ) -> Self {
        Self { models, records, serving, keep: keep.max(1) }
    }

    /// The document container of leases and records.
    #[must_use]
    pub fn records_store(&self) -> Arc<dyn DocumentStore> {
        self.records.clone()
    }

    /// The serving container.
    #[must_use]
    pub fn serving_store(&self) -> Arc<dyn DocumentStore> {
        self.serving.clone()
    }

    /// Writes a version: its files, then its manifest (the completion marker), then its record
    /// as a candidate.
    ///
    /// # Errors
    /// When a store fails; a version without a manifest is never promoted.
    pub async fn write_version(
        &self,
        manifest: &Manifest,
        files: &[(String, Bytes)],
        record: &VersionRecord,
    ) -> Result<(), RegistryError> {
        let base = folder(manifest.kind, &manifest.version);
        for (name, bytes) in files {
            self.models.put(&format!("{base}{name}"), bytes.clone(), PutOptions::default()).await?;
        }
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| RegistryError::Codec(e.to_string()))?;
        self.models
            .put(
                &format!("{base}{MANIFEST_FILE}"),
                Bytes::from(json),
                PutOptions::default().with_content_type("application/json"),
            )
            .await?;
        self.save_record(record).await
    }

    /// One file of a version.
    ///
    /// # Errors
    /// [`RegistryError::UnknownVersion`] when it is absent.
    pub async fn read_file(
        &self,
        kind: ModelKind,
        version: &str,
        name: &str,
    ) -> Result<Bytes, RegistryError> {
        match self.models.get(&format!("{}{name}", folder(kind, version))).await? {
            Some(blob) => Ok(blob.body),
            None => Err(RegistryError::UnknownVersion { kind, version: version.to_owned() }),
        }
    }

    /// A version's manifest, if the version was written whole.
    ///
    /// # Errors
    /// When the store fails or the manifest is unreadable.
    pub async fn manifest(&self, kind: ModelKind, version: &str) -> Result<Option<Manifest>, RegistryError> {
        match self.models.get(&format!("{}{MANIFEST_FILE}", folder(kind, version))).await? {
            Some(blob) => {
                Ok(Some(serde_json::from_slice(&blob.body).map_err(|e| RegistryError::Codec(e.to_string()))?))
            }
            None => Ok(None),
        }
    }

    /// Saves a version's record (upsert).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn save_record(&self, record: &VersionRecord) -> Result<(), RegistryError> {
        let mut record = record.clone();
        record.updated_at = Utc::now();
        self.records.upsert(&Document::new(record.kind.as_str(), &record.version, &record)?).await?;
        Ok(())
    }

    /// A version's record.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn record(
        &self,
        kind: ModelKind,
        version: &str,
    ) -> Result<Option<VersionRecord>, RegistryError> {
        if version == LIVE_ID || version == LAST_FAILURE_ID {
            return Ok(None);
        }
        Ok(self.records.get(kind.as_str(), version).await?.map(|d| d.parse()).transpose()?)
    }

    /// Keeps `error` as the kind's last failed training.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn record_failure(&self, kind: ModelKind, error: &str) -> Result<(), RegistryError> {
        let failure = TrainingFailure { failed_at: Utc::now(), error: error.to_owned() };
        self.records.upsert(&Document::new(kind.as_str(), LAST_FAILURE_ID, &failure)?).await?;
        Ok(())
    }

    /// Forgets the kind's last failed training: a training since succeeded (trained, or found
    /// its inputs unchanged), so the failure no longer says how the kind stands.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn clear_failure(&self, kind: ModelKind) -> Result<(), RegistryError> {
        self.records.delete(kind.as_str(), LAST_FAILURE_ID).await?;
        Ok(())
    }

    /// The kind's last failed training since its last successful one, if one was kept.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn last_failure(&self, kind: ModelKind) -> Result<Option<TrainingFailure>, RegistryError> {
        Ok(self.records.get(kind.as_str(), LAST_FAILURE_ID).await?.map(|d| d.parse()).transpose()?)
    }

    /// Every version record of a kind, newest first.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn list(&self, kind: ModelKind) -> Result<Vec<VersionRecord>, RegistryError> {
        let docs = self.records.query(kind.as_str(), &Query::all().filter("status", Op::Ne, "")).await?;
        let mut records: Vec<VersionRecord> = docs.iter().map(Document::parse).collect::<Result<_, _>>()?;
        records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.version.cmp(&a.version)));
        Ok(records)
    }

    /// Takes the kind's live version `expected` out of serving: its record retired with `reason`
    /// ([`RetiredBy::TakenOut`], so it comes back when its inputs do), then the live
    /// pointer removed, so the kind answers as one with nothing live. A pin or a person's
    /// choice goes with the pointer: the sales it was about are gone. Other kept versions stay
    /// as they are.
    ///
    /// # Errors
    /// [`RegistryError::PointerMoved`] when the pointer is no longer `expected` (a promote or
    /// rollback since); store failures (a record retired whose pointer stayed is made live
    /// again by the next run's [`Registry::reconcile`], which then tries again).
    pub async fn retire_live(
        &self,
        expected: &(LivePointer, ETag),
        reason: &str,
    ) -> Result<(), RegistryError> {
        let (pointer, etag) = expected;
        let kind = pointer.kind;
        if self.live(kind).await?.is_none_or(|(_, now)| now != *etag) {
            return Err(RegistryError::PointerMoved { kind });
        }
        if let Some(mut record) = self.record(kind, &pointer.version).await? {
            record.status = VersionStatus::Retired;
            record.retired_by = Some(RetiredBy::TakenOut);
            record.reason = Some(retired_reason(reason, record.reason.take()));
            self.save_record(&record).await?;
        }
        self.records.delete(kind.as_str(), LIVE_ID).await?;
        Ok(())
    }

    /// The live pointer of a kind and its ETag.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn live(&self, kind: ModelKind) -> Result<Option<(LivePointer, ETag)>, RegistryError> {
        match self.records.get(kind.as_str(), LIVE_ID).await? {
            Some(doc) => {
                let etag = doc.etag.clone().unwrap_or_else(|| ETag(String::new()));
                Ok(Some((doc.parse()?, etag)))
            }
            None => Ok(None),
        }
    }

    /// Writes a version's serving documents (nobody reads them until the pointer names the
    /// version) and remembers their keys for cleanup. Marks the record published.
    ///
    /// # Errors
    /// When a store fails: the version is then not published and must not be flipped to.
    pub async fn write_serving(
        &self,
        record: &mut VersionRecord,
        docs: &[Document],
    ) -> Result<(), RegistryError> {
        let keys: Vec<(String, String)> = docs.iter().map(|d| (d.partition.clone(), d.id.clone())).collect();
        // Keys first: a publish that dies half-way still leaves what it wrote findable.
        self.models
            .put(
                &format!("{}{SERVING_KEYS_FILE}", folder(record.kind, &record.version)),
                codec::encode_model(&keys)?,
                PutOptions::default(),
            )
            .await?;
        for chunk in docs.chunks(2_000) {
            self.serving.upsert_many(chunk).await?;
        }
        record.published = true;
        record.documents = docs.len();
        self.save_record(record).await
    }

    /// Makes `record`'s version live: flips the pointer conditionally on `expected` (the
    /// pointer's ETag read before the publish began; `None` = there was no live version), then
    /// marks the new version live and the replaced one retired, then applies retention.
    ///
    /// Once the pointer has flipped the version **is** live: a failure in the bookkeeping after
    /// it (records, retention) is logged and left to [`Registry::reconcile`] and the next
    /// retention, never reported as a failed publish.
    ///
    /// # Errors
    /// [`RegistryError::NotPromotable`] when the version's documents are not published;
    /// [`RegistryError::PointerMoved`] when another publisher flipped first; store failures
    /// before the flip.
    pub async fn flip(
        &self,
        record: &mut VersionRecord,
        expected: Option<&(LivePointer, ETag)>,
        by: FlipBy,
        reason_for_previous: &str,
    ) -> Result<(), RegistryError> {
        let mut history = expected.map(|(p, _)| p.earlier()).unwrap_or_default();
        if let Some((p, _)) = expected
            && p.version != record.version
        {
            history.retain(|v| v != &p.version && v != &record.version);
            history.push(p.version.clone());
        }
        self.flip_to(record, expected, history, by, reason_for_previous).await
    }

    async fn flip_to(
        &self,
        record: &mut VersionRecord,
        expected: Option<&(LivePointer, ETag)>,
        mut history: Vec<String>,
        by: FlipBy,
        reason_for_previous: &str,
    ) -> Result<(), RegistryError> {
        let kind = record.kind;
        if !record.published {
            return Err(RegistryError::NotPromotable {
                kind,
                version: record.version.clone(),
                reason: "its serving documents are not published".into(),
            });
        }
        // Retention keeps the live version and its history whole: `keep` versions in all.
        let excess = history.len().saturating_sub(self.keep.saturating_sub(1));
        history.drain(..excess);
        let retired_by = by.retires_as();
        let pointer = LivePointer {
            kind,
            version: record.version.clone(),
            previous: history.last().cloned(),
            history,
            updated_at: Utc::now(),
            chosen_at: (by == FlipBy::Promote).then(Utc::now),
            pinned: match by {
                FlipBy::Rollback(pin) => Some(pin),
                FlipBy::Retrain | FlipBy::Promote => None,
            },
        };
        let doc = Document::new(kind.as_str(), LIVE_ID, &pointer)?;
        let flipped = match expected {
            None => self.records.create(&doc).await,
            Some((_, etag)) => self.records.replace(&doc, etag).await,
        };
        match flipped {
            Ok(_) => {}
            Err(
                StoreError::AlreadyExists { .. }
                | StoreError::Precondition { .. }
                | StoreError::NotFound { .. },
            ) => {
                return Err(RegistryError::PointerMoved { kind });
            }
            Err(e) => return Err(e.into()),
        }
        // A version its gate rejected goes live only by hand: the record keeps what the gate said
        // (and keeps saying it when it goes live again after being retired).
        let gate_failed = record.gate.as_ref().is_some_and(|g| !g.passed);
        record.reason = match (record.status, record.reason.take()) {
            (VersionStatus::Rejected, Some(gate)) if gate_failed => {
                Some(format!("{PROMOTED_BY_HAND} ({gate})"))
            }
            (_, reason) => reason.and_then(|r| promoted_by_hand(&r)),
        };
        record.status = VersionStatus::Live;
        record.retired_by = None;
        let reason = format!("{reason_for_previous} {}", record.version);
        if let Err(e) = self.settle(record, &reason, retired_by).await {
            tracing::warn!(%kind, version = %record.version, error = %e, "live, but its records were not updated; the next run reconciles them");
        }
        if let Err(e) = self.apply_retention(kind).await {
            tracing::warn!(%kind, error = %e, "retention failed; it runs again after the next publish");
        }
        Ok(())
    }

    /// Records `record` as live and every other record still saying live as retired.
    async fn settle(&self, record: &VersionRecord, reason: &str, by: RetiredBy) -> Result<(), RegistryError> {
        self.save_record(record).await?;
        for mut other in self.list(record.kind).await? {
            if other.version != record.version && other.status == VersionStatus::Live {
                other.status = VersionStatus::Retired;
                other.retired_by = Some(by);
                other.reason = Some(retired_reason(reason, other.reason.take()));
                self.save_record(&other).await?;
            }
        }
        Ok(())
    }

    /// Makes the records agree with the live pointer after a run or a flip stopped half-way:
    /// the pointer's version is live, any other "live" record retired, and a candidate that is
    /// not live (its run stopped before judging or flipping it) rejected with that reason.
    /// Runs under the retrain lease, before a kind is trained.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn reconcile(&self, kind: ModelKind) -> Result<(), RegistryError> {
        let pointer = self.live(kind).await?.map(|(p, _)| p);
        let live = pointer.as_ref().map(|p| p.version.clone());
        // Said as the flip would have said it: the retrain restores a version a retrain replaced
        // when its inputs come back, never one a person rolled back from or promoted over.
        let (replaced, retired_by) = match &pointer {
            Some(p) if p.pinned.is_some() => {
                (format!("rolled back to {}", p.version), Some(RetiredBy::Rollback))
            }
            Some(p) if p.chosen_at.is_some() => {
                (format!("replaced by promoted {}", p.version), Some(RetiredBy::Promote))
            }
            Some(p) => (format!("replaced by {}", p.version), Some(RetiredBy::Retrain)),
            None => ("replaced by nothing".to_owned(), None),
        };
        for mut record in self.list(kind).await? {
            let is_live = live.as_deref() == Some(record.version.as_str());
            let fixed = match record.status {
                VersionStatus::Live if !is_live => {
                    Some((VersionStatus::Retired, Some(retired_reason(&replaced, record.reason.clone()))))
                }
                VersionStatus::Candidate if !is_live => {
                    Some((VersionStatus::Rejected, Some(interrupted(&record))))
                }
                VersionStatus::Candidate
                | VersionStatus::Rejected
                | VersionStatus::Retired
                | VersionStatus::Held
                    if is_live =>
                {
                    Some((VersionStatus::Live, None))
                }
                _ => None,
            };
            if let Some((status, reason)) = fixed {
                tracing::info!(%kind, version = %record.version, from = %record.status, to = %status, "record reconciled with the live pointer");
                record.retired_by = (status == VersionStatus::Retired).then_some(retired_by).flatten();
                record.status = status;
                record.reason = reason;
                self.save_record(&record).await?;
            }
        }
        Ok(())
    }

    /// Points serving back at the version live before the current one, if its documents are
    /// still kept; the current version is retired. Rolling back again goes one further back.
    /// The kind is then pinned ([`LivePointer::pinned`]): a retrain does not replace what a
    /// person rolled back to until [`Registry::unpin`] or a promote.
    ///
    /// # Errors
    /// [`RegistryError::NoRollback`] when there is no earlier published version.
    pub async fn rollback(&self, kind: ModelKind) -> Result<VersionRecord, RegistryError> {
        let Some(live) = self.live(kind).await? else {
            return Err(RegistryError::NoRollback { kind, reason: "nothing is live".into() });
        };
        let mut history = live.0.earlier();
        let Some(previous) = history.pop() else {
            return Err(RegistryError::NoRollback {
                kind,
                reason: format!("nothing kept was live before {}", live.0.version),
            });
        };
        let mut target = self.record(kind, &previous).await?.filter(|r| r.published).ok_or_else(|| {
            RegistryError::NoRollback {
                kind,
                reason: format!("version {previous} is no longer kept with its serving documents"),
            }
        })?;
        let pin = Pin { at: Utc::now(), reason: format!("rolled back from {}", live.0.version) };
        self.flip_to(&mut target, Some(&live), history, FlipBy::Rollback(pin), "rolled back to").await?;
        Ok(target)
    }

    /// Lifts a rollback's pin on `kind`, so the next retrain that passes its gates goes live
    /// again; returns the pin lifted (`None`: the kind was not pinned). The live version stays.
    /// `chosen`: a person promoted the live version, which also marks the versions held so far
    /// as decided over ([`LivePointer::chosen_at`]).
    ///
    /// # Errors
    /// [`RegistryError::PointerMoved`] when the pointer changed meanwhile; store failures.
    pub async fn unpin(&self, kind: ModelKind, chosen: bool) -> Result<Option<Pin>, RegistryError> {
        let Some((mut pointer, etag)) = self.live(kind).await? else { return Ok(None) };
        let pin = pointer.pinned.take();
        if pin.is_none() && !chosen {
            return Ok(None);
        }
        if chosen {
            pointer.chosen_at = Some(Utc::now());
        }
        let doc = Document::new(kind.as_str(), LIVE_ID, &pointer)?;
        match self.records.replace(&doc, &etag).await {
            Ok(_) => Ok(pin),
            Err(StoreError::Precondition { .. } | StoreError::NotFound { .. }) => {
                Err(RegistryError::PointerMoved { kind })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes versions beyond the newest `keep` (never the live one, nor the `keep - 1` that
    /// rollbacks would go back to, nor, while the kind is pinned, the newest held version): their
    /// serving documents, blobs and records. Also removes serving
    /// documents of unpublished (failed) versions among the kept ones, and version folders no
    /// record names (a write interrupted before its record). One version failing to delete does
    /// not stop the others.
    ///
    /// # Errors
    /// The first store failure (retention runs again on the next publish).
    pub async fn apply_retention(&self, kind: ModelKind) -> Result<(), RegistryError> {
        let live = self.live(kind).await?.map(|(p, _)| p);
        let earlier = live.as_ref().map(LivePointer::earlier).unwrap_or_default();
        let records = self.list(kind).await?;
        // While a rollback pins the kind, the newest version held meanwhile is what a person
        // would promote: it is kept however many rejections follow it.
        let held = live
            .as_ref()
            .filter(|p| p.pinned.is_some())
            .and_then(|_| records.iter().find(|r| r.status == VersionStatus::Held));
        let protected: Vec<&str> = live
            .iter()
            .map(|p| p.version.as_str())
            .chain(earlier.iter().map(String::as_str))
            .chain(held.map(|r| r.version.as_str()))
            .collect();
        let mut first_error = None;
        let mut note = |result: Result<(), RegistryError>, version: &str| {
            if let Err(e) = result {
                tracing::warn!(%kind, version, error = %e, "retention could not delete a version");
                first_error.get_or_insert(e);
            }
        };
        for (rank, record) in records.iter().enumerate() {
            if protected.contains(&record.version.as_str()) {
                continue;
            }
            if rank >= self.keep {
                note(self.delete_version(kind, &record.version).await, &record.version);
            } else if !record.published && record.status == VersionStatus::Rejected {
                note(self.delete_serving(kind, &record.version).await, &record.version);
            }
        }
        let prefix = format!("{kind}/");
        let mut orphans: Vec<String> = self
            .models
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|blob| blob.path.strip_prefix(&prefix)?.split_once('/').map(|(v, _)| v.to_owned()))
            .filter(|v| !protected.contains(&v.as_str()) && !records.iter().any(|r| &r.version == v))
            .collect();
        orphans.sort();
        orphans.dedup();
        for version in orphans {
            tracing::info!(%kind, %version, "deleting a version folder no record names (an interrupted write)");
            note(self.delete_version(kind, &version).await, &version);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The (partition, id) of every serving document a version wrote; `None` when it wrote
    /// none or they were deleted.
    ///
    /// # Errors
    /// When the store fails or the list is unreadable.
    pub async fn serving_keys(
        &self,
        kind: ModelKind,
        version: &str,
    ) -> Result<Option<Vec<(String, String)>>, RegistryError> {
        let path = format!("{}{SERVING_KEYS_FILE}", folder(kind, version));
        match self.models.get(&path).await? {
            Some(blob) => Ok(Some(codec::decode_model(&blob.body).map_err(|e| e.in_file(&path))?)),
            None => Ok(None),
        }
    }

    async fn delete_serving(&self, kind: ModelKind, version: &str) -> Result<(), RegistryError> {
        if let Some(keys) = self.serving_keys(kind, version).await? {
            for chunk in keys.chunks(2_000) {
                self.serving.delete_many(chunk).await?;
            }
            self.models.delete(&format!("{}{SERVING_KEYS_FILE}", folder(kind, version))).await?;
        }
        Ok(())
    }

    /// Deletes one version whole: serving documents, blobs, record.
    ///
    /// # Errors
    /// When a store fails.
    pub async fn delete_version(&self, kind: ModelKind, version: &str) -> Result<(), RegistryError> {
        self.delete_serving(kind, version).await?;
        for blob in self.models.list(&folder(kind, version)).await? {
            self.models.delete(&blob.path).await?;
        }
        self.records.delete(kind.as_str(), version).await?;
        tracing::info!(%kind, version, "version deleted by retention");
        Ok(())
    }
}

/// How a record says a person made it live over its gate's rejection.
const PROMOTED_BY_HAND: &str = "promoted by hand over its gate";

/// The "promoted by hand over its gate (...)" part of a record's reason, if it has one.
fn promoted_by_hand(reason: &str) -> Option<String> {
    reason.find(PROMOTED_BY_HAND).map(|at| reason[at..].to_owned())
}

/// A retired (or restored) version's reason: `why`, plus what a person decided over its gate,
/// which stays on the record; the rest of the reason `before` (why it was retired) goes.
pub(crate) fn retired_reason(why: &str, before: Option<String>) -> String {
    match before.as_deref().and_then(promoted_by_hand) {
        Some(promoted) => format!("{why}; it had been {promoted}"),
        None => why.to_owned(),
    }
}

/// Why a candidate whose run stopped before it went live is rejected, by how far it got (a
/// version its gates failed is saved as rejected at once, so a candidate was not judged or
/// passed).
fn interrupted(record: &VersionRecord) -> String {
    match (&record.gate, record.published) {
        (None, _) => "interrupted: its run stopped before its gates judged it".to_owned(),
        (Some(_), false) => {
            "interrupted: it passed its gates, but its run stopped while writing its serving \
                             documents"
                .to_owned()
        }
        (Some(_), true) => format!(
            "interrupted: it passed its gates and its serving documents were written, but its run stopped \
             before the flip; `shopsense models promote {}` serves it",
            record.version
        ),
    }
}
