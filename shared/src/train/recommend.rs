//! Training the recommender for serving: the hybrid, item neighbours, basket co-occurrence and
//! the precomputed lists serving reads.
//!
//! ## Held-out evaluation (the gate's numbers)
//! Interactions are split chronologically (the earliest 80 % by first purchase train, the rest
//! test: what the shop asks of the model is the future). The hybrid and a popularity-only
//! baseline are fitted on the 80 % and scored at k = 10 on test customers seen in training.
//! Then the hybrid is refitted on everything for serving.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::TrainError;
use super::inputs::TrainingData;
use crate::recommend::data::{Interactions, Record};
use crate::recommend::eval::evaluate;
use crate::recommend::hybrid::{HybridModel, HybridParams, Signal};
use crate::recommend::presets;
use crate::recommend::similar_items::SimilarParams;
use crate::recommend::split::{SplitKind, split};
use crate::registry::ModelKind;
use crate::serving::{
    CustomerRecs, ItemRecs, MAX_PURCHASES_KEPT, SHOP_PARTITION, Scored, ShopRecs, customer_partition, doc_id,
    item_partition,
};
use crate::store::Document;

/// Candidates kept per customer: as many as the API's largest `k`; what exclusions (out of
/// stock) remove is topped up from trending. Also the repurchases ranked for `include_purchased`.
pub const CANDIDATES: usize = 100;
/// Trending items kept for the shop: twice the largest `k` served (100), so an unknown
/// customer's answer, or a known customer's after their own candidates, fills any `k` even when
/// the latest inventory snapshot rules some out.
pub const TRENDING: usize = 200;

/// The recommender's training parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendTraining {
    /// The hybrid (default [`presets::retail_chronological`], as split (c) measures it).
    pub hybrid: HybridParams,
    /// Share of interactions (by time) in the evaluation's training part.
    pub train_ratio: f64,
    /// The evaluation's cut-off.
    pub k: usize,
}

impl Default for RecommendTraining {
    fn default() -> Self {
        Self { hybrid: presets::retail_chronological(), train_ratio: 0.8, k: 10 }
    }
}

/// What the recommend kind stores in `model.bin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecommendArtifact {
    /// The hybrid fitted on all interactions.
    pub hybrid: HybridModel,
    /// `(sku, description)` of every product sold.
    pub descriptions: Vec<(String, String)>,
    /// Per product SKU: similar items.
    pub similar: Vec<(String, Vec<Scored>)>,
    /// Per product SKU: items bought in the same basket.
    pub bought_with: Vec<(String, Vec<Scored>)>,
    /// `(customer, sku)` pairs sent back whole: never offered as a repurchase (empty in models
    /// written before it).
    #[serde(default)]
    pub returned: Vec<(String, String)>,
}

fn scored(list: Vec<(u32, f32)>, name: impl Fn(u32) -> String, source: &str) -> Vec<Scored> {
    list.into_iter()
        .map(|(i, score)| Scored { sku: name(i), score, source: source.to_owned(), description: None })
        .collect()
}

/// Fits, evaluates and builds the artifact. Returns it with its metrics.
///
/// # Errors
/// When there is nothing to train on or a model refuses its parameters.
pub fn train(
    data: &TrainingData,
    params: &RecommendTraining,
) -> Result<(RecommendArtifact, Value), TrainError> {
    let records = data.interaction_records()?;
    if records.is_empty() {
        return Err(TrainError::Data("no interactions: ingest transactions with customer ids first".into()));
    }
    let descriptions = data.descriptions()?;
    let texts: HashMap<&str, &str> = descriptions.iter().map(|(s, d)| (s.as_str(), d.as_str())).collect();
    let fit = |rows: &[Record], hybrid: &HybridParams| -> Result<HybridModel, TrainError> {
        let interactions = Interactions::from_records(rows);
        let item_texts: Vec<String> = (0..interactions.n_items())
            .map(|i| {
                texts.get(interactions.items.name(i as u32)).map(|t| (*t).to_owned()).unwrap_or_default()
            })
            .collect();
        Ok(hybrid.fit(&interactions, Some(&item_texts))?)
    };

    let (train_rows, test_rows) =
        split(&records, SplitKind::Chronological, params.train_ratio, params.hybrid.seed);
    let held_out = fit(&train_rows, &params.hybrid)?;
    let report = evaluate(&held_out, &test_rows, params.k);
    let popularity_params =
        HybridParams { weights: Some(vec![(Signal::Popularity, 1.0)]), ..params.hybrid.clone() };
    let baseline = evaluate(&fit(&train_rows, &popularity_params)?, &test_rows, params.k);

    let hybrid = fit(&records, &params.hybrid)?;
    let similar = item_neighbours(&records, &descriptions)?;
    let bought_with = basket_neighbours(&data.basket_records()?)?;
    // The day of the latest interaction's first time: how far the data reaches (the gate).
    let data_end = records
        .iter()
        .map(|r| r.ts)
        .max()
        .and_then(|ts| chrono::DateTime::from_timestamp(ts, 0))
        .map(|t| t.date_naive());
    let metrics = json!({
        "k": params.k,
        "data_end": data_end,
        "ndcg": report.metrics.ndcg,
        "precision": report.metrics.precision,
        "recall": report.metrics.recall,
        "map": report.metrics.map,
        "coverage": report.metrics.coverage,
        "users": report.metrics.users,
        "popularity_ndcg": baseline.metrics.ndcg,
        "split": "chronological 80/20 by first purchase",
        "customers": hybrid.users.len(),
        "items": hybrid.items.len(),
        "weights": hybrid.weights,
    });
    let returned = data.returned_pairs()?;
    Ok((RecommendArtifact { hybrid, descriptions, similar, bought_with, returned }, metrics))
}

