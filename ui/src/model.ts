// The UI's state and how the core's events and snapshot change it. Pure: no DOM, no Tauri, so
// it is unit-tested. The core owns every message's fate; this only records what it said.
//
// One row per message id, whatever order the news arrives in: our own message is a pending row
// from its first `outgoing` (or the snapshot's outbox) until `sent` (it moves to its seq),
// `send_failed` (it stays, failed, until retried) or its stored copy arrives (the stored copy
// replaces it). Once an id is settled like that, a late `outgoing` for it is stale and ignored.
import { foldReaction } from "./changes";
import type { Attachment, ConnState, Event, LocalFile, MemberInfo, MessageData, Outgoing, Role, Snapshot, UiError, Visibility } from "./types";

export type Status = "queued" | "sending" | "sent" | "failed";

export interface ChatMessage {
  /** The row's key, the same while pending and once stored. */
  key: string;
  id: string;
  room: string;
  author: string;
  body: string;
  seq: number | null; // null while pending
  ts: number; // server time of storage; the time it was written while pending
  status: Status | null; // null for other people's messages
  error?: string;
  /** Placed from `sent` before its stored copy arrived. */
  provisional?: boolean;
  /** Members it mentions, lower case (from the server). */
  mentions?: string[];
  /** Its body was edited since it was sent. */
  edited?: boolean;
  /** Who reacted with what, users sorted. */
  reactions?: Record<string, string[]>;
  /** The seq of the message this one answers. */
  reply_to?: number;
  /** A change of ours to it is still in the outbox (drawn dimmed until stored). */
  changing?: boolean;
  /** The files it carries: stored (the server's), or ours still queued (with `progress`). */
  attachments?: Attachment[];
  files?: LocalFile[];
  /** How much of a queued message's files is uploaded, 0 to 1. */
  progress?: number;
}

export interface Room {
  name: string;
  stored: ChatMessage[]; // by seq
  pending: ChatMessage[]; // ours, not stored yet (queued, sending, failed), in the order written
  seqs: Set<number>; // the stored seqs present, so a duplicate is found in O(1)
  unread: number;
  /** The seq above which the "New messages" line is drawn, set when the room is opened. */
  marker: number | null;
  typing: Map<string, number>; // user -> expiry (ms since epoch)
  presence: string[];
  oldestLoaded: number | null; // lowest seq we have, for paging back
  /** After a jump far back: the newest seq of the window loaded around it. What is newer is
   * not loaded up to the next stored message, so the view ends here until it is. */
  gapAfter: number | null;
  /** What the server said the room is; null before it said (a public room). */
  visibility: Visibility | null;
  role: Role | null;
  /** Of the unread messages, those that mention us. */
  mentions: number;
  /** Our read position, the same on every device (the server's). */
  readSeq: number;
  /** A dm's users, us included. */
  users: string[] | null;
  /** Its members, once asked for (the members panel); null when stale. */
  members: MemberInfo[] | null;
}

export interface Model {
  user: string | null;
  conn: ConnState;
  rooms: Map<string, Room>;
  current: string | null;
  /** What the core's outbox holds (queued or sending), by id. */
  outbox: Map<string, Outgoing>;
  /** Our ids that are stored, sent or failed: an `outgoing` for one of them is stale. */
  settled: Set<string>;
  /** Errors to show until dismissed, one per code. */
  errors: Map<string, UiError>;
}

export const TYPING_MS = 5000;

/** Errors about the connection, resolved once it opens. */
const CONNECTION_CODES = new Set<string>(["network", "keyring_unavailable", "auth_failed", "not_signed_in", "closed"]);

export function newModel(): Model {
  return {
    user: null,
    conn: { state: "offline" },
    rooms: new Map(),
    current: null,
    outbox: new Map(),
    settled: new Set(),
    errors: new Map(),
  };
}

export function room(m: Model, name: string): Room {
  let r = m.rooms.get(name);
  if (!r) {
    r = {
      name,
      stored: [],
      pending: [],
      seqs: new Set(),
      unread: 0,
      marker: null,
      typing: new Map(),
      presence: [],
      oldestLoaded: null,
      gapAfter: null,
      visibility: null,
      role: null,
      mentions: 0,
      readSeq: 0,
      users: null,
      members: null,
    };
    m.rooms.set(name, r);
  }
  return r;
}

