/**
 * Work queued in lanes: tasks of one key run one at a time, in push order; tasks of
 * different keys run concurrently, at most `maxRunning` at once. Inbound stanzas use one lane
 * per sender, so a contact whose handling stalls delays only its own later stanzas.
 *
 * A slot is taken for one task and given back after it; a lane with more work queues again
 * behind the lanes already waiting. So a busy lane cannot starve others when all slots are
 * taken, and a stalled lane (its task never finishing) holds exactly one slot.
 */
export class KeyedLanes {
  private readonly lanes = new Map<string, Lane>();
  /** Lanes with a task ready and no slot yet, first come first served. */
  private readonly ready: Lane[] = [];
  /** Completion of every task not finished yet, barriers included. */
  private readonly unfinished = new Set<Promise<void>>();
  private running = 0;

  constructor(private readonly maxRunning: number) {
    if (!Number.isInteger(maxRunning) || maxRunning < 1) {
      throw new RangeError(`maxRunning must be a positive integer, got ${maxRunning}`);
    }
  }

  /**
   * Queues a task in the lane of `key`; its failure is reported to `onError`, never thrown,
   * so the lane goes on.
   */
  push(key: string, task: () => Promise<void>, onError: (err: unknown) => void): void {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, tasks: [], scheduled: false };
      this.lanes.set(key, lane);
    }
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    this.track(finished);
    lane.tasks.push({ task, onError, finish });
    if (!lane.scheduled) {
      lane.scheduled = true;
      this.ready.push(lane);
      this.startReady();
    }
  }

  /**
   * Runs `task` once every task pushed before it (in any lane) has finished; later tasks do
   * not wait for it. It takes no slot: it waits on the others and runs once per batch (e.g.
   * "the offline backlog was delivered"), so it cannot crowd the lanes out.
   */
  barrier(task: () => Promise<void>, onError: (err: unknown) => void): void {
    this.track(this.idle().then(() => settle(task, onError)));
  }

  /** Tasks queued or running, barriers included. */
  get size(): number {
    return this.unfinished.size;
  }

  /** Resolves once everything queued so far (in every lane) has run. */
  async idle(): Promise<void> {
    await Promise.all(this.unfinished);
  }

  private track(finished: Promise<void>): void {
    this.unfinished.add(finished);
    void finished.then(() => this.unfinished.delete(finished));
  }

  private startReady(): void {
    while (this.running < this.maxRunning) {
      const lane = this.ready.shift();
      if (!lane) return;
      this.running += 1;
      void this.runNext(lane);
    }
  }

  private async runNext(lane: Lane): Promise<void> {
    const next = lane.tasks.shift()!;
    // Never inside push()'s caller: the caller (a connection's frame handler) goes on first.
    await Promise.resolve();
    await settle(next.task, next.onError);
    next.finish();
    this.running -= 1;
    if (lane.tasks.length > 0) {
      this.ready.push(lane);
    } else {
      lane.scheduled = false;
      this.lanes.delete(lane.key);
    }
    this.startReady();
  }
}

interface Lane {
  key: string;
  tasks: { task: () => Promise<void>; onError: (err: unknown) => void; finish: () => void }[];
  /** Waiting for a slot or running: pushes only append to `tasks`. */
  scheduled: boolean;
}

async function settle(task: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
  try {
    await task();
  } catch (err) {
    try {
      onError(err);
    } catch {
      // A failing error reporter must not stop the lane.
    }
  }
}
