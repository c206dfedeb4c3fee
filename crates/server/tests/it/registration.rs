//! Who may create an account: the registration policies, invite codes, and the
//! administrator's account commands.

use confab_protocol::Secret;
use confab_server::store::RegistrationPolicy;
use confab_test_support::{TestServer, password};
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn creds(user: &str, invite: Option<&str>) -> Value {
    let mut body = json!({"username": user, "password": password(user)});
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    body
}

async fn register(server: &TestServer, user: &str, invite: Option<&str>) -> (u16, String) {
    let (status, body) = server.post("/api/register", creds(user, invite)).await;
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn new_invite(server: &TestServer, admin: &Secret, uses: u32, secs: u64) -> (u16, Value) {
    let body = json!({"uses": uses, "expires_in": secs});
    server.post_as(admin, "/api/invites", body).await
}

/// Runs an administrator's command on the server's database, with `stdin` as its input.
fn admin(server: &TestServer, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .args(["--db", &server.db_arg()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn invite_only_the_first_account_is_an_admin_and_the_rest_need_a_code() {
    let server = TestServer::start_with(|c| c.registration = RegistrationPolicy::Invite).await;
    assert_eq!(
        register(&server, "root", None).await.0,
        201,
        "the first needs no code"
    );
    assert_eq!(
        register(&server, "bob", None).await,
        (403, "invite_required".into())
    );
    assert_eq!(
        register(&server, "bob", Some("made-up-code")).await,
        (403, "invite_required".into())
    );
    let root = server.login("root").await.access_token;
    let (status, invite) = new_invite(&server, &root, 2, 3600).await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["code"].as_str().unwrap_or_default().to_owned();
    assert!(code.len() >= 20, "a code too long to guess: {code}");
    assert_eq!(register(&server, "bob", Some(&code)).await.0, 201);
    // A taken name does not spend a use of the code.
    assert_eq!(
        register(&server, "BOB", Some(&code)).await,
        (409, "username_taken".into())
    );
    assert_eq!(register(&server, "carol", Some(&code)).await.0, 201);
    assert_eq!(
        register(&server, "dave", Some(&code)).await,
        (403, "invite_required".into()),
        "two uses, both spent"
    );
    // Only administrators make codes, and only sensible ones.
    let bob = server.login("bob").await.access_token;
    let (status, body) = new_invite(&server, &bob, 1, 60).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = new_invite(&server, &root, 0, 60).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let (status, _) = server
        .post("/api/invites", json!({"uses": 1, "expires_in": 60}))
        .await;
    assert_eq!(status, 401, "no token, no code");
}

#[tokio::test]
async fn an_expired_invite_is_refused() {
    let server = TestServer::start_with(|c| c.registration = RegistrationPolicy::Invite).await;
    server.register("root").await;
    let root = server.login("root").await.access_token;
    let (_, invite) = new_invite(&server, &root, 5, 1).await;
    let code = invite["code"].as_str().unwrap_or_default().to_owned();
    let expires = invite["expires_ms"].as_u64().unwrap_or(u64::MAX);
    // Wait for the clock to pass the expiry the server reported, not for a guessed time.
    let deadline = std::time::Instant::now() + confab_test_support::DEADLINE;
    while confab_server::store::now_ms() <= expires {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock stood still"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        register(&server, "late", Some(&code)).await,
        (403, "invite_required".into())
    );
}

#[tokio::test]
async fn open_lets_anyone_register_and_closed_lets_no_one() {
    let open = TestServer::start_with(|c| c.registration = RegistrationPolicy::Open).await;
    assert_eq!(register(&open, "first", None).await.0, 201);
    assert_eq!(register(&open, "second", None).await.0, 201);
    let closed = TestServer::start_with(|c| c.registration = RegistrationPolicy::Closed).await;
    assert_eq!(
        register(&closed, "first", None).await,
        (403, "registration_closed".into()),
        "not even the first account"
    );
}

#[tokio::test]
async fn the_administrator_creates_accounts_invites_admins_and_resets_passwords() {
    let server = TestServer::start_with(|c| c.registration = RegistrationPolicy::Invite).await;
    let (ok, _, err) = admin(&server, &["create-user", "alice"], "password-of-alice\n");
    assert!(ok, "{err}");
    let alice = server.login("alice").await.access_token;
    assert_eq!(
        register(&server, "carol", None).await,
        (403, "invite_required".into()),
        "carol is not the first account: alice is"
    );
    let (ok, code, err) = admin(&server, &["invite", "--uses", "1"], "");
    assert!(ok && !code.is_empty(), "{err}");
    assert_eq!(register(&server, "carol", Some(&code)).await.0, 201);
    assert_eq!(new_invite(&server, &alice, 1, 60).await.0, 403);
    let (ok, _, err) = admin(&server, &["make-admin", "alice"], "");
    assert!(ok, "{err}");
    assert_eq!(new_invite(&server, &alice, 1, 60).await.0, 201);
    let (ok, _, err) = admin(&server, &["create-user", "alice"], "password-of-alice\n");
    assert!(!ok && err.contains("taken"), "{err}");
    let (ok, _, err) = admin(&server, &["create-user", "shorty"], "short\n");
    assert!(!ok && err.contains("8 characters"), "{err}");

    let (ok, _, err) = admin(
        &server,
        &["reset-password", "carol"],
        "a brand new password\n",
    );
    assert!(ok, "{err}");
    let (status, _) = server.post("/api/login", creds("carol", None)).await;
    assert_eq!(status, 401, "the old password no longer works");
    let new = json!({"username": "carol", "password": "a brand new password"});
    assert_eq!(server.post("/api/login", new).await.0, 200);
    let (ok, _, err) = admin(
        &server,
        &["reset-password", "nobody"],
        "whatever-password\n",
    );
    assert!(!ok && err.contains("no user"), "{err}");
}

/// A reader cannot tell `aIice` from `alice` in a member list: such a name is refused as taken,
/// and names made only of punctuation (`.`, `..`, `-`) are no names at all.
#[tokio::test]
async fn lookalike_and_punctuation_only_names_are_refused() {
    let server = TestServer::start().await;
    server.register("alice").await;
    for lookalike in ["aIice", "ALICE", "a1ice", "Alice"] {
        let (status, body) = server.post("/api/register", creds(lookalike, None)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("username_taken")),
            "{lookalike}"
        );
    }
    server.register("cam").await;
    let (status, _) = server.post("/api/register", creds("carn", None)).await;
    assert_eq!(status, 409, "rn reads as m");
    for junk in [".", "..", "-", "_", ".alice", "bob-", "b..b"] {
        let (status, body) = server.post("/api/register", creds(junk, None)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_credentials_format")),
            "{junk:?}"
        );
    }
    for fine in ["bob", "alice2", "a.lic-e"] {
        let (status, body) = server.post("/api/register", creds(fine, None)).await;
        assert_eq!(status, 201, "{fine}: {body}");
    }
}
