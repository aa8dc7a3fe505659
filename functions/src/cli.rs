//! The command line: `shopsense serve` (what `host.json` starts), `shopsense local` (everything on
//! one machine) and reporting commands, each with `--json` where it reports something.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use shopsense::settings::{Backend, BackendChoice, Settings};

use crate::app::app;
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
        /// Port of the HTTP API.
        #[arg(long, default_value_t = 7071)]
        port: u16,
        /// How often the uploads folder is checked, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
    },
    /// Show the resolved configuration (backend, home, endpoints; never secrets).
    Config {
        /// Print one JSON document instead of text.
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
        Command::Local { port, poll_ms } => {
            let settings = settings(&cli, Some(BackendChoice::Local))?;
            run_local(settings, *port, Duration::from_millis(*poll_ms)).await
        }
        Command::Config { json } => {
            let settings = settings(&cli, None)?;
            print_config(&settings, *json);
            Ok(())
        }
    }
}

async fn serve(settings: Settings, port: u16) -> anyhow::Result<()> {
    let state = AppState::open(settings).await.context("opening storage")?;
    tracing::info!(stores = %state.stores.describe(), "storage ready");
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

async fn run_local(settings: Settings, port: u16, poll: Duration) -> anyhow::Result<()> {
    let specs = registry();
    let timers = local::timers(&specs, &settings)?;
    let state = AppState::open(settings).await.context("opening storage")?;
    let router = app(state.clone());
    let uploads =
        state.stores.blobs.container(WATCHED_CONTAINER).await.context("opening the uploads container")?;
    let watcher = UploadWatcher::new(
        WATCHED_CONTAINER,
        uploads.clone(),
        local::blob_functions(&specs, WATCHED_CONTAINER),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for timer in timers {
        tasks.spawn(local::run_timer(router.clone(), timer));
    }
    tasks.spawn(watcher.run(router.clone(), poll));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let where_to_drop = uploads.location();
    let result = host::serve(
        router,
        addr,
        |bound| {
            tracing::info!(%bound, "local run ready");
            eprintln!("shopsense local: API on http://{bound}/api/health");
            eprintln!(
                "  drop transactions, catalog or inventory files into {where_to_drop}/<kind>/ to ingest them"
            );
        },
        host::shutdown_signal(),
    )
    .await;
    tasks.shutdown().await;
    result.with_context(|| format!("serving on {addr}"))
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
