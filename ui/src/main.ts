// The Confab window: wires the backend (api), the model and the views together.
import "./style.css";
import { api, asUiError } from "./api";
import { h } from "./dom";
import { addPending, addStored, apply, filterRooms, newModel, removePending, room } from "./model";
import { updateView } from "./update";
import { type View, key, newer, newest, older, range } from "./window";
import { type ChatHandlers, bannerView, joinForm, meBar, messageRow, roomItems, signInView, switcherView, typingLine } from "./view";
import type { Event, UpdateStatus } from "./types";
import { isPermissionGranted, requestPermission, sendNotification } from "@tauri-apps/plugin-notification";
import { Coalescer, shouldNotify } from "./notify";
import { listen } from "@tauri-apps/api/event";
import { openUrl } from "@tauri-apps/plugin-opener";

const app = document.getElementById("app") as HTMLElement;
const model = newModel();
let signedIn = false;
let view: View = newest(); // which of the current room's messages are drawn
let lastTyping = 0;

// Muted rooms ("*" mutes all) are a preference, not a secret: local storage is fine for them.
const muted = new Set<string>(JSON.parse(localStorage.getItem("confab.muted") ?? "[]") as string[]);
function toggleMute(room: string) {
  if (muted.has(room)) muted.delete(room);
  else muted.add(room);
  localStorage.setItem("confab.muted", JSON.stringify([...muted]));
  drawHeader();
}

let notifyAllowed: Promise<boolean> | null = null;
const notifier = new Coalescer(
  (fn, ms) => setTimeout(fn, ms),
  (note) => {
    notifyAllowed ??= isPermissionGranted().then((ok) => ok || requestPermission().then((p) => p === "granted"));
    void notifyAllowed.then((ok) => ok && sendNotification({ title: note.title, body: note.body }));
  },
);

const layout = {
  sidebar: h("div", { id: "sidebar" }),
  rooms: h("ul", {}),
  me: h("div", {}),
  banner: h("div", { id: "banner-slot" }),
  header: h("header", { id: "room-header" }),
  list: h("ol", { id: "messages", "aria-live": "polite" }),
  typing: h("div", { id: "typing" }),
  composer: h("textarea", { id: "composer", rows: 2, placeholder: "Message", "aria-label": "Message" }),
};

const handlers: ChatHandlers = {
  select(name) {
    model.current = name;
    localStorage.setItem("confab.room", name); // reopen it next time
    room(model, name).unread = 0;
    view = newest();
    void loadRecent(name);
    drawChat(true);
    layout.composer.focus();
  },
  join(name) {
    api.join(name).then(() => handlers.select(name.trim().toLowerCase())).catch((e) => alertError(asUiError(e).message));
  },
  send(body) {
    const name = model.current;
    if (!name || !body.trim()) return;
    api.send(name, body).then((id) => {
      addPending(model, name, id, body);
      view = newest(); // your own message: back to the present
      drawMessages(true);
    }).catch((e) => alertError(asUiError(e).message));
  },
  typing() {
    const now = Date.now();
    if (model.current && now - lastTyping > 3000) {
      lastTyping = now;
      void api.typing(model.current).catch(() => {});
    }
  },
  retry(id) {
    const failed = model.current ? removePending(model, model.current, id) : null;
    if (failed) handlers.send(failed.body);
  },
  retryNow: () => void api.retryNow().catch(() => {}),
  signIn: () => showSignIn(null),
  signOut: () =>
    void api.signOut().finally(() => {
      checkedForUpdate = false; // the next account may be on another server
      showSignIn(null);
    }),
  loadOlder() {
    const name = model.current;
    if (!name) return;
    const r = room(model, name);
    const back = older(r.messages, view);
    if (back) {
      view = back;
      drawMessages(false);
      return;
    }
    if (r.oldestLoaded !== null && r.oldestLoaded > 1) {
      void api.history(name, r.oldestLoaded, 100).then((page) => {
        if (addStored(model, page) > 0 && model.current === name) {
          view = older(r.messages, view) ?? view;
          drawMessages(false);
        }
      });
    }
  },
  loadNewer() {
    const r = model.current ? model.rooms.get(model.current) : undefined;
    const next = r ? newer(r.messages, view) : null;
    if (next) {
      view = next;
      drawMessages(false);
    }
  },
};

function alertError(message: string) {
  layout.typing.textContent = message;
  layout.typing.classList.add("error");
  setTimeout(() => layout.typing.classList.remove("error"), 4000);
}

async function loadRecent(name: string) {
  const msgs = await api.history(name, null, 100).catch(() => []);
  if (addStored(model, msgs) > 0 && model.current === name) drawMessages(true);
}

