/**
 * Inline gatekeeper markup on one line: *bold*, _italic_, ~strike~, `code`, ```code```,
 * and plain URLs. Rules (WhatsApp-like):
 * - an opening marker follows the line start or a non-word character and is followed by
 *   a non-blank character; a closing marker follows a non-blank character and is followed
 *   by the line end or a non-word character ("2*3*4" and "snake_case_name" stay plain);
 *   "blank" is whitespace or U+200B, which is how literal markers are escaped;
 * - the nearest valid closing marker wins; styles nest ("_*both*_");
 * - code spans, URLs and the caller's mentions are atomic and found first: nothing inside
 *   them is interpreted, and a style cannot open or close inside one.
 */
import { codePointAtIndex, codePointBefore, isBlankCodePoint, isWordCodePoint } from "./chars.js";
import { MAX_NESTING_DEPTH } from "./markup-ast.js";
import type { Inline, InlineStyle, SyntaxMark } from "./markup-ast.js";
import type { MentionSpan } from "./types.js";
import { scanUrl } from "./url.js";

const STYLE_BY_MARKER: Readonly<Record<string, InlineStyle>> = {
  "*": "bold",
  _: "italic",
  "~": "strike",
};

/** Could the marker of `width` characters at `i` open a span that ends before `end`? */
export function canOpenMarker(text: string, i: number, width: number, end: number): boolean {
  return (
    i + width < end &&
    !isWordCodePoint(codePointBefore(text, i)) &&
    !isBlankCodePoint(codePointAtIndex(text, i + width))
  );
}

/** Could the marker of `width` characters at `j` close a span? */
export function canCloseMarker(text: string, j: number, width: number): boolean {
  const before = codePointBefore(text, j);
  return (
    before !== undefined &&
    !isBlankCodePoint(before) &&
    !isWordCodePoint(codePointAtIndex(text, j + width))
  );
}

interface Atom {
  end: number;
  node: Inline;
}

/** First element of the sorted array that is >= min, or -1. */
function firstAtLeast(sorted: readonly number[], min: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < min) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length ? (sorted[lo] as number) : -1;
}

class LineParser {
  private readonly atoms = new Map<number, Atom>();
  private readonly closers = new Map<string, number[]>();

  constructor(
    private readonly line: string,
    private readonly offset: number,
    private readonly marks: SyntaxMark[],
    private readonly mentions: ReadonlyMap<number, MentionSpan>,
  ) {}

  parse(): Inline[] {
    this.findAtoms();
    this.findStyleClosers();
    return this.build(0, this.line.length, 0);
  }

  private canOpenAt(i: number, width: number, end: number): boolean {
    return canOpenMarker(this.line, i, width, end);
  }

  private canCloseAt(j: number, width: number): boolean {
    return canCloseMarker(this.line, j, width);
  }

  private mark(opener: number, closer: number, width: number): void {
    const o = this.offset + opener;
    const c = this.offset + closer;
    this.marks.push({ start: o, end: o + width, insertAt: o + width });
    this.marks.push({ start: c, end: c + width, insertAt: c });
  }

  /** Code spans (backtick runs of exactly 1 or 3), mentions and URLs, left to right. */
  private findAtoms(): void {
    const line = this.line;
    const runs: { start: number; width: number }[] = [];
    for (let i = 0; i < line.length;) {
      if (line[i] !== "`") {
        i++;
        continue;
      }
      let j = i;
      while (line[j] === "`") j++;
      runs.push({ start: i, width: j - i });
      i = j;
    }
    const closerStarts = new Map<number, number[]>([
      [1, []],
      [3, []],
    ]);
    for (const run of runs) {
      if (this.canCloseAt(run.start, run.width)) closerStarts.get(run.width)?.push(run.start);
    }
    const runAt = new Map(runs.map((r) => [r.start, r.width]));

    for (let i = 0; i < line.length;) {
      const width = runAt.get(i);
      if (width !== undefined) {
        const candidates = closerStarts.get(width);
        if (candidates !== undefined && this.canOpenAt(i, width, line.length)) {
          const j = firstAtLeast(candidates, i + width + 1);
          if (j !== -1) {
            this.atoms.set(i, {
              end: j + width,
              node: { type: "code", text: line.slice(i + width, j) },
            });
            this.mark(i, j, width);
            i = j + width;
            continue;
          }
        }
        i += width;
        continue;
      }
      const mention = this.mentions.get(this.offset + i);
      if (mention !== undefined && mention.end - this.offset <= line.length) {
        const end = mention.end - this.offset;
        this.atoms.set(i, { end, node: { type: "mention", text: line.slice(i, end), mention } });
        i = end;
        continue;
      }
      const urlEnd = scanUrl(line, i);
      if (urlEnd !== -1) {
        this.atoms.set(i, { end: urlEnd, node: { type: "link", url: line.slice(i, urlEnd) } });
        i = urlEnd;
        continue;
      }
      i++;
    }
  }

  private findStyleClosers(): void {
    for (const marker of Object.keys(STYLE_BY_MARKER)) this.closers.set(marker, []);
    for (let i = 0; i < this.line.length;) {
      const atom = this.atoms.get(i);
      if (atom !== undefined) {
        i = atom.end;
        continue;
      }
      const list = this.closers.get(this.line[i] as string);
      if (list !== undefined && this.canCloseAt(i, 1)) list.push(i);
      i++;
    }
  }

  private build(start: number, end: number, depth: number): Inline[] {
    const nodes: Inline[] = [];
    let textStart = start;
    const flushText = (to: number): void => {
      if (to > textStart) nodes.push({ type: "text", text: this.line.slice(textStart, to) });
    };
    let i = start;
    while (i < end) {
      const atom = this.atoms.get(i);
      if (atom !== undefined) {
        flushText(i);
        nodes.push(atom.node);
        i = textStart = atom.end;
        continue;
      }
      const marker = this.line[i] as string;
      const style = STYLE_BY_MARKER[marker];
      if (style !== undefined && depth < MAX_NESTING_DEPTH && this.canOpenAt(i, 1, end)) {
        const j = firstAtLeast(this.closers.get(marker) ?? [], i + 2);
        if (j !== -1 && j < end) {
          flushText(i);
          nodes.push({ type: style, children: this.build(i + 1, j, depth + 1) });
          this.mark(i, j, 1);
          i = textStart = j + 1;
          continue;
        }
      }
      i++;
    }
    flushText(end);
    return nodes;
  }
}

/**
 * Parse one line of inline markup. `offset` is the line's position in the whole text;
 * every marker the parser consumes is appended to `marks` with absolute positions.
 * `mentions` (by absolute start) become atoms where they are not inside code or a URL.
 */
export function parseInlineLine(
  line: string,
  offset: number,
  marks: SyntaxMark[],
  mentions: ReadonlyMap<number, MentionSpan> = NO_MENTIONS,
): Inline[] {
  return new LineParser(line, offset, marks, mentions).parse();
}

const NO_MENTIONS: ReadonlyMap<number, MentionSpan> = new Map();