const rowKey = (author: string, id: string) => `${author}/${id}`;

/** A room's rows as drawn: the stored messages by seq, then our pending ones; after a jump
 * far back, only the loaded stretch around it (nothing across the gap). */
export function rows(r: Room): ChatMessage[] {
  const gap = r.gapAfter;
  if (gap !== null) return r.stored.filter((m) => (m.seq ?? 0) <= gap);
  return r.pending.length === 0 ? r.stored.slice() : r.stored.concat(r.pending);
}

/** Puts the page loaded around a jump's target into the room. A page that touches what is
 * loaded joins it; one further back replaces the view with itself, and the gap after it is
 * filled as the user scrolls down (`fillGap`) or drops (`backToPresent`). */
export function placeWindow(m: Model, r: Room, page: MessageData[]): void {
  const newest = page.reduce((n, x) => Math.max(n, x.seq), 0);
  const touches = r.oldestLoaded === null || newest + 1 >= r.oldestLoaded || r.seqs.has(newest + 1);
  if (!touches) {
    r.gapAfter = newest;
  }
  addStored(m, page);
}

/** A page loaded after the gap's start: the gap closes when the page reaches what was loaded
 * beyond it, or the room's end (a short page). */
export function fillGap(m: Model, r: Room, page: MessageData[], limit: number): void {
  addStored(m, page);
  const gap = r.gapAfter;
  if (gap === null) return;
  const newest = page.reduce((n, x) => Math.max(n, x.seq), gap);
  const beyond = r.stored.find((x) => (x.seq ?? 0) > newest);
  r.gapAfter = page.length < limit || (beyond && (beyond.seq ?? 0) <= newest + 1) ? null : newest;
}

/** Leaves a jump's window for the newest messages: the window is dropped, and the newest
 * page is loaded again by the caller. */
export function backToPresent(r: Room): void {
  const gap = r.gapAfter;
  if (gap === null) return;
  r.gapAfter = null;
  r.stored = r.stored.filter((x) => (x.seq ?? 0) > gap);
  r.seqs = new Set(r.stored.map((x) => x.seq ?? 0));
  r.oldestLoaded = r.stored.length > 0 ? (r.stored[0].seq ?? null) : null;
}

/** How many messages wait to go out (the banner's "N waiting to send"). */
export function waiting(m: Model): number {
  return m.outbox.size;
}

export function unreadTotal(m: Model): number {
  let n = 0;
  for (const r of m.rooms.values()) n += r.unread;
  return n;
}

export function mentionTotal(m: Model): number {
  let n = 0;
  for (const r of m.rooms.values()) n += r.mentions;
  return n;
}

/** Whether a message names us (`@name`, found by the server). */
export function mentionsMe(m: Model, msg: { mentions?: string[] }): boolean {
  const me = m.user?.toLowerCase();
  return !!me && (msg.mentions ?? []).includes(me);
}

/** The newest stored seq of a room, 0 if none. */
export function newestSeq(r: Room): number {
  return r.stored.length > 0 ? (r.stored[r.stored.length - 1].seq ?? 0) : 0;
}

/** The read position to tell the server now the user sees the room: its newest message, if
 * that is past what the server has; null when there is nothing to say. */
export function readToSend(r: Room): number | null {
  const newest = newestSeq(r);
  return newest > r.readSeq ? newest : null;
}

/** Unread and mentions again after the read position moved: the loaded messages of others
 * after it. Messages not loaded here were unread before and are counted as read by then. */
function recount(m: Model, r: Room): void {
  const after = r.stored.filter((x) => (x.seq ?? 0) > r.readSeq && x.author !== m.user);
  r.unread = Math.min(r.unread, after.length);
  r.mentions = Math.min(r.mentions, after.filter((x) => mentionsMe(m, x)).length);
}

/** Takes a stored message out of the view (it was deleted); true if it was there. */
function dropStored(r: Room, seq: number): boolean {
  const at = r.stored.findIndex((x) => x.seq === seq);
  if (at < 0) return false;
  r.stored.splice(at, 1);
  r.seqs.delete(seq);
  return true;
}

