/**
 * What a file to send is (image, video, audio or document, and its MIME type), and the file
 * extension for a received one. Extensions come from mime-types (the mime-db tables); the magic
 * numbers below are the few formats people send, checked first because a name can lie.
 */
import { extname } from "node:path";
import mime from "mime-types";
import type { MediaKind } from "../../gatekeeper/content/index.js";

/** What the gatekeeper's apps record and play as voice messages. */
const VOICE_MIMETYPE = "audio/ogg; codecs=opus";
const OCTET_STREAM = "application/octet-stream";

export interface FileKind {
  kind: MediaKind;
  mimetype: string;
}

/** How many leading bytes `sniff` looks at. */
export const SNIFF_LENGTH = 64;

/** Where mime-db's first extension for a type is not the usual one. */
const USUAL_EXTENSION: Readonly<Record<string, string>> = {
  "image/jpeg": "jpg",
  "audio/ogg": "ogg",
};

/** The media kind and MIME type of a file: its first bytes decide, else its name's extension. */
export function fileKind(name: string, head: Uint8Array): FileKind {
  const byName = extname(name).toLowerCase() === ".opus" ? VOICE_MIMETYPE : mime.lookup(name);
  const mimetype = sniff(head) ?? (byName === false ? OCTET_STREAM : byName);
  return { kind: kindOf(mimetype), mimetype };
}

function kindOf(mimetype: string): MediaKind {
  // An SVG can carry script: it goes as a file, not as a picture to show.
  if (mimetype.startsWith("image/") && mimetype !== "image/svg+xml") return "image";
  if (mimetype.startsWith("video/")) return "video";
  if (mimetype.startsWith("audio/")) return "audio";
  return "document";
}

/** The MIME type of an image, video or audio file by its magic number; undefined for others. */
export function sniff(head: Uint8Array): string | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, SNIFF_LENGTH));
  const ascii = (from: number, to: number): string => b.toString("latin1", from, to);
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (ascii(0, 8) === "\x89PNG\r\n\x1a\n") return "image/png";
  if (ascii(0, 4) === "GIF8") return "image/gif";
  if (ascii(0, 4) === "RIFF") {
    const form = ascii(8, 12);
    if (form === "WEBP") return "image/webp";
    if (form === "WAVE") return "audio/wav";
    if (form === "AVI ") return "video/x-msvideo";
  }
  if (ascii(4, 8) === "ftyp") return isoMediaType(ascii(8, 12));
  if (ascii(0, 4) === "OggS")
    return ascii(0, SNIFF_LENGTH).includes("OpusHead") ? VOICE_MIMETYPE : "audio/ogg";
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3)
    return ascii(0, SNIFF_LENGTH).includes("webm") ? "video/webm" : "video/x-matroska";
  if (ascii(0, 4) === "fLaC") return "audio/flac";
  if (ascii(0, 5) === "#!AMR") return "audio/amr";
  if (ascii(0, 3) === "ID3") return "audio/mpeg";
  if (b[0] === 0xff && b[1] !== undefined && (b[1] & 0xf6) === 0xf0) return "audio/aac";
  if (b[0] === 0xff && b[1] !== undefined && (b[1] & 0xe0) === 0xe0) return "audio/mpeg";
  return undefined;
}

/** ISO base media files (MP4 and kin) by their major brand. */
function isoMediaType(brand: string): string {
  if (brand.startsWith("M4A") || brand.startsWith("M4B")) return "audio/mp4";
  if (brand === "qt  ") return "video/quicktime";
  if (brand.startsWith("3gp")) return "video/3gpp";
  if (brand.startsWith("heic") || brand.startsWith("mif1")) return "image/heic";
  return "video/mp4";
}

/** The extension (without the dot) for a stated MIME type; "bin" when unknown. */
export function extensionFor(mimetype: string): string {
  const base = mimetype.split(";")[0]!.trim().toLowerCase();
  return USUAL_EXTENSION[base] ?? (mime.extension(base) || "bin");
}
