//! The nightly retrain: every model from the current silver features, each evaluated on a
//! held-out slice, versioned in the registry, judged by the gates, and published whole.
//!
//! One run, per kind ([`ModelKind::ALL`] or the ones asked):
//! 1. read the live pointer (and its ETag) and the live version's metrics and data profile;
//! 2. fit + evaluate + build the serving documents on a blocking thread (CPU work stays off
//!    the async runtime);
//! 3. write the version (`model.bin`, `metrics.json`, `profile.json`, then `manifest.json`);
//! 4. measure drift against the live version's profile;
//! 5. judge the gates: a rejected version stays in the registry with its reason;
//! 6. publish: write its serving documents, flip the pointer on the ETag read in step 1.
//!
//! The whole run holds the `retrain` lease, renewed while it runs: a second run started
//! meanwhile gets [`TrainError::Busy`] and exits without touching anything, and a run that
//! finds it lost publishes nothing more. Before each kind the records are reconciled with the
//! live pointer (a run killed half-way leaves them behind it). One kind failing does not stop
//! the others: the report lists it under `failed`.

mod forecast;
mod inputs;
mod recommend;
mod segments;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use forecast::{ForecastArtifact, ForecastTraining, MIN_FIT_DAYS};
pub use inputs::{TrainingData, load};
pub use recommend::{CANDIDATES, RecommendArtifact, RecommendTraining};
pub use segments::SegmentsArtifact;

use crate::registry::drift::DEFAULT_PSI_THRESHOLD;
use crate::registry::{
    DataFile, DriftReport, FlipBy, GATE_HISTORY, Gates, KeptLease, Lease, LeaseError, LivePointer, Manifest,
    ModelKind, Profile, Registry, RegistryError, RetiredBy, VersionRecord, VersionStatus, code_version,
    decode_model, encode_model, holder_name, new_version,
};
use crate::segments::SegmentParams;
use crate::store::{BlobStore, Document, StoreError};

/// Earlier versions in a record's metric trend.
const TREND_VERSIONS: usize = 9;

/// The lease every retrain holds.
pub const RETRAIN_LEASE: &str = "retrain";

/// Why a training run failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Another run (a retrain, or a person's promote or rollback) holds the lease.
    #[error("the registry is busy: {0}")]
    Busy(String),
    /// The lease expired without renewal and another run may have taken it: nothing more is
    /// published by this run.
    #[error("the retrain lease was lost (not renewed in time); this run publishes nothing more")]
    LeaseLost,
    /// A feature table is missing.
    #[error("no features to train on ({missing} is missing): ingest transactions first")]
    NoFeatures {
        /// The missing file.
        missing: &'static str,
    },
    /// A feature table is unusable.
    #[error("training data: {0}")]
    Data(String),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A recommender refused.
    #[error(transparent)]
    Recommend(#[from] crate::recommend::RecommendError),
    /// The forecaster refused.
    #[error(transparent)]
    Forecast(#[from] crate::forecast::ForecastError),
    /// The segmentation refused.
    #[error(transparent)]
    Segments(#[from] crate::segments::SegmentError),
}

impl From<polars::error::PolarsError> for TrainError {
    fn from(e: polars::error::PolarsError) -> Self {
        Self::Data(e.to_string())
    }
}

impl TrainError {
    /// Whether retrying later may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(StoreError::Backend { transient, .. }) => *transient,
            Self::Registry(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Every model's training parameters and the run's policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Recommender.
    pub recommend: RecommendTraining,
    /// Forecast.
    pub forecast: ForecastTraining,
    /// Segments.
    pub segments: SegmentParams,
    /// Promotion gates.
    pub gates: Gates,
    /// PSI above which drift is flagged.
    pub psi_threshold: f64,
    /// How long the lease lasts without renewal (a crashed run blocks others at most this
    /// long), seconds; a running retrain renews it every quarter of this.
    pub lease_seconds: i64,
    /// Train a kind even when its live version was trained on the same feature files, code and
    /// options (`shopsense train --force`); otherwise such a kind is left as it is.
    #[serde(default)]
    pub force: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            recommend: RecommendTraining::default(),
            forecast: ForecastTraining::default(),
            segments: SegmentParams::default(),
            gates: Gates::default(),
            psi_threshold: DEFAULT_PSI_THRESHOLD,
            lease_seconds: 120,
            force: false,
        }
    }
}

impl TrainOptions {
    /// The options that shape `kind`'s model, as its manifest records them.
    ///
    /// # Errors
    /// When they do not serialise (never for these types).
    pub fn of_kind(&self, kind: ModelKind) -> Result<Value, TrainError> {
        let value = match kind {
            ModelKind::Recommend => serde_json::to_value(&self.recommend),
            ModelKind::Forecast => serde_json::to_value(&self.forecast),
            ModelKind::Segments => serde_json::to_value(&self.segments),
        };
        value.map_err(|e| TrainError::Data(format!("{kind} options: {e}")))
    }
}

/// A step of a run, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The kind being trained (none for shared steps).
    pub kind: Option<ModelKind>,
    /// The phase: `load`, `fit`, `write`, `gate`, `publish`, `done`.
    pub phase: &'static str,
    /// Steps done so far and in all.
    pub step: (usize, usize),
}

