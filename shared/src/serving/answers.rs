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
//! | a non-product code (POST, DOT, BANK CHARGES, ...), or a cart of them alone | trending | `not_a_product` |
//! | a cart | bought-together lists of its items, scores summed per candidate (`basket`, [`crate::recommend::cart`]), those the customer bought before boosted ([`REORDER_BOOST`]), then similar items, then the customer's own list (`hybrid`), then trending; the SKUs it does not know named | `similar_items` / `customer` / `trending`: what answered when its items were bought with nothing |
//!
//! Never returned: SKUs in [`Exclusions`] (the latest inventory snapshot's out-of-stock SKUs and
//! the lines the catalogue says are discontinued), the
//! cart's own items, and, in a customer's list unless `include_purchased`, anything the customer
//! already bought (the whole history, not only the ranked repurchases). Nor a second SKU under a description already
//! on the page (listed, viewed or in the cart: case and spacing aside), which a shopper reads as
//! the same product twice: Online Retail sells cushion covers and candles in pairs of codes under
//! one name. Every SKU the models know is a product code
//! (the features drop postage, fees and vouchers).
//!
//! Each answer reads the live version once and every document of that version, so a retrain
//! going live mid-request cannot mix two versions. `None` means no version is live yet (the
//! API's 503). Scores are comparable within one `source` only: a list topped up from trending
//! carries trending's scores after the personal ones, and the order of `items` is the ranking.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::documents::{
    CustomerRecs, ItemRecs, SHOP_PARTITION, Scored, ShopRecs, customer_partition, item_partition,
};
use super::reader::{Reader, ReaderError};
use crate::ingest::validate::normalise_customer_key;
use crate::registry::ModelKind;

/// One recommended item as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommended {
    /// The SKU.
    pub sku: String,
    /// Its description, when the catalogue has one.
    pub description: Option<String>,
    /// Score within this answer: the model's single-precision score, written with the digits it
    /// holds (`0.6450186`, not the `0.6450185775756836` of its widening to JSON's double).
    pub score: f64,
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
    /// Which one (`unknown_customer`, `unknown_item`, `not_a_product`, `content`, `similar_items`,
    /// `customer`, `trending`).
    pub fallback_reason: Option<String>,
    /// A cart's SKUs the model does not know (nothing was bought with them), which suggested
    /// nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_items: Vec<String>,
    /// A cart's customer id the model does not know (no purchase before its data ended), whose
    /// history shaped nothing: a storefront can tell a new shopper from a mistyped id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_customer: Option<String>,
    /// The key the customer was found under (`17850` for `17850.0 `), for the answer to echo.
    #[serde(skip)]
    pub customer_key: Option<String>,
}

/// What to leave out of every answer.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    /// SKUs the latest inventory snapshot shows with nothing on hand.
    pub out_of_stock: std::sync::Arc<HashSet<String>>,
    /// Lines the catalogue says the shop no longer sells.
    pub discontinued: std::sync::Arc<std::collections::BTreeSet<String>>,
}

impl Exclusions {
    /// Whether `sku` is never recommended.
    #[must_use]
    pub fn contains(&self, sku: &str) -> bool {
        self.out_of_stock.contains(sku) || self.discontinued.contains(sku)
    }
}

struct Builder<'a> {
    k: usize,
    exclude: &'a Exclusions,
    skip: HashSet<String>,
    /// A customer whose purchases are skipped too (read from the document's own set, not copied).
    bought_by: Option<&'a CustomerRecs>,
    /// Descriptions already on the page (the list's, the viewed item's, the cart's, a
    /// customer's purchases'), as [`shown_as`] keys, with the SKU each belongs to: another SKU
    /// under one reads as the same product twice.
    shown: HashMap<String, String>,
    items: Vec<Scored>,
}

