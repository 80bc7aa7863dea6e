//! The simulator as a process, for poking at it by hand or from another tool:
//!
//! ```text
//! spapi-sim [--addr 127.0.0.1:0] [--sellers 3] [--orders 100] [--seed 1] [--clock-speed 1]
//! spapi-sim --config sim.json
//! ```
//!
//! Prints one JSON line (`base_url`, `lwa_token_url`, the app and sellers it accepts), then
//! serves until SIGINT or SIGTERM. Admin endpoints live under `/_sim/`.

use spapi_sim::{SimConfig, Simulator};
use std::net::SocketAddr;
use std::process::ExitCode;

fn usage(problem: &str) -> ExitCode {
    eprintln!("spapi-sim: {problem}");
    eprintln!(
        "usage: spapi-sim [--addr 127.0.0.1:0] [--sellers N] [--orders N] [--seed N] [--clock-speed X] | --config FILE"
    );
    ExitCode::from(2)
}

#[tokio::main]
#[allow(clippy::print_stdout)] // the address line is this program's output
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut addr, mut sellers, mut orders, mut seed, mut speed, mut file) = (
        "127.0.0.1:0".to_owned(),
        3usize,
        100usize,
        1u64,
        1.0f64,
        None,
    );
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        let ok = match flag.as_str() {
            "--addr" => {
                addr = value.clone();
                true
            }
            "--sellers" => value.parse().map(|v| sellers = v).is_ok(),
            "--orders" => value.parse().map(|v| orders = v).is_ok(),
            "--seed" => value.parse().map(|v| seed = v).is_ok(),
            "--clock-speed" => value.parse().map(|v| speed = v).is_ok(),
            "--config" => {
                file = Some(value.clone());
                true
            }
            other => return usage(&format!("unknown flag {other}")),
        };
        if !ok {
            return usage(&format!("bad value for {flag}"));
        }
    }
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        return usage("--addr must be ip:port");
    };
    if !addr.ip().is_loopback() {
        return usage("--addr must be a loopback address");
    }
    let config = match file {
        Some(path) => match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<SimConfig>(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => return usage(&format!("config {path}: {e}")),
        },
        None => SimConfig {
            clock_speed: speed,
            ..SimConfig::demo(sellers, orders, seed)
        },
    };
    let sim = match Simulator::start(config.clone(), addr).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("spapi-sim: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "base_url": sim.base_url(),
            "lwa_token_url": sim.lwa_token_url(),
            "app": config.app,
            "sellers": config.sellers,
        })
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spapi-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}
