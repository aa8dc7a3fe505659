//! `shopsense eval alerts`: the command line around [`shopsense::alerts::backtest`], the alert
//! policy replayed on a transactions file against a naive fixed reorder point.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use shopsense::alerts::{BacktestParams, BacktestReport};
use shopsense::forecast::Panel;

/// What `shopsense eval alerts` was asked.
#[derive(Debug, Clone)]
pub struct EvalAlertsArgs {
    /// A raw transactions CSV (optionally .gz), UCI Online Retail layout.
    pub transactions: PathBuf,
    /// Top SKUs by net units (0 = all).
    pub top: usize,
    /// Lead time of every order, in days (default: the replay's).
    pub lead_time_days: Option<u32>,
    /// Our policy's service level (a second line at 0.8 shows the trade-off).
    pub service_level: Option<f64>,
    /// Days between refits of the forecaster.
    pub refit_every_days: Option<usize>,
    /// Replay parameters merged over the defaults (inline JSON, or a file holding it).
    pub params: Option<PathBuf>,
    /// Print one JSON document instead of a table.
    pub json: bool,
}

/// Builds the panel, replays both policies and prints the table (or JSON).
pub fn eval(args: &EvalAlertsArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let panel = Panel::from_transactions(&args.transactions, args.top)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let report = backtest_params(args)?.run(&panel)?;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["transactions"] = json!(args.transactions);
        value["top"] = json!(args.top);
        value["load_seconds"] = json!(load_seconds);
        println!("{value}");
    } else {
        print!("{}", table(&report, load_seconds));
    }
    Ok(())
}

/// The replay's parameters: `--params` merged over the defaults, the flags given over both.
fn backtest_params(args: &EvalAlertsArgs) -> anyhow::Result<BacktestParams> {
    let params =
        super::with_overrides(BacktestParams::default(), args.params.as_deref(), "replay parameters")?;
    Ok(BacktestParams {
        lead_time_days: args.lead_time_days.unwrap_or(params.lead_time_days),
        service_level: args.service_level.unwrap_or(params.service_level),
        refit_every_days: args.refit_every_days.unwrap_or(params.refit_every_days),
        ..params
    })
}

/// The report as a table with a header line and a timing line.
#[must_use]
pub fn table(report: &BacktestReport, load_seconds: f64) -> String {
    let training_first = report.first_day - chrono::Days::new(report.training_days as u64);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "{} SKUs; training {training_first}..{} ({} days); simulated {}..{} ({} days)",
        report.skus,
        report.first_day - chrono::Days::new(1),
        report.training_days,
        report.first_day,
        report.last_day,
        report.days,
    );
    let _ = writeln!(
        text,
        "lead time {} days, cover {} days, forecaster refitted every {} days ({} fits, {}-day forecasts)",
        report.lead_time_days,
        report.cover_days,
        report.refit_every_days,
        report.refits,
        report.forecast_horizon,
    );
    let _ = writeln!(
        text,
        "{:<12} {:>16} {:>10} {:>14} {:>12} {:>8} {:>12}",
        "policy", "stock-out days", "fill rate", "cycle service", "avg on hand", "orders", "units lost"
    );
    for outcome in &report.policies {
        let name = match outcome.service_level {
            Some(level) => format!("{} @{level}", outcome.policy),
            None => outcome.policy.clone(),
        };
        let _ = writeln!(
            text,
            "{name:<12} {:>16} {:>9.1}% {:>14} {:>12.1} {:>8} {:>12.0}",
            format!("{} / {}", outcome.stockout_days, outcome.sku_days),
            outcome.fill_rate * 100.0,
            outcome.cycle_service_level.map_or_else(|| "-".to_owned(), |c| format!("{:.1}%", c * 100.0)),
            outcome.avg_on_hand,
            outcome.orders,
            outcome.units_lost,
        );
    }
    let _ = writeln!(
        text,
        "load {load_seconds:.2} s, fits {:.2} s, total {:.2} s",
        report.fit_seconds,
        report.seconds + load_seconds
    );
    text
}

