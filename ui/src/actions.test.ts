// @vitest-environment jsdom
// Messages that change, in the window: hover actions, Up arrow and Esc, reaction chips and the
// picker, replies with their quoted line, deletion with its second click, and changes drawn at
// once while they wait in the outbox (and taken back if the core refuses them).
import { flushSync } from "svelte";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fake-backend";
import { $, fakeLayout, settle, start, stop } from "../test/mount";

beforeAll(fakeLayout);
afterEach(stop);

const rowOf = (body: string) =>
  [...document.querySelectorAll("#messages .message")].find((m) => m.querySelector(".body")?.textContent === body) as
    | HTMLElement
    | undefined;
const click = (el: Element | null | undefined) => (el as HTMLElement | null)?.click();
/** The pointer over a row: its actions are drawn. Returns the row. */
const hover = (body: string) => {
  const row = rowOf(body);
  row?.dispatchEvent(new Event("pointerenter"));
  flushSync();
  return row;
};
const box = () => $("#composer") as HTMLTextAreaElement;
const key = (k: string) => box().dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
const type = (text: string) => {
  box().value = text;
  box().dispatchEvent(new Event("input", { bubbles: true }));
};

describe("messages that change", () => {
  it("edits our message from its action or Up arrow; Esc gives the draft back", async () => {
    const fake = new FakeBackend();
    fake.post("general", "alice", "teh plan");
    fake.post("general", "bob", "ok");
    await start(fake);
    expect(document.querySelector("#messages .actions")).toBeNull(); // drawn on hover only
    expect(hover("ok")?.querySelector(".edit")).toBeNull(); // not ours
    expect(hover("ok")?.querySelector(".reply")).not.toBeNull();
    type("half a thought");
    click(hover("teh plan")?.querySelector(".edit"));
    await settle();
    expect(box().value).toBe("teh plan");
    expect($(".context")?.textContent).toContain("Editing");
    key("Escape");
    await settle();
    expect(box().value).toBe("half a thought");
    expect($(".context")).toBeNull();

    type("");
    key("ArrowUp");
    await settle();
    expect(box().value).toBe("teh plan");
    type("the plan");
    key("Enter");
    await settle();
    await settle();
    expect(fake.calls).toContain('change general {"kind":"edit","target":{"seq":1},"body":"the plan"}');
    const row = rowOf("the plan");
    expect(row?.querySelector(".edited")?.textContent).toBe("(edited)");
    expect(box().value).toBe("");
  });

  it("an edit under way is dropped, not kept as a draft, when the room changes", async () => {
    const fake = new FakeBackend();
    fake.post("general", "alice", "mine");
    fake.rooms.set("random", []);
    const { chat } = await start(fake);
    type("my draft");
    click(hover("mine")?.querySelector(".edit"));
    await settle();
    expect(box().value).toBe("mine");
    chat.select("random");
    await settle();
    expect(box().value).toBe("");
    expect($(".context")).toBeNull();
    chat.select("general");
    await settle();
    expect(box().value).toBe("my draft");
  });

  it("reacts from the picker; a chip shows who and toggles ours", async () => {
    const fake = new FakeBackend();
    fake.post("general", "bob", "ship it?");
    fake.rooms.get("general")![0].reactions = { "🎉": ["bob"] };
    await start(fake);
    const row = () => rowOf("ship it?");
    click(hover("ship it?")?.querySelector(".react"));
    await settle();
    click($('.picker button[aria-label="React with 👍"]'));
    await settle();
    await settle();
    const chips = () => [...(row()?.querySelectorAll(".reaction") ?? [])] as HTMLButtonElement[];
    expect(chips().map((c) => [c.textContent?.trim(), c.title, c.getAttribute("aria-pressed")])).toEqual([
      ["🎉1", "bob", "false"],
      ["👍1", "alice", "true"],
    ]);
    expect($(".picker")).toBeNull();
    click(chips()[1]);
    await settle();
    await settle();
    expect(chips().map((c) => c.textContent?.trim())).toEqual(["🎉1"]);
    click(chips()[0]);
    await settle();
    await settle();
    expect(chips().map((c) => [c.textContent?.trim(), c.title])).toEqual([["🎉2", "alice, bob"]]);
  });

  it("replies with a quoted line that leads back to the original", async () => {
    const fake = new FakeBackend();
    fake.post("general", "bob", "**lunch** at noon?");
    await start(fake);
    click(hover("lunch at noon?")?.querySelector(".reply"));
    await settle();
    expect($(".context")?.textContent).toContain("Replying to bob: lunch at noon?");
    type("yes");
    key("Enter");
    await settle();
    await settle();
    await settle();
    expect(fake.calls).toContain("send general yes ↪1");
    expect($(".context")).toBeNull();
    const quote = rowOf("yes")?.querySelector(".quote") as HTMLButtonElement;
    expect(quote.textContent).toContain("bob");
    expect(quote.textContent).toContain("lunch at noon?");
    expect(quote.disabled).toBe(false);
  });

  it("deletes on the second click; others' messages only for an owner or admin", async () => {
    const fake = new FakeBackend();
    fake.post("general", "alice", "oops");
    fake.post("general", "bob", "bob's");
    await start(fake);
    expect(hover("bob's")?.querySelector(".delete")).toBeNull(); // a member, not an admin
    const del = () => hover("oops")?.querySelector(".delete") as HTMLButtonElement;
    click(del());
    await settle();
    expect(del().textContent).toBe("Delete?");
    expect(fake.calls.some((c) => c.includes('"kind":"delete"'))).toBe(false);
    click(del());
    await settle();
    await settle();
    expect(rowOf("oops")).toBeUndefined();
  });

  it("draws a change at once while it waits, and takes it back if the core refuses it", async () => {
    const fake = new FakeBackend({ offline: true });
    fake.post("general", "alice", "draft one");
    await start(fake);
    click(hover("draft one")?.querySelector(".edit"));
    await settle();
    type("draft two");
    key("Enter");
    await settle();
    await settle();
    const row = rowOf("draft two");
    expect(row?.classList.contains("changing")).toBe(true);
    expect($("#banner-text")?.textContent).toContain("1 waiting to send");
    const id = fake.outbox[0].id;
    fake.emit({ type: "send_failed", id, room: "general", code: "forbidden", message: "Not yours." });
    flushSync();
    expect(rowOf("draft one")).toBeDefined();
    expect(rowOf("draft two")).toBeUndefined();
    expect($("#errors")?.textContent ?? document.body.textContent).toContain("Not yours.");
  });
});