/// A description as a shopper reads it: case and runs of spaces do not tell two apart.
fn shown_as(description: &str) -> String {
    description.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

impl<'a> Builder<'a> {
    fn new(k: usize, exclusions: &'a Exclusions) -> Self {
        Self {
            k,
            exclude: exclusions,
            skip: HashSet::new(),
            bought_by: None,
            shown: HashMap::new(),
            items: Vec::new(),
        }
    }

    /// Counts `sku`'s description as already on the page: no other SKU under it is listed
    /// (the first SKU given a description keeps it).
    fn showing(&mut self, sku: &str, description: Option<&str>) {
        if let Some(description) = description.filter(|d| !d.trim().is_empty()) {
            self.shown.entry(shown_as(description)).or_insert_with(|| sku.to_owned());
        }
    }

    /// Counts every purchase of `recs` as on the page ([`Self::showing`]): a look-alike of what
    /// they bought is that purchase again, not something new.
    fn showing_purchases(&mut self, recs: &CustomerRecs) {
        for bought in &recs.purchased {
            self.showing(&bought.sku, bought.description.as_deref());
        }
    }

    fn full(&self) -> bool {
        self.items.len() >= self.k
    }

    fn extend(&mut self, list: &[Scored]) {
        for s in list {
            if self.full() {
                return;
            }
            let described = s.description.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(shown_as);
            if self.exclude.contains(&s.sku)
                || self.skip.contains(&s.sku)
                || self.bought_by.is_some_and(|recs| recs.has_bought(&s.sku))
                || described.as_ref().and_then(|d| self.shown.get(d)).is_some_and(|owner| *owner != s.sku)
            {
                continue;
            }
            self.skip.insert(s.sku.clone());
            if let Some(described) = described {
                self.shown.entry(described).or_insert_with(|| s.sku.clone());
            }
            self.items.push(s.clone());
        }
    }
}

async fn shop(reader: &Reader, version: &str) -> Result<Option<Arc<ShopRecs>>, ReaderError> {
    reader.get_at::<ShopRecs>(ModelKind::Recommend, version, SHOP_PARTITION).await
}

/// A customer's recommendations and the key they were found under.
async fn customer_recs(
    reader: &Reader,
    version: &str,
    customer: &str,
) -> Result<(Option<String>, Option<Arc<CustomerRecs>>), ReaderError> {
    Ok(match customer_document(reader, ModelKind::Recommend, version, customer).await? {
        Some((key, recs)) => (Some(key.to_owned()), Some(recs)),
        None => (None, None),
    })
}

/// A customer's `kind` document of `version`, looked up under each of [`customer_keys`] in
/// turn: the key it was found under and the document.
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn customer_document<'a, T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    reader: &Reader,
    kind: ModelKind,
    version: &str,
    asked: &'a str,
) -> Result<Option<(&'a str, Arc<T>)>, ReaderError> {
    for key in customer_keys(asked) {
        if let Some(found) = reader.get_at::<T>(kind, version, &customer_partition(key)).await? {
            return Ok(Some((key, found)));
        }
    }
    Ok(None)
}

