//! Server configuration with the documented defaults (docs/protocol.md, "Limits").

use crate::cluster::ClusterConfig;
use crate::store::{Database, RegistrationPolicy};
use confab_protocol::limits;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `run` needs to know. `Config::new(db_path)` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database: a SQLite file (created with its folder if missing) or PostgreSQL.
    pub db: Database,
    /// Several nodes: the Redis link between them (`--pubsub`). Needs a PostgreSQL `db`.
    pub cluster: Option<ClusterConfig>,
    /// Browser origins allowed to call the API and open `/ws` (exact match, e.g.
    /// `https://chat.example.org`). Requests without an `Origin` header (native clients) are
    /// always allowed; any other origin gets 403.
    pub allowed_origins: Vec<String>,
    /// PEM certificate chain and private key; with both set the server speaks TLS only.
    pub tls: Option<TlsFiles>,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a refresh token (each refresh issues a new one).
    pub refresh_ttl: Duration,
    /// Cap on the database size in bytes; beyond it sends fail with `storage_failed` and
    /// nothing is acknowledged. `None`: limited by the disk only.
    pub max_db_bytes: Option<u64>,
    /// Where `/updates/latest.json` and the desktop app's signed artifacts are served from;
    /// `None`: no updates are published (`latest.json` answers 204).
    pub updates_dir: Option<PathBuf>,
    /// Who may register through `POST /api/register` (default: invite codes only).
    pub registration: RegistrationPolicy,
    /// Attachments: where their bytes are kept and what is accepted.
    pub files: FilesConfig,
    pub limits: Limits,
}

/// Attachments (docs/protocol.md, "Files").
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// The folder that holds the files' bytes, one file per content. Several nodes share one
    /// folder on shared disk. `None`: `files/` beside a SQLite database, and `./confab-files`
    /// with PostgreSQL (give a shared one for several nodes).
    pub dir: Option<PathBuf>,
    /// Largest file in bytes.
    pub max_file_bytes: u64,
    /// Bytes one user's uploads may take (each distinct file counted once).
    pub quota_bytes: u64,
    /// Types taken (`image/png`, `image/*`, `*`); empty: every type not blocked.
    pub allowed_types: Vec<String>,
    /// Types refused even when allowed.
    pub blocked_types: Vec<String>,
    /// Time for a whole upload or download.
    pub transfer_timeout: Duration,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_file_bytes: confab_protocol::files::MAX_FILE_BYTES,
            quota_bytes: confab_protocol::files::QUOTA_BYTES,
            allowed_types: Vec::new(),
            blocked_types: Vec::new(),
            transfer_timeout: Duration::from_secs(10 * 60),
        }
    }
}

impl FilesConfig {
    /// Whether a file of type `mime` is taken.
    pub fn allows(&self, mime: &str) -> bool {
        use confab_protocol::files::type_matches;
        let allowed = self.allowed_types.is_empty()
            || self.allowed_types.iter().any(|p| type_matches(p, mime));
        allowed && !self.blocked_types.iter().any(|p| type_matches(p, mime))
    }

    /// The folder for the files' bytes, given the database.
    pub fn folder(&self, db: &Database) -> PathBuf {
        match (&self.dir, db) {
            (Some(dir), _) => dir.clone(),
            (None, Database::Sqlite(path)) => path
                .parent()
                .map(|p| p.join("files"))
                .unwrap_or_else(|| PathBuf::from("files")),
            (None, Database::Postgres(_)) => PathBuf::from("confab-files"),
        }
    }
}

