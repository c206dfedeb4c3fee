//! `confab search` against the real server, in a keyring session: only the user's rooms, JSON
//! lines for scripts with `next` for the page after, matches marked in the human form, and a
//! bad query refused with its reason.

use crate::cli::{in_keyring_session, marker};
use confab_test_support::TestServer;
use serde_json::Value;

fn json_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[tokio::test]
async fn the_cli_searches_the_users_rooms_and_pages_on() {
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
        "${A[@]}" send general "the release is on Friday"
        "${A[@]}" create ops --private
        "${A[@]}" send ops "ops release plan"
        "${B[@]}" send general "release notes from bob"
        "${B[@]}" search release --json > "$DIR/bob-all"; echo "all=$?"
        "${B[@]}" search release --limit 1 --json > "$DIR/bob-first"; echo "first=$?"
        NEXT=$(tail -n 1 "$DIR/bob-first" | sed 's/.*"next":"\([^"]*\)".*/\1/')
        "${B[@]}" search release --limit 1 --page "$NEXT" --json > "$DIR/bob-second"; echo "second=$?"
        "${A[@]}" search "release in:ops"; echo "ops=$?"
        "${A[@]}" search "   "; echo "empty=$?"
        "#,
    )
    .await;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (step, code) in [
        ("all", 0),
        ("first", 0),
        ("second", 0),
        ("ops", 0),
        ("empty", 1),
    ] {
        assert_eq!(marker(&out, step), Some(code), "{step}: {text}");
    }
    let all = json_lines(&data.path().join("bob-all"));
    let bodies: Vec<&str> = all.iter().filter_map(|v| v["body"].as_str()).collect();
    assert_eq!(
        bodies,
        ["release notes from bob", "the release is on Friday"],
        "not the private room's"
    );
    assert!(
        all.iter()
            .filter(|v| v.get("body").is_some())
            .all(|v| v["source"] == "server")
    );
    assert_eq!(
        all.last().map(|v| v["more"].clone()),
        Some(Value::Bool(false))
    );
    let paged: Vec<Value> = [
        json_lines(&data.path().join("bob-first")),
        json_lines(&data.path().join("bob-second")),
    ]
    .concat()
    .into_iter()
    .filter(|v| v.get("body").is_some())
    .collect();
    assert_eq!(
        paged.iter().map(|v| v["body"].as_str()).collect::<Vec<_>>(),
        bodies.iter().map(|b| Some(*b)).collect::<Vec<_>>()
    );
    assert!(text.contains("#ops 1 alice: ops [release] plan"), "{text}");
    assert!(text.contains("the query is empty"), "{text}");
}
