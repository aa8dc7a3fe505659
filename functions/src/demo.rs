//! The one-command local demo: on an empty home, `shopsense local` ingests the shipped Online
//! Retail sample, trains and publishes every model, and prints URLs to try. On a home that
//! already has data and live models it only prints the URLs.

use anyhow::Context;
use bytes::Bytes;
use shopsense::alerts::InventorySnapshot;
use shopsense::features::snapshot;
use shopsense::ingest::{IngestOutcome, UploadKind, Verdict};
use shopsense::registry::{ModelKind, VersionStatus};
use shopsense::serving::stock::{LATEST_ID, SNAPSHOTS_PARTITION};
use shopsense::serving::{ItemForecast, SHOP_PARTITION, ShopRecs, item_partition};
use shopsense::store::PutOptions;
use shopsense::tables::{INTERACTIONS_PATH, SILVER_CONTAINER};

use crate::state::AppState;

/// The shipped sample (8,083 real Online Retail lines, `data/sample/`), built into the binary
/// so the demo needs no file beside it.
pub const SAMPLE: &[u8] = include_bytes!("../../data/sample/online_retail_sample.csv");
/// Where the demo uploads it.
pub const SAMPLE_UPLOAD: &str = "transactions/online_retail_sample.csv";

/// What the demo prepared: example ids for the URLs.
#[derive(Debug, Clone, Default)]
pub struct DemoIds {
    /// A customer with history.
    pub customer: Option<String>,
    /// A popular SKU.
    pub sku: Option<String>,
    /// Two SKUs for a cart.
    pub cart: Vec<String>,
    /// Whether the shipped sample counts in this home (so there is a sample to take back).
    pub sample_counted: bool,
}

