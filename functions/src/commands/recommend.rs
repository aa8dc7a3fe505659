//! `shopsense recommend`, `shopsense eval recommend` and `shopsense bench recommend`: the
//! command line around [`shopsense::recommend`].
//!
//! Evaluation data is either two CSVs (`--train`, `--test`, columns `user,item[,weight][,ts]`)
//! or a named split of a public dataset beside the checkout (`--dataset`, seed 42):
//! - `movielens-stratified`: MovieLens 100K, binary, per-item stratified 75/25;
//! - `movielens-user`: MovieLens 100K, binary, per-user random 80/20;
//! - `retail-chrono`: UCI Online Retail (one interaction per customer x stock code, weight =
//!   distinct invoices, time = first purchase), global chronological 80/20;
//! - `retail-user`: the same interactions, per-user random 80/20.
//!
//! `--write-split <dir>` also writes the split as `train.csv` and `test.csv` there, so a peer
//! library can be measured on exactly the same rows (never commit them: MovieLens may not be
//! redistributed).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::cli::TimeSplitArgs;
use serde_json::json;
use shopsense::forecast::panel::csv_field;
use shopsense::recommend::data::{Interactions, Record, read_interactions_csv, write_interactions_csv};
use shopsense::recommend::datasets::SaleLine;
use shopsense::recommend::eval::{EvalReport, evaluate};
use shopsense::recommend::hybrid::Validation;
use shopsense::recommend::split::{SplitKind, split};
use shopsense::recommend::{HybridModel, HybridParams};
use shopsense::recommend::{datasets, presets};

/// The named evaluation splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataset {
    /// MovieLens 100K, per-item stratified 75/25.
    MovielensStratified,
    /// MovieLens 100K, per-user random 80/20.
    MovielensUser,
    /// Online Retail, global chronological 80/20.
    RetailChrono,
    /// Online Retail, per-user random 80/20.
    RetailUser,
}

/// Every named split, in report order.
pub const DATASETS: [Dataset; 4] =
    [Dataset::MovielensStratified, Dataset::MovielensUser, Dataset::RetailChrono, Dataset::RetailUser];

/// One peer figure: `(dataset, peer, nDCG, precision, coverage)`.
pub type PeerRow = (Dataset, &'static str, f64, Option<f64>, Option<f64>);

/// The best open-source peer figures measured on this machine (k = 10), printed beside ours;
/// `None` where not measured.
pub const PEERS: [PeerRow; 8] = [
    (Dataset::MovielensStratified, "implicit ALS (tuned)", 0.468, Some(0.410), Some(0.22)),
    (Dataset::MovielensStratified, "EASE", 0.483, Some(0.420), Some(0.22)),
    (Dataset::MovielensUser, "implicit ALS (tuned)", 0.432, None, None),
    (Dataset::MovielensUser, "EASE", 0.450, None, None),
    (Dataset::RetailChrono, "implicit ALS (tuned)", 0.115, None, Some(0.21)),
    (Dataset::RetailChrono, "EASE", 0.105, None, None),
    (Dataset::RetailUser, "implicit ALS (tuned)", 0.216, None, None),
    (Dataset::RetailUser, "EASE", 0.281, None, Some(0.46)),
];

/// Our targets per split: `(nDCG, precision, coverage)` minima.
#[must_use]
pub fn target(dataset: Dataset) -> (f64, Option<f64>, Option<f64>) {
    match dataset {
        Dataset::MovielensStratified => (0.48, Some(0.42), Some(0.25)),
        Dataset::MovielensUser => (0.45, None, None),
        Dataset::RetailChrono => (0.125, None, Some(0.25)),
        Dataset::RetailUser => (0.29, None, None),
    }
}

impl Dataset {
    /// The CLI name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::MovielensStratified => "movielens-stratified",
            Self::MovielensUser => "movielens-user",
            Self::RetailChrono => "retail-chrono",
            Self::RetailUser => "retail-user",
        }
    }

    /// Reads the dataset and splits it with `seed`; item descriptions when the data has them.
    pub fn load(self, data_dir: &Path, seed: u64) -> anyhow::Result<Split> {
        let (records, texts) = match self {
            Self::MovielensStratified | Self::MovielensUser => (datasets::movielens_100k(data_dir)?, None),
            Self::RetailChrono | Self::RetailUser => {
                let (records, texts) = datasets::online_retail(data_dir)?;
                (records, Some(texts))
            }
        };
        let (kind, ratio) = match self {
            Self::MovielensStratified => (SplitKind::StratifiedByItem, 0.75),
            Self::MovielensUser | Self::RetailUser => (SplitKind::RandomByUser, 0.8),
            Self::RetailChrono => (SplitKind::Chronological, 0.8),
        };
        let (train, test) = split(&records, kind, ratio, seed);
        Ok(Split { train, test, texts })
    }

    /// The hybrid's parameters for this kind of data: the validation slice is carved the way
    /// the test split is (per item, per user, or by time); retail weights are counts, so ALS confidence uses their logarithm.
    #[must_use]
    pub fn params(self) -> HybridParams {
        match self {
            Self::MovielensStratified | Self::MovielensUser => {
                let mut params = HybridParams::default();
                // Denoising EASE widens coverage at equal accuracy; the coverage floor of the
                // weight search is set below the goal because validation coverage (fewer
                // items, a smaller history) runs ~0.03 under test coverage.
                params.ease.dropout = 0.4;
                params.min_coverage = 0.22;
                if self == Self::MovielensStratified {
                    params.validation = Validation::StratifiedByItem;
                    params.validation_ratio = 0.25;
                }
                params
            }
            Self::RetailChrono => presets::retail_chronological(),
            Self::RetailUser => presets::retail_random(),
        }
    }
}

