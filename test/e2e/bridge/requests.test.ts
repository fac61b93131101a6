/**
 * Scenario 3: a gatekeeper user the Matrix user never wrote to writes first. The chat opens
 * as a message request (a notice with accept/block); accepting (or answering) makes it a
 * normal chat; blocking stops the contact's messages without telling them, as the
 * gatekeeper's own apps do; unblocking lets them through again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeWorld, COMMAND_PREFIX } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";

describe("message requests, block and unblock", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let mgmt: string;
  let alicePhone: string;

  beforeAll(async () => {
    w = await BridgeWorld.create("requests");
    await w.startBridge();
    alice = await w.matrixUser("alice");
    alicePhone = w.newPhone();
    mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, alicePhone, w.codeFor);
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  /** A native user who found Alice in the directory and writes to her first. */
  async function stranger(name: string, first: string) {
    const user = await w.nativeUser(name);
    const aliceJid = await user.lookup(alicePhone);
    expect(aliceJid).toBeDefined();
    await user.send(aliceJid!, first);
    const room = await alice.acceptPortalInvite();
    await alice.waitForPuppetText(room, first);
    return { user, aliceJid: aliceJid!, room };
  }

  it("opens a chat from an unknown contact as a request; `accept` makes it a normal chat", async () => {
    const { user: carol, room } = await stranger("Carol", "hi, we met yesterday");
    const notice = await alice.waitForNotice(room, (b) => b.startsWith("Message request"));
    expect(notice.getContent().body).toContain("Send `accept` to chat with them, or `block`");
    expect(await alice.command(mgmt, "status")).toContain(
      "Chats: 0, message requests: 1, blocked: 0.",
    );

    expect(await alice.command(room, "accept")).toBe(
      "Accepted: this is a normal chat now, and what you send here goes to them.",
    );
    expect(await alice.command(room, `${COMMAND_PREFIX} accept`)).toBe(
      "This chat is not a message request; there is nothing to accept.",
    );
    expect(await alice.command(mgmt, "status")).toContain(
      "Chats: 1, message requests: 0, blocked: 0.",
    );

    // A normal chat: the bare words are messages to Carol now, not commands.
    await alice.say(room, "block");
    await alice.say(room, "nice to hear from you");
    await carol.waitForText("nice to hear from you");
    expect(carol.texts()).toEqual(["block", "nice to hear from you"]);
  });

  it("accepts a request when the user simply answers it", async () => {
    const { user: erin, room } = await stranger("Erin", "hello?");
    const answer = await alice.say(room, "hello Erin");
    const accepted = await alice.noticeAfter(room, answer);
    expect(accepted.getContent().body).toBe("You answered, so the message request is accepted.");
    await erin.waitForText("hello Erin");
  });

  it("blocks a request: the contact's messages stop, and they are not told", async () => {
    const { user: dave, aliceJid, room } = await stranger("Dave", "buy my stuff");
    expect(await alice.command(room, "block")).toBe(
      "Blocked this contact: they cannot reach you any more. Send `unblock` to undo it.",
    );
    expect(await alice.command(mgmt, "contacts")).toContain("(blocked)");

    // The gatekeeper acks Dave's message as if it was delivered.
    await expect(dave.send(aliceJid, "still there?")).resolves.toBeUndefined();
    // A later message from someone else is through, so Dave's would have been as well.
    const { room: frankRoom } = await stranger("Frank", "marker after the block");
    expect(frankRoom).not.toBe(room);
    expect(await alice.bodiesFrom(room, w.identity.isPuppet)).toEqual(["buy my stuff"]);

    // What Alice writes to a blocked contact is refused, with the reason.
    const sorry = await alice.say(room, "sorry");
    expect(String((await alice.noticeAfter(room, sorry)).getContent().body)).toBe(
      "Your message was not delivered: you blocked this contact (send `unblock` here to undo it).",
    );
    expect(dave.texts()).toEqual([]);

    expect(await alice.command(mgmt, `unblock ${dave.phone}`)).toBe(`Unblocked ${dave.phone}.`);
    expect(await alice.command(mgmt, "status")).toContain("blocked: 0.");
    await dave.send(aliceJid, "thanks for unblocking");
    await alice.waitForPuppetText(room, "thanks for unblocking");
    expect(await alice.bodiesFrom(room, w.identity.isPuppet)).toEqual([
      "buy my stuff",
      "thanks for unblocking",
    ]);
    await alice.say(room, "welcome back");
    await dave.waitForText("welcome back");
  });

  it("blocks by number from the management room, before any chat exists", async () => {
    const gina = await w.nativeUser("Gina");
    expect(await alice.command(mgmt, `block ${gina.phone}`)).toBe(
      `Blocked ${gina.phone}: they cannot reach you any more. Send \`unblock ${gina.phone}\` to undo it.`,
    );
    expect(await alice.command(mgmt, `start ${gina.phone}`)).toBe(
      `You blocked this contact. Send \`unblock ${gina.phone}\` first.`,
    );
    const aliceJid = (await gina.lookup(alicePhone))!;
    await gina.send(aliceJid, "anyone?");
    await stranger("Hank", "marker after Gina");
    expect(await alice.command(mgmt, "contacts")).toContain("Gina (blocked)");
    expect(alice.client.getRooms().some((r) => r.name.includes("Gina"))).toBe(false);
  });
});
