//! The client core under load, in its own process as an app or a bot runs it:
//!
//! - **flush**: 10,000 messages queued while the server is down, the process killed
//!   (SIGKILL: nothing flushed, nothing closed), started again with the server back: time until
//!   every message is stored, checked in order by a separate subscriber.
//! - **dead peer**: a connection through a proxy that starts swallowing everything (a dead
//!   Wi-Fi, a NAT that forgot us): time until the client notices and reports it.
//!
//! The process is `confab-bench client-worker`, driven over stdin (the token pair) and stdout
//! (one line per milestone).

use crate::fanout::{confab_login, connect};
use crate::procs::{Kind, start};
use anyhow::{Context, Result, bail, ensure};
use confab_client::{Client, ClientConfig, ConnState, Event, MemoryTokens, OutboxLimits};
use confab_protocol::api::TokenPair;
use confab_test_support::proxy::{FaultProxy, Mode};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio_tungstenite::tungstenite::Message;

/// What `client-worker` is asked to do.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// The server's HTTP base URL.
    #[arg(long)]
    server: url::Url,
    #[arg(long)]
    data_dir: PathBuf,
    /// Queue this many messages to the `bench` room, then print `queued` and wait.
    #[arg(long, default_value_t = 0)]
    queue: usize,
    /// Print `sent` once this many messages are acknowledged.
    #[arg(long, default_value_t = 0)]
    expect: usize,
}

/// The worker process: a [`Client`] with the token pair read from stdin (one JSON line; tokens
/// never go on a command line). Prints `open` and `down` on every state change, `queued` and
/// `sent` once.
pub(crate) async fn worker(args: WorkerArgs) -> Result<()> {
    let mut line = String::new();
    BufReader::new(tokio::io::stdin())
        .read_line(&mut line)
        .await?;
    let pair: TokenPair = serde_json::from_str(&line).context("token pair on stdin")?;
    let mut config = ClientConfig::new(args.server, args.data_dir);
    config.outbox = OutboxLimits {
        max_messages: args.queue.max(OutboxLimits::default().max_messages),
        ..OutboxLimits::default()
    };
    let (client, mut events) = Client::start(config, Arc::new(MemoryTokens::new(Some(pair))))?;
    // The events are read while messages are queued: the actor waits for a reader once its
    // event buffer is full, as it should for an owner that stopped listening.
    let (queued_tx, mut queued) = tokio::sync::oneshot::channel();
    let queue = args.queue;
    tokio::spawn(async move {
        let started = Instant::now();
        for n in 0..queue {
            if client
                .send("bench", &format!("flush {n:06}"))
                .await
                .is_err()
            {
                return;
            }
        }
        // Keeps the client (its last handle) alive after queuing.
        let _ = queued_tx.send((started.elapsed().as_secs_f64(), client));
    });
    let mut out = tokio::io::stdout();
    let (mut sent, mut open, mut client) = (0usize, false, None);
    loop {
        let event = tokio::select! {
            done = &mut queued, if client.is_none() => {
                let Ok((secs, c)) = done else { bail!("queuing failed") };
                client = Some(c);
                if queue > 0 {
                    out.write_all(format!("queued {secs}\n").as_bytes()).await?;
                    out.flush().await?;
                }
                continue;
            }
            event = events.recv() => match event {
                Some(event) => event,
                None => return Ok(()),
            },
        };
        let line = match event {
            Event::State(ConnState::Open { .. }) => {
                open = true;
                "open"
            }
            Event::State(ConnState::Reconnecting { .. } | ConnState::Connecting { .. }) if open => {
                open = false;
                "down"
            }
            Event::Sent { .. } => {
                sent += 1;
                if sent != args.expect {
                    continue;
                }
                "sent"
            }
            _ => continue,
        };
        out.write_all(format!("{line}\n").as_bytes()).await?;
        out.flush().await?;
    }
}

