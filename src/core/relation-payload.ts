/**
 * Reading edits, deletions, reactions and reply quotes back from an outbox row (the JSON
 * outbox-payload.ts writes). Targets are stored as remote ids already, so a resend after a
 * restart needs nothing else.
 */
import type { MessageRef, RelationContent, ReplyQuote } from "./relations.js";

type Json = Record<string, unknown>;

/** The relation in a stored content object; undefined when it is no relation. */
export function decodeRelationContent(c: Json): RelationContent | undefined {
  const target = decodeRef(c.target);
  if (target === undefined) return undefined;
  switch (c.kind) {
    case "edit": {
      if (typeof c.text !== "string") return undefined;
      const edit: RelationContent = { kind: "edit", target, text: c.text };
      if (c.style === "emote" || c.style === "notice") edit.style = c.style;
      return edit;
    }
    case "reaction":
      return typeof c.emoji === "string" ? { kind: "reaction", target, emoji: c.emoji } : undefined;
    case "delete":
      return { kind: "delete", target };
    default:
      return undefined;
  }
}

/** A reply's stored quote, as fields to spread into the content ({} when there is none). */
export function decodeReplyQuote(v: unknown): { quote?: ReplyQuote } {
  if (!isRecord(v)) return {};
  const quote: ReplyQuote = {};
  if (typeof v.sender === "string") quote.sender = v.sender;
  if (typeof v.text === "string") quote.text = v.text;
  return { quote };
}

function decodeRef(v: unknown): MessageRef | undefined {
  if (!isRecord(v) || typeof v.id !== "string") return undefined;
  return typeof v.sender === "string" ? { id: v.id, sender: v.sender } : { id: v.id };
}

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
