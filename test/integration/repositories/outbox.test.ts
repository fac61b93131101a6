import { describe, expect, it } from "vitest";
import { OutboxRepository } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { newPortal, rejection, uniq } from "./fixtures.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe.each(testDatabases())("outbox on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new OutboxRepository(dbs.db);

  it("keeps the remote id chosen the first time an event is enqueued", async () => {
    const portal = await newPortal(dbs.db);
    const eventId = `$${uniq()}`;
    const payload = new Uint8Array([0, 1, 2, 255, 10, 0]);
    const first = await repo().enqueue(
      { portalId: portal.id, eventId, remoteId: "3EB0000000000000AAAA", payload },
      1_000,
    );
    expect(first.created).toBe(true);
    expect(first.entry).toMatchObject({
      portalId: portal.id,
      eventId,
      remoteId: "3EB0000000000000AAAA",
      payload,
      state: "pending",
      attempts: 0,
      nextAttemptAt: 1_000,
      lastError: null,
      createdAt: 1_000,
      sentAt: null,
      serverTs: null,
    });

    // After a crash the event is converted again, with a new random id: the first one stays.
    const again = await repo().enqueue(
      { portalId: portal.id, eventId, remoteId: "3EB0000000000000BBBB", payload: bytes("other") },
      2_000,
    );
    expect(again).toEqual({ entry: first.entry, created: false });
    expect(await repo().getByEvent(eventId)).toEqual(first.entry);
  });

  it("sends a portal's messages in order, holding back behind a retry", async () => {
    const portal = await newPortal(dbs.db);
    const other = await newPortal(dbs.db);
    const a = await repo().enqueue(
      { portalId: portal.id, eventId: `$${uniq()}`, remoteId: "3EB0A", payload: bytes("a") },
      100,
    );
    const b = await repo().enqueue(
      { portalId: portal.id, eventId: `$${uniq()}`, remoteId: "3EB0B", payload: bytes("b") },
      100,
    );
    const c = await repo().enqueue(
      { portalId: other.id, eventId: `$${uniq()}`, remoteId: "3EB0C", payload: bytes("c") },
      100,
    );

    expect((await repo().nextDue(portal.id, 100))?.id).toBe(a.entry.id);
    expect((await repo().nextDue(other.id, 100))?.id).toBe(c.entry.id);

    await repo().reschedule(a.entry.id, 5_000, "connection lost");
    // a is not due yet, and b must not overtake it.
    expect(await repo().nextDue(portal.id, 4_999)).toBeUndefined();
    expect(await repo().head(portal.id)).toMatchObject({
      id: a.entry.id,
      attempts: 1,
      nextAttemptAt: 5_000,
      lastError: "connection lost",
    });
    expect((await repo().nextDue(portal.id, 5_000))?.id).toBe(a.entry.id);

    await repo().markSent(a.entry.id, 1_764_130_000, 5_100);
    expect(await repo().get(a.entry.id)).toMatchObject({
      state: "sent",
      sentAt: 5_100,
      serverTs: 1_764_130_000,
      lastError: null,
      attempts: 1,
    });
    expect((await repo().nextDue(portal.id, 5_100))?.id).toBe(b.entry.id);

    await repo().markFailed(b.entry.id, "404 not reachable");
    expect(await repo().get(b.entry.id)).toMatchObject({
      state: "failed",
      attempts: 1,
      lastError: "404 not reachable",
    });
    expect(await repo().head(portal.id)).toBeUndefined();
    expect(await rejection(repo().markSent(999_999, null))).toMatchObject({ code: "not-found" });
  });

  it("lists the portals with pending messages, oldest first", async () => {
    const db = await dbs.fresh({ migrate: true });
    const r = new OutboxRepository(db);
    const p1 = await newPortal(db);
    const p2 = await newPortal(db);
    const p3 = await newPortal(db);
    await r.enqueue({ portalId: p2.id, eventId: "$1", remoteId: "3EB01", payload: bytes("1") });
    const sent = await r.enqueue({
      portalId: p3.id,
      eventId: "$2",
      remoteId: "3EB02",
      payload: bytes("2"),
    });
    await r.enqueue({ portalId: p1.id, eventId: "$3", remoteId: "3EB03", payload: bytes("3") });
    await r.enqueue({ portalId: p2.id, eventId: "$4", remoteId: "3EB04", payload: bytes("4") });
    await r.markSent(sent.entry.id, null, 10);

    expect(await r.pendingPortals()).toEqual([p2.id, p1.id]);

    expect(await r.pruneSent(11)).toBe(1);
    expect(await r.get(sent.entry.id)).toBeUndefined();
  });

  it("refuses an entry for a portal that does not exist", async () => {
    const err = await rejection(
      repo().enqueue({
        portalId: 999_999,
        eventId: `$${uniq()}`,
        remoteId: "3EB0",
        payload: bytes("x"),
      }),
    );
    expect(err).toMatchObject({ code: "not-found", field: "portalId" });
  });
});
