//! The model registry: every trained model is a **version** in Blob storage, its status lives in
//! the document store, and one **live pointer** per model kind says which version serving reads.
//!
//! ## Layout
//! - Blob container `models`: `<kind>/<version>/model.bin` (postcard, gzip), `metrics.json`,
//!   and `manifest.json` (data snapshot hashes, params, code version, timings) written **last**,
//!   so a version folder without a manifest is an interrupted write and is never promoted.
//! - Document container `registry`, partition = the kind: one [`VersionRecord`] per version
//!   (id = the version: status, metrics, gate verdict, reason, drift), the [`LivePointer`]
//!   (id `live`), and the retrain lease (partition `leases`, see [`lease`]).
//! - Document container `serving`: what the HTTP API reads, written per version before the
//!   pointer flips ([`crate::serving`]).
//!
//! ## Publishing whole or not at all
//! A version goes live in three steps: its serving documents are written under ids that carry
//! the version (nobody reads them yet), then the live pointer is replaced **conditionally on the
//! ETag read before the publish began**, then the records are updated. Readers resolve the
//! pointer first and read only documents of that version, so they see the old version or the
//! new one, never a mix. A failure before the flip leaves the old version live; the half-written
//! documents of the failed version are cleaned up by retention. If the pointer changed since it
//! was read (another publisher won), the flip fails with [`RegistryError::PointerMoved`].
//!
//! ## Versions
//! `YYYYMMDDTHHMMSSmmmZ-xxxxxx` (UTC time of training to the millisecond + 6 random hex
//! digits): two trainings in the same millisecond still differ. Listings order by the recorded
//! creation time, then the id.

pub mod codec;
pub mod drift;
pub mod gate;
pub mod lease;
mod records;
mod store;

pub use codec::{decode_model, encode_model};
pub use drift::{DriftReport, FeatureDrift, Profile};
pub use gate::{GATE_HISTORY, GateCheck, GateReport, Gates};
pub use lease::{KeptLease, Lease, LeaseError, holder_name};
pub use records::{
    DataFile, FlipBy, LivePointer, Manifest, ModelKind, Pin, RetiredBy, VersionRecord, VersionStatus,
    code_version, new_version,
};
pub(crate) use store::retired_reason;
pub use store::{Registry, RegistryError, TrainingFailure};

/// Blob container of model versions.
pub const MODELS_CONTAINER: &str = "models";
/// Document container of version records, live pointers and leases.
pub const REGISTRY_CONTAINER: &str = "registry";
/// Document container of what serving reads.
pub const SERVING_CONTAINER: &str = "serving";
/// How many versions per kind are kept by default (live, its predecessors for rollback, and
/// the newest rejected ones with their reasons); older ones are deleted.
pub const DEFAULT_KEEP_VERSIONS: usize = 5;
