/**
 * Checks on the raw text that run before fast-xml-parser sees it: size, UTF-8, the constructs
 * GKI/1 forbids (DOCTYPE, entity declarations, PIs, CDATA, comments) and the structural limits.
 * The parser is lenient about all of these, so they are refused here, without expanding anything.
 */
import { Buffer } from "node:buffer";
import { StanzaError } from "./errors.js";
import type { XmlLimits } from "./xml-codec.js";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

const DECLARATION_RE = /^<\?xml[ \t\r\n][^<>]*?\?>/;
const DECL_ENCODING_RE = /encoding\s*=\s*["']([^"']*)["']/;
// Characters that XML 1.0 does not allow at all (even as character references), and lone surrogates.
export const FORBIDDEN_CHAR_RE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function parseError(message: string, cause?: unknown): StanzaError {
  return new StanzaError(487, message, { cause });
}

/** Which limit of docs/protocol.md §5 a stanza broke; the negative ack's `text`. */
export type XmlLimitName = "size" | "depth" | "attributes" | "children" | "elements";

/** A breach of a size or structure limit: 413, with the limit's name as the ack's text (§5). */
export function limitError(limit: XmlLimitName, message: string): StanzaError {
  return new StanzaError(413, message, { text: limit });
}

/** Decodes bytes or takes a string, enforcing the byte limit before any decoding. */
export function toText(input: Uint8Array | string, maxBytes: number): string {
  if (typeof input === "string") {
    if (Buffer.byteLength(input, "utf8") > maxBytes) throw limitError("size", "stanza too large");
    return input.startsWith("\uFEFF") ? input.slice(1) : input;
  }
  if (input.byteLength > maxBytes) throw limitError("size", "stanza too large");
  try {
    // The decoder drops a leading BOM.
    return utf8Decoder.decode(input);
  } catch (err) {
    throw parseError("invalid UTF-8", err);
  }
}

/**
 * Rejects, by a scan of the raw text, everything GKI/1 forbids that a lenient parser might act on.
 * In well-formed XML a raw '<' cannot occur in attribute values or text, so every "<!" and "<?" is markup.
 */
export function stripAndScan(text: string): string {
  let body = text;
  const decl = DECLARATION_RE.exec(body);
  if (decl) {
    const enc = DECL_ENCODING_RE.exec(decl[0]);
    if (enc && !/^utf-?8$/i.test(enc[1] ?? "")) throw parseError("only UTF-8 is allowed");
    body = body.slice(decl[0].length);
  }
  const bang = body.indexOf("<!");
  if (bang !== -1) {
    const what = body.startsWith("<!DOCTYPE", bang)
      ? "DOCTYPE"
      : body.startsWith("<!ENTITY", bang)
        ? "entity declaration"
        : body.startsWith("<![CDATA[", bang)
          ? "CDATA"
          : body.startsWith("<!--", bang)
            ? "comment"
            : "markup declaration";
    throw parseError(`${what} not allowed`);
  }
  if (body.includes("<?")) throw parseError("processing instruction not allowed");
  if (FORBIDDEN_CHAR_RE.test(body)) throw parseError("character not allowed in XML");
  return body;
}

/**
 * One pass over the raw text: refuses text outside the root (fast-xml-parser silently drops text
 * after a self-closed root) and applies the depth, attribute and children limits before the
 * parser spends time on an oversized tree. Runs after stripAndScan, so every '<' starts a start or
 * end tag, and in a start tag every '=' outside quotes belongs to one attribute.
 */
export function scanStructure(body: string, limits: XmlLimits): void {
  const childCounts: number[] = [];
  const maxElements = limits.maxElements ?? Infinity;
  let elements = 0;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf("<", i);
    const textEnd = lt === -1 ? body.length : lt;
    if (childCounts.length === 0 && !/^[ \t\r\n]*$/.test(body.slice(i, textEnd))) {
      throw parseError("text outside the root element");
    }
    if (lt === -1) return;
    if (body[lt + 1] === "/") {
      const gt = body.indexOf(">", lt);
      if (gt === -1) throw parseError("unterminated end tag");
      childCounts.pop();
      i = gt + 1;
      continue;
    }
    let j = lt + 1;
    let quote = "";
    let attributes = 0;
    for (; j < body.length; j++) {
      const c = body[j];
      if (quote !== "") {
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c === "=") {
        attributes++;
      } else if (c === ">") {
        break;
      }
    }
    if (j >= body.length) throw parseError("unterminated start tag");
    if (attributes > limits.maxAttributes) {
      throw limitError("attributes", `more than ${limits.maxAttributes} attributes on an element`);
    }
    if (++elements > maxElements) throw limitError("elements", `more than ${maxElements} elements`);
    const depth = childCounts.length;
    if (depth > 0) {
      const siblings = (childCounts[depth - 1] as number) + 1;
      if (siblings > limits.maxChildren)
        throw limitError("children", `more than ${limits.maxChildren} children`);
      childCounts[depth - 1] = siblings;
    }
    if (body[j - 1] !== "/") {
      if (depth + 1 > limits.maxDepth)
        throw limitError("depth", `element depth exceeds ${limits.maxDepth}`);
      childCounts.push(0);
    }
    i = j + 1;
  }
}
