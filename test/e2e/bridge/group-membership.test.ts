/**
 * Groups, membership both ways and the group commands (issue 11, steps 4 and 5): a native
 * admin's adds, removals, renames and promotions show in the room; a Matrix user who leaves
 * the room leaves the group; a rename from Matrix by a non-admin is set back with a notice;
 * `group create` and `groups` from the bot.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupChangeEvent } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { waitForRoomEvent } from "../../harness/matrix-user.js";
import type { MatrixEvent, Room } from "../../harness/matrix-user.js";
import { matrixDownload } from "../bridge-media/media-world.js";
import { BridgeWorld, COMMAND_PREFIX } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";
import { textOf } from "./native-actor.js";

const SUBJECT = "Choir";
const WAIT = 20_000;

describe("group membership both ways, and the group commands", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let carol: NativeActor;
  let dave: NativeActor;
  let erin: NativeActor;
  let mgmt: string;
  let aliceJid: string;
  let group: string;
  let room: string;
  let club: string;
  let clubJid: string;
  const changesAtCarol: GroupChangeEvent[] = [];

  beforeAll(async () => {
    w = await BridgeWorld.create("group-membership");
    await w.startBridge();
    alice = await w.matrixUser("alice");
    carol = await w.nativeUser("Carol", { groups: true });
    dave = await w.nativeUser("Dave", { groups: true });
    erin = await w.nativeUser("Erin", { groups: true });
    carol.client.on("groupChange", (e) => void changesAtCarol.push(e));
    const phone = w.newPhone();
    mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, phone, w.codeFor);
    aliceJid = (await carol.lookup(phone))!;
    expect(aliceJid).toBeDefined();
  }, 90_000);

  afterAll(async () => {
    await w?.close();
  });

  const isPuppet = (u: string): boolean => w.identity.isPuppet(u);
  const named =
    (name: string) =>
    (r: Room): boolean =>
      r.name === name ||
      r.currentState.getStateEvents("m.room.name", "")?.getContent().name === name;
  const memberEvent = (membership: string, who?: (u: string) => boolean) => (e: MatrixEvent) =>
    e.getRoomId() === room &&
    e.getType() === "m.room.member" &&
    e.getContent().membership === membership &&
    (who ?? isPuppet)(e.getStateKey() ?? "");
  const puppetsJoined = async (): Promise<string[]> =>
    Object.keys((await alice.client.getJoinedRoomMembers(room)).joined).filter(isPuppet);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const stateIs = (type: string, key: string, value: string) => (e: MatrixEvent) =>
    e.getRoomId() === room && e.getType() === type && e.getContent()[key] === value;

  it("a native admin adds a member (the puppet joins) and removes one (it leaves)", async () => {
    const created = await carol.client.groups.create(SUBJECT, [aliceJid, dave.jid]);
    group = created.group.jid;
    room = await alice.acceptInvite(named(SUBJECT), WAIT);
    // Carol is no contact of Alice's: like a message request, her management room says who.
    const told = await alice.waitForMessage(
      mgmt,
      (e) => String(e.getContent().body).includes(`added you to the group "${SUBJECT}"`),
      WAIT,
    );
    // Her name is not known yet (she has not written): her puppet stands for her.
    expect(String(told.getContent().body)).toMatch(
      /^Someone you have no chat with \(@.+\) added you to the group "Choir" on Gatekeeper/,
    );
    expect(String(told.getContent().body)).toContain("that leaves the group");
    // The room is made before the puppets join it.
    const deadline = Date.now() + WAIT;
    while ((await puppetsJoined()).length < 2 && Date.now() < deadline) await pause(100);
    const levels = await alice.client.getStateEvent(room, "m.room.power_levels" as never, "");
    const users = (levels as { users: Record<string, number> }).users;
    const carolPuppet = Object.keys(users).find((u) => isPuppet(u) && users[u] === 75);
    const davePuppet = (await puppetsJoined()).find((u) => u !== carolPuppet)!;
    expect(carolPuppet).toBeDefined();
    expect(davePuppet).toBeDefined();

    const before = new Set(await puppetsJoined());
    await carol.client.groups.add(group, [erin.jid]);
    const joined = await waitForRoomEvent(
      alice.client,
      memberEvent("join", (u) => isPuppet(u) && !before.has(u)),
      WAIT,
    );
    expect(joined.getStateKey()).not.toBe(davePuppet);

    await carol.client.groups.remove(group, [dave.jid]);
    const left = await waitForRoomEvent(
      alice.client,
      memberEvent("leave", (u) => u === davePuppet),
      WAIT,
    );
    expect(left.getSender()).toBe(w.botMxid);
    expect(String(left.getContent().reason)).toContain("Removed from the group");
  }, 60_000);

  it("a rename from Matrix by a non-admin is set back, with a notice", async () => {
    const sent = await alice.client.sendStateEvent(
      room,
      "m.room.name" as never,
      {
        name: "Rock band",
      } as never,
    );
    const notice = await alice.noticeAfter(room, sent.event_id, WAIT, (b) =>
      b.includes("not renamed"),
    );
    expect(String(notice.getContent().body)).toBe(
      `${alice.userId}: the group was not renamed: only the group's admins can rename it. ` +
        "The name was set back.",
    );
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === room &&
        e.getType() === "m.room.name" &&
        e.getSender() === w.botMxid &&
        e.getContent().name === SUBJECT,
      WAIT,
    );
  }, 60_000);

  it("a native admin's rename is the room's new name", async () => {
    await carol.client.groups.setSubject(group, "Choir 2025");
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === room &&
        e.getType() === "m.room.name" &&
        e.getContent().name === "Choir 2025",
      WAIT,
    );
  }, 60_000);

  it("a native admin's description is the room's topic", async () => {
    await carol.client.groups.setDescription(group, "Tuesdays at eight");
    await waitForRoomEvent(
      alice.client,
      stateIs("m.room.topic", "topic", "Tuesdays at eight"),
      WAIT,
    );
  }, 60_000);

  it("the group's picture is the room's avatar, byte for byte; removing it removes the avatar", async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(3000)]);
    await carol.client.groups.setPicture(group, jpeg);
    const avatar = await waitForRoomEvent(
      alice.client,
      (e) => e.getRoomId() === room && e.getType() === "m.room.avatar" && !!e.getContent().url,
      WAIT,
    );
    expect(avatar.getSender()).toBe(w.botMxid);
    const bytes = await matrixDownload(w.target.url, alice, String(avatar.getContent().url));
    expect(bytes.equals(jpeg)).toBe(true);

    await carol.client.groups.removePicture(group);
    await waitForRoomEvent(
      alice.client,
      (e) => e.getRoomId() === room && e.getType() === "m.room.avatar" && !e.getContent().url,
      WAIT,
    );
    // One avatar event per change (none for the description or name changes meanwhile).
    const avatars = (await alice.history(room)).filter((e) => e.type === "m.room.avatar");
    expect(avatars).toHaveLength(2);
  }, 60_000);

  it("a promotion of the Matrix user's login gives them power level 50", async () => {
    await carol.client.groups.promote(group, [aliceJid]);
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === room &&
        e.getType() === "m.room.power_levels" &&
        e.getContent().users?.[alice.userId] === 50,
      WAIT,
    );
  }, 60_000);

  it("a demotion of the Matrix user's login takes power level 50 back", async () => {
    await carol.client.groups.demote(group, [aliceJid]);
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === room &&
        e.getType() === "m.room.power_levels" &&
        e.getContent().users?.[alice.userId] === undefined,
      WAIT,
    );
  }, 60_000);

  it("a Matrix user who leaves the room leaves the group (the natives see it)", async () => {
    await alice.client.leave(room);
    const deadline = Date.now() + WAIT;
    const left = () =>
      changesAtCarol.find(
        (e) =>
          e.group === group &&
          e.change.type === "leave" &&
          "participants" in e.change &&
          e.change.participants.includes(aliceJid),
      );
    while (!left() && Date.now() < deadline) await pause(100);
    expect(left()).toBeDefined();
    const info = await carol.client.groups.info(group);
    expect(info.participants.map((p) => p.jid)).not.toContain(aliceJid);
  }, 60_000);

  it("`group create` makes a group with two natives, its room, and messages flow; `groups` lists it", async () => {
    // The previous test's "you left the group" notice may still arrive here (Synapse is slower).
    const reply = await alice.commandAnswered(
      mgmt,
      `group create "Book club" ${carol.phone} ${dave.phone}`,
      (body) => body.includes("Book club"),
    );
    expect(reply).toContain('Created the group "Book club"');
    expect(reply).not.toContain("Not added");
    club = await alice.acceptInvite(named("Book club"), WAIT);
    const created = await carol.client.groups.list();
    clubJid = created.find((g) => g.subject === "Book club")!.jid;
    expect(clubJid).toBeDefined();

    await alice.say(club, "first meeting on Monday");
    const got = await dave.waitFor(
      (e) => e.group === clubJid && textOf(e) === "first meeting on Monday",
      "the Matrix user's message",
      WAIT,
    );
    expect(got.from).toBe(aliceJid);
    await carol.client.groups.send(clubJid, textMessage("see you there"));
    await alice.waitForPuppetText(club, "see you there", WAIT);

    const list = await alice.command(mgmt, "groups");
    expect(list).toContain("Book club (3 members)");
    expect(list).not.toContain("Choir"); // left in the test before
  }, 60_000);

  it('`group remove` and `group promote` in the room, `group add "Name"` elsewhere change the members', async () => {
    const daveAt = (r: string) => async () =>
      Object.keys((await alice.client.getJoinedRoomMembers(r)).joined).filter(isPuppet);
    const before = await daveAt(club)();
    expect(before).toHaveLength(2);
    const removed = await alice.commandAnswered(
      club,
      `${COMMAND_PREFIX} group remove ${dave.phone}`,
      (b) => b.startsWith("Removed"),
    );
    expect(removed).toBe(`Removed: ${dave.phone}.`);
    const deadline = Date.now() + WAIT;
    while ((await daveAt(club)()).length > 1 && Date.now() < deadline) await pause(100);
    expect(await daveAt(club)()).toHaveLength(1);
    expect((await carol.client.groups.info(clubJid)).participants.map((p) => p.jid)).not.toContain(
      dave.jid,
    );

    const added = await alice.commandAnswered(
      mgmt,
      `group add "Book club" ${erin.phone} +999`,
      (b) => b.includes(erin.phone),
    );
    expect(added).toContain(`Added: ${erin.phone}.`);
    expect(added).toContain("Not added:\n- +999");
    while ((await daveAt(club)()).length < 2 && Date.now() < deadline + WAIT) await pause(100);
    expect(await daveAt(club)()).toHaveLength(2);

    const promoted = await alice.commandAnswered(
      club,
      `${COMMAND_PREFIX} group promote ${erin.phone}`,
      (b) => b.includes("admin"),
    );
    expect(promoted).toBe(`Made admin: ${erin.phone}.`);
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === club &&
        e.getType() === "m.room.power_levels" &&
        Object.entries(e.getContent().users ?? {}).some(([u, p]) => isPuppet(u) && p === 50),
      WAIT,
    );
    const role = (await carol.client.groups.info(clubJid)).participants.find(
      (p) => p.jid === erin.jid,
    )?.role;
    expect(role).toBe("admin");
  }, 60_000);

  it("`group leave` in the group's room leaves the group and the room", async () => {
    const reply = await alice.commandAnswered(club, `${COMMAND_PREFIX} group leave`, (b) =>
      b.includes("left"),
    );
    expect(reply).toBe("You left this group.");
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === club &&
        e.getType() === "m.room.member" &&
        e.getStateKey() === alice.userId &&
        e.getContent().membership === "leave",
      WAIT,
    );
    const info = await carol.client.groups.info(clubJid);
    expect(info.participants.map((p) => p.jid)).not.toContain(aliceJid);
  }, 60_000);

  it("`logout` takes the user out of their group rooms, and the gatekeeper out of the groups", async () => {
    const created = await carol.client.groups.create("Last one", [aliceJid, erin.jid]);
    const last = await alice.acceptInvite(named("Last one"), WAIT);
    const reply = await alice.commandAnswered(mgmt, "logout", (b) => b.startsWith("Logged out"));
    expect(reply).toContain("left your 1 group");
    await waitForRoomEvent(
      alice.client,
      (e) =>
        e.getRoomId() === last &&
        e.getType() === "m.room.member" &&
        e.getStateKey() === alice.userId &&
        e.getContent().membership === "leave",
      WAIT,
    );
    const deadline = Date.now() + WAIT;
    const members = async () =>
      (await carol.client.groups.info(created.group.jid)).participants.map((p) => p.jid);
    while ((await members()).includes(aliceJid) && Date.now() < deadline) await pause(100);
    expect(await members()).not.toContain(aliceJid);
  }, 60_000);
});