/// The snapshot as the command judges it, and where its day comes from: `--as-of`, else the day
/// the file names (`snapshot_time`, `as_of`), else today, the day the `inventory-alert` function
/// takes for the same file uploaded now, as long as the live forecast (`live`: its first day and
/// days) still covers today. A shop runs this on the count it just took: judged as of the live
/// forecast's last history day instead, today's count read a forecast a week old as of a week
/// ago, ranked below every count sent since, and got another snapshot id (and a second set of
/// alerts) than the same file uploaded. A forecast that ends before today (the demo's, trained
/// on data ending in 2011) would find every SKU stale today: an undated file is then judged as
/// of the forecast's last history day, and the command says so. `now` is the time sent, checked
/// as an event's is.
///
/// # Errors
/// A day more than a day after today ([`shopsense::alerts::InventorySnapshot::sent_at`]).
pub fn judged_as_sent(
    snapshot: &shopsense::alerts::InventorySnapshot,
    as_of: Option<chrono::NaiveDate>,
    live: Option<(chrono::NaiveDate, usize)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(shopsense::alerts::InventorySnapshot, &'static str), shopsense::alerts::AlertError> {
    let today = now.date_naive();
    let ended = live.and_then(|(first, days)| {
        let end = first.checked_add_days(chrono::Days::new(days as u64))?;
        (end <= today).then(|| first.pred_opt()).flatten()
    });
    let (snapshot, day_from) = match (as_of, ended) {
        (Some(day), _) => (snapshot.judged_on(day), "--as-of"),
        _ if snapshot.as_of.is_some() => (snapshot.clone(), "the day the file names"),
        (None, Some(last)) => (
            snapshot.judged_on(last),
            "the live forecast's last history day: the file names no day and the forecast ends \
             before today; --as-of DATE judges another",
        ),
        (None, None) => (snapshot.clone(), "today: the file names no day; --as-of DATE judges another"),
    };
    Ok((snapshot.sent_at(now, now)?, day_from))
}

/// What `shopsense alerts` is told of the count beside its file.
#[derive(Debug, Clone, Copy)]
pub struct Count<'a> {
    /// The day it was counted (`--as-of`).
    pub as_of: Option<chrono::NaiveDate>,
    /// Its id (`--snapshot-id`).
    pub snapshot_id: Option<&'a str>,
    /// Whether it counts some SKUs only (`--partial`).
    pub partial: bool,
    /// Judged and printed only, stored nowhere (`--dry-run`).
    pub dry_run: bool,
}

