/**
 * Honours 429 M_LIMIT_EXCEEDED from the homeserver. matrix-bot-sdk parses retry_after_ms
 * (and the Retry-After header) into MatrixError.retryAfterMs but does not wait and retry
 * itself, so every request of the Matrix side goes through here.
 */

export interface RateLimitOptions {
  /** Retries after a 429 before the error is passed on (default 5). */
  maxRetries?: number;
  /** Upper bound on one wait (default 60 s); a homeserver asking for more gets this. */
  maxWaitMs?: number;
  /** Wait used when the homeserver does not say how long (default 1 s). */
  defaultWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The wait a 429 asks for, or undefined when `err` is not a rate-limit error. */
export function rateLimitWaitMs(err: unknown, defaultWaitMs = 1_000): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as {
    errcode?: unknown;
    statusCode?: unknown;
    retryAfterMs?: unknown;
    body?: unknown;
  };
  const body = (typeof e.body === "object" && e.body !== null ? e.body : {}) as {
    errcode?: unknown;
    retry_after_ms?: unknown;
  };
  const errcode = e.errcode ?? body.errcode;
  if (errcode !== "M_LIMIT_EXCEEDED" && e.statusCode !== 429) return undefined;
  const hinted = typeof e.retryAfterMs === "number" ? e.retryAfterMs : body.retry_after_ms;
  return typeof hinted === "number" && Number.isFinite(hinted) && hinted >= 0
    ? hinted
    : defaultWaitMs;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function withRateLimitRetry<T>(
  request: () => Promise<T>,
  opts: RateLimitOptions = {},
): Promise<T> {
  const maxRetries = opts.maxRetries ?? 5;
  const maxWaitMs = opts.maxWaitMs ?? 60_000;
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      const wait = rateLimitWaitMs(err, opts.defaultWaitMs);
      if (wait === undefined || attempt >= maxRetries) throw err;
      await sleep(Math.min(wait, maxWaitMs));
    }
  }
}
