//! Recommenders: ours, in linfa's grammar (`XParams` with documented defaults, `check`, `fit`
//! returning a serialisable `XModel`), and their offline evaluation.
//!
//! ## Layout
//! - [`data`]: interactions CSV in and out, string ids to dense indices, CSR matrices.
//! - [`als`]: implicit ALS with conjugate-gradient solves (rayon, deterministic per seed).
//! - [`ease`]: EASE in closed form (our blocked Cholesky) for catalogues that fit densely.
//! - [`cooccurrence`]: SAR-style cosine / Jaccard / lift neighbours with time decay (sparse).
//! - [`content`]: TF-IDF description similarity, for items nobody has interacted with.
//! - [`similar_users`]: what the most similar customers took recently.
//! - [`similar_items`]: a product page's "customers also bought" (bought by the same customers,
//!   blended with described alike by how many bought it), and its evaluation.
//! - [`cart`]: "complete the cart" from bought-together neighbours, and its evaluation.
//! - [`popularity`]: all-time and recency-weighted popularity, for users with no history.
//! - [`hybrid`]: the final ranker, a z-score blend with weights fitted on a validation slice
//!   carved from the training data (the module docs say exactly how).
//! - [`presets`]: the hybrid's parameters for a shop's data (nightly retrain, retail splits).
//! - [`metrics`]: precision, recall, nDCG, MAP at k and coverage; [`eval`]: train/test runs.
//! - [`split`]: seeded per-item stratified, per-user random and chronological splits.
//! - [`datasets`]: MovieLens 100K and UCI Online Retail readers for evaluation.
//! - [`synthetic`]: a seeded power-law shop of any size, for scale tests.
//! - [`errors`]: what can go wrong.

pub mod als;
pub mod cart;
pub mod content;
pub mod cooccurrence;
pub mod data;
pub mod datasets;
pub mod ease;
pub mod errors;
pub mod eval;
pub mod hybrid;
pub mod metrics;
pub mod popularity;
pub mod presets;
pub mod similar_items;
pub mod similar_users;
pub mod split;
pub mod synthetic;

pub use errors::RecommendError;
pub use hybrid::{HybridModel, HybridParams};
