// The window's controller, created once in main.ts: it takes the core's events and snapshot
// into the model (model.ts, the pure reducer), publishes what the views draw as reactive
// state, and carries out the views' intents through the backend's commands. The views hold
// no copy of the state; this holds no DOM.
import { type Api, asUiError } from "./api";
import {
  type ChatMessage,
  addStored,
  apply,
  applySnapshot,
  dismissError,
  focusCurrent,
  mentionTotal,
  mentionsMe,
  newModel,
  openRoom,
  readToSend,
  rows,
  setError,
  takeFailed,
  typingUsers,
  unreadTotal,
  waiting,
} from "./model";
import { MessageActions } from "./actions.svelte";
import { view } from "./changes";
import { Conversations } from "./conversations.svelte";
import { Files } from "./files.svelte";
import { Search } from "./search.svelte";
import { Coalescer, type Level, shouldNotify } from "./notify";
import { Prefs } from "./prefs";
import { type BannerLine, banner, dayNumber, typingLine } from "./present";
import type { Account, ConnState, Event, MemberInfo, MessageData, PickedFile, Role, UiError, UpdateStatus, Visibility } from "./types";
import type { UpdateAction } from "./update";

/** What the controller needs from its surroundings; main.ts passes the real ones. */
export interface Platform {
  api: Api;
  listen<T>(event: string, on: (payload: T) => void): Promise<unknown>;
  notify(title: string, body: string): void;
  openUrl(url: string): void;
  storage: Pick<Storage, "getItem" | "setItem">;
  focused(): boolean;
  /** Runs `fn` before the next frame is drawn (requestAnimationFrame). */
  nextFrame(fn: () => void): void;
  /** Runs `fn` once after `ms` (setTimeout); the function returned cancels it. */
  later(ms: number, fn: () => void): () => void;
  /** Blob URLs for images the backend handed over as bytes. */
  blobUrl(bytes: ArrayBuffer, mime: string): string;
  revoke(url: string): void;
}

export interface SignInForm {
  server: string;
  user: string;
  password: string;
  remember: boolean;
  create: boolean;
  /// With `create`: the invite code the server may ask for ("" for none).
  invite: string;
}

export interface RoomItem {
  name: string;
  /** What the sidebar shows: the room's name, or a dm's other people. */
  label: string;
  visibility: Visibility;
  unread: number;
  mentions: number;
  muted: boolean;
}

/** The open room as its views draw it. */
export interface OpenRoom {
  name: string;
  messages: ChatMessage[];
  /** The seq above which "New messages" is drawn, or null. */
  marker: number | null;
  presence: string[];
  label: string;
  visibility: Visibility;
  /** Our role here (null before the server said). */
  role: Role | null;
  /** Its members, once asked for. */
  members: MemberInfo[] | null;
  /** Display names by username, from the members. */
  names: ReadonlyMap<string, string>;
  level: Level;
  /** After a jump far back: the view ends where the loaded stretch does (see model.ts). */
  detached: boolean;
}

export type Screen = "loading" | "sign-in" | "chat";

/** Older messages are fetched this many at a time when the list reaches the top. */
export const PAGE = 100;
/** How long the first view waits for the open room's messages before it is drawn without. */
const RECENT_WAIT_MS = 300;
const TYPING_EVERY_MS = 3000;

export class Chat {
  screen = $state<Screen>("loading");
  signInDefaults = $state.raw({ server: "127.0.0.1:8080", user: "" });
  signInError = $state<string | null>(null);
  signingIn = $state(false);
  user = $state<string | null>(null);
  rooms = $state.raw<RoomItem[]>([]);
  current = $state.raw<OpenRoom | null>(null);
  bannerLine = $state.raw<BannerLine | null>(null);
  connState = $state<ConnState["state"]>("offline");
  typing = $state("");
  errors = $state.raw<UiError[]>([]);
  update = $state.raw<UpdateStatus>({ state: "idle" });
  switcherOpen = $state(false);
  today = $state(dayNumber(Date.now()));
  /** Counts the user's sends: the message list goes to the newest message on each. */
  jump = $state(0);

