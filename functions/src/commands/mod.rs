//! Command implementations too large for `cli.rs`, one module per command family.

pub mod alerts;
pub mod forecast;
pub mod recommend;
pub mod scale;
pub mod segment;
pub mod train;
