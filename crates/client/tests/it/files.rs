//! Attachments through the client core: a file attached offline is copied, uploaded once the
//! server is back, and only then is its message sent, once; the room downloads the same bytes
//! (resuming a cut download); a file the server refuses fails its message and nothing else;
//! one over the server's limit is refused before anything is queued.

use crate::harness::{TestClient, fast_config};
use confab_client::{Attach, ConnState, Event, Fetch, MemoryTokens, SearchRequest, SearchSource};
use confab_protocol::ErrorCode;
use confab_test_support::TestServer;
use std::sync::Arc;

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

/// Files in `dir` and below.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_file_attached_offline_goes_up_when_back_and_its_message_goes_out_once() {
    let mut server = TestServer::start().await;
    let tokens = server.user("alice").await;
    server.stop().await;

    let dir = Arc::new(tempfile::tempdir().unwrap());
    let cfg = fast_config(&server.http_url(""), dir.path());
    let mut alice = TestClient::start_in(cfg, dir, Arc::new(MemoryTokens::new(Some(tokens))));
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("build.log");
    let log_bytes = random_bytes(300_000);
    std::fs::write(&log, &log_bytes).unwrap();
    let pasted = b"pasted text".to_vec();
    let queued = alice
        .client
        .send_files(
            "general",
            "the logs",
            None,
            vec![
                Attach::Path(log.clone()),
                Attach::Bytes {
                    name: "note.txt".into(),
                    mime: None,
                    bytes: pasted.clone(),
                },
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("attach offline: {e}"));
    // The outbox holds a copy: the original may go away.
    std::fs::remove_file(&log).unwrap();
    alice
        .client
        .send("general", "after the logs")
        .await
        .unwrap();

    let server = server.restart().await;
    let mut sent_bytes = 0;
    let seq = loop {
        match alice.until("the message with files sent", |_| true).await {
            Event::Uploading {
                id, sent, total, ..
            } if id == queued.id => {
                assert_eq!(total, 300_000 + pasted.len() as u64);
                assert!(
                    sent >= sent_bytes && sent <= total,
                    "progress moves forward"
                );
                sent_bytes = sent;
            }
            Event::Sent { id, seq, .. } if id == queued.id => break seq,
            Event::SendFailed { message, .. } => panic!("refused: {message}"),
            _ => {}
        }
    };
    assert_eq!(
        sent_bytes,
        300_000 + pasted.len() as u64,
        "the last progress is all of it"
    );
    alice.until_flushed().await;

    // Bob sees one message with both files, then the next one: in order, once each.
    let mut bob = server.client("bob").await;
    let (_, replay) = bob.join("general", Some(0)).await;
    let bodies: Vec<&str> = replay.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["the logs", "after the logs"]);
    let files = &replay[0].attachments;
    assert_eq!(replay[0].seq, seq);
    let names: Vec<&str> = files.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["build.log", "note.txt"]);
    assert_eq!(files[1].mime, "text/plain");

    // Alice's client fetches what bob's message shows: the same bytes, to a path and in memory.
    let out = work.path().join("copy.log");
    let fetched = alice
        .client
        .fetch(Fetch {
            file_id: files[0].file_id.clone(),
            thumbnail: false,
            to: Some(out.clone()),
        })
        .await
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    assert_eq!(fetched.size, 300_000);
    assert_eq!(std::fs::read(&out).unwrap(), log_bytes);
    let note = alice
        .client
        .fetch(Fetch {
            file_id: files[1].file_id.clone(),
            thumbnail: false,
            to: None,
        })
        .await
        .unwrap();
    assert_eq!(note.bytes, Some(pasted));
    // The staged copies went with their message.
    let staged = alice._dir.path().join("outbox-files");
    let deadline = tokio::time::Instant::now() + confab_test_support::DEADLINE;
    while !files_under(&staged).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "staged copies left");
        alice.client.send("general", "tick").await.unwrap();
        alice.until_flushed().await;
    }
    // Offline, the cache finds it by its files too (has:file, a file's name).
    let mut server = server;
    server.stop().await;
    alice
        .until("offline", |e| {
            matches!(e, Event::State(ConnState::Reconnecting { .. }))
        })
        .await;
    for query in ["has:file", "build.log", "logs has:file"] {
        let found = alice
            .client
            .search(SearchRequest {
                query: query.into(),
                ..SearchRequest::default()
            })
            .await
            .unwrap();
        let hits: Vec<(&str, SearchSource)> = found
            .hits
            .iter()
            .map(|f| (f.hit.body.as_str(), f.source))
            .collect();
        assert_eq!(hits, [("the logs", SearchSource::Cache)], "{query}");
    }
}

