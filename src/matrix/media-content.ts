/**
 * Matrix media events ↔ the core's media content. Pure (no I/O): the intake turns m.image,
 * m.video, m.audio, m.file and m.sticker into media content whose bytes are an unbound mxc
 * reference; for the other way, the Matrix side uploads first and builds the event here.
 *
 * Captions follow the spec (v1.10, MSC2530): when `filename` is set and differs from
 * `body`, `body` (and `formatted_body`) is the caption. Voice messages follow MSC3245:
 * m.audio with `org.matrix.msc3245.voice: {}` and `org.matrix.msc1767.audio` carrying the
 * duration in ms and a waveform of integers 0..1024 (MSC3246), plus `info.duration`.
 */
import type { MatrixMention } from "../core/content.js";
import { unboundSource } from "../core/media.js";
import type { MediaKind, MediaMessageContent, MediaRef } from "../core/media.js";
import type {
  MarkupWithMentions,
  MatrixFormattedText,
  MatrixTextContent,
} from "./formatting/index.js";
import { mentionSpans } from "./matrix-mentions.js";

type Json = Record<string, unknown>;

export const VOICE_KEY = "org.matrix.msc3245.voice";
export const AUDIO_KEY = "org.matrix.msc1767.audio";
/** MSC3246: waveform amplitudes are integers from 0 to 1024. */
const WAVEFORM_MAX = 1024;

const MSGTYPE_KIND: ReadonlyMap<string, MediaKind> = new Map([
  ["m.image", "image"],
  ["m.video", "video"],
  ["m.audio", "audio"],
  ["m.file", "file"],
]);

const KIND_MSGTYPE: Readonly<Record<MediaKind, string>> = {
  image: "m.image",
  video: "m.video",
  audio: "m.audio",
  file: "m.file",
};

const DEFAULT_MIMETYPE: Readonly<Record<MediaKind, string>> = {
  image: "image/jpeg",
  video: "video/mp4",
  audio: "audio/ogg",
  file: "application/octet-stream",
};

const EXTENSIONS: ReadonlyMap<string, string> = new Map([
  ["image/jpeg", "jpg"],
  ["image/png", "png"],
  ["image/gif", "gif"],
  ["image/webp", "webp"],
  ["video/mp4", "mp4"],
  ["video/webm", "webm"],
  ["video/quicktime", "mov"],
  ["audio/ogg", "ogg"],
  ["audio/opus", "ogg"],
  ["audio/mpeg", "mp3"],
  ["audio/mp4", "m4a"],
  ["audio/aac", "aac"],
  ["audio/wav", "wav"],
  ["application/pdf", "pdf"],
  ["text/plain", "txt"],
]);

/** Matrix text (HTML or plain) to the gatekeeper's markup (formatting's matrixToMarkup). */
export type ToMarkup = (content: MatrixTextContent, options: { isReply: boolean }) => string;
/** As ToMarkup, with the mention pills in it (formatting's matrixToMarkupWithMentions). */
export type ToMarkupWithMentions = (
  content: MatrixTextContent,
  options: { isReply: boolean },
) => MarkupWithMentions;
export type ToMatrix = (markup: string, mentions?: readonly MatrixMention[]) => MatrixFormattedText;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
}

/** The media kind of an m.room.message msgtype (m.image …), if it is media. */
export function mediaKindOf(msgtype: string | undefined): MediaKind | undefined {
  return msgtype === undefined ? undefined : MSGTYPE_KIND.get(msgtype);
}

/**
 * Media content of an m.room.message (`kind` from its msgtype) or an m.sticker (as an
 * image, without a caption). Undefined when the event carries no plain mxc:// URL (an
 * encrypted attachment, or a malformed event): the caller reports it as unsupported.
 */
