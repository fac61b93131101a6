/**
 * Gatekeeper markup -> Matrix HTML. All text is escaped; the only tags emitted are
 * strong, em, del, code, pre, blockquote, ul, ol, li, a (http/https/mailto, from plain
 * URLs) and br; the only attributes are a[href] and ol[start].
 */
import type { Block, Inline } from "./markup-ast.js";
import { parseMarkup } from "./markup-block-parser.js";
import { MATRIX_HTML_FORMAT } from "./types.js";
import type { MatrixFormattedText } from "./types.js";

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

function renderInlines(nodes: readonly Inline[]): string {
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
      default: {
        const tag = TAG[node.type];
        html += `<${tag}>${renderInlines(node.children)}</${tag}>`;
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
function renderBlocks(blocks: readonly Block[]): string {
  let html = "";
  blocks.forEach((block, index) => {
    switch (block.type) {
      case "lines": {
        html += block.lines.map(renderInlines).join("<br>");
        const last = block.lines[block.lines.length - 1];
        if (index < blocks.length - 1 && last !== undefined && last.length === 0) html += "<br>";
        break;
      }
      case "quote":
        html += `<blockquote>${renderBlocks(block.blocks)}</blockquote>`;
        break;
      case "list": {
        const open = block.ordered
          ? block.start === 1
            ? "<ol>"
            : `<ol start="${block.start}">`
          : "<ul>";
        const items = block.items.map((item) => `<li>${renderBlocks(item)}</li>`).join("");
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
 * Convert gatekeeper markup to Matrix message content. The body is always the original
 * text; formatted_body is only added when the text has formatting or links.
 */
export function markupToMatrix(text: string): MatrixFormattedText {
  const { blocks } = parseMarkup(text);
  if (!hasFormatting(blocks)) return { body: text };
  return { body: text, format: MATRIX_HTML_FORMAT, formatted_body: renderBlocks(blocks) };
}
