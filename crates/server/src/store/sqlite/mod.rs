//! The embedded SQLite backend (WAL mode).
//!
//! One writer thread owns the only read-write connection and applies jobs in arrival order. It
//! takes every job that is waiting, runs each inside its own savepoint (one failing job does not
//! undo the others), commits them all in one transaction — one fsync for the whole group — and
//! only then runs each job's completion, in order. Completions are where outcomes are reported
//! and committed messages handed on to the fan-out, so nothing is acknowledged before it is
//! durable, and a room's messages are broadcast in sequence order.
//!
//! Reads run on the blocking pool over a few read-only connections, which WAL lets proceed while
//! the writer commits.

mod accounts;
mod backup;
mod files;
mod messages;
mod rooms;
mod schema;
mod search;
mod users;

pub use backup::{ServerLock, backup, lock, restore};

use super::membership::{Change, Changed, Committed, Created, DmOpened, Entry};
use super::types::Inserted;
use super::{
    AccessCheck, NewAccount, NewInvite, NewMessage, PendingSend, RefreshOutcome, Registered,
    SearchPage, SearchRequest, SendOrder, SendOutcome, TokenPairHashes, UserRecord,
};
use crate::{Error, Result};
use confab_protocol::api::Profile;
use confab_protocol::{Event, MemberInfo, MessageData, RoomSummary, Visibility};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Jobs waiting for the writer before `write` starts to wait (backpressure).
const WRITE_QUEUE: usize = 4096;
/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 512;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

type Completion = Box<dyn FnOnce(Result<()>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

/// A cloneable handle to the database.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Readers>,
    committed: mpsc::Sender<Committed>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.readers.path)
            .finish()
    }
}

/// The writer thread; joining it after every [`SqliteStore`] is dropped guarantees the database was
/// closed cleanly.
#[derive(Debug)]
pub struct WriterThread(JoinHandle<()>);

impl WriterThread {
    /// Waits for the writer to finish its queue and close the database.
    pub fn join(self) {
        if self.0.join().is_err() {
            tracing::error!("the storage writer thread panicked");
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates it and starts the writer.
    /// Blocks: call it off the runtime.
    pub fn open(
        path: &Path,
        max_bytes: Option<u64>,
        committed: mpsc::Sender<Committed>,
    ) -> Result<(Self, WriterThread)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_dir(dir)?;
        }
        let mut conn = Connection::open(path)?;
        // Before the first write: the WAL and shared-memory files take the database's mode.
        crate::private::restrict(path)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            crate::private::restrict(Path::new(&side))?;
        }
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        if let Some(max) = max_bytes {
            let page: u64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
            conn.pragma_update(None, "max_page_count", (max / page.max(1)).max(1))?;
        }
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let thread = std::thread::Builder::new()
            .name("confab-store".into())
            .spawn(move || writer_loop(conn, rx))?;
        let readers = Arc::new(Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        });
        let store = Self {
            jobs: tx,
            readers,
            committed,
        };
        Ok((store, WriterThread(thread)))
    }

    /// Runs `f` in the writer and returns its result once committed.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.write_then(f, move |result| {
            let _ = tx.send(result);
        })
        .await?;
        rx.await.map_err(|_| Error::StoreClosed)?
    }

    /// Queues `f` for the writer and returns as soon as it is queued; `then` runs on the writer
    /// thread after the commit (or failure), in queue order. `then` must be quick: it may wait
    /// only as back-pressure (the fan-out queue being full), never on the runtime.
    async fn write_then<T, F, C>(&self, f: F, then: C) -> Result<()>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        C: FnOnce(Result<T>) + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit| then(commit.and(result)));
            (ok, completion)
        });
        self.jobs.send(job).await.map_err(|_| Error::StoreClosed)
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn);
            readers.put(conn);
            result
        })
        .await?
    }
}

/// The storage interface (see [`crate::store::Store`] for what each call promises).
impl SqliteStore {
    pub(super) async fn send(&self, msg: NewMessage, order: &SendOrder) -> Result<PendingSend> {
        let (tx, rx) = oneshot::channel();
        let (order, order_after) = (order.clone(), order.clone());
        let committed = self.committed.clone();
        self.write_then(
            // Jobs run one at a time on the writer thread, so the flag orders exactly: once a
            // send fails, no later send of this connection is stored.
            move |c| {
                if order.is_held() {
                    return Ok(Inserted::Not(SendOutcome::HeldBack));
                }
                let result = messages::insert(c, msg);
                if result.is_err() {
                    order.hold();
                }
                result
            },
            // On the writer thread right after the commit, in commit order: each room's
            // messages reach the fan-out in sequence.
            move |result| {
                if result.is_err() {
                    order_after.hold();
                }
                let (outcome, stored) = Inserted::split(result);
                let _ = tx.send(outcome);
                if let Some(e) = stored {
                    // Closed only when the server is stopping; nobody is left to deliver to.
                    let _ = committed.blocking_send(e.into());
                }
            },
        )
        .await?;
        Ok(PendingSend(rx))
    }

