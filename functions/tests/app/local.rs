//! The local runner: timers from `function.json` schedules and the uploads watcher, both
//! invoking through `app()` exactly as the host would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use shopsense::settings::Settings;
use shopsense::store::PutOptions;
use shopsense_functions::functions::{FunctionSpec, registry};
use shopsense_functions::host::{Invoke, InvokeResponse, TimerInfo};
use shopsense_functions::local::{self, LocalTimer, UploadWatcher};

use crate::support::local_app;

const TIMER_JSON: &str = r#"{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"%TICK_SCHEDULE%","runOnStartup":true}]}"#;

fn tick_spec() -> FunctionSpec {
    FunctionSpec { name: "tick", function_json: TIMER_JSON, router: Router::new }
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    Settings::from_values(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), None)
        .unwrap()
}

#[test]
fn timer_schedules_come_from_function_json_and_percent_settings() {
    let timers = local::timers(&[tick_spec()], &settings(&[("TICK_SCHEDULE", "0 */5 * * * *")])).unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].schedule.expression(), "0 */5 * * * *");
    assert!(timers[0].run_on_startup);
    let err = local::timers(&[tick_spec()], &settings(&[])).unwrap_err();
    assert!(err.to_string().contains("tick") && err.to_string().contains("TICK_SCHEDULE"), "{err}");
    let err = local::timers(&[tick_spec()], &settings(&[("TICK_SCHEDULE", "0 2 * * *")])).unwrap_err();
    assert!(err.to_string().contains("6 fields"), "{err}");
}

#[test]
fn the_uploads_watcher_triggers_the_blob_functions_on_the_uploads_container() {
    assert_eq!(local::blob_functions(&registry(), "uploads"), ["ingest"]);
    assert!(local::blob_functions(&registry(), "models").is_empty());
}

#[tokio::test]
async fn a_local_timer_invokes_its_function_with_a_host_shaped_timer_payload() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = Router::new().route(
        "/tick",
        post(move |invoke: Invoke<TimerInfo>| {
            let seen = seen.clone();
            async move {
                assert_eq!(invoke.sys.method_name, "tick");
                seen.fetch_add(1, Ordering::SeqCst);
                InvokeResponse::ok("ticked")
            }
        }),
    );
    let timer = LocalTimer {
        function: "tick".into(),
        schedule: "* * * * * *".parse().unwrap(),
        run_on_startup: true,
        retry: Vec::new(),
    };
    let task = tokio::spawn(local::run_timer(app, timer));
    // Startup run plus at least one scheduled second; the deadline is generous on purpose.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while calls.load(Ordering::SeqCst) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert!(calls.load(Ordering::SeqCst) >= 2, "timer fired {} times", calls.load(Ordering::SeqCst));
}

#[test]
fn a_timer_takes_its_retry_policy_from_function_json_and_a_bad_one_stops_the_start() {
    let with_retry = r#"{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 2 * * *"}],
        "retry":{"strategy":"fixedDelay","maxRetryCount":2,"delayInterval":"00:00:30"}}"#;
    let spec = FunctionSpec { name: "tick", function_json: with_retry, router: Router::new };
    let timers = local::timers(&[spec], &settings(&[])).unwrap();
    assert_eq!(timers[0].retry, [Duration::from_secs(30); 2]);
    assert!(
        local::timers(&[tick_spec()], &settings(&[("TICK_SCHEDULE", "0 0 2 * * *")])).unwrap()[0]
            .retry
            .is_empty()
    );

    let bad = r#"{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 2 * * *"}],
        "retry":{"strategy":"fixedDelay","maxRetryCount":2}}"#;
    let spec = FunctionSpec { name: "tick", function_json: bad, router: Router::new };
    let err = local::timers(&[spec], &settings(&[])).unwrap_err().to_string();
    assert!(err.contains("tick") && err.contains("delayInterval"), "{err}");
}

