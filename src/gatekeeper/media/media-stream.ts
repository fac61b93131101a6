import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { Cipheriv, Decipheriv, Hash, Hmac } from "node:crypto";
import { Transform } from "node:stream";
import type { TransformCallback } from "node:stream";
import {
  checkBlobShape,
  checkEncHash,
  checkMac,
  checkPlaintextHash,
  finalBlock,
  minPlaintextLength,
  newMac,
  tooLarge,
  truncatedMac,
} from "./media-crypto.js";
import type { EncryptedMedia } from "./media-crypto.js";
import { MEDIA_KEY_LENGTH, MEDIA_MAC_LENGTH, deriveMediaKeys } from "./media-keys.js";
import type { MediaType } from "./media-keys.js";

/**
 * Streaming variants of encryptMedia / decryptMedia, for files too large to hold in memory
 * (the bridge relays files of 100 MB and more). Memory stays flat: each chunk is processed
 * and passed on; only the 10-byte MAC and OpenSSL's last cipher block are held back.
 */

/** What the sender puts into the message once the whole blob has been produced. */
export type MediaEncryptResult = Omit<EncryptedMedia, "blob">;

/** Plaintext in, blob (ciphertext then the 10-byte MAC) out. */
export class MediaEncryptStream extends Transform {
  /** The media key in use (drawn at random unless given); known before any data flows. */
  readonly mediaKey: Uint8Array;
  /** Resolves after the last blob byte was pushed; rejects if the stream fails or is destroyed first. */
  readonly result: Promise<MediaEncryptResult>;

  readonly #cipher: Cipheriv;
  readonly #mac: Hmac;
  readonly #plainHash: Hash = createHash("sha256");
  readonly #encHash: Hash = createHash("sha256");
  #fileLength = 0;
  #settle: { resolve(r: MediaEncryptResult): void; reject(e: unknown): void } | undefined;

  constructor(mediaType: MediaType, mediaKey: Uint8Array = randomBytes(MEDIA_KEY_LENGTH)) {
    super();
    const keys = deriveMediaKeys(mediaKey, mediaType);
    this.mediaKey = new Uint8Array(mediaKey);
    this.#cipher = createCipheriv("aes-256-cbc", keys.cipherKey, keys.iv);
    this.#mac = newMac(keys);
    this.result = new Promise<MediaEncryptResult>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // The caller may rely on the stream's own error event instead of awaiting result.
    this.result.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#plainHash.update(chunk);
      this.#fileLength += chunk.length;
      this.#emit(this.#cipher.update(chunk));
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#emit(this.#cipher.final());
      const mac = truncatedMac(this.#mac);
      this.#encHash.update(mac);
      this.push(mac);
      this.#settle?.resolve({
        mediaKey: this.mediaKey,
        fileSha256: new Uint8Array(this.#plainHash.digest()),
        fileEncSha256: new Uint8Array(this.#encHash.digest()),
        fileLength: this.#fileLength,
      });
      this.#settle = undefined;
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#settle?.reject(
      error ?? new Error("media encryption stream was destroyed before it finished"),
    );
    this.#settle = undefined;
    callback(error);
  }

  #emit(ciphertext: Buffer): void {
    if (ciphertext.length === 0) return;
    this.#mac.update(ciphertext);
    this.#encHash.update(ciphertext);
    this.push(ciphertext);
  }
}

export function createEncryptStream(
  mediaType: MediaType,
  mediaKey?: Uint8Array,
): MediaEncryptStream {
  return new MediaEncryptStream(mediaType, mediaKey);
}

export interface DecryptStreamOptions {
  readonly mediaKey: Uint8Array;
  readonly mediaType: MediaType;
  /** SHA-256 of the whole blob, from the message. */
  readonly fileEncSha256: Uint8Array;
  /** SHA-256 of the plaintext, from the message. */
  readonly fileSha256: Uint8Array;
  /** Largest plaintext accepted, in bytes; the stream aborts as soon as it is exceeded. */
  readonly maxSize?: number;
}

/**
 * Blob in, plaintext out.
 *
 * WARNING: plaintext is emitted as it is decrypted, but the blob hash, the MAC, the padding
 * and the plaintext hash can only be checked once the last byte has arrived. Until the
 * stream has finished without error its output is UNAUTHENTICATED: a consumer must write it
 * somewhere provisional (a temporary file, a buffer) and commit it (rename, upload, show it
 * to a user) only after the pipeline resolved. On failure the stream errors with a
 * MediaError and everything it emitted must be discarded.
 */
export class MediaDecryptStream extends Transform {
  readonly #options: DecryptStreamOptions;
  readonly #decipher: Decipheriv;
  readonly #mac: Hmac;
  readonly #encHash: Hash = createHash("sha256");
  readonly #plainHash: Hash = createHash("sha256");
  /** The last bytes seen: the MAC once the input has ended. Never longer than the MAC. */
  #tail: Buffer = Buffer.alloc(0);
  #received = 0;
  #plainLength = 0;

  constructor(options: DecryptStreamOptions) {
    super();
    const keys = deriveMediaKeys(options.mediaKey, options.mediaType);
    this.#options = options;
    // With auto padding on, OpenSSL itself holds back the last cipher block until final().
    this.#decipher = createDecipheriv("aes-256-cbc", keys.cipherKey, keys.iv);
    this.#mac = newMac(keys);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#received += chunk.length;
      const { maxSize } = this.#options;
      // Abort early: the plaintext will be at least (blob - MAC - one block) long.
      if (
        maxSize !== undefined &&
        minPlaintextLength(this.#received - MEDIA_MAC_LENGTH) > maxSize
      ) {
        throw tooLarge(maxSize);
      }
      this.#encHash.update(chunk);
      const data = this.#tail.length === 0 ? chunk : Buffer.concat([this.#tail, chunk]);
      const ciphertextLength = data.length - MEDIA_MAC_LENGTH;
      if (ciphertextLength <= 0) {
        this.#tail = Buffer.from(data);
      } else {
        const ciphertext = data.subarray(0, ciphertextLength);
        this.#tail = Buffer.from(data.subarray(ciphertextLength));
        this.#mac.update(ciphertext);
        this.#emit(this.#decipher.update(ciphertext));
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // Same order as decryptMedia: shape, blob hash, MAC, padding, plaintext hash.
      checkBlobShape(this.#received);
      checkEncHash(new Uint8Array(this.#encHash.digest()), this.#options.fileEncSha256);
      checkMac(truncatedMac(this.#mac), this.#tail);
      const last = finalBlock(this.#decipher);
      this.#account(last);
      checkPlaintextHash(new Uint8Array(this.#plainHash.digest()), this.#options.fileSha256);
      if (last.length > 0) this.push(last);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  #emit(plaintext: Buffer): void {
    this.#account(plaintext);
    if (plaintext.length > 0) this.push(plaintext);
  }

  #account(plaintext: Buffer): void {
    this.#plainHash.update(plaintext);
    this.#plainLength += plaintext.length;
    const { maxSize } = this.#options;
    if (maxSize !== undefined && this.#plainLength > maxSize) throw tooLarge(maxSize);
  }
}

export function createDecryptStream(options: DecryptStreamOptions): MediaDecryptStream {
  return new MediaDecryptStream(options);
}
