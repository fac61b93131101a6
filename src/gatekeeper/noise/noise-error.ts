/**
 * The one error type of the GKI/1 transport layer. Callers act on `code`;
 * `gkiCode` carries the GKI/1 numeric code where the protocol defines one.
 */
export type NoiseErrorCode =
  /** An AEAD tag did not verify (tampered, truncated, wrong key or wrong order). */
  | "decrypt-failed"
  /** A handshake message is shorter or longer than its pattern allows. */
  | "bad-message-length"
  /** A CipherState used all 2^64-1 nonces; the connection must be re-established. */
  | "nonce-exhausted"
  /** A key is not a raw 32-byte X25519 key, or a DH produced the all-zero output. */
  | "bad-key"
  /** A call came at the wrong point of the handshake (wrong turn, already complete, ...). */
  | "invalid-state"
  /** The first WebSocket message did not start with the GKI/1 intro bytes. */
  | "bad-intro"
  /** A frame's 3-byte length does not match the bytes that follow, or a text message arrived. */
  | "bad-frame"
  /** A frame payload exceeds the negotiated maximum (GKI code 413). */
  | "frame-too-large"
  /** The gatekeeper's static key is not the pinned one. */
  | "server-key-mismatch"
  /** The handshake did not complete in time. */
  | "handshake-timeout"
  /** The socket closed (or was not open) when the operation needed it. */
  | "connection-closed"
  /** The WebSocket itself failed (connect refused, HTTP rejection, protocol violation). */
  | "socket-error";

export class NoiseError extends Error {
  override readonly name = "NoiseError";
  readonly code: NoiseErrorCode;
  /** GKI/1 numeric error code, where the protocol assigns one (413 for frame-too-large). */
  readonly gkiCode: number | undefined;

  constructor(
    code: NoiseErrorCode,
    message: string,
    options?: { cause?: unknown; gkiCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.gkiCode = options?.gkiCode ?? (code === "frame-too-large" ? 413 : undefined);
  }
}