#[tokio::test]
async fn a_failed_timer_invocation_runs_again_as_its_policy_says_and_stops_at_the_first_success() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // Fails twice (a transient storage failure answers 500), then succeeds.
    let app = Router::new().route(
        "/tick",
        post(move |_: Invoke<TimerInfo>| {
            let seen = seen.clone();
            async move {
                match seen.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => InvokeResponse::failed("transient failure, will run again: cosmos 503"),
                    _ => InvokeResponse::ok("trained"),
                }
            }
        }),
    );
    let payload = local::timer_payload("tick", false, "2026-11-27T02:00:00Z", "2026-11-28T02:00:00Z");
    let waits = [Duration::from_millis(10); 4];
    let outcome = local::invoke_retrying(&app, "tick", &payload, &waits).await;
    assert_eq!(outcome.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two failures, one success, no run after it");

    // A policy that runs out leaves the last failure.
    calls.store(0, Ordering::SeqCst);
    let outcome = local::invoke_retrying(&app, "tick", &payload, &waits[..1]).await;
    assert_eq!(outcome.status, 500);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_dropped_upload_is_ingested_once_after_it_settles_and_again_when_its_bytes_change() {
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let mut watcher =
        UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()]).with_quiet_for(Duration::ZERO);

    uploads.put("transactions/a.csv", Bytes::from_static(b"v1"), PutOptions::default()).await.unwrap();
    assert!(watcher.poll(&app).await.is_empty(), "first sight: wait until it settles");
    let done = watcher.poll(&app).await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, 200);
    assert_eq!(done[0].return_value["duplicate_upload"], false);
    assert!(watcher.poll(&app).await.is_empty(), "an ingested upload is not ingested again");

    uploads.put("transactions/a.csv", Bytes::from_static(b"v2"), PutOptions::default()).await.unwrap();
    assert!(watcher.poll(&app).await.is_empty());
    let again = watcher.poll(&app).await;
    assert_eq!(again.len(), 1, "changed bytes are a new upload");
    assert_eq!(again[0].return_value["duplicate_upload"], false);

    uploads.put("transactions/copy.csv", Bytes::from_static(b"v2"), PutOptions::default()).await.unwrap();
    watcher.poll(&app).await;
    let copy = watcher.poll(&app).await;
    assert_eq!(copy[0].return_value["duplicate_upload"], true, "same bytes under another name count once");
}

#[tokio::test]
async fn after_a_restart_only_uploads_new_or_changed_meanwhile_are_triggered() {
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let receipts = state.stores.blobs.container(local::RECEIPTS_CONTAINER).await.unwrap();
    let watcher = || {
        UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()])
            .with_quiet_for(Duration::ZERO)
            .with_receipts(receipts.clone())
    };
    let mut first = watcher();
    uploads.put("transactions/a.csv", Bytes::from_static(b"v1"), PutOptions::default()).await.unwrap();
    uploads.put("transactions/b.csv", Bytes::from_static(b"w1"), PutOptions::default()).await.unwrap();
    first.poll(&app).await;
    assert_eq!(first.poll(&app).await.len(), 2);

    // Stopped; meanwhile one file changes and one is dropped in.
    uploads.put("transactions/b.csv", Bytes::from_static(b"w2"), PutOptions::default()).await.unwrap();
    uploads.put("transactions/c.csv", Bytes::from_static(b"x1"), PutOptions::default()).await.unwrap();
    let mut restarted = watcher();
    restarted.poll(&app).await;
    let mut triggered: Vec<String> = restarted
        .poll(&app)
        .await
        .iter()
        .map(|i| i.return_value["file"].as_str().unwrap().to_owned())
        .collect();
    triggered.sort();
    assert_eq!(triggered, ["transactions/b.csv", "transactions/c.csv"]);
    // Without receipts a restart triggers everything again.
    let mut forgetful =
        UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()]).with_quiet_for(Duration::ZERO);
    forgetful.poll(&app).await;
    assert_eq!(forgetful.poll(&app).await.len(), 3);
}

#[tokio::test]
async fn an_upload_written_moments_ago_waits_until_it_has_gone_quiet() {
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    // A writer that paused between two parts: the same ETag on two polls is not enough.
    let mut watcher = UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()]);
    uploads.put("transactions/slow.csv", Bytes::from_static(b"part"), PutOptions::default()).await.unwrap();
    for _ in 0..3 {
        assert!(watcher.poll(&app).await.is_empty(), "written under {:?} ago", local::QUIET_FOR);
    }
    let mut watcher = watcher.with_quiet_for(Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(watcher.poll(&app).await.len(), 1, "quiet long enough, and seen before");
}

