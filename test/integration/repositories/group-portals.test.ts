import { describe, expect, it } from "vitest";
import { migrate } from "../../../src/db/index.js";
import { migrations } from "../../../src/db/migrations/index.js";
import {
  GroupPortalRepository,
  PortalRepository,
  RepositoryError,
  isGroupPortal,
  repositories,
  rowCacheOf,
} from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { contactJid, newLogin, phone, rejection, uniq } from "./fixtures.js";

function groupJid(): string {
  return `${String(100_000_000_000_000_000n + BigInt(Number.parseInt(uniq(), 16)))}@g.gk`;
}

describe.each(testDatabases())("group portals on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new GroupPortalRepository(dbs.db);

  it("makes one portal per group, however often (and however concurrently) it is asked", async () => {
    const jid = groupJid();
    const [a, b] = await Promise.all([repo().ensure(jid, "active", 7), repo().ensure(jid)]);
    expect(a.portal.id).toBe(b.portal.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.portal).toMatchObject({ kind: "group", groupJid: jid, roomId: null, state: "active" });
    expect(isGroupPortal(a.portal)).toBe(true);
    expect((await repo().ensure(jid)).created).toBe(false);
    expect(await repo().getByGroup(jid)).toEqual(a.portal);
    expect(await repo().get(a.portal.id)).toEqual(a.portal);
  });

  it("keeps group and one-to-one portals apart", async () => {
    const login = await newLogin(dbs.db);
    const direct = await new PortalRepository(dbs.db).ensure(login.id, contactJid(), "active");
    const { portal: group } = await repo().ensure(groupJid());
    const portals = new PortalRepository(dbs.db);
    const room = `!g${uniq()}:example.org`;
    await portals.setRoom(group.id, room, 9);
    expect(await repo().getByRoom(room)).toEqual({ ...group, roomId: room, updatedAt: 9 });
    // The one-to-one repository sees no group, and the group one no one-to-one portal.
    expect(await portals.getByRoom(room)).toBeUndefined();
    expect(await portals.get(group.id)).toBeUndefined();
    expect(await repo().get(direct.portal.id)).toBeUndefined();
    expect(isGroupPortal(direct.portal)).toBe(false);
    expect(await portals.listByLogin(login.id)).toEqual([direct.portal]);
  });

  it("lists member logins, adds each once, and loses a deleted login", async () => {
    const [a, b] = [await newLogin(dbs.db), await newLogin(dbs.db)];
    const { portal } = await repo().ensure(groupJid());
    const { portal: other } = await repo().ensure(groupJid());
    expect(await repo().members(portal.id)).toEqual([]);
    expect(await repo().addMember(portal.id, a.id, 1)).toBe(true);
    expect(await repo().addMember(portal.id, a.id, 2)).toBe(false);
    expect(await repo().addMember(portal.id, b.id, 3)).toBe(true);
    expect(await repo().addMember(other.id, b.id, 4)).toBe(true);
    expect(await repo().members(portal.id)).toEqual([a.id, b.id]);
    expect(await repo().isMember(portal.id, b.id)).toBe(true);
    expect((await repo().listByLogin(b.id)).map((p) => p.id)).toEqual([portal.id, other.id]);

    expect(await repo().removeMember(other.id, b.id)).toBe(true);
    expect(await repo().removeMember(other.id, b.id)).toBe(false);
    expect(await repo().members(other.id)).toEqual([]);

    // Logging out deletes the login: its memberships go, the group's portal stays.
    await repositories(dbs.db).logins.delete(a.id);
    expect(await repo().members(portal.id)).toEqual([b.id]);
    expect(await repo().get(portal.id)).toBeDefined();

    expect(await rejection(repo().addMember(portal.id, "no-such-login"))).toBeInstanceOf(
      RepositoryError,
    );
  });

  it("never serves a stale member list or portal from the row cache", async () => {
    const cache = rowCacheOf(dbs.db);
    const login = await newLogin(dbs.db);
    const { portal } = await repo().ensure(groupJid());
    expect(await repo().isMember(portal.id, login.id)).toBe(false); // now cached
    await repo().addMember(portal.id, login.id);
    expect(await repo().isMember(portal.id, login.id)).toBe(true);
    // A write inside a transaction that rolls back leaves nothing behind in the cache.
    const other = await newLogin(dbs.db);
    await dbs.db
      .transaction(async (trx) => {
        await new GroupPortalRepository(trx).addMember(portal.id, other.id);
        throw new Error("roll back");
      })
      .catch(() => undefined);
    expect(await repo().members(portal.id)).toEqual([login.id]);
    // Rooms, through the one-to-one repository's setRoom, empty it too.
    expect(await repo().getByRoom("!nowhere:example.org")).toBeUndefined();
    await new PortalRepository(dbs.db).setRoom(portal.id, "!nowhere:example.org");
    expect((await repo().getByRoom("!nowhere:example.org"))?.id).toBe(portal.id);
    expect(cache.size).toBeGreaterThan(0);
  });

  it("names the sending login of a group's outbox row, and finds it by remote id", async () => {
    const r = repositories(dbs.db);
    const login = await newLogin(dbs.db);
    const { portal } = await repo().ensure(groupJid());
    const { entry } = await r.outbox.enqueue({
      portalId: portal.id,
      eventId: `$g${uniq()}`,
      remoteId: "3EB0GROUP1",
      payload: new Uint8Array([1]),
      loginId: login.id,
    });
    expect(entry.loginId).toBe(login.id);
    expect(await r.outbox.getByRemote(portal.id, "3EB0GROUP1")).toMatchObject({
      id: entry.id,
      loginId: login.id,
    });
    expect(await r.outbox.getByRemote(portal.id, "3EB0OTHER")).toBeUndefined();
  });

  it("finds a login by its JID", async () => {
    const r = repositories(dbs.db);
    const login = await r.logins.create({ mxid: `@j${uniq()}:example.org`, phone: phone() });
    const jid = `matrix.${uniq()}@interop.gk`;
    expect(await r.logins.getByJid(jid)).toBeUndefined();
    await r.logins.setJid(login.id, jid);
    expect((await r.logins.getByJid(jid))?.id).toBe(login.id);
  });
});

