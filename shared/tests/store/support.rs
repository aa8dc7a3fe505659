//! Shared helpers of the storage integration tests.

/// The value of an environment variable the emulator script exports, or a panic that says how
/// to get it: these tests must fail loudly, never skip, when an emulator is missing.
pub fn emulator_env(name: &str, emulator: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set, so the {emulator} tests cannot reach the {emulator} emulator. \
             Run the suite through ./scripts/test.sh (it installs and starts Azurite and the \
             Cosmos DB emulator and exports their endpoints)."
        ),
    }
}

/// A fresh name for a test's own container or database, so tests run in parallel without
/// seeing each other's data: `t-` and 20 hex digits (a valid Blob container name).
pub fn unique_name() -> String {
    format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}
