// Files in the real window against the real server: a screenshot pasted into the composer is
// sent with the message, drawn from the server's thumbnail (a blob URL the CSP allows), and
// the other side (the CLI) downloads the very bytes that were pasted. Same environment as
// chat.test.mjs (scripts/test.sh).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { Session, startDriver, waitFor } from "./webdriver.mjs";
import { cli, signIn, startServer } from "./services.mjs";
import { appPids, endSession } from "./desktop.mjs";

const app = process.env.CONFAB_APP;
const artifacts = process.env.CONFAB_ARTIFACTS ?? "artifacts/e2e";
const args = ["--data-dir", mkdtempSync(join(tmpdir(), "confab-files-"))];
const ivy = mkdtempSync(join(tmpdir(), "confab-ivy-"));
let driver;
let server;
let s;

/** A real PNG, `w`×`h`, in a gradient (so its bytes are not trivially the same as another's). */
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "ascii");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) rows.set([x % 256, y % 256, (x + y) % 256], y * (w * 3 + 1) + 1 + x * 3);
  }
  const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  server = await startServer();
  driver = await startDriver();
  await waitFor("no other instance", () => appPids(app).length === 0);
  const reg = cli(ivy, ["register", "--server", server.url, "--user", "ivy"], "password-of-ivy\n");
  assert.equal(reg.status, 0, reg.stderr);
  const sent = cli(ivy, ["send", "design", "send me the screenshot"]);
  assert.equal(sent.status, 0, sent.stderr);
  s = await Session.start(app, args);
  await signIn(s, server, "jack", "jack's long password", true);
});

after(async () => {
  await endSession(s, app);
  driver?.kill();
  await server?.stop();
});

test("a pasted screenshot goes out with its message, shows from its thumbnail, and the CLI downloads the same bytes", async () => {
  await s.type("#join-input", "design\uE007");
  await s.waitText("#room-header h2", (t) => t === "# design");
  const shot = png(640, 400);
  // The paste the composer gets from the clipboard: a File in clipboardData, as WebKit hands
  // over a copied screenshot.
  await s.cmd("POST", "/execute/sync", {
    script: `
      const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
      const file = new File([bytes], "image.png", { type: "image/png" });
      const e = new Event("paste", { bubbles: true, cancelable: true });
      Object.defineProperty(e, "clipboardData", { value: { files: [file] } });
      document.querySelector("#composer").dispatchEvent(e);`,
    args: [shot.toString("base64")],
  });
  await waitFor("the screenshot in the composer", () =>
    s.cmd("POST", "/execute/sync", {
      script: "return document.querySelector('.chosen .name')?.textContent.startsWith('pasted-')",
      args: [],
    }));
  await s.type("#composer", "here it is\uE007");
  const fileId = await waitFor("the image drawn from its thumbnail", () =>
    s.cmd("POST", "/execute/sync", {
      script: `const img = document.querySelector('#messages article[data-seq] .thumb img');
        return img && img.complete && img.naturalWidth > 0 ? img.closest('.thumb').dataset.file : null;`,
      args: [],
    }));
  const width = await s.cmd("POST", "/execute/sync", {
    script: "return document.querySelector('#messages .thumb img').naturalWidth",
    args: [],
  });
  assert.equal(width, 320, "the server's thumbnail, not the full image");
  writeFileSync(join(artifacts, "attachment.png"), await s.screenshot());

  const out = join(ivy, "downloaded.png");
  const got = cli(ivy, ["download", fileId, "-o", out]);
  assert.equal(got.status, 0, got.stderr);
  assert.ok(readFileSync(out).equals(shot), "the bytes that were pasted");
});
