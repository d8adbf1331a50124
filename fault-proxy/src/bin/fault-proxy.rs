//! `fault-proxy --upstream http://127.0.0.1:8000 [--latency-ms 5] [--rate throttling=0.05] …`
//! Prints `listening http://127.0.0.1:PORT` once it accepts connections, and the fault
//! counts when it is stopped (SIGINT or SIGTERM).

use clap::Parser;
use fault_proxy::{parse_rate, Fault, FaultConfig, FaultProxy};
use std::time::Duration;

/// A loopback proxy in front of a local DynamoDB server that injects DynamoDB's failures.
#[derive(Parser)]
#[command(version)]
struct Options {
    /// The server to forward to: http:// on a loopback address.
    #[arg(long)]
    upstream: String,
    /// The loopback port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seeds the generator that picks faults and jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    latency_ms: f64,
    /// Up to this much more latency, uniformly drawn per request, in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    jitter_ms: f64,
    /// FAULT=RATE for fresh requests, e.g. throttling=0.05 (repeatable).
    #[arg(long = "rate", value_parser = parse_rate)]
    rates: Vec<(Fault, f64)>,
    /// FAULT=RATE for retries of calls whose response was lost (repeatable).
    #[arg(long = "after-loss", value_parser = parse_rate)]
    after_loss: Vec<(Fault, f64)>,
    /// Only these operations get faults (repeatable; all when none is given).
    #[arg(long = "only")]
    operations: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let config = FaultConfig {
        seed: options.seed,
        latency: Duration::from_secs_f64(options.latency_ms.max(0.0) / 1000.0),
        jitter: Duration::from_secs_f64(options.jitter_ms.max(0.0) / 1000.0),
        rates: options.rates,
        after_loss: options.after_loss,
        operations: options.operations,
        limit: None,
    };
    let proxy = FaultProxy::start_on(&options.upstream, config, options.port).await?;
    println!("listening {}", proxy.endpoint());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("fault-proxy: {}", proxy.counts());
    Ok(())
}
