// The backend's commands, typed. Every call rejects with a UiError {code, message}.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { Account, Conversation, Draft, Event, MessageData, Outgoing, PickedFile, Profile, SearchResults, Snapshot, UiError, UpdateStatus } from "./types";

/** A file the page holds (pasted), as the backend takes it. */
export interface Pasted {
  name: string;
  mime: string | null;
  bytes: number[];
}

export function asUiError(e: unknown): UiError {
  if (e && typeof e === "object" && "message" in e && "code" in e) return e as UiError;
  return { code: "internal", message: String(e) };
}

export const api = {
  /** Streams events (the backend sends them in batches); call before snapshot() so nothing
   * falls in between. */
  subscribe(onEvent: (e: Event) => void): Promise<void> {
    const channel = new Channel<Event[]>();
    channel.onmessage = (batch) => batch.forEach(onEvent);
    return invoke("subscribe", { onEvent: channel });
  },
  snapshot: () => invoke<Snapshot>("snapshot"),
  signIn: (server: string, username: string, password: string, remember: boolean, create: boolean, invite: string) =>
    invoke<Account>("sign_in", { server, username, password, remember, create, invite: invite || null }),
  signOut: () => invoke<void>("sign_out"),
  /** Hands a message to the core's outbox; resolves to its id. Its row comes from the events
   * (`outgoing`, then `sent` or `send_failed`), never from this reply. */
  send: (room: string, body: string, replyTo: number | null = null) =>
    invoke<string>("send_message", { room, body, replyTo }),
  /** The system's file dialog; the files chosen, by token (the page never names a path). */
  pickFiles: () => invoke<PickedFile[]>("pick_files"),
  /** A message with files: chosen ones by token, pasted ones by their bytes. */
  sendFiles: (room: string, body: string, replyTo: number | null, tokens: string[], pasted: Pasted[]) =>
    invoke<string>("send_files", { room, body, replyTo, tokens, pasted }),
  /** A file's bytes, or its thumbnail's (raw, not JSON). */
  fileBytes: (fileId: string, thumbnail: boolean) => invoke<ArrayBuffer>("file_bytes", { fileId, thumbnail }),
  /** The save dialog, then the download; false if cancelled. */
  saveFile: (fileId: string, name: string) => invoke<boolean>("save_file", { fileId, name }),
  /** Downloads (once) and opens the file with the system's program. */
  openFile: (fileId: string, name: string) => invoke<void>("open_file", { fileId, name }),
  /** Hands an edit, deletion or reaction to the same outbox; what it did comes as events. */
  change: (room: string, change: Draft) => invoke<Outgoing>("change_message", { room, change }),
  /** Joins a room by the name the user typed; resolves to its name (`#General` is `general`). */
  join: (room: string) => invoke<string>("join_room", { room }),
  leave: (room: string) => invoke<void>("leave_room", { room }),
  history: (room: string, before: number | null, limit: number) =>
    invoke<MessageData[]>("history", { room, before, limit }),
  /** A page away from the newest: `after` a seq (down from a jump) or `around` one (a jump). */
  historyAt: (room: string, at: { after: number } | { around: number }, limit: number) =>
    invoke<MessageData[]>("history", { room, ...at, limit }),
  /** The user's rooms searched: by the server online, the cache offline (each hit says). */
  search: (query: string, room: string | null, page: string | null, limit: number) =>
    invoke<SearchResults>("search", { query, room, page, limit }),
  typing: (room: string) => invoke<void>("typing", { room }),
  retryNow: () => invoke<void>("retry_now"),
  setUnread: (count: number, mentions: number) => invoke<void>("set_unread", { count, mentions }),
  /** Rooms and members: create, invite, kick, part, set_role, dm, rooms, members, read. What it
   * did comes as events. */
  conversation: (request: Conversation) => invoke<void>("conversation", { request }),
  me: () => invoke<Profile | null>("me"),
  setDisplayName: (name: string) => invoke<Profile | null>("set_display_name", { name }),
  searchUsers: (query: string) => invoke<Profile[]>("search_users", { query }),
  setMuteAll: (muted: boolean) => invoke<void>("set_mute_all", { muted }),
  updateStatus: () => invoke<UpdateStatus>("update_status"),
  checkUpdate: (silent: boolean) => invoke<void>("check_update", { silent }),
  installUpdate: () => invoke<void>("install_update"),
  restartToUpdate: () => invoke<void>("restart_to_update"),
  /** The first frame is on screen (logged by the backend: the startup figure). */
  painted: () => invoke<void>("painted"),
};

export type Api = typeof api;
