/**
 * Builds gatekeeper markup from a walk over Matrix HTML, like a tiny layout engine:
 * - whitespace collapses as in a browser; spaces at line ends and line starts vanish;
 * - block boundaries are requested, not written, so nothing trails and breaks merge
 *   ("a<br>" then a block starts the block on the next line, as a browser shows it);
 * - containers (quote, list item) prefix each of their lines ("> ", "- " then "  ");
 * - styles open lazily before the first visible character and close before a newline or
 *   at their end, so markers never wrap whitespace and never span lines;
 * - a ZWSP is put between a marker and a touching letter, which would otherwise stop the
 *   gatekeeper from reading it as a marker ("foo<b>bar</b>" -> "foo\u200B*bar*").
 * Every character is tagged literal (from HTML text) or not, for literal protection.
 */
import { ZWSP, codePointAtIndex, codePointBefore, isWordCodePoint } from "./chars.js";
import type { InlineStyle } from "./markup-ast.js";
import type { MentionSpan } from "./types.js";
import { scanUrl } from "./url.js";

const MARKER: Record<InlineStyle, string> = { bold: "*", italic: "_", strike: "~" };
const HTML_SPACE = /^[ \t\n\f\r]+$/;

interface Frame {
  first: string;
  rest: string;
  usedFirst: boolean;
  hasContent: boolean;
}

interface OpenStyle {
  style: InlineStyle;
  opened: boolean;
}

type After = { kind: "none" } | { kind: "closer" } | { kind: "url"; tail: string };

export interface WrittenMarkup {
  text: string;
  /** 1 where the character came from HTML text (may need escaping), 0 for syntax. */
  literal: Uint8Array;
  /** The pills: where their text is in `text`. */
  mentions: MentionSpan[];
}

/** Would appending `next` make the gatekeeper read a longer URL than `tail` ends with? */
function urlWouldExtend(tail: string, next: string): boolean {
  return scanUrl(tail + next.slice(0, 64), 0) > scanUrl(tail, 0);
}

/**
 * A fence for inline code: a backtick run of another length inside the code does not end
 * it, so "`" works unless the code has single backticks, "```" unless it has triple ones.
 */
