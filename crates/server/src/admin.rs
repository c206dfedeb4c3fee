//! The administrator's commands: accounts, and backup and restore of the SQLite database.

use crate::cli::Command;
use anyhow::Context as _;
use confab_server::store::{Database, Store, sqlite};

pub(crate) async fn run(db: &Database, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::DisableUser { username } => set_disabled(db, username, true).await,
        Command::EnableUser { username } => set_disabled(db, username, false).await,
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
    }
}

async fn set_disabled(db: &Database, name: &str, disabled: bool) -> anyhow::Result<()> {
    if let Database::Sqlite(path) = db {
        anyhow::ensure!(path.exists(), "no database at {}", path.display());
    }
    // Nothing is sent here, so nothing is published.
    let (committed, _) = tokio::sync::mpsc::channel(1);
    let (store, closer) = Store::open(db, None, committed)
        .await
        .with_context(|| format!("opening {db}"))?;
    let found = store.set_disabled(name, disabled).await?;
    drop(store);
    tokio::task::spawn_blocking(move || closer.join()).await?;
    anyhow::ensure!(found, "no user named {name}");
    eprintln!("{name}: {}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}
