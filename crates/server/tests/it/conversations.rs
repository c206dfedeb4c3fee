//! Conversations: private rooms, membership rules, dms, read positions and mentions — two
//! users and an outsider on real sockets, on whichever backend the run is for.

use crate::error_code;
use confab_protocol::{MemberAction, Role, RoomSummary, ServerFrame, Visibility};
use confab_test_support::{TestServer, WsClient};
use serde_json::json;

/// Every frame up to and including the first that matches.
async fn until(c: &mut WsClient, pred: impl Fn(&ServerFrame) -> bool) -> Vec<ServerFrame> {
    let mut seen = vec![];
    loop {
        let f = c.recv().await;
        let done = pred(&f);
        seen.push(f);
        if done {
            return seen;
        }
    }
}

/// Whether any of `frames` carries something of `room` (a message, an event, presence, typing,
/// history).
fn anything_of(frames: &[ServerFrame], room: &str) -> bool {
    frames.iter().any(|f| match f {
        ServerFrame::Message(m) => m.room == room,
        ServerFrame::Member(e) => e.room == room,
        ServerFrame::Presence { room: r, .. }
        | ServerFrame::Typing { room: r, .. }
        | ServerFrame::History { room: r, .. }
        | ServerFrame::Joined { room: r, .. } => r == room,
        _ => false,
    })
}

/// Asks for the room list and returns it, with every frame that came before it.
async fn rooms(c: &mut WsClient) -> (Vec<RoomSummary>, Vec<ServerFrame>) {
    c.send_json(json!({"type": "rooms"})).await;
    let mut seen = until(c, |f| matches!(f, ServerFrame::Rooms { .. })).await;
    match seen.pop() {
        Some(ServerFrame::Rooms { rooms }) => (rooms, seen),
        _ => unreachable!(),
    }
}

async fn create(c: &mut WsClient, room: &str) {
    c.send_json(json!({"type": "create", "room": room, "visibility": "private"}))
        .await;
    c.recv_until(|f| matches!(f, ServerFrame::Synced { room: r, more: false, .. } if r == room))
        .await;
}

/// Sends a frame and returns the next error.
async fn refused(c: &mut WsClient, frame: serde_json::Value) -> String {
    c.send_json(frame).await;
    error_code(&c.recv_error().await)
}

fn room_removed(f: &ServerFrame, room: &str) -> bool {
    matches!(f, ServerFrame::RoomRemoved { room: r, .. } if r == room)
}

#[tokio::test]
async fn a_private_room_is_forbidden_to_an_outsider_on_every_frame_and_never_reaches_them() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut eve = server.client("eve").await;
    create(&mut alice, "ops").await;
    alice.send_msg("a-1", "ops", "the secret plan").await;

    eve.send_json(json!({"type": "join", "room": "ops"})).await;
    match eve.recv_error().await {
        ServerFrame::Error { code, room, .. } => {
            assert_eq!((code.as_str(), room.as_deref()), ("forbidden", Some("ops")));
        }
        _ => unreachable!(),
    }
    assert_eq!(
        refused(&mut eve, json!({"type": "history", "room": "ops"})).await,
        "forbidden"
    );
    eve.send_json(json!({"type": "send", "id": "e-1", "room": "ops", "body": "hi"}))
        .await;
    match eve.recv_error().await {
        ServerFrame::Error {
            code, reference, ..
        } => {
            assert_eq!(
                (code.as_str(), reference.as_deref()),
                ("forbidden", Some("e-1"))
            );
        }
        _ => unreachable!(),
    }
    assert_eq!(
        refused(&mut eve, json!({"type": "typing", "room": "ops"})).await,
        "forbidden"
    );
    assert_eq!(
        refused(&mut eve, json!({"type": "read", "room": "ops", "seq": 1})).await,
        "forbidden"
    );
    assert_eq!(
        refused(
            &mut eve,
            json!({"type": "invite", "room": "ops", "user": "eve"})
        )
        .await,
        "forbidden"
    );
    assert_eq!(
        refused(
            &mut eve,
            json!({"type": "create", "room": "ops", "visibility": "public"})
        )
        .await,
        "room_exists"
    );
    alice.send_msg("a-2", "ops", "more secrets").await;
    let (eve_rooms, eve_saw) = rooms(&mut eve).await;
    assert!(eve_rooms.iter().all(|r| r.room != "ops"), "{eve_rooms:?}");
    assert!(!anything_of(&eve_saw, "ops"), "{eve_saw:?}");

    let (alice_rooms, _) = rooms(&mut alice).await;
    let ops = alice_rooms.iter().find(|r| r.room == "ops");
    assert_eq!(
        ops.map(|r| (r.visibility, r.role, r.last_seq)),
        Some((Visibility::Private, Role::Owner, 2))
    );
    // Public rooms keep working exactly as before, for everyone.
    assert_eq!(eve.join("general", None).await, (0, vec![]));
}

