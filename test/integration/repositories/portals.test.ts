import { describe, expect, it } from "vitest";
import { PortalRepository, RepositoryError } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { contactJid, newLogin, rejection, uniq } from "./fixtures.js";

describe.each(testDatabases())("portals on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new PortalRepository(dbs.db);

  it("makes one portal per (login, contact), however often it is asked", async () => {
    const login = await newLogin(dbs.db);
    const jid = contactJid();
    const first = await repo().ensure(login.id, jid, "request", 5);
    expect(first.created).toBe(true);
    expect(first.portal).toMatchObject({
      loginId: login.id,
      contactJid: jid,
      roomId: null,
      state: "request",
      createdAt: 5,
    });
    const second = await repo().ensure(login.id, jid, "active", 6);
    expect(second).toEqual({ portal: first.portal, created: false });

    // The same contact with another login is another portal.
    const otherLogin = await newLogin(dbs.db);
    const other = await repo().ensure(otherLogin.id, jid, "active");
    expect(other.created).toBe(true);
    expect(other.portal.id).not.toBe(first.portal.id);
  });

  it("makes one portal when two ensure calls race", async () => {
    const login = await newLogin(dbs.db);
    const jid = contactJid();
    const [a, b] = await Promise.all([
      repo().ensure(login.id, jid, "active"),
      repo().ensure(login.id, jid, "active"),
    ]);
    expect(a.portal.id).toBe(b.portal.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
  });

  it("refuses a portal for a login that does not exist", async () => {
    const err = await rejection(repo().ensure("no-such-login", contactJid(), "active"));
    expect(err).toBeInstanceOf(RepositoryError);
    expect(err).toMatchObject({ code: "not-found", field: "loginId" });
  });

  it("finds a portal by room and by contact once its room is set", async () => {
    const login = await newLogin(dbs.db);
    const { portal } = await repo().ensure(login.id, contactJid(), "active");
    const room = `!r${uniq()}:example.org`;
    await repo().setRoom(portal.id, room, 50);
    const withRoom = { ...portal, roomId: room, updatedAt: 50 };
    expect(await repo().getByRoom(room)).toEqual(withRoom);
    expect(await repo().getByContact(login.id, portal.contactJid)).toEqual(withRoom);
    expect(await repo().get(portal.id)).toEqual(withRoom);

    // A room belongs to one portal only.
    const { portal: other } = await repo().ensure(login.id, contactJid(), "active");
    expect(await rejection(repo().setRoom(other.id, room))).toMatchObject({
      code: "duplicate",
      field: "roomId",
    });

    await repo().setRoom(portal.id, null);
    expect(await repo().getByRoom(room)).toBeUndefined();
  });

  it("changes state: accept a request, block, unblock", async () => {
    const login = await newLogin(dbs.db);
    const { portal } = await repo().ensure(login.id, contactJid(), "request");
    await repo().setState(portal.id, "active");
    expect((await repo().get(portal.id))?.state).toBe("active");
    await repo().setState(portal.id, "blocked");
    expect((await repo().get(portal.id))?.state).toBe("blocked");
    expect(await rejection(repo().setState(999_999, "active"))).toMatchObject({
      code: "not-found",
    });
  });

  it("lists a login's portals oldest first, and only that login's", async () => {
    const login = await newLogin(dbs.db);
    const a = await repo().ensure(login.id, contactJid(), "active");
    const b = await repo().ensure(login.id, contactJid(), "blocked");
    await repo().ensure((await newLogin(dbs.db)).id, contactJid(), "active");
    expect((await repo().listByLogin(login.id)).map((p) => p.id)).toEqual([
      a.portal.id,
      b.portal.id,
    ]);
    expect(await repo().delete(a.portal.id)).toBe(true);
    expect((await repo().listByLogin(login.id)).map((p) => p.id)).toEqual([b.portal.id]);
  });
});
