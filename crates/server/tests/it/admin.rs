//! The binary's administration: settings from a TOML file, online backup and restore of the
//! SQLite database, and one server per SQLite file.

use confab_protocol::ServerFrame;
use confab_test_support::{Backend, DEADLINE, TestServer, WsClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_confab-server"))
}

/// Starts the binary and returns it with the address it logged, or its stderr if it exited.
pub(crate) fn start(cmd: &mut Command) -> Result<(Child, String), String> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(DEADLINE) {
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .filter(|_| line.contains("listening"))
        {
            return Ok((child, addr.to_owned()));
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(seen)
}

/// The log of a start that was refused; a server that started anyway is stopped, not leaked.
fn expect_refused(started: Result<(Child, String), String>, what: &str) -> String {
    match started {
        Err(log) => log,
        Ok((mut child, _)) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("started despite {what}");
        }
    }
}

#[tokio::test]
async fn a_config_file_sets_what_flags_and_variables_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    let db = dir.path().join("c.db");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\ndb = {:?}\nrate-burst = 7\nrate-per-sec = 5\nheartbeat-secs = 3\norigin = [\"https://a.example\"]\n",
            db.display().to_string()
        ),
    )
    .unwrap();
    let (mut child, addr) = start(
        binary()
            .arg("--config")
            .arg(&file)
            .args(["--heartbeat-secs", "4"])
            .env("CONFAB_RATE_PER_SEC", "6"),
    )
    .unwrap_or_else(|log| panic!("did not start:\n{log}"));
    let url = format!("http://{addr}");
    let http = reqwest::Client::new();
    let creds = json!({"username": "alice", "password": "password-of-alice"});
    let reg = http
        .post(format!("{url}/api/register"))
        .json(&creds)
        .send()
        .await;
    assert_eq!(reg.map(|r| r.status().as_u16()).unwrap_or(0), 201);
    let pair: confab_protocol::api::TokenPair = http
        .post(format!("{url}/api/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ws = WsClient::connect(&format!("ws://{addr}/ws")).await;
    ws.send_json(json!({"type": "auth", "token": pair.access_token.expose()}))
        .await;
    let ready = ws.recv().await;
    let _ = child.kill();
    let _ = child.wait();
    match ready {
        ServerFrame::Ready {
            rate_burst,
            rate_per_sec,
            heartbeat_ms,
            ..
        } => assert_eq!(
            (rate_burst, rate_per_sec, heartbeat_ms),
            (7, 6, 4000),
            "file, then variable over file, then flag over file"
        ),
        other => panic!("expected ready, got {other:?}"),
    }
    assert!(db.exists(), "the database named in the file was used");

    std::fs::write(&file, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let log = expect_refused(
        start(binary().arg("--config").arg(&file)),
        "a misspelt setting",
    );
    assert!(log.contains("unknown setting \"lisen\""), "{log}");
}

#[tokio::test]
async fn backup_while_running_then_restore_brings_the_messages_back() {
    if Backend::current() != Backend::Sqlite {
        eprintln!("backup and restore are SQLite's; PostgreSQL has pg_dump");
        return;
    }
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    for i in 1..=3 {
        alice.send_msg(&format!("m-{i}"), "general", "kept").await;
    }
    let backup = server.data_dir().join("backup.db");
    let out = binary()
        .args(["--db", &server.db_arg(), "backup"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    alice.send_msg("m-4", "general", "after the backup").await;

    let db = server.db_arg();
    let restore = || {
        binary()
            .args(["--db", &db, "restore"])
            .arg(&backup)
            .output()
            .unwrap()
    };
    let refused = restore();
    assert!(!refused.status.success(), "refused while the server runs");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it first"));

    let mut server = server;
    server.stop().await;
    let out = restore();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = server.restart().await;
    let mut bob = server.client("bob").await;
    let (last, replay) = bob.join("general", None).await;
    assert_eq!(last, 3, "back to the backup's state");
    let ids: Vec<&str> = replay.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    server.login("alice").await;

    let junk = server.data_dir().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let out = binary()
        .args(["--db", &server.db_arg(), "backup"])
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!out.status.success(), "never overwrites an existing file");
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_is_refused() {
    if Backend::current() != Backend::Sqlite {
        return;
    }
    let running = TestServer::start().await;
    running.until_ready().await;
    let second = start(binary().args(["--listen", "127.0.0.1:0", "--db", &running.db_arg()]));
    let log = expect_refused(second, "a second server on the same file");
    assert!(log.contains("another confab-server is running"), "{log}");
}

/// Only the server's user can read the database (password and token hashes, every message), its
/// WAL, its backups and the files folder, whatever the umask — here the usual 022.
#[tokio::test]
async fn the_database_its_backups_and_the_files_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let db = data.join("confab.db");
    let db_arg = db.to_string_lossy().into_owned();
    let (mut child, _addr) = start(binary().args(["--listen", "127.0.0.1:0", "--db", &db_arg]))
        .unwrap_or_else(|log| panic!("the server did not start: {log}"));
    let backup = root.path().join("backup.db");
    let out = binary()
        .args(["--db", &db_arg, "backup"])
        .arg(&backup)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let wal = data.join("confab.db-wal");
    for (path, want) in [
        (data.clone(), 0o700),
        (data.join("files"), 0o700),
        (data.join("files/blobs"), 0o700),
        (db.clone(), 0o600),
        (backup.clone(), 0o600),
    ] {
        assert_eq!(mode(&path), want, "{}", path.display());
    }
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "the WAL holds recent writes");
    }
}
