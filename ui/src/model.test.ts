import { describe, expect, it } from "vitest";
import { addPending, addStored, apply, banner, filterRooms, linkify, newModel, removePending, room, typingUsers } from "./model";
import type { MessageData } from "./types";

const msg = (seq: number, author = "bob", id = `m${seq}`): MessageData => ({
  room: "general", seq, id, author, body: `body ${seq}`, ts: 1,
});

describe("messages", () => {
  it("keeps stored messages in seq order, once each, whatever order they arrive in", () => {
    const m = newModel();
    addStored(m, [msg(3), msg(1)]);
    addStored(m, [msg(2), msg(3)]);
    expect(room(m, "general").messages.map((x) => x.seq)).toEqual([1, 2, 3]);
  });

  it("walks our own message through queued, sending and sent", () => {
    const m = newModel();
    apply(m, { type: "state", state: "open", user: "alice" }, 0, true);
    apply(m, { type: "state", state: "reconnecting", attempt: 1, retry_in_ms: 4000, retry_at_ms: 4000, reason: "x" }, 0, true);
    addPending(m, "general", "c1", "hi");
    const r = room(m, "general");
    expect(r.messages[0].status).toBe("queued");
    apply(m, { type: "state", state: "open", user: "alice" }, 0, true);
    expect(r.messages[0].status).toBe("sending");
    apply(m, { type: "sent", id: "c1", room: "general", seq: 7 }, 0, true);
    expect(r.messages[0].status).toBe("sent");
    apply(m, { type: "message", ...msg(7, "alice", "c1") }, 0, true);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]).toMatchObject({ seq: 7, status: "sent" });
  });

  it("pending messages stay after stored ones", () => {
    const m = newModel();
    apply(m, { type: "state", state: "open", user: "alice" }, 0, true);
    addPending(m, "general", "c1", "mine");
    apply(m, { type: "message", ...msg(1) }, 0, true);
    expect(room(m, "general").messages.map((x) => x.id)).toEqual(["m1", "c1"]);
  });

  it("counts unread only for other people's messages in rooms not in view", () => {
    const m = newModel();
    m.user = "alice";
    m.current = "general";
    apply(m, { type: "message", ...msg(1) }, 0, true);
    expect(room(m, "general").unread).toBe(0);
    apply(m, { type: "message", ...msg(2) }, 0, false);
    expect(room(m, "general").unread).toBe(1);
    apply(m, { type: "message", ...msg(3, "alice") }, 0, false);
    expect(room(m, "general").unread).toBe(1);
  });

  it("marks a refused message failed with the reason", () => {
    const m = newModel();
    addPending(m, "general", "c1", "x".repeat(20000));
    apply(m, { type: "send_failed", id: "c1", room: "general", code: "body_too_long", message: "too long" }, 0, true);
    expect(room(m, "general").messages[0]).toMatchObject({ status: "failed", error: "too long" });
  });
});

describe("typing, banner, links", () => {
  it("expires typing after a few seconds and clears it when the message arrives", () => {
    const m = newModel();
    m.user = "alice";
    apply(m, { type: "typing", room: "general", user: "bob" }, 1000, true);
    const r = room(m, "general");
    expect(typingUsers(r, 2000)).toEqual(["bob"]);
    expect(typingUsers(r, 7000)).toEqual([]);
    apply(m, { type: "typing", room: "general", user: "bob" }, 8000, true);
    apply(m, { type: "message", ...msg(1) }, 8100, true);
    expect(typingUsers(r, 8200)).toEqual([]);
  });

  it("says what the connection is doing, with a countdown", () => {
    expect(banner({ state: "open", user: "a" }, 0)).toBeNull();
    expect(banner({ state: "reconnecting", attempt: 2, retry_in_ms: 4000, retry_at_ms: 10_000, reason: "x" }, 6_100)?.text)
      .toBe("Offline — retrying in 4 s");
    expect(banner({ state: "auth_failed", reason: "x" }, 0)).toMatchObject({ signIn: true });
  });

  it("finds http(s) links and nothing else, never producing markup", () => {
    expect(linkify("see https://example.org/a?b=1. ok")).toEqual([
      { text: "see " },
      { text: "https://example.org/a?b=1", href: "https://example.org/a?b=1" },
      { text: ". ok" },
    ]);
    expect(linkify("javascript:alert(1) <img src=x onerror=alert(1)>")).toEqual([
      { text: "javascript:alert(1) <img src=x onerror=alert(1)>" },
    ]);
  });
});

describe("room switcher", () => {
  it("puts prefix matches first and ignores a leading #", () => {
    const rooms = ["random", "general", "dev-ops", "ops"];
    expect(filterRooms(rooms, "")).toEqual(["dev-ops", "general", "ops", "random"]);
    expect(filterRooms(rooms, "#op")).toEqual(["ops", "dev-ops"]);
    expect(filterRooms(rooms, "zzz")).toEqual([]);
  });
});

describe("at scale", () => {
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
    const r = room(m, "general");
    expect(r.messages).toHaveLength(10_000);
    expect(r.messages.every((x, i) => x.seq === i + 1)).toBe(true);
  });

  it("a retried failed message leaves the pending tail consistent", () => {
    const m = newModel();
    m.user = "alice";
    addPending(m, "general", "c1", "one");
    addPending(m, "general", "c2", "two");
    expect(removePending(m, "general", "c1")?.body).toBe("one");
    apply(m, { type: "message", ...msg(1, "alice", "c2") }, 0, true);
    const r = room(m, "general");
    expect(r.messages.map((x) => x.id)).toEqual(["c2"]);
    expect(r.pending).toBe(0);
  });
});
