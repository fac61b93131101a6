/**
 * A contact's GKI/1 media message → the core's media content. Opening the source downloads
 * the blob from the gatekeeper's media host with the media_conn bearer token, checks and
 * decrypts it as it streams into a temporary file, and hands out that file only after the
 * blob hash, the MAC and the plaintext hash were verified at the end (docs/protocol.md
 * §11.1): nothing unauthenticated ever leaves here. The file is deleted once read.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { MediaLimitError, MediaUnavailableError } from "../core/media.js";
import type { MediaKind, MediaMessageContent, MediaSource, OpenedMedia } from "../core/media.js";
import { downloadUrl } from "../gatekeeper/client/index.js";
import type { GatekeeperClient } from "../gatekeeper/client/index.js";
import type { MediaContent } from "../gatekeeper/content/index.js";
import { MEDIA_MAC_LENGTH, MediaError, createDecryptStream } from "../gatekeeper/media/index.js";
import type { MediaType } from "../gatekeeper/media/index.js";

/** A whole transfer may take this long (100 MB over a slow link). */
const DOWNLOAD_TIMEOUT_MS = 15 * 60_000;
/** AES-CBC padding adds up to one block to the plaintext. */
const MAX_OVERHEAD = 16 + MEDIA_MAC_LENGTH;

export interface IncomingMediaOptions {
  client: Pick<GatekeeperClient, "mediaConn">;
  /** Folder for the temporary files (created on first use). */
  tempDir: string;
}

/** Builds the core's content for a received media message; bytes are fetched on open(). */
export function incomingMediaContent(
  kind: MediaContent,
  o: IncomingMediaOptions,
): MediaMessageContent {
  const coreKind: MediaKind = kind.kind === "document" ? "file" : kind.kind;
  const content: MediaMessageContent = {
    kind: coreKind,
    media: incomingSource(kind, coreKind, o),
  };
  if (kind.caption) content.caption = kind.caption;
  if (kind.fileName) content.name = kind.fileName;
  if (kind.width) content.width = kind.width;
  if (kind.height) content.height = kind.height;
  if (kind.seconds) content.durationMs = kind.seconds * 1000;
  if (kind.kind === "audio" && kind.ptt) content.voice = true;
  if (kind.waveform && kind.waveform.length > 0)
    content.waveform = fromGatekeeperWaveform(kind.waveform);
  if (kind.gifPlayback) content.gif = true;
  if (kind.thumbnail && kind.thumbnail.length > 0) content.thumbnail = memorySource(kind.thumbnail);
  if (kind.contextInfo) content.replyTo = kind.contextInfo.stanzaId;
  return content;
}

/** 0..100 bytes → 0..1. */
export function fromGatekeeperWaveform(waveform: Uint8Array): number[] {
  return [...waveform].map((v) => Math.min(100, v) / 100);
}

function mediaTypeOf(kind: MediaContent): MediaType {
  if (kind.kind === "audio") return kind.ptt ? "ptt" : "audio";
  return kind.kind;
}

function incomingSource(
  kind: MediaContent,
  coreKind: MediaKind,
  o: IncomingMediaOptions,
): MediaSource {
  const ref = kind.media;
  return {
    uri: ref.directPath ?? ref.url,
    mimetype: ref.mimetype || "application/octet-stream",
    size: ref.fileLength,
    open: (options) => download(kind, coreKind, o, options?.maxBytes),
  };
}

