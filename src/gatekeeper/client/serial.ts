/**
 * Small ordering helpers. KeyedLock runs tasks one at a time per key (one peer's session:
 * fetch bundle → encrypt → put on the wire must not interleave with another send to the
 * same peer). SerialQueue runs tasks one at a time, in order (key uploads and refills).
 * Inbound stanzas use KeyedLanes (lanes.ts): serial per sender, concurrent across senders.
 */
export { KeyedLock } from "../../util/keyed-lock.js";

export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  /** Queues a task; its failure is reported to `onError`, never thrown, so the queue goes on. */
  push(task: () => Promise<void>, onError: (err: unknown) => void): void {
    this.pending += 1;
    this.tail = this.tail.then(async () => {
      try {
        await task();
      } catch (err) {
        onError(err);
      } finally {
        this.pending -= 1;
      }
    });
  }

  get size(): number {
    return this.pending;
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
