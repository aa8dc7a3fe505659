//! Handler tests: recorded host payloads routed through `app()`, the function registry against
//! the `function.json` files, the local runner, `serve` on a real socket, and packaging.

mod azure;
mod e2e;
mod fixtures;
mod local;
mod package;
mod registry;
mod serve;
mod support;
