/**
 * Strict readers and writers for GKI/1 attribute and text values: ids, JIDs, decimal numbers,
 * base64. Readers throw StanzaError 400 carrying the stanza's tag and id; writers throw the same
 * for values that must never reach the wire.
 */
import { Buffer } from "node:buffer";
import { StanzaError } from "./errors.js";
import { isValidJid } from "./jid.js";
import type { XmlNode } from "./xml-codec.js";

export const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const DECIMAL_RE = /^\d+$/;
// Alphabet and padding position only; the canonical re-encode check in decodeBase64 does the rest.
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

export function isValidId(s: string): boolean {
  return ID_RE.test(s);
}

/** Where a value sits, for error reporting: the top-level stanza tag and its id if valid. */
export interface FieldContext {
  tag: string;
  id?: string | undefined;
  /** The top-level element's raw `type` attribute. */
  type?: string | undefined;
}

export function invalid(ctx: FieldContext, message: string): StanzaError {
  return new StanzaError(400, `<${ctx.tag}>: ${message}`, {
    tag: ctx.tag,
    id: ctx.id,
    type: ctx.type,
  });
}

export function reqAttr(node: XmlNode, name: string, ctx: FieldContext): string {
  const v = node.attrs[name];
  if (v === undefined) throw invalid(ctx, `missing ${name} on <${node.tag}>`);
  return v;
}

export function optAttr(node: XmlNode, name: string): string | undefined {
  return node.attrs[name];
}

export function reqString(node: XmlNode, name: string, ctx: FieldContext): string {
  const v = reqAttr(node, name, ctx);
  if (v.length === 0) throw invalid(ctx, `empty ${name} on <${node.tag}>`);
  return v;
}

export function parseId(v: string, name: string, ctx: FieldContext): string {
  if (!ID_RE.test(v)) throw invalid(ctx, `invalid ${name}`);
  return v;
}

export function reqId(node: XmlNode, name: string, ctx: FieldContext): string {
  return parseId(reqAttr(node, name, ctx), name, ctx);
}

export function optId(node: XmlNode, name: string, ctx: FieldContext): string | undefined {
  const v = node.attrs[name];
  return v === undefined ? undefined : parseId(v, name, ctx);
}

export function parseJidValue(v: string, name: string, ctx: FieldContext): string {
  if (!isValidJid(v)) throw invalid(ctx, `invalid JID in ${name}`);
  return v;
}

export function reqJid(node: XmlNode, name: string, ctx: FieldContext): string {
  return parseJidValue(reqAttr(node, name, ctx), name, ctx);
}

export function optJid(node: XmlNode, name: string, ctx: FieldContext): string | undefined {
  const v = node.attrs[name];
  return v === undefined ? undefined : parseJidValue(v, name, ctx);
}

