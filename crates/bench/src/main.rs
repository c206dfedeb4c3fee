//! confab-bench: Confab against its peers in one run, as ratios (the machine is noisy; absolute
//! numbers swing 2× between runs, ratios measured side by side do not).
//!
//! - [`procs`]: the servers under test as processes; CPU and RSS from /proc.
//! - [`bare`]: the naive-limit peer, a bare tokio broadcast loop (`confab-bench bare-server`).
//! - [`fanout`]: one room, many subscribers, a fixed publish rate; latency and CPU cost.
//! - [`idle`]: resident memory per idle connection.
//! - [`storm`]: a reconnect storm: the server restarted under many clients.
//! - [`nodes`]: several nodes on PostgreSQL + Redis: fan-out on one node against three, and a
//!   node killed under its clients (with `--postgres` and `--redis`).
//! - [`authrate`]: upgrades + authentications per second, in a tight loop from load processes.
//! - [`desktop`]: the desktop app: package size, first paint, memory, idle CPU, socket → screen.
//! - [`client`]: the client core: flushing a big offline outbox after a kill, noticing a dead
//!   peer.
//! - [`search`]: search over a million messages stored through the server, timed per query.
//! - [`report`]: the table printed and written to docs/bench.md, with an SVG chart.
//!
//! `scripts/bench.sh` builds everything and runs this; `--quick` is CI's smoke run.

