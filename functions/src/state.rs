//! What every handler shares: settings, store clients and the ingestor, built once per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use shopsense::alerts::AlertPolicy;
use shopsense::ingest::{DEFAULT_MAX_TABLE_BYTES, IngestOptions, Ingestor, Thresholds};
use shopsense::registry::{DEFAULT_KEEP_VERSIONS, Gates, ModelKind, Registry, RegistryError};
use shopsense::serving::stock::ALERTS_CONTAINER;
use shopsense::serving::{Behind, CatalogView, Exclusions, NewestSales, Reader, StockView};
use shopsense::settings::Settings;
use shopsense::store::Stores;
use shopsense::tables::SILVER_CONTAINER;
use shopsense::train::{TrainOptions, Trainer};

/// Why the application state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A store could not be opened.
    #[error(transparent)]
    Store(#[from] shopsense::store::StoreError),
    /// The ingest containers could not be opened.
    #[error(transparent)]
    Ingest(#[from] shopsense::ingest::IngestError),
    /// A setting is unusable.
    #[error(transparent)]
    Settings(#[from] shopsense::settings::SettingsError),
    /// The model registry could not be opened.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Setting: versions kept per model kind (default [`DEFAULT_KEEP_VERSIONS`]).
pub const KEEP_VERSIONS_SETTING: &str = "SHOPSENSE_KEEP_VERSIONS";
/// Setting: seconds a serving instance trusts its cached live pointers (default 5).
pub const POINTER_TTL_SETTING: &str = "SHOPSENSE_SERVING_POINTER_TTL_SECONDS";
/// Setting: days a judged inventory count is kept after it was judged, unless it is still the
/// latest (default [`shopsense::alerts::retention::DEFAULT_KEEP_DAYS`], at least
/// [`shopsense::alerts::retention::MIN_KEEP_DAYS`]).
pub const ALERTS_KEEP_DAYS_SETTING: &str = "SHOPSENSE_ALERTS_KEEP_DAYS";
/// Setting: PSI above which retrain flags drift (default 0.25).
pub const PSI_THRESHOLD_SETTING: &str = "SHOPSENSE_DRIFT_PSI_THRESHOLD";

/// The training options the settings choose (gates, drift threshold; model defaults).
pub fn train_options(settings: &Settings) -> Result<TrainOptions, shopsense::settings::SettingsError> {
    let defaults = TrainOptions::default();
    Ok(TrainOptions {
        gates: Gates::from_settings(settings)?,
        psi_threshold: settings.parse_or(PSI_THRESHOLD_SETTING, defaults.psi_threshold)?,
        ..defaults
    })
}

/// Application state: cheap to clone (everything behind `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The process's settings.
    pub settings: Arc<Settings>,
    /// Blob and document stores, clients built once.
    pub stores: Stores,
    /// The ingest pipeline's containers.
    pub ingestor: Arc<Ingestor>,
    /// How uploads are ingested (thresholds and limits from settings).
    pub ingest_options: Arc<IngestOptions>,
    /// The real name of the uploads container (with any configured prefix), as blob events name it.
    pub uploads_container: String,
    /// Live serving documents, cached by version.
    pub reader: Arc<Reader>,
    /// The retrain pipeline and the model registry it writes.
    pub trainer: Arc<Trainer>,
    /// The latest inventory snapshot's out-of-stock SKUs.
    pub stock: Arc<StockView>,
    /// The catalogue's discontinued lines.
    pub catalog: Arc<CatalogView>,
    /// The alerts container.
    pub alerts: Arc<dyn shopsense::store::DocumentStore>,
    /// The alert policy's shop-wide defaults (settings `SHOPSENSE_ALERT_*`).
    pub alert_policy: Arc<AlertPolicy>,
    /// Days a judged count is kept ([`ALERTS_KEEP_DAYS_SETTING`]).
    pub alerts_keep_days: u32,
    /// The last round trip to the stores `GET /api/health?check=stores` made.
    pub store_probe: Arc<crate::health::ProbeCache>,
    /// The newest day of sales the features hold.
    pub newest_sales: Arc<NewestSales>,
    /// Days a live model may lag the newest sales before answers warn
    /// ([`shopsense::serving::freshness::STALE_MODEL_DAYS_SETTING`]).
    pub stale_model_days: u32,
    /// Manifests read for [`AppState::withdrawn_under`], by kind and version (a version's
    /// manifest never changes once written).
    pub manifests: Arc<Mutex<ManifestCache>>,
}

/// Manifests by kind and version.
pub type ManifestCache = HashMap<(ModelKind, String), Arc<shopsense::registry::Manifest>>;

/// Manifests kept in [`AppState::manifests`] before it starts over (a few a kind are read).
const MANIFESTS_KEPT: usize = 64;

/// Settings of the alert policy's defaults, in [`AlertPolicy`] field order.
pub const ALERT_SETTINGS: [&str; 4] = [
    "SHOPSENSE_ALERT_LEAD_TIME_DAYS",
    "SHOPSENSE_ALERT_SERVICE_LEVEL",
    "SHOPSENSE_ALERT_COVER_DAYS",
    "SHOPSENSE_ALERT_OVERSTOCK_COVER_DAYS",
];

/// The alert policy the settings choose (defaults for unset ones), checked.
pub fn alert_policy(settings: &Settings) -> Result<AlertPolicy, StateError> {
    let d = AlertPolicy::default();
    let policy = AlertPolicy {
        lead_time_days: settings.parse_or(ALERT_SETTINGS[0], d.lead_time_days)?,
        service_level: settings.parse_or(ALERT_SETTINGS[1], d.service_level)?,
        cover_days: settings.parse_or(ALERT_SETTINGS[2], d.cover_days)?,
        overstock_cover_days: settings.parse_or(ALERT_SETTINGS[3], d.overstock_cover_days)?,
        ..d
    };
    policy.check().map_err(|e| {
        StateError::Settings(shopsense::settings::SettingsError::Invalid {
            name: "SHOPSENSE_ALERT_*".into(),
            reason: e.to_string(),
        })
    })?;
    Ok(policy)
}

/// What the settings tune, read and checked before any store is opened ([`AppState::open`]).
struct Tuning {
    ingest_options: IngestOptions,
    keep: usize,
    ttl: Duration,
    train_options: TrainOptions,
    alert_policy: AlertPolicy,
    alerts_keep_days: u32,
    stale_model_days: u32,
}

impl Tuning {
    fn from_settings(settings: &Settings) -> Result<Self, StateError> {
        let ingest_options = IngestOptions {
            thresholds: Thresholds::from_settings(settings)?,
            max_table_bytes: settings.parse_or("INGEST_MAX_TABLE_BYTES", DEFAULT_MAX_TABLE_BYTES)?,
            ..IngestOptions::default()
        };
        let keep: usize = settings.parse_or(KEEP_VERSIONS_SETTING, DEFAULT_KEEP_VERSIONS)?;
        if keep < 2 {
            // One kept version is the live one alone: nothing to roll back to.
            return Err(shopsense::settings::SettingsError::Invalid {
                name: KEEP_VERSIONS_SETTING.into(),
                reason: format!("{keep} keeps no version to roll back to: set 2 or more"),
            }
            .into());
        }
        let ttl = Duration::from_secs_f64(settings.parse_or(POINTER_TTL_SETTING, 5.0f64)?.max(0.0));
        let alerts_keep_days: u32 =
            settings.parse_or(ALERTS_KEEP_DAYS_SETTING, shopsense::alerts::retention::DEFAULT_KEEP_DAYS)?;
        if alerts_keep_days < shopsense::alerts::retention::MIN_KEEP_DAYS {
            // Event Grid retries for a day and the retrain replays its dead letters the next night:
            // a redelivery must still find its count, or it is judged again as a new one.
            return Err(shopsense::settings::SettingsError::Invalid {
                name: ALERTS_KEEP_DAYS_SETTING.into(),
                reason: format!(
                    "{alerts_keep_days} days is shorter than a redelivered event may arrive: set {} or more",
                    shopsense::alerts::retention::MIN_KEEP_DAYS
                ),
            }
            .into());
        }
        Ok(Self {
            ingest_options,
            keep,
            ttl,
            train_options: train_options(settings)?,
            alert_policy: alert_policy(settings)?,
            alerts_keep_days,
            stale_model_days: shopsense::serving::freshness::stale_model_days(settings)?,
        })
    }
}

/// Checks every setting the handler reads (as [`AppState::open`] would, without opening a
/// store), the retrain's schedule too when it is set: `shopsense config` runs it, so a typo is
/// found before a deploy rather than at the first request.
///
/// # Errors
/// The first setting that cannot be used, named.
pub fn check_settings(settings: &Settings) -> anyhow::Result<()> {
    Tuning::from_settings(settings)?;
    if let Some(schedule) = settings.get(crate::local::LOCAL_SCHEDULE_DEFAULTS[0].0) {
        schedule.parse::<shopsense::schedule::Schedule>()?;
    }
    Ok(())
}

impl AppState {
    /// Opens the stores the settings choose and everything built on them.
    pub async fn open(settings: Settings) -> Result<Self, StateError> {
        // A setting's typo is named before any wait on a store.
        Tuning::from_settings(&settings)?;
        let stores = Stores::open(&settings).await?;
        Self::with_stores(settings, stores).await
    }

    /// As [`AppState::open`], but starts without Cosmos DB when it has not answered within
    /// `wait` (see [`Stores::open_deferring_documents`]): the reason is returned beside the state.
    pub async fn open_deferring_documents(
        settings: Settings,
        wait: Duration,
    ) -> Result<(Self, Option<String>), StateError> {
        Tuning::from_settings(&settings)?;
        let (stores, deferred) = Stores::open_deferring_documents(&settings, wait).await?;
        Ok((Self::with_stores(settings, stores).await?, deferred))
    }

    /// Everything built on stores already open (tests hand in stores that can fail).
    pub async fn with_stores(settings: Settings, stores: Stores) -> Result<Self, StateError> {
        let Tuning {
            ingest_options,
            keep,
            ttl,
            train_options,
            alert_policy,
            alerts_keep_days,
            stale_model_days,
        } = Tuning::from_settings(&settings)?;
        let ingestor = Ingestor::open(&*stores.blobs).await?;
        let registry = Registry::open(&stores, keep).await?;
        let silver = stores.blobs.container(SILVER_CONTAINER).await?;
        let catalog = CatalogView::new(silver.clone(), ttl);
        let newest_sales = NewestSales::new(silver.clone(), ttl);
        let trainer = Trainer::new(silver, registry, train_options);
        let reader = Reader::open(&stores, ttl).await?;
        let alerts = stores.documents.container(ALERTS_CONTAINER).await?;
        let stock = StockView::new(alerts.clone(), ttl);
        let prefix = settings.get(shopsense::store::CONTAINER_PREFIX_SETTING).unwrap_or_default();
        let uploads_container = format!("{prefix}{}", shopsense::bronze::UPLOADS_CONTAINER);
        Ok(Self {
            uploads_container,
            settings: Arc::new(settings),
            stores,
            ingestor: Arc::new(ingestor),
            ingest_options: Arc::new(ingest_options),
            reader: Arc::new(reader),
            trainer: Arc::new(trainer),
            stock: Arc::new(stock),
            catalog: Arc::new(catalog),
            alerts,
            alert_policy: Arc::new(alert_policy),
            alerts_keep_days,
            store_probe: Arc::default(),
            newest_sales: Arc::new(newest_sales),
            stale_model_days,
            manifests: Arc::default(),
        })
    }

    /// The uploads `version` of `kind` was trained on that were withdrawn since
    /// ([`shopsense::train::withdrawn_batches`]), read through the feature pointer's and the
    /// manifests' caches (the alerts' answer asks on every call); empty when either cannot be
    /// read.
    pub async fn withdrawn_under(&self, kind: ModelKind, version: &str) -> Vec<String> {
        let Some(snapshot) = self.newest_sales.snapshot().await else { return Vec::new() };
        let key = (kind, version.to_owned());
        let cached = self.manifests.lock().ok().and_then(|m| m.get(&key).cloned());
        let manifest = match cached {
            Some(manifest) => manifest,
            None => match self.trainer.registry().manifest(kind, version).await {
                Ok(Some(manifest)) => {
                    let manifest = Arc::new(manifest);
                    if let Ok(mut kept) = self.manifests.lock() {
                        if kept.len() >= MANIFESTS_KEPT {
                            kept.clear();
                        }
                        kept.insert(key, manifest.clone());
                    }
                    manifest
                }
                Ok(None) => return Vec::new(),
                Err(e) => {
                    tracing::warn!(%kind, version, error = %e, "cannot read the manifest: whether it was trained on withdrawn uploads is not said");
                    return Vec::new();
                }
            },
        };
        shopsense::train::withdrawn_batches(&manifest, &shopsense::train::FeaturesNow::of_snapshot(&snapshot))
    }

    /// How far a live model trained on sales up to `data_end` lags the newest sales, when by more
    /// than [`AppState::stale_model_days`].
    pub async fn stale(&self, data_end: chrono::NaiveDate) -> Option<Behind> {
        Behind::of(data_end, self.newest_sales.get().await).filter(|b| b.is_stale(self.stale_model_days))
    }

    /// [`AppState::stale`] for the live version of a kind, read from its record among `versions`
    /// (`None` when none is live or its metrics name no `data_end`).
    pub async fn stale_live(
        &self,
        live: Option<&str>,
        versions: &[shopsense::registry::VersionRecord],
    ) -> Option<Behind> {
        let record = versions.iter().find(|r| live == Some(r.version.as_str()))?;
        self.stale(shopsense::registry::gate::data_end(&record.metrics)?).await
    }

    /// [`AppState::stale`] for the live forecast (`None` when none is live or it cannot be read:
    /// the answers it decorates say that themselves).
    pub async fn stale_forecast(&self) -> Option<Behind> {
        let (_, first_date) = shopsense::alerts::run::forecast_origin(&self.reader).await.ok()?;
        self.stale(first_date.pred_opt()?).await
    }

    /// The warning open alerts judged against forecast `judged_by` carry when it lags the newest
    /// sales ([`AppState::stale_forecast`] when none is given or it is the live one): a count
    /// judged weeks ago against the forecast of then reads as current as one judged today.
    pub async fn stale_alerts(&self, judged_by: Option<&str>) -> Option<String> {
        let live_read = self.reader.live_version(ModelKind::Forecast).await;
        let live = live_read.as_ref().ok().cloned().flatten();
        // Judged against a forecast of uploads withdrawn since (the demo's sample, say).
        // (With nothing live, a take-out says more: below.)
        if let Some(version) = judged_by.or(live.as_deref()).filter(|_| live.is_some())
            && let withdrawn = self.withdrawn_under(ModelKind::Forecast, version).await
            && !withdrawn.is_empty()
        {
            let uploads = shopsense::train::withdrawn_uploads(&withdrawn);
            return Some(match live.as_deref() {
                Some(_) if judged_by.is_none() => format!(
                    "the live forecast {version} was trained on {uploads}: counts are judged against it until the \
                     next retrain replaces it"
                ),
                Some(live) if live == version => format!(
                    "the open alerts were judged against the live forecast {version}, trained on {uploads}: a \
                     count sent now is judged against it too, until the next retrain replaces it"
                ),
                live => format!(
                    "the open alerts were judged against forecast {version}, trained on {uploads}; a count sent \
                     now is judged against the live forecast{}",
                    live.map(|live| format!(" ({live})")).unwrap_or_default()
                ),
            });
        }
        let Some(version) = judged_by.filter(|v| live.as_deref() != Some(*v)) else {
            return self.stale_forecast().await.map(|stale| stale.warning("forecast"));
        };
        if matches!(live_read, Ok(None)) {
            // Taken out of serving (its sales were withdrawn): the alerts rest on those sales, and
            // no count is judged until a forecast is live again.
            let versions = self.trainer.registry().list(ModelKind::Forecast).await.ok()?;
            let taken = versions
                .iter()
                .filter(|r| r.retired_by == Some(shopsense::registry::RetiredBy::TakenOut))
                .max_by_key(|r| r.updated_at)?;
            let said = if taken.version == version {
                "which is".to_owned()
            } else {
                format!("and {} is", taken.version)
            };
            return Some(format!(
                "the open alerts were judged against forecast {version}, {said} {}; no forecast is live, so a \
                 count sent now is not judged",
                taken.reason.as_deref().unwrap_or("retired")
            ));
        }
        let record = self.trainer.registry().record(ModelKind::Forecast, version).await.ok().flatten()?;
        let stale = self.stale(shopsense::registry::gate::data_end(&record.metrics)?).await?;
        Some(format!(
            "the open alerts were judged against forecast {version}, trained on sales up to {}, {} days before \
             the newest sales ({}); a count sent now is judged against the live forecast{}",
            stale.data_end,
            stale.days,
            stale.sales_end,
            live.map(|live| format!(" ({live})")).unwrap_or_default()
        ))
    }

    /// The alert policy with the catalogue's pack sizes and discontinued lines (read from
    /// silver on every call: the catalogue may have changed since start).
    ///
    /// # Errors
    /// When the catalogue tables cannot be read.
    pub async fn policy_with_catalog(&self) -> Result<AlertPolicy, shopsense::alerts::run::AlertRunError> {
        let silver = self.stores.blobs.container(SILVER_CONTAINER).await?;
        let catalog = shopsense::catalog::Catalog::read(&*silver).await?;
        let mut policy = (*self.alert_policy).clone();
        policy.pack_sizes.extend(catalog.pack_sizes);
        policy.discontinued.extend(catalog.discontinued);
        Ok(policy)
    }

    /// The 503 for a request that needs a `kind` model when none is live, with advice from the
    /// registry (train one, or promote the one its gate rejected).
    pub async fn no_model(&self, kind: ModelKind) -> crate::error::ApiError {
        let registry = self.trainer.registry();
        let versions = registry.list(kind).await.unwrap_or_default();
        let failure = registry.last_failure(kind).await.ok().flatten();
        crate::error::ApiError::NoModel {
            kind,
            advice: crate::error::no_model_advice(&versions, failure.as_ref()),
        }
    }

    /// What every recommendation leaves out: the latest snapshot's out-of-stock SKUs and the
    /// catalogue's discontinued lines.
    ///
    /// # Errors
    /// When the alerts container cannot be read.
    pub async fn exclusions(&self) -> Result<Exclusions, shopsense::store::StoreError> {
        let (out_of_stock, discontinued) =
            tokio::join!(self.stock.out_of_stock(), self.catalog.discontinued());
        Ok(Exclusions { out_of_stock: out_of_stock?, discontinued })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[(&str, &str)]) -> Result<(), String> {
        let values = values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        check_settings(&Settings::from_values(values, None).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_settings_check_names_what_a_deploy_would_fail_on_without_opening_a_store() {
        assert_eq!(check(&[]), Ok(()));
        assert!(
            check(&[("SHOPSENSE_GATE_MAX_STALE_DAYS", "abc")])
                .unwrap_err()
                .contains("SHOPSENSE_GATE_MAX_STALE_DAYS")
        );
        assert!(
            check(&[(KEEP_VERSIONS_SETTING, "1")]).unwrap_err().contains("keeps no version to roll back to")
        );
        assert!(check(&[("SHOPSENSE_ALERT_SERVICE_LEVEL", "1.5")]).unwrap_err().contains("SHOPSENSE_ALERT_"));
        assert!(check(&[("SHOPSENSE_STALE_MODEL_DAYS", "0")]).is_err());
        let never = check(&[("SHOPSENSE_RETRAIN_SCHEDULE", "0 0 2 31 2 *")]).unwrap_err();
        assert!(never.contains("would never fire"), "{never}");
        assert_eq!(check(&[("SHOPSENSE_RETRAIN_SCHEDULE", "0 30 1 * * *")]), Ok(()));
    }
}