/// Ingests the sample if nothing was ingested, trains the kinds that have no live version.
///
/// # Errors
/// When ingest or training fails.
pub async fn prepare(state: &AppState) -> anyhow::Result<DemoIds> {
    let silver = state.stores.blobs.container(SILVER_CONTAINER).await?;
    // A home whose uploads folder already holds the shop's files is theirs: the sample is not
    // mixed in, and before anything was ingested their sales and catalogue are read now, so the
    // models train on them (inventory counts are left to the watcher, which judges them).
    let shop_files: Vec<_> = state
        .ingestor
        .uploads()
        .list("")
        .await?
        .into_iter()
        .filter(|u| shopsense::ingest::not_data(&u.path).is_none() && u.path != SAMPLE_UPLOAD)
        .collect();
    let ingested = silver.exists(&snapshot::resolve(&*silver, INTERACTIONS_PATH).await?).await?;
    if !shop_files.is_empty() && !ingested {
        eprintln!(
            "shopsense local: the uploads folder holds the shop's own files: ingesting their sales and catalogue"
        );
        let receipts = state.stores.blobs.container(crate::local::RECEIPTS_CONTAINER).await?;
        // The features once at the end, not once a file.
        let one_by_one =
            shopsense::ingest::IngestOptions { refresh_features: false, ..(*state.ingest_options).clone() };
        for upload in shop_files.iter().filter(|u| !u.path.starts_with("inventory/")) {
            match state.ingestor.ingest(&upload.path, &one_by_one).await {
                Ok(IngestOutcome::Reported(report)) => eprint!("{}", report.summary()),
                Ok(IngestOutcome::Skipped { reason }) => eprintln!("shopsense local: {reason}"),
                // The file stays where it is; the watcher tries it again.
                Err(e) => {
                    eprintln!("shopsense local: {} not ingested: {e}", upload.path);
                    continue;
                }
            }
            // Handled: the watcher does not send it to ingest again.
            crate::local::keep_receipt(&*receipts, &upload.path, &upload.etag).await;
        }
        state.ingestor.refresh_features().await?;
    } else if shop_files.is_empty() && !ingested {
        eprintln!("shopsense local: empty home: ingesting the shipped Online Retail sample");
        state
            .ingestor
            .uploads()
            .put(SAMPLE_UPLOAD, Bytes::from_static(SAMPLE), PutOptions::default())
            .await?;
        match state.ingestor.ingest(SAMPLE_UPLOAD, &state.ingest_options).await? {
            IngestOutcome::Reported(report) if report.verdict != Verdict::Fail => {
                eprint!("{}", report.summary());
            }
            IngestOutcome::Reported(report) => {
                anyhow::bail!("the sample failed ingest: {}", report.summary())
            }
            IngestOutcome::Skipped { reason } => anyhow::bail!("the sample was skipped: {reason}"),
        }
    }
    // What the demo does by hand (promote a rejected version, make up a stock position) is for
    // a home holding the sample alone, never for a shop's own data.
    let only_the_sample = state
        .ingestor
        .uploads()
        .list("")
        .await?
        .iter()
        .filter(|upload| shopsense::ingest::not_data(&upload.path).is_none())
        .all(|upload| upload.path == SAMPLE_UPLOAD);
    let mut missing = Vec::new();
    for kind in ModelKind::ALL {
        if state.trainer.registry().live(kind).await?.is_none() {
            missing.push(kind);
        }
    }
    if !missing.is_empty() {
        eprintln!(
            "shopsense local: training {} (the nightly retrain keeps them fresh)",
            missing.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        );
        let report = if only_the_sample {
            crate::commands::train::train(&state.trainer, &missing, false)
                .await
                .context("training the demo models")?
        } else {
            // A shop's own uploads may be too few for a kind yet (a first week of sales): its
            // endpoints answer 503 with advice, and the rest serve.
            let report = crate::commands::train::train_each(&state.trainer, &missing, false)
                .await
                .context("training the models")?;
            for failure in &report.failed {
                eprintln!(
                    "shopsense local: {} could not be trained ({}); its endpoints answer 503 until the nightly \
                     retrain or `shopsense train` succeeds",
                    failure.kind, failure.error
                );
            }
            report
        };
        shopsense::memory::give_back_freed_memory("the demo's training").await;
        for kind in report.kinds.iter().filter(|k| k.status == VersionStatus::Rejected) {
            if !only_the_sample {
                eprintln!(
                    "shopsense local: {} {} was rejected ({}); this home holds the shop's own uploads, so it \
                     stays rejected until someone runs `shopsense models promote {}`",
                    kind.kind,
                    kind.version,
                    kind.reason.as_deref().unwrap_or("no reason"),
                    kind.version
                );
                continue;
            }
            // A person's call, made here for the demo: with nothing live, serve the rejected
            // version rather than nothing. In production it stays rejected until someone runs
            // `shopsense models promote`.
            eprintln!(
                "shopsense local: {} {} was rejected ({}); the demo promotes it by hand so its endpoints answer",
                kind.kind,
                kind.version,
                kind.reason.as_deref().unwrap_or("no reason")
            );
            state.trainer.promote(kind.kind, &kind.version).await?;
        }
        state.reader.refresh_pointers();
    }
    if only_the_sample && state.alerts.get(SNAPSHOTS_PARTITION, LATEST_ID).await?.is_none() {
        demo_alerts(state).await.context("raising the demo's inventory alerts")?;
    }
    let mut ids = example_ids(state).await?;
    ids.sample_counted = state
        .ingestor
        .reports(UploadKind::Transactions)
        .await?
        .iter()
        .any(|r| r.file == SAMPLE_UPLOAD && r.withdrawn_at.is_none() && r.outputs.silver.is_some());
    Ok(ids)
}

/// Where the demo writes its inventory snapshot (under the home), for `shopsense alerts`.
pub const DEMO_INVENTORY: &str = "demo_inventory.csv";

