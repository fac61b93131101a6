import { describe, expect, it } from "vitest";
import {
  LoginRepository,
  PortalRepository,
  UserRepository,
  rowCacheOf,
} from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { contactJid, newLogin, uniq } from "./fixtures.js";

describe.each(testDatabases())("row cache on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  /** Statements the database ran while `run` ran. */
  async function statements(run: () => Promise<unknown>): Promise<string[]> {
    const seen: string[] = [];
    const listener = (q: { sql: string }): void => void seen.push(q.sql);
    dbs.db.on("query", listener);
    try {
      await run();
    } finally {
      dbs.db.off("query", listener);
    }
    return seen;
  }

  it("reads a portal, a login and a user once, then from memory", async () => {
    const login = await newLogin(dbs.db);
    const jid = contactJid();
    const room = `!${uniq()}:test.local`;
    const portals = new PortalRepository(dbs.db);
    const { portal } = await portals.ensure(login.id, jid, "active");
    await portals.setRoom(portal.id, room);
    const users = new UserRepository(dbs.db);
    await users.setManagementRoom(login.mxid, `!${uniq()}:test.local`);
    const read = async (): Promise<unknown[]> => [
      await portals.get(portal.id),
      await portals.getByRoom(room),
      await portals.getByContact(login.id, jid),
      await new LoginRepository(dbs.db).get(login.id),
      await new LoginRepository(dbs.db).getByMxid(login.mxid),
      await users.get(login.mxid),
      await users.getByManagementRoom(room), // not a management room: remembered as absent
    ];
    const first = await statements(read);
    expect(first).toHaveLength(7);
    let again: unknown[] = [];
    expect(await statements(async () => (again = await read()))).toEqual([]);
    expect(again.slice(0, 3).map((p) => (p as { roomId: string }).roomId)).toEqual([
      room,
      room,
      room,
    ]);
    expect(again[6]).toBeUndefined();
  });

  it("sees every write made through a repository, in or out of a transaction", async () => {
    const login = await newLogin(dbs.db);
    const portals = new PortalRepository(dbs.db);
    const { portal } = await portals.ensure(login.id, contactJid(), "request");
    const room = `!${uniq()}:test.local`;
    expect(await portals.getByRoom(room)).toBeUndefined(); // cached as absent
    await portals.setRoom(portal.id, room);
    expect((await portals.getByRoom(room))?.id).toBe(portal.id);

    await dbs.db.transaction(async (trx) => {
      await new PortalRepository(trx).setState(portal.id, "active");
    });
    expect((await portals.get(portal.id))?.state).toBe("active");

    await new LoginRepository(dbs.db).setState(login.id, "logged-out");
    expect((await new LoginRepository(dbs.db).get(login.id))?.state).toBe("logged-out");
  });

  it("never keeps a row from a transaction that was rolled back", async () => {
    const login = await newLogin(dbs.db);
    const portals = new PortalRepository(dbs.db);
    const { portal } = await portals.ensure(login.id, contactJid(), "request");
    expect((await portals.get(portal.id))?.state).toBe("request");
    await dbs.db
      .transaction(async (trx) => {
        const inside = new PortalRepository(trx);
        await inside.setState(portal.id, "blocked");
        expect((await inside.get(portal.id))?.state).toBe("blocked");
        throw new Error("roll back");
      })
      .catch(() => undefined);
    expect((await portals.get(portal.id))?.state).toBe("request");
  });

  it("forgets a deleted login's portals", async () => {
    const login = await newLogin(dbs.db);
    const portals = new PortalRepository(dbs.db);
    const { portal } = await portals.ensure(login.id, contactJid(), "active");
    expect(await portals.get(portal.id)).toBeDefined();
    await new LoginRepository(dbs.db).delete(login.id); // cascades in the database
    expect(await portals.get(portal.id)).toBeUndefined();
  });

  it("starts over when told the tables changed around it", async () => {
    const login = await newLogin(dbs.db);
    const logins = new LoginRepository(dbs.db);
    expect((await logins.get(login.id))?.state).toBe(login.state);
    await dbs.db("bridge_logins").where({ id: login.id }).update({ state: "logged-out" });
    rowCacheOf(dbs.db).forget();
    expect((await logins.get(login.id))?.state).toBe("logged-out");
  });
});
