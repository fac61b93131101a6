/**
 * A contact's identity key change through the whole bridge: the native user starts a new
 * identity (as after reinstalling the app) and writes again. The portal is told, and
 * `safety-number` shows the new number, the same one the contact's own app computes. With
 * bridge.identity_change "hold", the user's messages wait until `confirm-identity`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge } from "../../../src/bridge.js";
import type { RunningBridge } from "../../../src/bridge.js";
import { parseConfig } from "../../../src/config/index.js";
import { AppServiceRegistration } from "../../../src/matrix/appservice-bridge.js";
import { BridgeWorld, COMMAND_PREFIX } from "../bridge/fixture.js";
import type { MatrixActor } from "../bridge/matrix-actor.js";
import type { NativeActor } from "../bridge/native-actor.js";
import { textOf } from "../bridge/native-actor.js";

interface Chat {
  w: BridgeWorld;
  bridge: RunningBridge;
  alice: MatrixActor;
  bob: NativeActor;
  portal: string;
  aliceJid: string;
}

/** A world whose bridge runs with `identity_change`, Alice and Bob chatting already. */
async function chat(name: string, identityChange: "keep-sending" | "hold"): Promise<Chat> {
  const w = await BridgeWorld.create(name);
  const raw = w.rawConfig();
  (raw.bridge as Record<string, unknown>).identity_change = identityChange;
  const bridge = await startBridge(
    parseConfig(raw, "e2e config", {}),
    AppServiceRegistration.fromObject(w.registration as never),
    w.listen,
  );
  const alice = await w.matrixUser("alice");
  const bob = await w.nativeUser("Bob");
  const alicePhone = w.newPhone();
  const mgmt = await alice.openManagementRoom();
  await alice.login(mgmt, alicePhone, w.codeFor);
  const portal = await alice.startChat(mgmt, bob.phone);
  const aliceJid = (await bob.lookup(alicePhone))!;
  await alice.say(portal, "hello Bob");
  await bob.waitForText("hello Bob");
  await bob.send(aliceJid, "hello Alice");
  await alice.waitForPuppetText(portal, "hello Alice");
  return { w, bridge, alice, bob, portal, aliceJid };
}

async function close(c: Chat | undefined): Promise<void> {
  await c?.bridge.stop();
  await c?.w.close();
}

/** The digits of the safety number in the bridge's answer (12 groups of 5). */
function digitsOf(answer: string): string {
  const lines = answer.match(/^\d{5} \d{5} \d{5} \d{5}$/gm) ?? [];
  expect(lines).toHaveLength(3);
  return lines.join("").replace(/ /g, "");
}

/** Bob reinstalls: a new identity, a new connection, and he writes again. */
async function bobStartsOver(c: Chat, text: string): Promise<void> {
  await c.bob.client.resetIdentity();
  await c.bob.client.stop();
  await c.bob.client.start();
  await c.bob.send(c.aliceJid, text);
  await c.alice.waitForPuppetText(c.portal, text);
}

const CHANGED = "Bob's security code changed";

describe("identity change, keep sending (the default)", () => {
  let c: Chat;

  beforeAll(async () => {
    c = await chat("identity-keep", "keep-sending");
  }, 60_000);
  afterAll(() => close(c));

  it("tells the portal, shows the new safety number, and keeps sending", async () => {
    const before = digitsOf(await c.alice.command(c.portal, `${COMMAND_PREFIX} safety-number`));
    expect(before).toHaveLength(60);
    expect(before).toBe(await c.bob.client.fingerprint(c.aliceJid));

    await bobStartsOver(c, "new phone, same Bob");
    const notice = await c.alice.waitForNotice(c.portal, (b) => b.includes(CHANGED));
    expect(String(notice.getContent().body)).toContain(`${COMMAND_PREFIX} safety-number`);

    const answer = await c.alice.command(c.portal, `${COMMAND_PREFIX} safety-number`);
    const after = digitsOf(answer);
    expect(after).not.toBe(before);
    expect(after).toBe(await c.bob.client.fingerprint(c.aliceJid));
    expect(answer).toContain("confirm-identity");

    await c.alice.say(c.portal, "still reaches you");
    await c.bob.waitForText("still reaches you");
  }, 60_000);
});

describe("identity change, hold until confirmed", () => {
  let c: Chat;

  beforeAll(async () => {
    c = await chat("identity-hold", "hold");
  }, 60_000);
  afterAll(() => close(c));

  it("holds Alice's messages until she confirms, then sends them in order", async () => {
    await bobStartsOver(c, "reinstalled");
    const notice = await c.alice.waitForNotice(c.portal, (b) => b.includes(CHANGED));
    expect(String(notice.getContent().body)).toContain("held");

    await c.alice.say(c.portal, "held one");
    await c.alice.say(c.portal, "held two");
    await c.alice.waitForNotice(c.portal, (b) => b.includes("Your messages to Bob are held"));
    // The hold is told when the send was refused: nothing went out.
    expect(c.bob.texts()).not.toContain("held one");

    const confirmed = await c.alice.command(c.portal, `${COMMAND_PREFIX} confirm-identity`);
    expect(confirmed).toContain("held messages are being sent");
    await c.bob.waitForText("held two");
    const texts = c.bob.received.map(textOf);
    expect(texts.filter((t) => t.startsWith("held "))).toEqual(["held one", "held two"]);

    const answer = await c.alice.command(c.portal, `${COMMAND_PREFIX} safety-number`);
    expect(digitsOf(answer)).toBe(await c.bob.client.fingerprint(c.aliceJid));
    expect(answer).not.toContain("confirm-identity");

    await c.alice.say(c.portal, "after confirming");
    await c.bob.waitForText("after confirming");
  }, 60_000);
});
