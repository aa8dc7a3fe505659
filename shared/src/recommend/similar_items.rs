//! Similar items ("customers also bought", a product page's list): the rule the retrain fits and
//! serving reads, and how well it does.
//!
//! ## The rule ([`SimilarParams::also_bought`])
//! Two sources, blended per item by how much is known of its buyers:
//! - bought by the same customers: asymmetric cosine over customers, `s_ij = c_ij / (c_i^0.8
//!   c_j^0.2)` (`c_ij`: customers who bought both, `c_i`: customers who bought `i`), pairs bought
//!   by at least 2 customers;
//! - described alike: the TF-IDF cosine `t_ij` of the descriptions ([`super::content`]).
//!
//! The score is `w_i s_ij + (1 - w_i) t_ij` with `w_i = c_i / (c_i + 5)`: a SKU with one or two
//! buyers is mostly described alike (no pair of it reaches 2 customers), a best seller is what its
//! buyers bought. The items are ranked by score, best first.
//!
//! Why not the rule before ([`SimilarParams::cosine`]: cosine, every pair, descriptions only to
//! top up a short list): cosine gives every other SKU of a SKU's one buyer `1 / sqrt(c_j)`, so a
//! new product bought once by a wholesaler listed that wholesaler's other rare SKUs. `a` = 0.8,
//! the pair minimum and the shrinkage 5 were chosen on [`evaluate`] (README "Similar items").
//!
//! ## The evaluation ([`evaluate`])
//! Train on the sale lines before a date, test on the customers' lines from it. For each customer,
//! each test invoice (in time order) gives one seed SKU drawn with a fixed seed; what its list
//! should hold are the other SKUs that customer bought in that invoice and the later test ones.
//! Lists are the rule's neighbours of the seed, topped up by the train's best sellers of its last
//! 30 days (a seed unknown to the train gets those alone), judged by hit rate, precision, recall
//! and nDCG at `k`, overall and by the seed's number of train buyers, and catalogue coverage.

use std::collections::{HashMap, HashSet};

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use serde::Serialize;

use super::content::ContentParams;
use super::cooccurrence::{CooccurrenceParams, Similarity};
use super::data::{Interactions, Record};
use super::datasets::SaleLine;
use super::errors::Result;
use super::metrics::{ListScores, ListScoring, recent_best_sellers};

/// Similar items kept per SKU (also what serving reads).
pub const SIMILAR_NEIGHBOURS: usize = 30;

/// Days at the end of the train period whose best sellers top a list up in [`evaluate`].
const POPULAR_DAYS: i64 = 30;

/// How the similar items of a SKU are chosen (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarParams {
    /// Customer co-occurrence (users are customers).
    pub cooccurrence: CooccurrenceParams,
    /// `Some(b)`: blend with the description similarity at `w_i = c_i / (c_i + b)`; `None`:
    /// co-occurrence first, descriptions only to top a short list up.
    pub content_shrinkage: Option<f32>,
    /// Description neighbours considered per SKU.
    pub content_neighbours: usize,
    /// Similar items kept per SKU.
    pub neighbours: usize,
}

impl SimilarParams {
    /// The rule the retrain fits (module docs).
    #[must_use]
    pub fn also_bought() -> Self {
        Self {
            cooccurrence: CooccurrenceParams {
                similarity: Similarity::AsymmetricCosine,
                asymmetry: 0.8,
                min_count: 2,
                ..CooccurrenceParams::default()
            },
            content_shrinkage: Some(5.0),
            content_neighbours: 50,
            neighbours: SIMILAR_NEIGHBOURS,
        }
    }

    /// The rule before: cosine over customers, every pair, descriptions only to top up.
    #[must_use]
    pub fn cosine() -> Self {
        Self { cooccurrence: CooccurrenceParams::default(), content_shrinkage: None, ..Self::also_bought() }
    }

    /// The rule's name for reports.
    #[must_use]
    pub fn name(&self) -> String {
        let rule = super::cart::rule_name(Some(&self.cooccurrence));
        match self.content_shrinkage {
            Some(b) => format!("{rule}, blended with descriptions at c/(c+{b})"),
            None => format!("{rule}, descriptions to top up"),
        }
    }

