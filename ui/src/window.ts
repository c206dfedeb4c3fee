// Which of a room's messages are in the DOM: a window of at most MAX_ROWS rows that slides
// up as the user scrolls back and down again as they return, so a long scroll-back never grows
// the page. The window's lower edge is a message (not an index): history loaded above it and
// live messages arriving below it leave the rows on screen where they are.
import type { ChatMessage } from "./model";

/** Rows added or dropped per step. */
export const STEP = 300;
/** Most rows in the DOM at once. */
export const MAX_ROWS = 2 * STEP;

/** `rows` drawn, ending at the message keyed `end` (null: the newest; the view follows it). */
export type View = { rows: number; end: string | null };

export const newest = (): View => ({ rows: STEP, end: null });

export const key = (m: ChatMessage): string => `${m.author}/${m.id}`;

/** The [start, end) slice of `msgs` the view draws. */
export function range(msgs: ChatMessage[], v: View): [number, number] {
  let end = msgs.length;
  if (v.end !== null) {
    for (let i = msgs.length - 1; i >= 0; i--) {
      if (key(msgs[i]) === v.end) {
        end = i + 1;
        break;
      }
    }
  }
  return [Math.max(0, end - v.rows), end];
}

function endingAt(msgs: ChatMessage[], rows: number, end: number): View {
  return { rows, end: end >= msgs.length ? null : key(msgs[end - 1]) };
}

/** One step back in time; null when the oldest loaded message is drawn (load history). */
export function older(msgs: ChatMessage[], v: View): View | null {
  const [start, end] = range(msgs, v);
  if (start === 0) return null;
  if (v.rows < MAX_ROWS) return { rows: Math.min(MAX_ROWS, v.rows + STEP), end: v.end };
  return endingAt(msgs, v.rows, Math.max(v.rows, end - STEP));
}

/** One step forward in time; null when the newest message is drawn already. */
export function newer(msgs: ChatMessage[], v: View): View | null {
  if (v.end === null) return null;
  const [, end] = range(msgs, v);
  return endingAt(msgs, v.rows, end + STEP);
}
