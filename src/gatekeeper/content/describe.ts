import { isFieldSet } from "@bufbuild/protobuf";
import {
  AudioMessageSchema,
  DocumentMessageSchema,
  ImageMessageSchema,
  MessageSchema,
  ProtocolMessageSchema,
  ProtocolMessage_Type,
  ReactionMessageSchema,
  VideoMessageSchema,
} from "../../gen/gki_pb.js";
import type {
  AudioMessage,
  ContextInfo,
  DocumentMessage,
  ImageMessage,
  Message,
  MessageKey,
  ProtocolMessage,
  ReactionMessage,
  VideoMessage,
} from "../../gen/gki_pb.js";
import type {
  ContentKind,
  ContentPart,
  MediaContent,
  MediaRef,
  MessageKeyRef,
  ReplyContext,
  TextContent,
  UnknownContent,
} from "./content-kind.js";

const UNSUPPORTED: UnknownContent = { kind: "unknown", reason: "unsupported" };
const MALFORMED: UnknownContent = { kind: "unknown", reason: "malformed" };
const CONFLICTING: UnknownContent = { kind: "unknown", reason: "conflicting" };
const HASH_LENGTH = 32;
const MEDIA_KEY_LENGTH = 32;

/** The content fields of a Message, one slot per kind (conversation and extended text: "text"). */
type Slot = "protocol" | "reaction" | "image" | "video" | "audio" | "document" | "text";

/** What a Message carrying several kinds is shown as: the first of these it carries. */
const SHOWN_FIRST: readonly Slot[] = ["image", "video", "audio", "document", "text"];

type Shown = TextContent | MediaContent | UnknownContent;

/**
 * What a Message is. A Message should carry one kind (docs/protocol.md §8.2). When a peer sets
 * several, the first of image, video, audio, document, text is shown, and a protocol message
 * (deletion, edit) or reaction is never applied: it may not ride along with something visible,
 * nor hide it. Everything else it carried is listed in `ignored`, for the user to be told.
 */
export function describeContent(msg: Message): ContentKind {
  return describe(msg, false);
}

function describe(msg: Message, insideEdit: boolean): ContentKind {
  const present = slotsOf(msg);
  const [only] = present;
  if (only === undefined) return UNSUPPORTED;
  if (insideEdit) {
    // The new content of an edit is one text or one captioned media, nothing else.
    if (present.length > 1 || only === "protocol" || only === "reaction") return MALFORMED;
    return describeShown(msg, only);
  }
  if (present.length === 1) {
    if (only === "protocol") return describeProtocol(msg.protocolMessage!);
    if (only === "reaction") return describeReaction(msg.reactionMessage!);
    return describeShown(msg, only);
  }
  const shown = SHOWN_FIRST.find((slot) => present.includes(slot));
  const ignored = present.filter((slot) => slot !== shown).map((slot) => partOf(msg, slot));
  return { ...(shown === undefined ? CONFLICTING : describeShown(msg, shown)), ignored };
}

function slotsOf(msg: Message): Slot[] {
  const out: Slot[] = [];
  if (msg.protocolMessage !== undefined) out.push("protocol");
  if (msg.reactionMessage !== undefined) out.push("reaction");
  if (msg.imageMessage !== undefined) out.push("image");
  if (msg.videoMessage !== undefined) out.push("video");
  if (msg.audioMessage !== undefined) out.push("audio");
  if (msg.documentMessage !== undefined) out.push("document");
  if (msg.extendedTextMessage !== undefined || isFieldSet(msg, MessageSchema.field.conversation))
    out.push("text");
  return out;
}

/** How the user is told about a slot that is not shown. */
function partOf(msg: Message, slot: Slot): ContentPart {
  switch (slot) {
    case "protocol": {
      const pm = msg.protocolMessage!;
      // A type this schema does not know reads as the default (REVOKE): check presence.
      if (!isFieldSet(pm, ProtocolMessageSchema.field.type)) return "protocol";
      if (pm.type === ProtocolMessage_Type.REVOKE) return "revoke";
      return pm.type === ProtocolMessage_Type.MESSAGE_EDIT ? "edit" : "protocol";
    }
    case "audio":
      return msg.audioMessage!.ptt ? "voice" : "audio";
    default:
      return slot;
  }
}

