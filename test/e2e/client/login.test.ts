import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import type { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import { generateKeyPair } from "../../../src/gatekeeper/noise/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TestFiles, eventually, nativeClient, newPhone } from "./helpers.js";

describe("GatekeeperClient login and lifecycle", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let alice: NewUser;
  let bob: NewUser;
  const clients: GatekeeperClient[] = [];

  function client(
    user: NewUser,
    db: Knex,
    extra: Parameters<typeof nativeClient>[3] = {},
  ): GatekeeperClient {
    const c = nativeClient(sandbox, user, db, extra);
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    files = new TestFiles();
    alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop();
    await sandbox.close();
    await files.close();
  });

  it("rejects a bad token with 'unauthorized' (state logged-out)", async () => {
    const c = client({ ...alice, token: "not-the-token" }, await files.db());
    const states = new Recorder(c, "connectionState");
    await expect(c.start()).rejects.toMatchObject({
      name: "GatekeeperError",
      code: "unauthorized",
      gkiCode: 401,
    });
    expect(c.state).toBe("logged-out");
    expect(states.items.map((s) => s.state)).toEqual(["connecting", "logged-out"]);
    await expect(c.sendMessage(bob.jid, textMessage("x"))).rejects.toMatchObject({
      code: "stopped",
    });
  });

  it("refuses a gatekeeper whose static key is not the pinned one", async () => {
    const c = client(alice, await files.db(), { serverStaticKey: generateKeyPair().publicKey });
    await expect(c.start()).rejects.toMatchObject({ code: "server-key-mismatch" });
    expect(c.state).toBe("failed");
  });

  it("keeps its Noise key and Signal identity across restarts", async () => {
    const aliceDb = await files.db();
    const bobDb = await files.db();
    const a1 = client(alice, aliceDb);
    const b = client(bob, bobDb);
    await a1.start();
    await b.start();
    const atB = new Recorder(b, "message");
    const atA = new Recorder(a1, "message");
    await a1.sendMessage(bob.jid, textMessage("one"));
    await atB.waitFor(1);
    await b.sendMessage(alice.jid, textMessage("back"));
    await atA.waitFor(1);
    const safety = await b.fingerprint(alice.jid);
    const noiseKeys = await aliceDb("gk_client_accounts").select("noise_public_key");
    await a1.stop();

    const changes = new Recorder(b, "identityChange");
    const a2 = client(alice, aliceDb);
    await a2.start();
    await a2.sendMessage(bob.jid, textMessage("two"));
    await atB.waitFor(2);
    expect(atB.items[1]!.content.conversation).toBe("two");
    expect(await b.fingerprint(alice.jid)).toBe(safety);
    expect(await aliceDb("gk_client_accounts").select("noise_public_key")).toEqual(noiseKeys);
    expect(changes.items).toEqual([]);
  });

  it("stops reconnecting when another connection replaces it", async () => {
    const db = await files.db();
    const first = client(alice, db);
    await first.start();
    const second = client(alice, db);
    await second.start();
    await eventually(() => first.state === "replaced");
    expect(second.state).toBe("connected");
    await new Promise((r) => setTimeout(r, 200));
    expect(first.state).toBe("replaced");
    expect(second.state).toBe("connected");
  });

  it("rejects a message the gatekeeper nacks with the nack's code (429) and keeps the session", async () => {
    const limited = await startSandbox({
      port: 0,
      limits: { messagesPerWindow: 2, messageWindowMs: 60_000 },
    });
    try {
      const carol = await limited.admin.addUser({ phone: newPhone(), name: "Carol" });
      const dave = await limited.admin.addUser({ phone: newPhone(), name: "Dave" });
      const opts = { url: limited.url, serverStaticKey: limited.publicKey };
      const c = client(carol, await files.db(), opts);
      const d = client(dave, await files.db(), opts);
      await c.start();
      await d.start();
      await c.sendMessage(dave.jid, textMessage("1"));
      await c.sendMessage(dave.jid, textMessage("2"));
      await expect(c.sendMessage(dave.jid, textMessage("3"))).rejects.toMatchObject({
        name: "GatekeeperError",
        code: "rate-limited",
        gkiCode: 429,
      });
      expect(c.state).toBe("connected");
    } finally {
      for (const x of clients.splice(0)) await x.stop();
      await limited.close();
    }
  });

  it("reconnects with backoff when the gatekeeper restarts, and sends what waited", async () => {
    // A gatekeeper with a persistent store, restarted on the same port with the same key.
    const dbFile = join(files.dir, "gatekeeper.sqlite");
    const staticKey = generateKeyPair();
    const gk1 = await startSandbox({
      port: 0,
      db: { type: "sqlite", filename: dbFile },
      staticKey,
    });
    const port = Number(new URL(gk1.httpUrl).port);
    const carol = await gk1.admin.addUser({ phone: newPhone(), name: "Carol" });
    const dave = await gk1.admin.addUser({ phone: newPhone(), name: "Dave" });
    const c = client(carol, await files.db(), { url: gk1.url, serverStaticKey: gk1.publicKey });
    const d = client(dave, await files.db(), { url: gk1.url, serverStaticKey: gk1.publicKey });
    await c.start();
    await d.start();
    const states = new Recorder(c, "connectionState");

    await gk1.close(); // tells its clients 503 (going away)
    await eventually(() => c.state !== "connected");
    const waiting = c.sendMessage(dave.jid, textMessage("sent while the gatekeeper was down"));
    const gk2 = await startSandbox({ port, db: { type: "sqlite", filename: dbFile }, staticKey });
    try {
      const atD = new Recorder(d, "message");
      await waiting;
      const [m] = await atD.waitFor(1);
      expect(m!.content.conversation).toBe("sent while the gatekeeper was down");
      expect(states.items.map((s) => s.state)).toContain("reconnecting");
      expect(c.state).toBe("connected");
    } finally {
      for (const x of clients.splice(0)) await x.stop();
      await gk2.close();
    }
  });
});