/// Similar items of every product ([`SimilarParams::also_bought`]: bought by the same customers,
/// blended with described alike), over the whole catalogue, so products sold only to customers
/// without an id get described neighbours too.
fn item_neighbours(
    records: &[Record],
    descriptions: &[(String, String)],
) -> Result<Vec<(String, Vec<Scored>)>, TrainError> {
    let lists = SimilarParams::also_bought().fit(records, descriptions)?;
    Ok(descriptions
        .iter()
        .zip(lists)
        .map(|((sku, _), list)| {
            let list = list
                .into_iter()
                .map(|n| Scored {
                    sku: descriptions[n.item].0.clone(),
                    score: n.score,
                    source: if n.bought_together { "neighbours" } else { "content" }.to_owned(),
                    description: None,
                })
                .collect();
            (sku.clone(), list)
        })
        .collect())
}

/// Bought-together neighbours for cart completion ([`crate::recommend::cart::basket_params`]).
fn basket_neighbours(baskets: &[Record]) -> Result<Vec<(String, Vec<Scored>)>, TrainError> {
    if baskets.is_empty() {
        return Ok(Vec::new());
    }
    let data = Interactions::from_records(baskets);
    let params = crate::recommend::cart::basket_params();
    let model = params.fit(&data)?;
    Ok((0..data.n_items())
        .map(|i| {
            let mut row: Vec<(u32, f32)> = model.similar.row(i).filter(|&(j, _)| j as usize != i).collect();
            row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            (data.items.name(i as u32).to_owned(), scored(row, |j| data.items.name(j).to_owned(), "basket"))
        })
        .filter(|(_, list)| !list.is_empty())
        .collect())
}

impl RecommendArtifact {
    /// The serving documents of this artifact under `version`.
    ///
    /// # Errors
    /// When a document cannot be built.
    pub fn documents(&mut self, version: &str) -> Result<Vec<Document>, TrainError> {
        self.hybrid.rebuild_indexes();
        let id = doc_id(ModelKind::Recommend, version);
        let hybrid = &self.hybrid;
        let descriptions: HashMap<&str, &str> = self
            .descriptions
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(s, d)| (s.as_str(), d.as_str()))
            .collect();
        let describe = |mut list: Vec<Scored>| {
            for s in &mut list {
                s.description = descriptions.get(s.sku.as_str()).map(|d| (*d).to_owned());
            }
            list
        };
        let returned: std::collections::HashSet<(&str, &str)> =
            self.returned.iter().map(|(c, s)| (c.as_str(), s.as_str())).collect();
        let users: Vec<usize> = (0..hybrid.users.len()).collect();
        let lists = hybrid.recommend_many(&users, CANDIDATES);
        let mut docs = Vec::with_capacity(users.len() + self.similar.len() + 1);
        for (u, list) in lists.into_iter().enumerate() {
            let candidates = describe(scored(list, |i| hybrid.items.name(i).to_owned(), "hybrid"));
            let mut bought: Vec<(u32, f32)> = hybrid.history.row(u).collect();
            bought.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            bought.truncate(MAX_PURCHASES_KEPT);
            // What they sent back whole is still bought (never new to them) but no repurchase:
            // moved behind the ranked purchases, among those never ranked.
            let customer = hybrid.users.name(u as u32);
            let (kept, sent_back): (Vec<_>, Vec<_>) =
                bought.into_iter().partition(|(i, _)| !returned.contains(&(customer, hybrid.items.name(*i))));
            let mut bought = kept;
            let other_purchases: Vec<String> = bought
                .split_off(bought.len().min(CANDIDATES))
                .into_iter()
                .chain(sent_back)
                .map(|(i, _)| hybrid.items.name(i).to_owned())
                .collect();
            let purchased = describe(scored(bought, |i| hybrid.items.name(i).to_owned(), "repurchase"));
            let body = CustomerRecs::new(candidates, purchased, other_purchases);
            docs.push(Document::new(customer_partition(hybrid.users.name(u as u32)), &id, &body)?);
        }
        let mut bought_with: HashMap<&str, &Vec<Scored>> =
            self.bought_with.iter().map(|(s, l)| (s.as_str(), l)).collect();
        for (sku, similar) in &self.similar {
            let body = ItemRecs {
                description: descriptions.get(sku.as_str()).map(|d| (*d).to_owned()),
                similar: describe(similar.clone()),
                bought_with: describe(bought_with.remove(sku.as_str()).cloned().unwrap_or_default()),
            };
            docs.push(Document::new(item_partition(sku), &id, &body)?);
        }
        let trending =
            describe(scored(hybrid.cold_start(TRENDING), |i| hybrid.items.name(i).to_owned(), "trending"));
        let shop = ShopRecs { trending, items: self.descriptions.len(), customers: hybrid.users.len() };
        docs.push(Document::new(SHOP_PARTITION, &id, &shop)?);
        Ok(docs)
    }
}
