//! `shopsense models` as an operator runs it, on the local backend: a rollback pins the kind,
//! `models list` says so, a retrain holds what passes, and `models unpin` lifts the pin.

use std::path::Path;
use std::process::Command;

use crate::support::crate_dir;

/// Runs the binary on the local backend in `home`; its stdout, or a panic with both streams.
fn shopsense(home: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_shopsense"))
        .args(["--backend", "local", "--home"])
        .arg(home)
        .args(args)
        .current_dir(home)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "shopsense {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// The version of the first line `train` printed for `kind` and its status.
fn trained(stdout: &str, kind: &str) -> (String, String) {
    let line =
        stdout.lines().find(|l| l.starts_with(kind)).unwrap_or_else(|| panic!("no {kind} in {stdout}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[1].to_owned(), fields[2].to_owned())
}

#[test]
fn a_rollback_pins_the_kind_until_models_unpin_and_the_cli_says_so_at_each_step() {
    let home = tempfile::tempdir().unwrap();
    let sample = crate_dir().join("../data/sample/online_retail_sample.csv");
    shopsense(home.path(), &["ingest", sample.to_str().unwrap(), "--kind", "transactions"]);
    let (v1, _) = trained(&shopsense(home.path(), &["train", "--only", "segments"]), "segments");
    let (v2, status) =
        trained(&shopsense(home.path(), &["train", "--only", "segments", "--force"]), "segments");
    assert_eq!(status, "live");

    let said = shopsense(home.path(), &["models", "rollback", "segments"]);
    assert!(said.starts_with(&format!("segments rolled back: {v1} is live again, and pinned\n")), "{said}");
    assert!(said.contains("`shopsense models unpin segments`"), "{said}");
    let list = shopsense(home.path(), &["models", "list"]);
    assert!(list.contains(&format!("segments is pinned to {v1} (rolled back from {v2} at ")), "{list}");

    // New sales come in; the night's retrain trains on them, passes, and is held.
    let more = home.path().join("more.csv");
    std::fs::write(
        &more,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
         999001,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2011-12-09 12:00:00,2.55,17850,United Kingdom\n",
    )
    .unwrap();
    shopsense(home.path(), &["ingest", more.to_str().unwrap(), "--kind", "transactions"]);
    let night = shopsense(home.path(), &["train", "--only", "segments"]);
    let (held, status) = trained(&night, "segments");
    assert_eq!(status, "held", "{night}");
    assert!(night.contains(&format!("held: passed its gates while segments was pinned to {v1}")), "{night}");
    let list = shopsense(home.path(), &["models", "list", "--json"]);
    let versions: serde_json::Value = serde_json::from_str(&list).unwrap();
    let live: Vec<&serde_json::Value> =
        versions.as_array().unwrap().iter().filter(|v| v["live"] == true).collect();
    assert_eq!(live.len(), 1, "{list}");
    assert_eq!(
        (live[0]["version"].as_str(), live[0]["pinned"]["reason"].as_str()),
        (Some(v1.as_str()), Some(format!("rolled back from {v2}").as_str()))
    );

    let said = shopsense(home.path(), &["models", "unpin", "segments"]);
    assert!(
        said.starts_with(&format!("segments unpinned (it was pinned since it was rolled back from {v2} at ")),
        "{said}"
    );
    let list = shopsense(home.path(), &["models", "list"]);
    assert!(!list.contains("segments is pinned to"), "{list}");
    let said = shopsense(home.path(), &["models", "unpin", "segments"]);
    assert!(said.starts_with("segments was not pinned"), "{said}");
    let (next, status) = trained(&shopsense(home.path(), &["train", "--only", "segments"]), "segments");
    assert_eq!(status, "live", "unpinned, the held version does not make a quiet night `unchanged`");
    assert_ne!(next, held);
}

#[test]
fn a_command_reading_a_home_that_does_not_exist_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("mistyped");
    for args in [&["models", "list"][..], &["export", "segments", "--out", "s.csv"], &["train"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_shopsense"))
            .args(["--backend", "local", "--home"])
            .arg(&home)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains("no shopsense home at") && stderr.contains("mistyped"), "{args:?}: {stderr}");
        assert!(!home.exists(), "{args:?} created the home");
    }
    // An existing folder that holds no shopsense state is no home either, and stays untouched.
    std::fs::create_dir(&home).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shopsense"))
        .args(["--backend", "local", "--home"])
        .arg(&home)
        .args(["models", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("no shopsense home at"));
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0, "nothing written into it");
}
