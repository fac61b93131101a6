/**
 * A Matrix user's media → a GKI/1 media message. The bytes stream from the source through
 * the media encryption into the partner media host (./media-host.ts); what the message
 * carries (URL, key, hashes) is remembered per message id, so a resend of the same
 * message, after a crash or a lost ack, sends exactly the same message. In a group every
 * member fetches the blob, so it is hosted until it expires (`group`).
 */
import type { Message } from "../gen/gki_pb.js";
import type { MediaMessageContent, MediaSource } from "../core/media.js";
import { RemoteError } from "../core/network.js";
import { mediaMessage } from "../gatekeeper/content/index.js";
import type { MediaRef, ReplyContext } from "../gatekeeper/content/index.js";
import { replyContextFor } from "./relation-mapping.js";
import type { MediaType } from "../gatekeeper/media/index.js";
import type { HostedBlob, HostedMedia } from "./media-host.js";
import { writeMentions } from "./mention-mapping.js";

/** The gatekeeper's JPEG previews are small; a bigger thumbnail is left out. */
export const MAX_THUMBNAIL_BYTES = 64 * 1024;
/** docs/protocol.md §8.2: 64 samples, 0..100. */
export const WAVEFORM_SAMPLES = 64;
/** What the gatekeeper's apps record and play as voice notes. */
export const VOICE_MIMETYPE = "audio/ogg; codecs=opus";

export function mediaTypeFor(content: Pick<MediaMessageContent, "kind" | "voice">): MediaType {
  switch (content.kind) {
    case "image":
      return "image";
    case "video":
      return "video";
    case "audio":
      return content.voice ? "ptt" : "audio";
    case "file":
      return "document";
  }
}

export async function outgoingMediaMessage(
  hosted: HostedMedia,
  loginId: string,
  messageId: string,
  content: MediaMessageContent,
  options: { group?: boolean } = {},
): Promise<Message> {
  const blob = await hostOnce(hosted, loginId, messageId, content, options.group ?? false);
  const ref: MediaRef = {
    url: hosted.url(blob.token),
    mediaKey: blob.mediaKey,
    fileSha256: blob.fileSha256,
    fileEncSha256: blob.fileEncSha256,
    fileLength: blob.fileLength,
    mimetype: outgoingMimetype(content),
  };
  // As for text: the quoted message's sender (a group needs it, §19.6) and a copy of its text.
  const contextInfo: { contextInfo?: ReplyContext } =
    content.replyTo === undefined
      ? {}
      : { contextInfo: replyContextFor(content.replyTo, content.quote) };
  const seconds =
    content.durationMs === undefined ? {} : { seconds: toSeconds(content.durationMs) };
  // Mentions are a group's (§19.6), as for text.
  const written = writeMentions(content.caption ?? "", options.group ? content.remoteMentions : []);
  const caption = content.caption
    ? { caption: written.text, ...(written.jids.length > 0 ? { mentions: written.jids } : {}) }
    : {};
  const size = {
    ...(content.width === undefined ? {} : { width: content.width }),
    ...(content.height === undefined ? {} : { height: content.height }),
  };
  const thumb = await thumbnail(content.thumbnail);
  const thumbnailOpt = thumb === undefined ? {} : { thumbnail: thumb };
  switch (content.kind) {
    case "image":
      return mediaMessage("image", ref, { ...contextInfo, ...caption, ...size, ...thumbnailOpt });
    case "video":
      return mediaMessage("video", ref, {
        ...contextInfo,
        ...caption,
        ...size,
        ...seconds,
        ...thumbnailOpt,
        ...(content.gif ? { gifPlayback: true } : {}),
      });
    case "audio":
      return mediaMessage("audio", ref, {
        ...contextInfo,
        ...seconds,
        ...(content.voice ? { ptt: true } : {}),
        ...(content.waveform && content.waveform.length > 0
          ? { waveform: toGatekeeperWaveform(content.waveform) }
          : {}),
      });
    case "file":
      return mediaMessage("document", ref, {
        ...contextInfo,
        ...caption,
        ...thumbnailOpt,
        fileName: content.name ?? "file",
      });
  }
}

/** The hosted blob for this message: the one made before if it still serves, else a new one. */
async function hostOnce(
  hosted: HostedMedia,
  loginId: string,
  messageId: string,
  content: MediaMessageContent,
  untilExpiry: boolean,
): Promise<HostedBlob> {
  const existing = await hosted.find(loginId, messageId);
  if (existing && (await hosted.reusable(existing))) return existing;
  const opened = await content.media.open();
  try {
    return await hosted.host(loginId, messageId, mediaTypeFor(content), opened.stream, {
      untilExpiry,
    });
  } catch (err) {
    opened.stream.destroy();
    if (err instanceof RemoteError) throw err;
    // A failing disk or the like: may pass, so it is retried.
    throw new RemoteError("internal", "the bridge could not store the file for sending", false, {
      cause: err,
    });
  }
}

/** Voice notes are Opus in Ogg on the gatekeeper; Matrix clients say just "audio/ogg". */
export function outgoingMimetype(content: MediaMessageContent): string {
  const base = content.media.mimetype.split(";")[0]!.trim().toLowerCase();
  if (content.kind === "audio" && content.voice && (base === "audio/ogg" || base === "audio/opus"))
    return VOICE_MIMETYPE;
  return content.media.mimetype || "application/octet-stream";
}

/** Samples 0..1, any count → 64 bytes 0..100 (each the mean of its stretch). */
export function toGatekeeperWaveform(samples: readonly number[]): Uint8Array {
  const out = new Uint8Array(WAVEFORM_SAMPLES);
  const n = samples.length;
  for (let i = 0; i < WAVEFORM_SAMPLES; i++) {
    const from = Math.floor((i * n) / WAVEFORM_SAMPLES);
    const to = Math.max(from + 1, Math.floor(((i + 1) * n) / WAVEFORM_SAMPLES));
    let sum = 0;
    for (let j = from; j < to; j++) sum += clamp01(samples[Math.min(j, n - 1)] ?? 0);
    out[i] = Math.round((sum / (to - from)) * 100);
  }
  return out;
}

/** A JPEG preview small enough to inline, or nothing (it is only a preview). */
async function thumbnail(source: MediaSource | undefined): Promise<Uint8Array | undefined> {
  if (!source) return undefined;
  const type = source.mimetype.split(";")[0]!.trim().toLowerCase();
  if (type !== "image/jpeg") return undefined;
  if (source.size !== undefined && source.size > MAX_THUMBNAIL_BYTES) return undefined;
  try {
    const { stream } = await source.open({ maxBytes: MAX_THUMBNAIL_BYTES });
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_THUMBNAIL_BYTES) {
        stream.destroy();
        return undefined;
      }
      chunks.push(chunk);
    }
    return new Uint8Array(Buffer.concat(chunks, total));
  } catch {
    return undefined;
  }
}

function toSeconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000));
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}
