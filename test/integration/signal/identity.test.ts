import { describe, expect, it } from "vitest";
import { SignalError } from "../../../src/gatekeeper/signal/index.js";
import type { IdentityChangeEvent } from "../../../src/gatekeeper/signal/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { bundleFrom, connected, str, text } from "./helpers.js";
import type { Party } from "./helpers.js";

/** Bob starts over with a new identity and writes to Alice from it (a fresh pkmsg). */
async function bobRotatesAndWrites(alice: Party, bob: Party, message: string) {
  await bob.account.resetIdentity();
  const aliceMore = await alice.account.generateUpload(1);
  await bob.account.processBundle(alice.address, bundleFrom(alice.account, aliceMore));
  return bob.account.encrypt(alice.address, text(message));
}

describe.each(testDatabases())("Signal identities on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  it("trusts on first use without reporting a change", async () => {
    const changes: IdentityChangeEvent[] = [];
    const { alice, bob } = await connected(dbs.db, {
      onIdentityChange: (c) => void changes.push(c),
    });
    const known = await alice.account.identity(bob.address);
    expect(known?.identityKey).toEqual(bob.account.identityKey);
    expect(known?.trust).toBe("first-use");
    expect(known?.changedAt).toBeNull();
    expect(changes).toEqual([]);
    expect(await alice.account.listChangedIdentities()).toEqual([]);
  });

  it("gives both ends the same 60-digit safety number", async () => {
    const { alice, bob } = await connected(dbs.db);
    const a = await alice.account.fingerprint(bob.address);
    expect(a).toMatch(/^\d{60}$/);
    expect(await bob.account.fingerprint(alice.address)).toBe(a);
  });

  it("detects a peer's new identity in a pkmsg, trusts it and records the change", async () => {
    const changes: IdentityChangeEvent[] = [];
    const { alice, bob } = await connected(dbs.db, {
      onIdentityChange: (c) => void changes.push(c),
    });
    const oldKey = bob.account.identityKey;
    const oldFingerprint = await alice.account.fingerprint(bob.address);

    const pk = await bobRotatesAndWrites(alice, bob, "new phone, who dis");
    expect(pk.type).toBe("pkmsg");
    expect(str(await alice.account.decrypt(bob.address, pk.type, pk.ciphertext))).toBe(
      "new phone, who dis",
    );

    const newKey = bob.account.identityKey;
    expect(newKey).not.toEqual(oldKey);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ owner: alice.address.name, blocked: false, oldKey, newKey });
    expect(changes[0]!.address.name).toBe(bob.address.name);

    const known = await alice.account.identity(bob.address);
    expect(known).toMatchObject({ trust: "changed", identityKey: newKey, previousKey: oldKey });
    expect(known?.changedAt).not.toBeNull();
    expect((await alice.account.listChangedIdentities()).map((i) => i.name)).toEqual([
      bob.address.name,
    ]);

    const newFingerprint = await alice.account.fingerprint(bob.address);
    expect(newFingerprint).not.toBe(oldFingerprint);
    expect(newFingerprint).toBe(await bob.account.fingerprint(alice.address));

    await alice.account.confirmIdentity(bob.address);
    expect((await alice.account.identity(bob.address))?.trust).toBe("confirmed");
    expect(await alice.account.listChangedIdentities()).toEqual([]);
    const reply = await alice.account.encrypt(bob.address, text("welcome back"));
    expect(str(await bob.account.decrypt(alice.address, reply.type, reply.ciphertext))).toBe(
      "welcome back",
    );
  });

  it("detects a peer's new identity in a fetched bundle", async () => {
    const changes: IdentityChangeEvent[] = [];
    const { alice, bob } = await connected(dbs.db, {
      onIdentityChange: (c) => void changes.push(c),
    });
    const oldKey = bob.account.identityKey;
    await bob.account.resetIdentity();
    const bobUpload = await bob.account.generateUpload(2);

    await alice.account.processBundle(bob.address, bundleFrom(bob.account, bobUpload));

    expect(changes.map((c) => [c.oldKey, c.newKey, c.blocked])).toEqual([
      [oldKey, bob.account.identityKey, false],
    ]);
    const pk = await alice.account.encrypt(bob.address, text("saw your new key"));
    expect(str(await bob.account.decrypt(alice.address, pk.type, pk.ciphertext))).toBe(
      "saw your new key",
    );
  });

  it("under block-until-confirmed refuses a changed key until confirmIdentity", async () => {
    const changes: IdentityChangeEvent[] = [];
    const { alice, bob } = await connected(dbs.db, {
      trustPolicy: "block-until-confirmed",
      onIdentityChange: (c) => void changes.push(c),
    });
    const oldKey = bob.account.identityKey;
    const pk = await bobRotatesAndWrites(alice, bob, "please confirm me");
    const newKey = bob.account.identityKey;

    const refused = await alice.account
      .decrypt(bob.address, pk.type, pk.ciphertext)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SignalError);
    expect((refused as SignalError).code).toBe("untrusted-identity");
    expect((refused as SignalError).identityKey).toEqual(newKey);
    expect(changes).toEqual([expect.objectContaining({ blocked: true, oldKey, newKey })]);

    const pending = await alice.account.identity(bob.address);
    expect(pending).toMatchObject({
      trust: "unconfirmed",
      identityKey: oldKey,
      pendingKey: newKey,
    });
    // Still blocked on redelivery, and sending is blocked too.
    await expect(alice.account.decrypt(bob.address, pk.type, pk.ciphertext)).rejects.toMatchObject({
      code: "untrusted-identity",
    });
    await expect(alice.account.encrypt(bob.address, text("x"))).rejects.toMatchObject({
      code: "untrusted-identity",
    });
    expect(changes).toHaveLength(1); // the same pending change is not announced again
    // The number to compare before confirming is the one Bob sees now.
    expect(await alice.account.fingerprint(bob.address, "pending")).toBe(
      await bob.account.fingerprint(alice.address),
    );

    const confirmed = await alice.account.confirmIdentity(bob.address);
    expect(confirmed).toMatchObject({
      trust: "confirmed",
      identityKey: newKey,
      pendingKey: null,
      previousKey: oldKey,
    });
    expect(str(await alice.account.decrypt(bob.address, pk.type, pk.ciphertext))).toBe(
      "please confirm me",
    );
    const reply = await alice.account.encrypt(bob.address, text("confirmed"));
    expect(str(await bob.account.decrypt(alice.address, reply.type, reply.ciphertext))).toBe(
      "confirmed",
    );
  });

  it("under block-until-confirmed refuses a changed bundle, then accepts it once confirmed", async () => {
    const { alice, bob } = await connected(dbs.db, { trustPolicy: "block-until-confirmed" });
    await bob.account.resetIdentity();
    const bundle = bundleFrom(bob.account, await bob.account.generateUpload(2));

    await expect(alice.account.processBundle(bob.address, bundle)).rejects.toMatchObject({
      code: "untrusted-identity",
    });
    await alice.account.confirmIdentity(bob.address);
    await alice.account.processBundle(bob.address, bundle);
    const pk = await alice.account.encrypt(bob.address, text("ok now"));
    expect(str(await bob.account.decrypt(alice.address, pk.type, pk.ciphertext))).toBe("ok now");
  });

  it("starts a new identity on resetIdentity and forgets everything else", async () => {
    const { alice, bob } = await connected(dbs.db);
    const oldKey = bob.account.identityKey;
    await bob.account.resetIdentity();

    expect(bob.account.identityKey).not.toEqual(oldKey);
    expect(bob.account.registrationId).toBeGreaterThanOrEqual(1);
    expect(await bob.account.hasSession(alice.address)).toBe(false);
    expect(await bob.account.identity(alice.address)).toBeNull();
    expect(await bob.account.remainingPreKeyCount()).toBe(0);
    // Alice's side is untouched.
    expect(await alice.account.hasSession(bob.address)).toBe(true);
    await expect(
      alice.account.fingerprint({ name: "nobody@lid.gk", deviceId: 1 }),
    ).rejects.toMatchObject({
      code: "unknown-identity",
    });
  });
});
