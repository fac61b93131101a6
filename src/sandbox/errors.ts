/**
 * A refusal with a GKI/1 numeric code (docs/protocol.md §5.1, §5.2): thrown
 * inside a handler, turned into an iq error or a negative ack by the session.
 */
export class SandboxError extends Error {
  override readonly name = "SandboxError";
  readonly code: number;
  /** For 429: seconds until the client may try again. */
  readonly retryAfter: number | undefined;
  /** Short machine-readable text sent to the client (`text` attribute). */
  readonly text: string | undefined;

  constructor(code: number, text?: string, options?: { retryAfter?: number; cause?: unknown }) {
    super(
      text === undefined ? `GKI error ${code}` : `GKI error ${code}: ${text}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.text = text;
    this.retryAfter = options?.retryAfter;
  }
}

/** An admin API call that cannot be done (unknown user, bad input); `status` is the HTTP status. */
export class AdminError extends Error {
  override readonly name = "AdminError";
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
