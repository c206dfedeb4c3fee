// Screenshots of the UI over the fake backend, in Debian's Chromium, to judge its look:
//   npx vite build --config test/vite.config.ts
//   npx vite preview --config test/vite.config.ts &
//   PLAYWRIGHT_CORE=/path/to/node_modules/playwright-core node test/shoot.mjs /tmp/shots
// (playwright-core is not a dependency: bring your own; it downloads no browser.)
// Fails on any CSP violation or page error.
const { chromium } = await import(process.env.PLAYWRIGHT_CORE ?? "playwright-core");
const out = process.argv[2] ?? "/tmp/confab-shots";
const base = process.env.CONFAB_UI_URL ?? "http://127.0.0.1:4173/";
await (await import("node:fs/promises")).mkdir(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const problems = [];
async function page(scene, scheme) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 }, colorScheme: scheme });
  const p = await ctx.newPage();
  p.on("console", (m) => {
    if ((m.type() === "error" && !/favicon|404/.test(m.text())) || /Content Security Policy/i.test(m.text())) problems.push(`${scene}/${scheme}: ${m.text()}`);
  });
  p.on("pageerror", (e) => problems.push(`${scene}/${scheme}: ${e.message}`));
  await p.goto(`${base}?scene=${scene}`);
  return p;
}
const settle = (p) => p.waitForTimeout(700);

for (const scheme of ["light", "dark"]) {
  let p = await page("signin", scheme);
  await p.waitForSelector("#sign-in-btn");
  await p.fill("#username", "alice");
  await p.screenshot({ path: `${out}/sign-in-${scheme}.png` });

  p = await page("chat", scheme);
  await p.waitForSelector("#messages .message");
  await settle(p);
  await p.hover("#messages .message.grouped >> nth=0");
  await p.screenshot({ path: `${out}/chat-${scheme}.png` });
  await p.click('.room[data-room="random"]');
  await settle(p);
  await p.screenshot({ path: `${out}/new-messages-${scheme}.png` });
  await p.click('.room[data-room="general"]');
  await p.fill("#composer", "hello from the app, again");
  await p.press("#composer", "Enter");
  await p.waitForTimeout(150);
  await p.screenshot({ path: `${out}/sending-${scheme}.png` });
  await p.keyboard.press("Control+k");
  await p.fill("#switcher-input", "b");
  await p.screenshot({ path: `${out}/switcher-${scheme}.png` });
  await p.press("#switcher-input", "Enter");
  await settle(p);
  const count = () => p.$$eval("#messages .message .body", (b) => b.map((x) => x.textContent));
  const first = await count();
  for (let i = 0; i < 30; i++) {
    await p.$eval("#messages", (l) => { l.scrollTop = 0; l.dispatchEvent(new Event("scroll")); });
    await p.waitForTimeout(120);
  }
  const back = await count();
  await p.screenshot({ path: `${out}/big-scrolled-${scheme}.png` });
  await p.$eval("#messages", (l) => { l.scrollTop = l.scrollHeight; l.dispatchEvent(new Event("scroll")); });
  await settle(p);
  const again = await count();
  console.log(`big room (${scheme}): ${first.length} rows, last ${first.at(-1)}; scrolled back: ${back.length} rows, ${back[0]}…${back.at(-1)}; down again: ${again.length} rows, last ${again.at(-1)}`);

  p = await page("offline", scheme);
  await p.waitForSelector("#banner");
  await settle(p);
  await p.screenshot({ path: `${out}/offline-${scheme}.png` });

  p = await page("update", scheme);
  await p.waitForSelector("#update-install");
  await p.screenshot({ path: `${out}/update-${scheme}.png` });
}
await browser.close();
if (problems.length) {
  console.log(problems.join("\n"));
  process.exit(1);
}
console.log(`screenshots in ${out}`);
