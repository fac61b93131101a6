import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { SenderKeyMessage } from "@signalapp/libsignal-client";
import knexFactory from "knex";
import type { Knex } from "knex";
import { beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/db/database.js";
import { migrate } from "../../../src/db/migrations/index.js";
import {
  SignalError,
  SignalRecordCache,
  createAccount,
  distributionIdOf,
  loadAccount,
} from "../../../src/gatekeeper/signal/index.js";
import type { SignalAccount, SignalErrorCode } from "../../../src/gatekeeper/signal/index.js";
import { postgresUrl, testDatabases, useTestDatabase } from "../db/databases.js";
import type { TestDatabaseKind } from "../db/databases.js";
import { bundleFrom, newParty, str, text, uniqueName } from "./helpers.js";

const G = "100000000000000001@g.gk";
const G2 = "100000000000000002@g.gk";

class CallerFailure extends Error {}

async function codeOf(promise: Promise<unknown>): Promise<SignalErrorCode | "resolved"> {
  try {
    await promise;
    return "resolved";
  } catch (err) {
    if (err instanceof SignalError) return err.code;
    throw err;
  }
}

/** An account with a cache of its own, so nothing it knows comes from another's cache. */
function account(db: Knex, owner: string): Promise<SignalAccount> {
  return createAccount(db, owner, 1, { cache: new SignalRecordCache() });
}

interface Trio {
  alice: SignalAccount;
  bob: SignalAccount;
  carol: SignalAccount;
}

async function trio(db: Knex): Promise<Trio> {
  return {
    alice: await account(db, uniqueName("alice")),
    bob: await account(db, uniqueName("bob")),
    carol: await account(db, uniqueName("carol")),
  };
}

/** `from` sends its current sender key of `group` to each of `to` (bytes, as if pairwise). */
async function distribute(from: SignalAccount, group: string, ...to: SignalAccount[]) {
  const skdm = await from.groups.groupDistribution(group);
  for (const member of to) await member.groups.processGroupDistribution(from.owner, group, skdm);
  await from.groups.markDistributed(
    group,
    to.map((m) => m.owner),
  );
  return skdm;
}

async function senderKeyRows(db: Knex, owner: string): Promise<number> {
  const row = (await db("signal_sender_keys").where({ owner }).count({ n: "*" }).first()) as {
    n: unknown;
  };
  return Number(row.n);
}

async function statements(db: Knex, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const count = (q: { sql: string }) => void seen.push(q.sql);
  db.on("query", count);
  try {
    await fn();
  } finally {
    db.off("query", count);
  }
  return seen;
}

describe.each(testDatabases())("Signal Sender Keys on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  beforeAll(async () => {
    await dbs.db.schema.createTable("test_group_inbox", (t) => {
      t.string("message_id").primary();
      t.text("body").notNullable();
    });
  });

  it("one skmsg from Alice decrypts for Bob and Carol, the key sent over their sessions", async () => {
    const alice = await newParty(dbs.db, "alice");
    const bob = await newParty(dbs.db, "bob");
    const carol = await newParty(dbs.db, "carol");
    const members = [alice.address.name, bob.address.name, carol.address.name];
    expect(await alice.account.groups.membersNeedingDistribution(G, members)).toEqual([
      bob.address.name,
      carol.address.name,
    ]);

    // §19.5: the distribution travels pairwise, as a pkmsg to each member.
    const skdm = await alice.account.groups.groupDistribution(G);
    for (const member of [bob, carol]) {
      await alice.account.processBundle(member.address, bundleFrom(member.account, member.upload));
      const pairwise = await alice.account.encrypt(member.address, skdm);
      expect(pairwise.type).toBe("pkmsg");
      const received = await member.account.decrypt(
        alice.address,
        pairwise.type,
        pairwise.ciphertext,
      );
      await member.account.groups.processGroupDistribution(alice.address.name, G, received);
    }
    expect(
      await alice.account.groups.markDistributed(G, [bob.address.name, carol.address.name]),
    ).toBe(true);

    const skmsg = await alice.account.groups.groupEncrypt(G, text("hello group"));
    expect(SenderKeyMessage.deserialize(skmsg).distributionId()).toBe(distributionIdOf(skdm));
    expect(str(await bob.account.groups.groupDecrypt(alice.address.name, G, skmsg))).toBe(
      "hello group",
    );
    expect(str(await carol.account.groups.groupDecrypt(alice.address.name, G, skmsg))).toBe(
      "hello group",
    );
    expect(await alice.account.groups.membersNeedingDistribution(G, members)).toEqual([]);
  });

  it("decrypts many messages in order, out of order, and refuses a second decrypt", async () => {
    const { alice, bob, carol } = await trio(dbs.db);
    await distribute(alice, G, bob, carol);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) sent.push(await alice.groups.groupEncrypt(G, text(`m${i}`)));

    for (let i = 0; i < sent.length; i++) {
      expect(str(await bob.groups.groupDecrypt(alice.owner, G, sent[i]!))).toBe(`m${i}`);
    }
    for (let i = sent.length - 1; i >= 0; i--) {
      expect(str(await carol.groups.groupDecrypt(alice.owner, G, sent[i]!))).toBe(`m${i}`);
    }
    expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, sent[7]!))).toBe(
      "duplicate-message",
    );
    expect(await codeOf(carol.groups.groupDecrypt(alice.owner, G, sent[0]!))).toBe(
      "duplicate-message",
    );

    // Each member's key is their own: Bob's messages to the group, too.
    await distribute(bob, G, alice, carol);
    const fromBob = await bob.groups.groupEncrypt(G, text("bob here"));
    expect(str(await alice.groups.groupDecrypt(bob.owner, G, fromBob))).toBe("bob here");
    expect(str(await carol.groups.groupDecrypt(bob.owner, G, fromBob))).toBe("bob here");
  });

  it("fails with no-sender-key before the distribution, then decrypts after it", async () => {
    const { alice, bob } = await trio(dbs.db);
    const skdm = await alice.groups.groupDistribution(G); // delayed on its way to Bob
    const skmsg = await alice.groups.groupEncrypt(G, text("too early"));
    expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, skmsg))).toBe("no-sender-key");

    await bob.groups.processGroupDistribution(alice.owner, G, skdm);
    expect(str(await bob.groups.groupDecrypt(alice.owner, G, skmsg))).toBe("too early");
  });

  it("a distribution taken after a message reads what follows, not that message", async () => {
    const { alice, carol } = await trio(dbs.db);
    const missed = await alice.groups.groupEncrypt(G, text("missed"));
    expect(await codeOf(carol.groups.groupDecrypt(alice.owner, G, missed))).toBe("no-sender-key");

    // The retry (§19.5): Alice's current distribution, with the content sent pairwise.
    await carol.groups.processGroupDistribution(
      alice.owner,
      G,
      await alice.groups.groupDistribution(G),
    );
    expect(await codeOf(carol.groups.groupDecrypt(alice.owner, G, missed))).toBe(
      "duplicate-message", // libsignal: its iteration lies before the key's
    );
    const next = await alice.groups.groupEncrypt(G, text("next"));
    expect(str(await carol.groups.groupDecrypt(alice.owner, G, next))).toBe("next");
  });

  it("refuses garbage, a tampered skmsg and a key of another group as typed errors", async () => {
    const { alice, bob } = await trio(dbs.db);
    await distribute(alice, G, bob);
    const good = await alice.groups.groupEncrypt(G, text("intact"));
    const tampered = new Uint8Array(good);
    tampered[tampered.length - 70]! ^= 0x01; // in the ciphertext, before the signature

    expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, new Uint8Array(40).fill(3)))).toBe(
      "invalid-message",
    );
    expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, tampered))).toBe("invalid-message");
    // Alice's key of G does not decrypt what claims to be G2, nor can G2 take it over.
    expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G2, good))).toBe("no-sender-key");
    const skdmOfG = await alice.groups.groupDistribution(G);
    expect(await codeOf(bob.groups.processGroupDistribution(alice.owner, G2, skdmOfG))).toBe(
      "invalid-message",
    );
    expect(
      await codeOf(bob.groups.processGroupDistribution(alice.owner, G, new Uint8Array([1, 2]))),
    ).toBe("invalid-message");
    // A message "from ourselves" is never decrypted with our own key.
    expect(await codeOf(alice.groups.groupDecrypt(alice.owner, G, good))).toBe("invalid-address");

    expect(str(await bob.groups.groupDecrypt(alice.owner, G, good))).toBe("intact");
  });

  it("rotation: only members given the new key read on; messages in flight still decrypt", async () => {
    const { alice, bob, carol } = await trio(dbs.db);
    const members = [bob.owner, carol.owner];
    const firstSkdm = await distribute(alice, G, bob, carol);
    const inFlight = await alice.groups.groupEncrypt(G, text("before the rotation"));

    const rotated = await alice.groups.rotateGroupKey(G);
    expect(rotated).not.toBe(distributionIdOf(firstSkdm));
    expect(await alice.groups.membersNeedingDistribution(G, members)).toEqual(members);

    // Carol left: only Bob gets the new key.
    const secondSkdm = await distribute(alice, G, bob);
    expect(distributionIdOf(secondSkdm)).toBe(rotated);
    expect(await alice.groups.membersNeedingDistribution(G, members)).toEqual([carol.owner]);
    const after = await alice.groups.groupEncrypt(G, text("after the rotation"));
    expect(SenderKeyMessage.deserialize(after).distributionId()).toBe(rotated);

    expect(str(await bob.groups.groupDecrypt(alice.owner, G, after))).toBe("after the rotation");
    expect(await codeOf(carol.groups.groupDecrypt(alice.owner, G, after))).toBe("no-sender-key");
    expect(str(await bob.groups.groupDecrypt(alice.owner, G, inFlight))).toBe(
      "before the rotation",
    );
    expect(str(await carol.groups.groupDecrypt(alice.owner, G, inFlight))).toBe(
      "before the rotation",
    );
    // Alice keeps only the key she encrypts with now.
    expect(await senderKeyRows(dbs.db, alice.owner)).toBe(1);
  });

  it("tracks who received the current key, per group and per distribution", async () => {
    const { alice, bob, carol } = await trio(dbs.db);
    const members = [alice.owner, bob.owner, carol.owner, bob.owner];
    // Nothing drawn yet: everyone but ourselves, once each, and nothing to mark.
    expect(await alice.groups.membersNeedingDistribution(G, members)).toEqual([
      bob.owner,
      carol.owner,
    ]);
    expect(await alice.groups.markDistributed(G, [bob.owner])).toBe(false);

    const skdm = await alice.groups.groupDistribution(G);
    expect(await alice.groups.markDistributed(G, [bob.owner])).toBe(true);
    expect(await alice.groups.membersNeedingDistribution(G, members)).toEqual([carol.owner]);
    expect(await alice.groups.membersNeedingDistribution(G2, members)).toEqual([
      bob.owner,
      carol.owner,
    ]);

    // Sent before a rotation, acked after it: Carol does not count as having the new key.
    await alice.groups.rotateGroupKey(G);
    const stale = { distributionId: distributionIdOf(skdm) };
    expect(await alice.groups.markDistributed(G, [carol.owner], stale)).toBe(false);
    expect(await alice.groups.membersNeedingDistribution(G, members)).toEqual([
      bob.owner,
      carol.owner,
    ]);
    const current = { distributionId: distributionIdOf(await alice.groups.groupDistribution(G)) };
    expect(await alice.groups.markDistributed(G, [bob.owner, carol.owner], current)).toBe(true);
    expect(await alice.groups.membersNeedingDistribution(G, members)).toEqual([]);
  });

  it("forgetGroup drops that group's keys and state, and nothing of other groups", async () => {
    const { alice, bob, carol } = await trio(dbs.db);
    await distribute(alice, G, bob, carol);
    await distribute(alice, G2, bob);
    await distribute(bob, G, alice, carol);
    const inG = await alice.groups.groupEncrypt(G, text("in G"));
    const inG2 = await alice.groups.groupEncrypt(G2, text("in G2"));
    const oldG = distributionIdOf(await alice.groups.groupDistribution(G));

    await bob.groups.forgetGroup(G);
    expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, inG))).toBe("no-sender-key");
    expect(str(await bob.groups.groupDecrypt(alice.owner, G2, inG2))).toBe("in G2");
    expect(await bob.groups.membersNeedingDistribution(G, [alice.owner])).toEqual([alice.owner]);
    expect(str(await carol.groups.groupDecrypt(alice.owner, G, inG))).toBe("in G");

    await alice.groups.forgetGroup(G);
    expect(await alice.groups.membersNeedingDistribution(G, [bob.owner, carol.owner])).toEqual([
      bob.owner,
      carol.owner,
    ]);
    expect(distributionIdOf(await alice.groups.groupDistribution(G))).not.toBe(oldG);
    // Alice's key of G2 and Bob's key of G2 from Alice are untouched.
    const again = await alice.groups.groupEncrypt(G2, text("still in G2"));
    expect(str(await bob.groups.groupDecrypt(alice.owner, G2, again))).toBe("still in G2");
    const rows = (await dbs
      .db("signal_sender_keys")
      .where({ owner: bob.owner, group_jid: G })
      .count({ n: "*" })
      .first()) as { n: unknown };
    expect(Number(rows.n)).toBe(0);
  });

  it("logout (deleteAll) wipes the account's sender keys and group state", async () => {
    const { alice, bob } = await trio(dbs.db);
    await distribute(alice, G, bob);
    await distribute(bob, G, alice);
    await bob.deleteAll();
    for (const table of [
      "signal_sender_keys",
      "signal_group_distributions",
      "signal_group_recipients",
    ]) {
      expect(await dbs.db(table).where({ owner: bob.owner })).toEqual([]);
    }
    expect(await senderKeyRows(dbs.db, alice.owner)).toBe(2); // hers, and Bob's as she got it
  });

  it("continues after the accounts are loaded again with empty caches", async () => {
    const { alice, bob, carol } = await trio(dbs.db);
    await distribute(alice, G, bob, carol);
    const beforeRestart = await alice.groups.groupEncrypt(G, text("sent before restart"));
    expect(str(await bob.groups.groupDecrypt(alice.owner, G, beforeRestart))).toBe(
      "sent before restart",
    );

    const reload = async (a: SignalAccount) =>
      (await loadAccount(dbs.db, a.owner, { cache: new SignalRecordCache() }))!;
    const [alice2, bob2, carol2] = [await reload(alice), await reload(bob), await reload(carol)];
    const afterRestart = await alice2.groups.groupEncrypt(G, text("sent after restart"));
    expect(str(await bob2.groups.groupDecrypt(alice.owner, G, afterRestart))).toBe(
      "sent after restart",
    );
    expect(await codeOf(bob2.groups.groupDecrypt(alice.owner, G, beforeRestart))).toBe(
      "duplicate-message",
    );
    expect(str(await carol2.groups.groupDecrypt(alice.owner, G, beforeRestart))).toBe(
      "sent before restart",
    );
    expect(await alice2.groups.membersNeedingDistribution(G, [bob.owner, carol.owner])).toEqual([]);
  });

  it("decrypts with one statement once the sender's key is cached", async () => {
    const { alice, bob } = await trio(dbs.db);
    await distribute(alice, G, bob);
    const first = await alice.groups.groupEncrypt(G, text("warms the cache"));
    await bob.groups.groupDecrypt(alice.owner, G, first);
    const second = await alice.groups.groupEncrypt(G, text("from the cache"));
    const sqls = await statements(dbs.db, () => bob.groups.groupDecrypt(alice.owner, G, second));
    expect(sqls).toEqual([expect.stringMatching(/^update signal_sender_keys/)]);
  });

  describe("in a caller's transaction", () => {
    it("commits the sender key step and the caller's row together", async () => {
      const { alice, bob } = await trio(dbs.db);
      await distribute(alice, G, bob);
      const skmsg = await alice.groups.groupEncrypt(G, text("to the inbox"));
      await dbs.db.transaction(async (trx) => {
        const plain = await bob.groups.groupDecrypt(alice.owner, G, skmsg, trx);
        await trx("test_group_inbox").insert({ message_id: `${bob.owner}-1`, body: str(plain) });
      });
      const row = (await dbs
        .db("test_group_inbox")
        .where({ message_id: `${bob.owner}-1` })
        .first()) as { body: string } | undefined;
      expect(row?.body).toBe("to the inbox");
      expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, skmsg))).toBe(
        "duplicate-message",
      );
    });

    it("keeps no sender key nor step of a rolled-back distribution and decrypt", async () => {
      const { alice, bob } = await trio(dbs.db);
      const skdm = await alice.groups.groupDistribution(G);
      const skmsg = await alice.groups.groupEncrypt(G, text("rolled back"));

      await expect(
        dbs.db.transaction(async (trx) => {
          await bob.groups.processGroupDistribution(alice.owner, G, skdm, trx);
          await bob.groups.groupDecrypt(alice.owner, G, skmsg, trx);
          throw new CallerFailure("the inbox write failed later");
        }),
      ).rejects.toBeInstanceOf(CallerFailure);

      expect(await senderKeyRows(dbs.db, bob.owner)).toBe(0);
      expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, skmsg))).toBe("no-sender-key");
      await bob.groups.processGroupDistribution(alice.owner, G, skdm);
      expect(str(await bob.groups.groupDecrypt(alice.owner, G, skmsg))).toBe("rolled back");
    });

    it("leaves the ratchet where it was when a decrypt's transaction rolls back", async () => {
      const { alice, bob } = await trio(dbs.db);
      await distribute(alice, G, bob);
      const skmsg = await alice.groups.groupEncrypt(G, text("redelivered"));
      const rolledBack = await dbs.db.transaction();
      await bob.groups.groupDecrypt(alice.owner, G, skmsg, rolledBack);
      await rolledBack.rollback();
      expect(str(await bob.groups.groupDecrypt(alice.owner, G, skmsg))).toBe("redelivered");
    });

    it("creates no key, distribution or recipients for the sender when it rolls back", async () => {
      const { alice, bob } = await trio(dbs.db);
      let drawn = "";
      await expect(
        dbs.db.transaction(async (trx) => {
          drawn = distributionIdOf(await alice.groups.groupDistribution(G, trx));
          await alice.groups.markDistributed(G, [bob.owner], {}, trx);
          await alice.groups.groupEncrypt(G, text("never sent"), trx);
          throw new CallerFailure("the send failed");
        }),
      ).rejects.toBeInstanceOf(CallerFailure);

      expect(await senderKeyRows(dbs.db, alice.owner)).toBe(0);
      for (const table of ["signal_group_distributions", "signal_group_recipients"]) {
        expect(await dbs.db(table).where({ owner: alice.owner })).toEqual([]);
      }
      expect(await alice.groups.membersNeedingDistribution(G, [bob.owner])).toEqual([bob.owner]);
      expect(distributionIdOf(await alice.groups.groupDistribution(G))).not.toBe(drawn);
    });

    it("does not reuse an iteration after a rolled-back encrypt, nor lose one", async () => {
      const { alice, bob } = await trio(dbs.db);
      await distribute(alice, G, bob);
      const kept = await alice.groups.groupEncrypt(G, text("kept"));
      let dropped: Uint8Array = new Uint8Array();
      await expect(
        dbs.db.transaction(async (trx) => {
          dropped = await alice.groups.groupEncrypt(G, text("dropped"), trx);
          throw new CallerFailure("not sent");
        }),
      ).rejects.toBeInstanceOf(CallerFailure);
      const next = await alice.groups.groupEncrypt(G, text("next"));
      const iteration = (m: Uint8Array) =>
        SenderKeyMessage.deserialize(new Uint8Array(m)).iteration();
      // The dropped one never left: its iteration is the next one's.
      expect(iteration(dropped)).toBe(iteration(next));
      expect(iteration(next)).toBe(iteration(kept) + 1);
      expect(str(await bob.groups.groupDecrypt(alice.owner, G, kept))).toBe("kept");
      expect(str(await bob.groups.groupDecrypt(alice.owner, G, next))).toBe("next");
    });
  });
});

