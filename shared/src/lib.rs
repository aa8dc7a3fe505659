//! # shopsense
//!
//! The domain library behind the shopsense Azure Functions: everything that is not HTTP.
//!
//! ## Layout
//! - [`settings`]: typed settings from the environment in Azure Functions' conventions.
//! - [`store`]: blob and document stores behind traits; local folder + embedded database,
//!   Azure Blob + Cosmos DB; one conformance suite for all.
//! - [`bronze`]: raw uploads kept byte for byte under their sha256, counted once.
//! - [`schedule`]: NCRONTAB schedules for timer functions (the host's and our local timers).

pub mod bronze;
pub mod schedule;
pub mod settings;
pub mod store;
