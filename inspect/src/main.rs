//! `es-inspect`: the command line of the table inspector. See `es-inspect --help`.
#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use eventsourcing_inspect::{InspectError, Inspector, Overrides, ScanProgress};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;
use uuid::Uuid;

/// Reads and verifies a DynamoDB table of eventsourcing-dynamodb.
///
/// The connection comes from the environment, as applications read it (DYNAMO_TABLE,
/// DYNAMO_ENDPOINT_URL, the AWS settings; COMPRESSOR_TOPIC, CIPHER_TOPIC, CIPHER_KEY for
/// states); the flags override it. Output is JSON, one object a line, on stdout.
///
/// Exit status: 0 done (verify: no problems), 1 verify found problems, 2 error.
#[derive(Debug, Parser)]
#[command(name = "es-inspect", version)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Connection {
    /// The table (default: $DYNAMO_TABLE).
    #[arg(long, global = true)]
    table: Option<String>,
    /// The endpoint, e.g. http://localhost:8000 (default: $DYNAMO_ENDPOINT_URL, else AWS).
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// Read APP_-prefixed variables too, as application APP does (e.g. SHOP_CIPHER_KEY).
    #[arg(long, global = true)]
    app: Option<String>,
    /// Ask for at most this many items per Query/Scan page (default: DynamoDB's 1 MB pages).
    #[arg(long, global = true)]
    page_size: Option<u32>,
    /// Scan the table in this many parallel segments (trackers, verify).
    #[arg(long, global = true, default_value_t = 1)]
    segments: u32,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// An aggregate's events, state decoded to JSON: one line per event.
    History {
        /// The aggregate's UUID.
        id: Uuid,
        /// The first version to show.
        #[arg(long, default_value_t = 1)]
        from: u64,
    },
    /// The notification log from a position: one line per notification.
    Log {
        /// The first notification id to show.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// At most this many notifications (with --follow: before stopping).
        #[arg(long)]
        limit: Option<usize>,
        /// Keep polling for new notifications until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// Seconds between polls with --follow.
        #[arg(long, default_value_t = 1.0)]
        poll: f64,
    },
    /// Every follower tracked in the table: upstream, position and lag (scans the table).
    Trackers {
        /// Where an upstream's log is, as NAME=TABLE (repeatable). Default: the table in
        /// NAME_DYNAMO_TABLE (NAME upper-cased), else this table.
        #[arg(long = "upstream", value_name = "NAME=TABLE", value_parser = parse_upstream)]
        upstreams: Vec<(String, String)>,
    },
    /// The log writer's state: last id and number of log items.
    Writer,
    /// Scans the whole table and checks the log against the events.
    Verify {
        /// List at most this many problems (all are counted).
        #[arg(long, default_value_t = 100)]
        max_problems: usize,
        /// Print the report as one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_upstream(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, table)) if !name.is_empty() && !table.is_empty() => {
            Ok((name.to_owned(), table.to_owned()))
        }
        _ => Err(format!("expected NAME=TABLE, got {text:?}")),
    }
}

fn print_json(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), InspectError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A progress bar on stderr (drawn only when stderr is a terminal), of `estimate` items when
/// DynamoDB gave one (`DescribeTable`; a failure there, e.g. no permission, only costs the bar
/// its length: the scan's own errors are reported).
fn progress_bar(estimate: Option<u64>) -> ProgressBar {
    match estimate {
        Some(total) => {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} scanning {pos}/~{len} items [{bar:30}] {per_sec} {elapsed}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} scanning {pos} items {per_sec} {elapsed}")
            {
                bar.set_style(style);
            }
            bar
        }
    }
}

fn on_page(bar: &ProgressBar) -> impl FnMut(ScanProgress) + '_ {
    move |progress: ScanProgress| {
        // DynamoDB's estimate may be behind: grow the bar rather than overflow it.
        if bar.length().is_some_and(|len| progress.items > len) {
            bar.set_length(progress.items);
        }
        bar.set_position(progress.items);
    }
}

