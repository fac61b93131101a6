/**
 * Gatekeeper markup -> Matrix HTML. All text is escaped; the only tags emitted are
 * strong, em, del, code, pre, blockquote, ul, ol, li, a (http/https/mailto, from plain
 * URLs; matrix.to, for the caller's mentions) and br; the only attributes are a[href] and
 * ol[start].
 */
import type { Block, Inline } from "./markup-ast.js";
import { parseMarkup } from "./markup-block-parser.js";
import { MATRIX_HTML_FORMAT } from "./types.js";
import type { MatrixFormattedText, MentionSpan } from "./types.js";

const TAG: Record<"bold" | "italic" | "strike", string> = {
  bold: "strong",
  italic: "em",
  strike: "del",
};

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** `shown` collects the mentions that became pills (one inside code stays text). */
function renderInlines(nodes: readonly Inline[], shown: MentionSpan[]): string {
  let html = "";
  for (const node of nodes) {
    switch (node.type) {
      case "text":
        html += escapeHtml(node.text);
        break;
      case "code":
        html += `<code>${escapeHtml(node.text)}</code>`;
        break;
      case "link": {
        const url = escapeHtml(node.url);
        html += `<a href="${url}">${url}</a>`;
        break;
      }
      case "mention": {
        const { mxid, name } = node.mention;
        html += `<a href="${MATRIX_TO}${escapeHtml(mxid)}">${escapeHtml(name ?? node.text)}</a>`;
        shown.push(node.mention);
        break;
      }
      default: {
        const tag = TAG[node.type];
        html += `<${tag}>${renderInlines(node.children, shown)}</${tag}>`;
      }
    }
  }
  return html;
}

/**
 * Blocks are HTML block elements, so the newline between two blocks is implicit. Inside a
 * run of ordinary lines each newline is a <br>; a run that ends in an empty line before
 * another block needs one more <br>, because a <br> right before a block adds no line.
 */
function renderBlocks(blocks: readonly Block[], shown: MentionSpan[]): string {
  let html = "";
  blocks.forEach((block, index) => {
    switch (block.type) {
      case "lines": {
        html += block.lines.map((line) => renderInlines(line, shown)).join("<br>");
        const last = block.lines[block.lines.length - 1];
        if (index < blocks.length - 1 && last !== undefined && last.length === 0) html += "<br>";
        break;
      }
      case "quote":
        html += `<blockquote>${renderBlocks(block.blocks, shown)}</blockquote>`;
        break;
      case "list": {
        const open = block.ordered
          ? block.start === 1
            ? "<ol>"
            : `<ol start="${block.start}">`
          : "<ul>";
        const items = block.items.map((item) => `<li>${renderBlocks(item, shown)}</li>`).join("");
        html += `${open}${items}${block.ordered ? "</ol>" : "</ul>"}`;
        break;
      }
      case "code":
        // HTML code blocks end in a newline (CommonMark does it; browsers hide it).
        html += `<pre><code>${escapeHtml(block.text)}\n</code></pre>`;
        break;
    }
  });
  return html;
}

function hasFormatting(blocks: readonly Block[]): boolean {
  return blocks.some(
    (block) =>
      block.type !== "lines" || block.lines.some((line) => line.some((n) => n.type !== "text")),
  );
}

/**
 * Convert gatekeeper markup to Matrix message content. The body is the original text, but
 * for each mention that became a pill, "@" + the name shown in its place (mautrix-whatsapp's
 * way); formatted_body is only added when the text has formatting, links or pills.
 */
export function markupToMatrix(
  text: string,
  mentions: readonly MentionSpan[] = [],
): MatrixFormattedText {
  const { text: markup, mentions: spans } = withoutCarriageReturns(
    text,
    validSpans(text, mentions),
  );
  const { blocks } = parseMarkup(markup, spans);
  if (!hasFormatting(blocks)) return { body: text };
  const shown: MentionSpan[] = [];
  const html = renderBlocks(blocks, shown);
  return { body: bodyWithNames(markup, shown), format: MATRIX_HTML_FORMAT, formatted_body: html };
}

const MATRIX_TO = "https://matrix.to/#/";

/** In text order, inside the text, none overlapping the one before. */
function validSpans(text: string, mentions: readonly MentionSpan[]): MentionSpan[] {
  const sorted = [...mentions].sort((a, b) => a.start - b.start);
  const out: MentionSpan[] = [];
  let from = 0;
  for (const m of sorted) {
    if (m.start < from || m.end <= m.start || m.end > text.length) continue;
    out.push(m);
    from = m.end;
  }
  return out;
}

/** CRLF and CR read as LF (as parseMarkup does), the spans moved along. */
function withoutCarriageReturns(
  text: string,
  mentions: MentionSpan[],
): { text: string; mentions: MentionSpan[] } {
  if (mentions.length === 0 || !text.includes("\r")) return { text, mentions };
  const removedBefore = (at: number): number => (text.slice(0, at).match(/\r\n/g) ?? []).length;
  return {
    text: text.replace(/\r\n?/g, "\n"),
    mentions: mentions.map((m) => ({
      ...m,
      start: m.start - removedBefore(m.start),
      end: m.end - removedBefore(m.end),
    })),
  };
}

function bodyWithNames(text: string, shown: readonly MentionSpan[]): string {
  let body = "";
  let from = 0;
  for (const m of [...shown].sort((a, b) => a.start - b.start)) {
    if (m.name === undefined) continue;
    body += `${text.slice(from, m.start)}@${m.name}`;
    from = m.end;
  }
  return body + text.slice(from);
}
