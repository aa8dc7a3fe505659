//! The answers the HTTP API gives, built from live documents: personalised top-k, similar
//! items and cart completion, each with its fallbacks and exclusions.
//!
//! | asked | answer | fallback |
//! |---|---|---|
//! | a known customer | their precomputed unseen candidates (`hybrid`) | - |
//! | an unknown customer | trending items (`trending`) | `unknown_customer` |
//! | a known SKU | customers-also-bought neighbours, topped up by description neighbours | - |
//! | a SKU the catalogue knows but nobody bought with a customer id | description neighbours (`content`) | `content` |
//! | an unknown SKU | trending | `unknown_item` |
//! | a cart | bought-together lists of its items, lift summed per candidate (`basket`), then similar items, then trending | `similar_items` / `trending` |
//!
//! Never returned: SKUs in `exclude` (the latest inventory snapshot's out-of-stock SKUs), the
//! cart's own items, and, unless `include_purchased`, what the customer already bought. Every
//! SKU the models know is a product code (the features drop postage, fees and vouchers).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::documents::{
    CustomerRecs, ItemRecs, SHOP_PARTITION, Scored, ShopRecs, customer_partition, item_partition,
};
use super::reader::{Reader, ReaderError};
use crate::registry::ModelKind;

/// One recommended item as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommended {
    /// The SKU.
    pub sku: String,
    /// Its description, when the catalogue has one.
    pub description: Option<String>,
    /// Score within this answer.
    pub score: f32,
    /// The model part that produced it.
    pub source: String,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Best first, at most `k`.
    pub items: Vec<Recommended>,
    /// The model version that produced them (`None` when no model is live yet).
    pub model_version: Option<String>,
    /// Whether a fallback answered.
    pub fallback: bool,
    /// Which one (`unknown_customer`, `unknown_item`, `content`, `similar_items`, `trending`,
    /// `no_model`).
    pub fallback_reason: Option<String>,
}

/// What to leave out of every answer.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    /// SKUs not to recommend (out of stock).
    pub skus: std::sync::Arc<HashSet<String>>,
}

struct Builder<'a> {
    k: usize,
    exclude: &'a HashSet<String>,
    skip: HashSet<String>,
    items: Vec<Scored>,
}

impl<'a> Builder<'a> {
    fn new(k: usize, exclusions: &'a Exclusions) -> Self {
        Self { k, exclude: exclusions.skus.as_ref(), skip: HashSet::new(), items: Vec::new() }
    }

    fn full(&self) -> bool {
        self.items.len() >= self.k
    }

    fn extend(&mut self, list: &[Scored]) {
        for s in list {
            if self.full() {
                return;
            }
            if self.exclude.contains(&s.sku) || self.skip.contains(&s.sku) {
                continue;
            }
            self.skip.insert(s.sku.clone());
            self.items.push(s.clone());
        }
    }
}

async fn shop(reader: &Reader) -> Result<Option<(String, Option<Arc<ShopRecs>>)>, ReaderError> {
    reader.get::<ShopRecs>(ModelKind::Recommend, SHOP_PARTITION).await
}

fn finish(builder: Builder<'_>, version: Option<String>, reason: Option<&str>) -> Answer {
    let items = builder
        .items
        .into_iter()
        .map(|s| Recommended { description: s.description, sku: s.sku, score: s.score, source: s.source })
        .collect();
    Answer {
        items,
        model_version: version,
        fallback: reason.is_some(),
        fallback_reason: reason.map(str::to_owned),
    }
}

fn no_model() -> Answer {
    Answer {
        items: Vec::new(),
        model_version: None,
        fallback: true,
        fallback_reason: Some("no_model".into()),
    }
}

