/** GKI/1 negative-ack code for a message whose decrypted content cannot be used [CLIENT]. */
export const NACK_BAD_PROTOBUF = 491;

export type ContentErrorCode =
  /** The padding after the protobuf bytes is malformed. */
  | "bad-padding"
  /** The bytes before the padding are not a valid protobuf Message. */
  | "bad-protobuf";

/**
 * The plaintext of a successfully decrypted message is unusable. Both codes are answered with
 * a negative ack 491: the sender's Signal session is fine, only the content is broken, so a
 * retry receipt would not help.
 */
export class ContentError extends Error {
  override readonly name = "ContentError";
  readonly nackCode = NACK_BAD_PROTOBUF;

  constructor(
    readonly code: ContentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