/// How one kind ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindOutcome {
    /// The kind.
    pub kind: ModelKind,
    /// The version trained.
    pub version: String,
    /// Live or rejected.
    pub status: VersionStatus,
    /// Held-out metrics.
    pub metrics: Value,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Drift against the previous live version's data.
    pub drift: Option<DriftReport>,
    /// The key metric over the kind's recent versions and this one.
    pub metric_trend: Vec<(String, f64)>,
    /// Seconds per phase.
    pub timings: BTreeMap<String, f64>,
    /// Nothing was trained: the live version (this one) was trained on the same feature files,
    /// code and options.
    #[serde(default)]
    pub unchanged: bool,
    /// The live version this run took out of serving: none of the uploads it was trained on
    /// still counts, and this version, trained on the sales that do, was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_out: Option<TookOut>,
}

/// A live version taken out of serving ([`KindOutcome::took_out`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TookOut {
    /// The version taken out.
    pub version: String,
    /// Why, as its record now says (starting `retired: no upload`).
    pub reason: String,
}

/// A kind that failed to train or publish (its live version, if any, stays live).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindFailure {
    /// The kind.
    pub kind: ModelKind,
    /// What went wrong.
    pub error: String,
    /// Whether retrying later may succeed (a transient store failure).
    pub transient: bool,
}

impl std::fmt::Display for KindFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.error)
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Per kind trained, in training order (live or rejected by a gate).
    pub kinds: Vec<KindOutcome>,
    /// Kinds that failed, in training order.
    #[serde(default)]
    pub failed: Vec<KindFailure>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Trains, versions and publishes models.
#[derive(Debug, Clone)]
pub struct Trainer {
    silver: Arc<dyn BlobStore>,
    registry: Registry,
    options: TrainOptions,
}

/// A fitted model of any kind.
enum Artifact {
    Recommend(Box<RecommendArtifact>),
    Forecast(Box<ForecastArtifact>),
    Segments(Box<SegmentsArtifact>),
}

impl Artifact {
    fn encode(&self) -> Result<Bytes, RegistryError> {
        match self {
            Self::Recommend(a) => encode_model(a),
            Self::Forecast(a) => encode_model(a),
            Self::Segments(a) => encode_model(a),
        }
    }

    fn documents(&mut self, version: &str) -> Result<Vec<Document>, TrainError> {
        match self {
            Self::Recommend(a) => a.documents(version),
            Self::Forecast(a) => a.documents(version),
            Self::Segments(a) => a.documents(version),
        }
    }

    fn decode(kind: ModelKind, bytes: &[u8]) -> Result<Self, RegistryError> {
        Ok(match kind {
            ModelKind::Recommend => Self::Recommend(Box::new(decode_model(bytes)?)),
            ModelKind::Forecast => Self::Forecast(Box::new(decode_model(bytes)?)),
            ModelKind::Segments => Self::Segments(Box::new(decode_model(bytes)?)),
        })
    }
}

fn fit(
    kind: ModelKind,
    data: &TrainingData,
    options: &TrainOptions,
) -> Result<(Artifact, Value, Value), TrainError> {
    Ok(match kind {
        ModelKind::Recommend => {
            let (a, m) = recommend::train(data, &options.recommend)?;
            (Artifact::Recommend(Box::new(a)), m, to_value(&options.recommend))
        }
        ModelKind::Forecast => {
            let (a, m) = forecast::train(data, &options.forecast)?;
            (Artifact::Forecast(Box::new(a)), m, to_value(&options.forecast))
        }
        ModelKind::Segments => {
            let (a, m) = segments::train(data, &options.segments)?;
            (Artifact::Segments(Box::new(a)), m, to_value(&options.segments))
        }
    })
}

fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn json_bytes(v: &impl Serialize) -> Result<Bytes, TrainError> {
    serde_json::to_vec_pretty(v).map(Bytes::from).map_err(|e| TrainError::Data(e.to_string()))
}

const MODEL_FILE: &str = "model.bin";
const METRICS_FILE: &str = "metrics.json";
const PROFILE_FILE: &str = "profile.json";

impl Trainer {
    /// A trainer reading features from `silver` and writing to `registry`.
    #[must_use]
    pub fn new(silver: Arc<dyn BlobStore>, registry: Registry, options: TrainOptions) -> Self {
        Self { silver, registry, options }
    }

    /// The same trainer, training every kind asked for even when nothing changed since its live
    /// version (see [`TrainOptions::force`]).
    #[must_use]
    pub fn forcing(mut self) -> Self {
        self.options.force = true;
        self
    }