function dropPending(r: Room, id: string): ChatMessage | null {
  const at = r.pending.findIndex((x) => x.id === id);
  return at < 0 ? null : r.pending.splice(at, 1)[0];
}

/** Puts a stored message at its seq (a binary search, usually landing at the end). A
 * provisional copy at that seq is replaced. Returns false if the seq was there already. */
function insertStored(r: Room, entry: ChatMessage): boolean {
  const seq = entry.seq ?? 0;
  let hi = r.stored.length;
  let lo = hi > 0 && (r.stored[hi - 1].seq ?? 0) < seq ? hi : 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((r.stored[mid].seq ?? 0) < seq) lo = mid + 1;
    else hi = mid;
  }
  if (r.seqs.has(seq)) {
    if (!r.stored[lo]?.provisional || entry.provisional) return false;
    r.stored[lo] = entry;
    return true;
  }
  r.stored.splice(lo, 0, entry);
  r.seqs.add(seq);
  r.oldestLoaded = r.oldestLoaded === null ? seq : Math.min(r.oldestLoaded, seq);
  return true;
}

/** Inserts stored messages (live, replayed or history) in seq order, once each. Our pending
 * copy of a message leaves when its stored copy comes. Returns how many rows were new. */
export function addStored(m: Model, msgs: MessageData[]): number {
  let added = 0;
  for (const msg of msgs) {
    // History serves a deleted message as a placeholder without text: nothing to draw.
    if (msg.deleted) continue;
    const r = room(m, msg.room);
    const own = msg.author === m.user;
    if (own) {
      m.settled.add(msg.id);
      m.outbox.delete(msg.id);
      dropPending(r, msg.id);
    }
    const entry: ChatMessage = {
      ...msg,
      key: rowKey(msg.author, msg.id),
      status: own ? "sent" : null,
      edited: msg.edited_ts !== undefined,
    };
    const wasThere = r.seqs.has(msg.seq);
    if (!insertStored(r, entry)) continue;
    r.typing.delete(msg.author);
    if (!wasThere) added++;
  }
  return added;
}

/** One of our messages entered the outbox or moved on in it. Returns whether a row changed. */
function outgoing(m: Model, out: Outgoing): boolean {
  if (m.settled.has(out.id)) return false; // sent, stored or failed already: this is old news
  m.outbox.set(out.id, out);
  // A change is laid over the row it is aimed at when drawn (changes.ts).
  if (out.kind !== "message") return true;
  const r = room(m, out.room);
  const at = r.pending.findIndex((x) => x.id === out.id);
  if (at >= 0 && r.pending[at].status === out.status && r.pending[at].body === out.body) return false;
  const row: ChatMessage = {
    key: rowKey(m.user ?? "", out.id),
    id: out.id,
    room: out.room,
    author: m.user ?? "",
    body: out.body,
    seq: null,
    ts: out.created_ms,
    status: out.status,
    ...(out.reply_to !== null ? { reply_to: out.reply_to } : {}),
    ...(out.files.length ? { files: out.files, progress: r.pending[at]?.progress ?? 0 } : {}),
  };
  if (at >= 0) {
    r.pending[at] = row;
    return true;
  }
  // In the order written; failed rows stay where they were.
  let i = r.pending.length;
  while (i > 0 && r.pending[i - 1].ts > row.ts) i--;
  r.pending.splice(i, 0, row);
  return true;
}

/** Who we are; pending rows that came before we knew are ours. */
function setUser(m: Model, user: string): void {
  m.user = user;
  for (const r of m.rooms.values()) {
    r.pending = r.pending.map((x) => (x.author ? x : { ...x, author: user, key: rowKey(user, x.id) }));
  }
}

