//! The command line: flags, their environment variables, the optional TOML file, and the
//! server [`Config`] they make.

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use confab_server::cluster::ClusterConfig;
use confab_server::store::{Database, RegistrationPolicy};
use confab_server::{Config, TlsFiles};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Confab chat server: HTTP login and WebSocket rooms, on embedded SQLite or PostgreSQL.
///
/// Every flag can also be set from the environment variable shown, or in the --config file
/// (TOML, the flags' long names as keys: `listen = "0.0.0.0:8443"`, `origin = ["https://…"]`).
/// A flag beats its variable, which beats the file.
#[derive(Debug, Parser)]
#[command(version, about, args_override_self = true)]
pub(crate) struct Args {
    /// A TOML file of settings (see above); /etc/confab/server.toml in the package.
    #[arg(long, env = "CONFAB_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the log says which).
    #[arg(long, env = "CONFAB_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Folder for the database when --db is not given.
    #[arg(long, env = "CONFAB_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// SQLite database file, or a PostgreSQL URL (postgres://user@host/db) for several nodes
    /// sharing one database [default: <data dir>/confab.db].
    #[arg(long, env = "CONFAB_DB")]
    pub(crate) db: Option<String>,
    /// Test failpoint: commit and acknowledge, but never ring the other nodes (as if killed
    /// between COMMIT and PUBLISH).
    #[arg(long, hide = true)]
    pub(crate) failpoint_drop_doorbells: bool,
    /// Serve Prometheus metrics at GET /metrics on this address (keep it private, e.g.
    /// 127.0.0.1:9464); off when not given.
    #[arg(long, env = "CONFAB_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// Several nodes on one PostgreSQL --db: the Redis that links them (redis://host:port/).
    #[arg(long, env = "CONFAB_PUBSUB")]
    pub(crate) pubsub: Option<String>,
    /// Browser origin allowed to use the server (repeat, or comma-separate in the variable).
    /// Clients that send no Origin (native apps, the CLI) are always allowed.
    #[arg(long = "origin", env = "CONFAB_ORIGINS", value_delimiter = ',')]
    pub(crate) origins: Vec<String>,
    /// PEM certificate chain: with --tls-key, serve https/wss only.
    #[arg(long, env = "CONFAB_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CONFAB_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Access token lifetime in seconds.
    #[arg(long, env = "CONFAB_ACCESS_TTL", default_value_t = 900)]
    pub(crate) access_ttl_secs: u64,
    /// Refresh token lifetime in days.
    #[arg(long, env = "CONFAB_REFRESH_TTL_DAYS", default_value_t = 30)]
    pub(crate) refresh_ttl_days: u64,
    /// Longest message body in bytes.
    #[arg(long, env = "CONFAB_MAX_BODY", default_value_t = confab_protocol::limits::MAX_BODY_BYTES)]
    pub(crate) max_body_bytes: usize,
    /// Frames a connection may send in a burst.
    #[arg(long, env = "CONFAB_RATE_BURST", default_value_t = 100)]
    pub(crate) rate_burst: u32,
    /// Sustained frames per second per connection.
    #[arg(long, env = "CONFAB_RATE_PER_SEC", default_value_t = 20)]
    pub(crate) rate_per_sec: u32,
    /// Authenticated connections one account may hold at once (0: no cap).
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS_PER_USER", default_value_t = 32)]
    pub(crate) max_connections_per_user: usize,
    /// Connections one peer address may hold at once (0: no cap). Loopback peers (a reverse
    /// proxy on this machine) are not counted.
    #[arg(long, env = "CONFAB_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub(crate) max_connections_per_ip: usize,
    /// A reverse proxy's address (repeat, or comma-separate in the variable): its peers are
    /// many users, so per-address limits do not apply to it. Loopback is always one.
    #[arg(long = "proxy", env = "CONFAB_PROXIES", value_delimiter = ',')]
    pub(crate) proxies: Vec<std::net::IpAddr>,
    /// Hours a WebSocket connection stays open before the client must refresh its sign-in
    /// and reconnect (it resumes; nothing is lost).
    #[arg(long, env = "CONFAB_SESSION_MAX_HOURS", default_value_t = 12)]
    pub(crate) session_max_hours: u64,
    /// Heartbeat (ping) interval in seconds.
    #[arg(long, env = "CONFAB_HEARTBEAT_SECS", default_value_t = 15)]
    pub(crate) heartbeat_secs: u64,
    /// Cap on the SQLite database size in MiB; beyond it new messages are refused
    /// (storage_failed). PostgreSQL is capped by its own means (quotas, disk).
    #[arg(long, env = "CONFAB_MAX_DB_MB")]
    pub(crate) max_db_mb: Option<u64>,
    /// Publish desktop app updates: `latest.json` and the signed packages it names, served at
    /// `/updates/` (see docs/release.md).
    #[arg(long, env = "CONFAB_UPDATES_DIR")]
    pub(crate) updates_dir: Option<PathBuf>,
    /// Folder for attachments' bytes (shared disk for several nodes) [default: files/ beside
    /// the SQLite database; ./confab-files with PostgreSQL].
    #[arg(long, env = "CONFAB_FILES_DIR")]
    pub(crate) files_dir: Option<PathBuf>,
    /// Largest attachment in MiB.
    #[arg(long, env = "CONFAB_MAX_FILE_MB", default_value_t = 25)]
    pub(crate) max_file_mb: u64,
    /// Storage each user's uploads may take, in MiB.
    #[arg(long, env = "CONFAB_QUOTA_MB", default_value_t = 1024)]
    pub(crate) quota_mb: u64,
    /// File types taken (repeat or comma-separate: image/*, application/pdf); none: all.
    #[arg(
        long = "allowed-type",
        env = "CONFAB_ALLOWED_TYPES",
        value_delimiter = ','
    )]
    pub(crate) allowed_types: Vec<String>,
    /// File types refused even when allowed (repeat or comma-separate).
    #[arg(
        long = "blocked-type",
        env = "CONFAB_BLOCKED_TYPES",
        value_delimiter = ','
    )]
    pub(crate) blocked_types: Vec<String>,
    /// Who may register: anyone (open), only with an invite code from an administrator
    /// (invite; the first account needs none and becomes an administrator), or nobody
    /// (closed: accounts come from `create-user`).
    #[arg(long, env = "CONFAB_REGISTRATION", value_enum, default_value_t = RegistrationPolicy::Invite)]
    pub(crate) registration: RegistrationPolicy,
    /// Log filter, e.g. `info` or `confab_server=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub(crate) log: String,
    /// Log lines as text, or as one JSON object per line.
    #[arg(long, env = "CONFAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Disable an account: its sessions get close 4003 and it can no longer log in.
    DisableUser { username: String },
    /// Re-enable a disabled account.
    EnableUser { username: String },
    /// Create an account whatever --registration says; the password is read from stdin.
    CreateUser {
        username: String,
        /// Make it a server administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set a new password (read from stdin) and sign the account out on every device.
    ResetPassword { username: String },
    /// Make an account a server administrator (creates invites, manages every room).
    MakeAdmin {
        username: String,
        /// Take the right away instead.
        #[arg(long)]
        revoke: bool,
    },
    /// Print a new invite code for --registration invite.
    Invite {
        /// How many accounts it may create.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Seconds until it expires.
        #[arg(long, default_value_t = 7 * 24 * 3600)]
        expires_in: u64,
    },
    /// Copy the SQLite database to FILE while the server runs (a consistent snapshot).
    /// For PostgreSQL use pg_dump (docs/deploy.md).
    Backup { file: PathBuf },
    /// Replace the SQLite database with a backup. Stop the server first.
    Restore { file: PathBuf },
}

