//! The PostgreSQL backend, for several server nodes sharing one database.
//!
//! Reads and account writes run on a connection pool, each write in its own transaction.
//! Sends go through one writer task per node, like SQLite's writer thread: it takes every send
//! that is waiting, stores each inside its own savepoint and commits them together (group
//! commit: one WAL flush for the batch), then reports the outcomes and hands the stored messages
//! to the fan-out, in order.
//!
//! Seqs stay gap-free with writers on several nodes because a send takes the next number with
//! `UPDATE rooms SET last_seq = last_seq + 1 … RETURNING` in the transaction that stores it: the
//! row lock makes writers of a room take turns, and a rollback gives the number back. A group
//! locks all its rooms first, in id order, so two nodes' groups never wait on each other in a
//! circle (deadlock).

mod accounts;
mod files;
mod queries;
mod rooms;
mod schema;
mod search;
mod stream;

use super::membership::{Change, Changed, Committed, Created, DmOpened, Entry};
use super::types::Inserted;
use super::{
    AccessCheck, NewAccount, NewInvite, NewMessage, PendingSend, RefreshOutcome, Registered,
    SearchPage, SearchRequest, SendOrder, SendOutcome, TokenPairHashes, UserRecord,
};
use crate::{Error, Result};
use confab_protocol::api::Profile;
use confab_protocol::{Event, MemberInfo, MessageData, RoomSummary, Visibility};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// Sends waiting for the writer before `send` starts to wait (backpressure).
const WRITE_QUEUE: usize = 4096;
/// Most sends committed in one transaction.
const MAX_GROUP: usize = 256;
/// Pooled connections per node: the writer's, and the rest for reads and account writes.
const POOL_SIZE: usize = 16;
/// How long a caller waits for a pooled connection before its request fails.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// A cloneable handle to the database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

enum Job {
    Send {
        msg: NewMessage,
        order: SendOrder,
        reply: oneshot::Sender<Result<SendOutcome>>,
    },
    Hold(SendOrder),
    /// A membership change: it takes a seq like a send, under the same room lock.
    Change {
        change: Change,
        reply: oneshot::Sender<Result<Changed>>,
    },
}

/// What one job of a group did.
enum Done {
    /// Boxed: a stored message (with its attachments) is far bigger than a refusal.
    Send(Box<Result<Inserted>>),
    /// Boxed: a committed change is far bigger than the other outcomes.
    Change(Box<Result<(Changed, Option<Committed>)>>),
    Hold,
}

impl PgStore {
    /// Connects, migrates and starts the writer task. The task ends when the last handle is
    /// dropped, after committing what was queued.
    pub async fn open(url: &str, committed: mpsc::Sender<Committed>) -> Result<Self> {
        let config = tokio_postgres::Config::from_str(url)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| Error::Pool(e.to_string()))?;
        let mut client = pool.get().await?;
        schema::migrate(&mut client).await?;
        drop(client);
        let (jobs, rx) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(writer(pool.clone(), rx, committed));
        Ok(Self { pool, jobs })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        Ok(self.pool.get().await?)
    }
}

/// The storage interface (see [`crate::store::Store`] for what each call promises).
impl PgStore {
    pub(super) async fn send(&self, msg: NewMessage, order: &SendOrder) -> Result<PendingSend> {
        let (reply, rx) = oneshot::channel();
        let order = order.clone();
        self.jobs
            .send(Job::Send { msg, order, reply })
            .await
            .map_err(|_| Error::StoreClosed)?;
        Ok(PendingSend(rx))
    }

    pub(super) async fn ping(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    pub(super) async fn hold(&self, order: &SendOrder) -> Result<()> {
        self.jobs
            .send(Job::Hold(order.clone()))
            .await
            .map_err(|_| Error::StoreClosed)
    }

    pub(super) async fn last_seq(&self, room: &str) -> Result<u64> {
        stream::last_seq(&self.client().await?, room).await
    }

    pub(super) async fn last_seqs(&self, rooms: &[Arc<str>]) -> Result<Vec<(String, u64)>> {
        let names: Vec<&str> = rooms.iter().map(|r| &**r).collect();
        stream::last_seqs(&self.client().await?, &names).await
    }

    pub(super) async fn after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
        viewer: &str,
    ) -> Result<Vec<Event>> {
        stream::after(&self.client().await?, room, after, limit, viewer).await
    }

    pub(super) async fn page(
        &self,
        room: &str,
        from: u64,
        newer: bool,
        limit: usize,
        viewer: &str,
    ) -> Result<(Vec<MessageData>, bool)> {
        stream::page(&self.client().await?, room, from, newer, limit, viewer).await
    }

