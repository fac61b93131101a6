/**
 * Scenario 4: `logout` removes the number from the gatekeeper (the contacts can no longer
 * find or reach it), tells every chat it is no longer bridged and takes the puppets and the
 * bot out of them; a new login afterwards works like the first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatekeeperError } from "../../../src/gatekeeper/client/index.js";
import { waitForMembership } from "../../harness/matrix-user.js";
import { BridgeWorld } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

describe("logout and logging in again", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let bob: NativeActor;
  let carol: NativeActor;
  let mgmt: string;
  let alicePhone: string;

  beforeAll(async () => {
    w = await BridgeWorld.create("logout");
    await w.startBridge();
    alice = await w.matrixUser("alice");
    bob = await w.nativeUser("Bob");
    carol = await w.nativeUser("Carol");
    alicePhone = w.newPhone();
    mgmt = await alice.openManagementRoom();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  it("unlinks the number, closes every chat with a notice and lets the user log in again", async () => {
    await alice.login(mgmt, alicePhone, w.codeFor);
    // One chat Alice started, one a contact started (a request).
    const bobRoom = await alice.startChat(mgmt, bob.phone);
    await alice.say(bobRoom, "hi Bob");
    const oldJid = (await bob.waitForText("hi Bob")).from;
    await carol.send((await carol.lookup(alicePhone))!, "hi Alice, Carol here");
    const carolRoom = await alice.acceptPortalInvite();
    const puppets = new Map<string, string>();
    for (const room of [bobRoom, carolRoom]) {
      const puppet = alice.client
        .getRoom(room)!
        .getJoinedMembers()
        .find((m) => w.identity.isPuppet(m.userId));
      puppets.set(room, puppet!.userId);
    }

    expect(await alice.command(mgmt, "logout")).toBe(
      `Logged out. Gatekeeper no longer has ${alicePhone} linked to this bridge, the bridge ` +
        "forgot your keys and left your 2 chats.",
    );
    for (const room of [bobRoom, carolRoom]) {
      await alice.waitForNotice(
        room,
        (b) => b === "You logged out of the Gatekeeper bridge: this chat is no longer bridged.",
      );
      await waitForMembership(alice.client, room, puppets.get(room)!, "leave", 15_000);
      await waitForMembership(alice.client, room, w.botMxid, "leave", 15_000);
    }
    expect(await alice.command(mgmt, "status")).toBe(
      "You are not logged in. Send `login <phone>` to start.",
    );

    // The gatekeeper no longer knows the number, nor the account behind the old id.
    expect(await bob.lookup(alicePhone)).toBeUndefined();
    const refused = await bob.send(oldJid, "are you still there?").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatekeeperError);
    expect((refused as GatekeeperError).gkiCode).toBe(404);

    // A new login works as the first did, with a new chat.
    await alice.login(mgmt, alicePhone, w.codeFor);
    const newJid = await bob.lookup(alicePhone);
    expect(newJid).toBeDefined();
    expect(newJid).not.toBe(oldJid);
    const newRoom = await alice.startChat(mgmt, bob.phone);
    expect(newRoom).not.toBe(bobRoom);
    await alice.say(newRoom, "back again");
    expect((await bob.waitForText("back again")).from).toBe(newJid);
    await bob.send(newJid!, "welcome back");
    await alice.waitForPuppetText(newRoom, "welcome back");
    expect(bob.texts()).toEqual(["hi Bob", "back again"]);
  });
});
