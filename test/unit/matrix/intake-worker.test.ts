/**
 * The intake worker's retry policy on a fake clock and an in-memory queue: permanent errors
 * are not retried, a 500 only once, and one failing event holds up its room for seconds, not
 * minutes. (test/integration/matrix-side/intake-worker.test.ts runs it on SQLite.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { IncomingMatrixMessage, MatrixEventSink } from "../../../src/core/matrix-events.js";
import type { IntakeEvent, QueuedEvent } from "../../../src/db/repositories/matrix-intake.js";
import { classifyEvent } from "../../../src/matrix/event-classifier.js";
import { matrixToMarkup } from "../../../src/matrix/formatting/index.js";
import { IntakeWorker } from "../../../src/matrix/intake-worker.js";
import type { GaveUp, IntakeLog, IntakeQueue } from "../../../src/matrix/intake-worker.js";
import { toMatrixSideError } from "../../../src/matrix/matrix-errors.js";

const ROOM = "!room:localhost";
const silent: IntakeLog = { debug() {}, info() {}, warn() {}, error() {} };

/** matrix-bot-sdk's MatrixError, as the Matrix side turns it into its typed error. */
function homeserverError(statusCode: number, errcode: string, error: string): Error {
  const raw = Object.assign(new Error(error), { statusCode, errcode, error, body: { errcode } });
  return toMatrixSideError(raw, "the bridge's reply");
}

class MemoryQueue implements IntakeQueue {
  readonly rows: QueuedEvent[] = [];
  private seq = 0;

  add(eventId: string, body: string, now = Date.now()): void {
    const event: IntakeEvent = {
      type: "m.room.message",
      event_id: eventId,
      room_id: ROOM,
      sender: "@alice:localhost",
      origin_server_ts: now,
      content: { msgtype: "m.text", body },
    };
    this.rows.push({
      seq: ++this.seq,
      eventId,
      roomId: ROOM,
      event,
      state: "queued",
      attempts: 0,
      nextAttemptAt: now,
      lastError: null,
      receivedAt: now,
    });
  }

  get(eventId: string): QueuedEvent | undefined {
    return this.rows.find((r) => r.eventId === eventId);
  }

  // One process: the worker has no scope and claims nothing (the scoped queue is tested on
  // the real repository, test/integration/scale/scoped-intake.test.ts).
  async claim(): Promise<boolean> {
    throw new Error("an unscoped worker claims nothing");
  }

  async unclaim(): Promise<void> {
    throw new Error("an unscoped worker claims nothing");
  }

  async nextDue(roomId: string, now: number): Promise<QueuedEvent | undefined> {
    const queued = this.rows.filter((r) => r.state === "queued" && r.roomId === roomId);
    const due = queued.find((r) => r.nextAttemptAt <= now);
    if (due) return { ...due };
    const later = [...queued].sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)[0];
    return later && { ...later };
  }

  async queuedRooms(): Promise<string[]> {
    return [...new Set(this.rows.filter((r) => r.state === "queued").map((r) => r.roomId))];
  }

  async markDone(seq: number): Promise<void> {
    Object.assign(this.row(seq), { state: "done", event: null, lastError: null });
  }

  async markFailed(seq: number, error: string): Promise<void> {
    const row = this.row(seq);
    Object.assign(row, { state: "failed", lastError: error, attempts: row.attempts + 1 });
  }

  async reschedule(seq: number, nextAttemptAt: number, error: string): Promise<void> {
    const row = this.row(seq);
    Object.assign(row, { nextAttemptAt, lastError: error, attempts: row.attempts + 1 });
  }

  private row(seq: number): QueuedEvent {
    const row = this.rows.find((r) => r.seq === seq);
    if (!row) throw new Error(`no row ${seq}`);
    return row;
  }
}

/** A core that fails bodies as told, and notes when (fake clock) each body was handled. */
class ScriptedSink implements MatrixEventSink {
  readonly handled: { body: string; at: number }[] = [];
  readonly tries = new Map<string, number>();
  readonly failures = new Map<string, (attempt: number) => unknown>();

  async onRoomMessage(message: IncomingMatrixMessage): Promise<void> {
    const attempt = (this.tries.get(message.body) ?? 0) + 1;
    this.tries.set(message.body, attempt);
    const failure = this.failures.get(message.body)?.(attempt);
    if (failure !== undefined) throw failure;
    this.handled.push({ body: message.body, at: Date.now() });
  }
  async onBotInvited(): Promise<void> {}
  async onMembership(): Promise<void> {}

  at(body: string): number | undefined {
    return this.handled.find((h) => h.body === body)?.at;
  }
}

let queue: MemoryQueue;
let sink: ScriptedSink;
let gaveUp: { eventId: string; gaveUp: GaveUp; at: number }[];
let worker: IntakeWorker;
let t0: number;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  t0 = Date.now();
  queue = new MemoryQueue();
  sink = new ScriptedSink();
  gaveUp = [];
  // The production policy: 8 attempts, 1 s doubling to 60 s, a 5 s hold.
  worker = new IntakeWorker({
    queue,
    classify: (event) =>
      classifyEvent(event, {
        botMxid: "@bot:localhost",
        isBridgeUser: (u) => u === "@bot:localhost",
        toMarkup: matrixToMarkup,
      }),
    onGaveUp: async (_action, event, why) =>
      void gaveUp.push({ eventId: event.eventId, gaveUp: why, at: Date.now() - t0 }),
    log: silent,
  });
});

