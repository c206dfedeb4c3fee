// The shapes of the Rust types the UI receives (confab-client's Event and ConnState,
// confab-protocol's MessageData, the app's Snapshot and UiError).
// TODO(issue 4): generate these from the Rust types with ts-rs and test that they are fresh.

export interface MessageData {
  room: string;
  seq: number;
  id: string;
  author: string;
  body: string;
  ts: number;
}

export type ConnState =
  | { state: "connecting"; attempt: number }
  | { state: "open"; user: string }
  | { state: "reconnecting"; attempt: number; retry_in_ms: number; retry_at_ms: number; reason: string }
  | { state: "offline" }
  | { state: "auth_failed"; reason: string };

export type Event =
  | ({ type: "state" } & ConnState)
  | ({ type: "message" } & MessageData)
  | { type: "synced"; room: string; up_to: number }
  | { type: "sent"; id: string; room: string; seq: number }
  | { type: "send_failed"; id: string; room: string; code: string; message: string }
  | { type: "outbox"; queued: number }
  | { type: "typing"; room: string; user: string }
  | { type: "presence"; room: string; users: string[] }
  | { type: "error"; code: string; message: string };

export interface Account {
  server: string;
  user: string;
}

export interface Snapshot {
  account: Account | null;
  state: ConnState;
  rooms: { name: string; last_seq: number }[];
  queued: number;
  notice: UiError | null;
}

export interface UiError {
  code: string;
  message: string;
}
