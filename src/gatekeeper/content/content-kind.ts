import type { Message } from "../../gen/gki_pb.js";

/**
 * A protocol-neutral view of a content Message, for the client and the bridge: one
 * discriminated union instead of probing eight optional protobuf fields everywhere.
 */

/** Where an encrypted media blob is and how to open it (see src/gatekeeper/media). */
export interface MediaRef {
  /** Download location of the encrypted blob (may be empty when directPath is given). */
  url: string;
  /** Host-relative path on the gatekeeper's media host. */
  directPath?: string;
  /** 32 bytes. */
  mediaKey: Uint8Array;
  /** SHA-256 of the plaintext, 32 bytes. */
  fileSha256: Uint8Array;
  /** SHA-256 of the blob (ciphertext || mac), 32 bytes. */
  fileEncSha256: Uint8Array;
  /** Plaintext length in bytes. */
  fileLength: number;
  mimetype: string;
}

/** Which message an edit, revoke or reaction is about. */
export interface MessageKeyRef {
  id: string;
  /** True when the target was sent by the author of this edit / revoke / reaction. */
  fromMe: boolean;
  remoteJid?: string;
  participant?: string;
}

/** The message being replied to. */
export interface ReplyContext {
  /** Id of the quoted message. */
  stanzaId: string;
  /** Sender of the quoted message. */
  participant?: string;
  remoteJid?: string;
  /** A copy of the quoted message, for display only; never trusted as the original. */
  quotedMessage?: Message;
}

export type MediaKind = "image" | "video" | "audio" | "document";

/**
 * A kind of content a Message carried besides the one it is shown as (docs/protocol.md §8.2:
 * a message carries one kind). "revoke" and "edit" are protocol messages ("protocol" when of
 * a type GKI/1 does not know); "voice" is audio with `ptt`.
 */
export type ContentPart =
  "text" | MediaKind | "voice" | "reaction" | "revoke" | "edit" | "protocol";

/** What a Message shown as one kind also carried: neither shown nor applied. */
interface NotShown {
  /** Absent when the Message carried one kind only. In the order of the Message's fields. */
  ignored?: readonly ContentPart[];
}

export const MEDIA_KINDS: readonly MediaKind[] = ["image", "video", "audio", "document"];

export interface TextContent extends NotShown {
  kind: "text";
  text: string;
  contextInfo?: ReplyContext;
  /** Group messages: the JIDs the text mentions (`ContextInfo.mentioned_jid`, §19.6). */
  mentions?: string[];
}

export interface MediaContent extends NotShown {
  kind: MediaKind;
  media: MediaRef;
  /** image, video, document. */
  caption?: string;
  /** audio: true for a voice note. */
  ptt?: boolean;
  /** audio, video: duration. */
  seconds?: number;
  /** audio: 64 samples, 0..100. */
  waveform?: Uint8Array;
  /** image, video. */
  width?: number;
  height?: number;
  /** video: play as a looping GIF. */
  gifPlayback?: boolean;
  /** document. */
  fileName?: string;
  /** image, video, document: small JPEG preview. */
  thumbnail?: Uint8Array;
  contextInfo?: ReplyContext;
  /** Group messages: the JIDs the caption mentions (§19.6). */
  mentions?: string[];
}

export interface ReactionContent {
  kind: "reaction";
  key: MessageKeyRef;
  /** One emoji; the empty string removes the sender's reaction. */
  emoji: string;
  senderTimestampMs?: number;
}

export interface RevokeContent {
  kind: "revoke";
  key: MessageKeyRef;
  timestampMs?: number;
}

export interface EditContent {
  kind: "edit";
  key: MessageKeyRef;
  /** The replacement: text, or media whose caption changed; never another edit. */
  newContent: ContentKind;
  timestampMs?: number;
}

export interface UnknownContent extends NotShown {
  kind: "unknown";
  /**
   * "unsupported": nothing GKI/1 knows how to show (empty, or only fields of a newer client).
   * "malformed": a known kind with required parts missing or invalid (e.g. a media key that is
   * not 32 bytes, a reaction without a target id).
   * "conflicting": a protocol message and a reaction together with nothing to show; neither
   * is applied (both are in `ignored`).
   */
  reason: "unsupported" | "malformed" | "conflicting";
}

export type ContentKind =
  TextContent | MediaContent | ReactionContent | RevokeContent | EditContent | UnknownContent;
