/**
 * Media for the chat: a file from disk encrypted and uploaded to the gatekeeper's media host
 * (a native user's client does that, docs/protocol.md §11.3) and sent as a media message;
 * a received one downloaded, checked and decrypted, and saved under a name of our making.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { Message } from "../../gen/gki_pb.js";
import { GatekeeperError, MAX_MEDIA_BYTES } from "../../gatekeeper/client/index.js";
import type { GatekeeperClient, UploadedMedia } from "../../gatekeeper/client/index.js";
import { mediaMessage } from "../../gatekeeper/content/index.js";
import type { MediaContent, MediaRef } from "../../gatekeeper/content/index.js";
import {
  AES_BLOCK_LENGTH,
  MEDIA_MAC_LENGTH,
  MediaError,
  decryptMedia,
  encryptMedia,
} from "../../gatekeeper/media/index.js";
import type { MediaType } from "../../gatekeeper/media/index.js";
import { ChatError } from "./chat-error.js";
import { type FileKind, extensionFor, fileKind } from "./file-kind.js";
import { shortId } from "./ids.js";

/** Longest file name we write (most file systems allow 255 bytes). */
const MAX_NAME_LENGTH = 120;
/** Control characters, and the bidi overrides that make "exe.jpg" look like "gpj.exe". */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_NAMES = /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g;
/** How many "name (n).ext" to try before giving up on a crowded folder. */
const MAX_SUFFIX = 999;

export interface FileToSend {
  path: string;
  /** The base name, for a document's file name and for messages to the user. */
  name: string;
  bytes: Uint8Array;
  kind: FileKind;
  voice: boolean;
}

