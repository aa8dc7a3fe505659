//! Ingest end to end on the local backends: the shipped Online Retail sample, other shops'
//! exports through mappings, every format, and every kind of bad input.

mod bad_input;
mod formats;
mod sample;
mod snapshots;
mod support;
mod sweep;
mod withdraw;
