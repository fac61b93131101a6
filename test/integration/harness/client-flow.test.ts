import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientEvent, RoomEvent, RoomMemberEvent, UserEvent } from "matrix-js-sdk";
import type { MatrixError } from "matrix-js-sdk";
import { startTestHomeserver } from "../../harness/homeserver/index.js";
import type { TestHomeserver } from "../../harness/homeserver/index.js";
import {
  joinRoom,
  loginMatrixClient,
  sendText,
  startMatrixClient,
  stopMatrixClient,
  waitForInvite,
  waitForMembership,
  waitForRoomEvent,
  waitForText,
} from "../../harness/matrix-user.js";
import type { MatrixClient } from "../../harness/matrix-user.js";

const ALICE = "@alice:localhost";
const BOB = "@bob:localhost";

/** Resolve when `emitter` fires `event` with arguments satisfying `check`. */
function until<A extends unknown[]>(
  client: MatrixClient,
  event: string,
  check: (...args: A) => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const on = (...args: unknown[]): void => {
      if (!check(...(args as A))) return;
      clearTimeout(timer);
      client.off(event as never, on as never);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off(event as never, on as never);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    client.on(event as never, on as never);
  });
}

describe("test homeserver with matrix-js-sdk users", () => {
  let hs: TestHomeserver;
  let alice: MatrixClient;
  let bob: MatrixClient;
  let dm: string;
  const extraClients: MatrixClient[] = [];

  beforeAll(async () => {
    hs = await startTestHomeserver();
    await hs.registerUser("alice", "alice-password");
    await hs.registerUser("bob", "bob-password");
    alice = await loginMatrixClient(hs.url, "alice", "alice-password");
    bob = await loginMatrixClient(hs.url, "bob", "bob-password");
  });

  afterAll(async () => {
    for (const c of [alice, bob, ...extraClients]) stopMatrixClient(c);
    await hs.close();
  });

  it("logs in, creates a DM, and sees its own message with its transaction id", async () => {
    const created = await alice.createRoom({
      is_direct: true,
      invite: [BOB],
      preset: "trusted_private_chat" as never,
    });
    dm = created.room_id;
    const eventId = await sendText(alice, dm, "hello bob");
    const seen = await waitForText(alice, dm, "hello bob", ALICE);
    expect(seen.getId()).toBe(eventId);
    expect(seen.getUnsigned().transaction_id).toEqual(expect.any(String));
    expect(seen.getRoomId()).toBe(dm);
    expect(seen.getTs()).toBeGreaterThan(0);
  });

  it("invites a second user, who joins; both see each other's messages", async () => {
    const invited = await waitForInvite(bob, (r) => r.roomId === dm);
    const invite = bob.getRoom(invited)!.getMember(BOB)!.events.member!;
    expect(invite.getContent()).toMatchObject({ membership: "invite", is_direct: true });
    expect(invite.getSender()).toBe(ALICE);

    await joinRoom(bob, dm);
    await waitForMembership(alice, dm, BOB, "join");
    const fromAlice = await waitForText(bob, dm, "hello bob", ALICE);
    // The transaction id belongs to the sender's device only.
    expect(fromAlice.getUnsigned().transaction_id).toBeUndefined();

    await sendText(bob, dm, "hi alice");
    await waitForText(alice, dm, "hi alice", BOB);
    expect(bob.getRoom(dm)!.getJoinedMemberCount()).toBe(2);
  });

  it("answers a repeated transaction id with the same event, sent once", async () => {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(dm)}/send/m.room.message/retry-1`;
    const put = async (): Promise<string> => {
      const res = await fetch(hs.url + path, {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${alice.getAccessToken()}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ msgtype: "m.text", body: "only once" }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { event_id: string }).event_id;
    };
    const first = await put();
    expect(await put()).toBe(first);
    await sendText(alice, dm, "after the retries");
    await waitForText(bob, dm, "after the retries");
    const copies = bob
      .getRoom(dm)!
      .getLiveTimeline()
      .getEvents()
      .filter((e) => e.getContent().body === "only once");
    expect(copies.map((e) => e.getId())).toEqual([first]);
  });

  it("stores state events (bridge info, space links) and enforces power levels", async () => {
    const bridgeInfo = { bridgebot: "@gatekeeperbot:localhost", protocol: { id: "gatekeeper" } };
    await alice.sendStateEvent(
      dm,
      "m.bridge" as never,
      bridgeInfo as never,
      "gatekeeper://alice/bob",
    );
    await alice.sendStateEvent(
      dm,
      "m.space.parent" as never,
      { via: ["localhost"] } as never,
      "!space:localhost",
    );
    expect(await bob.getStateEvent(dm, "m.bridge", "gatekeeper://alice/bob")).toEqual(bridgeInfo);
    await expect(bob.getStateEvent(dm, "m.bridge", "absent")).rejects.toMatchObject({
      errcode: "M_NOT_FOUND",
      httpStatus: 404,
    });

    const space = await alice.createRoom({
      creation_content: { type: "m.space" },
      name: "Gatekeeper chats",
    });
    await alice.sendStateEvent(
      space.room_id,
      "m.space.child" as never,
      { via: ["localhost"] } as never,
      dm,
    );
    const state = await alice.roomState(space.room_id);
    expect(state.find((e) => e.type === "m.room.create")?.content).toMatchObject({
      type: "m.space",
      creator: ALICE,
    });
    expect(state.find((e) => e.type === "m.space.child")).toMatchObject({ state_key: dm });

    // A fresh private chat: bob has the default user level 0, state needs 50.
    const room = await alice.createRoom({ invite: [BOB], preset: "private_chat" as never });
    await waitForInvite(bob, (r) => r.roomId === room.room_id);
    await joinRoom(bob, room.room_id);
    const err = (await bob
      .setRoomTopic(room.room_id, "mine now")
      .catch((e: unknown) => e)) as MatrixError;
    expect(err.errcode).toBe("M_FORBIDDEN");
    expect(err.httpStatus).toBe(403);
  });

  it("redacts events for everyone", async () => {
    const id = await sendText(alice, dm, "regrettable");
    await waitForText(bob, dm, "regrettable");
    await alice.redactEvent(dm, id, undefined, { reason: "oops" });
    await waitForRoomEvent(
      bob,
      (e) => e.getType() === "m.room.redaction" && e.event.redacts === id,
    );
    const redacted = bob.getRoom(dm)!.findEventById(id)!;
    expect(redacted.isRedacted()).toBe(true);
    expect(redacted.getContent()).toEqual({});
  });

  it("shows typing notifications and read receipts to the other member", async () => {
    const typing = until<[unknown, { userId: string; typing: boolean }]>(
      bob,
      RoomMemberEvent.Typing,
      (_e, m) => m.userId === ALICE && m.typing,
    );
    await alice.sendTyping(dm, true, 10_000);
    await typing;

    const id = await sendText(bob, dm, "read me");
    const event = await waitForText(alice, dm, "read me", BOB);
    const receipt = until(bob, RoomEvent.Receipt, () =>
      bob.getRoom(dm)!.getUsersReadUpTo(event).includes(ALICE),
    );
    await alice.sendReadReceipt(event);
    await receipt;
    expect(bob.getRoom(dm)!.getEventReadUpTo(ALICE)).toBe(id);
  });

  it("keeps read markers and shares presence", async () => {
    const id = await sendText(bob, dm, "mark me");
    await waitForText(alice, dm, "mark me", BOB);
    const marker = until(
      alice,
      RoomEvent.AccountData,
      () => alice.getRoom(dm)!.getAccountData("m.fully_read")?.getContent().event_id === id,
    );
    await alice.setRoomReadMarkersHttpRequest(dm, id, id);
    await marker;

    const presence = until<
      [unknown, { userId: string; presence: string; presenceStatusMsg?: string }]
    >(bob, UserEvent.Presence, (_e, u) => u.userId === ALICE && u.presence === "unavailable");
    await alice.setPresence({ presence: "unavailable", status_msg: "busy" });
    await presence;
    expect(bob.getUser(ALICE)!.presenceStatusMsg).toBe("busy");
  });

  it("propagates a display name change into room membership", async () => {
    await alice.setDisplayName("Alice Liddell");
    await waitForRoomEvent(
      bob,
      (e) =>
        e.getRoomId() === dm &&
        e.getType() === "m.room.member" &&
        e.getContent().displayname === "Alice Liddell",
    );
    expect(bob.getRoom(dm)!.getMember(ALICE)!.name).toBe("Alice Liddell");
    expect(await bob.getProfileInfo(ALICE)).toEqual({ displayname: "Alice Liddell" });
  });

  it("syncs global account data such as m.direct", async () => {
    const seen = until<[{ getType(): string }]>(
      alice,
      ClientEvent.AccountData,
      (e) => e.getType() === "m.direct",
    );
    await alice.setAccountData("m.direct" as never, { [BOB]: [dm] } as never);
    await seen;
    expect(alice.getAccountData("m.direct" as never)?.getContent()).toEqual({ [BOB]: [dm] });
  });

  it("paginates history with /messages for a client with a short initial sync", async () => {
    const { room_id: roomId } = await alice.createRoom({ name: "history" });
    for (let i = 0; i < 25; i++) await sendText(alice, roomId, `m${i}`);
    const second = await startMatrixClient(
      {
        baseUrl: hs.url,
        userId: ALICE,
        accessToken: alice.getAccessToken()!,
        deviceId: alice.getDeviceId()!,
      },
      { initialSyncLimit: 5 },
    );
    extraClients.push(second);
    const room = second.getRoom(roomId)!;
    const bodies = (): string[] =>
      room
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.getType() === "m.room.message")
        .map((e) => e.getContent().body as string);
    expect(bodies()).toEqual(["m20", "m21", "m22", "m23", "m24"]);
    while (
      room.getLiveTimeline().getPaginationToken("b" as never) !== null &&
      bodies().length < 25
    ) {
      await second.scrollback(room, 10);
    }
    expect(bodies()).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
  });

  it("refuses non-members and uninvited joins", async () => {
    await hs.registerUser("carol", "carol-password");
    const carol = await loginMatrixClient(hs.url, "carol", "carol-password");
    extraClients.push(carol);
    const send = (await sendText(carol, dm, "let me in").catch((e: unknown) => e)) as MatrixError;
    expect(send).toMatchObject({ errcode: "M_FORBIDDEN", httpStatus: 403 });
    const join = (await carol.joinRoom(dm).catch((e: unknown) => e)) as MatrixError;
    expect(join).toMatchObject({ errcode: "M_FORBIDDEN", httpStatus: 403 });
  });

  it("kicks and bans with the power levels' rules", async () => {
    const { room_id: roomId } = await alice.createRoom({
      invite: [BOB],
      preset: "private_chat" as never,
    });
    await waitForInvite(bob, (r) => r.roomId === roomId);
    await joinRoom(bob, roomId);
    const bobKicks = (await bob.kick(roomId, ALICE, "no").catch((e: unknown) => e)) as MatrixError;
    expect(bobKicks).toMatchObject({ errcode: "M_FORBIDDEN", httpStatus: 403 });

    await alice.kick(roomId, BOB, "bye");
    await waitForMembership(bob, roomId, BOB, "leave");
    const kick = bob.getRoom(roomId)!.getMember(BOB)!.events.member!;
    expect(kick.getSender()).toBe(ALICE);
    expect(kick.getContent()).toMatchObject({ membership: "leave", reason: "bye" });
    const rejoin = (await bob.joinRoom(roomId).catch((e: unknown) => e)) as MatrixError;
    expect(rejoin).toMatchObject({ errcode: "M_FORBIDDEN" });

    await alice.ban(roomId, BOB, "for good");
    const invite = (await alice.invite(roomId, BOB).catch((e: unknown) => e)) as MatrixError;
    expect(invite).toMatchObject({ errcode: "M_FORBIDDEN" });
  });

  it("reports a leave to both sides", async () => {
    await bob.leave(dm);
    await waitForMembership(alice, dm, BOB, "leave");
    await waitForMembership(bob, dm, BOB, "leave");
    expect(bob.getRoom(dm)?.getMyMembership()).toBe("leave");
    expect(hs.internalErrors).toEqual([]);
  });
});
