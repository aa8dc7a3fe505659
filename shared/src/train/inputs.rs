//! The feature tables a training run reads from the silver container, with their hashes (the
//! data snapshot recorded in each manifest) and the data profile drift is measured on.

use polars::prelude::*;

use super::TrainError;
use crate::bronze::sha256_hex;
use crate::features::{read_parquet, snapshot};
use crate::recommend::data::Record;
use crate::registry::{DataFile, ModelKind};
use crate::store::BlobStore;
use crate::tables::{
    BASKETS_PATH, CLOSED_WEEKDAYS_PATH, DAILY_DEMAND_PATH, FEATURE_PATHS, INTERACTIONS_PATH, ITEMS_PATH,
    RFM_INPUTS_PATH,
};

/// The feature tables, as read.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// Customer x SKU interactions.
    pub interactions: DataFrame,
    /// SKU x open day net demand.
    pub daily_demand: DataFrame,
    /// Per-customer RFM inputs.
    pub rfm_inputs: DataFrame,
    /// Per-SKU catalogue facts.
    pub items: DataFrame,
    /// Invoice x SKU baskets.
    pub baskets: DataFrame,
    /// Inferred weekly closures.
    pub closed_weekdays: Vec<String>,
    /// Every file read, with its hash.
    pub files: Vec<DataFile>,
    /// The silver transaction batches (one per upload counted) the features were computed from.
    pub batches: Vec<String>,
    /// Each table's sha256 by its file name.
    pub tables: std::collections::BTreeMap<String, String>,
}

/// Reads every table of the current feature snapshot from `silver` (the flat pre-snapshot
/// layout when there is no pointer yet). A table pruned away between resolving the pointer and
/// reading it (three refreshes published meanwhile) makes it resolve again, once.
///
/// # Errors
/// [`TrainError::NoFeatures`] when a feature file is missing (nothing ingested yet);
/// [`TrainError::Data`] when one is unreadable; store failures.
pub async fn load(silver: &dyn BlobStore) -> Result<TrainingData, TrainError> {
    let (bodies, files, batches) = match read_snapshot(silver).await {
        Err(TrainError::NoFeatures { .. }) => read_snapshot(silver).await?,
        other => other?,
    };
    tokio::task::spawn_blocking(move || {
        let table = |path: &str| -> Result<DataFrame, TrainError> {
            let (_, body) =
                bodies.iter().find(|(p, _)| *p == path).ok_or(TrainError::NoFeatures { missing: "?" })?;
            read_parquet(body).map_err(|e| TrainError::Data(format!("{path}: {e}")))
        };
        let closed = bodies
            .iter()
            .find(|(p, _)| *p == CLOSED_WEEKDAYS_PATH)
            .map(|(_, body)| serde_json::from_slice::<Vec<String>>(body))
            .transpose()
            .map_err(|e| TrainError::Data(format!("{CLOSED_WEEKDAYS_PATH}: {e}")))?
            .unwrap_or_default();
        Ok(TrainingData {
            interactions: table(INTERACTIONS_PATH)?,
            daily_demand: table(DAILY_DEMAND_PATH)?,
            rfm_inputs: table(RFM_INPUTS_PATH)?,
            items: table(ITEMS_PATH)?,
            baskets: table(BASKETS_PATH)?,
            closed_weekdays: closed,
            tables: super::tables_of(&files),
            files,
            batches,
        })
    })
    .await
    .map_err(|e| TrainError::Data(format!("feature load task failed: {e}")))?
}

