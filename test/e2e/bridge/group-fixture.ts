/**
 * The cast of the group e2e tests: two Matrix users, each logged in through the bot, and two
 * native users (with groups), and the group Carol makes of all four, whose one room both
 * Matrix users join.
 */
import { expect } from "vitest";
import type { Room } from "../../harness/matrix-user.js";
import type { BridgeWorld } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

export interface GroupCast {
  alice: MatrixActor;
  bea: MatrixActor;
  carol: NativeActor;
  dave: NativeActor;
  aliceMgmt: string;
  beaMgmt: string;
  aliceJid: string;
  beaJid: string;
}

/** Alice and Bea logged in, Carol and Dave connected; the JIDs as the natives look them up. */
export async function groupCast(w: BridgeWorld): Promise<GroupCast> {
  const alice = await w.matrixUser("alice");
  const bea = await w.matrixUser("bea");
  const carol = await w.nativeUser("Carol", { groups: true });
  const dave = await w.nativeUser("Dave", { groups: true });
  const [alicePhone, beaPhone] = [w.newPhone(), w.newPhone()];
  const aliceMgmt = await alice.openManagementRoom();
  await alice.login(aliceMgmt, alicePhone, w.codeFor);
  const beaMgmt = await bea.openManagementRoom();
  await bea.login(beaMgmt, beaPhone, w.codeFor);
  const aliceJid = (await carol.lookup(alicePhone))!;
  const beaJid = (await carol.lookup(beaPhone))!;
  expect(aliceJid).toBeDefined();
  expect(beaJid).toBeDefined();
  return { alice, bea, carol, dave, aliceMgmt, beaMgmt, aliceJid, beaJid };
}

/** A room whose name is `subject` (as the client has it, or in its state). */
export const named =
  (subject: string) =>
  (r: Room): boolean =>
    r.name === subject ||
    r.currentState.getStateEvents("m.room.name", "")?.getContent().name === subject;

/** Carol makes the group of all four; both Matrix users accept the invite to its one room. */
export async function openGroup(
  c: GroupCast,
  subject: string,
  waitMs = 20_000,
): Promise<{ group: string; room: string }> {
  const created = await c.carol.client.groups.create(subject, [c.aliceJid, c.beaJid, c.dave.jid]);
  expect(created.results.filter((r) => r.error !== undefined)).toEqual([]);
  const room = await c.alice.acceptInvite(named(subject), waitMs);
  expect(await c.bea.acceptInvite(named(subject), waitMs)).toBe(room);
  return { group: created.group.jid, room };
}