describe.each(testDatabases())("migration 009 on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  it("keeps every portal, its message map and its outbox when it makes portals groups-ready", async () => {
    const db = await dbs.fresh();
    const before = migrations.filter((m) => m.name !== "009_group_portals");
    await migrate(db, before);
    const r = repositories(db);
    const login = await r.logins.create({ mxid: "@old:example.org", phone: phone() });
    // Rows as 008 knew them (no kind, no group columns yet).
    const [row] = (await db("bridge_portals")
      .insert({
        login_id: login.id,
        contact_jid: "1@lid.gk",
        room_id: "!old:example.org",
        state: "active",
        created_at: 1,
        updated_at: 2,
        puppet_power_lowered: true,
      })
      .returning("id")) as { id: number }[];
    const portalId = Number(row!.id);
    await db("bridge_message_map").insert({
      portal_id: portalId,
      mx_event_id: "$kept",
      remote_id: "3EB0KEPT",
      remote_sender: "1@lid.gk",
      timestamp: 3,
    });
    await db("bridge_outbox").insert({
      portal_id: portalId,
      event_id: "$queued",
      remote_id: "3EB0QUEUED",
      payload: Buffer.from([1]),
      state: "pending",
      attempts: 0,
      next_attempt_at: 0,
      created_at: 4,
    });

    await migrate(db);
    rowCacheOf(db).forget();

    const portal = await r.portals.get(portalId);
    expect(portal).toEqual({
      id: portalId,
      loginId: login.id,
      contactJid: "1@lid.gk",
      roomId: "!old:example.org",
      state: "active",
      createdAt: 1,
      updatedAt: 2,
    });
    expect(await r.messageMap.getByEvent("$kept")).toMatchObject({ portalId });
    expect(await r.outbox.getByEvent("$queued")).toMatchObject({ portalId, loginId: null });
    // The foreign keys still hold: deleting the login takes its portal's rows with it.
    const { portal: group } = await r.groupPortals.ensure("1@g.gk");
    expect(group.id).toBeGreaterThan(portalId);
    await r.logins.delete(login.id);
    expect(await r.messageMap.getByEvent("$kept")).toBeUndefined();
    expect(await r.outbox.getByEvent("$queued")).toBeUndefined();
    expect(await r.groupPortals.get(group.id)).toBeDefined();
  });
});
