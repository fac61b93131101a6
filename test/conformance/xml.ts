/**
 * Stanzas as the suite writes them: plain XML strings, so a test sends exactly the bytes it
 * means; and small readers for what the gatekeeper sends back (parsed with the GKI/1 codec's
 * generic XML reader, never its typed stanza decoder, so nothing is normalised away).
 */
import type { XmlNode } from "../../src/gatekeeper/stanza/index.js";

export type { XmlNode };
export type Attrs = Record<string, string | number | boolean | undefined>;

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** `<tag a="1">inner</tag>`; `inner` is raw XML (children) or already-escaped text. */
export function el(tag: string, attrs: Attrs = {}, inner: string | string[] = ""): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join("");
  const body = Array.isArray(inner) ? inner.join("") : inner;
  return body === "" ? `<${tag}${a}/>` : `<${tag}${a}>${body}</${tag}>`;
}

export function child(node: XmlNode, tag: string): XmlNode | undefined {
  return node.children.find((c) => c.tag === tag);
}

export function childrenOf(node: XmlNode, tag: string): XmlNode[] {
  return node.children.filter((c) => c.tag === tag);
}

/** The `<error>` of an `<iq type="error">`, as code and text. */
export function iqError(node: XmlNode): { code: string | undefined; text: string | undefined } {
  const e = child(node, "error");
  return { code: e?.attrs.code, text: e?.attrs.text };
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** A GKI/1 message id: 3EB0 and 16 upper-case hex digits (§8.1). */
export function messageId(): string {
  return `3EB0${Buffer.from(crypto.getRandomValues(new Uint8Array(8)))
    .toString("hex")
    .toUpperCase()}`;
}

/** Random bytes standing in for Signal ciphertext; the gatekeeper must relay them untouched. */
export function fakeCiphertext(length = 48): string {
  return b64(crypto.getRandomValues(new Uint8Array(length)));
}

/** `<message id to type><enc v="2" type>…</enc></message>` (§8.1). */
export function message(
  to: string,
  opts: { id?: string; retry?: number; encType?: "pkmsg" | "msg"; body?: string } = {},
): { id: string; body: string; xml: string } {
  const id = opts.id ?? messageId();
  const body = opts.body ?? fakeCiphertext();
  const xml = el("message", { id, to, type: "text", retry: opts.retry }, [
    el("enc", { v: 2, type: opts.encType ?? "msg" }, body),
  ]);
  return { id, body, xml };
}
