//! Everyday behaviour: send, receive, history, outbox bounds.

use crate::harness::{TestClient, fast_config};
use confab_client::{ConnState, Error, Event, MemoryTokens, OutboxLimits, OutgoingStatus};
use confab_test_support::TestServer;
use std::sync::Arc;

#[tokio::test]
async fn two_clients_exchange_messages_exactly_once() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let mut alice = TestClient::start(&url, server.user("alice").await);
    let mut bob = TestClient::start(&url, server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    bob.join_synced("general").await;

    let id = alice.client.send("general", "hello bob").await.unwrap();
    let sent = alice
        .until("ack", |e| matches!(e, Event::Sent { .. }))
        .await;
    assert!(matches!(sent, Event::Sent { id: ref i, seq: 1, .. } if *i == id.id));
    bob.until_received(1).await;
    assert_eq!(bob.received[0].body, "hello bob");
    assert_eq!(bob.received[0].author, "alice");

    // History works from the cache when offline too.
    let hist = bob
        .client
        .history("general", None, 10)
        .await
        .unwrap_or_default();
    assert_eq!(hist.len(), 1);
}

#[tokio::test]
async fn a_full_outbox_is_a_clear_error_not_a_silent_drop() {
    let server = TestServer::start().await;
    let tokens = server.user("alice").await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // Nothing listens at this port: the client stays offline and queues.
    let mut cfg = fast_config("http://127.0.0.1:9", dir.path());
    cfg.outbox = OutboxLimits {
        max_messages: 3,
        max_bytes: 1 << 20,
    };
    let alice = TestClient::start_in(cfg, dir, Arc::new(MemoryTokens::new(Some(tokens))));
    for i in 0..3 {
        alice
            .client
            .send("general", &format!("m{i}"))
            .await
            .unwrap();
    }
    let err = alice.client.send("general", "one too many").await;
    assert!(matches!(err, Err(Error::OutboxFull(_))), "{err:?}");
    assert_eq!(
        err.err().map(|e| e.code()),
        Some(confab_client::ClientCode::OutboxFull.into())
    );
    assert_eq!(alice.client.queued().await.ok(), Some(3));
}

/// Joining many rooms (as every reconnect does) stays under the server's rate: no refusals.
#[tokio::test]
async fn joining_many_rooms_is_paced_under_the_server_rate() {
    let server = TestServer::start_with(|c| {
        c.limits.rate_burst = 20;
        c.limits.rate_per_sec = 50;
    })
    .await;
    let mut alice = TestClient::start(&server.http_url(""), server.user("alice").await);
    alice.until_open().await;
    let rooms = 60;
    for i in 0..rooms {
        alice.client.join(&format!("room-{i}")).await.unwrap();
    }
    let mut synced = 0;
    while synced < rooms {
        match alice
            .until("synced", |e| {
                matches!(e, Event::Synced { .. } | Event::Error { .. })
            })
            .await
        {
            Event::Synced { .. } => synced += 1,
            other => panic!("the server refused a frame: {other:?}"),
        }
    }
}

/// wss:// with a self-hosted certificate authority given to the client.
#[tokio::test]
async fn connects_over_wss_with_a_private_ca() {
    let cert = confab_test_support::TestCert::localhost();
    let files = cert.files.clone();
    let server = TestServer::start_with(|c| c.tls = Some(files)).await;
    // Register over HTTPS with the client's own API type, trusting the private CA.
    let base: url::Url = format!("https://localhost:{}", server.addr.port())
        .parse()
        .unwrap();
    let api = confab_client::api::Api::new(base.clone(), Some(cert.pem.as_bytes())).unwrap();
    let password = confab_protocol::Secret::new("password-of-alice");
    api.register("alice", &password, None)
        .await
        .unwrap_or_else(|e| panic!("register: {e}"));
    let tokens = api
        .login("alice", &password)
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));

    let data = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(base.as_str(), data.path());
    cfg.extra_root_pem = Some(cert.pem.clone().into_bytes());
    let mut alice = TestClient::start_in(cfg, data, Arc::new(MemoryTokens::new(Some(tokens))));
    alice.until_open().await;
    alice.client.send("general", "over TLS").await.unwrap();
    alice
        .until("ack", |e| matches!(e, Event::Sent { .. }))
        .await;
}

