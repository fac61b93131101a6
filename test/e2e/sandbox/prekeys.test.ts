import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBundleRequest,
  buildCountRequest,
  isBundleError,
  parseBundleResult,
  parseCountResult,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  type PartnerAuthServer,
  TestKeys,
  enlistedPartnerUser,
  fakeCiphertext,
  messageId,
  optedInNativeUser,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

describe("sandbox prekeys (docs/protocol.md §7)", () => {
  let auth: PartnerAuthServer;
  let sandbox: Sandbox;
  let partner: RawClient;
  let alice: {
    client: RawClient;
    user: { jid: string; accountId: string; token: string; phone: string };
  };
  const aliceKeys = new TestKeys();
  let firstPreKeyId = 0;

  beforeAll(async () => {
    auth = await startPartnerAuth();
    sandbox = await sandboxWithPartner(auth, { limits: { lowPrekeyThreshold: 10 } });
    partner = await enlistedPartnerUser(sandbox, auth, "keys-1", "+4915160000001");
    alice = await optedInNativeUser(sandbox, "+4917070000001", "Alice");
  });
  afterAll(async () => {
    partner.close();
    alice.client.close();
    await sandbox.close();
    await auth.close();
  });

  it("refuses a first upload without all parts (400) and a bad signature (406)", async () => {
    const incomplete = await alice.client.iq("encrypt", "set", aliceKeys.upload({ full: false }));
    expect(incomplete).toMatchObject({ type: "error", error: { code: 400 } });
    const forged = await alice.client.iq(
      "encrypt",
      "set",
      aliceKeys.upload({ badSignature: true }),
    );
    expect(forged).toMatchObject({ type: "error", error: { code: 406 } });
  });

  it("stores an upload and counts the one-time prekeys", async () => {
    firstPreKeyId = aliceKeys.nextPreKeyId;
    expect((await alice.client.iq("encrypt", "set", aliceKeys.upload({ preKeys: 11 }))).type).toBe(
      "result",
    );
    const count = await alice.client.iq("encrypt", "get", buildCountRequest());
    expect(parseCountResult(count.children)).toBe(11);
  });

  it("hands out a bundle consuming one one-time prekey, and warns the owner when few are left", async () => {
    const fetched = await partner.iq(
      "encrypt",
      "get",
      buildBundleRequest([alice.user.jid, "999999999999999@lid.gk"]),
    );
    const [bundle, missing] = parseBundleResult(fetched.children);
    expect(missing).toEqual({ jid: "999999999999999@lid.gk", error: 404 });
    if (!bundle || isBundleError(bundle)) throw new Error("expected a bundle");
    expect(
      Buffer.from(bundle.identityKey).equals(Buffer.from(aliceKeys.identity.publicKey.serialize())),
    ).toBe(true);
    expect(bundle.registrationId).toBe(aliceKeys.registrationId);
    expect(bundle.preKey?.id).toBe(firstPreKeyId);
    expect(bundle.signedPreKey.id).toBe(1);
    expect(bundle.kyberPreKey.id).toBe(1);

    const again = parseBundleResult(
      (await partner.iq("encrypt", "get", buildBundleRequest([alice.user.jid]))).children,
    )[0];
    expect(again && !isBundleError(again) ? again.preKey?.id : undefined).toBe(firstPreKeyId + 1);

    // 11 - 2 = 9 left, under the threshold of 10.
    const warning = await alice.client.nextOf("notification", (n) => n.type === "encrypt");
    expect(warning).toMatchObject({ from: "gk", type: "encrypt" });
    expect(parseCountResult(warning.children)).toBe(9);
    alice.client.send({ kind: "ack", class: "notification", id: warning.id, type: "encrypt" });

    // A refill with list only is accepted.
    expect(
      (await alice.client.iq("encrypt", "set", aliceKeys.upload({ full: false, preKeys: 50 })))
        .type,
    ).toBe("result");
    expect(
      parseCountResult((await alice.client.iq("encrypt", "get", buildCountRequest())).children),
    ).toBe(59);
  });

  it("does not give a partner the bundle of a user who did not opt in", async () => {
    const bob = await sandbox.admin.addUser({ phone: "+4917070000002", name: "Bob" });
    const { client: bobClient } = await RawClient.native(sandbox, bob);
    await bobClient.nextOf("ib");
    const bobKeys = new TestKeys();
    expect((await bobClient.iq("encrypt", "set", bobKeys.upload())).type).toBe("result");
    const result = parseBundleResult(
      (await partner.iq("encrypt", "get", buildBundleRequest([bob.jid]))).children,
    );
    expect(result).toEqual([{ jid: bob.jid, error: 404 }]);
    bobClient.close();
  });

  it("rotate-identity disconnects the client with 401 device-removed; the new identity notifies contacts", async () => {
    // Make the partner a contact of Alice.
    const m = {
      kind: "message",
      id: messageId(),
      to: alice.user.jid,
      type: "text",
      enc: { v: 2, type: "pkmsg", ciphertext: fakeCiphertext() },
    } as const;
    partner.send(m);
    await partner.nextOf("ack", (a) => a.id === m.id);

    await sandbox.admin.rotateIdentity(alice.user.phone);
    expect(await alice.client.nextOf("stream-error")).toEqual({
      kind: "stream-error",
      code: 401,
      text: "device-removed",
    });
    await alice.client.closed;
    const gone = parseBundleResult(
      (await partner.iq("encrypt", "get", buildBundleRequest([alice.user.jid]))).children,
    );
    expect(gone).toEqual([{ jid: alice.user.jid, error: 404 }]);

    // The client re-registers with a new identity.
    const { client } = await RawClient.native(sandbox, alice.user);
    alice.client = client;
    expect((await client.iq("encrypt", "set", new TestKeys().upload())).type).toBe("result");
    const notice = await partner.nextOf("notification", (n) => n.type === "identity");
    expect(notice).toMatchObject({ type: "identity", from: alice.user.jid });
    partner.send({ kind: "ack", class: "notification", id: notice.id, type: "identity" });
  });
});
