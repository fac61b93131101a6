/**
 * Media content in an outbox row: everything but the sources' open(), which JSON drops;
 * read back, the sources are unbound references (MediaRelay.bindOutgoing binds them).
 */
import { decodeRemoteMentions } from "./group-mentions.js";
import { isMediaKind, unboundSource } from "./media.js";
import type { MediaMessageContent, MediaRef } from "./media.js";

type Json = Record<string, unknown>;

/** The media content stored in a payload, or undefined when `c` is not media. */
export function decodeMediaContent(c: Json): MediaMessageContent | undefined {
  if (!isMediaKind(c.kind)) return undefined;
  const media = mediaRef(c.media);
  if (!media) throw new TypeError("outbox payload with a media item but no media reference");
  const out: MediaMessageContent = { kind: c.kind, media: unboundSource(media) };
  const thumbnail = mediaRef(c.thumbnail);
  if (thumbnail) out.thumbnail = unboundSource(thumbnail);
  for (const key of ["caption", "name", "replyTo"] as const) {
    const v = c[key];
    if (typeof v === "string") out[key] = v;
  }
  for (const key of ["width", "height", "durationMs"] as const) {
    const v = c[key];
    if (typeof v === "number" && Number.isFinite(v)) out[key] = v;
  }
  if (c.voice === true) out.voice = true;
  if (c.gif === true) out.gif = true;
  if (typeof c.quote === "object" && c.quote !== null) {
    const q = c.quote as Json;
    out.quote = {
      ...(typeof q.sender === "string" ? { sender: q.sender } : {}),
      ...(typeof q.text === "string" ? { text: q.text } : {}),
    };
  }
  if (Array.isArray(c.waveform) && c.waveform.every((v) => typeof v === "number")) {
    out.waveform = c.waveform as number[];
  }
  const mentions = decodeRemoteMentions(c.remoteMentions);
  if (mentions) out.remoteMentions = mentions;
  return out;
}

function mediaRef(v: unknown): MediaRef | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Json;
  if (typeof r.uri !== "string" || typeof r.mimetype !== "string") return undefined;
  const ref: MediaRef = { uri: r.uri, mimetype: r.mimetype };
  if (typeof r.size === "number" && Number.isFinite(r.size)) ref.size = r.size;
  return ref;
}
