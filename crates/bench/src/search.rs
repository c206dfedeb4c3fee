//! Search over a big store: confab-server on SQLite is filled through its own WebSocket with
//! `messages` messages (half in rooms the searcher is in, half in rooms it is not), then a mix
//! of queries is timed from one client — common and rare words, several words, a phrase, a
//! prefix, filters with and without words, and a word found only in rooms the searcher is not
//! in (the index walks all of it and keeps nothing). The peer is the same connection's
//! `history` round trip, timed alongside: the ratio says what a search costs beyond any request.

use crate::fanout::confab_token;
use crate::procs::{Kind, Server};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Rooms per side (the searcher's, the others').
const ROOMS: usize = 10;
/// Sends in flight per loading connection.
const WINDOW: usize = 512;
/// Distinct words of the generated text; their frequencies fall off as 1/rank (Zipf).
const VOCABULARY: u64 = 20_000;

#[derive(Debug)]
pub(crate) struct Query {
    pub text: &'static str,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub hits: usize,
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub messages: usize,
    pub load_secs: f64,
    pub queries: Vec<Query>,
    /// Over every timed search of the mix.
    pub p95_ms: f64,
    pub history_p95_ms: f64,
}

/// The queries of the mix, what each stands for in the comment beside it.
const QUERIES: &[&str] = &[
    "w1",               // the commonest word, whole (two letters): in half the messages
    "w19000",           // a rare word
    "w2 w3",            // two common words
    "w60 w70",          // two mid words: the index intersects long lists
    "\"w1 w2\"",        // a phrase
    "w12",              // a three-letter beginning of many words, from FTS5's prefix index
    "w123",             // a four-letter one: the words it begins (w123, w1230…) are merged
    "w5 from:alice",    // a word by one author
    "w8 in:r3",         // a word in one room
    "from:alice in:r5", // filters alone
    "x7",               // a word only in rooms the searcher is not in
];

/// A deterministic stream of pseudo-random numbers (xorshift), so every run stores the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word rank from 1 to VOCABULARY with probability about 1/rank.
    fn zipf(&mut self) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as u64).clamp(1, VOCABULARY)
    }

    fn body(&mut self, prefix: char) -> String {
        let words = 6 + self.next() % 10;
        (0..words)
            .map(|_| format!("{prefix}{}", self.zipf()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

async fn open(server: &Server, user: &str, rooms: &[String]) -> Result<Ws> {
    let token = confab_token(server, user).await?;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
    let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
    ws.send(Message::text(auth)).await?;
    until(&mut ws, |t| t.contains("\"ready\"")).await?;
    for room in rooms {
        let join = serde_json::json!({"type": "join", "room": room, "latest": 0}).to_string();
        ws.send(Message::text(join)).await?;
        until(&mut ws, |t| {
            t.contains("\"synced\"") && t.contains("\"more\":false")
        })
        .await?;
    }
    Ok(ws)
}

/// Reads frames until one satisfies `done`; returns it.
async fn until(ws: &mut Ws, mut done: impl FnMut(&str) -> bool) -> Result<String> {
    let wait = async {
        while let Some(msg) = ws.next().await {
            if let Message::Text(t) = msg?
                && done(t.as_str())
            {
                return Ok(t.as_str().to_owned());
            }
        }
        bail!("closed while waiting")
    };
    tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .context("timed out")?
}

/// One loading connection: `count` messages over `rooms`, `WINDOW` in flight.
async fn load(
    server: &Server,
    user: &'static str,
    rooms: Vec<String>,
    count: usize,
    seed: u64,
) -> Result<()> {
    let mut ws = open(server, user, &rooms).await?;
    let prefix = if rooms[0].starts_with('o') { 'x' } else { 'w' };
    let mut rng = Rng(seed);
    let mut sent = 0;
    while sent < count {
        let window = WINDOW.min(count - sent);
        for i in sent..sent + window {
            let frame = serde_json::json!({
                "type": "send", "id": format!("{user}-{i}"),
                "room": rooms[i % rooms.len()], "body": rng.body(prefix),
            });
            ws.feed(Message::text(frame.to_string())).await?;
        }
        ws.flush().await?;
        let mut acked = 0;
        until(&mut ws, |t| {
            if t.starts_with("{\"type\":\"error\"") {
                return true;
            }
            acked += usize::from(t.starts_with("{\"type\":\"ack\""));
            acked == window
        })
        .await
        .and_then(|t| match t.starts_with("{\"type\":\"error\"") {
            true => bail!("a bench send was refused: {t}"),
            false => Ok(()),
        })?;
        sent += window;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or(0.0)
}

/// Times `runs` round trips of `frame` (answered by a frame starting with `answer`).
async fn time(ws: &mut Ws, frame: &str, answer: &str, runs: usize) -> Result<(Vec<f64>, String)> {
    let mut took = Vec::with_capacity(runs);
    let mut last = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        ws.send(Message::text(frame.to_owned())).await?;
        last = until(ws, |t| {
            t.starts_with(answer) || t.starts_with("{\"type\":\"error\"")
        })
        .await?;
        took.push(started.elapsed().as_secs_f64() * 1e3);
        if !last.starts_with(answer) {
            bail!("{frame} was refused: {last}");
        }
    }
    Ok((took, last))
}

pub(crate) async fn run(
    bin_dir: &Path,
    peers: &Path,
    messages: usize,
    runs: usize,
) -> Result<Outcome> {
    let server = crate::procs::start(Kind::Confab, bin_dir, peers).await?;
    let mine: Vec<String> = (0..ROOMS).map(|i| format!("r{i}")).collect();
    let theirs: Vec<String> = (0..ROOMS).map(|i| format!("o{i}")).collect();
    let started = Instant::now();
    let quarter = messages / 4;
    let loaders = [
        ("searcher", mine.clone(), 1),
        ("alice", mine.clone(), 2),
        ("other", theirs.clone(), 3),
        ("another", theirs, 4),
    ];
    let jobs = loaders
        .into_iter()
        .map(|(user, rooms, seed)| load(&server, user, rooms, quarter, seed));
    for done in futures_util::future::join_all(jobs).await {
        done?;
    }
    let load_secs = started.elapsed().as_secs_f64();

    let mut ws = open(&server, "searcher", &mine[..1]).await?;
    let mut all = Vec::new();
    let mut queries = Vec::new();
    for text in QUERIES {
        let frame = serde_json::json!({"type": "search", "ref": "b", "query": text}).to_string();
        let (mut took, last) = time(&mut ws, &frame, "{\"type\":\"search_results\"", runs).await?;
        let v: serde_json::Value = serde_json::from_str(&last)?;
        let hits = v["hits"].as_array().map_or(0, Vec::len);
        all.extend_from_slice(&took);
        took.sort_by(f64::total_cmp);
        queries.push(Query {
            text,
            p50_ms: percentile(&took, 0.5),
            p95_ms: percentile(&took, 0.95),
            hits,
        });
    }
    all.sort_by(f64::total_cmp);
    let history = serde_json::json!({"type": "history", "room": "r0", "limit": 20}).to_string();
    let (mut took, _) = time(&mut ws, &history, "{\"type\":\"history\"", runs * 4).await?;
    took.sort_by(f64::total_cmp);
    Ok(Outcome {
        messages: quarter * 4,
        load_secs,
        queries,
        p95_ms: percentile(&all, 0.95),
        history_p95_ms: percentile(&took, 0.95),
    })
}
