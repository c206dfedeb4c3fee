// The window's own preferences, kept in local storage: muted rooms ("*" mutes all), rooms that
// notify only on mentions, and the room that was open. They are preferences, not secrets, and
// the end-to-end tests read them there.
import type { Level } from "./notify";

const MUTED = "confab.muted";
const LEVELS = "confab.levels";
const ROOM = "confab.room";

export class Prefs {
  private muted: Set<string>;
  /** Rooms set to `mentions` (a muted room is `none`; any other is `all`). */
  private mentionsOnly: Set<string>;

  constructor(private store: Pick<Storage, "getItem" | "setItem">) {
    this.muted = readSet(store, MUTED);
    this.mentionsOnly = readSet(store, LEVELS);
  }

  /** A room's notification level; "mute all" makes every room `none`. */
  level(room: string): Level {
    if (this.muted.has("*") || this.muted.has(room)) return "none";
    return this.mentionsOnly.has(room) ? "mentions" : "all";
  }

  /** The level the user chose for the room, whatever "mute all" says. */
  chosenLevel(room: string): Level {
    if (this.muted.has(room)) return "none";
    return this.mentionsOnly.has(room) ? "mentions" : "all";
  }

  setLevel(room: string, level: Level): void {
    this.setMuted(room, level === "none");
    if (level === "mentions") this.mentionsOnly.add(room);
    else this.mentionsOnly.delete(room);
    this.store.setItem(LEVELS, JSON.stringify([...this.mentionsOnly]));
  }

  isMuted(room: string): boolean {
    return this.muted.has(room);
  }

  setMuted(room: string, on: boolean): void {
    if (on) this.muted.add(room);
    else this.muted.delete(room);
    this.store.setItem(MUTED, JSON.stringify([...this.muted]));
  }

  get lastRoom(): string | null {
    return this.store.getItem(ROOM);
  }

  set lastRoom(name: string) {
    this.store.setItem(ROOM, name);
  }
}

function readSet(store: Pick<Storage, "getItem">, key: string): Set<string> {
  let saved: unknown = [];
  try {
    saved = JSON.parse(store.getItem(key) ?? "[]");
  } catch {
    // A damaged entry is forgotten.
  }
  return new Set(Array.isArray(saved) ? saved.filter((x): x is string => typeof x === "string") : []);
}
