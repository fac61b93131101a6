/**
 * Hostile contacts, part 1: messages too large for one Matrix event, and words meant to
 * notify a whole room. A native gatekeeper user writes to Alice as an attacker would: a text
 * over the homeserver's 64 KiB event limit, a wall of newlines, thousands of nested quotes, a
 * huge caption, "@room". Alice must see all of it (or be told what could not be shown), and
 * a message from an unrelated contact must come through meanwhile as quickly as ever.
 */
import { randomBytes } from "node:crypto";
import type { MatrixEvent } from "matrix-js-sdk";
import { NotificationCountType } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatrixActor } from "../bridge/matrix-actor.js";
import type { NativeActor } from "../bridge/native-actor.js";
import { MediaWorld, matrixDownload, nativeSendMedia } from "../bridge-media/media-world.js";

/** Long enough to be plainly wrong, short enough not to mask a stall of the old kind (2 min). */
const UNRELATED_WAIT_MS = 20_000;

describe("hostile contacts: oversize messages and mentions", () => {
  let w: MediaWorld;
  let alice: MatrixActor;
  let bob: NativeActor;
  let carol: NativeActor;
  let portal: string;
  let carolPortal: string;
  let aliceJid: string;

  beforeAll(async () => {
    w = await MediaWorld.create("hostile-oversize");
    await w.startBridge();
    ({ alice, bob, portal, aliceJid } = await w.aliceChattingWithBob());
    carol = await w.world.nativeUser("Carol");
    await carol.send(aliceJid, "hi, Carol here");
    carolPortal = await alice.acceptPortalInvite();
    await alice.waitForPuppetText(carolPortal, "hi, Carol here");
  }, 90_000);

  afterAll(async () => {
    await w?.close();
  });

  /**
   * Bob's attack runs while Carol writes: resolves with what Alice sees of Bob's message and
   * how long Carol's took to reach her.
   */
  async function whileBobAttacks(
    attack: () => Promise<void>,
    seen: (e: MatrixEvent) => boolean,
  ): Promise<{ event: MatrixEvent; carolMs: number }> {
    const marker = `carol ${randomBytes(4).toString("hex")}`;
    const shown = alice.waitForMessage(portal, seen, 30_000);
    await attack();
    const sent = Date.now();
    await carol.send(aliceJid, marker);
    await alice.waitForPuppetText(carolPortal, marker, UNRELATED_WAIT_MS);
    const carolMs = Date.now() - sent;
    const event = await shown;
    process.stdout.write(`unrelated contact's message during the attack: ${carolMs} ms\n`);
    return { event, carolMs };
  }

  it("posts a text over the event limit as message.txt holding all of it, with its beginning shown", async () => {
    const text = `start of a long one ${"0123456789abcdef".repeat(4_400)} the end`;
    expect(text.length).toBeGreaterThan(65_536);
    const { event, carolMs } = await whileBobAttacks(
      () => bob.send(aliceJid, text),
      (e) => e.getContent().filename === "message.txt",
    );
    const content = event.getContent();
    expect(content.msgtype).toBe("m.file");
    expect(String(content.body)).toMatch(/^start of a long one 0123/);
    expect(String(content.body)).toContain(
      `too long to show here: ${text.length.toLocaleString("en-GB")} characters. ` +
        "All of it is in the attached file message.txt.",
    );
    expect(content["m.mentions"]).toEqual({});
    const file = await matrixDownload(w.world.target.url, alice, String(content.url));
    expect(file.toString("utf8")).toBe(text);
    expect(carolMs).toBeLessThan(UNRELATED_WAIT_MS);
  });

  it("posts 100,000 newlines as a file too, the caption a few lines long", async () => {
    const text = `top${"\n".repeat(100_000)}bottom`;
    const { event } = await whileBobAttacks(
      () => bob.send(aliceJid, text),
      (e) =>
        e.getContent().filename === "message.txt" && String(e.getContent().body).startsWith("top"),
    );
    const body = String(event.getContent().body);
    expect(body.split("\n").length).toBeLessThan(40);
    const file = await matrixDownload(w.world.target.url, alice, String(event.getContent().url));
    expect(file.toString("utf8")).toBe(text);
  });

  it("caps the nesting of quotes in the HTML it makes", async () => {
    const text = `${"> ".repeat(10_000)}deep`;
    const { event } = await whileBobAttacks(
      () => bob.send(aliceJid, text),
      (e) => String(e.getContent().body).endsWith("deep"),
    );
    const html = String(event.getContent().formatted_body ?? "");
    expect(html.split("<blockquote>").length - 1).toBeLessThanOrEqual(32);
  });

  it("shortens a caption too long for one event, says so, and still shows the image", async () => {
    const caption = `look ${"x".repeat(70_000)}`;
    const png = randomBytes(2048);
    const { event } = await whileBobAttacks(
      () =>
        nativeSendMedia(bob, aliceJid, "image", png, {
          mimetype: "image/png",
          options: { caption },
        }),
      (e) => e.getContent().msgtype === "m.image",
    );
    const content = event.getContent();
    expect(String(content.body)).toMatch(/^look x/);
    expect(String(content.body)).toContain("The caption was shortened");
    const file = await matrixDownload(w.world.target.url, alice, String(content.url));
    expect(file.equals(png)).toBe(true);
  });

  it("lets no contact notify the whole room: m.mentions is empty and the puppet holds no power", async () => {
    await bob.send(aliceJid, "@room wake up");
    const event = await alice.waitForPuppetText(portal, "@room wake up");
    expect(event.getContent()["m.mentions"]).toEqual({});
    const levels = alice.client
      .getRoom(portal)!
      .currentState.getStateEvents("m.room.power_levels", "")!
      .getContent() as { users?: Record<string, number> };
    expect(levels.users?.[event.getSender()!] ?? 0).toBe(0);
    expect(levels.users?.[w.world.botMxid]).toBe(100);
    // Synapse still applies the legacy "@room" rule (it predates m.mentions): with the puppet
    // at power level 0 it does not highlight. The test homeserver never counts highlights.
    const room = alice.client.getRoom(portal)!;
    expect(room.getUnreadNotificationCount(NotificationCountType.Highlight)).toBe(0);
  });
});
