/**
 * Scenario 5, the homeserver side: the homeserver cannot reach the bridge for a while (its
 * transactions fail and are retried), or refuses the bridge's requests with 429 for a while.
 * Nothing is lost, nothing doubled, order kept. Needs the in-process homeserver's controls,
 * so it skips against a real homeserver.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestHomeserver } from "../../harness/homeserver/index.js";
import { BridgeWorld, E2E_APPSERVICE } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

const AS_ID = E2E_APPSERVICE.id;

/** Re-reads a harness view until it holds (the harness has no event for these). */
async function until(what: string, holds: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!holds()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(process.env.E2E_HOMESERVER_URL)("homeserver outages", () => {
  let w: BridgeWorld;
  let hs: TestHomeserver;
  let alice: MatrixActor;
  let bob: NativeActor;
  let mgmt: string;
  let portal: string;
  let aliceJid: string;
  let puppet: string;

  beforeAll(async () => {
    w = await BridgeWorld.create("outage", { limits: { messagesPerWindow: 10_000 } });
    hs = w.homeserver!;
    await w.startBridge();
    alice = await w.matrixUser("alice");
    bob = await w.nativeUser("Bob");
    const alicePhone = w.newPhone();
    mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, alicePhone, w.codeFor);
    portal = await alice.startChat(mgmt, bob.phone);
    aliceJid = (await bob.lookup(alicePhone))!;
    puppet = alice.client
      .getRoom(portal)!
      .getJoinedMembers()
      .find((m) => w.identity.isPuppet(m.userId))!.userId;
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  it("keeps Matrix messages while the homeserver cannot reach the bridge, then delivers them in order", async () => {
    const before = bob.received.length;
    hs.setAppServiceReachable(AS_ID, false);
    try {
      for (let i = 1; i <= 5; i++) await alice.say(portal, `while unreachable ${i}`);
      await until("a failed push", () => hs.appServiceDelivery(AS_ID).failedAttempts >= 2);
      // The other direction does not depend on the homeserver reaching the bridge.
      await bob.send(aliceJid, "bob during the outage");
      await alice.waitForPuppetText(portal, "bob during the outage");
      expect(bob.received.length).toBe(before);
    } finally {
      hs.setAppServiceReachable(AS_ID, true);
    }
    await bob.waitForText("while unreachable 5");
    await alice.say(portal, "after the outage");
    await bob.waitForText("after the outage");
    expect(bob.texts().slice(before)).toEqual([
      ...[1, 2, 3, 4, 5].map((i) => `while unreachable ${i}`),
      "after the outage",
    ]);
  });

  it("retries posting gatekeeper messages while the homeserver answers 429, without losing or doubling any", async () => {
    // More refusals than the Matrix side retries on its own, so the relay's retry runs too.
    const limit = hs.rateLimit({
      path: /\/send\/m\.room\.message\//,
      method: "PUT",
      userId: puppet,
      count: 12,
      // Short waits (only in the body: a Retry-After header has whole seconds).
      retryAfterMs: 50,
      retryAfterHeader: false,
      includeExemptAppServices: true,
    });
    for (let i = 1; i <= 5; i++) await bob.send(aliceJid, `rate limited ${i}`);
    await alice.waitForPuppetText(portal, "rate limited 5", 30_000);
    expect(limit.remaining).toBe(0);
    await bob.send(aliceJid, "after the limit");
    await alice.waitForPuppetText(portal, "after the limit");
    const bodies = await alice.bodiesFrom(portal, (u) => u === puppet);
    expect(bodies.filter((b) => b.startsWith("rate limited") || b === "after the limit")).toEqual([
      ...[1, 2, 3, 4, 5].map((i) => `rate limited ${i}`),
      "after the limit",
    ]);
  });

  it("holds up only the contact whose message is being retried, never another contact", async () => {
    const carol = await w.nativeUser("Carol");
    await carol.send(aliceJid, "Carol says hi");
    const carolPortal = await alice.acceptPortalInvite();
    await alice.waitForPuppetText(carolPortal, "Carol says hi");
    // Bob's puppet is refused for a good while: his message is retried, his next one waits.
    const limit = hs.rateLimit({
      path: /\/send\/m\.room\.message\//,
      method: "PUT",
      userId: puppet,
      count: 8,
      retryAfterMs: 1_000,
      retryAfterHeader: false,
      includeExemptAppServices: true,
    });
    await bob.send(aliceJid, "bob while limited 1");
    await bob.send(aliceJid, "bob while limited 2");
    await until("Bob's message refused", () => limit.refusedAt.length >= 1);
    const sent = Date.now();
    await carol.send(aliceJid, "Carol meanwhile");
    await alice.waitForPuppetText(carolPortal, "Carol meanwhile");
    const carolMs = Date.now() - sent;
    // Carol's message went by while Bob's were still being retried.
    expect(limit.remaining).toBeGreaterThan(0);
    expect(carolMs).toBeLessThan(5_000);
    await alice.waitForPuppetText(portal, "bob while limited 2", 30_000);
    const bodies = await alice.bodiesFrom(portal, (u) => u === puppet);
    expect(bodies.filter((b) => b.startsWith("bob while limited"))).toEqual([
      "bob while limited 1",
      "bob while limited 2",
    ]);
  });

  it("answers commands that came in while the bridge was unreachable", async () => {
    hs.setAppServiceReachable(AS_ID, false);
    const asked = await alice.say(mgmt, "ping");
    await until("a failed push", () => hs.appServiceDelivery(AS_ID).failedAttempts >= 1);
    hs.setAppServiceReachable(AS_ID, true);
    const pong = await alice.noticeAfter(mgmt, asked);
    expect(pong.getContent().body).toBe(
      "Pong: the bridge is running, your Gatekeeper connection is connected.",
    );
    expect(hs.internalErrors).toEqual([]);
  });
});
