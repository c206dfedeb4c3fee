//! One soak from start to verdict: servers, accounts (tokens in the session's keyring, as the
//! app keeps them), rooms, clients, the fault cycles, healing, and the checks.

use crate::cli_bot::{Bot, BotCounts};
use crate::clients::{Clients, Worker};
use crate::faults::{self, Fault, Tally};
use crate::ledger::{Ledger, Verdict};
use crate::truth;
use crate::world::World;
use anyhow::{Context, Result, bail};
use confab_client::{Account, Client, Conversation, Event, Profile, SignIn};
use confab_protocol::Secret;
use confab_test_support::FaultProxy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Fault cycles.
    #[arg(long, default_value_t = 1000)]
    cycles: usize,
    /// Client cores, each a process of its own.
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// Bots on the CLI.
    #[arg(long, default_value_t = 4)]
    bots: usize,
    /// Three nodes on this PostgreSQL cluster (and a private Redis) instead of one on SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Fill the node's disk as one of the faults (one node only; needs root for a tmpfs).
    #[arg(long)]
    full_disk: bool,
    #[arg(long)]
    seed: Option<u64>,
    /// Only these faults (server-kill, redis-restart, core-kill, cli-kill, blackhole, reset,
    /// disk-full), to chase one.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Write the result as JSON here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

const PUBLIC: [&str; 2] = ["soak-a", "soak-b"];
const PRIVATE: &str = "soak-p";
/// Members of the private room: these workers and the first bot.
const PRIVATE_WORKERS: usize = 10;

fn password(user: &str) -> String {
    format!("password-of-{user}")
}

/// Registers `user` through `proxy`, remembered in `dir` with its tokens in the keyring.
async fn account(dir: &std::path::Path, proxy: &FaultProxy, user: &str) -> Result<()> {
    let url: url::Url = proxy.http_url().parse()?;
    Profile::new(dir)
        .sign_in(SignIn {
            account: Account::new(url, user),
            password: Secret::new(password(user)),
            register: true,
            invite: None,
            remember: true,
        })
        .await
        .with_context(|| format!("register {user}"))?;
    Ok(())
}

/// Waits for the first event `pick` accepts.
async fn until<T>(
    events: &mut tokio::sync::mpsc::Receiver<Event>,
    what: &str,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ev) = events.recv().await {
            if let Some(t) = pick(ev) {
                return Ok(t);
            }
        }
        bail!("events ended")
    })
    .await
    .with_context(|| format!("waiting for {what}"))?
}

/// The first worker's user makes the rooms: the public ones by joining, the private one with
/// its members invited, and a dm with the second. Returns the dm's room.
async fn rooms(dir: &std::path::Path, members: &[String], dm_with: &str) -> Result<String> {
    let profile = Profile::new(dir);
    let login = profile.resume()?.context("user0 not remembered")?;
    let (client, mut events): (Client, _) = profile.start(&login, crate::fast)?;
    for room in PUBLIC {
        client.join(room).await?;
    }
    until(&mut events, "open", |e| {
        matches!(e, Event::State(confab_client::ConnState::Open { .. })).then_some(())
    })
    .await?;
    client
        .conversation(Conversation::Create {
            room: PRIVATE.into(),
            private: true,
        })
        .await?;
    until(&mut events, "the private room", |e| {
        // A room made is joined: its (empty) replay ends it.
        matches!(e, Event::Synced { ref room, .. } if room == PRIVATE).then_some(())
    })
    .await?;
    for user in members {
        client
            .conversation(Conversation::Invite {
                room: PRIVATE.into(),
                user: user.clone(),
            })
            .await?;
        until(&mut events, "an invitation", |e| {
            matches!(e, Event::Invited { user: ref u, .. } if u == user).then_some(())
        })
        .await?;
    }
    client
        .conversation(Conversation::Dm {
            users: vec![dm_with.into()],
        })
        .await?;
    let dm = until(&mut events, "the dm", |e| match e {
        Event::Dm { room, .. } => Some(room),
        _ => None,
    })
    .await?;
    drop(events);
    let _ = tokio::time::timeout(Duration::from_secs(5), client.shutdown()).await;
    Ok(dm)
}

