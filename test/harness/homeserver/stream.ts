/**
 * One monotonically increasing stream position for everything a client can sync: room events,
 * typing, receipts, presence, account data. Sync tokens are positions; long-polls wait here.
 */
export class StreamClock {
  private pos = 0;
  private waiters = new Set<() => void>();

  get position(): number {
    return this.pos;
  }

  /** Claim the next position and wake every long-poll. */
  advance(): number {
    this.pos += 1;
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
    return this.pos;
  }

  /** Resolve once the stream moved past `since`, or after `timeoutMs`, or when `signal` aborts. */
  waitBeyond(since: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.pos > since || timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Wake every waiter (on shutdown). */
  wakeAll(): void {
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }
}
