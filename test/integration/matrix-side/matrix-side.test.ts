import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortalRoomSpec } from "../../../src/core/matrix-side.js";
import type { MatrixSideHandle } from "../../../src/matrix/appservice.js";
import { defaultPortalTopic } from "../../../src/matrix/room-content.js";
import { TXN_MARKER } from "../../../src/matrix/txn-id.js";
import {
  joinRoom,
  loginMatrixClient,
  sendText,
  stopMatrixClient,
  waitForInvite,
  waitForRoomEvent,
} from "../../harness/matrix-user.js";
import type { MatrixClient } from "../../harness/matrix-user.js";
import { createFixture, RecordingSink } from "./fixture.js";
import type { Fixture } from "./fixture.js";

const CONTACT = "482910375561204@lid.gk";

let fx: Fixture;
let handle: MatrixSideHandle;
let sink: RecordingSink;
let alice: MatrixClient;
let aliceId: string;

beforeEach(async () => {
  fx = await createFixture();
  handle = await fx.start();
  sink = new RecordingSink();
  handle.intake.setSink(sink);
  const user = await fx.hs.registerUser("alice");
  aliceId = user.userId;
  alice = await loginMatrixClient(fx.hs.url, "alice", user.password);
});

afterEach(async () => {
  stopMatrixClient(alice);
  await fx.close();
});

function portalSpec(puppetMxid: string): PortalRoomSpec {
  return {
    puppetMxid,
    userMxid: aliceId,
    name: "Bob",
    topic: defaultPortalTopic("Bob"),
    bridgeInfo: {
      protocolId: "gatekeeper",
      protocolName: "Gatekeeper",
      channelId: CONTACT,
      channelName: "Bob",
    },
  };
}

/** A portal Alice has joined. */
async function openPortal(): Promise<{ puppet: string; roomId: string }> {
  const puppet = await handle.matrixSide.ensurePuppet(CONTACT, "Bob");
  const roomId = await handle.matrixSide.createPortalRoom(portalSpec(puppet));
  await waitForInvite(alice, (r) => r.roomId === roomId);
  await joinRoom(alice, roomId);
  return { puppet, roomId };
}

describe("puppets and portals", () => {
  it("registers a puppet named from the templates", async () => {
    const puppet = await handle.matrixSide.ensurePuppet(CONTACT, "Bob");
    expect(puppet).toBe(`@gk_482910375561204:${fx.hs.serverName}`);
    expect(await handle.matrixSide.ensurePuppet(CONTACT, "Bob")).toBe(puppet);
    expect((await alice.getProfileInfo(puppet)).displayname).toBe("Bob (Gatekeeper)");
    await handle.matrixSide.ensurePuppet(CONTACT, undefined);
    expect((await alice.getProfileInfo(puppet)).displayname).toBe("Gatekeeper user");
  });

  it("creates a direct chat the user is invited to, with bridge info and the bot in it", async () => {
    const puppet = await handle.matrixSide.ensurePuppet(CONTACT, "Bob");
    const roomId = await handle.matrixSide.createPortalRoom(portalSpec(puppet));
    await waitForInvite(alice, (r) => r.roomId === roomId);
    const invite = alice.getRoom(roomId)!.currentState.getStateEvents("m.room.member", aliceId)!;
    expect(invite.getContent()).toMatchObject({ membership: "invite", is_direct: true });
    expect(invite.getSender()).toBe(puppet);

    await joinRoom(alice, roomId);
    const bridge = alice.getRoom(roomId)!.currentState.getStateEvents("m.bridge");
    expect(bridge).toHaveLength(1);
    expect(bridge[0]!.getContent()).toMatchObject({
      bridgebot: handle.matrixSide.botMxid,
      creator: puppet,
      protocol: { id: "gatekeeper" },
      channel: { id: CONTACT, displayname: "Bob" },
    });
    const topic = (await alice.getStateEvent(roomId, "m.room.topic", "")) as { topic: string };
    expect(topic.topic).toContain("End-to-end encryption ends at the bridge");
    expect(fx.hs.members(roomId)[handle.matrixSide.botMxid]).toBe("join");
  });
});