#[tokio::test]
async fn an_inventory_upload_also_reaches_inventory_alert_as_a_blob_created_event_and_is_retried_until_it_succeeds()
 {
    assert_eq!(
        local::event_functions(&registry()),
        [("inventory-alert".to_owned(), "inventory/".to_owned())]
    );
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let mut watcher = UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()])
        .with_events(local::event_functions(&registry()))
        .with_quiet_for(Duration::ZERO)
        .with_retry_after(&[Duration::from_millis(500)]);
    uploads
        .put("inventory/today.csv", Bytes::from_static(b"sku,on_hand\n85123A,4\n"), PutOptions::default())
        .await
        .unwrap();
    uploads.put("transactions/t.csv", Bytes::from_static(b"x"), PutOptions::default()).await.unwrap();
    watcher.poll(&app).await;
    let done = watcher.poll(&app).await;
    let functions: Vec<&str> = done.iter().map(|i| i.function.as_str()).collect();
    assert_eq!(functions, ["ingest", "inventory-alert", "ingest"], "events only for inventory/ blobs");
    // No forecast is live yet: the invocation fails (Event Grid would redeliver), and so the
    // watcher tries again, after a wait, only what failed.
    assert_eq!(done[1].status, 500, "{:?}", done[1].logs);
    // Waiting, not lost: the open alerts say a count waits for a forecast.
    let (_, open) = crate::support::send(&app, crate::support::get("/api/alerts")).await;
    let warning = open["warning"].as_str().unwrap();
    assert!(
        warning.contains("inventory/today.csv") && warning.contains("no forecast is live yet"),
        "{warning}"
    );
    assert!(watcher.poll(&app).await.is_empty(), "not on every poll: it waits before trying again");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = watcher.poll(&app).await;
    let functions: Vec<&str> = again.iter().map(|i| i.function.as_str()).collect();
    assert_eq!(functions, ["inventory-alert"], "the ingest that succeeded is not run again");
    // A new version of the file is tried at once.
    uploads
        .put("inventory/today.csv", Bytes::from_static(b"sku,on_hand\n85123A,5\n"), PutOptions::default())
        .await
        .unwrap();
    watcher.poll(&app).await;
    let new = watcher.poll(&app).await;
    assert_eq!(new.iter().map(|i| i.function.as_str()).collect::<Vec<_>>(), ["ingest", "inventory-alert"]);
}

/// As Event Grid gives a delivery up after its tries and keeps the event with the dead letters
/// (which the nightly retrain replays), so does the watcher: an inventory file dropped while no
/// forecast is live was tried every 10 minutes forever.
#[tokio::test]
async fn a_failing_event_is_given_up_after_its_tries_and_kept_with_the_dead_letters() {
    use shopsense::dead_letters::{self, DEAD_LETTER_CONTAINER, Letter, Subscription};
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let dead = state.stores.blobs.container(DEAD_LETTER_CONTAINER).await.unwrap();
    let mut watcher = UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()])
        .with_events(local::event_functions(&registry()))
        .with_quiet_for(Duration::ZERO)
        .with_retry_after(&[Duration::ZERO])
        .with_give_up(2, Duration::from_secs(3600))
        .with_dead_letters(dead.clone());
    uploads
        .put("inventory/today.csv", Bytes::from_static(b"sku,on_hand\n85123A,4\n"), PutOptions::default())
        .await
        .unwrap();
    watcher.poll(&app).await;
    let first = watcher.poll(&app).await;
    assert_eq!(
        first.iter().map(|i| (i.function.as_str(), i.status)).collect::<Vec<_>>(),
        [("ingest", 200), ("inventory-alert", 500)]
    );
    assert!(dead_letters::pending(&*dead).await.unwrap().is_empty(), "one failure is tried again");
    let second = watcher.poll(&app).await;
    assert_eq!(second.iter().map(|i| i.function.as_str()).collect::<Vec<_>>(), ["inventory-alert"]);
    assert!(watcher.poll(&app).await.is_empty(), "given up: not tried again until the file changes");

    let letters = dead_letters::pending(&*dead).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(letters[0].path.starts_with("LOCAL/INVENTORY-ALERT/"), "{}", letters[0].path);
    let Some((Letter::Events { subscription, events }, _)) =
        dead_letters::read(&*dead, &letters[0].path).await.unwrap()
    else {
        panic!("not read as Event Grid's dead letter");
    };
    assert_eq!(subscription, Subscription::InventoryAlert);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["deadLetterReason"], "MaxDeliveryAttemptsExceeded");
    assert_eq!(events[0]["deliveryAttempts"], 2);
    assert_eq!(events[0]["lastHttpStatusCode"], 500);
    assert!(events[0]["subject"].as_str().unwrap().ends_with("/blobs/inventory/today.csv"), "{}", events[0]);
    let sent = local::blob_created_event(
        "uploads",
        &uploads.head("inventory/today.csv").await.unwrap().unwrap(),
        "",
    );
    assert_eq!(events[0]["id"], sent["id"], "the event as delivered, so a replay is the same snapshot");
}

