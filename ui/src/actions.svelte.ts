// What the user does to messages, for the window's controller: reply to one, edit one (Up
// arrow edits the newest of ours), delete one, react to one. Every change goes to the core's
// outbox (`change_message`), which delivers it once, in order, offline too; what the views draw
// comes from the core's events, never from these calls' answers.
import type { Api } from "./api";
import { lastOwn, reacted, targetOf } from "./changes";
import type { ChatMessage } from "./model";
import type { Draft } from "./types";

/** What the actions need from the chat controller. */
export interface ActionHost {
  api: Api;
  current(): string | null;
  user(): string | null;
  /** The open room's rows as drawn. */
  rows(): ChatMessage[];
  fail(e: unknown): void;
}

export class MessageActions {
  /** The message the composer answers, shown above it. */
  replyTo = $state.raw<ChatMessage | null>(null);
  /** The message the composer edits (its text is in the box). */
  editing = $state.raw<ChatMessage | null>(null);
  /** Bumped to ask the composer to take the focus (a reply or an edit started). */
  focus = $state(0);

  constructor(private host: ActionHost) {}

  reply(msg: ChatMessage): void {
    this.editing = null;
    this.replyTo = msg;
    this.focus++;
  }

  edit(msg: ChatMessage): void {
    if (msg.author !== this.host.user()) return;
    this.replyTo = null;
    this.editing = msg;
    this.focus++;
  }

  /** Up arrow in an empty composer. Returns whether there was a message to edit. */
  editLast(): boolean {
    const last = lastOwn(this.host.rows(), this.host.user());
    if (last) this.edit(last);
    return last !== null;
  }

  /** Esc: no reply, no edit. */
  cancel(): void {
    this.replyTo = null;
    this.editing = null;
  }

  /** The seq the next message answers (taken once it is sent). */
  takeReply(): number | null {
    const to = this.replyTo?.seq ?? null;
    this.replyTo = null;
    return to;
  }

  /** Saves the edit in the box; an unchanged text changes nothing. */
  async save(body: string): Promise<boolean> {
    const msg = this.editing;
    if (!msg) return false;
    if (!body.trim()) return false;
    // Refused, the edit stays in the box (the reason is shown with the errors).
    const saved = body === msg.body || (await this.change(msg, { kind: "edit", target: targetOf(msg), body }));
    if (saved && this.editing?.key === msg.key) this.editing = null;
    return saved;
  }

  async remove(msg: ChatMessage): Promise<boolean> {
    if (this.editing?.key === msg.key) this.editing = null;
    if (this.replyTo?.key === msg.key) this.replyTo = null;
    return this.change(msg, { kind: "delete", target: targetOf(msg) });
  }

  /** Adds our reaction `emoji`, or takes it back if it is there (a chip's click). */
  async react(msg: ChatMessage, emoji: string): Promise<boolean> {
    const on = !reacted(msg, this.host.user(), emoji);
    return this.change(msg, { kind: "react", target: targetOf(msg), emoji, on });
  }

  private async change(msg: ChatMessage, draft: Draft): Promise<boolean> {
    try {
      await this.host.api.change(msg.room, draft);
      return true;
    } catch (e) {
      this.host.fail(e);
      return false;
    }
  }
}
