import { describe, expect, it } from "vitest";
import {
  type Model,
  addStored,
  apply,
  applySnapshot,
  dismissError,
  focusCurrent,
  newModel,
  openRoom,
  room,
  rows,
  takeFailed,
  typingUsers,
  unreadTotal,
  waiting,
} from "./model";
import type { Event, MessageData, Outgoing } from "./types";

const msg = (seq: number, author = "bob", id = `m${seq}`, ts = 1_000 + seq): MessageData => ({
  room: "general", seq, id, author, body: `body ${seq}`, ts,
});
const out = (id: string, status: Outgoing["status"] = "queued", body = "hello", created_ms = 5_000): Outgoing => ({
  id, room: "general", body, kind: "message", reply_to: null, files: [], status, created_ms,
});
const ev = {
  outgoing: (o: Outgoing): Event => ({ type: "outgoing", ...o }),
  sent: (id: string, seq: number): Event => ({ type: "sent", id, room: "general", seq }),
  message: (m: MessageData): Event => ({ type: "message", ...m }),
};
const open: Event = { type: "state", state: "open", user: "alice" };

function signedIn(): Model {
  const m = newModel();
  apply(m, open, 0, true);
  return m;
}

const general = (m: Model) => rows(room(m, "general"));
const withId = (m: Model, id: string) => general(m).filter((x) => x.id === id);

describe("stored messages", () => {
  it("keeps them in seq order, once each, whatever order they arrive in", () => {
    const m = newModel();
    addStored(m, [msg(3), msg(1)]);
    addStored(m, [msg(2), msg(3)]);
    expect(general(m).map((x) => x.seq)).toEqual([1, 2, 3]);
  });

  it("counts unread only for other people's messages in rooms not in view", () => {
    const m = newModel();
    m.user = "alice";
    m.current = "general";
    apply(m, ev.message(msg(1)), 0, true);
    expect(room(m, "general").unread).toBe(0);
    apply(m, ev.message(msg(2)), 0, false);
    expect(room(m, "general").unread).toBe(1);
    apply(m, ev.message(msg(3, "alice")), 0, false);
    apply(m, ev.message(msg(2)), 0, false); // a replayed duplicate
    expect(room(m, "general").unread).toBe(1);
    expect(unreadTotal(m)).toBe(1);
  });

  it("10,000 replayed messages, shuffled and repeated, end up once each in order", () => {
    const m = newModel();
    m.user = "alice";
    const seqs = Array.from({ length: 10_000 }, (_, i) => i + 1);
    for (let i = seqs.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [seqs[i], seqs[j]] = [seqs[j], seqs[i]];
    }
    addStored(m, seqs.map((s) => msg(s)));
    addStored(m, seqs.slice(0, 500).map((s) => msg(s)));
    const all = general(m);
    expect(all).toHaveLength(10_000);
    expect(all.every((x, i) => x.seq === i + 1)).toBe(true);
  });
});

