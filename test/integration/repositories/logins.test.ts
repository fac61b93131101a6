import { describe, expect, it } from "vitest";
import { LoginRepository, RepositoryError } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { newLogin, phone, rejection, uniq } from "./fixtures.js";

describe.each(testDatabases())("logins on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new LoginRepository(dbs.db);

  it("creates a login with a fresh account id and token, found by each key", async () => {
    const mxid = `@alice${uniq()}:example.org`;
    const number = phone();
    const login = await repo().create({ mxid, phone: number }, 1_700_000_000_000);
    expect(login).toMatchObject({ mxid, phone: number, jid: null, state: "enlisting" });
    expect(login.accountId).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    expect(login.token.length).toBeGreaterThanOrEqual(40);
    expect(login.createdAt).toBe(1_700_000_000_000);

    expect(await repo().get(login.id)).toEqual(login);
    expect(await repo().getByMxid(mxid)).toEqual(login);
    expect(await repo().getByPhone(number)).toEqual(login);
    expect(await repo().getByAccountId(login.accountId)).toEqual(login);
    expect(await repo().getByMxid("@nobody:example.org")).toBeUndefined();

    const other = await newLogin(dbs.db);
    expect(other.accountId).not.toBe(login.accountId);
    expect(other.token).not.toBe(login.token);
  });

  it("keeps a given account id", async () => {
    const accountId = `acc_${uniq()}`;
    const login = await repo().create({
      mxid: `@b${uniq()}:example.org`,
      phone: phone(),
      accountId,
    });
    expect(login.accountId).toBe(accountId);
  });

  it("refuses a second login for the same Matrix user or number", async () => {
    const login = await newLogin(dbs.db);
    const sameUser = await rejection(repo().create({ mxid: login.mxid, phone: phone() }));
    expect(sameUser).toBeInstanceOf(RepositoryError);
    expect(sameUser).toMatchObject({ code: "duplicate", field: "mxid" });

    const sameNumber = await rejection(
      repo().create({ mxid: `@c${uniq()}:example.org`, phone: login.phone }),
    );
    expect(sameNumber).toMatchObject({ code: "duplicate", field: "phone" });

    const sameAccount = await rejection(
      repo().create({
        mxid: `@d${uniq()}:example.org`,
        phone: phone(),
        accountId: login.accountId,
      }),
    );
    expect(sameAccount).toMatchObject({ code: "duplicate", field: "accountId" });
  });

  it("lets the unique constraints decide between racing creates", async () => {
    const mxid = `@race${uniq()}:example.org`;
    const results = await Promise.allSettled([
      repo().create({ mxid, phone: phone() }),
      repo().create({ mxid, phone: phone() }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failed = results.find((r) => r.status === "rejected");
    expect(failed?.reason).toMatchObject({ code: "duplicate" });
  });

  it("refuses a number that is not E.164", async () => {
    for (const bad of ["015112345678", "+49 151 1234", "+0123456789", "+1234567"]) {
      const err = await rejection(repo().create({ mxid: `@e${uniq()}:example.org`, phone: bad }));
      expect(err, bad).toMatchObject({ code: "invalid", field: "phone" });
    }
  });

  it("verifies the auth callback's account id and token", async () => {
    const login = await newLogin(dbs.db);
    expect(await repo().verifyToken(login.accountId, login.token)).toEqual(login);
    expect(await repo().verifyToken(login.accountId, `${login.token}x`)).toBeNull();
    expect(await repo().verifyToken(login.accountId, "")).toBeNull();
    expect(await repo().verifyToken("unknown-account", login.token)).toBeNull();

    const other = await newLogin(dbs.db);
    expect(await repo().verifyToken(other.accountId, login.token)).toBeNull();
  });

  it("stops accepting the token of a logged-out login, and accepts a rotated one", async () => {
    const login = await newLogin(dbs.db);
    await repo().setState(login.id, "logged-out");
    expect(await repo().verifyToken(login.accountId, login.token)).toBeNull();

    await repo().setState(login.id, "enlisting");
    const token = await repo().rotateToken(login.id);
    expect(token).not.toBe(login.token);
    expect(await repo().verifyToken(login.accountId, login.token)).toBeNull();
    expect((await repo().verifyToken(login.accountId, token))?.id).toBe(login.id);
  });

  it("records state and JID changes with the time", async () => {
    const login = await newLogin(dbs.db);
    await repo().setJid(login.id, `matrix.${login.accountId}@interop`, 1_800_000_000_000);
    await repo().setState(login.id, "connected", 1_800_000_000_001);
    const got = await repo().get(login.id);
    expect(got).toMatchObject({
      jid: `matrix.${login.accountId}@interop`,
      state: "connected",
      updatedAt: 1_800_000_000_001,
      createdAt: login.createdAt,
    });
    const missing = await rejection(repo().setState("no-such-login", "connected"));
    expect(missing).toMatchObject({ code: "not-found" });
  });

  it("lists the logins to connect: all but the logged-out ones", async () => {
    const db = await dbs.fresh({ migrate: true });
    const r = new LoginRepository(db);
    const a = await r.create({ mxid: "@a:example.org", phone: phone() }, 1);
    const b = await r.create({ mxid: "@b:example.org", phone: phone() }, 2);
    const c = await r.create({ mxid: "@c:example.org", phone: phone() }, 3);
    await r.setState(b.id, "logged-out");
    await r.setState(c.id, "connected");
    expect((await r.listActive()).map((l) => l.mxid)).toEqual([a.mxid, c.mxid]);
    expect(await r.count()).toBe(3);
  });

  it("deletes a login, freeing its Matrix user and number", async () => {
    const login = await newLogin(dbs.db);
    expect(await repo().delete(login.id)).toBe(true);
    expect(await repo().delete(login.id)).toBe(false);
    expect(await repo().get(login.id)).toBeUndefined();
    const again = await repo().create({ mxid: login.mxid, phone: login.phone });
    expect(again.id).not.toBe(login.id);
  });
});
