/**
 * How every part of the Matrix side makes a request: as a user (the bridge's intent for an
 * MXID) and through `limited` (429s waited out, then any failure becomes a MatrixSideError
 * that says whether a retry can help). One object, shared by the parts, so that they all
 * fail the same way and all tell when the homeserver is away.
 */
import type { Bridge, Intent } from "./appservice-bridge.js";
import { withRateLimitRetry } from "./rate-limit.js";
import type { RateLimitOptions } from "./rate-limit.js";
import { toMatrixSideError } from "./matrix-errors.js";

export interface MatrixRequests {
  readonly botMxid: string;
  intent(mxid: string): Intent;
  /** A request for `what` (words for a notice), 429s waited out; fails with a MatrixSideError. */
  limited<T>(what: string, request: () => Promise<T>): Promise<T>;
}

export interface MatrixRequestsOptions {
  bridge: Bridge;
  rateLimit?: RateLimitOptions;
  /** A request got no answer, or 502/503/504: the homeserver is away (restarting?). */
  onHomeserverAway?: () => void;
}

/** Reads `opts` at each request, so it sees the options as they are then. */
export function matrixRequests(opts: MatrixRequestsOptions): MatrixRequests {
  return {
    botMxid: opts.bridge.botUserId,
    intent: (mxid) => opts.bridge.getIntent(mxid),
    async limited<T>(what: string, request: () => Promise<T>): Promise<T> {
      try {
        return await withRateLimitRetry(request, opts.rateLimit);
      } catch (err) {
        const failure = toMatrixSideError(err, what);
        if (failure.kind === "transient" && failure.status !== 429) opts.onHomeserverAway?.();
        throw failure;
      }
    },
  };
}