    pub(super) async fn put_file(&self, file: super::NewFile) -> Result<super::FilePut> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcome = files::put(&tx, &file).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    pub(super) async fn file(&self, id: &str, viewer: &str) -> Result<super::FileAccess> {
        files::access(&self.client().await?, id, viewer).await
    }

    pub(super) async fn search(&self, req: SearchRequest) -> Result<Option<SearchPage>> {
        search::search(&self.client().await?, &req).await
    }

    pub(super) async fn enter(&self, room: &str, user: &str) -> Result<Entry> {
        let mut client = self.client().await?;
        // Rejoining (every reconnect) is a read; only a first join writes.
        if let Some(entry) = rooms::entry(&client, room, user).await? {
            return Ok(entry);
        }
        let tx = client.transaction().await?;
        let entry = rooms::enter(&tx, room, user).await?;
        tx.commit().await?;
        Ok(entry)
    }

    pub(super) async fn entry(&self, room: &str, user: &str) -> Result<Option<Entry>> {
        rooms::entry(&self.client().await?, room, user).await
    }

    pub(super) async fn create_room(
        &self,
        room: &str,
        owner: &str,
        visibility: Visibility,
    ) -> Result<Created> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let created = rooms::create(&tx, room, owner, visibility).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub(super) async fn open_dm(&self, room: &str, users: Vec<String>) -> Result<DmOpened> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let opened = rooms::dm(&tx, room, &users).await?;
        tx.commit().await?;
        Ok(opened)
    }

    pub(super) async fn change(&self, change: Change) -> Result<Changed> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Change { change, reply })
            .await
            .map_err(|_| Error::StoreClosed)?;
        rx.await.map_err(|_| Error::StoreClosed)?
    }

    pub(super) async fn set_read(&self, room: &str, user: &str, seq: u64) -> Result<Option<u64>> {
        rooms::set_read(&self.client().await?, room, user, seq).await
    }

    pub(super) async fn members(
        &self,
        room: &str,
        viewer: &str,
    ) -> Result<Option<Vec<MemberInfo>>> {
        rooms::members(&self.client().await?, room, viewer).await
    }

    pub(super) async fn set_display_name(&self, user: &str, name: Option<String>) -> Result<bool> {
        queries::set_display_name(&self.client().await?, user, name.as_deref()).await
    }

    pub(super) async fn search_users(&self, prefix: &str, limit: usize) -> Result<Vec<Profile>> {
        queries::search_users(&self.client().await?, prefix, limit).await
    }

    pub(super) async fn rooms(&self, user: &str) -> Result<Vec<RoomSummary>> {
        rooms::list(&self.client().await?, user).await
    }

    pub(super) async fn register(&self, account: NewAccount) -> Result<Registered> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcome = accounts::register(&tx, &account).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    pub(super) async fn create_invite(&self, invite: NewInvite) -> Result<()> {
        accounts::create_invite(&self.client().await?, &invite).await
    }

    pub(super) async fn set_admin(&self, username: &str, admin: bool) -> Result<bool> {
        accounts::set_admin(&self.client().await?, username, admin).await
    }

    pub(super) async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let found = accounts::set_password(&tx, username, password_hash).await?;
        tx.commit().await?;
        Ok(found)
    }

    pub(super) async fn find_user(&self, username: &str) -> Result<Option<UserRecord>> {
        queries::find_user(&self.client().await?, username).await
    }

    pub(super) async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let found = queries::set_disabled(&tx, username, disabled).await?;
        tx.commit().await?;
        Ok(found)
    }

    pub(super) async fn start_login(&self, user_id: i64, tokens: TokenPairHashes) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        queries::start_login(&tx, user_id, &tokens).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn refresh(
        &self,
        old: Vec<u8>,
        tokens: TokenPairHashes,
    ) -> Result<RefreshOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcome = queries::refresh(&tx, &old, &tokens).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    pub(super) async fn check_access(&self, hash: Vec<u8>) -> Result<AccessCheck> {
        queries::check_access(&self.client().await?, &hash).await
    }

    pub(super) async fn check_login(&self, login: i64) -> Result<AccessCheck> {
        queries::check_login(&self.client().await?, login).await
    }

    pub(super) async fn logout(&self, access: Vec<u8>) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let done = queries::logout(&tx, &access).await?;
        tx.commit().await?;
        Ok(done)
    }
}

