// Message text as formatted DOM: a Markdown subset (bold, italic, strikethrough, inline code,
// fenced code blocks, block quotes, lists, links and bare URLs) parsed by markdown-it with raw
// HTML off, and turned into elements one token at a time. Text only ever becomes text nodes —
// nothing here assigns innerHTML — and a link is kept only for http(s) and mailto addresses
// (the window's click handler opens http(s) in the system browser).
import type MarkdownIt from "markdown-it";
import type Token from "markdown-it/lib/token.mjs";

/** Token types (without `_open`/`_close`) and the element each becomes. */
const TAGS: Record<string, string> = {
  paragraph: "p",
  bullet_list: "ul",
  ordered_list: "ol",
  list_item: "li",
  blockquote: "blockquote",
  strong: "strong",
  em: "em",
  s: "s",
  link: "a",
};

const SAFE_HREF = /^(https?:\/\/|mailto:)/i;

/** One line with nothing Markdown or the link finder would act on: most chat messages. They
 * skip the parser (a room opens with dozens of rows drawn at once); a test checks both ways
 * draw the same. */
const PLAIN = /^[^\n\r`*_~[\]<>&\\!|:]*$/;
const NOT_PLAIN_START = /^\s*([-+>#]|\d+[.)]|$)/;

/** The parser, once its chunk is loaded: not before the first message that needs it, so the
 * sign-in form and a room of plain lines never load it (it is half of the UI's script). */
let md: MarkdownIt | null = null;
let loading: Promise<void> | null = null;
/** Rows drawn as plain text while the parser loads, drawn again once it is there. */
const waiting = new Map<HTMLElement, string>();

/** Loads the parser (once); resolves when messages can be formatted. */
export function loadMarkdown(): Promise<void> {
  loading ??= import("./markdown-parser").then((m) => {
    md = m.md;
    for (const [node, text] of waiting) if (node.isConnected) renderMarkdown(node, text);
    waiting.clear();
  });
  return loading;
}

/** Renders `text` into `into` (emptied first). */
export function renderMarkdown(into: HTMLElement, text: string): void {
  into.replaceChildren();
  waiting.delete(into);
  const doc = into.ownerDocument;
  if (PLAIN.test(text) && !NOT_PLAIN_START.test(text)) {
    const p = doc.createElement("p");
    p.textContent = text.trim();
    into.append(p);
    return;
  }
  if (!md) {
    // Until the parser is here: the text as it is, line by line.
    const p = doc.createElement("p");
    text.split("\n").forEach((line, i) => {
      if (i > 0) p.append(doc.createElement("br"));
      p.append(doc.createTextNode(line));
    });
    into.append(p);
    waiting.set(into, text);
    void loadMarkdown();
    return;
  }
  // Where children go: the innermost open element. A link with an unsafe address is a
  // <span>, so its text still shows, as text.
  const stack: Element[] = [into];
  const top = () => stack[stack.length - 1];
  const walk = (tokens: Token[]) => {
    for (const t of tokens) {
      if (t.type === "inline") {
        walk(t.children ?? []);
        continue;
      }
      const base = t.type.replace(/_(open|close)$/, "");
      // The paragraphs of a tight list's items are not drawn (their text is the item's).
      if (t.hidden) continue;
      if (t.nesting === 1) {
        const el = open(doc, base, t);
        top().append(el);
        stack.push(el);
      } else if (t.nesting === -1) {
        if (stack.length > 1) stack.pop();
      } else {
        leaf(doc, t, top());
      }
    }
  };
  walk(md.parse(text, {}));
}

function open(doc: Document, base: string, t: Token): Element {
  const tag = TAGS[base];
  if (tag === "a") {
    const href = t.attrGet("href") ?? "";
    if (!SAFE_HREF.test(href)) return doc.createElement("span");
    const a = doc.createElement("a");
    a.href = href;
    a.title = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }
  if (tag === "ol") {
    const ol = doc.createElement("ol");
    const start = Number(t.attrGet("start"));
    if (Number.isInteger(start) && start > 1) ol.start = start;
    return ol;
  }
  // Anything this subset does not know keeps its text in a plain span.
  return doc.createElement(tag ?? "span");
}

function leaf(doc: Document, t: Token, parent: Element): void {
  switch (t.type) {
    case "text":
      parent.append(doc.createTextNode(t.content));
      break;
    case "code_inline": {
      const code = doc.createElement("code");
      code.textContent = t.content;
      parent.append(code);
      break;
    }
    case "fence": {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      code.textContent = t.content.replace(/\n$/, "");
      const lang = t.info.trim().split(/\s+/)[0];
      if (lang) code.dataset.lang = lang;
      pre.append(code);
      parent.append(pre);
      break;
    }
    case "softbreak":
    case "hardbreak":
      parent.append(doc.createElement("br"));
      break;
    default:
      if (t.content) parent.append(doc.createTextNode(t.content));
  }
}

/** A Svelte action: the element shows `text` formatted, and follows it when it changes. */
export function markdown(node: HTMLElement, text: string) {
  renderMarkdown(node, text);
  return {
    update(next: string) {
      renderMarkdown(node, next);
    },
    destroy() {
      waiting.delete(node);
    },
  };
}

/** One line of plain text for a preview (a reply's quote, the reply bar): the first line,
 * without the markup characters most used. */
export function plainLine(text: string, max = 120): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  const plain = line.replace(/^\s*(>|[-*+]|\d+\.)\s+/, "").replace(/[*_~`]+/g, "").trim();
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}
