//! Fan-out: one room, many subscribers, one publisher at a fixed rate. Every body carries the
//! time it was published, so each delivery gives a publish → receive latency.

use crate::procs::{Cpu, Kind, Server, cpu};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One fan-out run's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub subscribers: usize,
    pub rate: u32,
    pub body_bytes: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub kind: Kind,
    pub deliveries: u64,
    pub expected: u64,
    pub secs: f64,
    pub server: Cpu,
    pub generator: Cpu,
    pub latency_us: Histogram<u64>,
}

impl Outcome {
    pub(crate) fn per_cpu_second(&self) -> f64 {
        self.deliveries as f64 / self.server.total().max(1e-9)
    }
}

/// Registers and logs in a bench user on confab-server; returns its token pair (the JSON of
/// `POST /api/login`).
pub(crate) async fn confab_login(server: &Server, user: &str) -> Result<serde_json::Value> {
    let http = reqwest::Client::new();
    let creds = serde_json::json!({"username": user, "password": "bench-password-123"});
    let base = server.http_url();
    let _ = http
        .post(format!("{base}/api/register"))
        .json(&creds)
        .send()
        .await?;
    Ok(http
        .post(format!("{base}/api/login"))
        .json(&creds)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Registers and logs in a bench user on confab-server; returns an access token.
pub(crate) async fn confab_token(server: &Server, user: &str) -> Result<String> {
    let pair = confab_login(server, user).await?;
    Ok(pair["access_token"]
        .as_str()
        .context("no token")?
        .to_owned())
}

async fn recv_until(ws: &mut Ws, needle: &str) -> Result<()> {
    let wait = async {
        while let Some(msg) = ws.next().await {
            if let Message::Text(t) = msg?
                && t.as_str().contains(needle)
            {
                return Ok(());
            }
        }
        bail!("closed while waiting for {needle}")
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .context("timed out")?
}

/// Opens a connection ready for the room: authenticated and joined (Confab), or just open.
pub(crate) async fn connect(server: &Server, token: Option<&str>) -> Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
    if let Some(token) = token {
        let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
        ws.send(Message::text(auth)).await?;
        recv_until(&mut ws, "\"ready\"").await?;
        let join = r#"{"type":"join","room":"bench","after":0}"#;
        ws.send(Message::text(join)).await?;
        recv_until(&mut ws, "\"synced\"").await?;
    }
    Ok(ws)
}

/// Opens `n` connections, `batch` at a time.
pub(crate) async fn connect_many(
    server: &Server,
    token: Option<&str>,
    n: usize,
) -> Result<Vec<Ws>> {
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let batch = (n - all.len()).min(100);
        let opened =
            futures_util::future::join_all((0..batch).map(|_| connect(server, token))).await;
        for ws in opened {
            all.push(ws?);
        }
    }
    Ok(all)
}

/// The microseconds since `epoch` written into a body as `t=NNN;`, if any.
fn stamp(text: &str) -> Option<u64> {
    let at = text.find("t=")? + 2;
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

/// One room's fan-out on `servers`: several confab nodes share the subscribers (subscriber `i`
/// on node `i % n`), the publisher is on the first, and the server CPU is every node's.
pub(crate) async fn run(servers: &[Server], load: Load) -> Result<Outcome> {
    let server = servers.first().context("no server")?;
    let token = match server.kind {
        Kind::Confab => Some(confab_token(server, "bench").await?),
        _ => None,
    };
    let mut subs = Vec::with_capacity(load.subscribers);
    for (i, node) in servers.iter().enumerate() {
        let share =
            load.subscribers / servers.len() + usize::from(i < load.subscribers % servers.len());
        subs.extend(connect_many(node, token.as_deref(), share).await?);
    }
    let publisher = connect(server, token.as_deref()).await?;

    let epoch = Instant::now();
    let measuring = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::with_capacity(subs.len());
    let mut histograms = Vec::with_capacity(subs.len());
    for mut ws in subs {
        let measuring = Arc::clone(&measuring);
        let delivered = Arc::clone(&delivered);
        // Each reader its own histogram (an uncontended lock), merged after the run.
        let h = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
            1, 60_000_000, 3,
        )?));
        histograms.push(Arc::clone(&h));
        readers.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                let Some(sent) = stamp(t.as_str()) else {
                    continue;
                };
                if measuring.load(Ordering::Relaxed) {
                    delivered.fetch_add(1, Ordering::Relaxed);
                    let now = epoch.elapsed().as_micros() as u64;
                    let _ = h
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .record(now.saturating_sub(sent).max(1));
                }
            }
        }));
    }

    // The publisher's own echoes and acks are read and dropped, so its socket never backs up.
    let (mut pub_tx, mut pub_rx) = publisher.split();
    let drain = tokio::spawn(async move { while pub_rx.next().await.is_some() {} });
    let confab = server.kind == Kind::Confab;
    let body_bytes = load.body_bytes;
    let rate = load.rate;
    let sending = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for n in 0u64.. {
            tick.tick().await;
            let mut body = format!("t={};", epoch.elapsed().as_micros());
            body.extend(std::iter::repeat_n(
                'x',
                body_bytes.saturating_sub(body.len()),
            ));
            let frame = if confab {
                serde_json::json!({"type": "send", "id": format!("p{n}"), "room": "bench", "body": body})
                    .to_string()
            } else {
                body
            };
            if pub_tx.send(Message::text(frame)).await.is_err() {
                break;
            }
        }
    });

    tokio::time::sleep(load.warmup).await;
    let node_cpu = || -> Result<Cpu> {
        servers.iter().try_fold(Cpu::default(), |sum, s| {
            let c = s.cpu()?;
            Ok(Cpu {
                user: sum.user + c.user,
                sys: sum.sys + c.sys,
            })
        })
    };
    let (s0, g0) = (node_cpu()?, cpu(std::process::id())?);
    let t0 = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(load.measure).await;
    measuring.store(false, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let (s1, g1) = (node_cpu()?, cpu(std::process::id())?);
    let deliveries = delivered.load(Ordering::Relaxed);

    sending.abort();
    drain.abort();
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for r in readers {
        r.abort();
    }
    for h in histograms {
        latency_us.add(&*h.lock().unwrap_or_else(PoisonError::into_inner))?;
    }
    Ok(Outcome {
        kind: server.kind,
        deliveries,
        expected: (f64::from(load.rate) * secs) as u64 * load.subscribers as u64,
        secs,
        server: s1.since(s0),
        generator: g1.since(g0),
        latency_us,
    })
}

#[cfg(test)]
mod tests {
    use super::stamp;

    #[test]
    fn the_publish_time_is_read_back_from_a_body_or_a_frame() {
        assert_eq!(stamp("t=12345;xxxx"), Some(12345));
        assert_eq!(
            stamp(r#"{"type":"message","body":"t=77;xx","seq":1}"#),
            Some(77)
        );
        assert_eq!(stamp(r#"{"type":"presence"}"#), None);
    }
}
