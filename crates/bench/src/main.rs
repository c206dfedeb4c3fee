//! confab-bench: Confab against its peers in one run, as ratios (the machine is noisy; absolute
//! numbers swing 2× between runs, ratios measured side by side do not).
//!
//! - [`procs`]: the servers under test as processes; CPU and RSS from /proc.
//! - [`bare`]: the naive-limit peer, a bare tokio broadcast loop (`confab-bench bare-server`).
//! - [`fanout`]: one room, many subscribers, a fixed publish rate; latency and CPU cost.
//! - [`idle`]: resident memory per idle connection.
//! - [`storm`]: a reconnect storm: the server restarted under many clients.
//! - [`report`]: the table printed and written to docs/bench.md, with an SVG chart.
//!
//! `scripts/bench.sh` builds everything and runs this; `--quick` is CI's smoke run.

mod bare;
mod fanout;
mod idle;
mod procs;
mod report;
mod storm;

use anyhow::Result;
use clap::{Parser, Subcommand};
use procs::Kind;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks Confab against peers in the same run (docs/bench.md)")]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// A tiny configuration that only proves the bench still runs (CI).
    #[arg(long)]
    quick: bool,
    /// Rounds of each measurement; servers alternate order between rounds; medians reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages published per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds measured per fan-out run (after one second of warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Idle connections for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Run only these scenarios (fanout, idle, storm); all by default. Writes no report.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Clients in the reconnect storm.
    #[arg(long, default_value_t = 10_000)]
    storm: usize,
    /// Where confab-server (a release build) is.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The Node peer's folder (with node_modules installed).
    #[arg(long, default_value = "crates/bench/peers")]
    peers: PathBuf,
    /// Write the report here (markdown, plus an SVG chart beside it).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the bare tokio broadcast server (a peer; started by the bench itself).
    BareServer,
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.rounds = 1;
        args.subscribers = 20;
        args.rate = 50;
        args.seconds = 1.0;
        args.idle = 100;
        args.storm = 50;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(Cmd::BareServer) = args.cmd {
        return runtime.block_on(bare::serve());
    }
    runtime.block_on(bench(args))
}

async fn bench(args: Args) -> Result<()> {
    let load = fanout::Load {
        subscribers: args.subscribers,
        rate: args.rate,
        body_bytes: 100,
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs_f64(args.seconds),
    };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let kinds = [Kind::Confab, Kind::NodeWs, Kind::Bare];
    let mut fan = Vec::new();
    let mut idle = Vec::new();
    let rounds = if wanted("fanout") { args.rounds } else { 0 };
    for round in 0..rounds {
        // A, B, C then C, B, A: drift in the machine's speed hits every server alike.
        let order: Vec<Kind> = if round % 2 == 0 {
            kinds.to_vec()
        } else {
            kinds.iter().rev().copied().collect()
        };
        for kind in order {
            let server = procs::start(kind, &args.bin_dir, &args.peers).await?;
            let outcome = fanout::run(&server, load).await?;
            report::progress_fanout(round, &outcome);
            // A bench that silently stopped delivering would still "pass" the smoke run.
            anyhow::ensure!(
                outcome.deliveries * 10 >= outcome.expected * 9,
                "{} delivered {} of {} expected frames",
                kind.name(),
                outcome.deliveries,
                outcome.expected
            );
            drop(server); // kills and reaps it
            fan.push((round, outcome));
        }
    }
    for kind in [Kind::Confab, Kind::NodeWs]
        .into_iter()
        .filter(|_| wanted("idle"))
    {
        let server = procs::start(kind, &args.bin_dir, &args.peers).await?;
        let outcome = idle::run(&server, args.idle).await?;
        report::progress_idle(&outcome);
        drop(server);
        idle.push(outcome);
    }
    if !wanted("storm") {
        return Ok(());
    }
    let storm = storm::run(&args.bin_dir, &args.peers, args.storm).await?;
    report::progress_storm(&storm);
    anyhow::ensure!(
        storm.lost == 0,
        "{} messages lost in the reconnect storm",
        storm.lost
    );
    if !args.only.is_empty() {
        return Ok(());
    }
    let summary = report::Summary::new(&load, &fan, &idle, &storm);
    let table = summary.markdown();
    #[allow(clippy::print_stdout)]
    {
        println!("\n{table}");
    }
    if let Some(out) = args.out {
        summary.write(&out)?;
    }
    Ok(())
}