/** Applies one event. Returns the rooms whose view changed. */
export function apply(m: Model, e: Event, now: number, focused: boolean): Set<string> {
  const changed = new Set<string>();
  switch (e.type) {
    case "state": {
      const { type: _type, ...conn } = e;
      m.conn = conn as ConnState;
      if (conn.state === "open") {
        setUser(m, conn.user);
        for (const code of CONNECTION_CODES) m.errors.delete(code);
      }
      break;
    }
    case "message": {
      const { type: _type, ...msg } = e;
      // A deleted message keeps its seq but is not drawn.
      if (msg.deleted) {
        if (dropStored(room(m, msg.room), msg.seq)) changed.add(msg.room);
        break;
      }
      const own = msg.author === m.user;
      const added = addStored(m, [msg]) > 0;
      const r = room(m, msg.room);
      if (added && !own && msg.seq > r.readSeq && (msg.room !== m.current || !focused)) {
        r.unread++;
        if (mentionsMe(m, msg)) r.mentions++;
      }
      // Our own message's stored copy replaces its pending or provisional row.
      if (added || own) changed.add(msg.room);
      break;
    }
    case "uploading": {
      const r = room(m, e.room);
      const at = r.pending.findIndex((x) => x.id === e.id);
      if (at >= 0) r.pending[at] = { ...r.pending[at], progress: e.total ? e.sent / e.total : 1 };
      if (at >= 0) changed.add(e.room);
      break;
    }
    case "outgoing": {
      const { type: _type, ...out } = e;
      if (outgoing(m, out)) changed.add(out.room);
      break;
    }
    case "sent": {
      // A change stays drawn over its row until its own event comes (which may come first).
      const out = m.outbox.get(e.id);
      if (out && out.kind !== "message") {
        if (m.settled.has(e.id)) m.outbox.delete(e.id);
        break;
      }
      m.settled.add(e.id);
      m.outbox.delete(e.id);
      const r = room(m, e.room);
      const mine = dropPending(r, e.id);
      if (mine) {
        insertStored(r, { ...mine, seq: e.seq, status: "sent", provisional: true });
        changed.add(e.room);
      }
      break;
    }
    case "withdrawn": {
      // Taken back before it was sent (a queued message deleted): it was never anywhere else.
      m.settled.add(e.id);
      m.outbox.delete(e.id);
      dropPending(room(m, e.room), e.id);
      changed.add(e.room);
      break;
    }
    case "send_failed": {
      m.settled.add(e.id);
      if (m.outbox.get(e.id)?.kind !== "message") changed.add(e.room);
      m.outbox.delete(e.id);
      const r = room(m, e.room);
      const at = r.pending.findIndex((x) => x.id === e.id);
      if (at >= 0) {
        r.pending[at] = { ...r.pending[at], status: "failed", error: e.message };
        changed.add(e.room);
      } else {
        // Never seen as outgoing (nothing to show a row for): say it where errors go.
        m.errors.set(e.code, { code: e.code, message: e.message });
      }
      break;
    }
    case "typing":
      if (e.user !== m.user) {
        room(m, e.room).typing.set(e.user, now + TYPING_MS);
        changed.add(e.room);
      }
      break;
    case "presence":
      room(m, e.room).presence = e.users;
      changed.add(e.room);
      break;
    case "error":
      m.errors.set(e.code, { code: e.code, message: e.message });
      break;
    case "synced":
      break;
    default:
      conversation(m, e, focused, changed);
  }
  return changed;
}

