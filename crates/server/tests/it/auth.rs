//! Registration, login, refresh rotation, logout, and WebSocket authentication.

use confab_protocol::{ServerFrame, close};
use confab_test_support::{TestServer, WsClient};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn register_login_refresh_rotation_and_reuse() {
    let server = TestServer::start().await;
    server.register("alice").await;

    let (status, body) = server
        .post(
            "/api/register",
            json!({"username": "ALICE", "password": "whatever-long"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("username_taken")),
        "names are case-insensitive"
    );
    let (status, body) = server
        .post(
            "/api/register",
            json!({"username": "bad name", "password": "whatever-long"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_credentials_format"))
    );
    let (status, body) = server
        .post(
            "/api/register",
            json!({"username": "bob", "password": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_credentials_format"))
    );

    let (status, body) = server
        .post(
            "/api/login",
            json!({"username": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, body) = server
        .post(
            "/api/login",
            json!({"username": "nobody", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials")),
        "unknown user looks the same"
    );

    let first = server.login("alice").await;
    assert_eq!(first.expires_in, 900);
    assert!(
        first.access_token.expose().len() >= 22,
        "at least 128 bits of token"
    );

    let (status, body) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": first.refresh_token.expose()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let second: confab_protocol::api::TokenPair = serde_json::from_value(body).unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);
    // The rotated access token works.
    WsClient::connect_authed(&server.ws_url(), &second.access_token).await;

    // Replaying the spent refresh token is treated as theft: it fails and revokes the login.
    let (status, body) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": first.refresh_token.expose()}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("token_reused")));
    let (status, body) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": second.refresh_token.expose()}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token")),
        "the whole login is gone"
    );
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "auth", "token": second.access_token.expose()}))
        .await;
    assert_eq!(ws.closed().await.code, close::AUTH_FAILED);

    // Another login of the same user is unaffected.
    let other = server.login("alice").await;
    WsClient::connect_authed(&server.ws_url(), &other.access_token).await;
}

#[tokio::test]
async fn logout_revokes_the_login() {
    let server = TestServer::start().await;
    let tokens = server.user("carol").await;
    let http = reqwest::Client::new();
    let logout = |token: String| {
        let req = http.post(server.http_url("/api/logout")).bearer_auth(token);
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    assert_eq!(logout(tokens.access_token.expose().to_owned()).await, 204);
    assert_eq!(
        logout(tokens.access_token.expose().to_owned()).await,
        401,
        "already revoked"
    );
    let (status, _) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": tokens.refresh_token.expose()}),
        )
        .await;
    assert_eq!(status, 401);
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "auth", "token": tokens.access_token.expose()}))
        .await;
    assert_eq!(ws.closed().await.code, close::AUTH_FAILED);
}

#[tokio::test]
async fn websocket_auth_by_frame_or_header_and_bad_tokens() {
    let server = TestServer::start().await;
    let tokens = server.user("dave").await;

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "auth", "token": tokens.access_token.expose()}))
        .await;
    match ws.recv().await {
        ServerFrame::Ready {
            user,
            heartbeat_ms,
            max_body_bytes,
            session,
            rate_burst,
            rate_per_sec,
            max_file_bytes,
        } => {
            assert_eq!(user, "dave");
            assert_eq!(max_file_bytes, confab_protocol::files::MAX_FILE_BYTES);
            assert!(heartbeat_ms > 0 && max_body_bytes > 0 && !session.is_empty());
            assert_eq!(
                (rate_burst, rate_per_sec),
                (100, 20),
                "advertises the default rate"
            );
        }
        other => panic!("expected ready, got {other:?}"),
    }

    let bearer = format!("Bearer {}", tokens.access_token.expose());
    let mut ws = WsClient::connect_with(&server.ws_url(), &[("authorization", &bearer)])
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    assert!(
        matches!(ws.recv().await, ServerFrame::Ready { .. }),
        "a native client may authenticate by header"
    );

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "auth", "token": "not-a-real-token"}))
        .await;
    assert_eq!(ws.closed().await.code, close::AUTH_FAILED);

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "join", "room": "general"}))
        .await;
    assert_eq!(
        ws.closed().await.code,
        close::AUTH_TIMEOUT,
        "the first frame must be auth"
    );
}

#[tokio::test]
async fn expired_access_token_gets_4001_and_refresh_recovers() {
    let server = TestServer::start_with(|c| c.access_ttl = Duration::ZERO).await;
    let tokens = server.user("erin").await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "auth", "token": tokens.access_token.expose()}))
        .await;
    let closed = ws.closed().await;
    assert_eq!(closed.code, close::AUTH_FAILED);
    assert!(
        !closed.reason.contains(tokens.access_token.expose()),
        "no token in the close reason"
    );
    let (status, _) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": tokens.refresh_token.expose()}),
        )
        .await;
    assert_eq!(status, 200, "the refresh token outlives the access token");
}

#[tokio::test]
async fn no_auth_in_time_closes_with_4000() {
    let server =
        TestServer::start_with(|c| c.limits.auth_timeout = Duration::from_millis(300)).await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    assert_eq!(ws.closed().await.code, close::AUTH_TIMEOUT);
}

