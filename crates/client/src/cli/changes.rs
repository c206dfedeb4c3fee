//! The commands that queue work and wait for it to be stored: send (a message or a reply),
//! edit, delete, react. Each goes through the durable outbox, so one the server cannot take
//! now is sent on the next run (exit 3).

use super::{CLOSE_WAIT, login};
use anyhow::anyhow;
use confab_client::{Attach, ClientCode, Code, ConnState, Draft, Error, Event, Profile, Target};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub(super) enum ChangeAction {
    /// Send a message. Waits until the server has stored it, or reports it queued.
    Send {
        room: String,
        /// The text; may be "" when files are attached.
        text: String,
        /// Answer the message with this seq (a reply, quoted above yours).
        #[arg(long)]
        reply_to: Option<u64>,
        /// Attach a file (repeat for several). It is copied now: changing it later changes
        /// nothing, and it is uploaded on the next run when the server is unreachable.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<std::path::PathBuf>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Give your message SEQ a new text.
    Edit {
        room: String,
        seq: u64,
        text: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Delete message SEQ (yours; any, for an owner or admin of the room). Its text is not
    /// served to anyone again.
    Delete {
        room: String,
        seq: u64,
        #[command(flatten)]
        wait: Wait,
    },
    /// React to message SEQ with one emoji; --off takes the reaction back.
    React {
        room: String,
        seq: u64,
        emoji: String,
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        wait: Wait,
    },
}

#[derive(Debug, clap::Args)]
pub(super) struct Wait {
    /// Seconds to wait for delivery before leaving it queued.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

pub(super) async fn run(profile: &Profile, action: ChangeAction) -> anyhow::Result<ExitCode> {
    let mut attach = Vec::new();
    let (room, draft, wait) = match action {
        ChangeAction::Send {
            room,
            text,
            reply_to,
            files,
            wait,
        } => {
            attach = files.into_iter().map(Attach::Path).collect();
            let files = Vec::new(); // the client stages `attach` into them
            let draft = Draft::Message {
                body: text,
                reply_to,
                files,
            };
            (room, draft, wait)
        }
        ChangeAction::Edit {
            room,
            seq,
            text,
            wait,
        } => (
            room,
            Draft::Edit {
                target: Target::Seq(seq),
                body: text,
            },
            wait,
        ),
        ChangeAction::Delete { room, seq, wait } => (
            room,
            Draft::Delete {
                target: Target::Seq(seq),
            },
            wait,
        ),
        ChangeAction::React {
            room,
            seq,
            emoji,
            off,
            wait,
        } => (
            room,
            Draft::React {
                target: Target::Seq(seq),
                emoji,
                on: !off,
            },
            wait,
        ),
    };
    deliver(
        profile,
        &room,
        draft,
        attach,
        Duration::from_secs(wait.wait),
    )
    .await
}

/// Queues `draft` and waits up to `wait` for the server to store it.
async fn deliver(
    profile: &Profile,
    room: &str,
    draft: Draft,
    attach: Vec<Attach>,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let what = match &draft {
        Draft::Message { .. } => "sent",
        Draft::Edit { .. } => "edited",
        Draft::Delete { .. } => "deleted",
        Draft::React { .. } => "reacted",
    };
    let (client, mut events) = profile.start(&login(profile)?, |_| {})?;
    let queued = match draft {
        Draft::Message { body, reply_to, .. } if !attach.is_empty() => {
            client.send_files(room, &body, reply_to, attach).await
        }
        draft => client.queue(room, draft).await,
    };
    let id = queued?.id;
    let outcome = tokio::time::timeout(wait, async {
        while let Some(ev) = events.recv().await {
            match ev {
                Event::Sent {
                    id: ref sent, seq, ..
                } if *sent == id => return Ok(seq),
                Event::SendFailed {
                    id: ref failed,
                    message,
                    ..
                } if *failed == id => return Err(anyhow!(message)),
                Event::State(ConnState::AuthFailed { reason }) => {
                    return Err(anyhow!(Error::AuthFailed(reason)));
                }
                Event::Error {
                    code: Code::Client(ClientCode::KeyringUnavailable),
                    message,
                } => return Err(anyhow!(Error::Keyring(message))),
                _ => {}
            }
        }
        Err(anyhow!("the client stopped"))
    })
    .await;
    // Nothing more is read: let the core know (a long replay must not wait for us), then close.
    drop(events);
    let _ = tokio::time::timeout(CLOSE_WAIT, client.shutdown()).await;
    match outcome {
        Ok(Ok(seq)) => {
            println!("{what} {id} as #{seq}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            eprintln!(
                "queued {id}: the server is unreachable; it will be sent the next time confab runs"
            );
            Ok(ExitCode::from(3))
        }
    }
}
