//! Several nodes (docs/deploy.md): confab-server on PostgreSQL + Redis, all on this machine.
//!
//! - Fan-out, one node against three: the same room and load, subscribers spread over the
//!   nodes, the publisher on the first. Reported as deliveries per CPU-second of the nodes
//!   (PostgreSQL and Redis not counted) and the three-node figure as a ratio of the one-node
//!   one. On one machine three nodes share its two cores, so this is what a node costs, not
//!   what a bigger deployment gains.
//! - A node killed under its clients: clients spread over three nodes; one node gets SIGKILL;
//!   its clients reconnect (with backoff) to the others and resume. Measured: time until every
//!   one of them is back, and messages lost (every client must end with every seq).

use crate::fanout::{self, Load, Ws, confab_token, connect_many};
use crate::procs::{Server, start_node};
use crate::storm::{AFTER, BEFORE, reach, read};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Where the nodes keep their data and ring each other.
#[derive(Debug, Clone)]
pub(crate) struct Backing {
    /// A PostgreSQL cluster (any database URL of it); each run gets a new database.
    pub postgres: String,
    pub redis: String,
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub one: fanout::Outcome,
    pub three: fanout::Outcome,
    pub kill: KillOutcome,
}

#[derive(Debug)]
pub(crate) struct KillOutcome {
    pub clients: usize,
    /// Clients that were on the killed node.
    pub moved: usize,
    pub back_secs: f64,
    pub lost: u64,
}

async fn nodes(bin_dir: &Path, backing: &Backing, n: usize) -> Result<Vec<Server>> {
    let db = confab_test_support::backend::create_database(&backing.postgres).await;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(start_node(bin_dir, &db, &backing.redis).await?);
    }
    Ok(nodes)
}

pub(crate) async fn run(
    bin_dir: &Path,
    backing: &Backing,
    load: Load,
    clients: usize,
) -> Result<Outcome> {
    let one = fanout::run(&nodes(bin_dir, backing, 1).await?, load).await?;
    let three = fanout::run(&nodes(bin_dir, backing, 3).await?, load).await?;
    for o in [&one, &three] {
        anyhow::ensure!(
            o.deliveries * 10 >= o.expected * 9,
            "delivered {} of {} expected frames",
            o.deliveries,
            o.expected
        );
    }
    let kill = node_kill(bin_dir, backing, clients).await?;
    Ok(Outcome { one, three, kill })
}

/// Reconnects to the surviving nodes with backoff and jitter, then resumes after the last seq
/// held; returns how many distinct messages this client saw.
async fn follow(
    mut ws: Ws,
    i: usize,
    urls: Arc<Vec<String>>,
    token: String,
    progress: Arc<AtomicU64>,
    back: Arc<AtomicU64>,
    over: Arc<AtomicBool>,
) -> u64 {
    let mut seen = HashSet::new();
    read(&mut ws, &mut seen, &progress).await;
    drop(ws);
    if over.load(Ordering::Acquire) {
        return seen.len() as u64;
    }
    let mut delay = 250u64;
    let mut attempt_no = i;
    loop {
        let jitter = (i as u64 * 7919) % delay.max(1);
        tokio::time::sleep(Duration::from_millis(delay / 2 + jitter / 2)).await;
        // The next node in the client's list, as the client core's failover does.
        attempt_no += 1;
        let url = &urls[attempt_no % urls.len()];
        let attempt = async {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
            let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
            ws.send(Message::text(auth)).await?;
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.as_str().contains("\"ready\"") => break,
                    Some(Ok(_)) => {}
                    _ => bail!("closed before ready"),
                }
            }
            anyhow::Ok(ws)
        };
        match tokio::time::timeout(Duration::from_secs(10), attempt).await {
            Ok(Ok(mut ws)) => {
                let after = seen.iter().max().copied().unwrap_or(0);
                let join = format!(r#"{{"type":"join","room":"bench","after":{after}}}"#);
                if ws.send(Message::text(join)).await.is_err() {
                    continue;
                }
                back.fetch_add(1, Ordering::Relaxed);
                read(&mut ws, &mut seen, &progress).await;
                return seen.len() as u64;
            }
            Ok(Err(_)) | Err(_) => delay = (delay * 2).min(4000),
        }
    }
}

async fn publish(node: &Server, token: &str, prefix: &str, n: u64) -> Result<Ws> {
    let mut publisher = fanout::connect(node, Some(token)).await?;
    for k in 0..n {
        let send = serde_json::json!({"type": "send", "id": format!("{prefix}{k}"), "room": "bench", "body": prefix});
        publisher.send(Message::text(send.to_string())).await?;
    }
    Ok(publisher)
}

async fn node_kill(bin_dir: &Path, backing: &Backing, clients: usize) -> Result<KillOutcome> {
    let mut nodes = nodes(bin_dir, backing, 3).await?;
    let token = confab_token(&nodes[0], "storm").await?;
    let progress = Arc::new(AtomicU64::new(0));
    let back = Arc::new(AtomicU64::new(0));
    let over = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(clients);
    let mut moved = 0;
    for (k, node) in nodes.iter().enumerate() {
        let share = clients / 3 + usize::from(k < clients % 3);
        // Each client's list starts at its own node; a client of node 0 tries 1, 2, 0, …
        let urls: Arc<Vec<String>> =
            Arc::new((0..3).map(|j| nodes[(k + j) % 3].ws_url()).collect());
        for (i, ws) in connect_many(node, Some(&token), share)
            .await?
            .into_iter()
            .enumerate()
        {
            if k == 0 {
                moved += 1;
            }
            let (urls, token) = (Arc::clone(&urls), token.clone());
            let (progress, back, over) =
                (Arc::clone(&progress), Arc::clone(&back), Arc::clone(&over));
            tasks.push(tokio::spawn(follow(
                ws, i, urls, token, progress, back, over,
            )));
        }
    }
    let n = clients as u64;
    let before = publish(&nodes[2], &token, "b", BEFORE).await?;
    if !reach(&progress, n * BEFORE, Duration::from_secs(60)).await {
        bail!("the messages before the kill did not reach every client");
    }
    let killed = Instant::now();
    nodes[0].kill();
    let deadline = killed + Duration::from_secs(120);
    while (back.load(Ordering::Relaxed) as usize) < moved {
        if Instant::now() > deadline {
            bail!(
                "only {} of {moved} clients came back in 120 s",
                back.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back_secs = killed.elapsed().as_secs_f64();
    let after = publish(&nodes[1], &token, "a", AFTER).await?;
    reach(&progress, n * (BEFORE + AFTER), Duration::from_secs(30)).await;
    drop((before, after));
    // The survivors stop; every client's reader ends and reports what it saw.
    over.store(true, Ordering::Release);
    nodes.clear();
    let mut lost = 0u64;
    for t in tasks {
        let seen = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .context("a client did not end")??;
        lost += (BEFORE + AFTER).saturating_sub(seen);
    }
    Ok(KillOutcome {
        clients,
        moved,
        back_secs,
        lost,
    })
}
