/**
 * Media as the core sees it: a message kind (image, video, audio, file) whose bytes are a
 * MediaSource, a reference that opens a fresh stream, never a buffer the core holds. Matrix
 * sources are mxc:// URIs read through authenticated media; remote sources download and
 * verify the network's blob first. Only the reference (uri, mimetype, size) is persisted.
 */
import { Transform, pipeline } from "node:stream";
import type { Readable, TransformCallback } from "node:stream";
import { RemoteError } from "./network.js";
import type { TextMentions } from "./content.js";
import type { ReplyQuote } from "./relations.js";

export type MediaKind = "image" | "video" | "audio" | "file";

export const MEDIA_KINDS: readonly MediaKind[] = ["image", "video", "audio", "file"];

export interface OpenedMedia {
  stream: Readable;
  /** Exact length in bytes when it is known before reading (Content-Length, a temp file). */
  size?: number;
}

/** What is persisted of a source (the outbox keeps it until the message is sent). */
export interface MediaRef {
  /** Where the bytes are, in the terms of the side that made it (an mxc:// URI for Matrix). */
  uri: string;
  mimetype: string;
  /** Length in bytes as the sender stated it: may be missing or wrong, so it is checked while streaming. */
  size?: number;
}

export interface MediaSource extends MediaRef {
  /**
   * A fresh stream of the bytes on each call. Rejects with MediaUnavailableError (or
   * MediaLimitError when the bytes are over `maxBytes`, which an implementation should
   * refuse as early as it can tell).
   */
  open(options?: { maxBytes?: number }): Promise<OpenedMedia>;
}

/**
 * An image, video, audio (or voice message) or file, with what both networks can say about it;
 * the mentions are the caption's (see content.ts).
 */
export interface MediaMessageContent extends TextMentions {
  kind: MediaKind;
  media: MediaSource;
  /** Caption in the gatekeeper's markup, like text (see content.ts). */
  caption?: string;
  /** File name as the sender gave it. */
  name?: string;
  /** image, video: pixels. */
  width?: number;
  height?: number;
  /** audio, video: milliseconds. */
  durationMs?: number;
  /** audio: a voice message (recorded in the app), not an audio file. */
  voice?: boolean;
  /** audio: loudness samples from 0 to 1, any number of them. */
  waveform?: number[];
  /** video: plays as a looping animation without sound. */
  gif?: boolean;
  /** image, video, file: a small preview (typically JPEG). */
  thumbnail?: MediaSource;
  replyTo?: string;
  quote?: ReplyQuote;
  /** Matrix users it mentions (see content.ts). */
  mentions?: string[];
}

/** Largest file in bytes, per kind. */
export type MediaLimits = Readonly<Record<MediaKind, number>>;

export function isMediaKind(kind: unknown): kind is MediaKind {
  return typeof kind === "string" && (MEDIA_KINDS as readonly string[]).includes(kind);
}

export function isMediaContent(content: { kind: string }): content is MediaMessageContent {
  return isMediaKind(content.kind);
}

/** "an image", "a voice message", … for notices. */
export function mediaNoun(content: Pick<MediaMessageContent, "kind" | "voice">): string {
  switch (content.kind) {
    case "image":
      return "an image";
    case "video":
      return "a video";
    case "audio":
      return content.voice ? "a voice message" : "an audio file";
    case "file":
      return "a file";
  }
}

/** Plural for limit lines: "images", "videos", "audio and voice messages", "files". */
export function mediaPlural(kind: MediaKind): string {
  return { image: "images", video: "videos", audio: "audio and voice messages", file: "files" }[
    kind
  ];
}

/** Sizes for people: "900 KB", "16 MB", "1.5 GB" (binary units, as the limits are set). */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} bytes`;
  // One decimal below 10 ("1.5 MB"), none where it adds nothing ("2 MB", "16 MB").
  const shown = value >= 10 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
  return `${shown} ${units[unit]}`;
}

/** The limits as a sentence: "images up to 16 MB, videos up to 64 MB, …". */
export function describeLimits(limits: MediaLimits): string {
  return MEDIA_KINDS.map((k) => `${mediaPlural(k)} up to ${formatBytes(limits[k])}`).join(", ");
}

/**
 * Over the size limit: nothing is sent. A RemoteError so every layer treats it as final
 * (no retry), and `userMessage` completes "Your message was not delivered: …".
 */
export class MediaLimitError extends RemoteError {
  constructor(
    readonly kind: MediaKind,
    readonly maxBytes: number,
  ) {
    super(
      "too-large",
      `it is larger than this bridge relays for ${mediaPlural(kind)} (${formatBytes(maxBytes)})`,
      true,
    );
    this.name = "MediaLimitError";
  }
}

export type MediaFailure =
  /** The file is no longer (or never was) where the message said. */
  | "not-found"
  /** Hash or MAC did not match: damaged or tampered with. */
  | "corrupt"
  /** The server holding it could not be reached or failed; trying later may work. */
  | "unavailable"
  /** The receiving side refused it (e.g. the homeserver's upload limit). */
  | "refused";

/**
 * The bytes of a media message could not be had. `permanent` ones are told to the user
 * instead of retried; `userMessage` says what failed in words.
 */
export class MediaUnavailableError extends RemoteError {
  constructor(
    readonly failure: MediaFailure,
    userMessage: string,
    options?: { cause?: unknown; permanent?: boolean; detail?: string },
  ) {
    super(
      options?.detail ?? failure,
      userMessage,
      options?.permanent ?? failure !== "unavailable",
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "MediaUnavailableError";
  }
}

/**
 * A source known only by its reference (read back from the outbox, or made by the Matrix
 * intake, which does no I/O): the relay binds it to the side that can read it before use.
 */
export function unboundSource(ref: MediaRef): MediaSource {
  return {
    uri: ref.uri,
    mimetype: ref.mimetype,
    ...(ref.size === undefined ? {} : { size: ref.size }),
    open: () =>
      Promise.reject(
        new MediaUnavailableError("unavailable", "the bridge could not read the file (a bug)", {
          permanent: true,
          detail: "unbound",
        }),
      ),
  };
}

/** Passes bytes through and fails with MediaLimitError once more than `maxBytes` went by. */
export class ByteLimit extends Transform {
  private seen = 0;

  constructor(
    private readonly kind: MediaKind,
    private readonly maxBytes: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.maxBytes) {
      callback(new MediaLimitError(this.kind, this.maxBytes));
      return;
    }
    callback(null, chunk);
  }
}

/**
 * The same source with `maxBytes` enforced: refused at once when the stated or known size
 * is over, and counted while streaming otherwise (a stated size may lie).
 */
export function limitedSource(source: MediaSource, kind: MediaKind, maxBytes: number): MediaSource {
  return {
    uri: source.uri,
    mimetype: source.mimetype,
    ...(source.size === undefined ? {} : { size: source.size }),
    async open(options) {
      const max = Math.min(maxBytes, options?.maxBytes ?? Infinity);
      if (source.size !== undefined && source.size > max) throw new MediaLimitError(kind, max);
      const opened = await source.open({ maxBytes: max });
      if (opened.size !== undefined && opened.size > max) {
        opened.stream.destroy();
        throw new MediaLimitError(kind, max);
      }
      // pipeline: an error on either side ends both (no download left hanging).
      const stream = pipeline(opened.stream, new ByteLimit(kind, max), () => undefined);
      return {
        stream,
        ...(opened.size === undefined ? {} : { size: opened.size }),
      };
    },
  };
}
