// @vitest-environment jsdom
// Attachments in the window: a pasted screenshot and a chosen file go with the next message
// (the page hands over bytes or a token, never a path), a refused send keeps them, queued
// files show their upload, and stored ones are drawn as an image or a card that opens/saves.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeBackend } from "../test/fake-backend";
import { $, fakeLayout, settle, start, stop } from "../test/mount";

beforeAll(fakeLayout);
afterEach(stop);

const $$ = (css: string) => [...document.querySelectorAll(css)];

function paste(file: File) {
  // jsdom's File has no arrayBuffer(); WebKitGTK's has.
  const bytes = (file as unknown as { bytes: Uint8Array }).bytes;
  Object.defineProperty(file, "arrayBuffer", { value: async () => bytes.buffer });
  const e = new Event("paste", { bubbles: true, cancelable: true });
  Object.defineProperty(e, "clipboardData", { value: { files: [file] } });
  $("#composer")!.dispatchEvent(e);
}

function image(bytes: number[], name: string): File {
  const data = new Uint8Array(bytes);
  return Object.assign(new File([data], name, { type: "image/png" }), { bytes: data });
}

async function until(what: string, ok: () => boolean) {
  for (let i = 0; i < 50 && !ok(); i++) await settle();
  expect(ok(), what).toBe(true);
}

describe("attachments", () => {
  it("sends a pasted screenshot as bytes and draws it as an image that opens full size", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    await start(fake);
    paste(image([137, 80, 78, 71], "image.png"));
    await until("the chip", () => $$(".chosen .file").length === 1);
    expect($(".chosen .name")?.textContent).toMatch(/^pasted-.*\.png$/);
    const send = $("button.send") as HTMLButtonElement;
    expect(send.disabled, "files alone make a message").toBe(false);
    send.click();
    await until("sent", () => fake.calls.some((c) => c.startsWith("sendFiles general  tokens= pasted=pasted-")));
    expect(fake.calls.find((c) => c.startsWith("sendFiles"))).toMatch(/\.png:4$/);
    expect($$(".chosen .file"), "the composer is empty again").toHaveLength(0);
    await until("the image", () => $("#messages .thumb img") !== null);
    expect(($("#messages .thumb img") as HTMLImageElement).src).toBe("blob:fake");
    expect(fake.calls.filter((c) => c.startsWith("fileBytes")).at(-1)).toMatch(/ true$/);
    ($("#messages .thumb") as HTMLButtonElement).click();
    await until("the viewer", () => $("[role=dialog] img") !== null);
    expect(fake.calls.filter((c) => c.startsWith("fileBytes")).at(-1), "full size").toMatch(/ false$/);
  });

  it("attaches a chosen file by token, shows its upload, then a card that saves and opens", async () => {
    const fake = new FakeBackend({ stepMs: 20 });
    fake.rooms.set("general", []);
    fake.picked = [{ token: "t1", name: "build.log", size: 2048 }];
    await start(fake);
    ($("button.attach") as HTMLButtonElement).click();
    await until("the chip", () => $(".chosen .name")?.textContent === "build.log");
    expect($(".chosen .size")?.textContent).toBe("2.0 KB");
    const box = $("#composer") as HTMLTextAreaElement;
    box.value = "the log";
    box.dispatchEvent(new Event("input"));
    await settle();
    ($("button.send") as HTMLButtonElement).click();
    await until("queued with its file", () => $("#messages .card.queued") !== null);
    await until("uploading", () => /uploading 50%/.test($("#messages .card.queued")?.textContent ?? ""));
    await until("stored", () => $("#messages .card[data-file]") !== null);
    expect(fake.calls).toContain("sendFiles general the log tokens=t1 pasted=");
    const [open, save] = $$("#messages .card[data-file] button") as HTMLButtonElement[];
    save.click();
    open.click();
    await settle();
    expect(fake.calls).toContain(`saveFile ${"0".padStart(32, "f")} t1.bin`);
    expect(fake.calls).toContain(`openFile ${"0".padStart(32, "f")} t1.bin`);
  });

  it("keeps the files in the composer when the core refuses the message", async () => {
    const fake = new FakeBackend();
    fake.rooms.set("general", []);
    fake.api.sendFiles = async () => {
      throw { code: "file_too_large", message: "the file is 30.0 MB; this server takes files up to 25.0 MB" };
    };
    await start(fake);
    paste(image([0, 0, 0, 0, 0, 0, 0, 0], "shot.png"));
    await until("the chip", () => $$(".chosen .file").length === 1);
    ($("button.send") as HTMLButtonElement).click();
    await until("the error", () => /25\.0 MB/.test(document.body.textContent ?? ""));
    expect($(".chosen .name")?.textContent, "still attached").toBe("shot.png");
  });
});
