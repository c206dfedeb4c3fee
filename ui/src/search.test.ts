// @vitest-environment jsdom
// Search in the window: Ctrl+F, hits grouped by room with the matched words marked as text,
// the offline note, and the jump to a hit far back — its neighbours loaded around it, the
// view ending there until it pages down or goes back to the newest messages.
import { flushSync } from "svelte";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fake-backend";
import { $, fakeLayout, settle, start, stop } from "../test/mount";
import { backToPresent, fillGap, newModel, placeWindow, room, rows } from "./model";
import { highlighted } from "./present";
import type { MessageData } from "./types";

beforeAll(fakeLayout);
afterEach(stop);

const seqs = () => [...document.querySelectorAll("#messages article[data-seq]")].map((a) => Number(a.getAttribute("data-seq")));
const msgs = (room: string, from: number, to: number): MessageData[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ room, seq: from + i, id: `m${from + i}`, author: "bob", body: `message ${from + i}`, ts: from + i }));

describe("highlights", () => {
  it("are cut at code points, and ranges that make no sense are ignored", () => {
    expect(highlighted("🚀 deploy now", [[2, 8]])).toEqual([
      { text: "🚀 ", hit: false },
      { text: "deploy", hit: true },
      { text: " now", hit: false },
    ]);
    expect(highlighted("abc", [[1, 1], [2, 1], [5, 9]])).toEqual([{ text: "abc", hit: false }]);
  });
});

describe("a jump's window", () => {
  it("stands alone far back, fills its gap going down, and gives way to the present", () => {
    const m = newModel();
    const r = room(m, "general");
    placeWindow(m, r, msgs("general", 400, 500)); // the newest page, as the room opens
    placeWindow(m, r, msgs("general", 10, 30));
    expect(r.gapAfter).toBe(30);
    expect(rows(r).map((x) => x.seq)).toEqual(msgs("general", 10, 30).map((x) => x.seq));
    fillGap(m, r, msgs("general", 31, 90), 60);
    expect(r.gapAfter).toBe(90);
    fillGap(m, r, msgs("general", 91, 399), 400); // a short page reaches what was loaded
    expect(r.gapAfter).toBeNull();
    expect(rows(r)).toHaveLength(491);
    placeWindow(m, r, msgs("general", 1, 9));
    expect(r.gapAfter, "a page that touches what is loaded joins it").toBeNull();
    const far = room(m, "random");
    placeWindow(m, far, msgs("random", 900, 1000));
    placeWindow(m, far, msgs("random", 1, 20));
    backToPresent(far);
    expect(far.gapAfter).toBeNull();
    expect(rows(far).map((x) => x.seq)[0], "the window is dropped").toBe(900);
  });
});

describe("the search panel", () => {
  it("opens with Ctrl+F, groups hits by room, marks the matched words as text, and jumps", async () => {
    const fake = new FakeBackend();
    for (let i = 1; i <= 300; i++) fake.post("general", "bob", i === 20 ? "the deploy <img src=x onerror=alert(1)> plan" : `chatter ${i}`, i);
    fake.post("random", "carol", "deploy party", 301);
    const { chat } = await start(fake);
    expect(seqs().includes(20)).toBe(false);
    document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "f", ctrlKey: true, bubbles: true, cancelable: true }));
    flushSync();
    const input = $("#search-input") as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    input.value = "deploy";
    input.dispatchEvent(new Event("input"));
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    await settle();
    const groups = [...document.querySelectorAll("#search-results .group h3")].map((h) => h.textContent);
    expect(groups).toEqual(["#random", "#general"]);
    expect([...document.querySelectorAll("#search-results mark")].map((x) => x.textContent)).toEqual(["deploy", "deploy"]);
    expect(document.querySelectorAll("#search-results img")).toHaveLength(0);
    expect($("#search-offline")).toBeNull();

    ($('#search-results .hit[data-room="general"]') as HTMLButtonElement).click();
    await settle();
    await settle();
    expect(fake.calls).toContain('historyAt general {"around":20} 60');
    expect(seqs()).toContain(20);
    expect(chat.search.focus?.seq).toBe(20);
    // jsdom lays nothing out, so the window "fits the view" and pages down to the present at
    // once (a real window does that as the user scrolls; the model test above covers the gap).
    for (let i = 0; i < 10 && chat.current?.detached; i++) await settle();
    expect(fake.calls.some((c) => c.startsWith('historyAt general {"after":'))).toBe(true);
    expect(chat.current?.detached).toBe(false);
    expect(seqs()).toContain(300);
    // Another room and back: the hit is not shown again.
    chat.select("random");
    chat.select("general");
    expect(chat.search.focus).toBeNull();
  });

  it("says when its hits come from this device's cache", async () => {
    const fake = new FakeBackend({ offline: true });
    fake.post("general", "bob", "deploy offline");
    fake.searchSource = "cache";
    const { chat } = await start(fake);
    chat.search.show();
    await chat.search.run("deploy");
    flushSync();
    expect($("#search-offline")?.textContent).toContain("on this device");
  });
});
