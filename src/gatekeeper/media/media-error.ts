/** Why a media blob was refused; each code tells the caller what to do next. */
export type MediaErrorCode =
  /** SHA-256 of the downloaded blob differs from the message's fileEncSha256: wrong or corrupted download. */
  | "enc-hash-mismatch"
  /** The 10-byte HMAC does not match: the blob was tampered with or the media key is wrong. */
  | "bad-mac"
  /** AES-CBC padding is invalid although the MAC matched: the sender encrypted incorrectly. */
  | "bad-padding"
  /** Any other failure of the AES decryption. */
  | "decrypt-failed"
  /** SHA-256 of the decrypted file differs from the message's fileSha256. */
  | "plaintext-hash-mismatch"
  /** The blob or the decrypted file is larger than the caller's maxSize. */
  | "too-large"
  /** The blob is too short or not a whole number of cipher blocks plus the MAC. */
  | "truncated"
  /** The media key is not 32 bytes (it comes from the peer's message, so this is remote input). */
  | "bad-key";

export class MediaError extends Error {
  override readonly name = "MediaError";

  constructor(
    readonly code: MediaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
