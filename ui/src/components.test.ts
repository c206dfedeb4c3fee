// @vitest-environment jsdom
// The views in a DOM: the selectors the end-to-end tests use, text that stays text, links the
// app opens itself, and our messages' states as the core reports them.
import { flushSync } from "svelte";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fake-backend";
import { $, fakeLayout, settle, start, stop } from "../test/mount";

beforeAll(fakeLayout);
afterEach(stop);


const text = (css: string) => $(css)?.textContent ?? null;
const bodies = () => [...document.querySelectorAll("#messages .message .body")].map((b) => b.textContent);
const statusOf = (body: string) =>
  [...document.querySelectorAll("#messages .message")].find((m) => m.querySelector(".body")?.textContent === body)
    ?.querySelector(".status")?.textContent ?? null;

describe("the window", () => {
  it("shows the sign-in form with the fields the tests fill in, then the chat", async () => {
    const fake = new FakeBackend({ signedIn: false });
    fake.rooms.set("general", []);
    await start(fake);
    expect(text("h1")).toBe("Confab");
    for (const id of ["server", "username", "password", "remember", "create", "sign-in-btn"]) expect($(`#${id}`), id).not.toBeNull();
    expect(($("#remember") as HTMLInputElement).checked).toBe(true);
    expect($("#update-slot")).not.toBeNull();
    ($("#username") as HTMLInputElement).value = "alice";
    $("#username")!.dispatchEvent(new Event("input"));
    ($("#password") as HTMLInputElement).value = "pw";
    $("#password")!.dispatchEvent(new Event("input"));
    ($("#sign-in") as HTMLFormElement).requestSubmit();
    await settle();
    await settle();
    expect(fake.calls).toContain("signIn 127.0.0.1:8080 alice");
    expect($("#join-input")).not.toBeNull();
    expect(text("#room-header h2")).toBe("# general");
    expect($(".room[data-room=\"general\"]")?.classList.contains("current")).toBe(true);
    for (const id of ["composer", "messages", "sign-out", "presence", "notify-level", "members-toggle", "typing"]) expect($(`#${id}`), id).not.toBeNull();
  });

  it("asks for an invite code only when creating an account, and passes it on", async () => {
    const fake = new FakeBackend({ signedIn: false });
    fake.rooms.set("general", []);
    await start(fake);
    expect($("#invite"), "no code to sign in").toBeNull();
    ($("#create") as HTMLInputElement).click();
    await settle();
    const fill = (id: string, value: string) => {
      ($(`#${id}`) as HTMLInputElement).value = value;
      $(`#${id}`)!.dispatchEvent(new Event("input"));
    };
    fill("username", "bob");
    fill("password", "password-of-bob");
    fill("invite", "  Zx3-code  ");
    ($("#sign-in") as HTMLFormElement).requestSubmit();
    await settle();
    await settle();
    expect(fake.calls).toContain("register invite=Zx3-code");
  });

  it("draws message text as text, Markdown as elements, and links as links the app opens", async () => {
    const fake = new FakeBackend();
    const evil = "<img src=x onerror=alert(1)> <b>bold?</b>";
    fake.post("general", "bob", evil);
    fake.post("general", "bob", "docs at https://example.org/guide");
    fake.post("general", "bob", "two\nlines, **one** bold\n```\nlet x = 1;\n```");
    const { opened } = await start(fake);
    expect(bodies()).toEqual([evil, "docs at https://example.org/guide", "twolines, one boldlet x = 1;"]);
    expect(document.querySelectorAll("#messages img, #messages b")).toHaveLength(0);
    expect(document.querySelectorAll("#messages .body br")).toHaveLength(1);
    expect(text("#messages .body strong")).toBe("one");
    expect(text("#messages .body pre code")).toBe("let x = 1;");
    const a = $('#messages a[href="https://example.org/guide"]') as HTMLAnchorElement;
    const click = new MouseEvent("click", { bubbles: true, cancelable: true });
    a.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    expect(opened).toEqual(["https://example.org/guide"]);
    // One author's burst shows one name.
    expect(document.querySelectorAll("#messages .message .author")).toHaveLength(1);
  });

  it("shows our message queued, then sent, once; a failed one with Retry", async () => {
    const fake = new FakeBackend({ offline: true });
    fake.rooms.set("general", []);
    const { chat } = await start(fake);
    expect(text("#banner-text")).toMatch(/^Offline/);
    expect($("#retry-now")).not.toBeNull();
    const box = $("#composer") as HTMLTextAreaElement;
    box.value = "typed while offline";
    box.dispatchEvent(new Event("input"));
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    await settle();
    expect(statusOf("typed while offline")).toBe("queued");
    expect(box.value).toBe("");
    expect(text("#banner-text")).toContain("1 waiting to send");
    const id = chat.current!.messages[0].id;
    fake.emit({ type: "state", state: "open", user: "alice" });
    fake.emit({ type: "outgoing", id, room: "general", body: "typed while offline", kind: "message", reply_to: null, files: [], status: "sending", created_ms: 1 });
    flushSync();
    expect(statusOf("typed while offline")).toBe("sending…");
    fake.emit({ type: "sent", id, room: "general", seq: 1 });
    fake.emit({ type: "message", room: "general", seq: 1, id, author: "alice", body: "typed while offline", ts: Date.now() });
    flushSync();
    expect(statusOf("typed while offline")).toBe("sent");
    expect(bodies()).toEqual(["typed while offline"]);
    expect($("#banner")).toBeNull();

    fake.emit({ type: "outgoing", id: "c9", room: "general", body: "x".repeat(9), kind: "message", reply_to: null, files: [], status: "queued", created_ms: Date.now() });
    fake.emit({ type: "send_failed", id: "c9", room: "general", code: "body_too_long", message: "Too long." });
    flushSync();
    expect(statusOf("x".repeat(9))).toBe("failed");
    expect($("#messages .retry")?.textContent).toBe("Retry");
  });

  it("puts errors under the banner as alerts that stay until closed", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    await start(fake);
    fake.emit({ type: "error", code: "room_reset", message: "The server's history of #general was reset." });
    flushSync();
    const entry = $("#errors [role=alert]");
    expect(entry?.textContent).toContain("history of #general was reset");
    (entry!.querySelector("button") as HTMLButtonElement).click();
    flushSync();
    expect($("#errors")).toBeNull();
  });

  it("leaves the focus where the user put it while the open room changes", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    await start(fake);
    expect(document.activeElement).toBe($("#composer"));
    const join = $("#join-input") as HTMLInputElement;
    join.focus();
    // Someone comes and goes, someone writes: the room is redrawn, the join box keeps the keys.
    fake.emit({ type: "presence", room: "general", users: ["alice", "bob"] });
    flushSync();
    fake.emit({ type: "message", room: "general", seq: 1, id: "m1", author: "bob", body: "hi", ts: Date.now() });
    await settle();
    expect(bodies()).toEqual(["hi"]);
    expect(document.activeElement).toBe(join);
  });

  it("opens the room switcher with Ctrl+K and joins a new name from it", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    await start(fake);
    $("#composer")!.dispatchEvent(new KeyboardEvent("keydown", { key: "k", ctrlKey: true, bubbles: true, cancelable: true }));
    flushSync();
    const input = $("#switcher-input") as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    input.value = "other";
    input.dispatchEvent(new Event("input"));
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    await settle();
    expect($("#switcher")).toBeNull();
    expect(fake.calls).toContain("join other");
    expect(text("#room-header h2")).toBe("# other");
    expect($('.room[data-room="other"]')).not.toBeNull();
  });
});
