import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RequestFailedError } from "../../../src/core/request-error.js";
import { describeContent, textMessage } from "../../../src/gatekeeper/content/index.js";
import { testDatabases } from "../db/databases.js";
import { CoreFixture, eventually, newPhone } from "./fixture.js";
import type { NativeUser } from "./fixture.js";

const ALICE = "@alice:test.local";

/** The text of a native user's received messages, in order. */
function texts(user: NativeUser): string[] {
  return user.received.map((m) => {
    const c = describeContent(m.content);
    return c.kind === "text" ? c.text : `<${c.kind}>`;
  });
}

describe.each(testDatabases())(
  "relaying text both ways (sandbox, real clients, %s)",
  (database) => {
    let f: CoreFixture;
    let mgmt: string;
    let alicePhone: string;

    async function openChat(friend: NativeUser): Promise<string> {
      const [reply] = await f.command(ALICE, mgmt, `start ${friend.phone}`);
      expect(reply).toContain("Started a chat with");
      const login = (await f.core.repos.logins.getByMxid(ALICE))!;
      const portal = await f.core.repos.portals.getByContact(login.id, friend.jid);
      return portal!.roomId!;
    }

    async function aliceJid(): Promise<string> {
      return (await f.core.repos.logins.getByMxid(ALICE))!.jid!;
    }

    beforeEach(async () => {
      f = await CoreFixture.start({
        database,
        maxSendAttempts: 10,
        limits: { messagesPerWindow: 3, messageWindowMs: 500 },
      });
      alicePhone = newPhone();
      mgmt = await f.login(ALICE, alicePhone);
    });
    afterEach(async () => {
      await f.close();
    });

    it("starts a chat: a DM room made by the contact's puppet, in the user's space", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      const spec = f.matrix.rooms.get(room)!;
      expect(spec.userMxid).toBe(ALICE);
      expect(spec.bridgeInfo).toMatchObject({ channelId: bob.jid, protocolName: "Gatekeeper" });
      expect(spec.puppetMxid).not.toContain(bob.phone.slice(1));
      expect(f.matrix.puppets.get(bob.jid)).toBe("Bob");
      expect(f.matrix.spaceChildren).toContainEqual({
        spaceId: f.matrix.spaces.get(ALICE),
        roomId: room,
      });

      // Starting it again re-invites instead of making a second room.
      const [again] = await f.command(ALICE, mgmt, `start ${bob.phone}`);
      expect(again).toContain("again");
      expect(f.matrix.rooms.size).toBe(1);
      expect(f.matrix.invites.filter((i) => i.roomId === room)).toHaveLength(2);
    });

    it("says so when a number cannot be reached", async () => {
      const shy = newPhone();
      await f.sandbox.admin.addUser({ phone: shy, name: "Shy" }); // interop off
      const [reply] = await f.command(ALICE, mgmt, `start ${shy}`);
      expect(reply).toContain("cannot be reached on Gatekeeper");
      expect(f.matrix.rooms.size).toBe(0);
      const [own] = await f.command(ALICE, mgmt, `start ${alicePhone}`);
      expect(own).toContain("your own number");
    });

    it("relays text both ways, with the markup, and maps the messages", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      const eventId = await f.write(ALICE, room, "hello *world*");
      const [got] = await bob.waitFor(1);
      expect(describeContent(got!.content)).toEqual({ kind: "text", text: "hello *world*" });
      expect(got!.from).toBe(await aliceJid());
      await f.matrix.until(() =>
        f.matrix.statuses.find((s) => s.eventId === eventId && s.status.status === "sent"),
      );
      const sentMap = await f.core.repos.messageMap.getByEvent(eventId);
      expect(sentMap).toMatchObject({ remoteId: got!.id, remoteSender: await aliceJid() });

      // Bob answers, quoting Alice's message.
      await bob.client.sendMessage(
        await aliceJid(),
        textMessage("hi _Alice_", { contextInfo: { stanzaId: got!.id } }),
      );
      const incoming = await f.matrix.until(() =>
        f.matrix.inRoom(room).find((e) => e.kind === "message"),
      );
      expect(incoming.sender).toBe(f.matrix.rooms.get(room)!.puppetMxid);
      // An answer to Alice's own message mentions her (m.mentions), as a Matrix reply would.
      expect(incoming.content).toEqual({
        kind: "text",
        text: "hi _Alice_",
        replyTo: eventId,
        mentions: [ALICE],
      });
      // The mapping is stored right after the post (and before the ack).
      const mapping = await eventually(() => f.core.repos.messageMap.getByEvent(incoming.eventId));
      expect(mapping.remoteSender).toBe(bob.jid);
    });

    it("keeps the order of a burst, retrying what the gatekeeper rate-limits", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      const sent = ["one", "two", "three", "four", "five", "six"];
      const events: string[] = [];
      for (const text of sent) events.push(await f.write(ALICE, room, text));
      await bob.waitFor(sent.length, 20_000);
      expect(texts(bob)).toEqual(sent);
      // At 3 per half second some had to wait: they were reported as retrying, then sent.
      const statuses = (id: string): string[] =>
        f.matrix.statuses.filter((s) => s.eventId === id).map((s) => s.status.status);
      await f.matrix.until(() => events.every((id) => statuses(id).includes("sent")));
      expect(events.some((id) => statuses(id).includes("retrying"))).toBe(true);
    });

    it("tells the room when a message cannot be delivered", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      await f.sandbox.admin.updateSettings(bob.phone, { enabled: false });
      const eventId = await f.write(ALICE, room, "are you there?");
      const failed = await f.matrix.until(() =>
        f.matrix.statuses.find((s) => s.eventId === eventId && s.status.status === "failed"),
      );
      expect(failed.status).toMatchObject({ reason: expect.stringContaining("cannot be reached") });
      const notice = await f.matrix.until(() =>
        f.matrix.notices(room).find((n) => n.startsWith("Your message was not delivered")),
      );
      expect(notice).toContain("cannot be reached on Gatekeeper");
      expect((await f.core.repos.outbox.getByEvent(eventId))?.state).toBe("failed");
    });

    it("refuses what cannot be sent at once, with a notice", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      const eventId = await f.write(ALICE, room, "", {
        kind: "unsupported",
        description: "an image",
      });
      expect(f.matrix.notices(room).join()).toContain("an image cannot be sent to Gatekeeper");
      expect(f.matrix.statuses).toContainEqual(
        expect.objectContaining({ eventId, status: expect.objectContaining({ status: "failed" }) }),
      );
      expect(await f.core.repos.outbox.getByEvent(eventId)).toBeUndefined();
    });

    it("sends what was queued while the bridge was down after it restarts, once", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      await f.write(ALICE, room, "before");
      await bob.waitFor(1);
      await f.stopCore();
      await f.write(ALICE, room, "while down 1");
      await f.write(ALICE, room, "while down 2");
      await f.startCore();
      await bob.waitFor(3);
      expect(texts(bob)).toEqual(["before", "while down 1", "while down 2"]);
    });

    it("turns a message the homeserver refuses for good into a notice at once, and goes on", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      f.matrix.refuse = (content) =>
        content.kind === "text" && content.text.startsWith("huge")
          ? new RequestFailedError(
              "permanent",
              "M_TOO_LARGE",
              "the homeserver refused the bridged message: M_TOO_LARGE (event too large)",
            )
          : undefined;
      const before = f.matrix.sendAttempts;
      await bob.client.sendMessage(await aliceJid(), textMessage("huge words"));
      await bob.client.sendMessage(await aliceJid(), textMessage("and a small one"));
      await f.matrix.until(() =>
        f.matrix.inRoom(room).some((e) => e.kind === "message" && e.text === "and a small one"),
      );
      const shown = f.matrix.inRoom(room).map((e) => `${e.kind}: ${e.text}`);
      expect(shown.slice(-2)).toEqual([
        "notice: This contact sent a message that cannot be shown here: " +
          "the homeserver refused the bridged message: M_TOO_LARGE (event too large).",
        "message: and a small one",
      ]);
      // Tried once, not retried (a retry would get the same answer and hold up the rest).
      expect(f.matrix.sendAttempts - before).toBe(2);
      // Handled: the notice stands for the message, a redelivery is skipped.
      const login = (await f.core.repos.logins.getByMxid(ALICE))!;
      const portal = (await f.core.repos.portals.getByContact(login.id, bob.jid))!;
      const mapped = await f.core.repos.messageMap.latest(portal.id, bob.jid);
      expect(mapped?.remoteId).toBeDefined();
    });

    it("posts a message once when the homeserver's answer was lost and it comes again", async () => {
      const bob = await f.nativeUser("Bob");
      const room = await openChat(bob);
      // Posted, but every answer lost: relay-in gives up, the message stays unacked.
      f.matrix.failAfterPosting = 3;
      await bob.client.sendMessage(await aliceJid(), textMessage("do you get this once?"));
      await f.matrix.until(() => f.matrix.failAfterPosting === 0);
      // A new connection gets the message again; the stable txn key gives the same event back.
      await f.stopCore();
      await f.startCore();
      const login = (await f.core.repos.logins.getByMxid(ALICE))!;
      const portal = (await f.core.repos.portals.getByContact(login.id, bob.jid))!;
      const map = await eventually(() => f.core.repos.messageMap.latest(portal.id, bob.jid));
      const messages = f.matrix.inRoom(room).filter((e) => e.kind === "message");
      expect(messages.map((e) => e.text)).toEqual(["do you get this once?"]);

      // Handed over again by the network (a redelivery after the ack was lost): skipped.
      await f.core.onMessage(login.id, {
        id: map.remoteId,
        sender: bob.jid,
        timestamp: Date.now(),
        offline: true,
        content: { kind: "text", text: "do you get this once?" },
      });
      expect(f.matrix.inRoom(room).filter((e) => e.kind === "message")).toHaveLength(1);
    });
  },
);
