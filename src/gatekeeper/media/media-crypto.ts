import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import type { Hmac } from "node:crypto";
import { MediaError } from "./media-error.js";
import {
  AES_BLOCK_LENGTH,
  MEDIA_KEY_LENGTH,
  MEDIA_MAC_LENGTH,
  deriveMediaKeys,
} from "./media-keys.js";
import type { MediaKeys, MediaType } from "./media-keys.js";

/**
 * The gatekeeper's public media scheme [PUBLIC scheme, CLIENT details]:
 * blob = AES-256-CBC(PKCS#7)(plaintext) || HMAC-SHA256(macKey, iv || ciphertext)[0..10).
 * The message carrying the media states the key, SHA-256 of the plaintext (fileSha256) and of
 * the blob (fileEncSha256), and the plaintext length.
 */
export interface EncryptedMedia {
  /** Ciphertext followed by the 10-byte MAC: what is uploaded. */
  readonly blob: Uint8Array;
  readonly mediaKey: Uint8Array;
  readonly fileSha256: Uint8Array;
  readonly fileEncSha256: Uint8Array;
  /** Plaintext length in bytes. */
  readonly fileLength: number;
}

export interface DecryptMediaOptions {
  readonly mediaKey: Uint8Array;
  readonly mediaType: MediaType;
  /** SHA-256 of the blob as stated in the message; checked first when given. */
  readonly fileEncSha256?: Uint8Array;
  /** SHA-256 of the plaintext as stated in the message; checked last when given. */
  readonly fileSha256?: Uint8Array;
  /** Largest plaintext accepted, in bytes. */
  readonly maxSize?: number;
}

/** Encrypts a whole file in memory. For large files use createEncryptStream. */
export function encryptMedia(
  plaintext: Uint8Array,
  mediaType: MediaType,
  mediaKey: Uint8Array = randomBytes(MEDIA_KEY_LENGTH),
): EncryptedMedia {
  const keys = deriveMediaKeys(mediaKey, mediaType);
  const cipher = createCipheriv("aes-256-cbc", keys.cipherKey, keys.iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const mac = truncatedMac(newMac(keys).update(ciphertext));
  const blob = new Uint8Array(Buffer.concat([ciphertext, mac]));
  return {
    blob,
    mediaKey: new Uint8Array(mediaKey),
    fileSha256: sha256(plaintext),
    fileEncSha256: sha256(blob),
    fileLength: plaintext.length,
  };
}

/**
 * Checks and decrypts a whole blob in memory. Order of checks: blob shape ("truncated"),
 * size ("too-large"), blob hash ("enc-hash-mismatch"), MAC ("bad-mac", constant time),
 * AES padding ("bad-padding"), plaintext hash ("plaintext-hash-mismatch"). Nothing is
 * decrypted before the MAC has been verified.
 */
export function decryptMedia(blob: Uint8Array, options: DecryptMediaOptions): Uint8Array {
  const keys = deriveMediaKeys(options.mediaKey, options.mediaType);
  checkBlobShape(blob.length);
  const ciphertextLength = blob.length - MEDIA_MAC_LENGTH;
  if (options.maxSize !== undefined && minPlaintextLength(ciphertextLength) > options.maxSize) {
    throw tooLarge(options.maxSize);
  }
  if (options.fileEncSha256 !== undefined) checkEncHash(sha256(blob), options.fileEncSha256);
  const ciphertext = blob.subarray(0, ciphertextLength);
  checkMac(truncatedMac(newMac(keys).update(ciphertext)), blob.subarray(ciphertextLength));
  const decipher = createDecipheriv("aes-256-cbc", keys.cipherKey, keys.iv);
  const head = decipher.update(ciphertext);
  const plaintext = new Uint8Array(Buffer.concat([head, finalBlock(decipher)]));
  if (options.maxSize !== undefined && plaintext.length > options.maxSize)
    throw tooLarge(options.maxSize);
  if (options.fileSha256 !== undefined) checkPlaintextHash(sha256(plaintext), options.fileSha256);
  return plaintext;
}

// ---------------------------------------------------------------------------
// Pieces shared with the streaming variants (not exported from the index).
// ---------------------------------------------------------------------------

/** An HMAC-SHA256 already fed with the IV; the ciphertext follows. */
export function newMac(keys: MediaKeys): Hmac {
  return createHmac("sha256", keys.macKey).update(keys.iv);
}

export function truncatedMac(mac: Hmac): Uint8Array {
  return new Uint8Array(mac.digest().subarray(0, MEDIA_MAC_LENGTH));
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** Constant-time equality; unequal lengths are simply unequal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A blob is at least one cipher block plus the MAC, and whole blocks before the MAC. */
export function checkBlobShape(blobLength: number): void {
  const ciphertextLength = blobLength - MEDIA_MAC_LENGTH;
  if (ciphertextLength < AES_BLOCK_LENGTH || ciphertextLength % AES_BLOCK_LENGTH !== 0) {
    throw new MediaError(
      "truncated",
      `media blob of ${blobLength} bytes is not whole cipher blocks plus a MAC`,
    );
  }
}

/** PKCS#7 adds 1..16 bytes, so the plaintext is at least ciphertext length - 16. */
export function minPlaintextLength(ciphertextLength: number): number {
  return ciphertextLength - AES_BLOCK_LENGTH;
}

export function tooLarge(maxSize: number): MediaError {
  return new MediaError("too-large", `media is larger than the limit of ${maxSize} bytes`);
}

export function checkEncHash(actual: Uint8Array, expected: Uint8Array): void {
  if (!equalBytes(actual, expected)) {
    throw new MediaError(
      "enc-hash-mismatch",
      "SHA-256 of the media blob does not match fileEncSha256",
    );
  }
}

export function checkMac(actual: Uint8Array, expected: Uint8Array): void {
  if (!equalBytes(actual, expected)) throw new MediaError("bad-mac", "media MAC does not match");
}

export function checkPlaintextHash(actual: Uint8Array, expected: Uint8Array): void {
  if (!equalBytes(actual, expected)) {
    throw new MediaError(
      "plaintext-hash-mismatch",
      "SHA-256 of the decrypted media does not match fileSha256",
    );
  }
}

/** decipher.final(), with OpenSSL's padding failure turned into a MediaError. */
export function finalBlock(decipher: { final(): Buffer }): Buffer {
  try {
    return decipher.final();
  } catch (err) {
    const code = isBadPadding(err) ? "bad-padding" : "decrypt-failed";
    throw new MediaError(
      code,
      code === "bad-padding" ? "invalid AES-CBC padding" : "AES-CBC decryption failed",
      {
        cause: err,
      },
    );
  }
}

function isBadPadding(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const reason = (err as { reason?: unknown } | null)?.reason;
  return code === "ERR_OSSL_BAD_DECRYPT" || reason === "bad decrypt";
}
