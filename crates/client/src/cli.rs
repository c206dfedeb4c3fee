//! The `confab` command line.

// Standard output is this program's product (results and JSON lines for scripts).
#![allow(clippy::print_stdout)]

use anyhow::{Context as _, anyhow};
use clap::{Parser, Subcommand};
use confab_client::api::Api;
use confab_client::{Client, ClientConfig, ConnState, Error, Event, KeyringTokens, TokenStore};
use confab_protocol::{Secret, ServerFrame};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const EXIT_CODES: &str = "Exit codes:
  0  done (for send: the server stored the message)
  1  error (network, server, local storage)
  2  usage error
  3  send: queued but not yet delivered (it goes out on the next run of confab)
  4  not signed in, or the server refused the sign-in (run confab login)
  5  the system keyring is unavailable (tokens are only ever kept there)";

/// Confab from the command line: tokens live in the system keyring, messages queue in a
/// durable outbox when the server is unreachable.
#[derive(Debug, Parser)]
#[command(version, about, after_help = EXIT_CODES)]
struct Args {
    /// Folder for this user's settings, outbox and message cache (use one per user).
    #[arg(long, env = "CONFAB_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Log level for diagnostics on stderr (e.g. `debug`).
    #[arg(long, env = "CONFAB_LOG", default_value = "warn", global = true)]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account, then sign in. The password is read from the terminal, or from the
    /// first line of stdin when stdin is not a terminal.
    Register(SignIn),
    /// Sign in; the tokens go to the system keyring.
    Login(SignIn),
    /// Send a message. Waits until the server has stored it, or reports it queued.
    Send {
        room: String,
        text: String,
        /// Seconds to wait for delivery before leaving the message queued.
        #[arg(long, default_value_t = 10)]
        wait: u64,
    },
    /// Print messages of a room as JSON lines (the protocol's `message` objects), live, until
    /// interrupted. Without --after it continues after the last message this data dir received
    /// (by `tail` or `send`): give a bot's `tail` a data dir of its own to see every message once.
    Tail {
        room: String,
        /// Start after this seq (0: the whole history).
        #[arg(long)]
        after: Option<u64>,
    },
    /// Sign out: revoke the login on the server and delete the tokens from the keyring.
    Logout,
}

#[derive(Debug, clap::Args)]
struct SignIn {
    /// The server, e.g. https://chat.example.org or http://127.0.0.1:8080.
    #[arg(long)]
    server: Url,
    #[arg(long)]
    user: String,
}

/// Who is signed in where, kept in `<data dir>/account.json` (no secrets).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Account {
    server: Url,
    user: String,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("confab"))
        .unwrap_or_else(|| PathBuf::from(".confab"))
}

fn keyring_for(account: &Account) -> confab_client::Result<KeyringTokens> {
    KeyringTokens::for_server(&account.server, &account.user)
}

