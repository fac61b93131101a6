import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GatekeeperClient, MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TcpRelay, TestFiles, eventually, nativeClient, newPhone } from "./helpers.js";

/**
 * Issue 8: one contact's message whose handling stalls (the bridge retrying a failing
 * homeserver) must not hold up other contacts' messages to the same login; the stalled
 * contact's own later messages wait behind it, and every message is still handled and acked
 * exactly once.
 */
describe("GatekeeperClient: one lane per sender", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let relay: TcpRelay;
  let alice: NewUser;
  let carol: NewUser;
  let bob: NewUser;
  let a: GatekeeperClient;
  let c: GatekeeperClient;
  let b: GatekeeperClient;
  /** What Bob's message handler did, in order: "start a1", "done a1", … */
  let log: string[];
  let releaseAlice: () => void;

  /** Stanzas the sandbox still holds for Bob (delivered but not acked, or not yet delivered). */
  async function queuedForBob(): Promise<string[]> {
    const queue = (await sandbox.admin.queues()).find((q) => q.recipient === bob.jid);
    return (queue?.stanzas ?? []).map((s) => s.id);
  }

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    relay = await TcpRelay.forSandbox(sandbox);
    files = new TestFiles();
    alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    carol = await sandbox.admin.addUser({ phone: newPhone(), name: "Carol" });
    bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
    a = nativeClient(sandbox, alice, await files.db());
    c = nativeClient(sandbox, carol, await files.db());
    b = nativeClient(sandbox, bob, await files.db(), { url: relay.url });

    log = [];
    const aliceGate = new Promise<void>((r) => (releaseAlice = r));
    // Alice's first message stalls in Bob's handler until the test releases it.
    b.on("message", async (m: MessageEvent) => {
      const text = m.content.conversation ?? "";
      log.push(`start ${text}`);
      if (text === "a1") await aliceGate;
      log.push(`done ${text}`);
    });
    await b.start();
    await a.start();
    await c.start();
  });

  afterEach(async () => {
    releaseAlice();
    await a.stop();
    await c.stop();
    await b.stop();
    await relay.close();
    await sandbox.close();
    await files.close();
  });

  it("handles and acks another contact's message while one contact's message is stalled", async () => {
    const a1 = await a.sendMessage(bob.jid, textMessage("a1"));
    await eventually(() => log.includes("start a1"));
    const a2 = await a.sendMessage(bob.jid, textMessage("a2"));
    // Delivered after a2 on the same connection: once c1 is handled, a2 has arrived too.
    const c1 = await c.sendMessage(bob.jid, textMessage("c1"));

    await eventually(() => log.includes("done c1"));
    await eventually(async () => !(await queuedForBob()).includes(c1.id)); // acked
    // Alice's stalled message and the one behind it: neither handled nor acked.
    expect(log).toEqual(["start a1", "start c1", "done c1"]);
    expect(await queuedForBob()).toEqual([a1.id, a2.id]);

    releaseAlice();
    await eventually(async () => (await queuedForBob()).length === 0);
    expect(log).toEqual(["start a1", "start c1", "done c1", "done a1", "start a2", "done a2"]);

    // Nothing comes back: every message was acked once and for all.
    const duplicates = new Recorder(b, "duplicate");
    const offline = new Recorder(b, "offlineComplete");
    await b.stop();
    await b.start();
    const [done] = await offline.waitFor(1);
    expect(done).toEqual({ count: 0 });
    expect(duplicates.items).toEqual([]);
    expect(log).toHaveLength(6);
  });

  it("a redelivery lines up behind the stalled copy: each message is handled exactly once", async () => {
    const duplicates = new Recorder(b, "duplicate");
    const offline = new Recorder(b, "offlineComplete");
    const a1 = await a.sendMessage(bob.jid, textMessage("a1"));
    await eventually(() => log.includes("start a1"));
    const a2 = await a.sendMessage(bob.jid, textMessage("a2"));
    await eventually(async () => (await queuedForBob()).length === 2);

    // The network fails while a1 is stalled: a1 and a2 come again on the next connection.
    const reconnected = new Promise<void>((resolve) => {
      const off = b.on("connectionState", ({ state }) => {
        if (state !== "connected") return;
        off();
        resolve();
      });
    });
    relay.cut();
    await reconnected;
    const c1 = await c.sendMessage(bob.jid, textMessage("c1"));
    await eventually(async () => !(await queuedForBob()).includes(c1.id));
    expect(log).toEqual(["start a1", "start c1", "done c1"]);
    // The backlog (a1, a2 again) is not handled while the first a1 is stalled.
    expect(offline.items).toEqual([]);

    releaseAlice();
    const [done] = await offline.waitFor(1);
    expect(done).toEqual({ count: 2 });
    await eventually(async () => (await queuedForBob()).length === 0);
    expect(log).toEqual(["start a1", "start c1", "done c1", "done a1", "start a2", "done a2"]);
    expect(duplicates.items).toEqual([
      { from: alice.jid, id: a1.id },
      { from: alice.jid, id: a2.id },
    ]);
  });
});
