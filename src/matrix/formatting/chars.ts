/**
 * Character classes shared by the markup parser and the HTML -> markup writer.
 * Both sides must agree exactly on what a "word boundary" is, so it lives here once.
 */

/** Zero-width space: the only escape the gatekeeper markup has (see README.md). */
export const ZWSP = "\u200B";

const WORD = /^[\p{L}\p{N}\p{M}]$/u;
const SPACE = /^\s$/u;

/** The code point that ends just before index `i` (surrogate-pair aware). */
export function codePointBefore(s: string, i: number): number | undefined {
  if (i <= 0) return undefined;
  const low = s.charCodeAt(i - 1);
  if (low >= 0xdc00 && low <= 0xdfff && i >= 2) {
    const high = s.charCodeAt(i - 2);
    if (high >= 0xd800 && high <= 0xdbff) {
      return (high - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
    }
  }
  return low;
}

/** The code point that starts at index `i`, if any. */
export function codePointAtIndex(s: string, i: number): number | undefined {
  return i >= 0 && i < s.length ? s.codePointAt(i) : undefined;
}

/** Letters, digits and combining marks: a marker touching one of these is not a marker. */
export function isWordCodePoint(cp: number | undefined): boolean {
  return cp !== undefined && WORD.test(String.fromCodePoint(cp));
}

export function isSpaceCodePoint(cp: number | undefined): boolean {
  return cp !== undefined && SPACE.test(String.fromCodePoint(cp));
}

/** Whitespace or a zero-width space: either one right inside a marker disables the marker. */
export function isBlankCodePoint(cp: number | undefined): boolean {
  return cp === 0x200b || isSpaceCodePoint(cp);
}