/// Top `k` for a customer.
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn for_customer(
    reader: &Reader,
    customer: &str,
    k: usize,
    include_purchased: bool,
    exclusions: &Exclusions,
) -> Result<Answer, ReaderError> {
    let Some((version, recs)) =
        reader.get::<CustomerRecs>(ModelKind::Recommend, &customer_partition(customer)).await?
    else {
        return Ok(no_model());
    };
    let shop = shop(reader).await?.and_then(|(_, s)| s);
    let mut builder = Builder::new(k, exclusions);
    let reason = match &recs {
        Some(recs) => {
            if include_purchased {
                // Interleave: one repurchase for every two new items keeps both visible.
                let (mut new, mut old) = (recs.candidates.iter(), recs.purchased.iter());
                while !builder.full() {
                    let picked: Vec<Scored> =
                        new.by_ref().take(2).chain(old.by_ref().take(1)).cloned().collect();
                    if picked.is_empty() {
                        break;
                    }
                    builder.extend(&picked);
                }
            } else {
                builder.skip.extend(recs.purchased.iter().map(|s| s.sku.clone()));
                builder.extend(&recs.candidates);
            }
            None
        }
        None => Some("unknown_customer"),
    };
    if !builder.full()
        && let Some(shop) = &shop
    {
        builder.extend(&shop.trending);
    }
    Ok(finish(builder, Some(version), reason))
}

/// `k` items similar to `sku`.
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn similar(
    reader: &Reader,
    sku: &str,
    k: usize,
    exclusions: &Exclusions,
) -> Result<Answer, ReaderError> {
    let Some((version, item)) = reader.get::<ItemRecs>(ModelKind::Recommend, &item_partition(sku)).await?
    else {
        return Ok(no_model());
    };
    let shop = shop(reader).await?.and_then(|(_, s)| s);
    let mut builder = Builder::new(k, exclusions);
    builder.skip.insert(sku.to_owned());
    let reason = match &item {
        Some(item) => {
            builder.extend(&item.similar);
            item.similar.first().filter(|s| s.source == "content").map(|_| "content")
        }
        None => Some("unknown_item"),
    };
    let reason = if builder.full() || shop.is_none() {
        reason
    } else {
        if let Some(shop) = &shop {
            builder.extend(&shop.trending);
        }
        reason.or(Some("trending"))
    };
    Ok(finish(builder, Some(version), reason))
}

/// `k` items to complete a cart.
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn cart(
    reader: &Reader,
    items: &[String],
    customer: Option<&str>,
    k: usize,
    exclusions: &Exclusions,
) -> Result<Answer, ReaderError> {
    if reader.live_version(ModelKind::Recommend).await?.is_none() {
        return Ok(no_model());
    }
    let mut version = None;
    let mut lifts: HashMap<String, (f32, Option<String>)> = HashMap::new();
    let mut similar: Vec<Scored> = Vec::new();
    for sku in items {
        if let Some((v, Some(item))) =
            reader.get::<ItemRecs>(ModelKind::Recommend, &item_partition(sku)).await?
        {
            version = Some(v);
            for s in &item.bought_with {
                lifts.entry(s.sku.clone()).or_insert((0.0, s.description.clone())).0 += s.score;
            }
            similar.extend(item.similar.iter().cloned());
        }
    }
    let mut basket: Vec<Scored> = lifts
        .into_iter()
        .map(|(sku, (score, description))| Scored { sku, score, source: "basket".into(), description })
        .collect();
    basket.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
    similar.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
    let shop = shop(reader).await?;
    let version = version.or_else(|| shop.as_ref().map(|(v, _)| v.clone()));
    let shop = shop.and_then(|(_, s)| s);
    let mut builder = Builder::new(k, exclusions);
    builder.skip.extend(items.iter().cloned());
    if let Some(customer) = customer
        && let Some((_, Some(recs))) =
            reader.get::<CustomerRecs>(ModelKind::Recommend, &customer_partition(customer)).await?
    {
        builder.skip.extend(recs.purchased.iter().map(|s| s.sku.clone()));
    }
    builder.extend(&basket);
    let mut reason = None;
    if !builder.full() && !similar.is_empty() {
        reason = Some("similar_items");
        builder.extend(&similar);
    }
    if !builder.full()
        && let Some(shop) = &shop
    {
        reason = reason.or(Some("trending"));
        builder.extend(&shop.trending);
    }
    Ok(finish(builder, version, if basket.is_empty() { reason.or(Some("trending")) } else { reason }))
}
