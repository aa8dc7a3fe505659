//! The command line: `shopsense serve` (what `host.json` starts), `shopsense local` (everything on
//! one machine), `shopsense package` (the deployable app root) and reporting commands, each with
//! `--json` where it reports something.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use shopsense::ingest::{IngestOptions, IngestOutcome, Mapping, UploadKind, Verdict};
use shopsense::registry::ModelKind;
use shopsense::settings::{Backend, BackendChoice, LOCAL_SETTINGS_FILE, Settings};
use shopsense::store::PutOptions;

use crate::app::app;
use crate::cors::CorsPolicy;
use crate::functions::registry;
use crate::host;
use crate::local::{self, UploadWatcher, WATCHED_CONTAINER};
use crate::state::AppState;

/// shopsense: e-commerce recommendations, demand forecasts, segments and inventory alerts.
#[derive(Debug, Parser)]
#[command(name = "shopsense", version, about)]
pub struct Cli {
    /// Root folder of the local backends and local state (default `.shopsense`).
    #[arg(long, global = true, env = "SHOPSENSE_HOME")]
    pub home: Option<PathBuf>,
    /// Storage backend: `auto` (Azure when a shopsense connection is configured), `local` or `azure`.
    #[arg(long, global = true, env = "SHOPSENSE_BACKEND")]
    pub backend: Option<BackendChoice>,
    /// What to do (default: `serve` when `FUNCTIONS_CUSTOMHANDLER_PORT` is set).
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Whether this run serves (`serve`, the host's default, or `local`) rather than running one
    /// command whose output may go to a pipe.
    #[must_use]
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve { .. } | Command::Local { .. }))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every function for the Azure Functions host on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    Serve {
        /// Port when `FUNCTIONS_CUSTOMHANDLER_PORT` is not set.
        #[arg(long, default_value_t = 7071)]
        port: u16,
    },
    /// Run everything on this machine: the HTTP API, local timers and a watched uploads folder.
    Local {
        /// Port of the HTTP API [default: `Host.LocalHttpPort` of `local.settings.json`, else 7071].
        #[arg(long)]
        port: Option<u16>,
        /// Origins a browser may call the API from, comma-separated, or `*` [default: `Host.CORS`
        /// of `local.settings.json`, else none].
        #[arg(long)]
        cors: Option<String>,
        /// Let browsers send credentials (cookies) with those calls [default:
        /// `Host.CORSCredentials`].
        #[arg(long)]
        cors_credentials: bool,
        /// How often the uploads folder is checked, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// Do not ingest the shipped sample or train on an empty home (start bare).
        #[arg(long)]
        no_demo: bool,
    },
    /// Train every model (or `--only` some) from the current features: evaluate, version in
    /// the registry, gate against the live version, publish whole.
    Train {
        /// Train only these kinds (recommend, forecast, segments); repeatable.
        #[arg(long, value_delimiter = ',')]
        only: Vec<ModelKind>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Train even a kind whose live version was trained on the same feature files, code and
        /// options (without it, such a kind is left as it is).
        #[arg(long)]
        force: bool,
    },
    /// Inventory alerts for a snapshot (`sku,on_hand[,on_order][,lead_time_days][,service_level][,on_order_due_days]`
    /// CSV, or the custom event's JSON) against the live forecast: stores them like the
    /// `inventory-alert` function and prints them (`--json`: a JSON array of alerts).
    Alerts {
        /// The snapshot file: CSV, JSON lines or Parquet (optionally .gz), or `.json` in the
        /// inventory event's shape.
        #[arg(long)]
        inventory: PathBuf,
        /// A column mapping (TOML or JSON) for another shop's export; default: the uploads
        /// folder's `inventory/_mapping.toml` or `.json`, as ingest reads it, if there is one.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// The day the stock was counted (default: the day the file names in `snapshot_time` or
        /// `as_of`, else today, as the `inventory-alert` function judges the same file uploaded
        /// now, unless the live forecast ends before today: then its last history day).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// The snapshot's id (default: a hash of its content).
        #[arg(long)]
        snapshot_id: Option<String>,
        /// A count of some SKUs only (a cycle count): the SKUs it leaves out keep the alerts of
        /// their last count, where a whole count's absent SKUs have none (as a file under
        /// `inventory/partial/` or an event with `"partial": true`).
        #[arg(long)]
        partial: bool,
        /// Judge the count and print its alerts without storing anything: the open alerts stay
        /// those of the counts sent before (a what-if: another lead time, a planned delivery).
        #[arg(long)]
        dry_run: bool,
        /// Print the alerts as one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// The model registry: list versions, promote one, roll back.
    Models {
        /// What to do.
        #[command(subcommand)]
        which: ModelsCommand,
    },
    /// What ingest has counted (`list`), and taking a transactions upload back (`withdraw`).
    Uploads {
        /// What to do.
        #[command(subcommand)]
        which: UploadsCommand,
    },
    /// What the live models serve, for every customer they know, as one CSV (for an email or
    /// CRM tool): answered as the API answers each customer.
    Export {
        /// What to export.
        #[command(subcommand)]
        which: ExportCommand,
    },
    /// Ingest one file as if uploaded: bronze, validation, quarantine, silver, report, features.
    Ingest {
        /// The file (CSV, JSON lines or Parquet, optionally .gz).
        file: PathBuf,
        /// What it holds; default: the name of the file's folder if it is a kind.
        #[arg(long)]
        kind: Option<UploadKind>,
        /// A column mapping (TOML or JSON) for another shop's export.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Print the quality report as one JSON document instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Forecast daily demand per SKU: reads `sku,date,quantity`, writes
    /// `sku,date,forecast,p10,p50,p90` for the `horizon` days after the history.
    Forecast {
        /// The history CSV (`sku,date,quantity`, header, ISO dates).
        #[arg(long)]
        history: PathBuf,
        /// Calendar days to forecast (1..=90).
        #[arg(long, default_value_t = 28)]
        horizon: usize,
        /// Where to write the daily forecasts.
        #[arg(long)]
        out: PathBuf,
        /// Extra quantile levels from 0.01 to 0.99, e.g. `--levels 0.05,0.95` adds `p5,p95` columns.
        #[arg(long, value_delimiter = ',')]
        levels: Vec<f64>,
        /// Also write `sku,week_start,forecast,p10,p50,p90,days` in 7-day buckets here (each bucket's
        /// total and its quantiles; `days` below 7 marks a shorter last bucket).
        #[arg(long)]
        weekly_out: Option<PathBuf>,
    },
    /// Recommend: trains the hybrid on `user,item[,weight][,ts]` (header row) and writes the
    /// top `k` unseen items of every user as `user,rank,item,score`.
    Recommend {
        /// The interactions CSV.
        #[arg(long)]
        interactions: PathBuf,
        /// Items per user.
        #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), default_value_t = 10)]
        k: usize,
        /// Where to write the recommendations.
        #[arg(long)]
        out: PathBuf,
        /// Fit the blend on the latest interactions rather than a random share of each user's.
        #[arg(long)]
        chronological: bool,
    },
    /// Evaluations on held-out data that print metrics.
    Eval {
        /// Which evaluation.
        #[command(subcommand)]
        which: EvalCommand,
    },
    /// Customer segments (RFM + k-means) of a transactions file: writes
    /// `customer,segment,label,recency_days,frequency,monetary,customer_label` and prints k,
    /// silhouette and sizes.
    Segment {
        /// Transactions (CSV, JSON lines or Parquet, optionally .gz; UCI Online Retail as published).
        #[arg(long)]
        transactions: PathBuf,
        /// The per-customer output CSV.
        #[arg(long)]
        out: PathBuf,
        /// A fixed k instead of the silhouette sweep over 2..=8.
        #[arg(long)]
        k: Option<usize>,
        /// Measure recency at this date (default: the day after the last sale).
        #[arg(long)]
        reference_date: Option<chrono::NaiveDate>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks that print a table.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// Show the resolved configuration (backend, home, endpoints; never secrets).
    Config {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stage the app root for Azure Functions (host.json, one folder per function, the executable)
    /// and optionally zip it, exec bit kept. `scripts/package.sh` builds the release binary first.
    Package {
        /// Folder to stage into; replaced only if empty or a previous package.
        #[arg(long, default_value = "dist/app")]
        out: PathBuf,
        /// Also write the staged folder as a zip here (what Flex Consumption deploys).
        #[arg(long)]
        zip: Option<PathBuf>,
        /// The executable to ship (default: this binary).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Upload commands.
#[derive(Debug, Subcommand)]
pub enum UploadsCommand {
    /// Every upload of one kind ingest has read (transactions unless `--kind` says), oldest
    /// first: path, sha256, verdict, rows added, the span of its sales, counted or withdrawn.
    List {
        /// The kind: transactions, catalog or inventory.
        #[arg(long, default_value = "transactions")]
        kind: UploadKind,
        /// Print the quality reports as one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Take a transactions upload back: its rows count no longer (the silver table is moved
    /// aside, bronze keeps the bytes), the features are refreshed, and the same bytes sent again
    /// count again. E.g. an invoice a corrected re-export dropped, or the local demo's sample
    /// (`transactions/online_retail_sample.csv`) once the shop's own data is in.
    Withdraw {
        /// The upload's path (`transactions/2011-01.csv`) or its sha256 (8 hex digits or more).
        upload: String,
        /// Take back every version counted under the path (a fixed daily file name holds one per
        /// day); without it a path with several is refused, listing them by sha256.
        #[arg(long)]
        every_version: bool,
        /// Print what was withdrawn as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Export commands.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every known customer's top `k` from the live recommender, as
    /// `GET /api/recommendations/customers/{id}` answers it (out-of-stock SKUs and purchases
    /// left out the same way): `customer_id,rank,sku,description,score,source,fallback_reason`.
    Recommendations {
        /// Items per customer (1 to 100).
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Let past purchases come back, as `include_purchased=true` does.
        #[arg(long)]
        include_purchased: bool,
        /// The CSV to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// The open reorder alerts, most urgent first, as `GET /api/alerts` lists them:
    /// `sku,description,severity,suggested_order_qty,pack_size,on_hand,on_order,...`.
    Alerts {
        /// Only this severity (`stockout_risk`, `below_reorder_point`, `overstock`).
        #[arg(long, value_parser = shopsense::alerts::Severity::of_alert)]
        severity: Option<shopsense::alerts::Severity>,
        /// The CSV to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Every customer of the live segmentation, as `GET /api/segments/{id}` answers each:
    /// `customer_id,segment,label,customer_label,recency_days,frequency,monetary,r,f,m,as_of`.
    Segments {
        /// The CSV to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Registry commands.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every version of every kind: status (live, rejected, retired, held), metrics, reason,
    /// and which kinds a rollback pinned.
    List {
        /// Print `GET /api/models`'s document instead of a table (per kind: the live version,
        /// its pin, every version, a training failure since the last version, a stale warning).
        #[arg(long)]
        json: bool,
    },
    /// Make a version live (republishing its serving documents if they are gone); lifts a
    /// rollback's pin.
    Promote {
        /// The version (see `models list`).
        version: String,
        /// Its kind, when the version id alone is ambiguous.
        #[arg(long)]
        kind: Option<ModelKind>,
    },
    /// Point serving back at the version the live one replaced, and pin the kind there:
    /// retrains still train and judge it but hold what passes until `models unpin`.
    Rollback {
        /// The kind to roll back: recommend, forecast or segments.
        kind: ModelKind,
    },
    /// Lift a rollback's pin: the next retrain that passes its gates goes live again.
    Unpin {
        /// The kind: recommend, forecast or segments.
        kind: ModelKind,
    },
}

/// A time split of an Online Retail layout file for the recommender evaluations.
#[derive(Debug, clap::Args)]
pub struct TimeSplitArgs {
    /// The raw transactions CSV (optionally .gz).
    #[arg(long)]
    pub transactions: PathBuf,
    /// First day of the test invoices (default: the file's last 30 days).
    #[arg(long)]
    pub test_from: Option<chrono::NaiveDate>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The cut-off.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), default_value_t = 10)]
    pub k: usize,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The evaluations.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Train on `--train`, recommend for the test users seen in training (training items
    /// excluded), print precision, recall, nDCG, MAP at k and catalogue coverage. Or evaluate a
    /// named split of a public dataset (`--dataset`, seed `--seed`).
    Recommend {
        /// Training CSV (`user,item[,weight][,ts]`).
        #[arg(long, requires = "test", conflicts_with = "dataset", required_unless_present = "dataset")]
        train: Option<PathBuf>,
        /// Test CSV, same columns.
        #[arg(long, requires = "train")]
        test: Option<PathBuf>,
        /// A named split instead of files.
        #[arg(long, value_enum)]
        dataset: Option<crate::commands::recommend::Dataset>,
        /// The folder holding `movielens-100k/` and `online_retail/`.
        #[arg(long, default_value = "../shared/data")]
        data_dir: PathBuf,
        /// Seed of the named split.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The cut-off.
        #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), default_value_t = 10)]
        k: usize,
        /// With files: fit the blend on the latest training rows (for time-ordered splits).
        #[arg(long)]
        chronological: bool,
        /// Also write the split as `train.csv` and `test.csv` in this folder.
        #[arg(long)]
        write_split: Option<PathBuf>,
        /// Hybrid parameters as a JSON object merged over the preset (inline, or a file holding
        /// it), e.g. `{"ease": {"lambda": 500}, "weights": [["als", 1.0], ["ease", 1.0]]}`.
        #[arg(long)]
        params: Option<PathBuf>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cart completion on the invoices of a transactions file (UCI Online Retail layout): each
    /// test invoice's SKUs shuffled (seed), the first 1 or 3 are the cart, the rest what it should
    /// suggest; prints hit rate, precision, recall, nDCG at k, coverage and the share of rare SKUs
    /// for the rule serving uses, the lift rule before it and the best sellers alone.
    Cart(TimeSplitArgs),
    /// Similar items on a transactions file (UCI Online Retail layout): for each customer's test
    /// invoice one seed SKU (seed), judged on the other SKUs that customer bought then and later;
    /// prints hit rate, precision, recall, nDCG at k and coverage, overall and by the seed's
    /// number of train buyers, for the rule serving uses, the cosine rule before it and the best
    /// sellers alone.
    Similar(TimeSplitArgs),
    /// Hold out the last days of a demand history, fit on the rest, print WAPE, bias, MASE,
    /// coverage and weekly WAPE. The panel is `--history <csv>` or built from raw transactions
    /// (`--transactions`, the UCI Online Retail layout, `--top` SKUs by net units).
    Forecast {
        /// A history CSV (`sku,date,quantity`).
        #[arg(long, conflicts_with = "transactions", required_unless_present = "transactions")]
        history: Option<PathBuf>,
        /// A raw transactions CSV (optionally .gz) to build the panel from.
        #[arg(long)]
        transactions: Option<PathBuf>,
        /// With `--transactions`: keep the top SKUs by net units (0 = all).
        #[arg(long, default_value_t = 500)]
        top: usize,
        /// Days held out.
        #[arg(long, default_value_t = 28)]
        holdout: usize,
        /// Also write the panel as a `sku,date,quantity` CSV here.
        #[arg(long)]
        write_panel: Option<PathBuf>,
        /// Forecaster parameters as a JSON object merged over the defaults (inline, or a file
        /// holding it), e.g. `{"origins": 6, "level": {"blend": 0.25}}` (`"level": null` turns
        /// the level model off).
        #[arg(long)]
        params: Option<PathBuf>,
        /// Also hold out this many earlier windows (each `holdout` days before the previous one,
        /// fitted on the history before it) and print their metrics: one window is noisy.
        #[arg(long, default_value_t = 0)]
        earlier_origins: usize,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replay the inventory-alert policy day by day over the second half of a transactions file
    /// (UCI Online Retail layout) against a naive fixed reorder point; print stock-out days, fill
    /// rate, stock on hand and orders of each.
    Alerts {
        /// The raw transactions CSV (optionally .gz).
        #[arg(long)]
        transactions: PathBuf,
        /// Keep the top SKUs by net units (0 = all).
        #[arg(long, default_value_t = 100)]
        top: usize,
        /// Lead time of every order, in days [default: 7].
        #[arg(long)]
        lead_time: Option<u32>,
        /// Our policy's service level (a second line at 0.8 shows the trade-off) [default: 0.95].
        #[arg(long)]
        service_level: Option<f64>,
        /// Days between refits of the forecaster (1: nightly, as the retrain timer runs)
        /// [default: 1].
        #[arg(long)]
        refit_every: Option<usize>,
        /// Replay parameters as a JSON object merged over the defaults (inline, or a file holding
        /// it), e.g. `{"cover_days": 14, "forecaster": {"min_exposure_weeks": 0}}`; a flag above,
        /// when given, wins over it.
        #[arg(long)]
        params: Option<PathBuf>,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The recommender on every named split, ours beside the peers, with training time and users/s.
    Recommend {
        /// The folder holding `movielens-100k/` and `online_retail/`.
        #[arg(long, default_value = "../shared/data")]
        data_dir: PathBuf,
        /// The cut-off.
        #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), default_value_t = 10)]
        k: usize,
        /// Print one JSON document instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// The nightly recommender path on a synthetic power-law shop generated in memory: fit,
    /// top `k` for every customer, neighbours of every SKU; seconds and peak memory per phase.
    Scale {
        /// Customers.
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        /// SKUs.
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        /// Customer x SKU pairs.
        #[arg(long, default_value_t = 20_000_000)]
        interactions: usize,
        /// Recommendations per customer.
        #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), default_value_t = 50)]
        k: usize,
        /// Neighbours per SKU.
        #[arg(long, default_value_t = 50)]
        neighbours: usize,
        /// Leave out item descriptions (and so the content signal).
        #[arg(long)]
        no_texts: bool,
        /// Customers whose candidate-path lists are checked against a full ranking.
        #[arg(long, default_value_t = 500)]
        check_users: usize,
        /// Seed of the synthetic shop.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Hybrid parameters as a JSON object merged over the defaults, inline or in a file (as
        /// `eval recommend`).
        #[arg(long)]
        params: Option<PathBuf>,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fit + forecast of the top 500 and of all SKUs of a transactions file.
    Forecast {
        /// The transactions file (default: the full UCI Online Retail beside the checkout).
        #[arg(long, default_value = "../shared/data/online_retail/online_retail.csv.gz")]
        file: PathBuf,
        /// How many runs (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// HTTP latency of the recommendation endpoints at a fixed request rate (open loop).
    Serve {
        /// Requests per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds measured (after one second of warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Keep-alive connections of the client.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Load a running instance (http://ip:port) instead of one started in this process.
        #[arg(long)]
        url: Option<String>,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End-to-end ingest of a transactions file on the local backend, in a fresh home per run.
    Ingest {
        /// The file (default: the full UCI Online Retail beside the checkout).
        #[arg(long, default_value = "../shared/data/online_retail/online_retail.csv.gz")]
        file: PathBuf,
        /// How many runs.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Settings from the environment and `local.settings.json`, with the CLI's overrides.
pub fn settings(cli: &Cli, default_choice: Option<BackendChoice>) -> anyhow::Result<Settings> {
    let mut settings = Settings::from_env(cli.backend.or(default_choice)).context("reading settings")?;
    if let Some(home) = &cli.home {
        settings.home.clone_from(home);
    }
    Ok(settings)
}

/// The application state on the backend the settings choose (local unless told otherwise), for
/// the commands reading what was ingested or trained (`train`, `alerts`, `uploads`, `export`,
/// `models`). They refuse a local home holding no shopsense state (missing, or an unrelated
/// folder) rather than create an empty store in it and then say nothing is live (a mistyped
/// `--home`).
async fn open_state(cli: &Cli) -> anyhow::Result<AppState> {
    AppState::open(state_settings(cli)?).await.context("opening storage")
}

/// [`open_state`] for a command that reads blob storage first (`uploads list`): it starts
/// without Cosmos DB when that has not answered within [`COSMOS_START_WAIT`], and says what
/// it could not read instead of failing whole.
async fn open_state_deferring_documents(cli: &Cli) -> anyhow::Result<AppState> {
    let (state, deferred) = AppState::open_deferring_documents(state_settings(cli)?, COSMOS_START_WAIT)
        .await
        .context("opening storage")?;
    if let Some(why) = deferred {
        tracing::warn!("the document store is not answering yet: {why}");
    }
    Ok(state)
}

/// The settings of [`open_state`], refusing a local home that holds no shopsense state.
fn state_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let settings = settings(cli, Some(BackendChoice::Local))?;
    let holds_state = ["blobs", "documents.redb"].iter().any(|part| settings.home.join(part).exists());
    if settings.backend == shopsense::settings::Backend::Local && !holds_state {
        anyhow::bail!(
            "no shopsense home at {}: nothing was ingested or trained there (`shopsense local` runs the demo, \
             `shopsense ingest <file>` starts a home; --home or SHOPSENSE_HOME names another)",
            settings.home.display()
        );
    }
    Ok(settings)
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(ref command) => command,
        None if std::env::var_os(shopsense::settings::CUSTOM_HANDLER_PORT).is_some() => {
            &Command::Serve { port: 7071 }
        }
        None => {
            anyhow::bail!("no command given: try `shopsense local`, `shopsense serve` or `shopsense --help`")
        }
    };
    match command {
        Command::Serve { port } => {
            let settings = settings(&cli, None)?;
            let port = settings.custom_handler_port.unwrap_or(*port);
            serve(settings, port).await
        }
        Command::Local { port, cors, cors_credentials, poll_ms, no_demo } => {
            let settings = settings(&cli, Some(BackendChoice::Local))?;
            let host = &settings.local_host;
            // As Core Tools: port 0 is the default, and the credentials flag defaults to the file's.
            let port = port.or(host.local_http_port).filter(|p| *p != 0).unwrap_or(7071);
            let credentials = *cors_credentials || host.cors_credentials;
            let cors = match cors {
                Some(origins) => CorsPolicy::parse(origins, credentials).context("--cors")?,
                None => CorsPolicy::parse(host.cors.as_deref().unwrap_or(""), credentials)
                    .with_context(|| format!("{LOCAL_SETTINGS_FILE} Host.CORS"))?,
            };
            run_local(settings, port, cors, Duration::from_millis(*poll_ms), !*no_demo).await
        }
        Command::Train { only, json, force } => {
            let state = open_state(&cli).await?;
            let kinds = if only.is_empty() { ModelKind::ALL.to_vec() } else { only.clone() };
            let trainer = if *force { (*state.trainer).clone().forcing() } else { (*state.trainer).clone() };
            crate::commands::train::train(&trainer, &kinds, *json).await.map(|_| ())
        }
        Command::Alerts { inventory, mapping, as_of, snapshot_id, partial, dry_run, json } => {
            let state = open_state(&cli).await?;
            let (mapping, snapshot_id) = (mapping.as_deref(), snapshot_id.as_deref());
            let count = crate::commands::alerts::Count {
                as_of: *as_of,
                snapshot_id,
                partial: *partial,
                dry_run: *dry_run,
            };
            crate::commands::alerts::alerts(&state, inventory, mapping, count, *json).await
        }
        Command::Uploads { which } => match which {
            UploadsCommand::List { kind, json } => {
                let state = open_state_deferring_documents(&cli).await?;
                crate::commands::uploads::list(&state, *kind, *json).await
            }
            UploadsCommand::Withdraw { upload, every_version, json } => {
                let state = open_state(&cli).await?;
                crate::commands::uploads::withdraw(&state.ingestor, upload, *every_version, *json).await
            }
        },
        Command::Export { which } => {
            let state = open_state(&cli).await?;
            let (what, (version, customers), out) = match which {
                ExportCommand::Alerts { severity, out } => {
                    return crate::commands::export::alerts(&state, *severity, out).await;
                }
                ExportCommand::Recommendations { k, include_purchased, out } => (
                    "recommendations",
                    crate::commands::export::recommendations(&state, *k, *include_purchased, out).await?,
                    out,
                ),
                ExportCommand::Segments { out } => {
                    ("segments", crate::commands::export::segments(&state, out).await?, out)
                }
            };
            eprintln!("{what} of {customers} customers from {version} written to {}", out.display());
            Ok(())
        }
        Command::Models { which } => {
            let state = open_state(&cli).await?;
            match which {
                ModelsCommand::List { json } => crate::commands::train::list(&state, *json).await,
                ModelsCommand::Promote { version, kind } => {
                    crate::commands::train::promote(&state.trainer, version, *kind).await
                }
                ModelsCommand::Rollback { kind } => {
                    crate::commands::train::rollback(&state.trainer, *kind).await
                }
                ModelsCommand::Unpin { kind } => crate::commands::train::unpin(&state.trainer, *kind).await,
            }
        }
        Command::Ingest { file, kind, mapping, json } => {
            let settings = settings(&cli, Some(BackendChoice::Local))?;
            ingest_file(settings, file, *kind, mapping.as_deref(), *json).await
        }
        Command::Bench { which: BenchCommand::Serve { rate, seconds, connections, url, json } } => {
            let options = crate::loadbench::LoadOptions {
                rate: *rate,
                seconds: *seconds,
                connections: *connections,
                url: url.clone(),
                json: *json,
            };
            crate::loadbench::run(&options).await
        }
        Command::Bench { which: BenchCommand::Ingest { file, runs, json } } => {
            crate::bench::ingest(file, *runs, *json).await
        }
        Command::Bench { which: BenchCommand::Forecast { file, runs, json } } => {
            crate::commands::forecast::bench(file, *runs, *json)
        }
        Command::Forecast { history, horizon, out, levels, weekly_out } => {
            crate::commands::forecast::forecast(history, *horizon, out, levels, weekly_out.as_deref())
        }
        Command::Eval {
            which:
                EvalCommand::Forecast {
                    history,
                    transactions,
                    top,
                    holdout,
                    write_panel,
                    params,
                    earlier_origins,
                    json,
                },
        } => {
            use crate::commands::forecast::PanelSource;
            let source = match (history, transactions) {
                (Some(history), _) => PanelSource::History(history.clone()),
                (None, Some(file)) => PanelSource::Transactions { file: file.clone(), top: *top },
                (None, None) => anyhow::bail!("pass --history <csv> or --transactions <file>"),
            };
            crate::commands::forecast::eval(
                &source,
                *holdout,
                *earlier_origins,
                *json,
                write_panel.as_deref(),
                params.as_deref(),
            )
        }
        Command::Eval {
            which:
                EvalCommand::Alerts { transactions, top, lead_time, service_level, refit_every, params, json },
        } => {
            let args = crate::commands::alerts::EvalAlertsArgs {
                transactions: transactions.clone(),
                top: *top,
                lead_time_days: *lead_time,
                service_level: *service_level,
                refit_every_days: *refit_every,
                params: params.clone(),
                json: *json,
            };
            tokio::task::spawn_blocking(move || crate::commands::alerts::eval(&args)).await?
        }
        Command::Recommend { interactions, k, out, chronological } => {
            crate::commands::recommend::recommend(interactions, *k, out, *chronological)
        }
        Command::Eval { which: EvalCommand::Cart(args) } => crate::commands::recommend::eval_cart(args),
        Command::Eval { which: EvalCommand::Similar(args) } => crate::commands::recommend::eval_similar(args),
        Command::Eval {
            which:
                EvalCommand::Recommend {
                    train,
                    test,
                    dataset,
                    data_dir,
                    seed,
                    k,
                    chronological,
                    write_split,
                    params,
                    json,
                },
        } => {
            use crate::commands::recommend::EvalSource;
            let source = match (train, test, dataset) {
                (Some(train), Some(test), _) => EvalSource::Files {
                    train: train.clone(),
                    test: test.clone(),
                    chronological: *chronological,
                },
                (_, _, Some(dataset)) => {
                    EvalSource::Dataset { dataset: *dataset, data_dir: data_dir.clone(), seed: *seed }
                }
                _ => anyhow::bail!("pass --train <csv> --test <csv>, or --dataset <name>"),
            };
            crate::commands::recommend::eval(&source, *k, write_split.as_deref(), params.as_deref(), *json)
        }
        Command::Bench { which: BenchCommand::Recommend { data_dir, k, json } } => {
            crate::commands::recommend::bench(data_dir, *k, *json)
        }
        Command::Bench {
            which:
                BenchCommand::Scale {
                    users,
                    items,
                    interactions,
                    k,
                    neighbours,
                    no_texts,
                    check_users,
                    seed,
                    params,
                    json,
                },
        } => crate::commands::scale::bench(&crate::commands::scale::ScaleArgs {
            users: *users,
            items: *items,
            interactions: *interactions,
            k: *k,
            neighbours: *neighbours,
            texts: !*no_texts,
            check_users: *check_users,
            seed: *seed,
            params: params.clone(),
            json: *json,
        }),
        Command::Segment { transactions, out, k, reference_date, json } => {
            let args = crate::commands::segment::SegmentArgs {
                transactions: transactions.clone(),
                out: out.clone(),
                k: *k,
                reference_date: *reference_date,
                json: *json,
            };
            tokio::task::spawn_blocking(move || crate::commands::segment::run(&args)).await?
        }
        Command::Config { json } => {
            let settings = settings(&cli, None)?;
            print_config(&settings, *json);
            // After printing: what is resolved helps find which setting is wrong.
            crate::state::check_settings(&settings)
        }
        Command::Package { out, zip, binary, json } => package(out, zip.as_deref(), binary.as_deref(), *json),
    }
}

/// `shopsense package`: needs no settings, so a build machine without any can package.
fn package(out: &Path, zip: Option<&Path>, binary: Option<&Path>, as_json: bool) -> anyhow::Result<()> {
    let binary = match binary {
        Some(binary) => binary.to_owned(),
        None => std::env::current_exe().context("locating this executable to package it")?,
    };
    let app = crate::package::stage(&binary, out)?;
    let zip_bytes = zip.map(|zip| crate::package::write_zip(&app, zip)).transpose()?;
    if as_json {
        let report = json!({
            "out": app.root,
            "binary": binary,
            "functions": app.functions,
            "files": app.files.iter().map(|f| json!({
                "path": f.path,
                "bytes": f.bytes,
                "executable": f.executable,
            })).collect::<Vec<_>>(),
            "zip": zip,
            "zip_bytes": zip_bytes,
        });
        println!("{report}");
    } else {
        let total: u64 = app.files.iter().map(|f| f.bytes).sum();
        println!(
            "staged {}: host.json, {} functions ({}), {} ({total} bytes in all)",
            app.root.display(),
            app.functions.len(),
            app.functions.join(", "),
            crate::package::EXECUTABLE,
        );
        if let (Some(zip), Some(bytes)) = (zip, zip_bytes) {
            println!("zipped {} ({bytes} bytes, exec bit kept)", zip.display());
        }
    }
    Ok(())
}

/// How long `serve` may take to open storage. The Functions host restarts a custom handler that
/// has not answered within 30 s of starting, and an unreachable blob endpoint took 84 s to fail
/// (the SDK's retries), so the handler was restarted over and over without ever logging why.
const STORAGE_OPEN_DEADLINE: Duration = Duration::from_secs(20);

/// How long `serve` waits for Cosmos DB before it starts without it (connecting on first use):
/// an outage must not keep new instances, and with them ingest and the health route, from
/// starting. Blob storage it still waits for: the host itself runs on a storage account.
const COSMOS_START_WAIT: Duration = Duration::from_secs(8);

async fn serve(settings: Settings, port: u16) -> anyhow::Result<()> {
    let opening = AppState::open_deferring_documents(settings, COSMOS_START_WAIT);
    let (state, deferred) = tokio::time::timeout(STORAGE_OPEN_DEADLINE, opening)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "opening storage took more than {} s, and the Functions host restarts a \
                 handler that has not started within 30 s: check that the storage account and \
                 Cosmos DB endpoints in the settings answer from the app (firewall, private \
                 endpoint, DNS) and that its identity holds its roles (`shopsense config` shows \
                 the endpoints read)",
                STORAGE_OPEN_DEADLINE.as_secs()
            )
        })?
        .context("opening storage")?;
    match deferred {
        None => tracing::info!(stores = %state.stores.describe(), "storage ready"),
        Some(why) => tracing::error!(
            stores = %state.stores.describe(),
            %why,
            "Cosmos DB did not answer at start: serving without it until it does (connecting on \
             first use); routes that need it answer 503, and /api/health?check=stores says degraded"
        ),
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    host::serve(
        app(state),
        addr,
        |bound| tracing::info!(%bound, "custom handler listening"),
        host::shutdown_signal(),
    )
    .await
    .with_context(|| format!("serving on {addr}"))
}

async fn run_local(
    settings: Settings,
    port: u16,
    cors: Option<CorsPolicy>,
    poll: Duration,
    demo: bool,
) -> anyhow::Result<()> {
    let specs = registry();
    let timers = local::timers(&specs, &settings)?;
    let state = AppState::open(settings).await.context("opening storage")?;
    let demo_ids = if demo { Some(crate::demo::prepare(&state).await?) } else { None };
    let router = app(state.clone());
    let uploads =
        state.stores.blobs.container(WATCHED_CONTAINER).await.context("opening the uploads container")?;
    let watcher = UploadWatcher::new(
        &state.uploads_container,
        uploads.clone(),
        local::blob_functions(&specs, WATCHED_CONTAINER),
    )
    .with_events(local::event_functions(&specs))
    .with_dead_letters(
        state
            .stores
            .blobs
            .container(shopsense::dead_letters::DEAD_LETTER_CONTAINER)
            .await
            .context("opening the dead-letter container")?,
    )
    .with_receipts(
        state
            .stores
            .blobs
            .container(local::RECEIPTS_CONTAINER)
            .await
            .context("opening the upload receipts container")?,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for timer in timers {
        tasks.spawn(local::run_timer(router.clone(), timer));
    }
    tasks.spawn(watcher.run(router.clone(), poll));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let where_to_drop = uploads.location();
    let served = match &cors {
        Some(policy) => policy.apply(router),
        None => router,
    };
    let result = host::serve(
        served,
        addr,
        |bound| {
            tracing::info!(%bound, "local run ready");
            eprintln!("shopsense local: API on http://{bound}/api/health");
            if let Some(policy) = &cors {
                eprintln!("  browsers may call it from {}", policy.describe());
            }
            if let Some(ids) = &demo_ids {
                eprintln!("  try:");
                for url in crate::demo::urls(&format!("http://{bound}"), ids) {
                    eprintln!("    {url}");
                }
            }
            eprintln!(
                "  drop transactions, catalog or inventory files into {where_to_drop}/<kind>/ to ingest them"
            );
            if demo_ids.as_ref().is_some_and(|ids| ids.sample_counted) {
                // The sample stays beside the shop's own uploads until it is taken back.
                eprintln!(
                    "  with your own data in, `shopsense uploads withdraw {}` takes the demo's sample back",
                    crate::demo::SAMPLE_UPLOAD
                );
            }
        },
        host::shutdown_signal(),
    )
    .await;
    tasks.shutdown().await;
    result.with_context(|| format!("serving on {addr}"))
}

/// A column mapping file (TOML or JSON).
pub(crate) fn read_mapping(path: &Path) -> anyhow::Result<Mapping> {
    let text = std::fs::read(path).with_context(|| format!("cannot read mapping {}", path.display()))?;
    Ok(Mapping::from_bytes(&path.display().to_string(), &text)?)
}

/// A trigger binding as JSON: its `type`, `name`, `direction` and every other field as written.
fn trigger_json(binding: &crate::functions::Binding) -> serde_json::Value {
    let mut object = binding.rest.clone();
    object.insert("type".into(), binding.kind.clone().into());
    object.insert("name".into(), binding.name.clone().into());
    object.insert("direction".into(), binding.direction.clone().into());
    object.into()
}

async fn ingest_file(
    settings: Settings,
    file: &Path,
    kind: Option<UploadKind>,
    mapping: Option<&Path>,
    as_json: bool,
) -> anyhow::Result<()> {
    let folder_kind =
        file.parent().and_then(Path::file_name).and_then(|n| n.to_str()).and_then(|n| n.parse().ok());
    let kind = kind.or(folder_kind).with_context(|| {
        format!("{}: cannot tell what it holds: pass --kind transactions|catalog|inventory", file.display())
    })?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mapping = mapping.map(read_mapping).transpose()?;
    let state = AppState::open(settings).await.context("opening storage")?;
    let name = file.file_name().and_then(|n| n.to_str()).context("the file has no usable name")?;
    let upload_path = format!("{kind}/{name}");
    if let Some(mapping) = &mapping {
        // Kept first, so the upload never sits there without it: sent again (a restart's watcher,
        // a sweep), it reads as it does now.
        state.ingestor.keep_mapping_of_upload(&upload_path, mapping).await?;
    }
    let landed = state.ingestor.uploads().put(&upload_path, bytes.into(), PutOptions::default()).await?;
    let options = IngestOptions { kind: Some(kind), mapping, ..(*state.ingest_options).clone() };
    let report = match state.ingestor.ingest(&upload_path, &options).await? {
        IngestOutcome::Reported(report) => report,
        // A folder's mapping, now in place: it read the folder's failed uploads again.
        IngestOutcome::Skipped { reason }
            if shopsense::ingest::folder_mapping_kind(&upload_path).is_some() =>
        {
            println!("{reason}");
            return Ok(());
        }
        IngestOutcome::Skipped { reason } => anyhow::bail!("{}: {reason}", file.display()),
    };
    if kind == UploadKind::Inventory {
        // What the watcher does with an inventory upload besides ingest is left to it: `local`
        // judges this count when it next starts, as it would a file dropped into uploads.
        eprintln!(
            "shopsense ingest: an inventory count raises its alerts with `shopsense alerts --inventory {}` (or when `shopsense local` next starts)",
            file.display()
        );
    } else if state.settings.backend == shopsense::settings::Backend::Local {
        // Handled: `local`'s watcher does not send it to ingest again when it next starts.
        let receipts = state.stores.blobs.container(crate::local::RECEIPTS_CONTAINER).await?;
        crate::local::keep_receipt(&*receipts, &upload_path, &landed.etag).await;
    }
    if as_json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.summary());
    }
    if report.verdict == Verdict::Fail {
        let detail = match (&report.error, report.quarantine_sample.first()) {
            (Some(error), _) => error.to_string(),
            (None, Some(row)) => format!(
                "{}:{}{}: {}",
                file.display(),
                row.line,
                row.column.as_deref().map(|c| format!(" (column {c})")).unwrap_or_default(),
                row.message
            ),
            (None, None) => report.verdict_reasons.join("; "),
        };
        anyhow::bail!("ingest of {} failed: {detail}", file.display());
    }
    Ok(())
}

fn print_config(settings: &Settings, as_json: bool) {
    let (backend, blob, cosmos) = match &settings.backend {
        Backend::Local => ("local", None, None),
        Backend::Azure { blob, cosmos } => ("azure", Some(blob), Some(cosmos)),
    };
    let auth_kind = |auth: &shopsense::settings::BlobAuth| match auth {
        shopsense::settings::BlobAuth::Identity(_) => "identity",
        shopsense::settings::BlobAuth::AccountKey { .. } => "account key (SAS)",
        shopsense::settings::BlobAuth::Sas(_) => "SAS",
    };
    let report = json!({
        "backend": backend,
        "home": settings.home,
        "blob_endpoint": blob.map(|b| b.endpoint.clone()),
        "blob_auth": blob.map(|b| auth_kind(&b.auth)),
        "cosmos_endpoint": cosmos.map(|c| c.endpoint.clone()),
        "cosmos_database": cosmos.map(|c| c.database.clone()),
        "functions": registry().iter().map(|f| f.name).collect::<Vec<_>>(),
        // For deployment checks (infra/tests): what each function is triggered by, and every
        // app setting the code reads, so the Bicep can be compared with the code.
        "triggers": registry()
            .iter()
            .map(|f| (f.name.to_owned(), f.trigger().map_or(serde_json::Value::Null, |t| trigger_json(&t))))
            .collect::<serde_json::Map<_, _>>(),
        "read_settings": shopsense::settings::READ_SETTINGS,
    });
    if as_json {
        println!("{report}");
    } else {
        println!("backend:   {backend}");
        println!("home:      {}", settings.home.display());
        if let (Some(blob), Some(cosmos)) = (blob, cosmos) {
            println!("blob:      {} ({})", blob.endpoint, auth_kind(&blob.auth));
            println!("cosmos:    {} (database {})", cosmos.endpoint, cosmos.database);
        }
        println!("functions: {}", registry().iter().map(|f| f.name).collect::<Vec<_>>().join(", "));
    }
}