#[tokio::test]
async fn a_cut_download_resumes_where_it_stopped() {
    let server = TestServer::start().await;
    let tokens = server.user("alice").await;
    let bytes = random_bytes(200_000);
    let (status, up) = server
        .upload(
            &tokens.access_token,
            "big.bin",
            "application/octet-stream",
            bytes.clone(),
        )
        .await;
    assert_eq!(status, 201, "{up}");
    let file_id = up["file_id"].as_str().unwrap().to_owned();
    let mut alice = TestClient::start(&server.http_url(""), tokens);
    alice.until_open().await;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("big.bin");
    let fetch_to = |to: &std::path::Path| Fetch {
        file_id: file_id.clone(),
        thumbnail: false,
        to: Some(to.to_owned()),
    };
    // What a cut download left: 50,000 bytes. The rest is asked for from there (zeros stand in
    // for the first part, so the result shows the download really resumed).
    let part = work.path().join("big.bin.part");
    std::fs::write(&part, vec![0u8; 50_000]).unwrap();
    let fetched = alice.client.fetch(fetch_to(&out)).await.unwrap();
    assert_eq!(fetched.size, 200_000);
    let got = std::fs::read(&out).unwrap();
    assert!(got[..50_000].iter().all(|b| *b == 0), "the part was kept");
    assert_eq!(got[50_000..], bytes[50_000..], "and the rest appended");
    assert!(!part.exists());
    // A part as long as the file or longer is no beginning of it: the download starts over.
    std::fs::write(&part, vec![7u8; 250_000]).unwrap();
    alice.client.fetch(fetch_to(&out)).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    // A made-up id is refused, and writes nothing.
    let other = work.path().join("nothing.bin");
    let made_up = alice
        .client
        .fetch(Fetch {
            file_id: "0".repeat(32),
            thumbnail: false,
            to: Some(other.clone()),
        })
        .await;
    assert!(made_up.is_err());
    assert!(!other.exists());
}

#[tokio::test]
async fn a_refused_file_fails_its_message_only_and_an_oversized_one_is_refused_at_once() {
    let server = TestServer::start_with(|c| {
        c.files.max_file_bytes = 100_000;
        c.files.blocked_types = vec!["application/x-msdownload".into()];
    })
    .await;
    let mut alice = TestClient::start(&server.http_url(""), server.user("alice").await);
    alice.until_open().await;
    alice.join_synced("general").await;

    let too_big = alice
        .client
        .send_files(
            "general",
            "",
            None,
            vec![Attach::Bytes {
                name: "big.bin".into(),
                mime: None,
                bytes: random_bytes(100_001),
            }],
        )
        .await;
    assert!(
        matches!(&too_big, Err(e) if e.to_string().contains("takes files up to")),
        "{too_big:?}"
    );
    assert_eq!(alice.client.queued().await.unwrap(), 0, "nothing queued");

    let exe = alice
        .client
        .send_files(
            "general",
            "run this",
            None,
            vec![Attach::Bytes {
                name: "setup.exe".into(),
                mime: Some("application/x-msdownload".into()),
                bytes: random_bytes(1000),
            }],
        )
        .await
        .unwrap();
    alice.client.send("general", "next").await.unwrap();
    let failed = alice
        .until("the refusal", |e| matches!(e, Event::SendFailed { .. }))
        .await;
    assert!(
        matches!(&failed, Event::SendFailed { id, code: ErrorCode::FileTypeNotAllowed, .. } if *id == exe.id),
        "{failed:?}"
    );
    alice.until_flushed().await;
    alice.until_received(1).await;
    let bodies: Vec<&str> = alice.received.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["next"], "the next message is not held up");
}
