import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Knex } from "knex";
import type { IdentityChangeEvent } from "../../../src/gatekeeper/signal/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { bundleFrom, connected, newParty, str, text } from "./helpers.js";

class CallerFailure extends Error {}

/** A stand-in for the bridge's inbox: what must commit together with the session step. */
async function createInbox(db: Knex): Promise<void> {
  await db.schema.createTable("test_inbox", (t) => {
    t.string("message_id").primary();
    t.text("body").notNullable();
  });
}

async function inbox(db: Knex): Promise<string[]> {
  const rows = (await db("test_inbox").select("body").orderBy("body")) as { body: string }[];
  return rows.map((r) => r.body);
}

describe.each(testDatabases())("Signal decrypt in a caller's transaction on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  beforeAll(async () => createInbox(dbs.db));

  it("commits the session step and the caller's row together", async () => {
    const { alice, bob } = await connected(dbs.db);
    const m = await alice.account.encrypt(bob.address, text("to the inbox"));

    await dbs.db.transaction(async (trx) => {
      const plain = await bob.account.decrypt(alice.address, m.type, m.ciphertext, trx);
      await trx("test_inbox").insert({ message_id: "commit-1", body: str(plain) });
    });

    expect(await inbox(dbs.db)).toContain("to the inbox");
    await expect(bob.account.decrypt(alice.address, m.type, m.ciphertext)).rejects.toMatchObject({
      code: "duplicate-message",
    });
  });

  it("leaves the session unchanged when the caller's transaction throws after a msg", async () => {
    const { alice, bob } = await connected(dbs.db);
    const m = await alice.account.encrypt(bob.address, text("rolled back"));

    await expect(
      dbs.db.transaction(async (trx) => {
        const plain = await bob.account.decrypt(alice.address, m.type, m.ciphertext, trx);
        await trx("test_inbox").insert({ message_id: "rollback-1", body: str(plain) });
        throw new CallerFailure("the inbox write failed later");
      }),
    ).rejects.toBeInstanceOf(CallerFailure);

    expect(await inbox(dbs.db)).not.toContain("rolled back");
    // Redelivery decrypts again: the ratchet step was not kept.
    expect(str(await bob.account.decrypt(alice.address, m.type, m.ciphertext))).toBe("rolled back");
  });

  it("keeps the prekey and creates no session when a pkmsg's transaction throws", async () => {
    const alice = await newParty(dbs.db, "alice");
    const bob = await newParty(dbs.db, "bob", {}, 2);
    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload));
    const pk = await alice.account.encrypt(bob.address, text("first contact"));

    await expect(
      dbs.db.transaction(async (trx) => {
        await bob.account.decrypt(alice.address, pk.type, pk.ciphertext, trx);
        throw new CallerFailure("crash before the inbox row");
      }),
    ).rejects.toBeInstanceOf(CallerFailure);

    expect(await bob.account.hasSession(alice.address)).toBe(false);
    expect(await bob.account.identity(alice.address)).toBeNull();
    expect(await bob.account.remainingPreKeyCount()).toBe(2);
    expect(str(await bob.account.decrypt(alice.address, pk.type, pk.ciphertext))).toBe(
      "first contact",
    );
    expect(await bob.account.remainingPreKeyCount()).toBe(1);
  });

  it("leaves the caller's transaction usable after a failed decrypt", async () => {
    const { alice, bob } = await connected(dbs.db);
    const good = await alice.account.encrypt(bob.address, text("after the bad one"));

    await dbs.db.transaction(async (trx) => {
      await expect(
        bob.account.decrypt(alice.address, "msg", new Uint8Array(50).fill(7), trx),
      ).rejects.toMatchObject({ code: "invalid-message" });
      const plain = await bob.account.decrypt(alice.address, good.type, good.ciphertext, trx);
      await trx("test_inbox").insert({ message_id: "usable-1", body: str(plain) });
    });

    expect(await inbox(dbs.db)).toContain("after the bad one");
  });

  it("announces an identity change only once the caller's transaction commits", async () => {
    const changes: IdentityChangeEvent[] = [];
    const { alice, bob } = await connected(dbs.db, {
      onIdentityChange: (c) => void changes.push(c),
    });
    await bob.account.resetIdentity();
    await bob.account.processBundle(
      alice.address,
      bundleFrom(alice.account, await alice.account.generateUpload(2), 0),
    );
    const pk = await bob.account.encrypt(alice.address, text("rotated"));

    await expect(
      dbs.db.transaction(async (trx) => {
        await alice.account.decrypt(bob.address, pk.type, pk.ciphertext, trx);
        throw new CallerFailure("rolled back");
      }),
    ).rejects.toBeInstanceOf(CallerFailure);
    expect(changes).toEqual([]);
    expect((await alice.account.identity(bob.address))?.trust).toBe("first-use");

    let committed = false;
    await dbs.db.transaction(async (trx) => {
      await alice.account.decrypt(bob.address, pk.type, pk.ciphertext, trx);
      expect(changes).toEqual([]); // not yet: the transaction is still open
      committed = true;
    });
    expect(committed).toBe(true);
    await vi.waitFor(() => expect(changes.length).toBeGreaterThan(0));
    // Exactly one: the rolled-back attempt announced nothing.
    expect(changes).toEqual([
      expect.objectContaining({ newKey: bob.account.identityKey, blocked: false }),
    ]);
    expect((await alice.account.identity(bob.address))?.trust).toBe("changed");
  });

  it("announces nothing after an explicit rollback() of a caller-managed transaction", async () => {
    const changes: IdentityChangeEvent[] = [];
    const { alice, bob } = await connected(dbs.db, {
      onIdentityChange: (c) => void changes.push(c),
    });
    await bob.account.resetIdentity();
    const aliceMore = await alice.account.generateUpload(1);
    await bob.account.processBundle(alice.address, bundleFrom(alice.account, aliceMore));
    const pk = await bob.account.encrypt(alice.address, text("rotated again"));

    const rolledBack = await dbs.db.transaction();
    await alice.account.decrypt(bob.address, pk.type, pk.ciphertext, rolledBack);
    await rolledBack.rollback(); // knex settles this like a commit: no error given
    await dbs.db.raw("select 1"); // let the post-rollback check run
    expect(changes).toEqual([]);
    expect((await alice.account.identity(bob.address))?.trust).toBe("first-use");

    const committed = await dbs.db.transaction();
    expect(str(await alice.account.decrypt(bob.address, pk.type, pk.ciphertext, committed))).toBe(
      "rotated again",
    );
    await committed.commit();

    await vi.waitFor(() => expect(changes.length).toBeGreaterThan(0));
    expect(changes).toHaveLength(1);
  });
});