pub(crate) async fn run(args: RunArgs) -> Result<bool> {
    let started = Instant::now();
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    eprintln!("soak seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = match &args.postgres {
        Some(pg) => World::multi(pg).await?,
        None => World::single(args.full_disk).await?,
    };
    let mode = if args.postgres.is_some() {
        "3 nodes, PostgreSQL + Redis"
    } else {
        "1 node, SQLite"
    };
    let home = tempfile::tempdir()?;
    let (tx, milestones) = tokio::sync::mpsc::unbounded_channel();
    let mut clients = Clients {
        workers: Vec::new(),
        bots: Vec::new(),
        proxies: Vec::new(),
        ledger: Arc::new(Mutex::new(Ledger::default())),
        problems: Arc::new(Mutex::new(Vec::new())),
        milestones,
        milestone_tx: tx,
    };
    for _ in 0..args.workers + args.bots {
        clients.proxies.push(FaultProxy::start(world.front()).await);
    }
    let users: Vec<String> = (0..args.workers)
        .map(|i| format!("user{i}"))
        .chain((0..args.bots).map(|j| format!("bot{j}")))
        .collect();
    for (i, user) in users.iter().enumerate() {
        account(&home.path().join(user), &clients.proxies[i], user).await?;
    }
    let private: Vec<String> = users[1..args.workers.min(PRIVATE_WORKERS)]
        .iter()
        .chain(users.get(args.workers))
        .cloned()
        .collect();
    let dm = rooms(&home.path().join(&users[0]), &private, &users[1]).await?;
    let mut all_rooms: Vec<String> = PUBLIC.map(String::from).to_vec();
    all_rooms.extend([PRIVATE.to_owned(), dm.clone()]);
    for (i, user) in users.iter().enumerate().take(args.workers) {
        let mut rooms: Vec<String> = PUBLIC.map(String::from).to_vec();
        if i < PRIVATE_WORKERS {
            rooms.push(PRIVATE.into());
        }
        if i < 2 {
            rooms.push(dm.clone());
        }
        let mut w = Worker::new(
            i,
            home.path().join(user),
            rooms,
            rng.random(),
            clients.milestone_tx.clone(),
        );
        w.spawn(&clients.ledger)?;
        clients.workers.push(w);
    }
    let confab = std::env::current_exe()?.with_file_name("confab");
    for j in 0..args.bots {
        let user = users[args.workers + j].clone();
        let mut rooms: Vec<String> = PUBLIC.map(String::from).to_vec();
        if j == 0 {
            rooms.push(PRIVATE.into());
        }
        clients.bots.push(Arc::new(Bot {
            index: j,
            dir: home.path().join(&user),
            user,
            rooms,
            confab: confab.clone(),
            running: Mutex::new(None),
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut bot_tasks = Vec::new();
    for bot in &clients.bots {
        let (bot, ledger, problems, stop) = (
            Arc::clone(bot),
            Arc::clone(&clients.ledger),
            Arc::clone(&clients.problems),
            Arc::clone(&stop),
        );
        let seed = rng.random();
        bot_tasks.push(tokio::spawn(async move {
            bot.run(seed, ledger, problems, stop).await
        }));
    }

    let mut menu = Fault::menu(&world);
    if !args.only.is_empty() {
        menu.retain(|f| args.only.iter().any(|o| o == f.slug()));
        if menu.is_empty() {
            bail!("none of {:?} applies here", args.only);
        }
    }
    let mut tally = Tally::new();
    for n in 0..args.cycles {
        let fault = menu[rng.random_range(0..menu.len())];
        faults::cycle(fault, &mut world, &mut clients, &mut rng).await?;
        *tally.entry(fault).or_default() += 1;
        for seen in faults::revive(&mut world).await {
            eprintln!("soak problem after {} ({n}): {seen}", fault.name());
            let mut problems = clients
                .problems
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            problems.push(seen);
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..=250))).await;
        if (n + 1) % 50 == 0 {
            eprintln!(
                "soak: {} cycles, {:.0} s",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }

    // Heal (every fault is undone at the end of its cycle), let the bots finish, drain.
    stop.store(true, Ordering::Relaxed);
    let mut bots = BotCounts::default();
    for t in bot_tasks {
        let c = t.await?;
        bots.runs += c.runs;
        bots.killed += c.killed;
        bots.queued += c.queued;
        bots.errors += c.errors;
        bots.keyring += c.keyring;
    }
    for w in &mut clients.workers {
        w.tell("stop").await?;
    }
    clients
        .until_all("drained", Duration::from_secs(120))
        .await?;
    let url: url::Url = format!("http://{}", world.front()).parse()?;
    let truth = truth::server(&url, &users[0], &password(&users[0]), &all_rooms).await?;
    for w in &mut clients.workers {
        let heads: Vec<String> = w
            .rooms
            .iter()
            .map(|r| format!("{r}={}", truth.heads.get(r).copied().unwrap_or(0)))
            .collect();
        w.tell(&format!("expect {}", heads.join(","))).await?;
    }
    clients
        .until_all("synced", Duration::from_secs(120))
        .await?;
    let mut differing = 0;
    for w in &mut clients.workers {
        w.exited().await?;
        let cache = truth::cache(&w.dir, &w.rooms)?;
        for room in &w.rooms {
            let empty = Default::default();
            let server = truth.rooms.get(room).unwrap_or(&empty);
            if let Some(diff) = truth::differs(cache.get(room).unwrap_or(&empty), server) {
                differing += 1;
                let mut problems = clients
                    .problems
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                problems.push(format!("worker {} {room}: {diff}", w.index));
            }
        }
    }
    let verdict = clients
        .ledger
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .verify(&truth.rooms);
    let problems = clients
        .problems
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let result = Summary {
        mode,
        clients: args.workers + args.bots,
        tally,
        verdict,
        bots,
        differing,
        problems,
        secs: started.elapsed().as_secs_f64(),
        seed,
    };
    result.print();
    if let Some(out) = &args.out {
        std::fs::write(out, result.json().to_string())?;
    }
    Ok(result.clean())
}

#[derive(Debug)]
struct Summary {
    mode: &'static str,
    clients: usize,
    tally: Tally,
    verdict: Verdict,
    bots: BotCounts,
    differing: usize,
    problems: Vec<String>,
    secs: f64,
    seed: u64,
}

impl Summary {
    fn clean(&self) -> bool {
        self.verdict.clean()
            && self.differing == 0
            && self.bots.errors == 0
            && self.problems.is_empty()
    }

    fn cycles(&self) -> usize {
        self.tally.values().sum()
    }

    fn print(&self) {
        for p in self.verdict.problems.iter().chain(&self.problems).take(50) {
            eprintln!("soak problem: {p}");
        }
        let v = &self.verdict;
        eprintln!(
            "soak: {} | {} clients | {} cycles ({}) | {} messages ({} confirmed), {} edits, {} reactions, {} refused, {} unknown | lost {} | duplicated {} | order {} | wrong state {} | clients differing {} | CLI runs {} ({} killed, {} left queued, {} keyring unavailable, {} errors) | {:.0} s | seed {}",
            self.mode,
            self.clients,
            self.cycles(),
            self.kinds(),
            v.messages,
            v.confirmed,
            v.edits,
            v.reactions,
            v.refused,
            v.unknown,
            v.lost,
            v.duplicated,
            v.order_violations,
            v.wrong_state,
            self.differing,
            self.bots.runs,
            self.bots.killed,
            self.bots.queued,
            self.bots.keyring,
            self.bots.errors,
            self.secs,
            self.seed,
        );
    }

    fn kinds(&self) -> String {
        let parts: Vec<String> = self
            .tally
            .iter()
            .map(|(f, n)| format!("{} {n}", f.name()))
            .collect();
        parts.join(", ")
    }

    fn json(&self) -> serde_json::Value {
        let v = &self.verdict;
        serde_json::json!({
            "mode": self.mode,
            "clients": self.clients,
            "cycles": self.cycles(),
            "faults": self.kinds(),
            "messages": v.messages,
            "confirmed": v.confirmed,
            "edits": v.edits,
            "reactions": v.reactions,
            "refused": v.refused,
            "unknown": v.unknown,
            "lost": v.lost,
            "duplicated": v.duplicated,
            "order_violations": v.order_violations,
            "wrong_state": v.wrong_state,
            "clients_differing": self.differing,
            "cli_runs": self.bots.runs,
            "cli_killed": self.bots.killed,
            "cli_errors": self.bots.errors,
            "cli_keyring_unavailable": self.bots.keyring,
            "secs": self.secs,
            "seed": self.seed,
            "clean": self.clean(),
        })
    }
}
