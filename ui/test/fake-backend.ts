// A stand-in for the Tauri backend, for the UI's tests and for looking at the UI in a browser
// (test/fake-tauri/): the app's commands over canned rooms, with the core's events played the
// way the core sends them. Never part of the built app.
import type { Api } from "../src/api";
import type { Conversation, Event, MessageData, Outgoing, PickedFile, Profile, Snapshot, UpdateStatus } from "../src/types";

export interface FakeOptions {
  signedIn?: boolean;
  offline?: boolean;
  /** Delay of each step of a send (outgoing → sending → sent → stored), ms. */
  stepMs?: number;
  now?: number;
}

export class FakeBackend {
  calls: string[] = [];
  /** What the next file dialog answers. */
  picked: PickedFile[] = [];
  rooms = new Map<string, MessageData[]>();
  outbox: Outgoing[] = [];
  presence = new Map<string, string[]>();
  /** Where this fake says its search hits come from. */
  searchSource: "server" | "cache" = "server";
  update: UpdateStatus = { state: "idle" };
  user = "alice";
  people: Profile[] = [
    { username: "alice", display_name: "Alice Liddell" },
    { username: "bob", display_name: null },
    { username: "carol", display_name: "Carol" },
  ];
  signedIn: boolean;
  offline: boolean;
  private emitFn: (e: Event) => void = () => {};
  private nextId = 1;
  private stepMs: number;

  constructor(opts: FakeOptions = {}) {
    this.signedIn = opts.signedIn ?? true;
    this.offline = opts.offline ?? false;
    this.stepMs = opts.stepMs ?? 0;
  }

  emit(e: Event): void {
    this.emitFn(e);
  }

  /** Stores a message as the server would, and tells the UI. */
  post(room: string, author: string, body: string, ts = Date.now(), id = `x${this.nextId++}`): MessageData {
    const list = this.rooms.get(room) ?? [];
    this.rooms.set(room, list);
    const m: MessageData = { room, seq: list.length + 1, id, author, body, ts };
    list.push(m);
    return m;
  }

  private later(fn: () => void): void {
    if (this.stepMs > 0) setTimeout(fn, this.stepMs);
    else queueMicrotask(fn);
  }

