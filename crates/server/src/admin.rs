//! The administrator's commands: accounts, invites, and backup and restore of the SQLite
//! database. They work on the database directly, so they run beside a live server too.

use crate::cli::Command;
use anyhow::Context as _;
use confab_protocol::{Secret, limits};
use confab_server::Config;
use confab_server::auth::{Auth, new_invite_code, token_hash};
use confab_server::store::{Admission, Database, NewAccount, NewInvite, Registered, Store, sqlite};
use confab_server::store::{Closer, now_ms};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;

pub(crate) async fn run(db: &Database, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Backup { file } => {
            let Database::Sqlite(path) = db else {
                anyhow::bail!("backup is for SQLite; back PostgreSQL up with pg_dump");
            };
            let (from, to) = (path.clone(), file.clone());
            tokio::task::spawn_blocking(move || sqlite::backup(&from, &to)).await??;
            eprintln!("backed up {} to {}", path.display(), file.display());
            Ok(())
        }
        Command::Restore { file } => {
            let Database::Sqlite(path) = db else {
                anyhow::bail!("restore is for SQLite; restore PostgreSQL with pg_restore");
            };
            let (from, to) = (file.clone(), path.clone());
            tokio::task::spawn_blocking(move || sqlite::restore(&from, &to)).await??;
            eprintln!("restored {} from {}", path.display(), file.display());
            Ok(())
        }
        account_command => {
            let (store, closer) = open(db, account_command).await?;
            let result = on_accounts(&store, db, account_command).await;
            drop(store);
            tokio::task::spawn_blocking(move || closer.join()).await?;
            result
        }
    }
}

/// Opens the database for an account command. Only `create-user` may start a fresh one.
async fn open(db: &Database, command: &Command) -> anyhow::Result<(Store, Closer)> {
    if let Database::Sqlite(path) = db {
        let creating = matches!(command, Command::CreateUser { .. });
        anyhow::ensure!(
            creating || path.exists(),
            "no database at {}",
            path.display()
        );
    }
    // Nothing is sent here, so nothing is published.
    let (committed, _) = tokio::sync::mpsc::channel(1);
    Store::open(db, None, committed)
        .await
        .with_context(|| format!("opening {db}"))
}

async fn on_accounts(store: &Store, db: &Database, command: &Command) -> anyhow::Result<()> {
    let auth = || Auth::new(store.clone(), Arc::new(Config::new(db.clone())));
    match command {
        Command::DisableUser { username } | Command::EnableUser { username } => {
            let disabled = matches!(command, Command::DisableUser { .. });
            let found = store.set_disabled(username, disabled).await?;
            anyhow::ensure!(found, "no user named {username}");
            eprintln!(
                "{username}: {}",
                if disabled { "disabled" } else { "enabled" }
            );
        }
        Command::CreateUser { username, admin } => {
            anyhow::ensure!(
                limits::valid_new_username(username),
                "usernames are 1-32 of A-Z a-z 0-9 _ - ., beginning and ending with a letter or digit"
            );
            let password_hash = auth()?.hash_password(read_password()?).await?;
            let account = NewAccount {
                username: username.clone(),
                password_hash,
                admission: Admission::ByAdmin { admin: *admin },
            };
            match store.register(account).await? {
                Registered::Created { admin } => {
                    let role = if admin { " (administrator)" } else { "" };
                    eprintln!("created {username}{role}");
                }
                _ => anyhow::bail!("the username {username} is taken, or too like one that is"),
            }
        }
        Command::ResetPassword { username } => {
            let hash = auth()?.hash_password(read_password()?).await?;
            let found = store.set_password(username, &hash).await?;
            anyhow::ensure!(found, "no user named {username}");
            eprintln!("{username}: new password set; every device signed out");
        }
        Command::MakeAdmin { username, revoke } => {
            let found = store.set_admin(username, !revoke).await?;
            anyhow::ensure!(found, "no user named {username}");
            let now = if *revoke { "no longer" } else { "now" };
            eprintln!("{username} is {now} a server administrator");
        }
        Command::Invite { uses, expires_in } => {
            let code = new_invite_code();
            let expires_ms = now_ms() + expires_in.saturating_mul(1000);
            let invite = NewInvite {
                hash: token_hash(&code),
                created_by: None,
                uses: *uses,
                expires_ms,
            };
            store.create_invite(invite).await?;
            // The code on stdout alone, so scripts can take it; the words go to stderr.
            writeln!(std::io::stdout(), "{}", code.expose())?;
            eprintln!("invite code for {uses} account(s), valid {expires_in} s");
        }
        Command::Backup { .. } | Command::Restore { .. } => {
            anyhow::bail!("backup and restore are not account commands")
        }
    }
    Ok(())
}

/// A password from the terminal (not echoed) or the first line of stdin.
fn read_password() -> anyhow::Result<Secret> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ").context("reading the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    anyhow::ensure!(
        limits::valid_password(&password),
        "passwords need at least 8 characters"
    );
    Ok(Secret::new(password))
}