describe("our own messages: the core's outbox, one row per id", () => {
  it("walks through queued, sending, queued again (connection lost), sending and sent", () => {
    const m = signedIn();
    apply(m, ev.outgoing(out("c1")), 0, true);
    expect(general(m)).toMatchObject([{ id: "c1", status: "queued", seq: null, author: "alice" }]);
    expect(waiting(m)).toBe(1);
    apply(m, ev.outgoing(out("c1", "sending")), 0, true);
    expect(general(m)[0].status).toBe("sending");
    apply(m, ev.outgoing(out("c1", "queued")), 0, true);
    expect(general(m)[0].status).toBe("queued");
    apply(m, ev.outgoing(out("c1", "sending")), 0, true);
    apply(m, ev.sent("c1", 7), 0, true);
    expect(general(m)).toMatchObject([{ id: "c1", status: "sent", seq: 7 }]);
    expect(waiting(m)).toBe(0);
    apply(m, ev.message(msg(7, "alice", "c1", 6_000)), 0, true);
    expect(general(m)).toHaveLength(1);
    expect(general(m)[0]).toMatchObject({ id: "c1", seq: 7, status: "sent", ts: 6_000 });
    expect(general(m)[0].provisional).toBeUndefined();
  });

  it("shows exactly one row per id, whatever order outgoing, sent and the stored copy arrive in", () => {
    const steps: [string, Event][] = [
      ["queued", ev.outgoing(out("c1", "queued"))],
      ["sending", ev.outgoing(out("c1", "sending"))],
      ["sent", ev.sent("c1", 3)],
      ["message", ev.message(msg(3, "alice", "c1"))],
    ];
    const orders = permutations(steps);
    expect(orders).toHaveLength(24);
    for (const order of orders) {
      const m = signedIn();
      addStored(m, [msg(1), msg(2)]);
      for (const [, e] of order) {
        apply(m, e, 0, true);
        expect(withId(m, "c1").length, order.map(([n]) => n).join(" → ")).toBeLessThanOrEqual(1);
      }
      expect(withId(m, "c1"), order.map(([n]) => n).join(" → ")).toMatchObject([{ seq: 3, status: "sent" }]);
      expect(general(m).map((x) => x.seq)).toEqual([1, 2, 3]);
      expect(waiting(m)).toBe(0);
    }
  });

  it("a history page holding our message settles it: a late outgoing is old news", () => {
    const m = signedIn();
    apply(m, ev.outgoing(out("c1")), 0, true);
    addStored(m, [msg(4, "alice", "c1")]); // the history command's reply, on its own path
    apply(m, ev.outgoing(out("c1", "sending")), 0, true); // emitted earlier, arriving later
    expect(withId(m, "c1")).toMatchObject([{ seq: 4, status: "sent" }]);
    expect(waiting(m)).toBe(0);
  });

  it("keeps pending rows after stored ones, in the order written", () => {
    const m = signedIn();
    apply(m, ev.outgoing(out("c2", "queued", "two", 20)), 0, true);
    apply(m, ev.outgoing(out("c1", "queued", "one", 10)), 0, true);
    apply(m, ev.message(msg(1)), 0, true);
    expect(general(m).map((x) => x.id)).toEqual(["m1", "c1", "c2"]);
  });

  it("a refused message stays, failed with the reason, until it is retried", () => {
    const m = signedIn();
    apply(m, ev.outgoing(out("c1", "queued", "x".repeat(20))), 0, true);
    apply(m, { type: "send_failed", id: "c1", room: "general", code: "body_too_long", message: "too long" }, 0, true);
    expect(general(m)).toMatchObject([{ id: "c1", status: "failed", error: "too long" }]);
    expect(waiting(m)).toBe(0);
    apply(m, ev.outgoing(out("c1", "sending")), 0, true); // stale: it left the outbox
    expect(general(m)).toMatchObject([{ id: "c1", status: "failed" }]);
    expect(takeFailed(m, "general", "c1")?.body).toBe("x".repeat(20));
    expect(general(m)).toEqual([]);
    expect(takeFailed(m, "general", "c1")).toBeNull();
  });

  it("a refusal for a message never seen goes to the errors", () => {
    const m = signedIn();
    apply(m, { type: "send_failed", id: "zz", room: "general", code: "body_too_long", message: "too long" }, 0, true);
    expect(general(m)).toEqual([]);
    expect([...m.errors.values()]).toEqual([{ code: "body_too_long", message: "too long" }]);
  });

  it("the snapshot's outbox shows in place in each room after a restart", () => {
    const m = newModel();
    // Events may come before the snapshot's answer: we did not know who we were yet.
    apply(m, { type: "outgoing", ...out("c0", "queued", "early", 1) }, 0, true);
    applySnapshot(m, {
      account: { server: "s", user: "alice", fallbacks: [] },
      state: { state: "offline" },
      rooms: [
        { name: "general", last_seq: 2, visibility: null },
        { name: "random", last_seq: 0, visibility: "public" },
      ],
      outbox: [out("c1", "queued", "one", 10), { ...out("c2", "queued", "two", 20), room: "random" }],
      notice: null,
    });
    expect(general(m)).toMatchObject([{ id: "c0", author: "alice" }, { id: "c1", body: "one", status: "queued" }]);
    expect(rows(room(m, "random"))).toMatchObject([{ id: "c2", body: "two" }]);
    expect(waiting(m)).toBe(3);
    apply(m, ev.sent("c1", 3), 0, true);
    expect(waiting(m)).toBe(2);
  });
});

describe("reading", () => {
  it("draws the New messages line above the first unread message when the room is opened", () => {
    const m = signedIn();
    m.current = "general";
    apply(m, ev.message(msg(1)), 0, true); // seen as it came
    m.current = "random";
    for (const s of [2, 3]) apply(m, ev.message(msg(s)), 0, true);
    apply(m, ev.message(msg(4, "alice")), 0, true);
    apply(m, ev.message(msg(5)), 0, true);
    expect(room(m, "general").unread).toBe(3);
    openRoom(m, "general");
    expect(room(m, "general")).toMatchObject({ unread: 0, marker: 2 });
    openRoom(m, "random");
    expect(room(m, "general").marker).toBeNull();
    openRoom(m, "general");
    expect(room(m, "general").marker).toBeNull(); // nothing new since
  });

  it("marks what came while the window was away when it is back in front", () => {
    const m = signedIn();
    openRoom(m, "general");
    apply(m, ev.message(msg(1)), 0, true);
    apply(m, ev.message(msg(2)), 0, false);
    expect(focusCurrent(m)).toBe(true);
    expect(room(m, "general")).toMatchObject({ unread: 0, marker: 2 });
    expect(focusCurrent(m)).toBe(false);
  });

  it("expires typing after a few seconds and clears it when the message arrives", () => {
    const m = signedIn();
    apply(m, { type: "typing", room: "general", user: "bob" }, 1000, true);
    const r = room(m, "general");
    expect(typingUsers(r, 2000)).toEqual(["bob"]);
    expect(typingUsers(r, 7000)).toEqual([]);
    apply(m, { type: "typing", room: "general", user: "bob" }, 8000, true);
    apply(m, ev.message(msg(1)), 8100, true);
    expect(typingUsers(r, 8200)).toEqual([]);
  });
});

describe("errors", () => {
  it("keeps one per code until dismissed; the connection's go once it opens", () => {
    const m = newModel();
    apply(m, { type: "error", code: "keyring_unavailable", message: "The keyring is locked." }, 0, true);
    apply(m, { type: "error", code: "room_reset", message: "first" }, 0, true);
    apply(m, { type: "error", code: "room_reset", message: "second" }, 0, true);
    expect([...m.errors.values()].map((e) => e.message)).toEqual(["The keyring is locked.", "second"]);
    apply(m, open, 0, true);
    expect([...m.errors.keys()]).toEqual(["room_reset"]);
    dismissError(m, "room_reset");
    expect(m.errors.size).toBe(0);
  });
});

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}
