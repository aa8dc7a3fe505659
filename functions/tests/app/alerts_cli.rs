//! `shopsense alerts --inventory` as a planner runs it on the local backend: a change of the
//! shop-wide policy judges the same stock anew, and SKUs the forecast cannot judge fail the run
//! instead of printing an empty list; a partial count says what it is.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::crate_dir;

/// Runs the binary on the local backend in `home` with `env` set.
pub(crate) fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopsense"))
        .args(["--backend", "local", "--home"])
        .arg(home)
        .args(args)
        .current_dir(home)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Its stdout, once it succeeded.
pub(crate) fn ok(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
fn a_changed_service_level_judges_the_same_stock_anew_and_a_stale_forecast_fails_the_run() {
    let home = tempfile::tempdir().unwrap();
    let sample = crate_dir().join("../data/sample/online_retail_sample.csv");
    ok(&run(home.path(), &["ingest", sample.to_str().unwrap(), "--kind", "transactions"], &[]));
    ok(&run(home.path(), &["train", "--only", "forecast"], &[]));
    let stock = home.path().join("stock.csv");
    std::fs::write(&stock, "sku,on_hand\n84879,20\n").unwrap();
    let args = ["alerts", "--inventory", stock.to_str().unwrap(), "--json"];
    let reorder_point = |output: &Output| -> (f64, f64) {
        let alerts: serde_json::Value = serde_json::from_str(&ok(output)).unwrap();
        let alert = &alerts[0];
        (alert["service_level"].as_f64().unwrap(), alert["reorder_point"].as_f64().unwrap())
    };
    let (level, at_95) = reorder_point(&run(home.path(), &args, &[]));
    assert_eq!(level, 0.95);
    let again = run(home.path(), &args, &[]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("judged before"),
        "the same run reads its alerts back"
    );
    let lower = run(home.path(), &args, &[("SHOPSENSE_ALERT_SERVICE_LEVEL", "0.8")]);
    assert!(!String::from_utf8_lossy(&lower.stderr).contains("judged before"));
    let (level, at_80) = reorder_point(&lower);
    assert_eq!(level, 0.8, "the new setting, not the alerts of the old one");
    assert!(at_80 < at_95, "{at_80} vs {at_95}");

    // Months after the forecast's end, nothing can be judged: a failure, not `[]`.
    let stale = run(
        home.path(),
        &["alerts", "--inventory", stock.to_str().unwrap(), "--json", "--as-of", "2012-03-21"],
        &[],
    );
    assert!(!stale.status.success(), "{}", String::from_utf8_lossy(&stale.stdout));
    assert!(
        String::from_utf8_lossy(&stale.stderr).contains("too old for their lead time"),
        "{}",
        String::from_utf8_lossy(&stale.stderr)
    );

    // A cycle count of one SKU is a partial count: it is the latest of that SKU alone.
    let aisle = home.path().join("aisle.csv");
    std::fs::write(&aisle, "sku,on_hand\n84879,0\n").unwrap();
    let partial = run(home.path(), &["alerts", "--inventory", aisle.to_str().unwrap(), "--partial"], &[]);
    ok(&partial);
    let said = String::from_utf8_lossy(&partial.stderr);
    assert!(said.contains("a partial count: its SKUs' alerts are now the open ones"), "{said}");

    // The open alerts as a planner's spreadsheet: the aisle's stock-out, most urgent first.
    let out = home.path().join("alerts.csv");
    let export = run(home.path(), &["export", "alerts", "--out", out.to_str().unwrap()], &[]);
    ok(&export);
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some(shopsense_functions::commands::export::ALERT_COLUMNS.join(",").as_str()));
    let row: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!((row[0], row[2], row[5]), ("84879", "stockout_risk", "0"), "{csv}");
    assert!(rows.next().is_none(), "{csv}");
    assert!(String::from_utf8_lossy(&export.stderr).contains("1 open alerts of count"));
    let overstock = run(
        home.path(),
        &["export", "alerts", "--severity", "overstock", "--out", out.to_str().unwrap()],
        &[],
    );
    ok(&overstock);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1, "the header alone");
    let typo = run(home.path(), &["export", "alerts", "--severity", "urgent", "--out", "x.csv"], &[]);
    assert!(!typo.status.success());
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("stockout_risk, below_reorder_point or overstock")
    );
}
