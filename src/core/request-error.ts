/**
 * A request to another system (the homeserver, the remote network) that failed, classified
 * once, where the answer is understood, so that whoever retries the work around it (the
 * Matrix intake worker) decides by type and never by parsing messages.
 */

/**
 * - "permanent": the same request would be refused again (e.g. HTTP 4xx other than 429):
 *   retrying is pointless.
 * - "server-error": the other side failed on it (HTTP 500). Worth one more try; when it
 *   repeats for the same request it is taken as permanent (a bug or a content it chokes on).
 * - "transient": try again later (network errors, 429 once its waits are spent, 502/503/504).
 */
export type FailureKind = "permanent" | "server-error" | "transient";

export class RequestFailedError extends Error {
  constructor(
    readonly kind: FailureKind,
    /** The other side's error code (e.g. a Matrix errcode), or a short one of ours. */
    readonly code: string,
    /**
     * What happened, as a clause a user can read in a notice, e.g. "the homeserver refused
     * the bridge's reply: M_TOO_LARGE (event too large)".
     */
    readonly userMessage: string,
    options?: { cause?: unknown },
  ) {
    super(userMessage, options);
    this.name = "RequestFailedError";
  }
}

/** The kind of a classified failure; undefined for any other error (the caller's default). */
export function failureKindOf(err: unknown): FailureKind | undefined {
  return err instanceof RequestFailedError ? err.kind : undefined;
}
