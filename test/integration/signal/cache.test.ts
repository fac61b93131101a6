import { describe, expect, it } from "vitest";
import type { Knex } from "knex";
import {
  SignalRecordCache,
  loadAccount,
  toProtocolAddress,
} from "../../../src/gatekeeper/signal/index.js";
import type { SignalAccountOptions } from "../../../src/gatekeeper/signal/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { bundleFrom, connected, newParty, str, text } from "./helpers.js";
import type { Party } from "./helpers.js";

/** The statements `fn` runs on `db` (knex's "query" event, as bridge_db_queries_total counts). */
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

/** A's cache-independent view: what the database holds for A's session with B. */
async function storedSession(db: Knex, owner: Party, peer: Party) {
  const row = (await db("signal_sessions")
    .where({ owner: owner.address.name, name: peer.address.name })
    .first()) as { record: Buffer } | undefined;
  return row?.record;
}

describe.each(testDatabases())("Signal record cache on %s", (kind) => {
  const dbs = useTestDatabase(kind);
  const fresh = (): SignalAccountOptions => ({ cache: new SignalRecordCache() });

  it("encrypts and decrypts with one statement each once the peer is cached", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    const enc = await statements(dbs.db, async () => {
      const m = await alice.account.encrypt(bob.address, text("one write"));
      const dec = await statements(dbs.db, () =>
        bob.account.decrypt(alice.address, m.type, m.ciphertext),
      );
      expect(dec).toEqual([expect.stringMatching(/^update signal_sessions/)]);
    });
    expect(enc).toHaveLength(2); // Alice's session write, then Bob's
    expect(await statements(dbs.db, () => alice.account.hasSession(bob.address))).toEqual([]);
    expect(await statements(dbs.db, () => alice.account.identity(bob.address))).toEqual([]);
  });

  it("adds one statement to a caller's transaction: the session write", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    const m = await alice.account.encrypt(bob.address, text("in the caller's transaction"));
    const sqls = await statements(dbs.db, () =>
      dbs.db.transaction(async (trx) => {
        await bob.account.decrypt(alice.address, m.type, m.ciphertext, trx);
      }),
    );
    expect(sqls.map((s) => s.split(" ")[0]!.toLowerCase())).toEqual([
      "begin;",
      "update",
      "commit;",
    ]);
  });

  it("keeps no phantom session when a caller's transaction rolls back a first pkmsg", async () => {
    const alice = await newParty(dbs.db, "alice", fresh());
    const bob = await newParty(dbs.db, "bob", fresh(), 2);
    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload));
    const pk = await alice.account.encrypt(bob.address, text("first contact"));

    // Thrown, and rolled back explicitly (knex settles that like a commit).
    await expect(
      dbs.db.transaction(async (trx) => {
        await bob.account.decrypt(alice.address, pk.type, pk.ciphertext, trx);
        expect(await bob.account.hasSession(alice.address, trx)).toBe(true);
        throw new Error("the inbox write failed");
      }),
    ).rejects.toThrow("the inbox write failed");
    expect(await bob.account.hasSession(alice.address)).toBe(false);
    const trx = await dbs.db.transaction();
    await bob.account.decrypt(alice.address, pk.type, pk.ciphertext, trx);
    await trx.rollback();
    expect(await bob.account.hasSession(alice.address)).toBe(false);
    expect(await bob.account.identity(alice.address)).toBeNull();
    expect(await storedSession(dbs.db, bob, alice)).toBeUndefined();

    expect(str(await bob.account.decrypt(alice.address, pk.type, pk.ciphertext))).toBe(
      "first contact",
    );
    expect(await bob.account.hasSession(alice.address)).toBe(true);
  });

  it("forgets a ratchet step whose savepoint the caller rolled back, though the rest commits", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    const m = await alice.account.encrypt(bob.address, text("decrypted twice"));
    await dbs.db.transaction(async (trx) => {
      await trx
        .transaction(async (savepoint) => {
          await bob.account.decrypt(alice.address, m.type, m.ciphertext, savepoint);
          throw new Error("undo this part");
        })
        .catch(() => undefined);
    });
    // Had the cache kept the step, this would be a duplicate.
    expect(str(await bob.account.decrypt(alice.address, m.type, m.ciphertext))).toBe(
      "decrypted twice",
    );
  });

  it("evicts the least recently used peers and reads them again when needed", async () => {
    const cache = new SignalRecordCache(2);
    const alice = await newParty(dbs.db, "alice", { cache });
    const peers = [];
    for (const label of ["bob", "carol", "dave"]) {
      const peer = await newParty(dbs.db, label, fresh());
      await alice.account.processBundle(peer.address, bundleFrom(peer.account, peer.upload));
      peers.push(peer);
    }
    expect(cache.size).toBe(2);
    const [bob] = peers as [Party, Party, Party];
    // Bob was evicted: his session is read once, then written.
    const sqls = await statements(dbs.db, () => alice.account.encrypt(bob.address, text("hi")));
    expect(sqls.map((s) => s.split(" ")[0])).toEqual(["select", "select", "update"]);
    expect(cache.size).toBe(2);
    const m = await alice.account.encrypt(bob.address, text("still fine"));
    expect(str(await bob.account.decrypt(alice.address, m.type, m.ciphertext))).toBe("still fine");
  });

  it("forgets a deleted session at once", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    expect(await alice.account.deleteSession(bob.address)).toBe(true);
    expect(await statements(dbs.db, () => alice.account.hasSession(bob.address))).toEqual([]);
    expect(await alice.account.hasSession(bob.address)).toBe(false);
    await expect(alice.account.encrypt(bob.address, text("x"))).rejects.toMatchObject({
      code: "no-session",
    });
    expect(await alice.account.deleteSession(bob.address)).toBe(false);
  });

  it("starts from nothing cached after an identity reset", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    await alice.account.resetIdentity();
    expect(await alice.account.hasSession(bob.address)).toBe(false);
    expect(await alice.account.identity(bob.address)).toBeNull();
  });

  it("shares the cache between two objects of one account", async () => {
    const cache = new SignalRecordCache();
    const { alice, bob } = await connected(dbs.db, { cache }, fresh());
    const again = (await loadAccount(dbs.db, alice.address.name, { cache }))!;
    for (const sender of [alice.account, again, alice.account]) {
      const m = await sender.encrypt(bob.address, text("from either"));
      expect(str(await bob.account.decrypt(alice.address, m.type, m.ciphertext))).toBe(
        "from either",
      );
    }
  });

  it("never reuses a ratchet step when a second writer moved the session on", async () => {
    // Two processes serving one account: two caches on one database.
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    const other = (await loadAccount(dbs.db, alice.address.name, fresh()))!;
    const sent = [
      await alice.account.encrypt(bob.address, text("m1")),
      await other.encrypt(bob.address, text("m2")),
      await alice.account.encrypt(bob.address, text("m3")), // its cache is behind: caught, redone
    ];
    for (const [i, m] of sent.entries()) {
      expect(str(await bob.account.decrypt(alice.address, m.type, m.ciphertext))).toBe(`m${i + 1}`);
    }
  });

  it("notices a session deleted behind its back before anything is sent with it", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    await dbs.db("signal_sessions").where({ owner: alice.address.name }).delete();
    await expect(alice.account.encrypt(bob.address, text("x"))).rejects.toMatchObject({
      code: "no-session",
    });
    expect(await alice.account.hasSession(bob.address)).toBe(false);
  });

  it("sees what the stores wrote once committed, through libsignal's own stores too", async () => {
    const { alice, bob } = await connected(dbs.db, fresh(), fresh());
    await alice.account.encrypt(bob.address, text("written through"));
    const raw = alice.account.stores();
    const record = await raw.session.getSession(toProtocolAddress(bob.address));
    expect(record?.serialize()).toEqual(new Uint8Array((await storedSession(dbs.db, alice, bob))!));
  });
});

describe("SignalRecordCache", () => {
  const known = () => ({
    sessions: new Map(),
    allSessions: false,
    identity: null,
    senderKeys: new Map(),
  });

  it("keeps the most recently written entries", () => {
    const cache = new SignalRecordCache(2);
    cache.merge("a", known());
    cache.merge("b", known());
    cache.merge("a", known()); // a is now the most recent
    cache.merge("c", known());
    expect(cache.get("a")).toBeDefined();
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("c")).toBeDefined();
    expect(cache.size).toBe(2);
  });

  it("keeps nothing with room for no peers", () => {
    const cache = new SignalRecordCache(0);
    cache.merge("a", known());
    expect(cache.size).toBe(0);
    expect(() => new SignalRecordCache(-1)).toThrow(RangeError);
  });
});
