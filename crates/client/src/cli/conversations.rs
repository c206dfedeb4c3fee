//! The conversation commands: create, invite, kick, part, role, dm, rooms, read.

use super::{CLOSE_WAIT, login};
use anyhow::anyhow;
use confab_client::{ClientCode, Code, ConnState, Conversation, Error, Event, Profile};
use confab_protocol::{Role, RoomSummary};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// How long a command waits for the server's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Subcommand)]
pub(super) enum RoomAction {
    /// Create a room with you as its owner.
    Create {
        room: String,
        /// Members only: others join when an owner or admin invites them.
        #[arg(long)]
        private: bool,
    },
    /// Add a user to a room (an owner or admin of a private room; any member of a public one).
    Invite { room: String, user: String },
    /// Remove a user from a room (an owner or admin of it).
    Kick { room: String, user: String },
    /// Leave a room on every device.
    Part { room: String },
    /// Give a member a role in a room (its owner only): member, admin or owner.
    Role {
        room: String,
        user: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Send a direct message; USERS is one name or several, comma-separated (a group dm).
    Dm { users: String, text: String },
    /// List your rooms with what is unread: one JSON object per line with --json.
    Rooms {
        #[arg(long)]
        json: bool,
    },
    /// Mark a room read up to SEQ (default: its newest message), on every device.
    Read {
        room: String,
        #[arg(long)]
        seq: Option<u64>,
    },
}

/// A room name as typed (`#Ops`), as the server spells it.
fn name(input: &str) -> anyhow::Result<String> {
    confab_protocol::RoomName::from_input(input)
        .map(|r| r.to_string())
        .map_err(|code| {
            anyhow!(Error::Rejected {
                code,
                message: format!("\"{input}\" is not a room name"),
            })
        })
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "member, admin or owner".to_owned())
}

/// Waits for the first event `done` decides on; a server error or a refused sign-in ends the
/// wait with that error.
async fn answer<T>(
    events: &mut tokio::sync::mpsc::Receiver<Event>,
    mut done: impl FnMut(Event) -> Option<T>,
) -> anyhow::Result<T> {
    let wait = async {
        while let Some(ev) = events.recv().await {
            match ev {
                Event::Error {
                    code: Code::Client(ClientCode::RoomReset),
                    ..
                } => {}
                Event::Error { message, .. } => return Err(anyhow!(message)),
                Event::State(ConnState::AuthFailed { reason }) => {
                    return Err(anyhow!(Error::AuthFailed(reason)));
                }
                ev => {
                    if let Some(v) = done(ev) {
                        return Ok(v);
                    }
                }
            }
        }
        Err(anyhow!("the client stopped"))
    };
    tokio::time::timeout(ANSWER_WAIT, wait)
        .await
        .map_err(|_| anyhow!(Error::Network("no answer from the server".into())))?
}

pub(super) async fn run(profile: &Profile, action: RoomAction) -> anyhow::Result<ExitCode> {
    let (client, mut events) = profile.start(&login(profile)?, |_| {})?;
    // Every connection starts with the room list: it also says the connection is open.
    let rooms = answer(&mut events, |ev| match ev {
        Event::Rooms { rooms } => Some(rooms),
        _ => None,
    })
    .await;
    let result = match rooms {
        Ok(rooms) => act(&client, &mut events, action, rooms).await,
        Err(e) => Err(e),
    };
    drop(events);
    let _ = tokio::time::timeout(CLOSE_WAIT, client.shutdown()).await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn act(
    client: &confab_client::Client,
    events: &mut tokio::sync::mpsc::Receiver<Event>,
    action: RoomAction,
    rooms: Vec<RoomSummary>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match action {
        RoomAction::Create { room, private } => {
            let wanted = name(&room)?;
            client
                .conversation(Conversation::Create { room, private })
                .await?;
            let room = answer(events, |ev| match ev {
                Event::Synced { room, .. } if room == wanted => Some(room),
                _ => None,
            })
            .await?;
            writeln!(out, "created #{room}")?;
        }
        RoomAction::Invite { room, user } => {
            client
                .conversation(Conversation::Invite { room, user })
                .await?;
            let (room, user) = answer(events, |ev| match ev {
                Event::Invited { room, user } => Some((room, user)),
                _ => None,
            })
            .await?;
            writeln!(out, "{user} is a member of #{room}")?;
        }
        RoomAction::Kick { room, user } => {
            client
                .conversation(Conversation::Kick { room, user })
                .await?;
            let (room, user) = changed(events).await?;
            writeln!(out, "{user} was removed from #{room}")?;
        }
        RoomAction::Role { room, user, role } => {
            client
                .conversation(Conversation::SetRole { room, user, role })
                .await?;
            let (room, user) = changed(events).await?;
            writeln!(out, "{user} is {} of #{room}", role.as_str())?;
        }
        RoomAction::Part { room } => {
            let wanted = name(&room)?;
            client.conversation(Conversation::Part { room }).await?;
            let room = answer(events, |ev| match ev {
                Event::RoomRemoved { room, .. } if room == wanted => Some(room),
                _ => None,
            })
            .await?;
            writeln!(out, "left #{room}")?;
        }
        RoomAction::Dm { users, text } => {
            let users = users.split(',').map(|u| u.trim().to_owned()).collect();
            client.conversation(Conversation::Dm { users }).await?;
            let room = answer(events, |ev| match ev {
                Event::Dm { room, .. } => Some(room),
                _ => None,
            })
            .await?;
            let id = client.send(&room, &text).await?.id;
            let seq = answer(events, |ev| match ev {
                Event::Sent { id: sent, seq, .. } if sent == id => Some(Ok(seq)),
                Event::SendFailed { id: f, message, .. } if f == id => Some(Err(message)),
                _ => None,
            })
            .await?
            .map_err(|m| anyhow!(m))?;
            writeln!(out, "sent {id} as #{seq} in {room}")?;
        }
        RoomAction::Rooms { json } => {
            for r in rooms {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&r)?)?;
                } else {
                    writeln!(out, "{}", describe(&r))?;
                }
            }
        }
        RoomAction::Read { room, seq } => {
            let name = name(&room)?;
            let last = rooms.iter().find(|r| r.room == name).map(|r| r.last_seq);
            let Some(seq) = seq.or(last) else {
                return Err(anyhow!("you are not a member of #{name}"));
            };
            client
                .conversation(Conversation::Read {
                    room: name.clone(),
                    seq,
                })
                .await?;
            let at = answer(events, |ev| match ev {
                Event::Read { room, seq } if room == name => Some(seq),
                _ => None,
            })
            .await?;
            writeln!(out, "#{name} read up to {at}")?;
        }
    }
    Ok(())
}

async fn changed(
    events: &mut tokio::sync::mpsc::Receiver<Event>,
) -> anyhow::Result<(String, String)> {
    answer(events, |ev| match ev {
        Event::Changed { room, user } => Some((room, user)),
        _ => None,
    })
    .await
}

/// One line of `confab rooms`.
fn describe(r: &RoomSummary) -> String {
    let name = match &r.users {
        Some(users) => format!("{} ({})", r.room, users.join(", ")),
        None => format!("#{}", r.room),
    };
    format!(
        "{name}  {}  {}  unread {}  mentions {}",
        r.visibility.as_str(),
        r.role.as_str(),
        r.unread,
        r.mentions
    )
}