/// A train/test split with optional item descriptions.
pub struct Split {
    /// Training rows.
    pub train: Vec<Record>,
    /// Test rows.
    pub test: Vec<Record>,
    /// Stock code -> description.
    pub texts: Option<HashMap<String, String>>,
}

/// Fits the hybrid on `train` (with descriptions when given).
pub fn fit(
    train: &[Record],
    texts: Option<&HashMap<String, String>>,
    params: &HybridParams,
) -> anyhow::Result<HybridModel> {
    let data = Interactions::from_records(train);
    let texts: Option<Vec<String>> = texts.map(|t| {
        (0..data.n_items()).map(|i| t.get(data.items.name(i as u32)).cloned().unwrap_or_default()).collect()
    });
    Ok(params.fit(&data, texts.as_deref())?)
}

/// `shopsense recommend`: trains on all of `interactions` and writes `user,rank,item,score`
/// with the top `k` unseen items of every user.
pub fn recommend(interactions: &Path, k: usize, out: &Path, chronological: bool) -> anyhow::Result<()> {
    let records = read_interactions_csv(interactions)?;
    let mut params = HybridParams::default();
    if chronological {
        params.validation = Validation::Chronological;
    }
    let started = Instant::now();
    let model = fit(&records, None, &params)?;
    let users: Vec<usize> = (0..model.users.len()).collect();
    let recs = model.recommend_many(&users, k);
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "user,rank,item,score")?;
    for (&u, list) in users.iter().zip(&recs) {
        for (rank, &(item, score)) in list.iter().enumerate() {
            writeln!(
                w,
                "{},{},{},{score:.6}",
                csv_field(model.users.name(u as u32)),
                rank + 1,
                csv_field(model.items.name(item))
            )?;
        }
    }
    w.flush()?;
    eprintln!(
        "recommend: {} users x top {k} written to {} in {:.2} s (blend {})",
        users.len(),
        out.display(),
        started.elapsed().as_secs_f64(),
        blend(&model)
    );
    Ok(())
}

fn blend(model: &HybridModel) -> String {
    model.weights.iter().map(|(s, w)| format!("{s:?}={w}")).collect::<Vec<_>>().join(" ")
}

