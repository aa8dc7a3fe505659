//! Command implementations too large for `cli.rs`, one module per command family.

pub mod forecast;
pub mod recommend;
pub mod scale;
pub mod segment;
