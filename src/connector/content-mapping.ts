/**
 * BridgeContent ↔ GKI/1 content. Text goes both ways (the markup is the same on both sides);
 * replies, edits, deletions and reactions are in ./relation-mapping.ts. What the bridge
 * cannot carry arrives as an "unsupported" description so the user still learns that
 * something came; what a message carried besides what it is shown as is said too (never
 * dropped silently). Descriptions quote the contact's words only as a short excerpt.
 */
import type { Message } from "../gen/gki_pb.js";
import type { BridgeContent, RemoteMention, RemoteMessage } from "../core/content.js";
import { RemoteError } from "../core/network.js";
import type { UndecryptableReason } from "../core/network.js";
import { describeContent, textMessage } from "../gatekeeper/content/index.js";
import type { ContentErrorCode, ContentKind } from "../gatekeeper/content/index.js";
import type { MessageEvent } from "../gatekeeper/client/index.js";
import { mediaNoun } from "../core/media.js";
import { excerpt } from "../util/unicode.js";
import type { ContentPart } from "../gatekeeper/content/content-kind.js";
import { incomingMediaContent } from "./media-incoming.js";
import type { IncomingMediaOptions } from "./media-incoming.js";
import { isRelationContent } from "../core/relations.js";
import {
  EMOTE_PREFIX,
  relationFromGatekeeper,
  relationToGatekeeper,
  replyContextFor,
  replyFromGatekeeper,
} from "./relation-mapping.js";
import type { ChatEnds } from "./relation-mapping.js";
import { findMentions, writeMentions } from "./mention-mapping.js";

/** Who sent a message, who received it, and whether in a group. */
interface ChatOf {
  from: string;
  ownJid?: string | undefined;
  group?: boolean;
}

/** `chat` (who is who) is needed for edits, deletions and reactions. */
export function toGatekeeperMessage(content: BridgeContent, chat?: ChatEnds): Message {
  if (isRelationContent(content)) {
    if (chat === undefined) throw new TypeError(`${content.kind} needs the chat it belongs to`);
    return relationToGatekeeper(content, chat);
  }
  if (content.kind !== "text") {
    const what = content.kind === "unsupported" ? content.description : mediaNoun(content);
    throw new RemoteError("unsupported", `${what} cannot be sent to Gatekeeper yet`, true);
  }
  // Mentions are a group's (§19.6): in a chat of two the text goes as it is.
  const written = chat?.group
    ? writeMentions(content.text, content.remoteMentions)
    : { text: content.text, jids: [] };
  const text = content.style === "emote" ? EMOTE_PREFIX + written.text : written.text;
  const mentions = written.jids.length > 0 ? { mentions: written.jids } : {};
  return content.replyTo === undefined
    ? textMessage(text, mentions)
    : textMessage(text, {
        contextInfo: replyContextFor(content.replyTo, content.quote),
        ...mentions,
      });
}

/** `media`: where received media is fetched to (without it, media arrives as "unsupported"). */
/** `ownJid`: the receiving login's JID (edits, deletions and reactions may name its messages). */
export function toRemoteMessage(
  event: MessageEvent,
  media?: IncomingMediaOptions,
  ownJid?: string,
): RemoteMessage {
  const kind = describeContent(event.content);
  const group = event.group !== undefined;
  const content = toBridgeContent(kind, media, { from: event.from, ownJid, group });
  // A description already says it; anything else needs a notice of its own.
  const notShown = content.kind === "unsupported" ? undefined : notShownNotice(kind);
  return {
    id: event.id,
    sender: event.from,
    ...(event.group === undefined ? {} : { group: event.group }),
    timestamp: event.t * 1000,
    offline: event.offline,
    ...(event.pushName === undefined ? {} : { senderName: event.pushName }),
    content,
    ...(notShown === undefined ? {} : { notShown }),
  };
}

/**
 * Without `chat` (who sent it), edits, deletions and reactions come out as descriptions.
 * What a message carried besides what it is shown as (`kind.ignored`) is part of a
 * description; for text and media it is notShownNotice(kind), to be posted after them.
 */
export function toBridgeContent(
  kind: ContentKind,
  media?: IncomingMediaOptions,
  chat?: ChatOf,
): BridgeContent {
  const content = shownContent(kind, media, chat);
  const notShown = notShownNotice(kind);
  // Conflicting kinds are named in their own description already.
  const named = kind.kind === "unknown" && kind.reason === "conflicting";
  if (content.kind !== "unsupported" || notShown === undefined || named) return content;
  return { ...content, description: `${content.description}. ${notShown}` };
}

/**
 * "This message also carried …": the parts of a message carrying several kinds that the
 * bridge neither shows nor applies (docs/protocol.md §8.2); undefined when there are none.
 */