/// Where `eval recommend` takes its data from.
pub enum EvalSource {
    /// Two CSVs.
    Files {
        /// Training rows.
        train: PathBuf,
        /// Test rows.
        test: PathBuf,
        /// Validate chronologically (for time-ordered splits).
        chronological: bool,
    },
    /// A named split of a public dataset.
    Dataset {
        /// Which.
        dataset: Dataset,
        /// The folder holding `movielens-100k/` and `online_retail/`.
        data_dir: PathBuf,
        /// Split seed.
        seed: u64,
    },
}

/// One evaluated run: the model's metadata and its report.
pub struct Run {
    /// The fitted model.
    pub model: HybridModel,
    /// Its evaluation.
    pub report: EvalReport,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
}

/// Trains and evaluates.
pub fn run(
    source: &EvalSource,
    k: usize,
    write_split: Option<&Path>,
    overrides: Option<&Path>,
) -> anyhow::Result<Run> {
    let (split, params) = match source {
        EvalSource::Files { train, test, chronological } => {
            let mut params = HybridParams::default();
            if *chronological {
                params.validation = Validation::Chronological;
            }
            let split = Split {
                train: read_interactions_csv(train)?,
                test: read_interactions_csv(test)?,
                texts: None,
            };
            (split, params)
        }
        EvalSource::Dataset { dataset, data_dir, seed } => {
            let split = dataset
                .load(data_dir, *seed)
                .with_context(|| format!("loading {} from {}", dataset.name(), data_dir.display()))?;
            (split, dataset.params())
        }
    };
    if let Some(dir) = write_split {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_interactions_csv(&dir.join("train.csv"), &split.train)?;
        write_interactions_csv(&dir.join("test.csv"), &split.test)?;
    }
    let params = HybridParams { k, ..super::with_overrides(params, overrides, "hybrid parameters")? };
    let model = fit(&split.train, split.texts.as_ref(), &params)?;
    let report = evaluate(&model, &split.test, k);
    Ok(Run { model, report, train_rows: split.train.len(), test_rows: split.test.len() })
}

fn run_json(run: &Run) -> serde_json::Value {
    json!({
        "k": run.report.k,
        "precision": run.report.metrics.precision,
        "recall": run.report.metrics.recall,
        "ndcg": run.report.metrics.ndcg,
        "map": run.report.metrics.map,
        "coverage": run.report.metrics.coverage,
        "users": run.report.metrics.users,
        "unknown_users": run.report.unknown_users,
        "train_rows": run.train_rows,
        "test_rows": run.test_rows,
        "items": run.model.items.len(),
        "train_seconds": run.model.train_seconds,
        "signal_seconds": run.model.signal_seconds.iter().map(|(s, t)| json!({"signal": s, "seconds": t})).collect::<Vec<_>>(),
        "weights": run.model.weights.iter().map(|(s, w)| json!({"signal": s, "weight": w})).collect::<Vec<_>>(),
        "validation": run.model.validation,
        "recommend_seconds": run.report.recommend_seconds,
        "users_per_second": run.report.users_per_second,
    })
}

/// `shopsense eval recommend`: prints precision, recall, nDCG, MAP and coverage at k.
pub fn eval(
    source: &EvalSource,
    k: usize,
    write_split: Option<&Path>,
    overrides: Option<&Path>,
    as_json: bool,
) -> anyhow::Result<()> {
    let run = run(source, k, write_split, overrides)?;
    if as_json {
        println!("{}", run_json(&run));
        return Ok(());
    }
    let m = &run.report.metrics;
    println!(
        "k={k} users={} (unknown {}) train_rows={} test_rows={} items={}",
        m.users,
        run.report.unknown_users,
        run.train_rows,
        run.test_rows,
        run.model.items.len()
    );
    println!("precision@{k} {:.4}", m.precision);
    println!("recall@{k}    {:.4}", m.recall);
    println!("ndcg@{k}      {:.4}", m.ndcg);
    println!("map@{k}       {:.4}", m.map);
    println!("coverage@{k}  {:.4}", m.coverage);
    let signals: Vec<String> =
        run.model.signal_seconds.iter().map(|(s, t)| format!("{s:?} {t:.2} s")).collect();
    let validation = run.model.validation.as_ref().map_or_else(String::new, |v| {
        format!(
            "; validation nDCG {:.4} P {:.4} coverage {:.4} ({} trials, {:.2} s)",
            v.metrics.ndcg, v.metrics.precision, v.metrics.coverage, v.trials, v.seconds
        )
    });
    println!("fit: {}{validation}", signals.join(", "));
    println!(
        "train {:.2} s, recommend {:.0} users/s; blend {}",
        run.model.train_seconds,
        run.report.users_per_second,
        blend(&run.model)
    );
    Ok(())
}

