// When to raise a desktop notification, and how bursts are folded into one. Pure logic: the
// timer and the sink are passed in, so it is unit-tested without a desktop.
import { type Model, mentionsMe } from "./model";
import type { MessageData } from "./types";

/** Messages older than this (a replay after a long absence) do not notify one by one. */
export const FRESH_MS = 2 * 60 * 1000;
/** Messages of one room within this window become one notification. */
export const COALESCE_MS = 1500;

/** A room's notification level: every message, only those that mention you, or none. */
export type Level = "all" | "mentions" | "none";

/** Whether `msg` raises a notification. A dm notifies at any level but `none`; a mention
 * notifies in a room set to `mentions`. */
export function shouldNotify(m: Model, msg: MessageData, focused: boolean, levelOf: (room: string) => Level, now: number): boolean {
  const level = levelOf(msg.room);
  if (msg.author === m.user || level === "none") return false;
  if (now - msg.ts > FRESH_MS) return false;
  if (focused && msg.room === m.current) return false;
  const dm = m.rooms.get(msg.room)?.visibility === "dm";
  return level === "all" || dm || mentionsMe(m, msg);
}

export interface Note {
  room: string;
  title: string;
  body: string;
}

/** How a notification names the message's room: `#general`, or the dm's people. */
export interface Place {
  label: string;
  mentioned: boolean;
}

/** Folds a burst per room into one note, shown when the room has been quiet for a moment. */
export class Coalescer {
  private pending = new Map<string, { count: number; last: MessageData; place: Place }>();

  constructor(
    private schedule: (fn: () => void, ms: number) => void,
    private show: (note: Note) => void,
  ) {}

  add(msg: MessageData, place: Place = { label: `#${msg.room}`, mentioned: false }): void {
    const entry = this.pending.get(msg.room);
    if (entry) {
      entry.count++;
      entry.last = msg;
      entry.place = { label: place.label, mentioned: entry.place.mentioned || place.mentioned };
      return;
    }
    this.pending.set(msg.room, { count: 1, last: msg, place });
    this.schedule(() => this.flush(msg.room), COALESCE_MS);
  }

  private flush(room: string): void {
    const entry = this.pending.get(room);
    this.pending.delete(room);
    if (!entry) return;
    const { count, last, place } = entry;
    const preview = last.body.length > 140 ? `${last.body.slice(0, 140)}…` : last.body;
    const title =
      count > 1
        ? `${count} new messages in ${place.label}${place.mentioned ? " (you were mentioned)" : ""}`
        : place.mentioned
          ? `${last.author} mentioned you in ${place.label}`
          : `${last.author} in ${place.label}`;
    this.show({ room, title, body: count === 1 ? preview : `${last.author}: ${preview}` });
  }
}
