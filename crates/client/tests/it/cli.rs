//! The `confab` binary end to end: the real Secret Service keyring (gnome-keyring in a private
//! D-Bus session), a dead keyring, and an outbox that survives `kill -9`.

use confab_test_support::TestServer;
use std::path::Path;
use std::process::{Command, Output};

const CONFAB: &str = env!("CARGO_BIN_EXE_confab");

/// Runs `script` in bash inside a private D-Bus session with an unlocked gnome-keyring whose
/// files live in `keyring_home` (so a later session sees the same keyring).
pub(crate) async fn in_keyring_session(
    keyring_home: &Path,
    data: &Path,
    server: &str,
    script: &str,
) -> Output {
    // The daemon returns before its Secret Service is on the bus: wait for it (bounded), asking
    // the bus about the name (a call to the name would start a second, locked daemon).
    let setup = "echo -n test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n\
        for _ in $(seq 200); do dbus-send --session --dest=org.freedesktop.DBus --print-reply \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets \
        2>/dev/null | grep -q 'boolean true' && break; sleep 0.05; done\n\
        # kill_when_queued N PID: once the outbox holds N entries (bounded wait), kill -9 PID.\n\
        kill_when_queued() { for _ in $(seq 200); do \
          n=$(python3 -c \"import glob,sqlite3,sys; print(sqlite3.connect(glob.glob(sys.argv[1] + '/accounts/*/client.db')[0]).execute('select count(*) from outbox').fetchone()[0])\" \"$DIR\" 2>/dev/null); \
          [ \"$n\" = \"$1\" ] && break; sleep 0.05; done; kill -9 \"$2\"; wait \"$2\"; echo \"killed=$?\"; }\n";
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "bash", "-c", &format!("{setup}{script}")])
        .env("XDG_DATA_HOME", keyring_home)
        .env("CONFAB", CONFAB)
        .env("DIR", data)
        .env("SERVER", server);
    let out = tokio::task::spawn_blocking(move || cmd.output()).await;
    let out = out.unwrap_or_else(|e| panic!("{e}"));
    out.unwrap_or_else(|e| {
        panic!("dbus-run-session (install dbus, gnome-keyring: scripts/prereqs.sh test): {e}")
    })
}

pub(crate) fn marker(out: &Output, name: &str) -> Option<i32> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.trim().parse().ok())
}

