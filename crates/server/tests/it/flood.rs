//! Floods aimed at the server's memory, measured on the real binary as an operator would see it
//! (`/proc/<pid>/status`).

use crate::admin::{binary, start};
use futures_util::stream::{self, StreamExt};
use serde_json::json;

/// One line of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {pid}"))
}

/// Sign-ins to accounts that do not exist cost an argon2 hash each (19 MiB of memory). Hashed
/// on short-lived threads, 100 of them grew the server by 1.8 GiB for good; on the fixed hashing
/// threads the peak stays within 100 MiB of the idle server, and the queue past its bound is
/// answered 503 rather than held.
#[tokio::test]
async fn a_flood_of_bad_sign_ins_does_not_grow_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("confab.db");
    let db = db.to_string_lossy().into_owned();
    let (mut child, addr) = start(binary().args(["--listen", "127.0.0.1:0", "--db", &db]))
        .unwrap_or_else(|log| panic!("the server did not start: {log}"));
    let pid = child.id();
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/api/login");
    let attempt = |i: u32| {
        let req = http
            .post(&url)
            .json(&json!({"username": format!("nobody{i}"), "password": "guess-guess"}));
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    // The first hash gives a thread its memory, as on any server that has seen a sign-in.
    assert_eq!(attempt(0).await, 401);
    let idle = status_kib(pid, "VmRSS");
    let answers: Vec<u16> = stream::iter(1..=200)
        .map(attempt)
        .buffer_unordered(64)
        .collect()
        .await;
    let peak = status_kib(pid, "VmHWM");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answers.iter().all(|s| *s == 401 || *s == 503),
        "every attempt is refused as wrong, or busy: {answers:?}"
    );
    assert!(answers.contains(&401), "{answers:?}");
    let grown_mib = peak.saturating_sub(idle) / 1024;
    assert!(
        grown_mib <= 100,
        "RSS grew by {grown_mib} MiB under 200 bad sign-ins (idle {} MiB)",
        idle / 1024
    );
}