/// Paths to the PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Resource limits. Every one of them bounds memory or CPU that a single peer can claim.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest WebSocket frame/message; larger closes with 1009.
    pub max_frame_bytes: usize,
    /// Largest message body in bytes.
    pub max_body_bytes: usize,
    /// Time to finish the TLS and HTTP handshake (request head) after connecting.
    pub handshake_timeout: Duration,
    /// Time to send `auth` after the upgrade.
    pub auth_timeout: Duration,
    /// Ping interval; a peer silent for two intervals is dropped.
    pub heartbeat: Duration,
    /// Frames a connection may send in a burst.
    pub rate_burst: u32,
    /// Sustained frames per second.
    pub rate_per_sec: u32,
    /// Rate-limited frames tolerated in a burst before the connection is closed with 1008
    /// (they are forgiven at `rate_per_sec / 4` per second).
    pub flood_strikes: u32,
    /// Frames queued for one connection before it counts as a slow reader and is resynced
    /// from the database instead of buffered.
    pub send_queue: usize,
    /// Bytes of frames queued for one connection at most: past it the fan-out leaves frames
    /// out (read back from the database) and the connection's own replies wait.
    pub send_queue_bytes: usize,
    /// Sends of one connection waiting for the database at once (pipelining depth).
    pub max_inflight_sends: usize,
    /// Rooms one connection may have joined at once.
    pub max_rooms_per_connection: usize,
    /// Per-connection WebSocket read buffer in bytes, allocated at the upgrade and kept for
    /// the connection's life. Small, as nearly every connection is idle nearly all the time: a
    /// bigger frame reserves its own length while it is read, so this only sets how much one
    /// read takes (1 KiB: 3 KB less per idle connection than 4 KiB, no change measured in
    /// fan-out or an outbox flush; docs/bench.md).
    pub read_buffer_bytes: usize,
    /// Password hashes computed at once (argon2 is CPU- and memory-heavy on purpose): this many
    /// threads, each holding one argon2 memory area (~19 MiB) for the server's life.
    pub hash_concurrency: usize,
    /// Password hashes waiting for a thread; one more is answered 503 `busy` with Retry-After.
    pub hash_queue: usize,
    /// Failed sign-ins an account may take in a burst before 429, and the rate they refill at.
    pub login_burst_per_account: u32,
    pub login_per_sec_per_account: f64,
    /// Failed sign-ins (and registrations) one address may make in a burst, and the refill rate.
    /// Loopback counts only with `cap_loopback`.
    pub login_burst_per_ip: u32,
    pub login_per_sec_per_ip: f64,
    /// How long shutdown waits for connections to close before giving up on them.
    pub shutdown_grace: Duration,
    /// Time for a whole HTTP API request, body included (a dribbled body is cut).
    pub request_timeout: Duration,
    /// Open connections at once; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// Authenticated WebSocket connections one account may hold at once (0: no cap); one more
    /// is closed with 1008 before `ready`.
    pub max_connections_per_user: usize,
    /// TCP connections one peer address may hold at once (0: no cap); more are closed at
    /// accept. Loopback peers are not counted unless `cap_loopback`: a reverse proxy on this
    /// machine brings everyone from 127.0.0.1.
    pub max_connections_per_ip: usize,
    /// Count loopback peers against the per-address limits too.
    pub cap_loopback: bool,
    /// Reverse proxies: peers at these addresses bring many users and are not counted against
    /// the per-address limits (connections, sign-in throttling).
    pub proxies: Vec<std::net::IpAddr>,
    /// Longest a WebSocket connection stays open on one sign-in check: then it is closed with
    /// 4001 and the client refreshes its token and reconnects (resuming, so nothing is lost).
    pub session_max_age: Duration,
}

impl Limits {
    /// Whether a peer at `ip` is held to the per-address limits: not a proxy of ours.
    pub fn counts_per_address(&self, ip: std::net::IpAddr) -> bool {
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d, loopback included.
        let ip = ip.to_canonical();
        let local_proxy = ip.is_loopback() && !self.cap_loopback;
        !local_proxy && !self.proxies.iter().any(|p| p.to_canonical() == ip)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: limits::MAX_FRAME_BYTES,
            max_body_bytes: limits::MAX_BODY_BYTES,
            handshake_timeout: Duration::from_secs(5),
            auth_timeout: Duration::from_secs(limits::AUTH_TIMEOUT_SECS),
            heartbeat: Duration::from_secs(15),
            rate_burst: 100,
            rate_per_sec: 20,
            flood_strikes: 50,
            send_queue: 1024,
            send_queue_bytes: 1024 * 1024,
            max_inflight_sends: 64,
            max_rooms_per_connection: 256,
            read_buffer_bytes: 1024,
            hash_concurrency: 2,
            hash_queue: 64,
            login_burst_per_account: 10,
            login_per_sec_per_account: 0.1,
            login_burst_per_ip: 50,
            login_per_sec_per_ip: 1.0,
            shutdown_grace: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_connections: 50_000,
            max_connections_per_user: 32,
            max_connections_per_ip: 256,
            cap_loopback: false,
            proxies: Vec::new(),
            session_max_age: Duration::from_secs(12 * 3600),
        }
    }
}

impl Config {
    /// The defaults, storing data in `db` (a SQLite file path, or a [`Database`]).
    pub fn new(db: impl Into<Database>) -> Self {
        Self {
            db: db.into(),
            cluster: None,
            allowed_origins: Vec::new(),
            tls: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            max_db_bytes: None,
            updates_dir: None,
            registration: RegistrationPolicy::default(),
            files: FilesConfig::default(),
            limits: Limits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Limits;
    use std::net::IpAddr;

    #[test]
    fn proxies_and_loopback_are_not_held_to_per_address_limits() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        let mut limits = Limits {
            proxies: vec![ip("10.0.0.5")],
            ..Limits::default()
        };
        for local in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(
                !limits.counts_per_address(ip(local)),
                "{local}: a local proxy"
            );
        }
        assert!(!limits.counts_per_address(ip("10.0.0.5")), "a named proxy");
        assert!(
            !limits.counts_per_address(ip("::ffff:10.0.0.5")),
            "the same, dual-stack"
        );
        assert!(limits.counts_per_address(ip("10.0.0.6")));
        assert!(limits.counts_per_address(ip("2001:db8::1")));
        limits.cap_loopback = true;
        assert!(limits.counts_per_address(ip("::ffff:127.0.0.1")));
    }
}