export function parseDecimal(v: string, name: string, ctx: FieldContext): number {
  if (!DECIMAL_RE.test(v)) throw invalid(ctx, `${name} is not a decimal number`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalid(ctx, `${name} out of range`);
  return n;
}

export function reqNum(node: XmlNode, name: string, ctx: FieldContext): number {
  return parseDecimal(reqAttr(node, name, ctx), name, ctx);
}

export function optNum(node: XmlNode, name: string, ctx: FieldContext): number | undefined {
  const v = node.attrs[name];
  return v === undefined ? undefined : parseDecimal(v, name, ctx);
}

/** "true"/"1" → true, "false"/"0" → false; anything else is invalid. */
export function parseBool(v: string, name: string, ctx: FieldContext): boolean {
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw invalid(ctx, `${name} is not a boolean`);
}

/**
 * A flag such as `offline="1"`: true when set; "0"/"false" read as absent, so that a parsed stanza
 * re-encodes to the same stanza (writers emit the flag only when true).
 */
export function optFlag(node: XmlNode, name: string, ctx: FieldContext): true | undefined {
  const v = node.attrs[name];
  return v !== undefined && parseBool(v, name, ctx) ? true : undefined;
}

export function reqEnum<T extends string>(
  node: XmlNode,
  name: string,
  values: readonly T[],
  ctx: FieldContext,
): T {
  const v = reqAttr(node, name, ctx);
  if (!(values as readonly string[]).includes(v)) throw invalid(ctx, `invalid ${name}`);
  return v as T;
}

export function optEnum<T extends string>(
  node: XmlNode,
  name: string,
  values: readonly T[],
  ctx: FieldContext,
): T | undefined {
  return node.attrs[name] === undefined ? undefined : reqEnum(node, name, values, ctx);
}

/** Standard base64 with padding, canonical (no stray bits), no whitespace. */
export function decodeBase64(v: string, what: string, ctx: FieldContext): Uint8Array {
  if (v.length % 4 !== 0 || !BASE64_RE.test(v)) throw invalid(ctx, `${what} is not valid base64`);
  const bytes = Buffer.from(v, "base64");
  if (bytes.toString("base64") !== v) throw invalid(ctx, `${what} is not canonical base64`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Base64 text of an element (absent text = empty bytes). */
export function textBytes(node: XmlNode, ctx: FieldContext): Uint8Array {
  return decodeBase64(node.text ?? "", `<${node.tag}>`, ctx);
}

/** `<registration>`: 4-byte big-endian unsigned id. */
export function parseRegistration(node: XmlNode, ctx: FieldContext): number {
  const bytes = textBytes(node, ctx);
  if (bytes.length !== 4) throw invalid(ctx, "registration id is not 4 bytes");
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
}

export function registrationNode(registrationId: number, ctx: FieldContext): XmlNode {
  if (!Number.isInteger(registrationId) || registrationId < 0 || registrationId > 0xffffffff) {
    throw invalid(ctx, "registration id out of range");
  }
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, registrationId, false);
  return { tag: "registration", attrs: {}, children: [], text: encodeBase64(bytes) };
}

/** Drops keys whose value is undefined, so parsed stanzas compare equal to hand-built ones. */
export function compact<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

export function childNamed(node: XmlNode, tag: string): XmlNode | undefined {
  return node.children.find((c) => c.tag === tag);
}

export function reqChild(node: XmlNode, tag: string, ctx: FieldContext): XmlNode {
  const c = childNamed(node, tag);
  if (c === undefined) throw invalid(ctx, `missing <${tag}> in <${node.tag}>`);
  return c;
}

// ---- writers: values our own code puts on the wire ----

export function numText(n: number, name: string, ctx: FieldContext): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw invalid(ctx, `${name} must be a non-negative integer`);
  return String(n);
}

export function idText(v: string, name: string, ctx: FieldContext): string {
  return parseId(v, name, ctx);
}

export function jidText(v: string, name: string, ctx: FieldContext): string {
  return parseJidValue(v, name, ctx);
}

/** Builds an attribute record, dropping undefined values. */
export function attrsOf(entries: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v;
  return out;
}

export function el(
  tag: string,
  attrs: Record<string, string | undefined> = {},
  children: XmlNode[] = [],
): XmlNode {
  return { tag, attrs: attrsOf(attrs), children };
}

export function textEl(
  tag: string,
  text: string,
  attrs: Record<string, string | undefined> = {},
): XmlNode {
  return { tag, attrs: attrsOf(attrs), children: [], text };
}

/** Error context of iq payload parsers: the payload's own iq id is known only to the caller. */
export const IQ_CTX: FieldContext = { tag: "iq" };

export function elementsNamed(nodes: XmlNode[], tag: string): XmlNode[] {
  return nodes.filter((n) => n.tag === tag);
}

export function findChild(nodes: XmlNode[], tag: string): XmlNode | undefined {
  return nodes.find((n) => n.tag === tag);
}

export function requireChild(nodes: XmlNode[], tag: string, ctx: FieldContext = IQ_CTX): XmlNode {
  const c = findChild(nodes, tag);
  if (c === undefined) throw invalid(ctx, `missing <${tag}>`);
  return c;
}