/// What the server would refuse for good is refused at once and never queued, so it cannot
/// hold up the messages behind it.
#[tokio::test]
async fn a_message_too_long_is_refused_before_it_is_queued() {
    let server = TestServer::start().await;
    let mut alice = TestClient::start(&server.http_url(""), server.user("alice").await);
    alice.until_open().await;
    let long = "x".repeat(confab_protocol::limits::MAX_BODY_BYTES + 1);
    let err = alice.client.send("general", &long).await;
    assert!(
        matches!(err, Err(Error::Rejected { code: confab_protocol::ErrorCode::BodyTooLong, ref message }) if message.contains("too long")),
        "{err:?}"
    );
    // Control characters escape to six bytes each in JSON: within the body limit, over the frame.
    let escaped = "\u{1}".repeat(confab_protocol::limits::MAX_BODY_BYTES);
    assert!(alice.client.send("general", &escaped).await.is_err());
    assert!(alice.client.send("general", "   ").await.is_err());
    assert_eq!(alice.client.queued().await.ok(), Some(0));
    alice.client.send("general", "fine").await.unwrap();
    alice
        .until("ack", |e| matches!(e, Event::Sent { .. }))
        .await;
}

/// A window's client (`first_join_latest`) joins a busy room at its newest messages, pages
/// back through history, and after a restart resumes where it was — never the whole past.
#[tokio::test]
async fn a_first_join_brings_only_the_newest_messages_and_history_reaches_the_rest() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let mut alice = TestClient::start(&url, server.user("alice").await);
    alice.until_open().await;
    for i in 1..=12 {
        alice
            .client
            .send("general", &format!("m{i}"))
            .await
            .unwrap();
    }
    alice.until_flushed().await;

    let tokens = Arc::new(MemoryTokens::new(Some(server.user("bob").await)));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(&url, dir.path());
    cfg.first_join_latest = Some(4);
    let mut bob = TestClient::start_in(cfg.clone(), Arc::clone(&dir), Arc::clone(&tokens));
    bob.until_open().await;
    bob.join_synced("general").await;
    let bodies = |ms: &[confab_protocol::MessageData]| -> Vec<String> {
        ms.iter().map(|m| m.body.clone()).collect()
    };
    assert_eq!(bodies(&bob.received), ["m9", "m10", "m11", "m12"]);
    let older = bob.client.history("general", Some(9), 3).await.unwrap();
    assert_eq!(bodies(&older), ["m6", "m7", "m8"]);

    // Restarted, it resumes after what it had: only the new message, nothing from the past.
    bob.client.shutdown().await.unwrap();
    drop(bob);
    alice.client.send("general", "m13").await.unwrap();
    alice.until_flushed().await;
    let mut bob = TestClient::start_in(cfg, dir, tokens);
    bob.until_received(1).await;
    assert_eq!(bodies(&bob.received), ["m13"]);
}

/// `first_join_latest` is for a room's first join only: a room joined while empty resumes from
/// its start later, so what was posted meanwhile is delivered, all of it.
#[tokio::test]
async fn a_room_joined_while_empty_later_gets_everything_it_missed() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("bob").await)));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(&url, dir.path());
    cfg.first_join_latest = Some(2);
    let mut bob = TestClient::start_in(cfg.clone(), Arc::clone(&dir), Arc::clone(&tokens));
    bob.until_open().await;
    bob.join_synced("quiet").await;
    bob.client.shutdown().await.unwrap();
    drop(bob);

    let mut alice = TestClient::start(&url, server.user("alice").await);
    alice.until_open().await;
    for i in 1..=5 {
        alice.client.send("quiet", &format!("m{i}")).await.unwrap();
    }
    alice.until_flushed().await;
    let mut bob = TestClient::start_in(cfg, dir, tokens);
    bob.until_received(5).await;
    let bodies: Vec<&str> = bob.received.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m1", "m2", "m3", "m4", "m5"]);
}

