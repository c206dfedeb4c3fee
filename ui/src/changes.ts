// Messages that change, as the window draws them: reactions folded into a row, and what our
// own outbox still holds (an edit, a deletion, a reaction not yet stored) laid over the rows,
// so the user sees the change at once and it goes away by itself if the core refuses it.
// Pure, unit-tested; the core's outbox is the only record of what is pending.
import type { ChatMessage, Model, Room } from "./model";
import type { Outgoing, Target } from "./types";

export type Reactions = Record<string, string[]>;

/** `user` added (`on`) or took back `emoji`: a set per emoji, users sorted, empty ones gone. */
export function foldReaction(reactions: Reactions | undefined, user: string, emoji: string, on: boolean): Reactions {
  const next: Reactions = { ...(reactions ?? {}) };
  const users = (next[emoji] ?? []).filter((u) => u !== user);
  if (on) users.push(user);
  users.sort();
  if (users.length > 0) next[emoji] = users;
  else delete next[emoji];
  return next;
}

/** How a change names the row it is aimed at: by seq once stored, else by our id. */
export function targetOf(msg: ChatMessage): Target {
  return msg.seq !== null && !msg.provisional ? { seq: msg.seq } : { queued: msg.id };
}

function aimsAt(target: Target, row: ChatMessage): boolean {
  return "seq" in target ? row.seq === target.seq : row.id === target.queued;
}

/** The rows of a room as drawn: stored and pending rows, with our outbox's changes on top. */
export function view(m: Model, r: Room, rows: ChatMessage[]): ChatMessage[] {
  const changes: Outgoing[] = [];
  for (const out of m.outbox.values()) if (out.room === r.name && out.kind !== "message") changes.push(out);
  if (changes.length === 0) return rows;
  const me = m.user ?? "";
  const out: ChatMessage[] = [];
  for (const row of rows) {
    let shown: ChatMessage | null = row;
    for (const c of changes) {
      if (!shown || c.kind === "message" || !aimsAt(c.target, row)) continue;
      if (c.kind === "edit") shown = { ...shown, body: c.body, edited: true, changing: true };
      else if (c.kind === "delete") shown = null;
      else shown = { ...shown, reactions: foldReaction(shown.reactions, me, c.emoji, c.on), changing: true };
    }
    if (shown) out.push(shown);
  }
  return out;
}

/** Our newest message in the rows (what Up arrow edits), if any. */
export function lastOwn(rows: ChatMessage[], me: string | null): ChatMessage | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    if (rows[i].author === me && rows[i].status !== "failed") return rows[i];
  }
  return null;
}

/** Whether `me` reacted to `msg` with `emoji`. */
export function reacted(msg: ChatMessage, me: string | null, emoji: string): boolean {
  return !!me && (msg.reactions?.[emoji] ?? []).includes(me);
}

/** A compact set for the picker: nothing is fetched from the network. */
export const EMOJI = [
  "👍", "👎", "😄", "🎉", "❤️", "🚀", "👀", "🙏",
  "😂", "😮", "😢", "😡", "🤔", "👏", "🔥", "✅",
  "❌", "⚠️", "💯", "🙌", "👌", "💡", "🐛", "☕",
];

/** What a message row can do, handed down by the list. */
export interface RowActions {
  /** Our username as the server spells it (reactions are by it). */
  user: string | null;
  /** An owner or admin of the room may delete anyone's message. */
  canDeleteAny: boolean;
  reply(msg: ChatMessage): void;
  edit(msg: ChatMessage): void;
  remove(msg: ChatMessage): void;
  react(msg: ChatMessage, emoji: string): void;
  /** The loaded message with this seq (a reply's original), if any. */
  quoted(seq: number): ChatMessage | undefined;
  /** Scrolls to the message with this seq and marks it for a moment. */
  show(seq: number): void;
}