/// A running worker and its milestones.
struct Worker {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn spawn(server: &str, dir: &Path, queue: usize, expect: usize) -> Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("client-worker")
            .args(["--server", server])
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--queue",
                &queue.to_string(),
                "--expect",
                &expect.to_string(),
            ])
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        Ok(Self {
            child,
            lines: BufReader::new(stdout).lines(),
        })
    }

    async fn give_tokens(&mut self, pair: &serde_json::Value) -> Result<()> {
        let mut stdin = self.child.stdin.take().context("no stdin")?;
        stdin.write_all(format!("{pair}\n").as_bytes()).await?;
        Ok(())
    }

    /// Waits for a line starting with `word`; returns the rest of it.
    async fn wait_for(&mut self, word: &str, limit: Duration) -> Result<String> {
        let wait = async {
            while let Some(line) = self.lines.next_line().await? {
                if let Some(rest) = line.strip_prefix(word) {
                    return Ok(rest.trim().to_owned());
                }
            }
            bail!("the client worker exited before `{word}`")
        };
        tokio::time::timeout(limit, wait)
            .await
            .with_context(|| format!("no `{word}` from the client worker in {limit:?}"))?
    }
}

#[derive(Debug)]
pub(crate) struct FlushOutcome {
    pub messages: usize,
    /// How long queuing them durably took (offline, one `send` each).
    pub queue_secs: f64,
    /// From starting the process again to the last message stored (and seen in order).
    pub flush_secs: f64,
}

pub(crate) async fn flush(bin_dir: &Path, peers: &Path, messages: usize) -> Result<FlushOutcome> {
    let mut server = start(Kind::Confab, bin_dir, peers).await?;
    let pair = confab_login(&server, "flush").await?;
    let dir = tempfile::tempdir()?;
    // Offline: the server is down while the messages are written.
    server.stop();
    let mut first = Worker::spawn(&server.http_url(), dir.path(), messages, 0)?;
    first.give_tokens(&pair).await?;
    let queue_secs: f64 = first
        .wait_for("queued", Duration::from_secs(600))
        .await?
        .parse()?;
    first.child.kill().await?;

    server.start_again(bin_dir).await?;
    let token = pair["access_token"].as_str().context("no access token")?;
    let mut subscriber = connect(&server, Some(token)).await?;
    let started = Instant::now();
    let mut second = Worker::spawn(&server.http_url(), dir.path(), 0, messages)?;
    second.give_tokens(&pair).await?;
    // Every message arrives once, in the order it was written.
    let mut next = 0usize;
    let arrive = async {
        while next < messages {
            let Some(frame) = subscriber.next().await else {
                bail!("the subscriber was disconnected")
            };
            let Message::Text(t) = frame? else { continue };
            let v: serde_json::Value = serde_json::from_str(t.as_str())?;
            if v["type"] != "message" {
                continue;
            }
            let want = format!("flush {next:06}");
            ensure!(
                v["body"] == want.as_str(),
                "expected {want:?}, got {}",
                v["body"]
            );
            next += 1;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(600), arrive)
        .await
        .context("the flush did not finish in 600 s")??;
    second.wait_for("sent", Duration::from_secs(60)).await?;
    Ok(FlushOutcome {
        messages,
        queue_secs,
        flush_secs: started.elapsed().as_secs_f64(),
    })
}

#[derive(Debug)]
pub(crate) struct DeadPeerOutcome {
    /// From the path going silent to the client reporting the connection lost.
    pub detect_secs: f64,
    /// From the path coming back to the client open again.
    pub recover_secs: f64,
}

pub(crate) async fn dead_peer(bin_dir: &Path, peers: &Path) -> Result<DeadPeerOutcome> {
    let server = start(Kind::Confab, bin_dir, peers).await?;
    let pair = confab_login(&server, "deadpeer").await?;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = tempfile::tempdir()?;
    let mut worker = Worker::spawn(&proxy.http_url(), dir.path(), 0, 0)?;
    worker.give_tokens(&pair).await?;
    worker.wait_for("open", Duration::from_secs(30)).await?;
    proxy.set_mode(Mode::Blackhole);
    let silent = Instant::now();
    worker.wait_for("down", Duration::from_secs(60)).await?;
    let detect_secs = silent.elapsed().as_secs_f64();
    proxy.set_mode(Mode::Pass);
    // The reconnect attempts made while it was silent still hang in the proxy.
    proxy.cut();
    let back = Instant::now();
    worker.wait_for("open", Duration::from_secs(60)).await?;
    Ok(DeadPeerOutcome {
        detect_secs,
        recover_secs: back.elapsed().as_secs_f64(),
    })
}
