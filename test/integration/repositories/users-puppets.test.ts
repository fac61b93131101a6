import { describe, expect, it } from "vitest";
import { PuppetRepository, UserRepository } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { contactJid, uniq } from "./fixtures.js";

describe.each(testDatabases())("bridge users on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new UserRepository(dbs.db);

  it("remembers a user's management room and space, creating the row on first use", async () => {
    const mxid = `@u${uniq()}:example.org`;
    expect(await repo().get(mxid)).toBeUndefined();

    await repo().setManagementRoom(mxid, `!mgmt${uniq()}:example.org`, 100);
    const first = await repo().get(mxid);
    expect(first).toMatchObject({ mxid, spaceRoomId: null, createdAt: 100, updatedAt: 100 });

    await repo().setSpaceRoom(mxid, "!space:example.org", 200);
    const second = await repo().get(mxid);
    expect(second).toEqual({ ...first, spaceRoomId: "!space:example.org", updatedAt: 200 });
    expect(await repo().getByManagementRoom(first!.managementRoomId!)).toEqual(second);

    await repo().setManagementRoom(mxid, null, 300);
    expect(await repo().get(mxid)).toMatchObject({
      managementRoomId: null,
      spaceRoomId: "!space:example.org",
    });
  });
});

describe.each(testDatabases())("puppets on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new PuppetRepository(dbs.db);

  it("creates a puppet once and keeps its user ID", async () => {
    const jid = contactJid();
    const mxid = `@gk_${jid.split("@")[0]}:example.org`;
    const created = await repo().ensure(jid, mxid, { displayName: "Alice" }, 10);
    expect(created).toEqual({
      jid,
      mxid,
      displayName: "Alice",
      phone: null,
      avatarMxc: null,
      avatarSource: null,
      updatedAt: 10,
    });
    expect(await repo().getByMxid(mxid)).toEqual(created);

    // A second ensure (e.g. after the template changed) must not move the puppet.
    const again = await repo().ensure(jid, "@other:example.org", {}, 20);
    expect(again).toEqual(created);
  });

  it("updates only the profile fields given", async () => {
    const jid = contactJid();
    await repo().ensure(jid, `@gk_${uniq()}:example.org`, { displayName: "Bob" }, 10);
    await repo().ensure(jid, "@ignored:example.org", { phone: "+4917012345678" }, 20);
    expect(await repo().get(jid)).toMatchObject({
      displayName: "Bob",
      phone: "+4917012345678",
      updatedAt: 20,
    });

    expect(
      await repo().setProfile(jid, { avatarMxc: "mxc://example.org/a", avatarSource: "pic-1" }, 30),
    ).toBe(true);
    expect(await repo().setProfile(jid, { displayName: null }, 40)).toBe(true);
    expect(await repo().get(jid)).toMatchObject({
      displayName: null,
      phone: "+4917012345678",
      avatarMxc: "mxc://example.org/a",
      avatarSource: "pic-1",
      updatedAt: 40,
    });
    expect(await repo().getByPhone("+4917012345678")).toMatchObject({ jid });
    expect(await repo().setProfile("0@lid.gk", { displayName: "x" })).toBe(false);
  });
});
