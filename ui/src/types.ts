// The UI's view of the backend's types. Everything that crosses from Rust is generated
// (bindings.ts, checked fresh by a Rust test); nothing here re-declares a Rust type.
export type {
  Account,
  Code,
  ConnState,
  Conversation,
  Draft,
  ErrorCode,
  Event,
  MemberInfo,
  MessageData,
  Outgoing,
  OutgoingStatus,
  Profile,
  Role,
  RoomSummary,
  RoomView,
  Snapshot,
  Target,
  UiError,
  UpdateStatus,
  Visibility,
} from "./bindings";