/** A database that can be closed and opened again (the same file or schema). */
async function reopenable(kind: TestDatabaseKind) {
  if (kind === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "gkb-senderkeys-"));
    const filename = join(dir, "bridge.sqlite");
    return {
      open: () => openDatabase({ type: "sqlite", filename }),
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const schema = `gkb_test_${randomBytes(6).toString("hex")}`;
  const url = postgresUrl();
  return {
    open: () => openDatabase({ type: "postgres", url, schema, poolMax: 4 }),
    drop: async () => {
      const admin = knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 1 } });
      try {
        await admin.raw("DROP SCHEMA IF EXISTS ?? CASCADE", [schema]);
      } finally {
        await admin.destroy();
      }
    },
  };
}

describe.each(testDatabases())("Signal Sender Keys across a database reopen on %s", (kind) => {
  it("keeps every sender key and distribution state", async () => {
    const store = await reopenable(kind);
    try {
      let db = await store.open();
      await migrate(db);
      const names = [uniqueName("alice"), uniqueName("bob"), uniqueName("carol")] as const;
      let [alice, bob, carol] = [
        await account(db, names[0]),
        await account(db, names[1]),
        await account(db, names[2]),
      ];
      await distribute(alice, G, bob);
      const m1 = await alice.groups.groupEncrypt(G, text("one"));
      const m2 = await alice.groups.groupEncrypt(G, text("two"));
      expect(str(await bob.groups.groupDecrypt(alice.owner, G, m1))).toBe("one");
      await db.destroy();

      db = await store.open();
      try {
        const load = async (name: string) =>
          (await loadAccount(db, name, { cache: new SignalRecordCache() }))!;
        [alice, bob, carol] = [await load(names[0]), await load(names[1]), await load(names[2])];
        expect(await alice.groups.membersNeedingDistribution(G, [bob.owner, carol.owner])).toEqual([
          carol.owner,
        ]);
        expect(await codeOf(bob.groups.groupDecrypt(alice.owner, G, m1))).toBe("duplicate-message");
        expect(str(await bob.groups.groupDecrypt(alice.owner, G, m2))).toBe("two");
        await distribute(alice, G, carol);
        const m3 = await alice.groups.groupEncrypt(G, text("three"));
        expect(str(await bob.groups.groupDecrypt(alice.owner, G, m3))).toBe("three");
        expect(str(await carol.groups.groupDecrypt(alice.owner, G, m3))).toBe("three");
      } finally {
        await db.destroy();
      }
    } finally {
      await store.drop();
    }
  });
});
