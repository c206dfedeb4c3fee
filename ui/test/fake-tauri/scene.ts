// Canned rooms for looking at the UI in a browser: ?scene=chat (default), offline, signin,
// update. Only for test/vite.config.ts; never part of the built app.
import type { Event } from "../../src/types";
import { FakeBackend } from "../fake-backend";

const MIN = 60_000;

export function scene(name: string | null): FakeBackend {
  const now = Date.now();
  const fake = new FakeBackend({ signedIn: name !== "signin", offline: name === "offline", stepMs: 400 });
  const yesterday = now - 26 * 60 * MIN;
  fake.post("general", "bob", "Morning all! Did anyone look at the release notes?", yesterday);
  fake.post("general", "bob", "The draft is in the usual place.", yesterday + MIN);
  fake.post("general", "carol", "Reading them now. Looks good so far.", yesterday + 20 * MIN);
  fake.post("general", "alice", "I'll add the part about the outbox.", yesterday + 22 * MIN);
  fake.post("general", "dan", "<img src=x onerror=alert(1)> <b>bold?</b> stays text, as it should", now - 50 * MIN);
  fake.post("general", "carol", "docs at https://example.org/guide", now - 12 * MIN);
  fake.post("general", "carol", "and the protocol is in docs/protocol.md\nwith the wire types.", now - 11 * MIN);
  fake.post("general", "bob", "Thanks! Shipping it this afternoon.", now - 3 * MIN);
  fake.post("general", "alice", "hello from the app", now - 2 * MIN);
  for (let i = 1; i <= 2000; i++) fake.post("big", i % 7 === 0 ? "carol" : "bob", `message ${i}`, now - (2000 - i) * 20_000);
  fake.post("random", "dan", "lunch?", now - 90 * MIN);
  fake.rooms.set("design", []);
  fake.presence.set("general", ["alice", "bob", "carol"]);
  if (name === "offline") {
    fake.outbox = [
      { id: "q1", room: "general", body: "typed while offline", kind: "message", reply_to: null, files: [], status: "queued", created_ms: now - 20_000 },
      { id: "q2", room: "general", body: "and a second one", kind: "message", reply_to: null, files: [], status: "queued", created_ms: now - 10_000 },
    ];
  }
  if (name === "update") fake.update = { state: "available", version: "0.2.0", notes: null };

  // Once the window has subscribed: presence, someone typing, news in other rooms.
  const subscribe = fake.api.subscribe;
  fake.api.subscribe = async (on) => {
    await subscribe(on);
    setTimeout(() => {
      const emit = (e: Event) => fake.emit(e);
      emit({ type: "presence", room: "general", users: ["alice", "bob", "carol"] });
      for (const body of ["anyone around?", "the build is green again", "cake in the kitchen"]) {
        emit({ type: "message", ...fake.post("random", "erin", body, Date.now()) });
      }
      emit({ type: "message", ...fake.post("design", "frank", "new mockups are up", Date.now()) });
      emit({ type: "typing", room: "general", user: "carol" });
      if (name === "offline") {
        emit({ type: "error", code: "keyring_unavailable", message: "The system keyring is locked; Confab will try again when it opens." });
        emit({ type: "outgoing", id: "f1", room: "general", body: "x".repeat(60), kind: "message", reply_to: null, files: [], status: "queued", created_ms: Date.now() });
        emit({ type: "send_failed", id: "f1", room: "general", code: "body_too_long", message: "That message is longer than the server allows." });
      }
    }, 300);
  };
  return fake;
}