  readonly conv: Conversations;
  readonly search: Search;
  readonly actions: MessageActions;
  readonly files: Files;
  private model = newModel();
  /** The read position last told the server, per room, so it is told once. */
  private readSent = new Map<string, number>();
  private account: Account | null = null;
  private prefs: Prefs;
  private notifier: Coalescer;
  private dirty = { rooms: false, current: false, banner: false, errors: false };
  private framePending = false;
  /** What the tray was last told: unread, and mentions among them. */
  private unreadShown = { n: -1, at: -1 };
  private lastTyping = 0;
  private checkedForUpdate = false;
  private updateSeen = false;
  /** The clock's next wake-up (see `armClock`): when, and how to cancel it. */
  private clock: { at: number; cancel: () => void } | null = null;
  private loadingOlder = new Set<string>();
  private exhausted = new Set<string>();

  constructor(private p: Platform) {
    this.prefs = new Prefs(p.storage);
    this.actions = new MessageActions({
      api: p.api,
      current: () => this.model.current,
      user: () => this.model.user,
      rows: () => this.current?.messages ?? [],
      fail: (e) => this.fail(e),
    });
    this.conv = new Conversations({
      api: p.api,
      current: () => this.model.current,
      select: (room) => this.select(room),
      setLevel: (room, level) => {
        this.prefs.setLevel(room, level);
        this.dirty.rooms = this.dirty.current = true;
        this.flush();
      },
      fail: (e) => this.fail(e),
    });
    this.search = new Search({
      api: p.api,
      model: () => this.model,
      select: (room) => {
        if (room !== this.model.current) this.select(room);
      },
      refresh: () => {
        this.dirty.current = this.dirty.rooms = true;
        this.flush();
      },
      fail: (e) => this.fail(e),
    });
    this.files = new Files({ ...p, current: () => this.model.current, fail: (e) => this.fail(e) });
    this.notifier = new Coalescer(
      (fn, ms) => setTimeout(fn, ms),
      (note) => p.notify(note.title, note.body),
    );
  }

  /** Subscribes, then takes the snapshot (an event cannot fall between the two), and follows
   * the tray's "Mute all" and the updater. Resolves once the first view is decided. */
  async start(): Promise<void> {
    void this.p.listen<boolean>("mute_all", (on) => this.prefs.setMuted("*", on));
    void this.p.listen<PickedFile[]>("files_dropped", (files) => this.files.dropped(files));
    // The setting outlives the app; the tray's tick starts unticked each launch.
    void this.p.api.setMuteAll(this.prefs.isMuted("*")).catch(() => {});
    // Listen first, then ask: an event that lands in between is newer than the answer.
    void this.p
      .listen<UpdateStatus>("update", (s) => {
        this.updateSeen = true;
        this.update = s;
      })
      .then(() => this.p.api.updateStatus())
      .then((s) => {
        if (!this.updateSeen) this.update = s;
      })
      .catch(() => {});
    try {
      await this.p.api.subscribe((e) => this.onEvent(e));
      await this.refresh();
    } catch (e) {
      this.showSignIn(asUiError(e).message);
    }
  }

  /** What changes on screen with time alone: the banner's countdown, typing that expired,
   * the day turning. Runs when the clock wakes (and when the window comes to the front). */
  tick(now = Date.now()): void {
    if (this.screen !== "chat") return;
    const b = banner(this.model.conn, now, waiting(this.model));
    if (b?.text !== this.bannerLine?.text) this.bannerLine = b;
    const t = this.typingNow(now);
    if (t !== this.typing) this.typing = t;
    const day = dayNumber(now);
    if (day !== this.today) this.today = day;
    this.armClock(now);
  }

  // ---- intents from the views ----

  select(name: string): void {
    if (name !== this.model.current) this.actions.cancel();
    this.search.focus = null; // a hit shown before is not shown again when its room reopens
    openRoom(this.model, name);
    this.prefs.lastRoom = name; // reopen it next time
    this.exhausted.delete(name);
    this.markAll();
    this.flush();
    this.reportUnread();
    void this.loadRecent(name);
    this.conv.loadMembers();
  }