    /// The registry it writes to.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Trains `kinds` under the retrain lease (`holder`: a name no other run shares, see
    /// [`crate::registry::holder_name`]), reporting progress to `progress`.
    ///
    /// # Errors
    /// [`TrainError::Busy`] when another run holds the lease; a failure loading the features.
    /// A kind that fails is reported in [`TrainReport::failed`] and the others still train.
    pub async fn run(
        &self,
        kinds: &[ModelKind],
        holder: &str,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<TrainReport, TrainError> {
        let ttl = chrono::Duration::seconds(self.options.lease_seconds);
        let lease = match Lease::acquire(self.registry.records_store(), RETRAIN_LEASE, holder, ttl).await {
            Ok(lease) => lease.keep(ttl),
            Err(LeaseError::Held { holder, until, .. }) => {
                return Err(TrainError::Busy(format!("{holder} holds the lease until {until}")));
            }
            Err(LeaseError::Store(e)) => return Err(e.into()),
        };
        let result = self.run_locked(kinds, &lease, progress).await;
        if let Err(e) = lease.release().await {
            tracing::warn!(error = %e, "could not release the retrain lease; it will expire");
        }
        result
    }

    async fn run_locked(
        &self,
        kinds: &[ModelKind],
        lease: &KeptLease,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<TrainReport, TrainError> {
        let started = Instant::now();
        let total = kinds.len() * 4 + 1;
        progress(Progress { kind: None, phase: "load", step: (0, total) });
        let data = Arc::new(load(&*self.silver).await?);
        let profile_values = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || data.profile_values())
                .await
                .map_err(|e| TrainError::Data(format!("profile task failed: {e}")))??
        };
        let profile = Profile::of(&profile_values);
        let mut outcomes = Vec::new();
        let mut failed = Vec::new();
        for (n, &kind) in kinds.iter().enumerate() {
            let step = |k: usize, phase: &'static str| Progress {
                kind: Some(kind),
                phase,
                step: (1 + n * 4 + k, total),
            };
            let report = |k: usize, p: &'static str| progress(step(k, p));
            // A run that lost its lease trains no further kind: another run may hold it now.
            let trained = match still_held(lease) {
                Ok(()) => self.train_kind(kind, &data, &profile, &profile_values, lease, &report).await,
                Err(lost) => Err(lost),
            };
            // What this kind freed, given back before the next one allocates its own.
            crate::memory::give_back_freed_memory(kind.as_str()).await;
            match trained {
                Ok(outcome) => {
                    if let Err(e) = self.registry.clear_failure(kind).await {
                        tracing::warn!(%kind, error = %e, "cannot clear the kind's last failure: the models list shows it until the next run");
                    }
                    outcomes.push(outcome);
                }
                Err(e) => {
                    tracing::error!(%kind, error = %e, "training failed; the live version stays live");
                    if let Err(kept) = self.registry.record_failure(kind, &e.to_string()).await {
                        tracing::warn!(%kind, error = %kept, "cannot keep the failure for the API's advice");
                    }
                    failed.push(KindFailure { kind, error: e.to_string(), transient: e.is_transient() });
                }
            }
        }
        progress(Progress { kind: None, phase: "done", step: (total, total) });
        Ok(TrainReport { kinds: outcomes, failed, seconds: started.elapsed().as_secs_f64() })
    }

    async fn train_kind(
        &self,
        kind: ModelKind,
        data: &Arc<TrainingData>,
        profile: &Profile,
        profile_values: &[(&'static str, Vec<f64>)],
        lease: &KeptLease,
        progress: &(dyn Fn(usize, &'static str) + Send + Sync),
    ) -> Result<KindOutcome, TrainError> {
        self.registry.reconcile(kind).await?;
        let created_at = Utc::now();
        let version = new_version(created_at);
        let live = self.registry.live(kind).await?;
        let live_record = match &live {
            Some((pointer, _)) => self.registry.record(kind, &pointer.version).await?,
            None => None,
        };
        let mut timings = BTreeMap::new();
        let kind_options = self.options.of_kind(kind)?;
        let pin = live.as_ref().and_then(|(pointer, _)| pointer.pinned.clone());
        if let (Some(expected), Some((missing, needed))) = (&live, data.missing_for(kind)) {
            // The live version was trained on sales that no longer count (every upload of them
            // withdrawn): serving it would keep answering from withdrawn data, a data-removal
            // request's included, for as long as no new sales come.
            let pointer = &expected.0;
            still_held(lease)?;
            let pin =
                pointer.pinned.as_ref().map(|pin| format!("; its pin ({pin}) is lifted")).unwrap_or_default();
            let reason = format!(
                "retired: {missing} (the uploads it was trained on were withdrawn), so nothing serves the {} \
                 until {needed} are ingested and trained{pin}",
                kind.noun()
            );
            self.registry.retire_live(expected, &reason).await?;
            tracing::warn!(%kind, version = %pointer.version, "{reason}");
            let record = self.registry.record(kind, &pointer.version).await?;
            let mut retired = match record {
                Some(record) => outcome(record, timings),
                None => KindOutcome {
                    kind,
                    version: pointer.version.clone(),
                    status: VersionStatus::Retired,
                    metrics: Value::Null,
                    reason: None,
                    drift: None,
                    metric_trend: Vec::new(),
                    timings,
                    unchanged: false,
                    took_out: None,
                },
            };
            retired.reason = Some(reason);
            retired.metric_trend = Vec::new();
            retired.drift = None;
            return Ok(retired);
        }
        // The live version trained on uploads withdrawn since (the demo's sample, say, before the
        // shop's own data): its metrics measure sales that no longer count, so holding this
        // version to them would keep the withdrawn data serving. It is judged as a first one.
        let (withdrawn, share) = match &live {
            Some((pointer, _)) => self.withdrawn_since(kind, &pointer.version, &data.now()).await?,
            None => (Vec::new(), 0.0),
        };
        // Every one of them withdrawn: if no version replaces it, it is taken out of serving.
        let none_counts = (share >= 1.0).then(|| withdrawn.clone());
        // Only when they held most of its training rows: one bad day withdrawn out of hundreds
        // leaves the live version the yardstick it was.
        let withdrawn = if share >= WITHDRAWN_SHARE_UNJUDGED { withdrawn } else { Vec::new() };
        if !self.options.force
            && let Some(same) = self
                .same_inputs(kind, &data.files, &kind_options, live.as_ref().map(|(p, _)| p))
                .await?
                // Rejected against a live version, while the live one was trained on uploads
                // withdrawn since: that verdict no longer stands (against this version, or one
                // live before it), and the same inputs are judged again as a first version.
                .filter(|same| {
                    withdrawn.is_empty()
                        || !same.rejected_by_its_gates()
                        || same.gate.as_ref().is_none_or(|g| g.live_version.is_none())
                })
        {
            if pin.is_none() && same.status == VersionStatus::Retired && replaced_by_a_retrain(&same) {
                // The features went back to what this version was trained on (an upload was
                // withdrawn since): the live version was trained on data that no longer counts,
                // and this one is the model of these inputs. Calling it unchanged would leave
                // the withdrawn data serving every night until the next upload.
                let live_version = live.as_ref().map(|(p, _)| p.version.clone());
                let record = self.restore(same, live.as_ref(), live_version.as_deref(), lease).await?;
                tracing::warn!(%kind, version = %record.version, replaced = live_version.as_deref().unwrap_or("nothing"), "restored: the features are back to those it was trained on");
                let mut restored = outcome(record, timings);
                restored.drift = None;
                restored.metric_trend = Vec::new();
                return Ok(restored);
            }
            // The same inputs give the same model: a new version would only repeat its verdict,
            // or push an older, different one out of the rollback history (or undo a rollback).
            tracing::info!(%kind, version = %same.version, status = %same.status, "unchanged: a kept version was trained on the same features, code and options");
            let said = match same.status {
                VersionStatus::Live => "live".to_owned(),
                status => format!("{status} ({})", same.reason.as_deref().unwrap_or("no reason recorded")),
            };
            let took_out = if same.rejected_by_its_gates() {
                self.take_out_unreplaced(live.as_ref(), none_counts.as_deref(), &same.version, lease).await?
            } else {
                None
            };
            let mut unchanged = outcome(same, timings);
            unchanged.unchanged = true;
            unchanged.took_out = took_out;
            unchanged.reason = Some(format!(
                "unchanged: {} was trained on these same features, code and options and is {said}; \
                 `shopsense train --force` trains again",
                unchanged.version
            ));
            // Its drift and trend are of the night it was trained, not of this run.
            unchanged.drift = None;
            unchanged.metric_trend = Vec::new();
            return Ok(unchanged);
        }

        progress(0, "fit");
        let t = Instant::now();
        let (data2, options, v) = (data.clone(), self.options.clone(), version.clone());
        let (artifact_bytes, metrics, params, docs) = tokio::task::spawn_blocking(move || {
            let (mut artifact, metrics, params) = fit(kind, &data2, &options)?;
            let bytes = artifact.encode()?;
            let docs = artifact.documents(&v)?;
            Ok::<_, TrainError>((bytes, metrics, params, docs))
        })
        .await
        .map_err(|e| TrainError::Data(format!("training task failed: {e}")))??;
        timings.insert("fit_evaluate_encode".to_owned(), t.elapsed().as_secs_f64());
        tracing::info!(%kind, version, seconds = t.elapsed().as_secs_f64(), %metrics, "trained");

        progress(1, "write");
        // The fit can outlast a lost lease (a paused or starved process): write nothing then.
        still_held(lease)?;
        let t = Instant::now();
        let drift = match &live_record {
            Some(record) => match self.registry.read_file(kind, &record.version, PROFILE_FILE).await {
                Ok(bytes) => serde_json::from_slice::<Profile>(&bytes).ok().map(|previous| {
                    previous.drift(&record.version, profile, profile_values, self.options.psi_threshold)
                }),
                Err(RegistryError::UnknownVersion { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        if let Some(drift) = drift.as_ref().filter(|d| d.flagged) {
            let flagged: Vec<String> = drift
                .features
                .iter()
                .filter(|f| f.flagged)
                .map(|f| format!("{} (PSI {:.3})", f.feature, f.psi))
                .collect();
            tracing::warn!(%kind, version, against = %drift.against, features = %flagged.join(", "), "training data drifted");
        }
        let files = vec![
            (MODEL_FILE.to_owned(), artifact_bytes),
            (METRICS_FILE.to_owned(), json_bytes(&metrics)?),
            (PROFILE_FILE.to_owned(), json_bytes(profile)?),
        ];
        let manifest = Manifest {
            kind,
            version: version.clone(),
            created_at,
            code_version: code_version(),
            data: data.files.clone(),
            options: kind_options,
            params,
            timings: timings.clone(),
            files: files.iter().map(|(name, _)| name.clone()).collect(),
            batches: data.batches.clone(),
        };
        // The kind's versions before this one, newest first: its metric trend, and whether the
        // live version has held one back (below).
        let versions = self.registry.list(kind).await?;
        let mut metric_trend: Vec<(String, f64)> = versions
            .iter()
            .take(TREND_VERSIONS)
            .filter_map(|r| {
                r.metrics.get(kind.key_metric()).and_then(Value::as_f64).map(|v| (r.version.clone(), v))
            })
            .collect();
        metric_trend.reverse();
        if let Some(value) = metrics.get(kind.key_metric()).and_then(Value::as_f64) {
            metric_trend.push((version.clone(), value));
        }
        let mut record = VersionRecord {
            kind,
            version: version.clone(),
            status: VersionStatus::Candidate,
            created_at,
            updated_at: created_at,
            metrics: metrics.clone(),
            gate: None,
            reason: None,
            published: false,
            documents: 0,
            drift: drift.clone(),
            metric_trend,
            retired_by: None,
        };
        self.registry.write_version(&manifest, &files, &record).await?;
        timings.insert("write_version".to_owned(), t.elapsed().as_secs_f64());

        progress(2, "gate");
        // The live version, then those live before it, newest first: the gate's median.
        let mut recent: Vec<VersionRecord> =
            live_record.iter().filter(|_| withdrawn.is_empty()).cloned().collect();
        if let Some((pointer, _)) = live.as_ref().filter(|_| withdrawn.is_empty()) {
            for earlier in pointer.earlier().iter().rev().take(GATE_HISTORY - 1) {
                recent.extend(self.registry.record(kind, earlier).await?);
            }
        }
        // A live record from before `data_end` was kept is read as ending the day it was made.
        if let Some(first) = recent.first_mut()
            && first.metrics.get("data_end").is_none()
            && let Some(fields) = first.metrics.as_object_mut()
        {
            fields.insert("data_end".into(), Value::String(first.created_at.date_naive().to_string()));
        }
        // Held back (the gate's stale waiver needs it): since the pointer last moved (a
        // retrain, a promotion, a rollback), the gate rejected a version for falling short of the
        // live versions, on data ending at least `max_stale_days` after the live version's.
        let held_back = match (&live, recent.first()) {
            (Some((pointer, _)), Some(live_record)) => {
                let live_end = crate::registry::gate::data_end(&live_record.metrics);
                let stale_days = self.options.gates.max_stale_days;
                versions.iter().any(|r| {
                    r.status == VersionStatus::Rejected
                        && r.created_at > pointer.updated_at
                        && r.gate.as_ref().is_some_and(crate::registry::GateReport::failed_against_live)
                        && crate::registry::gate::data_end(&r.metrics)
                            .zip(live_end)
                            .is_some_and(|(end, live)| (end - live).num_days() as f64 >= stale_days)
                })
            }
            _ => false,
        };
        let recent: Vec<(&str, &Value)> = recent.iter().map(|r| (r.version.as_str(), &r.metrics)).collect();
        let gate = self.options.gates.judge_after(kind, &metrics, &recent, held_back);
        record.gate = Some(gate.clone());
        if !gate.passed {
            record.status = VersionStatus::Rejected;
            record.reason = Some(format!("gate failed: {}", gate.failures()));
            self.registry.save_record(&record).await?;
            still_held(lease)?;
            if let Err(e) = self.registry.apply_retention(kind).await {
                tracing::warn!(%kind, error = %e, "retention failed; it runs again after the next publish");
            }
            tracing::warn!(%kind, version, reason = record.reason.as_deref().unwrap_or(""), "version rejected");
            let took_out = self
                .take_out_unreplaced(live.as_ref(), none_counts.as_deref(), &record.version, lease)
                .await?;
            let mut rejected = outcome(record, timings);
            rejected.took_out = took_out;
            return Ok(rejected);
        }

        if let (Some(pin), Some((pointer, _))) = (&pin, &live) {
            // A person rolled back: what passes is kept for them to promote, not published over it.
            record.status = VersionStatus::Held;
            record.reason = Some(format!(
                "held: passed its gates while {kind} was pinned to {} ({pin}); `shopsense models promote \
                 {version}` serves it",
                pointer.version
            ));
            self.registry.save_record(&record).await?;
            still_held(lease)?;
            if let Err(e) = self.registry.apply_retention(kind).await {
                tracing::warn!(%kind, error = %e, "retention failed; it runs again after the next publish");
            }
            tracing::warn!(%kind, version, live = %pointer.version, %pin, "passed its gates but held: the kind is pinned by a rollback");
            return Ok(outcome(record, timings));
        }

        progress(3, "publish");
        let t = Instant::now();
        // Recorded before the documents go out, so a run killed while publishing leaves a
        // record that says how far it got.
        still_held(lease)?;
        self.registry.save_record(&record).await?;
        let published = self.publish(&mut record, &docs, live.as_ref(), lease).await;
        if let Err(e) = published {
            record.status = VersionStatus::Rejected;
            record.reason = Some(format!("publish failed: {e}"));
            if let Err(save) = self.registry.save_record(&record).await {
                tracing::warn!(%kind, version, error = %save, "could not record the failed publish");
            }
            return Err(e);
        }
        timings.insert("publish".to_owned(), t.elapsed().as_secs_f64());
        tracing::info!(%kind, version, documents = docs.len(), "published and live");
        let mut live_now = outcome(record, timings);
        if let Some((pointer, _)) = live.as_ref().filter(|_| !withdrawn.is_empty()) {
            live_now.reason = Some(format!(
                "judged as a first version: the version it replaced, {}, was trained on {}",
                pointer.version,
                withdrawn_uploads(&withdrawn)
            ));
        }
        Ok(live_now)
    }

    /// After `rejected`, trained on the sales that count, was rejected by its gates: the live
    /// version is taken out of serving when none of the uploads it was trained on still counts
    /// (`none_counts`: those uploads), so the kind answers 503 with the reason instead of
    /// answering from withdrawn sales, a data-removal request's included. A version a person
    /// pinned or chose stays: the warnings of `GET /api/models` name its withdrawn uploads. A
    /// pointer moved meanwhile (a promote) is left as the person left it.
    async fn take_out_unreplaced(
        &self,
        live: Option<&(LivePointer, crate::store::ETag)>,
        none_counts: Option<&[String]>,
        rejected: &str,
        lease: &KeptLease,
    ) -> Result<Option<TookOut>, TrainError> {
        let (Some(expected), Some(uploads)) = (live, none_counts) else { return Ok(None) };
        let pointer = &expected.0;
        if pointer.pinned.is_some() || pointer.chosen_at.is_some() {
            return Ok(None);
        }
        let kind = pointer.kind;
        let reason = format!(
            "retired: no upload it was trained on still counts ({}); {rejected}, trained on the sales that do, \
             was rejected by its gates, so nothing serves the {} until a version passes them (or \
             `shopsense models promote {rejected}` serves that one)",
            withdrawn_uploads(uploads),
            kind.noun()
        );
        still_held(lease)?;
        match self.registry.retire_live(expected, &reason).await {
            Ok(()) => {}
            Err(RegistryError::PointerMoved { .. }) => {
                tracing::info!(%kind, version = %pointer.version, "not taken out: the live pointer moved meanwhile");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::warn!(%kind, version = %pointer.version, "{reason}");
        Ok(Some(TookOut { version: pointer.version.clone(), reason }))
    }

    /// The uploads `version` of `kind` was trained on that the features `now` no longer count
    /// ([`withdrawn_batches`]), with the share of its training rows they held.
    async fn withdrawn_since(
        &self,
        kind: ModelKind,
        version: &str,
        now: &FeaturesNow<'_>,
    ) -> Result<(Vec<String>, f64), TrainError> {
        let Some(manifest) = self.registry.manifest(kind, version).await? else {
            return Ok((Vec::new(), 0.0));
        };
        let withdrawn = withdrawn_batches(&manifest, now);
        if withdrawn.is_empty() {
            return Ok((withdrawn, 0.0));
        }
        // Each upload by the rows ingest accepted from it (one, for a report that is gone).
        let (mut gone, mut all) = (0_u64, 0_u64);
        for batch in &manifest.batches {
            let path = crate::ingest::report_path(crate::ingest::UploadKind::Transactions, batch_sha(batch));
            let report = self.silver.get(&path).await.ok().flatten();
            let n = report
                .and_then(|b| serde_json::from_slice::<crate::ingest::QualityReport>(&b.body).ok())
                .map_or(1, |r| r.rows_accepted.max(1));
            all += n;
            if withdrawn.contains(batch) {
                gone += n;
            }
        }
        Ok((withdrawn, gone as f64 / all.max(1) as f64))
    }

    /// The uploads `version` of `kind` was trained on that were withdrawn since (empty when its
    /// manifest predates the record of them, or the features are the very tables it was trained
    /// on): until a retrain replaces it, it answers from sales that no longer count.
    ///
    /// # Errors
    /// Store failures.
    pub async fn on_withdrawn(&self, kind: ModelKind, version: &str) -> Result<Vec<String>, TrainError> {
        let Some((snapshot, _)) = crate::features::snapshot::current(&*self.silver).await? else {
            return Ok(Vec::new());
        };
        let Some(manifest) = self.registry.manifest(kind, version).await? else { return Ok(Vec::new()) };
        Ok(withdrawn_batches(&manifest, &FeaturesNow::of_snapshot(&snapshot)))
    }

    /// The newest kept version of `kind` (live, retired, rejected by its gates, or held and still
    /// standing for its inputs by [`LivePointer::held_stands`] of the `live` pointer; not one
    /// rejected because its run stopped or its publish failed, which decided nothing about its
    /// inputs: a storage outage while publishing would otherwise keep that model from training
    /// again until the data changed) whose manifest names
    /// the same feature tables with the same bytes (by table name and sha256: a refresh writes
    /// identical tables under a new snapshot folder), the same code version and `options`.
    async fn same_inputs(
        &self,
        kind: ModelKind,
        files: &[DataFile],
        options: &Value,
        live: Option<&LivePointer>,
    ) -> Result<Option<VersionRecord>, TrainError> {
        let wanted = tables_of(files);
        for record in self.registry.list(kind).await? {
            let released =
                record.status == VersionStatus::Held && !live.is_some_and(|p| p.held_stands(&record));
            let undecided = record.status == VersionStatus::Rejected && !record.rejected_by_its_gates();
            if record.status == VersionStatus::Candidate || released || undecided {
                continue;
            }
            let Some(manifest) = self.registry.manifest(kind, &record.version).await? else { continue };
            if tables_of(&manifest.data) == wanted
                && manifest.code_version == code_version()
                && manifest.options == *options
            {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Writes the serving documents and flips, each only while the lease is still ours.
    async fn publish(
        &self,
        record: &mut VersionRecord,
        docs: &[Document],
        live: Option<&(crate::registry::LivePointer, crate::store::ETag)>,
        lease: &KeptLease,
    ) -> Result<(), TrainError> {
        still_held(lease)?;
        self.registry.write_serving(record, docs).await?;
        still_held(lease)?;
        self.registry.flip(record, live, FlipBy::Retrain, "replaced by").await?;
        Ok(())
    }

    /// Takes the retrain lease for a by-hand registry change, so it never interleaves with a
    /// retrain's publish.
    async fn by_hand(&self) -> Result<KeptLease, TrainError> {
        let ttl = chrono::Duration::seconds(self.options.lease_seconds);
        match Lease::acquire(self.registry.records_store(), RETRAIN_LEASE, &holder_name("models"), ttl).await
        {
            Ok(lease) => Ok(lease.keep(ttl)),
            Err(LeaseError::Held { holder, until, .. }) => {
                Err(TrainError::Busy(format!("{holder} holds the lease until {until}; try again after it")))
            }
            Err(LeaseError::Store(e)) => Err(e.into()),
        }
    }

    /// Makes `version` of `kind` live by hand: republishes its serving documents from its
    /// stored model when they are not kept, then flips the pointer (gates are not applied: a
    /// person decided). Holds the retrain lease meanwhile.
    ///
    /// # Errors
    /// [`TrainError::Busy`] during a retrain; unknown or incomplete versions; store failures;
    /// [`RegistryError::PointerMoved`].
    pub async fn promote(&self, kind: ModelKind, version: &str) -> Result<VersionRecord, TrainError> {
        let lease = self.by_hand().await?;
        let result = self.promote_locked(kind, version, &lease).await;
        if let Err(e) = lease.release().await {
            tracing::warn!(error = %e, "could not release the retrain lease; it will expire");
        }
        result
    }

    async fn promote_locked(
        &self,
        kind: ModelKind,
        version: &str,
        lease: &KeptLease,
    ) -> Result<VersionRecord, TrainError> {
        let unknown = || RegistryError::UnknownVersion { kind, version: version.to_owned() };
        let mut record = self.registry.record(kind, version).await?.ok_or_else(unknown)?;
        if self.registry.manifest(kind, version).await?.is_none() {
            return Err(RegistryError::NotPromotable {
                kind,
                version: version.to_owned(),
                reason: "its files were never completely written (no manifest)".into(),
            }
            .into());
        }
        let live = self.registry.live(kind).await?;
        if live.as_ref().is_some_and(|(p, _)| p.version == version) {
            // Already live: promoting it says a person chose it, so a pin is lifted all the same
            // and the versions held so far are decided over.
            self.registry.unpin(kind, true).await?;
            return Ok(record);
        }
        self.republish(&mut record).await?;
        still_held(lease)?;
        self.registry.flip(&mut record, live.as_ref(), FlipBy::Promote, "replaced by promoted").await?;
        Ok(record)
    }

    /// Writes a kept version's serving documents again from its stored model when retention
    /// removed them.
    async fn republish(&self, record: &mut VersionRecord) -> Result<(), TrainError> {
        if record.published {
            return Ok(());
        }
        let (kind, version) = (record.kind, record.version.clone());
        let path = format!("{kind}/{version}/{MODEL_FILE}");
        let bytes = self.registry.read_file(kind, &version, MODEL_FILE).await?;
        let docs = tokio::task::spawn_blocking(move || {
            Artifact::decode(kind, &bytes).map_err(|e| e.in_file(&path))?.documents(&version)
        })
        .await
        .map_err(|e| TrainError::Data(format!("publish task failed: {e}")))??;
        self.registry.write_serving(record, &docs).await?;
        Ok(())
    }

    /// Makes the retired `record`, trained on the features as they are again, live in place of
    /// `live_version` (none when it was taken out of serving; a retrain's flip: it went live before, by its gates or a person's promote,
    /// which its reason keeps saying).
    async fn restore(
        &self,
        mut record: VersionRecord,
        live: Option<&(crate::registry::LivePointer, crate::store::ETag)>,
        live_version: Option<&str>,
        lease: &KeptLease,
    ) -> Result<VersionRecord, TrainError> {
        still_held(lease)?;
        self.republish(&mut record).await?;
        still_held(lease)?;
        self.registry.flip(&mut record, live, FlipBy::Retrain, "replaced by restored").await?;
        let restored = match live_version {
            Some(live_version) => format!(
                "restored: the features are back to those it was trained on (an upload was withdrawn), so it \
                 replaced {live_version}, which was trained on data that no longer counts"
            ),
            // Taken out of serving when its sales were withdrawn, and they were sent again.
            None => {
                "restored: the features are back to those it was trained on (its sales were ingested again)"
                    .to_owned()
            }
        };
        // What a person decided over its gate, when it first went live, stays said; why it was
        // retired (replaced, or taken out) does not.
        record.reason = Some(crate::registry::retired_reason(&restored, record.reason.take()));
        self.registry.save_record(&record).await?;
        Ok(record)
    }

    /// Rolls `kind` back one version by hand ([`Registry::rollback`], which pins the kind),
    /// holding the retrain lease.
    ///
    /// # Errors
    /// [`TrainError::Busy`] during a retrain; [`RegistryError::NoRollback`]; store failures.
    pub async fn rollback(&self, kind: ModelKind) -> Result<VersionRecord, TrainError> {
        self.holding_lease(self.registry.rollback(kind)).await
    }

    /// Lifts a rollback's pin by hand ([`Registry::unpin`]), holding the retrain lease; the pin
    /// lifted, if the kind had one.
    ///
    /// # Errors
    /// [`TrainError::Busy`] during a retrain; store failures.
    pub async fn unpin(&self, kind: ModelKind) -> Result<Option<crate::registry::Pin>, TrainError> {
        self.holding_lease(self.registry.unpin(kind, false)).await
    }

    /// Runs a by-hand registry change under the retrain lease.
    async fn holding_lease<T>(
        &self,
        change: impl Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, TrainError> {
        let lease = self.by_hand().await?;
        let result = change.await.map_err(TrainError::from);
        if let Err(e) = lease.release().await {
            tracing::warn!(error = %e, "could not release the retrain lease; it will expire");
        }
        result
    }
}

/// [`TrainError::LeaseLost`] once the lease lapsed: another run may hold it, so nothing more is
/// written, deleted or published.
fn still_held(lease: &KeptLease) -> Result<(), TrainError> {
    if lease.is_held() { Ok(()) } else { Err(TrainError::LeaseLost) }
}

/// The share of the live version's training rows that must have been withdrawn for a candidate
/// to be judged as a first version rather than against it.
pub const WITHDRAWN_SHARE_UNJUDGED: f64 = 0.5;

/// What the features hold now, for [`withdrawn_batches`]: the uploads counted, and each table's
/// sha256 by its file name (empty when unknown).
#[derive(Debug, Clone, Copy)]
pub struct FeaturesNow<'a> {
    /// The silver batches (one per upload counted).
    pub batches: &'a [String],
    /// Table file name to sha256.
    pub tables: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> FeaturesNow<'a> {
    /// From the current feature snapshot's pointer.
    #[must_use]
    pub fn of_snapshot(snapshot: &'a crate::features::snapshot::FeatureSnapshot) -> Self {
        Self { batches: &snapshot.batches, tables: &snapshot.tables }
    }
}

/// The uploads (silver batches) a version's `manifest` names that the features `now` no longer
/// count: withdrawn since. None when its manifest predates the record of them, or when it was
/// trained on the very tables the features hold (the same rows sent again as other bytes).
#[must_use]
pub fn withdrawn_batches(manifest: &Manifest, now: &FeaturesNow<'_>) -> Vec<String> {
    let trained = tables_of(&manifest.data);
    if !now.tables.is_empty() && trained == *now.tables {
        return Vec::new();
    }
    let counted: std::collections::HashSet<&str> = now.batches.iter().map(String::as_str).collect();
    manifest.batches.iter().filter(|b| !counted.contains(b.as_str())).cloned().collect()
}

/// `batches` (silver batch paths, each named by its upload's sha256) as a person reads them:
/// "2 uploads withdrawn since (sha256 0cde3ddd75b0, 5a1b2c3d4e5f)", as `uploads list` names them.
#[must_use]
pub fn withdrawn_uploads(batches: &[String]) -> String {
    let shas: Vec<&str> = batches
        .iter()
        .map(|b| {
            let sha = batch_sha(b);
            &sha[..12.min(sha.len())]
        })
        .take(3)
        .collect();
    let more = if batches.len() > shas.len() { ", ..." } else { "" };
    let plural = if batches.len() == 1 { "" } else { "s" };
    format!("{} upload{plural} withdrawn since (sha256 {}{more})", batches.len(), shas.join(", "))
}

/// The sha256 of the upload a silver batch (`transactions/.../<sha256>.parquet`) was read from.
fn batch_sha(batch: &str) -> &str {
    batch.rsplit('/').next().unwrap_or(batch).trim_end_matches(".parquet")
}

/// Feature files by their file name (`interactions.parquet`), each with its sha256: what a
/// version was trained on, whichever snapshot folder held them.
#[must_use]
pub fn tables_of(files: &[DataFile]) -> std::collections::BTreeMap<String, String> {
    files
        .iter()
        .map(|f| (f.path.rsplit('/').next().unwrap_or(&f.path).to_owned(), f.sha256.clone()))
        .collect()
}

/// Whether a retired version was replaced by a retrain (or restored over), not by a person's
/// rollback or promote: a person's choice against it stands when its inputs come back. A record
/// retired before [`VersionRecord::retired_by`] says it in its reason's words.
fn replaced_by_a_retrain(record: &VersionRecord) -> bool {
    match record.retired_by {
        Some(by) => matches!(by, RetiredBy::Retrain | RetiredBy::TakenOut),
        None => record.reason.as_deref().is_some_and(|r| {
            r.starts_with("replaced by ")
                && !r.starts_with("replaced by promoted")
                && !r.starts_with("replaced by nothing")
        }),
    }
}

fn outcome(record: VersionRecord, timings: BTreeMap<String, f64>) -> KindOutcome {
    KindOutcome {
        kind: record.kind,
        version: record.version,
        status: record.status,
        metrics: record.metrics,
        reason: record.reason,
        drift: record.drift,
        metric_trend: record.metric_trend,
        timings,
        unchanged: false,
        took_out: None,
    }
}