/// Parses the command line, then again with the config file's settings in front of it, so
/// that a flag given on the command line overrides the file (`args_override_self`).
pub(crate) fn parse() -> anyhow::Result<Args> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let args = Args::parse_from(&argv);
    let Some(path) = &args.config else {
        return Ok(args);
    };
    let mut merged = vec![
        argv.first()
            .cloned()
            .unwrap_or_else(|| "confab-server".into()),
    ];
    merged.extend(file_flags(path)?);
    merged.extend(argv.into_iter().skip(1));
    let matches = Args::command()
        .try_get_matches_from(merged)
        .unwrap_or_else(|e| e.exit());
    Ok(Args::from_arg_matches(&matches)?)
}

/// The file's settings as flags. A setting whose environment variable is set is left out:
/// the variable wins, as it would over the default.
fn file_flags(path: &Path) -> anyhow::Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let command = Args::command();
    let mut flags = Vec::new();
    for (key, value) in table {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && !a.is_hide_set())
            .with_context(|| format!("{}: unknown setting {key:?}", path.display()))?;
        if arg.get_id() == "config" {
            anyhow::bail!("{}: a config file cannot name another", path.display());
        }
        if arg
            .get_env()
            .is_some_and(|env| std::env::var_os(env).is_some())
        {
            continue;
        }
        let values = match value {
            toml::Value::Array(items) => items,
            one => vec![one],
        };
        for value in values {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Boolean(true) => {
                    flags.push(format!("--{key}").into());
                    continue;
                }
                toml::Value::Boolean(false) => continue,
                other => anyhow::bail!("{}: {key} cannot be {other}", path.display()),
            };
            flags.push(format!("--{key}").into());
            flags.push(text.into());
        }
    }
    Ok(flags)
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("confab-server"))
        .unwrap_or_else(|| PathBuf::from("confab-data"))
}