function describeShown(msg: Message, slot: Slot): Shown {
  switch (slot) {
    case "image":
      return describeImage(msg.imageMessage!);
    case "video":
      return describeVideo(msg.videoMessage!);
    case "audio":
      return describeAudio(msg.audioMessage!);
    case "document":
      return describeDocument(msg.documentMessage!);
    case "text":
      return describeText(msg);
    default:
      // Protocol messages and reactions are never shown as content.
      return MALFORMED;
  }
}

/** Extended text wins over conversation: they are two forms of the same thing. */
function describeText(msg: Message): TextContent {
  const ext = msg.extendedTextMessage;
  if (ext === undefined) return { kind: "text", text: msg.conversation };
  return withOptional(
    { kind: "text", text: ext.text },
    { contextInfo: replyContext(ext.contextInfo), mentions: mentionedJids(ext.contextInfo) },
  );
}

function describeProtocol(pm: ProtocolMessage): ContentKind {
  // proto2 closed enum: a type this schema does not know is kept as an unknown field and the
  // property reads as the default (REVOKE), so presence must be checked explicitly.
  if (!isFieldSet(pm, ProtocolMessageSchema.field.type)) return UNSUPPORTED;
  const key = keyRef(pm.key);
  if (key === undefined) return MALFORMED;
  const timestampMs = optionalInt64(pm, ProtocolMessageSchema.field.timestampMs, pm.timestampMs);
  switch (pm.type) {
    case ProtocolMessage_Type.REVOKE:
      return withOptional({ kind: "revoke", key }, { timestampMs });
    case ProtocolMessage_Type.MESSAGE_EDIT: {
      if (pm.editedMessage === undefined) return MALFORMED;
      const newContent = describe(pm.editedMessage, true);
      if (newContent.kind === "unknown") return MALFORMED;
      return withOptional({ kind: "edit", key, newContent }, { timestampMs });
    }
    default:
      return UNSUPPORTED;
  }
}

function describeReaction(r: ReactionMessage): ContentKind {
  const key = keyRef(r.key);
  if (key === undefined) return MALFORMED;
  const senderTimestampMs = optionalInt64(
    r,
    ReactionMessageSchema.field.senderTimestampMs,
    r.senderTimestampMs,
  );
  return withOptional({ kind: "reaction", key, emoji: r.text }, { senderTimestampMs });
}

function describeImage(m: ImageMessage): Shown {
  const f = ImageMessageSchema.field;
  return mediaContent("image", mediaRef(m), {
    caption: nonEmpty(m.caption),
    width: setOrUndefined(m, f.width, m.width),
    height: setOrUndefined(m, f.height, m.height),
    thumbnail: setOrUndefined(m, f.jpegThumbnail, m.jpegThumbnail),
    contextInfo: replyContext(m.contextInfo),
    mentions: mentionedJids(m.contextInfo),
  });
}

function describeVideo(m: VideoMessage): Shown {
  const f = VideoMessageSchema.field;
  return mediaContent("video", mediaRef(m), {
    caption: nonEmpty(m.caption),
    seconds: setOrUndefined(m, f.seconds, m.seconds),
    width: setOrUndefined(m, f.width, m.width),
    height: setOrUndefined(m, f.height, m.height),
    gifPlayback: setOrUndefined(m, f.gifPlayback, m.gifPlayback),
    thumbnail: setOrUndefined(m, f.jpegThumbnail, m.jpegThumbnail),
    contextInfo: replyContext(m.contextInfo),
    mentions: mentionedJids(m.contextInfo),
  });
}

function describeAudio(m: AudioMessage): Shown {
  const f = AudioMessageSchema.field;
  return mediaContent("audio", mediaRef(m), {
    ptt: setOrUndefined(m, f.ptt, m.ptt),
    seconds: setOrUndefined(m, f.seconds, m.seconds),
    waveform: setOrUndefined(m, f.waveform, m.waveform),
    contextInfo: replyContext(m.contextInfo),
    mentions: mentionedJids(m.contextInfo),
  });
}

