//! The handle: a cheap, cloneable front to the actor.

use crate::actor::{Actor, Parts};
use crate::command::{Reply, Request};
use crate::core::{Conversation, Core, JoinedRoom};
use crate::db::Database;
use crate::event::{Events, Outgoing};
use crate::files::transfer::{Fetch, Fetched};
use crate::files::{self, Attach};
use crate::history::HistoryAt;
use crate::outbox::Draft;
#[cfg(doc)]
use crate::outbox::Target;
use crate::people::PeopleCall;
use crate::search::{Checked, SearchRequest, SearchResults};
use crate::servers::Servers;
use crate::transport::{Dial, Dialer};
use crate::wake::ClockWatch;
use crate::{BackoffConfig, Error, Event, OutboxLimits, Result, TokenStore, api::Api};
use confab_protocol::files::MAX_ATTACHMENTS;
use confab_protocol::{ErrorCode, MessageData, RoomName};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use url::Url;

/// How a client connects and behaves. `ClientConfig::new` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server, `http(s)://host:port` (the WebSocket URL is derived from it).
    pub server: Url,
    /// Other nodes of the same deployment, tried in turn when the one in use cannot be
    /// reached. Empty for one server (or several behind one load-balanced name).
    pub fallback_servers: Vec<Url>,
    /// Where the outbox and message cache live; one folder per account
    /// ([`crate::Account::data_dir`]).
    pub data_dir: PathBuf,
    /// A PEM CA certificate to trust besides the public roots (self-hosted servers).
    pub extra_root_pem: Option<Vec<u8>>,
    pub backoff: BackoffConfig,
    /// How often to ping the server and check for sleep and network changes.
    pub tick: Duration,
    /// A connection that has heard nothing for this long is declared dead and replaced.
    pub dead_after: Duration,
    /// Limit for TCP + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
    /// Limit for `ready` after `auth`.
    pub auth_timeout: Duration,
    pub outbox: OutboxLimits,
    /// Sends awaiting their ack at once.
    pub max_in_flight: usize,
    /// Events buffered for a slow consumer before the actor waits for it.
    pub event_buffer: usize,
    /// A room never received from is joined at its newest this many messages instead of its
    /// beginning (older ones come from `history`): what a chat window wants. `None` (the
    /// default, what `confab tail` needs) replays the room from its first message.
    pub first_join_latest: Option<u32>,
    /// Join every room of the user's room list, and every room added (an invitation, a dm),
    /// on this device too: what a chat window wants. Off by default: `confab tail` must not
    /// take other rooms' messages as seen by this data dir.
    pub follow_rooms: bool,
}

impl ClientConfig {
    pub fn new(server: Url, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            server,
            fallback_servers: Vec::new(),
            data_dir: data_dir.into(),
            extra_root_pem: None,
            backoff: BackoffConfig::default(),
            tick: Duration::from_millis(2500),
            dead_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            outbox: OutboxLimits::default(),
            max_in_flight: 64,
            event_buffer: 1024,
            first_join_latest: None,
            follow_rooms: false,
        }
    }
}

/// The client. Clone it freely; the connection lives as long as any clone (or until
/// [`Client::shutdown`]).
#[derive(Debug, Clone)]
pub struct Client {
    requests: mpsc::Sender<Request>,
    /// Cancelled by `shutdown`: it reaches the actor even while it waits for room in the
    /// owner's event queue (which a stopped reader would never make).
    stop: CancellationToken,
    /// Where attached files are staged ([`files`]).
    files_dir: PathBuf,
    /// The largest file the server takes (from its `ready`; the default before one came).
    max_file_bytes: Arc<AtomicU64>,
}

impl Client {
    /// Opens the local database and starts connecting. Events arrive on the returned receiver,
    /// in order; the first is the connection state.
    pub fn start(
        config: ClientConfig,
        tokens: Arc<dyn TokenStore>,
    ) -> Result<(Self, mpsc::Receiver<Event>)> {
        let servers = Servers::new(config.server.clone(), &config.fallback_servers);
        let dialer = Dialer::new(
            servers.clone(),
            config.extra_root_pem.as_deref(),
            config.connect_timeout,
        )?;
        Self::start_with(config, tokens, Arc::new(dialer), ClockWatch::system())
    }

