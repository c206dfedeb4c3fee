//! Test helpers shared by the workspace's integration tests: a real confab-server on loopback
//! ([`TestServer`]) and a raw protocol client ([`WsClient`]) that speaks docs/protocol.md frame
//! by frame, so server tests assert exactly what goes over the wire, and a fault-injecting
//! TCP proxy ([`FaultProxy`]) for network failures. Servers run on SQLite, or on PostgreSQL
//! when the environment names a cluster ([`backend`]).
//!
//! Every wait has a deadline ([`DEADLINE`]): a test that would hang fails instead, with what it
//! was waiting for.

pub mod backend;
mod client;
pub mod node;
pub mod proxy;
mod redis;
mod server;
mod tls;

pub use backend::Backend;
pub use client::{Closed, WsClient};
pub use node::{NodeProcess, NodeSpec, TestHaproxy};
pub use proxy::{FaultProxy, Mode};
pub use redis::TestRedis;
pub use server::{TestServer, password};
pub use tls::TestCert;

use std::time::Duration;

/// How long any single wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=confab_server=debug`).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}
