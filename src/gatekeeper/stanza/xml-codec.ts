/**
 * The GKI/1 XML subset (docs/protocol.md §5): one element tree, UTF-8, no DOCTYPE, no entity
 * declarations, no processing instructions, no CDATA, no comments, no mixed content; only the five
 * predefined entities and numeric character references. xml-guard.ts refuses the forbidden
 * constructs and applies the limits on the raw text; fast-xml-parser then checks well-formedness and
 * tokenizes; entities are decoded here.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { StanzaError } from "./errors.js";
import {
  FORBIDDEN_CHAR_RE,
  limitError,
  parseError,
  scanStructure,
  stripAndScan,
  toText,
} from "./xml-guard.js";

export interface XmlNode {
  tag: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** Text content of a leaf element; an element has either text or children, never both. */
  text?: string;
}

export interface XmlLimits {
  /** Input size in bytes (UTF-8); larger → 413. */
  maxBytes: number;
  /** Element nesting; the root element is depth 1. */
  maxDepth: number;
  maxAttributes: number;
  /** Child elements per element. */
  maxChildren: number;
  /**
   * Elements in the whole stanza; absent = no limit beyond the others. GKI/1 sets 4096: the
   * largest legal stanza (an 812-prekey upload) has under 900, while a 1 MiB frame of tiny
   * elements would otherwise cost the parser ~0.4 s.
   */
  maxElements?: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = Object.freeze({
  maxBytes: 1_048_576,
  maxDepth: 16,
  maxAttributes: 32,
  maxChildren: 1024,
  maxElements: 4096,
});

/** Parser output with preserveOrder: each entry is either a text node or `{ [tag]: children, ":@"?: attrs }`. */
type OrderedEntry = Record<string, unknown>;

const TEXT_KEY = "#text";
const ATTRS_KEY = ":@";
const ATTR_PREFIX = "@_";

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: ATTR_PREFIX,
  allowBooleanAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  // Entities are decoded here (decodeEntities) so that nothing but the XML-predefined set is expanded.
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: false,
  removeNSPrefix: false,
  // A backstop only: scanStructure enforces the caller's (smaller) depth limit before parsing.
  maxNestedTags: 256,
  // Keep names such as "toString" as they are: with preserveOrder every element is its own fresh
  // object, so these names cannot reach a prototype. (__proto__, constructor and prototype are
  // refused by the parser whatever this says; they come out as 487.)
  onDangerousProperty: (name: string) => name,
});

const utf8Encoder = new TextEncoder();

const ENTITY_RE = /&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));/y;
// XML 1.0 Name over the BMP: what fast-xml-parser's validator accepts, so whatever parses re-serializes.
const NAME_START =
  ":A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NAME_RE = new RegExp(
  // eslint-disable-next-line no-misleading-character-class -- a range of combining marks, not a combined character
  `^[${NAME_START}][${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040]*$`,
);
const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Expands the five predefined entities and numeric references; any other '&' is a parse error. */
function decodeEntities(raw: string): string {
  if (!raw.includes("&")) return raw;
  let out = "";
  let last = 0;
  for (let i = raw.indexOf("&"); i !== -1; i = raw.indexOf("&", last)) {
    ENTITY_RE.lastIndex = i;
    const m = ENTITY_RE.exec(raw);
    if (!m) throw parseError("unknown or malformed entity reference");
    let decoded: string;
    if (m[1] !== undefined) {
      decoded = PREDEFINED[m[1]] as string;
    } else {
      const cp =
        m[2] !== undefined ? Number.parseInt(m[2], 10) : Number.parseInt(m[3] as string, 16);
      if (!isXmlChar(cp)) throw parseError("character reference to a character not allowed in XML");
      decoded = String.fromCodePoint(cp);
    }
    out += raw.slice(last, i) + decoded;
    last = i + m[0].length;
  }
  return out + raw.slice(last);
}

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function decodeText(raw: string): string {
  return decodeEntities(raw.replace(/\r\n?/g, "\n"));
}

function decodeAttr(raw: string): string {
  if (raw.includes("<")) throw parseError("'<' in an attribute value");
  // XML attribute-value normalization: literal whitespace becomes a space; references survive.
  return decodeEntities(raw.replace(/\r\n?/g, "\n").replace(/[\t\n]/g, " "));
}

function entryTag(entry: OrderedEntry): string | undefined {
  for (const key of Object.keys(entry)) if (key !== ATTRS_KEY) return key;
  return undefined;
}

