//! confab-server: HTTP login and WebSocket chat rooms on embedded SQLite, in one binary.
//!
//! Layers, from the socket inwards:
//! - [`net`]: accept loop, optional TLS ([`tls`]), handshake deadlines, HTTP/1.1 with upgrades.
//! - [`http`]: the `/api` endpoints, the `/ws` upgrade and the Origin allowlist; [`updates`]
//!   serves the desktop app's update manifest and artifacts from a directory; both answer
//!   errors as [`http_error`]s.
//! - [`ws`]: one connection = a reader task (auth, flood control, frame handling) and a writer
//!   task (the only code that writes to the socket; exactly-once, in-order delivery per room);
//!   what is queued between them is bounded in frames and in bytes (`backlog`).
//! - [`files`]: attachments' bytes in a content-addressed store, and image thumbnails.
//! - [`rooms`]: membership and non-blocking fan-out; slow readers are resynced, not buffered.
//!   `seats` caps connections per account and per address.
//! - [`cluster`]: several nodes on one PostgreSQL, joined by Redis pub/sub as a doorbell.
//! - [`auth`]: argon2 passwords (hashed on fixed threads by `hashing`, throttled by `throttle`),
//!   random tokens stored as hashes, refresh rotation.
//! - [`store`]: one storage interface on SQLite (default: WAL mode, one group-committing writer
//!   thread) or PostgreSQL (several nodes); sequence numbers and idempotent sends live here.
//!
//! A message travels: reader → store writer (commit) → hub fan-out and the sender's ack →
//! each member's writer → socket. Shutdown cancels one token: the accept loop stops, every
//! session sends close 1001 after the acks it owes, and the writer thread drains and closes.

pub mod auth;
mod backlog;
mod bucket;
pub mod cluster;
pub mod config;
mod error;
mod fan_out;
pub mod files;
mod hashing;
mod http;
mod http_error;
pub mod metrics;
mod net;
mod private;
pub mod rooms;
mod seats;
pub mod store;
mod throttle;
mod tls;
mod updates;
mod ws;

pub use config::{Config, FilesConfig, Limits, TlsFiles};
pub use error::{Error, Result};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What every handler and session shares.
#[derive(Debug)]
pub(crate) struct AppState {
    pub config: Arc<Config>,
    pub store: store::Store,
    pub auth: auth::Auth,
    /// Failed sign-ins per account and per address, asked before any password is hashed.
    pub sign_ins: throttle::SignInThrottle,
    pub hub: Arc<rooms::Hub>,
    pub metrics: Arc<metrics::Metrics>,
    /// Attachments: their store and limits.
    pub files: files::Files,
    /// The link with the other nodes, when there are several.
    pub cluster: Option<cluster::Cluster>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// Open WebSocket sessions are capped at `limits.max_connections`.
    pub ws_slots: Arc<tokio::sync::Semaphore>,
    /// Authenticated connections per account (lower-case name), capped at
    /// `limits.max_connections_per_user`.
    pub user_seats: seats::Seats<String>,
    /// Connections per peer address, capped at `limits.max_connections_per_ip`.
    pub ip_seats: seats::Seats<std::net::IpAddr>,
    session_ids: AtomicU64,
}

impl AppState {
    /// `user` is typing in `room`: this node's members hear it, and the other nodes'.
    pub(crate) fn typing(&self, room: &str, user: &str) {
        self.hub.typing(room, user);
        if let Some(cluster) = &self.cluster {
            cluster.typing(room, user);
        }
    }

    /// A frame for every connection of `user`, on this node and the others.
    pub(crate) fn to_user(&self, user: &str, frame: &axum::extract::ws::Utf8Bytes) {
        self.hub.to_user(user, frame);
        if let Some(cluster) = &self.cluster {
            cluster.user(user, frame);
        }
    }

