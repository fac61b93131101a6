/**
 * The product end to end, once: a Matrix user (matrix-js-sdk) DMs the bot, logs in with the
 * code the sandbox "texted" them, starts a chat with a native gatekeeper user, and both
 * exchange formatted text. Runs against the in-process homeserver, or a real one when
 * E2E_HOMESERVER_URL is set (see test/harness/README.md and ./fixture.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeContent } from "../../../src/gatekeeper/content/index.js";
import { BridgeWorld } from "./fixture.js";

describe("bridge smoke test: login, start, text both ways", () => {
  let w: BridgeWorld;

  beforeAll(async () => {
    w = await BridgeWorld.create("smoke");
    await w.startBridge();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  it("logs in through the bot, starts a chat and relays text both ways", async () => {
    const alice = await w.matrixUser("alice");
    const bob = await w.nativeUser("Bob");
    const alicePhone = w.newPhone();

    const mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, alicePhone, w.codeFor);
    const portal = await alice.startChat(mgmt, bob.phone);

    await alice.send(portal, {
      msgtype: "m.text",
      body: "hello world",
      format: "org.matrix.custom.html",
      formatted_body: "hello <strong>world</strong>",
    });
    const received = await bob.waitFor(() => true, "a message");
    expect(describeContent(received.content)).toEqual({ kind: "text", text: "hello *world*" });

    await bob.send(received.from, "hi _Alice_");
    const reply = await alice.waitForPuppetText(portal, "hi _Alice_");
    expect(w.identity.isPuppet(reply.getSender()!)).toBe(true);
    expect(reply.getContent().formatted_body).toBe("hi <em>Alice</em>");
  }, 60_000);
});
