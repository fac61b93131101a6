import type { Knex } from "knex";
import { describe, expect, it } from "vitest";
import { dialectOf } from "../../../src/db/index.js";
import { MatrixIntakeRepository } from "../../../src/db/repositories/index.js";
import type { IntakeEvent } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { rejection, uniq } from "./fixtures.js";

function event(roomId: string, body = "hi"): IntakeEvent {
  return {
    event_id: `$${uniq()}`,
    room_id: roomId,
    type: "m.room.message",
    sender: "@alice:example.org",
    content: { msgtype: "m.text", body },
  };
}

/** Makes the database itself fail when an event with this id is inserted. */
async function failInsertsOf(db: Knex, eventId: string): Promise<() => Promise<void>> {
  if (dialectOf(db) === "sqlite") {
    await db.raw(
      `CREATE TRIGGER test_fail_insert BEFORE INSERT ON matrix_event_queue
       WHEN NEW.event_id = '${eventId}' BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`,
    );
    return async () => void (await db.raw("DROP TRIGGER test_fail_insert"));
  }
  await db.raw(
    `CREATE FUNCTION test_fail_insert() RETURNS trigger AS $fn$
     BEGIN
       IF NEW.event_id = '${eventId}' THEN RAISE EXCEPTION 'simulated failure'; END IF;
       RETURN NEW;
     END $fn$ LANGUAGE plpgsql`,
  );
  await db.raw(
    `CREATE TRIGGER test_fail_insert BEFORE INSERT ON matrix_event_queue
     FOR EACH ROW EXECUTE FUNCTION test_fail_insert()`,
  );
  return async () => {
    await db.raw("DROP TRIGGER test_fail_insert ON matrix_event_queue");
    await db.raw("DROP FUNCTION test_fail_insert()");
  };
}

