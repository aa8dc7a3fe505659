//! How far a live model's data lags the newest sales landed. A retrain that fails night after
//! night, a gate that holds every candidate back, or a pin leaves a model serving while sales
//! move on: a forecast fitted on sales up to 1 November still judges a count of 9 December, and
//! a line that took off in between is under-ordered. The forecast and alert answers, `GET
//! /api/models` and `models list` (for the recommender too) say how far behind a live model is
//! once that passes [`STALE_MODEL_DAYS_SETTING`] days; the recommendation answers, built for a
//! storefront, do not.
//!
//! The newest day of sales is the feature refresh's ([`crate::features::FeatureSnapshot::sales_end`]),
//! read from its pointer at most every `ttl`, like [`super::CatalogView`]: a request waits at most
//! [`READ_DEADLINE`] for it, and when storage fails or is slow the day last read answers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catalog::{FAILURE_BACKOFF, READ_DEADLINE};
use crate::features::snapshot::FeatureSnapshot;
use crate::settings::{Settings, SettingsError};
use crate::store::BlobStore;

/// Setting: days a live model's data may end before the newest sales before its answers warn
/// (default [`DEFAULT_STALE_MODEL_DAYS`], at least 1).
pub const STALE_MODEL_DAYS_SETTING: &str = "SHOPSENSE_STALE_MODEL_DAYS";

/// A nightly retrain keeps a model within a day or two of its sales; a week behind is a week of
/// failed or held-back retrains.
pub const DEFAULT_STALE_MODEL_DAYS: u32 = 7;

/// The days from [`STALE_MODEL_DAYS_SETTING`].
///
/// # Errors
/// A value that is not a whole number of days from 1.
pub fn stale_model_days(settings: &Settings) -> Result<u32, SettingsError> {
    let days: u32 = settings.parse_or(STALE_MODEL_DAYS_SETTING, DEFAULT_STALE_MODEL_DAYS)?;
    if days == 0 {
        return Err(SettingsError::Invalid {
            name: STALE_MODEL_DAYS_SETTING.into(),
            reason: "0 days would warn on every model a day's sales behind: set 1 or more".into(),
        });
    }
    Ok(days)
}

/// A live model whose data ends before the newest sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behind {
    /// The last day of sales the model was trained on.
    pub data_end: NaiveDate,
    /// The newest day of sales landed.
    pub sales_end: NaiveDate,
    /// Days between them.
    pub days: i64,
}

impl Behind {
    /// `Some` when sales newer than `data_end` have landed.
    #[must_use]
    pub fn of(data_end: NaiveDate, sales_end: Option<NaiveDate>) -> Option<Self> {
        let sales_end = sales_end?;
        let days = (sales_end - data_end).num_days();
        (days > 0).then_some(Self { data_end, sales_end, days })
    }

    /// Whether it is more than `max_days` behind.
    #[must_use]
    pub fn is_stale(&self, max_days: u32) -> bool {
        self.days > i64::from(max_days)
    }

    /// The warning an answer built on the live `what` ("forecast", "recommender") carries.
    #[must_use]
    pub fn warning(&self, what: &str) -> String {
        format!(
            "the live {what} was trained on sales up to {}, {} days before the newest sales ({}): no \
             retrain of it has gone live since (none ran, one failed, its gate held it back, or the kind is \
             pinned: GET /api/models or `shopsense models list` says which)",
            self.data_end, self.days, self.sales_end
        )
    }
}

struct Cached {
    snapshot: Option<Arc<FeatureSnapshot>>,
    /// Not read again before this.
    next_read: Instant,
}

/// The current feature snapshot's pointer (the newest day of sales, the uploads counted), read
/// at most every `ttl`.
pub struct NewestSales {
    silver: Arc<dyn BlobStore>,
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for NewestSales {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewestSales")
            .field("silver", &self.silver.location())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl NewestSales {
    /// A view over the silver container.
    #[must_use]
    pub fn new(silver: Arc<dyn BlobStore>, ttl: Duration) -> Self {
        Self { silver, ttl, cached: Mutex::new(None) }
    }

    /// The newest day of sales (`None` before any refresh that recorded it). When the store
    /// fails or is slower than [`READ_DEADLINE`], the day last read answers, with a warning in
    /// the log: a freshness check must not hold up or fail the answer it decorates.
    pub async fn get(&self) -> Option<NaiveDate> {
        self.snapshot().await.and_then(|s| s.sales_end)
    }

    /// The current feature snapshot's pointer (`None` before the first refresh), as [`get`]
    /// reads it.
    ///
    /// [`get`]: NewestSales::get
    pub async fn snapshot(&self) -> Option<Arc<FeatureSnapshot>> {
        let previous = match self.cached.lock() {
            Ok(cached) => match cached.as_ref() {
                Some(c) if Instant::now() < c.next_read => return c.snapshot.clone(),
                Some(c) => c.snapshot.clone(),
                None => None,
            },
            Err(_) => None,
        };
        let read =
            tokio::time::timeout(READ_DEADLINE, crate::features::snapshot::current(&*self.silver)).await;
        let (snapshot, wait) = match read {
            Ok(Ok(current)) => (current.map(|(s, _)| Arc::new(s)), self.ttl),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the feature pointer: the one last read stands");
                (previous, FAILURE_BACKOFF)
            }
            Err(_) => {
                tracing::warn!("the feature pointer did not answer in time: the one last read stands");
                (previous, FAILURE_BACKOFF)
            }
        };
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(Cached { snapshot: snapshot.clone(), next_read: Instant::now() + wait });
        }
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_model_is_behind_only_when_newer_sales_have_landed() {
        assert_eq!(Behind::of(day("2011-12-09"), Some(day("2011-12-09"))), None);
        assert_eq!(Behind::of(day("2011-12-09"), Some(day("2011-12-01"))), None);
        assert_eq!(Behind::of(day("2011-12-09"), None), None);
        let behind = Behind::of(day("2011-11-01"), Some(day("2011-12-09"))).unwrap();
        assert_eq!(behind.days, 38);
        assert!(behind.is_stale(7) && !behind.is_stale(38));
        let warning = behind.warning("forecast");
        assert!(
            warning.contains("sales up to 2011-11-01, 38 days before the newest sales (2011-12-09)"),
            "{warning}"
        );
    }

    #[test]
    fn the_setting_takes_whole_days_from_one() {
        let with = |value: &str| {
            stale_model_days(
                &Settings::from_values(
                    [(STALE_MODEL_DAYS_SETTING.to_owned(), value.to_owned())].into(),
                    None,
                )
                .unwrap(),
            )
        };
        assert_eq!(stale_model_days(&Settings::from_values(Default::default(), None).unwrap()).unwrap(), 7);
        assert_eq!(with("14").unwrap(), 14);
        assert!(with("0").unwrap_err().to_string().contains(STALE_MODEL_DAYS_SETTING));
        assert!(with("-1").is_err() && with("a week").is_err());
    }

    #[tokio::test]
    async fn the_newest_sales_day_is_read_from_the_feature_pointer() {
        let dir = tempfile::tempdir().unwrap();
        let silver: Arc<dyn BlobStore> = Arc::new(
            crate::store::folder::FolderBlobService::new(dir.path()).unwrap().open("silver").unwrap(),
        );
        let view = NewestSales::new(silver.clone(), Duration::ZERO);
        assert_eq!(view.get().await, None, "no refresh yet");
        crate::features::snapshot::publish(&*silver, Vec::new(), Vec::new(), Some(day("2011-12-09")), None)
            .await
            .unwrap();
        assert_eq!(view.get().await, Some(day("2011-12-09")));
    }
}
