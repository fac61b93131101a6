/**
 * Reconnect backoff (docs §10): 1 s, doubling to a cap of 60 s; each wait is drawn
 * uniformly from [0.5×, 1×] of the current step, so that many clients dropped at once by
 * a restarting gatekeeper do not come back in lockstep. Reset after a connection that
 * stayed up for `stableAfterMs` (60 s).
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** How long a connection must have stayed up for the backoff to start over. */
  stableAfterMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 60_000, stableAfterMs: 60_000 } as const;

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly stableAfterMs: number;
  private readonly random: () => number;
  private step: number;
  private attemptCount = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
    this.maxMs = Math.max(options.maxMs ?? DEFAULT_BACKOFF.maxMs, this.initialMs);
    this.stableAfterMs = options.stableAfterMs ?? DEFAULT_BACKOFF.stableAfterMs;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0)) throw new RangeError("backoff initialMs must be positive");
    this.step = this.initialMs;
  }

  /** Number of waits handed out since the last reset. */
  get attempts(): number {
    return this.attemptCount;
  }

  /** The next wait in ms, and advances the step (doubling, capped). */
  next(): number {
    const step = this.step;
    this.step = Math.min(this.step * 2, this.maxMs);
    this.attemptCount += 1;
    return Math.round(step * (0.5 + 0.5 * this.random()));
  }

  reset(): void {
    this.step = this.initialMs;
    this.attemptCount = 0;
  }

  /** Call when a connection ends: resets if it had stayed up long enough. */
  connectionEnded(upForMs: number): void {
    if (upForMs >= this.stableAfterMs) this.reset();
  }
}

/** A cancellable wait (so stop() does not have to wait out a 60 s backoff). */
export function cancellableDelay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let settle: (() => void) | undefined;
  const promise = new Promise<void>((resolve) => {
    settle = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    promise,
    cancel() {
      if (timer) clearTimeout(timer);
      settle?.();
    },
  };
}
