// The UI's state and how events change it. Pure: no DOM, no Tauri, so it is unit-tested.
import type { ConnState, Event, MessageData } from "./types";

export type Status = "queued" | "sending" | "sent" | "failed";

export interface ChatMessage extends Omit<MessageData, "seq" | "ts"> {
  seq: number | null; // null until the server stored it
  ts: number | null;
  status: Status | null; // null for other people's messages
  error?: string;
}

export interface Room {
  name: string;
  messages: ChatMessage[]; // stored ones by seq, then our pending ones in send order
  unread: number;
  typing: Map<string, number>; // user -> expiry (ms since epoch)
  presence: string[];
  oldestLoaded: number | null; // lowest seq we have, for paging back
  seqs: Set<number>; // stored seqs present, so a duplicate is found in O(1)
  pending: number; // how many of our unsent messages sit at the end of `messages`
}

export interface Model {
  user: string | null;
  conn: ConnState;
  rooms: Map<string, Room>;
  current: string | null;
  queued: number;
}

export const TYPING_MS = 5000;

export function newModel(): Model {
  return { user: null, conn: { state: "offline" }, rooms: new Map(), current: null, queued: 0 };
}

export function room(m: Model, name: string): Room {
  let r = m.rooms.get(name);
  if (!r) {
    r = { name, messages: [], unread: 0, typing: new Map(), presence: [], oldestLoaded: null, seqs: new Set(), pending: 0 };
    m.rooms.set(name, r);
  }
  return r;
}

function stored(msg: MessageData): ChatMessage {
  return { ...msg, status: null };
}

/** Inserts stored messages (live, replayed or history) in seq order, once each. Our own pending
 * copy of a message is replaced by the stored one. Returns how many were new. */
export function addStored(m: Model, msgs: MessageData[]): number {
  let added = 0;
  for (const msg of msgs) {
    const r = room(m, msg.room);
    // Only the few pending messages at the end can be our copy of this one.
    const storedCount = r.messages.length - r.pending;
    if (msg.author === m.user && r.pending > 0) {
      const at = r.messages.findIndex((x, i) => i >= storedCount && x.id === msg.id);
      if (at >= 0) {
        r.messages.splice(at, 1);
        r.pending--;
      }
    }
    if (r.seqs.has(msg.seq)) continue;
    const entry = stored(msg);
    if (msg.author === m.user) entry.status = "sent";
    // Stored messages sit before pending ones, in seq order: binary search, usually at the end.
    let hi = r.messages.length - r.pending;
    let lo = hi > 0 && (r.messages[hi - 1].seq ?? 0) < msg.seq ? hi : 0;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((r.messages[mid].seq ?? 0) < msg.seq) lo = mid + 1;
      else hi = mid;
    }
    r.messages.splice(lo, 0, entry);
    r.seqs.add(msg.seq);
    r.oldestLoaded = r.oldestLoaded === null ? msg.seq : Math.min(r.oldestLoaded, msg.seq);
    r.typing.delete(msg.author);
    added++;
  }
  return added;
}

/** Our message, shown at once as queued (offline) or sending (online). */
export function addPending(m: Model, roomName: string, id: string, body: string): void {
  const status: Status = m.conn.state === "open" ? "sending" : "queued";
  const r = room(m, roomName);
  r.messages.push({ room: roomName, id, author: m.user ?? "", body, seq: null, ts: null, status });
  r.pending++;
}

/** Drops one of our pending messages (a failed one the user retries as new). */
export function removePending(m: Model, roomName: string, id: string): ChatMessage | null {
  const r = room(m, roomName);
  const at = r.messages.findIndex((x, i) => i >= r.messages.length - r.pending && x.id === id);
  if (at < 0) return null;
  r.pending--;
  return r.messages.splice(at, 1)[0];
}

/** Applies one event. Returns the rooms whose view changed. */
export function apply(m: Model, e: Event, now: number, focused: boolean): Set<string> {
  const changed = new Set<string>();
  switch (e.type) {
    case "state": {
      const { type: _type, ...conn } = e;
      m.conn = conn as ConnState;
      if (conn.state === "open") m.user = conn.user;
      // Pending messages show whether they can go out now.
      for (const r of m.rooms.values()) {
        for (const msg of r.messages) {
          if (msg.status === "queued" && conn.state === "open") msg.status = "sending";
          if (msg.status === "sending" && conn.state !== "open") msg.status = "queued";
        }
        changed.add(r.name);
      }
      break;
    }
    case "message": {
      const { type: _type, ...msg } = e;
      if (addStored(m, [msg]) > 0) {
        const r = room(m, msg.room);
        if (msg.author !== m.user && (msg.room !== m.current || !focused)) r.unread++;
        changed.add(msg.room);
      }
      break;
    }
    case "sent": {
      const r = room(m, e.room);
      const msg = r.messages.find((x) => x.id === e.id && x.author === m.user);
      if (msg && msg.seq === null) {
        msg.status = "sent";
        changed.add(e.room);
      }
      break;
    }
    case "send_failed": {
      const msg = room(m, e.room).messages.find((x) => x.id === e.id);
      if (msg) {
        msg.status = "failed";
        msg.error = e.message;
      }
      changed.add(e.room);
      break;
    }
    case "outbox":
      m.queued = e.queued;
      break;
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
    case "synced":
    case "error":
      break;
  }
  return changed;
}

/** Who is typing in a room right now. */
export function typingUsers(r: Room, now: number): string[] {
  return [...r.typing.entries()].filter(([, until]) => until > now).map(([u]) => u).sort();
}

/** The connection banner's text, or null when all is well. */
export function banner(conn: ConnState, now: number): { text: string; retry: boolean; signIn: boolean } | null {
  switch (conn.state) {
    case "open":
      return null;
    case "connecting":
      return { text: "Connecting…", retry: false, signIn: false };
    case "reconnecting": {
      const s = Math.max(0, Math.ceil((conn.retry_at_ms - now) / 1000));
      return { text: `Offline — retrying in ${s} s`, retry: true, signIn: false };
    }
    case "auth_failed":
      return { text: "Signed out — log in again", retry: false, signIn: true };
    case "offline":
      return { text: "Offline", retry: true, signIn: false };
  }
}

/** Rooms matching a switcher query: prefix matches first, then substring matches, by name. */
export function filterRooms(names: string[], query: string): string[] {
  const q = query.trim().toLowerCase().replace(/^#/, "");
  const sorted = [...names].sort();
  if (!q) return sorted;
  const prefix = sorted.filter((n) => n.startsWith(q));
  const inside = sorted.filter((n) => !n.startsWith(q) && n.includes(q));
  return [...prefix, ...inside];
}

/** Splits text into plain and link parts; links are only http(s) URLs. Never produces HTML. */
export function linkify(text: string): { text: string; href?: string }[] {
  const parts: { text: string; href?: string }[] = [];
  const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  let last = 0;
  for (const match of text.matchAll(re)) {
    const at = match.index ?? 0;
    if (at > last) parts.push({ text: text.slice(last, at) });
    parts.push({ text: match[0], href: match[0] });
    last = at + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
