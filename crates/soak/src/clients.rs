//! The clients of a soak: worker processes (the core) and CLI bots, each behind a fault proxy
//! of its own, and the readers that turn workers' lines into the ledger.

use crate::cli_bot::Bot;
use crate::ledger::{Ledger, Op, Status};
use anyhow::{Context, Result, bail};
use confab_test_support::FaultProxy;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// One worker process and how to start it again.
#[derive(Debug)]
pub(crate) struct Worker {
    pub index: usize,
    pub dir: PathBuf,
    pub rooms: Vec<String>,
    pub epoch: u32,
    pub seed: u64,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    /// `drained` and `synced` lines, by worker index.
    milestones: mpsc::UnboundedSender<(usize, String)>,
}

#[derive(Debug)]
pub(crate) struct Clients {
    pub workers: Vec<Worker>,
    pub bots: Vec<Arc<Bot>>,
    /// Workers' proxies first, then the bots'.
    pub proxies: Vec<FaultProxy>,
    pub ledger: Arc<Mutex<Ledger>>,
    pub problems: Arc<Mutex<Vec<String>>>,
    pub milestones: mpsc::UnboundedReceiver<(usize, String)>,
    pub milestone_tx: mpsc::UnboundedSender<(usize, String)>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        dir: PathBuf,
        rooms: Vec<String>,
        seed: u64,
        milestones: mpsc::UnboundedSender<(usize, String)>,
    ) -> Self {
        Self {
            index,
            dir,
            rooms,
            epoch: 0,
            seed,
            child: None,
            stdin: None,
            milestones,
        }
    }

    /// Starts the process; its lines go to `ledger`.
    pub(crate) fn spawn(&mut self, ledger: &Arc<Mutex<Ledger>>) -> Result<()> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("worker")
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--index", &self.index.to_string()])
            .args(["--epoch", &self.epoch.to_string()])
            .args(["--rooms", &self.rooms.join(",")])
            .args(["--seed", &(self.seed ^ u64::from(self.epoch)).to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("start a worker")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        self.stdin = child.stdin.take();
        self.child = Some(child);
        let (ledger, milestones, index) = (Arc::clone(ledger), self.milestones.clone(), self.index);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                read_line(&ledger, &milestones, index, &line);
            }
        });
        Ok(())
    }

    /// SIGKILL, then the same account and data folder again as its next epoch.
    pub(crate) async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.stdin = None;
    }

    pub(crate) async fn restart(&mut self, ledger: &Arc<Mutex<Ledger>>) -> Result<()> {
        self.kill().await;
        self.epoch += 1;
        self.spawn(ledger)
    }

    pub(crate) async fn tell(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("worker not running")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        Ok(stdin.flush().await?)
    }

    /// Waits for the process to end by itself.
    pub(crate) async fn exited(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .context("worker did not exit")??;
        if !status.success() {
            bail!("worker {} exited with {status}", self.index);
        }
        self.child = None;
        Ok(())
    }
}

/// One line of a worker: an operation tried or answered, or a milestone.
fn read_line(
    ledger: &Mutex<Ledger>,
    milestones: &mpsc::UnboundedSender<(usize, String)>,
    index: usize,
    line: &str,
) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        let _ = milestones.send((index, format!("bad line: {line}")));
        return;
    };
    let op = |key: &str| {
        v.get(key)
            .and_then(|o| serde_json::from_value::<Op>(o.clone()).ok())
    };
    let mut ledger = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(op) = op("try") {
        ledger.tried(op);
    } else if let Some(op) = op("ok") {
        ledger.answered(&op, Status::Confirmed);
    } else if let Some(op) = op("no") {
        ledger.answered(&op, Status::Refused);
    } else if v.get("drained").is_some() {
        let _ = milestones.send((index, "drained".into()));
    } else if v.get("synced").is_some() {
        let _ = milestones.send((index, "synced".into()));
    }
}

impl Clients {
    /// Waits until every worker said `what`.
    pub(crate) async fn until_all(&mut self, what: &str, limit: Duration) -> Result<()> {
        let mut left: std::collections::BTreeSet<usize> =
            self.workers.iter().map(|w| w.index).collect();
        tokio::time::timeout(limit, async {
            while !left.is_empty() {
                match self.milestones.recv().await {
                    Some((i, m)) if m == what => {
                        left.remove(&i);
                    }
                    Some((i, m)) if m.starts_with("bad line") => bail!("worker {i}: {m}"),
                    Some(_) => {}
                    None => bail!("milestones closed"),
                }
            }
            Ok(())
        })
        .await
        .with_context(|| format!("workers {left:?} never said {what}"))?
    }
}
