//! The registry of Azure functions this binary serves: each with its `function.json` (the same
//! file the packaging step copies into the app root) and its router.

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
