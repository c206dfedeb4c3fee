//! The servers under test as child processes, and what /proc says about a process: CPU time
//! (user and kernel separately) and resident memory.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Which server a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// confab-server: auth, storage (SQLite, fsync per commit group), per-room seq, fan-out.
    Confab,
    /// A minimal broadcast server on Node's `ws` (crates/bench/peers).
    NodeWs,
    /// A bare tokio broadcast loop: no auth, no storage, one write per frame.
    Bare,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Confab => "confab-server",
            Kind::NodeWs => "node ws",
            Kind::Bare => "bare tokio loop",
        }
    }
}

/// CPU seconds a process has used so far.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub user: f64,
    pub sys: f64,
}

impl Cpu {
    pub(crate) fn total(self) -> f64 {
        self.user + self.sys
    }

    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            sys: self.sys - earlier.sys,
        }
    }
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime and stime of `pid` (all threads), from /proc/PID/stat.
pub(crate) fn cpu(pid: u32) -> Result<Cpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = stat
        .rsplit_once(") ")
        .map(|(_, r)| r)
        .context("odd /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = clock_ticks();
    let field = |i: usize| -> Result<f64> {
        Ok(f.get(i).context("short /proc stat")?.parse::<f64>()? / ticks)
    };
    Ok(Cpu {
        user: field(11)?,
        sys: field(12)?,
    })
}

/// Resident set size of `pid` in bytes (VmRSS: the process's own memory, not the kernel's
/// socket buffers).
pub(crate) fn rss(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmRSS")
}

/// The most `pid` has been resident since it started, in bytes (VmHWM).
pub(crate) fn peak_rss(pid: u32) -> Result<u64> {
    status_bytes(pid, "VmHWM")
}

/// A `/proc/PID/status` line given in kB, in bytes.
fn status_bytes(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .with_context(|| format!("no {field}"))?
        .parse()?;
    Ok(kb * 1024)
}

/// A running server under test.
#[derive(Debug)]
pub(crate) struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// The WebSocket URL clients connect to.
    pub(crate) fn ws_url(&self) -> String {
        match self.kind {
            Kind::Confab => format!("ws://{}/ws", self.addr),
            _ => format!("ws://{}/", self.addr),
        }
    }

    pub(crate) fn cpu(&self) -> Result<Cpu> {
        cpu(self.pid)
    }

    pub(crate) fn rss(&self) -> Result<u64> {
        rss(self.pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn confab_command(bin_dir: &Path, dir: &Path, port: u16) -> Command {
    let mut c = Command::new(bin_dir.join("confab-server"));
    c.args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(dir.join("bench.db"))
        // The offered load is the experiment's, not a flood to refuse.
        .args(["--rate-per-sec", "100000", "--rate-burst", "100000"])
        .args(["--heartbeat-secs", "600"])
        // The idle scenario holds 10,000 connections of one account from one address.
        .args(["--max-connections-per-user", "0"])
        .args(["--registration", "open"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    c
}

impl Server {
    /// Restarts confab-server as a deploy does: SIGTERM (every session gets 1001 with a retry
    /// hint), then the same binary on the same port and database. Returns when it is healthy.
    pub(crate) async fn restart(&mut self, bin_dir: &Path) -> Result<()> {
        self.stop();
        self.start_again(bin_dir).await
    }

    /// Stops the server as a deploy does (SIGTERM) and waits for it to exit.
    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Starts confab-server again after [`Server::stop`]: same binary, port and database.
    pub(crate) async fn start_again(&mut self, bin_dir: &Path) -> Result<()> {
        let dir = self
            ._dir
            .as_ref()
            .context("only confab-server restarts")?
            .path()
            .to_owned();
        self.child = confab_command(bin_dir, &dir, self.addr.port()).spawn()?;
        self.pid = self.child.id();
        wait_for(self.addr, "/healthz").await
    }

    /// The HTTP base URL (the client core's server setting).
    pub(crate) fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts one node of several: confab-server on PostgreSQL `db`, joined by Redis `pubsub`.
/// Returns once it is ready (database and pub/sub reachable).
pub(crate) async fn start_node(bin_dir: &Path, db: &str, pubsub: &str) -> Result<Server> {
    let port = free_port()?;
    let mut c = Command::new(bin_dir.join("confab-server"));
    c.args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--db", db, "--pubsub", pubsub])
        .args(["--rate-per-sec", "100000", "--rate-burst", "100000"])
        .args(["--heartbeat-secs", "600"])
        // The idle scenario holds 10,000 connections of one account from one address.
        .args(["--max-connections-per-user", "0"])
        .args(["--registration", "open"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = c.spawn().context("starting a confab-server node")?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server {
        kind: Kind::Confab,
        addr,
        pid: child.id(),
        child,
        _dir: None,
    };
    wait_for(addr, "/readyz").await?;
    Ok(server)
}

impl Server {
    /// SIGKILL: what a crashed machine looks like to its clients.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts a server of `kind`. `bin_dir` holds confab-server; `peers` the Node peer.
pub(crate) async fn start(kind: Kind, bin_dir: &Path, peers: &Path) -> Result<Server> {
    let mut dir = None;
    let mut cmd = match kind {
        Kind::Confab => {
            let d = tempfile::tempdir()?;
            let port = free_port()?;
            let c = confab_command(bin_dir, d.path(), port);
            dir = Some((d, port));
            c
        }
        Kind::NodeWs => {
            let mut c = Command::new("node");
            c.arg(peers.join("ws-server.mjs")).arg("0");
            c
        }
        Kind::Bare => {
            let mut c = Command::new(std::env::current_exe()?);
            c.arg("bare-server");
            c
        }
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", kind.name()))?;
    // From here on, dropping the Server (on any error below) kills the process.
    let port = dir.as_ref().map(|(_, port)| *port);
    let mut server = Server {
        kind,
        addr: ([127, 0, 0, 1], 0).into(),
        pid: child.id(),
        child,
        _dir: dir.map(|(d, _)| d),
    };
    server.addr = match port {
        Some(port) => {
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            wait_for(addr, "/healthz").await?;
            addr
        }
        None => {
            // The peers print "listening on PORT" when ready.
            let out = server.child.stdout.take().context("no stdout")?;
            let first = tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(out).read_line(&mut line).map(|_| line)
            });
            let line = tokio::time::timeout(Duration::from_secs(20), first)
                .await
                .context("the peer did not start")???;
            let port: u16 = line
                .strip_prefix("listening on ")
                .context("unexpected peer output")?
                .trim()
                .parse()?;
            ([127, 0, 0, 1], port).into()
        }
    };
    Ok(server)
}

/// Waits until `GET path` on `addr` answers 2xx: `/healthz` (the process serves) or `/readyz`
/// (a node's database and pub/sub are reachable too).
async fn wait_for(addr: SocketAddr, path: &str) -> Result<()> {
    let url = format!("http://{addr}{path}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("confab-server on {addr} did not answer {path} in time");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
