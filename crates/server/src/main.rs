//! The `confab-server` binary: parse flags, set up logging, run until SIGTERM or Ctrl-C.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use confab_server::cluster::ClusterConfig;
use confab_server::store::{Database, Store};
use confab_server::{Config, TlsFiles};
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Confab chat server: HTTP login and WebSocket rooms, on embedded SQLite or PostgreSQL.
///
/// Every flag can also be set from the environment variable shown.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the log says which).
    #[arg(long, env = "CONFAB_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder for the database when --db is not given.
    #[arg(long, env = "CONFAB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SQLite database file, or a PostgreSQL URL (postgres://user@host/db) for several nodes
    /// sharing one database [default: <data dir>/confab.db].
    #[arg(long, env = "CONFAB_DB")]
    db: Option<String>,
    /// Test failpoint: commit and acknowledge, but never ring the other nodes (as if killed
    /// between COMMIT and PUBLISH).
    #[arg(long, hide = true)]
    failpoint_drop_doorbells: bool,
    /// Serve Prometheus metrics at GET /metrics on this address (keep it private, e.g.
    /// 127.0.0.1:9464); off when not given.
    #[arg(long, env = "CONFAB_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Several nodes on one PostgreSQL --db: the Redis that links them (redis://host:port/).
    #[arg(long, env = "CONFAB_PUBSUB")]
    pubsub: Option<String>,
    /// Browser origin allowed to use the server (repeat, or comma-separate in the variable).
    /// Clients that send no Origin (native apps, the CLI) are always allowed.
    #[arg(long = "origin", env = "CONFAB_ORIGINS", value_delimiter = ',')]
    origins: Vec<String>,
    /// PEM certificate chain: with --tls-key, serve https/wss only.
    #[arg(long, env = "CONFAB_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CONFAB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Access token lifetime in seconds.
    #[arg(long, env = "CONFAB_ACCESS_TTL", default_value_t = 900)]
    access_ttl_secs: u64,
    /// Refresh token lifetime in days.
    #[arg(long, env = "CONFAB_REFRESH_TTL_DAYS", default_value_t = 30)]
    refresh_ttl_days: u64,
    /// Longest message body in bytes.
    #[arg(long, env = "CONFAB_MAX_BODY", default_value_t = confab_protocol::limits::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Frames a connection may send in a burst.
    #[arg(long, env = "CONFAB_RATE_BURST", default_value_t = 100)]
    rate_burst: u32,
    /// Sustained frames per second per connection.
    #[arg(long, env = "CONFAB_RATE_PER_SEC", default_value_t = 20)]
    rate_per_sec: u32,
    /// Heartbeat (ping) interval in seconds.
    #[arg(long, env = "CONFAB_HEARTBEAT_SECS", default_value_t = 15)]
    heartbeat_secs: u64,
    /// Cap on the SQLite database size in MiB; beyond it new messages are refused
    /// (storage_failed). PostgreSQL is capped by its own means (quotas, disk).
    #[arg(long, env = "CONFAB_MAX_DB_MB")]
    max_db_mb: Option<u64>,
    /// Publish desktop app updates: `latest.json` and the signed packages it names, served at
    /// `/updates/` (see docs/release.md).
    #[arg(long, env = "CONFAB_UPDATES_DIR")]
    updates_dir: Option<PathBuf>,
    /// Log filter, e.g. `info` or `confab_server=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
    /// Log lines as text, or as one JSON object per line.
    #[arg(long, env = "CONFAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Disable an account: its sessions get close 4003 and it can no longer log in.
    DisableUser { username: String },
    /// Re-enable a disabled account.
    EnableUser { username: String },
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("confab-server"))
        .unwrap_or_else(|| PathBuf::from("confab-data"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log).context("bad --log filter")?,
        )
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // One JSON object per line, for journald, Loki, Elasticsearch and the like.
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }

    let db = match &args.db {
        Some(db) => Database::parse(db),
        None => Database::Sqlite(
            args.data_dir
                .clone()
                .unwrap_or_else(default_data_dir)
                .join("confab.db"),
        ),
    };
    if let Some(command) = args.command {
        return admin(&db, command).await;
    }
    let mut config = Config::new(db);
    config.cluster = args.pubsub.map(|url| ClusterConfig {
        drop_doorbells: args.failpoint_drop_doorbells,
        ..ClusterConfig::new(url)
    });
    config.allowed_origins = args
        .origins
        .into_iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    config.tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert, key)| TlsFiles { cert, key });
    config.access_ttl = Duration::from_secs(args.access_ttl_secs);
    config.refresh_ttl = Duration::from_secs(args.refresh_ttl_days * 24 * 3600);
    config.limits.max_body_bytes = args
        .max_body_bytes
        .min(confab_protocol::limits::MAX_FRAME_BYTES / 2);
    config.max_db_bytes = args.max_db_mb.map(|mb| mb * 1024 * 1024);
    config.updates_dir = args.updates_dir;
    config.limits.rate_burst = args.rate_burst;
    config.limits.rate_per_sec = args.rate_per_sec;
    config.limits.heartbeat = Duration::from_secs(args.heartbeat_secs.max(1));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone()));
    let metrics = match args.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} for metrics"))?,
        ),
        None => None,
    };
    confab_server::run_with_metrics(listener, metrics, config, shutdown).await?;
    Ok(())
}

async fn on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}

async fn admin(db: &Database, command: Command) -> anyhow::Result<()> {
    let (name, disabled) = match &command {
        Command::DisableUser { username } => (username.clone(), true),
        Command::EnableUser { username } => (username.clone(), false),
    };
    if let Database::Sqlite(path) = db {
        anyhow::ensure!(path.exists(), "no database at {}", path.display());
    }
    // Nothing is sent here, so nothing is published.
    let (committed, _) = tokio::sync::mpsc::channel(1);
    let (store, closer) = Store::open(db, None, committed)
        .await
        .with_context(|| format!("opening {db}"))?;
    let found = store.set_disabled(&name, disabled).await?;
    drop(store);
    tokio::task::spawn_blocking(move || closer.join()).await?;
    anyhow::ensure!(found, "no user named {name}");
    eprintln!("{name}: {}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}