export function notShownNotice(kind: ContentKind): string | undefined {
  const ignored = "ignored" in kind ? kind.ignored : undefined;
  if (ignored === undefined || ignored.length === 0) return undefined;
  return `This message also carried ${listOf(ignored)}, which the bridge left out: a message should carry one thing at a time.`;
}

function shownContent(
  kind: ContentKind,
  media?: IncomingMediaOptions,
  chat?: ChatOf,
): BridgeContent {
  const relation = chat && relationFromGatekeeper(kind, chat.from, chat.ownJid, chat.group);
  if (relation) return relation;
  switch (kind.kind) {
    case "text": {
      const reply = replyFromGatekeeper(kind.contextInfo);
      // An empty body would show as nothing at all.
      if (kind.text === "")
        return { kind: "unsupported", description: "sent an empty message", ...reply };
      // "/me waves" is an emote to the network's people (and how the bridge sends Matrix's).
      const emote = kind.text.startsWith(EMOTE_PREFIX) && kind.text.trim() !== EMOTE_PREFIX.trim();
      const text = emote ? kind.text.slice(EMOTE_PREFIX.length) : kind.text;
      const style = emote ? { style: "emote" as const } : {};
      const mentions = mentionsIn(text, kind.mentions, chat);
      return reply === undefined
        ? { kind: "text", text, ...style, ...mentions }
        : { kind: "text", text, ...style, ...reply, ...mentions };
    }
    case "image":
    case "video":
    case "audio":
    case "document": {
      if (media) {
        const content = incomingMediaContent(kind, media);
        return { ...content, ...mentionsIn(content.caption ?? "", kind.mentions, chat) };
      }
      const what = PART_NAMES[kind.kind === "audio" && kind.ptt ? "voice" : kind.kind];
      const caption = kind.caption ? `, with the caption: ${excerpt(kind.caption)}` : "";
      return unsupported(
        `sent ${what}${caption} (media is not bridged yet)`,
        kind.contextInfo?.stanzaId,
      );
    }
    case "reaction":
      return unsupported(
        kind.emoji === ""
          ? "removed a reaction"
          : `reacted with ${excerpt(kind.emoji)} to a message`,
      );
    case "edit": {
      const text = kind.newContent.kind === "text" ? `: ${excerpt(kind.newContent.text)}` : "";
      return unsupported(`edited a message${text}`);
    }
    case "revoke":
      return unsupported("deleted a message");
    case "unknown":
      if (kind.reason === "conflicting")
        return unsupported(
          `sent a malformed message: it carried ${listOf(kind.ignored ?? [])} at once, so the bridge applied none of it`,
        );
      return unsupported(
        kind.reason === "malformed"
          ? "sent a message that arrived damaged"
          : "sent a kind of message the bridge cannot show yet",
      );
  }
}

/** The spans of the people a group message mentions (§19.6); none in a chat of two. */
function mentionsIn(
  text: string,
  jids: readonly string[] | undefined,
  chat: ChatOf | undefined,
): { remoteMentions?: RemoteMention[] } {
  if (!chat?.group || jids === undefined) return {};
  const found = findMentions(text, jids);
  return found.length === 0 ? {} : { remoteMentions: found };
}

const PART_NAMES: Record<ContentPart, string> = {
  text: "a text",
  image: "an image",
  video: "a video",
  audio: "an audio file",
  voice: "a voice message",
  document: "a file",
  reaction: "a reaction",
  revoke: "a deletion",
  edit: "an edit",
  protocol: "a control message the bridge does not know",
};

/** "a deletion, a reaction and a video". */
function listOf(parts: readonly ContentPart[]): string {
  const names = parts.map((p) => PART_NAMES[p]);
  const last = names.pop();
  return names.length === 0 ? `${last}` : `${names.join(", ")} and ${last}`;
}

/**
 * Why a received message cannot be shown, from the client's code (docs/protocol.md §8.3):
 * content that decrypted but is not a Message (bad padding or protobuf) is "damaged", and no
 * retry is asked for; anything else failed to decrypt: "undecryptable" when a retry was asked
 * for, "lost" when the retries were spent.
 */
export function undecryptableReason(code: string, retryRequested = true): UndecryptableReason {
  if (DAMAGED.has(code)) return "damaged";
  return retryRequested ? "undecryptable" : "lost";
}

const DAMAGED: ReadonlySet<string> = new Set<ContentErrorCode>(["bad-protobuf", "bad-padding"]);

function unsupported(description: string, replyTo?: string): BridgeContent {
  return replyTo === undefined
    ? { kind: "unsupported", description }
    : { kind: "unsupported", description, replyTo };
}
