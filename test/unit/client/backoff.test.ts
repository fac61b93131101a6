import { describe, expect, it } from "vitest";
import { Backoff, cancellableDelay } from "../../../src/gatekeeper/client/reconnect.js";

describe("Backoff (docs §10)", () => {
  it("doubles from 1 s to a 60 s cap, each wait in [0.5×, 1×] of the step", () => {
    const low = new Backoff({ random: () => 0 });
    const high = new Backoff({ random: () => 1 - Number.EPSILON });
    const lows = Array.from({ length: 9 }, () => low.next());
    const highs = Array.from({ length: 9 }, () => high.next());
    expect(lows).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(highs).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it("keeps every random wait within the jitter bounds", () => {
    const b = new Backoff();
    let step = 1000;
    for (let i = 0; i < 200; i++) {
      const wait = b.next();
      expect(wait).toBeGreaterThanOrEqual(step / 2);
      expect(wait).toBeLessThanOrEqual(step);
      step = Math.min(step * 2, 60_000);
    }
  });

  it("spreads clients out: waits for the same step are not all equal", () => {
    const waits = new Set(Array.from({ length: 50 }, () => new Backoff().next()));
    expect(waits.size).toBeGreaterThan(1);
  });

  it("starts over only after a connection that stayed up 60 s", () => {
    const b = new Backoff({ random: () => 1 - Number.EPSILON });
    b.next();
    b.next();
    b.connectionEnded(59_999);
    expect(b.next()).toBe(4000);
    b.connectionEnded(60_000);
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(1000);
  });

  it("honours configured bounds", () => {
    const b = new Backoff({ initialMs: 20, maxMs: 50, random: () => 1 - Number.EPSILON });
    expect([b.next(), b.next(), b.next()]).toEqual([20, 40, 50]);
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
  });

  it("lets a wait be cancelled", async () => {
    const delay = cancellableDelay(60_000);
    delay.cancel();
    await expect(delay.promise).resolves.toBeUndefined();
  });
});
