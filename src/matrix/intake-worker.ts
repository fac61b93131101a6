/**
 * Hands the durably queued Matrix events to the core, per room in arrival order (rooms in
 * parallel, one event at a time per room). An event is marked done only after the core's
 * handler resolved. Whatever is queued when the worker starts (e.g. after a crash) is resumed.
 *
 * A failure is classified by its type (core/request-error.ts), never by its message:
 * - permanent (e.g. the homeserver refused the bridge's reply with a 4xx): given up on at once;
 * - a server error (HTTP 500): retried once; the same again for the same event is permanent;
 * - transient, or an error of unknown kind: retried with backoff, up to maxAttempts.
 * Given up on, the event is marked failed and reported with what happened (onGaveUp posts a
 * notice: never silence).
 *
 * Order, and how long one bad event may hold up its room: a failing event is retried in place,
 * its room's later events waiting behind it, for at most `holdMs` (a few seconds: a homeserver
 * hiccup passes, and order is kept). After that it is set aside: it stays queued, due again
 * after its backoff, and the room's later events are handled meanwhile; when it comes due it
 * goes first again, but without holding the room a second time. So commands and messages of a
 * room are handled in the order they were sent unless one is stuck; then what came after it
 * may be handled before it. That is the lesser harm: a room whose commands all wait minutes
 * behind one that cannot work looks dead to its user, while a message that finally goes
 * through late is still delivered, and its failed attempts were reported as they happened.
 */
import type { MatrixEventSink } from "../core/matrix-events.js";
import { LoginMovedError } from "../core/ownership.js";
import { RequestFailedError, failureKindOf } from "../core/request-error.js";
import type { FailureKind } from "../core/request-error.js";
import type {
  IntakeScope,
  MatrixIntakeRepository,
  QueuedEvent,
} from "../db/repositories/matrix-intake.js";
import { wellFormedJson } from "../util/unicode.js";
import { Logger } from "./appservice-bridge.js";
import type { IntakeAction } from "./event-classifier.js";

export type IntakeQueue = Pick<
  MatrixIntakeRepository,
  "nextDue" | "queuedRooms" | "markDone" | "markFailed" | "reschedule" | "claim" | "unclaim"
>;

/** After an event was left to its login's new holder: when its room is looked at again. */
const MOVED_LOOK_AGAIN_MS = 250;

/** Why an event was given up on, for the notice that tells its room. */
export interface GaveUp {
  /**
   * "refused": a permanent failure (or a server error that repeated), which no retry would
   * change; "exhausted": transient failures until the last attempt.
   */
  reason: "refused" | "exhausted";
  attempts: number;
  /**
   * What happened, as a clause for a user (a RequestFailedError's userMessage); undefined
   * for an unexpected error (the bridge's own failure, whose details are only logged).
   */
  detail: string | undefined;
}

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
  onGaveUp?: (action: IntakeAction, event: QueuedEvent, gaveUp: GaveUp) => Promise<void>;
  /** Handling attempts per event before giving up (default 8: about two minutes). */
  maxAttempts?: number;
  /** Backoff between attempts: initialMs doubling up to maxMs (default 1 s to 60 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * How long a failing event may hold up its room's later events, being retried in place,
   * before it is set aside and retried behind them (default 5 s).
   */
  holdMs?: number;
  log?: IntakeLog;
  now?: () => number;
  /**
   * Several processes on one database: take only this worker's events (its logins' and
   * those of senders with no login), each claimed before it is handled. Undefined: all.
   */
  scope?: IntakeScope;
  /** How long a claim keeps other workers off an event being handled (default 30 s). */
  claimMs?: number;
}

interface RoomRunner {
  /** Set when new events may have arrived while the runner was looking. */
  dirty: boolean;
  done: Promise<void>;
  /** While waiting for a set-aside event to come due: cut short by new events. */
  idleWait: Sleep | undefined;
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
  private readonly holdMs: number;
  private readonly log: IntakeLog;
  private readonly now: () => number;
  /** The kind of each failing event's last failure (by seq), to recognise a repeated 500. */
  private readonly lastFailure = new Map<number, FailureKind>();