function describeDocument(m: DocumentMessage): Shown {
  const f = DocumentMessageSchema.field;
  return mediaContent("document", mediaRef(m), {
    caption: nonEmpty(m.caption),
    fileName: nonEmpty(m.fileName),
    thumbnail: setOrUndefined(m, f.jpegThumbnail, m.jpegThumbnail),
    contextInfo: replyContext(m.contextInfo),
    mentions: mentionedJids(m.contextInfo),
  });
}

type MediaExtras = Omit<MediaContent, "kind" | "media">;

function mediaContent(
  kind: MediaContent["kind"],
  media: MediaRef | undefined,
  extras: MediaExtras,
): MediaContent | UnknownContent {
  if (media === undefined) return MALFORMED;
  return withOptional({ kind, media }, extras);
}

interface MediaFields {
  url: string;
  directPath: string;
  mediaKey: Uint8Array;
  fileSha256: Uint8Array;
  fileEncSha256: Uint8Array;
  fileLength: bigint;
  mimetype: string;
}

/** A MediaRef, or undefined when the peer's message cannot be downloaded and verified. */
function mediaRef(m: MediaFields): MediaRef | undefined {
  if (m.mediaKey.length !== MEDIA_KEY_LENGTH) return undefined;
  if (m.fileSha256.length !== HASH_LENGTH || m.fileEncSha256.length !== HASH_LENGTH)
    return undefined;
  if (m.url === "" && m.directPath === "") return undefined;
  if (m.fileLength > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return withOptional(
    {
      url: m.url,
      mediaKey: m.mediaKey,
      fileSha256: m.fileSha256,
      fileEncSha256: m.fileEncSha256,
      fileLength: Number(m.fileLength),
      mimetype: m.mimetype,
    },
    { directPath: nonEmpty(m.directPath) },
  );
}

function keyRef(key: MessageKey | undefined): MessageKeyRef | undefined {
  if (key === undefined || key.id === "") return undefined;
  return withOptional(
    { id: key.id, fromMe: key.fromMe },
    {
      remoteJid: nonEmpty(key.remoteJid),
      participant: nonEmpty(key.participant),
    },
  );
}

/** §19.6: who the text mentions; undefined when nobody (as most messages). */
function mentionedJids(ci: ContextInfo | undefined): string[] | undefined {
  const jids = ci?.mentionedJid.filter((jid) => jid !== "");
  return jids === undefined || jids.length === 0 ? undefined : jids;
}

function replyContext(ci: ContextInfo | undefined): ReplyContext | undefined {
  if (ci === undefined || ci.stanzaId === "") return undefined;
  return withOptional(
    { stanzaId: ci.stanzaId },
    {
      participant: nonEmpty(ci.participant),
      remoteJid: nonEmpty(ci.remoteJid),
      quotedMessage: ci.quotedMessage,
    },
  );
}

// ---------------------------------------------------------------------------
// proto2 presence helpers: the view carries only what the peer actually set.
// ---------------------------------------------------------------------------

type FieldOf = Parameters<typeof isFieldSet>[1];
type AnyMessage = Parameters<typeof isFieldSet>[0];

function setOrUndefined<T>(msg: AnyMessage, field: FieldOf, value: T): T | undefined {
  return isFieldSet(msg, field) ? value : undefined;
}

function optionalInt64(msg: AnyMessage, field: FieldOf, value: bigint): number | undefined {
  return isFieldSet(msg, field) ? Number(value) : undefined;
}

function nonEmpty(s: string): string | undefined {
  return s === "" ? undefined : s;
}

/** base plus only those extras that are defined, so views have no `key: undefined` noise. */
function withOptional<B extends object, E extends object>(base: B, extras: E): B & Partial<E> {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(extras)) if (v !== undefined) out[k] = v;
  return out as B & Partial<E>;
}
