//! The registry of Azure functions this binary serves: each with its `function.json` (the same
//! file the packaging step copies into the app root) and its router.

use std::time::Duration;

use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use crate::state::AppState;

/// One Azure function.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    /// The function's name: its folder under `functions/bindings/`, and for non-HTTP triggers
    /// the path the host POSTs invocations to.
    pub name: &'static str,
    /// The `function.json` text.
    pub function_json: &'static str,
    /// Its routes.
    pub router: fn() -> Router<AppState>,
}

/// A parsed `function.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionJson {
    /// The bindings, trigger first by convention.
    pub bindings: Vec<Binding>,
    /// How the host runs a failed invocation again (timer triggers), if at all.
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
}

/// A function's `retry` policy, as the Functions host reads it from `function.json`: a failed
/// invocation (any answer but 2xx) is run again up to `max_retry_count` times. The local runner
/// honours it for its timers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// `fixedDelay` or `exponentialBackoff`.
    pub strategy: RetryStrategy,
    /// Runs after the first (`-1`, forever, is not taken: a nightly job must end).
    pub max_retry_count: u32,
    /// The wait of `fixedDelay`, `hh:mm:ss`.
    #[serde(default)]
    pub delay_interval: Option<String>,
    /// The first wait of `exponentialBackoff`, `hh:mm:ss`.
    #[serde(default)]
    pub minimum_interval: Option<String>,
    /// The longest wait of `exponentialBackoff`, `hh:mm:ss`.
    #[serde(default)]
    pub maximum_interval: Option<String>,
}

/// The two strategies the host knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryStrategy {
    /// The same wait before every run again.
    FixedDelay,
    /// Waits growing from the minimum up to the maximum.
    ExponentialBackoff,
}

impl RetryPolicy {
    /// The wait before each run again, in order. For `exponentialBackoff` the host's
    /// randomised backoff (WebJobs' `RandomizedExponentialBackoffStrategy`, its step the
    /// minimum) without its jitter of up to a fifth of each step: the minimum, then the minimum
    /// plus 1, 2, 4, ... times the minimum, up to the maximum (1, 2, 3, 5, 9, ... minutes from
    /// a minimum of one).
    ///
    /// # Errors
    /// A missing interval for the strategy, or one that is not `hh:mm:ss`.
    pub fn delays(&self) -> Result<Vec<Duration>, String> {
        let interval = |name: &str, value: &Option<String>| -> Result<Duration, String> {
            let text = value.as_deref().ok_or_else(|| format!("{:?} needs {name}", self.strategy))?;
            time_span(text).ok_or_else(|| format!("{name} {text:?} is not hh:mm:ss"))
        };
        let count = usize::try_from(self.max_retry_count).unwrap_or(usize::MAX);
        match self.strategy {
            RetryStrategy::FixedDelay => Ok(vec![interval("delayInterval", &self.delay_interval)?; count]),
            RetryStrategy::ExponentialBackoff => {
                let least = interval("minimumInterval", &self.minimum_interval)?;
                let most = interval("maximumInterval", &self.maximum_interval)?;
                if most < least {
                    return Err("maximumInterval is shorter than minimumInterval".into());
                }
                let mut step = Duration::ZERO;
                Ok((0..count)
                    .map(|_| {
                        let wait = least.saturating_add(step).min(most);
                        step = if step.is_zero() { least } else { step.saturating_mul(2) };
                        wait
                    })
                    .collect())
            }
        }
    }
}

/// `hh:mm:ss` (a .NET `TimeSpan` as `function.json` writes one, without days or fractions).
fn time_span(text: &str) -> Option<Duration> {
    let mut parts = text.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let [h, m, s]: [u64; 3] = [h.parse().ok()?, m.parse().ok()?, s.parse().ok()?];
    (m < 60 && s < 60).then(|| Duration::from_secs(h * 3600 + m * 60 + s))
}

/// One binding of a `function.json`; fields not listed stay in `rest`.
#[derive(Debug, Clone, Deserialize)]
pub struct Binding {
    /// `httpTrigger`, `timerTrigger`, `blobTrigger`, `eventGridTrigger`, `http`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `in` or `out`.
    pub direction: String,
    /// The binding name (the key in the invoke payload's `Data`).
    pub name: String,
    /// Everything else (`route`, `methods`, `schedule`, `path`, `source`, `connection`, ...).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

impl Binding {
    /// A string field of the binding.
    #[must_use]
    pub fn text(&self, key: &str) -> Option<&str> {
        self.rest.get(key).and_then(Value::as_str)
    }
}

impl FunctionSpec {
    /// The parsed `function.json` (embedded at compile time; a parse failure is a build bug that
    /// the registry test catches).
    pub fn parsed(&self) -> Result<FunctionJson, serde_json::Error> {
        serde_json::from_str(self.function_json)
    }