afterEach(async () => {
  const stopped = worker.stop();
  await vi.runAllTimersAsync();
  await stopped;
  vi.useRealTimers();
});

/** Runs the fake clock to `ms` after the start. */
async function until(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(Math.max(0, t0 + ms - Date.now()));
}

const since = (at: number | undefined): number | undefined =>
  at === undefined ? undefined : at - t0;

describe("IntakeWorker retry policy", () => {
  it("gives up on a permanent error at once, says what happened, and the room goes on", async () => {
    queue.add("$big", "toobig");
    queue.add("$help", "help");
    sink.failures.set("toobig", () => homeserverError(413, "M_TOO_LARGE", "event too large"));
    worker.setSink(sink);
    await until(0);

    expect(sink.tries.get("toobig")).toBe(1);
    expect(gaveUp).toEqual([
      {
        eventId: "$big",
        at: 0,
        gaveUp: {
          reason: "refused",
          attempts: 1,
          detail: "the homeserver refused the bridge's reply: M_TOO_LARGE (event too large)",
        },
      },
    ]);
    expect(queue.get("$big")).toMatchObject({ state: "failed", attempts: 1 });
    expect(since(sink.at("help"))).toBe(0);
  });

  it("retries a 500 once, and gives up when the same event gets a second one", async () => {
    queue.add("$crash", "crash");
    queue.add("$help", "help");
    sink.failures.set("crash", () => homeserverError(500, "M_UNKNOWN", "Internal server error"));
    worker.setSink(sink);
    await until(1_000);

    expect(sink.tries.get("crash")).toBe(2);
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]!.gaveUp).toMatchObject({ reason: "refused", attempts: 2 });
    expect(gaveUp[0]!.gaveUp.detail).toContain("the homeserver failed on the bridge's reply");
    expect(since(sink.at("help"))).toBe(1_000);
  });

  it("keeps order when a 500 or a transient error passes on the retry", async () => {
    queue.add("$1", "one");
    queue.add("$2", "two");
    queue.add("$3", "three");
    sink.failures.set("one", (n) =>
      n === 1 ? homeserverError(500, "M_UNKNOWN", "Internal server error") : undefined,
    );
    sink.failures.set("two", (n) =>
      n <= 2 ? homeserverError(503, "M_UNKNOWN", "Service unavailable") : undefined,
    );
    worker.setSink(sink);
    await until(10_000);

    expect(sink.handled.map((h) => h.body)).toEqual(["one", "two", "three"]);
    expect(gaveUp).toEqual([]);
  });

  it("holds the room for a few seconds at most, then retries the stuck event behind it", async () => {
    queue.add("$stuck", "stuck");
    queue.add("$help", "help");
    sink.failures.set("stuck", () => homeserverError(503, "M_UNKNOWN", "Service unavailable"));
    worker.setSink(sink);
    await until(5_000);

    // Tried at 0, 1 s and 3 s in place; the next try would be at 7 s, past the 5 s hold.
    expect(sink.tries.get("stuck")).toBe(3);
    expect(since(sink.at("help"))).toBe(3_000);

    // A command sent while the stuck event waits for its next try is answered at once.
    await until(10_000);
    queue.add("$ping", "ping");
    worker.wake([ROOM]);
    await until(10_000);
    expect(since(sink.at("ping"))).toBe(10_000);

    // The stuck event keeps its retries, in the background, and is reported at the end.
    await until(10 * 60_000);
    expect(sink.tries.get("stuck")).toBe(8);
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]!.gaveUp).toEqual({
      reason: "exhausted",
      attempts: 8,
      detail:
        "the homeserver was unavailable for the bridge's reply: M_UNKNOWN (Service unavailable)",
    });
    expect(queue.get("$stuck")?.state).toBe("failed");
  });

  it("retries an error of unknown kind like a transient one, reporting no details", async () => {
    queue.add("$1", "bug");
    sink.failures.set("bug", () => new TypeError("cannot read properties of undefined"));
    worker.setSink(sink);
    await until(10 * 60_000);

    expect(sink.tries.get("bug")).toBe(8);
    expect(gaveUp.map((g) => g.gaveUp)).toEqual([
      { reason: "exhausted", attempts: 8, detail: undefined },
    ]);
  });

  it("stop() during an in-place wait leaves the event queued for the next start", async () => {
    queue.add("$1", "flaky");
    sink.failures.set("flaky", () => homeserverError(502, "M_UNKNOWN", "Bad gateway"));
    worker.setSink(sink);
    await until(0);
    await worker.stop();
    expect(sink.tries.get("flaky")).toBe(1);
    expect(queue.get("$1")).toMatchObject({ state: "queued", attempts: 1 });
  });

  it("hands the core well-formed text: a lone surrogate becomes U+FFFD", async () => {
    queue.add("$1", "\ud800 hello \udc00");
    worker.setSink(sink);
    await until(0);
    expect(sink.handled.map((h) => h.body)).toEqual(["\ufffd hello \ufffd"]);
  });
});