type Bodies = Vec<(&'static str, bytes::Bytes)>;

/// Every table of the snapshot the pointer names now, keyed by its [`FEATURE_PATHS`] name.
async fn read_snapshot(silver: &dyn BlobStore) -> Result<(Bodies, Vec<DataFile>, Vec<String>), TrainError> {
    let snapshot = snapshot::current(silver).await?.map(|(s, _)| s);
    let mut bodies = Vec::new();
    let mut files = Vec::new();
    for table in FEATURE_PATHS {
        let path = snapshot.as_ref().map_or_else(|| table.to_owned(), |s| s.path(table));
        let blob = silver.get(&path).await?.ok_or(TrainError::NoFeatures { missing: table })?;
        files.push(DataFile { path, sha256: sha256_hex(&blob.body), bytes: blob.body.len() as u64 });
        bodies.push((table, blob.body));
    }
    Ok((bodies, files, snapshot.map(|s| s.batches).unwrap_or_default()))
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>, TrainError> {
    Ok(df.column(name)?.str()?.iter().map(|v| v.unwrap_or_default().to_owned()).collect())
}

fn seconds(df: &DataFrame, name: &str) -> Result<Vec<i64>, TrainError> {
    let ms = df.column(name)?.cast(&DataType::Int64)?;
    Ok(ms.i64()?.iter().map(|v| v.unwrap_or(0) / 1000).collect())
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<f64>, TrainError> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

impl TrainingData {
    /// The uploads and tables these features hold, for [`super::withdrawn_batches`].
    #[must_use]
    pub fn now(&self) -> super::FeaturesNow<'_> {
        super::FeaturesNow { batches: &self.batches, tables: &self.tables }
    }

    /// What `kind` lacks to train at all, and what would train it, in words (`None`: its table
    /// has rows).
    #[must_use]
    pub fn missing_for(&self, kind: ModelKind) -> Option<(&'static str, &'static str)> {
        let with_customers = "sales with customer ids";
        match kind {
            ModelKind::Recommend if self.interactions.height() == 0 => {
                Some(("no sale with a customer id remains", with_customers))
            }
            ModelKind::Forecast if self.daily_demand.height() == 0 => Some(("no sales remain", "sales")),
            ModelKind::Segments if self.rfm_inputs.height() == 0 => {
                Some(("no customer's sales remain", with_customers))
            }
            _ => None,
        }
    }

    /// Interactions as recommender records: weight = distinct invoices, time = first purchase.
    ///
    /// # Errors
    /// When the table breaks the contract.
    pub fn interaction_records(&self) -> Result<Vec<Record>, TrainError> {
        let df = &self.interactions;
        let (users, items) = (strings(df, "customer_id")?, strings(df, "stock_code")?);
        let (weights, ts) = (floats(df, "invoices")?, seconds(df, "first_time")?);
        Ok(users
            .into_iter()
            .zip(items)
            .zip(weights.into_iter().zip(ts))
            .map(|((user, item), (weight, ts))| Record { user, item, weight: weight as f32, ts })
            .collect())
    }

    /// `(customer, sku)` of every SKU a customer sent back whole (`returned`; none in a table
    /// written before the column).
    ///
    /// # Errors
    /// When the table breaks the contract.
    pub fn returned_pairs(&self) -> Result<Vec<(String, String)>, TrainError> {
        let df = &self.interactions;
        let Ok(returned) = df.column("returned") else { return Ok(Vec::new()) };
        let returned = returned.bool()?;
        let (users, items) = (strings(df, "customer_id")?, strings(df, "stock_code")?);
        Ok(users
            .into_iter()
            .zip(items)
            .zip(returned.iter())
            .filter(|(_, r)| r.unwrap_or(false))
            .map(|(pair, _)| pair)
            .collect())
    }

    /// Baskets as records (user = invoice), for basket co-occurrence.
    ///
    /// # Errors
    /// When the table breaks the contract.
    pub fn basket_records(&self) -> Result<Vec<Record>, TrainError> {
        let df = &self.baskets;
        let (invoices, items, ts) =
            (strings(df, "invoice")?, strings(df, "stock_code")?, seconds(df, "invoice_time")?);
        Ok(invoices
            .into_iter()
            .zip(items)
            .zip(ts)
            .map(|((user, item), ts)| Record { user, item, weight: 1.0, ts })
            .collect())
    }

    /// `(sku, description)` for every product sold, by SKU.
    ///
    /// # Errors
    /// When the table breaks the contract.
    pub fn descriptions(&self) -> Result<Vec<(String, String)>, TrainError> {
        Ok(strings(&self.items, "stock_code")?
            .into_iter()
            .zip(strings(&self.items, "description")?)
            .collect())
    }

    /// Daily demand rows `(sku, date, units)`.
    ///
    /// # Errors
    /// When the table breaks the contract.
    pub fn demand_rows(&self) -> Result<Vec<(String, chrono::NaiveDate, f64)>, TrainError> {
        let df = &self.daily_demand;
        let skus = strings(df, "stock_code")?;
        let dates = df.column("date")?.date()?.as_date_iter().collect::<Vec<_>>();
        let units = floats(df, "quantity")?;
        Ok(skus
            .into_iter()
            .zip(dates)
            .zip(units)
            .filter_map(|((sku, date), q)| date.map(|d| (sku, d, q)))
            .collect())
    }

    /// The values drift is measured on: SKUs per basket, latest unit price per SKU, units per
    /// open day, spend per customer, and each SKU's first sale as days since 1970-01-01 (a rise in
    /// the share of new SKUs shifts it up). Not its age at the end of the data: every SKU ages by
    /// the days each upload adds, and the many SKUs sold since the first day crossed a decile
    /// edge together, so that feature was flagged on every ordinary night (PSI 0.72-1.48 on
    /// Online Retail's daily uploads, against a threshold of 0.25).
    ///
    /// # Errors
    /// When a table breaks the contract.
    pub fn profile_values(&self) -> Result<Vec<(&'static str, Vec<f64>)>, TrainError> {
        let basket_sizes = self
            .baskets
            .clone()
            .lazy()
            .group_by([col("invoice")])
            .agg([len().cast(DataType::Float64).alias("n")])
            .collect()?;
        let daily = self
            .daily_demand
            .clone()
            .lazy()
            .group_by([col("date")])
            .agg([col("quantity").sum().cast(DataType::Float64).alias("units")])
            .collect()?;
        let first_sale: Vec<f64> =
            seconds(&self.items, "first_time")?.into_iter().map(|t| t.div_euclid(86_400) as f64).collect();
        Ok(vec![
            ("basket_size", floats(&basket_sizes, "n")?),
            ("unit_price", floats(&self.items, "last_price")?),
            ("daily_units", floats(&daily, "units")?),
            ("customer_spend", floats(&self.rfm_inputs, "net_spend")?),
            ("item_first_sale_day", first_sale),
        ])
    }
}
