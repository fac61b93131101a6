/**
 * BridgeContent ↔ GKI/1 content. Text goes both ways (the markup is the same on both sides);
 * replies, edits, deletions and reactions are in ./relation-mapping.ts. What the bridge
 * cannot carry arrives as an "unsupported" description so the user still learns that
 * something came.
 */
import type { Message } from "../../gen/gki_pb.js";
import type { BridgeContent, RemoteMessage } from "../../core/content.js";
import { RemoteError } from "../../core/network.js";
import { describeContent, textMessage } from "../content/index.js";
import type { ContentKind } from "../content/index.js";
import type { MessageEvent } from "../client/index.js";
import { mediaNoun } from "../../core/media.js";
import { incomingMediaContent } from "./media-incoming.js";
import type { IncomingMediaOptions } from "./media-incoming.js";
import { isRelationContent } from "../../core/relations.js";
import {
  EMOTE_PREFIX,
  relationFromGatekeeper,
  relationToGatekeeper,
  replyContextFor,
  replyFromGatekeeper,
} from "./relation-mapping.js";
import type { ChatEnds } from "./relation-mapping.js";

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
  const text = content.style === "emote" ? EMOTE_PREFIX + content.text : content.text;
  return content.replyTo === undefined
    ? textMessage(text)
    : textMessage(text, { contextInfo: replyContextFor(content.replyTo, content.quote) });
}

/** `media`: where received media is fetched to (without it, media arrives as "unsupported"). */
/** `ownJid`: the receiving login's JID (edits, deletions and reactions may name its messages). */
export function toRemoteMessage(
  event: MessageEvent,
  media?: IncomingMediaOptions,
  ownJid?: string,
): RemoteMessage {
  return {
    id: event.id,
    sender: event.from,
    timestamp: event.t * 1000,
    offline: event.offline,
    ...(event.pushName === undefined ? {} : { senderName: event.pushName }),
    content: toBridgeContent(describeContent(event.content), media, { from: event.from, ownJid }),
  };
}

/** Without `chat` (who sent it), edits, deletions and reactions come out as descriptions. */
export function toBridgeContent(
  kind: ContentKind,
  media?: IncomingMediaOptions,
  chat?: { from: string; ownJid?: string | undefined },
): BridgeContent {
  const relation = chat && relationFromGatekeeper(kind, chat.from, chat.ownJid);
  if (relation) return relation;
  switch (kind.kind) {
    case "text": {
      const reply = replyFromGatekeeper(kind.contextInfo);
      // "/me waves" is an emote to the network's people (and how the bridge sends Matrix's).
      const emote = kind.text.startsWith(EMOTE_PREFIX) && kind.text.trim() !== EMOTE_PREFIX.trim();
      const text = emote ? kind.text.slice(EMOTE_PREFIX.length) : kind.text;
      const style = emote ? { style: "emote" as const } : {};
      return reply === undefined
        ? { kind: "text", text, ...style }
        : { kind: "text", text, ...style, ...reply };
    }
    case "image":
    case "video":
    case "audio":
    case "document": {
      if (media) return incomingMediaContent(kind, media);
      const what = MEDIA_NAMES[kind.kind](kind.ptt === true);
      const caption = kind.caption ? `, with the caption: ${kind.caption}` : "";
      return unsupported(
        `sent ${what}${caption} (media is not bridged yet)`,
        kind.contextInfo?.stanzaId,
      );
    }
    case "reaction":
      return unsupported(
        kind.emoji === "" ? "removed a reaction" : `reacted with ${kind.emoji} to a message`,
      );
    case "edit": {
      const text = kind.newContent.kind === "text" ? `: ${kind.newContent.text}` : "";
      return unsupported(`edited a message${text}`);
    }
    case "revoke":
      return unsupported("deleted a message");
    case "unknown":
      return unsupported(
        kind.reason === "malformed"
          ? "sent a message that arrived damaged"
          : "sent a kind of message the bridge cannot show yet",
      );
  }
}

const MEDIA_NAMES: Record<"image" | "video" | "audio" | "document", (ptt: boolean) => string> = {
  image: () => "an image",
  video: () => "a video",
  audio: (ptt) => (ptt ? "a voice message" : "an audio file"),
  document: () => "a file",
};

function unsupported(description: string, replyTo?: string): BridgeContent {
  return replyTo === undefined
    ? { kind: "unsupported", description }
    : { kind: "unsupported", description, replyTo };
}
