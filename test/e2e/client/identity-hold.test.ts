/**
 * The client features the bridge uses for identity changes and read receipts: holding
 * sends to a changed identity until it is confirmed, the peer's safety number and its
 * state, and turning read receipts off (which the gatekeeper learns at once).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import { GatekeeperError } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TestFiles, nativeClient, newPhone } from "./helpers.js";

describe("GatekeeperClient: held identity changes, safety numbers, read receipts off", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let alice: NewUser;
  let bob: NewUser;
  let a: GatekeeperClient;
  let b: GatekeeperClient;

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    files = new TestFiles();
    alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
    a = nativeClient(sandbox, alice, await files.db(), { holdOnIdentityChange: true });
    b = nativeClient(sandbox, bob, await files.db());
    await a.start();
    await b.start();
  });

  afterEach(async () => {
    await a.stop();
    await b.stop();
    await sandbox.close();
    await files.close();
  });

  it("refuses to send to a changed identity until it is confirmed", async () => {
    const atB = new Recorder(b, "message");
    await a.sendMessage(bob.jid, textMessage("before"));
    await atB.waitFor(1);
    const before = await a.peerIdentity(bob.jid);
    expect(before).toMatchObject({ changed: false });
    expect(before?.fingerprint).toMatch(/^\d{60}$/);

    const changes = new Recorder(a, "identityChange");
    await b.resetIdentity();
    await b.stop();
    await b.start();
    await changes.waitFor(1);

    // Only notified so far: refreshing fetches the new key, so the number shown is current.
    const after = await a.peerIdentity(bob.jid, { refresh: true });
    expect(after?.changed).toBe(true);
    expect(after?.fingerprint).not.toBe(before?.fingerprint);
    const refused = await a.sendMessage(bob.jid, textMessage("held")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatekeeperError);
    expect((refused as GatekeeperError).code).toBe("identity-unconfirmed");

    await a.confirmIdentity(bob.jid);
    expect(await a.peerIdentity(bob.jid)).toMatchObject({
      changed: false,
      fingerprint: after?.fingerprint,
    });
    await a.sendMessage(bob.jid, textMessage("after confirming"));
    const got = await atB.waitFor(2);
    expect(got.map((m) => m.content.conversation)).toEqual(["before", "after confirming"]);
    expect(after?.fingerprint).toBe(await b.fingerprint(alice.jid));
  });

  it("knows no safety number for a peer it never exchanged keys with", async () => {
    expect(await a.peerIdentity(bob.jid)).toBeNull();
    await expect(a.confirmIdentity(bob.jid)).rejects.toMatchObject({ code: "not-found" });
  });

  it("turned off, sends no read receipts and gets none (the gatekeeper learns it at once)", async () => {
    const atA = new Recorder(a, "message");
    const receiptsAtA = new Recorder(a, "receipt");
    const receiptsAtB = new Recorder(b, "receipt");
    await b.sendMessage(alice.jid, textMessage("hi"));
    const [hi] = await atA.waitFor(1);

    const reconnected = new Recorder(a, "connectionState");
    a.setSendReadReceipts(false);
    await reconnected.waitFor(1);
    while (a.state !== "connected") await reconnected.waitFor(reconnected.items.length + 1);

    await a.sendReceipt(bob.jid, [hi!.id], "read");
    await a.sendReceipt(bob.jid, [hi!.id]); // delivered still goes: a fence for the above
    const [atB] = await receiptsAtB.waitFor(1);
    expect(atB).toMatchObject({ type: "delivered", ids: [hi!.id] });

    const { id } = await a.sendMessage(bob.jid, textMessage("hello"));
    await b.sendReceipt(alice.jid, [id], "read");
    await b.sendReceipt(alice.jid, [id]);
    const [atAlice] = await receiptsAtA.waitFor(1);
    expect(atAlice).toMatchObject({ type: "delivered", ids: [id] });
    expect(receiptsAtB.items).toHaveLength(1);
  });
});