#[tokio::test]
async fn disabled_account_gets_4003_and_cannot_log_in() {
    let server = TestServer::start().await;
    let tokens = server.user("frank").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .args(["--db", &server.db_arg(), "disable-user", "frank"])
        .output()
        .unwrap_or_else(|e| panic!("run admin command: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send_json(json!({"type": "auth", "token": tokens.access_token.expose()}))
        .await;
    assert_eq!(ws.closed().await.code, close::FORBIDDEN);
    let (status, body) = server
        .post(
            "/api/login",
            json!({"username": "frank", "password": "password-of-frank"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": tokens.refresh_token.expose()}),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn tokens_and_passwords_are_not_stored_in_clear() {
    let server = TestServer::start().await;
    let tokens = server.user("grace").await;
    let haystack = server.stored_account_bytes().await;
    let contains = |needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    assert!(!haystack.is_empty());
    assert!(
        contains("grace"),
        "the check can see plain text in the files"
    );
    assert!(!contains(tokens.access_token.expose()));
    assert!(!contains(tokens.refresh_token.expose()));
    assert!(!contains("password-of-grace"));
    assert!(contains("$argon2id$"), "passwords are argon2id hashes");
}

#[tokio::test]
async fn logout_and_disabling_end_connections_that_are_already_open() {
    let server = TestServer::start_with(|c| c.limits.heartbeat = Duration::from_millis(100)).await;
    let tokens = server.user("gina").await;
    let mut open = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let resp = reqwest::Client::new()
        .post(server.http_url("/api/logout"))
        .bearer_auth(tokens.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        open.closed().await.code,
        close::AUTH_FAILED,
        "signed out everywhere"
    );

    let tokens = server.user("hank").await;
    let mut open = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .args(["--db", &server.db_arg(), "disable-user", "hank"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(open.closed().await.code, close::FORBIDDEN);
}

/// A client connected longer than its access token lives signs out with the refresh token.
#[tokio::test]
async fn logout_by_refresh_token_revokes_a_login_whose_access_token_expired() {
    let server = TestServer::start_with(|c| c.access_ttl = Duration::ZERO).await;
    let tokens = server.user("frank").await;
    let http = reqwest::Client::new();
    let logout = |bearer: Option<&str>, body: Option<serde_json::Value>| {
        let mut req = http.post(server.http_url("/api/logout"));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    let expired = tokens.access_token.expose();
    assert_eq!(
        logout(Some(expired), None).await,
        401,
        "expired access token"
    );
    assert_eq!(logout(None, None).await, 401, "no token at all");
    let garbage = Some(json!({"refresh_token": 7}));
    assert_eq!(logout(None, garbage).await, 400, "a body that is no token");

    // Rotate once: the spent refresh token must not sign anyone out.
    let (status, rotated) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": tokens.refresh_token.expose()}),
        )
        .await;
    assert_eq!(status, 200);
    let spent = json!({"refresh_token": tokens.refresh_token.expose()});
    assert_eq!(
        logout(None, Some(spent)).await,
        401,
        "a spent refresh token"
    );

    let current = rotated["refresh_token"].as_str().unwrap_or_default();
    let body = json!({"refresh_token": current});
    assert_eq!(logout(Some(expired), Some(body)).await, 204);
    let (status, _) = server
        .post("/api/refresh", json!({"refresh_token": current}))
        .await;
    assert_eq!(
        status, 401,
        "the login is revoked: its refresh token is dead"
    );
}

/// A client whose connections come from `source` (any 127.x address is this machine, and each
/// is its own peer address to the server).
fn http_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

async fn login_status(
    http: &reqwest::Client,
    server: &TestServer,
    user: &str,
    password: &str,
) -> (u16, Option<u64>) {
    let resp = http
        .post(server.http_url("/api/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (resp.status().as_u16(), retry)
}

/// Guessing one account's password runs dry after a burst: 429 with Retry-After, before any
/// hashing. Other accounts are not affected.
#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account() {
    let server = TestServer::start_with(|c| {
        c.limits.login_burst_per_account = 3;
        c.limits.login_per_sec_per_account = 0.01;
    })
    .await;
    server.register("alice").await;
    server.register("bob").await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            login_status(&http, &server, "alice", "wrong-guess").await.0,
            401
        );
    }
    let (status, retry) = login_status(&http, &server, "ALICE", "wrong-guess").await;
    assert_eq!(status, 429, "the same account in any case");
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    let (status, _) = login_status(&http, &server, "bob", "password-of-bob").await;
    assert_eq!(status, 200, "another account signs in as usual");
}

/// One address flooding bad sign-ins (each a hash, were it let through) is throttled; a user on
/// another address signs in through the flood.
#[tokio::test]
async fn a_flood_from_one_address_is_throttled_and_others_sign_in() {
    let server = TestServer::start_with(|c| {
        c.limits.login_burst_per_ip = 8;
        c.limits.login_per_sec_per_ip = 0.01;
        c.limits.cap_loopback = true;
    })
    .await;
    server.register("carol").await;
    let flood = http_from([127, 0, 0, 2]);
    let attempts = (0..64).map(|i| {
        let (flood, server) = (flood.clone(), &server);
        async move { login_status(&flood, server, &format!("nobody{i}"), "guess-guess").await }
    });
    let legit = http_from([127, 0, 0, 3]);
    let (answers, carol) = tokio::join!(
        futures_util::future::join_all(attempts),
        login_status(&legit, &server, "carol", "password-of-carol")
    );
    assert_eq!(carol.0, 200, "carol signs in during the flood");
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    let refused = answers.iter().filter(|(s, _)| *s == 401).count();
    assert!(
        refused <= 8,
        "no more than the burst was hashed: {answers:?}"
    );
    assert_eq!(throttled + refused, 64, "{answers:?}");
}
