/**
 * Plain-URL detection (gatekeeper -> Matrix auto-linking) and the href allow-list
 * (Matrix -> gatekeeper). Only http, https and mailto ever become links.
 */
import { codePointBefore, isWordCodePoint } from "./chars.js";

const SCHEMES = ["https://", "http://", "mailto:"] as const;
/** Characters that end a URL: whitespace, ZWSP, and what would break HTML or code markup. */
const URL_STOP = /[\s<>"`\u200B]/u;
/** Trailing characters that are sentence punctuation or markup markers, not part of the URL. */
const TRAILING_PUNCTUATION = new Set([".", ",", ":", ";", "!", "?", "'", '"', "*", "_", "~"]);
const CLOSERS: Record<string, string> = { ")": "(", "]": "[", "}": "{" };

function schemeAt(s: string, i: number): string | undefined {
  const first = s.charCodeAt(i) | 0x20; // ASCII lower-case
  if (first !== 0x68 /* h */ && first !== 0x6d /* m */) return undefined;
  for (const scheme of SCHEMES) {
    if (s.slice(i, i + scheme.length).toLowerCase() === scheme) return scheme;
  }
  return undefined;
}

/**
 * If a URL starts at `i` (at a word boundary), return the index just past it, else -1.
 * Trailing punctuation and unbalanced closing brackets are left out, so
 * "see (https://x.org)." links "https://x.org".
 */
export function scanUrl(s: string, i: number, end: number = s.length): number {
  const scheme = schemeAt(s, i);
  if (scheme === undefined || isWordCodePoint(codePointBefore(s, i))) return -1;
  const bodyStart = i + scheme.length;
  let j = bodyStart;
  const counts = new Map<string, number>();
  while (j < end) {
    const ch = s[j] as string;
    if (URL_STOP.test(ch)) break;
    counts.set(ch, (counts.get(ch) ?? 0) + 1);
    j++;
  }
  while (j > bodyStart) {
    const last = s[j - 1] as string;
    const opener = CLOSERS[last];
    const unbalanced = opener !== undefined && (counts.get(last) ?? 0) > (counts.get(opener) ?? 0);
    if (!TRAILING_PUNCTUATION.has(last) && !unbalanced) break;
    counts.set(last, (counts.get(last) ?? 0) - 1);
    j--;
  }
  return j > bodyStart ? j : -1;
}

/**
 * The href to show on the gatekeeper, or undefined when it is not an http(s)/mailto URL
 * (javascript:, data:, relative links, ... are dropped and only the link text is kept).
 */
export function allowedHref(href: string | undefined): string | undefined {
  if (href === undefined) return undefined;
  const trimmed = href.trim();
  const scheme = schemeAt(trimmed, 0);
  if (scheme === undefined || trimmed.length <= scheme.length) return undefined;
  // A raw space would end the URL on the gatekeeper side; percent-encode whitespace.
  return trimmed.replace(/[\s\u200B]/gu, (c) => encodeURIComponent(c));
}

/** matrix.to links to a user are mention pills: the gatekeeper gets their text, marked. */
export function isUserMention(href: string): boolean {
  return /^https:\/\/matrix\.to\/#\/(@|%40)/i.test(href);
}

/** The user a mention pill's href names ("https://matrix.to/#/@bob:example.org"), if valid. */
export function mentionedUser(href: string): string | undefined {
  const match = /^https:\/\/matrix\.to\/#\/((?:@|%40)[^/?#]+)/i.exec(href);
  if (match === null) return undefined;
  let mxid: string;
  try {
    mxid = decodeURIComponent(match[1] as string);
  } catch {
    return undefined;
  }
  return /^@[^:\s]+:\S+$/.test(mxid) ? mxid : undefined;
}
