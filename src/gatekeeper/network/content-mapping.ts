/**
 * BridgeContent ↔ GKI/1 content. Text goes both ways (the markup is the same on both sides);
 * what the bridge cannot carry yet (media, reactions, edits, deletions) arrives as an
 * "unsupported" description so the user still learns that something came.
 */
import type { Message } from "../../gen/gki_pb.js";
import type { BridgeContent, RemoteMessage } from "../../core/content.js";
import { RemoteError } from "../../core/network.js";
import { describeContent, textMessage } from "../content/index.js";
import type { ContentKind } from "../content/index.js";
import type { MessageEvent } from "../client/index.js";

/** Emotes have no GKI/1 form; "/me" is what people on the network understand. */
const EMOTE_PREFIX = "/me ";

export function toGatekeeperMessage(content: BridgeContent): Message {
  if (content.kind !== "text") {
    throw new RemoteError(
      "unsupported",
      `${content.description} cannot be sent to Gatekeeper yet`,
      true,
    );
  }
  const text = content.style === "emote" ? EMOTE_PREFIX + content.text : content.text;
  return content.replyTo === undefined
    ? textMessage(text)
    : textMessage(text, { contextInfo: { stanzaId: content.replyTo } });
}

export function toRemoteMessage(event: MessageEvent): RemoteMessage {
  return {
    id: event.id,
    sender: event.from,
    timestamp: event.t * 1000,
    offline: event.offline,
    content: toBridgeContent(describeContent(event.content)),
  };
}

export function toBridgeContent(kind: ContentKind): BridgeContent {
  switch (kind.kind) {
    case "text":
      return kind.contextInfo === undefined
        ? { kind: "text", text: kind.text }
        : { kind: "text", text: kind.text, replyTo: kind.contextInfo.stanzaId };
    case "image":
    case "video":
    case "audio":
    case "document": {
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
