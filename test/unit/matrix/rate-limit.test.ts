import { describe, expect, it } from "vitest";
import { rateLimitWaitMs, withRateLimitRetry } from "../../../src/matrix/rate-limit.js";

/** Shaped as matrix-bot-sdk's MatrixError. */
function limitError(retryAfterMs?: number): Error {
  return Object.assign(new Error("M_LIMIT_EXCEEDED"), {
    errcode: "M_LIMIT_EXCEEDED",
    statusCode: 429,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

describe("rateLimitWaitMs", () => {
  it("reads retryAfterMs, or retry_after_ms from the body", () => {
    expect(rateLimitWaitMs(limitError(1500))).toBe(1500);
    expect(rateLimitWaitMs({ body: { errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 700 } })).toBe(
      700,
    );
  });

  it("uses the default when the homeserver gives no hint", () => {
    expect(rateLimitWaitMs(limitError(), 1234)).toBe(1234);
  });

  it("is undefined for other errors", () => {
    expect(
      rateLimitWaitMs(Object.assign(new Error("x"), { errcode: "M_FORBIDDEN" })),
    ).toBeUndefined();
    expect(rateLimitWaitMs("boom")).toBeUndefined();
  });
});

describe("withRateLimitRetry", () => {
  it("waits as long as asked, then retries", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRateLimitRetry(
      async () => {
        calls++;
        if (calls < 3) throw limitError(calls * 100);
        return "ok";
      },
      { sleep: async (ms) => void waits.push(ms) },
    );
    expect(result).toBe("ok");
    expect(waits).toEqual([100, 200]);
  });

  it("caps a wait and gives up after maxRetries", async () => {
    const waits: number[] = [];
    const attempt = withRateLimitRetry(
      async () => {
        throw limitError(10 * 60_000);
      },
      { maxRetries: 2, maxWaitMs: 5_000, sleep: async (ms) => void waits.push(ms) },
    );
    await expect(attempt).rejects.toMatchObject({ errcode: "M_LIMIT_EXCEEDED" });
    expect(waits).toEqual([5_000, 5_000]);
  });

  it("passes other errors on at once", async () => {
    let calls = 0;
    const attempt = withRateLimitRetry(async () => {
      calls++;
      throw Object.assign(new Error("no"), { errcode: "M_FORBIDDEN" });
    });
    await expect(attempt).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
    expect(calls).toBe(1);
  });
});
