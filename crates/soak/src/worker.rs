//! `confab-soak worker`: one client core in its own process, as the app runs it — its account
//! remembered in the data folder, its tokens in the system keyring, the outbox on disk — so the
//! soak can SIGKILL it. It sends, edits its messages and reacts to anyone's at random, printing
//! one JSON line before each call (`{"try": op}`) and one after (`{"ok": op}` or `{"no": op}`).
//! `stop` on stdin: stop, wait until the outbox is empty, print `{"drained": true}`; then
//! `expect room=seq,…`: wait until every room has come that far (so its cache holds everyone's
//! last word), print `{"synced": true}`, exit.

use crate::ledger::Op;
use anyhow::{Context, Result, bail};
use confab_client::{Client, Draft, Event, Profile, Target};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

pub(crate) const EMOJI: [&str; 3] = ["👍", "🎉", "👀"];

#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    #[arg(long)]
    data_dir: PathBuf,
    /// Names this worker's messages (`w<index>e<epoch>k<n>`).
    #[arg(long)]
    index: usize,
    /// How many times this worker was started before.
    #[arg(long)]
    epoch: u32,
    #[arg(long, value_delimiter = ',')]
    rooms: Vec<String>,
    #[arg(long)]
    seed: u64,
    /// Milliseconds between operations, at most.
    #[arg(long, default_value_t = 60)]
    pace_ms: u64,
}

/// Prints one line and flushes it: a SIGKILL right after must not take it along.
fn say(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub(crate) async fn run(args: WorkerArgs) -> Result<()> {
    let profile = Profile::new(&args.data_dir);
    let login = profile.resume()?.context("no remembered account")?;
    let user = login.account.user.clone();
    let (client, events) = profile.start(&login, crate::fast)?;
    for room in &args.rooms {
        client.join(room).await?;
    }
    // Messages seen, as reaction targets: (room, seq).
    let seen = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(watch(events, Arc::clone(&seen)));
    let mut stop = BufReader::new(tokio::io::stdin()).lines();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut mine: Vec<(String, String, confab_protocol::MessageId, u32)> = Vec::new(); // room, tag, id, version
    let mut k = 0usize;
    loop {
        let pause = Duration::from_millis(rng.random_range(0..=args.pace_ms));
        tokio::select! {
            line = stop.next_line() => {
                if matches!(line?.as_deref(), Some("stop") | None) {
                    break;
                }
            }
            () = tokio::time::sleep(pause) => {}
        }
        let room = args.rooms[rng.random_range(0..args.rooms.len())].clone();
        let pick = rng.random_range(0..10);
        let target = {
            let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            let ours: Vec<_> = seen.iter().filter(|(r, _)| *r == room).collect();
            (!ours.is_empty()).then(|| ours[rng.random_range(0..ours.len())].clone())
        };
        match (pick, target) {
            (0..2, _) if !mine.is_empty() => {
                let i = rng.random_range(mine.len().saturating_sub(8)..mine.len());
                let (room, tag, id, v) = &mut mine[i];
                *v += 1;
                let op = Op::Edit {
                    room: room.clone(),
                    tag: tag.clone(),
                    v: *v,
                };
                let draft = Draft::Edit {
                    target: Target::Queued(id.clone()),
                    body: format!("{tag} v{v}"),
                };
                attempt(&client, op, room, draft).await;
            }
            (2..5, Some((_, seq))) => {
                let emoji = EMOJI[rng.random_range(0..EMOJI.len())];
                let on = rng.random_bool(0.6);
                let op = Op::React {
                    room: room.clone(),
                    seq,
                    emoji: emoji.into(),
                    on,
                    user: user.clone(),
                };
                let draft = Draft::React {
                    target: Target::Seq(seq),
                    emoji: emoji.into(),
                    on,
                };
                attempt(&client, op, &room, draft).await;
            }
            _ => {
                let tag = format!("w{}e{}k{k}", args.index, args.epoch);
                k += 1;
                let op = Op::Send {
                    room: room.clone(),
                    tag: tag.clone(),
                };
                say(json!({ "try": op }));
                match client.send(&room, &tag).await {
                    Ok(out) => {
                        say(json!({ "ok": op }));
                        mine.push((room, tag, out.id, 0));
                    }
                    Err(e) => say(json!({ "no": op, "why": e.to_string() })),
                }
            }
        }
    }
    drain(&client).await?;
    say(json!({ "drained": true }));
    let expect = stop.next_line().await?.unwrap_or_default();
    let heads: Vec<(&str, u64)> = expect
        .strip_prefix("expect ")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(room, seq)| Some((room, seq.parse().ok()?)))
        .collect();
    catch_up(&client, &heads).await?;
    say(json!({ "synced": true }));
    let _ = tokio::time::timeout(Duration::from_secs(5), client.shutdown()).await;
    Ok(())
}

async fn attempt(client: &Client, op: Op, room: &str, draft: Draft) {
    say(json!({ "try": op }));
    match client.queue(room, draft).await {
        Ok(_) => say(json!({ "ok": op })),
        Err(e) => say(json!({ "no": op, "why": e.to_string() })),
    }
}

/// Waits until everything queued went out (or a minute passed: then the soak reports it).
async fn drain(client: &Client) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while client.queued().await? > 0 {
        if tokio::time::Instant::now() > deadline {
            bail!("the outbox did not drain in 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Waits until every room in `heads` was received up to its seq.
async fn catch_up(client: &Client, heads: &[(&str, u64)]) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rooms = client.rooms().await?;
        let behind: Vec<_> = heads
            .iter()
            .filter(|(room, seq)| !rooms.iter().any(|r| r.name == *room && r.last_seq >= *seq))
            .collect();
        if behind.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("still behind after 60 s: {behind:?} (have {rooms:?})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn watch(
    mut events: tokio::sync::mpsc::Receiver<Event>,
    seen: Arc<Mutex<Vec<(String, u64)>>>,
) {
    while let Some(ev) = events.recv().await {
        if let Event::Message(m) = ev {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.push((m.room, m.seq));
        }
    }
}
