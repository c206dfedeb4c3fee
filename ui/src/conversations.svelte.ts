// The conversation side of the window's controller: the "new dm" and "new private room"
// dialogs with their user search, the members panel (invite, kick, roles, leave), the
// notification level of a room, and the user's display name. It asks the backend and lets the
// core's events (rooms, members, dm, room_added/removed) change the model, like everything else.
import type { Api } from "./api";
import type { Level } from "./notify";
import type { Profile, Role } from "./types";

export type Dialog = "dm" | "private" | "profile" | null;

/** What the conversation controller needs from the chat controller. */
export interface Host {
  api: Api;
  current(): string | null;
  select(room: string): void;
  setLevel(room: string, level: Level): void;
  fail(e: unknown): void;
}

export class Conversations {
  dialog = $state<Dialog>(null);
  found = $state.raw<Profile[]>([]);
  membersOpen = $state(false);
  displayName = $state<string | null>(null);
  /** A dm asked for: opened when the server names its room. */
  private awaitingDm = false;
  private searchSeq = 0;

  constructor(private host: Host) {}

  open(d: Dialog): void {
    this.found = [];
    this.dialog = d;
  }

  close(): void {
    this.dialog = null;
  }

  /** Users whose name or display name starts with `query`; a late answer never overwrites a
   * newer one. */
  async search(query: string): Promise<void> {
    const seq = ++this.searchSeq;
    const q = query.trim();
    const found = q ? await this.host.api.searchUsers(q).catch(() => []) : [];
    if (seq === this.searchSeq) this.found = found;
  }

  async openDm(users: string[]): Promise<void> {
    if (users.length === 0) return;
    this.awaitingDm = true;
    this.dialog = null;
    await this.ask({ type: "dm", users });
  }

  /** Creates a private room and invites `users` to it (the server takes them in order). */
  async createPrivate(name: string, users: string[]): Promise<void> {
    const room = name.trim().replace(/^#/, "").toLowerCase();
    if (!room) return;
    this.dialog = null;
    if (!(await this.ask({ type: "create", room, private: true }))) return;
    for (const user of users) await this.ask({ type: "invite", room, user });
    this.host.select(room);
  }

  /** The core said which room a dm is: open it if we asked for one. */
  dmReady(room: string): void {
    if (!this.awaitingDm) return;
    this.awaitingDm = false;
    this.host.select(room);
  }

  toggleMembers(): void {
    this.membersOpen = !this.membersOpen;
    if (this.membersOpen) this.loadMembers();
  }

  /** Asks for the open room's members (the answer comes as an event): for the panel, and
   * for the display names beside the authors. Quietly: offline, the names wait. */
  loadMembers(): void {
    const room = this.host.current();
    if (room) void this.host.api.conversation({ type: "members", room }).catch(() => {});
  }

  async invite(user: string): Promise<void> {
    const room = this.host.current();
    if (room && user.trim()) await this.ask({ type: "invite", room, user: user.trim() });
    this.loadMembers();
  }

  async kick(user: string): Promise<void> {
    const room = this.host.current();
    if (room) await this.ask({ type: "kick", room, user });
    this.loadMembers();
  }

  async setRole(user: string, role: Role): Promise<void> {
    const room = this.host.current();
    if (room) await this.ask({ type: "set_role", room, user, role });
    this.loadMembers();
  }

  /** Leaves the open room on every device (the core's `room_removed` takes it away). */
  async part(): Promise<void> {
    const room = this.host.current();
    if (room) await this.ask({ type: "part", room });
    this.membersOpen = false;
  }

  setLevel(level: Level): void {
    const room = this.host.current();
    if (room) this.host.setLevel(room, level);
  }

  async loadProfile(): Promise<void> {
    const me = await this.host.api.me().catch(() => null);
    this.displayName = me?.display_name ?? null;
  }

  async saveDisplayName(name: string): Promise<void> {
    this.dialog = null;
    try {
      const me = await this.host.api.setDisplayName(name.trim());
      this.displayName = me?.display_name ?? null;
    } catch (e) {
      this.host.fail(e);
    }
  }

  private async ask(request: Parameters<Api["conversation"]>[0]): Promise<boolean> {
    try {
      await this.host.api.conversation(request);
      return true;
    } catch (e) {
      this.host.fail(e);
      return false;
    }
  }
}
