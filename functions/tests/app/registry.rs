//! Every `function.json` in the repo has a route in `app()`, and every registered function has
//! its `function.json`; trigger routes use the invoke protocol, HTTP routes live under `/api`.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use shopsense::registry::{ModelKind, VersionRecord, VersionStatus};
use shopsense_functions::functions::{FunctionJson, registry};

use crate::support::{crate_dir, get, local_app, post, send};

fn function_json_folders() -> BTreeSet<String> {
    std::fs::read_dir(crate_dir().join("bindings"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("function.json").is_file())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect()
}

#[test]
fn the_registry_and_the_function_json_folders_name_the_same_functions() {
    let registered: BTreeSet<String> = registry().iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(registered, function_json_folders());
    for spec in registry() {
        let on_disk =
            std::fs::read_to_string(crate_dir().join("bindings").join(spec.name).join("function.json"))
                .unwrap();
        assert_eq!(spec.function_json, on_disk, "{} embeds its own function.json", spec.name);
        let parsed: FunctionJson = serde_json::from_str(&on_disk).unwrap();
        let triggers = parsed.bindings.iter().filter(|b| b.kind.ends_with("Trigger")).count();
        assert_eq!(triggers, 1, "{} has exactly one trigger", spec.name);
    }
}

#[test]
fn trigger_bindings_use_the_names_the_invoke_extractor_reads() {
    for spec in registry() {
        let trigger = spec.trigger().unwrap();
        let expected = match trigger.kind.as_str() {
            "httpTrigger" => "req",
            "timerTrigger" => "timer",
            "blobTrigger" => "blob",
            "eventGridTrigger" => "event",
            other => panic!("{}: unexpected trigger type {other}", spec.name),
        };
        assert_eq!(trigger.name, expected, "{}: binding name", spec.name);
        if trigger.kind == "blobTrigger" {
            assert_eq!(
                trigger.text("source"),
                Some("EventGrid"),
                "{}: Flex Consumption needs EventGrid",
                spec.name
            );
        }
    }
}

#[tokio::test]
async fn every_function_json_has_a_route_in_app() {
    let (_home, _state, app) = local_app().await;
    for spec in registry() {
        let trigger = spec.trigger().unwrap();
        if trigger.kind == "httpTrigger" {
            let route = trigger.text("route").expect("http functions name their route");
            let path = format!(
                "/api/{}",
                route
                    .split('/')
                    .map(|s| if s.starts_with('{') { "x" } else { s })
                    .collect::<Vec<_>>()
                    .join("/")
            );
            let methods = trigger.rest["methods"].as_array().unwrap().clone();
            for method in methods {
                let method = method.as_str().unwrap().to_uppercase();
                let request =
                    Request::builder().method(method.as_str()).uri(&path).body(Body::empty()).unwrap();
                let (status, body) = send(&app, request).await;
                assert_ne!(body["error"], "route_not_found", "{method} {path} of {} is routed", spec.name);
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} of {}", spec.name);
            }
        } else {
            // The invoke extractor answers a body-less invoke with its own 400: the route exists.
            let (status, body) = send(&app, post(&format!("/{}", spec.name), "{}")).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_invoke_payload")),
                "{}",
                spec.name
            );
        }
    }
}

#[test]
fn every_get_function_lets_the_host_pass_head_through() {
    // The host answers a method a function.json does not list itself, before the handler, which
    // answers HEAD as its GET (validators, no body).
    for spec in registry() {
        let trigger = spec.trigger().unwrap();
        let Some(methods) = trigger.rest.get("methods").and_then(|m| m.as_array()) else { continue };
        let methods: Vec<&str> = methods.iter().filter_map(|m| m.as_str()).collect();
        if methods.contains(&"get") {
            assert!(methods.contains(&"head"), "{}: {methods:?}", spec.name);
        }
    }
}

#[test]
fn every_http_route_but_health_needs_a_function_key_in_azure() {
    for spec in registry() {
        let trigger = spec.trigger().unwrap();
        if trigger.kind == "httpTrigger" {
            let expected = if spec.name == "health" { "anonymous" } else { "function" };
            assert_eq!(trigger.text("authLevel"), Some(expected), "{}", spec.name);
        }
    }
}

