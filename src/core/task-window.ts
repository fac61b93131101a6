/**
 * Runs tasks at most `size` at a time, in the order given: a window, not a batch (the next
 * starts as soon as one is done). Tasks must not throw (their errors are theirs to report).
 */
export class TaskWindow {
  private readonly waiting: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly drained = new Set<() => void>();

  constructor(private readonly size: number) {}

  run(task: () => Promise<void>): void {
    this.waiting.push(task);
    this.next();
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.add(resolve));
  }

  private next(): void {
    while (this.running < this.size && this.waiting.length > 0) {
      const task = this.waiting.shift()!;
      this.running += 1;
      void task()
        .catch(() => undefined)
        .finally(() => {
          this.running -= 1;
          this.next();
          if (this.running === 0 && this.waiting.length === 0) {
            for (const resolve of this.drained) resolve();
            this.drained.clear();
          }
        });
    }
  }
}
