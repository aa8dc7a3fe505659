//! `serve` on a real socket: readiness, graceful shutdown with in-flight requests, and the
//! binary started the way the Functions host starts it.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use shopsense_functions::host;

use crate::support::local_app;

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
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
