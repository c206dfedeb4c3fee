//! A bot on the `confab` CLI: one process per operation (send, edit its messages, react to
//! them), as a script runs it, each waiting a little for delivery and leaving the rest queued
//! (exit 3) for the next run. The soak SIGKILLs whichever process is running.

use crate::ledger::{Ledger, Op, Status};
use crate::worker::EMOJI;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub(crate) struct Bot {
    pub index: usize,
    pub user: String,
    pub dir: PathBuf,
    pub rooms: Vec<String>,
    pub confab: PathBuf,
    /// The running `confab` process, for the fault that kills it.
    pub running: Mutex<Option<u32>>,
}

/// How a bot's processes ended.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BotCounts {
    pub runs: usize,
    pub killed: usize,
    pub queued: usize,
    /// Exit 5: the keyring was unavailable (its daemon died under the call; it may or may not
    /// have been queued). Documented, and no fault of ours: counted, not a problem.
    pub keyring: usize,
    /// Exits other than 0 (stored), 3 (queued), 5 or a kill: each is a problem.
    pub errors: usize,
}

impl Bot {
    /// SIGKILLs the running process, if any. Returns whether one was running.
    pub(crate) fn kill(&self) -> bool {
        let pid = *self.running.lock().unwrap_or_else(PoisonError::into_inner);
        pid.is_some_and(|pid| {
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                // It may have ended meanwhile: that is a miss, not an error to print.
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// Runs one operation to its end; returns its exit code (`None`: killed) and stdout.
    async fn confab(&self, args: &[String], wait: u32) -> (Option<i32>, String, String) {
        let mut cmd = tokio::process::Command::new(&self.confab);
        cmd.arg("--data-dir")
            .arg(&self.dir)
            .args(["--log", "error"])
            .args(args)
            .args(["--wait", &wait.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let Ok(child) = cmd.spawn() else {
            return (Some(-1), String::new(), "spawn failed".into());
        };
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = child.id();
        let out = child.wait_with_output().await;
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = None;
        match out {
            Ok(o) => (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ),
            Err(e) => (Some(-1), String::new(), e.to_string()),
        }
    }

    /// Runs `op` as `args`, records it, and returns the stored seq when the CLI printed one.
    async fn step(
        &self,
        ledger: &Mutex<Ledger>,
        counts: &mut BotCounts,
        problems: &Mutex<Vec<String>>,
        op: Op,
        args: Vec<String>,
        wait: u32,
    ) -> Option<u64> {
        ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tried(op.clone());
        let (code, stdout, stderr) = self.confab(&args, wait).await;
        counts.runs += 1;
        let status = match code {
            Some(0) => Status::Confirmed,
            Some(3) => {
                counts.queued += 1;
                Status::Confirmed
            }
            None => {
                counts.killed += 1;
                Status::Unknown
            }
            Some(5) => {
                counts.keyring += 1;
                Status::Unknown
            }
            Some(other) => {
                counts.errors += 1;
                let mut problems = problems.lock().unwrap_or_else(PoisonError::into_inner);
                problems.push(format!(
                    "{}: {args:?} exit {other}: {}",
                    self.user,
                    stderr.trim()
                ));
                Status::Unknown
            }
        };
        ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .answered(&op, status);
        // "sent <id> as #<seq>"
        stdout
            .split_once(" as #")
            .and_then(|(_, seq)| seq.trim().parse().ok())
    }

    /// Operates until `stop`, then sends one last message with a long wait: it goes out after
    /// everything this bot left queued, so its delivery means the outbox is empty.
    pub(crate) async fn run(
        &self,
        seed: u64,
        ledger: Arc<Mutex<Ledger>>,
        problems: Arc<Mutex<Vec<String>>>,
        stop: Arc<AtomicBool>,
    ) -> BotCounts {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = BotCounts::default();
        // Own stored messages: room, seq, tag, version.
        let mut mine: Vec<(String, u64, String, u32)> = Vec::new();
        let mut k = 0;
        while !stop.load(Ordering::Relaxed) {
            let pick = rng.random_range(0..10);
            if pick < 3 && !mine.is_empty() {
                let i = rng.random_range(0..mine.len());
                let (room, seq, tag, v) = &mut mine[i];
                let op = if pick == 0 {
                    *v += 1;
                    let args = ["edit", room, &seq.to_string(), &format!("{tag} v{v}")];
                    let op = Op::Edit {
                        room: room.clone(),
                        tag: tag.clone(),
                        v: *v,
                    };
                    (op, args.map(String::from).to_vec())
                } else {
                    let emoji = EMOJI[rng.random_range(0..EMOJI.len())];
                    let on = rng.random_bool(0.6);
                    let mut args: Vec<String> = ["react", room, &seq.to_string(), emoji]
                        .map(String::from)
                        .to_vec();
                    if !on {
                        args.push("--off".into());
                    }
                    let op = Op::React {
                        room: room.clone(),
                        seq: *seq,
                        emoji: emoji.into(),
                        on,
                        user: self.user.clone(),
                    };
                    (op, args)
                };
                self.step(&ledger, &mut counts, &problems, op.0, op.1, 2)
                    .await;
                continue;
            }
            let room = self.rooms[rng.random_range(0..self.rooms.len())].clone();
            let tag = format!("c{}e0k{k}", self.index);
            k += 1;
            let op = Op::Send {
                room: room.clone(),
                tag: tag.clone(),
            };
            let args = vec!["send".into(), room.clone(), tag.clone()];
            if let Some(seq) = self
                .step(&ledger, &mut counts, &problems, op, args, 2)
                .await
            {
                mine.push((room, seq, tag, 0));
            }
        }
        let room = self.rooms[0].clone();
        let tag = format!("c{}e1k0", self.index);
        let op = Op::Send {
            room: room.clone(),
            tag: tag.clone(),
        };
        let args = vec!["send".into(), room, tag];
        if self
            .step(&ledger, &mut counts, &problems, op, args, 90)
            .await
            .is_none()
        {
            let mut problems = problems.lock().unwrap_or_else(PoisonError::into_inner);
            problems.push(format!(
                "{}: the last send was not stored in 90 s",
                self.user
            ));
        }
        counts
    }
}
