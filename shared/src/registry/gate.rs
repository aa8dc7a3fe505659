//! Promotion gates: a version goes live only if its held-out metrics hold against the live
//! version and beat a sanity baseline measured on the same held-out slice.
//!
//! | kind | against the live version | sanity floor |
//! |---|---|---|
//! | recommend | `ndcg` >= `recommend_ndcg_vs_live` x live (default 0.98) | `ndcg` > `popularity_ndcg` (popularity on the same split) |
//! | forecast | `wape_total` <= `forecast_wape_vs_live` x live (default 1.02) | `wape_total` < `naive_wape_total` (seasonal naive on the same holdout) |
//! | segments | `silhouette` >= `segments_silhouette_vs_live` x live (default 0.95) | `silhouette` >= `segments_min_silhouette` (default 0.25) |
//!
//! The live version's metrics are the ones recorded when it was trained (on its own, older
//! held-out slice): the comparison guards against regressions of the pipeline, and the floor
//! guards against data on which the model is no better than the naive answer. Without a live
//! version only the floor applies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ModelKind;
use crate::settings::{Settings, SettingsError};

/// Gate thresholds (settings `SHOPSENSE_GATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// A new recommender's nDCG must reach this share of the live one's.
    pub recommend_ndcg_vs_live: f64,
    /// A new forecast's 28-day-total WAPE may be at most this multiple of the live one's.
    pub forecast_wape_vs_live: f64,
    /// A new segmentation's silhouette must reach this share of the live one's.
    pub segments_silhouette_vs_live: f64,
    /// The least silhouette any segmentation must have.
    pub segments_min_silhouette: f64,
}

impl Default for Gates {
    fn default() -> Self {
        Self {
            recommend_ndcg_vs_live: 0.98,
            forecast_wape_vs_live: 1.02,
            segments_silhouette_vs_live: 0.95,
            segments_min_silhouette: 0.25,
        }
    }
}

/// The settings holding the thresholds, in [`Gates`] field order.
pub const GATE_SETTINGS: [&str; 4] = [
    "SHOPSENSE_GATE_RECOMMEND_NDCG_VS_LIVE",
    "SHOPSENSE_GATE_FORECAST_WAPE_VS_LIVE",
    "SHOPSENSE_GATE_SEGMENTS_SILHOUETTE_VS_LIVE",
    "SHOPSENSE_GATE_SEGMENTS_MIN_SILHOUETTE",
];

/// One check of a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    /// What was checked, in words.
    pub check: String,
    /// The candidate's value.
    pub value: f64,
    /// The bound it had to meet.
    pub bound: f64,
    /// Whether it did.
    pub passed: bool,
}

/// The verdict on a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// Every check made.
    pub checks: Vec<GateCheck>,
    /// The live version compared with, if any.
    pub live_version: Option<String>,
    /// Whether all checks passed.
    pub passed: bool,
}

