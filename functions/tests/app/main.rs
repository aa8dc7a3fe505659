//! Handler tests: recorded host payloads routed through `app()`, the function registry against
//! the `function.json` files, the local runner, and `serve` on a real socket.

mod fixtures;
mod local;
mod registry;
mod serve;
mod support;
