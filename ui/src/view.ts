// Drawing the model. Message text is always set as text, never as HTML; links become anchors
// whose clicks the app opens in the system browser.
import { h } from "./dom";
import { type ChatMessage, type Model, type Room, banner, linkify, typingUsers } from "./model";


export function signInView(
  defaults: { server: string; user: string },
  error: string | null,
  onSubmit: (f: { server: string; user: string; password: string; remember: boolean; create: boolean }) => void,
): HTMLElement {
  const server = h("input", { id: "server", value: defaults.server, placeholder: "chat.example.org", required: true, autocomplete: "url" });
  const user = h("input", { id: "username", value: defaults.user, required: true, autocomplete: "username" });
  const password = h("input", { id: "password", type: "password", required: true, autocomplete: "current-password" });
  const remember = h("input", { id: "remember", type: "checkbox", checked: true });
  const create = h("input", { id: "create", type: "checkbox" });
  const form = h(
    "form",
    { id: "sign-in", class: "card" },
    h("h1", {}, "Confab"),
    h("label", {}, "Server", server),
    h("label", {}, "Username", user),
    h("label", {}, "Password", password),
    h("label", { class: "check" }, remember, "Remember me"),
    h("label", { class: "check" }, create, "Create a new account"),
    error ? h("p", { id: "sign-in-error", class: "error", role: "alert" }, error) : null,
    h("button", { id: "sign-in-btn", type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    onSubmit({ server: server.value, user: user.value, password: password.value, remember: remember.checked, create: create.checked });
  });
  return h("main", { class: "center" }, form);
}

export interface ChatHandlers {
  select(room: string): void;
  join(room: string): void;
  send(body: string): void;
  typing(): void;
  retry(id: string): void;
  retryNow(): void;
  signIn(): void;
  signOut(): void;
  loadOlder(): void;
  loadNewer(): void;
}

function statusLabel(m: ChatMessage): string | null {
  switch (m.status) {
    case "queued": return "queued";
    case "sending": return "sending…";
    case "sent": return "sent";
    case "failed": return "failed";
    default: return null;
  }
}

export function messageRow(m: ChatMessage, onRetry: (id: string) => void): HTMLElement {
  const body = h("div", { class: "body" });
  for (const part of linkify(m.body)) {
    body.append(part.href ? h("a", { href: part.href, target: "_blank", rel: "noopener noreferrer" }, part.text) : document.createTextNode(part.text));
  }
  const time = m.ts ? new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  const status = statusLabel(m);
  return h(
    "li",
    { class: `message${m.status ? " own" : ""}`, "data-id": m.id, "data-seq": m.seq ?? "" },
    h("div", { class: "meta" }, h("span", { class: "author" }, m.author), h("time", {}, time)),
    body,
    status ? h("span", { class: `status ${m.status}`, title: m.error ?? "" }, status) : null,
    m.status === "failed" ? h("button", { class: "retry", onclick: () => onRetry(m.id) }, "Retry") : null,
    m.error ? h("span", { class: "error" }, m.error) : null,
  );
}

/** The join box. Built once: redrawing the room list must not lose what the user is typing. */
export function joinForm(on: ChatHandlers): HTMLElement {
  const input = h("input", { id: "join-input", placeholder: "Join or create a room", maxlength: 64 });
  const form = h("form", { id: "join-form" }, input);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value.trim()) on.join(input.value);
    input.value = "";
  });
  return form;
}

/** The rooms, with unread counts; redrawn as they change. */
export function roomItems(model: Model, on: ChatHandlers): HTMLElement[] {
  const rooms = [...model.rooms.values()].sort((a, b) => a.name.localeCompare(b.name));
  return rooms.map((r) =>
    h(
      "li",
      { class: `room${r.name === model.current ? " current" : ""}`, "data-room": r.name, onclick: () => on.select(r.name) },
      h("span", { class: "name" }, `# ${r.name}`),
      r.unread > 0 ? h("span", { class: "unread", "aria-label": `${r.unread} unread` }, String(r.unread)) : null,
    ),
  );
}

export function meBar(model: Model, on: ChatHandlers): HTMLElement {
  return h("div", { class: "me" }, h("span", {}, model.user ?? ""), h("button", { id: "sign-out", onclick: on.signOut }, "Sign out"));
}

export function bannerView(model: Model, now: number, on: ChatHandlers): HTMLElement | null {
  const b = banner(model.conn, now);
  if (!b) return null;
  const queued = model.queued > 0 ? ` · ${model.queued} waiting to send` : "";
  return h(
    "div",
    { id: "banner", role: "status", class: model.conn.state },
    h("span", { id: "banner-text" }, b.text + queued),
    b.retry ? h("button", { id: "retry-now", onclick: on.retryNow }, "Retry now") : null,
    b.signIn ? h("button", { id: "sign-in-again", onclick: on.signIn }, "Log in") : null,
  );
}

/** The Ctrl+K room switcher: type to filter, Enter to go (or join a new room), Esc to close. */
export function switcherView(filter: (q: string) => string[], go: (room: string) => void, close: () => void): HTMLElement {
  const input = h("input", { id: "switcher-input", placeholder: "Go to room…", "aria-label": "Go to room" });
  const list = h("ul", { id: "switcher-list" });
  const draw = () => {
    list.replaceChildren(...filter(input.value).slice(0, 8).map((n) => h("li", { onclick: () => go(n) }, `# ${n}`)));
  };
  input.addEventListener("input", draw);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") close();
    if (e.key === "Enter") {
      e.preventDefault();
      const first = filter(input.value)[0];
      const typed = input.value.trim().replace(/^#/, "");
      if (first) go(first);
      else if (typed) go(typed);
    }
  });
  draw();
  const overlay: HTMLElement = h("div", { id: "switcher", role: "dialog", "aria-label": "Switch room" }, h("div", { class: "card" }, input, list));
  overlay.addEventListener("click", (e) => {
    if (e.target === overlay) close();
  });
  setTimeout(() => input.focus(), 0);
  return overlay;
}

export function typingLine(r: Room | undefined, now: number): string {
  const users = r ? typingUsers(r, now) : [];
  if (users.length === 0) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  return `${users.slice(0, -1).join(", ")} and ${users[users.length - 1]} are typing…`;
}