describe("sending", () => {
  it("sends a message once per txnKey, returning the same event id on a retry", async () => {
    const { puppet, roomId } = await openPortal();
    const content = { kind: "text", text: "*hello* there" } as const;
    const first = await handle.matrixSide.sendMessage(
      roomId,
      puppet,
      content,
      "login1/msg-1",
      1_700_000_000_000,
    );
    const again = await handle.matrixSide.sendMessage(
      roomId,
      puppet,
      content,
      "login1/msg-1",
      1_700_000_000_000,
    );
    expect(again).toBe(first);
    const other = await handle.matrixSide.sendMessage(roomId, puppet, content, "login1/msg-2");
    expect(other).not.toBe(first);

    const seen = await waitForRoomEvent(alice, (e) => e.getId() === first);
    expect(seen.getSender()).toBe(puppet);
    expect(seen.getTs()).toBe(1_700_000_000_000);
    expect(seen.getContent()).toMatchObject({
      msgtype: "m.text",
      format: "org.matrix.custom.html",
    });
    expect(seen.getContent().formatted_body).toContain("<strong>hello</strong>");
    const copies = fx.hs
      .timeline(roomId)
      .filter((e) => e.type === "m.room.message" && e.sender === puppet);
    expect(copies).toHaveLength(2);
  });

  it("sends a bridge send status from the bot, referencing the user's event", async () => {
    const { roomId } = await openPortal();
    const eventId = await sendText(alice, roomId, "to Bob");
    await handle.matrixSide.sendStatus(roomId, eventId, {
      status: "failed",
      reason: "Bob is not reachable",
    });
    const status = await waitForRoomEvent(
      alice,
      (e) => e.getType() === "com.beeper.message_send_status",
    );
    expect(status.getSender()).toBe(handle.matrixSide.botMxid);
    expect(status.getContent()).toEqual({
      network: "Gatekeeper",
      "m.relates_to": { rel_type: "m.reference", event_id: eventId },
      status: "FAIL_PERMANENT",
      reason: "m.foreign_network_error",
      message: "Bob is not reachable",
      // Every event the bridge posts carries its txn id (see src/matrix/txn-id.ts).
      [TXN_MARKER]: expect.stringMatching(/^gkb\./),
    });
  });

  it("sends again at once when the connection breaks under a send, and posts it once", async () => {
    const { puppet, roomId } = await openPortal();
    const reset = fx.hs.rateLimit({
      path: "/send/",
      userId: puppet,
      reset: true,
      includeExemptAppServices: true,
    });
    const eventId = await handle.matrixSide.sendMessage(
      roomId,
      puppet,
      { kind: "text", text: "through a reset" },
      "login1/reset-1",
    );
    expect(reset.refusedAt).toHaveLength(1);
    const event = await waitForRoomEvent(alice, (e) => e.getId() === eventId);
    expect(event.getContent().body).toBe("through a reset");
    const copies = alice
      .getRoom(roomId)!
      .getLiveTimeline()
      .getEvents()
      .filter((e) => e.getContent().body === "through a reset");
    expect(copies).toHaveLength(1);
  });

  it("waits out M_LIMIT_EXCEEDED and then sends", async () => {
    const { puppet, roomId } = await openPortal();
    const limit = fx.hs.rateLimit({
      path: "/send/",
      userId: puppet,
      count: 1,
      retryAfterMs: 50,
      includeExemptAppServices: true,
    });
    const eventId = await handle.matrixSide.sendMessage(
      roomId,
      puppet,
      { kind: "text", text: "slow" },
      "k1",
    );
    expect(limit.refusedAt).toHaveLength(1);
    expect((await waitForRoomEvent(alice, (e) => e.getId() === eventId)).getContent().body).toBe(
      "slow",
    );
  });

  it("sends notices as the bot or a puppet, and read receipts", async () => {
    const { puppet, roomId } = await openPortal();
    const fromBot = await handle.matrixSide.sendNotice(roomId, "from the bridge");
    const fromPuppet = await handle.matrixSide.sendNotice(roomId, "from Bob", puppet);
    const a = await waitForRoomEvent(alice, (e) => e.getId() === fromBot);
    const b = await waitForRoomEvent(alice, (e) => e.getId() === fromPuppet);
    expect([a.getSender(), a.getContent().msgtype]).toEqual([
      handle.matrixSide.botMxid,
      "m.notice",
    ]);
    expect(b.getSender()).toBe(puppet);
    const mine = await sendText(alice, roomId, "read me");
    await handle.matrixSide.sendReadReceipt(roomId, puppet, mine);
    await expect(
      waitUntil(() => alice.getRoom(roomId)?.getEventReadUpTo(puppet) === mine),
    ).resolves.toBeUndefined();
  });

  it("leave is idempotent", async () => {
    const { puppet, roomId } = await openPortal();
    await handle.matrixSide.leave(roomId, puppet);
    await handle.matrixSide.leave(roomId, puppet);
    expect(fx.hs.members(roomId)[puppet]).toBe("leave");
  });
});

describe("the user's space", () => {
  it("is created once, invites the user and holds the portal", async () => {
    const { roomId } = await openPortal();
    const spaceId = await handle.matrixSide.ensureSpace(aliceId);
    const [again, concurrent] = await Promise.all([
      handle.matrixSide.ensureSpace(aliceId),
      handle.matrixSide.ensureSpace(aliceId),
    ]);
    expect([again, concurrent]).toEqual([spaceId, spaceId]);
    await handle.matrixSide.addToSpace(spaceId, roomId);

    await waitForInvite(alice, (r) => r.roomId === spaceId);
    await joinRoom(alice, spaceId);
    const space = alice.getRoom(spaceId)!;
    expect(space.getType()).toBe("m.space");
    expect(space.name).toBe("Gatekeeper chats");
    expect(space.currentState.getStateEvents("m.space.child", roomId)?.getContent().via).toEqual([
      fx.hs.serverName,
    ]);
    const parent = (await alice.getStateEvent(roomId, "m.space.parent", spaceId)) as {
      canonical?: boolean;
    };
    expect(parent.canonical).toBe(true);
  });
});

