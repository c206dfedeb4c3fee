import { describe, expect, it } from "vitest";
import type { ChatMessage } from "./model";
import { MAX_ROWS, STEP, key, newer, newest, older, range } from "./window";

const msgs = (n: number, from = 1): ChatMessage[] =>
  Array.from({ length: n }, (_, i) => ({ room: "r", id: `m${from + i}`, author: "bob", body: "", seq: from + i, ts: 0, status: null }));

describe("the message window", () => {
  it("starts at the newest messages and grows, then slides, back in time", () => {
    const all = msgs(10_000);
    let v = newest();
    expect(range(all, v)).toEqual([10_000 - STEP, 10_000]);
    v = older(all, v)!;
    expect(range(all, v)).toEqual([10_000 - MAX_ROWS, 10_000]);
    for (let i = 0; i < 40; i++) v = older(all, v) ?? v;
    const [start, end] = range(all, v);
    expect(start).toBe(0);
    expect(end - start).toBe(MAX_ROWS);
    expect(older(all, v)).toBeNull(); // the oldest is drawn: time to load history
  });

  it("comes back down to the newest, never holding more than MAX_ROWS", () => {
    const all = msgs(2_000);
    let v = newest();
    for (let i = 0; i < 10; i++) v = older(all, v) ?? v;
    let steps = 0;
    for (let next = newer(all, v); next; next = newer(all, v)) {
      v = next;
      const [s, e] = range(all, v);
      expect(e - s).toBeLessThanOrEqual(MAX_ROWS);
      steps++;
    }
    expect(v.end).toBeNull();
    expect(range(all, v)[1]).toBe(2_000);
    expect(steps).toBeGreaterThan(1);
  });

  it("keeps its place when history loads above and live messages arrive below", () => {
    const all = msgs(1_000, 1_001);
    let v = newest();
    v = older(all, older(all, v)!)!;
    const [, endBefore] = range(all, v);
    const last = key(all[endBefore - 1]);
    const grown = [...msgs(500, 501), ...all, ...msgs(10, 2_001)];
    const [, endAfter] = range(grown, v);
    expect(key(grown[endAfter - 1])).toBe(last);
  });
});
