//! What the registry stores about each version.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::drift::DriftReport;
use super::gate::GateReport;

/// A kind of model, each versioned and published on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// The hybrid recommender (customers, similar items, cart completion).
    Recommend,
    /// Per-SKU demand forecasts.
    Forecast,
    /// RFM + k-means customer segments.
    Segments,
}

impl ModelKind {
    /// Every kind, in training order.
    pub const ALL: [Self; 3] = [Self::Recommend, Self::Forecast, Self::Segments];

    /// The name used in paths, documents and the CLI.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recommend => "recommend",
            Self::Forecast => "forecast",
            Self::Segments => "segments",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown model kind {s:?}: use recommend, forecast or segments"))
    }
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Written, not (yet) judged or published.
    Candidate,
    /// What serving reads.
    Live,
    /// Failed a gate or its publish; kept with the reason.
    Rejected,
    /// Was live, replaced by a newer or rolled-back version; its serving documents are kept
    /// while it is among the retained versions, so a rollback is instant.
    Retired,
    /// Passed its gates while the kind was pinned by a rollback, so it was not published: a
    /// person rolled back and the nightly retrain does not undo that. `shopsense models promote`
    /// serves it.
    Held,
}

impl fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Candidate => "candidate",
            Self::Live => "live",
            Self::Rejected => "rejected",
            Self::Retired => "retired",
            Self::Held => "held",
        };
        f.write_str(text)
    }
}

/// The registry's record of one version (document id = the version, partition = the kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The model kind.
    pub kind: ModelKind,
    /// The version id.
    pub version: String,
    /// Where it stands.
    pub status: VersionStatus,
    /// When it was trained.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// Its held-out metrics (kind-specific; see `metrics.json`).
    pub metrics: Value,
    /// The gates' verdict, when judged.
    pub gate: Option<GateReport>,
    /// Why it was rejected or retired, in words.
    pub reason: Option<String>,
    /// Whether its serving documents are complete in the serving container.
    pub published: bool,
    /// Serving documents written for it (for cleanup).
    pub documents: usize,
    /// Feature drift against the previous version's training data.
    pub drift: Option<DriftReport>,
    /// The kind's key metric over the previous versions (oldest first) and this one:
    /// `(version, value)`; nDCG, WAPE of totals or silhouette.
    #[serde(default)]
    pub metric_trend: Vec<(String, f64)>,
    /// What retired it (`None` unless retired, and for records retired before this field, whose
    /// `reason` says it in words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_by: Option<RetiredBy>,
}

impl VersionRecord {
    /// Whether its gates rejected it: a decision on its inputs. A version rejected because its
    /// run stopped or its publish failed (a storage outage) was never judged whole, so training
    /// the same inputs again is worth doing.
    #[must_use]
    pub fn rejected_by_its_gates(&self) -> bool {
        self.status == VersionStatus::Rejected && self.gate.as_ref().is_some_and(|g| !g.passed)
    }
}

impl ModelKind {
    /// The metric that sums a version up (the gate's main metric).
    #[must_use]
    pub fn key_metric(self) -> &'static str {
        match self {
            Self::Recommend => "ndcg",
            Self::Forecast => "wape_total",
            Self::Segments => "silhouette",
        }
    }

    /// What its live model is called in a sentence.
    #[must_use]
    pub fn noun(self) -> &'static str {
        match self {
            Self::Recommend => "recommender",
            Self::Forecast => "forecast",
            Self::Segments => "segmentation",
        }
    }
}

/// The document naming the live version of a kind (id `live`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePointer {
    /// The model kind.
    pub kind: ModelKind,
    /// The live version.
    pub version: String,
    /// The version a rollback goes back to (the last of `history`), if any.
    pub previous: Option<String>,
    /// The versions live before this one, oldest first: each flip appends the one it replaces,
    /// each rollback takes the last off, so rollbacks walk back one version at a time.
    #[serde(default)]
    pub history: Vec<String>,
    /// When it was flipped.
    pub updated_at: DateTime<Utc>,
    /// Set by a rollback: retrains still train and judge this kind but hold what passes instead
    /// of publishing it, until a person unpins the kind or promotes a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pin>,
    /// When a person last promoted a version by hand (this one, or the one live then): versions
    /// held before it stand for their inputs, since the person chose over them, so a quiet night
    /// does not retrain over that choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_at: Option<DateTime<Utc>>,
}

