/**
 * The Matrix intake queue shared by several workers on PostgreSQL (issue 12): a worker takes
 * the events of the users whose logins it holds (and of users without a login), claims each
 * before handling it, and leaves one whose sender's login moved away a moment ago to the new
 * holder, untouched: not counted as an attempt, not claimed, handled once by the holder.
 */
import type { Knex } from "knex";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LoginMovedError } from "../../../src/core/ownership.js";
import { LoginRepository } from "../../../src/db/repositories/index.js";
import { MatrixIntakeRepository } from "../../../src/db/repositories/matrix-intake.js";
import { classifyEvent } from "../../../src/matrix/event-classifier.js";
import type { IntakeAction } from "../../../src/matrix/event-classifier.js";
import { matrixToMarkup } from "../../../src/matrix/formatting/index.js";
import { IntakeWorker } from "../../../src/matrix/intake-worker.js";
import type { IntakeLog } from "../../../src/matrix/intake-worker.js";
import { LeaseStore } from "../../../src/scale/lease-store.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";
import { RecordingSink, textEvent } from "../matrix-side/fixture.js";

const BOT = "@bot:test.local";
const ALICE = "@alice:test.local";
const NOBODY = "@nobody:test.local"; // no login: any worker takes their events
const ROOM = "!room:test.local";
const LEASE_MS = 60_000;

const classify = (event: Record<string, unknown>): IntakeAction =>
  classifyEvent(event, {
    botMxid: BOT,
    isBridgeUser: (u) => u === BOT || u.startsWith("@gk_"),
    toMarkup: matrixToMarkup,
  });

/** Records warnings: leaving an event to another worker is not one. */
class Log implements IntakeLog {
  readonly warnings: string[] = [];
  debug(): void {}
  info(): void {}
  warn(msg: string): void {
    this.warnings.push(msg);
  }
  error(msg: string): void {
    this.warnings.push(msg);
  }
}

describe("the intake queue shared by workers (PostgreSQL)", () => {
  let t: TestDatabase;
  let db: Knex;
  let queue: MatrixIntakeRepository;
  let store: LeaseStore;
  let aliceLogin: string;
  const workers: IntakeWorker[] = [];
  let txn = 0;

  beforeAll(async () => {
    t = await openTestDatabase("postgres", { migrate: true });
    db = t.db;
    queue = new MatrixIntakeRepository(db);
    store = new LeaseStore(db);
    const logins = new LoginRepository(db);
    const login = await logins.create({ mxid: ALICE, phone: "+4915120000001" });
    await logins.setState(login.id, "connected");
    aliceLogin = login.id;
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await t?.close();
  });

  beforeEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    await db("matrix_event_queue").delete();
    await db("bridge_login_leases").delete();
  });

  function worker(workerId: string, sink: RecordingSink, log = new Log()): IntakeWorker {
    const w = new IntakeWorker({
      queue,
      classify,
      log,
      scope: { workerId },
      backoff: { initialMs: 10, maxMs: 40 },
    });
    workers.push(w);
    w.setSink(sink);
    return w;
  }

  async function holdAlice(workerId: string): Promise<void> {
    const lease = await store.claimOne(workerId, aliceLogin, LEASE_MS);
    expect(lease?.loginId).toBe(aliceLogin);
  }

  const row = async (eventId: string) =>
    (await db("matrix_event_queue").where({ event_id: eventId }).first()) as {
      state: string;
      attempts: number;
      claimed_by: string | null;
    };

  async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const end = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`not within 10 s: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("a worker takes the events of its logins' users and of users without a login, and no others", async () => {
    await holdAlice("w1");
    await queue.storeTransaction(`t${++txn}`, [
      textEvent(ROOM, "$a1", "from alice", ALICE),
      textEvent("!other:test.local", "$n1", "from nobody", NOBODY),
    ]);
    const atW2 = new RecordingSink();
    const w2 = worker("w2", atW2);
    w2.wake();
    await until(() => atW2.messages.length === 1, "w2 takes the event of a user without a login");
    await w2.idle();
    expect(atW2.messages.map((m) => m.body)).toEqual(["from nobody"]);
    expect((await row("$a1")).state).toBe("queued");

    const atW1 = new RecordingSink();
    worker("w1", atW1).wake();
    await until(async () => (await row("$a1")).state === "done", "w1 handles alice's event");
    expect(atW1.messages.map((m) => m.body)).toEqual(["from alice"]);
  });

  it("an event whose sender's login moved away is left to the new holder: unclaimed, no attempt, handled once", async () => {
    await holdAlice("w1");
    await queue.storeTransaction(`t${++txn}`, [
      textEvent(ROOM, "$c1", "status", ALICE),
      textEvent(ROOM, "$c2", "after it", ALICE),
    ]);
    // w1 picked alice's command, and her login moved to w2 before it ran (what the core's
    // check of the login finds then).
    class MovedAway extends RecordingSink {
      override async onRoomMessage(): Promise<void> {
        this.attempts += 1;
        await store.release("w1", {
          loginId: aliceLogin,
          epoch: (await store.holder(aliceLogin))!.epoch,
        });
        await holdAlice("w2");
        throw new LoginMovedError(aliceLogin);
      }
    }
    const moved = new MovedAway();
    const w1Log = new Log();
    const w1 = worker("w1", moved, w1Log);
    w1.wake();
    await until(() => moved.attempts === 1, "w1 tries the command");
    await w1.idle();
    expect(moved.attempts).toBe(1);
    expect(await row("$c1")).toMatchObject({ state: "queued", attempts: 0, claimed_by: null });
    expect(w1Log.warnings).toEqual([]);

    const atW2 = new RecordingSink();
    worker("w2", atW2).wake();
    await until(async () => (await row("$c2")).state === "done", "w2 handles both, in order");
    expect(atW2.messages.map((m) => m.body)).toEqual(["status", "after it"]);
    expect(moved.attempts).toBe(1);
  });
});