/// `shopsense alerts --inventory <file>`: evaluates a snapshot against the live forecast of the
/// local (or configured) stores as of the day [`judged_as_sent`] takes, stores its alerts like the
/// `inventory-alert` function does, and prints them with that day and where it came from. SKUs
/// it could not judge (no forecast, or one too old for their lead time) are named in one error
/// and make the exit status non-zero (their rows are not evaluated; the others are).
pub async fn alerts(
    state: &crate::state::AppState,
    inventory: &std::path::Path,
    mapping: Option<&std::path::Path>,
    Count { as_of, snapshot_id, partial, dry_run }: Count<'_>,
    as_json: bool,
) -> anyhow::Result<()> {
    use shopsense::alerts::InventorySnapshot;
    let mapping = match mapping {
        Some(path) => crate::cli::read_mapping(path)?,
        None => state.ingestor.mapping_beside(shopsense::ingest::UploadKind::Inventory).await?,
    };
    let snapshot = InventorySnapshot::read_file(inventory, &mapping, snapshot_id)?;
    let partial = partial || snapshot.partial;
    let snapshot = snapshot.counting_in_part(partial);
    let live = shopsense::alerts::run::forecast_span(&state.reader).await.ok();
    let (snapshot, day_from) = judged_as_sent(&snapshot, as_of, live, chrono::Utc::now())?;
    let policy = state.policy_with_catalog().await?;
    // A dry run judges the count against a scratch store of its own, as a first count: the
    // same alerts, nothing written where the shop's are.
    let scratch = if dry_run { Some(tempfile::tempdir()?) } else { None };
    let store = match &scratch {
        Some(dir) => {
            let db = shopsense::store::embedded::EmbeddedDatabase::open(&dir.path().join("dry-run.redb"))?;
            shopsense::store::DocumentDatabase::container(&db, "alerts").await?
        }
        None => std::sync::Arc::clone(&state.alerts),
    };
    let (summary, alerts) =
        match shopsense::alerts::run::run(&state.reader, &store, &policy, &snapshot, snapshot.as_of).await {
            Err(shopsense::alerts::run::AlertRunError::NoForecast) => {
                // Say what the registry knows: a rejected forecast is not fixed by training again.
                return Err(state.no_model(shopsense::registry::ModelKind::Forecast).await.into());
            }
            other => other?,
        };
    if as_json {
        println!("{}", serde_json::to_string(&alerts)?);
        eprintln!(
            "snapshot {} as of {} ({day_from}; forecast {})",
            summary.snapshot_id, summary.as_of, summary.forecast_version
        );
    } else {
        println!(
            "snapshot {} as of {} ({day_from}; forecast {}): {} SKUs, {} alerts, {} ok",
            summary.snapshot_id,
            summary.as_of,
            summary.forecast_version,
            summary.skus,
            summary.alerts,
            summary.ok
        );
        println!(
            "{:<12} {:<20} {:>8} {:>8} {:>4} {:>10} {:>9} {:>9} {:>6} {:>9}",
            "sku",
            "severity",
            "on_hand",
            "on_order",
            "due",
            "lead_dem",
            "safety",
            "reorder",
            "cover",
            "order"
        );
        for a in &alerts {
            println!(
                "{:<12} {:<20} {:>8} {:>8} {:>4} {:>10.1} {:>9.1} {:>9.1} {:>5}{} {:>9}",
                a.sku,
                a.severity.as_str(),
                a.on_hand,
                a.on_order,
                a.on_order_due_days.map_or_else(|| "-".to_owned(), |d| d.to_string()),
                a.lead_time_demand,
                a.safety_stock,
                a.reorder_point,
                a.days_of_cover,
                if a.days_of_cover_capped { "+" } else { " " },
                a.suggested_order_qty
            );
        }
    }
    if let Some(stale) = state.stale_forecast().await {
        eprintln!("warning: {}", stale.warning("forecast"));
    }
    if dry_run {
        eprintln!("dry run: nothing stored; the open alerts are still those of the counts sent before");
    } else if summary.judged_before {
        eprintln!(
            "judged before: these are the alerts stored then (forecast {}); a snapshot is judged once, \
             so the same stock on the same day reads them again (another --snapshot-id judges it anew)",
            summary.forecast_version
        );
    }
    if let Some(why) = summary.not_latest.as_ref().filter(|_| !dry_run) {
        eprintln!("not the latest snapshot: {why}");
    } else if partial && !dry_run {
        eprintln!(
            "a partial count: its SKUs' alerts are now the open ones; the other SKUs keep those of their last count"
        );
    }
    if !summary.superseded.is_empty() {
        eprintln!(
            "{} of its {} SKUs were counted later, and their open alerts are those counts' (not the ones above): {}",
            summary.superseded.len(),
            summary.skus,
            summary.superseded.join(", ")
        );
    }
    // SKUs that were not judged fail the run, named: an empty list with exit 0 would read as
    // all clear to a script.
    let mut not_judged = Vec::new();
    if !summary.unknown_skus.is_empty() {
        not_judged.push(format!(
            "{} SKUs have no forecast: {}",
            summary.unknown_skus.len(),
            summary.unknown_skus.join(", ")
        ));
    }
    if !summary.stale_skus.is_empty() {
        not_judged.push(format!(
            "{} SKUs have a live forecast too old for their lead time as of {} (retrain, or pass --as-of): {}",
            summary.stale_skus.len(),
            summary.as_of,
            summary.stale_skus.join(", ")
        ));
    }
    if !not_judged.is_empty() {
        anyhow::bail!("{}: not evaluated: {}", inventory.display(), not_judged.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use shopsense::alerts::PolicyOutcome;

    use super::*;
    use crate::cli::{Cli, Command, EvalCommand};

    #[test]
    fn an_undated_file_is_judged_as_of_today_while_the_live_forecast_covers_it() {
        let now: chrono::DateTime<chrono::Utc> = "2026-11-26T10:00:00Z".parse().unwrap();
        let today: chrono::NaiveDate = "2026-11-26".parse().unwrap();
        let read = |text: &str| {
            shopsense::alerts::InventorySnapshot::parse_csv("h.csv", text.as_bytes(), None).unwrap()
        };
        let undated = read("sku,on_hand\n22701,3\n");
        // The live forecast from 2026-11-20 over 28 days covers today.
        let live = Some(("2026-11-20".parse().unwrap(), 28));
        let (judged, day_from) = judged_as_sent(&undated, None, live, now).unwrap();
        assert_eq!((judged.as_of, day_from.starts_with("today")), (Some(today), true));
        let uploaded = undated.sent_at(now, now).unwrap();
        assert_eq!(judged.id, uploaded.id, "one snapshot, however it came in");
        // One that ended before today (the demo's): its last history day, said so.
        let demo = Some(("2011-12-10".parse().unwrap(), 90));
        let (judged, day_from) = judged_as_sent(&undated, None, demo, now).unwrap();
        assert_eq!(judged.as_of, "2011-12-09".parse().ok());
        assert!(day_from.starts_with("the live forecast's last history day"), "{day_from}");
        let (given, day_from) = judged_as_sent(&undated, "2011-12-09".parse().ok(), live, now).unwrap();
        assert_eq!((given.as_of, day_from), ("2011-12-09".parse().ok(), "--as-of"));
        let dated = read("sku,on_hand,snapshot_time\n22701,3,2011-12-08 18:00\n");
        let (own, day_from) = judged_as_sent(&dated, None, demo, now).unwrap();
        assert_eq!((own.as_of, day_from), ("2011-12-08".parse().ok(), "the day the file names"));
        // Tomorrow is a shop's date east of UTC; the day after is a typo.
        assert!(judged_as_sent(&undated, "2026-11-27".parse().ok(), live, now).is_ok());
        let future = judged_as_sent(&undated, "2026-11-28".parse().ok(), live, now).unwrap_err().to_string();
        assert!(
            future.starts_with(
                "snapshot counted on 2026-11-28: more than a day after the day it was sent, 2026-11-26 (UTC)"
            ),
            "{future}"
        );
    }

    #[test]
    fn eval_alerts_parses_with_the_documented_defaults() {
        let cli =
            Cli::try_parse_from(["shopsense", "eval", "alerts", "--transactions", "tx.csv.gz"]).unwrap();
        let Some(Command::Eval {
            which: EvalCommand::Alerts { top, lead_time, service_level, refit_every, json, .. },
        }) = cli.command
        else {
            panic!("not eval alerts: {cli:?}");
        };
        assert_eq!((top, lead_time, service_level, refit_every, json), (100, None, None, None, false));
        let replay = BacktestParams::default();
        assert_eq!(
            (replay.lead_time_days, replay.service_level, replay.refit_every_days),
            (7, 0.95, 1),
            "the documented defaults"
        );
        assert!(Cli::try_parse_from(["shopsense", "eval", "alerts"]).is_err(), "--transactions is required");
    }

    #[test]
    fn params_merge_over_the_defaults_and_the_flags_win() {
        let args = |lead_time_days, params: &str| EvalAlertsArgs {
            transactions: "tx.csv".into(),
            top: 100,
            lead_time_days,
            service_level: Some(0.9),
            refit_every_days: None,
            params: Some(params.into()),
            json: false,
        };
        let json = r#"{"cover_days": 14, "lead_time_days": 30, "refit_every_days": 7, "forecaster": {"min_exposure_weeks": 0}}"#;
        let params = backtest_params(&args(None, json)).unwrap();
        assert_eq!((params.cover_days, params.forecaster.min_exposure_weeks), (14, 0));
        assert_eq!((params.lead_time_days, params.refit_every_days), (30, 7), "no flag: --params holds");
        assert_eq!(params.service_level, 0.9, "a flag given wins");
        assert_eq!(params.forecaster.origins, BacktestParams::default().forecaster.origins);
        assert_eq!(backtest_params(&args(Some(5), json)).unwrap().lead_time_days, 5);
        let err = backtest_params(&args(None, r#"{"cover_days": "x"}"#)).unwrap_err();
        assert!(format!("{err:#}").starts_with("--params"), "{err:#}");
    }

    #[test]
    fn the_table_names_the_window_and_one_line_per_policy() {
        let outcome = |policy: &str, service_level| PolicyOutcome {
            policy: policy.into(),
            service_level,
            stockout_days: 12,
            sku_days: 200,
            fill_rate: 0.975,
            units_demanded: 400.0,
            units_served: 390.0,
            units_lost: 10.0,
            avg_on_hand: 55.25,
            orders: 9,
            units_ordered: 420.0,
            cycles: 8,
            cycle_service_level: Some(0.875),
        };
        let report = BacktestReport {
            skus: 2,
            training_days: 100,
            first_day: "2011-04-11".parse().unwrap(),
            last_day: "2011-07-19".parse().unwrap(),
            days: 100,
            lead_time_days: 7,
            cover_days: 28,
            refit_every_days: 7,
            refits: 15,
            forecast_horizon: 42,
            policies: vec![outcome("ours", Some(0.95)), outcome("naive", None)],
            fit_seconds: 1.0,
            seconds: 1.5,
        };
        let text = table(&report, 0.5);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "2 SKUs; training 2011-01-01..2011-04-10 (100 days); simulated 2011-04-11..2011-07-19 (100 days)"
        );
        assert!(
            lines[3].starts_with("ours @0.95")
                && lines[3].contains("12 / 200")
                && lines[3].contains("97.5%")
                && lines[3].contains("87.5%"),
            "{text}"
        );
        assert!(lines[4].starts_with("naive "), "{text}");
        assert_eq!(lines[5], "load 0.50 s, fits 1.00 s, total 2.00 s");
    }
}
