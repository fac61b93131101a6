/** Matrix message content -> gatekeeper markup. */
import { htmlToMarkup } from "./html-to-markup.js";
import { protectLiterals } from "./literal-protection.js";
import { stripReplyFallback } from "./reply-fallback.js";
import { MATRIX_HTML_FORMAT } from "./types.js";
import type { MarkupWithMentions, MatrixTextContent, MatrixToMarkupOptions } from "./types.js";

/**
 * The Matrix event size limit (65,536 bytes), so no real formatted_body is longer.
 * htmlparser2 keeps its open-element stack with Array.unshift, so parse time grows with
 * the square of the nesting depth; longer HTML gets the plain body instead.
 */
export const MAX_HTML_LENGTH = 65_536;

/**
 * Convert the text of a Matrix message to gatekeeper markup. HTML (format
 * org.matrix.custom.html) is converted; otherwise the body is passed through unchanged
 * (minus the reply fallback when `isReply`). Never throws, whatever the content.
 */
export function matrixToMarkup(
  content: MatrixTextContent,
  options: MatrixToMarkupOptions = {},
): string {
  return matrixToMarkupWithMentions(content, options).text;
}

/**
 * As matrixToMarkup, with where each mention pill's text is in the markup and whom it names
 * (a plain body has no pills).
 */
export function matrixToMarkupWithMentions(
  content: MatrixTextContent,
  options: MatrixToMarkupOptions = {},
): MarkupWithMentions {
  // Events come from the network: do not trust the declared types.
  const body = typeof content.body === "string" ? content.body : "";
  const plain = { text: options.isReply === true ? stripReplyFallback(body) : body, mentions: [] };
  const html = content.formatted_body;
  if (content.format !== MATRIX_HTML_FORMAT || typeof html !== "string") return plain;
  if (html.length > MAX_HTML_LENGTH) return plain;
  let markup: MarkupWithMentions;
  try {
    markup = protectLiterals(htmlToMarkup(html));
  } catch {
    // Unreachable by design (no recursion on input depth, no throwing paths); a bridge
    // must still never drop a message over a conversion bug, so fall back to the body.
    return plain;
  }
  // HTML with no visible text (only a reply fallback, a script, ...): the body is better.
  return markup.text.trim() === "" ? plain : { text: markup.text, mentions: markup.mentions };
}