#[tokio::test]
async fn room_names_are_checked_once_and_a_refused_one_is_never_recorded() {
    let server = TestServer::start().await;
    let mut alice = TestClient::start(&server.http_url(""), server.user("alice").await);
    alice.until_open().await;
    // Recorded, a bad name would be refused with bad_room on every reconnect, for ever.
    let err = alice.client.join("no spaces").await;
    assert!(
        matches!(
            err,
            Err(Error::Rejected {
                code: confab_protocol::ErrorCode::BadRoom,
                ..
            })
        ),
        "{err:?}"
    );
    let joined = alice.client.join("#General").await.map(String::from);
    assert_eq!(
        joined.ok().as_deref(),
        Some("general"),
        "typed names are normalised"
    );
    alice
        .until(
            "general synced",
            |e| matches!(e, Event::Synced { room, .. } if room == "general"),
        )
        .await;
    let rooms: Vec<String> = alice
        .client
        .rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(rooms, ["general"]);
    let send = alice.client.send("Bad Room", "hi").await;
    assert!(send.is_err(), "{send:?}");
    assert_eq!(
        alice.client.queued().await.ok(),
        Some(0),
        "nothing queued for it"
    );
}

/// The owner sees every message of the outbox with its state (what the UI draws), and a
/// restarted client lists what it still has to send.
#[tokio::test]
async fn the_outbox_reports_each_message_and_lists_them_after_a_restart() {
    let mut server = TestServer::start().await;
    let tokens = server.user("alice").await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let store = Arc::new(MemoryTokens::new(Some(tokens)));
    let cfg = fast_config(&server.http_url(""), dir.path());
    let mut alice = TestClient::start_in(cfg.clone(), Arc::clone(&dir), Arc::clone(&store));
    alice.until_open().await;
    alice.join_synced("general").await;
    server.stop().await;
    alice
        .until("reconnecting", |e| {
            matches!(e, Event::State(ConnState::Reconnecting { .. }))
        })
        .await;
    let queued = alice
        .client
        .send("general", "written offline")
        .await
        .unwrap();
    assert_eq!(queued.status, OutgoingStatus::Queued);
    let event = alice
        .until("outgoing", |e| matches!(e, Event::Outgoing(_)))
        .await;
    assert_eq!(
        event,
        Event::Outgoing(queued.clone()),
        "the event carries the message"
    );
    alice.client.shutdown().await.unwrap();
    drop(alice);

    let mut again = TestClient::start_in(cfg, Arc::clone(&dir), store);
    let listed = again.client.outbox().await.unwrap();
    assert_eq!(
        listed,
        std::slice::from_ref(&queued),
        "a restart still shows it, in its room, as queued"
    );
    let server = server.restart().await;
    let sending = again
        .until(
            "sending",
            |e| matches!(e, Event::Outgoing(o) if o.status == OutgoingStatus::Sending),
        )
        .await;
    assert!(matches!(sending, Event::Outgoing(ref o) if o.id == queued.id));
    again
        .until(
            "sent",
            |e| matches!(e, Event::Sent { id, .. } if *id == queued.id),
        )
        .await;
    assert_eq!(again.client.outbox().await.ok(), Some(vec![]));
    drop(server);
}

/// A tmpfs of `megabytes` at `dir`, unmounted when dropped. Mounting needs root (CI runs the
/// suite as root); `None` elsewhere.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path, megabytes: u32) -> Option<Self> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_owned()))
    }

    /// Writes until the file system is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("ballast");
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        while f.write_all(&[0u8; 4096]).is_ok() {}
        while f.write_all(&[0u8; 64]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_new_messages_clearly_and_loses_none_already_queued() {
    let home = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(home.path(), 4) else {
        eprintln!("skipped: mounting a small disk needs root");
        return;
    };
    let server = TestServer::start().await;
    let url = server.http_url("");
    let cfg = fast_config(&url, home.path());
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("alice").await)));
    let mut alice = TestClient::start_in(cfg, Arc::new(tempfile::tempdir().unwrap()), tokens);
    alice.join_synced("general").await;
    alice.client.send("general", "before").await.unwrap();
    alice.until_flushed().await;

    let mut server = server;
    server.stop().await;
    alice.client.send("general", "queued").await.unwrap();
    let ballast = disk.fill();
    let refused = alice.client.send("general", "no room for this").await;
    let err = refused.expect_err("a message the disk cannot hold is refused, not half kept");
    assert_eq!(err.code().as_str(), "storage", "{err}");
    assert!(err.to_string().contains("full"), "says why: {err}");
    assert_eq!(
        alice.client.queued().await.ok(),
        Some(1),
        "what was queued stays queued"
    );

    std::fs::remove_file(ballast).unwrap();
    let server = server.restart().await;
    alice.until_flushed().await;
    let (_, history) = crate::changes::stream_and_history(&server, "general").await;
    let bodies: Vec<&str> = history.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["before", "queued"]);
}
