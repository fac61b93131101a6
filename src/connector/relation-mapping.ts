/**
 * Replies, edits, deletions and reactions between the core's content and GKI/1: ContextInfo
 * (stanza id, participant, a quoted copy), ProtocolMessage MESSAGE_EDIT / REVOKE and
 * ReactionMessage. A GKI/1 message key names its target from its author's point of view
 * (`fromMe`: the author of the edit, deletion or reaction also wrote the target); the core
 * names it by the target's sender instead, so both directions translate here.
 */
import type { Message } from "../gen/gki_pb.js";
import type { BridgeContent } from "../core/content.js";
import type { RemoteCapabilities } from "../core/network.js";
import type { MessageRef, RelationContent, ReplyQuote } from "../core/relations.js";
import {
  describeContent,
  editMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../gatekeeper/content/index.js";
import type { ContentKind, MessageKeyRef, ReplyContext } from "../gatekeeper/content/index.js";
import { excerpt } from "../util/unicode.js";

/** Emotes have no GKI/1 form; "/me " is what people on the network understand. */
export const EMOTE_PREFIX = "/me ";

/** The two ends of a one-to-one chat (or a group and us), as the bridge's login sees it. */
export interface ChatEnds {
  /** The contact's JID; in a group, the group's. */
  contactId: string;
  /** The login's own JID (may be unknown before the first connection). */
  ownJid?: string | undefined;
  /** `contactId` is a group: a target is named by its sender (`participant`, §19.6). */
  group?: boolean;
}

/** The capabilities with the configured edit window (0 seconds: edits are off). */
export function withEditWindow(caps: RemoteCapabilities, seconds: number): RemoteCapabilities {
  const edits = seconds > 0 ? { windowSeconds: seconds } : null;
  return { ...caps, features: { ...caps.features, edits } };
}

// ------------------------------------------------------------------ core → GKI/1

/** An edit, deletion or reaction the login sends to `chat.contactId`. */
export function relationToGatekeeper(content: RelationContent, chat: ChatEnds): Message {
  const key = outgoingKey(content.target, chat);
  switch (content.kind) {
    case "edit": {
      const text = content.style === "emote" ? EMOTE_PREFIX + content.text : content.text;
      return editMessage(key, textMessage(text));
    }
    case "reaction":
      return reactionMessage(key, content.emoji);
    case "delete":
      return revokeMessage(key);
  }
}

/**
 * ContextInfo for a reply: the quoted message's id, its sender (participant) and, when the
 * bridge has it, a copy of its text so the contact's app can show the quote.
 */
export function replyContextFor(replyTo: string, quote: ReplyQuote | undefined): ReplyContext {
  const ctx: ReplyContext = { stanzaId: replyTo };
  if (quote?.sender !== undefined) ctx.participant = quote.sender;
  if (quote?.text !== undefined && quote.text !== "") ctx.quotedMessage = textMessage(quote.text);
  return ctx;
}

function outgoingKey(target: MessageRef, chat: ChatEnds): MessageKeyRef {
  if (chat.group) {
    const sender = target.sender ?? chat.ownJid ?? "";
    const fromMe = chat.ownJid !== undefined && sender === chat.ownJid;
    return { id: target.id, fromMe, remoteJid: chat.contactId, participant: sender };
  }
  // In a chat of two the target is either the contact's or ours.
  const fromMe = target.sender !== chat.contactId;
  return { id: target.id, fromMe, remoteJid: chat.contactId };
}

// ------------------------------------------------------------------ GKI/1 → core

/**
 * A GKI/1 edit, revoke or reaction from `from` as relation content; undefined for other
 * kinds. An edit whose new content is not text (a changed caption) is left to the caller.
 */
export function relationFromGatekeeper(
  kind: ContentKind,
  from: string,
  ownJid: string | undefined,
  group = false,
): BridgeContent | undefined {
  const incomingTarget = (key: MessageKeyRef): MessageRef =>
    group ? groupTarget(key, from) : directTarget(key, from, ownJid);
  switch (kind.kind) {
    case "reaction":
      return {
        kind: "reaction",
        target: incomingTarget(kind.key),
        emoji: kind.emoji,
      };
    case "revoke":
      return { kind: "delete", target: incomingTarget(kind.key) };
    case "edit": {
      if (kind.newContent.kind !== "text") return undefined;
      const target = incomingTarget(kind.key);
      const text = kind.newContent.text;
      return text.startsWith(EMOTE_PREFIX)
        ? { kind: "edit", target, text: text.slice(EMOTE_PREFIX.length), style: "emote" }
        : { kind: "edit", target, text };
    }
    default:
      return undefined;
  }
}

/**
 * What a reply's ContextInfo says: the quoted id, and who wrote it and (a short excerpt of)
 * what it said if given. The copy is the contact's claim, and shown only when the bridge does
 * not know the quoted message: it stays short whatever they put in it.
 */
export function replyFromGatekeeper(
  ctx: ReplyContext | undefined,
): { replyTo: string; quote?: ReplyQuote } | undefined {
  if (ctx === undefined) return undefined;
  const quote: ReplyQuote = {};
  if (ctx.participant !== undefined) quote.sender = ctx.participant;
  const text = ctx.quotedMessage ? quotedText(describeContent(ctx.quotedMessage)) : undefined;
  if (text !== undefined && text !== "") quote.text = excerpt(text);
  return Object.keys(quote).length === 0
    ? { replyTo: ctx.stanzaId }
    : { replyTo: ctx.stanzaId, quote };
}

function quotedText(kind: ContentKind): string | undefined {
  switch (kind.kind) {
    case "text":
      return kind.text;
    case "image":
    case "video":
    case "document":
      return kind.caption;
    default:
      return undefined;
  }
}

/** In a group the key names the target's sender (§19.6); `fromMe`: the author's own. */
function groupTarget(key: MessageKeyRef, from: string): MessageRef {
  if (key.fromMe) return { id: key.id, sender: from };
  return key.participant === undefined ? { id: key.id } : { id: key.id, sender: key.participant };
}

function directTarget(key: MessageKeyRef, from: string, ownJid: string | undefined): MessageRef {
  if (key.fromMe) return { id: key.id, sender: from };
  // Not the author's own message: in a chat of two, ours. (The author's key names the chat,
  // i.e. us, as remoteJid: the fallback when our JID is not known yet.)
  return { id: key.id, sender: ownJid ?? key.participant ?? key.remoteJid ?? "" };
}
