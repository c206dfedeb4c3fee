import { describe, expect, it } from "vitest";
import type { ChatMessage } from "./model";
import { GROUP_MS, banner, dayLabel, dayNumber, filterRooms, rowMeta, statusText, typingLine } from "./present";

const row = (author: string, ts: number, seq: number | null = 1, status: ChatMessage["status"] = null): ChatMessage => ({
  key: `${author}/${ts}`, id: String(ts), room: "general", author, body: "x", seq, ts, status,
});

describe("the banner", () => {
  it("says what the connection is doing, with a countdown and what waits to go out", () => {
    expect(banner({ state: "open", user: "a" }, 0, 3)).toBeNull();
    expect(banner({ state: "reconnecting", attempt: 2, retry_in_ms: 4000, retry_at_ms: 10_000, reason: "x" }, 6_100, 0)?.text)
      .toBe("Offline — retrying in 4 s");
    expect(banner({ state: "offline" }, 0, 2)).toEqual({ text: "Offline · 2 waiting to send", retry: true, signIn: false });
    expect(banner({ state: "auth_failed", reason: "x" }, 0, 0)).toMatchObject({ signIn: true });
  });
});

describe("words", () => {
  it("puts prefix matches first in the switcher and ignores a leading #", () => {
    const rooms = ["random", "general", "dev-ops", "ops"];
    expect(filterRooms(rooms, "")).toEqual(["dev-ops", "general", "ops", "random"]);
    expect(filterRooms(rooms, "#op")).toEqual(["ops", "dev-ops"]);
    expect(filterRooms(rooms, "zzz")).toEqual([]);
  });

  it("says who is typing", () => {
    expect(typingLine([])).toBe("");
    expect(typingLine(["bob"])).toBe("bob is typing…");
    expect(typingLine(["bob", "carol", "dan"])).toBe("bob, carol and dan are typing…");
  });

  it("labels our messages' states the way the tests and people read them", () => {
    expect(["queued", "sending", "sent", "failed", null].map((s) => statusText(row("a", 0, null, s as ChatMessage["status"]))))
      .toEqual(["queued", "sending…", "sent", "failed", null]);
  });
});

describe("the timeline", () => {
  const noon = new Date(2026, 2, 10, 12, 0).getTime();
  const today = dayNumber(noon);

  it("names the days", () => {
    expect(dayLabel(noon, today)).toBe("Today");
    expect(dayLabel(new Date(2026, 2, 9, 23, 59).getTime(), today)).toBe("Yesterday");
    const older = dayLabel(new Date(2026, 2, 1, 8, 0).getTime(), today);
    expect(older).not.toMatch(/Today|Yesterday/);
    expect(older).toMatch(/1/);
    expect(dayLabel(new Date(2024, 2, 1).getTime(), today)).toMatch(/2024/);
  });

  it("groups one author's messages within a few minutes, under a day line", () => {
    const a = row("bob", noon - 86_400_000, 1);
    const b = row("bob", noon, 2);
    const c = row("bob", noon + GROUP_MS - 1, 3);
    const d = row("carol", noon + GROUP_MS, 4);
    const e = row("carol", noon + 3 * GROUP_MS, 5);
    expect(rowMeta(undefined, a, null, today)).toEqual({ day: "Yesterday", newLine: false, grouped: false });
    expect(rowMeta(a, b, null, today)).toEqual({ day: "Today", newLine: false, grouped: false });
    expect(rowMeta(b, c, null, today)).toEqual({ day: null, newLine: false, grouped: true });
    expect(rowMeta(c, d, null, today).grouped).toBe(false);
    expect(rowMeta(d, e, null, today).grouped).toBe(false); // too long after
  });

  it("breaks a group at the New messages line", () => {
    const b = row("bob", noon, 2);
    const c = row("bob", noon + 1000, 3);
    expect(rowMeta(b, c, 3, today)).toEqual({ day: null, newLine: true, grouped: false });
  });
});