#[tokio::test]
async fn owners_and_admins_manage_members_and_a_removed_member_gets_nothing_more() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let carol_tokens = server.user("carol").await;
    let mut carol = WsClient::connect_authed(&server.ws_url(), &carol_tokens.access_token).await;
    // Bob's second device, never joined to the room: it hears of it all the same.
    let bob_tokens = server.login("bob").await;
    let mut bob_phone = WsClient::connect_authed(&server.ws_url(), &bob_tokens.access_token).await;
    create(&mut alice, "ops").await;

    alice
        .send_json(json!({"type": "invite", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Invited { user, .. } if user == "bob"))
        .await;
    for device in [&mut bob, &mut bob_phone] {
        match device
            .recv_until(|f| matches!(f, ServerFrame::RoomAdded { .. }))
            .await
        {
            ServerFrame::RoomAdded {
                room,
                visibility,
                by,
                users,
            } => {
                assert_eq!(
                    (room.as_str(), visibility, by.as_str(), users),
                    ("ops", Visibility::Private, "alice", None)
                );
            }
            _ => unreachable!(),
        }
    }
    bob.send_json(json!({"type": "join", "room": "ops"})).await;
    let replay = until(&mut bob, |f| matches!(f, ServerFrame::Synced { .. })).await;
    assert!(
        replay.iter().any(|f| matches!(f, ServerFrame::Member(e)
            if e.user == "bob" && e.action == MemberAction::Invited && e.author == "alice" && e.seq == 1)),
        "the invitation is in the room's stream: {replay:?}"
    );

    // A plain member may not invite, kick or set roles.
    let invite_carol = json!({"type": "invite", "room": "ops", "user": "carol"});
    assert_eq!(refused(&mut bob, invite_carol.clone()).await, "forbidden");
    assert_eq!(
        refused(
            &mut bob,
            json!({"type": "set_role", "room": "ops", "user": "bob", "role": "owner"})
        )
        .await,
        "forbidden"
    );
    alice
        .send_json(json!({"type": "set_role", "room": "ops", "user": "bob", "role": "admin"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Changed { .. }))
        .await;
    // An admin invites, but cannot remove the owner.
    bob.send_json(invite_carol).await;
    bob.recv_until(|f| matches!(f, ServerFrame::Invited { user, .. } if user == "carol"))
        .await;
    assert_eq!(
        refused(
            &mut bob,
            json!({"type": "kick", "room": "ops", "user": "alice"})
        )
        .await,
        "forbidden"
    );
    assert_eq!(
        refused(
            &mut alice,
            json!({"type": "kick", "room": "ops", "user": "nobody"})
        )
        .await,
        "no_such_user"
    );

    alice.send_msg("a-1", "ops", "before the kick").await;
    alice
        .send_json(json!({"type": "kick", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Changed { .. }))
        .await;
    alice.send_msg("a-2", "ops", "after the kick").await;

    let seen = until(&mut bob, |f| room_removed(f, "ops")).await;
    let kicked = seen.iter().position(|f| {
        matches!(f, ServerFrame::Member(e) if e.user == "bob" && e.action == MemberAction::Kicked)
    });
    let before = seen
        .iter()
        .position(|f| matches!(f, ServerFrame::Message(m) if m.id == "a-1"));
    assert!(kicked.is_some() && before < kicked, "{seen:?}");
    bob_phone.recv_until(|f| room_removed(f, "ops")).await;
    // Nothing after the kick reaches bob, on any frame.
    assert_eq!(
        refused(
            &mut bob,
            json!({"type": "send", "id": "b-1", "room": "ops", "body": "x"})
        )
        .await,
        "forbidden"
    );
    assert_eq!(
        refused(&mut bob, json!({"type": "join", "room": "ops"})).await,
        "forbidden"
    );
    assert_eq!(
        refused(&mut bob, json!({"type": "history", "room": "ops"})).await,
        "forbidden"
    );
    let (bob_rooms, later) = rooms(&mut bob).await;
    assert!(bob_rooms.iter().all(|r| r.room != "ops"));
    assert!(
        !later
            .iter()
            .chain(&seen)
            .any(|f| matches!(f, ServerFrame::Message(m) if m.id == "a-2")),
        "a message after the kick leaked: {later:?}"
    );

    // Parting: the member leaves on every device, and nobody else notices anything but the event.
    carol
        .send_json(json!({"type": "part", "room": "ops"}))
        .await;
    match carol.recv_until(|f| room_removed(f, "ops")).await {
        ServerFrame::RoomRemoved { by, .. } => assert_eq!(by, "carol"),
        _ => unreachable!(),
    }
    alice
        .recv_until(|f| matches!(f, ServerFrame::Member(e) if e.user == "carol" && e.action == MemberAction::Parted))
        .await;
    // Re-invited, bob is a member again and reads the whole room.
    alice
        .send_json(json!({"type": "invite", "room": "ops", "user": "bob"}))
        .await;
    bob.recv_until(|f| matches!(f, ServerFrame::RoomAdded { .. }))
        .await;
    let (_, replay) = bob.join("ops", None).await;
    assert!(replay.iter().any(|m| m.id == "a-2"), "{replay:?}");
}

#[tokio::test]
async fn the_same_users_always_get_the_same_dm_and_nobody_else_gets_in() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let mut carol = server.client("carol").await;

    alice
        .send_json(json!({"type": "dm", "users": ["Bob"]}))
        .await;
    let (room, users) = match alice
        .recv_until(|f| matches!(f, ServerFrame::Dm { .. }))
        .await
    {
        ServerFrame::Dm { room, users } => (room, users),
        _ => unreachable!(),
    };
    assert_eq!(users, ["alice", "bob"]);
    alice
        .recv_until(|f| matches!(f, ServerFrame::Synced { room: r, .. } if *r == room))
        .await;
    match bob
        .recv_until(|f| matches!(f, ServerFrame::RoomAdded { .. }))
        .await
    {
        ServerFrame::RoomAdded {
            room: r,
            visibility,
            by,
            users,
        } => {
            assert_eq!(
                (r.as_str(), visibility, by.as_str()),
                (room.as_str(), Visibility::Dm, "alice")
            );
            assert_eq!(users, Some(vec!["alice".to_owned(), "bob".to_owned()]));
        }
        _ => unreachable!(),
    }
    alice.send_msg("a-1", &room, "psst").await;

    // Bob asks the other way round, in another case: the same room, its message in the replay.
    bob.send_json(json!({"type": "dm", "users": ["ALICE", "bob"]}))
        .await;
    match bob
        .recv_until(|f| matches!(f, ServerFrame::Dm { .. }))
        .await
    {
        ServerFrame::Dm { room: r, .. } => assert_eq!(r, room),
        _ => unreachable!(),
    }
    bob.recv_message("a-1").await;

    assert_eq!(
        refused(&mut carol, json!({"type": "join", "room": room})).await,
        "forbidden"
    );
    for frame in [
        json!({"type": "invite", "room": room, "user": "carol"}),
        json!({"type": "kick", "room": room, "user": "bob"}),
        json!({"type": "part", "room": room}),
    ] {
        assert_eq!(refused(&mut alice, frame).await, "forbidden");
    }
    assert_eq!(
        refused(&mut alice, json!({"type": "dm", "users": ["nobody"]})).await,
        "no_such_user"
    );
    assert_eq!(
        refused(&mut alice, json!({"type": "dm", "users": ["alice"]})).await,
        "bad_frame"
    );
    assert_eq!(
        refused(
            &mut alice,
            json!({"type": "create", "room": "dm.mine", "visibility": "private"})
        )
        .await,
        "bad_room"
    );
    assert_eq!(
        refused(&mut alice, json!({"type": "join", "room": "dm.made-up"})).await,
        "forbidden"
    );
    let (bob_rooms, _) = rooms(&mut bob).await;
    let dm = bob_rooms.iter().find(|r| r.room == room);
    assert_eq!(
        dm.map(|r| (r.visibility, r.users.clone())),
        Some((
            Visibility::Dm,
            Some(vec!["alice".to_owned(), "bob".to_owned()])
        ))
    );
    let (carol_rooms, _) = rooms(&mut carol).await;
    assert!(carol_rooms.iter().all(|r| r.room != room));
}

#[tokio::test]
async fn read_positions_reach_every_device_count_unread_and_mentions_and_survive_a_restart() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let mut carol = server.client("carol").await;
    let laptop = server.login("alice").await;
    let mut alice_laptop = WsClient::connect_authed(&server.ws_url(), &laptop.access_token).await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    alice
        .send_msg("a-1", "general", "my own words are never unread")
        .await;
    bob.send_msg("b-1", "general", "one").await;
    let seq = bob
        .send_msg(
            "b-2",
            "general",
            "hey @Alice, and @carol, and bob@example.com",
        )
        .await;
    bob.send_msg("b-3", "general", "three").await;
    let mentions = alice.recv_message("b-2").await.mentions;
    assert_eq!(
        mentions,
        ["alice"],
        "carol is no member of general; an address is no mention"
    );

    let (list, _) = rooms(&mut alice).await;
    let general = list.iter().find(|r| r.room == "general");
    assert_eq!(
        general.map(|r| (r.unread, r.mentions, r.read_seq)),
        Some((3, 1, 0))
    );

    alice
        .send_json(json!({"type": "read", "room": "general", "seq": seq}))
        .await;
    for device in [&mut alice, &mut alice_laptop] {
        match device
            .recv_until(|f| matches!(f, ServerFrame::Read { .. }))
            .await
        {
            ServerFrame::Read { room, seq: s } => assert_eq!((room.as_str(), s), ("general", seq)),
            _ => unreachable!(),
        }
    }
    // A read position only moves forward, and never past the end.
    alice
        .send_json(json!({"type": "read", "room": "general", "seq": 1}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::Read { .. }))
        .await
    {
        ServerFrame::Read { seq: s, .. } => assert_eq!(s, seq),
        _ => unreachable!(),
    }
    assert_eq!(
        refused(
            &mut carol,
            json!({"type": "read", "room": "general", "seq": 1})
        )
        .await,
        "forbidden",
        "carol never joined general"
    );

    let server = server.restart().await;
    let tokens = server.login("alice").await;
    let mut alice = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let (list, _) = rooms(&mut alice).await;
    let general = list.iter().find(|r| r.room == "general");
    assert_eq!(
        general.map(|r| (r.read_seq, r.unread, r.mentions, r.last_seq)),
        Some((seq, 1, 0, 4))
    );
    alice
        .send_json(json!({"type": "read", "room": "general", "seq": 99}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::Read { .. }))
        .await
    {
        ServerFrame::Read { seq: s, .. } => assert_eq!(s, 4),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn display_names_show_in_member_lists_and_user_search_but_members_stay_private() {
    let server = TestServer::start().await;
    let alice_tokens = server.user("alice").await;
    let mut alice = WsClient::connect_authed(&server.ws_url(), &alice_tokens.access_token).await;
    let mut eve = server.client("eve").await;
    server.user("albert").await;
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {}", alice_tokens.access_token.expose());
    let patch = |body: serde_json::Value| {
        http.patch(server.http_url("/api/me"))
            .header("authorization", bearer.clone())
            .json(&body)
            .send()
    };
    let resp = patch(json!({"display_name": "  Alice Liddell "}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = patch(json!({"display_name": "bad\u{7}name"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "control characters are refused");
    let me: serde_json::Value = http
        .get(server.http_url("/api/me"))
        .header("authorization", bearer.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Alice Liddell");

    let found: serde_json::Value = http
        .get(server.http_url("/api/users?q=AL"))
        .header("authorization", bearer.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = found["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["albert", "alice"]);
    let anonymous = http
        .get(server.http_url("/api/users?q=a"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "only signed-in users search");

    create(&mut alice, "ops").await;
    alice
        .send_json(json!({"type": "members", "room": "ops"}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::Members { .. }))
        .await
    {
        ServerFrame::Members { members, .. } => {
            let got: Vec<_> = members
                .iter()
                .map(|m| (m.user.as_str(), m.role, m.display_name.as_deref()))
                .collect();
            assert_eq!(got, [("alice", Role::Owner, Some("Alice Liddell"))]);
        }
        _ => unreachable!(),
    }
    assert_eq!(
        refused(&mut eve, json!({"type": "members", "room": "ops"})).await,
        "forbidden"
    );
}