/** Reads a file to send; every refusal is a ChatError with one line for the user. */
export async function readFileToSend(path: string, opts: { voice: boolean }): Promise<FileToSend> {
  const full = expandHome(path);
  const name = basename(full);
  let size: number;
  try {
    const info = await stat(full);
    if (!info.isFile()) throw new ChatError("bad-file", `${path} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof ChatError) throw err;
    throw fileError(path, err);
  }
  if (size === 0) throw new ChatError("bad-file", `${path} is empty`);
  if (blobLength(size) > MAX_MEDIA_BYTES) {
    throw new ChatError(
      "too-large",
      `${name} is too large (${size} bytes): the gatekeeper takes up to ${mebibytes(MAX_MEDIA_BYTES)}, encryption included`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(full);
  } catch (err) {
    throw fileError(path, err);
  }
  const kind = fileKind(name, bytes);
  if (opts.voice && kind.kind !== "audio") {
    throw new ChatError("wrong-kind", `${name} is not an audio file (${kind.mimetype})`);
  }
  return { path, name, bytes, kind, voice: opts.voice };
}

/** Refuses a caption where the message has no place for one (audio, voice messages). */
export function checkCaption(file: FileToSend, caption: string | undefined): void {
  if (caption !== undefined && file.kind.kind === "audio") {
    throw new ChatError(
      "wrong-kind",
      "an audio or voice message has no caption: send the text as a message of its own",
    );
  }
}

/** Encrypts and uploads the file; returns the media message that points at it. */
export async function uploadFile(
  client: Pick<GatekeeperClient, "uploadMedia">,
  file: FileToSend,
  caption?: string,
): Promise<Message> {
  checkCaption(file, caption);
  const { kind, mimetype } = file.kind;
  const mediaType: MediaType = kind === "audio" && file.voice ? "ptt" : kind;
  const encrypted = encryptMedia(file.bytes, mediaType);
  let uploaded: UploadedMedia;
  try {
    uploaded = await client.uploadMedia(encrypted.blob);
  } catch (err) {
    const why =
      err instanceof GatekeeperError && err.code === "too-large"
        ? "the media host refused it as too large"
        : err instanceof Error
          ? err.message
          : String(err);
    throw new ChatError("upload-failed", `could not upload ${file.name}: ${why}`, { cause: err });
  }
  const ref: MediaRef = {
    url: uploaded.url,
    directPath: uploaded.directPath,
    mediaKey: encrypted.mediaKey,
    fileSha256: encrypted.fileSha256,
    fileEncSha256: encrypted.fileEncSha256,
    fileLength: encrypted.fileLength,
    mimetype,
  };
  const withCaption = caption === undefined ? {} : { caption };
  switch (kind) {
    case "image":
    case "video":
      return mediaMessage(kind, ref, withCaption);
    case "audio":
      return mediaMessage("audio", ref, file.voice ? { ptt: true } : {});
    case "document":
      return mediaMessage("document", ref, { ...withCaption, fileName: file.name });
  }
}

/**
 * Downloads a received file through the client, checks its hashes and MAC while decrypting,
 * and writes it into `dir`; resolves with the path written. Nothing unverified is written.
 */
export async function saveMedia(
  client: Pick<GatekeeperClient, "downloadMedia">,
  content: MediaContent,
  messageId: string,
  dir: string,
): Promise<string> {
  const ref = content.media;
  if (ref.fileLength > MAX_MEDIA_BYTES) {
    throw new ChatError("too-large", `it is larger than ${mebibytes(MAX_MEDIA_BYTES)}`);
  }
  let plaintext: Uint8Array;
  try {
    const blob = await client.downloadMedia(ref.directPath ?? ref.url, {
      fileEncSha256: ref.fileEncSha256,
    });
    plaintext = decryptMedia(blob, {
      mediaKey: ref.mediaKey,
      mediaType: mediaTypeOf(content),
      fileEncSha256: ref.fileEncSha256,
      fileSha256: ref.fileSha256,
      maxSize: MAX_MEDIA_BYTES,
    });
  } catch (err) {
    throw new ChatError("save-failed", downloadFailure(err), { cause: err });
  }
  const fallback = `${content.kind === "audio" && content.ptt ? "voice" : content.kind}-${shortId(messageId).slice(1)}.${extensionFor(ref.mimetype)}`;
  try {
    return await writeNewFile(dir, safeFileName(content.fileName, fallback), plaintext);
  } catch (err) {
    throw new ChatError("save-failed", `could not write into ${dir}: ${errorCode(err)}`, {
      cause: err,
    });
  }
}

/**
 * A file name to write that the contact cannot steer out of the folder: the last path
 * segment of what they named (either slash), without control characters or leading dots;
 * `fallback` when nothing usable is left.
 */
export function safeFileName(given: string | undefined, fallback: string): string {
  const last = (given ?? "").split(/[/\\]/).pop() ?? "";
  const cleaned = last.replace(UNSAFE_IN_NAMES, "_").trim().replace(/^\.+/, "");
  if (cleaned === "") return fallback;
  if (cleaned.length <= MAX_NAME_LENGTH) return cleaned;
  const ext = extname(cleaned).slice(0, 16);
  return cleaned.slice(0, MAX_NAME_LENGTH - ext.length) + ext;
}

/** Writes `data` as `name` in `dir`, or "name (1).ext", … if taken; never overwrites. */
export async function writeNewFile(dir: string, name: string, data: Uint8Array): Promise<string> {
  const folder = resolve(dir);
  await mkdir(folder, { recursive: true });
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 0; n <= MAX_SUFFIX; n++) {
    const path = join(folder, n === 0 ? name : `${stem} (${n})${ext}`);
    // safeFileName already keeps names to one segment; this holds whatever the caller passed.
    if (dirname(path) !== folder) throw new ChatError("save-failed", `unsafe file name ${name}`);
    try {
      // "wx" fails on any existing entry, a symlink planted there included.
      await writeFile(path, data, { flag: "wx" });
      return path;
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
    }
  }
  throw new ChatError("save-failed", `${folder} already holds ${name} and ${MAX_SUFFIX} copies`);
}

function mediaTypeOf(content: MediaContent): MediaType {
  return content.kind === "audio" && content.ptt ? "ptt" : content.kind;
}

/** PKCS#7 always pads, up to one whole block; the MAC follows. */
function blobLength(plaintextLength: number): number {
  return (Math.floor(plaintextLength / AES_BLOCK_LENGTH) + 1) * AES_BLOCK_LENGTH + MEDIA_MAC_LENGTH;
}

function downloadFailure(err: unknown): string {
  if (err instanceof MediaError) {
    switch (err.code) {
      case "bad-mac":
        return "it failed its integrity check (bad MAC): damaged, tampered with, or a wrong key";
      case "enc-hash-mismatch":
      case "plaintext-hash-mismatch":
        return "it does not match its checksum: damaged or tampered with";
      case "too-large":
        return `it is larger than ${mebibytes(MAX_MEDIA_BYTES)}`;
      default:
        return `it could not be decrypted (${err.code})`;
    }
  }
  if (err instanceof GatekeeperError) {
    if (err.code === "not-found") return "it is no longer on the media host";
    if (err.code === "too-large") return `it is larger than ${mebibytes(MAX_MEDIA_BYTES)}`;
    if (err.code === "media-damaged") return "the download does not match its checksum";
    return `the download failed: ${err.message}`;
  }
  return `the download failed: ${err instanceof Error ? err.message : String(err)}`;
}

function fileError(path: string, err: unknown): ChatError {
  const code = errorCode(err);
  const why =
    code === "ENOENT"
      ? `no such file: ${path}`
      : code === "EACCES" || code === "EPERM"
        ? `cannot read ${path}: permission denied`
        : code === "EISDIR"
          ? `${path} is not a file`
          : `cannot read ${path} (${code})`;
  return new ChatError("bad-file", why, { cause: err });
}

function errorCode(err: unknown): string {
  if (err instanceof Error && "code" in err) return String(err.code);
  return err instanceof Error ? err.message : String(err);
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}