export function mediaFromEvent(
  kind: MediaKind,
  content: Json,
  options: {
    sticker?: boolean;
    isReply: boolean;
    toMarkup: ToMarkup;
    /** For the caption's mentions (without it, a caption mentions no one). */
    toMarkupWithMentions?: ToMarkupWithMentions;
  },
): MediaMessageContent | undefined {
  const url = str(content.url);
  if (url === undefined || !url.startsWith("mxc://")) return undefined;
  const info = isObject(content.info) ? content.info : {};
  const mimetype = str(info.mimetype) || DEFAULT_MIMETYPE[kind];
  const size = count(info.size);
  const ref: MediaRef = { uri: url, mimetype, ...(size === undefined ? {} : { size }) };
  const out: MediaMessageContent = { kind, media: unboundSource(ref) };

  const body = str(content.body) ?? "";
  const filename = str(content.filename);
  if (!options.sticker) {
    if (filename !== undefined && filename !== "" && body !== "" && body !== filename) {
      const text: MatrixTextContent = { body };
      const format = str(content.format);
      const formatted = str(content.formatted_body);
      if (format !== undefined) text.format = format;
      if (formatted !== undefined) text.formatted_body = formatted;
      const isReply = { isReply: options.isReply };
      if (options.toMarkupWithMentions) {
        const caption = options.toMarkupWithMentions(text, isReply);
        out.caption = caption.text;
        const mentions = mentionSpans(caption.text, caption.mentions, content["m.mentions"]);
        if (mentions.length > 0) out.matrixMentions = mentions;
      } else {
        out.caption = options.toMarkup(text, isReply);
      }
    }
    const name = filename || body;
    if (name) out.name = name;
  }

  const width = count(info.w);
  const height = count(info.h);
  if (width) out.width = width;
  if (height) out.height = height;
  const audio = isObject(content[AUDIO_KEY]) ? content[AUDIO_KEY] : {};
  const duration = count(info.duration) ?? count(audio.duration);
  if (duration !== undefined && (kind === "audio" || kind === "video")) out.durationMs = duration;
  if (kind === "audio" && isObject(content[VOICE_KEY])) out.voice = true;
  if (kind === "audio" && Array.isArray(audio.waveform)) {
    const samples = audio.waveform.filter((v): v is number => typeof v === "number");
    if (samples.length > 0) {
      out.waveform = samples.map((v) => Math.min(1, Math.max(0, v / WAVEFORM_MAX)));
    }
  }
  if (kind === "video" && info["fi.mau.gif"] === true) out.gif = true;

  const thumbUrl = str(info.thumbnail_url);
  if (thumbUrl?.startsWith("mxc://") && kind !== "audio") {
    const thumbInfo = isObject(info.thumbnail_info) ? info.thumbnail_info : {};
    const thumbSize = count(thumbInfo.size);
    out.thumbnail = unboundSource({
      uri: thumbUrl,
      mimetype: str(thumbInfo.mimetype) || "image/jpeg",
      ...(thumbSize === undefined ? {} : { size: thumbSize }),
    });
  }
  return out;
}

export interface UploadedMedia {
  /** mxc:// URI of the file. */
  url: string;
  /** Bytes uploaded (what the file really is, not what the sender claimed). */
  size?: number;
  thumbnail?: { url: string; mimetype: string; size?: number };
}

/** A file name for the event, from the sender's or made from the kind and type. */
export function fileNameFor(content: MediaMessageContent): string {
  if (content.name) return content.name;
  const type = content.media.mimetype.split(";")[0]!.trim().toLowerCase();
  const ext = EXTENSIONS.get(type);
  const stem =
    content.kind === "audio" && content.voice
      ? "voice-message"
      : content.kind === "file"
        ? "file"
        : content.kind;
  return ext ? `${stem}.${ext}` : stem;
}

/** The m.room.message content for media the Matrix side has uploaded. */
export function mediaEventContent(
  content: MediaMessageContent,
  uploaded: UploadedMedia,
  toMatrix: ToMatrix,
): Json {
  const filename = fileNameFor(content);
  const mimetype = content.media.mimetype.split(";")[0]!.trim() || DEFAULT_MIMETYPE[content.kind];
  const info: Json = { mimetype };
  const size = uploaded.size ?? content.media.size;
  if (size !== undefined) info.size = size;
  if (content.width) info.w = content.width;
  if (content.height) info.h = content.height;
  if (content.durationMs !== undefined) info.duration = content.durationMs;
  if (uploaded.thumbnail) {
    info.thumbnail_url = uploaded.thumbnail.url;
    info.thumbnail_info = {
      mimetype: uploaded.thumbnail.mimetype,
      ...(uploaded.thumbnail.size === undefined ? {} : { size: uploaded.thumbnail.size }),
    };
  }
  if (content.kind === "video" && content.gif) {
    // mautrix's hints for a looping, muted animation (what the gatekeeper's "GIF" is).
    Object.assign(info, {
      "fi.mau.gif": true,
      "fi.mau.loop": true,
      "fi.mau.autoplay": true,
      "fi.mau.hide_controls": true,
      "fi.mau.no_audio": true,
    });
  }
  const voice = content.kind === "audio" && content.voice === true;
  // Without a caption, body is the file name (a voice message says so, as Element's do, and
  // has no filename: one that differed from body would make body read as a caption).
  const out: Json = {
    msgtype: KIND_MSGTYPE[content.kind],
    body: voice ? "Voice message" : filename,
    ...(voice ? {} : { filename }),
    url: uploaded.url,
    info,
  };
  if (content.caption) {
    const formatted = toMatrix(content.caption, content.matrixMentions);
    out.body = formatted.body;
    out.filename = filename;
    if (formatted.format !== undefined && formatted.formatted_body !== undefined) {
      out.format = formatted.format;
      out.formatted_body = formatted.formatted_body;
    }
  }
  if (content.kind === "audio") {
    const audio: Json = {};
    if (content.durationMs !== undefined) audio.duration = content.durationMs;
    if (content.waveform && content.waveform.length > 0) {
      audio.waveform = content.waveform.map((v) =>
        Math.round(Math.min(1, Math.max(0, v)) * WAVEFORM_MAX),
      );
    }
    out[AUDIO_KEY] = audio;
    if (voice) out[VOICE_KEY] = {};
  }
  if (content.replyTo !== undefined) {
    out["m.relates_to"] = { "m.in_reply_to": { event_id: content.replyTo } };
  }
  return out;
}
