//! Attachments on the wire, whichever backend the run is for: upload and download with
//! `Range`, the same bytes stored once, access that follows the room (an outsider, a member
//! before the file was posted, a kicked member), the limits (size, quota, types), images and
//! their thumbnails, a decompression bomb, the headers that keep a browser from running a
//! file, and `has:file`.

use crate::private_room;
use confab_protocol::{Attachment, MessageData, SearchHit, ServerFrame};
use confab_test_support::{TestServer, WsClient};
use serde_json::{Value, json};
use std::io::Cursor;

/// Bytes that are not all alike, so a wrong range would show.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("encode: {e}"));
    out.into_inner()
}

/// A PNG whose header claims `width` × `height` grey pixels and whose data is one empty
/// block: a few dozen bytes that would unpack to gigabytes.
fn bomb(width: u32, height: u32) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for b in bytes {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        out.extend(&body);
        out.extend(crc(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn attachment(uploaded: &Value, name: &str) -> Value {
    json!({"file_id": uploaded["file_id"], "name": name, "size": 1, "mime": "text/html"})
}

/// Sends a message carrying `files`; its seq, or the error code.
async fn post(
    c: &mut WsClient,
    id: &str,
    room: &str,
    body: &str,
    files: Value,
) -> Result<u64, String> {
    c.send_json(
        json!({"type": "send", "id": id, "room": room, "body": body, "attachments": files}),
    )
    .await;
    match c
        .recv_until(|f| match f {
            ServerFrame::Ack { id: a, .. } => a == id,
            ServerFrame::Error { reference, .. } => reference.as_deref() == Some(id),
            _ => false,
        })
        .await
    {
        ServerFrame::Ack { seq, .. } => Ok(seq),
        ServerFrame::Error { code, .. } => Err(code.as_str().to_owned()),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_file_uploads_once_and_downloads_whole_or_in_ranges_as_a_download() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await.access_token;
    let bob = server.user("bob").await.access_token;
    let data = bytes(300_000, 7);

    let (status, up) = server
        .upload(
            &alice,
            "../notes <1>.html",
            "text/html; charset=utf-8",
            data.clone(),
        )
        .await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["size"], 300_000);
    assert_eq!(
        up["name"], "notes <1>.html",
        "the path is dropped from the name"
    );
    assert_eq!(up["mime"], "text/html");
    let sha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&data))
    };
    assert_eq!(up["sha256"], sha.as_str());
    let id = up["file_id"].as_str().unwrap_or_default().to_owned();

    // Again (a restarted upload): the same file, nothing new stored.
    let (status, again) = server
        .upload(&alice, "notes.html", "text/html", data.clone())
        .await;
    assert_eq!((status, &again["file_id"]), (200, &up["file_id"]));
    // The same bytes from someone else: their own file, the bytes kept once on disk.
    let (status, bobs) = server
        .upload(&bob, "copy.html", "text/html", data.clone())
        .await;
    assert_eq!(status, 201);
    assert_ne!(bobs["file_id"], up["file_id"]);
    let blobs = server.data_dir().join("files/blobs").join(&sha[..2]);
    let stored: Vec<_> = std::fs::read_dir(&blobs)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert_eq!(
        stored.len(),
        1,
        "one copy of the bytes in {}",
        blobs.display()
    );

    let path = format!("/api/files/{id}");
    let (status, headers, body) = server.download(&alice, &path, None).await;
    assert_eq!(status, 200);
    assert!(body == data, "the same bytes come back");
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header("content-type"),
        "application/octet-stream",
        "never served as HTML"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").contains("sandbox"));
    assert!(header("content-disposition").starts_with("attachment;"));
    assert!(header("content-disposition").contains("filename*=UTF-8''notes%20%3C1%3E%2Ehtml"));
    assert_eq!(header("accept-ranges"), "bytes");

    // Resuming: the rest from where a cut-off download stopped.
    let (status, headers, rest) = server.download(&alice, &path, Some("bytes=123456-")).await;
    assert_eq!(status, 206);
    assert!(rest == data[123_456..], "the range's bytes");
    assert_eq!(
        headers.get("content-range").and_then(|v| v.to_str().ok()),
        Some("bytes 123456-299999/300000")
    );
    let (status, _, tail) = server.download(&alice, &path, Some("bytes=-10")).await;
    assert_eq!((status, tail.as_slice()), (206, &data[299_990..]));
    let (status, headers, _) = server.download(&alice, &path, Some("bytes=400000-")).await;
    assert_eq!(status, 416);
    assert_eq!(
        headers.get("content-range").and_then(|v| v.to_str().ok()),
        Some("bytes */300000")
    );

    let (status, ..) = server
        .download(&alice, "/api/files/0123456789abcdef0123456789abcdef", None)
        .await;
    assert_eq!(status, 404);
    let (status, ..) = server
        .download(&alice, "/api/files/..%2F..%2Fetc", None)
        .await;
    assert_eq!(status, 404);
    let (status, ..) = server
        .download(&confab_protocol::Secret::new("nope"), &path, None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn who_may_download_follows_the_room_the_file_was_posted_in() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let eve = server.user("eve").await.access_token;
    let (alice_token, bob_token) = (server.login("alice").await, server.login("bob").await);
    private_room(&mut alice, "ops", "bob").await;
    bob.join("ops", None).await;

    let (_, up) = server
        .upload(
            &alice_token.access_token,
            "plan.pdf",
            "application/pdf",
            bytes(5000, 1),
        )
        .await;
    let path = format!("/api/files/{}", up["file_id"].as_str().unwrap_or_default());
    let status = |token| {
        let (server, path) = (&server, &path);
        async move { server.download(token, path, None).await.0 }
    };
    assert_eq!(status(&bob_token.access_token).await, 403, "not posted yet");

    // The client says anything about size and type; the message carries what was stored.
    let seq = post(
        &mut alice,
        "m1",
        "ops",
        "the plan",
        json!([attachment(&up, "Plan v2.pdf")]),
    )
    .await
    .unwrap_or_else(|e| panic!("send: {e}"));
    let message = bob.recv_message("m1").await;
    assert_eq!(
        message.attachments,
        vec![Attachment {
            file_id: up["file_id"].as_str().unwrap_or_default().to_owned(),
            name: "Plan v2.pdf".into(),
            size: 5000,
            mime: "application/pdf".into(),
        }]
    );
    assert_eq!(
        status(&bob_token.access_token).await,
        200,
        "a member of the room"
    );
    assert_eq!(status(&eve).await, 403, "an outsider");

    // History and a replay carry the attachments too.
    bob.send_json(json!({"type": "history", "room": "ops"}))
        .await;
    let ServerFrame::History { messages, .. } = bob
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    else {
        unreachable!()
    };
    let shown: Vec<&MessageData> = messages.iter().filter(|m| m.seq == seq).collect();
    assert_eq!(shown.first().map(|m| m.attachments.len()), Some(1));

    // Eve cannot post a file she may not read; nor a made-up one.
    let mut eve_ws = WsClient::connect_authed(&server.ws_url(), &eve).await;
    eve_ws.join("lobby", None).await;
    assert_eq!(
        post(
            &mut eve_ws,
            "e1",
            "lobby",
            "",
            json!([attachment(&up, "x")])
        )
        .await,
        Err("bad_attachment".into())
    );
    let made_up = json!([{"file_id": "0123456789abcdef0123456789abcdef", "name": "x", "size": 1, "mime": "x/y"}]);
    assert_eq!(
        post(&mut eve_ws, "e2", "lobby", "", made_up).await,
        Err("bad_attachment".into())
    );
    assert_eq!(
        post(
            &mut eve_ws,
            "e3",
            "lobby",
            "",
            json!([{"file_id": "../../x", "name": "x", "size": 1, "mime": "x"}])
        )
        .await,
        Err("bad_attachment".into())
    );

    alice
        .send_json(json!({"type": "kick", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| {
            matches!(f, ServerFrame::Member(m) if m.action == confab_protocol::MemberAction::Kicked)
        })
        .await;
    assert_eq!(
        status(&bob_token.access_token).await,
        403,
        "a kicked member"
    );
    assert_eq!(status(&alice_token.access_token).await, 200, "its uploader");
}

#[tokio::test]
async fn a_deleted_message_no_longer_shares_its_file() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let bob_token = server.login("bob").await.access_token;
    let alice_token = server.login("alice").await.access_token;
    alice.join("general", None).await;
    bob.join("general", None).await;
    let (_, up) = server
        .upload(&alice_token, "a.txt", "text/plain", bytes(10, 2))
        .await;
    let path = format!("/api/files/{}", up["file_id"].as_str().unwrap_or_default());
    let seq = post(
        &mut alice,
        "m1",
        "general",
        "",
        json!([attachment(&up, "a.txt")]),
    )
    .await
    .unwrap_or_else(|e| panic!("a message of a file alone: {e}"));
    assert_eq!(server.download(&bob_token, &path, None).await.0, 200);
    alice
        .send_json(json!({"type": "delete", "id": "d1", "room": "general", "target": seq}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Ack { id, .. } if id == "d1"))
        .await;
    assert_eq!(server.download(&bob_token, &path, None).await.0, 403);
    // An empty message without files is still refused.
    assert_eq!(
        post(&mut alice, "m2", "general", " ", json!([])).await,
        Err("empty_body".into())
    );
}

#[tokio::test]
async fn size_quota_and_type_limits_answer_by_name_and_store_nothing() {
    let server = TestServer::start_with(|c| {
        c.files.max_file_bytes = 4000;
        c.files.quota_bytes = 5000;
        c.files.blocked_types = vec!["application/x-msdownload".into()];
    })
    .await;
    let alice = server.user("alice").await.access_token;
    let (status, body) = server
        .upload(
            &alice,
            "big.bin",
            "application/octet-stream",
            bytes(4001, 0),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("file_too_large"))
    );
    let (status, body) = server
        .upload(
            &alice,
            "setup.exe",
            "application/x-msdownload",
            bytes(10, 0),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("file_type_not_allowed"))
    );

    let (status, first) = server
        .upload(&alice, "a.bin", "application/octet-stream", bytes(3000, 1))
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .upload(&alice, "b.bin", "application/octet-stream", bytes(3000, 2))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("quota_exceeded")),
        "{body}"
    );
    // The same bytes again take nothing more.
    let (status, again) = server
        .upload(&alice, "a.bin", "application/octet-stream", bytes(3000, 1))
        .await;
    assert_eq!((status, &again["file_id"]), (200, &first["file_id"]));
    // Nothing of the refused uploads was left behind.
    let uploads = server.data_dir().join("files/uploads");
    assert_eq!(
        std::fs::read_dir(uploads).map(|d| d.count()).unwrap_or(1),
        0
    );

    let server = TestServer::start_with(|c| c.files.allowed_types = vec!["image/*".into()]).await;
    let alice = server.user("alice").await.access_token;
    let (status, _) = server
        .upload(&alice, "a.txt", "text/plain", bytes(5, 0))
        .await;
    assert_eq!(status, 415);
    let (status, _) = server.upload(&alice, "a.png", "image/png", png(4, 4)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn images_get_thumbnails_and_a_decompression_bomb_is_refused() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await.access_token;
    let (status, up) = server
        .upload(&alice, "shot.png", "image/png", png(900, 300))
        .await;
    assert_eq!((status, up["mime"].as_str()), (201, Some("image/png")));
    let id = up["file_id"].as_str().unwrap_or_default();
    let (status, headers, thumb) = server
        .download(&alice, &format!("/api/files/{id}/thumbnail"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    let thumb = image::load_from_memory(&thumb).unwrap_or_else(|e| panic!("thumbnail: {e}"));
    assert_eq!((thumb.width(), thumb.height()), (320, 107));
    let (_, headers, _) = server
        .download(&alice, &format!("/api/files/{id}"), None)
        .await;
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("image/png"),
        "a decoded image keeps its type, to be shown"
    );

    // A page that says it is an image is served as bytes, with no thumbnail.
    let (status, fake) = server
        .upload(
            &alice,
            "x.png",
            "image/png",
            b"<html><script>alert(1)</script>".to_vec(),
        )
        .await;
    assert_eq!(
        (status, fake["mime"].as_str()),
        (201, Some("application/octet-stream"))
    );
    let fake_id = fake["file_id"].as_str().unwrap_or_default();
    let (status, ..) = server
        .download(&alice, &format!("/api/files/{fake_id}/thumbnail"), None)
        .await;
    assert_eq!(status, 404);

    let bomb = bomb(60_000, 60_000);
    assert!(bomb.len() < 100, "a tiny file");
    let (status, body) = server.upload(&alice, "bomb.png", "image/png", bomb).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("image_too_large")),
        "{body}"
    );
}

