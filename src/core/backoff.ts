/** Waits that double from `initialMs` to a cap, and a sleep that stop() can cut short. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

/** The wait before attempt `attempt + 1`, after `attempt` (≥ 1) failed attempts. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 1_000;
  const max = Math.max(initial, options.maxMs ?? 60_000);
  return Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
}

/** A set of pending sleeps that can all be woken at once (on stop, or when new work arrives). */
export class Sleeper {
  private readonly wakers = new Set<() => void>();

  /** Resolves after `ms`, or earlier on wakeAll(). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakers.add(done);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
