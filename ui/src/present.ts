// How the model reads to a person: the banner's words, who is typing, the switcher's matches,
// and the timeline's day lines, grouping and times. Pure, unit-tested.
import type { ChatMessage } from "./model";
import type { ConnState } from "./types";

export interface BannerLine {
  text: string;
  retry: boolean;
  signIn: boolean;
}

/** The connection banner, or null when all is well. `waiting` counts the outbox. */
export function banner(conn: ConnState, now: number, waiting: number): BannerLine | null {
  const queued = waiting > 0 ? ` · ${waiting} waiting to send` : "";
  switch (conn.state) {
    case "open":
      return null;
    case "connecting":
      return { text: `Connecting…${queued}`, retry: false, signIn: false };
    case "reconnecting": {
      const s = Math.max(0, Math.ceil((conn.retry_at_ms - now) / 1000));
      return { text: `Offline — retrying in ${s} s${queued}`, retry: true, signIn: false };
    }
    case "auth_failed":
      return { text: `Signed out — log in again${queued}`, retry: false, signIn: true };
    case "offline":
      return { text: `Offline${queued}`, retry: true, signIn: false };
  }
}

/** "bob is typing…", "bob and carol are typing…", or "". */
export function typingLine(users: string[]): string {
  if (users.length === 0) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  return `${users.slice(0, -1).join(", ")} and ${users[users.length - 1]} are typing…`;
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

/** Messages of one author closer together than this share one name and avatar. */
export const GROUP_MS = 5 * 60 * 1000;

/** What is drawn around a row besides the message itself. */
export interface RowMeta {
  /** A day line above the row ("Today", "Yesterday", a date), or null. */
  day: string | null;
  /** The "New messages" line above the row. */
  newLine: boolean;
  /** Under the previous row's name and avatar (no header of its own). */
  grouped: boolean;
}

/** A local calendar day as a number that compares and subtracts by whole days. */
export function dayNumber(ts: number): number {
  const d = new Date(ts);
  return Math.round(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) / 86_400_000);
}

export function dayLabel(ts: number, today: number): string {
  const day = dayNumber(ts);
  if (day === today) return "Today";
  if (day === today - 1) return "Yesterday";
  const d = new Date(ts);
  const sameYear = d.getFullYear() === new Date(today * 86_400_000).getUTCFullYear();
  return sameYear
    ? (dayFormat ??= new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" })).format(d)
    : (dayOfYearFormat ??= new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", day: "numeric" })).format(d);
}

/** The row's surroundings, from the row before it. `today` is dayNumber(now). */
export function rowMeta(prev: ChatMessage | undefined, msg: ChatMessage, marker: number | null, today: number): RowMeta {
  const newLine = marker !== null && msg.seq === marker;
  const day = !prev || dayNumber(prev.ts) !== dayNumber(msg.ts) ? dayLabel(msg.ts, today) : null;
  const grouped = !!prev && !newLine && day === null && prev.author === msg.author &&
    msg.ts - prev.ts < GROUP_MS && prev.status !== "failed";
  return { day, newLine, grouped };
}

// Each format is made once, when first needed: making one (what every
// `toLocale…String(…, options)` call does) costs about a millisecond in WebKit, and every row
// drawn formats two or three times (docs/bench.md).
let timeFormat: Intl.DateTimeFormat | undefined;
let fullFormat: Intl.DateTimeFormat | undefined;
let dayFormat: Intl.DateTimeFormat | undefined;
let dayOfYearFormat: Intl.DateTimeFormat | undefined;

export function shortTime(ts: number): string {
  return (timeFormat ??= new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" })).format(ts);
}

export function fullTime(ts: number): string {
  return (fullFormat ??= new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" })).format(ts);
}

export function initial(name: string): string {
  return (name.trim()[0] ?? "?").toUpperCase();
}

/** One of eight avatar colours, the same for a name everywhere. */
export function hue(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + (c.codePointAt(0) ?? 0)) >>> 0;
  return h % 8;
}

const STATUS_TEXT = { queued: "queued", sending: "sending…", sent: "sent", failed: "failed" } as const;

/** The words under our own message. */
export function statusText(m: ChatMessage): string | null {
  return m.status ? STATUS_TEXT[m.status] : null;
}

/** A search hit's body cut at its highlights (`[start, end)` in characters, as the protocol
 * counts them: code points, not UTF-16 units), for drawing as text nodes and marks. */
export function highlighted(body: string, highlights: [number, number][]): { text: string; hit: boolean }[] {
  const chars = Array.from(body);
  const out: { text: string; hit: boolean }[] = [];
  let at = 0;
  for (const [start, end] of highlights) {
    if (start < at || end <= start || start >= chars.length) continue; // not ours to trust
    if (start > at) out.push({ text: chars.slice(at, start).join(""), hit: false });
    out.push({ text: chars.slice(start, end).join(""), hit: true });
    at = Math.min(end, chars.length);
  }
  if (at < chars.length) out.push({ text: chars.slice(at).join(""), hit: false });
  return out;
}
