// @vitest-environment jsdom
import { beforeAll, describe, expect, it, vi } from "vitest";
import MarkdownIt from "markdown-it";
import { loadMarkdown, renderMarkdown } from "./markdown";

function html(text: string): HTMLElement {
  const el = document.createElement("div");
  renderMarkdown(el, text);
  return el;
}

beforeAll(loadMarkdown);

describe("message formatting", () => {
  it("draws text as it is until the parser is loaded, then formats it", async () => {
    vi.resetModules();
    const fresh = await import("./markdown");
    const el = document.createElement("div");
    document.body.append(el);
    fresh.renderMarkdown(el, "**soon** bold\nnext line");
    expect(el.querySelector("strong")).toBeNull();
    expect(el.textContent).toBe("**soon** boldnext line");
    expect(el.querySelectorAll("br")).toHaveLength(1);
    await fresh.loadMarkdown();
    expect(el.querySelector("strong")?.textContent).toBe("soon");
    el.remove();
  });

  it("draws the subset a chat needs", () => {
    const el = html("**bold** _it_ ~~gone~~ `x<y`\n\n> quoted\n\n- one\n- two\n\n3. three");
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("em")?.textContent).toBe("it");
    expect(el.querySelector("s")?.textContent).toBe("gone");
    expect(el.querySelector("code")?.textContent).toBe("x<y");
    expect(el.querySelector("blockquote")?.textContent?.trim()).toBe("quoted");
    expect([...el.querySelectorAll("ul li")].map((li) => li.textContent)).toEqual(["one", "two"]);
    expect(el.querySelector("ol")?.getAttribute("start")).toBe("3");
  });

  it("keeps a fenced code block verbatim, markup and all", () => {
    const el = html("```rust\nfn main() { **not bold** <b>x</b> }\n```");
    const code = el.querySelector("pre > code");
    expect(code?.textContent).toBe("fn main() { **not bold** <b>x</b> }");
    expect(code?.getAttribute("data-lang")).toBe("rust");
    expect(el.querySelector("b, strong")).toBeNull();
  });

  it("links bare URLs and http(s) links, nothing else", () => {
    const el = html("see https://example.org/a?b=1. and [docs](https://docs.example.org) or mailto:x@example.org");
    const hrefs = [...el.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(hrefs).toEqual(["https://example.org/a?b=1", "https://docs.example.org", "mailto:x@example.org"]);
    for (const a of el.querySelectorAll("a")) expect(a.getAttribute("target")).toBe("_blank");
  });

  it("draws plain lines (which skip the parser) exactly as the parser would", () => {
    const md = new MarkdownIt("zero", { html: false, linkify: true, breaks: true });
    md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
    md.enable(["linkify", "emphasis", "list", "blockquote"]);
    const lines = ["message 42", "  padded  ", "see README.md and notes.txt", "2 + 2 = 4", "a - b", "1 done", "# not a heading?", "www.example.org", "1. first", "- item", "> quote", "   "];
    for (const line of lines) {
      const ours = html(line).innerHTML;
      const theirs = md.render(line).replace(/\n/g, "");
      expect(ours, line).toBe(theirs);
    }
  });

  it("links only addresses with a scheme, never a bare file name", () => {
    expect(html("see README.md or notes.txt").querySelector("a")).toBeNull();
    expect(html("at https://example.org").querySelector("a")?.getAttribute("href")).toBe("https://example.org");
  });

  it("leaves every XSS payload inert text", () => {
    const payloads = [
      "<img src=x onerror=alert(1)>",
      "<script>alert(1)</script>",
      "[click](javascript:alert(1))",
      "[click](JaVaScRiPt:alert(1))",
      "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
      "![img](https://example.org/x.png)",
      "**<img src=x onerror=alert(1)>**",
      "[**<svg onload=alert(1)>**](vbscript:x)",
      "<a href=\"javascript:alert(1)\">x</a>",
      "`<iframe src=javascript:alert(1)>`",
      "> <details open ontoggle=alert(1)>",
      "&lt;img src=x onerror=alert(1)&gt;",
    ];
    for (const p of payloads) {
      const el = html(p);
      expect(el.querySelector("img, script, iframe, svg, details"), p).toBeNull();
      for (const a of el.querySelectorAll("a")) expect(a.getAttribute("href"), p).toMatch(/^https?:/);
      for (const node of el.querySelectorAll("*")) {
        for (const attr of node.getAttributeNames()) expect(attr.startsWith("on"), `${p}: ${attr}`).toBe(false);
      }
    }
    // The text is still there for the reader.
    expect(html("<img src=x onerror=alert(1)>").textContent).toBe("<img src=x onerror=alert(1)>");
    expect(html("[click](javascript:alert(1))").textContent).toContain("click");
  });
});
