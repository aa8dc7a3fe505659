//! "Complete the cart": which items go with the ones in a cart, and how well that rule does.
//!
//! ## The rule ([`basket_params`])
//! Each SKU keeps its [`CART_NEIGHBOURS`] best bought-together neighbours by asymmetric cosine
//! over invoices, `c_ij / (c_i^0.7 c_j^0.3)` (`c_ij`: invoices holding both, `c_i`: invoices
//! holding `i`), pairs seen in at least 2 invoices, invoices of more than 100 SKUs left out. A
//! cart's candidates are its items' neighbours, scores summed; serving tops the list up with
//! similar items, then trending.
//!
//! Why not lift (the rule before, [`lift_params`]): lift `c_ij / (c_i c_j)` is largest for items
//! seen in a handful of invoices, so on Online Retail every popular cart was completed by the same
//! obscure SKUs: `20954` (3 lines all year, in two guest orders of about 500 lines) was the first
//! suggestion for a quarter of single-item carts of the 300 best sellers. `a` = 0.7 leans towards
//! `P(j | i)` without handing every cart the best sellers, and dropping orders over 100 SKUs
//! removes wholesale noise; both were chosen on [`evaluate`] (README "Recommendations").
//!
//! ## The evaluation ([`evaluate`])
//! Train on the invoices before a date, test on the invoices from it holding at least two SKUs
//! (more than the cart's size). Each test invoice's SKUs are shuffled with a fixed seed; the first
//! `cart_items` are the cart, the rest are what it should have suggested. The top `k` candidates
//! not in the cart, topped up by the train's most bought SKUs of its last 30 days, are judged by
//! hit rate, precision, recall and nDCG at `k` ([`super::metrics`]), catalogue coverage, and the
//! share of suggestions that are SKUs seen in fewer than 5 train invoices.

use std::collections::HashMap;

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use serde::Serialize;

use super::cooccurrence::{CooccurrenceParams, Similarity};
use super::data::{Interactions, Record};
use super::errors::Result;
use super::metrics::{ListScores, ListScoring, recent_best_sellers};

/// Bought-together neighbours kept per SKU.
pub const CART_NEIGHBOURS: usize = 30;

/// Invoices with more SKUs than this are left out of the bought-together counts.
pub const MAX_BASKET_ITEMS: usize = 100;

/// Train invoices a SKU must be in to not count as rare in [`CartMetrics::rare_share`].
const RARE_BELOW: usize = 5;

/// Days at the end of the train period whose best sellers top a list up.
const POPULAR_DAYS: i64 = 30;

/// The bought-together rule the retrain fits and serving reads (module docs).
#[must_use]
pub fn basket_params() -> CooccurrenceParams {
    CooccurrenceParams {
        similarity: Similarity::AsymmetricCosine,
        asymmetry: 0.7,
        skip_users_over: Some(MAX_BASKET_ITEMS),
        neighbours: CART_NEIGHBOURS,
        min_count: 2,
        ..CooccurrenceParams::default()
    }
}

/// The rule before: lift, pairs in at least 2 invoices, every invoice counted.
#[must_use]
pub fn lift_params() -> CooccurrenceParams {
    CooccurrenceParams {
        similarity: Similarity::Lift,
        neighbours: CART_NEIGHBOURS,
        min_count: 2,
        ..CooccurrenceParams::default()
    }
}

/// One invoice: its time (seconds) and distinct SKUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    /// The invoice.
    pub invoice: String,
    /// When (seconds since the epoch).
    pub ts: i64,
    /// Its distinct SKUs, in the order first seen.
    pub items: Vec<String>,
}

/// Invoice x SKU records (user = invoice) grouped into baskets, in the order first seen.
#[must_use]
pub fn baskets_of(records: &[Record]) -> Vec<Basket> {
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut baskets: Vec<Basket> = Vec::new();
    for r in records {
        let index = *at.entry(r.user.as_str()).or_insert_with(|| {
            baskets.push(Basket { invoice: r.user.clone(), ts: r.ts, items: Vec::new() });
            baskets.len() - 1
        });
        let basket = &mut baskets[index];
        basket.ts = basket.ts.min(r.ts);
        if !basket.items.contains(&r.item) {
            basket.items.push(r.item.clone());
        }
    }
    baskets
}

