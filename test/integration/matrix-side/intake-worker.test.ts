import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IncomingMatrixMessage, MatrixEventSink } from "../../../src/core/matrix-events.js";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { MatrixIntakeRepository } from "../../../src/db/repositories/matrix-intake.js";
import { classifyEvent } from "../../../src/matrix/event-classifier.js";
import type { IntakeAction } from "../../../src/matrix/event-classifier.js";
import { matrixToMarkup } from "../../../src/matrix/formatting/index.js";
import { IntakeWorker } from "../../../src/matrix/intake-worker.js";
import type { IntakeLog } from "../../../src/matrix/intake-worker.js";
import { RecordingSink, textEvent } from "./fixture.js";

const BOT = "@bot:localhost";
const silent: IntakeLog = { debug() {}, info() {}, warn() {}, error() {} };
const classify = (event: Record<string, unknown>): IntakeAction =>
  classifyEvent(event, {
    botMxid: BOT,
    isBridgeUser: (u) => u === BOT || u.startsWith("@gk_"),
    toMarkup: matrixToMarkup,
  });

let dir: string;
let db: Knex;
let queue: MatrixIntakeRepository;
const workers: IntakeWorker[] = [];

function worker(opts: Partial<ConstructorParameters<typeof IntakeWorker>[0]> = {}): IntakeWorker {
  const w = new IntakeWorker({
    queue,
    classify,
    log: silent,
    maxAttempts: 3,
    backoff: { initialMs: 10, maxMs: 40 },
    ...opts,
  });
  workers.push(w);
  return w;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gkb-intake-"));
  db = await openDatabase({ type: "sqlite", filename: join(dir, "bridge.sqlite") });
  await migrate(db);
  queue = new MatrixIntakeRepository(db);
});

