// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:
// CONFAB_BLESS=1 cargo test -p confab-desktop --lib bindings

export type Attachment = { file_id: string, name: string, size: number, mime: string, };

export type MessageData = { room: string, 
/**
 * Per-room sequence number: 1, 2, 3, … with no gaps, stable across server restarts.
 */
seq: number, 
/**
 * The client-generated id the author sent it with.
 */
id: string, author: string, 
/**
 * Plain text. Clients must render it as text, never as HTML.
 */
body: string, 
/**
 * Server time of storage, Unix milliseconds.
 */
ts: number, 
/**
 * Members the body mentions as `@name`, lower case.
 */
mentions?: Array<string>, 
/**
 * The seq of the message this one answers.
 */
reply_to?: number, 
/**
 * In `history`: when the body was last edited (Unix ms).
 */
edited_ts?: number, 
/**
 * Deleted: `body` is empty and never served again.
 */
deleted?: boolean, 
/**
 * In `history`: who reacted with what, users sorted.
 */
reactions?: { [key in string]: Array<string> }, 
/**
 * The files it carries (none once deleted).
 */
attachments?: Array<Attachment>, };

export type ErrorCode = "invalid_json" | "unknown_type" | "bad_frame" | "bad_room" | "not_joined" | "body_too_long" | "empty_body" | "bad_id" | "rate_limited" | "binary_not_supported" | "storage_failed" | "resend_required" | "bad_request" | "invalid_credentials_format" | "username_taken" | "invalid_credentials" | "invalid_token" | "token_reused" | "forbidden" | "origin_not_allowed" | "payload_too_large" | "not_found" | "busy" | "internal" | "room_exists" | "no_such_user" | "not_member" | "bad_target" | "bad_emoji" | "invite_required" | "registration_closed" | "bad_query" | "file_too_large" | "quota_exceeded" | "file_type_not_allowed" | "image_too_large" | "bad_attachment" | "unknown";

export type Visibility = "public" | "private" | "dm";

export type Role = "member" | "admin" | "owner";

export type MemberAction = "invited" | "kicked" | "parted" | "role";

export type MemberEvent = { room: string, seq: number, 
/**
 * Server-chosen id of the change.
 */
id: string, 
/**
 * Who made the change.
 */
author: string, ts: number, 
/**
 * Whom it is about.
 */
user: string, action: MemberAction, 
/**
 * With `role`: the role `user` has now.
 */
role?: Role, };

export type EditEvent = { room: string, seq: number, id: string, author: string, ts: number, target: number, body?: string, };

export type DeleteEvent = { room: string, seq: number, id: string, author: string, ts: number, target: number, };

export type ReactEvent = { room: string, seq: number, id: string, author: string, ts: number, target: number, emoji: string, on: boolean, };

export type MemberInfo = { user: string, role: Role, display_name?: string, };

export type SearchHit = { room: string, seq: number, author: string, body: string, ts: number, 
/**
 * The matched words of `body` as `[start, end)` ranges of characters (Unicode scalar
 * values, not bytes), ascending and not overlapping.
 */
highlights: Array<[number, number]>, };

export type RoomSummary = { room: string, visibility: Visibility, role: Role, last_seq: number, 
/**
 * The user's read position, the same on every device.
 */
read_seq: number, 
/**
 * Messages after `read_seq` written by others.
 */
unread: number, 
/**
 * How many of those mention the user.
 */
mentions: number, 
/**
 * For a dm: everyone in it, sorted.
 */
users?: Array<string>, };

export type Profile = { username: string, 
/**
 * The name shown beside the username; `null` when none was set.
 */
display_name: string | null, };

export type Conversation = { "type": "create", room: string, private: boolean, } | { "type": "invite", room: string, user: string, } | { "type": "kick", room: string, user: string, } | { "type": "part", room: string, } | { "type": "set_role", room: string, user: string, role: Role, } | { "type": "dm", users: Array<string>, } | { "type": "rooms" } | { "type": "members", room: string, } | { "type": "read", room: string, seq: number, };

export type ConnState = { "state": "connecting", attempt: number, } | { "state": "open", user: string, } | { "state": "reconnecting", attempt: number, retry_in_ms: number, retry_at_ms: number, reason: string, } | { "state": "offline" } | { "state": "auth_failed", reason: string, };

