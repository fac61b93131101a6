/**
 * What an outbox row stores: the BridgeContent to send, as versioned JSON. The reply target
 * is already the remote id (mapped when the row was written), so a resend needs nothing else.
 */
import type { BridgeContent } from "./content.js";
import { decodeRemoteMentions } from "./group-mentions.js";
import { decodeMediaContent } from "./media-payload.js";
import { decodeRelationContent, decodeReplyQuote } from "./relation-payload.js";

const VERSION = 1;

export function encodeOutboxPayload(content: BridgeContent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: VERSION, content }));
}

export function decodeOutboxPayload(payload: Uint8Array): BridgeContent {
  const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
  if (!isRecord(parsed) || parsed.v !== VERSION || !isRecord(parsed.content)) {
    throw new TypeError("outbox payload of an unknown version");
  }
  const c = parsed.content;
  const replyTo = {
    ...(typeof c.replyTo === "string" ? { replyTo: c.replyTo } : {}),
    ...decodeReplyQuote(c.quote),
  };
  if (c.kind === "text" && typeof c.text === "string") {
    const text: BridgeContent = { kind: "text", text: c.text, ...replyTo };
    if (c.style === "emote" || c.style === "notice") text.style = c.style;
    const mentions = decodeRemoteMentions(c.remoteMentions);
    if (mentions) text.remoteMentions = mentions;
    return text;
  }
  const media = decodeMediaContent(c);
  if (media) return media;
  const relation = decodeRelationContent(c);
  if (relation) return relation;
  if (c.kind === "unsupported" && typeof c.description === "string") {
    return { kind: "unsupported", description: c.description, ...replyTo };
  }
  throw new TypeError("outbox payload with unknown content");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
