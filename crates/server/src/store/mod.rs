//! Storage behind one interface, on one of two backends chosen by the database URL:
//! - [`sqlite`]: embedded SQLite, the default — one file, nothing else to run;
//! - [`postgres`]: PostgreSQL, which several server nodes share.
//!
//! Both keep the same promises, and the same integration tests run against each:
//! - a room's seqs are gap-free: each stored message takes the room's next number, however many
//!   writers (nodes) there are, and a failed send gives its number back;
//! - an author's client id is stored at most once ([`SendOutcome::Duplicate`]);
//! - a connection's sends are stored in the order it made them, and none is stored after one of
//!   them failed ([`SendOrder`]);
//! - a send's outcome is reported only once it is durable, and each committed message is then
//!   handed to the `committed` channel given to [`Store::open`], in commit order per node;
//! - search finds a message by its current text, never a deleted one, and only in rooms the
//!   searching user is a member of now;
//! - membership changes are entries of the room's stream too ([`membership`]), decided by the
//!   same rules in the transaction that stores them, and a private room's stream ends for a
//!   member where they were removed.

mod changes;
pub mod files;
mod location;
pub mod membership;
pub mod postgres;
pub mod sqlite;
mod types;

pub use files::{FileAccess, FilePut, FileRecord, NewFile};
pub use location::Database;
pub use types::{
    AccessCheck, Admission, NewAccount, NewInvite, NewMessage, Payload, PendingSend,
    RefreshOutcome, Registered, RegistrationPolicy, SearchCursor, SearchPage, SearchRequest,
    SendOrder, SendOutcome, StoredToken, TokenPairHashes, UserRecord,
};

use crate::Result;
use confab_protocol::api::Profile;
use confab_protocol::{Event, MemberInfo, MessageData, RoomSummary, Visibility};
use membership::{Change, Changed, Committed, Created, DmOpened, Entry};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// A cloneable handle to the database, whichever backend holds it.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// What must be awaited after the last [`Store`] handle is dropped for the database to be
/// closed cleanly (SQLite's writer thread finishing its queue).
#[derive(Debug)]
pub struct Closer(Option<sqlite::WriterThread>);

impl Closer {
    /// Waits for the backend to finish what it was given and close.
    pub fn join(self) {
        if let Some(writer) = self.0 {
            writer.join();
        }
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! on_backend {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            Store::Sqlite($b) => $call,
            Store::Postgres($b) => $call,
        }
    };
}

impl Store {
    /// Opens (creating if needed) and migrates the database. Committed messages are sent to
    /// `committed`, in commit order; a full channel holds up later commits (back-pressure).
    pub async fn open(
        db: &Database,
        max_bytes: Option<u64>,
        committed: mpsc::Sender<Committed>,
    ) -> Result<(Self, Closer)> {
        match db {
            Database::Sqlite(path) => {
                let path = path.clone();
                let (store, writer) = tokio::task::spawn_blocking(move || {
                    sqlite::SqliteStore::open(&path, max_bytes, committed)
                })
                .await??;
                Ok((Self::Sqlite(store), Closer(Some(writer))))
            }
            Database::Postgres(url) => {
                let store = postgres::PgStore::open(url, committed).await?;
                Ok((Self::Postgres(store), Closer(None)))
            }
        }
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        on_backend!(self, b => b.ping().await)
    }

    /// Queues a send; returns once it is queued. Its outcome comes once it is durable (or
    /// failed). Sends with one `order` are stored in the order they are queued.
    pub async fn send(&self, msg: NewMessage, order: &SendOrder) -> Result<PendingSend> {
        on_backend!(self, b => b.send(msg, order).await)
    }

    /// Holds back every send with `order` queued after this call (see [`SendOrder`]).
    pub async fn hold(&self, order: &SendOrder) -> Result<()> {
        on_backend!(self, b => b.hold(order).await)
    }

    /// The room's highest seq (0 for a room with no messages).
    pub async fn last_seq(&self, room: &str) -> Result<u64> {
        on_backend!(self, b => b.last_seq(room).await)
    }