/// The keys a customer id asked for may be stored under, first match wins: the id trimmed, then
/// the key ingest makes of it (`17850.0` or `17850,0` -> `17850`, as spreadsheets write ids).
#[must_use]
fn customer_keys(asked: &str) -> Vec<&str> {
    let asked = asked.trim();
    let mut keys = vec![asked];
    for decimal in ['.', ','] {
        let key = normalise_customer_key(asked, decimal);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// A single-precision score as the double closest to its shortest decimal form.
fn shown_score(score: f32) -> f64 {
    score.to_string().parse().unwrap_or(f64::from(score))
}

fn finish(builder: Builder<'_>, version: String, reason: Option<&str>) -> Answer {
    let items = builder
        .items
        .into_iter()
        .map(|s| Recommended {
            score: shown_score(s.score),
            description: s.description,
            sku: s.sku,
            source: s.source,
        })
        .collect();
    Answer {
        items,
        model_version: Some(version),
        fallback: reason.is_some(),
        fallback_reason: reason.map(str::to_owned),
        unknown_items: Vec::new(),
        unknown_customer: None,
        customer_key: None,
    }
}

/// Top `k` for a customer (`None` when no version is live).
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn for_customer(
    reader: &Reader,
    customer: &str,
    k: usize,
    include_purchased: bool,
    exclusions: &Exclusions,
) -> Result<Option<Answer>, ReaderError> {
    let Some(version) = reader.live_version(ModelKind::Recommend).await? else { return Ok(None) };
    for_customer_at(reader, version, customer, k, include_purchased, exclusions).await.map(Some)
}

/// [`for_customer`] from a given version (an export reads every customer from one).
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn for_customer_at(
    reader: &Reader,
    version: String,
    customer: &str,
    k: usize,
    include_purchased: bool,
    exclusions: &Exclusions,
) -> Result<Answer, ReaderError> {
    let (key, recs) = customer_recs(reader, &version, customer).await?;
    let shop = shop(reader, &version).await?;
    let mut builder = Builder::new(k, exclusions);
    let reason = match &recs {
        Some(recs) => {
            // Asked for, a purchase itself is listed under its own code.
            builder.showing_purchases(recs);
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
                builder.bought_by = Some(recs);
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
    Ok(Answer { customer_key: key, ..finish(builder, version, reason) })
}

/// `k` items similar to `sku` (`None` when no version is live).
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn similar(
    reader: &Reader,
    sku: &str,
    k: usize,
    exclusions: &Exclusions,
) -> Result<Option<Answer>, ReaderError> {
    let Some(version) = reader.live_version(ModelKind::Recommend).await? else { return Ok(None) };
    let item = reader.get_at::<ItemRecs>(ModelKind::Recommend, &version, &item_partition(sku)).await?;
    let shop = shop(reader, &version).await?;
    let mut builder = Builder::new(k, exclusions);
    builder.skip.insert(sku.to_owned());
    let reason = match &item {
        Some(item) => {
            builder.showing(sku, item.description.as_deref());
            builder.extend(&item.similar);
            // Described alike is part of the rule (a SKU with few buyers leans on it): a fallback
            // only when no customer of the SKU bought any item listed. A SKU none of whose
            // neighbours could be listed (none, all out of stock, or all its look-alikes) is
            // answered by trending alone.
            let listed = &builder.items;
            if listed.is_empty() {
                Some("trending")
            } else {
                listed.iter().all(|s| s.source == "content").then_some("content")
            }
        }
        // Postage, fees and vouchers are not products: nothing is like them, and the answer
        // says so rather than that the code is new.
        None if !crate::ingest::transactions::is_product(sku) => Some("not_a_product"),
        None => Some("unknown_item"),
    };
    if !builder.full()
        && let Some(shop) = &shop
    {
        builder.extend(&shop.trending);
    }
    // Topping a list of neighbours up is no fallback (as for a customer's list).
    Ok(Some(finish(builder, version, reason)))
}

/// How much more a cart's bought-together candidate counts when the customer bought it before.
///
/// Measured on Online Retail (train before 2011-11-09; each later invoice of a returning
/// customer with 3 SKUs or more, 2 of them as the cart, the rest to find; k = 10; 2,176
/// invoices): leaving the customer's past purchases out, the rule before, gave nDCG@10 0.126 and
/// hit rate 0.473, since 48% of what they then bought they had bought before; ignoring the
/// customer 0.252; boosting by 1.5, 2, 3 or 6 times 0.281, 0.290, 0.296 and 0.290 (hit rate
/// 0.804 at 3); their past items first, then the list, 0.245. The factor was read on that same
/// month, but every one of them beats both rules by far more than the choice between them.
pub const REORDER_BOOST: f32 = 3.0;

/// `k` items to complete a cart (`None` when no version is live).
///
/// # Errors
/// When the store fails or a document is malformed.
pub async fn cart(
    reader: &Reader,
    items: &[String],
    customer: Option<&str>,
    k: usize,
    exclusions: &Exclusions,
) -> Result<Option<Answer>, ReaderError> {
    let Some(version) = reader.live_version(ModelKind::Recommend).await? else { return Ok(None) };
    let mut together: HashMap<String, (f32, Option<String>)> = HashMap::new();
    let mut similar: Vec<Scored> = Vec::new();
    let mut unknown_items = Vec::new();
    let mut in_cart: Vec<(&str, Option<String>)> = Vec::new();
    for sku in items {
        match reader.get_at::<ItemRecs>(ModelKind::Recommend, &version, &item_partition(sku)).await? {
            Some(item) => {
                in_cart.push((sku, item.description.clone()));
                for s in &item.bought_with {
                    together.entry(s.sku.clone()).or_insert((0.0, s.description.clone())).0 += s.score;
                }
                similar.extend(item.similar.iter().cloned());
            }
            None => unknown_items.push(sku.clone()),
        }
    }
    let (key, recs) = match customer {
        Some(customer) => customer_recs(reader, &version, customer).await?,
        None => (None, None),
    };
    // What a customer bought before and others bought with the cart is what they are likely to
    // add: boosted, not left out (see [`REORDER_BOOST`]).
    let boost = |sku: &str| match &recs {
        Some(recs) if recs.has_bought(sku) => REORDER_BOOST,
        _ => 1.0,
    };
    let mut basket: Vec<Scored> = together
        .into_iter()
        .map(|(sku, (score, description))| Scored {
            score: score * boost(&sku),
            sku,
            source: "basket".into(),
            description,
        })
        .collect();
    basket.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
    similar.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
    let shop = shop(reader, &version).await?;
    let mut builder = Builder::new(k, exclusions);
    builder.skip.extend(items.iter().cloned());
    for (sku, description) in &in_cart {
        builder.showing(sku, description.as_deref());
    }
    builder.extend(&basket);
    let from_basket = builder.items.len();
    builder.extend(&similar);
    let from_similar = builder.items.len() - from_basket;
    // A known customer's own list comes before the shop's: a cart of items nobody bought with
    // anything (new or unknown SKUs) still gets what this customer is likely to want.
    if let Some(recs) = &recs {
        // From here on as on their own list: what they bought (boosted above, among what the
        // cart's items were bought with) and its look-alikes are no new suggestion.
        builder.showing_purchases(recs);
        builder.bought_by = Some(recs);
        builder.extend(&recs.candidates);
    }
    let from_customer = builder.items.len() - from_basket - from_similar;
    if let Some(shop) = &shop {
        builder.extend(&shop.trending);
    }
    // As for similar items and a customer's list, topping up is no fallback: the answer falls
    // back only when the cart's items suggested nothing bought with them, and says to what.
    let only_fees =
        !items.is_empty() && items.iter().all(|sku| !crate::ingest::transactions::is_product(sku));
    let reason = match (from_basket, from_similar, from_customer) {
        (0, 0, 0) if only_fees => Some("not_a_product"),
        (0, 0, 0) => Some("trending"),
        // Whatever the cart held (postage alone too), the customer's own list answered.
        (0, 0, _) => Some("customer"),
        (0, _, _) => Some("similar_items"),
        _ => None,
    };
    let mut answer = finish(builder, version, reason);
    answer.unknown_items = unknown_items;
    answer.unknown_customer = customer.filter(|_| recs.is_none()).map(|c| c.trim().to_owned());
    answer.customer_key = key;
    Ok(Some(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(sku: &str, description: Option<&str>) -> Scored {
        Scored {
            sku: sku.into(),
            score: 1.0,
            source: "similar".into(),
            description: description.map(Into::into),
        }
    }

    fn skus<'a>(builder: &'a Builder<'_>) -> Vec<&'a str> {
        builder.items.iter().map(|s| s.sku.as_str()).collect()
    }

    #[test]
    fn a_second_sku_under_a_description_on_the_page_is_left_out_and_the_next_one_takes_its_place() {
        let exclusions = Exclusions::default();
        let mut builder = Builder::new(3, &exclusions);
        builder.showing("72127", Some("COLUMBIAN CANDLE ROUND"));
        builder.extend(&[
            scored("72128", Some("COLUMBIAN  candle round ")),
            scored("20701", Some("PINK BUTTERFLY CUSHION COVER")),
            scored("20702", Some("pink butterfly cushion cover")),
            scored("X1", None),
            scored("X2", None),
            scored("22423", Some("REGENCY CAKESTAND 3 TIER")),
        ]);
        assert_eq!(skus(&builder), ["20701", "X1", "X2"], "undescribed SKUs are never twins");

        // A customer's purchase keeps its description: its twin is not pitched as new, and the
        // purchase itself, asked for again, is listed under its own code.
        let mut builder = Builder::new(3, &exclusions);
        builder.showing("20701", Some("PINK BUTTERFLY CUSHION COVER"));
        builder.extend(&[
            scored("20702", Some("PINK BUTTERFLY CUSHION COVER")),
            scored("20701", Some("PINK BUTTERFLY CUSHION COVER")),
        ]);
        assert_eq!(skus(&builder), ["20701"]);
    }
}