impl Args {
    /// `--db`, or `confab.db` in the data folder.
    pub(crate) fn database(&self) -> Database {
        match &self.db {
            Some(db) => Database::parse(db),
            None => Database::Sqlite(
                self.data_dir
                    .clone()
                    .unwrap_or_else(default_data_dir)
                    .join("confab.db"),
            ),
        }
    }

    /// The server's settings.
    pub(crate) fn server_config(&self) -> Config {
        let mut config = Config::new(self.database());
        config.cluster = self.pubsub.clone().map(|url| ClusterConfig {
            drop_doorbells: self.failpoint_drop_doorbells,
            ..ClusterConfig::new(url)
        });
        config.allowed_origins = self
            .origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        config.tls = self
            .tls_cert
            .clone()
            .zip(self.tls_key.clone())
            .map(|(cert, key)| TlsFiles { cert, key });
        config.access_ttl = Duration::from_secs(self.access_ttl_secs);
        config.refresh_ttl = Duration::from_secs(self.refresh_ttl_days * 24 * 3600);
        config.limits.max_body_bytes = self
            .max_body_bytes
            .min(confab_protocol::limits::MAX_FRAME_BYTES / 2);
        config.max_db_bytes = self.max_db_mb.map(|mb| mb * 1024 * 1024);
        config.updates_dir = self.updates_dir.clone();
        config.registration = self.registration;
        config.files.dir = self.files_dir.clone();
        config.files.max_file_bytes = self.max_file_mb.saturating_mul(1024 * 1024);
        config.files.quota_bytes = self.quota_mb.saturating_mul(1024 * 1024);
        let types = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        };
        config.files.allowed_types = types(&self.allowed_types);
        config.files.blocked_types = types(&self.blocked_types);
        config.limits.rate_burst = self.rate_burst;
        config.limits.rate_per_sec = self.rate_per_sec;
        config.limits.heartbeat = Duration::from_secs(self.heartbeat_secs.max(1));
        config.limits.max_connections_per_user = self.max_connections_per_user;
        config.limits.max_connections_per_ip = self.max_connections_per_ip;
        config.limits.proxies = self.proxies.clone();
        config.limits.session_max_age = Duration::from_secs(self.session_max_hours.max(1) * 3600);
        config
    }
}
