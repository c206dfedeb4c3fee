//! Golden-JSON tests: the exact text of every frame, so a rename cannot slip through.

use super::*;

fn golden_server(frame: ServerFrame, json: &str) {
    assert_eq!(frame.to_json(), json, "serialised form changed");
    let back: ServerFrame = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(back, frame, "round trip changed the frame");
}

fn golden_client(frame: ClientFrame, json: &str) {
    assert_eq!(serde_json::to_string(&frame).ok().as_deref(), Some(json));
    assert_eq!(ClientFrame::parse(json), Ok(frame));
}

fn msg() -> MessageData {
    MessageData {
        room: "general".into(),
        seq: 42,
        id: "c-1".into(),
        author: "alice".into(),
        body: "hi".into(),
        ts: 1_764_000_000_000,
        ..MessageData::default()
    }
}

#[test]
fn client_frames() {
    golden_client(
        ClientFrame::Auth {
            token: "t0k".into(),
        },
        r#"{"type":"auth","token":"t0k"}"#,
    );
    golden_client(
        ClientFrame::Join {
            room: "general".into(),
            after: Some(41),
            latest: None,
        },
        r#"{"type":"join","room":"general","after":41}"#,
    );
    golden_client(
        ClientFrame::Join {
            room: "general".into(),
            after: None,
            latest: Some(200),
        },
        r#"{"type":"join","room":"general","latest":200}"#,
    );
    golden_client(
        ClientFrame::Join {
            room: "general".into(),
            after: None,
            latest: None,
        },
        r#"{"type":"join","room":"general"}"#,
    );
    golden_client(
        ClientFrame::Leave {
            room: "general".into(),
        },
        r#"{"type":"leave","room":"general"}"#,
    );
    golden_client(
        ClientFrame::Send {
            id: "c-1".into(),
            room: "general".into(),
            body: "hi".into(),
            reply_to: None,
            attachments: Vec::new(),
        },
        r#"{"type":"send","id":"c-1","room":"general","body":"hi"}"#,
    );
    golden_client(
        ClientFrame::Send {
            id: "c-2".into(),
            room: "general".into(),
            body: String::new(),
            reply_to: None,
            attachments: vec![crate::Attachment {
                file_id: "0123456789abcdef0123456789abcdef".into(),
                name: "shot.png".into(),
                size: 12,
                mime: "image/png".into(),
            }],
        },
        r#"{"type":"send","id":"c-2","room":"general","body":"","attachments":[{"file_id":"0123456789abcdef0123456789abcdef","name":"shot.png","size":12,"mime":"image/png"}]}"#,
    );
    golden_client(
        ClientFrame::Typing {
            room: "general".into(),
        },
        r#"{"type":"typing","room":"general"}"#,
    );
    golden_client(
        ClientFrame::History {
            room: "general".into(),
            before: Some(100),
            after: None,
            around: None,
            limit: Some(50),
        },
        r#"{"type":"history","room":"general","before":100,"limit":50}"#,
    );
}

#[test]
fn server_frames() {
    golden_server(
        ServerFrame::Ready {
            user: "alice".into(),
            session: "s1".into(),
            heartbeat_ms: 15000,
            max_body_bytes: 16384,
            rate_burst: 100,
            rate_per_sec: 20,
            max_file_bytes: 26214400,
        },
        r#"{"type":"ready","user":"alice","session":"s1","heartbeat_ms":15000,"max_body_bytes":16384,"rate_burst":100,"rate_per_sec":20,"max_file_bytes":26214400}"#,
    );
    // A server from before files says nothing of them: the default limit.
    let old = r#"{"type":"ready","user":"a","session":"s","heartbeat_ms":1,"max_body_bytes":1,"rate_burst":1,"rate_per_sec":1}"#;
    assert!(matches!(
        serde_json::from_str::<ServerFrame>(old),
        Ok(ServerFrame::Ready { max_file_bytes, .. }) if max_file_bytes == crate::files::MAX_FILE_BYTES
    ));
    golden_server(
        ServerFrame::Joined {
            room: "general".into(),
            last_seq: 7,
        },
        r#"{"type":"joined","room":"general","last_seq":7}"#,
    );
    golden_server(
        ServerFrame::Message(msg()),
        r#"{"type":"message","room":"general","seq":42,"id":"c-1","author":"alice","body":"hi","ts":1764000000000}"#,
    );
    golden_server(
        ServerFrame::Synced {
            room: "general".into(),
            up_to: 42,
            more: false,
        },
        r#"{"type":"synced","room":"general","up_to":42,"more":false}"#,
    );
    golden_server(
        ServerFrame::Ack {
            id: "c-1".into(),
            room: "general".into(),
            seq: 42,
        },
        r#"{"type":"ack","id":"c-1","room":"general","seq":42}"#,
    );
    golden_server(
        ServerFrame::Presence {
            room: "general".into(),
            users: vec!["alice".into(), "bob".into()],
        },
        r#"{"type":"presence","room":"general","users":["alice","bob"]}"#,
    );
    golden_server(
        ServerFrame::Typing {
            room: "general".into(),
            user: "bob".into(),
        },
        r#"{"type":"typing","room":"general","user":"bob"}"#,
    );
    golden_server(
        ServerFrame::Left {
            room: "general".into(),
        },
        r#"{"type":"left","room":"general"}"#,
    );
    golden_server(
        ServerFrame::History {
            room: "general".into(),
            messages: vec![msg()],
            more: true,
            newer: false,
        },
        r#"{"type":"history","room":"general","messages":[{"room":"general","seq":42,"id":"c-1","author":"alice","body":"hi","ts":1764000000000}],"more":true}"#,
    );
    golden_server(
        ServerFrame::error(
            ErrorCode::NotJoined,
            "join the room first",
            Some("c-1".into()),
        ),
        r#"{"type":"error","code":"not_joined","message":"join the room first","ref":"c-1"}"#,
    );
    golden_server(
        ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            reference: None,
            retry_after_ms: Some(250),
            room: None,
        },
        r#"{"type":"error","code":"rate_limited","message":"slow down","retry_after_ms":250}"#,
    );
}