    /// Each catalogue SKU's similar items, best first: `(catalogue index, score, bought by the
    /// same customers)`. `records` are customer x SKU purchases; `catalogue` is `(sku,
    /// description)` of every product, including those only guests bought (they get described
    /// neighbours).
    ///
    /// # Errors
    /// Invalid co-occurrence parameters.
    pub fn fit(&self, records: &[Record], catalogue: &[(String, String)]) -> Result<Vec<Vec<Neighbour>>> {
        let data = Interactions::from_records(records);
        let model = if data.matrix.nnz() == 0 { None } else { Some(self.cooccurrence.fit(&data)?) };
        let by_item = data.matrix.transpose();
        let buyers: Vec<f32> = (0..data.n_items()).map(|i| by_item.row_indices(i).len() as f32).collect();
        let texts: Vec<String> = catalogue.iter().map(|(_, d)| d.clone()).collect();
        let content =
            ContentParams { neighbours: self.content_neighbours, ..ContentParams::default() }.fit(&texts);
        let at: HashMap<&str, usize> =
            catalogue.iter().enumerate().map(|(c, (sku, _))| (sku.as_str(), c)).collect();
        let rank = |list: &mut Vec<Neighbour>| {
            list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
            list.truncate(self.neighbours);
        };
        Ok(catalogue
            .iter()
            .enumerate()
            .map(|(c, (sku, _))| {
                let item = data.items.get(sku).map(|i| i as usize);
                let bought: Vec<(usize, f32)> = match (&model, item) {
                    (Some(model), Some(i)) => model
                        .similar
                        .row(i)
                        .filter_map(|(j, s)| at.get(data.items.name(j)).map(|&cj| (cj, s)))
                        .filter(|&(cj, s)| cj != c && s > 0.0)
                        .collect(),
                    _ => Vec::new(),
                };
                let described = content.similar.row(c).filter(|&(j, t)| j as usize != c && t > 0.0);
                match self.content_shrinkage {
                    Some(b) => {
                        let w = item.map_or(0.0, |i| buyers[i] / (buyers[i] + b));
                        let mut merged: HashMap<usize, Neighbour> = HashMap::new();
                        for (cj, s) in bought {
                            merged.insert(cj, Neighbour { item: cj, score: w * s, bought_together: true });
                        }
                        for (j, t) in described {
                            let entry = merged.entry(j as usize).or_insert(Neighbour {
                                item: j as usize,
                                score: 0.0,
                                bought_together: false,
                            });
                            entry.score += (1.0 - w) * t;
                        }
                        let mut list: Vec<Neighbour> =
                            merged.into_values().filter(|n| n.score > 0.0).collect();
                        rank(&mut list);
                        list
                    }
                    None => {
                        let mut list: Vec<Neighbour> = bought
                            .into_iter()
                            .map(|(cj, s)| Neighbour { item: cj, score: s, bought_together: true })
                            .collect();
                        rank(&mut list);
                        let mut top_up: Vec<Neighbour> = described
                            .filter(|&(j, _)| !list.iter().any(|n| n.item == j as usize))
                            .map(|(j, t)| Neighbour { item: j as usize, score: t, bought_together: false })
                            .collect();
                        rank(&mut top_up);
                        top_up.truncate(self.neighbours - list.len());
                        list.extend(top_up);
                        list
                    }
                }
            })
            .collect())
    }
}

/// One similar item of a SKU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Its catalogue index.
    pub item: usize,
    /// Its score (comparable within one SKU's list).
    pub score: f32,
    /// Whether customers of the SKU bought it too (else it is only described alike).
    pub bought_together: bool,
}

/// Seeds grouped by their number of train buyers: unknown, 1-2, 3-9, 10-49, 50 and more.
pub const BUYER_BUCKETS: [(usize, usize, &str); 5] =
    [(0, 0, "new"), (1, 2, "1-2"), (3, 9, "3-9"), (10, 49, "10-49"), (50, usize::MAX, "50+")];

/// What [`evaluate`] measures for one rule over one group of seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarMetrics {
    /// The rule (`popularity`, or the rule's name).
    pub rule: String,
    /// The seeds' group: `all`, or their train buyers (`new`, `1-2`, ...).
    pub seeds: String,
    /// Over the seeds judged (coverage over the train catalogue).
    #[serde(flatten)]
    pub scores: ListScores,
}

