//! Starting clients against a test server and waiting on their events with deadlines.

use confab_client::{Client, ClientConfig, ConnState, Event, MemoryTokens, TokenStore};
use confab_protocol::MessageData;
use confab_protocol::api::TokenPair;
use confab_test_support::DEADLINE;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::mpsc;

/// A client under test with its event stream and data folder.
pub(crate) struct TestClient {
    pub client: Client,
    pub events: mpsc::Receiver<Event>,
    pub _tokens: Arc<MemoryTokens>,
    pub _dir: Arc<TempDir>,
    /// Every message event seen so far, in order.
    pub received: Vec<MessageData>,
}

/// Fast settings for tests: short backoff, ticks and dead-peer limit.
pub(crate) fn fast_config(server: &str, dir: &std::path::Path) -> ClientConfig {
    let mut cfg = ClientConfig::new(server.parse().unwrap_or_else(|e| panic!("url: {e}")), dir);
    cfg.backoff.initial = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(400);
    cfg.tick = Duration::from_millis(100);
    cfg.dead_after = Duration::from_millis(600);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.auth_timeout = Duration::from_secs(2);
    cfg
}

impl TestClient {
    pub(crate) fn start(server: &str, tokens: TokenPair) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
        Self::start_in(
            fast_config(server, dir.path()),
            dir,
            Arc::new(MemoryTokens::new(Some(tokens))),
        )
    }

    pub(crate) fn start_in(
        cfg: ClientConfig,
        dir: Arc<TempDir>,
        tokens: Arc<MemoryTokens>,
    ) -> Self {
        let store: Arc<dyn TokenStore> = Arc::clone(&tokens) as Arc<dyn TokenStore>;
        let (client, events) = Client::start(cfg, store).unwrap_or_else(|e| panic!("start: {e}"));
        Self {
            client,
            events,
            _tokens: tokens,
            _dir: dir,
            received: vec![],
        }
    }

    /// The next event matching `pred` (others are kept in `received` if they are messages).
    pub(crate) async fn until(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Event {
        loop {
            let ev = tokio::time::timeout(DEADLINE, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("event stream ended while waiting for {what}"));
            if let Event::Message(m) = &ev {
                self.received.push(m.clone());
            }
            if pred(&ev) {
                return ev;
            }
        }
    }

    pub(crate) async fn until_open(&mut self) {
        self.until("open", |e| {
            matches!(e, Event::State(ConnState::Open { .. }))
        })
        .await;
    }

    /// Joins a room and waits until its replay is complete.
    pub(crate) async fn join_synced(&mut self, room: &str) {
        self.client
            .join(room)
            .await
            .unwrap_or_else(|e| panic!("join {room}: {e}"));
        self.until(
            &format!("{room} synced"),
            |e| matches!(e, Event::Synced { room: r, .. } if r == room),
        )
        .await;
    }

    /// Waits until `n` messages have been received in total.
    pub(crate) async fn until_received(&mut self, n: usize) {
        while self.received.len() < n {
            self.until(
                &format!("{n} messages (have {})", self.received.len()),
                |e| matches!(e, Event::Message(_)),
            )
            .await;
        }
    }

    /// Waits until the outbox is empty.
    pub(crate) async fn until_flushed(&mut self) {
        while self.client.queued().await.unwrap_or(1) > 0 {
            self.until("an empty outbox", |e| {
                matches!(e, Event::Sent { .. } | Event::SendFailed { .. })
            })
            .await;
        }
    }
}
