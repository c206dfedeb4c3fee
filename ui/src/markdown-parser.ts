// The Markdown parser and the subset it knows, in a chunk of its own: markdown.ts loads it
// when the first message that needs it is drawn.
import MarkdownIt from "markdown-it";

export const md = new MarkdownIt("zero", { html: false, linkify: true, breaks: true });
// Only addresses with a scheme are links: a bare "README.md" or "notes.txt" is a file
// name in a team chat, not a website in Moldova or wherever its ending is a country.
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
md.enable([
  "blockquote",
  "list",
  "fence",
  "emphasis",
  "strikethrough",
  "backticks",
  "link",
  "autolink",
  "linkify",
  "escape",
  "newline",
]);