/// Judges a similar-items rule (`None`: the best sellers alone) fitted on `train` on the
/// customers' lines of `test`, as the module docs describe: the row over every seed first, then
/// one per [`BUYER_BUCKETS`] group.
///
/// # Errors
/// Invalid parameters.
pub fn evaluate(
    train: &[SaleLine],
    test: &[SaleLine],
    params: Option<&SimilarParams>,
    k: usize,
    seed: u64,
) -> Result<Vec<SimilarMetrics>> {
    let mut catalogue: Vec<(String, String)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for line in train {
        if !at.contains_key(&line.sku) {
            at.insert(line.sku.clone(), catalogue.len());
            catalogue.push((line.sku.clone(), line.description.clone()));
        }
    }
    let records = customer_records(train);
    let mut buyers = vec![0usize; catalogue.len()];
    for r in &records {
        buyers[at[&r.item]] += 1;
    }
    let lists = params.map(|p| p.fit(&records, &catalogue)).transpose()?;
    let sold: Vec<(&str, i64)> = train.iter().map(|l| (l.sku.as_str(), l.ts)).collect();
    let popular: Vec<usize> =
        recent_best_sellers(&sold, POPULAR_DAYS).into_iter().map(|sku| at[sku]).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let groups: Vec<&str> = std::iter::once("all").chain(BUYER_BUCKETS.iter().map(|b| b.2)).collect();
    let mut scoring: Vec<ListScoring> = vec![ListScoring::default(); groups.len()];
    for (seed_sku, relevant_skus) in seeds(test, &mut rng) {
        let seed_item = at.get(&seed_sku).copied();
        let relevant: Vec<u32> = relevant_skus.iter().filter_map(|s| at.get(s)).map(|&i| i as u32).collect();
        let mut list: Vec<usize> = match (&lists, seed_item) {
            (Some(lists), Some(i)) => lists[i].iter().take(k).map(|n| n.item).collect(),
            _ => Vec::new(),
        };
        for &j in &popular {
            if list.len() >= k {
                break;
            }
            if Some(j) != seed_item && !list.contains(&j) {
                list.push(j);
            }
        }
        let list: Vec<u32> = list.into_iter().map(|j| j as u32).collect();
        let n_buyers = seed_item.map_or(0, |i| buyers[i]);
        let bucket = BUYER_BUCKETS.iter().position(|b| (b.0..=b.1).contains(&n_buyers)).unwrap_or(0);
        for row in [0, bucket + 1] {
            scoring[row].add(&list, &relevant, relevant_skus.len(), k);
        }
    }
    Ok(groups
        .into_iter()
        .zip(scoring)
        .map(|(group, scoring)| SimilarMetrics {
            rule: params.map_or_else(|| "popularity".to_owned(), SimilarParams::name),
            seeds: group.to_owned(),
            scores: scoring.finish(catalogue.len()),
        })
        .collect())
}

/// The customers' purchases as customer x SKU records (weight: invoices, `ts`: the first), as the
/// retrain's interactions table holds them; guests' lines are left out.
#[must_use]
pub fn customer_records(lines: &[SaleLine]) -> Vec<Record> {
    let mut at: HashMap<(&str, &str), usize> = HashMap::new();
    let mut records: Vec<Record> = Vec::new();
    for line in lines.iter().filter(|l| !l.customer.is_empty()) {
        match at.get(&(line.customer.as_str(), line.sku.as_str())) {
            Some(&r) => {
                records[r].weight += 1.0;
                records[r].ts = records[r].ts.min(line.ts);
            }
            None => {
                at.insert((&line.customer, &line.sku), records.len());
                records.push(Record {
                    user: line.customer.clone(),
                    item: line.sku.clone(),
                    weight: 1.0,
                    ts: line.ts,
                });
            }
        }
    }
    records
}

