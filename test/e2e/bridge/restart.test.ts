/**
 * Scenario 5: the bridge runs as the admin runs it (the CLI in a child process, SQLite file)
 * and is killed with SIGKILL, so no shutdown code runs: once during a login, and twice
 * while both sides are sending numbered messages. After a restart on the same database,
 * every message arrives exactly once and in order on both sides.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../harness/target.js";
import { BridgeProcess } from "./bridge-process.js";
import { BridgeWorld } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

const N = 30;
/** Kill points stay in the first quarter, so the faster direction cannot be done yet either. */
const LATEST_KILL = Math.floor(N / 4);
const SEED = 0x5eed_2024;

/** mulberry32: a small seeded PRNG, so the "random" kill point is the same on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seededRandom(SEED);
/** An integer in [min, max]. */
const pick = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

describe("restart after kill -9 (CLI in a child process, SQLite)", () => {
  let w: BridgeWorld;
  let bridge: BridgeProcess;
  let alice: MatrixActor;
  let bob: NativeActor;
  let mgmt: string;
  let alicePhone: string;
  let portal: string;
  let aliceJid: string;

  beforeAll(async () => {
    // Many messages in a few seconds: lift the gatekeeper's per-sender message rate limit.
    w = await BridgeWorld.create("restart", { limits: { messagesPerWindow: 10_000 } });
    bridge = await w.startBridgeProcess();
    alice = await w.matrixUser("alice");
    bob = await w.nativeUser("Bob");
    alicePhone = w.newPhone();
    mgmt = await alice.openManagementRoom();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  /** Kills the bridge outright and starts it again on the same config and database. */
  async function killAndRestart(): Promise<void> {
    await bridge.kill();
    bridge = await w.startBridgeProcess();
  }

  it("finishes a login started before the bridge was killed", async () => {
    expect(await alice.command(mgmt, `login ${alicePhone}`)).toContain("6-digit code");
    await killAndRestart();
    // (A command killed before it was marked done runs again after the restart, so its
    // answer may come again: each answer is picked by what it says.)
    expect(await alice.commandAnswered(mgmt, "status", (b) => b.startsWith("Waiting"))).toBe(
      `Waiting for the code sent to ${alicePhone}: send \`verify <code>\`.`,
    );
    const code = await w.codeFor(alicePhone);
    expect(
      await alice.commandAnswered(mgmt, `verify ${code}`, (b) => b.startsWith("You are")),
    ).toBe(
      `You are logged in to Gatekeeper as ${alicePhone}. Send \`start <phone>\` to chat with someone there.`,
    );
    // And the login survives a kill once verified.
    await killAndRestart();
    // Logins connect in the background after a start: "connecting" first, then connected.
    let status = "";
    for (let i = 0; i < 40 && !status.includes("Connection: connected."); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 250));
      status = await alice.commandAnswered(mgmt, "status", (b) => b.startsWith("Logged in"));
    }
    expect(status).toContain(`Logged in to Gatekeeper as ${alicePhone}.\nConnection: connected.`);
    portal = await alice.startChat(mgmt, bob.phone);
    aliceJid = (await bob.lookup(alicePhone))!;
    expect(aliceJid).toBeDefined();
  }, 90_000);

  /**
   * Both sides send N numbered messages at once; the bridge is killed once `killAfter` of
   * them arrived on each side, and started again. Then each side sends an end marker (per
   * direction the bridge keeps order, so anything doubled or late would come before it).
   */
  async function exchangeAcrossKill(round: string, killAfter: { matrix: number; native: number }) {
    const fromAlice = (i: number | "end"): string => `${round}: alice ${i}`;
    const fromBob = (i: number | "end"): string => `${round}: bob ${i}`;
    const numbers = Array.from({ length: N }, (_, i) => i + 1);
    const bobStart = bob.received.length;

    const sending = Promise.all([
      (async () => {
        for (const i of numbers) await alice.say(portal, fromAlice(i));
      })(),
      (async () => {
        for (const i of numbers) await bob.send(aliceJid, fromBob(i));
      })(),
    ]);
    // Awaited below; this only keeps a failure from surfacing as unhandled meanwhile.
    sending.catch(() => undefined);

    await Promise.all([
      alice.waitForPuppetText(portal, fromBob(killAfter.matrix), 30_000),
      bob.waitForText(fromAlice(killAfter.native), 30_000),
    ]);
    await bridge.kill();
    const onMatrixAtKill = (await alice.bodiesFrom(portal, w.identity.isPuppet)).filter((b) =>
      b.startsWith(`${round}: bob `),
    ).length;
    const atBobAtKill = bob.received.length - bobStart;
    // Both senders go on while the bridge is down: the homeserver and the gatekeeper queue.
    await sending;
    bridge = await w.startBridgeProcess();

    await alice.say(portal, fromAlice("end"));
    await bob.send(aliceJid, fromBob("end"));
    await Promise.all([
      alice.waitForPuppetText(portal, fromBob("end"), 60_000),
      bob.waitForText(fromAlice("end"), 60_000),
    ]);

    // The kill really caught messages in flight both ways.
    expect(onMatrixAtKill).toBeLessThan(N);
    expect(atBobAtKill).toBeLessThan(N);
    const onMatrix = (await alice.bodiesFrom(portal, w.identity.isPuppet)).filter((b) =>
      b.startsWith(`${round}: `),
    );
    expect(onMatrix).toEqual([...numbers.map(fromBob), fromBob("end")]);
    expect(bob.texts().slice(bobStart)).toEqual([...numbers.map(fromAlice), fromAlice("end")]);
  }

  it("delivers every message exactly once, in order, when killed early", async () => {
    await exchangeAcrossKill("early", { matrix: 1, native: 1 });
  }, 120_000);

  const matrix = pick(2, LATEST_KILL);
  const native = pick(2, LATEST_KILL);
  it(`delivers every message exactly once, in order, when killed at a seeded random point (after ${matrix} / ${native})`, async () => {
    await exchangeAcrossKill("random", { matrix, native });
  }, 120_000);

  it("still relays both ways after the restarts", async () => {
    await alice.say(portal, "all good?");
    await bob.waitForText("all good?");
    await bob.send(aliceJid, "all good");
    await alice.waitForPuppetText(portal, "all good");
    // SIGTERM, the admin's stop, ends the process cleanly.
    expect(await bridge.terminate()).toBe(0);
  }, 60_000);

  it("a second process on the same SQLite database refuses to start, naming the first", async () => {
    bridge = await w.startBridgeProcess();
    const lockFile = join(w.dir, "bridge.sqlite.lock");
    expect(existsSync(lockFile)).toBe(true);
    const second = BridgeProcess.start({
      configFile: join(w.dir, "config.yaml"),
      registrationFile: join(w.dir, "registration.yaml"),
      port: await freePort(),
      startTimeoutMs: 20_000,
    });
    await expect(second).rejects.toThrow(
      new RegExp(
        `another bridge process \\(pid ${bridge.pid} on .+\\) is using the SQLite database`,
      ),
    );
    // The first goes on, and a graceful stop takes the lock away with it.
    await alice.say(portal, "still here?");
    await bob.waitForText("still here?");
    expect(await bridge.terminate()).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  }, 60_000);
});