/** The events about rooms and members (see the client core's `Event`). */
function conversation(m: Model, e: Event, focused: boolean, changed: Set<string>): void {
  switch (e.type) {
    case "edit":
    case "delete":
    case "react":
      // Our own change came back stored: the row shows it from now on, not the outbox.
      if (e.author === m.user) {
        m.settled.add(e.id);
        if (m.outbox.delete(e.id)) changed.add(e.room);
      }
      break;
  }
  switch (e.type) {
    case "rooms":
      for (const s of e.rooms) {
        const r = room(m, s.room);
        r.visibility = s.visibility;
        r.role = s.role;
        r.users = s.users ?? null;
        r.readSeq = Math.max(r.readSeq, s.read_seq);
        // The open room in front is being read: its count stays at zero.
        if (!(s.room === m.current && focused)) {
          r.unread = s.unread;
          r.mentions = s.mentions;
        }
        changed.add(s.room);
      }
      break;
    case "read": {
      const r = room(m, e.room);
      if (e.seq > r.readSeq) r.readSeq = e.seq;
      if (r.readSeq >= newestSeq(r)) {
        r.unread = 0;
        r.mentions = 0;
      } else recount(m, r);
      changed.add(e.room);
      break;
    }
    case "room_added": {
      const r = room(m, e.room);
      r.visibility = e.visibility;
      r.role = r.role ?? "member";
      if (e.users) r.users = e.users;
      changed.add(e.room);
      break;
    }
    case "room_removed":
      m.rooms.delete(e.room);
      if (m.current === e.room) m.current = null;
      changed.add(e.room);
      break;
    case "dm": {
      const r = room(m, e.room);
      r.visibility = "dm";
      r.users = e.users;
      r.role = r.role ?? "member";
      changed.add(e.room);
      break;
    }
    case "members":
      room(m, e.room).members = e.members;
      changed.add(e.room);
      break;
    case "edit": {
      const r = m.rooms.get(e.room);
      const at = r ? r.stored.findIndex((x) => x.seq === e.target) : -1;
      if (r && at >= 0 && e.body !== undefined) {
        r.stored[at] = { ...r.stored[at], body: e.body, edited: true };
        changed.add(e.room);
      }
      break;
    }
    case "delete": {
      const r = m.rooms.get(e.room);
      if (r && dropStored(r, e.target)) changed.add(e.room);
      break;
    }
    case "react": {
      const r = m.rooms.get(e.room);
      const at = r ? r.stored.findIndex((x) => x.seq === e.target) : -1;
      if (r && at >= 0) {
        const row = r.stored[at];
        r.stored[at] = { ...row, reactions: foldReaction(row.reactions, e.author, e.emoji, e.on) };
        changed.add(e.room);
      }
      break;
    }
    case "member": {
      // Someone came, went or changed role: the member list is read again when shown.
      const r = m.rooms.get(e.room);
      if (r) {
        r.members = null;
        if (e.action === "role" && e.user === m.user && e.role) r.role = e.role;
        changed.add(e.room);
      }
      break;
    }
  }
}

/** Takes in the core's snapshot (start, sign-in, reload): the account, the connection, the
 * rooms and every message still in the outbox, shown in place in its room. */
export function applySnapshot(m: Model, snap: Snapshot): void {
  if (snap.account) setUser(m, snap.account.user);
  m.conn = snap.state;
  for (const r of snap.rooms) room(m, r.name).visibility ??= r.visibility;
  for (const out of snap.outbox) outgoing(m, out);
  if (snap.account && snap.notice) m.errors.set(snap.notice.code, snap.notice);
}

/** Removes a failed message's row, to send its body again as a new message. */
export function takeFailed(m: Model, roomName: string, id: string): ChatMessage | null {
  const r = m.rooms.get(roomName);
  const at = r ? r.pending.findIndex((x) => x.id === id && x.status === "failed") : -1;
  return r && at >= 0 ? r.pending.splice(at, 1)[0] : null;
}

/** Marks what arrived while the user was away: the "New messages" line goes above the
 * oldest of the room's `unread` newest messages from others; the count is cleared. */
function markRead(m: Model, r: Room): void {
  if (r.unread === 0) return;
  let left = r.unread;
  let marker: number | null = null;
  for (let i = r.stored.length - 1; i >= 0 && left > 0; i--) {
    if (r.stored[i].author !== m.user) {
      marker = r.stored[i].seq;
      left--;
    }
  }
  r.marker = marker ?? r.marker;
  r.unread = 0;
  r.mentions = 0;
}

/** The user opens a room. */
export function openRoom(m: Model, name: string): Room {
  if (m.current && m.current !== name) {
    const before = m.rooms.get(m.current);
    if (before) before.marker = null;
  }
  m.current = name;
  const r = room(m, name);
  r.marker = null;
  markRead(m, r);
  return r;
}

/** The window is back in front: the open room's news is read. Returns whether it had any. */
export function focusCurrent(m: Model): boolean {
  const r = m.current ? m.rooms.get(m.current) : undefined;
  if (!r || r.unread === 0) return false;
  markRead(m, r);
  return true;
}

export function setError(m: Model, e: UiError): void {
  m.errors.set(e.code, e);
}

export function dismissError(m: Model, code: string): void {
  m.errors.delete(code);
}

/** Who is typing in a room right now. */
export function typingUsers(r: Room, now: number): string[] {
  return [...r.typing.entries()].filter(([, until]) => until > now).map(([u]) => u).sort();
}
