//! The conversation commands of the `confab` binary: private rooms, invitations, dms, the room
//! list and read positions, two accounts in one keyring session against the real server.

use crate::cli::{in_keyring_session, marker};
use confab_protocol::{RoomSummary, Visibility};
use confab_test_support::TestServer;
use std::process::Output;

fn log(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn rooms_in(path: &std::path::Path) -> Vec<RoomSummary> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[tokio::test]
async fn two_cli_users_share_a_private_room_and_a_dm_and_a_kick_ends_it() {
    let server = TestServer::start().await;
    let (home, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = in_keyring_session(
        home.path(),
        data.path(),
        &server.http_url(""),
        r#"
        A=("$CONFAB" --data-dir "$DIR/a"); B=("$CONFAB" --data-dir "$DIR/b")
        echo password-of-alice | "${A[@]}" register --server "$SERVER" --user alice
        echo password-of-bob | "${B[@]}" register --server "$SERVER" --user bob
        "${A[@]}" create ops --private; echo "create=$?"
        "${A[@]}" create ops; echo "again=$?"
        "${A[@]}" invite ops bob; echo "invite=$?"
        "${A[@]}" dm bob "hi bob, @bob"; echo "dm=$?"
        "${B[@]}" rooms --json > "$DIR/bob-rooms"; echo "rooms=$?"
        "${B[@]}" rooms
        "#,
    )
    .await;
    let text = log(&out);
    for (step, code) in [
        ("create", 0),
        ("again", 1),
        ("invite", 0),
        ("dm", 0),
        ("rooms", 0),
    ] {
        assert_eq!(marker(&out, step), Some(code), "{step}: {text}");
    }
    assert!(text.contains("a room named ops exists"), "{text}");
    let rooms = rooms_in(&data.path().join("bob-rooms"));
    let ops = rooms.iter().find(|r| r.room == "ops");
    assert_eq!(
        ops.map(|r| r.visibility),
        Some(Visibility::Private),
        "{rooms:?}"
    );
    let dm = rooms.iter().find(|r| r.visibility == Visibility::Dm);
    let Some(dm) = dm else {
        panic!("bob has the dm: {rooms:?}")
    };
    assert_eq!((dm.unread, dm.mentions), (1, 1), "{dm:?}");
    assert_eq!(
        dm.users.as_deref(),
        Some(&["alice".to_owned(), "bob".to_owned()][..])
    );

    let script = format!(
        r#"
        A=("$CONFAB" --data-dir "$DIR/a"); B=("$CONFAB" --data-dir "$DIR/b")
        "${{B[@]}}" read {dm}; echo "read=$?"
        "${{B[@]}}" rooms --json > "$DIR/bob-rooms"
        "${{A[@]}}" kick ops bob; echo "kick=$?"
        "${{B[@]}}" send ops "still here?" --wait 5; echo "sneaky=$?"
        "${{B[@]}}" rooms --json > "$DIR/bob-rooms-after"
        "#,
        dm = dm.room
    );
    let out = in_keyring_session(home.path(), data.path(), &server.http_url(""), &script).await;
    let text = log(&out);
    for (step, code) in [("read", 0), ("kick", 0), ("sneaky", 1)] {
        assert_eq!(marker(&out, step), Some(code), "{step}: {text}");
    }
    let rooms = rooms_in(&data.path().join("bob-rooms"));
    let read = rooms.iter().find(|r| r.room == dm.room);
    assert_eq!(
        read.map(|r| (r.unread, r.mentions)),
        Some((0, 0)),
        "{rooms:?}"
    );
    let after = rooms_in(&data.path().join("bob-rooms-after"));
    assert!(after.iter().all(|r| r.room != "ops"), "{after:?}");
}
