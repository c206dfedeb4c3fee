//! The desktop app: package size, start → first paint, memory of all its processes with a
//! 10,000-message room open, idle CPU, and socket → screen at 200 incoming messages a second.
//! The app is driven by `crates/bench/desktop.mjs` (WebDriver, as the end-to-end tests drive
//! it), which needs a display, a D-Bus session and a keyring: scripts/bench.sh provides them.

use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub app: PathBuf,
    pub bin_dir: PathBuf,
    pub deb: Option<PathBuf>,
    pub idle_secs: f64,
    /// Seconds left for the load's aftermath before idling is measured.
    pub settle_secs: f64,
    pub launches: usize,
    /// Messages another user sends into the open room at 200 a second (socket → screen).
    pub burst: usize,
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub deb_bytes: Option<u64>,
    /// Median over launches.
    pub first_paint_ms: f64,
    pub launches: usize,
    pub processes: u64,
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    /// The same processes showing the sign-in form: the web view's floor.
    pub empty_rss_bytes: u64,
    pub empty_pss_bytes: u64,
    /// Idle, nothing focused in the window (no caret; as when the user is in another app).
    pub idle_cpu_percent: f64,
    /// Idle, the composer focused: its caret blinks.
    pub idle_focused_cpu_percent: f64,
    pub idle_secs: f64,
    /// Server's time of storage → the row in the DOM, each burst message, sorted (ms).
    pub socket_to_screen_ms: Vec<f64>,
    /// Burst messages whose row was never in the DOM.
    pub never_shown: usize,
    /// Between the page's frames while the burst lasted, sorted (ms).
    pub frame_interval_ms: Vec<f64>,
}

/// The `q`-th percentile (0–100) of sorted `xs`, nearest rank; `missing` more values count as
/// slowest (infinite).
pub(crate) fn percentile(xs: &[f64], missing: usize, q: f64) -> f64 {
    let all = xs.len() + missing;
    let rank = ((q / 100.0) * all as f64).ceil().max(1.0) as usize - 1;
    xs.get(rank).copied().unwrap_or(f64::INFINITY)
}

impl Outcome {
    /// The `q`-th percentile (0–100) of socket → screen, counting a row never shown as slowest.
    pub(crate) fn socket_to_screen(&self, q: f64) -> f64 {
        percentile(&self.socket_to_screen_ms, self.never_shown, q)
    }
}

pub(crate) async fn run(script: &Path, s: &Settings) -> Result<Outcome> {
    let deb_bytes = match &s.deb {
        Some(deb) => Some(
            std::fs::metadata(deb)
                .with_context(|| format!("the package {}", deb.display()))?
                .len(),
        ),
        None => None,
    };
    let out = tokio::process::Command::new("node")
        .arg(script)
        .env("CONFAB_APP", std::path::absolute(&s.app)?)
        .env("CONFAB_BIN_DIR", std::path::absolute(&s.bin_dir)?)
        .env("CONFAB_IDLE_SECS", s.idle_secs.to_string())
        .env("CONFAB_LAUNCHES", s.launches.to_string())
        .env("CONFAB_SETTLE_SECS", s.settle_secs.to_string())
        .env("CONFAB_BURST", s.burst.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await?;
    ensure!(out.status.success(), "{} failed", script.display());
    let text = String::from_utf8(out.stdout)?;
    let v: serde_json::Value = serde_json::from_str(
        text.lines()
            .last()
            .context("no result from the desktop bench")?,
    )?;
    let num = |k: &str| v[k].as_f64().with_context(|| format!("no {k} in {v}"));
    let mut paints: Vec<f64> = v["first_paint_ms"]
        .as_array()
        .context("no first_paint_ms")?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    paints.sort_by(f64::total_cmp);
    let sorted = |k: &str| -> Result<(Vec<f64>, usize)> {
        let all = v[k].as_array().with_context(|| format!("no {k} in {v}"))?;
        let mut xs: Vec<f64> = all.iter().filter_map(serde_json::Value::as_f64).collect();
        xs.sort_by(f64::total_cmp);
        Ok((xs, all.len()))
    };
    let (socket_to_screen_ms, sent) = sorted("socket_to_screen_ms")?;
    ensure!(sent > 0, "no burst message came back");
    Ok(Outcome {
        deb_bytes,
        first_paint_ms: *paints.get(paints.len() / 2).context("no launch")?,
        launches: paints.len(),
        processes: num("processes")? as u64,
        rss_bytes: num("rss_bytes")? as u64,
        pss_bytes: num("pss_bytes")? as u64,
        empty_rss_bytes: num("empty_rss_bytes")? as u64,
        empty_pss_bytes: num("empty_pss_bytes")? as u64,
        idle_cpu_percent: num("idle_cpu_percent")?,
        idle_focused_cpu_percent: num("idle_focused_cpu_percent")?,
        idle_secs: num("idle_secs")?,
        never_shown: sent - socket_to_screen_ms.len(),
        socket_to_screen_ms,
        frame_interval_ms: sorted("frame_interval_ms")?.0,
    })
}