/// What [`evaluate`] measures for one rule and cart size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CartMetrics {
    /// The rule (`popularity`, or the similarity and its settings).
    pub rule: String,
    /// Items in each cart.
    pub cart_items: usize,
    /// Over the test invoices judged (recall over the invoice's other SKUs, coverage over the
    /// SKUs in the train invoices).
    #[serde(flatten)]
    pub scores: ListScores,
    /// Share of the suggestions that are SKUs in fewer than 5 train invoices.
    pub rare_share: f64,
}

/// A rule's name for reports.
#[must_use]
pub fn rule_name(params: Option<&CooccurrenceParams>) -> String {
    match params {
        None => "popularity".to_owned(),
        Some(p) => {
            let similarity = match p.similarity {
                Similarity::Cosine => "cosine".to_owned(),
                Similarity::AsymmetricCosine => format!("asymmetric cosine {}", p.asymmetry),
                Similarity::Jaccard => "jaccard".to_owned(),
                Similarity::Lift => "lift".to_owned(),
            };
            let skip = p.skip_users_over.map(|n| format!(", invoices <= {n} SKUs")).unwrap_or_default();
            format!("{similarity}, pairs >= {}{skip}", p.min_count)
        }
    }
}

/// Judges a bought-together rule (`None`: the best sellers alone) on `test` after fitting it on
/// `train` (invoice x SKU records), as the module docs describe.
///
/// # Errors
/// Invalid parameters or an empty train set.
pub fn evaluate(
    train: &[Record],
    test: &[Basket],
    params: Option<&CooccurrenceParams>,
    cart_items: usize,
    k: usize,
    seed: u64,
) -> Result<CartMetrics> {
    let data = Interactions::from_records(train);
    let model = params.map(|p| p.fit(&data)).transpose()?;
    let n_items = data.n_items();
    let mut invoices_of = vec![0usize; n_items];
    for r in train {
        if let Some(i) = data.items.get(&r.item) {
            invoices_of[i as usize] += 1;
        }
    }
    let lines: Vec<(&str, i64)> = train.iter().map(|r| (r.item.as_str(), r.ts)).collect();
    let popular: Vec<u32> =
        recent_best_sellers(&lines, POPULAR_DAYS).into_iter().filter_map(|sku| data.items.get(sku)).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut rare, mut shown) = (0usize, 0usize);
    let mut scoring = ListScoring::default();
    let mut scores = vec![0f32; n_items];
    let mut touched: Vec<u32> = Vec::new();
    for basket in test.iter().filter(|b| b.items.len() > cart_items.max(1)) {
        let mut items = basket.items.clone();
        for i in (1..items.len()).rev() {
            items.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let (cart, rest) = items.split_at(cart_items);
        let cart: Vec<u32> = cart.iter().filter_map(|sku| data.items.get(sku)).collect();
        let relevant: Vec<u32> = rest.iter().filter_map(|sku| data.items.get(sku)).collect();
        let mut ranked: Vec<(u32, f32)> = Vec::new();
        if let Some(model) = &model {
            model.accumulate_history(cart.iter().map(|&i| (i, 1.0, 0.0)), &mut scores, &mut touched);
            ranked =
                touched.iter().map(|&j| (j, scores[j as usize])).filter(|(j, _)| !cart.contains(j)).collect();
            for &j in &touched {
                scores[j as usize] = 0.0;
            }
            touched.clear();
            ranked.sort_by(|a, b| {
                b.1.total_cmp(&a.1).then_with(|| data.items.name(a.0).cmp(data.items.name(b.0)))
            });
            ranked.truncate(k);
        }
        let mut list: Vec<u32> = ranked.into_iter().map(|(j, _)| j).collect();
        for &j in &popular {
            if list.len() >= k {
                break;
            }
            if !cart.contains(&j) && !list.contains(&j) {
                list.push(j);
            }
        }
        scoring.add(&list, &relevant, rest.len(), k);
        rare += list.iter().filter(|&&j| invoices_of[j as usize] < RARE_BELOW).count();
        shown += list.len();
    }
    Ok(CartMetrics {
        rule: rule_name(params),
        cart_items,
        scores: scoring.finish(n_items),
        rare_share: rare as f64 / shown.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(invoice: &str, sku: &str) -> Record {
        Record { user: invoice.into(), item: sku.into(), weight: 1.0, ts: 0 }
    }

    /// Teapots go with teacups in 20 invoices (and sell without them in 10 more, as do saucers and
    /// spoons); a rare SKU sits in two wholesale orders of 150 SKUs that hold the teacup too.
    fn shop() -> Vec<Record> {
        let mut records = Vec::new();
        for n in 0..20 {
            let invoice = format!("t{n}");
            records.extend([record(&invoice, "TEACUP"), record(&invoice, "TEAPOT")]);
            records.push(record(&invoice, if n % 2 == 0 { "SAUCER" } else { "SPOON" }));
        }
        for n in 0..10 {
            records.extend(["TEAPOT", "SAUCER", "SPOON"].map(|sku| record(&format!("s{n}"), sku)));
        }
        for n in 0..30 {
            records.push(record(&format!("p{n}"), "BUNTING"));
        }
        for order in ["w1", "w2"] {
            records.extend([record(order, "TEACUP"), record(order, "RARE")]);
            records.extend((0..148).map(|i| record(order, &format!("BULK{i}"))));
        }
        records
    }

    fn neighbours(params: &CooccurrenceParams, sku: &str) -> Vec<String> {
        let data = Interactions::from_records(&shop());
        let model = params.fit(&data).unwrap();
        let i = data.items.get(sku).unwrap() as usize;
        model.neighbours(i, 3).into_iter().map(|(j, _)| data.items.name(j).to_owned()).collect()
    }

    #[test]
    fn lift_puts_a_rare_sku_of_two_wholesale_orders_first_and_the_rule_does_not() {
        let before = neighbours(&lift_params(), "TEACUP");
        assert!(
            before[0] == "RARE" || before[0].starts_with("BULK"),
            "the failure the rule fixes: {before:?}"
        );
        let now = neighbours(&basket_params(), "TEACUP");
        assert_eq!(now[0], "TEAPOT", "{now:?}");
        assert!(!now.iter().any(|s| s == "RARE" || s.starts_with("BULK")), "{now:?}");
    }

    #[test]
    fn a_cart_is_judged_on_the_rest_of_its_invoice() {
        let train = shop();
        let test = vec![
            Basket { invoice: "x".into(), ts: 0, items: vec!["TEACUP".into(), "TEAPOT".into()] },
            Basket { invoice: "y".into(), ts: 0, items: vec!["TEACUP".into()] },
        ];
        let rule = evaluate(&train, &test, Some(&basket_params()), 1, 1, 7).unwrap();
        assert_eq!(rule.scores.cases, 1, "an invoice of one SKU has nothing to suggest");
        assert_eq!(
            (rule.scores.hit_rate, rule.scores.ndcg),
            (1.0, 1.0),
            "teacup -> teapot, teapot -> teacup"
        );
        let popular = evaluate(&train, &test, None, 1, 1, 7).unwrap();
        assert_eq!(popular.rule, "popularity");
        assert!(popular.scores.ndcg < rule.scores.ndcg, "{popular:?}");
    }

    #[test]
    fn on_the_shipped_sample_the_rule_completes_carts_better_than_lift() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample/online_retail_sample.csv");
        let records = crate::recommend::datasets::online_retail_baskets(&path).unwrap();
        let cut = records.iter().map(|r| r.ts).max().unwrap() - 30 * 86_400;
        let (train, test): (Vec<Record>, Vec<Record>) = records.into_iter().partition(|r| r.ts < cut);
        let test = baskets_of(&test);
        for cart_items in [1, 3] {
            let lift = evaluate(&train, &test, Some(&lift_params()), cart_items, 10, 42).unwrap();
            let rule = evaluate(&train, &test, Some(&basket_params()), cart_items, 10, 42).unwrap();
            assert!(rule.scores.cases > 50, "{rule:?}");
            assert!(
                rule.scores.ndcg > lift.scores.ndcg && rule.rare_share < lift.rare_share,
                "{rule:?}\n{lift:?}"
            );
        }
    }

    #[test]
    fn records_group_into_baskets_of_distinct_skus() {
        let records = [record("a", "X"), record("b", "Y"), record("a", "Z"), record("a", "X")];
        let baskets = baskets_of(&records);
        assert_eq!(baskets.len(), 2);
        assert_eq!(baskets[0].items, ["X", "Z"]);
    }
}