    pub(super) async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    pub(super) async fn hold(&self, order: &SendOrder) -> Result<()> {
        let order = order.clone();
        self.write_then(
            move |_| {
                order.hold();
                Ok(())
            },
            |_: Result<()>| {},
        )
        .await
    }

    pub(super) async fn last_seq(&self, room: &str) -> Result<u64> {
        let room = room.to_owned();
        self.read(move |c| messages::last_seq(c, &room)).await
    }

    pub(super) async fn last_seqs(&self, rooms: &[Arc<str>]) -> Result<Vec<(String, u64)>> {
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        self.read(move |c| {
            let mut seqs = Vec::with_capacity(rooms.len());
            for room in rooms {
                let seq = messages::last_seq(c, &room)?;
                seqs.push((room, seq));
            }
            Ok(seqs)
        })
        .await
    }

    pub(super) async fn after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
        viewer: &str,
    ) -> Result<Vec<Event>> {
        let (room, viewer) = (room.to_owned(), viewer.to_owned());
        self.read(move |c| messages::after(c, &room, after, limit, &viewer))
            .await
    }

    pub(super) async fn page(
        &self,
        room: &str,
        from: u64,
        newer: bool,
        limit: usize,
        viewer: &str,
    ) -> Result<(Vec<MessageData>, bool)> {
        let (room, viewer) = (room.to_owned(), viewer.to_owned());
        self.read(move |c| messages::page(c, &room, from, newer, limit, &viewer))
            .await
    }

    pub(super) async fn search(&self, req: SearchRequest) -> Result<Option<SearchPage>> {
        self.read(move |c| search::search(c, &req)).await
    }

    pub(super) async fn put_file(&self, file: super::NewFile) -> Result<super::FilePut> {
        self.write(move |c| files::put(c, file)).await
    }

    pub(super) async fn file(&self, id: &str, viewer: &str) -> Result<super::FileAccess> {
        let (id, viewer) = (id.to_owned(), viewer.to_owned());
        self.read(move |c| files::access(c, &id, &viewer)).await
    }

    pub(super) async fn enter(&self, room: &str, user: &str) -> Result<Entry> {
        let (room, user) = (room.to_owned(), user.to_owned());
        let (r, u) = (room.clone(), user.clone());
        // Rejoining (every reconnect) is a read; only a first join writes.
        if let Some(entry) = self.read(move |c| rooms::entry(c, &r, &u)).await? {
            return Ok(entry);
        }
        self.write(move |c| rooms::enter(c, &room, &user)).await
    }

    pub(super) async fn entry(&self, room: &str, user: &str) -> Result<Option<Entry>> {
        let (room, user) = (room.to_owned(), user.to_owned());
        self.read(move |c| rooms::entry(c, &room, &user)).await
    }

    pub(super) async fn create_room(
        &self,
        room: &str,
        owner: &str,
        visibility: Visibility,
    ) -> Result<Created> {
        let (room, owner) = (room.to_owned(), owner.to_owned());
        self.write(move |c| rooms::create(c, &room, &owner, visibility))
            .await
    }

    pub(super) async fn open_dm(&self, room: &str, users: Vec<String>) -> Result<DmOpened> {
        let room = room.to_owned();
        self.write(move |c| rooms::dm(c, &room, &users)).await
    }

    pub(super) async fn change(&self, change: Change) -> Result<Changed> {
        let (tx, rx) = oneshot::channel();
        let committed = self.committed.clone();
        self.write_then(
            move |c| rooms::change(c, &change),
            // After the commit, in commit order with the room's messages.
            move |result: Result<(Changed, Option<Committed>)>| {
                let outcome = result.map(|(changed, event)| {
                    if let Some(event) = event {
                        let _ = committed.blocking_send(event);
                    }
                    changed
                });
                let _ = tx.send(outcome);
            },
        )
        .await?;
        rx.await.map_err(|_| Error::StoreClosed)?
    }

    pub(super) async fn set_read(&self, room: &str, user: &str, seq: u64) -> Result<Option<u64>> {
        let (room, user) = (room.to_owned(), user.to_owned());
        self.write(move |c| rooms::set_read(c, &room, &user, seq))
            .await
    }

    pub(super) async fn members(
        &self,
        room: &str,
        viewer: &str,
    ) -> Result<Option<Vec<MemberInfo>>> {
        let (room, viewer) = (room.to_owned(), viewer.to_owned());
        self.read(move |c| rooms::members(c, &room, &viewer)).await
    }

    pub(super) async fn set_display_name(&self, user: &str, name: Option<String>) -> Result<bool> {
        let user = user.to_owned();
        self.write(move |c| users::set_display_name(c, &user, name.as_deref()))
            .await
    }

    pub(super) async fn search_users(&self, prefix: &str, limit: usize) -> Result<Vec<Profile>> {
        let prefix = prefix.to_owned();
        self.read(move |c| users::search_users(c, &prefix, limit))
            .await
    }

    pub(super) async fn rooms(&self, user: &str) -> Result<Vec<RoomSummary>> {
        let user = user.to_owned();
        self.read(move |c| rooms::list(c, &user)).await
    }

    pub(super) async fn register(&self, account: NewAccount) -> Result<Registered> {
        self.write(move |c| accounts::register(c, &account)).await
    }

    pub(super) async fn create_invite(&self, invite: NewInvite) -> Result<()> {
        self.write(move |c| accounts::create_invite(c, &invite))
            .await
    }

    pub(super) async fn set_admin(&self, username: &str, admin: bool) -> Result<bool> {
        let name = username.to_owned();
        self.write(move |c| accounts::set_admin(c, &name, admin))
            .await
    }

    pub(super) async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool> {
        let (name, hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |c| accounts::set_password(c, &name, &hash))
            .await
    }

    pub(super) async fn find_user(&self, username: &str) -> Result<Option<UserRecord>> {
        let name = username.to_owned();
        self.read(move |c| users::find_user(c, &name)).await
    }

    pub(super) async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool> {
        let name = username.to_owned();
        self.write(move |c| users::set_disabled(c, &name, disabled))
            .await
    }

    pub(super) async fn start_login(&self, user_id: i64, tokens: TokenPairHashes) -> Result<()> {
        self.write(move |c| users::start_login(c, user_id, &tokens))
            .await
    }

    pub(super) async fn refresh(
        &self,
        old: Vec<u8>,
        tokens: TokenPairHashes,
    ) -> Result<RefreshOutcome> {
        self.write(move |c| users::refresh(c, &old, &tokens)).await
    }

    pub(super) async fn check_access(&self, hash: Vec<u8>) -> Result<AccessCheck> {
        self.read(move |c| users::check_access(c, &hash)).await
    }

    pub(super) async fn check_login(&self, login: i64) -> Result<AccessCheck> {
        self.read(move |c| users::check_login(c, login)).await
    }

    pub(super) async fn logout(&self, access: Vec<u8>) -> Result<bool> {
        self.write(move |c| users::logout(c, &access)).await
    }
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn take(&self) -> Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&self.path, flags)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(conn)
            }
        }
    }

    fn put(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before the ack goes out, even across a power cut. Group commit
    // keeps the cost to one fsync per batch.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_group(&mut conn, &mut batch);
    }
    tracing::debug!("storage writer finished");
}

