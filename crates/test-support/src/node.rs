//! Real server processes for multi-node tests — so a node can be killed with SIGKILL, not
//! shut down politely — and haproxy in front of them.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use tempfile::TempDir;

/// The `confab-server` binary: `CONFAB_SERVER_BIN`, or the one cargo built beside this test.
pub fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CONFAB_SERVER_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // A program beside it (target/<profile>/confab-soak), or a test binary:
    // target/<profile>/deps/<test> → target/<profile>/confab-server.
    let bin = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("confab-server"))
        .find(|bin| bin.exists())
        .unwrap_or_default();
    assert!(
        bin.exists(),
        "no confab-server at {} (cargo build -p confab-server, or set CONFAB_SERVER_BIN)",
        bin.display()
    );
    bin
}

/// How one node is started.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub db: String,
    /// The Redis of several nodes; `None` for a node on its own (SQLite).
    pub pubsub: Option<String>,
    /// Commit and ack but never ring the other nodes (the failpoint between COMMIT and PUBLISH).
    pub drop_doorbells: bool,
}

/// One `confab-server` process.
#[derive(Debug)]
pub struct NodeProcess {
    pub addr: SocketAddr,
    spec: NodeSpec,
    child: Option<Child>,
    /// Its last lines of log, for the report when it ends by itself.
    log: Arc<Mutex<VecDeque<String>>>,
}

/// Lines of a node's log kept for [`NodeProcess::ended`].
const LOG_KEPT: usize = 40;

impl NodeProcess {
    /// Starts a node on a free port and waits until it listens.
    pub async fn start(spec: NodeSpec) -> Self {
        let mut node = Self {
            addr: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            spec,
            child: None,
            log: Arc::default(),
        };
        node.spawn().await;
        node
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn spawn(&mut self) {
        let mut cmd = Command::new(server_binary());
        cmd.arg("--listen")
            .arg(self.addr.to_string())
            .args(["--db", &self.spec.db])
            .args(["--heartbeat-secs", "1", "--rate-burst", "10000"])
            .args(["--registration", "open"])
            .args(["--log", "info"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(pubsub) = &self.spec.pubsub {
            cmd.args(["--pubsub", pubsub]);
        }
        if self.spec.drop_doorbells {
            cmd.arg("--failpoint-drop-doorbells");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn confab-server: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && line.contains("listening") {
                    sent = tx.send(line.clone()).is_ok();
                }
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                if log.len() == LOG_KEPT {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
        let line = tokio::task::spawn_blocking(move || rx.recv_timeout(crate::DEADLINE))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("the node never listened: {e}"));
        self.addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        self.child = Some(child);
    }

    /// SIGKILL: no close frames, no cleanup, whatever was in flight is cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `Some` (its exit status and last log lines) if the process ended by itself.
    pub fn ended(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let lines: Vec<&str> = log.iter().map(String::as_str).collect();
        Some(format!(
            "{status}; its last log lines:\n{}",
            lines.join("\n")
        ))
    }

    /// Starts the node again on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// haproxy balancing WebSockets over nodes, with health checks on `/readyz` (docs/deploy.md has
/// the same configuration).
#[derive(Debug)]
pub struct TestHaproxy {
    pub addr: SocketAddr,
    _dir: TempDir,
    child: Child,
}

impl TestHaproxy {
    pub async fn start(nodes: &[SocketAddr]) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("free port: {e}"))
            .port();
        let servers: String = nodes
            .iter()
            .enumerate()
            .map(|(i, a)| format!("  server n{i} {a} check inter 300 fall 2 rise 1\n"))
            .collect();
        let config = format!(
            "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  \
             timeout tunnel 1h\n  option redispatch\n  retries 3\n\
             frontend chat\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
             backend nodes\n  balance roundrobin\n  option httpchk GET /readyz\n{servers}"
        );
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).unwrap_or_else(|e| panic!("write haproxy.cfg: {e}"));
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&file)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start haproxy (scripts/prereqs.sh test): {e}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let deadline = tokio::time::Instant::now() + crate::DEADLINE;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "haproxy did not come up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Self {
            addr,
            _dir: dir,
            child,
        }
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestHaproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
