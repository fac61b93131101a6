/** Text formatting between Matrix (HTML) and the gatekeeper's WhatsApp-style markup. */
export { markupToMatrix } from "./markup-to-matrix.js";
export { matrixToMarkup, matrixToMarkupWithMentions } from "./matrix-to-markup.js";
export { MATRIX_HTML_FORMAT } from "./types.js";
export type {
  MarkupWithMentions,
  MatrixFormattedText,
  MatrixTextContent,
  MatrixToMarkupOptions,
  MentionSpan,
} from "./types.js";
