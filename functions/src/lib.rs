//! # shopsense-functions
//!
//! The one Azure Functions custom-handler binary that serves every shopsense function.
//! Handlers are thin: they parse, call the `shopsense` library, and answer.
//!
//! ## Layout
//! - [`host`]: the Functions wire protocol (`serve`, the invoke extractor, the invoke response).
//! - [`app`]: `app(state) -> Router`, driven alike by production, the local runner and tests.
//! - [`functions`]: the registry of functions with their `function.json`.
//! - [`error`]: the one place errors become HTTP.
//! - [`state`]: settings and store clients shared by handlers.
//! - [`local`]: the local runner's timers and uploads watcher; [`cors`]: its browser access.
//! - [`package`]: stages and zips the app root deployed to Flex Consumption.
//! - [`cli`]: the command line; [`bench`](mod@bench): benchmarks that print tables; [`commands`]: command
//!   implementations too large for `cli.rs` (`forecast`, `eval forecast`, `bench forecast`).
//! - One module per function: [`health`], [`ingest`].

pub mod alerts;
pub mod app;
pub mod bench;
pub mod caching;
pub mod cli;
pub mod commands;
pub mod cors;
pub mod dead_letters;
pub mod deadline;
pub mod demo;
pub mod error;
pub mod extract;
pub mod functions;
pub mod health;
pub mod host;
pub mod ingest;
pub mod loadbench;
pub mod local;
pub mod package;
pub mod retrain;
pub mod serving;
pub mod state;
