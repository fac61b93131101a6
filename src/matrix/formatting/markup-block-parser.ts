/**
 * Block structure of gatekeeper markup:
 * - a line starting with "```" opens a code block that ends at the first later line (or
 *   the same line) ending in "```"; nothing inside is interpreted; one newline right after
 *   the opening fence and one right before the closing fence belong to the fences;
 * - lines starting with "> " (or a bare ">") form a quote whose inside is parsed again;
 * - lines starting with "- ", "* " or "1. " form lists; lines indented by two spaces
 *   continue the item above (nested lists, extra lines); a type change starts a new list;
 * - everything else is ordinary lines with inline markup.
 * Line endings: CRLF and lone CR are read as LF.
 */
import { MAX_NESTING_DEPTH } from "./markup-ast.js";
import type { Block, Inline, SyntaxMark } from "./markup-ast.js";
import { parseInlineLine } from "./markup-inline-parser.js";
import type { MentionSpan } from "./types.js";

interface Line {
  text: string;
  /** Absolute position of text[0] in the parsed string. */
  offset: number;
}

export interface ParsedMarkup {
  blocks: Block[];
  marks: SyntaxMark[];
}

const LIST_ITEM = /^(?:([-*])|(\d{1,9})\.) /;
/** A run of exactly three backticks (not part of a longer run). */
const EXACT_FENCE = /(?<!`)```(?!`)/;

interface ListMarker {
  ordered: boolean;
  number: number;
  /** Length of the marker including the following space. */
  length: number;
}

function listMarker(text: string): ListMarker | undefined {
  const m = LIST_ITEM.exec(text);
  if (m === null) return undefined;
  return { ordered: m[2] !== undefined, number: Number(m[2] ?? 1), length: m[0].length };
}

function isQuoteLine(text: string): boolean {
  return text === ">" || text.startsWith("> ");
}

function startsWithFence(text: string): boolean {
  return text.startsWith("```") && text[3] !== "`";
}

function endsWithFence(text: string, from: number): boolean {
  return text.length - 3 >= from && text.endsWith("```") && text[text.length - 4] !== "`";
}

/** Precomputed per line sequence so that finding code blocks stays linear. */
interface FenceIndex {
  /** For each line index, the first line at or after it that ends in a fence (-1: none). */
  nextEnd: number[];
  /** prefix[k]: how many of lines[0..k) contain an exact fence anywhere. */
  prefix: number[];
}

function indexFences(lines: readonly Line[]): FenceIndex {
  const nextEnd = new Array<number>(lines.length + 1).fill(-1);
  for (let k = lines.length - 1; k >= 0; k--) {
    nextEnd[k] = endsWithFence((lines[k] as Line).text, 0) ? k : (nextEnd[k + 1] as number);
  }
  const prefix = [0];
  for (const line of lines) {
    prefix.push((prefix[prefix.length - 1] as number) + (EXACT_FENCE.test(line.text) ? 1 : 0));
  }
  return { nextEnd, prefix };
}

class BlockParser {
  readonly marks: SyntaxMark[] = [];

  constructor(private readonly mentions: ReadonlyMap<number, MentionSpan>) {}

  parseBlocks(lines: readonly Line[], depth: number): Block[] {
    const blocks: Block[] = [];
    let plain: Inline[][] = [];
    const flushPlain = (): void => {
      if (plain.length > 0) blocks.push({ type: "lines", lines: plain });
      plain = [];
    };
    const fences = indexFences(lines);
    let i = 0;
    while (i < lines.length) {
      const line = lines[i] as Line;
      if (depth < MAX_NESTING_DEPTH) {
        const fenced = this.tryCodeBlock(lines, i, fences);
        if (fenced !== undefined) {
          flushPlain();
          blocks.push(fenced.block);
          i = fenced.next;
          continue;
        }
        if (isQuoteLine(line.text)) {
          flushPlain();
          i = this.parseQuote(lines, i, depth, blocks);
          continue;
        }
        if (listMarker(line.text) !== undefined) {
          flushPlain();
          i = this.parseList(lines, i, depth, blocks);
          continue;
        }
      }
      plain.push(parseInlineLine(line.text, line.offset, this.marks, this.mentions));
      i++;
    }
    flushPlain();
    return blocks;
  }

  private tryCodeBlock(
    lines: readonly Line[],
    i: number,
    fences: FenceIndex,
  ): { block: Block; next: number } | undefined {
    const first = lines[i] as Line;
    if (!startsWithFence(first.text)) return undefined;
    // On the opening line the closing fence needs at least one character of content.
    const k = endsWithFence(first.text, 4) ? i : (fences.nextEnd[i + 1] ?? -1);
    if (k === -1) return undefined;
    const last = lines[k] as Line;
    // Another fence inside means "```a``` b ```c```": inline code, not a block.
    const middleHasFence =
      k > i + 1 && (fences.prefix[k] as number) > (fences.prefix[i + 1] as number);
    const edgeHasFence =
      k === i
        ? EXACT_FENCE.test(first.text.slice(3, -3))
        : EXACT_FENCE.test(first.text.slice(3)) || EXACT_FENCE.test(last.text.slice(0, -3));
    if (middleHasFence || edgeHasFence) return undefined;
    let raw = lines
      .slice(i, k + 1)
      .map((l) => l.text)
      .join("\n")
      .slice(3, -3);
    if (raw.startsWith("\n")) raw = raw.slice(1);
    if (raw.endsWith("\n")) raw = raw.slice(0, -1);
    if (raw === "") return undefined;
    const closeAt = last.offset + last.text.length - 3;
    this.marks.push({ start: first.offset, end: first.offset + 3, insertAt: first.offset });
    this.marks.push({ start: closeAt, end: closeAt + 3, insertAt: closeAt });
    return { block: { type: "code", text: raw }, next: k + 1 };
  }

  private parseQuote(lines: readonly Line[], i: number, depth: number, blocks: Block[]): number {
    const inner: Line[] = [];
    let k = i;
    while (k < lines.length && isQuoteLine((lines[k] as Line).text)) {
      const { text, offset } = lines[k] as Line;
      this.marks.push({ start: offset, end: offset + 1, insertAt: offset });
      const cut = Math.min(2, text.length);
      inner.push({ text: text.slice(cut), offset: offset + cut });
      k++;
    }
    // Blank lines at the edges of a quote show nothing in HTML; dropping them keeps
    // "> a\n>" and "> a" the same message.
    let first = 0;
    let last = inner.length;
    while (first < last && (inner[first] as Line).text.trim() === "") first++;
    while (last > first && (inner[last - 1] as Line).text.trim() === "") last--;
    blocks.push({ type: "quote", blocks: this.parseBlocks(inner.slice(first, last), depth + 1) });
    return k;
  }

  private parseList(lines: readonly Line[], i: number, depth: number, blocks: Block[]): number {
    const head = listMarker((lines[i] as Line).text) as ListMarker;
    const items: Block[][] = [];
    let k = i;
    for (;;) {
      const line = lines[k];
      const marker = line === undefined ? undefined : listMarker(line.text);
      if (line === undefined || marker === undefined || marker.ordered !== head.ordered) break;
      this.marks.push({
        start: line.offset,
        end: line.offset + marker.length - 1,
        insertAt: line.offset,
      });
      const itemLines: Line[] = [
        { text: line.text.slice(marker.length), offset: line.offset + marker.length },
      ];
      k++;
      k = this.collectContinuation(lines, k, itemLines);
      items.push(this.parseBlocks(itemLines, depth + 1));
    }
    blocks.push({ type: "list", ordered: head.ordered, start: head.number, items });
    return k;
  }

  /** Lines indented by two spaces (and blank lines between them) continue a list item. */
  private collectContinuation(lines: readonly Line[], k: number, into: Line[]): number {
    while (k < lines.length) {
      const { text, offset } = lines[k] as Line;
      if (text.startsWith("  ")) {
        into.push({ text: text.slice(2), offset: offset + 2 });
        k++;
        continue;
      }
      if (text.trim() !== "") break;
      let next = k;
      while (next < lines.length && (lines[next] as Line).text.trim() === "") next++;
      if (next >= lines.length || !(lines[next] as Line).text.startsWith("  ")) break;
      for (; k < next; k++) into.push({ text: "", offset: (lines[k] as Line).offset });
    }
    return k;
  }
}

/**
 * Parse gatekeeper markup into blocks, recording every piece of syntax it consumed.
 * `mentions` are spans of a text without CR (see parseInlineLine).
 */
export function parseMarkup(text: string, mentions: readonly MentionSpan[] = []): ParsedMarkup {
  const normalised = text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
  const lines: Line[] = [];
  let offset = 0;
  for (const part of normalised.split("\n")) {
    lines.push({ text: part, offset });
    offset += part.length + 1;
  }
  const parser = new BlockParser(new Map(mentions.map((m) => [m.start, m])));
  const blocks = parser.parseBlocks(lines, 0);
  return { blocks, marks: parser.marks };
}