// The tray shows the unread count. It is reported as events arrive, not when drawing: a
// window closed to the tray draws no frames, and that is exactly when the count matters.
let unreadShown = -1;
function reportUnread() {
  const unread = [...model.rooms.values()].reduce((n, r) => n + r.unread, 0);
  if (unread !== unreadShown) {
    unreadShown = unread;
    void api.setUnread(unread).catch(() => {});
  }
}

function drawSidebar() {
  layout.rooms.replaceChildren(...roomItems(model, handlers));
  layout.me.replaceChildren(meBar(model, handlers));
  reportUnread();
}

function drawBanner() {
  const b = bannerView(model, Date.now(), handlers);
  // Connected, the banner stays empty: touching the DOM anyway costs a style pass every tick.
  if (!b && !layout.banner.firstChild) return;
  layout.banner.replaceChildren(...(b ? [b] : []));
}

/** Sets the typing line only when it changes: an idle window must not redraw every second. */
function drawTyping() {
  const line = typingLine(model.current ? model.rooms.get(model.current) : undefined, Date.now());
  if (layout.typing.textContent !== line) layout.typing.textContent = line;
}

function drawMessages(stickToBottom: boolean) {
  const list = layout.list;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  // The row at the top of the viewport, to keep in place when rows come or go around it.
  const rows = [...list.children] as HTMLElement[];
  const anchor = rows.find((row) => row.offsetTop + row.offsetHeight > list.scrollTop);
  const anchorKey = anchor?.dataset.key;
  const anchorOffset = anchor ? anchor.offsetTop - list.scrollTop : 0;
  const r = model.current ? model.rooms.get(model.current) : undefined;
  const [start, end] = r ? range(r.messages, view) : [0, 0];
  const msgs = r ? r.messages.slice(start, end) : [];
  list.replaceChildren(...msgs.map((m) => {
    const row = messageRow(m, handlers.retry);
    row.dataset.key = key(m);
    return row;
  }));
  if (view.end === null && (stickToBottom || atBottom)) {
    list.scrollTop = list.scrollHeight;
    return;
  }
  const same = anchorKey ? ([...list.children] as HTMLElement[]).find((row) => row.dataset.key === anchorKey) : undefined;
  if (same) list.scrollTop = same.offsetTop - anchorOffset;
}

function drawHeader() {
  const r = model.current ? model.rooms.get(model.current) : undefined;
  layout.header.replaceChildren(
    h("h2", {}, r ? `# ${r.name}` : "Join a room to start"),
    r ? h("span", { id: "presence", title: r.presence.join(", ") }, `${r.presence.length} here: ${r.presence.join(", ")}`) : "",
    r
      ? h("button", { id: "mute", class: "quiet", "aria-pressed": muted.has(r.name), onclick: () => toggleMute(r.name) },
          muted.has(r.name) ? "Unmute" : "Mute")
      : "",
  );
}

function drawChat(scroll = false) {
  drawSidebar();
  drawBanner();
  drawHeader();
  drawMessages(scroll);
  drawTyping();
}

function showChat() {
  signedIn = true;
  layout.composer.onkeydown = (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      const body = layout.composer.value;
      if (body.trim()) {
        handlers.send(body);
        layout.composer.value = "";
      }
    }
  };
  layout.composer.oninput = () => handlers.typing();
  layout.list.onscroll = () => {
    const list = layout.list;
    if (list.scrollTop < 20) handlers.loadOlder();
    else if (list.scrollHeight - list.scrollTop - list.clientHeight < 20) handlers.loadNewer();
  };
  layout.sidebar.replaceChildren(h("nav", { id: "rooms" }, layout.rooms, joinForm(handlers), layout.me));
  app.replaceChildren(
    h("div", { id: "chat" }, layout.sidebar, h("section", { id: "main" }, layout.banner, layout.header, layout.list, layout.typing, layout.composer)),
  );
  drawChat(true);
}

function showSignIn(error: string | null, defaults = { server: "127.0.0.1:8080", user: "" }) {
  signedIn = false;
  app.replaceChildren(
    signInView(defaults, error, async (f) => {
      try {
        const account = await api.signIn(f.server, f.user, f.password, f.remember, f.create);
        model.user = account.user;
        await refresh();
      } catch (e) {
        showSignIn(asUiError(e).message, { server: f.server, user: f.user });
      }
    }),
  );
  (document.getElementById(defaults.user ? "password" : "username") as HTMLInputElement | null)?.focus();
}

