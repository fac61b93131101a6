import { describe, expect, it } from "vitest";
import {
  SignalError,
  SignalStores,
  loadAccount,
  toProtocolAddress,
} from "../../../src/gatekeeper/signal/index.js";
import type { SignalErrorCode } from "../../../src/gatekeeper/signal/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { bundleFrom, connected, newParty, str, text } from "./helpers.js";

async function codeOf(promise: Promise<unknown>): Promise<SignalErrorCode | "resolved"> {
  try {
    await promise;
    return "resolved";
  } catch (err) {
    if (err instanceof SignalError) return err.code;
    throw err;
  }
}

describe.each(testDatabases())("Signal sessions on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  it("establishes a session from a bundle: pkmsg first, then msg both ways", async () => {
    const alice = await newParty(dbs.db, "alice");
    const bob = await newParty(dbs.db, "bob");
    expect(await alice.account.hasSession(bob.address)).toBe(false);

    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload));
    expect(await alice.account.hasSession(bob.address)).toBe(true);

    const m1 = await alice.account.encrypt(bob.address, text("one"));
    const m2 = await alice.account.encrypt(bob.address, text("two"));
    expect([m1.type, m2.type]).toEqual(["pkmsg", "pkmsg"]); // until Bob answers
    expect(str(await bob.account.decrypt(alice.address, m1.type, m1.ciphertext))).toBe("one");
    expect(str(await bob.account.decrypt(alice.address, m2.type, m2.ciphertext))).toBe("two");
    expect(await bob.account.hasSession(alice.address)).toBe(true);

    const r1 = await bob.account.encrypt(alice.address, text("three"));
    expect(r1.type).toBe("msg");
    expect(str(await alice.account.decrypt(bob.address, r1.type, r1.ciphertext))).toBe("three");

    const m3 = await alice.account.encrypt(bob.address, text("four"));
    expect(m3.type).toBe("msg");
    expect(str(await bob.account.decrypt(alice.address, m3.type, m3.ciphertext))).toBe("four");
  });

  it("continues a conversation with new objects loaded from the same database", async () => {
    const { alice, bob } = await connected(dbs.db);
    const inFlight = await alice.account.encrypt(bob.address, text("sent before restart"));

    const alice2 = (await loadAccount(dbs.db, alice.address.name))!;
    const bob2 = (await loadAccount(dbs.db, bob.address.name))!;
    expect(alice2.identityKey).toEqual(alice.account.identityKey);
    expect(alice2.registrationId).toBe(alice.account.registrationId);

    expect(str(await bob2.decrypt(alice.address, inFlight.type, inFlight.ciphertext))).toBe(
      "sent before restart",
    );
    for (let i = 0; i < 3; i++) {
      const a = await alice2.encrypt(bob.address, text(`a${i}`));
      expect(str(await bob2.decrypt(alice.address, a.type, a.ciphertext))).toBe(`a${i}`);
      const b = await bob2.encrypt(alice.address, text(`b${i}`));
      expect(str(await alice2.decrypt(bob.address, b.type, b.ciphertext))).toBe(`b${i}`);
    }
    // libsignal's own stores, freshly built on the database, see the same session.
    const raw = SignalStores.on(dbs.db, bob.address.name);
    const record = await raw.session.getSession(toProtocolAddress(alice.address));
    expect(record?.hasCurrentState()).toBe(true);
    expect(await raw.identity.getLocalRegistrationId()).toBe(bob.account.registrationId);
  });

  it("decrypts messages that arrive out of order", async () => {
    const { alice, bob } = await connected(dbs.db);
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push(await alice.account.encrypt(bob.address, text(`m${i}`)));
    for (const i of [2, 0, 3, 1]) {
      const m = sent[i]!;
      expect(str(await bob.account.decrypt(alice.address, m.type, m.ciphertext))).toBe(`m${i}`);
    }
  });

  it("reports truncated, garbage and forged ciphertext as invalid-message and keeps the session", async () => {
    const alice = await newParty(dbs.db, "alice");
    const bob = await newParty(dbs.db, "bob");
    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload));
    const pk = await alice.account.encrypt(bob.address, text("first"));
    const flipped = Uint8Array.from(pk.ciphertext);
    flipped[flipped.length - 12]! ^= 0x01;

    for (const bad of [
      pk.ciphertext.slice(0, pk.ciphertext.length - 10),
      new Uint8Array(200).fill(0x42),
      flipped,
      new Uint8Array(0),
    ]) {
      expect(await codeOf(bob.account.decrypt(alice.address, "pkmsg", bad))).toBe(
        "invalid-message",
      );
    }
    expect(await bob.account.hasSession(alice.address)).toBe(false);
    expect(str(await bob.account.decrypt(alice.address, "pkmsg", pk.ciphertext))).toBe("first");

    const reply = await bob.account.encrypt(alice.address, text("reply"));
    const forged = Uint8Array.from(reply.ciphertext);
    forged[forged.length - 12]! ^= 0x01;
    for (const bad of [
      reply.ciphertext.slice(0, reply.ciphertext.length - 5),
      new Uint8Array(60).fill(0x33),
      forged,
    ]) {
      expect(await codeOf(alice.account.decrypt(bob.address, "msg", bad))).toBe("invalid-message");
    }
    expect(str(await alice.account.decrypt(bob.address, "msg", reply.ciphertext))).toBe("reply");
    const next = await alice.account.encrypt(bob.address, text("still fine"));
    expect(str(await bob.account.decrypt(alice.address, next.type, next.ciphertext))).toBe(
      "still fine",
    );
  });

  it("reports a re-delivered message as duplicate-message", async () => {
    const alice = await newParty(dbs.db, "alice");
    const bob = await newParty(dbs.db, "bob");
    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload));
    const pk = await alice.account.encrypt(bob.address, text("once"));
    await bob.account.decrypt(alice.address, pk.type, pk.ciphertext);
    expect(await codeOf(bob.account.decrypt(alice.address, pk.type, pk.ciphertext))).toBe(
      "duplicate-message",
    );

    const msg = await bob.account.encrypt(alice.address, text("twice?"));
    await alice.account.decrypt(bob.address, msg.type, msg.ciphertext);
    expect(await codeOf(alice.account.decrypt(bob.address, msg.type, msg.ciphertext))).toBe(
      "duplicate-message",
    );
  });

  it("consumes the one-time prekey with the first pkmsg; a second use is invalid-key-id", async () => {
    const alice = await newParty(dbs.db, "alice");
    const carol = await newParty(dbs.db, "carol");
    const bob = await newParty(dbs.db, "bob", {}, 3);
    const usedId = bob.upload.preKeys[0]!.id;
    expect(await bob.account.remainingPreKeyCount()).toBe(3);

    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload, 0));
    const pk = await alice.account.encrypt(bob.address, text("hi"));
    await bob.account.decrypt(alice.address, pk.type, pk.ciphertext);

    expect(await bob.account.remainingPreKeyCount()).toBe(2);
    const row = await dbs
      .db("signal_prekeys")
      .where({ owner: bob.address.name, key_id: usedId })
      .first();
    expect(row).toBeUndefined();

    // A misbehaving server hands the same prekey to Carol.
    await carol.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload, 0));
    const stale = await carol.account.encrypt(bob.address, text("late"));
    expect(await codeOf(bob.account.decrypt(carol.address, stale.type, stale.ciphertext))).toBe(
      "invalid-key-id",
    );
    expect(await bob.account.hasSession(carol.address)).toBe(false);

    // A bundle without a one-time prekey still works (signed + Kyber last resort).
    await carol.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload, null));
    const ok = await carol.account.encrypt(bob.address, text("no one-time key"));
    expect(str(await bob.account.decrypt(carol.address, ok.type, ok.ciphertext))).toBe(
      "no one-time key",
    );
    expect(await bob.account.remainingPreKeyCount()).toBe(2);
  });

  it("reports no-session for a msg or an encrypt without a session", async () => {
    const { alice, bob } = await connected(dbs.db);
    const msg = await bob.account.encrypt(alice.address, text("after delete"));
    expect(await alice.account.deleteSession(bob.address)).toBe(true);
    expect(await alice.account.hasSession(bob.address)).toBe(false);

    expect(await codeOf(alice.account.decrypt(bob.address, "msg", msg.ciphertext))).toBe(
      "no-session",
    );
    expect(await codeOf(alice.account.encrypt(bob.address, text("x")))).toBe("no-session");
  });

  it("rejects addresses outside libsignal's device range", async () => {
    const { alice, bob } = await connected(dbs.db);
    for (const deviceId of [0, 128, 1.5]) {
      expect(
        await codeOf(alice.account.encrypt({ name: bob.address.name, deviceId }, text("x"))),
      ).toBe("invalid-address");
    }
    expect(await codeOf(alice.account.encrypt({ name: "", deviceId: 1 }, text("x")))).toBe(
      "invalid-address",
    );
  });

  it("keeps each owner's rows apart, even with the same peer", async () => {
    const bob = await newParty(dbs.db, "bob");
    const alice = await newParty(dbs.db, "alice");
    const carol = await newParty(dbs.db, "carol");
    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload, 0));
    await carol.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload, 1));
    const fromAlice = await alice.account.encrypt(bob.address, text("from alice"));
    const fromCarol = await carol.account.encrypt(bob.address, text("from carol"));
    await bob.account.decrypt(alice.address, fromAlice.type, fromAlice.ciphertext);
    await bob.account.decrypt(carol.address, fromCarol.type, fromCarol.ciphertext);

    // Carol's session with Bob cannot read what Alice's session produced.
    const toAlice = await bob.account.encrypt(alice.address, text("for alice only"));
    expect(
      await codeOf(carol.account.decrypt(bob.address, toAlice.type, toAlice.ciphertext)),
    ).toMatch(/invalid-message|duplicate-message/);
    expect(str(await alice.account.decrypt(bob.address, toAlice.type, toAlice.ciphertext))).toBe(
      "for alice only",
    );

    // Wiping Carol touches nothing of Alice's or Bob's.
    await carol.account.deleteAll();
    expect(
      await dbs.db("signal_sessions").where({ owner: carol.address.name }).first(),
    ).toBeUndefined();
    expect(await loadAccount(dbs.db, carol.address.name)).toBeNull();
    expect(await alice.account.hasSession(bob.address)).toBe(true);
    expect(await bob.account.hasSession(alice.address)).toBe(true);
    expect(await bob.account.hasSession(carol.address)).toBe(true);
    expect(await alice.account.remainingPreKeyCount()).toBe(5);
    const aliceIdentities = await dbs
      .db("signal_identities")
      .where({ owner: alice.address.name })
      .select("name");
    expect(aliceIdentities).toEqual([{ name: bob.address.name }]);
  });

  it("keeps concurrent sends and receives on one session consistent", async () => {
    const { alice, bob } = await connected(dbs.db);
    const sent = await Promise.all(
      Array.from({ length: 8 }, (_, i) => alice.account.encrypt(bob.address, text(`c${i}`))),
    );
    const replies = Array.from({ length: 4 }, (_, i) =>
      bob.account.encrypt(alice.address, text(`r${i}`)),
    );
    const received = await Promise.all(
      sent.map((m) => bob.account.decrypt(alice.address, m.type, m.ciphertext).then(str)),
    );
    expect(received.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `c${i}`).sort());
    const back = await Promise.all(
      (await Promise.all(replies)).map((m) =>
        alice.account.decrypt(bob.address, m.type, m.ciphertext).then(str),
      ),
    );
    expect(back.sort()).toEqual(["r0", "r1", "r2", "r3"]);
  });
});
