/**
 * Groups (issue 11, first part): two Matrix users, each logged in through the bot, and two
 * native users in one gatekeeper group. The group has one room, shared by both Matrix users;
 * what the natives say is posted once (though both logins receive it), what a Matrix user
 * says reaches each native once and is not echoed back through the other login; a reply
 * names the quoted message and its sender; a restart of the bridge loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  describeContent,
  editMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import { waitForRoomEvent } from "../../harness/matrix-user.js";
import type { MatrixEvent, Room } from "../../harness/matrix-user.js";
import {
  MediaWorld,
  matrixDownload,
  matrixUpload,
  nativeSendMedia,
  randomFile,
} from "../bridge-media/media-world.js";
import { COMMAND_PREFIX } from "./fixture.js";
import { groupCast } from "./group-fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";
import { textOf } from "./native-actor.js";

const SUBJECT = "Weekend trip";
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a gatekeeper group with two Matrix users and two native users", () => {
  let m: MediaWorld;
  let alice: MatrixActor;
  let bea: MatrixActor;
  let carol: NativeActor;
  let dave: NativeActor;
  let aliceJid: string;
  let beaJid: string;
  let group: string;
  let room: string;

  beforeAll(async () => {
    m = await MediaWorld.create("groups");
    await m.startBridge();
    ({ alice, bea, carol, dave, aliceJid, beaJid } = await groupCast(m.world));
  }, 90_000);

  afterAll(async () => {
    await m?.close();
  });

  const isPuppet = (u: string): boolean => m.world.identity.isPuppet(u);
  /** Bodies of the room's messages with `body`, from the server's history as `who` sees it. */
  async function countIn(who: MatrixActor, body: string): Promise<number> {
    return (await who.bodiesFrom(room, () => true)).filter((b) => b === body).length;
  }
  const inGroup = (n: NativeActor, text: string) =>
    n.waitFor((e) => e.group === group && textOf(e) === text, `"${text}" in the group`);

  it("invites each Matrix user to one shared room named after the subject", async () => {
    const created = await carol.client.groups.create(SUBJECT, [aliceJid, beaJid, dave.jid]);
    expect(created.results.filter((r) => r.error !== undefined)).toEqual([]);
    group = created.group.jid;
    const named = (r: Room): boolean =>
      r.name === SUBJECT ||
      r.currentState.getStateEvents("m.room.name", "")?.getContent().name === SUBJECT;
    room = await alice.acceptInvite(named, 20_000);
    expect(await bea.acceptInvite(named, 20_000)).toBe(room);
    const state = alice.client.getRoom(room)!.currentState;
    expect(state.getStateEvents("m.room.name", "")?.getContent().name).toBe(SUBJECT);
    expect(state.getStateEvents("m.room.create", "")?.getSender()).toBe(m.world.botMxid);
    const info = state.getStateEvents("m.bridge");
    expect(info.map((e) => e.getContent().channel?.id)).toEqual([group]);
    // The superadmin's puppet (Carol's) ranks 75, a member's (Dave's) 0.
    const powers = state.getStateEvents("m.room.power_levels", "")?.getContent().users ?? {};
    expect(powers[m.world.botMxid]).toBe(100);
    expect(
      Object.entries(powers)
        .filter(([u]) => isPuppet(u))
        .map(([, p]) => p),
    ).toEqual([75]);
  }, 60_000);

  it("posts a native user's message once, as their puppet, though both logins get it", async () => {
    await carol.client.groups.send(group, textMessage("hello group"));
    const seen = await alice.waitForPuppetText(room, "hello group", 20_000);
    await bea.waitForPuppetText(room, "hello group", 20_000);
    await pause(500); // a second post would come now
    expect(await countIn(alice, "hello group")).toBe(1);
    expect(await countIn(bea, "hello group")).toBe(1);
    expect(isPuppet(seen.getSender() ?? "")).toBe(true);
  }, 60_000);

  it("posts a native user's image once, byte for byte", async () => {
    const photo = randomFile(50_000);
    await nativeSendMedia(dave, group, "image", photo, {
      mimetype: "image/png",
      options: { caption: "the lake" },
      group: true,
    });
    const image = await alice.waitForMessage(
      room,
      (e) => isPuppet(e.getSender() ?? "") && e.getContent().msgtype === "m.image",
      20_000,
    );
    const bytes = await matrixDownload(m.world.target.url, alice, String(image.getContent().url));
    expect(bytes.equals(photo)).toBe(true);
    await pause(500);
    const images = (await alice.history(room)).filter(
      (e) =>
        e.type === "m.room.message" && (e.content as { msgtype?: string }).msgtype === "m.image",
    );
    expect(images).toHaveLength(1);
  }, 60_000);

  it("sends a Matrix user's message to each native once, and never echoes it back", async () => {
    await alice.say(room, "hi from alice");
    const [toCarol, toDave] = await Promise.all([
      inGroup(carol, "hi from alice"),
      inGroup(dave, "hi from alice"),
    ]);
    expect(toCarol.from).toBe(aliceJid);
    expect(toDave.from).toBe(aliceJid);
    await pause(1000); // Bea's login got the message too: it must not be posted again
    expect(carol.received.filter((e) => textOf(e) === "hi from alice")).toHaveLength(1);
    expect(dave.received.filter((e) => textOf(e) === "hi from alice")).toHaveLength(1);
    expect(await countIn(bea, "hi from alice")).toBe(1);
  }, 60_000);

  it("sends a reply with the quoted message's id and sender", async () => {
    const quoted = await alice.waitForPuppetText(room, "hello group");
    await alice.send(room, {
      msgtype: "m.text",
      body: "sounds good",
      "m.relates_to": { "m.in_reply_to": { event_id: quoted.getId() } },
    });
    const reply = await inGroup(dave, "sounds good");
    const kind = describeContent(reply.content);
    expect(kind.kind).toBe("text");
    const ctx = kind.kind === "text" ? kind.contextInfo : undefined;
    const original = dave.received.find((e) => textOf(e) === "hello group")!;
    expect(ctx?.stanzaId).toBe(original.id);
    expect(ctx?.participant).toBe(carol.jid);
  }, 60_000);

  it("shows a native user's reply to a Matrix message as a Matrix reply", async () => {
    const aliceEvent = await alice.waitForMessage(
      room,
      (e) => e.getContent().body === "hi from alice",
    );
    const original = carol.received.find((e) => textOf(e) === "hi from alice")!;
    await carol.client.groups.send(
      group,
      textMessage("welcome", { contextInfo: { stanzaId: original.id, participant: aliceJid } }),
    );
    const reply: MatrixEvent = await bea.waitForPuppetText(room, "welcome", 20_000);
    expect(reply.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id).toBe(
      aliceEvent.getId(),
    );
    // An answer to Alice mentions her.
    expect(reply.getContent()["m.mentions"]).toEqual({ user_ids: [alice.userId] });
  }, 60_000);

  it("sends a Matrix user's image to the group (group-media.test.ts has the details)", async () => {
    const photo = randomFile(40_000);
    const url = await matrixUpload(bea, photo, "image/png", "map.png");
    await bea.send(room, {
      msgtype: "m.image",
      body: "map.png",
      url,
      info: { mimetype: "image/png", size: photo.length },
    });
    const image = await carol.waitFor(
      (e) => e.group === group && e.from === beaJid,
      "Bea's image in the group",
      20_000,
    );
    expect(describeContent(image.content).kind).toBe("image");
  }, 60_000);

  it("shows a native user's reaction to a Matrix message on it", async () => {
    const aliceEvent = await alice.waitForMessage(
      room,
      (e) => e.getContent().body === "hi from alice",
    );
    const original = dave.received.find((e) => textOf(e) === "hi from alice")!;
    await dave.client.groups.send(
      group,
      reactionMessage(
        { id: original.id, fromMe: false, remoteJid: group, participant: aliceJid },
        "👍",
      ),
    );
    const reaction = await waitForRoomEvent(
      bea.client,
      (e) => e.getRoomId() === room && e.getType() === "m.reaction",
      20_000,
    );
    expect(reaction.getContent()["m.relates_to"]).toMatchObject({
      rel_type: "m.annotation",
      event_id: aliceEvent.getId(),
      key: "👍",
    });
  }, 60_000);

  it("edits, deletions and reactions go both ways: natives get them keyed by group and sender", async () => {
    const kindAt = (n: NativeActor, kind: string, from: number) =>
      n.waitFor(
        (e) =>
          e.group === group &&
          n.received.indexOf(e) >= from &&
          describeContent(e.content).kind === kind,
        `a ${kind} in the group`,
      );
    // Carol's message; Alice reacts to it (a moment after she saw it, as a person does).
    const { id: carolId } = await carol.client.groups.send(group, textMessage("dinner at 7?"));
    const carolEvent = await alice.waitForPuppetText(room, "dinner at 7?", 20_000);
    await pause(300);
    let from = { carol: carol.received.length, dave: dave.received.length };
    await alice.client.sendEvent(
      room,
      "m.reaction" as never,
      {
        "m.relates_to": { rel_type: "m.annotation", event_id: carolEvent.getId(), key: "👍" },
      } as never,
    );
    for (const [n, at] of [
      [carol, from.carol],
      [dave, from.dave],
    ] as const) {
      const got = await kindAt(n, "reaction", at);
      expect(got.from).toBe(aliceJid);
      expect(describeContent(got.content)).toMatchObject({
        kind: "reaction",
        key: { id: carolId, remoteJid: group, participant: carol.jid },
        emoji: "👍",
      });
    }

    // Alice edits, then deletes, her own message.
    const mine = await alice.say(room, "see you at 5");
    const atDave = await inGroup(dave, "see you at 5");
    from = { carol: carol.received.length, dave: dave.received.length };
    await alice.send(room, {
      msgtype: "m.text",
      body: "* see you at 6",
      "m.new_content": { msgtype: "m.text", body: "see you at 6" },
      "m.relates_to": { rel_type: "m.replace", event_id: mine },
    });
    const edit = await kindAt(dave, "edit", from.dave);
    expect(describeContent(edit.content)).toMatchObject({
      kind: "edit",
      key: { id: atDave.id, fromMe: true },
      newContent: { kind: "text", text: "see you at 6" },
    });
    await alice.client.redactEvent(room, mine);
    const revoke = await kindAt(carol, "revoke", from.carol);
    expect(describeContent(revoke.content)).toMatchObject({
      kind: "revoke",
      key: { id: atDave.id, fromMe: true },
    });

    // Carol edits her message, then deletes it: the room shows both, as her puppet.
    const carolKey = { id: carolId, fromMe: true, remoteJid: group };
    await carol.client.groups.send(group, editMessage(carolKey, textMessage("dinner at 8?")));
    const replaced = await waitForRoomEvent(
      bea.client,
      (e) =>
        e.getRoomId() === room &&
        e.getContent()["m.relates_to"]?.rel_type === "m.replace" &&
        e.getContent()["m.relates_to"]?.event_id === carolEvent.getId(),
      20_000,
    );
    expect(replaced.getSender()).toBe(carolEvent.getSender());
    expect(replaced.getContent()["m.new_content"]).toMatchObject({ body: "dinner at 8?" });
    await carol.client.groups.send(group, revokeMessage(carolKey));
    const end = Date.now() + 20_000;
    for (;;) {
      const raw = await bea.client.fetchRoomEvent(room, carolEvent.getId()!);
      const by = (raw.unsigned as { redacted_because?: { sender?: string } } | undefined)
        ?.redacted_because?.sender;
      if (by) {
        expect(by).toBe(carolEvent.getSender());
        break;
      }
      if (Date.now() > end) throw new Error("Carol's message was not redacted in time");
      await pause(100);
    }
  }, 90_000);

  it("tells a Matrix user who is not in the group that their message did not go", async () => {
    const eve = await m.world.matrixUser("eve");
    // Eve has no login; Alice (a member of the room) invites her all the same.
    await alice.client.invite(room, eve.userId);
    await eve.acceptInvite(room);
    const sent = await eve.say(room, "can I join?");
    const notice = await eve.noticeAfter(room, sent, 20_000);
    expect(String(notice.getContent().body)).toContain("not a member of this group");
    await pause(300);
    expect(carol.received.some((e) => textOf(e) === "can I join?")).toBe(false);
  }, 60_000);

  it("a native admin's rename, removal and re-adding show in the room for both Matrix users", async () => {
    await carol.client.groups.setSubject(group, "Long weekend trip");
    for (const who of [alice, bea]) {
      await waitForRoomEvent(
        who.client,
        (e) =>
          e.getRoomId() === room &&
          e.getType() === "m.room.name" &&
          e.getContent().name === "Long weekend trip",
        20_000,
      );
    }
    const puppetsIn = async () =>
      Object.keys((await bea.client.getJoinedRoomMembers(room)).joined).filter(isPuppet);
    const before = await puppetsIn();
    expect(before).toHaveLength(2);
    await carol.client.groups.remove(group, [dave.jid]);
    const deadline = Date.now() + 20_000;
    while ((await puppetsIn()).length > 1 && Date.now() < deadline) await pause(100);
    expect(await puppetsIn()).toHaveLength(1);
    await carol.client.groups.add(group, [dave.jid]);
    while ((await puppetsIn()).length < 2 && Date.now() < deadline + 20_000) await pause(100);
    expect((await puppetsIn()).sort()).toEqual([...before].sort());
    // Back in, Dave gets what the Matrix users say (the logins gave him their sender keys).
    await bea.say(room, "welcome back, Dave");
    await inGroup(dave, "welcome back, Dave");
  }, 60_000);

  it("tells a member's new security code once in the room, and their messages keep coming", async () => {
    await dave.client.resetIdentity();
    await dave.client.stop();
    await dave.client.start();
    await dave.client.groups.send(group, textMessage("new phone, same Dave"));
    const fromDave = await alice.waitForPuppetText(room, "new phone, same Dave", 20_000);
    const davePuppet = fromDave.getSender()!;
    const notice = await alice.waitForMessage(
      room,
      (e) => String(e.getContent().body).includes("security code changed"),
      20_000,
    );
    expect(String(notice.getContent().body)).toMatch(/^Dave's security code changed\./);
    // Dave's number is not known to the bridge (a group member, never looked up): his puppet.
    expect(String(notice.getContent().body)).toContain(`safety-number ${davePuppet}\``);
    const answer = await alice.commandAnswered(
      room,
      `${COMMAND_PREFIX} safety-number ${davePuppet}`,
      (b) => b.startsWith("Safety number"),
    );
    expect(answer).toContain("Safety number with Dave:");
    await pause(1000); // the other login's copy of the change would come now
    const notices = (await bea.bodiesFrom(room, () => true)).filter((b) =>
      b.startsWith("Dave's security code changed"),
    );
    expect(notices).toHaveLength(1);
    await alice.say(room, "good to have you");
    await inGroup(dave, "good to have you");
  }, 60_000);

  it("loses nothing across a restart of the bridge", async () => {
    await m.stopBridge();
    await carol.client.groups.send(group, textMessage("sent while the bridge was down"));
    await alice.say(room, "written while the bridge was down");
    await m.startBridge();
    await alice.waitForPuppetText(room, "sent while the bridge was down", 30_000);
    await inGroup(dave, "written while the bridge was down");
    await inGroup(carol, "written while the bridge was down");
    await alice.say(room, "after the restart");
    await inGroup(carol, "after the restart");
    await pause(1000);
    expect(await countIn(bea, "sent while the bridge was down")).toBe(1);
    expect(await countIn(bea, "written while the bridge was down")).toBe(1);
    expect(
      dave.received.filter((e) => textOf(e) === "written while the bridge was down"),
    ).toHaveLength(1);
  }, 90_000);

  it("delivers every message once, in order, when the bridge is killed (kill -9) mid-way", async () => {
    const N = 12;
    await m.stopBridge();
    await m.startBridgeProcess();
    const fromCarol = (i: number): string => `carol ${i}`;
    const fromAlice = (i: number): string => `alice ${i}`;
    const numbers = Array.from({ length: N }, (_, i) => i + 1);
    const sending = Promise.all([
      (async () => {
        for (const i of numbers) await carol.client.groups.send(group, textMessage(fromCarol(i)));
      })(),
      (async () => {
        for (const i of numbers) await alice.say(room, fromAlice(i));
      })(),
    ]);
    sending.catch(() => undefined);
    await alice.waitForPuppetText(room, fromCarol(2), 30_000);
    await m.killBridgeProcess();
    await sending;
    await m.startBridgeProcess();
    await bea.waitForPuppetText(room, fromCarol(N), 60_000);
    await dave.waitFor((e) => e.group === group && textOf(e) === fromAlice(N), "the last", 60_000);
    await pause(1000);
    const inRoom = (await bea.bodiesFrom(room, isPuppet)).filter((b) => b.startsWith("carol "));
    expect(inRoom).toEqual(numbers.map(fromCarol));
    const atDave = dave.received.map(textOf).filter((t) => t.startsWith("alice "));
    expect(atDave).toEqual(numbers.map(fromAlice));
    const alicesInRoom = (await bea.bodiesFrom(room, (u) => u === alice.userId)).filter((b) =>
      b.startsWith("alice "),
    );
    expect(alicesInRoom).toEqual(numbers.map(fromAlice));
  }, 150_000);

  it("a member leaving makes the Matrix users' logins rotate their sender keys", async () => {
    const before = await carol.heldSenderKeys(aliceJid, group);
    expect(before.length).toBeGreaterThan(0);
    await dave.client.groups.leave(group);
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === room &&
        e.getType() === "m.room.member" &&
        e.getContent().membership === "leave" &&
        isPuppet(e.getStateKey() ?? ""),
      20_000,
    );
    await alice.say(room, "only three of us now");
    await inGroup(carol, "only three of us now");
    const after = await carol.heldSenderKeys(aliceJid, group);
    expect(after.filter((id) => !before.includes(id))).toHaveLength(1);
    await pause(1000);
    expect(dave.received.some((e) => textOf(e) === "only three of us now")).toBe(false);
  }, 60_000);
});