#[tokio::test]
async fn unknown_routes_get_a_json_404_and_the_readiness_probe_answers() {
    let (_home, _state, app) = local_app().await;
    let (status, body) = send(&app, post("/NoSuchFunction", "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "route_not_found");
    assert!(body["message"].as_str().unwrap().contains("/NoSuchFunction"));
    let (status, _) = send(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, health) = send(&app, get("/api/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["backend"], "local");
}

#[tokio::test]
async fn before_any_model_is_live_every_serving_route_answers_503_saying_to_train_or_what_the_gate_said() {
    let (_home, state, app) = local_app().await;
    for request in [
        get("/api/recommendations/customers/17850?k=5"),
        get("/api/recommendations/items/22423/similar"),
        post("/api/recommendations/cart", r#"{"items": ["22423"]}"#),
        get("/api/segments/17850"),
        get("/api/forecasts/22423"),
    ] {
        let path = request.uri().to_string();
        let (status, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["error"], "no_model", "{path}");
        assert!(body["message"].as_str().unwrap().contains("shopsense train"), "{path}: {body}");
    }
    // A model comes with a retrain, not on the next try a slow store's 5 s would ask for.
    {
        use tower::ServiceExt;
        let answer = app.clone().oneshot(get("/api/segments/17850")).await.unwrap();
        assert_eq!(answer.headers()["retry-after"], "60");
    }
    // Once its gate rejected a version, the advice is what the gate said and how to serve it.
    let now = chrono::Utc::now();
    let rejected = VersionRecord {
        kind: ModelKind::Segments,
        version: "20261127T000000000Z-abcdef".to_owned(),
        status: VersionStatus::Rejected,
        created_at: now,
        updated_at: now,
        metrics: json!({"silhouette": 0.2}),
        gate: Some(serde_json::from_value(json!({"passed": false, "checks": []})).unwrap()),
        reason: Some("gate failed: needs silhouette >= floor (value 0.2000, bound 0.2500)".to_owned()),
        published: false,
        documents: 0,
        drift: None,
        metric_trend: Vec::new(),
        retired_by: None,
    };
    state.trainer.registry().save_record(&rejected).await.unwrap();
    let (status, body) = send(&app, get("/api/segments/17850")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["message"],
        "no segments model is live yet: its newest version 20261127T000000000Z-abcdef was rejected (gate failed: \
         needs silhouette >= floor (value 0.2000, bound 0.2500)); fix the data and retrain, or `shopsense models \
         promote 20261127T000000000Z-abcdef` serves it anyway"
    );
    // A run that stopped is not a verdict on the model.
    let stopped = VersionRecord {
        version: "20261127T000001000Z-abcdef".to_owned(),
        gate: None,
        reason: Some("interrupted: its run stopped before its gates judged it".to_owned()),
        ..rejected
    };
    state.trainer.registry().save_record(&stopped).await.unwrap();
    let (_, body) = send(&app, get("/api/segments/17850")).await;
    assert_eq!(
        body["message"],
        "no segments model is live yet: its newest version 20261127T000001000Z-abcdef did not go live \
         (interrupted: its run stopped before its gates judged it); the next retrain tries again"
    );
    // The open alerts are a list, empty, with a warning: nothing was judged, nothing is clear.
    let (status, body) = send(&app, get("/api/alerts")).await;
    assert_eq!((status, body["count"].as_u64()), (StatusCode::OK, Some(0)), "{body}");
    assert!(
        body["warning"].as_str().unwrap().starts_with("no inventory snapshot is the latest yet"),
        "{body}"
    );
    // Asked for SKUs, each stands nowhere yet.
    let (_, body) = send(&app, get("/api/alerts?sku=22423,85123a")).await;
    assert_eq!(
        body["skus"],
        json!([
            {"sku": "22423", "status": "not_counted", "snapshot_id": null, "as_of": null},
            {"sku": "85123A", "status": "not_counted", "snapshot_id": null, "as_of": null}
        ]),
        "{body}"
    );
}

#[tokio::test]
async fn a_method_a_route_does_not_take_and_a_body_over_the_limit_get_json_4xx() {
    let (_home, _state, app) = local_app().await;
    let request = Request::delete("/api/recommendations/customers/17850").body(Body::empty()).unwrap();
    let (status, body) = send(&app, request).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("DELETE") && message.contains("GET"), "{message}");
    let (status, body) = send(&app, get("/api/recommendations/cart")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["message"].as_str().unwrap().contains("POST"), "{body}");
    let huge = format!(r#"{{"items": ["{}"]}}"#, "9".repeat(3 << 20));
    let (status, body) = send(&app, post("/api/recommendations/cart", huge)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
}

#[test]
fn the_shipped_local_settings_example_parses_and_chooses_the_local_backend() {
    let path = crate_dir().join("../local.settings.example.json");
    let file = shopsense::settings::read_local_settings(&path).unwrap();
    assert_eq!(file.host.cors.as_deref(), Some("http://localhost:3000"), "the example shows CORS");
    let values = file.values;
    assert_eq!(values["FUNCTIONS_WORKER_RUNTIME"], "custom");
    let settings = shopsense::settings::Settings::from_values(values, None).unwrap();
    assert_eq!(settings.backend, shopsense::settings::Backend::Local, "blank identity settings mean local");
}

#[test]
fn host_json_starts_this_binary_with_serve_and_forwards_http() {
    let host: serde_json::Value =
        serde_json::from_slice(&std::fs::read(crate_dir().join("../host.json")).unwrap()).unwrap();
    let handler = &host["customHandler"];
    assert_eq!(handler["description"]["defaultExecutablePath"], "shopsense");
    assert_eq!(handler["description"]["arguments"], serde_json::json!(["serve"]));
    assert_eq!(handler["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api", "HTTP routes live under /api");
}

#[tokio::test]
async fn a_retrain_that_cannot_run_is_answered_as_done_with_the_line_the_alert_rules_look_for() {
    // Nothing ingested: a permanent failure, answered 200 so that the host does not run it again
    // (its retry policy is for transient failures), logged under the prefix infra/ alerts on.
    let (_home, _state, app) = local_app().await;
    let payload = shopsense_functions::local::timer_payload("retrain", false, "", "");
    let (status, body) = send(&app, post("/retrain", payload.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let logs: Vec<&str> = body["Logs"].as_array().unwrap().iter().filter_map(|l| l.as_str()).collect();
    let failed = format!("{}: ", shopsense_functions::retrain::FAILED);
    assert!(logs.iter().any(|l| l.starts_with(&failed)), "{logs:#?}");
}
