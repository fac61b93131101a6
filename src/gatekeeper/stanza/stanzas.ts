/**
 * Typed GKI/1 stanzas ↔ bytes (docs/protocol.md §5–§14): the entry points a connection uses.
 */
import type { StanzaError } from "./errors.js";
import { stanzaFromNode } from "./stanza-decode.js";
import { stanzaToNode } from "./stanza-encode.js";
import { compact } from "./stanza-fields.js";
import type { AckStanza, Stanza } from "./stanza-types.js";
import { DEFAULT_XML_LIMITS, type XmlLimits, parseXml, serializeXml } from "./xml-codec.js";

export * from "./stanza-types.js";
export { stanzaFromNode } from "./stanza-decode.js";
export { stanzaToNode } from "./stanza-encode.js";

/** parseXml + stanzaFromNode: 413 / 487 from the XML layer, 488 / 400 from the stanza layer. */
export function parseStanza(
  input: Uint8Array | string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): Stanza {
  return stanzaFromNode(parseXml(input, limits));
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of the stanza's XML, ready to be sealed into one frame. */
export function encodeStanza(s: Stanza): Uint8Array {
  return utf8.encode(serializeXml(stanzaToNode(s)));
}

/**
 * The negative ack for a refused input (§5.1): parse and limit errors are `class="frame"` without
 * id, stanza errors carry the stanza's tag and id; `text` says why where the codec knows. `seq` (the
 * index of the frame that carried the input) is how the sender finds what was refused when there is
 * no id; the gatekeeper always gives it.
 */
export function errorAck(err: StanzaError, seq?: number): AckStanza {
  const frameLevel = err.code === 487 || err.code === 413 || err.tag === undefined;
  return compact({
    kind: "ack",
    class: frameLevel ? "frame" : (err.tag as string),
    id: frameLevel ? undefined : err.id,
    error: err.code,
    text: err.text,
    seq,
  });
}