    /// `user`'s first connection on this node joined `room` (`present`), or its last one left.
    pub(crate) fn presence_changed(&self, room: &str, user: &str, present: bool) {
        self.hub.announce_presence(room);
        if let Some(cluster) = &self.cluster {
            cluster.presence(room, user, present);
        }
    }

    /// A new connection id: random start, then counting, so ids do not leak server uptime.
    pub(crate) fn next_session_id(&self) -> u64 {
        self.session_ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// Serves on `listener` until `shutdown` is cancelled, then closes every connection (1001),
/// waits for them up to the grace period and closes the database.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> Result<()> {
    run_with_metrics(listener, None, config, shutdown).await
}

/// [`run`], also serving `GET /metrics` (Prometheus) on `metrics`: a listener of its own, so
/// the figures can stay on a private address while the API is public.
pub async fn run_with_metrics(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    config: Config,
    shutdown: CancellationToken,
) -> Result<()> {
    let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
    if config.cluster.is_some() && !matches!(config.db, store::Database::Postgres(_)) {
        return Err(Error::Pubsub(
            "several nodes share one PostgreSQL database: --pubsub needs --db postgres://…".into(),
        ));
    }
    // One server per SQLite file: a second one, or a restore, is refused while this runs.
    let _lock = match &config.db {
        store::Database::Sqlite(path) => Some(store::sqlite::lock(path)?),
        store::Database::Postgres(_) => None,
    };
    let hub = Arc::new(rooms::Hub::default());
    let (committed, to_fan_out) = tokio::sync::mpsc::channel(fan_out::PUBLISH_QUEUE);
    let (store, closer) = store::Store::open(&config.db, config.max_db_bytes, committed).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let blobs = files::Blobs::open_dir(&config.files.folder(&config.db))?;
    let cluster = match &config.cluster {
        Some(c) => Some(cluster::Cluster::start(
            c.clone(),
            Arc::clone(&hub),
            store.clone(),
            Arc::clone(&metrics),
            shutdown.clone(),
        )?),
        None => None,
    };
    fan_out::start(Arc::clone(&hub), to_fan_out, cluster.clone());
    let config = Arc::new(config);
    let state = Arc::new(AppState {
        auth: auth::Auth::new(store.clone(), Arc::clone(&config))?,
        sign_ins: throttle::SignInThrottle::new(&config.limits),
        config: Arc::clone(&config),
        store,
        hub,
        metrics,
        files: files::Files::new(config.files.clone(), blobs),
        cluster,
        shutdown: shutdown.clone(),
        tracker: TaskTracker::new(),
        ws_slots: Arc::new(tokio::sync::Semaphore::new(
            config.limits.max_connections.max(1),
        )),
        user_seats: seats::Seats::new(config.limits.max_connections_per_user),
        ip_seats: seats::Seats::new(config.limits.max_connections_per_ip),
        session_ids: AtomicU64::new(rand::random::<u32>().into()),
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tls = config.tls.is_some(), db = %config.db, "listening");

    if let Some(listener) = metrics_listener {
        tracing::info!(addr = %listener.local_addr()?, "serving metrics");
        let router = http::metrics_router(Arc::clone(&state));
        tokio::spawn(net::accept_loop(listener, None, router, Arc::clone(&state)));
    }
    let router = http::router(Arc::clone(&state));
    net::accept_loop(listener, tls, router, Arc::clone(&state)).await;

    tracing::info!("shutting down");
    state.tracker.close();
    // A session may use up to 2 × grace (acks, then its writer); leave room beyond that.
    if tokio::time::timeout(config.limits.shutdown_grace * 3, state.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    // Dropping the last store handle ends the writer thread once its queue is empty. A session
    // that outlived the grace period still holds one, so the wait is bounded too; anything it
    // has not committed was never acknowledged.
    drop(state);
    let joined = tokio::task::spawn_blocking(move || closer.join());
    if tokio::time::timeout(config.limits.shutdown_grace, joined)
        .await
        .is_err()
    {
        tracing::warn!("the storage writer did not finish in time");
    }
    tracing::info!("stopped");
    Ok(())
}