#[test]
fn bad_frames_are_classified() {
    let code = |text: &str| ClientFrame::parse(text).err().map(|e| e.code);
    assert_eq!(code("{not json"), Some(ErrorCode::InvalidJson));
    assert_eq!(code("[1,2]"), Some(ErrorCode::InvalidJson));
    assert_eq!(code(r#""send""#), Some(ErrorCode::InvalidJson));
    assert_eq!(code(r#"{"type":"dance"}"#), Some(ErrorCode::UnknownType));
    assert_eq!(code(r#"{"room":"general"}"#), Some(ErrorCode::BadFrame));
    assert_eq!(code(r#"{"type":7}"#), Some(ErrorCode::BadFrame));
    assert_eq!(
        code(r#"{"type":"send","id":"x","room":"general"}"#),
        Some(ErrorCode::BadFrame)
    );
    assert_eq!(
        code(r#"{"type":"join","room":"g","after":-1}"#),
        Some(ErrorCode::BadFrame)
    );
    assert_eq!(
        code(r#"{"type":"history","room":"g","before":9007199254740992}"#),
        Some(ErrorCode::BadFrame),
        "2^53 is past the largest safe integer"
    );
    assert!(
        ClientFrame::parse(r#"{"type":"history","room":"g","before":9007199254740991}"#).is_ok()
    );
}

#[test]
fn error_frames_are_bounded() {
    let long = "é".repeat(1000);
    let ServerFrame::Error {
        message, reference, ..
    } = ServerFrame::error(ErrorCode::BadFrame, long, Some("r".repeat(200)))
    else {
        unreachable!()
    };
    assert!(message.len() <= crate::limits::MAX_ERROR_MESSAGE_BYTES + '…'.len_utf8());
    assert_eq!(reference, None, "longer than any id: not echoed");
    let short = ServerFrame::error(ErrorCode::BadId, "bad", Some(String::new()));
    assert!(matches!(short, ServerFrame::Error { reference: Some(r), .. } if r.is_empty()));
}

#[test]
fn bad_send_keeps_its_id_as_ref() {
    let err = ClientFrame::parse(r#"{"type":"send","id":"c-9","room":"general"}"#).err();
    assert_eq!(
        err.as_ref().and_then(|e| e.reference.as_deref()),
        Some("c-9")
    );
    assert!(
        err.is_some_and(|e| e.message.contains("body")),
        "message names the missing field"
    );
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    let f = ClientFrame::parse(r#"{"type":"typing","room":"general","mood":"happy"}"#);
    assert_eq!(
        f,
        Ok(ClientFrame::Typing {
            room: "general".into()
        })
    );
}

#[test]
fn every_client_type_is_listed() {
    let frames = [
        ClientFrame::Auth { token: "t".into() },
        ClientFrame::Join {
            room: "r".into(),
            after: None,
            latest: None,
        },
        ClientFrame::Leave { room: "r".into() },
        ClientFrame::Send {
            id: "i".into(),
            room: "r".into(),
            body: "b".into(),
            reply_to: Some(1),
            attachments: Vec::new(),
        },
        ClientFrame::Edit {
            id: "i".into(),
            room: "r".into(),
            target: 1,
            body: "b".into(),
        },
        ClientFrame::Delete {
            id: "i".into(),
            room: "r".into(),
            target: 1,
        },
        ClientFrame::React {
            id: "i".into(),
            room: "r".into(),
            target: 1,
            emoji: "👍".into(),
            on: true,
        },
        ClientFrame::Typing { room: "r".into() },
        ClientFrame::History {
            room: "r".into(),
            before: None,
            after: None,
            around: None,
            limit: None,
        },
        ClientFrame::Create {
            room: "r".into(),
            visibility: crate::Visibility::Private,
        },
        ClientFrame::Invite {
            room: "r".into(),
            user: "u".into(),
        },
        ClientFrame::Kick {
            room: "r".into(),
            user: "u".into(),
        },
        ClientFrame::Part { room: "r".into() },
        ClientFrame::SetRole {
            room: "r".into(),
            user: "u".into(),
            role: crate::Role::Admin,
        },
        ClientFrame::Dm {
            users: vec!["u".into()],
        },
        ClientFrame::Rooms,
        ClientFrame::Members { room: "r".into() },
        ClientFrame::Read {
            room: "r".into(),
            seq: 1,
        },
        ClientFrame::Search {
            reference: "s".into(),
            query: "q".into(),
            room: None,
            before: None,
            limit: None,
            page: None,
        },
    ];
    assert_eq!(frames.len(), CLIENT_TYPES.len());
    for f in frames {
        let v = serde_json::to_value(&f).unwrap_or_default();
        let t = v
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(
            CLIENT_TYPES.contains(&t.as_str()),
            "{t} missing from CLIENT_TYPES"
        );
    }
}

#[test]
fn conversation_frames_keep_their_contract_names() {
    let f = ClientFrame::parse(r#"{"type":"set_role","room":"ops","user":"bob","role":"admin"}"#);
    assert_eq!(
        f,
        Ok(ClientFrame::SetRole {
            room: "ops".into(),
            user: "bob".into(),
            role: crate::Role::Admin
        })
    );
    let f = ClientFrame::parse(r#"{"type":"create","room":"ops","visibility":"secret"}"#);
    assert_eq!(f.map_err(|e| e.code), Err(ErrorCode::BadFrame));
    let added = ServerFrame::RoomAdded {
        room: "ops".into(),
        visibility: crate::Visibility::Dm,
        by: "alice".into(),
        users: None,
    };
    assert_eq!(
        added.to_json(),
        r#"{"type":"room_added","room":"ops","visibility":"dm","by":"alice"}"#
    );
    let member = ServerFrame::Member(crate::MemberEvent {
        room: "ops".into(),
        seq: 3,
        id: "x".into(),
        author: "alice".into(),
        ts: 1,
        user: "bob".into(),
        action: crate::MemberAction::Kicked,
        role: None,
    });
    assert_eq!(
        member.to_json(),
        r#"{"type":"member","room":"ops","seq":3,"id":"x","author":"alice","ts":1,"user":"bob","action":"kicked"}"#
    );
}

#[test]
fn search_frames_keep_their_contract_names() {
    golden_client(
        ClientFrame::Search {
            reference: "s-1".into(),
            query: "deploy from:alice".into(),
            room: Some("general".into()),
            before: Some(90),
            limit: Some(20),
            page: None,
        },
        r#"{"type":"search","ref":"s-1","query":"deploy from:alice","room":"general","before":90,"limit":20}"#,
    );
    golden_server(
        ServerFrame::SearchResults {
            reference: "s-1".into(),
            hits: vec![crate::SearchHit {
                room: "general".into(),
                seq: 7,
                author: "alice".into(),
                body: "we deploy friday".into(),
                ts: 1_764_000_000_000,
                highlights: vec![[3, 9]],
            }],
            more: true,
            next: Some("p7".into()),
        },
        r#"{"type":"search_results","ref":"s-1","hits":[{"room":"general","seq":7,"author":"alice","body":"we deploy friday","ts":1764000000000,"highlights":[[3,9]]}],"more":true,"next":"p7"}"#,
    );
    let bad = ClientFrame::parse(r#"{"type":"search","ref":"s-2"}"#);
    assert_eq!(
        bad.map_err(|e| (e.code, e.reference)),
        Err((ErrorCode::BadFrame, Some("s-2".into())))
    );
}

#[test]
fn a_page_around_a_message_says_what_lies_on_both_sides() {
    golden_client(
        ClientFrame::History {
            room: "general".into(),
            before: None,
            after: None,
            around: Some(42),
            limit: Some(40),
        },
        r#"{"type":"history","room":"general","around":42,"limit":40}"#,
    );
    golden_server(
        ServerFrame::History {
            room: "general".into(),
            messages: vec![msg()],
            more: false,
            newer: true,
        },
        r#"{"type":"history","room":"general","messages":[{"room":"general","seq":42,"id":"c-1","author":"alice","body":"hi","ts":1764000000000}],"more":false,"newer":true}"#,
    );
}