async fn run(cli: Cli) -> Result<ExitCode, InspectError> {
    let overrides = Overrides {
        app: cli.connection.app,
        table: cli.connection.table,
        endpoint_url: cli.connection.endpoint_url,
    };
    let env = overrides.environment();
    let mut inspector = Inspector::from_env(&env).await?;
    if let Some(items) = cli.connection.page_size {
        inspector = inspector.with_page_size(items);
    }
    inspector = inspector.with_segments(cli.connection.segments);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match cli.command {
        Command::History { id, from } => {
            for entry in inspector.history(id, from).await? {
                print_json(&mut out, &entry)?;
            }
        }
        Command::Log { from, limit, follow: false, .. } => {
            // Page by page, so that a long log streams out rather than piling up in memory.
            const PAGE: usize = 1000;
            let (mut next, mut left) = (from, limit);
            loop {
                let wanted = left.map_or(PAGE, |left| left.min(PAGE));
                if wanted == 0 {
                    break;
                }
                let lines = inspector.log(next, Some(wanted)).await?;
                for line in &lines {
                    print_json(&mut out, line)?;
                }
                match lines.last() {
                    Some(last) if lines.len() == wanted => {
                        next = last.id.saturating_add(1);
                        left = left.map(|left| left - lines.len());
                    }
                    _ => break,
                }
            }
        }
        Command::Log { from, limit, follow: true, poll } => {
            let poll = Duration::try_from_secs_f64(poll).unwrap_or(Duration::from_secs(1));
            let stop = async {
                // If the signal handler cannot be installed, follow until killed.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            let mut shown = 0usize;
            inspector
                .follow_log(from, poll, stop, |line| {
                    print_json(&mut out, line)?;
                    out.flush()?;
                    shown += 1;
                    Ok(match limit {
                        Some(limit) if shown >= limit => ControlFlow::Break(()),
                        _ => ControlFlow::Continue(()),
                    })
                })
                .await?;
        }
        Command::Trackers { upstreams } => {
            let bar = progress_bar(inspector.estimated_items().await.ok().flatten());
            let log_table_of = |upstream: &str| {
                upstreams
                    .iter()
                    .find(|(name, _)| name == upstream)
                    .map(|(_, table)| table.clone())
                    .or_else(|| {
                        eventsourcing_runtime::environment::Environment::new(
                            upstream,
                            Default::default(),
                        )
                        .setting("DYNAMO_TABLE")
                        .filter(|s| s.variable != "DYNAMO_TABLE")
                        .map(|s| s.value)
                    })
            };
            let trackers = inspector.trackers(&log_table_of, &mut on_page(&bar)).await;
            bar.finish_and_clear();
            for tracker in trackers? {
                print_json(&mut out, &tracker)?;
            }
        }
        Command::Writer => print_json(&mut out, &inspector.writer().await?)?,
        Command::Verify { max_problems, json } => {
            let bar = progress_bar(inspector.estimated_items().await.ok().flatten());
            let report = inspector.verify(max_problems, &mut on_page(&bar)).await;
            bar.finish_and_clear();
            let report = report?;
            if json {
                print_json(&mut out, &report)?;
            } else {
                let s = &report.summary;
                writeln!(
                    out,
                    "table {}: {} items, {} events of {} aggregates, {} log entries (last id {}), \
                     {} tracking items, {} snapshots",
                    inspector.table(),
                    s.items,
                    s.events,
                    s.aggregates,
                    s.log_entries,
                    s.last_id,
                    s.tracking_items,
                    s.snapshots
                )?;
                if report.is_clean() {
                    writeln!(
                        out,
                        "ok: every event is in the log once, in order, ids 1..{} without gaps",
                        s.last_id
                    )?;
                } else {
                    let counts: Vec<String> = report
                        .problem_counts
                        .iter()
                        .map(|(kind, n)| format!("{kind}: {n}"))
                        .collect();
                    writeln!(out, "{} problems ({})", report.problems_total, counts.join(", "))?;
                    for problem in &report.problems {
                        writeln!(out, "  {problem}")?;
                    }
                    if report.is_truncated() {
                        writeln!(
                            out,
                            "  … and {} more (--max-problems to list more)",
                            report.problems_total - report.problems.len() as u64
                        )?;
                    }
                }
            }
            out.flush()?;
            return Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors; usage errors exit with 2, as errors do.
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match run(cli).await {
        Ok(code) => code,
        Err(InspectError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("es-inspect: {error}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_subcommands_and_global_flags() {
        let cli = Cli::try_parse_from([
            "es-inspect",
            "verify",
            "--table",
            "t",
            "--segments",
            "4",
            "--max-problems",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.connection.table.as_deref(), Some("t"));
        assert_eq!(cli.connection.segments, 4);
        assert!(matches!(cli.command, Command::Verify { max_problems: 5, json: false }));
        let cli =
            Cli::try_parse_from(["es-inspect", "trackers", "--upstream", "Orders=orders-table"])
                .unwrap();
        let Command::Trackers { upstreams } = cli.command else { panic!("not trackers") };
        assert_eq!(upstreams, [("Orders".to_owned(), "orders-table".to_owned())]);
        assert!(Cli::try_parse_from(["es-inspect", "trackers", "--upstream", "Orders"]).is_err());
        assert!(Cli::try_parse_from(["es-inspect", "history", "not-a-uuid"]).is_err());
    }
}
