//! `confab send --file` and `confab download` end to end, with the real keyring: a send killed
//! in the middle of its upload loses nothing and stores nothing twice — the next run uploads
//! the staged copy again (the original is gone by then) and sends the message once.

use crate::cli::{in_keyring_session, marker, register};
use crate::files::files_under;
use confab_test_support::proxy::{FaultProxy, Mode};
use confab_test_support::{DEADLINE, TestServer};

#[tokio::test]
async fn a_send_killed_mid_upload_goes_out_once_with_one_stored_file() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let url = proxy.http_url();
    let (home, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let work = tempfile::tempdir().unwrap();
    let dump = work.path().join("core.dump");
    let bytes: Vec<u8> = (0..8_000_000).map(|_| rand::random::<u8>()).collect();
    std::fs::write(&dump, &bytes).unwrap();
    let uploads = server.data_dir().join("files").join("uploads");
    register(home.path(), data.path(), &url, "dana").await;

    // A narrow link: 8 MB take seconds, and the kill comes once the server has some of them.
    proxy.set_mode(Mode::Throttle(2_000_000));
    let script = format!(
        r#"
        "$CONFAB" --data-dir "$DIR" send general "the dump" --file '{dump}' --wait 60 &
        pid=$!
        for _ in $(seq 400); do [ -n "$(find '{uploads}' -type f -size +0 2>/dev/null)" ] && break; sleep 0.025; done
        kill -9 $pid; wait $pid; echo "killed=$?"
        rm '{dump}'
        "#,
        dump = dump.display(),
        uploads = uploads.display()
    );
    let out = in_keyring_session(home.path(), data.path(), &url, &script).await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        marker(&out, "killed"),
        Some(137),
        "killed mid-upload: {log}"
    );
    assert!(!dump.exists());
    let mut early = server.client("gus").await;
    let (_, replay) = early.join("general", Some(0)).await;
    assert!(
        replay.is_empty(),
        "nothing was sent before the kill: {replay:?}"
    );

    proxy.set_mode(Mode::Pass);
    let out = in_keyring_session(
        home.path(),
        data.path(),
        &url,
        r#"
        "$CONFAB" --data-dir "$DIR" send general "after the dump" --wait 30; echo "sent=$?"
        "#,
    )
    .await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(marker(&out, "sent"), Some(0), "{log}");

    // One message with the file, then the next: once each, in order.
    let mut reader = server.client("erin").await;
    let (_, replay) = reader.join("general", Some(0)).await;
    let bodies: Vec<&str> = replay.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["the dump", "after the dump"]);
    let file = &replay[0].attachments[0];
    assert_eq!((file.name.as_str(), file.size), ("core.dump", 8_000_000));

    // One stored copy of the bytes, and no cut upload left on the server.
    let blobs = files_under(&server.data_dir().join("files").join("blobs"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !files_under(&uploads).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a cut upload stayed on the server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Another member of the room (erin, who joined above) downloads the same bytes.
    let (home2, data2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let saved = work.path().join("saved.dump");
    let script = format!(
        r#"
        echo password-of-erin | "$CONFAB" --data-dir "$DIR" login --server "$SERVER" --user erin; echo "login=$?"
        "$CONFAB" --data-dir "$DIR" download {id} -o '{saved}'; echo "download=$?"
        "#,
        id = file.file_id,
        saved = saved.display()
    );
    let out = in_keyring_session(home2.path(), data2.path(), &server.http_url(""), &script).await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(marker(&out, "login"), Some(0), "{log}");
    assert_eq!(marker(&out, "download"), Some(0), "{log}");
    assert!(std::fs::read(&saved).unwrap() == bytes, "the same bytes");
}
