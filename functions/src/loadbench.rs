//! `shopsense bench serve`: HTTP latency of the recommendation endpoints under a fixed request
//! rate, measured by a bounded open-loop client.
//!
//! The client keeps `connections` keep-alive HTTP/1.1 connections; request `i` is due at
//! `start + i / rate` and its latency runs from that due time (not from when it was sent), so a
//! server that falls behind is charged for the queueing it causes (no coordinated omission).
//! Without `--url`, the app runs in this process on a fresh embedded home with the demo models
//! (the shipped sample, trained as `shopsense local` does); with `--url` it loads a running
//! instance. The mix: 60 % personalised, 25 % similar items, 15 % cart completion, over every
//! customer and the trending SKUs of the live models. The first second is warm-up and not counted.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;
use shopsense::registry::ModelKind;
use shopsense::serving::{SHOP_PARTITION, ShopRecs};
use shopsense::settings::Settings;

use crate::state::AppState;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Requests per second.
    pub rate: u32,
    /// Seconds measured (after one second of warm-up).
    pub seconds: u64,
    /// Keep-alive connections.
    pub connections: usize,
    /// An already running instance (`http://127.0.0.1:7071`); default: one in this process.
    pub url: Option<String>,
    /// Print JSON.
    pub json: bool,
}

struct Sample {
    endpoint: usize,
    latency: Duration,
    ok: bool,
}

const ENDPOINTS: [&str; 3] = ["customer", "similar", "cart"];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs the benchmark and prints the table.
pub async fn run(options: &LoadOptions) -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let (addr, customers, skus, server) = match &options.url {
        Some(url) => {
            let addr: SocketAddr = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .with_context(|| format!("--url {url}: give http://<ip>:<port>"))?;
            (
                addr,
                vec!["17850".to_owned(), "14456".to_owned()],
                vec!["85123A".to_owned(), "22578".to_owned()],
                None,
            )
        }
        None => {
            let values = [("SHOPSENSE_HOME".to_owned(), home.path().display().to_string())].into();
            let state = AppState::open(Settings::from_values(values, None)?).await?;
            eprintln!("bench serve: preparing the demo models in {}", home.path().display());
            crate::demo::prepare(&state).await?;
            let (customers, skus) = ids(&state).await?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let router = crate::app::app(state);
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(async move {
                crate::host::serve(
                    router,
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    move |bound| {
                        let _ = tx.send(bound);
                    },
                    async move {
                        let _ = stop_rx.await;
                    },
                )
                .await
            });
            (rx.await.context("the server did not start")?, customers, skus, Some((stop_tx, server)))
        }
    };
    let samples = load(addr, options, &customers, &skus).await?;
    if let Some((stop, server)) = server {
        let _ = stop.send(());
        server.await??;
    }
    report(options, &samples);
    Ok(())
}

async fn ids(state: &AppState) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let shop = state
        .reader
        .get::<ShopRecs>(ModelKind::Recommend, SHOP_PARTITION)
        .await?
        .and_then(|(_, s)| s)
        .context("no live recommender")?;
    let skus: Vec<String> = shop.trending.iter().map(|s| s.sku.clone()).collect();
    let silver = state.stores.blobs.container(shopsense::tables::SILVER_CONTAINER).await?;
    let blob = shopsense::features::snapshot::get(&*silver, shopsense::tables::RFM_INPUTS_PATH)
        .await?
        .context("no features")?;
    let frame = shopsense::features::read_parquet(&blob.body)?;
    let customers: Vec<String> =
        frame.column("customer_id")?.str()?.iter().flatten().map(str::to_owned).collect();
    Ok((customers, skus))
}

fn request_for(i: usize, customers: &[String], skus: &[String]) -> (usize, Request<Full<Bytes>>) {
    let pick =
        |list: &[String], salt: usize| list[(i.wrapping_mul(2_654_435_761) ^ salt) % list.len()].clone();
    let slot = i % 20;
    let build = |method: &str, uri: String, body: Bytes| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "bench")
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("a valid request")
    };
    if slot < 12 {
        (0, build("GET", format!("/api/recommendations/customers/{}?k=10", pick(customers, 1)), Bytes::new()))
    } else if slot < 17 {
        (1, build("GET", format!("/api/recommendations/items/{}/similar?k=10", pick(skus, 2)), Bytes::new()))
    } else {
        let body =
            json!({ "items": [pick(skus, 3), pick(skus, 4)], "customer_id": pick(customers, 5), "k": 10 });
        (2, build("POST", "/api/recommendations/cart".to_owned(), Bytes::from(body.to_string())))
    }
}

async fn load(
    addr: SocketAddr,
    options: &LoadOptions,
    customers: &[String],
    skus: &[String],
) -> anyhow::Result<Vec<Sample>> {
    let total = options.rate as usize * (options.seconds as usize + 1);
    let warmup = options.rate as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    let start = Instant::now() + Duration::from_millis(100);
    let mut workers = Vec::new();
    for w in 0..options.connections.max(1) {
        let (customers, skus) = (customers.to_vec(), skus.to_vec());
        let connections = options.connections.max(1);
        workers.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut samples = Vec::new();
            let mut i = w;
            while i < total {
                let due = start + period * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let (endpoint, request) = request_for(i, &customers, &skus);
                let ok = match sender.send_request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        response.into_body().collect().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                if i >= warmup {
                    samples.push(Sample { endpoint, latency: due.elapsed(), ok });
                }
                i += connections;
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for worker in workers {
        all.extend(worker.await??);
    }
    Ok(all)
}

fn report(options: &LoadOptions, samples: &[Sample]) {
    let errors = samples.iter().filter(|s| !s.ok).count();
    let mut rows = Vec::new();
    for (e, name) in ENDPOINTS.iter().enumerate() {
        let mut l: Vec<Duration> = samples.iter().filter(|s| s.endpoint == e).map(|s| s.latency).collect();
        l.sort();
        rows.push((name.to_string(), l));
    }
    let mut all: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    all.sort();
    rows.push(("all".to_owned(), all));
    if options.json {
        let table: Vec<_> = rows
            .iter()
            .map(|(name, l)| {
                json!({ "endpoint": name, "requests": l.len(), "p50_ms": percentile(l, 0.5), "p90_ms": percentile(l, 0.9),
                        "p99_ms": percentile(l, 0.99), "p999_ms": percentile(l, 0.999), "max_ms": percentile(l, 1.0) })
            })
            .collect();
        println!(
            "{}",
            json!({ "rate": options.rate, "seconds": options.seconds, "connections": options.connections, "errors": errors, "endpoints": table })
        );
        return;
    }
    println!(
        "open-loop load: {} requests/s for {} s over {} keep-alive connections; latency from each request's due time",
        options.rate, options.seconds, options.connections
    );
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "endpoint", "requests", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for (name, l) in &rows {
        println!(
            "{:<10} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name,
            l.len(),
            percentile(l, 0.5),
            percentile(l, 0.9),
            percentile(l, 0.99),
            percentile(l, 0.999),
            percentile(l, 1.0)
        );
    }
    println!("errors: {errors}; target: p99 <= 10 ms at 1,000 requests/s on the embedded store");
}