fn run_group(conn: &mut Connection, batch: &mut Vec<Job>) {
    let mut completions = Vec::with_capacity(batch.len());
    let commit = (|| -> Result<()> {
        // Immediate: the write lock is taken at BEGIN, where the busy timeout applies. A
        // deferred transaction that has read gets `database is locked` at its first write,
        // without waiting, whenever another process holds the lock — `confab-server admin`
        // beside a live server failed every send of the moment.
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for job in batch.drain(..) {
            let sp = tx.savepoint()?;
            let (ok, done) = job(&sp);
            completions.push(done);
            if ok {
                sp.commit()?;
                continue;
            }
            drop(sp); // rolls this job back
            // SQLITE_FULL, IOERR and NOMEM may roll back the whole transaction, not only the
            // statement. Going on would run later jobs outside it, commit them one by one and
            // still report them failed: stop, and fail the whole group instead.
            if tx.is_autocommit() {
                return Err(Error::Commit("the database rolled the group back".into()));
            }
        }
        tx.commit()?;
        Ok(())
    })();
    if let Err(err) = &commit {
        tracing::error!(error = %err, jobs = completions.len() + batch.len(), "commit failed");
    }
    // Jobs never started (a savepoint could not be opened) are dropped: dropping a job drops its
    // completion, which its waiter sees as a failed write, so it is never acknowledged.
    batch.clear();
    for done in completions {
        done(match &commit {
            Ok(()) => Ok(()),
            Err(e) => Err(copy_error(e)),
        });
    }
}

/// Every job of a failed group gets its own copy of the failure.
fn copy_error(err: &Error) -> Error {
    match err {
        Error::Db(rusqlite::Error::SqliteFailure(code, msg)) => {
            Error::Db(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        other => Error::Commit(other.to_string()),
    }
}
