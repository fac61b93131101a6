/** Public types of the formatting module. */

export const MATRIX_HTML_FORMAT = "org.matrix.custom.html";

/** The text part of an m.room.message event (m.text, m.notice, m.emote). */
export interface MatrixTextContent {
  body: string;
  format?: string;
  formatted_body?: string;
}

/** What markupToMatrix produces: body always, HTML only when there is formatting. */
export interface MatrixFormattedText {
  body: string;
  format?: typeof MATRIX_HTML_FORMAT;
  formatted_body?: string;
}

export interface MatrixToMarkupOptions {
  /** The event has m.relates_to.m.in_reply_to: strip the plain-text reply fallback. */
  isReply?: boolean;
}

/**
 * A Matrix user a text mentions: [start, end) of the markup (UTF-16 code units). Gatekeeper
 * markup -> Matrix makes it a pill showing `name` (else the span's own text); Matrix -> markup
 * finds one for each pill, spanning the pill's text.
 */
export interface MentionSpan {
  start: number;
  end: number;
  mxid: string;
  name?: string;
}

/** What matrixToMarkupWithMentions produces: the markup and the pills in it. */
export interface MarkupWithMentions {
  text: string;
  mentions: MentionSpan[];
}
