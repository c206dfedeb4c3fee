import { describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fake-backend";
import { Chat, type Platform } from "./chat.svelte";
import type { Event } from "./types";

function setup(fake = new FakeBackend(), stored: Record<string, string> = {}) {
  const storage = new Map(Object.entries(stored));
  const listeners = new Map<string, (p: unknown) => void>();
  const opened: string[] = [];
  const notes: string[] = [];
  const timers: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  const platform: Platform = {
    api: fake.api,
    listen: async (event, on) => void listeners.set(event, on as (p: unknown) => void),
    notify: (title, body) => notes.push(`${title}: ${body}`),
    openUrl: (url) => opened.push(url),
    storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v) },
    focused: () => true,
    nextFrame: (fn) => fn(),
    later: (ms, fn) => {
      const t = { ms, fn, cancelled: false };
      timers.push(t);
      return () => void (t.cancelled = true);
    },
    blobUrl: () => "blob:fake",
    revoke: () => {},
  };
  const armed = () => timers.filter((t) => !t.cancelled);
  return { chat: new Chat(platform), fake, storage, listeners, opened, notes, armed };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const ids = (chat: Chat) => chat.current?.messages.map((m) => m.id) ?? [];

describe("the controller", () => {
  it("draws a sent message once even when the send command's reply comes after all its events", async () => {
    const { chat, fake } = setup();
    fake.rooms.set("general", []);
    await chat.start();
    // The reply and the events travel on different paths: here every event is in first.
    fake.api.send = async (room, body) => {
      const o = { id: "c1", room, body, kind: "message" as const, reply_to: null, files: [], status: "queued" as const, created_ms: Date.now() };
      fake.emit({ type: "outgoing", ...o });
      fake.emit({ type: "outgoing", ...o, status: "sending" });
      fake.emit({ type: "sent", id: "c1", room, seq: 1 });
      fake.emit({ type: "message", room, seq: 1, id: "c1", author: "alice", body, ts: Date.now() });
      return "c1";
    };
    expect(await chat.send("hello from the app")).toBe(true);
    await settle();
    expect(chat.current?.messages).toMatchObject([{ id: "c1", body: "hello from the app", status: "sent", seq: 1 }]);
  });

  it("walks a message through queued, sending and sent from the core's events alone", async () => {
    const { chat, fake } = setup(new FakeBackend({ stepMs: 5 }));
    fake.rooms.set("general", []);
    await chat.start();
    await chat.send("hi");
    expect(chat.current?.messages.map((m) => m.status)).toEqual(["queued"]);
    await new Promise((r) => setTimeout(r, 30));
    expect(chat.current?.messages.map((m) => m.status)).toEqual(["sent"]);
  });

  it("shows the outbox of a restarted app in its rooms, and counts it in the banner", async () => {
    const fake = new FakeBackend({ offline: true });
    fake.rooms.set("general", []);
    fake.post("general", "bob", "before");
    fake.outbox = [
      { id: "q1", room: "general", body: "typed while offline", kind: "message", reply_to: null, files: [], status: "queued", created_ms: Date.now() },
      { id: "q2", room: "general", body: "and this", kind: "message", reply_to: null, files: [], status: "queued", created_ms: Date.now() + 1 },
    ];
    const { chat } = setup(fake);
    await chat.start();
    expect(chat.current?.messages.map((m) => [m.body, m.status])).toEqual([
      ["before", null],
      ["typed while offline", "queued"],
      ["and this", "queued"],
    ]);
    expect(chat.bannerLine?.text).toMatch(/^Offline — retrying in \d s · 2 waiting to send$/);
  });

  it("reopens the room that was open, and pages back 100 at a time", async () => {
    const fake = new FakeBackend();
    for (let i = 1; i <= 250; i++) fake.post("big", "bob", `message ${i}`);
    fake.rooms.set("general", []);
    const { chat } = setup(fake, { "confab.room": "big" });
    await chat.start();
    expect(chat.current?.name).toBe("big");
    expect(chat.current?.messages).toHaveLength(100);
    chat.loadOlder();
    await settle();
    expect(fake.calls).toContain("history big 151 100");
    expect(chat.current?.messages[0].body).toBe("message 51");
  });

  it("draws the window with the reopened room's messages, or without them if they are slow", async () => {
    const fake = new FakeBackend();
    for (let i = 1; i <= 3; i++) fake.post("big", "bob", `message ${i}`);
    const { chat } = setup(fake, { "confab.room": "big" });
    // Asked for alongside the snapshot, and there in the first view.
    await chat.start();
    expect(fake.calls.indexOf("history big null 100")).toBeGreaterThan(-1);
    expect(fake.calls.indexOf("history big null 100")).toBeLessThan(fake.calls.indexOf("snapshot"));
    expect(chat.current?.messages.map((m) => m.body)).toEqual(["message 1", "message 2", "message 3"]);

    // A slow answer: the window is drawn without them, and they follow.
    const slow = setup(fake, { "confab.room": "big" });
    const history = fake.api.history;
    let answer = () => {};
    fake.api.history = (room, before, limit) =>
      new Promise((resolve) => (answer = () => void history(room, before, limit).then(resolve)));
    const started = slow.chat.start();
    await settle();
    expect(slow.chat.screen).toBe("loading");
    const wait = slow.armed().find((t) => t.ms === 300);
    wait?.fn();
    await settle();
    expect(slow.chat.screen).toBe("chat");
    expect(slow.chat.current?.messages).toEqual([]);
    answer();
    await started;
    expect(slow.chat.current?.messages).toHaveLength(3);
  });

  it("keeps errors in their own place, one per code, until dismissed", async () => {
    const { chat, fake } = setup();
    await chat.start();
    fake.api.join = async () => Promise.reject({ code: "bad_room", message: "Room names are letters, digits and dashes." });
    await chat.join("no good");
    await chat.join("still no good");
    fake.emit({ type: "error", code: "keyring_unavailable", message: "The keyring is locked." } as Event);
    expect(chat.errors.map((e) => e.code)).toEqual(["bad_room", "keyring_unavailable"]);
    chat.dismissError("bad_room");
    expect(chat.errors.map((e) => e.code)).toEqual(["keyring_unavailable"]);
    expect(chat.typing).toBe("");
  });

  it("retries a failed message as a new one and drops the failed row", async () => {
    const { chat, fake } = setup(new FakeBackend({ offline: true }));
    fake.rooms.set("general", []);
    await chat.start();
    await chat.send("too long");
    const [id] = ids(chat);
    fake.emit({ type: "send_failed", id, room: "general", code: "body_too_long", message: "That message is too long." });
    expect(chat.current?.messages).toMatchObject([{ status: "failed", error: "That message is too long." }]);
    await chat.retry(id);
    expect(fake.calls.filter((c) => c.startsWith("send "))).toEqual(["send general too long", "send general too long"]);
    expect(chat.current?.messages.map((m) => m.status)).toEqual(["queued"]);
    expect(ids(chat)).not.toContain(id);
  });

  it("reports unread to the tray, notifies, and follows the tray's mute all", async () => {
    const { chat, fake, listeners, storage, notes } = setup();
    fake.rooms.set("general", []);
    fake.rooms.set("random", []);
    await chat.start();
    fake.emit({ type: "message", ...fake.post("random", "bob", "psst") });
    expect(fake.calls).toContain("setUnread 1");
    expect(chat.rooms.find((r) => r.name === "random")?.unread).toBe(1);
    listeners.get("mute_all")?.(true);
    expect(storage.get("confab.muted")).toBe('["*"]');
    await new Promise((r) => setTimeout(r, 1600));
    expect(notes).toEqual(["bob in #random: psst"]);
    chat.select("random");
    expect(fake.calls).toContain("history random null 100");
    expect(fake.calls).toContain("setUnread 0");
  });

  it("opens a joined room by the name the core answers", async () => {
    const { chat, fake } = setup();
    await chat.start();
    await chat.join("  #General ");
    expect(fake.calls).toContain("join general");
    expect(chat.current?.name).toBe("general");
    expect(chat.rooms.map((r) => r.name)).toEqual(["general"]);
  });

  it("opens only http(s) links", () => {
    const { chat, opened } = setup();
    chat.openLink("https://example.org/guide");
    chat.openLink("javascript:alert(1)");
    expect(opened).toEqual(["https://example.org/guide"]);
  });
  it("wakes each second only while a countdown shows, and otherwise sleeps until midnight", async () => {
    const { chat, fake, armed } = setup();
    fake.rooms.set("general", []);
    await chat.start();
    /** The one armed timer fires. */
    const fire = () => {
      const [t] = armed();
      t.cancelled = true;
      t.fn();
    };
    const midnight = new Date();
    midnight.setHours(24, 0, 0, 0);
    // Online, nobody typing: nothing on screen changes before the day does.
    expect(armed()).toHaveLength(1);
    expect(Date.now() + armed()[0].ms).toBeGreaterThan(midnight.getTime() - 1000);

    const retryAt = Date.now() + 3000;
    fake.emit({ type: "state", state: "reconnecting", attempt: 1, retry_in_ms: 3000, retry_at_ms: retryAt, reason: "lost" });
    expect(chat.bannerLine?.text).toMatch(/retrying in 3 s/);
    expect(armed().map((t) => t.ms)).toEqual([1000]);
    fire();
    expect(armed().map((t) => t.ms)).toEqual([1000]); // still counting down

    fake.emit({ type: "state", state: "open", user: "alice" });
    expect(chat.bannerLine).toBeNull();
    fire(); // the second that was due
    expect(armed()).toHaveLength(1);
    expect(Date.now() + armed()[0].ms).toBeGreaterThan(midnight.getTime() - 1000);
  });
});
