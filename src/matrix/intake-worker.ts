/**
 * Hands the durably queued Matrix events to the core, per room in arrival order (rooms in
 * parallel, one event at a time per room). An event is marked done only after the core's
 * handler resolved; a failure is retried with backoff, and after the last attempt the event
 * is marked failed and reported (onGaveUp posts a notice: never silence). Whatever is queued
 * when the worker starts (e.g. after a crash) is resumed.
 */
import type { MatrixEventSink } from "../core/matrix-events.js";
import type { MatrixIntakeRepository, QueuedEvent } from "../db/repositories/matrix-intake.js";
import { Logger } from "./appservice-bridge.js";
import type { IntakeAction } from "./event-classifier.js";

export type IntakeQueue = Pick<
  MatrixIntakeRepository,
  "nextQueued" | "queuedRooms" | "markDone" | "markFailed" | "reschedule"
>;

export interface IntakeLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface IntakeWorkerOptions {
  queue: IntakeQueue;
  classify: (event: Record<string, unknown>) => IntakeAction;
  /** Called once an event is given up on; tells the user (failures here are only logged). */
  onGaveUp?: (action: IntakeAction, event: QueuedEvent) => Promise<void>;
  /** Handling attempts per event before giving up (default 8: about two minutes). */
  maxAttempts?: number;
  /** Backoff between attempts: initialMs doubling up to maxMs (default 1 s to 60 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  log?: IntakeLog;
  now?: () => number;
}

interface RoomRunner {
  /** Set when new events may have arrived while the runner was looking. */
  dirty: boolean;
  done: Promise<void>;
}

interface Sleep {
  promise: Promise<void>;
  wake(): void;
}

/** For debug logs: what was done with an event (never its content). */
function describeAction(action: IntakeAction): string {
  return action.kind === "ignore" ? `ignored (${action.reason})` : action.kind;
}

export class IntakeWorker {
  private sink: MatrixEventSink | undefined;
  private readonly runners = new Map<string, RoomRunner>();
  private readonly sleeps = new Set<Sleep>();
  private stopping = false;
  private readonly maxAttempts: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly log: IntakeLog;
  private readonly now: () => number;

