//! Storage integration tests: the conformance suite against every backend. The Azure backends
//! run against Azurite and the Cosmos DB emulator, which `emulators/with-emulators.sh` starts
//! (the README's test command does that); a missing emulator fails these tests, never skips them.

mod azure_blob;
mod cosmos;
mod local;
mod support;
