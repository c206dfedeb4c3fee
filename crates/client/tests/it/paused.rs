//! The reconnect state machine on tokio's paused clock: an in-memory WebSocket server stands in
//! for the network so timers, not sockets, decide what happens.

use confab_client::transport::{Dial, Io, Ws};
use confab_client::wake::ClockWatch;
use confab_client::{Client, ClientConfig, ConnState, Event, MemoryTokens, TokenStore};
use confab_protocol::api::TokenPair;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// What the fake server does with the next connection.
#[derive(Debug, Clone)]
enum Behaviour {
    /// The dial fails (connection refused).
    Fail,
    /// Accepts, reads `auth`, closes with this code and reason.
    Close(u16, &'static str),
    /// Accepts and answers `ready`, then reads (and so answers pings) until told to go silent.
    Ready,
    /// Answers `ready`, then never reads or writes again (a half-open peer).
    ReadyThenSilent,
    /// Answers `ready`, then sends this many messages of room `big` (a long replay), then reads.
    Flood(u64),
}

#[derive(Clone)]
struct FakeDialer {
    behaviour: Arc<Mutex<Behaviour>>,
    dials: Arc<Mutex<Vec<Instant>>>,
}

impl FakeDialer {
    fn new(b: Behaviour) -> Self {
        Self {
            behaviour: Arc::new(Mutex::new(b)),
            dials: Arc::default(),
        }
    }
    fn set(&self, b: Behaviour) {
        *self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = b;
    }
    fn dials(&self) -> Vec<Instant> {
        self.dials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Dial for FakeDialer {
    fn dial(&self) -> futures_util::future::BoxFuture<'static, confab_client::Result<Ws>> {
        self.dials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Instant::now());
        let b = self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            if matches!(b, Behaviour::Fail) {
                return Err(confab_client::Error::Network("refused".into()));
            }
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            tokio::spawn(fake_server(server_io, b));
            let io: Box<dyn Io> = Box::new(client_io);
            let (ws, _) = tokio_tungstenite::client_async("ws://fake/ws", io)
                .await
                .map_err(|e| confab_client::Error::Network(e.to_string()))?;
            Ok(ws)
        })
    }
}

async fn fake_server(io: tokio::io::DuplexStream, b: Behaviour) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(io).await else {
        return;
    };
    let _auth = ws.next().await;
    match b {
        Behaviour::Close(code, reason) => {
            let frame = CloseFrame {
                code: code.into(),
                reason: reason.into(),
            };
            let _ = ws.send(Message::Close(Some(frame))).await;
        }
        Behaviour::Ready | Behaviour::ReadyThenSilent | Behaviour::Flood(_) => {
            let ready = r#"{"type":"ready","user":"alice","session":"s","heartbeat_ms":15000,"max_body_bytes":16384,"rate_burst":100,"rate_per_sec":20}"#;
            let _ = ws.send(Message::text(ready)).await;
            if let Behaviour::Flood(n) = b {
                for seq in 1..=n {
                    let m = format!(
                        r#"{{"type":"message","room":"big","seq":{seq},"id":"m{seq}","author":"bob","body":"b","ts":1}}"#
                    );
                    if ws.send(Message::text(m)).await.is_err() {
                        return;
                    }
                }
            }
            if matches!(b, Behaviour::ReadyThenSilent) {
                std::future::pending::<()>().await;
            } else {
                while let Some(Ok(_)) = ws.next().await {}
            }
        }
        Behaviour::Fail => {}
    }
}

fn pair() -> TokenPair {
    TokenPair {
        access_token: "a".into(),
        refresh_token: "r".into(),
        expires_in: 900,
    }
}

/// A wall clock that follows tokio's paused clock, plus an offset to simulate a suspend.
fn fake_wall() -> (ClockWatch, Arc<AtomicU64>) {
    let offset = Arc::new(AtomicU64::new(0));
    let (base, start, o) = (SystemTime::now(), Instant::now(), Arc::clone(&offset));
    let clock = ClockWatch::with_clock(Box::new(move || {
        base + start.elapsed() + Duration::from_secs(o.load(Ordering::Relaxed))
    }));
    (clock, offset)
}

