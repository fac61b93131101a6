import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import type { GatekeeperClient, MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TcpRelay, TestFiles, eventually, nativeClient, newPhone } from "./helpers.js";

/**
 * The delivery guarantees: acks only after handling, redelivery exactly once, the offline
 * queue in order, sends that survive disconnections.
 */
describe("GatekeeperClient delivery guarantees", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let relay: TcpRelay;
  let alice: NewUser;
  let bob: NewUser;
  let aliceDb: Knex;
  let bobDb: Knex;
  const clients: GatekeeperClient[] = [];

  /** A client for `user`, tracked for cleanup. */
  function client(user: NewUser, db: Knex, viaRelay = false): GatekeeperClient {
    const c = nativeClient(sandbox, user, db, viaRelay ? { url: relay.url } : {});
    clients.push(c);
    return c;
  }

  /** Stanzas the sandbox still holds for `jid` (delivered but not acked, or not yet delivered). */
  async function queuedFor(jid: string): Promise<string[]> {
    const queue = (await sandbox.admin.queues()).find((q) => q.recipient === jid);
    return (queue?.stanzas ?? []).map((s) => s.id);
  }

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    relay = await TcpRelay.forSandbox(sandbox);
    files = new TestFiles();
    alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
    aliceDb = await files.db();
    bobDb = await files.db();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop();
    await relay.close();
    await sandbox.close();
    await files.close();
  });

  it("delivers the offline queue in order on reconnect, then offlineComplete", async () => {
    const first = client(bob, bobDb);
    await first.start(); // uploads Bob's keys
    await first.stop();
    const a = client(alice, aliceDb);
    await a.start();
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++)
      ids.push((await a.sendMessage(bob.jid, textMessage(`queued ${i}`))).id);

    // A new client object on the same database: Bob's process restarted.
    const b = client(bob, bobDb);
    const log: string[] = [];
    const got: MessageEvent[] = [];
    b.on("message", (m) => {
      got.push(m);
      log.push(`message ${m.id}`);
    });
    const done = new Recorder(b, "offlineComplete");
    b.on("offlineComplete", (e) => void log.push(`offlineComplete ${e.count}`));
    await b.start();
    await done.waitFor(1);

    expect(got.map((m) => m.content.conversation)).toEqual(
      [1, 2, 3, 4, 5].map((i) => `queued ${i}`),
    );
    expect(got.every((m) => m.offline && m.from === alice.jid)).toBe(true);
    expect(log).toEqual([...ids.map((id) => `message ${id}`), "offlineComplete 5"]);
    await eventually(async () => (await queuedFor(bob.jid)).length === 0);
  });

  it("does not ack a message whose handler throws, and redelivers it once to a handler that succeeds", async () => {
    const a = client(alice, aliceDb);
    const b = client(bob, bobDb);
    await b.start();
    await a.start();
    let calls = 0;
    const handled: MessageEvent[] = [];
    b.on("message", (m) => {
      calls += 1;
      if (calls === 1) throw new Error("database is down");
      handled.push(m);
    });
    const errors = new Recorder(b, "error");
    const { id } = await a.sendMessage(bob.jid, textMessage("important"));
    const [err] = await errors.waitFor(1);
    expect(err!.message).toContain("database is down");
    expect(handled).toEqual([]);
    expect(await queuedFor(bob.jid)).toEqual([id]); // not acked

    await b.stop();
    const offline = new Recorder(b, "offlineComplete");
    await b.start();
    await offline.waitFor(1);
    expect(handled.map((m) => [m.id, m.content.conversation])).toEqual([[id, "important"]]);
    await eventually(async () => (await queuedFor(bob.jid)).length === 0);

    // And never again.
    await b.stop();
    await b.start();
    await offline.waitFor(2);
    expect(calls).toBe(2);
    expect(handled).toHaveLength(1);
  });

  it("recognises a redelivered message whose ack was lost: no second event", async () => {
    const a = client(alice, aliceDb);
    const b = client(bob, bobDb, true);
    await b.start();
    await a.start();
    const messages = new Recorder(b, "message");
    const duplicates = new Recorder(b, "duplicate");
    let cutOnce = false;
    b.on("message", async () => {
      if (cutOnce) return;
      cutOnce = true;
      // The network fails while we handle it: the ack that follows cannot reach the gatekeeper.
      // Waited for as an event: polling the state could miss a reconnect within 20 ms.
      const down = new Promise<void>((resolve) => {
        const off = b.on("connectionState", ({ state }) => {
          if (state === "connected") return;
          off();
          resolve();
        });
      });
      relay.cut();
      await down;
    });
    const { id } = await a.sendMessage(bob.jid, textMessage("once"));
    const [dup] = await duplicates.waitFor(1);
    expect(dup).toEqual({ from: alice.jid, id });
    expect(messages.items).toHaveLength(1);
    await eventually(async () => (await queuedFor(bob.jid)).length === 0);
  });

  it("after a crash between decrypt and handling, the restarted client handles the stored message", async () => {
    const a = client(alice, aliceDb);
    const crashed = client(bob, bobDb, true);
    await crashed.start();
    await a.start();
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const reached = new Recorder(crashed, "message");
    crashed.on("message", () => stuck); // the process "dies" inside the handler
    const { id } = await a.sendMessage(bob.jid, textMessage("survives"));
    await reached.waitFor(1);
    relay.refusing = true;
    relay.cut();

    const restarted = client(bob, bobDb);
    const messages = new Recorder(restarted, "message");
    await restarted.start();
    const [m] = await messages.waitFor(1);
    expect(m).toMatchObject({ id, from: alice.jid });
    expect(m!.content.conversation).toBe("survives");
    await eventually(async () => (await queuedFor(bob.jid)).length === 0);
    release();
  });

  it("a message not yet handed over when stop() is called comes again, even with the handlers dropped at once", async () => {
    // What a bridge process does when another takes its login over: stop the client, drop its
    // handlers, and let the next connection (its own or another process's) have the rest.
    const a = client(alice, aliceDb);
    const stopped = client(bob, bobDb, true);
    await stopped.start();
    await a.start();
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let reached!: () => void;
    const inHandler = new Promise<void>((r) => (reached = r));
    const off = stopped.on("message", (m) => {
      seen.push(m.content.conversation);
      reached();
      return stuck; // still handling the first message...
    });
    await a.sendMessage(bob.jid, textMessage("first"));
    await inHandler;
    const before = relay.downstreamBytes;
    const { id } = await a.sendMessage(bob.jid, textMessage("second"));
    // ...when the second arrives and waits in the sender's lane behind it.
    await eventually(() => relay.downstreamBytes > before);
    await new Promise((r) => setTimeout(r, 100));

    const stopping = stopped.stop();
    off();
    release();
    await stopping;
    // Decrypted after the stop, and kept for the next connection: not handled by no one.
    const row = (await bobDb("gk_client_inbox").where({ msg_id: id }).first()) as { state: string };
    expect(row?.state).toBe("pending");
    expect(seen).toEqual(["first"]);

    const restarted = client(bob, bobDb);
    const messages = new Recorder(restarted, "message");
    await restarted.start();
    const [m] = await messages.waitFor(1);
    expect(m).toMatchObject({ id, from: alice.jid });
    expect(m!.content.conversation).toBe("second");
    await eventually(async () => (await queuedFor(bob.jid)).length === 0);
    expect(messages.items).toHaveLength(1);
  });

  it("resends after a lost ack with the same id; the peer gets it exactly once", async () => {
    const a = client(alice, aliceDb, true);
    const b = client(bob, bobDb);
    await b.start();
    await a.start();
    const atB = new Recorder(b, "message");
    await a.sendMessage(bob.jid, textMessage("hello")); // session set up (the bundle iq needs its answer)
    await atB.waitFor(1);
    relay.droppingDownstream = true; // the gatekeeper's ack will not arrive
    const sending = a.sendMessage(bob.jid, textMessage("exactly once"));
    await atB.waitFor(2); // stored and delivered by the gatekeeper
    relay.droppingDownstream = false;
    relay.cut();
    const sent = await sending;
    expect(sent.id).toBe(atB.items[1]!.id);
    await a.sendMessage(bob.jid, textMessage("next"));
    await atB.waitFor(3);
    expect(atB.items.map((m) => m.content.conversation)).toEqual(["hello", "exactly once", "next"]);
  });

  it("waits for the connection to send while disconnected, or rejects after its timeout", async () => {
    const a = client(alice, aliceDb, true);
    const b = client(bob, bobDb);
    await b.start();
    await a.start();
    const atB = new Recorder(b, "message");
    relay.refusing = true;
    relay.cut();
    await eventually(() => a.state !== "connected");

    await expect(
      a.sendMessage(bob.jid, textMessage("too late"), { timeoutMs: 300 }),
    ).rejects.toMatchObject({
      code: "timeout",
    });
    const waiting = a.sendMessage(bob.jid, textMessage("patient"));
    await new Promise((r) => setTimeout(r, 200));
    expect(atB.items).toHaveLength(0);
    relay.refusing = false;
    await waiting;
    const [m] = await atB.waitFor(1);
    expect(m!.content.conversation).toBe("patient");
    expect(a.state).toBe("connected");
  });

  it("rejects waiting sends when stopped", async () => {
    const a = client(alice, aliceDb, true);
    await a.start();
    relay.refusing = true;
    relay.cut();
    await eventually(() => a.state !== "connected");
    const waiting = expect(a.sendMessage(bob.jid, textMessage("never"))).rejects.toMatchObject({
      code: "stopped",
    });
    await a.stop();
    await waiting;
    expect(a.state).toBe("stopped");
  });
});