  constructor(private readonly opts: IntakeWorkerOptions) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 8);
    this.initialMs = opts.backoff?.initialMs ?? 1_000;
    this.maxMs = Math.max(this.initialMs, opts.backoff?.maxMs ?? 60_000);
    this.log = opts.log ?? new Logger("IntakeWorker");
    this.now = opts.now ?? Date.now;
  }

  /** Wires the core and resumes whatever is queued. */
  setSink(sink: MatrixEventSink): void {
    this.sink = sink;
    this.wake();
  }

  /**
   * New events were stored (in these rooms; all rooms with queued events if omitted).
   * Before setSink, and after stop, this does nothing.
   */
  wake(roomIds?: Iterable<string>): void {
    if (!this.sink || this.stopping) return;
    if (roomIds) {
      for (const roomId of roomIds) this.ensureRunner(roomId);
      return;
    }
    this.opts.queue.queuedRooms().then(
      (rooms) => {
        for (const roomId of rooms) this.ensureRunner(roomId);
      },
      (err: unknown) => {
        this.log.error(`Cannot list queued rooms: ${errorMessage(err)}`);
        // The database may be back later; look again then.
        void this.sleep(this.initialMs).promise.then(() => this.wake());
      },
    );
  }

  /** Resolves when no room has a runner (nothing queued is due now, or stopped). */
  async idle(): Promise<void> {
    while (this.runners.size > 0) {
      await Promise.all([...this.runners.values()].map((r) => r.done));
    }
  }

  /** Stops taking events; the event being handled in each room is finished first. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const s of this.sleeps) s.wake();
    await this.idle();
  }

  private ensureRunner(roomId: string): void {
    const existing = this.runners.get(roomId);
    if (existing) {
      existing.dirty = true;
      return;
    }
    const runner: RoomRunner = { dirty: true, done: Promise.resolve() };
    this.runners.set(roomId, runner);
    runner.done = this.runRoom(roomId, runner).finally(() => this.runners.delete(roomId));
  }

  private async runRoom(roomId: string, runner: RoomRunner): Promise<void> {
    let dbFailures = 0;
    while (!this.stopping) {
      try {
        runner.dirty = false;
        const event = await this.opts.queue.nextQueued(roomId);
        if (!event) {
          if (runner.dirty) continue;
          return;
        }
        const wait = event.nextAttemptAt - this.now();
        if (wait > 0) {
          await this.sleep(wait).promise;
          continue;
        }
        await this.handle(event);
        dbFailures = 0;
      } catch (err) {
        // The queue itself failed (database down?): keep the room's place and look again.
        dbFailures += 1;
        this.log.error(`Intake of room ${roomId} failed: ${errorMessage(err)}`);
        await this.sleep(this.backoffMs(dbFailures)).promise;
      }
    }
  }

  private async handle(event: QueuedEvent): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    if (!event.event) {
      await this.opts.queue.markDone(event.seq);
      return;
    }
    let action: IntakeAction | undefined;
    try {
      action = this.opts.classify(event.event);
      await deliver(sink, action);
    } catch (err) {
      await this.failed(event, action, err);
      return;
    }
    this.log.debug(`Event ${event.eventId} in ${event.roomId}: ${describeAction(action)}`);
    await this.opts.queue.markDone(event.seq);
  }

  private async failed(
    event: QueuedEvent,
    action: IntakeAction | undefined,
    err: unknown,
  ): Promise<void> {
    const attempts = event.attempts + 1;
    const reason = errorMessage(err);
    if (attempts < this.maxAttempts) {
      const delay = this.backoffMs(attempts);
      this.log.warn(
        `Event ${event.eventId} in ${event.roomId} failed (attempt ${attempts}/${this.maxAttempts}), ` +
          `retrying in ${delay} ms: ${reason}`,
      );
      await this.opts.queue.reschedule(event.seq, this.now() + delay, reason);
      return;
    }
    this.log.error(
      `Event ${event.eventId} in ${event.roomId} failed ${attempts} times, giving up: ${reason}`,
    );
    await this.opts.queue.markFailed(event.seq, reason);
    if (this.opts.onGaveUp) {
      const gaveUpOn: IntakeAction = action ?? { kind: "ignore", reason: "could not be read" };
      await this.opts.onGaveUp(gaveUpOn, event).catch((notifyErr: unknown) => {
        this.log.error(
          `Could not tell room ${event.roomId} about event ${event.eventId}: ${errorMessage(notifyErr)}`,
        );
      });
    }
  }

  private backoffMs(attempt: number): number {
    return Math.min(this.initialMs * 2 ** Math.max(0, attempt - 1), this.maxMs);
  }

  /** A wait that stop() cuts short. */
  private sleep(ms: number): Sleep {
    let timer: NodeJS.Timeout | undefined;
    let wake: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        clearTimeout(timer);
        this.sleeps.delete(sleep);
        resolve();
      };
      timer = setTimeout(wake, ms);
    });
    const sleep: Sleep = { promise, wake };
    this.sleeps.add(sleep);
    if (this.stopping) wake();
    return sleep;
  }
}

async function deliver(sink: MatrixEventSink, action: IntakeAction): Promise<void> {
  switch (action.kind) {
    case "ignore":
      return;
    case "message":
      return sink.onRoomMessage(action.message);
    case "bot-invited":
      return sink.onBotInvited(action.roomId, action.inviter, action.isDirect);
    case "membership":
      return sink.onMembership(action.roomId, action.userMxid, action.membership);
  }
}

/** An error's message for logs and last_error: never an event's content. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = "code" in err && typeof err.code === "string" ? `${err.code}: ` : "";
    return `${err.name}: ${code}${err.message}`;
  }
  return String(err);
}
