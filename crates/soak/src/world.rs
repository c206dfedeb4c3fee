//! The servers under the soak and the faults done to them: one node on SQLite (its database on
//! a small tmpfs of its own when run as root, so the disk can really fill up), or three nodes on
//! PostgreSQL + Redis behind haproxy. Each client reaches them through a fault proxy of its own.

use anyhow::{Context, Result, bail};
use confab_test_support::{NodeProcess, NodeSpec, TestHaproxy, TestRedis};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// A tmpfs under the node's database: filled with a ballast file, it is a full disk.
#[derive(Debug)]
pub(crate) struct Disk {
    mount: PathBuf,
    ballast: PathBuf,
}

impl Disk {
    fn mount(at: &Path, megabytes: u32) -> Result<Self> {
        std::fs::create_dir_all(at)?;
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={megabytes}m,mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()?;
        if !status.success() {
            bail!("mount tmpfs at {}: {status}", at.display());
        }
        Ok(Self {
            mount: at.to_owned(),
            ballast: at.join("ballast"),
        })
    }

    /// Writes ballast until the file system says it is full.
    pub(crate) fn fill(&self) -> Result<()> {
        let mut f = std::fs::File::create(&self.ballast)?;
        let chunk = vec![0u8; 1 << 20];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => return Err(e.into()),
            }
        }
        // The last partial chunk may leave a few bytes: take them too.
        while f.write_all(&[0u8; 512]).is_ok() {}
        Ok(())
    }

    pub(crate) fn release(&self) -> Result<()> {
        match std::fs::remove_file(&self.ballast) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// The servers.
#[derive(Debug)]
pub(crate) enum Servers {
    Single {
        node: NodeProcess,
        disk: Option<Disk>,
    },
    Multi {
        nodes: Vec<NodeProcess>,
        haproxy: TestHaproxy,
        redis: TestRedis,
    },
}

#[derive(Debug)]
pub(crate) struct World {
    pub servers: Servers,
    /// Where the nodes keep their data; the disk, when there is one, is mounted inside.
    _dir: TempDir,
}

impl World {
    /// One node on SQLite; with `full_disk`, its database on a 48 MiB tmpfs (root only).
    pub(crate) async fn single(full_disk: bool) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let db_dir = dir.path().join("db");
        let disk = if full_disk {
            Some(Disk::mount(&db_dir, 48).context("a full disk needs root (mount)")?)
        } else {
            std::fs::create_dir_all(&db_dir)?;
            None
        };
        let db = db_dir.join("confab.db").display().to_string();
        let node = NodeProcess::start(NodeSpec {
            db,
            pubsub: None,
            drop_doorbells: false,
        })
        .await;
        Ok(Self {
            servers: Servers::Single { node, disk },
            _dir: dir,
        })
    }

    /// Three nodes on a new database of the `postgres` cluster, a private Redis, haproxy.
    pub(crate) async fn multi(postgres: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = confab_test_support::backend::create_database(postgres).await;
        let redis = TestRedis::start().await;
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(
                NodeProcess::start(NodeSpec {
                    db: db.clone(),
                    pubsub: Some(redis.url()),
                    drop_doorbells: false,
                })
                .await,
            );
        }
        let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
        let haproxy = TestHaproxy::start(&addrs).await;
        Ok(Self {
            servers: Servers::Multi {
                nodes,
                haproxy,
                redis,
            },
            _dir: dir,
        })
    }

    /// Where clients connect (through their proxies).
    pub(crate) fn front(&self) -> SocketAddr {
        match &self.servers {
            Servers::Single { node, .. } => node.addr,
            Servers::Multi { haproxy, .. } => haproxy.addr,
        }
    }
}