/// A blob's event is the blob's creation: seen again (a restarted `shopsense local` re-reads its
/// uploads folder), it is the same event, written at the same time, so a snapshot without a
/// count day is judged as of the day it landed, not the day of the restart.
#[tokio::test]
async fn the_same_blob_gives_the_same_event_whenever_it_is_seen() {
    let (_home, state, _app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let meta = uploads
        .put("inventory/today.csv", Bytes::from_static(b"sku,on_hand\n85123A,4\n"), PutOptions::default())
        .await
        .unwrap();
    let event = |meta: &shopsense::store::BlobMeta| {
        local::blob_created_payload("inventory-alert", "uploads", meta, "file:///u")["Data"]["event"].clone()
    };
    let first = event(&meta);
    let seen_again = uploads.head("inventory/today.csv").await.unwrap().unwrap();
    assert_eq!(event(&seen_again), first);
    assert_eq!(first["eventTime"], serde_json::json!(meta.last_modified.to_rfc3339()));
    let replaced = uploads
        .put("inventory/today.csv", Bytes::from_static(b"sku,on_hand\n85123A,5\n"), PutOptions::default())
        .await
        .unwrap();
    assert_ne!(event(&replaced)["id"], first["id"], "a new upload under the same name is a new event");
}

#[tokio::test]
async fn keeping_fewer_than_two_versions_is_refused_by_name_before_anything_is_deleted() {
    let home = tempfile::tempdir().unwrap();
    let home_text = home.path().display().to_string();
    for keep in ["0", "1"] {
        let values = settings(&[("SHOPSENSE_HOME", home_text.as_str()), ("SHOPSENSE_KEEP_VERSIONS", keep)]);
        let Err(e) = shopsense_functions::state::AppState::open(values).await else {
            panic!("SHOPSENSE_KEEP_VERSIONS={keep} was accepted");
        };
        let message = e.to_string();
        assert!(message.contains("SHOPSENSE_KEEP_VERSIONS") && message.contains("roll back"), "{message}");
    }
    let values = settings(&[("SHOPSENSE_HOME", home_text.as_str()), ("SHOPSENSE_KEEP_VERSIONS", "2")]);
    assert!(shopsense_functions::state::AppState::open(values).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_promotes_nothing_by_hand_and_makes_up_no_stock_on_a_home_holding_the_shops_own_uploads() {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().display().to_string();
    // A gate the sample's segments cannot pass, so the first version is rejected.
    let values =
        settings(&[("SHOPSENSE_HOME", &home_path), ("SHOPSENSE_GATE_SEGMENTS_MIN_SILHOUETTE", "0.99")]);
    let state = shopsense_functions::state::AppState::open(values).await.unwrap();
    let export =
        std::fs::read(crate::support::crate_dir().join("../data/sample/online_retail_sample.csv")).unwrap();
    let path = "transactions/shop-export.csv";
    state.ingestor.uploads().put(path, Bytes::from(export), PutOptions::default()).await.unwrap();
    state.ingestor.ingest(path, &state.ingest_options).await.unwrap();

    let ids = shopsense_functions::demo::prepare(&state).await.unwrap();
    assert!(!ids.sample_counted, "no sample to take back, so no hint to take it back");
    let registry = state.trainer.registry();
    let segments = registry.list(shopsense::registry::ModelKind::Segments).await.unwrap();
    assert_eq!(segments[0].status, shopsense::registry::VersionStatus::Rejected, "{segments:?}");
    assert!(registry.live(shopsense::registry::ModelKind::Segments).await.unwrap().is_none(), "not promoted");
    let latest = state
        .alerts
        .get(shopsense::serving::stock::SNAPSHOTS_PARTITION, shopsense::serving::stock::LATEST_ID);
    assert!(latest.await.unwrap().is_none(), "no made-up stock position among the shop's alerts");
}

/// A fresh home's state, and the shipped sample's bytes as a shop's own export.
async fn own_home() -> (tempfile::TempDir, shopsense_functions::state::AppState, Vec<u8>) {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().display().to_string();
    let state = shopsense_functions::state::AppState::open(settings(&[("SHOPSENSE_HOME", &home_path)]))
        .await
        .unwrap();
    let export =
        std::fs::read(crate::support::crate_dir().join("../data/sample/online_retail_sample.csv")).unwrap();
    (home, state, export)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_week_of_the_shops_own_sales_starts_the_demo_with_the_kinds_it_can_train() {
    let (_home, state, export) = own_home().await;
    // Eight days of sales: too few for a forecast's 28-day holdout, or for segments.
    let week: Vec<&[u8]> = export.split(|b| *b == b'\n').take(200).collect();
    let path = "transactions/first-week.csv";
    state.ingestor.uploads().put(path, Bytes::from(week.join(&b'\n')), PutOptions::default()).await.unwrap();
    state.ingestor.ingest(path, &state.ingest_options).await.unwrap();

    shopsense_functions::demo::prepare(&state).await.expect("the kinds it cannot train yet do not stop it");
    let registry = state.trainer.registry();
    assert!(registry.live(shopsense::registry::ModelKind::Forecast).await.unwrap().is_none());
    assert!(
        registry.list(shopsense::registry::ModelKind::Forecast).await.unwrap().is_empty(),
        "nothing half-trained"
    );
    // The forecast's 503 says what stopped it, not merely to train.
    let advice = state.no_model(shopsense::registry::ModelKind::Forecast).await.to_string();
    assert!(advice.contains("failed: not enough history"), "{advice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_in_the_uploads_folder_before_the_first_start_are_trained_on_without_the_sample() {
    let (_home, state, export) = own_home().await;
    let path = "transactions/shop.csv";
    state.ingestor.uploads().put(path, Bytes::from(export), PutOptions::default()).await.unwrap();

    shopsense_functions::demo::prepare(&state).await.unwrap();
    let reports = state.ingestor.reports(shopsense::ingest::UploadKind::Transactions).await.unwrap();
    let files: Vec<&str> = reports.iter().map(|r| r.file.as_str()).collect();
    assert_eq!(files, [path], "the shop's file, and not the sample");
    let recommend = state.trainer.registry().live(shopsense::registry::ModelKind::Recommend).await.unwrap();
    assert!(recommend.is_some(), "trained on the shop's file");
    let receipts =
        state.stores.blobs.container(shopsense_functions::local::RECEIPTS_CONTAINER).await.unwrap();
    assert!(receipts.get(path).await.unwrap().is_some(), "the watcher does not send it again");
}

/// Counts dropped in the uploads folder, as `shopsense uploads list --kind inventory` reads them
/// back: the open alerts' count, one the alerts refused (ingest passed it), one sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uploads_list_says_what_the_alerts_made_of_each_inventory_upload() {
    use shopsense::alerts::upload_verdict::{AlertsVerdict, of_uploads};
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    a_live_forecast(&state).await;
    let mut watcher = UploadWatcher::new("uploads", uploads.clone(), Vec::new())
        .with_events(local::event_functions(&registry()))
        .with_quiet_for(Duration::ZERO);
    let mut drop = async |path: &str, body: &'static [u8]| {
        uploads.put(path, Bytes::from_static(body), PutOptions::default()).await.unwrap();
        state.ingestor.ingest(path, &state.ingest_options).await.unwrap();
        for _ in 0..3 {
            watcher.poll(&app).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    drop("inventory/monday.csv", b"sku,on_hand,snapshot_time\n85123A,4,2011-12-09T18:00:00Z\n").await;
    drop("inventory/monday.csv", b"sku,on_hand,snapshot_time\n85123A,9,2011-12-09T19:00:00Z\n").await;
    drop("inventory/typo.csv", b"sku,on_hand,lead_tme,snapshot_time\n85123A,4,5,2011-12-09T20:00:00Z\n")
        .await;
    let reports = state.ingestor.reports(shopsense::ingest::UploadKind::Inventory).await.unwrap();
    let said = of_uploads(&*state.alerts, &reports).await.unwrap();
    let listed: Vec<(&str, String)> = reports
        .iter()
        .zip(&said)
        .map(|(r, v)| (r.file.as_str(), v.as_ref().map(ToString::to_string).unwrap_or_default()))
        .collect();
    assert_eq!(said.len(), 3, "{listed:?}");
    assert_eq!(said[0], Some(AlertsVerdict::SentAgain), "{listed:?}");
    assert_eq!(
        said[1],
        Some(AlertsVerdict::OpenCount { partial: false }),
        "the typo's refusal leaves it open: {listed:?}"
    );
    assert!(
        listed[2].1.starts_with("refused by the alerts: ") && listed[2].1.contains("lead_tme"),
        "{listed:?}"
    );
}

/// A count dropped before any forecast is live waits, said in the open alerts, and is judged
/// (and the note gone) once a forecast goes live and the delivery is tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_waiting_for_a_forecast_is_said_until_it_is_judged() {
    let (_home, state, app) = local_app().await;
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let mut watcher = UploadWatcher::new("uploads", uploads.clone(), vec!["ingest".into()])
        .with_events(local::event_functions(&registry()))
        .with_quiet_for(Duration::ZERO)
        .with_retry_after(&[Duration::from_millis(200)]);
    let count = b"sku,on_hand,snapshot_time\n85123A,4,2011-12-09T18:00:00Z\n";
    uploads.put("inventory/early.csv", Bytes::from_static(count), PutOptions::default()).await.unwrap();
    watcher.poll(&app).await;
    watcher.poll(&app).await;
    let waiting = |open: &serde_json::Value| {
        open["warning"].as_str().unwrap_or_default().contains("no forecast is live yet")
    };
    let (_, open) = crate::support::send(&app, crate::support::get("/api/alerts")).await;
    assert!(waiting(&open), "{open}");
    a_live_forecast(&state).await;
    state.reader.refresh_pointers();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let retried = watcher.poll(&app).await;
    assert!(retried.iter().any(|i| i.function == "inventory-alert" && i.status == 200), "{retried:?}");
    let (_, open) = crate::support::send(&app, crate::support::get("/api/alerts")).await;
    assert!(!waiting(&open) && open["snapshot"]["as_of"] == "2011-12-09", "{open}");
}

/// The shipped sample uploaded and ingested, and a forecast trained on it.
async fn a_live_forecast(state: &shopsense_functions::state::AppState) {
    let uploads = state.stores.blobs.container("uploads").await.unwrap();
    let sample =
        std::fs::read(crate::support::crate_dir().join("../data/sample/online_retail_sample.csv")).unwrap();
    uploads.put("transactions/sample.csv", Bytes::from(sample), PutOptions::default()).await.unwrap();
    state.ingestor.ingest("transactions/sample.csv", &state.ingest_options).await.unwrap();
    let trained = state.trainer.run(&[shopsense::registry::ModelKind::Forecast], "t", &|_| {}).await.unwrap();
    assert!(trained.failed.is_empty(), "{trained:?}");
}
