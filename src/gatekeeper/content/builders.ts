import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { MessageSchema, ProtocolMessage_Type } from "../../gen/gki_pb.js";
import type { Message } from "../../gen/gki_pb.js";
import type { MediaKind, MediaRef, MessageKeyRef, ReplyContext } from "./content-kind.js";

/**
 * Builders for the content Messages the bridge sends. They take the same view types that
 * describeContent returns, so describeContent(textMessage(t, o)) gives back t and o.
 * Timestamps are set only when given: the caller owns the clock.
 */

type MessageInit = MessageInitShape<typeof MessageSchema>;

export interface TextOptions {
  /** Makes this a reply. */
  contextInfo?: ReplyContext;
  /** Group messages: the JIDs the text mentions, each as "@" + its user part (§19.6). */
  mentions?: readonly string[];
}

/**
 * Plain "conversation" text, or extended text when it is a reply or mentions someone (as the
 * gatekeeper's clients do).
 */
export function textMessage(text: string, opts: TextOptions = {}): Message {
  const contextInfo = contextInfoInit(opts.contextInfo, opts.mentions);
  if (contextInfo === undefined) return create(MessageSchema, { conversation: text });
  return create(MessageSchema, { extendedTextMessage: { text, contextInfo } });
}

/** A reaction to the message `key`; the empty emoji removes the sender's reaction. */
export function reactionMessage(
  key: MessageKeyRef,
  emoji: string,
  opts: { senderTimestampMs?: number } = {},
): Message {
  return create(MessageSchema, {
    reactionMessage: {
      key: keyInit(key),
      text: emoji,
      senderTimestampMs: int64(opts.senderTimestampMs),
    },
  });
}

/** Deletes the message `key` for everyone. */
export function revokeMessage(key: MessageKeyRef, opts: { timestampMs?: number } = {}): Message {
  return create(MessageSchema, {
    protocolMessage: {
      key: keyInit(key),
      type: ProtocolMessage_Type.REVOKE,
      timestampMs: int64(opts.timestampMs),
    },
  });
}

/** Replaces the content of the message `key` with `newContent` (text, or media with a new caption). */
export function editMessage(
  key: MessageKeyRef,
  newContent: Message,
  opts: { timestampMs?: number } = {},
): Message {
  return create(MessageSchema, {
    protocolMessage: {
      key: keyInit(key),
      type: ProtocolMessage_Type.MESSAGE_EDIT,
      editedMessage: newContent,
      timestampMs: int64(opts.timestampMs),
    },
  });
}

interface CommonMediaOptions {
  contextInfo?: ReplyContext;
  /** Group messages: the JIDs the caption mentions (§19.6). */
  mentions?: readonly string[];
}

/** Which options apply to which kind; the protobuf has no field for the others. */
export interface MediaOptionsByKind {
  image: CommonMediaOptions & {
    caption?: string;
    width?: number;
    height?: number;
    thumbnail?: Uint8Array;
  };
  video: CommonMediaOptions & {
    caption?: string;
    seconds?: number;
    width?: number;
    height?: number;
    gifPlayback?: boolean;
    thumbnail?: Uint8Array;
  };
  audio: CommonMediaOptions & { ptt?: boolean; seconds?: number; waveform?: Uint8Array };
  document: CommonMediaOptions & { caption?: string; fileName?: string; thumbnail?: Uint8Array };
}

/** A media message pointing at an already uploaded blob (see src/gatekeeper/media). */
export function mediaMessage<K extends MediaKind>(
  kind: K,
  ref: MediaRef,
  opts?: MediaOptionsByKind[K],
): Message {
  return create(MessageSchema, mediaInit(kind, ref, opts ?? {}));
}

function mediaInit(kind: MediaKind, ref: MediaRef, opts: Partial<UnionToFields>): MessageInit {
  if (!Number.isSafeInteger(ref.fileLength) || ref.fileLength < 0) {
    throw new RangeError(`fileLength must be a non-negative safe integer, got ${ref.fileLength}`);
  }
  const common = {
    url: ref.url,
    directPath: ref.directPath,
    mediaKey: ref.mediaKey,
    fileSha256: ref.fileSha256,
    fileEncSha256: ref.fileEncSha256,
    fileLength: BigInt(ref.fileLength),
    mimetype: ref.mimetype,
    contextInfo: contextInfoInit(opts.contextInfo, opts.mentions),
  };
  switch (kind) {
    case "image":
      return {
        imageMessage: {
          ...common,
          caption: opts.caption,
          width: opts.width,
          height: opts.height,
          jpegThumbnail: opts.thumbnail,
        },
      };
    case "video":
      return {
        videoMessage: {
          ...common,
          caption: opts.caption,
          seconds: opts.seconds,
          width: opts.width,
          height: opts.height,
          gifPlayback: opts.gifPlayback,
          jpegThumbnail: opts.thumbnail,
        },
      };
    case "audio":
      return {
        audioMessage: { ...common, ptt: opts.ptt, seconds: opts.seconds, waveform: opts.waveform },
      };
    case "document":
      return {
        documentMessage: {
          ...common,
          caption: opts.caption,
          fileName: opts.fileName,
          jpegThumbnail: opts.thumbnail,
        },
      };
  }
}

type UnionToFields = MediaOptionsByKind["image"] &
  MediaOptionsByKind["video"] &
  MediaOptionsByKind["audio"] &
  MediaOptionsByKind["document"];

function keyInit(key: MessageKeyRef) {
  return { id: key.id, fromMe: key.fromMe, remoteJid: key.remoteJid, participant: key.participant };
}

/** ContextInfo for a reply and/or mentions; undefined when there is neither. */
function contextInfoInit(ci: ReplyContext | undefined, mentions: readonly string[] | undefined) {
  const mentionedJid = mentions === undefined || mentions.length === 0 ? undefined : [...mentions];
  if (ci === undefined && mentionedJid === undefined) return undefined;
  return {
    stanzaId: ci?.stanzaId,
    participant: ci?.participant,
    remoteJid: ci?.remoteJid,
    quotedMessage: ci?.quotedMessage,
    mentionedJid,
  };
}

function int64(n: number | undefined): bigint | undefined {
  return n === undefined ? undefined : BigInt(n);
}