async function download(
  kind: MediaContent,
  coreKind: MediaKind,
  o: IncomingMediaOptions,
  maxBytes: number | undefined,
): Promise<OpenedMedia> {
  const ref = kind.media;
  if (maxBytes !== undefined && ref.fileLength > maxBytes) {
    throw new MediaLimitError(coreKind, maxBytes);
  }
  const response = await fetchBlob(o, ref.directPath ?? ref.url, ref.fileEncSha256);
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (maxBytes !== undefined && Number.isFinite(declared) && declared > maxBytes + MAX_OVERHEAD) {
    await response.body?.cancel();
    throw new MediaLimitError(coreKind, maxBytes);
  }
  await mkdir(o.tempDir, { recursive: true });
  const path = join(o.tempDir, `in-${randomBytes(12).toString("hex")}.tmp`);
  const decrypt = createDecryptStream({
    mediaKey: ref.mediaKey,
    mediaType: mediaTypeOf(kind),
    fileEncSha256: ref.fileEncSha256,
    fileSha256: ref.fileSha256,
    ...(maxBytes === undefined ? {} : { maxSize: maxBytes }),
  });
  try {
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    await pipeline(body, decrypt, createWriteStream(path, { flags: "wx" }));
  } catch (err) {
    await unlink(path).catch(() => undefined);
    throw downloadError(err, coreKind, maxBytes);
  }
  // Verified in full: from here on the bytes may be shown.
  const size = (await stat(path)).size;
  const stream = createReadStream(path);
  stream.once("close", () => void unlink(path).catch(() => undefined));
  return { stream, size };
}

async function fetchBlob(
  o: IncomingMediaOptions,
  location: string,
  fileEncSha256: Uint8Array,
): Promise<Response> {
  const get = async (refresh: boolean): Promise<Response> => {
    const conn = await o.client.mediaConn(refresh);
    let url: string;
    try {
      url = downloadUrl(conn.host, location, fileEncSha256);
    } catch (err) {
      throw new MediaUnavailableError("not-found", "the message does not say where the file is", {
        cause: err,
      });
    }
    try {
      return await fetch(url, {
        headers: { authorization: `Bearer ${conn.auth}` },
        signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS),
      });
    } catch (err) {
      throw new MediaUnavailableError(
        "unavailable",
        "Gatekeeper's media server could not be reached",
        {
          cause: err,
        },
      );
    }
  };
  let response: Response;
  try {
    response = await get(false);
    if (response.status === 401) {
      // The media_conn token expired: one more try with a fresh one.
      await response.body?.cancel();
      response = await get(true);
    }
  } catch (err) {
    if (err instanceof MediaUnavailableError) throw err;
    // No media_conn (not connected): try again later.
    throw new MediaUnavailableError(
      "unavailable",
      "Gatekeeper's media server could not be reached",
      {
        cause: err,
      },
    );
  }
  if (response.status === 200 && response.body) return response;
  await response.body?.cancel();
  if (response.status === 404 || response.status === 410 || response.status === 403) {
    throw new MediaUnavailableError(
      "not-found",
      "the file is no longer on Gatekeeper's server (it may have expired)",
      { detail: `http-${response.status}` },
    );
  }
  if (response.status === 502 && response.headers.get("content-type")?.includes("json")) {
    // The proxy refuses a partner blob whose hash does not match.
    throw new MediaUnavailableError("corrupt", "the file did not match its checksum", {
      detail: "enc-hash-mismatch",
    });
  }
  throw new MediaUnavailableError(
    "unavailable",
    `Gatekeeper's media server answered with an error (HTTP ${response.status})`,
    { detail: `http-${response.status}` },
  );
}

function downloadError(err: unknown, kind: MediaKind, maxBytes: number | undefined): Error {
  if (err instanceof MediaError) {
    if (err.code === "too-large" && maxBytes !== undefined)
      return new MediaLimitError(kind, maxBytes);
    const what =
      err.code === "bad-mac"
        ? "the file failed its integrity check (bad MAC): it was damaged or tampered with"
        : err.code === "enc-hash-mismatch" || err.code === "plaintext-hash-mismatch"
          ? "the file did not match its checksum: it was damaged or tampered with"
          : "the file could not be decrypted";
    return new MediaUnavailableError("corrupt", what, { cause: err, detail: err.code });
  }
  return new MediaUnavailableError("unavailable", "the download from Gatekeeper broke off", {
    cause: err,
  });
}

/** The inline JPEG preview a media message may carry. */
function memorySource(data: Uint8Array): MediaSource {
  const copy = Buffer.from(data);
  return {
    uri: "inline:thumbnail",
    mimetype: "image/jpeg",
    size: copy.length,
    open: async () => ({ stream: Readable.from([copy]), size: copy.length }),
  };
}