function codeFence(code: string): string | undefined {
  if (code.startsWith("`") || code.endsWith("`")) return undefined; // would merge with the fence
  const runs = new Set((code.match(/`+/g) ?? []).map((run) => run.length));
  if (!runs.has(1)) return "`";
  if (!runs.has(3)) return "```";
  return undefined;
}

export class MarkupWriter {
  private readonly chunks: { text: string; literal: boolean }[] = [];
  private readonly frames: Frame[] = [{ first: "", rest: "", usedFirst: true, hasContent: false }];
  private readonly styles: OpenStyle[] = [];
  private pendingBreak: { lines: number; depth: number } | undefined;
  private pendingSpace = false;
  /** Prefixes of the current line have been written. */
  private lineStarted = false;
  /** The current line has visible content. */
  private lineHasText = false;
  private newlineRun = 0;
  private last = "";
  private after: After = { kind: "none" };
  /** Counts visible writes, so a caller can tell whether anything was written since. */
  private serial = 0;
  /** Pills: the chunk that holds each one's text. */
  private readonly pills: { chunk: number; mxid: string }[] = [];

  get contentSerial(): number {
    return this.serial;
  }

  get containerDepth(): number {
    return this.frames.length;
  }

  /** Text from an HTML text node. */
  text(data: string): void {
    for (const piece of data.split(/([ \t\n\f\r]+)/)) {
      if (piece === "") continue;
      if (HTML_SPACE.test(piece)) this.space();
      else this.content(piece, true, true, false);
    }
  }

  space(): void {
    if (this.lineHasText && this.pendingBreak === undefined) this.pendingSpace = true;
  }

  /** <br>: an explicit newline. */
  lineBreak(): void {
    if (!this.top().hasContent) return; // a blank first line of a container shows nothing
    this.flushBreak();
    this.endLine(this.frames.length);
  }

  /** Ask for the next content to start on a new line (1) or after a blank line (2). */
  requestBreak(lines: 1 | 2): void {
    if (!this.top().hasContent) return; // a container's first line needs no break
    const depth = this.frames.length;
    const pending = this.pendingBreak;
    this.pendingBreak =
      pending === undefined
        ? { lines, depth }
        : { lines: Math.max(lines, pending.lines), depth: Math.min(depth, pending.depth) };
    this.pendingSpace = false;
  }

  pushContainer(first: string, rest: string): void {
    this.frames.push({ first, rest, usedFirst: false, hasContent: false });
  }

  popContainer(): void {
    const frame = this.frames.pop();
    // A break asked for inside the container would only trail it.
    if (this.pendingBreak !== undefined && this.pendingBreak.depth > this.frames.length) {
      this.pendingBreak = undefined;
    }
    if (frame?.hasContent === true) this.top().hasContent = true;
  }

  /** Returns false when the style is already active (the caller must not exit it). */
  enterStyle(style: InlineStyle): boolean {
    if (this.styles.some((s) => s.style === style)) return false;
    this.styles.push({ style, opened: false });
    return true;
  }

  exitStyle(): void {
    const style = this.styles.pop();
    if (style?.opened === true) this.putCloser(MARKER[style.style]);
  }

  inlineCode(code: string): void {
    const collapsed = code.replace(/[ \t\n\f\r]+/g, " ");
    const trimmed = collapsed.trim();
    if (trimmed === "") {
      if (collapsed !== "") this.space();
      return;
    }
    const fence = codeFence(trimmed);
    if (fence === undefined) {
      this.text(collapsed); // not representable as a code span; keep the characters
      return;
    }
    if (collapsed.startsWith(" ")) this.space();
    this.content(fence + trimmed + fence, false, true, true);
    this.after = { kind: "closer" };
    if (collapsed.endsWith(" ")) this.space();
  }

  codeBlock(code: string): void {
    let text = code.replace(/\r\n?/g, "\n");
    if (text.endsWith("\n")) text = text.slice(0, -1); // HTML code blocks end in a newline
    if (text.trim() === "") return;
    // The gatekeeper parser drops one newline right inside each fence; keep real ones.
    if (text.startsWith("\n")) text = "\n" + text;
    if (text.endsWith("\n")) text += "\n";
    // Nothing inside code is interpreted, but a fence would end the block early.
    text = text.replace(/(?<!`)```(?!`)/g, "``" + ZWSP + "`");
    if (text.startsWith("`")) text = ZWSP + text;
    if (text.endsWith("`")) text += ZWSP;
    this.requestBreak(1);
    ("```" + text + "```").split("\n").forEach((line, index) => {
      if (index > 0) this.lineBreak();
      if (line !== "") this.content(line, false, false, false);
    });
    this.requestBreak(1);
  }

  /** A mention pill's text (literal, like any text), remembered as naming `mxid`. */
  mention(text: string, mxid: string): void {
    this.content(text, true, true, false);
    this.pills.push({ chunk: this.chunks.length - 1, mxid });
  }

  /** A link shown as its URL. */
  url(url: string): void {
    this.content(url, false, true, true);
    this.after = { kind: "url", tail: url };
  }

  /** The " (url)" after link text that differs from the URL. */
  urlSuffix(url: string): void {
    this.space();
    this.content(`(${url})`, false, true, false);
    this.after = { kind: "url", tail: `${url})` };
  }

  finish(): WrittenMarkup {
    let text = "";
    const flags: number[] = [];
    const chunkStarts: number[] = [];
    for (const chunk of this.chunks) {
      chunkStarts.push(text.length);
      text += chunk.text;
      for (let k = 0; k < chunk.text.length; k++) flags.push(chunk.literal ? 1 : 0);
    }
    const start = text.length - text.replace(/^\n+/, "").length;
    let end = text.replace(/\s+$/u, "").length;
    // Trailing lines that are only container prefixes (a quote ending in <br>) show nothing.
    for (;;) {
      const lineStart = text.lastIndexOf("\n", end - 1) + 1;
      const line = text.slice(lineStart, end);
      if (lineStart <= start || !/^[> ]+$/.test(line) || flags.slice(lineStart, end).includes(1))
        break;
      end = text.slice(0, lineStart).replace(/\s+$/u, "").length;
    }
    if (end <= start) return { text: "", literal: new Uint8Array(0), mentions: [] };
    const mentions: MentionSpan[] = [];
    for (const pill of this.pills) {
      const at = chunkStarts[pill.chunk] as number;
      const length = (this.chunks[pill.chunk] as { text: string }).text.length;
      // A pill's text is visible content, so never in the trimmed edges.
      if (at >= start && at + length <= end) {
        mentions.push({ start: at - start, end: at + length - start, mxid: pill.mxid });
      }
    }
    return {
      text: text.slice(start, end),
      literal: Uint8Array.from(flags.slice(start, end)),
      mentions,
    };
  }

  private top(): Frame {
    return this.frames[this.frames.length - 1] as Frame;
  }

  private content(
    piece: string,
    literal: boolean,
    openStyles: boolean,
    needsBoundary: boolean,
  ): void {
    this.flushBreak();
    this.startLine();
    if (this.pendingSpace) {
      this.put(" ", false);
      this.pendingSpace = false;
    }
    if (openStyles) {
      for (const style of this.styles) {
        if (style.opened) continue;
        this.putOpener(MARKER[style.style]);
        style.opened = true;
      }
    }
    if (needsBoundary && isWordCodePoint(codePointBefore(this.last, this.last.length))) {
      this.put(ZWSP, false);
    }
    this.put(piece, literal);
    this.serial++;
    this.lineHasText = true;
    this.newlineRun = 0;
    this.top().hasContent = true;
  }

  private putOpener(marker: string): void {
    if (isWordCodePoint(codePointBefore(this.last, this.last.length))) this.put(ZWSP, false);
    this.put(marker, false);
  }

  private putCloser(marker: string): void {
    this.put(marker, false);
    this.after = { kind: "closer" };
  }

  private put(text: string, literal: boolean): void {
    const after = this.after;
    if (
      (after.kind === "closer" && isWordCodePoint(codePointAtIndex(text, 0))) ||
      (after.kind === "url" && urlWouldExtend(after.tail, text))
    ) {
      this.chunks.push({ text: ZWSP, literal: false });
    }
    this.after = { kind: "none" };
    this.chunks.push({ text, literal });
    this.last = text;
  }

  private startLine(): void {
    if (this.lineStarted) return;
    let prefix = "";
    for (const frame of this.frames) {
      prefix += frame.usedFirst ? frame.rest : frame.first;
      frame.usedFirst = true;
    }
    if (prefix !== "") this.put(prefix, false);
    this.lineStarted = true;
  }

  private flushBreak(): void {
    const pending = this.pendingBreak;
    if (pending === undefined) return;
    this.pendingBreak = undefined;
    this.pendingSpace = false;
    for (let n = this.newlineRun; n < pending.lines; n++) this.endLine(pending.depth);
  }

  /** End the current line; an empty line still gets its containers' prefixes (">"). */
  private endLine(prefixDepth: number): void {
    for (let k = this.styles.length - 1; k >= 0; k--) {
      const style = this.styles[k] as OpenStyle;
      if (!style.opened) continue;
      this.putCloser(MARKER[style.style]);
      style.opened = false;
    }
    if (!this.lineStarted) {
      const prefix = this.frames
        .slice(0, prefixDepth)
        .map((f) => f.rest)
        .join("")
        .trimEnd();
      if (prefix !== "") this.put(prefix, false);
    }
    this.put("\n", false);
    this.newlineRun++;
    this.lineStarted = false;
    this.lineHasText = false;
    this.pendingSpace = false;
    this.last = "";
  }
}
