import { describe, expect, it } from "vitest";
import { MessageMapRepository } from "../../../src/db/repositories/index.js";
import type { MessageMapping } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { newPortal, rejection, uniq } from "./fixtures.js";

const CONTACT = "482910375561204@lid.gk";
const ME = "matrix.a1b2c3@interop";

describe.each(testDatabases())("message map on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new MessageMapRepository(dbs.db);

  function mapping(portalId: number, over: Partial<MessageMapping> = {}): MessageMapping {
    return {
      portalId,
      mxEventId: `$${uniq()}`,
      remoteId: `3EB0${uniq().toUpperCase()}`,
      remoteSender: CONTACT,
      timestamp: 1_000,
      ...over,
    };
  }

  it("looks a message up both ways", async () => {
    const portal = await newPortal(dbs.db);
    const m = mapping(portal.id);
    expect(await repo().add(m)).toBe("stored");
    expect(await repo().getByEvent(m.mxEventId)).toEqual(m);
    expect(await repo().getByRemote(portal.id, CONTACT, m.remoteId)).toEqual(m);
    expect(await repo().getByRemote(portal.id, ME, m.remoteId)).toBeUndefined();
    expect(await repo().getByEvent("$unknown")).toBeUndefined();
  });

  it("stores a redelivered message once", async () => {
    const portal = await newPortal(dbs.db);
    const m = mapping(portal.id);
    await repo().add(m);
    // Same remote message again, e.g. posted twice after a crash: the first mapping stays.
    expect(await repo().add({ ...m, mxEventId: `$${uniq()}` })).toBe("duplicate");
    // Same event again.
    expect(await repo().add({ ...m, remoteId: "3EB0FFFF" })).toBe("duplicate");
    expect(await repo().getByRemote(portal.id, CONTACT, m.remoteId)).toEqual(m);
    expect(await repo().getByRemote(portal.id, CONTACT, "3EB0FFFF")).toBeUndefined();
  });

  it("keeps ids of different senders apart", async () => {
    const portal = await newPortal(dbs.db);
    const theirs = mapping(portal.id, { remoteId: "3EB0AAAA" });
    const mine = mapping(portal.id, { remoteId: "3EB0AAAA", remoteSender: ME });
    expect(await repo().add(theirs)).toBe("stored");
    expect(await repo().add(mine)).toBe("stored");
    expect((await repo().getByRemote(portal.id, ME, "3EB0AAAA"))?.mxEventId).toBe(mine.mxEventId);
  });

  it("gives the newest message of a portal, optionally from one sender", async () => {
    const portal = await newPortal(dbs.db);
    expect(await repo().latest(portal.id)).toBeUndefined();
    const a = mapping(portal.id, { timestamp: 3_000 });
    const b = mapping(portal.id, { timestamp: 2_000 });
    const c = mapping(portal.id, { timestamp: 3_000, remoteSender: ME });
    for (const m of [a, b, c]) await repo().add(m);
    await repo().add(mapping((await newPortal(dbs.db)).id, { timestamp: 9_000 }));

    // Same timestamp: the one stored last wins.
    expect(await repo().latest(portal.id)).toEqual(c);
    expect(await repo().latest(portal.id, CONTACT)).toEqual(a);
  });

  it("refuses a mapping for a portal that does not exist", async () => {
    expect(await rejection(repo().add(mapping(999_999)))).toMatchObject({ code: "not-found" });
  });
});
