// @vitest-environment jsdom
// Conversations in the window: sidebar sections with the server's unread and mention counts,
// a read on another device clearing a badge, the new-dm dialog, the members panel, and the
// read position told to the server when the open room is seen.
import { flushSync, mount, unmount } from "svelte";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fake-backend";
import { Chat } from "./chat.svelte";
import App from "./components/App.svelte";
import { apply, newModel, room } from "./model";
import type { RoomSummary } from "./types";

beforeAll(() => {
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
});

let app: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (app) unmount(app);
  app = null;
  document.body.replaceChildren();
});

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 0));
    flushSync();
  }
};
const $ = (css: string) => document.querySelector(css);
const $$ = (css: string) => [...document.querySelectorAll(css)];

async function start(fake: FakeBackend, focused = true) {
  const target = document.createElement("div");
  document.body.append(target);
  const chat = new Chat({
    api: fake.api,
    listen: async () => {},
    notify: () => {},
    openUrl: () => {},
    storage: { getItem: () => null, setItem: () => {} },
    focused: () => focused,
    nextFrame: (fn) => fn(),
    later: () => () => {},
    blobUrl: () => "blob:fake",
    revoke: () => {},
  });
  app = mount(App, { target, props: { chat } });
  await chat.start();
  await settle();
  return chat;
}

const summary = (room: string, visibility: RoomSummary["visibility"], unread = 0, mentions = 0, users?: string[]): RoomSummary => ({
  room,
  visibility,
  role: "member",
  last_seq: unread,
  read_seq: 0,
  unread,
  mentions,
  users,
});

describe("the model", () => {
  it("takes unread and mentions from the server, counts new ones, and clears on a read from any device", () => {
    const m = newModel();
    m.user = "alice";
    apply(m, { type: "rooms", rooms: [summary("ops", "private", 2, 1)] }, 0, false);
    expect([room(m, "ops").unread, room(m, "ops").mentions, room(m, "ops").visibility]).toEqual([2, 1, "private"]);
    apply(m, { type: "message", room: "ops", seq: 3, id: "b", author: "bob", body: "@alice look", ts: 1, mentions: ["alice"] }, 0, false);
    expect([room(m, "ops").unread, room(m, "ops").mentions]).toEqual([3, 2]);
    apply(m, { type: "read", room: "ops", seq: 3 }, 0, false);
    expect([room(m, "ops").unread, room(m, "ops").mentions]).toEqual([0, 0]);
    apply(m, { type: "room_removed", room: "ops", by: "bob" }, 0, false);
    expect(m.rooms.has("ops")).toBe(false);
  });

  it("shows an edit's new body and takes a deleted message away, whichever way it comes", () => {
    const m = newModel();
    m.user = "alice";
    const msg = { room: "general", id: "b", author: "bob", ts: 1 };
    apply(m, { type: "message", ...msg, seq: 1, body: "teh plan" }, 0, false);
    apply(m, { type: "edit", room: "general", seq: 2, id: "e", author: "bob", ts: 2, target: 1, body: "the plan" }, 0, false);
    expect(room(m, "general").stored.map((x) => [x.body, x.edited])).toEqual([["the plan", true]]);
    apply(m, { type: "delete", room: "general", seq: 3, id: "d", author: "bob", ts: 3, target: 1 }, 0, false);
    expect(room(m, "general").stored).toEqual([]);
    // A replay or history brings the deleted message back only as a placeholder: not drawn.
    apply(m, { type: "message", ...msg, seq: 1, body: "", deleted: true }, 0, false);
    expect(room(m, "general").stored).toEqual([]);
  });
});

describe("the window", () => {
  it("puts dms, private and public rooms in their own sections with mention badges", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    const chat = await start(fake, false);
    fake.emit({
      type: "rooms",
      rooms: [summary("general", "public"), summary("ops", "private", 3, 1), summary("dm.x", "dm", 1, 0, ["alice", "bob"])],
    });
    await settle();
    const section = (id: string) => $$(`ul[aria-label="${id}"] .room`).map((b) => b.getAttribute("data-room"));
    expect(section("Direct messages")).toEqual(["dm.x"]);
    expect(section("Private rooms")).toEqual(["ops"]);
    expect(section("Rooms")).toEqual(["general"]);
    expect($('.room[data-room="dm.x"] .name')?.textContent).toBe("bob");
    expect($('.room[data-room="ops"] .mentions')?.textContent).toBe("@1");
    expect(fake.calls).toContain("setUnread 4 @1");
    // Read on another device: the badge goes.
    fake.emit({ type: "read", room: "ops", seq: 3 });
    await settle();
    expect($('.room[data-room="ops"] .unread')).toBeNull();
    expect(chat.rooms.find((r) => r.name === "ops")?.mentions).toBe(0);
  });

  it("opens a dm from the dialog's user search and shows it", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    await start(fake);
    ($("#new-dm") as HTMLButtonElement).click();
    await settle();
    const search = $("#people-search") as HTMLInputElement;
    search.value = "b";
    // Typing in a real window: the event bubbles (Svelte delegates it).
    search.dispatchEvent(new Event("input", { bubbles: true }));
    await settle();
    ($('#people-found .person[data-user="bob"]') as HTMLButtonElement).click();
    await settle();
    ($("#start-conversation") as HTMLButtonElement).click();
    await settle();
    expect(fake.calls).toContain('conversation {"type":"dm","users":["bob"]}');
    expect($("#room-header h2")?.textContent?.trim()).toBe("bob");
    expect($('.room[data-room="dm.alice-bob"]')?.getAttribute("aria-current")).toBe("page");
  });

  it("lists members with roles and tells the server what was read", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    fake.post("general", "bob", "hello");
    await start(fake);
    ($("#members-toggle") as HTMLButtonElement).click();
    await settle();
    expect($$("#members .member").map((m) => m.getAttribute("data-user"))).toEqual(["alice", "bob"]);
    expect(fake.calls).toContain('conversation {"type":"read","room":"general","seq":1}');
  });
});
