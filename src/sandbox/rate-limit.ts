/**
 * Sliding-window rate limits, in memory (a restarted sandbox forgets them,
 * which is fine for a reference server). A `take` either consumes `cost`
 * units or consumes nothing and says how long to wait.
 */
export interface TakeResult {
  ok: boolean;
  /** When refused: milliseconds until enough units have left the window. */
  retryAfterMs: number;
}

export class SlidingWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Per key: timestamps of consumed units, oldest first. */
  readonly #events = new Map<string, number[]>();

  constructor(limit: number, windowMs: number, now: () => number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  take(key: string, cost = 1): TakeResult {
    const now = this.#now();
    const events = this.#prune(key, now);
    if (cost > this.#limit) return { ok: false, retryAfterMs: this.#windowMs };
    const overflow = events.length + cost - this.#limit;
    if (overflow > 0) {
      // The window frees up once the `overflow`-th oldest unit has aged out.
      const freeAt = (events[overflow - 1] ?? now) + this.#windowMs;
      return { ok: false, retryAfterMs: Math.max(1, freeAt - now) };
    }
    for (let i = 0; i < cost; i++) events.push(now);
    this.#events.set(key, events);
    return { ok: true, retryAfterMs: 0 };
  }

  #prune(key: string, now: number): number[] {
    const events = this.#events.get(key) ?? [];
    let drop = 0;
    while (drop < events.length && (events[drop] ?? 0) <= now - this.#windowMs) drop++;
    const kept = drop === 0 ? events : events.slice(drop);
    if (kept.length === 0) this.#events.delete(key);
    return kept;
  }
}

/** Whole seconds, rounded up, for a `retry-after` attribute. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