describe.each(testDatabases())("matrix intake on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new MatrixIntakeRepository(dbs.db);

  it("stores a transaction's events and recognises the transaction when retried", async () => {
    const room = `!r${uniq()}:example.org`;
    const events = [event(room, "one"), event(room, "two")];
    const ids = events.map((e) => e.event_id);
    const txn = `txn-${uniq()}`;
    expect(await repo().storeTransaction(txn, events, 1_000)).toEqual({
      txnSeen: false,
      stored: ids,
      alreadyStored: [],
    });
    expect(await repo().hasTransaction(txn)).toBe(true);

    const stored = await repo().get(events[0]!.event_id);
    expect(stored).toMatchObject({
      eventId: events[0]!.event_id,
      roomId: room,
      event: events[0],
      state: "queued",
      attempts: 0,
      nextAttemptAt: 1_000,
      receivedAt: 1_000,
    });

    // The homeserver retries the same txn: nothing is stored twice.
    expect(await repo().storeTransaction(txn, events, 2_000)).toEqual({
      txnSeen: true,
      stored: [],
      alreadyStored: ids,
    });
    const queued = await dbs.db("matrix_event_queue").where({ room_id: room }).count({ n: "*" });
    expect(Number(queued[0]!.n)).toBe(2);
  });

  it("stores new events under a txn id seen before (a homeserver that restarted its ids)", async () => {
    const room = `!r${uniq()}:example.org`;
    const txn = `txn-${uniq()}`;
    await repo().storeTransaction(txn, [event(room, "before the restart")], 1_000);
    const after = event(room, "after the restart");
    expect(await repo().storeTransaction(txn, [after], 2_000)).toEqual({
      txnSeen: true,
      stored: [after.event_id],
      alreadyStored: [],
    });
    expect(await repo().get(after.event_id)).toMatchObject({ state: "queued", event: after });
  });

  it("skips events it already has, from another transaction or the same one", async () => {
    const room = `!r${uniq()}:example.org`;
    const a = event(room, "a");
    const b = event(room, "b");
    await repo().storeTransaction(`txn-${uniq()}`, [a], 1_000);
    const first = await repo().get(a.event_id);
    await repo().markDone(first!.seq);

    expect(await repo().storeTransaction(`txn-${uniq()}`, [a, b, b], 2_000)).toEqual({
      txnSeen: false,
      stored: [b.event_id],
      alreadyStored: [a.event_id],
    });
    // a keeps its row (still done, not queued again); b is queued once.
    expect(await repo().get(a.event_id)).toMatchObject({ seq: first!.seq, state: "done" });
    const rows = await dbs.db("matrix_event_queue").where({ room_id: room }).select("event_id");
    expect(rows.map((r: { event_id: string }) => r.event_id).sort()).toEqual(
      [a.event_id, b.event_id].sort(),
    );
  });

  it("stores nothing when the database fails halfway through a transaction", async () => {
    const db = await dbs.fresh({ migrate: true });
    const r = new MatrixIntakeRepository(db);
    const room = "!big:example.org";
    // More events than one insert statement takes, the failure in the second statement.
    const events = Array.from({ length: 150 }, () => event(room));
    const failing = events[120]!.event_id;
    const restore = await failInsertsOf(db, failing);

    const err = await rejection(r.storeTransaction("txn-half", events));
    expect(String(err)).toContain("simulated failure");
    expect(await r.hasTransaction("txn-half")).toBe(false);
    expect(Number((await db("matrix_event_queue").count({ n: "*" }))[0]!.n)).toBe(0);

    // The homeserver's retry of the same transaction then stores all of it.
    await restore();
    expect((await r.storeTransaction("txn-half", events)).stored).toHaveLength(150);
    expect(Number((await db("matrix_event_queue").count({ n: "*" }))[0]!.n)).toBe(150);
  });

  it("refuses an event without an id before storing anything", async () => {
    const room = `!r${uniq()}:example.org`;
    const txn = `txn-${uniq()}`;
    const bad = { room_id: room, type: "m.typing" } as unknown as IntakeEvent;
    expect(await rejection(repo().storeTransaction(txn, [event(room), bad]))).toMatchObject({
      code: "invalid",
    });
    expect(await repo().hasTransaction(txn)).toBe(false);
  });

  it("hands out a room's events in arrival order, and the rooms by their oldest event", async () => {
    const db = await dbs.fresh({ migrate: true });
    const r = new MatrixIntakeRepository(db);
    const [x, y] = ["!x:example.org", "!y:example.org"];
    const e1 = event(y);
    const e2 = event(x);
    const e3 = event(y);
    await r.storeTransaction("t1", [e1, e2], 10);
    await r.storeTransaction("t2", [e3], 20);

    expect(await r.queuedRooms()).toEqual([y, x]);
    expect((await r.nextQueued())?.eventId).toBe(e1.event_id);
    expect((await r.nextQueued(y))?.eventId).toBe(e1.event_id);
    expect((await r.nextQueued(x))?.eventId).toBe(e2.event_id);

    // A rescheduled head holds its room back: it stays next, with its retry time.
    const head = (await r.nextQueued(y))!;
    await r.reschedule(head.seq, 5_000, "gatekeeper unreachable");
    expect(await r.nextQueued(y)).toMatchObject({
      eventId: e1.event_id,
      attempts: 1,
      nextAttemptAt: 5_000,
      lastError: "gatekeeper unreachable",
    });

    await r.markDone(head.seq);
    const done = await r.get(e1.event_id);
    expect(done).toMatchObject({ state: "done", event: null, lastError: null });
    expect((await r.nextQueued(y))?.eventId).toBe(e3.event_id);

    await r.markFailed((await r.nextQueued(y))!.seq, "cannot convert");
    expect(await r.get(e3.event_id)).toMatchObject({ state: "failed", attempts: 1, event: e3 });
    expect(await r.nextQueued(y)).toBeUndefined();
    expect(await r.queuedRooms()).toEqual([x]);
    expect(await rejection(r.markDone(999_999))).toMatchObject({ code: "not-found" });
  });

  it("gives a room's worker the oldest due event, else the one due soonest", async () => {
    const r = repo();
    const room = `!${uniq()}:example.org`;
    const [a, b, c] = [event(room), event(room), event(room)];
    await r.storeTransaction(`txn-${uniq()}`, [a, b, c], 100);
    expect((await r.nextDue(room, 1_000))?.eventId).toBe(a.event_id);
    // a waits for a retry: the due ones after it pass, oldest first.
    await r.reschedule((await r.get(a.event_id))!.seq, 9_000, "later");
    expect((await r.nextDue(room, 1_000))?.eventId).toBe(b.event_id);
    // None due: the one due soonest, with its time (the worker sleeps until then).
    await r.reschedule((await r.get(b.event_id))!.seq, 7_000, "later");
    await r.reschedule((await r.get(c.event_id))!.seq, 8_000, "later");
    expect(await r.nextDue(room, 1_000)).toMatchObject({
      eventId: b.event_id,
      nextAttemptAt: 7_000,
    });
    expect((await r.nextDue(room, 8_500))?.eventId).toBe(b.event_id); // b and c due: by seq
    await r.markDone((await r.get(b.event_id))!.seq);
    await r.markDone((await r.get(c.event_id))!.seq);
    expect((await r.nextDue(room, 8_500))?.eventId).toBe(a.event_id);
    await r.markDone((await r.get(a.event_id))!.seq);
    expect(await r.nextDue(room, 10_000)).toBeUndefined();
  });
  it("prunes old transaction ids and handled events, not queued ones", async () => {
    const db = await dbs.fresh({ migrate: true });
    const r = new MatrixIntakeRepository(db);
    const room = "!p:example.org";
    const old = event(room);
    const waiting = event(room);
    await r.storeTransaction("old", [old, waiting], 100);
    await r.markDone((await r.get(old.event_id))!.seq);
    await r.storeTransaction("new", [event(room)], 1_000);

    expect(await r.pruneTransactions(500)).toBe(1);
    expect(await r.hasTransaction("old")).toBe(false);
    expect(await r.hasTransaction("new")).toBe(true);
    expect(await r.pruneDone(500)).toBe(1);
    expect(await r.get(old.event_id)).toBeUndefined();
    expect((await r.get(waiting.event_id))?.state).toBe("queued");
  });
});
