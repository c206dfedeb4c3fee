//! The faults: each cycle does one, holds it a random while, and undoes it.
//!
//! - server SIGKILL (one node: the only one; several: one of three) and start again;
//! - Redis killed and started again (several nodes);
//! - a worker (the core) SIGKILLed and started again on its data folder;
//! - the running `confab` process of a bot SIGKILLed;
//! - blackhole: a few clients' paths swallow everything (their core must notice by heartbeat);
//! - reset mid-frame: a few clients' connections are reset after a random number of bytes;
//! - disk full: the node's file system filled to the last byte (one node, as root).

use crate::clients::Clients;
use crate::world::{Servers, World};
use anyhow::Result;
use confab_test_support::Mode;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    ServerKill,
    RedisRestart,
    WorkerKill,
    CliKill,
    Blackhole,
    ResetMidFrame,
    DiskFull,
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ServerKill => "server SIGKILL",
            Self::RedisRestart => "Redis restart",
            Self::WorkerKill => "core SIGKILL",
            Self::CliKill => "CLI SIGKILL",
            Self::Blackhole => "blackhole",
            Self::ResetMidFrame => "RST mid-frame",
            Self::DiskFull => "disk full",
        }
    }

    /// Its name on the command line (`--only`).
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Self::ServerKill => "server-kill",
            Self::RedisRestart => "redis-restart",
            Self::WorkerKill => "core-kill",
            Self::CliKill => "cli-kill",
            Self::Blackhole => "blackhole",
            Self::ResetMidFrame => "reset",
            Self::DiskFull => "disk-full",
        }
    }

    /// The faults that apply to these servers.
    pub(crate) fn menu(world: &World) -> Vec<Self> {
        let mut menu = vec![
            Self::ServerKill,
            Self::WorkerKill,
            Self::CliKill,
            Self::Blackhole,
            Self::ResetMidFrame,
        ];
        match &world.servers {
            Servers::Single { disk: Some(_), .. } => menu.push(Self::DiskFull),
            Servers::Single { .. } => {}
            Servers::Multi { .. } => menu.push(Self::RedisRestart),
        }
        menu
    }
}

/// Faults done so far, by kind.
pub(crate) type Tally = BTreeMap<Fault, usize>;

fn hold(rng: &mut StdRng) -> Duration {
    Duration::from_millis(rng.random_range(100..=900))
}

/// A few distinct proxies, at random.
fn some(rng: &mut StdRng, n: usize) -> Vec<usize> {
    let k = rng.random_range(1..=5.min(n));
    rand::seq::index::sample(rng, n, k).into_vec()
}

/// Nodes that ended by themselves (none may): each is reported and started again, so the soak
/// goes on and the report says what it saw.
pub(crate) async fn revive(world: &mut World) -> Vec<String> {
    let nodes: Vec<&mut confab_test_support::NodeProcess> = match &mut world.servers {
        Servers::Single { node, .. } => vec![node],
        Servers::Multi { nodes, .. } => nodes.iter_mut().collect(),
    };
    let mut seen = Vec::new();
    for node in nodes {
        if let Some(how) = node.ended() {
            seen.push(format!("a node ended by itself: {how}"));
            node.restart().await;
        }
    }
    seen
}

/// Does `fault`, holds it, undoes it.
pub(crate) async fn cycle(
    fault: Fault,
    world: &mut World,
    clients: &mut Clients,
    rng: &mut StdRng,
) -> Result<()> {
    let held = hold(rng);
    match fault {
        Fault::ServerKill => {
            let node = match &mut world.servers {
                Servers::Single { node, .. } => node,
                Servers::Multi { nodes, .. } => {
                    let i = rng.random_range(0..nodes.len());
                    &mut nodes[i]
                }
            };
            node.kill();
            tokio::time::sleep(held).await;
            node.restart().await;
        }
        Fault::RedisRestart => {
            if let Servers::Multi { redis, .. } = &mut world.servers {
                redis.kill();
                tokio::time::sleep(held).await;
                redis.restart().await;
            }
        }
        Fault::WorkerKill => {
            let i = rng.random_range(0..clients.workers.len());
            clients.workers[i].kill().await;
            tokio::time::sleep(held).await;
            let ledger = std::sync::Arc::clone(&clients.ledger);
            clients.workers[i].restart(&ledger).await?;
        }
        Fault::CliKill => {
            // A bot is between processes now and then: try each once, at random.
            let n = clients.bots.len();
            let start = rng.random_range(0..n);
            for k in 0..n {
                if clients.bots[(start + k) % n].kill() {
                    break;
                }
            }
            tokio::time::sleep(held).await;
        }
        Fault::Blackhole => {
            let chosen = some(rng, clients.proxies.len());
            for &i in &chosen {
                clients.proxies[i].set_mode(Mode::Blackhole);
            }
            // Long enough, at times, for the heartbeat to declare the path dead.
            tokio::time::sleep(held * 2).await;
            // Cut first: the proxy dropped what it read meanwhile, and a connection that lost
            // bytes must never carry more (TCP never has a hole; iptables DROP delays bytes, it
            // does not lose them). Letting it pass again for an instant forwarded frames after
            // a hole, which a client takes in good faith.
            for &i in &chosen {
                clients.proxies[i].cut();
                clients.proxies[i].set_mode(Mode::Pass);
            }
        }
        Fault::ResetMidFrame => {
            let chosen = some(rng, clients.proxies.len());
            for &i in &chosen {
                let after = rng.random_range(1..=4096);
                clients.proxies[i].set_mode(Mode::ResetAfter(after));
            }
            tokio::time::sleep(held).await;
            for &i in &chosen {
                clients.proxies[i].set_mode(Mode::Pass);
            }
        }
        Fault::DiskFull => {
            if let Servers::Single {
                disk: Some(disk), ..
            } = &world.servers
            {
                disk.fill()?;
                tokio::time::sleep(held).await;
                disk.release()?;
            }
        }
    }
    Ok(())
}
