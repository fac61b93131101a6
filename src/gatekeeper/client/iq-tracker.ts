import { randomBytes } from "node:crypto";

/**
 * Outstanding requests of one connection, by id: iqs waiting for their result and sent
 * stanzas waiting for their ack. Each has a deadline (docs §5.2: 20 s for iqs); when the
 * connection ends, everything still waiting fails at once.
 */
export class IqTracker<R> {
  private readonly pending = new Map<string, Pending<R>>();
  private readonly prefix = randomBytes(3).toString("hex");
  private counter = 0;

  constructor(private readonly timeoutError: (id: string, timeoutMs: number) => Error) {}

  /** A fresh id, unique for the lifetime of this tracker (`[A-Za-z0-9._-]`, docs §5). */
  nextId(): string {
    this.counter += 1;
    return `${this.prefix}.${this.counter}`;
  }

  get size(): number {
    return this.pending.size;
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Waits for `settle(id, …)` or `fail(id, …)`, or rejects after timeoutMs. */
  wait(id: string, timeoutMs: number): Promise<R> {
    if (this.pending.has(id)) return Promise.reject(new Error(`duplicate outstanding id "${id}"`));
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.timeoutError(id, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Resolves the waiter of `id`; false when nobody waits for it (late or unknown reply). */
  settle(id: string, result: R): boolean {
    const p = this.take(id);
    if (!p) return false;
    p.resolve(result);
    return true;
  }

  fail(id: string, err: Error): boolean {
    const p = this.take(id);
    if (!p) return false;
    p.reject(err);
    return true;
  }

  /** Rejects every waiter (the connection ended). */
  failAll(err: Error): void {
    const all = [...this.pending.values()];
    for (const p of all) clearTimeout(p.timer);
    this.pending.clear();
    for (const p of all) p.reject(err);
  }

  private take(id: string): Pending<R> | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(id);
    return p;
  }
}

interface Pending<R> {
  resolve(result: R): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Sent stanzas waiting for the gatekeeper's ack, matched by key ("class:id"). Several
 * stanzas may share a key (two receipts for the same first id), so waiters queue FIFO.
 */
export class AckTracker<A> {
  private readonly waiters = new Map<string, AckWaiter<A>[]>();

  /** Waits for `settle(key)`; after timeoutMs rejects with what `onTimeout` returns. */
  wait(
    key: string,
    timeoutMs: number,
    onTimeout: () => Error,
  ): { promise: Promise<A>; fail(err: Error): void } {
    let waiter!: AckWaiter<A>;
    const promise = new Promise<A>((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(key, waiter);
          reject(onTimeout());
        }, timeoutMs),
      };
      const list = this.waiters.get(key) ?? [];
      list.push(waiter);
      this.waiters.set(key, list);
    });
    return {
      promise,
      fail: (err) => {
        if (this.remove(key, waiter)) waiter.reject(err);
      },
    };
  }

  /** Resolves the oldest waiter of `key`; false when nobody waits. */
  settle(key: string, ack: A): boolean {
    const waiter = this.waiters.get(key)?.[0];
    if (!waiter) return false;
    this.remove(key, waiter);
    waiter.resolve(ack);
    return true;
  }

  failAll(err: Error): void {
    const all = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private remove(key: string, waiter: AckWaiter<A>): boolean {
    clearTimeout(waiter.timer);
    const list = this.waiters.get(key);
    const i = list ? list.indexOf(waiter) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.waiters.delete(key);
    return true;
  }
}

interface AckWaiter<A> {
  resolve(ack: A): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}