/// `shopsense bench recommend`: every named split, ours beside the peers, with timings.
pub fn bench(data_dir: &Path, k: usize, as_json: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for dataset in DATASETS {
        let source = EvalSource::Dataset { dataset, data_dir: data_dir.to_owned(), seed: 42 };
        let run = run(&source, k, None, None)?;
        // ALS alone, with the hybrid's ALS parameters, timed on the full training split.
        let als_seconds =
            run.model.signal_seconds.iter().find(|(s, _)| format!("{s:?}") == "Als").map(|(_, t)| *t);
        rows.push((dataset, run, als_seconds));
    }
    if as_json {
        let doc: Vec<_> = rows
            .iter()
            .map(|(d, run, als)| {
                let (ndcg, precision, coverage) = target(*d);
                json!({
                    "dataset": d.name(),
                    "ours": run_json(run),
                    "als_train_seconds": als,
                    "target": {"ndcg": ndcg, "precision": precision, "coverage": coverage},
                    "peers": PEERS.iter().filter(|p| p.0 == *d).map(|p| json!({"peer": p.1, "ndcg": p.2, "precision": p.3, "coverage": p.4})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", json!({ "k": k, "splits": doc }));
        return Ok(());
    }
    for (dataset, run, als) in &rows {
        let m = &run.report.metrics;
        let (t_ndcg, t_p, t_cov) = target(*dataset);
        println!("\n### {} (k = {k}, seed 42)", dataset.name());
        println!("| model | nDCG | precision | recall | MAP | coverage | train s | users/s |");
        println!("|---|---|---|---|---|---|---|---|");
        println!(
            "| shopsense hybrid | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.2} | {:.0} |",
            m.ndcg,
            m.precision,
            m.recall,
            m.map,
            m.coverage,
            run.model.train_seconds,
            run.report.users_per_second
        );
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        for p in PEERS.iter().filter(|p| p.0 == *dataset) {
            println!("| {} | {:.3} | {} | - | - | {} | - | - |", p.1, p.2, opt(p.3), opt(p.4));
        }
        let met =
            m.ndcg >= t_ndcg && t_p.is_none_or(|p| m.precision >= p) && t_cov.is_none_or(|c| m.coverage >= c);
        println!(
            "target: nDCG >= {t_ndcg}{}{}: {}; ALS alone trains in {} s; blend {}",
            t_p.map(|p| format!(", P >= {p}")).unwrap_or_default(),
            t_cov.map(|c| format!(", coverage >= {c}")).unwrap_or_default(),
            if met { "met" } else { "MISSED" },
            als.map_or_else(|| "-".to_owned(), |t| format!("{t:.2}")),
            blend(&run.model)
        );
    }
    Ok(())
}

/// Reads an Online Retail layout file's sale lines and splits them at `args.test_from` (default:
/// the last 30 days): `(train, test, first test day)`.
fn time_split(args: &TimeSplitArgs) -> anyhow::Result<(Vec<SaleLine>, Vec<SaleLine>, String)> {
    let lines = datasets::online_retail_lines(&args.transactions)
        .with_context(|| format!("reading {}", args.transactions.display()))?;
    let last = lines.iter().map(|l| l.ts).max().context("the file holds no sale line of a product")?;
    let cut = match args.test_from {
        Some(day) => day.and_hms_opt(0, 0, 0).map_or(last, |t| t.and_utc().timestamp()),
        None => last - 30 * 86_400,
    };
    let (train, test): (Vec<SaleLine>, Vec<SaleLine>) = lines.into_iter().partition(|l| l.ts < cut);
    anyhow::ensure!(!train.is_empty(), "no invoice before the test period: pick a later --test-from");
    let from =
        chrono::DateTime::from_timestamp(cut, 0).map(|t| t.date_naive().to_string()).unwrap_or_default();
    Ok((train, test, from))
}

/// `shopsense eval cart`: the cart-completion rule against the rule before it (lift) and the best
/// sellers alone, on the invoices of an Online Retail layout file from `test_from` (default: its
/// last 30 days), carts of 1 and 3 items ([`shopsense::recommend::cart`]).
pub fn eval_cart(args: &TimeSplitArgs) -> anyhow::Result<()> {
    use shopsense::recommend::cart;
    let (train, test, from) = time_split(args)?;
    let invoices = |lines: Vec<SaleLine>| -> Vec<Record> {
        lines.into_iter().map(|l| Record { user: l.invoice, item: l.sku, weight: 1.0, ts: l.ts }).collect()
    };
    let (train, test) = (invoices(train), cart::baskets_of(&invoices(test)));
    let (k, seed) = (args.k, args.seed);
    let rules = [None, Some(cart::lift_params()), Some(cart::basket_params())];
    let mut rows = Vec::new();
    for cart_items in [1, 3] {
        for rule in &rules {
            rows.push(cart::evaluate(&train, &test, rule.as_ref(), cart_items, k, seed)?);
        }
    }
    if args.json {
        println!(
            "{}",
            json!({ "test_from": from, "k": k, "seed": seed, "test_invoices": test.len(), "rows": rows })
        );
        return Ok(());
    }
    println!(
        "{} train invoice lines, {} test invoices from {from}; k = {k}, seed {seed} (the rule serving uses is the last of each size)",
        train.len(),
        test.len()
    );
    println!(
        "{:<5} {:<56} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6}",
        "cart", "rule", "cases", "HR", "P", "R", "nDCG", "coverage", "rare"
    );
    for r in &rows {
        println!(
            "{:<5} {:<56} {:>6} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>8.3} {:>6.3}",
            r.cart_items,
            r.rule,
            r.scores.cases,
            r.scores.hit_rate,
            r.scores.precision,
            r.scores.recall,
            r.scores.ndcg,
            r.scores.coverage,
            r.rare_share
        );
    }
    Ok(())
}

/// `shopsense eval similar`: the similar-items rule against the cosine rule before it and the best
/// sellers alone, on the customers' invoices of an Online Retail layout file from `test_from`
/// (default: its last 30 days), overall and by the seed's train buyers
/// ([`shopsense::recommend::similar_items`]).
pub fn eval_similar(args: &TimeSplitArgs) -> anyhow::Result<()> {
    use shopsense::recommend::similar_items::{SimilarParams, evaluate};
    let (train, test, from) = time_split(args)?;
    let (k, seed) = (args.k, args.seed);
    let mut rows = Vec::new();
    for rule in [None, Some(SimilarParams::cosine()), Some(SimilarParams::also_bought())] {
        rows.extend(evaluate(&train, &test, rule.as_ref(), k, seed)?);
    }
    if args.json {
        println!("{}", json!({ "test_from": from, "k": k, "seed": seed, "rows": rows }));
        return Ok(());
    }
    println!(
        "{} train sale lines, {} test lines from {from}; k = {k}, seed {seed} (the rule serving uses is the last)",
        train.len(),
        test.len()
    );
    println!(
        "{:<80} {:<6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "rule", "seeds", "cases", "HR", "P", "R", "nDCG", "coverage"
    );
    for r in &rows {
        println!(
            "{:<80} {:<6} {:>6} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>8.3}",
            r.rule,
            r.seeds,
            r.scores.cases,
            r.scores.hit_rate,
            r.scores.precision,
            r.scores.recall,
            r.scores.ndcg,
            r.scores.coverage
        );
    }
    Ok(())
}
