import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import type { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TestFiles, nativeClient, newPhone } from "./helpers.js";

describe("GatekeeperClient identities and retries", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let alice: NewUser;
  let bob: NewUser;
  let bobDb: Knex;
  let a: GatekeeperClient;
  let b: GatekeeperClient;

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    files = new TestFiles();
    alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
    bobDb = await files.db();
    a = nativeClient(sandbox, alice, await files.db());
    b = nativeClient(sandbox, bob, bobDb);
    await a.start();
    await b.start();
  });

  afterEach(async () => {
    await a.stop();
    await b.stop();
    await sandbox.close();
    await files.close();
  });

  it("tells about a peer's new identity once, and the conversation goes on", async () => {
    const atA = new Recorder(a, "message");
    const atB = new Recorder(b, "message");
    await a.sendMessage(bob.jid, textMessage("before"));
    await atB.waitFor(1);
    await b.sendMessage(alice.jid, textMessage("before, back"));
    await atA.waitFor(1);
    const safetyBefore = await a.fingerprint(bob.jid);

    const changes = new Recorder(a, "identityChange");
    await b.resetIdentity();
    await b.stop();
    await b.start();
    const [change] = await changes.waitFor(1);
    expect(change).toEqual({ jid: bob.jid });

    await a.sendMessage(bob.jid, textMessage("after"));
    const fromA = await atB.waitFor(2);
    expect(fromA[1]!.content.conversation).toBe("after");
    await b.sendMessage(alice.jid, textMessage("after, back"));
    const fromB = await atA.waitFor(2);
    expect(fromB[1]!.content.conversation).toBe("after, back");

    const safetyAfter = await a.fingerprint(bob.jid);
    expect(safetyAfter).not.toBe(safetyBefore);
    expect(safetyAfter).toBe(await b.fingerprint(alice.jid));
    expect(changes.items).toHaveLength(1); // the notification and the new bundle are one change
  });

  it("answers a retry receipt: the peer that lost its session gets the message re-encrypted", async () => {
    const atB = new Recorder(b, "message");
    const atA = new Recorder(a, "message");
    await a.sendMessage(bob.jid, textMessage("first"));
    await atB.waitFor(1);
    await b.sendMessage(alice.jid, textMessage("reply")); // now Alice sends plain "msg", not "pkmsg"
    await atA.waitFor(1);
    // Bob loses his session state (e.g. restored an old backup).
    await bobDb("signal_sessions").where({ owner: bob.jid }).delete();

    const undecryptable = new Recorder(b, "undecryptable");
    const { id } = await a.sendMessage(bob.jid, textMessage("second"));
    const [failure] = await undecryptable.waitFor(1);
    expect(failure).toEqual({ from: alice.jid, id, code: "no-session", retryRequested: true });
    const got = await atB.waitFor(2);
    expect(got[1]).toMatchObject({ id, from: alice.jid });
    expect(got[1]!.content.conversation).toBe("second");
  });
});
