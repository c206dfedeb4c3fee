//! Upgrades + authentications per second: the server's limit, not the clients'. Load processes
//! (`confab-bench auth-worker`) connect, upgrade, authenticate, wait for `ready` and close, in a
//! tight loop with many connections in flight; the server's CPU over the same window gives the
//! rate per server CPU-second, which is what the server would do with a core to itself.

use crate::fanout::confab_token;
use crate::procs::{Cpu, Kind, cpu, start};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

/// What `auth-worker` is asked to do.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    #[arg(long)]
    addr: SocketAddr,
    /// Connections in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds to run before counting (handshakes warm up, the server's pools fill).
    #[arg(long)]
    warmup: f64,
    /// Seconds counted.
    #[arg(long)]
    seconds: f64,
    /// Which 127.(10+N).0.x source addresses this worker uses (each holds ~28k ports in TIME_WAIT).
    #[arg(long, default_value_t = 0)]
    index: u8,
}

/// One connect → upgrade → auth → ready → close, from a rotating 127.(10+N).0.x source address.
async fn once(addr: SocketAddr, source: Ipv4Addr, auth: &str) -> Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    let stream = socket.connect(addr).await?;
    let url = format!("ws://{addr}/ws");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    ws.send(Message::text(auth)).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg?
            && t.as_str().contains("\"ready\"")
        {
            let _ = ws.close(None).await;
            return Ok(());
        }
    }
    bail!("closed before ready")
}

/// The load process: reads the access token from stdin, prints how many authentications
/// completed inside the counted window, and how many failed.
pub(crate) async fn worker(args: WorkerArgs) -> Result<()> {
    let mut token = String::new();
    BufReader::new(tokio::io::stdin())
        .read_line(&mut token)
        .await?;
    let auth: Arc<str> = serde_json::json!({"type": "auth", "token": token.trim()})
        .to_string()
        .into();
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(args.warmup);
    let until = from + Duration::from_secs_f64(args.seconds);
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for lane in 0..args.concurrency {
        let (auth, done, failed) = (Arc::clone(&auth), Arc::clone(&done), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            let mut n = lane;
            while Instant::now() < until {
                let source =
                    Ipv4Addr::new(127, args.index.saturating_add(10), 0, (n % 250 + 1) as u8);
                n += args.concurrency;
                let ok =
                    tokio::time::timeout(Duration::from_secs(5), once(args.addr, source, &auth))
                        .await
                        .is_ok_and(|r| r.is_ok());
                let now = Instant::now();
                if now >= from && now < until {
                    if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let mut out = tokio::io::stdout();
    let line = format!(
        "{} {}\n",
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    out.write_all(line.as_bytes()).await?;
    Ok(())
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub per_sec: f64,
    pub failed: u64,
    pub server: Cpu,
    pub generator: Cpu,
    pub secs: f64,
}

impl Outcome {
    pub(crate) fn per_cpu_second(&self) -> f64 {
        self.per_sec * self.secs / self.server.total().max(1e-9)
    }
}

pub(crate) async fn run(
    bin_dir: &Path,
    peers: &Path,
    processes: u8,
    seconds: f64,
) -> Result<Outcome> {
    let server = start(Kind::Confab, bin_dir, peers).await?;
    let token = confab_token(&server, "authrate").await?;
    let warmup = 1.0;
    let mut workers = Vec::new();
    for index in 0..processes {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("auth-worker")
            .args(["--addr", &server.addr.to_string()])
            .args([
                "--warmup",
                &warmup.to_string(),
                "--seconds",
                &seconds.to_string(),
            ])
            .args(["--index", &index.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        stdin.write_all(format!("{token}\n").as_bytes()).await?;
        workers.push(child);
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    let pids: Vec<u32> = workers.iter().filter_map(Child::id).collect();
    let gen_cpu = |pids: &[u32]| -> Result<Cpu> {
        pids.iter().try_fold(Cpu::default(), |sum, pid| {
            let c = cpu(*pid)?;
            Ok(Cpu {
                user: sum.user + c.user,
                sys: sum.sys + c.sys,
            })
        })
    };
    let (server_before, gen_before) = (server.cpu()?, gen_cpu(&pids)?);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (server_after, gen_after) = (server.cpu()?, gen_cpu(&pids)?);
    let (mut done, mut failed) = (0u64, 0u64);
    for child in workers {
        let out = child.wait_with_output().await?;
        let text = String::from_utf8(out.stdout)?;
        let mut counts = text.split_whitespace().map(str::parse::<u64>);
        done += counts.next().context("no count from an auth worker")??;
        failed += counts.next().context("no count from an auth worker")??;
    }
    Ok(Outcome {
        per_sec: done as f64 / seconds,
        failed,
        server: server_after.since(server_before),
        generator: gen_after.since(gen_before),
        secs: seconds,
    })
}