  constructor(private readonly opts: IntakeWorkerOptions) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 8);
    this.initialMs = opts.backoff?.initialMs ?? 1_000;
    this.maxMs = Math.max(this.initialMs, opts.backoff?.maxMs ?? 60_000);
    this.holdMs = Math.max(0, opts.holdMs ?? 5_000);
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
    this.opts.queue.queuedRooms(this.opts.scope).then(
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
      existing.idleWait?.wake();
      return;
    }
    const runner: RoomRunner = { dirty: true, done: Promise.resolve(), idleWait: undefined };
    this.runners.set(roomId, runner);
    runner.done = this.runRoom(roomId, runner).finally(() => this.runners.delete(roomId));
  }

  private async runRoom(roomId: string, runner: RoomRunner): Promise<void> {
    let dbFailures = 0;
    while (!this.stopping) {
      try {
        runner.dirty = false;
        const event = await this.opts.queue.nextDue(roomId, this.now(), this.opts.scope);
        if (!event) {
          if (runner.dirty) continue;
          return;
        }
        const wait = event.nextAttemptAt - this.now();
        if (wait > 0) {
          // Only set-aside events are queued, none due: wait for the first, or for new ones.
          if (runner.dirty) continue;
          runner.idleWait = this.sleep(wait);
          await runner.idleWait.promise;
          runner.idleWait = undefined;
          continue;
        }
        // Another worker took it meanwhile (or handled it): the next look passes it by.
        if (!(await this.claim(event))) continue;
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

  private async claim(event: QueuedEvent): Promise<boolean> {
    const scope = this.opts.scope;
    if (!scope) return true;
    return this.opts.queue.claim(event.seq, scope.workerId, this.opts.claimMs ?? 30_000);
  }

  /** Handles one due event, retrying it in place while it may hold up its room. */
  private async handle(picked: QueuedEvent): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    const content = picked.event;
    if (!content) {
      await this.opts.queue.markDone(picked.seq);
      return;
    }
    // An event that failed before (set aside, or before a restart) does not hold the room again.
    const holdUntil = picked.attempts === 0 ? this.now() + this.holdMs : -Infinity;
    let event = picked;
    for (;;) {
      let action: IntakeAction | undefined;
      try {
        // Text from Matrix may carry lone surrogates (JSON allows "\ud800"); the core and the
        // remote network get well-formed text only.
        action = this.opts.classify(wellFormedJson(content));
        await deliver(sink, action);
      } catch (err) {
        if (err instanceof LoginMovedError && this.opts.scope) {
          // Its sender's login moved to another worker a moment ago: nothing was done, and
          // the event is the new holder's. It stays queued, unclaimed; this room's runner
          // looks again a little later (the move may not be in the database yet).
          this.log.debug(
            `Event ${event.eventId} in ${event.roomId}: left to its login's new holder`,
          );
          await this.opts.queue.unclaim(event.seq, this.opts.scope.workerId);
          await this.sleep(MOVED_LOOK_AGAIN_MS).promise;
          return;
        }
        const retryAt = await this.failed(event, action, err);
        if (retryAt === undefined || retryAt > holdUntil) return; // given up, or set aside
        await this.sleep(retryAt - this.now()).promise;
        if (this.stopping) return; // still queued, due at retryAt: resumed at the next start
        event = { ...event, attempts: event.attempts + 1, nextAttemptAt: retryAt };
        continue;
      }
      this.lastFailure.delete(event.seq);
      this.log.debug(`Event ${event.eventId} in ${event.roomId}: ${describeAction(action)}`);
      await this.opts.queue.markDone(event.seq);
      return;
    }
  }

  /**
   * Records a failed attempt: rescheduled (returns when it is due again) or given up on and
   * reported (returns undefined).
   */
  private async failed(
    event: QueuedEvent,
    action: IntakeAction | undefined,
    err: unknown,
  ): Promise<number | undefined> {
    const attempts = event.attempts + 1;
    const reason = errorMessage(err);
    const kind = failureKindOf(err);
    const repeated = kind === "server-error" && this.lastFailure.get(event.seq) === "server-error";
    if (kind !== "permanent" && !repeated && attempts < this.maxAttempts) {
      this.lastFailure.set(event.seq, kind ?? "transient");
      const delay = this.backoffMs(attempts);
      this.log.warn(
        `Event ${event.eventId} in ${event.roomId} failed (attempt ${attempts}/${this.maxAttempts}), ` +
          `retrying in ${delay} ms: ${reason}`,
      );
      const retryAt = this.now() + delay;
      await this.opts.queue.reschedule(event.seq, retryAt, reason);
      return retryAt;
    }
    this.lastFailure.delete(event.seq);
    const refused = kind === "permanent" || repeated;
    this.log.error(
      `Event ${event.eventId} in ${event.roomId} failed ${attempts} time(s), giving up` +
        `${refused ? " (a permanent error)" : ""}: ${reason}`,
    );
    await this.opts.queue.markFailed(event.seq, reason);
    if (this.opts.onGaveUp) {
      const gaveUpOn: IntakeAction = action ?? { kind: "ignore", reason: "could not be read" };
      const gaveUp: GaveUp = {
        reason: refused ? "refused" : "exhausted",
        attempts,
        detail: err instanceof RequestFailedError ? err.userMessage : undefined,
      };
      await this.opts.onGaveUp(gaveUpOn, event, gaveUp).catch((notifyErr: unknown) => {
        this.log.error(
          `Could not tell room ${event.roomId} about event ${event.eventId}: ${errorMessage(notifyErr)}`,
        );
      });
    }
    return undefined;
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
    case "puppet-membership":
      return sink.onPuppetMembership?.(
        action.roomId,
        action.sender,
        action.puppetMxid,
        action.membership,
      );
    case "room-name":
      return sink.onRoomName?.(action.roomId, action.sender, action.name);
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