describe("intake through the homeserver", () => {
  it("hands the user's formatted message to the core as markup", async () => {
    const { roomId } = await openPortal();
    const sent = await alice.sendHtmlMessage(roomId, "bold move", "<b>bold</b> move");
    await sink.until(() => sink.messages.some((m) => m.eventId === sent.event_id));
    const message = sink.messages.find((m) => m.eventId === sent.event_id)!;
    expect(message).toMatchObject({
      roomId,
      sender: aliceId,
      body: "bold move",
      content: { kind: "text", text: "*bold* move" },
    });
  });

  it("reports the bot's DM invite and lets the core join", async () => {
    const room = await alice.createRoom({ is_direct: true, invite: [handle.matrixSide.botMxid] });
    await sink.until(() => sink.invites.length === 1);
    expect(sink.invites[0]).toEqual({ roomId: room.room_id, inviter: aliceId, isDirect: true });
    await handle.matrixSide.join(room.room_id, handle.matrixSide.botMxid);
    await handle.matrixSide.join(room.room_id, handle.matrixSide.botMxid);
    expect(fx.hs.members(room.room_id)[handle.matrixSide.botMxid]).toBe("join");
  });

  it("never silence: a message the core cannot take gets a notice and a failed status", async () => {
    const { roomId } = await openPortal();
    sink.failAlways = true;
    const eventId = await sendText(alice, roomId, "lost?");
    const notice = await waitForRoomEvent(
      alice,
      (e) => e.getRoomId() === roomId && e.getContent().msgtype === "m.notice",
    );
    expect(notice.getSender()).toBe(handle.matrixSide.botMxid);
    expect(notice.getContent().body).toContain("could not be bridged");
    const status = await waitForRoomEvent(
      alice,
      (e) => e.getType() === "com.beeper.message_send_status",
    );
    expect(status.getContent()).toMatchObject({
      status: "FAIL_PERMANENT",
      "m.relates_to": { event_id: eventId },
    });
    expect(sink.attempts).toBe(3);
  });

  it("a reply the homeserver refuses is not retried, and the notice says what happened", async () => {
    const { roomId } = await openPortal();
    let attempts = 0;
    handle.intake.setSink({
      onRoomMessage: async (m) => {
        attempts += 1;
        // Over the 64 KiB event limit: 413 M_TOO_LARGE, which no retry changes.
        await handle.matrixSide.sendNotice(m.roomId, "x".repeat(70_000));
      },
      onBotInvited: async () => undefined,
      onMembership: async () => undefined,
    });
    const eventId = await sendText(alice, roomId, "echo me whole");
    const notice = await waitForRoomEvent(
      alice,
      (e) => e.getRoomId() === roomId && e.getContent().msgtype === "m.notice",
    );
    expect(notice.getContent().body).toBe(
      "The bridge gave up on your message: the homeserver refused the bridge's reply: " +
        "M_TOO_LARGE (event too large). Sending the same message again will not help.",
    );
    const status = await waitForRoomEvent(
      alice,
      (e) => e.getType() === "com.beeper.message_send_status",
    );
    expect(status.getContent()).toMatchObject({
      status: "FAIL_PERMANENT",
      "m.relates_to": { event_id: eventId },
    });
    expect(attempts).toBe(1);
  });

  it("sends well-formed text only: lone surrogates become U+FFFD", async () => {
    const puppet = await handle.matrixSide.ensurePuppet(CONTACT, "B\ud800b");
    expect((await alice.getProfileInfo(puppet)).displayname).toBe("B\ufffdb (Gatekeeper)");
    const { roomId } = await openPortal();
    await handle.matrixSide.sendNotice(roomId, "half a pair: \udc00");
    const notice = await waitForRoomEvent(
      alice,
      (e) => e.getRoomId() === roomId && e.getContent().msgtype === "m.notice",
    );
    expect(notice.getContent().body).toBe("half a pair: \ufffd");
  });

  it("resumes queued events after a restart of the Matrix side", async () => {
    const { roomId } = await openPortal();
    await handle.stop();
    // Down: the homeserver keeps retrying the transaction until the bridge is back.
    const eventId = await sendText(alice, roomId, "while you were out");
    handle = await fx.start();
    const resumed = new RecordingSink();
    handle.intake.setSink(resumed);
    await resumed.until(() => resumed.messages.some((m) => m.eventId === eventId));
    expect(resumed.bodies()).toEqual(["while you were out"]);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
