// Attachments in the window: what the composer holds for each room before it is sent (files
// chosen in the dialog or dropped on the window, known by a token; images pasted from the
// clipboard, held as bytes), and images of messages as blob URLs, fetched once through the
// backend (the page never talks to the server, and never names a path).
import type { Api, Pasted } from "./api";
import type { Attachment, PickedFile } from "./types";

/** A file waiting in the composer. */
export type Chosen =
  | { key: string; name: string; size: number; token: string }
  | { key: string; name: string; size: number; pasted: Pasted; preview: string };

/** What the files controller needs from the chat controller. */
export interface Host {
  api: Api;
  current(): string | null;
  fail(e: unknown): void;
  /** Makes a blob URL (URL.createObjectURL in the window). */
  blobUrl(bytes: ArrayBuffer, mime: string): string;
  revoke(url: string): void;
}

/** Most files on one message (the protocol's MAX_ATTACHMENTS). */
export const MAX_FILES = 10;

export class Files {
  /** The composer's files, per room. */
  chosen = $state.raw<Record<string, Chosen[]>>({});
  /** The image shown full size, if any. */
  viewing = $state.raw<{ attachment: Attachment; url: string | null } | null>(null);
  private urls = new Map<string, Promise<string>>();
  private next = 0;

  constructor(private host: Host) {}

  /** The attach button. */
  async pick(): Promise<void> {
    try {
      this.add((await this.host.api.pickFiles()).map((f) => this.fromPicked(f)));
    } catch (e) {
      this.host.fail(e);
    }
  }

  /** Files dropped on the window (the backend remembered them). */
  dropped(files: PickedFile[]): void {
    this.add(files.map((f) => this.fromPicked(f)));
  }

  /** Files pasted into the composer (a screenshot from the clipboard). */
  async paste(files: File[]): Promise<void> {
    const read = await Promise.all(
      files.map(async (f) => {
        const buffer = await f.arrayBuffer();
        const name = f.name && f.name !== "image.png" ? f.name : `pasted-${stamp()}.${extension(f.type)}`;
        const pasted: Pasted = { name, mime: f.type || null, bytes: Array.from(new Uint8Array(buffer)) };
        const preview = f.type.startsWith("image/") ? this.host.blobUrl(buffer, f.type) : "";
        return { key: `p${this.next++}`, name, size: f.size, pasted, preview };
      }),
    );
    this.add(read);
  }

  remove(room: string, key: string): void {
    const gone = (this.chosen[room] ?? []).find((c) => c.key === key);
    if (gone && "preview" in gone && gone.preview) this.host.revoke(gone.preview);
    this.chosen = { ...this.chosen, [room]: (this.chosen[room] ?? []).filter((c) => c.key !== key) };
  }

  /** Sends a message with the room's files (a plain one without). The composer's list is
   * emptied at once; it comes back if the core does not take the message (the call throws). */
  async send(room: string, body: string, replyTo: number | null): Promise<void> {
    const files = this.chosen[room] ?? [];
    if (!files.length) {
      await this.host.api.send(room, body, replyTo);
      return;
    }
    this.chosen = { ...this.chosen, [room]: [] };
    const tokens = files.flatMap((f) => ("token" in f ? [f.token] : []));
    const pasted = files.flatMap((f) => ("pasted" in f ? [f.pasted] : []));
    try {
      await this.host.api.sendFiles(room, body, replyTo, tokens, pasted);
    } catch (e) {
      this.chosen = { ...this.chosen, [room]: [...files, ...(this.chosen[room] ?? [])] };
      throw e;
    }
  }

  /** A blob URL of an image attachment (its thumbnail unless `full`), fetched once. */
  image(a: Attachment, full = false): Promise<string> {
    const key = `${a.file_id}:${full}`;
    let url = this.urls.get(key);
    if (!url) {
      url = this.host.api.fileBytes(a.file_id, !full).then((bytes) => this.host.blobUrl(bytes, full ? a.mime : "image/png"));
      url.catch(() => this.urls.delete(key)); // not cached: the next look tries again
      this.urls.set(key, url);
    }
    return url;
  }

  /** Shows the image full size. */
  async view(a: Attachment): Promise<void> {
    this.viewing = { attachment: a, url: null };
    try {
      const url = await this.image(a, true);
      if (this.viewing?.attachment === a) this.viewing = { attachment: a, url };
    } catch (e) {
      this.viewing = null;
      this.host.fail(e);
    }
  }

  closeViewer(): void {
    this.viewing = null;
  }

  async save(a: Attachment): Promise<void> {
    await this.host.api.saveFile(a.file_id, a.name).catch((e) => this.host.fail(e));
  }

  async open(a: Attachment): Promise<void> {
    await this.host.api.openFile(a.file_id, a.name).catch((e) => this.host.fail(e));
  }

  private fromPicked(f: PickedFile): Chosen {
    return { key: f.token, name: f.name, size: f.size, token: f.token };
  }

  private add(files: Chosen[]): void {
    const room = this.host.current();
    if (!room || files.length === 0) return;
    const all = [...(this.chosen[room] ?? []), ...files];
    if (all.length > MAX_FILES) this.host.fail({ code: "bad_attachment", message: `A message carries at most ${MAX_FILES} files.` });
    this.chosen = { ...this.chosen, [room]: all.slice(0, MAX_FILES) };
  }
}

function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
}

function extension(mime: string): string {
  return { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" }[mime] ?? "bin";
}

/** A size as people read it: 512 B, 1.5 KB, 25 MB. */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