struct Harness {
    client: Client,
    events: mpsc::Receiver<Event>,
    dialer: FakeDialer,
    offset: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

fn start(b: Behaviour, tweak: impl FnOnce(&mut ClientConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = ClientConfig::new(
        "http://fake:1".parse().unwrap_or_else(|e| panic!("{e}")),
        dir.path(),
    );
    tweak(&mut cfg);
    let dialer = FakeDialer::new(b);
    let (clock, offset) = fake_wall();
    let tokens: Arc<dyn TokenStore> = Arc::new(MemoryTokens::new(Some(pair())));
    let (client, events) = Client::start_with(cfg, tokens, Arc::new(dialer.clone()), clock)
        .unwrap_or_else(|e| panic!("{e}"));
    Harness {
        client,
        events,
        dialer,
        offset,
        _dir: dir,
    }
}

impl Harness {
    async fn next_state(&mut self) -> ConnState {
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(24 * 3600), self.events.recv()).await;
            match ev {
                Ok(Some(Event::State(s))) => return s,
                Ok(Some(_)) => continue,
                _ => panic!("no state event"),
            }
        }
    }

    async fn until_state(&mut self, pred: impl Fn(&ConnState) -> bool) -> ConnState {
        loop {
            let s = self.next_state().await;
            if pred(&s) {
                return s;
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_to_the_cap_with_jitter_and_retry_now_skips_the_wait() {
    let mut h = start(Behaviour::Fail, |_| {});
    let mut waits = vec![];
    for _ in 0..9 {
        match h
            .until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
            .await
        {
            ConnState::Reconnecting {
                retry_in_ms,
                attempt,
                ..
            } => waits.push((attempt, retry_in_ms)),
            _ => unreachable!(),
        }
    }
    for (i, (attempt, ms)) in waits.iter().enumerate() {
        assert_eq!(*attempt as usize, i + 1);
        let base = (500u64 << i).min(30_000) as f64;
        let ms = *ms as f64;
        assert!(
            ms >= base * 0.75 - 1.0 && ms <= (base * 1.25).min(30_000.0) + 1.0,
            "attempt {attempt}: {ms} ms vs base {base}"
        );
    }
    // The dial instants are exactly that far apart: the waits are real timers.
    let dials = h.dialer.dials();
    for (i, w) in dials.windows(2).take(8).enumerate() {
        let gap = (w[1] - w[0]).as_millis() as u64;
        assert!(
            gap.abs_diff(waits[i].1) <= 1,
            "gap {gap} ms vs announced {}",
            waits[i].1
        );
    }
    // Now in a 30 s wait: "Retry now" dials at once.
    let before = h.dialer.dials().len();
    let asked = Instant::now();
    h.client.retry_now().await.unwrap();
    h.until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await;
    assert_eq!(h.dialer.dials().len(), before + 1, "one more attempt");
    assert!(
        h.dialer.dials()[before] - asked < Duration::from_millis(10),
        "made at once"
    );
}

#[tokio::test(start_paused = true)]
async fn the_attempt_counter_resets_only_after_ready() {
    let mut h = start(Behaviour::Close(1011, "oops"), |_| {});
    for expected in 1..=3 {
        match h
            .until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
            .await
        {
            ConnState::Reconnecting { attempt, .. } => {
                assert_eq!(attempt, expected, "accepting the socket is not success")
            }
            _ => unreachable!(),
        }
    }
    h.dialer.set(Behaviour::Ready);
    h.until_state(|s| matches!(s, ConnState::Open { .. })).await;
    h.dialer.set(Behaviour::Close(1011, "oops"));
    h.client.network_changed().await.unwrap();
    match h
        .until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await
    {
        ConnState::Reconnecting {
            attempt,
            retry_in_ms,
            ..
        } => {
            assert_eq!(attempt, 1, "counting starts over after a success");
            assert!(retry_in_ms <= 625);
        }
        _ => unreachable!(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_hint_in_the_close_reason_is_honoured() {
    let mut h = start(
        Behaviour::Close(1001, "shutting down; retry_after_ms=20000"),
        |_| {},
    );
    match h
        .until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await
    {
        ConnState::Reconnecting { retry_in_ms, .. } => {
            assert!(retry_in_ms >= 20_000, "{retry_in_ms}")
        }
        _ => unreachable!(),
    }
    h.until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await;
    let d = h.dialer.dials();
    assert!(
        d[1] - d[0] >= Duration::from_secs(20),
        "waited {:?}",
        d[1] - d[0]
    );
}

#[tokio::test(start_paused = true)]
async fn auth_failed_stops_retrying_until_signed_in_again() {
    let mut h = start(Behaviour::Close(4003, "account disabled"), |_| {});
    h.until_state(|s| matches!(s, ConnState::AuthFailed { .. }))
        .await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        h.dialer.dials().len(),
        1,
        "no hammering: one attempt in an hour"
    );
    h.dialer.set(Behaviour::Ready);
    h.client.signed_in().await.unwrap();
    h.until_state(|s| matches!(s, ConnState::Open { .. })).await;
}

#[tokio::test(start_paused = true)]
async fn waking_from_sleep_reconnects_without_waiting_out_the_backoff() {
    let mut h = start(Behaviour::Fail, |c| {
        c.backoff.initial = Duration::from_secs(60);
        c.backoff.max = Duration::from_secs(60);
    });
    h.until_state(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await;
    let failed_at = Instant::now();
    h.dialer.set(Behaviour::Ready);
    h.offset.store(3600, Ordering::Relaxed); // the laptop lid was closed for an hour
    h.until_state(|s| matches!(s, ConnState::Open { .. })).await;
    assert!(
        failed_at.elapsed() <= Duration::from_secs(3),
        "reconnected {:?} after waking, not 45-75 s",
        failed_at.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_replaced_within_15_seconds_by_default() {
    let mut h = start(Behaviour::ReadyThenSilent, |_| {});
    h.until_state(|s| matches!(s, ConnState::Open { .. })).await;
    let opened = Instant::now();
    h.dialer.set(Behaviour::Ready);
    h.until_state(|s| matches!(s, ConnState::Connecting { .. }))
        .await;
    let took = opened.elapsed();
    assert!(
        took <= Duration::from_secs(15),
        "dead peer noticed after {took:?}"
    );
    assert!(
        took >= Duration::from_secs(10),
        "a quiet but alive peer is not dropped early: {took:?}"
    );
    h.until_state(|s| matches!(s, ConnState::Open { .. })).await;
}

/// A token store that fails a few times first, like a keyring not yet unlocked at login.
struct FlakyStore {
    failures: Mutex<u32>,
}

impl TokenStore for FlakyStore {
    fn load(&self) -> confab_client::Result<Option<TokenPair>> {
        let mut left = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if *left > 0 {
            *left -= 1;
            return Err(confab_client::Error::Keyring(
                "the collection is locked".into(),
            ));
        }
        Ok(Some(pair()))
    }
    fn save(&self, _: &TokenPair) -> confab_client::Result<()> {
        Ok(())
    }
    fn clear(&self) -> confab_client::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_keyring_that_is_not_ready_yet_is_retried_not_taken_as_signed_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ClientConfig::new("http://fake:1".parse().unwrap(), dir.path());
    let dialer = FakeDialer::new(Behaviour::Ready);
    let (clock, _offset) = fake_wall();
    let store: Arc<dyn TokenStore> = Arc::new(FlakyStore {
        failures: Mutex::new(2),
    });
    let (_client, mut events) = Client::start_with(cfg, store, Arc::new(dialer), clock).unwrap();
    let mut saw_error = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(3600), events.recv()).await {
            Ok(Some(Event::Error { code, .. })) => {
                saw_error |= code == confab_client::ClientCode::KeyringUnavailable.into()
            }
            Ok(Some(Event::State(ConnState::AuthFailed { reason }))) => panic!("gave up: {reason}"),
            Ok(Some(Event::State(ConnState::Open { .. }))) => break,
            Ok(Some(_)) => {}
            _ => panic!("never connected"),
        }
    }
    assert!(
        saw_error,
        "the user is told the keyring is not available yet"
    );
}

/// The owner stops reading events (a CLI that has what it waited for) while the server is still
/// replaying thousands of messages: `shutdown` must still finish, and no message may be recorded
/// as seen that was never handed to the owner (or the next run would skip it).
#[tokio::test(start_paused = true)]
async fn shutdown_finishes_while_nobody_reads_a_long_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ClientConfig::new("http://fake:1".parse().unwrap(), dir.path());
    cfg.event_buffer = 64;
    let dialer = FakeDialer::new(Behaviour::Flood(1000));
    let (clock, _offset) = fake_wall();
    let tokens: Arc<dyn TokenStore> = Arc::new(MemoryTokens::new(Some(pair())));
    let (client, mut events) =
        Client::start_with(cfg.clone(), tokens, Arc::new(dialer), clock).unwrap();
    // Read until the flood has begun, then stop reading (but keep the receiver).
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Some(Event::Message(_))) => break,
            Ok(Some(_)) => {}
            _ => panic!("the replay never began"),
        }
    }
    // On the paused clock this returns once every task is idle: the client has filled the
    // queue and waits for room in it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::time::timeout(Duration::from_secs(10), client.shutdown())
        .await
        .unwrap_or_else(|_| panic!("shutdown hung behind a full event queue"))
        .unwrap();
    // What was handed over is what is marked seen: one read, the rest still in the queue.
    let mut handed = 1;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        if matches!(ev, Event::Message(_)) {
            handed += 1;
        }
    }
    drop(client);
    let seen = confab_client::Database::open(dir.path(), Default::default())
        .and_then(|db| db.last_seq("big"))
        .unwrap();
    assert!(handed < 1000, "the owner did not read them all ({handed})");
    assert_eq!(seen, handed, "recorded as seen = handed to the owner");
}
