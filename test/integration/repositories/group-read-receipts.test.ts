import { describe, expect, it } from "vitest";
import { GroupReadReceiptRepository } from "../../../src/db/repositories/group-read-receipts.js";
import {
  GroupPortalRepository,
  LoginRepository,
  MessageMapRepository,
  OutboxRepository,
} from "../../../src/db/repositories/index.js";
import type { Login } from "../../../src/db/repositories/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { contactJid, newLogin, uniq } from "./fixtures.js";

describe.each(testDatabases())("group read receipts on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const repo = () => new GroupReadReceiptRepository(dbs.db);

  /** A group portal with two logins of this bridge (with JIDs) as members. */
  async function group(): Promise<{ portalId: number; alice: Login; bea: Login }> {
    const { portal } = await new GroupPortalRepository(dbs.db).ensure(`${uniq()}@g.gk`);
    const logins = new LoginRepository(dbs.db);
    const [alice, bea] = [await newLogin(dbs.db), await newLogin(dbs.db)];
    await logins.setJid(alice.id, `a${uniq()}@interop`);
    await logins.setJid(bea.id, `b${uniq()}@interop`);
    return {
      portalId: portal.id,
      alice: (await logins.get(alice.id))!,
      bea: (await logins.get(bea.id))!,
    };
  }

  /** Maps a message of `sender` in the portal; resolves with its event id. */
  async function posted(portalId: number, sender: string, remoteId: string, timestamp = 1_000) {
    const mxEventId = `$${uniq()}`;
    await new MessageMapRepository(dbs.db).add({
      portalId,
      mxEventId,
      remoteId,
      remoteSender: sender,
      timestamp,
    });
    return mxEventId;
  }

  it("lists the unread messages of others per sender, without those of this bridge's logins", async () => {
    const { portalId, alice, bea } = await group();
    const [carol, dave] = [contactJid(), contactJid()];
    await posted(portalId, carol, "C1");
    await posted(portalId, alice.jid!, "A1");
    await posted(portalId, dave, "D1");
    await posted(portalId, bea.jid!, "B1");
    await posted(portalId, "", "X1"); // sent through a login that had no JID yet
    const last = await posted(portalId, carol, "C2");
    await posted(portalId, dave, "D2"); // after the event read

    const unread = await repo().unread(portalId, alice.id, last, 0, 500);
    expect(unread?.count).toBe(3);
    expect([...unread!.bySender]).toEqual([
      [carol, ["C1", "C2"]],
      [dave, ["D1"]],
    ]);
    // The same for Bea: each login reads for itself.
    expect((await repo().unread(portalId, bea.id, last, 0, 500))?.count).toBe(3);
  });

  it("keeps each login's read position apart, and never moves one back", async () => {
    const { portalId, alice, bea } = await group();
    const carol = contactJid();
    const first = await posted(portalId, carol, "C1");
    const second = await posted(portalId, carol, "C2");
    const upToFirst = (await repo().unread(portalId, alice.id, first, 0, 500))!;
    expect(await repo().markLoginRead(portalId, alice.id, upToFirst.upTo)).toBe(true);

    const rest = (await repo().unread(portalId, alice.id, second, 0, 500))!;
    expect([...rest.bySender]).toEqual([[carol, ["C2"]]]);
    expect(await repo().markLoginRead(portalId, alice.id, rest.upTo)).toBe(true);
    expect(await repo().unread(portalId, alice.id, second, 0, 500)).toBeUndefined();
    // An older position changes nothing.
    expect(await repo().markLoginRead(portalId, alice.id, upToFirst.upTo)).toBe(false);
    expect(await repo().loginReadPosition(portalId, alice.id)).toBe(rest.upTo);
    // Bea's receipts covered nothing yet.
    expect((await repo().unread(portalId, bea.id, second, 0, 500))?.count).toBe(2);
  });

  it("reads up to a time for an event it did not map, and at most `limit` at once", async () => {
    const { portalId, alice } = await group();
    const carol = contactJid();
    for (let i = 1; i <= 5; i++) await posted(portalId, carol, `C${i}`, i * 1_000);
    const byTime = await repo().unread(portalId, alice.id, "$notice", 3_000, 500);
    expect(byTime?.bySender.get(carol)).toEqual(["C1", "C2", "C3"]);
    const limited = await repo().unread(portalId, alice.id, "$notice", 9_000, 2);
    expect(limited?.bySender.get(carol)).toEqual(["C1", "C2"]);
    await repo().markLoginRead(portalId, alice.id, limited!.upTo);
    const next = await repo().unread(portalId, alice.id, "$notice", 9_000, 2);
    expect(next?.bySender.get(carol)).toEqual(["C3", "C4"]);
  });

  it("leaves out what the group said before the login joined it", async () => {
    const { portalId, alice } = await group();
    const carol = contactJid();
    await posted(portalId, carol, "before", 1_000);
    await new GroupPortalRepository(dbs.db).addMember(portalId, alice.id, 5_000);
    const after = await posted(portalId, carol, "after", 900); // the sender's clock is behind
    const unread = await repo().unread(portalId, alice.id, after, 0, 500);
    expect(unread?.bySender.get(carol)).toEqual(["after"]);
  });

  it("finds a login's own messages and keeps each member's read position apart", async () => {
    const { portalId, alice, bea } = await group();
    const outbox = new OutboxRepository(dbs.db);
    const enqueue = async (login: Login, remoteId: string) =>
      (
        await outbox.enqueue({
          portalId,
          loginId: login.id,
          eventId: `$${uniq()}`,
          remoteId,
          payload: new Uint8Array([1]),
        })
      ).entry;
    const a1 = await enqueue(alice, "A1");
    const b1 = await enqueue(bea, "B1");
    const a2 = await enqueue(alice, "A2");

    const own = await repo().ownMessages(portalId, alice.id, ["A2", "B1", "A1", "unknown"]);
    expect(own.map((m) => [m.remoteId, m.eventId])).toEqual([
      ["A1", a1.eventId],
      ["A2", a2.eventId],
    ]);
    expect((await repo().ownMessages(portalId, bea.id, ["B1"]))[0]?.position).toBe(b1.id);

    const [carol, dave] = [contactJid(), contactJid()];
    expect(await repo().memberReadPosition(portalId, carol)).toBeNull();
    expect(await repo().markMemberRead(portalId, carol, a2.id)).toBe(true);
    expect(await repo().markMemberRead(portalId, carol, b1.id)).toBe(false); // late, older
    expect(await repo().markMemberRead(portalId, dave, a1.id)).toBe(true);
    expect(await repo().memberReadPosition(portalId, carol)).toBe(a2.id);
    expect(await repo().memberReadPosition(portalId, dave)).toBe(a1.id);
  });

  it("forgets a login's positions with the login", async () => {
    const { portalId, alice } = await group();
    await repo().markLoginRead(portalId, alice.id, 7);
    await new LoginRepository(dbs.db).delete(alice.id);
    expect(await repo().loginReadPosition(portalId, alice.id)).toBeNull();
  });
});
