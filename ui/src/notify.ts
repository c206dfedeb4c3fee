// When to raise a desktop notification, and how bursts are folded into one. Pure logic: the
// timer and the sink are passed in, so it is unit-tested without a desktop.
import type { Model } from "./model";
import type { MessageData } from "./types";

/** Messages older than this (a replay after a long absence) do not notify one by one. */
export const FRESH_MS = 2 * 60 * 1000;
/** Messages of one room within this window become one notification. */
export const COALESCE_MS = 1500;

export function shouldNotify(m: Model, msg: MessageData, focused: boolean, muted: ReadonlySet<string>, now: number): boolean {
  if (msg.author === m.user || muted.has(msg.room) || muted.has("*")) return false;
  if (now - msg.ts > FRESH_MS) return false;
  return !focused || msg.room !== m.current;
}

export interface Note {
  room: string;
  title: string;
  body: string;
}

/** Folds a burst per room into one note, shown when the room has been quiet for a moment. */
export class Coalescer {
  private pending = new Map<string, { count: number; last: MessageData }>();

  constructor(
    private schedule: (fn: () => void, ms: number) => void,
    private show: (note: Note) => void,
  ) {}

  add(msg: MessageData): void {
    const entry = this.pending.get(msg.room);
    if (entry) {
      entry.count++;
      entry.last = msg;
      return;
    }
    this.pending.set(msg.room, { count: 1, last: msg });
    this.schedule(() => this.flush(msg.room), COALESCE_MS);
  }

  private flush(room: string): void {
    const entry = this.pending.get(room);
    this.pending.delete(room);
    if (!entry) return;
    const { count, last } = entry;
    const preview = last.body.length > 140 ? `${last.body.slice(0, 140)}…` : last.body;
    this.show(
      count === 1
        ? { room, title: `${last.author} in #${room}`, body: preview }
        : { room, title: `${count} new messages in #${room}`, body: `${last.author}: ${preview}` },
    );
  }
}
