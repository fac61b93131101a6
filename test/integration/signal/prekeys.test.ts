import { describe, expect, it } from "vitest";
import { PublicKey, KEMPublicKey } from "@signalapp/libsignal-client";
import {
  MAX_KEY_ID,
  MAX_REGISTRATION_ID,
  SignalError,
  createAccount,
} from "../../../src/gatekeeper/signal/index.js";
import { testDatabases, useTestDatabase } from "../db/databases.js";
import { bundleFrom, newParty, str, text, uniqueName } from "./helpers.js";

const u8 = (b: Uint8Array) => new Uint8Array(b);

describe.each(testDatabases())("Signal account keys on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  it("creates an identity once and loads it afterwards", async () => {
    const owner = uniqueName("acct");
    const first = await createAccount(dbs.db, owner, 1);
    const again = await createAccount(dbs.db, owner, 1);
    expect(again.identityKey).toEqual(first.identityKey);
    expect(again.registrationId).toBe(first.registrationId);
    expect(first.registrationId).toBeGreaterThanOrEqual(1);
    expect(first.registrationId).toBeLessThanOrEqual(MAX_REGISTRATION_ID);
    expect(() => PublicKey.deserialize(u8(first.identityKey))).not.toThrow();

    await expect(createAccount(dbs.db, owner, 2)).rejects.toMatchObject({
      code: "invalid-address",
    });
    for (const deviceId of [0, 128]) {
      await expect(createAccount(dbs.db, uniqueName("bad"), deviceId)).rejects.toBeInstanceOf(
        SignalError,
      );
    }
  });

  it("returns an upload whose signatures verify with the identity key", async () => {
    const account = await createAccount(dbs.db, uniqueName("acct"), 1);
    const upload = await account.generateUpload(10);

    expect(upload.registrationId).toBe(account.registrationId);
    expect(upload.identityKey).toEqual(account.identityKey);
    expect(upload.preKeys).toHaveLength(10);
    const identity = PublicKey.deserialize(u8(upload.identityKey));
    expect(
      identity.verify(u8(upload.signedPreKey.publicKey), u8(upload.signedPreKey.signature)),
    ).toBe(true);
    expect(
      identity.verify(u8(upload.kyberPreKey.publicKey), u8(upload.kyberPreKey.signature)),
    ).toBe(true);
    expect(() => KEMPublicKey.deserialize(u8(upload.kyberPreKey.publicKey))).not.toThrow();
    expect(await account.remainingPreKeyCount()).toBe(10);
  });

  it("continues prekey ids from the last ones and keeps the current signed keys", async () => {
    const account = await createAccount(dbs.db, uniqueName("acct"), 1);
    const first = await account.generateUpload(3);
    const second = await account.generateUpload(2);
    const ids = [...first.preKeys, ...second.preKeys].map((k) => k.id);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1]! % MAX_KEY_ID) + 1);
    expect(second.signedPreKey).toEqual(first.signedPreKey);
    expect(second.kyberPreKey).toEqual(first.kyberPreKey);

    const rotated = await account.generateUpload(0, {
      rotateSignedPreKey: true,
      rotateKyberPreKey: true,
    });
    expect(rotated.preKeys).toEqual([]);
    expect(rotated.signedPreKey.id).not.toBe(first.signedPreKey.id);
    expect(rotated.kyberPreKey.id).not.toBe(first.kyberPreKey.id);
    expect(await account.remainingPreKeyCount()).toBe(5);
  });

  it("wraps prekey ids at 24 bits", async () => {
    const account = await createAccount(dbs.db, uniqueName("acct"), 1);
    await dbs
      .db("signal_accounts")
      .where({ owner: account.owner })
      .update({ next_prekey_id: MAX_KEY_ID - 1 });
    const keys = await account.generatePreKeys(3);
    expect(keys.map((k) => k.id)).toEqual([MAX_KEY_ID - 1, MAX_KEY_ID, 1]);
    const next = await account.generatePreKeys(1);
    expect(next.map((k) => k.id)).toEqual([2]);
  });

  it("keeps the last-resort Kyber prekey after use and removes a one-time one", async () => {
    const bob = await newParty(dbs.db, "bob", {}, 0);
    const lastResortId = bob.upload.kyberPreKey.id;
    for (const label of ["alice", "carol"]) {
      const peer = await newParty(dbs.db, label);
      await peer.account.processBundle(bob.address, bundleFrom(bob.account, bob.upload, null));
      const pk = await peer.account.encrypt(bob.address, text(`from ${label}`));
      expect(str(await bob.account.decrypt(peer.address, pk.type, pk.ciphertext))).toBe(
        `from ${label}`,
      );
    }
    const kept = await dbs
      .db("signal_kyber_prekeys")
      .where({ owner: bob.address.name, key_id: lastResortId })
      .first();
    expect(kept).toBeDefined();
    expect(kept.last_used_at).not.toBeNull();

    const oneTime = await bob.account.generateKyberPreKey(false);
    const dave = await newParty(dbs.db, "dave");
    await dave.account.processBundle(bob.address, {
      ...bundleFrom(bob.account, bob.upload, null),
      kyberPreKey: oneTime,
    });
    const pk = await dave.account.encrypt(bob.address, text("one-time kyber"));
    expect(str(await bob.account.decrypt(dave.address, pk.type, pk.ciphertext))).toBe(
      "one-time kyber",
    );
    const gone = await dbs
      .db("signal_kyber_prekeys")
      .where({ owner: bob.address.name, key_id: oneTime.id })
      .first();
    expect(gone).toBeUndefined();
    // Generating a one-time key did not replace the advertised last-resort key.
    expect((await bob.account.generateUpload(0)).kyberPreKey.id).toBe(lastResortId);
  });

  it("rejects malformed or forged bundles as invalid-bundle", async () => {
    const alice = await newParty(dbs.db, "alice");
    const bob = await newParty(dbs.db, "bob");
    const good = bundleFrom(bob.account, bob.upload);
    const forgedSig = Uint8Array.from(good.signedPreKey.signature);
    forgedSig[0]! ^= 0xff;
    const other = await newParty(dbs.db, "mallory");
    const bad = [
      { ...good, signedPreKey: { ...good.signedPreKey, signature: forgedSig } },
      { ...good, kyberPreKey: other.upload.kyberPreKey }, // signed by someone else
      { ...good, identityKey: new Uint8Array(10) },
      { ...good, deviceId: 2 },
      { ...good, kyberPreKey: undefined as unknown as typeof good.kyberPreKey },
    ];
    for (const bundle of bad) {
      await expect(alice.account.processBundle(bob.address, bundle)).rejects.toMatchObject({
        code: "invalid-bundle",
      });
    }
    expect(await alice.account.hasSession(bob.address)).toBe(false);
    expect(await alice.account.identity(bob.address)).toBeNull();
  });
});