impl LivePointer {
    /// Whether a `held` version still stands for the inputs it was trained on: while the kind is
    /// pinned, or when a person chose a version after it was held. Otherwise (unpinned since) it
    /// passed its gates and only the pin kept it back, so the next retrain trains again.
    #[must_use]
    pub fn held_stands(&self, held: &VersionRecord) -> bool {
        self.pinned.is_some() || self.chosen_at.is_some_and(|t| held.created_at < t)
    }
}

/// How a flip of the live pointer came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlipBy {
    /// A retrain whose version passed its gates.
    Retrain,
    /// A person's promote ([`LivePointer::chosen_at`]).
    Promote,
    /// A person's rollback, which pins the kind.
    Rollback(Pin),
}

/// What replaced a retired version: a retrain brings back only what a retrain replaced, never
/// one a person rolled back from or promoted over, when its inputs come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetiredBy {
    /// A retrain whose version passed its gates, or a restore.
    Retrain,
    /// A person's promote.
    Promote,
    /// A person's rollback.
    Rollback,
    /// A retrain that took it out of serving ([`crate::registry::Registry::retire_live`]):
    /// nothing was left to train the kind on (every sale withdrawn). It comes back with its
    /// inputs, as one a retrain replaced.
    TakenOut,
}

impl FlipBy {
    /// What the flip retires the version it replaces as.
    #[must_use]
    pub fn retires_as(&self) -> RetiredBy {
        match self {
            Self::Retrain => RetiredBy::Retrain,
            Self::Promote => RetiredBy::Promote,
            Self::Rollback(_) => RetiredBy::Rollback,
        }
    }
}

/// A person's hold on a kind's live version (see [`LivePointer::pinned`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// When it was set.
    pub at: DateTime<Utc>,
    /// Why, in words (`rolled back from <version>`).
    pub reason: String,
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.reason, self.at.format("%Y-%m-%d %H:%M:%S UTC"))
    }
}

impl LivePointer {
    /// The versions live before this one, oldest first (pointers written before `history` was
    /// kept know only `previous`).
    #[must_use]
    pub fn earlier(&self) -> Vec<String> {
        if self.history.is_empty() { self.previous.iter().cloned().collect() } else { self.history.clone() }
    }
}

/// One input file of a training run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Path in the silver container.
    pub path: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json` of a version: everything needed to say what it is and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The model kind.
    pub kind: ModelKind,
    /// The version id.
    pub version: String,
    /// When training started.
    pub created_at: DateTime<Utc>,
    /// The `shopsense` crate version and, when built in CI, the commit.
    pub code_version: String,
    /// The feature files trained on, with their hashes.
    pub data: Vec<DataFile>,
    /// The options that shaped the model (the kind's part of the training options); null in
    /// manifests written before they were recorded.
    #[serde(default)]
    pub options: Value,
    /// The parameters used.
    pub params: Value,
    /// Seconds per phase (load, fit, evaluate, encode, ...).
    pub timings: BTreeMap<String, f64>,
    /// Blob files of the version besides the manifest.
    pub files: Vec<String>,
    /// The silver transaction batches (one per upload counted) its features were computed from;
    /// empty in manifests written before they were recorded. One missing from the features now
    /// was withdrawn since.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<String>,
}

/// The code version recorded in manifests: the crate version plus `SHOPSENSE_GIT_SHA` when it
/// was set at build time.
#[must_use]
pub fn code_version() -> String {
    match option_env!("SHOPSENSE_GIT_SHA") {
        Some(sha) if !sha.is_empty() => format!("{}+{sha}", env!("CARGO_PKG_VERSION")),
        _ => env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// A new version id for a model trained at `now`.
#[must_use]
pub fn new_version(now: DateTime<Utc>) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), &random[..6])
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn versions_sort_by_time_and_differ_within_a_second() {
        let t1 = Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2026, 11, 26, 1, 0, 0).unwrap();
        let (a, b) = (new_version(t1), new_version(t1));
        assert_ne!(a, b);
        assert!(a.starts_with("20261125T230000000Z-") && a.len() == 26, "{a}");
        assert!(new_version(t2) > a);
    }

    #[test]
    fn kinds_parse_from_their_names_only() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.as_str().parse::<ModelKind>().unwrap(), kind);
        }
        assert!("Recommend".parse::<ModelKind>().is_err());
    }
}
