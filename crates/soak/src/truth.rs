//! The final rooms: as the server serves them (history, read by a member signed in afresh) and
//! as each client keeps them (its message cache, which the app draws from after a restart).

use crate::ledger::{Room, Row};
use anyhow::{Context, Result, bail};
use confab_client::{Account, ConnState, Event, Profile, SignIn};
use confab_protocol::Secret;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Every room as the server has it, and how far each room's stream goes (edits and reactions
/// are entries too).
#[derive(Debug)]
pub(crate) struct Truth {
    pub rooms: BTreeMap<String, Room>,
    pub heads: BTreeMap<String, u64>,
}

/// Reads `rooms` from the server at `url` as `user`, a member of all of them.
pub(crate) async fn server(
    url: &url::Url,
    user: &str,
    password: &str,
    rooms: &[String],
) -> Result<Truth> {
    let scratch = tempfile::tempdir()?;
    let profile = Profile::new(scratch.path());
    let login = profile
        .sign_in(SignIn {
            account: Account::new(url.clone(), user),
            password: Secret::new(password),
            register: false,
            invite: None,
            remember: false,
        })
        .await?;
    let (client, mut events) = profile.start(&login, crate::fast)?;
    for room in rooms {
        client.join(room).await?;
    }
    // A replay comes in batches, each ending with `synced`: a room's head is its `last_seq` in
    // the room list (asked for before the joins, so it comes first; nothing writes any more),
    // and the replay is complete once a `synced` reaches it. Taking the first `synced` as the
    // head told the workers a head of ~200 in a busy room, so a worker still replaying after a
    // late restart could pass its catch-up and be compared with entries it had not got yet.
    let mut listed: BTreeMap<String, u64> = BTreeMap::new();
    let mut heads: BTreeMap<String, u64> = BTreeMap::new();
    let mut open = false;
    let wanted: HashSet<&String> = rooms.iter().collect();
    let complete = |listed: &BTreeMap<String, u64>, heads: &BTreeMap<String, u64>| {
        wanted
            .iter()
            .all(|room| match (heads.get(*room), listed.get(*room)) {
                (Some(synced), Some(last)) => synced >= last,
                // Not in the list (it should be): its first `synced`, as before.
                (Some(_), None) => true,
                (None, _) => false,
            })
    };
    let replayed = tokio::time::timeout(WAIT, async {
        while !open || !complete(&listed, &heads) {
            match events.recv().await {
                Some(Event::State(ConnState::Open { .. })) => open = true,
                Some(Event::Rooms { rooms }) => {
                    for r in rooms {
                        listed.insert(r.room, r.last_seq);
                    }
                }
                Some(Event::Synced { room, up_to }) if wanted.contains(&room) => {
                    let head = heads.entry(room).or_default();
                    *head = (*head).max(up_to);
                }
                Some(_) => {}
                None => bail!("the reading client stopped"),
            }
        }
        Ok(())
    })
    .await;
    match replayed {
        Ok(done) => done?,
        // Every room replayed, some not up to its listed head (entries this reader may not
        // see, say): go on from what it got, and say so.
        Err(_) if open && wanted.iter().all(|room| heads.contains_key(*room)) => {
            eprintln!("soak: replays ended below the listed heads: {heads:?} vs {listed:?}");
        }
        Err(_) => bail!("the server's rooms did not replay in time"),
    }
    // Nothing more is read from the events: let them go.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let mut out = BTreeMap::new();
    for room in rooms {
        let mut rows = Room::new();
        let mut before = None;
        loop {
            let page = client.history(room, before, 200).await?;
            let Some(first) = page.first() else { break };
            before = Some(first.seq);
            let full = page.len() == 200;
            for m in page {
                let reactions = m
                    .reactions
                    .into_iter()
                    .map(|(emoji, users)| (emoji, users.into_iter().collect::<BTreeSet<_>>()))
                    .collect();
                rows.insert(
                    m.seq,
                    Row {
                        author: m.author,
                        body: m.body,
                        reactions,
                    },
                );
            }
            if !full {
                break;
            }
        }
        out.insert(room.clone(), rows);
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), client.shutdown()).await;
    Ok(Truth { rooms: out, heads })
}

/// The rooms in a client's cache (its profile folder), by name.
pub(crate) fn cache(profile: &Path, rooms: &[String]) -> Result<BTreeMap<String, Room>> {
    let accounts = profile.join("accounts");
    let dir = std::fs::read_dir(&accounts)
        .with_context(|| format!("{}", accounts.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("client.db").exists())
        .context("no client.db")?;
    let db = rusqlite::Connection::open_with_flags(
        dir.join("client.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut q = db.prepare("SELECT seq, author, body, reactions FROM messages WHERE room = ?1")?;
    let mut out = BTreeMap::new();
    for room in rooms {
        let mut rows = Room::new();
        let mut it = q.query([room])?;
        while let Some(r) = it.next()? {
            let json: Option<String> = r.get(3)?;
            let reactions: BTreeMap<String, BTreeSet<String>> = json
                .map(|j| serde_json::from_str(&j))
                .transpose()?
                .unwrap_or_default();
            rows.insert(
                r.get::<_, i64>(0)?.try_into()?,
                Row {
                    author: r.get(1)?,
                    body: r.get(2)?,
                    reactions,
                },
            );
        }
        out.insert(room.clone(), rows);
    }
    Ok(out)
}

/// Differences shown per room: enough to see a pattern (one moment, or a missing tail).
const DIFFERENCES_SHOWN: usize = 8;

/// How a client's room differs from the server's, if it does: the first few differences and
/// how many there are in all.
pub(crate) fn differs(client: &Room, server: &Room) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    for (seq, row) in server {
        match client.get(seq) {
            None => found.push(format!("#{seq} missing")),
            Some(mine) if mine != row => found.push(format!("#{seq}: {mine:?} vs {row:?}")),
            _ => {}
        }
    }
    found.extend(
        client
            .keys()
            .filter(|seq| !server.contains_key(seq))
            .map(|seq| format!("#{seq} only on the client")),
    );
    if found.is_empty() {
        return None;
    }
    let total = found.len();
    found.truncate(DIFFERENCES_SHOWN);
    Some(format!("{total} differences: {}", found.join("; ")))
}
