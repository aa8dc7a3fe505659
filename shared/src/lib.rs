//! # shopsense
//!
//! The domain library behind the shopsense Azure Functions: everything that is not HTTP.
//!
//! ## Layout
//! - [`settings`]: typed settings from the environment in Azure Functions' conventions.
//! - [`store`]: blob and document stores behind traits; local folder + embedded database,
//!   Azure Blob + Cosmos DB; one conformance suite for all.
//! - [`bronze`]: raw uploads kept byte for byte under their sha256, counted once.
//! - [`catalog`]: pack sizes and discontinued lines from the catalogue uploads.
//! - [`ingest`]: uploads parsed, validated, quarantined and reported into silver tables.
//! - [`features`]: interactions, trading calendar, daily demand and RFM inputs from silver.
//! - [`segments`]: RFM per customer and k-means segments chosen by silhouette.
//! - [`forecast`]: daily demand forecasts per SKU on the trading calendar (methods, per-series
//!   backtest ensemble, quantiles, metrics, holdout evaluation).
//! - [`tables`]: the silver tables and feature tables, column by column.
//! - [`recommend`]: the recommenders, ALS, EASE, co-occurrence, TF-IDF, popularity and the
//!   hybrid that blends them, with their offline evaluation.
//! - [`registry`]: model versions in Blob storage, records, gates, drift, the retrain lease
//!   and the live pointer that publishes a version whole.
//! - [`train`]: the nightly retrain: fit, evaluate, version, gate and publish every model.
//! - [`serving`]: the documents the HTTP API reads, and the reader that resolves the live
//!   version and caches them.
//! - [`schedule`]: NCRONTAB schedules for timer functions (the host's and our local timers).
//! - [`alerts`]: inventory snapshots, the alert policy over forecast demand paths, its backtest.
//! - [`sku`]: one SKU however it is written (case, surrounding space).

pub mod alerts;
pub mod bronze;
pub mod catalog;
pub mod dead_letters;
pub mod features;
pub mod forecast;
pub mod ingest;
pub mod json;
pub mod memory;
pub mod recommend;
pub mod registry;
pub mod schedule;
pub mod segments;
pub mod serving;
pub mod settings;
pub mod sku;
pub mod store;
pub mod tables;
pub mod train;
