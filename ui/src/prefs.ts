// The window's own preferences, kept in local storage: muted rooms ("*" mutes all) and the room
// that was open. They are preferences, not secrets, and the end-to-end tests read them there.

const MUTED = "confab.muted";
const ROOM = "confab.room";

export class Prefs {
  private muted: Set<string>;

  constructor(private store: Pick<Storage, "getItem" | "setItem">) {
    let saved: unknown = [];
    try {
      saved = JSON.parse(store.getItem(MUTED) ?? "[]");
    } catch {
      // A damaged entry is forgotten.
    }
    this.muted = new Set(Array.isArray(saved) ? saved.filter((x): x is string => typeof x === "string") : []);
  }

  /** The set notifications consult (a room's name, or "*"). */
  get mutedSet(): ReadonlySet<string> {
    return this.muted;
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