  async join(input: string): Promise<void> {
    const typed = input.trim();
    if (!typed) return;
    try {
      // The core checks and normalises the name and answers the room's own.
      const name = await this.p.api.join(typed);
      this.select(name || typed.replace(/^#/, "").toLowerCase());
    } catch (e) {
      this.fail(e);
    }
  }

  /** Hands the body and the composer's files to the core; its row appears from the core's
   * `outgoing` event. */
  async send(body: string): Promise<boolean> {
    const name = this.model.current;
    if (!name || (!body.trim() && !this.files.chosen[name]?.length)) return false;
    this.jump++; // your own message: back to the present
    if (this.current?.detached) void this.search.toPresent(name);
    const replyTo = this.actions.replyTo;
    try {
      await this.files.send(name, body, this.actions.takeReply());
      return true;
    } catch (e) {
      this.actions.replyTo = replyTo; // not taken: still answering it
      this.fail(e);
      return false;
    }
  }

  /** Sends a failed message's body again as a new message; the failed row goes once it has. */
  async retry(id: string): Promise<void> {
    const r = this.model.current ? this.model.rooms.get(this.model.current) : undefined;
    const row = r?.pending.find((x) => x.id === id && x.status === "failed");
    if (!row) return;
    this.jump++;
    try {
      await this.p.api.send(row.room, row.body);
      takeFailed(this.model, row.room, id);
      if (row.room === this.model.current) this.dirty.current = true;
      this.flush();
    } catch (e) {
      this.fail(e);
    }
  }

  typed(): void {
    const now = Date.now();
    if (this.model.current && now - this.lastTyping > TYPING_EVERY_MS) {
      this.lastTyping = now;
      void this.p.api.typing(this.model.current).catch(() => {});
    }
  }

  /** The list reached its top: the next page of older messages. */
  loadOlder(): void {
    const name = this.model.current;
    const r = name ? this.model.rooms.get(name) : undefined;
    if (!name || !r || r.oldestLoaded === null || r.oldestLoaded <= 1) return;
    if (this.loadingOlder.has(name) || this.exhausted.has(name)) return;
    this.loadingOlder.add(name);
    this.p.api
      .history(name, r.oldestLoaded, PAGE)
      .then((page) => {
        if (addStored(this.model, page) === 0) this.exhausted.add(name);
        else if (this.model.current === name) this.dirty.current = true;
        this.flush();
      })
      .catch(() => {}) // offline with nothing older on disk: the next scroll asks again
      .finally(() => this.loadingOlder.delete(name));
  }

  retryNow(): void {
    void this.p.api.retryNow().catch((e) => this.fail(e));
  }

  dismissError(code: string): void {
    dismissError(this.model, code);
    this.dirty.errors = true;
    this.flush();
  }

  /** Links open in the system browser, http(s) only; the window never navigates. */
  openLink(href: string): void {
    if (/^https?:\/\//i.test(href)) this.p.openUrl(href);
  }

  openSwitcher(): void {
    if (this.screen === "chat") this.switcherOpen = true;
  }

  closeSwitcher(): void {
    this.switcherOpen = false;
  }

  /** The switcher's choice: a room we have, or a new name to join. */
  go(name: string): void {
    this.switcherOpen = false;
    if (this.model.rooms.has(name)) this.select(name);
    else void this.join(name);
  }

  async submitSignIn(f: SignInForm): Promise<void> {
    this.signingIn = true;
    this.signInError = null;
    try {
      const account = await this.p.api.signIn(f.server, f.user, f.password, f.remember, f.create, f.invite);
      this.model.user = account.user;
      await this.refresh();
    } catch (e) {
      this.showSignIn(asUiError(e).message, { server: f.server, user: f.user });
    } finally {
      this.signingIn = false;
    }
  }

  /** The banner's "Log in": the form, filled in with the account that was signed out. */
  signInAgain(): void {
    const a = this.account;
    this.showSignIn(null, a ? { server: [a.server, ...a.fallbacks].join(", "), user: a.user } : undefined);
  }

  async signOut(): Promise<void> {
    await this.p.api.signOut().catch(() => {});
    this.model = newModel(); // the next account may be another, on another server
    this.account = null;
    this.checkedForUpdate = false;
    this.showSignIn(null);
  }

  /** The window came back to the front: what arrived in the open room is read, and the
   * clock catches up (its timer may have slept with the machine). */
  focused(): void {
    this.tick();
    if (this.screen === "chat" && focusCurrent(this.model)) {
      this.dirty.rooms = this.dirty.current = true;
      this.flush();
      this.reportUnread();
    }
  }

  updateAction(a: UpdateAction): void {
    if (a === "install") {
      void this.p.api.installUpdate().catch((e) => (this.update = { state: "failed", message: asUiError(e).message }));
    } else if (a === "restart") {
      void this.p.api.restartToUpdate().catch((e) => (this.update = { state: "failed", message: asUiError(e).message }));
    } else {
      this.update = { state: "idle" };
    }
  }

  // ---- the core's side ----

  private onEvent(e: Event): void {
    const focused = this.p.focused();
    const now = Date.now();
    const wasOpen = this.model.conn.state === "open";
    const changed = apply(this.model, e, now, focused);
    // Back online: what the open room holds may not have been readable offline.
    if (e.type === "state" && e.state === "open" && !wasOpen && this.screen === "chat" && this.model.current) {
      void this.loadRecent(this.model.current);
    }
    if (e.type === "message" && changed.size > 0) {
      const { type: _t, ...msg } = e;
      if (shouldNotify(this.model, msg, focused, (r) => this.prefs.level(r), now)) {
        this.notifier.add(msg, { label: this.label(msg.room), mentioned: mentionsMe(this.model, msg) });
      }
    }
    if (e.type === "dm") this.conv.dmReady(e.room);
    if (e.type === "member" && e.room === this.model.current) this.conv.loadMembers();
    if (e.type === "state" || e.type === "outgoing" || e.type === "sent" || e.type === "send_failed") this.dirty.banner = true;
    if (e.type === "error" || e.type === "send_failed" || e.type === "state") this.dirty.errors = true;
    if (changed.size > 0) {
      // The tray's count is reported as events arrive, not when drawing: a window closed to
      // the tray draws no frames, and that is exactly when the count matters.
      this.reportUnread();
      this.dirty.rooms = true;
      if (this.model.current && changed.has(this.model.current)) this.dirty.current = true;
    }
    this.schedule();
  }

  /** Rebuilds the view from the core's snapshot (start, sign-in, page reload). The room to
   * open is usually known before the snapshot (the one open last time): its newest messages
   * are asked for alongside, so the window is drawn once with them (the first paint,
   * docs/bench.md), waiting for them at most RECENT_WAIT_MS. */
  private async refresh(): Promise<void> {
    const guess = this.model.current ?? this.prefs.lastRoom;
    const recent = guess ? this.p.api.history(guess, null, PAGE).catch(() => null) : null;
    const snap = await this.p.api.snapshot();
    if (!snap.account) {
      this.showSignIn(snap.notice?.message ?? null);
      return;
    }
    this.account = snap.account;
    applySnapshot(this.model, snap);
    if (!this.model.current && snap.rooms.length > 0) {
      const last = this.prefs.lastRoom;
      openRoom(this.model, snap.rooms.some((r) => r.name === last) && last ? last : snap.rooms[0].name);
    }
    const name = this.model.current;
    const early = name !== null && name === guess && recent !== null;
    const page = early ? await Promise.race([recent, this.after(RECENT_WAIT_MS)]) : null;
    if (page) addStored(this.model, page);
    this.screen = "chat";
    this.markAll();
    this.flush();
    this.reportUnread();
    void this.conv.loadProfile();
    // Once per sign-in, quietly: the bar appears only if the server offers a newer version.
    if (!this.checkedForUpdate) {
      this.checkedForUpdate = true;
      void this.p.api.checkUpdate(true).catch(() => {});
    }
    if (name && !page) await (early ? recent.then((p) => this.showRecent(name, p ?? [])) : this.loadRecent(name));
  }

  /** Resolves with null after `ms`. */
  private after(ms: number): Promise<null> {
    return new Promise((resolve) => this.p.later(ms, () => resolve(null)));
  }

  private async loadRecent(name: string): Promise<void> {
    this.showRecent(name, await this.p.api.history(name, null, PAGE).catch(() => []));
  }

  private showRecent(name: string, msgs: MessageData[]): void {
    if (addStored(this.model, msgs) > 0 && this.model.current === name) {
      this.dirty.current = this.dirty.rooms = true;
      this.flush();
    }
  }

  private showSignIn(error: string | null, defaults?: { server: string; user: string }): void {
    if (defaults) this.signInDefaults = defaults;
    this.signInError = error;
    this.switcherOpen = false;
    this.screen = "sign-in";
    this.armClock(Date.now());
  }

  private fail(e: unknown): void {
    setError(this.model, asUiError(e));
    this.dirty.errors = true;
    this.flush();
  }

  private reportUnread(): void {
    const n = unreadTotal(this.model);
    const at = mentionTotal(this.model);
    if (n !== this.unreadShown.n || at !== this.unreadShown.at) {
      this.unreadShown = { n, at };
      void this.p.api.setUnread(n, at).catch(() => {});
    }
    this.tellRead();
  }

  /** The open room is on screen and in front: the server hears how far the user has read, so
   * the badge clears on every device. */
  private tellRead(): void {
    const name = this.model.current;
    const r = name ? this.model.rooms.get(name) : undefined;
    if (!name || !r || this.screen !== "chat" || !this.p.focused()) return;
    const seq = readToSend(r);
    if (seq === null || (this.readSent.get(name) ?? 0) >= seq) return;
    this.readSent.set(name, seq);
    void this.p.api.conversation({ type: "read", room: name, seq }).catch(() => this.readSent.delete(name));
  }

  /** How the sidebar and notifications name a room: `#name`, or a dm's other people. */
  label(name: string): string {
    const r = this.model.rooms.get(name);
    if (r?.visibility !== "dm") return `#${name}`;
    const others = (r.users ?? []).filter((u) => u !== this.model.user);
    return others.length > 0 ? others.join(", ") : "Direct message";
  }

  private typingNow(now: number): string {
    const r = this.model.current ? this.model.rooms.get(this.model.current) : undefined;
    return typingLine(r ? typingUsers(r, now) : []);
  }

  /** Wakes the clock when the screen next changes by itself: every second while a countdown
   * or a typing line shows, else at midnight for the day lines. An idle window otherwise
   * wakes for nothing (idle CPU, docs/bench.md). */
  private armClock(now: number): void {
    const ticking = this.screen === "chat" && (this.model.conn.state === "reconnecting" || this.typing !== "");
    const at = this.screen !== "chat" ? null : ticking ? now + 1000 : nextMidnight(now);
    if (this.clock && at !== null && this.clock.at <= at && this.clock.at > now) return;
    this.clock?.cancel();
    this.clock = null;
    if (at === null) return;
    const cancel = this.p.later(at - now, () => {
      this.clock = null;
      this.tick();
    });
    this.clock = { at, cancel };
  }

  private markAll(): void {
    this.dirty = { rooms: true, current: true, banner: true, errors: true };
  }

  /** Events can come by the thousand (a long replay): the views change once per frame. */
  private schedule(): void {
    if (this.framePending) return;
    this.framePending = true;
    this.p.nextFrame(() => {
      this.framePending = false;
      this.flush();
    });
  }

  /** Publishes what changed in the model to the views. */
  private flush(): void {
    const m = this.model;
    const d = this.dirty;
    this.dirty = { rooms: false, current: false, banner: false, errors: false };
    this.user = m.user;
    if (d.rooms) {
      this.rooms = [...m.rooms.values()]
        .map((r) => ({
          name: r.name,
          label: this.label(r.name),
          visibility: r.visibility ?? "public",
          unread: r.unread,
          mentions: r.mentions,
          muted: this.prefs.isMuted(r.name),
        }))
        .sort((a, b) => a.label.localeCompare(b.label));
    }
    if (d.current) {
      const r = m.current ? m.rooms.get(m.current) : undefined;
      this.current = r
        ? {
            name: r.name,
            messages: view(m, r, rows(r)),
            marker: r.marker,
            presence: r.presence,
            label: this.label(r.name),
            visibility: r.visibility ?? "public",
            role: r.role,
            members: r.members,
            names: new Map((r.members ?? []).flatMap((x) => (x.display_name ? [[x.user, x.display_name] as const] : []))),
            level: this.prefs.chosenLevel(r.name),
            detached: r.gapAfter !== null,
          }
        : null;
      this.typing = this.typingNow(Date.now());
    }
    if (d.banner) {
      this.connState = m.conn.state;
      const b = banner(m.conn, Date.now(), waiting(m));
      if (b?.text !== this.bannerLine?.text || b?.retry !== this.bannerLine?.retry) this.bannerLine = b;
    }
    if (d.errors) this.errors = [...m.errors.values()];
    this.armClock(Date.now());
  }
}

/** The next local midnight after `now`, in ms since the epoch. */
function nextMidnight(now: number): number {
  const d = new Date(now);
  d.setHours(24, 0, 0, 0);
  return d.getTime();
}