    /// [`Client::start`] with a chosen dialer and clock: for tests of the reconnect logic.
    pub fn start_with(
        config: ClientConfig,
        tokens: Arc<dyn TokenStore>,
        dial: Arc<dyn Dial>,
        clock: ClockWatch,
    ) -> Result<(Self, mpsc::Receiver<Event>)> {
        let db = Database::open(&config.data_dir, config.outbox.clone())?;
        let core = Core::new(db, config.first_join_latest, config.follow_rooms)?;
        // The API follows the same list as the dialer but keeps its own place in it: a
        // refresh that finds a node gone moves it on, and the dialer finds out on its own.
        let servers = Servers::new(config.server.clone(), &config.fallback_servers);
        let api = Api::with_servers(servers, config.extra_root_pem.as_deref())?;
        let (req_tx, req_rx) = mpsc::channel(64);
        let (ev_tx, ev_rx) = mpsc::channel(config.event_buffer.max(1));
        let stop = CancellationToken::new();
        let files_dir = files::staged_dir(&config.data_dir);
        let max_file_bytes = Arc::new(AtomicU64::new(confab_protocol::files::MAX_FILE_BYTES));
        let actor = Actor::new(Parts {
            max_file_bytes: Arc::clone(&max_file_bytes),
            cfg: config,
            core,
            api,
            dial,
            tokens,
            requests: req_rx,
            events: Events::new(ev_tx, stop.clone()),
            stop: stop.clone(),
            clock,
        });
        tokio::spawn(actor.run());
        Ok((
            Self {
                requests: req_tx,
                stop,
                files_dir,
                max_file_bytes,
            },
            ev_rx,
        ))
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    async fn tell(&self, request: Request) -> Result<()> {
        self.requests.send(request).await.map_err(|_| Error::Closed)
    }

    /// Queues a message in `room` (a name as typed: `#General` is `general`). When this returns
    /// the message is on disk and will be delivered exactly once, whatever happens to the
    /// network or this process; events with its `id` follow it (`Event::Outgoing`, then
    /// `Event::Sent` or `Event::SendFailed`). Joins the room if needed. Refuses, queuing nothing,
    /// what the server would refuse for good (a bad room name, an empty or too long body).
    pub async fn send(&self, room: &str, body: &str) -> Result<Outgoing> {
        self.queue(
            room,
            Draft::Message {
                body: body.to_owned(),
                reply_to: None,
                files: Vec::new(),
            },
        )
        .await
    }

    /// Queues a message with files (at most [`MAX_ATTACHMENTS`]; `body` may then be empty),
    /// with the guarantee of [`Client::send`]. The files are copied into the data folder first
    /// (so moving or changing one afterwards changes nothing), then uploaded when a
    /// connection is open, with [`Event::Uploading`] progress; the message goes out once they
    /// are up. Refused at once: a file over the server's size limit, an empty or unreadable
    /// one. The server may still refuse a file (type, quota): [`Event::SendFailed`].
    pub async fn send_files(
        &self,
        room: &str,
        body: &str,
        reply_to: Option<u64>,
        attach: Vec<Attach>,
    ) -> Result<Outgoing> {
        if attach.len() > MAX_ATTACHMENTS {
            return Err(Error::Rejected {
                code: ErrorCode::BadAttachment,
                message: format!("a message carries at most {MAX_ATTACHMENTS} files"),
            });
        }
        let dir = self.files_dir.clone();
        let max = self.max_file_bytes.load(Ordering::Relaxed);
        let staged = tokio::task::spawn_blocking(move || {
            attach
                .into_iter()
                .map(|a| files::stage(&dir, a, max))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
        let draft = Draft::Message {
            body: body.to_owned(),
            reply_to,
            files: staged.iter().map(|s| s.file.clone()).collect(),
        };
        let room = room.to_owned();
        self.ask(|reply| Request::Queue {
            room,
            draft,
            staged,
            reply,
        })
        .await
    }

    /// Fetches a file the user may see: to a path (resuming a download an earlier call left
    /// unfinished there), or as bytes (a thumbnail or a preview).
    pub async fn fetch(&self, fetch: Fetch) -> Result<Fetched> {
        self.ask(|reply| Request::Fetch { fetch, reply }).await
    }

    /// Queues work for `room` — a message (optionally a reply), an edit, a deletion or a
    /// reaction — with the same guarantee as [`Client::send`]: on disk when this returns,
    /// delivered once, in order with everything queued before it. A change may aim at one of
    /// our messages still queued ([`Target::Queued`]): it goes out after that message is
    /// stored; an edit or deletion of one no connection has taken yet rewrites the outbox
    /// instead (the reply is then that message, and a deletion is reported as
    /// [`Event::Withdrawn`]). Refused at once: a bad room, body or emoji, a target that is
    /// neither queued nor cached (`bad_target`).
    pub async fn queue(&self, room: &str, draft: Draft) -> Result<Outgoing> {
        let room = room.to_owned();
        self.ask(|reply| Request::Queue {
            room,
            draft,
            staged: Vec::new(),
            reply,
        })
        .await
    }

    /// Joins a room (kept across restarts) and resumes it from the last message received.
    /// A name that is no room name is refused (`bad_room`), and nothing is recorded. Returns
    /// the room's name as it is on the wire (`#General` joins `general`).
    pub async fn join(&self, room: &str) -> Result<RoomName> {
        let room = room.to_owned();
        self.ask(|reply| Request::Join {
            room,
            after: None,
            reply,
        })
        .await
    }

    /// Joins a room and (re)starts it after `after`: messages above it are delivered again.
    pub async fn join_after(&self, room: &str, after: u64) -> Result<RoomName> {
        let room = room.to_owned();
        self.ask(|reply| Request::Join {
            room,
            after: Some(after),
            reply,
        })
        .await
    }

    pub async fn leave(&self, room: &str) -> Result<()> {
        let room = room.to_owned();
        self.ask(|reply| Request::Leave { room, reply }).await
    }

    /// Tells the room the user is typing. Dropped when offline: stale typing is worse than none.
    pub async fn typing(&self, room: &str) -> Result<()> {
        self.tell(Request::Typing {
            room: room.to_owned(),
        })
        .await
    }

    /// Searches the rooms the user is in: on the server when online, in this device's cache
    /// when not (each hit says which). A bad query is refused here with `bad_query`.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResults> {
        let request = Checked::new(request)?;
        self.ask(|reply| Request::Search { request, reply }).await
    }

    /// Up to `limit` (1 to the protocol's 200) messages older than `before` (newest when
    /// `None`), ascending: from the server when online (and cached), from the cache when not.
    pub async fn history(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageData>> {
        self.history_at(room, HistoryAt::Before(before), limit)
            .await
    }

    /// A page of history anywhere in the room (see [`HistoryAt`]), ascending: after a seq when
    /// scrolling back down, around one for a jump to it. Online from the server, else the cache.
    pub async fn history_at(
        &self,
        room: &str,
        at: HistoryAt,
        limit: u32,
    ) -> Result<Vec<MessageData>> {
        let room = room.to_owned();
        self.ask(|reply| Request::History {
            room,
            at,
            limit,
            reply,
        })
        .await
    }

    /// Every message in the outbox, oldest first, with where it is.
    pub async fn outbox(&self) -> Result<Vec<Outgoing>> {
        self.ask(|reply| Request::Outbox { reply }).await
    }

    /// How many messages wait in the outbox.
    pub async fn queued(&self) -> Result<usize> {
        Ok(self.outbox().await?.len())
    }

    /// Joined rooms and the last seq received in each, by name.
    pub async fn rooms(&self) -> Result<Vec<JoinedRoom>> {
        self.ask(|reply| Request::Rooms { reply }).await
    }

    /// Asks the server about conversations. Returns once the request is written; what it did
    /// comes as events (`Invited`, `Changed`, `Dm`, `RoomAdded`, `RoomRemoved`, `Rooms`,
    /// `Read`, or an `Error`). Refused at once when not connected, except [`Conversation::Read`],
    /// which is kept for the next connection.
    pub async fn conversation(&self, request: Conversation) -> Result<()> {
        self.ask(|reply| Request::Conversation { request, reply })
            .await
    }

    /// Asks the server about people (HTTP): the answer is one profile (`Me`, `SetDisplayName`)
    /// or the users found (`Search`).
    pub async fn people(&self, call: PeopleCall) -> Result<Vec<confab_protocol::api::Profile>> {
        self.ask(|reply| Request::People { call, reply }).await
    }

    /// Skips the backoff wait and reconnects now (the UI's "Retry now").
    pub async fn retry_now(&self) -> Result<()> {
        self.tell(Request::RetryNow).await
    }

    /// The OS reported a network change: replace the connection now.
    pub async fn network_changed(&self) -> Result<()> {
        self.tell(Request::NetworkChanged).await
    }

    /// New tokens were stored (the user signed in again): leave `auth_failed` and connect.
    pub async fn signed_in(&self) -> Result<()> {
        self.tell(Request::RetryNow).await
    }

    /// Closes the connection normally (1000) and stops. Queued messages stay on disk for the
    /// next start. Finishes even if nobody reads the events: events still queued for the owner
    /// stay readable, and no message is recorded as seen that was not queued for it.
    pub async fn shutdown(&self) -> Result<()> {
        self.stop.cancel();
        match self.ask(|reply| Request::Shutdown { reply }).await {
            Err(Error::Closed) => Ok(()),
            other => other,
        }
    }
}