    /// The highest seq of each of `rooms` that has messages.
    pub async fn last_seqs(&self, rooms: &[Arc<str>]) -> Result<Vec<(String, u64)>> {
        on_backend!(self, b => b.last_seqs(rooms).await)
    }

    /// Up to `limit` entries of the room's stream with seq > `after`, ascending, as far as
    /// `viewer` may read it.
    pub async fn after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
        viewer: &str,
    ) -> Result<Vec<Event>> {
        on_backend!(self, b => b.after(room, after, limit, viewer).await)
    }

    /// Up to `limit` messages with seq < `before`, ascending, and whether older ones exist, as
    /// far as `viewer` may read them.
    pub async fn before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
        viewer: &str,
    ) -> Result<(Vec<MessageData>, bool)> {
        on_backend!(self, b => b.page(room, before, false, limit, viewer).await)
    }

    /// Up to `limit` messages with seq > `after`, ascending, and whether newer ones exist, as
    /// far as `viewer` may read them.
    pub async fn newer(
        &self,
        room: &str,
        after: u64,
        limit: usize,
        viewer: &str,
    ) -> Result<(Vec<MessageData>, bool)> {
        on_backend!(self, b => b.page(room, after, true, limit, viewer).await)
    }

    /// Full-text search over the rooms `search.user` is a member of now, newest first, in the
    /// messages' current text (deleted ones are never found). `None`: the `page` is not one
    /// this backend wrote.
    pub async fn search(&self, search: SearchRequest) -> Result<Option<SearchPage>> {
        on_backend!(self, b => b.search(search).await)
    }

    /// Stores a file's record (its bytes already stored), unless its uploader has the same
    /// bytes stored or would go over their quota.
    pub async fn put_file(&self, file: NewFile) -> Result<FilePut> {
        on_backend!(self, b => b.put_file(file).await)
    }

    /// The file `id`, if `viewer` may read it.
    pub async fn file(&self, id: &str, viewer: &str) -> Result<FileAccess> {
        on_backend!(self, b => b.file(id, viewer).await)
    }

    /// Joins by name: a member stays one; a public room (created if new) makes `user` a member.
    pub async fn enter(&self, room: &str, user: &str) -> Result<Entry> {
        on_backend!(self, b => b.enter(room, user).await)
    }

    /// What [`Self::enter`] would find, without writing: `None` for a public room `user` is not
    /// in yet, or a room that does not exist.
    pub async fn entry(&self, room: &str, user: &str) -> Result<Option<Entry>> {
        on_backend!(self, b => b.entry(room, user).await)
    }

    /// Creates a room with `owner` as its owner.
    pub async fn create_room(
        &self,
        room: &str,
        owner: &str,
        visibility: Visibility,
    ) -> Result<Created> {
        on_backend!(self, b => b.create_room(room, owner, visibility).await)
    }

    /// Opens the dm `room` between `users` (the asking user among them), creating it if new.
    pub async fn open_dm(&self, room: &str, users: Vec<String>) -> Result<DmOpened> {
        on_backend!(self, b => b.open_dm(room, users).await)
    }

    /// Applies a membership change if the rules allow it; its event goes to the fan-out.
    pub async fn change(&self, change: Change) -> Result<Changed> {
        on_backend!(self, b => b.change(change).await)
    }

    /// Moves a member's read position forward; the position now, `None` if not a member.
    pub async fn set_read(&self, room: &str, user: &str, seq: u64) -> Result<Option<u64>> {
        on_backend!(self, b => b.set_read(room, user, seq).await)
    }

    /// The members of `room`, if `viewer` may see them (a member; anyone for a public room).
    pub async fn members(&self, room: &str, viewer: &str) -> Result<Option<Vec<MemberInfo>>> {
        on_backend!(self, b => b.members(room, viewer).await)
    }

    /// Sets (`None`: clears) a user's display name; `false` if no such user.
    pub async fn set_display_name(&self, user: &str, name: Option<String>) -> Result<bool> {
        on_backend!(self, b => b.set_display_name(user, name).await)
    }

    /// Up to `limit` enabled users whose name or display name starts with `prefix`.
    pub async fn search_users(&self, prefix: &str, limit: usize) -> Result<Vec<Profile>> {
        on_backend!(self, b => b.search_users(prefix, limit).await)
    }

    /// The rooms `user` is a member of, with read state.
    pub async fn rooms(&self, user: &str) -> Result<Vec<RoomSummary>> {
        on_backend!(self, b => b.rooms(user).await)
    }

    /// Creates an account if its admission allows it (registration policy, invite code, the
    /// first account of a server becoming its administrator), atomically.
    pub async fn register(&self, account: NewAccount) -> Result<Registered> {
        on_backend!(self, b => b.register(account).await)
    }

    /// Stores a new invite code's hash.
    pub async fn create_invite(&self, invite: NewInvite) -> Result<()> {
        on_backend!(self, b => b.create_invite(invite).await)
    }

    /// Makes a user a server administrator, or not; `false` if no such user.
    pub async fn set_admin(&self, username: &str, admin: bool) -> Result<bool> {
        on_backend!(self, b => b.set_admin(username, admin).await)
    }

    /// Sets a new password hash and revokes every login; `false` if no such user.
    pub async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool> {
        on_backend!(self, b => b.set_password(username, password_hash).await)
    }

    /// Looks a user up by name, in any case.
    pub async fn find_user(&self, username: &str) -> Result<Option<UserRecord>> {
        on_backend!(self, b => b.find_user(username).await)
    }

    /// Disables (revoking every login) or re-enables an account; `false` if no such user.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool> {
        on_backend!(self, b => b.set_disabled(username, disabled).await)
    }

    /// Starts a new login (one device's token family) with its first pair.
    pub async fn start_login(&self, user_id: i64, tokens: TokenPairHashes) -> Result<()> {
        on_backend!(self, b => b.start_login(user_id, tokens).await)
    }

    /// Spends a refresh token for a new pair in the same login. Reuse of a spent token is
    /// taken as theft: the login is revoked, so neither the thief nor the victim keeps access.
    pub async fn refresh(&self, old: Vec<u8>, tokens: TokenPairHashes) -> Result<RefreshOutcome> {
        on_backend!(self, b => b.refresh(old, tokens).await)
    }

    /// Checks an access token hash.
    pub async fn check_access(&self, hash: Vec<u8>) -> Result<AccessCheck> {
        on_backend!(self, b => b.check_access(hash).await)
    }

    /// Whether a login is still good for an open connection: not revoked, account not
    /// disabled. Expiry does not matter here: a token is checked when a connection opens.
    pub async fn check_login(&self, login: i64) -> Result<AccessCheck> {
        on_backend!(self, b => b.check_login(login).await)
    }

    /// Revokes the login a live access token or an unspent refresh token belongs to; `false` if
    /// the token was neither.
    pub async fn logout(&self, token: Vec<u8>) -> Result<bool> {
        on_backend!(self, b => b.logout(token).await)
    }
}

/// SQL (the same in both backends) for the form of the username `expr` under which names a reader
/// could take for one another are equal: case folded, `1 i l` as `l`, `0 o` as `o`, `rn` as `m`,
/// `vv` as `w`, and `_ - .` as one. A new account whose name equals an existing one's in this form
/// is refused as taken, so `aIice` cannot appear beside `alice`. Registration alone asks, so the
/// scan it costs is not on any hot path.
fn lookalike_sql(expr: &str) -> String {
    let mut sql = format!("lower({expr})");
    for (from, to) in [
        ("1", "l"),
        ("i", "l"),
        ("0", "o"),
        ("rn", "m"),
        ("vv", "w"),
        ("-", "_"),
        (".", "_"),
    ] {
        sql = format!("replace({sql}, '{from}', '{to}')");
    }
    sql
}

/// `SELECT EXISTS` of a user whose name looks like the parameter `param` (`?1`, `$1`).
fn lookalike_taken_sql(param: &str) -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM users WHERE {} = {})",
        lookalike_sql("username"),
        lookalike_sql(param)
    )
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
