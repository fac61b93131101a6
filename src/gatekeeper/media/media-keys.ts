import { hkdfSync } from "node:crypto";
import { MediaError } from "./media-error.js";

/**
 * What a media blob is, as far as key derivation cares. Stickers are keyed as images and
 * voice notes ("ptt") as audio, as the gatekeeper's own clients do [CLIENT].
 */
export type MediaType = "image" | "sticker" | "video" | "audio" | "ptt" | "document";

export const MEDIA_TYPES: readonly MediaType[] = [
  "image",
  "sticker",
  "video",
  "audio",
  "ptt",
  "document",
];

/** Length of the media key the sender draws, in bytes. */
export const MEDIA_KEY_LENGTH = 32;
/** Length of the truncated HMAC-SHA256 appended to the ciphertext, in bytes. */
export const MEDIA_MAC_LENGTH = 10;
/** AES block size; CBC ciphertext is always a positive multiple of it. */
export const AES_BLOCK_LENGTH = 16;

const HKDF_INFO: Readonly<Record<MediaType, string>> = {
  image: "WhatsApp Image Keys",
  sticker: "WhatsApp Image Keys",
  video: "WhatsApp Video Keys",
  audio: "WhatsApp Audio Keys",
  ptt: "WhatsApp Audio Keys",
  document: "WhatsApp Document Keys",
};

/** The HKDF info string for a media type. */
export function mediaHkdfInfo(mediaType: MediaType): string {
  const info = HKDF_INFO[mediaType];
  // Guards JavaScript callers and wire input cast to MediaType.
  if (info === undefined) throw new TypeError(`unknown media type: ${String(mediaType)}`);
  return info;
}

export interface MediaKeys {
  /** AES-CBC IV, bytes [0,16) of the expansion. */
  readonly iv: Uint8Array;
  /** AES-256 key, bytes [16,48). */
  readonly cipherKey: Uint8Array;
  /** HMAC-SHA256 key, bytes [48,80). */
  readonly macKey: Uint8Array;
  /** Unused by GKI/1; derived for completeness, [80,112). */
  readonly refKey: Uint8Array;
}

// RFC 5869: "no salt" means HashLen zero bytes; spelled out so no library default matters.
const ZERO_SALT = new Uint8Array(32);
const EXPANDED_LENGTH = 112;

/** HKDF-SHA256(mediaKey, salt = 32 zero bytes, info by media type) to 112 bytes, split in four. */
export function deriveMediaKeys(mediaKey: Uint8Array, mediaType: MediaType): MediaKeys {
  if (mediaKey.length !== MEDIA_KEY_LENGTH) {
    throw new MediaError(
      "bad-key",
      `media key must be ${MEDIA_KEY_LENGTH} bytes, got ${mediaKey.length}`,
    );
  }
  const okm = new Uint8Array(
    hkdfSync("sha256", mediaKey, ZERO_SALT, mediaHkdfInfo(mediaType), EXPANDED_LENGTH),
  );
  return {
    iv: okm.subarray(0, 16),
    cipherKey: okm.subarray(16, 48),
    macKey: okm.subarray(48, 80),
    refKey: okm.subarray(80, 112),
  };
}