/// Commits waiting sends in groups until every handle is gone.
async fn writer(pool: Pool, mut jobs: mpsc::Receiver<Job>, committed: mpsc::Sender<Committed>) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    while jobs.recv_many(&mut batch, MAX_GROUP).await > 0 {
        let results = match run_group(&pool, &batch).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "commit failed");
                batch
                    .iter()
                    .map(|job| match job {
                        Job::Send { .. } => Done::Send(Box::new(Err(Error::Commit(e.to_string())))),
                        Job::Change { .. } => {
                            Done::Change(Box::new(Err(Error::Commit(e.to_string()))))
                        }
                        Job::Hold(_) => Done::Hold,
                    })
                    .collect()
            }
        };
        for (job, result) in batch.drain(..).zip(results) {
            match (job, result) {
                (Job::Send { order, reply, .. }, Done::Send(result)) => {
                    let result = *result;
                    if result.is_err() {
                        order.hold();
                    }
                    let (outcome, stored) = Inserted::split(result);
                    let _ = reply.send(outcome);
                    if let Some(e) = stored {
                        // Closed only when the server is stopping; nobody is left to deliver to.
                        let _ = committed.send(e.into()).await;
                    }
                }
                (Job::Change { reply, .. }, Done::Change(result)) => {
                    let outcome = match *result {
                        Ok((changed, event)) => {
                            if let Some(event) = event {
                                let _ = committed.send(event).await;
                            }
                            Ok(changed)
                        }
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(outcome);
                }
                _ => {}
            }
        }
    }
    tracing::debug!("storage writer finished");
}

/// Stores one group in one transaction: what each job did, or the error that failed the
/// whole group.
async fn run_group(pool: &Pool, batch: &[Job]) -> Result<Vec<Done>> {
    let mut client = pool.get().await?;
    let mut new_rooms: Vec<&str> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Send { msg, .. } => Some(msg.room.as_str()),
            _ => None,
        })
        .collect();
    new_rooms.sort_unstable();
    new_rooms.dedup();
    // Changes name rooms that must exist already: they are locked, never created.
    let mut rooms = new_rooms.clone();
    rooms.extend(batch.iter().filter_map(|job| match job {
        Job::Change { change, .. } => Some(change.room.as_str()),
        _ => None,
    }));
    rooms.sort_unstable();
    rooms.dedup();
    // Outside the transaction: a new room's row must not be a lock this group holds while it
    // waits, in id order, for the others.
    client
        .execute(
            "INSERT INTO rooms (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING",
            &[&new_rooms],
        )
        .await?;
    let mut tx = client.transaction().await?;
    tx.execute(
        "SELECT 1 FROM rooms WHERE name = ANY($1) ORDER BY id FOR UPDATE",
        &[&rooms],
    )
    .await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let (msg, order) = match job {
            Job::Hold(order) => {
                // In queue order, like the sends: those queued before it are still stored.
                order.hold();
                results.push(Done::Hold);
                continue;
            }
            Job::Change { change, .. } => {
                let sp = tx.savepoint("change").await?;
                let result = rooms::change(&sp, change).await;
                if result.is_ok() {
                    sp.commit().await?;
                } else {
                    sp.rollback().await?;
                }
                results.push(Done::Change(Box::new(result)));
                continue;
            }
            Job::Send { msg, order, .. } => (msg, order),
        };
        if order.is_held() {
            results.push(Done::Send(Box::new(Ok(Inserted::Not(
                SendOutcome::HeldBack,
            )))));
            continue;
        }
        let sp = tx.savepoint("send").await?;
        let result = match stream::insert(&sp, msg).await {
            Ok(inserted) => {
                sp.commit().await?;
                Ok(inserted)
            }
            Err(e) => {
                sp.rollback().await?;
                // Another node stored the same id a moment ago (a client that failed over
                // resent it): the original answers it, as on one node.
                match already_stored(&tx, msg, &e).await? {
                    Some(outcome) => Ok(Inserted::Not(outcome)),
                    None => {
                        order.hold();
                        Err(e)
                    }
                }
            }
        };
        results.push(Done::Send(Box::new(result)));
    }
    tx.commit().await?;
    Ok(results)
}

/// After a failed insert: the earlier send it collided with, if the failure was the dedup index.
async fn already_stored(
    tx: &deadpool_postgres::Transaction<'_>,
    msg: &NewMessage,
    err: &Error,
) -> Result<Option<SendOutcome>> {
    let Error::Postgres(e) = err else {
        return Ok(None);
    };
    if e.code() != Some(&SqlState::UNIQUE_VIOLATION) {
        return Ok(None);
    }
    stream::prior_send(tx, &msg.author, &msg.client_id, &msg.room).await
}
