/**
 * What only a real homeserver can show: it restarts while messages flow. Synapse then loses
 * its in-memory state (the send dedupe cache, the transactions it was pushing), retries its
 * pushes with backoff and starts its transaction ids at 1 again. While a Matrix user sends 20
 * messages, and while a gatekeeper contact sends 20, the homeserver is restarted; every
 * message arrives exactly once and in order. Runs where the target can restart its
 * homeserver (`npm run test:synapse`); the in-process homeserver has nothing to restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeWorld } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

const N = 20;
/** The restart begins once this many messages of a run arrived on the other side. */
const RESTART_AFTER = 5;

describe.runIf(process.env.E2E_HOMESERVER_RESTART)(
  "homeserver restarts while messages flow",
  () => {
    let w: BridgeWorld;
    let alice: MatrixActor;
    let bob: NativeActor;
    let portal: string;
    let aliceJid: string;

    beforeAll(async () => {
      w = await BridgeWorld.create("hs-restart", { limits: { messagesPerWindow: 10_000 } });
      await w.startBridge();
      alice = await w.matrixUser("alice");
      bob = await w.nativeUser("Bob");
      const phone = w.newPhone();
      const mgmt = await alice.openManagementRoom();
      await alice.login(mgmt, phone, w.codeFor);
      portal = await alice.startChat(mgmt, bob.phone);
      aliceJid = (await bob.lookup(phone))!;
    }, 120_000);

    afterAll(async () => {
      await w?.close();
    });

    const restart = (): Promise<void> => w.target.restartHomeserver!();

    /**
     * The bridged texts with this prefix in the portal as the server has them (paged
     * /messages), once `done` holds: the client's live timeline may skip what arrived while
     * it reconnected.
     */
    async function portalTexts(
      prefix: string,
      done: (texts: string[]) => boolean,
      timeoutMs: number,
    ): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = await alice.bodiesFrom(portal, w.identity.isPuppet).catch(() => []);
        const texts = all.filter((b) => b.startsWith(prefix));
        if (done(texts)) return texts;
        if (Date.now() > deadline) throw new Error(`the portal has ${JSON.stringify(texts)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }

    it("Matrix → gatekeeper: 20 messages across a restart arrive once, in order", async () => {
      const text = (i: number): string => `m2g ${i}`;
      const bobStart = bob.received.length;
      const sending = (async () => {
        // As a client does: a send the server did not answer is sent again, same txn id.
        for (let i = 1; i <= N; i++) await alice.sayUntilAccepted(portal, text(i), `m2g-${i}`);
      })();
      sending.catch(() => undefined);
      await bob.waitForText(text(RESTART_AFTER), 30_000);
      await restart();
      await sending;
      await bob.waitForText(text(N), 90_000);
      await alice.say(portal, "m2g end");
      await bob.waitForText("m2g end", 30_000);
      expect(bob.texts().slice(bobStart)).toEqual([
        ...Array.from({ length: N }, (_, i) => text(i + 1)),
        "m2g end",
      ]);
    }, 180_000);

    it("gatekeeper → Matrix: 20 messages across a restart arrive once, in order", async () => {
      const text = (i: number): string => `g2m ${i}`;
      const sending = (async () => {
        for (let i = 1; i <= N; i++) await bob.send(aliceJid, text(i));
      })();
      sending.catch(() => undefined);
      await portalTexts("g2m ", (t) => t.length >= RESTART_AFTER, 30_000);
      await restart();
      await sending;
      await bob.send(aliceJid, "g2m end");
      const onMatrix = await portalTexts("g2m ", (t) => t.includes("g2m end"), 90_000);
      expect(onMatrix).toEqual([...Array.from({ length: N }, (_, i) => text(i + 1)), "g2m end"]);
    }, 180_000);

    it("still relays both ways, and the bot still answers, after the restarts", async () => {
      await alice.say(portal, "after");
      await bob.waitForText("after", 30_000);
      await bob.send(aliceJid, "after too");
      await alice.waitForPuppetText(portal, "after too", 30_000);
    }, 90_000);
  },
);