impl GateReport {
    /// The failed checks in words, for the record's reason.
    #[must_use]
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{} (value {:.4}, bound {:.4})", c.check, c.value, c.bound))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Gates {
    /// Thresholds from settings, defaults for unset ones.
    ///
    /// # Errors
    /// A set value that is not a positive number.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let d = Self::default();
        let read = |name: &str, default: f64| -> Result<f64, SettingsError> {
            let value: f64 = settings.parse_or(name, default)?;
            if value.is_finite() && value > 0.0 {
                Ok(value)
            } else {
                Err(SettingsError::Invalid {
                    name: name.to_owned(),
                    reason: "must be a positive number".into(),
                })
            }
        };
        Ok(Self {
            recommend_ndcg_vs_live: read(GATE_SETTINGS[0], d.recommend_ndcg_vs_live)?,
            forecast_wape_vs_live: read(GATE_SETTINGS[1], d.forecast_wape_vs_live)?,
            segments_silhouette_vs_live: read(GATE_SETTINGS[2], d.segments_silhouette_vs_live)?,
            segments_min_silhouette: read(GATE_SETTINGS[3], d.segments_min_silhouette)?,
        })
    }

    /// Judges `candidate` metrics against the `live` version's (id and metrics), per the table in
    /// the module docs. A metric missing from the candidate fails its check.
    #[must_use]
    pub fn judge(&self, kind: ModelKind, candidate: &Value, live: Option<(&str, &Value)>) -> GateReport {
        let get = |v: &Value, name: &str| v.get(name).and_then(Value::as_f64);
        let value = |name: &str| get(candidate, name).unwrap_or(f64::NAN);
        let mut checks = Vec::new();
        let mut vs_live = |metric: &str, ratio: f64, higher_is_better: bool| {
            if let Some(live_value) = live.and_then(|(_, m)| get(m, metric)) {
                let bound = live_value * ratio;
                let v = value(metric);
                let passed = if higher_is_better { v >= bound } else { v <= bound };
                let relation = if higher_is_better { ">=" } else { "<=" };
                checks.push(GateCheck {
                    check: format!("{metric} {relation} {ratio} x live {live_value:.4}"),
                    value: v,
                    bound,
                    passed,
                });
            }
        };
        match kind {
            ModelKind::Recommend => vs_live("ndcg", self.recommend_ndcg_vs_live, true),
            ModelKind::Forecast => vs_live("wape_total", self.forecast_wape_vs_live, false),
            ModelKind::Segments => vs_live("silhouette", self.segments_silhouette_vs_live, true),
        }
        let floor = match kind {
            ModelKind::Recommend => {
                let bound = value("popularity_ndcg");
                let v = value("ndcg");
                GateCheck { check: "ndcg > popularity's ndcg".into(), value: v, bound, passed: v > bound }
            }
            ModelKind::Forecast => {
                let bound = value("naive_wape_total");
                let v = value("wape_total");
                GateCheck {
                    check: "wape_total < seasonal naive's".into(),
                    value: v,
                    bound,
                    passed: v < bound,
                }
            }
            ModelKind::Segments => {
                let bound = self.segments_min_silhouette;
                let v = value("silhouette");
                GateCheck { check: "silhouette >= floor".into(), value: v, bound, passed: v >= bound }
            }
        };
        checks.push(floor);
        let passed = checks.iter().all(|c| c.passed);
        GateReport { checks, live_version: live.map(|(v, _)| v.to_owned()), passed }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_recommender_must_hold_against_live_and_beat_popularity() {
        let gates = Gates::default();
        let live = json!({ "ndcg": 0.10 });
        let ok = json!({ "ndcg": 0.099, "popularity_ndcg": 0.05 });
        let report = gates.judge(ModelKind::Recommend, &ok, Some(("v1", &live)));
        assert!(report.passed, "{report:?}");
        let worse = json!({ "ndcg": 0.097, "popularity_ndcg": 0.05 });
        let report = gates.judge(ModelKind::Recommend, &worse, Some(("v1", &live)));
        assert!(!report.passed);
        assert!(report.failures().contains("ndcg >= 0.98 x live"), "{}", report.failures());
        let no_better_than_popular = json!({ "ndcg": 0.05, "popularity_ndcg": 0.05 });
        assert!(!gates.judge(ModelKind::Recommend, &no_better_than_popular, None).passed);
    }

    #[test]
    fn a_forecast_may_not_lose_more_than_two_percent_of_wape_or_lose_to_naive() {
        let gates = Gates::default();
        let live = json!({ "wape_total": 0.30 });
        let ok = json!({ "wape_total": 0.305, "naive_wape_total": 0.5 });
        assert!(gates.judge(ModelKind::Forecast, &ok, Some(("v1", &live))).passed);
        let worse = json!({ "wape_total": 0.31, "naive_wape_total": 0.5 });
        assert!(!gates.judge(ModelKind::Forecast, &worse, Some(("v1", &live))).passed);
        let missing = json!({ "naive_wape_total": 0.5 });
        assert!(!gates.judge(ModelKind::Forecast, &missing, None).passed, "a missing metric fails");
    }

    #[test]
    fn segments_need_the_floor_without_a_live_version() {
        let gates = Gates::default();
        assert!(gates.judge(ModelKind::Segments, &json!({ "silhouette": 0.43 }), None).passed);
        let report = gates.judge(ModelKind::Segments, &json!({ "silhouette": 0.2 }), None);
        assert!(!report.passed);
        assert_eq!(report.checks.len(), 1);
    }
}
