//! confab-soak: the chaos soak of docs/reliability.md. Many clients in several rooms (public,
//! private, a dm) send, edit and react while the soak kills, cuts and fills everything under
//! them, cycle after cycle; at the end nothing confirmed may be missing, nothing may be there
//! twice, every sender's messages are in its order, and every client's cache equals the server.
//!
//! - [`run`]: the orchestration — accounts, rooms, clients, the fault cycles, the verdict.
//! - [`faults`]: the faults and how each is done and undone.
//! - [`world`]: the servers (one node on SQLite, or three on PostgreSQL + Redis) and the disk.
//! - [`worker`]: `confab-soak worker`, one client core in a process of its own.
//! - [`cli_bot`]: bots on the `confab` CLI, one process per operation.
//! - [`ledger`]: what was asked and answered, and the check of the final rooms against it.
//! - [`truth`]: the final rooms, from the server and from each client's cache.
//!
//! `scripts/reliability.sh` runs it and writes the table; the README test command runs a smoke.

mod cli_bot;
mod clients;
mod faults;
mod ledger;
mod run;
mod truth;
mod worker;
mod world;

use clap::{Parser, Subcommand};
use confab_client::ClientConfig;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Chaos soak: clients under faults; nothing lost or applied twice")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a soak and print its result row.
    Run(run::RunArgs),
    /// One client core (started by `run`).
    Worker(worker::WorkerArgs),
}

/// The client settings of the soak: quick to retry and to notice a dead path, as in the
/// client's fault tests, so a thousand cycles fit in minutes.
pub(crate) fn fast(cfg: &mut ClientConfig) {
    cfg.backoff.initial = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(400);
    cfg.tick = Duration::from_millis(100);
    cfg.dead_after = Duration::from_millis(600);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.auth_timeout = Duration::from_secs(2);
    cfg.event_buffer = 1 << 14;
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("confab-soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match args.cmd {
            Cmd::Run(a) => run::run(a).await,
            Cmd::Worker(a) => worker::run(a).await.map(|()| true),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("confab-soak: {e:#}");
            ExitCode::FAILURE
        }
    }
}
