/**
 * Groups, membership both ways and the group commands (issue 11, steps 4 and 5): a native
 * admin's adds, removals, renames and promotions show in the room; a Matrix user who leaves
 * the room leaves the group; a rename from Matrix by a non-admin is set back with a notice;
 * `group create` and `groups` from the bot.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupChangeEvent } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { waitForRoomEvent } from "../../harness/matrix-user.js";
import type { MatrixEvent, Room } from "../../harness/matrix-user.js";
import { BridgeWorld } from "./fixture.js";
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

  it("a native admin adds a member (the puppet joins) and removes one (it leaves)", async () => {
    const created = await carol.client.groups.create(SUBJECT, [aliceJid, dave.jid]);
    group = created.group.jid;
    room = await alice.acceptInvite(named(SUBJECT), WAIT);
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
    const club = await alice.acceptInvite(named("Book club"), WAIT);
    const created = await carol.client.groups.list();
    const clubJid = created.find((g) => g.subject === "Book club")!.jid;
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
});
