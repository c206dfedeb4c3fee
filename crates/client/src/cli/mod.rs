//! The `confab` command line.

// Standard output is this program's product (results and JSON lines for scripts).
#![allow(clippy::print_stdout)]

mod changes;
mod conversations;
mod search;

use anyhow::{Context as _, anyhow};
use clap::{Parser, Subcommand};
use confab_client::{
    Account, ClientCode, Code, ConnState, Error, Event, Login, Profile, SignIn, SignedOut,
    server_urls,
};
use confab_protocol::{Secret, ServerFrame};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const EXIT_CODES: &str = "Exit codes:
  0  done (for send, edit, delete, react: the server stored it)
  1  error (network, server, local storage)
  2  usage error
  3  send, edit, delete, react: queued but not yet delivered (it goes out on the next run)
  4  not signed in, or the server refused the sign-in (run confab login)
  5  the system keyring is unavailable (tokens are only ever kept there)";

/// Confab from the command line: tokens live in the system keyring, messages queue in a
/// durable outbox when the server is unreachable.
#[derive(Debug, Parser)]
#[command(version, about, after_help = EXIT_CODES)]
struct Args {
    /// Folder for the signed-in account, its outbox and message cache (the same layout as the
    /// app's data folder: see docs/client.md).
    #[arg(long, env = "CONFAB_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Log level for diagnostics on stderr (e.g. `debug`).
    #[arg(long, env = "CONFAB_LOG", default_value = "warn", global = true)]
    log: String,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Create an account, then sign in. The password is read from the terminal, or from the
    /// first line of stdin when stdin is not a terminal.
    Register(SignInArgs),
    /// Sign in; the tokens go to the system keyring.
    Login(SignInArgs),
    #[command(flatten)]
    Changes(changes::ChangeAction),
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
    #[command(flatten)]
    Rooms(conversations::RoomAction),
    /// Search the messages of your rooms, newest first: on the server, or in this data dir's
    /// cache when the server cannot be reached (those hits say "cached").
    Search(search::SearchArgs),
    /// Download a file of a message (its `file_id`, as `tail` prints it) to PATH. An
    /// interrupted download resumes where it stopped when run again.
    Download {
        file_id: String,
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: std::path::PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct SignInArgs {
    /// The server, e.g. chat.example.org, https://chat.example.org or 127.0.0.1:8080; several
    /// nodes of one deployment comma-separated, tried in turn when one is down.
    #[arg(long)]
    server: String,
    #[arg(long)]
    user: String,
    /// `register` only: the invite code a server that is not open to everyone asks for.
    /// Codes are URL-safe base64 and may start with `-`: taken as the value, not as an option.
    #[arg(long, env = "CONFAB_INVITE", allow_hyphen_values = true)]
    invite: Option<String>,
}

/// The documented exit code of an error.
fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Error>().map(Error::code) {
        Some(Code::Client(ClientCode::KeyringUnavailable)) => 5,
        Some(code) if code.needs_sign_in() => 4,
        _ => 1,
    }
}

/// Maps an error to the documented exit code and says it in words.
fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("confab: {err:#}");
    ExitCode::from(exit_code(err))
}

pub(crate) fn main() -> ExitCode {
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
    let profile = Profile::new(args.data_dir.clone().unwrap_or_else(Profile::default_root));
    match runtime.block_on(run(args.action, &profile)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

async fn run(action: Action, profile: &Profile) -> anyhow::Result<ExitCode> {
    match action {
        Action::Register(s) => sign_in(s, profile, true).await,
        Action::Login(s) => sign_in(s, profile, false).await,
        Action::Changes(action) => changes::run(profile, action).await,
        Action::Tail { room, after } => tail(profile, &room, after).await,
        Action::Logout => logout(profile).await,
        Action::Rooms(action) => conversations::run(profile, action).await,
        Action::Search(args) => search::run(profile, args).await,
        Action::Download { file_id, output } => download(profile, file_id, output).await,
    }
}

async fn download(
    profile: &Profile,
    file_id: String,
    output: std::path::PathBuf,
) -> anyhow::Result<ExitCode> {
    let (client, events) = profile.start(&login(profile)?, |_| {})?;
    drop(events);
    let fetch = confab_client::Fetch {
        file_id,
        thumbnail: false,
        to: Some(output.clone()),
    };
    let fetched = client.fetch(fetch).await;
    let _ = tokio::time::timeout(CLOSE_WAIT, client.shutdown()).await;
    let size = fetched?.size;
    println!("saved {size} bytes to {}", output.display());
    Ok(ExitCode::SUCCESS)
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

async fn sign_in(args: SignInArgs, profile: &Profile, register: bool) -> anyhow::Result<ExitCode> {
    let (server, fallbacks) = server_urls(&args.server)?;
    let account = Account::new(server, &args.user).with_fallbacks(fallbacks);
    let password = read_password()?;
    let login = profile
        .sign_in(SignIn {
            account,
            password,
            register,
            invite: args.invite.map(Secret::new),
            remember: true,
        })
        .await?;
    if register {
        eprintln!("registered {}", login.account.user);
    }
    eprintln!(
        "signed in as {} on {}",
        login.account.user, login.account.server
    );
    Ok(ExitCode::SUCCESS)
}

/// The remembered account, or "not signed in" (exit 4).
pub(super) fn login(profile: &Profile) -> anyhow::Result<Login> {
    profile
        .resume()
        .context("reading the account")?
        .ok_or_else(|| anyhow!(Error::NotSignedIn))
}

/// How long a finished command waits for the connection to close cleanly.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(5);

async fn tail(profile: &Profile, room: &str, after: Option<u64>) -> anyhow::Result<ExitCode> {
    let (client, mut events) = profile.start(&login(profile)?, |_| {})?;
    let room = match after {
        Some(a) => client.join_after(room, a).await?,
        None => client.join(room).await?,
    };
    let room = room.as_str();
    let mut stdout = std::io::stdout().lock();
    let mut print = |frame: ServerFrame| {
        let line = frame.to_json();
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
                        && !print(ServerFrame::Message(m))
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
                if !print(ServerFrame::Message(m)) {
                    break;
                }
            }
            // Changes to its messages, as the protocol's objects, in the same stream.
            Some(ev @ (Event::Edit(_) | Event::Delete(_) | Event::React(_) | Event::Member(_))) => {
                let frame = match ev {
                    Event::Edit(e) if e.room == room => ServerFrame::Edit(e),
                    Event::Delete(e) if e.room == room => ServerFrame::Delete(e),
                    Event::React(e) if e.room == room => ServerFrame::React(e),
                    Event::Member(e) if e.room == room => ServerFrame::Member(e),
                    _ => continue,
                };
                if !print(frame) {
                    break;
                }
            }
            Some(Event::State(ConnState::AuthFailed { reason })) => {
                let _ = tokio::time::timeout(CLOSE_WAIT, client.shutdown()).await;
                return Err(anyhow!(Error::AuthFailed(reason)));
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
    drop(events);
    let _ = tokio::time::timeout(CLOSE_WAIT, client.shutdown()).await;
    Ok(ExitCode::SUCCESS)
}

async fn logout(profile: &Profile) -> anyhow::Result<ExitCode> {
    let login = login(profile)?;
    if let SignedOut::LocalOnly(e) = profile.sign_out(&login).await? {
        // Signing out locally must work offline; the server forgets the login at expiry.
        eprintln!(
            "confab: could not reach the server to revoke the login ({e}); signing out here anyway"
        );
    }
    eprintln!("signed out");
    Ok(ExitCode::SUCCESS)
}
