/**
 * Keeps literal characters literal on the gatekeeper side. The gatekeeper markup has no
 * escape character, so we read our own output back with the gatekeeper parser and,
 * wherever it takes a character that came from HTML *text* as syntax, insert a
 * zero-width space where it breaks the rule that made it syntax: right inside an inline
 * marker ("*\u200Bnot bold\u200B*" cannot open or close), or before a line-start marker
 * ("\u200B> not a quote", "\u200B- not a list"). Both markers of a literal pair are
 * neutralised, so chains ("*a *b *c d*") do not re-pair; then repeat until the parse is
 * clean. Characters we wrote as syntax are never touched.
 */
import { ZWSP } from "./chars.js";
import { parseMarkup } from "./markup-block-parser.js";
import { canCloseMarker, canOpenMarker } from "./markup-inline-parser.js";
import type { WrittenMarkup } from "./markup-writer.js";

/** Each pass fixes every misread character it finds; real text converges in one or two. */
const MAX_PASSES = 6;
const INLINE_MARKERS = new Set(["*", "_", "~", "`"]);

function insertZwsp(written: WrittenMarkup, positions: Iterable<number>): WrittenMarkup {
  const { text, literal } = written;
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  // A character at i moves right by the ZWSPs inserted at or before it.
  const shift = (i: number): number => i + sorted.filter((at) => at <= i).length;
  const mentions = written.mentions.map((m) => ({
    ...m,
    start: shift(m.start),
    end: shift(m.end - 1) + 1,
  }));
  const flags = new Uint8Array(literal.length + sorted.length);
  let result = "";
  let from = 0;
  let out = 0;
  for (const at of sorted) {
    result += text.slice(from, at) + ZWSP;
    flags.set(literal.subarray(from, at), out);
    out += at - from + 1; // the ZWSP itself is syntax (flag 0)
    from = at;
  }
  result += text.slice(from);
  flags.set(literal.subarray(from), out);
  return { text: result, literal: flags, mentions };
}

/** Positions that neutralise every literal syntax character the gatekeeper would read. */
function misreadPositions(written: WrittenMarkup): number[] {
  const positions: number[] = [];
  for (const mark of parseMarkup(written.text).marks) {
    if (written.literal.subarray(mark.start, mark.end).includes(1)) positions.push(mark.insertAt);
  }
  return positions;
}

/**
 * Last resort for adversarial text: neutralise every literal inline marker that could
 * open or close anything, paired or not.
 */
function neutraliseAllMarkers(written: WrittenMarkup): WrittenMarkup {
  const { text, literal } = written;
  const positions: number[] = [];
  for (let i = 0; i < text.length;) {
    const ch = text[i] as string;
    let width = 1;
    if (ch === "`") while (text[i + width] === "`") width++;
    if (literal[i] === 1 && INLINE_MARKERS.has(ch)) {
      if (canOpenMarker(text, i, width, text.length)) positions.push(i + width);
      if (canCloseMarker(text, i, width)) positions.push(i);
    }
    i += width;
  }
  return insertZwsp(written, positions);
}

/** The markup with every literal protected; the pills' spans moved along with their text. */
export function protectLiterals(written: WrittenMarkup): WrittenMarkup {
  let current = written;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const positions = misreadPositions(current);
    if (positions.length === 0) return current;
    current = insertZwsp(current, positions);
  }
  current = neutraliseAllMarkers(current);
  const rest = misreadPositions(current); // line-start syntax is fixed in one pass
  return rest.length === 0 ? current : insertZwsp(current, rest);
}
