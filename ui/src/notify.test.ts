import { describe, expect, it } from "vitest";
import { newModel } from "./model";
import { Coalescer, type Note, shouldNotify } from "./notify";
import type { MessageData } from "./types";

const msg = (room: string, author: string, body = "hi", ts = 1_000_000): MessageData => ({
  room, seq: 1, id: body, author, body, ts,
});

describe("notifications", () => {
  const m = newModel();
  m.user = "alice";
  m.current = "general";
  const now = 1_000_500;

  it("notify for others' fresh messages when unfocused or in another room, unless muted", () => {
    const none = new Set<string>();
    expect(shouldNotify(m, msg("general", "bob"), false, none, now)).toBe(true);
    expect(shouldNotify(m, msg("general", "bob"), true, none, now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob"), true, none, now)).toBe(true);
    expect(shouldNotify(m, msg("random", "alice"), false, none, now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob"), false, new Set(["random"]), now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob"), false, new Set(["*"]), now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob", "old", 0), false, none, now)).toBe(false);
  });

  it("folds a burst into one notification per room", () => {
    const timers: (() => void)[] = [];
    const shown: Note[] = [];
    const c = new Coalescer((fn) => timers.push(fn), (n) => shown.push(n));
    c.add(msg("general", "bob", "one"));
    c.add(msg("general", "carol", "two"));
    c.add(msg("general", "bob", "three"));
    c.add(msg("random", "dan", "elsewhere"));
    expect(timers).toHaveLength(2);
    timers.forEach((t) => t());
    expect(shown).toEqual([
      { room: "general", title: "3 new messages in #general", body: "bob: three" },
      { room: "random", title: "dan in #random", body: "elsewhere" },
    ]);
  });
});
