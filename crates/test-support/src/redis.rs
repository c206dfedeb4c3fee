//! A private Redis for one test: `redis-server` on a Unix socket in a temporary folder, so a test
//! may kill and restart it without disturbing any other.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

/// A running Redis; killed when dropped.
#[derive(Debug)]
pub struct TestRedis {
    dir: TempDir,
    child: Option<Child>,
}

impl TestRedis {
    /// Starts one and waits until it answers.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut redis = Self { dir, child: None };
        redis.spawn().await;
        redis
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// What `--pubsub` takes to reach it.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    async fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start redis-server (scripts/prereqs.sh test): {e}"));
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + crate::DEADLINE;
        while tokio::net::UnixStream::connect(self.socket())
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not come up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Kills it at once (what a crash or a network cut looks like to the nodes).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same socket, empty: whatever was published meanwhile is gone.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
