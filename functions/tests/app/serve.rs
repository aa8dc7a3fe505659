//! `serve` on a real socket: readiness, graceful shutdown with in-flight requests, the
//! binary started the way the Functions host starts it, and `local` with its `Host` settings.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use shopsense_functions::host;

use crate::support::local_app;

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, &[]).await
}

/// One request with extra headers; the status and the whole answer (head and body).
async fn http_request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response)
}

#[tokio::test]
async fn serve_answers_the_readiness_probe_and_drains_in_flight_requests_on_shutdown() {
    let (_home, _state, app) = local_app().await;
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        }),
    );
    let router = app.merge(slow);
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(host::serve(
        router,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        move |addr| bound_tx.send(addr).unwrap(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = bound_rx.await.unwrap();
    let (status, body) = http_get(addr, "/").await;
    assert_eq!(status, 200, "{body}");

    let in_flight = tokio::spawn(http_get(addr, "/slow"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop_tx.send(()).unwrap();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the in-flight request finishes during shutdown");
    assert!(body.ends_with("done"));
    tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "the port is released after shutdown");
}

#[test]
fn the_binary_started_like_the_host_starts_it_listens_on_the_given_port_and_stops_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopsense"))
        .current_dir(home.path())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("SHOPSENSE_HOME", home.path())
        .env_remove("SHOPSENSE_BACKEND")
        .env_remove("ShopsenseStorage")
        .env_remove("ShopsenseCosmos")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ready = loop {
        if TcpStream::connect(addr).is_ok() {
            break runtime.block_on(http_get(addr, "/")).0;
        }
        assert!(Instant::now() < deadline, "the binary did not listen on {addr}");
        assert!(child.try_wait().unwrap().is_none(), "the binary exited early");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(ready, 200);
    let (status, health) = runtime.block_on(http_get(addr, "/api/health"));
    assert_eq!(status, 200);
    assert!(health.contains("\"backend\":\"local\""), "{health}");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM, got {exit}");
}

/// `shopsense local` in `dir` (its `local.settings.json` read from there), bare, on its own home.
fn local_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shopsense"));
    command
        .current_dir(dir)
        .args(["local", "--no-demo"])
        .env("SHOPSENSE_HOME", dir.join("home"))
        .env_remove("SHOPSENSE_BACKEND")
        .env_remove("ShopsenseStorage")
        .env_remove("ShopsenseCosmos")
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT");
    command
}

#[test]
fn local_reads_its_port_and_browser_origins_from_the_host_section_of_local_settings() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let host = format!(
        r#"{{"Values": {{}}, "Host": {{"LocalHttpPort": {port}, "CORS": "http://localhost:3000"}}}}"#
    );
    std::fs::write(dir.path().join("local.settings.json"), host).unwrap();
    let mut child = local_command(dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "shopsense local did not listen on Host.LocalHttpPort {port}");
        assert!(child.try_wait().unwrap().is_none(), "shopsense local exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let preflight = [
        ("Origin", "http://localhost:3000"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ];
    let (status, answer) =
        runtime.block_on(http_request(addr, "OPTIONS", "/api/recommendations/cart", &preflight));
    let head = answer.to_ascii_lowercase();
    assert_eq!(status, 200, "{answer}");
    assert!(head.contains("access-control-allow-origin: http://localhost:3000"), "{answer}");
    assert!(head.contains("access-control-allow-methods:") && head.contains("post"), "{answer}");
    assert!(head.contains("access-control-allow-headers: content-type"), "{answer}");

    // The invocation routes the host and timers call are not the browser's.
    let retrain = [("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "POST")];
    let (_, answer) = runtime.block_on(http_request(addr, "OPTIONS", "/retrain", &retrain));
    assert!(!answer.to_ascii_lowercase().contains("access-control-allow-origin"), "{answer}");
    let (status, answer) =
        runtime.block_on(http_request(addr, "GET", "/api/health", &[("Origin", "http://localhost:3000")]));
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("access-control-allow-origin: http://localhost:3000"),
        "{answer}"
    );
    // Routes with a path parameter answer as without CORS (no model is live: 503).
    for path in ["/api/recommendations/items/85123A/similar", "/api/segments/17850", "/api/forecasts/85123A"]
    {
        let (status, answer) =
            runtime.block_on(http_request(addr, "GET", path, &[("Origin", "http://localhost:3000")]));
        assert_eq!(status, 503, "{path}: {answer}");
        assert!(answer.contains("no_model"), "{path}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("access-control-allow-origin"), "{path}: {answer}");
    }
    let (status, answer) =
        runtime.block_on(http_request(addr, "GET", "/api/health", &[("Origin", "http://evil.example")]));
    assert_eq!(status, 200, "the answer itself is the same; the browser withholds it");
    assert!(!answer.to_ascii_lowercase().contains("access-control-allow-origin"), "{answer}");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn local_refuses_a_cors_entry_that_is_not_an_origin_naming_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let host = r#"{"Host": {"LocalHttpPort": 1, "CORS": "http://localhost:3000/app"}}"#;
    std::fs::write(dir.path().join("local.settings.json"), host).unwrap();
    let output = local_command(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("local.settings.json Host.CORS"), "{stderr}");
    assert!(stderr.contains("\"http://localhost:3000/app\" is not an origin"), "{stderr}");
    let output = local_command(dir.path()).args(["--cors", "*", "--cors-credentials"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--cors") && stderr.contains("cannot go with credentials"), "{stderr}");
}
