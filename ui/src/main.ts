// The Confab window's entry point: the controller, created once with the real backend, and
// the views mounted on it.
import "./style.css";
import { listen } from "@tauri-apps/api/event";
import { isPermissionGranted, requestPermission, sendNotification } from "@tauri-apps/plugin-notification";
import { openUrl } from "@tauri-apps/plugin-opener";
import { mount } from "svelte";
import { api } from "./api";
import { Chat } from "./chat.svelte";
import App from "./components/App.svelte";

/** Desktop notifications, asking for the permission the first time one is due. */
function desktopNotifier(): (title: string, body: string) => void {
  let allowed: Promise<boolean> | null = null;
  return (title, body) => {
    allowed ??= isPermissionGranted().then((ok) => ok || requestPermission().then((p) => p === "granted"));
    void allowed.then((ok) => ok && sendNotification({ title, body }));
  };
}

const chat = new Chat({
  api,
  listen: <T,>(event: string, on: (payload: T) => void) => listen<T>(event, (e) => on(e.payload)),
  notify: desktopNotifier(),
  openUrl: (url) => void openUrl(url).catch(() => {}),
  storage: localStorage,
  focused: () => document.hasFocus(),
  nextFrame: (fn) => requestAnimationFrame(() => fn()),
  later: (ms, fn) => {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
  blobUrl: (bytes, mime) => URL.createObjectURL(new Blob([bytes], { type: mime })),
  revoke: (url) => URL.revokeObjectURL(url),
});

mount(App, { target: document.getElementById("app") as HTMLElement, props: { chat } });

// Once the first view (the sign-in form or the rooms) is drawn, the backend logs the moment
// (docs/bench.md): a requestAnimationFrame callback runs just before its frame is painted, a
// task queued from it after.
void chat.start().finally(() => requestAnimationFrame(() => setTimeout(() => void api.painted().catch(() => {}), 0)));
