// Mounting the whole window in jsdom for the UI's component tests, over a FakeBackend.
import { flushSync, mount, unmount } from "svelte";
import { Chat } from "../src/chat.svelte";
import App from "../src/components/App.svelte";
import { loadMarkdown } from "../src/markdown";
import type { FakeBackend } from "./fake-backend";

/** jsdom has no layout: give the message list a window's height, and the virtual list
 * observers that never fire. Call once per test file (beforeAll). */
export function fakeLayout(): void {
  Object.defineProperty(HTMLElement.prototype, "offsetHeight", {
    configurable: true,
    get(this: HTMLElement) {
      return this.id === "messages" ? 600 : 0;
    },
  });
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
  globalThis.requestAnimationFrame ??= (fn) => setTimeout(() => fn(Date.now()), 0) as unknown as number;
}

let app: ReturnType<typeof mount> | null = null;

/** Unmounts the window started last (afterEach). */
export function stop(): void {
  if (app) unmount(app);
  app = null;
  document.body.replaceChildren();
}

/** Starts the window over `fake`; links it opens are collected in `opened`. */
export async function start(fake: FakeBackend) {
  const opened: string[] = [];
  const target = document.createElement("div");
  target.id = "app";
  document.body.append(target);
  const chat = new Chat({
    api: fake.api,
    listen: async () => {},
    notify: () => {},
    openUrl: (u) => opened.push(u),
    storage: { getItem: () => null, setItem: () => {} },
    focused: () => true,
    nextFrame: (fn) => fn(),
    later: () => () => {}, // the clock stands still
    blobUrl: () => "blob:fake",
    revoke: () => {},
  });
  await loadMarkdown(); // in the app it loads with the first formatted message
  app = mount(App, { target, props: { chat } });
  await chat.start();
  await settle();
  return { chat, opened };
}

export const settle = async () => {
  await new Promise((r) => setTimeout(r, 0));
  flushSync();
};
export const $ = (css: string) => document.querySelector(css);
