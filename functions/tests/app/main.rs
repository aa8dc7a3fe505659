//! Handler tests: recorded host payloads routed through `app()`, the function registry against
//! the `function.json` files, the local runner, the registry commands, `serve` on a real socket,
//! and packaging.

mod alerts_cli;
mod answers;
mod azure;
mod e2e;
mod fixtures;
mod health;
mod ingest_cli;
mod local;
mod models;
mod package;
mod registry;
mod serve;
mod support;
