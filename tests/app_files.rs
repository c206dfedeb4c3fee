//! Attachments through the app's commands on the mock runtime, against a real server: a file
//! dropped on the window is told to the page as a token (never a path), a message with it and
//! a pasted image goes out, a made-up token or a path posing as one is refused, and the page
//! gets a file's bytes raw.

use confab_test_support::{DEADLINE, TestServer};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tauri::Listener;
use tauri::ipc::InvokeResponseBody;

mod common;
use common::call;

fn json_of(body: InvokeResponseBody) -> Value {
    match body {
        InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
        InvokeResponseBody::Raw(_) => panic!("raw where JSON was expected"),
    }
}

#[test]
fn a_dropped_file_is_attached_by_token_and_the_page_gets_bytes_raw() {
    let data = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestServer::start());
    let (app, webview) = common::window(data.path());
    let signed = call(
        &webview,
        "sign_in",
        json!({"server": server.http_url(""), "username": "kim", "password": "kim's long password", "remember": false, "create": true}),
    );
    assert!(signed.is_ok(), "{signed:?}");
    call(&webview, "join_room", json!({"room": "general"})).unwrap();

    // The drop: what the window's drag-drop event hands over.
    let told: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = Arc::clone(&told);
    app.listen("files_dropped", move |e| {
        let v: Value = serde_json::from_str(e.payload()).unwrap_or(Value::Null);
        sink.lock().unwrap_or_else(|e| e.into_inner()).push(v);
    });
    let dropped = data.path().join("notes.txt");
    std::fs::write(&dropped, b"dropped notes").unwrap();
    confab_desktop::files::dropped(app.handle(), vec![dropped.clone()]);
    let files = told.lock().unwrap_or_else(|e| e.into_inner())[0].clone();
    assert_eq!(files[0]["name"], "notes.txt");
    assert_eq!(files[0]["size"], 13);
    assert!(
        !files.to_string().contains(&*data.path().to_string_lossy()),
        "no path: {files}"
    );
    let token = files[0]["token"].as_str().unwrap().to_owned();

    for bad in [dropped.to_string_lossy().into_owned(), "0".repeat(36)] {
        let refused = call(
            &webview,
            "send_files",
            json!({"room": "general", "body": "", "tokens": [bad], "pasted": []}),
        );
        assert_eq!(refused.err().unwrap_or_default()["code"], "bad_attachment");
    }
    let png: Vec<u8> =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/icons/32x32.png")).unwrap();
    let sent = call(
        &webview,
        "send_files",
        json!({"room": "general", "body": "notes and a shot", "tokens": [token], "pasted": [{"name": "shot.png", "mime": "image/png", "bytes": png}]}),
    );
    assert!(sent.is_ok(), "{sent:?}");

    // Once the outbox is empty the room has one message with both files.
    let deadline = std::time::Instant::now() + DEADLINE;
    while json_of(call(&webview, "snapshot", json!({})).unwrap())["outbox"]
        .as_array()
        .is_some_and(|o| !o.is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the message never went out"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let attachments = rt.block_on(async {
        let mut reader = server.client("lee").await;
        let (_, replay) = reader.join("general", Some(0)).await;
        let m = replay.into_iter().find(|m| m.body == "notes and a shot");
        m.map(|m| m.attachments).unwrap_or_default()
    });
    let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["notes.txt", "shot.png"]);
    let bytes = call(
        &webview,
        "file_bytes",
        json!({"fileId": attachments[0].file_id, "thumbnail": false}),
    );
    match bytes {
        Ok(InvokeResponseBody::Raw(b)) => assert_eq!(b, b"dropped notes"),
        other => panic!("not raw bytes: {other:?}"),
    }
    let again = call(
        &webview,
        "send_files",
        json!({"room": "general", "body": "again", "tokens": [files[0]["token"]], "pasted": []}),
    );
    assert!(again.is_err(), "a token is spent once its file is queued");
    drop(server);
}
