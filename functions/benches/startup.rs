//! Cold-start benchmark: how long from process start until `shopsense serve` answers the host's
//! readiness probe (`GET /`), started exactly as the Functions host starts it
//! (`FUNCTIONS_CUSTOMHANDLER_PORT` set, local backends in a fresh home).
//!
//! `cargo bench -p shopsense-functions --bench startup [-- RUNS]` prints a table. The goal is
//! < 200 ms; it is measured here, never asserted in a test.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn probe(addr: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(50)).ok()?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn one_start() -> Duration {
    let home = tempfile::tempdir().expect("temp home");
    let port =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("free port").local_addr().expect("addr").port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopsense"))
        .current_dir(home.path())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("SHOPSENSE_HOME", home.path())
        .env("SHOPSENSE_BACKEND", "local")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start shopsense");
    let elapsed = loop {
        if probe(addr) == Some(200) {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "shopsense did not answer GET / within 60 s");
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let _warm_file_cache = one_start();
    let mut times: Vec<f64> = (0..runs).map(|_| one_start().as_secs_f64() * 1000.0).collect();
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "shopsense serve: process start -> first 200 on GET / ({runs} runs, {})",
        env!("CARGO_BIN_EXE_shopsense")
    );
    println!("| statistic | ms |");
    println!("|---|---|");
    for (name, value) in [("min", pick(0.0)), ("median", pick(0.5)), ("p95", pick(0.95)), ("max", pick(1.0))]
    {
        println!("| {name} | {value:.1} |");
    }
    println!("| goal | < 200 |");
}
