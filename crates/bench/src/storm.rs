//! Reconnect storm: many clients in one room, confab-server restarted under them. Each client
//! reconnects with backoff and jitter, authenticates again and resumes the room after the last
//! seq it holds. Measured: time until every client is resumed, the peak of authentications per
//! second, and messages lost (every client must end with every seq).

use crate::fanout::{Ws, confab_token, connect, connect_many};
use crate::procs::{Kind, start};
use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug)]
pub(crate) struct Outcome {
    pub clients: usize,
    pub resumed_secs: f64,
    pub peak_auth_per_sec: u64,
    pub lost: u64,
}

/// Messages published before and after the restart.
pub(crate) const BEFORE: u64 = 5;
pub(crate) const AFTER: u64 = 5;

pub(crate) fn seq_of(text: &str) -> Option<u64> {
    if !text.contains("\"type\":\"message\"") {
        return None;
    }
    let at = text.find("\"seq\":")? + 6;
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

/// Reads frames until the connection drops; records every message seq, counting new ones in
/// `progress` (shared by all clients).
pub(crate) async fn read(ws: &mut Ws, seen: &mut HashSet<u64>, progress: &AtomicU64) {
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg
            && let Some(seq) = seq_of(t.as_str())
            && seen.insert(seq)
        {
            progress.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Waits until `counter` reaches `target`, for at most `limit`.
pub(crate) async fn reach(counter: &AtomicU64, target: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

pub(crate) async fn run(bin_dir: &Path, peers: &Path, clients: usize) -> Result<Outcome> {
    let mut server = start(Kind::Confab, bin_dir, peers).await?;
    let token = confab_token(&server, "storm").await?;
    let conns = connect_many(&server, Some(&token), clients).await?;
    let mut publisher = connect(&server, Some(&token)).await?;
    for n in 0..BEFORE {
        let send = serde_json::json!({"type": "send", "id": format!("b{n}"), "room": "bench", "body": "before"});
        publisher.send(Message::text(send.to_string())).await?;
    }
    let progress = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let ready_at: Arc<Mutex<Vec<f64>>> = Arc::default();
    let resumed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(clients);
    let url = server.ws_url();
    for (i, mut ws) in conns.into_iter().enumerate() {
        let (token, url, ready_at, resumed) = (
            token.clone(),
            url.clone(),
            Arc::clone(&ready_at),
            Arc::clone(&resumed),
        );
        let progress = Arc::clone(&progress);
        tasks.push(tokio::spawn(async move {
            let mut seen = HashSet::new();
            read(&mut ws, &mut seen, &progress).await;
            // Its socket goes now: 10,000 dead ones kept beside the new ones would run the
            // process out of descriptors.
            drop(ws);
            // Disconnected: back off 250 ms doubling to 4 s, with jitter spread by client index
            // (what the client core does, without its disk).
            let mut delay = 250u64;
            loop {
                let jitter = (i as u64 * 7919) % delay.max(1);
                tokio::time::sleep(Duration::from_millis(delay / 2 + jitter / 2)).await;
                let attempt = async {
                    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
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
                // A SYN lost to a full accept queue, or an answer that never comes, is retried
                // like a refused connection.
                match tokio::time::timeout(Duration::from_secs(10), attempt).await {
                    Ok(Ok(mut ws)) => {
                        ready_at.lock().await.push(epoch.elapsed().as_secs_f64());
                        let after = seen.iter().max().copied().unwrap_or(0);
                        let join = format!(r#"{{"type":"join","room":"bench","after":{after}}}"#);
                        if ws.send(Message::text(join)).await.is_err() {
                            continue;
                        }
                        resumed.fetch_add(1, Ordering::Relaxed);
                        read(&mut ws, &mut seen, &progress).await;
                        return seen.len() as u64;
                    }
                    Ok(Err(_)) | Err(_) => delay = (delay * 2).min(4000),
                }
            }
        }));
    }
    // Every client holds the first messages; then restart as a deploy would.
    let n = clients as u64;
    if !reach(&progress, n * BEFORE, Duration::from_secs(60)).await {
        bail!("the messages before the restart did not reach every client");
    }
    drop(publisher);
    let restarted = Instant::now();
    server.restart(bin_dir).await?;
    let deadline = restarted + Duration::from_secs(120);
    while (resumed.load(Ordering::Relaxed) as usize) < clients {
        if Instant::now() > deadline {
            bail!(
                "only {} of {clients} clients resumed in 120 s",
                resumed.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resumed_secs = restarted.elapsed().as_secs_f64();
    let mut publisher = connect(&server, Some(&token)).await?;
    for n in 0..AFTER {
        let send = serde_json::json!({"type": "send", "id": format!("a{n}"), "room": "bench", "body": "after"});
        publisher.send(Message::text(send.to_string())).await?;
    }
    // Wait for the last messages to reach everyone (what does not within 30 s is lost), then
    // stop: each task returns how many distinct messages it saw.
    reach(&progress, n * (BEFORE + AFTER), Duration::from_secs(30)).await;
    drop(server);
    let mut lost = 0u64;
    for t in tasks {
        lost += (BEFORE + AFTER).saturating_sub(t.await?);
    }
    let mut per_second: BTreeMap<u64, u64> = BTreeMap::new();
    for at in ready_at.lock().await.iter() {
        *per_second.entry(*at as u64).or_default() += 1;
    }
    Ok(Outcome {
        clients,
        resumed_secs,
        peak_auth_per_sec: per_second.values().copied().max().unwrap_or(0),
        lost,
    })
}
