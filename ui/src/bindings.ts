// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:
// CONFAB_BLESS=1 cargo test -p confab-desktop --lib bindings

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
ts: number, };

export type ErrorCode = "invalid_json" | "unknown_type" | "bad_frame" | "bad_room" | "not_joined" | "body_too_long" | "empty_body" | "bad_id" | "rate_limited" | "binary_not_supported" | "storage_failed" | "resend_required" | "bad_request" | "invalid_credentials_format" | "username_taken" | "invalid_credentials" | "invalid_token" | "token_reused" | "forbidden" | "origin_not_allowed" | "payload_too_large" | "not_found" | "busy" | "internal" | "invite_required" | "registration_closed" | "unknown";

export type ConnState = { "state": "connecting", attempt: number, } | { "state": "open", user: string, } | { "state": "reconnecting", attempt: number, retry_in_ms: number, retry_at_ms: number, reason: string, } | { "state": "offline" } | { "state": "auth_failed", reason: string, };

export type Outgoing = { 
/**
 * The client-generated id: the message's idempotency key, and `id` of its `sent`.
 */
id: string, room: string, body: string, status: OutgoingStatus, 
/**
 * When it was written, Unix milliseconds.
 */
created_ms: number, };

export type OutgoingStatus = "queued" | "sending";

export type ClientCode = "network" | "not_signed_in" | "auth_failed" | "keyring_unavailable" | "outbox_full" | "storage" | "bad_server_url" | "bad_certificate" | "room_reset" | "closed" | "internal";

export type Code = ClientCode | ErrorCode;

export type Event = { "type": "state" } & ConnState | { "type": "message" } & MessageData | { "type": "synced", room: string, up_to: number, } | { "type": "outgoing" } & Outgoing | { "type": "sent", id: string, room: string, seq: number, } | { "type": "send_failed", id: string, room: string, code: ErrorCode, message: string, } | { "type": "typing", room: string, user: string, } | { "type": "presence", room: string, users: Array<string>, } | { "type": "error", code: Code, message: string, };

export type Account = { 
/**
 * The server, or the first node of several: it names the account.
 */
server: string, user: string, 
/**
 * The deployment's other nodes, tried in turn when the one in use cannot be reached.
 */
fallbacks: Array<string>, };

export type Snapshot = { account: Account | null, state: ConnState, rooms: Array<RoomView>, 
/**
 * Every message of the outbox, oldest first: a restarted app shows them in their rooms.
 */
outbox: Array<Outgoing>, notice: UiError | null, };

export type RoomView = { name: string, last_seq: number, };

export type AppCode = "no_update";

export type UiCode = Code | AppCode;

export type UiError = { code: UiCode, message: string, };

export type UpdateStatus = { "state": "idle" } | { "state": "checking" } | { "state": "up_to_date", version: string, } | { "state": "available", version: string, notes: string | null, } | { "state": "downloading", version: string, received: number, total: number | null, } | { "state": "ready", version: string, } | { "state": "failed", message: string, } | { "state": "unavailable", reason: string, };
