/**
 * Names chosen by other people (a contact's push name, a directory name), made safe to show
 * on Matrix: display names, topics, room names and notices that quote them.
 *
 * A name is whatever the other side sent: 10,000 characters, newlines, right-to-left
 * overrides that make "Bob" read as someone else, invisible characters that make two names
 * look alike, our own network suffix to look like a bridged contact twice. Synapse refuses a
 * display name over 256 characters (M_TOO_LARGE), and a name that reads differently from
 * what it is misleads the user. Written by hand: no library does this policy, and the
 * Unicode work is the runtime's (normalize, property escapes, Intl.Segmenter).
 */
import unhomoglyph from "unhomoglyph";
import { excerpt, wellFormed } from "./unicode.js";

/** Longest name shown, in code points (with the "…" that marks a cut). */
export const MAX_NAME_LENGTH = 64;

/** Work bound: longer input is cut before cleaning (only the first 64 characters remain). */
const MAX_INPUT_UNITS = 4096;

/** At most this many combining marks on one character (stops "Zalgo" names that overflow lines). */
const MAX_MARKS = 8;

/**
 * Invisible or reordering characters: controls (C0, C1) and format characters (bidi
 * controls and isolates, zero-width space, word joiner, BOM, soft hyphen, tags), and the
 * blank letters used to make a name look empty. ZWNJ and ZWJ (U+200C, U+200D) stay: emoji
 * sequences and several scripts need them. Emoji tag sequences (subdivision flags) are kept
 * whole by the first alternative.
 */
const INVISIBLE =
  /(\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F})|(?![\u200C\u200D])[\p{Cc}\p{Cf}\u115F\u1160\u3164\uFFA0\u2800]/gu;

/** Line and paragraph breaks, tabs: a name is one line. */
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]/g;

const TOO_MANY_MARKS = new RegExp(`(\\p{M}{${MAX_MARKS}})\\p{M}+`, "gu");

/** A trailing "(tag)" or "[tag]", ASCII or full-width brackets. */
const TRAILING_TAG =
  /\s*[([\uFF08\uFF3B]([^()[\]\uFF08\uFF09\uFF3B\uFF3D]{0,80})[)\]\uFF09\uFF3D]\s*$/u;

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

export interface CleanNameOptions {
  /**
   * Network names a trailing "(tag)" is removed for, in any case and however often it is
   * repeated ("Bob (Gatekeeper) (GATEKEEPER)" is "Bob"): the display name template adds its
   * own, and a contact must not fake it.
   */
  networkNames?: readonly string[];
  /** Longest result in code points (default MAX_NAME_LENGTH, at least 2). */
  maxLength?: number;
}

/**
 * `raw` as a name safe to show: NFC; controls, bidi and other invisible format characters
 * removed (ZWJ and ZWNJ kept); breaks and tabs as spaces; whitespace collapsed and trimmed;
 * network tags removed; at most `maxLength` code points, cut between characters as the user
 * sees them, ending in "…". Undefined when nothing is left: the caller's "no name" applies.
 * Cleaning a clean name gives it back unchanged.
 */
export function cleanDisplayName(
  raw: string | undefined | null,
  options: CleanNameOptions = {},
): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  let text = raw;
  if (text.length > MAX_INPUT_UNITS) {
    text = text.slice(0, MAX_INPUT_UNITS);
    // Not half a surrogate pair at the cut (wellFormed would make it U+FFFD).
    if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1);
  }
  text = wellFormed(text)
    .replace(BREAKS, " ")
    .replace(INVISIBLE, (match, flag: string | undefined) => flag ?? "")
    .normalize("NFC")
    .replace(TOO_MANY_MARKS, "$1")
    .replace(/\s+/g, " ")
    .trim();
  text = stripNetworkTags(text, options.networkNames ?? []);
  if (text === "") return undefined;
  return clamp(text, Math.max(2, options.maxLength ?? MAX_NAME_LENGTH));
}

/**
 * What two names are compared by, to tell whether they would be taken for each other:
 * compatibility forms folded (NFKC: full-width, ligatures, styled letters), look-alike
 * letters of other scripts folded to the letter they imitate (Unicode's confusables, through
 * unhomoglyph, as matrix-js-sdk does for display names), case ignored, accents, spaces,
 * punctuation and invisible characters removed. "B o b", "ＢＯＢ", "Böb!" and a Cyrillic
 * "Воb" all give the same key as "Bob".
 */
export function nameKey(name: string): string {
  const folded = name.normalize("NFKC").normalize("NFD");
  const key = folded.replace(/[\p{M}\p{Z}\s\p{P}\p{Cc}\p{Cf}]/gu, "");
  // A name of punctuation or marks alone is compared as it is, not as "".
  // Confusables before case: a Cyrillic "В" imitates "B", and its lower case no Latin letter.
  return unhomoglyph(key === "" ? folded.replace(/\s/g, "") : key).toLowerCase();
}

/** Whether `a` and `b` would be taken for the same name (see nameKey). */
export function sameName(a: string, b: string): boolean {
  return nameKey(a) === nameKey(b);
}

function stripNetworkTags(text: string, networkNames: readonly string[]): string {
  if (networkNames.length === 0) return text;
  const tags = new Set(networkNames.map(nameKey));
  for (;;) {
    const m = TRAILING_TAG.exec(text);
    if (!m || !tags.has(nameKey(m[1] ?? ""))) return text;
    text = text.slice(0, m.index).trimEnd();
  }
}

/** `text` in at most `max` code points, cut on a grapheme boundary, "…" marking the cut. */
function clamp(text: string, max: number): string {
  // `max` code units hold at most `max` code points: no walk through a short name.
  if (text.length <= max) return text;
  if (codePointsAtLeast(text, max + 1) <= max) return text;
  let kept = "";
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const size = [...segment].length;
    if (used + size > max - 1) break;
    kept += segment;
    used += size;
  }
  // One grapheme longer than the limit (a long ZWJ chain): cut between code points instead.
  if (kept.trim() === "") return excerpt(text, max);
  return `${kept.trimEnd()}…`;
}

/** How many code points `text` has, counting no further than `limit`. */
function codePointsAtLeast(text: string, limit: number): number {
  let count = 0;
  for (let i = 0; i < text.length && count < limit; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