#[tokio::test]
async fn has_file_finds_messages_with_files_and_file_names_are_words() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let token = server.login("alice").await.access_token;
    alice.join("general", None).await;
    let (_, up) = server
        .upload(
            &token,
            "quarterly-report.pdf",
            "application/pdf",
            bytes(100, 3),
        )
        .await;
    post(
        &mut alice,
        "m1",
        "general",
        "numbers attached",
        json!([attachment(&up, "quarterly-report.pdf")]),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    alice
        .send_msg("m2", "general", "numbers without a file")
        .await;

    assert_eq!(
        found(&mut alice, "numbers has:file").await,
        vec!["numbers attached"]
    );
    assert_eq!(
        found(&mut alice, "has:file").await,
        vec!["numbers attached"]
    );
    assert_eq!(
        found(&mut alice, "quarterly").await,
        vec!["numbers attached"]
    );
    assert_eq!(found(&mut alice, "numbers").await.len(), 2);
}

/// The bodies a search finds.
async fn found(c: &mut WsClient, query: &str) -> Vec<String> {
    c.send_json(json!({"type": "search", "ref": query, "query": query}))
        .await;
    match c
        .recv_until(
            |f| matches!(f, ServerFrame::SearchResults { reference, .. } if reference == query),
        )
        .await
    {
        ServerFrame::SearchResults { hits, .. } => {
            hits.into_iter().map(|h: SearchHit| h.body).collect()
        }
        _ => unreachable!(),
    }
}