/// A made-up stock position for the 25 trending SKUs, spread so that every severity shows:
/// none on hand, half the lead-time demand, one and a half times it, four times it, and far
/// more than the overstock threshold. Written to `<home>/demo_inventory.csv` and evaluated as of
/// the last day of the sample.
async fn demo_alerts(state: &AppState) -> anyhow::Result<()> {
    let Some((_, Some(shop))) = state.reader.get::<ShopRecs>(ModelKind::Recommend, SHOP_PARTITION).await?
    else {
        return Ok(());
    };
    let lead = state.alert_policy.lead_time_days as usize;
    let mut csv = String::from("sku,on_hand,on_order\n");
    for (i, sku) in shop.trending.iter().take(25).enumerate() {
        let Some((_, Some(item))) =
            state.reader.get::<ItemForecast>(ModelKind::Forecast, &item_partition(&sku.sku)).await?
        else {
            continue;
        };
        let lead_demand: f64 = item.mean.iter().take(lead).map(|&m| f64::from(m)).sum();
        let on_hand = match i % 5 {
            0 => 0.0,
            1 => lead_demand * 0.5,
            2 => lead_demand * 1.5,
            3 => lead_demand * 4.0,
            _ => lead_demand * 40.0 + 50.0,
        };
        csv.push_str(&format!("{},{},0\n", sku.sku, on_hand.round()));
    }
    // Kept beside the local stores for `shopsense alerts --inventory`; the Azure backends keep
    // no local files.
    let path = state.settings.home.join(DEMO_INVENTORY);
    if state.settings.backend == shopsense::settings::Backend::Local {
        std::fs::create_dir_all(&state.settings.home)?;
        std::fs::write(&path, &csv).with_context(|| format!("writing {}", path.display()))?;
    }
    let snapshot = InventorySnapshot {
        made_up: true,
        ..InventorySnapshot::parse_csv(DEMO_INVENTORY, csv.as_bytes(), Some("demo"))?
    };
    let (summary, _) =
        shopsense::alerts::run::run(&state.reader, &state.alerts, &state.alert_policy, &snapshot, None)
            .await?;
    state.stock.refresh();
    eprintln!(
        "shopsense local: demo inventory {} evaluated as of {}: {} alerts {:?} (re-run once the demo is stopped, since the CLI and the demo cannot share a home: shopsense alerts --inventory {} --as-of {})",
        path.display(),
        summary.as_of,
        summary.alerts,
        summary.by_severity,
        path.display(),
        summary.as_of
    );
    Ok(())
}

async fn example_ids(state: &AppState) -> anyhow::Result<DemoIds> {
    let mut ids = DemoIds::default();
    if let Some((_, Some(shop))) = state.reader.get::<ShopRecs>(ModelKind::Recommend, SHOP_PARTITION).await? {
        ids.sku = shop.trending.first().map(|s| s.sku.clone());
        ids.cart = shop.trending.iter().skip(1).take(2).map(|s| s.sku.clone()).collect();
    }
    let batches = state.stores.blobs.container(SILVER_CONTAINER).await?;
    if let Some(blob) = snapshot::get(&*batches, shopsense::tables::RFM_INPUTS_PATH).await? {
        let frame = shopsense::features::read_parquet(&blob.body)?;
        let customers = frame.column("customer_id")?.str()?.clone();
        let invoices = frame.column("invoices")?.cast(&polars::prelude::DataType::UInt32)?;
        let invoices = invoices.u32()?;
        ids.customer = customers
            .iter()
            .zip(invoices.iter())
            .filter_map(|(c, n)| Some((c?.to_owned(), n?)))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(c, _)| c);
    }
    Ok(ids)
}

/// The URLs to try, one per line.
#[must_use]
pub fn urls(base: &str, ids: &DemoIds) -> Vec<String> {
    let customer = ids.customer.as_deref().unwrap_or("17850");
    let sku = ids.sku.as_deref().unwrap_or("85123A");
    let cart: Vec<String> = if ids.cart.is_empty() { vec![sku.to_owned()] } else { ids.cart.clone() };
    let cart_json = serde_json::json!({ "items": cart, "customer_id": customer, "k": 5 });
    vec![
        format!("{base}/api/health"),
        format!("{base}/api/recommendations/customers/{customer}?k=5"),
        format!("{base}/api/recommendations/customers/no-such-customer?k=5   (cold start)"),
        format!("{base}/api/recommendations/items/{sku}/similar?k=5"),
        format!(
            "curl -s -X POST {base}/api/recommendations/cart -H 'content-type: application/json' -d '{cart_json}'"
        ),
        format!("{base}/api/segments/{customer}"),
        format!("{base}/api/forecasts/{sku}?horizon=28"),
        format!("{base}/api/alerts?severity=stockout_risk"),
        format!("{base}/api/models"),
    ]
}