function toXmlNode(entry: OrderedEntry, tag: string, depth: number, limits: XmlLimits): XmlNode {
  if (depth > limits.maxDepth)
    throw limitError("depth", `element depth exceeds ${limits.maxDepth}`);
  const attrs: Record<string, string> = {};
  const rawAttrs = entry[ATTRS_KEY];
  if (rawAttrs !== undefined && rawAttrs !== null && typeof rawAttrs === "object") {
    const names = Object.keys(rawAttrs);
    if (names.length > limits.maxAttributes) {
      throw limitError("attributes", `more than ${limits.maxAttributes} attributes on <${tag}>`);
    }
    for (const prefixed of names) {
      const value = (rawAttrs as Record<string, unknown>)[prefixed];
      const name = prefixed.startsWith(ATTR_PREFIX) ? prefixed.slice(ATTR_PREFIX.length) : prefixed;
      if (typeof value !== "string") throw parseError(`attribute ${name} without a value`);
      // Unknown attributes are ignored by every reader; this one could only do harm.
      if (name === "__proto__") continue;
      attrs[name] = decodeAttr(value);
    }
  }

  const rawChildren = entry[tag];
  const children: XmlNode[] = [];
  let text = "";
  if (Array.isArray(rawChildren)) {
    for (const child of rawChildren as OrderedEntry[]) {
      const childText = child[TEXT_KEY];
      if (childText !== undefined) {
        text += String(childText);
        continue;
      }
      const childTag = entryTag(child);
      if (childTag === undefined) continue;
      if (children.length >= limits.maxChildren) {
        throw limitError("children", `more than ${limits.maxChildren} children in <${tag}>`);
      }
      children.push(toXmlNode(child, childTag, depth + 1, limits));
    }
  }

  const node: XmlNode = { tag, attrs, children };
  if (children.length > 0) {
    // Whitespace between elements is formatting; anything else would be mixed content.
    if (!/^[ \t\r\n]*$/.test(text)) throw parseError(`mixed content in <${tag}>`);
  } else if (text.length > 0) {
    node.text = decodeText(text);
  }
  return node;
}

/**
 * Parses one GKI/1 XML element. Throws StanzaError 413 when the input exceeds `limits.maxBytes`,
 * 487 for anything that is not a well-formed GKI/1 document (invalid UTF-8 included).
 */
export function parseXml(
  input: Uint8Array | string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): XmlNode {
  const body = stripAndScan(toText(input, limits.maxBytes));
  scanStructure(body, limits);

  const valid = XMLValidator.validate(body, { allowBooleanAttributes: false });
  if (valid !== true) throw parseError(`not well-formed: ${valid.err.msg}`);

  let entries: unknown;
  try {
    entries = parser.parse(body);
  } catch (err) {
    // fast-xml-parser refuses names like "constructor" and nesting past maxNestedTags.
    throw parseError("XML rejected by the parser", err);
  }
  if (!Array.isArray(entries)) throw parseError("no root element");

  let root: XmlNode | undefined;
  for (const entry of entries as OrderedEntry[]) {
    if (entry[TEXT_KEY] !== undefined) {
      if (!/^[ \t\r\n]*$/.test(String(entry[TEXT_KEY])))
        throw parseError("text outside the root element");
      continue;
    }
    const tag = entryTag(entry);
    if (tag === undefined) continue;
    if (root !== undefined) throw parseError("more than one root element");
    root = toXmlNode(entry, tag, 1, limits);
  }
  if (root === undefined) throw parseError("no root element");
  return root;
}

function checkChars(value: string, tag: string): void {
  if (FORBIDDEN_CHAR_RE.test(value)) {
    throw new StanzaError(400, `character not representable in XML in <${tag}>`, { tag });
  }
}

function escapeAttr(value: string, tag: string): string {
  checkChars(value, tag);
  return value.replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c] as string);
}

function escapeText(value: string, tag: string): string {
  checkChars(value, tag);
  return value.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c] as string);
}

const ATTR_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};
const TEXT_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\r": "&#13;",
};

/**
 * Serializes a node (no declaration, no whitespace). Throws StanzaError 400 for an invalid tag or
 * attribute name, a character XML cannot carry, or an element with both text and children.
 */
export function serializeXml(node: XmlNode): string {
  const parts: string[] = [];
  writeNode(node, parts);
  return parts.join("");
}

function writeNode(node: XmlNode, out: string[]): void {
  const { tag } = node;
  if (!NAME_RE.test(tag))
    throw new StanzaError(400, `invalid element name ${JSON.stringify(tag)}`, { tag });
  out.push("<", tag);
  for (const [name, value] of Object.entries(node.attrs)) {
    if (!NAME_RE.test(name))
      throw new StanzaError(400, `invalid attribute name on <${tag}>`, { tag });
    out.push(" ", name, '="', escapeAttr(value, tag), '"');
  }
  const hasText = node.text !== undefined && node.text.length > 0;
  if (hasText && node.children.length > 0) {
    throw new StanzaError(400, `<${tag}> has both text and children`, { tag });
  }
  if (hasText) {
    out.push(">", escapeText(node.text as string, tag), "</", tag, ">");
  } else if (node.children.length > 0) {
    out.push(">");
    for (const child of node.children) writeNode(child, out);
    out.push("</", tag, ">");
  } else {
    out.push("/>");
  }
}

/** UTF-8 bytes of serializeXml(node). */
export function encodeXml(node: XmlNode): Uint8Array {
  return utf8Encoder.encode(serializeXml(node));
}
