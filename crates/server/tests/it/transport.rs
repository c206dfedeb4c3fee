//! The transport edge: handshake deadlines, the Origin allowlist and TLS.

use confab_protocol::ServerFrame;
use confab_test_support::{DEADLINE, TestServer, WsClient};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Reads until the server closes the socket; fails the test if it never does.
async fn server_hangs_up(mut tcp: TcpStream) {
    let mut buf = [0u8; 1024];
    let wait = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("the server kept the socket open"));
}

#[tokio::test]
async fn half_sent_or_silent_handshakes_are_cut() {
    let server =
        TestServer::start_with(|c| c.limits.handshake_timeout = Duration::from_millis(300)).await;
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    tokio::join!(server_hangs_up(silent), server_hangs_up(partial));
    // A well-behaved client right after is served normally.
    server.client("alice").await;
}

#[tokio::test]
async fn foreign_origins_are_refused_and_native_clients_allowed() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://chat.example.org".into()])
            .await;
    let tokens = server.user("alice").await;
    let url = server.ws_url();

    assert_eq!(
        WsClient::connect_with(&url, &[("origin", "https://evil.example")])
            .await
            .err(),
        Some(403)
    );
    let bearer = format!("Bearer {}", tokens.access_token.expose());
    let mut ok = WsClient::connect_with(
        &url,
        &[
            ("origin", "https://chat.example.org"),
            ("authorization", &bearer),
        ],
    )
    .await
    .unwrap_or_else(|s| panic!("allowed origin refused: {s}"));
    assert!(matches!(ok.recv().await, ServerFrame::Ready { .. }));
    WsClient::connect_authed(&url, &tokens.access_token).await; // no Origin: a native client

    let resp = reqwest::Client::new()
        .post(server.http_url("/api/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "alice", "password": "password-of-alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(body["code"], "origin_not_allowed");
}

/// Every answer, refusals and unknown paths included, forbids MIME sniffing and caching; HSTS is
/// sent only where this server speaks TLS (see `wss_works_with_a_certificate`).
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let answers = [
        http.get(server.http_url("/healthz")),
        http.get(server.http_url("/no/such/path")),
        http.post(server.http_url("/api/login")).body("{not json"),
        http.post(server.http_url("/api/logout")),
        http.get(server.http_url("/api/me"))
            .header("origin", "https://evil.example"),
    ];
    for req in answers {
        let resp = req.send().await.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let what = format!("{} {}", resp.url().path(), resp.status());
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{what}"
        );
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(
            header("strict-transport-security"),
            None,
            "plain http: {what}"
        );
    }
}

#[tokio::test]
async fn wss_works_with_a_certificate() {
    let cert = confab_test_support::TestCert::localhost();
    let files = cert.files.clone();
    let server = TestServer::start_with(|c| c.tls = Some(files)).await;

    // HTTPS login.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap())
        .resolve("localhost", server.addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let creds = json!({"username": "alice", "password": "password-of-alice"});
    let reg = http
        .post(format!("{base}/api/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status().as_u16(), 201);
    assert_eq!(
        reg.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000"),
        "over TLS a browser is told never to use plain http"
    );
    let pair: confab_protocol::api::TokenPair = http
        .post(format!("{base}/api/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // wss:// over a rustls client that trusts only this certificate.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert.der.clone()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", server.addr.port()), tls)
            .await
            .unwrap();
    let auth = json!({"type": "auth", "token": pair.access_token.expose()}).to_string();
    ws.send(Message::text(auth)).await.unwrap();
    let reply = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .ok()
        .flatten();
    let Some(Ok(Message::Text(text))) = reply else {
        panic!("no reply over wss: {reply:?}")
    };
    let ready: ServerFrame = serde_json::from_str(&text).unwrap();
    assert!(
        matches!(ready, ServerFrame::Ready { ref user, .. } if user == "alice"),
        "{ready:?}"
    );

    // A plain-text client gets nothing from a TLS-only server.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server_hangs_up(plain).await;
}

#[tokio::test]
async fn a_dribbled_request_body_is_cut() {
    let server =
        TestServer::start_with(|c| c.limits.request_timeout = Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("the request was never cut"));
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_and_others_keep_working() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 2).await;
    let tokens = server.user("alice").await;
    let mut first = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let _second = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    assert_eq!(
        WsClient::connect_with(&server.ws_url(), &[]).await.err(),
        Some(503)
    );
    first.join("general", None).await;
    assert_eq!(first.send_msg("ok", "general", "still fine").await, 1);
}

#[tokio::test]
async fn health_and_readiness_answer_for_load_balancers() {
    let server = TestServer::start().await;
    let health = reqwest::get(server.http_url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = reqwest::get(server.http_url("/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert!(body["pubsub"].is_null(), "one node: no pub/sub to wait for");
}

/// One account cannot hold every connection: the one past its cap is closed with 1008 before
/// `ready`, other accounts are not affected, and a closed connection frees its seat.
#[tokio::test]
async fn connections_per_account_are_capped() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_user = 2).await;
    let alice = server.user("alice").await;
    let first = WsClient::connect_authed(&server.ws_url(), &alice.access_token).await;
    let mut second = WsClient::connect_authed(&server.ws_url(), &alice.access_token).await;
    let auth = json!({"type": "auth", "token": alice.access_token.expose()});
    let mut third = WsClient::connect(&server.ws_url()).await;
    third.send_json(auth.clone()).await;
    let closed = third.closed().await;
    assert_eq!(closed.code, 1008, "{closed:?}");
    assert!(closed.reason.contains("too many connections"), "{closed:?}");
    // Another account connects as usual.
    server.client("bob").await;

    first.close().await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut again = WsClient::connect(&server.ws_url()).await;
        again.send_json(auth.clone()).await;
        match again.next_frame().await {
            Ok(ServerFrame::Ready { .. }) => break,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "the closed connection's seat never came back: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.join("general", None).await;
}

/// One address cannot take every socket: past its cap a connection is closed at accept, before
/// any TLS or HTTP. (Loopback is exempt by default for a reverse proxy; this test counts it.)
#[tokio::test]
async fn connections_per_address_are_capped_at_accept() {
    let server = TestServer::start_with(|c| {
        c.limits.max_connections_per_ip = 2;
        c.limits.cap_loopback = true;
        // Only the cap may close the third socket within the test's deadline.
        c.limits.handshake_timeout = Duration::from_secs(120);
    })
    .await;
    let held = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    let third = TcpStream::connect(server.addr).await.unwrap();
    server_hangs_up(third).await;
    drop(held);
    // The seats come back with the sockets.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while reqwest::get(server.http_url("/healthz")).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "seats never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A connection does not outlive its sign-in forever: at its maximum age it is closed with 4001,
/// which tells the client to refresh (where a revoked login is caught) and reconnect.
#[tokio::test]
async fn a_session_is_closed_with_4001_at_its_maximum_age() {
    let server = TestServer::start_with(|c| {
        c.limits.session_max_age = Duration::from_millis(300);
        c.limits.heartbeat = Duration::from_millis(100);
    })
    .await;
    let tokens = server.user("alice").await;
    let mut ws = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    // It answers while young (pongs keep it from counting as silent).
    ws.join("general", None).await;
    let closed = ws.closed().await;
    assert_eq!(
        closed.code,
        confab_protocol::close::AUTH_FAILED,
        "{closed:?}"
    );
    assert!(closed.reason.contains("expired"), "{closed:?}");
}