export type Outgoing = { 
/**
 * The client-generated id: the idempotency key, and `id` of its `sent`.
 */
id: string, room: string, status: OutgoingStatus, 
/**
 * When it was written, Unix milliseconds.
 */
created_ms: number, } & ({ "kind": "message", body: string, 
/**
 * The seq of the message this one answers, in the same room.
 */
reply_to: number | null, 
/**
 * Files it carries (staged on this disk; see `files`). The body may then be empty.
 */
files: Array<LocalFile>, } | { "kind": "edit", target: Target, body: string, } | { "kind": "delete", target: Target, } | { "kind": "react", target: Target, emoji: string, on: boolean, });

export type OutgoingStatus = "queued" | "sending";

export type Draft = { "kind": "message", body: string, 
/**
 * The seq of the message this one answers, in the same room.
 */
reply_to: number | null, 
/**
 * Files it carries (staged on this disk; see `files`). The body may then be empty.
 */
files: Array<LocalFile>, } | { "kind": "edit", target: Target, body: string, } | { "kind": "delete", target: Target, } | { "kind": "react", target: Target, emoji: string, on: boolean, };

export type Target = { "seq": number } | { "queued": string };

export type LocalFile = { 
/**
 * Lower-case hex SHA-256 of the bytes: the staged copy's name, and what the server's
 * answer is checked against.
 */
sha256: string, name: string, size: number, mime: string, 
/**
 * The server's id for it, once uploaded.
 */
file_id: string | null, };

export type ClientCode = "network" | "not_signed_in" | "auth_failed" | "keyring_unavailable" | "outbox_full" | "storage" | "bad_server_url" | "bad_certificate" | "room_reset" | "closed" | "internal";

export type Code = ClientCode | ErrorCode;

export type Event = { "type": "state" } & ConnState | { "type": "message" } & MessageData | { "type": "synced", room: string, up_to: number, } | { "type": "outgoing" } & Outgoing | { "type": "sent", id: string, room: string, seq: number, } | { "type": "uploading", id: string, room: string, sent: number, total: number, } | { "type": "withdrawn", id: string, room: string, } | { "type": "send_failed", id: string, room: string, code: ErrorCode, message: string, } | { "type": "typing", room: string, user: string, } | { "type": "presence", room: string, users: Array<string>, } | { "type": "member" } & MemberEvent | { "type": "edit" } & EditEvent | { "type": "delete" } & DeleteEvent | { "type": "react" } & ReactEvent | { "type": "room_added", room: string, visibility: Visibility, by: string, 
/**
 * For a dm: everyone in it.
 */
users: Array<string> | null, } | { "type": "room_removed", room: string, by: string | null, } | { "type": "invited", room: string, user: string, } | { "type": "changed", room: string, user: string, } | { "type": "dm", room: string, users: Array<string>, } | { "type": "rooms", rooms: Array<RoomSummary>, } | { "type": "members", room: string, members: Array<MemberInfo>, } | { "type": "read", room: string, seq: number, } | { "type": "error", code: Code, message: string, };

export type Account = { 
/**
 * The server, or the first node of several: it names the account.
 */
server: string, user: string, 
/**
 * The deployment's other nodes, tried in turn when the one in use cannot be reached.
 */
fallbacks: Array<string>, };

export type SearchSource = "server" | "cache";

export type Found = { source: SearchSource, room: string, seq: number, author: string, body: string, ts: number, 
/**
 * The matched words of `body` as `[start, end)` ranges of characters (Unicode scalar
 * values, not bytes), ascending and not overlapping.
 */
highlights: Array<[number, number]>, };

export type SearchResults = { hits: Array<Found>, 
/**
 * Older hits exist: ask again with `next` as the page.
 */
more: boolean, next: string | null, };

export type Snapshot = { account: Account | null, state: ConnState, rooms: Array<RoomView>, 
/**
 * Every message of the outbox, oldest first: a restarted app shows them in their rooms.
 */
outbox: Array<Outgoing>, notice: UiError | null, };

export type RoomView = { name: string, last_seq: number, 
/**
 * `null` until the server said (a room from before conversations: public).
 */
visibility: Visibility | null, };

export type AppCode = "no_update";

export type UiCode = Code | AppCode;

export type UiError = { code: UiCode, message: string, };

export type UpdateStatus = { "state": "idle" } | { "state": "checking" } | { "state": "up_to_date", version: string, } | { "state": "available", version: string, notes: string | null, } | { "state": "downloading", version: string, received: number, total: number | null, } | { "state": "ready", version: string, } | { "state": "failed", message: string, } | { "state": "unavailable", reason: string, };

export type PickedFile = { token: string, name: string, size: number, };
