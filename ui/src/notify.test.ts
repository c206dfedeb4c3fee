import { describe, expect, it } from "vitest";
import { newModel, room } from "./model";
import { Coalescer, type Level, type Note, shouldNotify } from "./notify";
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
    const all = () => "all" as Level;
    expect(shouldNotify(m, msg("general", "bob"), false, all, now)).toBe(true);
    expect(shouldNotify(m, msg("general", "bob"), true, all, now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob"), true, all, now)).toBe(true);
    expect(shouldNotify(m, msg("random", "alice"), false, all, now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob"), false, (r) => (r === "random" ? "none" : "all"), now)).toBe(false);
    expect(shouldNotify(m, msg("random", "bob", "old", 0), false, all, now)).toBe(false);
  });

  it("a room set to mentions notifies only when you are named; a dm always, unless none", () => {
    const mentions = () => "mentions" as Level;
    expect(shouldNotify(m, msg("random", "bob"), false, mentions, now)).toBe(false);
    expect(shouldNotify(m, { ...msg("random", "bob", "hey @alice"), mentions: ["alice"] }, false, mentions, now)).toBe(true);
    room(m, "dm.x").visibility = "dm";
    expect(shouldNotify(m, msg("dm.x", "bob"), false, mentions, now)).toBe(true);
    expect(shouldNotify(m, msg("dm.x", "bob"), false, () => "none", now)).toBe(false);
  });

  it("says who mentioned you", () => {
    const shown: Note[] = [];
    const c = new Coalescer((fn) => fn(), (n) => shown.push(n));
    c.add(msg("ops", "bob", "look @alice"), { label: "#ops", mentioned: true });
    c.add(msg("dm.x", "bob", "psst"), { label: "bob", mentioned: false });
    expect(shown.map((n) => n.title)).toEqual(["bob mentioned you in #ops", "bob in bob"]);
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