function onEvent(e: Event) {
  const focused = document.hasFocus();
  const changed = apply(model, e, Date.now(), focused);
  if (e.type === "message" && changed.size > 0) {
    const { type: _t, ...msg } = e;
    if (shouldNotify(model, msg, focused, muted, Date.now())) notifier.add(msg);
  }
  if (!signedIn) return;
  if (e.type === "state" && e.state === "auth_failed") {
    drawBanner();
    return;
  }
  if (e.type === "state" || e.type === "outbox") dirty.banner = true;
  if (changed.size > 0) {
    reportUnread();
    dirty.sidebar = true;
    if (model.current && changed.has(model.current)) dirty.current = true;
  }
  scheduleDraw();
}

// Events can come by the thousand (a long replay): draw at most once per frame.
const dirty = { banner: false, sidebar: false, current: false };
let frame = 0;
function scheduleDraw() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (dirty.banner) drawBanner();
    if (dirty.sidebar) drawSidebar();
    if (dirty.current && model.current) {
      drawHeader();
      drawMessages(false);
      drawTyping();
    }
    dirty.banner = dirty.sidebar = dirty.current = false;
  });
}

/** Rebuilds everything from the backend's snapshot (start, sign-in, page reload). */
async function refresh() {
  const snap = await api.snapshot();
  if (!snap.account) {
    showSignIn(snap.notice?.message ?? null);
    return;
  }
  model.user = snap.account.user;
  model.conn = snap.state;
  model.queued = snap.queued;
  for (const r of snap.rooms) room(model, r.name);
  if (!model.current && snap.rooms.length > 0) {
    const last = localStorage.getItem("confab.room");
    model.current = snap.rooms.some((r) => r.name === last) ? last : snap.rooms[0].name;
  }
  showChat();
  // Once per start, quietly: the bar appears only if the server offers a newer version.
  if (!checkedForUpdate) {
    checkedForUpdate = true;
    void api.checkUpdate(true).catch(() => {});
  }
  if (model.current) await loadRecent(model.current);
}

window.addEventListener("focus", () => {
  if (signedIn && model.current) {
    room(model, model.current).unread = 0;
    drawSidebar();
  }
});

// Links in messages open in the system browser; the app's window never navigates away.
document.addEventListener("click", (e) => {
  const a = (e.target as Element | null)?.closest?.("a[href]") as HTMLAnchorElement | null;
  if (!a) return;
  e.preventDefault();
  if (/^https?:\/\//.test(a.href)) void openUrl(a.href).catch(() => {});
});

document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k" && signedIn) {
    e.preventDefault();
    if (document.getElementById("switcher")) return;
    const names = [...model.rooms.keys()];
    const close = () => {
      document.getElementById("switcher")?.remove();
      layout.composer.focus();
    };
    const go = (name: string) => {
      close();
      if (model.rooms.has(name)) handlers.select(name);
      else handlers.join(name);
    };
    document.body.append(switcherView((q) => filterRooms(names, q), go, close));
  }
});

// The banner's countdown and typing expiry tick once a second.
setInterval(() => {
  if (!signedIn) return;
  drawBanner();
  drawTyping();
}, 1000);

// "Mute all" from the tray menu.
void listen<boolean>("mute_all", (e) => {
  if (e.payload) muted.add("*");
  else muted.delete("*");
  localStorage.setItem("confab.muted", JSON.stringify([...muted]));
});

// The setting outlives the app; the tray's tick starts unticked each launch.
void api.setMuteAll(muted.has("*")).catch(() => {});

// Updates: a bar above everything, from the backend's status (asked once, then followed).
let checkedForUpdate = false;
const updateSlot = h("div", { id: "update-slot" });
document.body.prepend(updateSlot);
function drawUpdate(status: UpdateStatus) {
  const v = updateView(status, (action) => {
    if (action === "install") void api.installUpdate().catch((e) => drawUpdate({ state: "failed", message: asUiError(e).message }));
    else if (action === "restart") void api.restartToUpdate();
    else updateSlot.replaceChildren();
  });
  updateSlot.replaceChildren(...(v ? [v] : []));
}
// Listen first, then ask: an event that lands in between is newer than the answer, so the
// answer only fills an empty bar.
let updateSeen = false;
void listen<UpdateStatus>("update", (e) => {
  updateSeen = true;
  drawUpdate(e.payload);
})
  .then(() => api.updateStatus())
  .then((status) => {
    if (!updateSeen) drawUpdate(status);
  })
  .catch(() => {});

// Subscribe first, then take the snapshot: an event can't fall between the two.
// Once the first view (the sign-in form or the rooms) is drawn, the backend logs the moment
// (docs/bench.md): a requestAnimationFrame callback runs just before its frame is painted, a
// task queued from it after.
const reportPainted = () => requestAnimationFrame(() => setTimeout(() => void api.painted().catch(() => {}), 0));
api
  .subscribe(onEvent)
  .then(refresh)
  .catch((e) => showSignIn(asUiError(e).message))
  .finally(reportPainted);
