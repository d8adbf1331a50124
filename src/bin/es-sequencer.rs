//! `es-sequencer`: the sequencer of a table's sequenced notification log, as a process of
//! its own. Configured like applications (`DYNAMO_TABLE`, `DYNAMO_ENDPOINT_URL`,
//! `DYNAMO_SEQUENCER_LEASE_SECONDS`, the AWS settings; `SEQUENCER_`-prefixed variables win),
//! it takes the table's lease when it is free, writes the log's pages while it holds it,
//! prints its progress every few seconds, and stops on SIGINT or SIGTERM, handing the lease
//! back between two pages so that another sequencer takes over at once. Applications that leave sequencing to it set
//! `DYNAMO_NOTIFICATION_LOG=sequenced` and `DYNAMO_SEQUENCER=false`.

use eventsourcing_dynamodb::dynamodb::{DynamoConfig, DynamoRecorder, NotificationLog};
use eventsourcing_dynamodb::environment::Environment;
use eventsourcing_dynamodb::persistence::ApplicationRecorder;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("es-sequencer: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let env = Environment::new("Sequencer", HashMap::new());
    let mut config = DynamoConfig::from_env(&env)?;
    config.notification_log = NotificationLog::Sequenced;
    config.run_sequencer = true;
    let recorder = DynamoRecorder::connect(config).await?;
    println!("sequencing the notification log of table {}", recorder.table());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                let end = recorder.max_notification_id().await?;
                let progress = recorder.sequencer_progress().unwrap_or_default();
                println!(
                    "leading={} log_end={end} horizon_ms={} oldest_waiting_ms={:?}",
                    progress.leading, progress.horizon, progress.oldest_waiting
                );
            }
        }
    }
    // Handing the lease back, rather than leaving it to expire, is what makes a deploy
    // that replaces this process quick for the log.
    recorder.close().await?;
    println!("stopped; the lease is handed back");
    Ok(())
}