mod authrate;
mod bare;
mod client;
mod desktop;
mod fanout;
mod idle;
mod nodes;
mod procs;
mod report;
mod search;
mod signins;
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
    /// Run only these scenarios (fanout, idle, nodes, storm, authrate, signins, flush,
    /// deadpeer, search, desktop); all by
    /// default. Writes no report.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Servers in the fan-out rounds (confab, ws, bare); all by default. Leaving one out makes
    /// a partial report, for A/B runs of one server against the bare loop.
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// A PostgreSQL cluster for the several-nodes scenario (scripts/bench.sh starts one).
    #[arg(long, env = "CONFAB_BENCH_POSTGRES")]
    postgres: Option<String>,
    /// The Redis for the several-nodes scenario.
    #[arg(long, env = "CONFAB_BENCH_REDIS")]
    redis: Option<String>,
    /// Clients in the reconnect storm.
    #[arg(long, default_value_t = 10_000)]
    storm: usize,
    /// Seconds counted in the upgrades + auth measurement.
    #[arg(long, default_value_t = 5.0)]
    auth_seconds: f64,
    /// Messages stored for the search measurement.
    #[arg(long, default_value_t = 1_000_000)]
    search_messages: usize,
    /// Timed runs of each search query.
    #[arg(long, default_value_t = 20)]
    search_runs: usize,
    /// Messages queued offline for the client flush.
    #[arg(long, default_value_t = 10_000)]
    flush: usize,
    /// Bad sign-ins in the sign-in flood (64 in flight).
    #[arg(long, default_value_t = 1_000)]
    signins: usize,
    /// The desktop app binary (a release build).
    #[arg(long, default_value = "target/release/confab-desktop")]
    app: PathBuf,
    /// The app's .deb, for its size.
    #[arg(long)]
    deb: Option<PathBuf>,
    /// Seconds the app's idle CPU is measured over.
    #[arg(long, default_value_t = 60.0)]
    idle_secs: f64,
    /// Launches timed for start → first paint (median reported).
    #[arg(long, default_value_t = 5)]
    launches: usize,
    /// The script that drives the app.
    #[arg(long, default_value = "crates/bench/desktop.mjs")]
    desktop_script: PathBuf,
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
    /// A client core in its own process (started by the bench itself).
    ClientWorker(client::WorkerArgs),
    /// Connect + authenticate in a tight loop (started by the bench itself).
    AuthWorker(authrate::WorkerArgs),
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
        args.auth_seconds = 1.0;
        args.flush = 100;
        args.signins = 20;
        args.search_messages = 2_000;
        args.search_runs = 3;
        args.idle_secs = 2.0;
        args.launches = 1;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.cmd.take() {
        Some(Cmd::BareServer) => runtime.block_on(bare::serve()),
        Some(Cmd::ClientWorker(w)) => runtime.block_on(client::worker(w)),
        Some(Cmd::AuthWorker(w)) => runtime.block_on(authrate::worker(w)),
        None => runtime.block_on(bench(args)),
    }
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
    let kinds: Vec<Kind> = [Kind::Confab, Kind::NodeWs, Kind::Bare]
        .into_iter()
        .filter(|k| {
            let short = match k {
                Kind::Confab => "confab",
                Kind::NodeWs => "ws",
                Kind::Bare => "bare",
            };
            args.kinds.is_empty() || args.kinds.iter().any(|n| n == short)
        })
        .collect();
    let mut fan = Vec::new();
    let mut idle = Vec::new();
    let rounds = if wanted("fanout") { args.rounds } else { 0 };
    for round in 0..rounds {
        // A, B, C then C, B, A: drift in the machine's speed hits every server alike.
        let order: Vec<Kind> = if round % 2 == 0 {
            kinds.clone()
        } else {
            kinds.iter().rev().copied().collect()
        };
        for kind in order {
            let server = procs::start(kind, &args.bin_dir, &args.peers).await?;
            let outcome = fanout::run(std::slice::from_ref(&server), load).await?;
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
    // Several nodes need PostgreSQL and Redis; without them the scenario says so and is skipped.
    if wanted("nodes") {
        match (&args.postgres, &args.redis) {
            (Some(postgres), Some(redis)) => {
                let backing = nodes::Backing {
                    postgres: postgres.clone(),
                    redis: redis.clone(),
                };
                let clients = (args.storm / 10).max(30);
                let outcome = nodes::run(&args.bin_dir, &backing, load, clients).await?;
                report::progress_nodes(&load, &outcome);
                anyhow::ensure!(
                    outcome.kill.lost == 0,
                    "{} messages lost when a node was killed",
                    outcome.kill.lost
                );
            }
            _ => eprintln!("nodes · skipped: no --postgres and --redis"),
        }
    }
    let storm = match wanted("storm") {
        true => Some(storm::run(&args.bin_dir, &args.peers, args.storm).await?),
        false => None,
    };
    if let Some(storm) = &storm {
        report::progress_storm(storm);
        anyhow::ensure!(
            storm.lost == 0,
            "{} messages lost in the reconnect storm",
            storm.lost
        );
    }
    let auth = match wanted("authrate") {
        true => Some(authrate::run(&args.bin_dir, &args.peers, 2, args.auth_seconds).await?),
        false => None,
    };
    auth.iter().for_each(report::progress_auth);
    let signins = match wanted("signins") {
        true => Some(signins::run(&args.bin_dir, &args.peers, args.signins).await?),
        false => None,
    };
    signins.iter().for_each(report::progress_signins);
    let flush = match wanted("flush") {
        true => Some(client::flush(&args.bin_dir, &args.peers, args.flush).await?),
        false => None,
    };
    flush.iter().for_each(report::progress_flush);
    let search = match wanted("search") {
        true => {
            let runs = args.search_runs;
            Some(search::run(&args.bin_dir, &args.peers, args.search_messages, runs).await?)
        }
        false => None,
    };
    search.iter().for_each(report::progress_search);
    let dead = match wanted("deadpeer") {
        true => Some(client::dead_peer(&args.bin_dir, &args.peers).await?),
        false => None,
    };
    dead.iter().for_each(report::progress_dead);
    let settings = desktop::Settings {
        app: args.app.clone(),
        bin_dir: args.bin_dir.clone(),
        deb: args.deb.clone(),
        idle_secs: args.idle_secs,
        settle_secs: if args.quick { 0.0 } else { 10.0 },
        launches: args.launches,
        burst: if args.quick { 200 } else { 2000 },
    };
    let desktop = match wanted("desktop") {
        true => Some(desktop::run(&args.desktop_script, &settings).await?),
        false => None,
    };
    desktop.iter().for_each(report::progress_desktop);
    // A report needs every scenario; `--only` runs are for looking at one.
    let (
        Some(storm),
        Some(auth),
        Some(signins),
        Some(flush),
        Some(search),
        Some(dead),
        Some(desktop),
    ) = (storm, auth, signins, flush, search, dead, desktop)
    else {
        return Ok(());
    };
    let others = report::Others {
        storm,
        auth,
        signins,
        flush,
        search,
        dead,
        desktop,
    };
    let summary = report::Summary::new(&load, &fan, &idle, others);
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