afterEach(async () => {
  // A "killed" worker's sink never resolves; stop() would wait for it forever.
  workers.length = 0;
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** A sink whose onRoomMessage hangs on the given body: the process "dies" mid-event. */
class HangingSink extends RecordingSink {
  constructor(private readonly hangOn: string) {
    super();
  }
  override onRoomMessage(message: IncomingMatrixMessage): Promise<void> {
    if (message.body === this.hangOn) return new Promise<void>(() => undefined);
    return super.onRoomMessage(message);
  }
}

describe("IntakeWorker", () => {
  it("resumes after a crash with the unfinished event, in order, each handled once", async () => {
    const room = "!r:localhost";
    await queue.storeTransaction("t1", [
      textEvent(room, "$1", "one"),
      textEvent(room, "$2", "two"),
    ]);
    await queue.storeTransaction("t2", [textEvent(room, "$3", "three")]);

    const before = new HangingSink("two");
    const first = worker();
    first.setSink(before);
    await before.until(() => before.bodies().length === 1);
    // "one" is done; "two" is in flight when the process dies (no stop, no markDone).
    await waitFor(async () => (await queue.get("$1"))?.state === "done");
    expect((await queue.get("$2"))?.state).toBe("queued");

    const after = new RecordingSink();
    const restarted = worker();
    restarted.setSink(after);
    await after.until(() => after.bodies().length === 2);
    await restarted.idle();
    expect(before.bodies()).toEqual(["one"]);
    expect(after.bodies()).toEqual(["two", "three"]);
    for (const id of ["$1", "$2", "$3"]) expect((await queue.get(id))?.state).toBe("done");
  });

  it("retries a failing event with backoff, holding back the room's later events", async () => {
    const room = "!r:localhost";
    await queue.storeTransaction("t1", [
      textEvent(room, "$1", "one"),
      textEvent(room, "$2", "two"),
    ]);
    const sink = new RecordingSink();
    sink.failNext = 2;
    const w = worker();
    w.setSink(sink);
    await sink.until(() => sink.bodies().length === 2);
    expect(sink.bodies()).toEqual(["one", "two"]);
    expect(sink.attempts).toBe(4);
    expect(await queue.get("$1")).toMatchObject({ state: "done", attempts: 2 });
  });

  it("gives up after the last attempt, marks the event failed and reports it", async () => {
    const room = "!r:localhost";
    await queue.storeTransaction("t1", [
      textEvent(room, "$1", "doomed"),
      textEvent(room, "$2", "next"),
    ]);
    const sink = new RecordingSink();
    sink.failNext = 3;
    const gaveUp: { kind: string; eventId: string }[] = [];
    const w = worker({
      onGaveUp: async (action, event) =>
        void gaveUp.push({ kind: action.kind, eventId: event.eventId }),
    });
    w.setSink(sink);
    await sink.until(() => sink.bodies().includes("next"));
    expect(gaveUp).toEqual([{ kind: "message", eventId: "$1" }]);
    expect(await queue.get("$1")).toMatchObject({ state: "failed", attempts: 3 });
    expect(sink.bodies()).toEqual(["next"]);
  });

  it("sets a failing event aside after the hold, so the room's later events go on", async () => {
    const room = "!r:localhost";
    await queue.storeTransaction("t1", [
      textEvent(room, "$1", "stuck"),
      textEvent(room, "$2", "after"),
    ]);
    const handled: string[] = [];
    let stuckTries = 0;
    const gaveUp: string[] = [];
    const w = worker({
      maxAttempts: 6,
      backoff: { initialMs: 20, maxMs: 80 },
      holdMs: 50,
      onGaveUp: async (_action, event) => void gaveUp.push(event.eventId),
    });
    w.setSink({
      onRoomMessage: async (m) => {
        if (m.body === "stuck") {
          stuckTries += 1;
          throw new Error("homeserver down");
        }
        handled.push(m.body);
      },
      onBotInvited: async () => undefined,
      onMembership: async () => undefined,
    });
    await waitFor(async () => handled.length === 1);
    // Tried in place at 0 and 20 ms; the next try (60 ms) is past the hold: set aside, and
    // "after" went on while "stuck" still had retries left.
    expect(gaveUp).toEqual([]);
    expect(stuckTries).toBeLessThan(6);
    await waitFor(async () => gaveUp.length === 1);
    expect(stuckTries).toBe(6);
    expect(await queue.get("$1")).toMatchObject({ state: "failed", attempts: 6 });
  });

  it("works rooms in parallel: a stuck room does not hold up another", async () => {
    await queue.storeTransaction("t1", [
      textEvent("!stuck:localhost", "$s", "stuck"),
      textEvent("!free:localhost", "$f1", "free one"),
      textEvent("!free:localhost", "$f2", "free two"),
    ]);
    const sink = new HangingSink("stuck");
    worker().setSink(sink);
    await sink.until(() => sink.bodies().length === 2);
    expect(sink.bodies()).toEqual(["free one", "free two"]);
  });

  it("hands invites and memberships to the sink and skips the bridge's own events", async () => {
    const room = "!m:localhost";
    const member = (id: string, sender: string, key: string, content: Record<string, unknown>) => ({
      type: "m.room.member",
      event_id: id,
      room_id: room,
      sender,
      state_key: key,
      origin_server_ts: 1,
      content,
    });
    await queue.storeTransaction("t1", [
      member("$i", "@alice:localhost", BOT, { membership: "invite", is_direct: true }),
      textEvent(room, "$echo", "echo", "@gk_1:localhost"),
      member("$j", "@alice:localhost", "@alice:localhost", { membership: "leave" }),
    ]);
    const sink = new RecordingSink();
    const w = worker();
    w.setSink(sink);
    await sink.until(() => sink.memberships.length === 1);
    await w.idle();
    expect(sink.invites).toEqual([{ roomId: room, inviter: "@alice:localhost", isDirect: true }]);
    expect(sink.memberships).toEqual([
      { roomId: room, userMxid: "@alice:localhost", membership: "leave" },
    ]);
    expect(sink.messages).toEqual([]);
    expect((await queue.get("$echo"))?.state).toBe("done");
  });

  it("stop() lets the current event finish and takes no more", async () => {
    const room = "!r:localhost";
    await queue.storeTransaction("t1", [
      textEvent(room, "$1", "one"),
      textEvent(room, "$2", "two"),
    ]);
    let release: () => void = () => undefined;
    const entered: string[] = [];
    const sink: MatrixEventSink = {
      onRoomMessage: (m) => {
        entered.push(m.body);
        return new Promise<void>((resolve) => (release = resolve));
      },
      onBotInvited: async () => undefined,
      onMembership: async () => undefined,
    };
    const w = worker();
    w.setSink(sink);
    await waitFor(async () => entered.length === 1);
    const stopped = w.stop();
    release();
    await stopped;
    expect(entered).toEqual(["one"]);
    expect((await queue.get("$1"))?.state).toBe("done");
    expect((await queue.get("$2"))?.state).toBe("queued");
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