/// Maps an error to the documented exit code and says it in words.
fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("confab: {err:#}");
    match err.downcast_ref::<Error>() {
        Some(Error::Keyring(_)) => ExitCode::from(5),
        Some(Error::NotSignedIn) => ExitCode::from(4),
        Some(Error::Api {
            status: 401 | 403, ..
        }) => ExitCode::from(4),
        _ => ExitCode::from(1),
    }
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("confab: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    match runtime.block_on(run(args.command, &dir)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

async fn run(command: Command, dir: &Path) -> anyhow::Result<ExitCode> {
    match command {
        Command::Register(s) => sign_in(s, dir, true).await,
        Command::Login(s) => sign_in(s, dir, false).await,
        Command::Send { room, text, wait } => {
            send(dir, &room, &text, Duration::from_secs(wait)).await
        }
        Command::Tail { room, after } => tail(dir, &room, after).await,
        Command::Logout => logout(dir).await,
    }
}

fn read_password() -> anyhow::Result<Secret> {
    if std::io::stdin().is_terminal() {
        return Ok(Secret::new(
            rpassword::prompt_password("Password: ").context("reading the password")?,
        ));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n'])))
}

async fn sign_in(s: SignIn, dir: &Path, register: bool) -> anyhow::Result<ExitCode> {
    let password = read_password()?;
    let account = Account {
        server: s.server,
        user: s.user,
    };
    // Check the keyring first: failing after the server issued tokens would strand a login.
    let tokens = keyring_for(&account)?;
    tokens.load()?;
    let api = Api::new(account.server.clone(), None)?;
    if register {
        api.register(&account.user, &password).await?;
        eprintln!("registered {}", account.user);
    }
    let pair = api.login(&account.user, &password).await?;
    tokens.save(&pair)?;
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&account)?;
    std::fs::write(dir.join("account.json"), json).context("saving account.json")?;
    eprintln!("signed in as {} on {}", account.user, account.server);
    Ok(ExitCode::SUCCESS)
}

fn load_account(dir: &Path) -> anyhow::Result<Account> {
    let text = std::fs::read_to_string(dir.join("account.json"))
        .map_err(|_| anyhow!(Error::NotSignedIn))?;
    serde_json::from_str(&text).context("account.json is damaged; run confab login")
}

fn start(dir: &Path) -> anyhow::Result<(Client, tokio::sync::mpsc::Receiver<Event>)> {
    let account = load_account(dir)?;
    let tokens: Arc<dyn TokenStore> = Arc::new(keyring_for(&account)?);
    Ok(Client::start(
        ClientConfig::new(account.server, dir),
        tokens,
    )?)
}

async fn send(dir: &Path, room: &str, text: &str, wait: Duration) -> anyhow::Result<ExitCode> {
    let (client, mut events) = start(dir)?;
    let id = client.send(room, text).await?;
    let outcome = tokio::time::timeout(wait, async {
        while let Some(ev) = events.recv().await {
            match ev {
                Event::Sent {
                    id: ref sent, seq, ..
                } if *sent == id => return Ok(seq),
                Event::SendFailed {
                    id: ref failed,
                    message,
                    ..
                } if *failed == id => return Err(anyhow!(message)),
                Event::State(ConnState::AuthFailed { reason }) => {
                    return Err(anyhow!(Error::NotSignedIn).context(reason));
                }
                Event::Error { code, message } if code == "keyring_unavailable" => {
                    return Err(anyhow!(Error::Keyring(message)));
                }
                _ => {}
            }
        }
        Err(anyhow!("the client stopped"))
    })
    .await;
    let _ = client.shutdown().await;
    match outcome {
        Ok(Ok(seq)) => {
            println!("sent {id} as #{seq}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            eprintln!(
                "queued {id}: the server is unreachable; it will be sent the next time confab runs"
            );
            Ok(ExitCode::from(3))
        }
    }
}

async fn tail(dir: &Path, room: &str, after: Option<u64>) -> anyhow::Result<ExitCode> {
    let (client, mut events) = start(dir)?;
    match after {
        Some(a) => client.join_after(room, a).await?,
        None => client.join(room).await?,
    }
    let mut stdout = std::io::stdout().lock();
    let mut print = |m: confab_protocol::MessageData| {
        let line = ServerFrame::Message(m).to_json();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_ok()
    };
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::signal::ctrl_c() => {
                // Messages already received are recorded as seen: print every one of them
                // before stopping, or the next tail would never show them.
                let closing = client.clone();
                tokio::spawn(async move { closing.shutdown().await });
                while let Some(ev) = events.recv().await {
                    if let Event::Message(m) = ev
                        && m.room == room
                        && !print(m)
                    {
                        break;
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
        };
        match ev {
            Some(Event::Message(m)) if m.room == room => {
                // A closed pipe (`confab tail | head`) is a normal way to stop.
                if !print(m) {
                    break;
                }
            }
            Some(Event::State(ConnState::AuthFailed { reason })) => {
                let _ = client.shutdown().await;
                return Err(anyhow!(Error::NotSignedIn).context(reason));
            }
            Some(Event::State(ConnState::Reconnecting {
                reason,
                retry_in_ms,
                ..
            })) => {
                eprintln!(
                    "confab: {reason}; retrying in {:.1} s",
                    retry_in_ms as f64 / 1000.0
                );
            }
            Some(_) => {}
            None => break,
        }
    }
    let _ = client.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn logout(dir: &Path) -> anyhow::Result<ExitCode> {
    let account = load_account(dir)?;
    let tokens = keyring_for(&account)?;
    if let Some(pair) = tokens.load()? {
        let api = Api::new(account.server.clone(), None)?;
        if let Err(e) = api.logout(&pair.access_token).await {
            // Signing out locally must work offline; the server forgets the login at expiry.
            eprintln!(
                "confab: could not reach the server to revoke the login ({e}); signing out here anyway"
            );
        }
    }
    tokens.clear()?;
    std::fs::remove_file(dir.join("account.json")).ok();
    eprintln!("signed out");
    Ok(ExitCode::SUCCESS)
}
