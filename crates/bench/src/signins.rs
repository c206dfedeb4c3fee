//! A flood of bad sign-ins: accounts that do not exist, each one an argon2 hash (19 MiB of
//! memory) were it let through. The figure is the server's memory — its resident peak over the
//! flood (VmHWM) above its resident size before it, after one sign-in has given a hashing thread
//! its memory as any running server's has. The flood comes from loopback, which is never
//! throttled per address, so every attempt reaches the hashing queue.

use crate::procs::{Kind, peak_rss, start};
use anyhow::Result;
use futures_util::stream::{self, StreamExt};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub attempts: usize,
    /// Answered 401 (hashed and refused), 503 (the hashing queue was full) or something else.
    pub refused: usize,
    pub busy: usize,
    pub other: usize,
    pub idle_rss: u64,
    pub peak_rss: u64,
    pub secs: f64,
}

impl Outcome {
    pub(crate) fn grown_mib(&self) -> f64 {
        self.peak_rss.saturating_sub(self.idle_rss) as f64 / (1024.0 * 1024.0)
    }
}

pub(crate) async fn run(bin_dir: &Path, peers: &Path, attempts: usize) -> Result<Outcome> {
    let server = start(Kind::Confab, bin_dir, peers).await?;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/login", server.addr);
    let attempt = |i: usize| {
        let body = serde_json::json!({"username": format!("nobody{i}"), "password": "guess-guess"});
        let req = http.post(&url).json(&body);
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    attempt(0).await;
    let idle_rss = server.rss()?;
    let started = Instant::now();
    let answers: Vec<u16> = stream::iter(1..=attempts)
        .map(attempt)
        .buffer_unordered(64)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let peak_rss = peak_rss(server.pid)?;
    let count = |s: u16| answers.iter().filter(|a| **a == s).count();
    let (refused, busy) = (count(401), count(503));
    Ok(Outcome {
        attempts,
        refused,
        busy,
        other: attempts - refused - busy,
        idle_rss,
        peak_rss,
        secs,
    })
}