    /// The trigger binding (the one whose type ends in `Trigger`).
    #[must_use]
    pub fn trigger(&self) -> Option<Binding> {
        self.parsed().ok()?.bindings.into_iter().find(|b| b.kind.ends_with("Trigger"))
    }
}

/// Every function this binary serves.
#[must_use]
pub fn registry() -> Vec<FunctionSpec> {
    vec![
        FunctionSpec {
            name: "health",
            function_json: include_str!("../bindings/health/function.json"),
            router: crate::health::router,
        },
        FunctionSpec {
            name: "ingest",
            function_json: include_str!("../bindings/ingest/function.json"),
            router: crate::ingest::router,
        },
        FunctionSpec {
            name: "recommend-customer",
            function_json: include_str!("../bindings/recommend-customer/function.json"),
            router: crate::serving::customer_router,
        },
        FunctionSpec {
            name: "recommend-similar",
            function_json: include_str!("../bindings/recommend-similar/function.json"),
            router: crate::serving::similar_router,
        },
        FunctionSpec {
            name: "recommend-cart",
            function_json: include_str!("../bindings/recommend-cart/function.json"),
            router: crate::serving::cart_router,
        },
        FunctionSpec {
            name: "segments",
            function_json: include_str!("../bindings/segments/function.json"),
            router: crate::serving::segments_router,
        },
        FunctionSpec {
            name: "forecasts",
            function_json: include_str!("../bindings/forecasts/function.json"),
            router: crate::serving::forecasts_router,
        },
        FunctionSpec {
            name: "models",
            function_json: include_str!("../bindings/models/function.json"),
            router: crate::serving::models_router,
        },
        FunctionSpec {
            name: "retrain",
            function_json: include_str!("../bindings/retrain/function.json"),
            router: crate::retrain::router,
        },
        FunctionSpec {
            name: "alerts",
            function_json: include_str!("../bindings/alerts/function.json"),
            router: crate::alerts::alerts_router,
        },
        FunctionSpec {
            name: "inventory-alert",
            function_json: include_str!("../bindings/inventory-alert/function.json"),
            router: crate::alerts::inventory_alert_router,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> RetryPolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_retrain_runs_again_four_times_the_first_after_its_crashed_runs_lease_has_expired() {
        let retrain = registry().into_iter().find(|f| f.name == "retrain").unwrap();
        let retry = retrain.parsed().unwrap().retry.expect("retrain has a retry policy");
        let waits = retry.delays().unwrap();
        let minutes: Vec<u64> = waits.iter().map(|d| d.as_secs() / 60).collect();
        assert_eq!(minutes, [3, 6, 9, 15]);
        // A run killed mid-way keeps its lease until it expires; a run again before then would be
        // answered "busy" as done, and the host would stop trying.
        let lease = u64::try_from(shopsense::train::TrainOptions::default().lease_seconds).unwrap();
        assert!(waits[0].as_secs() > lease, "{waits:?} against a lease of {lease} s");
        // No other function has one: the blob trigger retries from its queue, Event Grid from
        // its subscription, and HTTP callers themselves.
        for spec in registry().into_iter().filter(|f| f.name != "retrain") {
            assert_eq!(spec.parsed().unwrap().retry, None, "{}", spec.name);
        }
    }

    #[test]
    fn waits_double_up_to_the_maximum_or_stay_fixed() {
        let exponential = policy(
            r#"{"strategy": "exponentialBackoff", "maxRetryCount": 5,
                "minimumInterval": "00:00:10", "maximumInterval": "00:00:45"}"#,
        );
        let secs: Vec<u64> = exponential.delays().unwrap().iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [10, 20, 30, 45, 45]);
        let fixed = policy(r#"{"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "01:00:00"}"#);
        assert_eq!(fixed.delays().unwrap(), [Duration::from_secs(3600); 2]);
    }

    #[test]
    fn a_policy_missing_its_interval_or_with_a_bad_one_is_refused_naming_it() {
        let missing = policy(r#"{"strategy": "fixedDelay", "maxRetryCount": 2}"#);
        assert!(missing.delays().unwrap_err().contains("delayInterval"));
        let bad = policy(r#"{"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "5 minutes"}"#);
        assert!(bad.delays().unwrap_err().contains("\"5 minutes\" is not hh:mm:ss"));
        let upside_down = policy(
            r#"{"strategy": "exponentialBackoff", "maxRetryCount": 1,
                "minimumInterval": "00:10:00", "maximumInterval": "00:01:00"}"#,
        );
        assert!(upside_down.delays().is_err());
        assert!(
            serde_json::from_str::<RetryPolicy>(r#"{"strategy": "fixedDelay", "maxRetryCount": -1}"#)
                .is_err()
        );
    }
}
