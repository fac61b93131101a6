/** The parsed form of gatekeeper markup, shared by the parser and the HTML renderer. */
import type { MentionSpan } from "./types.js";

export type InlineStyle = "bold" | "italic" | "strike";

export type Inline =
  | { type: "text"; text: string }
  | { type: InlineStyle; children: Inline[] }
  | { type: "code"; text: string }
  | { type: "link"; url: string }
  /** A span the caller marked as a mention (`text` is what the markup says there). */
  | { type: "mention"; text: string; mention: MentionSpan };

export type Block =
  /** Consecutive ordinary lines (empty lines included), each a list of inline nodes. */
  | { type: "lines"; lines: Inline[][] }
  | { type: "quote"; blocks: Block[] }
  /** Each item is itself a block sequence (continuation lines, nested lists, code). */
  | { type: "list"; ordered: boolean; start: number; items: Block[][] }
  | { type: "code"; text: string };

/**
 * Where the parser read markup syntax in the source text. The Matrix -> gatekeeper side
 * uses these to find literal characters that the gatekeeper would misread as markup:
 * [start, end) are the syntax characters, insertAt is where a ZWSP neutralises them.
 */
export interface SyntaxMark {
  start: number;
  end: number;
  insertAt: number;
}

/** Nesting deeper than this (quotes, lists, inline styles, HTML elements) is treated as text. */
export const MAX_NESTING_DEPTH = 32;
