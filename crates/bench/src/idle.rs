//! Idle memory: the server's resident memory per idle connection (authenticated and in a room,
//! for Confab), measured as the RSS growth from before the first connection to after the last.

use crate::fanout::{confab_token, connect_many};
use crate::procs::{Kind, Server};
use anyhow::Result;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Outcome {
    pub kind: Kind,
    pub connections: usize,
    pub bytes_per_connection: f64,
}

pub(crate) async fn run(server: &Server, connections: usize) -> Result<Outcome> {
    let token = match server.kind {
        Kind::Confab => Some(confab_token(server, "idle").await?),
        _ => None,
    };
    // Warm the allocator and the runtime with a few connections first: the first ones also pay
    // for thread stacks and pools that do not grow with the count.
    let warm = connect_many(server, token.as_deref(), 10).await?;
    let before = server.rss()?;
    let conns = connect_many(server, token.as_deref(), connections).await?;
    // Let anything the server does after `ready`/`synced` settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.rss()?;
    drop(conns);
    drop(warm);
    Ok(Outcome {
        kind: server.kind,
        connections,
        bytes_per_connection: after.saturating_sub(before) as f64 / connections as f64,
    })
}