/// Registers `user` (password `password-of-<user>`) with the CLI, its tokens in the keyring.
pub(crate) async fn register(keyring_home: &Path, data: &Path, server: &str, user: &str) {
    let script = format!(
        r#"echo password-of-{user} | "$CONFAB" --data-dir "$DIR" register --server "$SERVER" --user {user}; echo "register=$?""#
    );
    let out = in_keyring_session(keyring_home, data, server, &script).await;
    assert_eq!(
        marker(&out, "register"),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn bodies_in(server: &TestServer, room: &str) -> Vec<String> {
    let mut watcher = server
        .client(&format!("watcher{}", rand::random::<u32>()))
        .await;
    let (_, replay) = watcher.join(room, None).await;
    replay.into_iter().map(|m| m.body).collect()
}

#[tokio::test]
async fn tokens_saved_by_one_process_are_used_by_another() {
    let server = TestServer::start().await;
    let (home, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = in_keyring_session(
        home.path(),
        data.path(),
        &server.http_url(""),
        r#"
        echo password-of-alice | "$CONFAB" --data-dir "$DIR" register --server "$SERVER" --user alice; echo "register=$?"
        "$CONFAB" --data-dir "$DIR" send general "hello from another process"; echo "send=$?"
        "$CONFAB" --data-dir "$DIR" logout; echo "logout=$?"
        "$CONFAB" --data-dir "$DIR" send general "after logout" --wait 2; echo "after_logout=$?"
        "#,
    )
    .await;
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(marker(&out, "register"), Some(0), "{log}");
    assert_eq!(
        marker(&out, "send"),
        Some(0),
        "the second process found the tokens: {log}"
    );
    assert_eq!(marker(&out, "logout"), Some(0), "{log}");
    assert_eq!(
        marker(&out, "after_logout"),
        Some(4),
        "signed out means exit 4: {log}"
    );
    assert_eq!(
        bodies_in(&server, "general").await,
        ["hello from another process"]
    );

    // Tokens are only in the keyring: nothing in the data folder holds one.
    for entry in std::fs::read_dir(data.path())
        .into_iter()
        .flatten()
        .flatten()
    {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("access_token") && !text.contains("refresh_token"),
            "{:?} holds a token",
            entry.path()
        );
    }
}

#[tokio::test]
async fn a_dead_keyring_is_a_clear_error_and_nothing_is_half_done() {
    let server = TestServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let (dir, url) = (data.path().to_owned(), server.http_url(""));
        move || {
            let mut child = Command::new(CONFAB)
                .args([
                    "--data-dir",
                    &dir.to_string_lossy(),
                    "register",
                    "--server",
                    &url,
                    "--user",
                    "bob",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                stdin.write_all(b"password-of-bob\n")?;
            }
            child.wait_with_output()
        }
    })
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("keyring"), "says what is wrong: {stderr}");
    assert!(!stderr.contains("password-of-bob"));
    // The keyring is checked before the server is asked: no account was created.
    let (status, _) = server
        .post(
            "/api/login",
            serde_json::json!({"username": "bob", "password": "password-of-bob"}),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_outbox_survives_kill_9_and_goes_out_once_in_order() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let (home, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    register(home.path(), data.path(), &url, "carol").await;

    let mut server = server;
    server.stop().await;
    let out = in_keyring_session(home.path(), data.path(), &url, r#"
        "$CONFAB" --data-dir "$DIR" send general "queued while down" --wait 1; echo "queued=$?"
        "$CONFAB" --data-dir "$DIR" send general "killed while trying" --wait 60 & kill_when_queued 2 $!
    "#).await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        marker(&out, "queued"),
        Some(3),
        "left queued, and says so: {log}"
    );
    assert_eq!(marker(&out, "killed"), Some(137), "{log}");

    let server = server.restart().await;
    let out = in_keyring_session(
        home.path(),
        data.path(),
        &url,
        r#"
        "$CONFAB" --data-dir "$DIR" send general "after the restart"; echo "sent=$?"
    "#,
    )
    .await;
    assert_eq!(
        marker(&out, "sent"),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        bodies_in(&server, "general").await,
        [
            "queued while down",
            "killed while trying",
            "after the restart"
        ]
    );
}

#[tokio::test]
async fn register_takes_the_invite_code_a_server_asks_for() {
    let server = TestServer::start_with(|c| {
        c.registration = confab_server::store::RegistrationPolicy::Invite;
    })
    .await;
    let root = server.user("root").await.access_token;
    let (status, invite) = server
        .post_as(
            &root,
            "/api/invites",
            serde_json::json!({"uses": 1, "expires_in": 600}),
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["code"].as_str().unwrap_or_default().to_owned();
    let (home, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let script = format!(
        r#"
        echo password-of-dora | "$CONFAB" --data-dir "$DIR" register --server "$SERVER" --user dora; echo "without=$?"
        echo password-of-eve | "$CONFAB" --data-dir "$DIR/eve" register --server "$SERVER" --user eve --invite -Wnot-a-code; echo "hyphen=$?"
        echo password-of-dora | "$CONFAB" --data-dir "$DIR" register --server "$SERVER" --user dora --invite {code}; echo "with=$?"
        "#
    );
    let out = in_keyring_session(home.path(), data.path(), &server.http_url(""), &script).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(marker(&out, "without").is_some_and(|c| c != 0), "{stderr}");
    assert!(stderr.contains("invite"), "says what is missing: {stderr}");
    // A code may start with "-" (URL-safe base64): the server judges it, not the option parser.
    assert_eq!(
        marker(&out, "hyphen"),
        Some(1),
        "refused by the server, not a usage error: {stderr}"
    );
    assert_eq!(marker(&out, "with"), Some(0), "{stderr}");
    assert!(!stderr.contains(&code), "the code is not echoed: {stderr}");
}
