// Stands in for @tauri-apps/api/core in test/vite.config.ts: the app's commands go to a
// FakeBackend with canned rooms.
import type { Event } from "../../src/types";
import { scene } from "./scene";

const fake = scene(new URLSearchParams(location.search).get("scene"));
(globalThis as { confabFake?: unknown }).confabFake = fake;

export class Channel<T> {
  onmessage: (message: T) => void = () => {};
}

type Args = Record<string, never>;

export async function invoke<T>(cmd: string, args: Args = {}): Promise<T> {
  const a = fake.api;
  const result = await (async (): Promise<unknown> => {
    switch (cmd) {
      case "subscribe": {
        const channel = args.onEvent as unknown as Channel<Event[]>;
        return a.subscribe((e) => channel.onmessage([e]));
      }
      case "snapshot": return a.snapshot();
      case "sign_in": return a.signIn(args.server, args.username, args.password, args.remember, args.create, args.invite ?? "");
      case "sign_out": return a.signOut();
      case "send_message": return a.send(args.room, args.body, args.replyTo ?? null);
      case "change_message": return a.change(args.room, args.change);
      case "join_room": return a.join(args.room);
      case "leave_room": return a.leave(args.room);
      case "history": return a.history(args.room, args.before, args.limit);
      case "typing": return a.typing(args.room);
      case "retry_now": return a.retryNow();
      case "set_unread": return a.setUnread(args.count, args.mentions ?? 0);
      case "conversation": return a.conversation(args.request);
      case "me": return a.me();
      case "set_display_name": return a.setDisplayName(args.name);
      case "search_users": return a.searchUsers(args.query);
      case "set_mute_all": return a.setMuteAll(args.muted);
      case "update_status": return a.updateStatus();
      case "check_update": return a.checkUpdate(args.silent);
      case "install_update": return a.installUpdate();
      case "restart_to_update": return a.restartToUpdate();
      case "painted": return a.painted();
      default: throw { code: "internal", message: `no command ${cmd}` };
    }
  })();
  return result as T;
}
