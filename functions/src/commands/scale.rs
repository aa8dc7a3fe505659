//! `shopsense bench scale`: the nightly recommender path on a synthetic power-law shop
//! ([`shopsense::recommend::synthetic`]), generated in memory: fit the hybrid with its defaults,
//! the top `k` unseen items of every customer (what the publish step writes) and the top
//! neighbours of every SKU, each phase with its seconds and peak resident memory.
//!
//! Goals (issue #8): 1M customers x 100k SKUs x 20M interactions in <= 10 minutes end to end
//! (generation excluded) with peak memory <= 3 GB on 2 cores.

use std::time::Instant;

use rayon::prelude::*;
use serde_json::json;
use shopsense::recommend::HybridParams;
use shopsense::recommend::split::SplitMix64;
use shopsense::recommend::synthetic::SyntheticParams;

use crate::bench::{peak_rss_mib, reset_peak_rss, rss_mib};

/// What `bench scale` is asked for.
#[derive(Debug, Clone)]
pub struct ScaleArgs {
    /// Customers.
    pub users: usize,
    /// SKUs.
    pub items: usize,
    /// Customer x SKU pairs.
    pub interactions: usize,
    /// Recommendations per customer.
    pub k: usize,
    /// Neighbours per SKU.
    pub neighbours: usize,
    /// Generate item descriptions (the content signal).
    pub texts: bool,
    /// Customers whose candidate-path top `k` is compared with a full ranking.
    pub check_users: usize,
    /// Seed of the shop.
    pub seed: u64,
    /// Hybrid parameters (JSON) merged over the defaults.
    pub params: Option<std::path::PathBuf>,
    /// One JSON document instead of a table.
    pub json: bool,
}

/// One measured phase.
struct Phase {
    name: &'static str,
    seconds: f64,
    peak_mib: Option<f64>,
    note: String,
}

/// Runs `f`, timing it and reading the peak memory it reached.
fn phase<T>(phases: &mut Vec<Phase>, name: &'static str, f: impl FnOnce() -> (T, String)) -> T {
    let reset = reset_peak_rss();
    let started = Instant::now();
    let (value, note) = f();
    let seconds = started.elapsed().as_secs_f64();
    // Without a reset the mark is the process's peak so far, which still bounds this phase.
    let peak_mib = if reset { peak_rss_mib() } else { peak_rss_mib().or_else(rss_mib) };
    eprintln!("bench scale: {name} {seconds:.1} s, peak {:.0} MiB; {note}", peak_mib.unwrap_or(f64::NAN));
    phases.push(Phase { name, seconds, peak_mib, note });
    value
}