  /** The commands, shaped like src/api.ts. */
  readonly api: Api = {
    subscribe: async (on) => {
      this.calls.push("subscribe");
      this.emitFn = on;
    },
    snapshot: async (): Promise<Snapshot> => {
      this.calls.push("snapshot");
      return {
        account: this.signedIn ? { server: "127.0.0.1:8080", user: this.user, fallbacks: [] } : null,
        state: this.offline
          ? { state: "reconnecting", attempt: 3, retry_in_ms: 4000, retry_at_ms: Date.now() + 4000, reason: "connection refused" }
          : { state: "open", user: this.user },
        rooms: [...this.rooms.entries()].map(([name, l]) => ({ name, last_seq: l.length, visibility: null })),
        outbox: this.outbox.slice(),
        notice: null,
      };
    },
    signIn: async (server, username, _password, _remember, create, invite) => {
      this.calls.push(`signIn ${server} ${username}`);
      if (create) this.calls.push(`register invite=${invite}`);
      this.signedIn = true;
      this.user = username;
      return { server, user: username, fallbacks: [] };
    },
    signOut: async () => {
      this.calls.push("signOut");
      this.signedIn = false;
    },
    send: async (room, body, replyTo = null) => {
      this.calls.push(`send ${room} ${body}${replyTo ? ` ↪${replyTo}` : ""}`);
      const id = `c${this.nextId++}`;
      const o: Outgoing = { id, room, body, kind: "message", reply_to: replyTo, files: [], status: "queued", created_ms: Date.now() };
      this.outbox.push(o);
      this.emit({ type: "outgoing", ...o });
      if (!this.offline) this.deliver(o);
      return id;
    },
    pickFiles: async () => {
      this.calls.push("pickFiles");
      return this.picked.splice(0);
    },
    sendFiles: async (room, body, replyTo, tokens, pasted) => {
      this.calls.push(`sendFiles ${room} ${body} tokens=${tokens.join(",")} pasted=${pasted.map((p) => `${p.name}:${p.bytes.length}`).join(",")}`);
      const id = `c${this.nextId++}`;
      const files = [...tokens.map((t) => ({ name: `${t}.bin`, size: 10, mime: "application/octet-stream" })), ...pasted.map((p) => ({ name: p.name, size: p.bytes.length, mime: p.mime ?? "application/octet-stream" }))].map((f) => ({ ...f, sha256: "0".repeat(64), file_id: null }));
      const o: Outgoing = { id, room, body, kind: "message", reply_to: replyTo, files, status: "queued", created_ms: Date.now() };
      this.outbox.push(o);
      this.emit({ type: "outgoing", ...o });
      if (!this.offline) this.later(() => this.emit({ type: "uploading", id, room, sent: 5, total: 10 }));
      if (!this.offline) this.deliver(o);
      return id;
    },
    fileBytes: async (fileId, thumbnail) => {
      this.calls.push(`fileBytes ${fileId} ${thumbnail}`);
      return new Uint8Array([137, 80, 78, 71]).buffer;
    },
    saveFile: async (fileId, name) => {
      this.calls.push(`saveFile ${fileId} ${name}`);
      return true;
    },
    openFile: async (fileId, name) => {
      this.calls.push(`openFile ${fileId} ${name}`);
    },
    change: async (room, change) => {
      this.calls.push(`change ${room} ${JSON.stringify(change)}`);
      const o: Outgoing = { id: `c${this.nextId++}`, room, status: "queued", created_ms: Date.now(), ...change };
      this.outbox.push(o);
      this.emit({ type: "outgoing", ...o });
      if (!this.offline) this.later(() => this.applyChange(o));
      return o;
    },
    join: async (typed) => {
      const room = typed.replace(/^#/, "").toLowerCase();
      this.calls.push(`join ${room}`);
      if (!this.rooms.has(room)) this.rooms.set(room, []);
      this.presence.set(room, [this.user]);
      this.emit({ type: "presence", room, users: [this.user] });
      return room;
    },
    leave: async (room) => {
      this.calls.push(`leave ${room}`);
    },
    history: async (room, before, limit) => {
      this.calls.push(`history ${room} ${before} ${limit}`);
      const list = this.rooms.get(room) ?? [];
      const end = before === null ? list.length : Math.max(0, before - 1);
      return list.slice(Math.max(0, end - limit), end);
    },
    historyAt: async (room, at, limit) => {
      this.calls.push(`historyAt ${room} ${JSON.stringify(at)} ${limit}`);
      const list = this.rooms.get(room) ?? [];
      if ("after" in at) return list.filter((m) => m.seq > at.after).slice(0, limit);
      const older = list.filter((m) => m.seq <= at.around).slice(-(limit - Math.floor(limit / 2)));
      return older.concat(list.filter((m) => m.seq > at.around).slice(0, Math.floor(limit / 2)));
    },
    /** Whole words, any case, newest first; this fake's hits are all the server's. */
    search: async (query, _room, page, limit) => {
      this.calls.push(`search ${query}${page ? ` page=${page}` : ""}`);
      const words = query.toLowerCase().split(/\s+/).filter(Boolean);
      const all = [...this.rooms.values()].flat().filter((m) => words.every((w) => m.body.toLowerCase().split(/\W+/).includes(w)));
      all.sort((a, b) => b.ts - a.ts || b.seq - a.seq);
      const from = page ? Number(page) : 0;
      const hits = all.slice(from, from + limit).map((m) => {
        const highlights: [number, number][] = [];
        for (const w of words) {
          const at = m.body.toLowerCase().indexOf(w);
          if (at >= 0) highlights.push([at, at + w.length]);
        }
        highlights.sort((a, b) => a[0] - b[0]);
        return { room: m.room, seq: m.seq, author: m.author, body: m.body, ts: m.ts, highlights, source: this.searchSource };
      });
      const more = from + limit < all.length;
      return { hits, more, next: more ? String(from + limit) : null };
    },
    typing: async () => {},
    retryNow: async () => {
      this.calls.push("retryNow");
    },
    setUnread: async (count, mentions) => {
      this.calls.push(`setUnread ${count}${mentions ? ` @${mentions}` : ""}`);
    },
    conversation: async (request: Conversation) => {
      this.calls.push(`conversation ${JSON.stringify(request)}`);
      if (request.type === "dm") {
        const users = [this.user, ...request.users].sort();
        const room = `dm.${users.join("-")}`;
        if (!this.rooms.has(room)) this.rooms.set(room, []);
        this.later(() => this.emit({ type: "dm", room, users }));
      } else if (request.type === "create") {
        if (!this.rooms.has(request.room)) this.rooms.set(request.room, []);
      } else if (request.type === "members") {
        const members = [{ user: this.user, role: "owner" as const }, { user: "bob", role: "member" as const }];
        this.later(() => this.emit({ type: "members", room: request.room, members }));
      } else if (request.type === "read") {
        this.later(() => this.emit({ type: "read", room: request.room, seq: request.seq }));
      }
    },
    me: async () => this.people.find((p) => p.username === this.user) ?? null,
    setDisplayName: async (name) => {
      this.calls.push(`setDisplayName ${name}`);
      return { username: this.user, display_name: name || null };
    },
    searchUsers: async (query) =>
      this.people.filter((p) => p.username.startsWith(query.toLowerCase()) && p.username !== this.user),
    setMuteAll: async () => {},
    updateStatus: async () => this.update,
    checkUpdate: async () => {},
    installUpdate: async () => {},
    restartToUpdate: async () => {},
    painted: async () => {
      this.calls.push("painted");
    },
  };

  /** A change as the server stores it: its ack, then its event. */
  private applyChange(o: Outgoing): void {
    if (o.kind === "message") return;
    const list = this.rooms.get(o.room) ?? [];
    const target = list.find((m) => ("seq" in o.target ? m.seq === o.target.seq : m.id === o.target.queued));
    this.outbox = this.outbox.filter((x) => x.id !== o.id);
    if (!target) return;
    const base = { room: o.room, seq: 10_000 + this.nextId++, id: o.id, author: this.user, ts: Date.now(), target: target.seq };
    this.emit({ type: "sent", id: o.id, room: o.room, seq: base.seq });
    if (o.kind === "edit") {
      Object.assign(target, { body: o.body, edited_ts: base.ts });
      this.emit({ type: "edit", ...base, body: o.body });
    } else if (o.kind === "delete") {
      Object.assign(target, { body: "", deleted: true });
      this.emit({ type: "delete", ...base });
    } else {
      const users = (target.reactions?.[o.emoji] ?? []).filter((u) => u !== this.user);
      if (o.on) users.push(this.user);
      target.reactions = { ...target.reactions, [o.emoji]: users.sort() };
      this.emit({ type: "react", ...base, emoji: o.emoji, on: o.on });
    }
  }

  /** Sending → sent → the stored copy, a step apart, as the core reports them. */
  private deliver(o: Outgoing): void {
    if (o.kind !== "message") return;
    this.later(() => {
      this.emit({ type: "outgoing", ...o, status: "sending" });
      this.later(() => {
        this.outbox = this.outbox.filter((x) => x.id !== o.id);
        const stored = this.post(o.room, this.user, o.body, Date.now(), o.id);
        if (o.reply_to !== null) stored.reply_to = o.reply_to;
        if (o.files.length) stored.attachments = o.files.map((f, i) => ({ file_id: `${i}`.padStart(32, "f"), name: f.name, size: f.size, mime: f.mime }));
        this.emit({ type: "sent", id: o.id, room: o.room, seq: stored.seq });
        this.later(() => this.emit({ type: "message", ...stored }));
      });
    });
  }
}