/// One `(seed SKU, what its list should hold)` per customer's test invoice (module docs), in a
/// fixed order: customers by id, invoices by time then number.
fn seeds(test: &[SaleLine], rng: &mut Xoshiro256PlusPlus) -> Vec<(String, HashSet<String>)> {
    /// Invoice -> (its time, its distinct SKUs).
    type Invoices<'a> = HashMap<&'a str, (i64, Vec<&'a str>)>;
    let mut invoices: HashMap<&str, Invoices> = HashMap::new();
    for line in test.iter().filter(|l| !l.customer.is_empty()) {
        let invoice =
            invoices.entry(&line.customer).or_default().entry(&line.invoice).or_insert((line.ts, Vec::new()));
        invoice.0 = invoice.0.min(line.ts);
        if !invoice.1.contains(&line.sku.as_str()) {
            invoice.1.push(&line.sku);
        }
    }
    let mut customers: Vec<(&str, Invoices)> = invoices.into_iter().collect();
    customers.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (_, invoices) in customers {
        let mut invoices: Vec<(&str, (i64, Vec<&str>))> = invoices.into_iter().collect();
        invoices.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.0.cmp(b.0)));
        for (n, (_, (_, items))) in invoices.iter().enumerate() {
            let seed = items[(rng.next_u64() % items.len() as u64) as usize];
            let relevant: HashSet<String> = invoices[n..]
                .iter()
                .flat_map(|(_, (_, items))| items.iter())
                .filter(|&&s| s != seed)
                .map(|&s| s.to_owned())
                .collect();
            if !relevant.is_empty() {
                out.push((seed.to_owned(), relevant));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(customer: &str, invoice: &str, sku: &str, description: &str, ts: i64) -> SaleLine {
        SaleLine {
            invoice: invoice.into(),
            customer: customer.into(),
            sku: sku.into(),
            description: description.into(),
            ts,
        }
    }

    /// Twelve customers buy a teapot with teacups; one wholesaler buys a new wicker lantern with
    /// forty odd SKUs nobody else bought; an older wicker lantern sells to eight customers.
    fn shop() -> Vec<SaleLine> {
        let mut lines = Vec::new();
        for n in 0..12 {
            let c = format!("c{n}");
            lines.push(line(&c, &format!("i{n}"), "TEAPOT", "WHITE TEAPOT", 0));
            lines.push(line(&c, &format!("i{n}"), "TEACUP", "WHITE TEACUP", 0));
        }
        for n in 0..8 {
            lines.push(line(&format!("l{n}"), &format!("j{n}"), "LANTERN", "WICKER LANTERN LARGE", 0));
        }
        lines.push(line("w", "big", "NEWLANTERN", "WICKER LANTERN SMALL", 0));
        for i in 0..40 {
            lines.push(line("w", "big", &format!("ODD{i}"), &format!("ODD THING {i}"), 0));
        }
        lines
    }

    fn similar(params: &SimilarParams, sku: &str) -> Vec<String> {
        let lines = shop();
        let mut catalogue: Vec<(String, String)> = Vec::new();
        for l in &lines {
            if !catalogue.iter().any(|(s, _)| s == &l.sku) {
                catalogue.push((l.sku.clone(), l.description.clone()));
            }
        }
        let lists = params.fit(&customer_records(&lines), &catalogue).unwrap();
        let c = catalogue.iter().position(|(s, _)| s == sku).unwrap();
        lists[c].iter().map(|n| catalogue[n.item].0.clone()).collect()
    }

    #[test]
    fn a_sku_of_one_buyer_gets_the_items_described_alike_not_its_buyers_other_odd_skus() {
        let before = similar(&SimilarParams::cosine(), "NEWLANTERN");
        assert!(before[0].starts_with("ODD"), "the failure the rule fixes: {before:?}");
        let now = similar(&SimilarParams::also_bought(), "NEWLANTERN");
        assert_eq!(now[0], "LANTERN", "{now:?}");
        assert!(!now.iter().any(|s| s.starts_with("ODD")), "{now:?}");
    }

    #[test]
    fn a_sku_with_many_buyers_leads_with_what_they_bought() {
        let now = similar(&SimilarParams::also_bought(), "TEAPOT");
        assert_eq!(now[0], "TEACUP", "{now:?}");
    }

    #[test]
    fn a_seed_is_judged_on_its_buyers_later_purchases_and_grouped_by_its_buyers() {
        let train = shop();
        let test = vec![
            line("c0", "t1", "TEAPOT", "WHITE TEAPOT", 10),
            line("c0", "t2", "TEACUP", "WHITE TEACUP", 20),
            line("", "t3", "TEAPOT", "WHITE TEAPOT", 10),
            line("", "t3", "TEACUP", "WHITE TEACUP", 10),
        ];
        let rows = evaluate(&train, &test, Some(&SimilarParams::also_bought()), 1, 7).unwrap();
        let all = &rows[0];
        assert_eq!(all.seeds, "all");
        // c0's first invoice: seed TEAPOT, should list TEACUP (bought later); the second invoice
        // has nothing after it; guests have no later purchases to judge by.
        assert_eq!((all.scores.cases, all.scores.hit_rate, all.scores.ndcg), (1, 1.0, 1.0), "{rows:?}");
        let by_buyers = rows.iter().find(|r| r.seeds == "10-49").unwrap();
        assert_eq!(by_buyers.scores.cases, 1, "{rows:?}");
    }

    #[test]
    fn on_the_shipped_sample_the_rule_lists_similar_items_better_than_cosine() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample/online_retail_sample.csv");
        let lines = crate::recommend::datasets::online_retail_lines(&path).unwrap();
        let cut = lines.iter().map(|l| l.ts).max().unwrap() - 60 * 86_400;
        let (train, test): (Vec<SaleLine>, Vec<SaleLine>) = lines.into_iter().partition(|l| l.ts < cut);
        let before = evaluate(&train, &test, Some(&SimilarParams::cosine()), 10, 42).unwrap();
        let now = evaluate(&train, &test, Some(&SimilarParams::also_bought()), 10, 42).unwrap();
        assert!(now[0].scores.cases > 30, "{now:?}");
        assert!(now[0].scores.ndcg > before[0].scores.ndcg, "{now:?}\n{before:?}");
    }
}