/// `shopsense bench scale`.
pub fn bench(args: &ScaleArgs) -> anyhow::Result<()> {
    let mut phases = Vec::new();
    let shop_params = SyntheticParams {
        users: args.users,
        items: args.items,
        interactions: args.interactions,
        seed: args.seed,
        ..SyntheticParams::default()
    };
    let (shop, texts) = phase(&mut phases, "generate", || {
        let shop = shop_params.generate();
        let texts = args.texts.then(|| shop.texts(args.seed));
        let m = &shop.data.matrix;
        let longest = (0..m.n_rows).map(|u| m.indptr[u + 1] - m.indptr[u]).max().unwrap_or(0);
        let note = format!(
            "{} customers x {} SKUs, {} pairs, busiest customer {longest} SKUs{}",
            m.n_rows,
            m.n_cols,
            m.nnz(),
            if texts.is_some() { ", with descriptions" } else { "" }
        );
        ((shop, texts), note)
    });
    let data = shop.data;
    let params = crate::commands::with_overrides(
        HybridParams::default(),
        args.params.as_deref(),
        "hybrid parameters",
    )?;
    let model = phase(&mut phases, "fit", || {
        let model = params.fit(&data, texts.as_deref());
        let note = match &model {
            Ok(m) => {
                let signals: Vec<String> =
                    m.signal_seconds.iter().map(|(s, t)| format!("{s:?} {t:.1} s")).collect();
                let validation = m.validation.as_ref().map_or_else(String::new, |v| {
                    format!(
                        "weight search {:.1} s ({} trials, validation nDCG@{} {:.4}, coverage {:.3}); ",
                        v.seconds, v.trials, params.k, v.metrics.ndcg, v.metrics.coverage
                    )
                });
                format!(
                    "{validation}refit: {}; scoring constants and factor index {:.1} s; blend {}",
                    signals.join(", "),
                    m.prepare_seconds,
                    m.weights.iter().map(|(s, w)| format!("{s:?}={w}")).collect::<Vec<_>>().join(" ")
                )
            }
            Err(e) => e.to_string(),
        };
        (model, note)
    });
    let model = model?;
    drop(data);
    let n_users = model.users.len();
    let n_items = model.items.len();
    let k = args.k;
    let (lists, distinct) = phase(&mut phases, "recommend", || {
        // In slices, as the publish step would write them out, so the lists need not all live
        // at once; what is kept is the count and the catalogue coverage.
        let mut covered = vec![false; n_items];
        let mut lists = 0usize;
        let mut short = 0usize;
        let users: Vec<usize> = (0..n_users).collect();
        for slice in users.chunks(65_536) {
            for list in model.recommend_many(slice, k) {
                lists += 1;
                short += usize::from(list.len() < k);
                list.iter().for_each(|&(i, _)| covered[i as usize] = true);
            }
        }
        let distinct = covered.iter().filter(|&&c| c).count();
        let note = format!(
            "top {k} for {lists} customers ({short} shorter than {k}); {distinct} distinct SKUs ({:.1}% of the catalogue)",
            100.0 * distinct as f64 / n_items.max(1) as f64
        );
        ((lists, distinct), note)
    });
    let neighbour_lists = phase(&mut phases, "similar items", || {
        let sizes: Vec<usize> =
            (0..n_items).into_par_iter().map(|i| model.similar_items(i, args.neighbours).len()).collect();
        let empty = sizes.iter().filter(|&&s| s == 0).count();
        let full = sizes.iter().filter(|&&s| s == args.neighbours).count();
        let note = format!(
            "top {} neighbours for {n_items} SKUs ({full} full lists, {empty} empty)",
            args.neighbours
        );
        (n_items - empty, note)
    });
    let recall = phase(&mut phases, "check", || {
        // Customers drawn with a fixed seed; the full ranking scores every SKU.
        let mut rng = SplitMix64::new(args.seed ^ 0xC4EC);
        let sample: Vec<usize> = (0..args.check_users.min(n_users)).map(|_| rng.below(n_users)).collect();
        let fast = model.recommend_many(&sample, k);
        let (hits, total): (usize, usize) = sample
            .par_iter()
            .zip(&fast)
            .map(|(&u, got)| {
                let exact = model.recommend_exact(u, k);
                let hits = got.iter().filter(|(i, _)| exact.iter().any(|(j, _)| j == i)).count();
                (hits, exact.len())
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let recall = hits as f64 / total.max(1) as f64;
        let stats: Vec<_> = sample.par_iter().filter_map(|&u| model.candidate_stats(u, k)).collect();
        let paths = if stats.is_empty() {
            "every SKU scored".to_owned()
        } else {
            let mean = |f: fn(&shopsense::recommend::hybrid::CandidateStats) -> usize| {
                stats.iter().map(f).sum::<usize>() as f64 / stats.len() as f64
            };
            format!(
                "per customer {:.0} SKUs reached by sparse signals ({:.0} scored) + {:.0} from {:.0} factor clusters; bound proved {:.1}% of lists exact",
                mean(|s| s.reached),
                mean(|s| s.reached_scored),
                mean(|s| s.scanned),
                mean(|s| s.clusters),
                100.0 * stats.iter().filter(|s| s.exact).count() as f64 / stats.len() as f64
            )
        };
        let note = format!(
            "candidate path vs full ranking on {} customers: recall@{k} {recall:.4}; {paths}",
            sample.len()
        );
        (recall, note)
    });
    let pipeline: f64 =
        phases.iter().filter(|p| p.name != "generate" && p.name != "check").map(|p| p.seconds).sum();
    let peak = phases.iter().filter_map(|p| p.peak_mib).fold(0f64, f64::max);
    let users_per_second =
        n_users as f64 / phases.iter().find(|p| p.name == "recommend").map_or(1.0, |p| p.seconds);
    if args.json {
        let doc = json!({
            "users": n_users,
            "items": n_items,
            "interactions": args.interactions,
            "k": k,
            "neighbours": args.neighbours,
            "texts": args.texts,
            "phases": phases.iter().map(|p| json!({"phase": p.name, "seconds": p.seconds, "peak_rss_mib": p.peak_mib, "note": p.note})).collect::<Vec<_>>(),
            "pipeline_seconds": pipeline,
            "peak_rss_mib": peak,
            "lists": lists,
            "distinct_recommended": distinct,
            "neighbour_lists": neighbour_lists,
            "users_per_second": users_per_second,
            "candidate_recall": recall,
            "goal_seconds": 600,
            "goal_peak_mib": 3072,
        });
        println!("{doc}");
        return Ok(());
    }
    println!(
        "bench scale: {n_users} customers x {n_items} SKUs x {} interactions (seed {}), top {k} per customer, {} neighbours per SKU",
        args.interactions, args.seed, args.neighbours
    );
    println!("| phase | seconds | peak RSS MiB | what |");
    println!("|---|---|---|---|");
    for p in &phases {
        println!(
            "| {} | {:.1} | {} | {} |",
            p.name,
            p.seconds,
            p.peak_mib.map_or_else(|| "-".to_owned(), |m| format!("{m:.0}")),
            p.note
        );
    }
    println!(
        "fit + recommend + similar items: {pipeline:.1} s (goal <= 600 s), peak RSS {peak:.0} MiB (goal <= 3072 MiB): {}; {users_per_second:.0} customers/s",
        if pipeline <= 600.0 && peak <= 3072.0 { "met" } else { "MISSED" }
    );
    Ok(())
}
