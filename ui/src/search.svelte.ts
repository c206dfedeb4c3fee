// The search side of the window's controller: the search box (Ctrl+F), its results grouped by
// room, and the jump to a hit — the room opened at that message with its neighbours loaded,
// and the way back down to the newest messages afterwards.
import type { Api } from "./api";
import { type Model, addStored, backToPresent, fillGap, placeWindow, room as roomOf } from "./model";
import type { Found } from "./types";

/** Hits per page of results, and messages per page around a jump. */
const HITS = 20;
const AROUND = 60;

/** What the search controller needs from the chat controller. */
export interface Host {
  api: Api;
  model(): Model;
  select(room: string): void;
  /** The model changed in the open room: draw it. */
  refresh(): void;
  fail(e: unknown): void;
}

/** The hits of one room, newest first. */
export interface HitGroup {
  room: string;
  hits: Found[];
}

export class Search {
  open = $state(false);
  query = $state("");
  groups = $state.raw<HitGroup[]>([]);
  more = $state(false);
  busy = $state(false);
  /** Some hits came from this device's cache (the server could not be asked). */
  fromCache = $state(false);
  /** The message to show, and a counter that changes with every jump (the list scrolls to it). */
  focus = $state.raw<{ seq: number; n: number } | null>(null);
  private next: string | null = null;
  private found: Found[] = [];
  /** Counts searches: a late answer to an older one is dropped. */
  private asked = 0;

  constructor(private host: Host) {}

  show(): void {
    this.open = true;
  }

  close(): void {
    this.open = false;
  }

  /** Runs the query from the start. */
  async run(query: string): Promise<void> {
    this.query = query;
    this.found = [];
    this.next = null;
    if (!query.trim()) {
      this.publish(false);
      return;
    }
    await this.page();
  }

  /** The next page of the same search. */
  async loadMore(): Promise<void> {
    if (this.next && !this.busy) await this.page();
  }

  private async page(): Promise<void> {
    const n = ++this.asked;
    this.busy = true;
    try {
      const r = await this.host.api.search(this.query, null, this.next, HITS);
      if (n !== this.asked) return;
      this.found = this.found.concat(r.hits);
      this.next = r.next;
      this.publish(r.more);
    } catch (e) {
      if (n === this.asked) this.host.fail(e);
    } finally {
      if (n === this.asked) this.busy = false;
    }
  }

  private publish(more: boolean): void {
    const groups = new Map<string, Found[]>();
    for (const f of this.found) groups.set(f.room, [...(groups.get(f.room) ?? []), f]);
    this.groups = [...groups].map(([room, hits]) => ({ room, hits }));
    this.more = more;
    this.fromCache = this.found.some((f) => f.source === "cache");
  }

  /** Opens the hit's room at the hit: its neighbours loaded around it, the row shown. */
  async jump(hit: Found): Promise<void> {
    const m = this.host.model();
    this.host.select(hit.room);
    const r = roomOf(m, hit.room);
    // A jump from one far-back window to a newer message starts from the present again.
    if (r.gapAfter !== null && hit.seq > r.gapAfter) backToPresent(r);
    try {
      if (!r.seqs.has(hit.seq)) {
        // The newest page first (a room opened just now has nothing yet), so the window
        // knows whether it touches what is loaded.
        if (r.oldestLoaded === null) addStored(m, await this.host.api.history(hit.room, null, AROUND));
        if (!r.seqs.has(hit.seq)) placeWindow(m, r, await this.host.api.historyAt(hit.room, { around: hit.seq }, AROUND));
      }
    } catch (e) {
      this.host.fail(e);
    }
    this.host.refresh();
    this.focus = { seq: hit.seq, n: (this.focus?.n ?? 0) + 1 };
  }

  /** The view reached the end of a jump's window: the next page towards the present. */
  async pageDown(name: string): Promise<void> {
    const r = this.host.model().rooms.get(name);
    const gap = r?.gapAfter ?? null;
    if (!r || gap === null || this.busy) return;
    this.busy = true;
    try {
      fillGap(this.host.model(), r, await this.host.api.historyAt(r.name, { after: gap }, AROUND), AROUND);
      this.host.refresh();
    } catch (e) {
      this.host.fail(e);
    } finally {
      this.busy = false;
    }
  }

  /** Leaves a jump's window for the newest messages. */
  async toPresent(name: string): Promise<void> {
    const r = this.host.model().rooms.get(name);
    if (!r) return;
    backToPresent(r);
    try {
      addStored(this.host.model(), await this.host.api.history(r.name, null, AROUND));
    } catch (e) {
      this.host.fail(e);
    }
    this.host.refresh();
  }
}
