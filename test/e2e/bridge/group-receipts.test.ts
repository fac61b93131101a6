/**
 * Read receipts per member and typing in a bridged group (issue 11, step 6): two Matrix
 * users, each logged in through the bot, and two native users in one gatekeeper group, as in
 * groups.test.ts. A native member's read receipt moves that member's puppet's read receipt
 * in the room (never back); a Matrix user's read receipt reaches each native for their own
 * messages, once, and not at all with `receipts off`; typing shows both ways, once though
 * both logins hear it.
 */
import { ReceiptType, RoomEvent } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatStateEvent, ReceiptEvent } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import type { MatrixEvent, Room } from "../../harness/matrix-user.js";
import { until } from "../bridge-receipts/until.js";
import { BridgeWorld } from "./fixture.js";
import { groupCast, openGroup } from "./group-fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";
import { textOf } from "./native-actor.js";

const SUBJECT = "Book club";
const WAIT = 20_000;
const SEND_STATUS = "com.beeper.message_send_status";
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("read receipts and typing in a group with two Matrix and two native users", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let bea: MatrixActor;
  let carol: NativeActor;
  let dave: NativeActor;
  let beaMgmt: string;
  let aliceJid: string;
  let beaJid: string;
  let group: string;
  let room: string;
  let carolPuppet: string;
  let davePuppet: string;
  /** Ids of the first messages of Carol and Dave in the group. */
  let carolHello: string;
  let daveHello: string;
  /** Every read receipt of a puppet in the room, as Bea's client saw them, in order. */
  const puppetReads: { user: string; eventId: string }[] = [];
  const receiptsAt = new Map<NativeActor, ReceiptEvent[]>();
  const chatStatesAt = new Map<NativeActor, ChatStateEvent[]>();

  beforeAll(async () => {
    w = await BridgeWorld.create("group-receipts");
    // So that a "delivered" would show, were it bridged in groups (it is not).
    await w.startBridge({ messageStatusEvents: true });
    const cast = await groupCast(w);
    ({ alice, bea, carol, dave, beaMgmt, aliceJid, beaJid } = cast);
    for (const native of [carol, dave]) {
      const receipts: ReceiptEvent[] = [];
      const states: ChatStateEvent[] = [];
      native.client.on("receipt", (r) => void receipts.push(r));
      native.client.on("chatstate", (c) => void states.push(c));
      receiptsAt.set(native, receipts);
      chatStatesAt.set(native, states);
    }
    ({ group, room } = await openGroup(cast, SUBJECT, WAIT));
    bea.client.on(RoomEvent.Receipt, (event: MatrixEvent, r: Room) => {
      if (r.roomId !== room) return;
      const content = event.getContent() as Record<string, { "m.read"?: Record<string, unknown> }>;
      for (const [eventId, byType] of Object.entries(content)) {
        for (const user of Object.keys(byType["m.read"] ?? {})) {
          if (w.identity.isPuppet(user)) puppetReads.push({ user, eventId });
        }
      }
    });
    ({ sender: carolPuppet, id: carolHello } = await nativeSays(carol, "hello from carol"));
    ({ sender: davePuppet, id: daveHello } = await nativeSays(dave, "hello from dave"));
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  /** `native` writes to the group; resolves with its message id and Alice's view of it. */
  async function nativeSays(native: NativeActor, text: string) {
    const { id } = await native.client.groups.send(group, textMessage(text));
    const event = await alice.waitForPuppetText(room, text, WAIT);
    return { id, event, sender: event.getSender()! };
  }

  /** `who` writes to the group; resolves with the event id and the message id at Carol. */
  async function matrixSays(who: MatrixActor, text: string) {
    const eventId = await who.say(room, text);
    const atCarol = await carol.waitFor((e) => e.group === group && textOf(e) === text, text);
    await dave.waitFor((e) => e.group === group && textOf(e) === text, text);
    return { eventId, id: atCarol.id };
  }

  const readsOf = (puppet: string): string[] =>
    puppetReads.filter((r) => r.user === puppet).map((r) => r.eventId);
  const readBy = (native: NativeActor, reader: string): ReceiptEvent[] =>
    receiptsAt
      .get(native)!
      .filter((r) => r.group === group && r.type === "read" && r.from === reader);
  const idsReadBy = (native: NativeActor, reader: string): string[] =>
    readBy(native, reader).flatMap((r) => r.ids);

  it("moves a native member's puppet read receipt to the newest message they read, never back", async () => {
    const a1 = await matrixSays(alice, "alice one");
    const b1 = await matrixSays(bea, "bea one");
    const a2 = await matrixSays(alice, "alice two");
    const b2 = await matrixSays(bea, "bea two");
    const [carolBefore, daveBefore] = [readsOf(carolPuppet).length, readsOf(davePuppet).length];

    // Carol read both of Alice's: her puppet's receipt is on the newer one.
    await carol.client.groups.sendReceipt(group, aliceJid, [a1.id, a2.id], "read");
    await until(
      () => (readsOf(carolPuppet).includes(a2.eventId) ? true : undefined),
      "Carol's puppet on alice two",
      WAIT,
    );
    // A late receipt for Bea's older message leaves it there; the newer one moves it on.
    await carol.client.groups.sendReceipt(group, beaJid, [b1.id], "read");
    await carol.client.groups.sendReceipt(group, beaJid, [b2.id], "read");
    await until(
      () => (readsOf(carolPuppet).includes(b2.eventId) ? true : undefined),
      "Carol's puppet on bea two",
      WAIT,
    );
    expect(readsOf(carolPuppet).slice(carolBefore)).toEqual([a2.eventId, b2.eventId]);
    const timeline = bea.client.getRoom(room)!;
    expect(timeline.getEventReadUpTo(carolPuppet, true)).toBe(b2.eventId);

    // Each member has their own: Dave got Alice's first, then read it. "delivered" is not
    // shown in a group; it went through the same login before the read that shows.
    await dave.client.groups.sendReceipt(group, aliceJid, [a1.id]);
    await dave.client.groups.sendReceipt(group, aliceJid, [a1.id], "read");
    await until(
      () => (readsOf(davePuppet).includes(a1.eventId) ? true : undefined),
      "Dave's puppet on alice one",
      WAIT,
    );
    expect(readsOf(davePuppet).slice(daveBefore)).toEqual([a1.eventId]);
    expect(timeline.getEventReadUpTo(carolPuppet, true)).toBe(b2.eventId);
    const delivered = timeline
      .getLiveTimeline()
      .getEvents()
      .filter((e) => e.getType() === SEND_STATUS && e.getContent().delivered_to_users);
    expect(delivered).toEqual([]);
  }, 90_000);

  it("sends each native a read receipt for their own messages a Matrix user read, once", async () => {
    const c1 = await nativeSays(carol, "carol one");
    const d1 = await nativeSays(dave, "dave one");
    const c2 = await nativeSays(carol, "carol two");

    await alice.client.sendReadReceipt(c2.event, ReceiptType.Read);
    await until(() => (idsReadBy(carol, aliceJid).includes(c2.id) ? true : undefined), "at Carol");
    await until(() => (idsReadBy(dave, aliceJid).includes(d1.id) ? true : undefined), "at Dave");
    // Each gets only their own, "hello" (written before) included, in one receipt each.
    expect(readBy(carol, aliceJid)).toHaveLength(1);
    expect([...idsReadBy(carol, aliceJid)].sort()).toEqual([carolHello, c1.id, c2.id].sort());
    expect(readBy(dave, aliceJid)).toHaveLength(1);
    expect([...idsReadBy(dave, aliceJid)].sort()).toEqual([daveHello, d1.id].sort());

    // Read further: only what is new goes, to whom it belongs.
    const d2 = await nativeSays(dave, "dave two");
    await alice.client.sendReadReceipt(d2.event, ReceiptType.Read);
    await until(() => (idsReadBy(dave, aliceJid).includes(d2.id) ? true : undefined), "d2");
    await pause(500);
    expect(readBy(dave, aliceJid).at(-1)?.ids).toEqual([d2.id]);
    expect(readBy(carol, aliceJid)).toHaveLength(1);

    // Bea reads for herself, through her own login.
    await bea.client.sendReadReceipt(
      await bea.waitForPuppetText(room, "dave two"),
      ReceiptType.Read,
    );
    await until(() => (idsReadBy(dave, beaJid).includes(d2.id) ? true : undefined), "Bea's");
    await until(() => (idsReadBy(carol, beaJid).includes(c2.id) ? true : undefined), "Bea's");
  }, 90_000);

  it("sends no read receipts while Bea has them off, and none later for what she read then", async () => {
    expect(await bea.command(beaMgmt, "receipts off")).toContain("Read receipts are off");
    const unreported = await nativeSays(carol, "carol three");
    await bea.client.sendReadReceipt(
      await bea.waitForPuppetText(room, "carol three"),
      ReceiptType.Read,
    );
    // Typing goes through the same ordered per-room queue as the receipt: once Carol sees
    // it, the bridge has dealt with the receipt.
    await typesUntilCarolSees(bea, beaJid);

    expect(await bea.command(beaMgmt, "receipts on")).toContain("Read receipts are on");
    const reported = await nativeSays(carol, "carol four");
    await bea.client.sendReadReceipt(
      await bea.waitForPuppetText(room, "carol four"),
      ReceiptType.Read,
    );
    await until(() => (idsReadBy(carol, beaJid).includes(reported.id) ? true : undefined), "c4");
    expect(readBy(carol, beaJid).at(-1)?.ids).toEqual([reported.id]);
    expect(idsReadBy(carol, beaJid)).not.toContain(unreported.id);
  }, 90_000);

  it("shows typing both ways, once though both logins hear it", async () => {
    const from = { carol: chatStatesAt.get(carol)!.length, dave: chatStatesAt.get(dave)!.length };
    const statesOf = (native: NativeActor, state: string) => () =>
      chatStatesAt
        .get(native)!
        .slice(native === carol ? from.carol : from.dave)
        .find((c) => c.from === aliceJid && c.group === group && c.state === state);
    await alice.client.sendTyping(room, true, 10_000);
    await until(statesOf(carol, "composing"), "Alice composing at Carol");
    await until(statesOf(dave, "composing"), "Alice composing at Dave");
    await alice.client.sendTyping(room, false, 0);
    await until(statesOf(carol, "paused"), "Alice paused at Carol");
    await until(statesOf(dave, "paused"), "Alice paused at Dave");

    const typing = (): boolean => bea.client.getRoom(room)?.getMember(carolPuppet)?.typing === true;
    await carol.client.sendChatState(group, "composing");
    await until(() => (typing() ? true : undefined), "Carol's puppet typing");
    await carol.client.sendChatState(group, "paused");
    await until(() => (typing() ? undefined : true), "Carol's puppet to stop typing");
    // The copy through the other login must not start it again.
    for (let i = 0; i < 10; i++) {
      await pause(100);
      expect(typing()).toBe(false);
    }
    await carol.client.sendChatState(group, "composing", "audio");
    await until(() => (typing() ? true : undefined), "Carol's puppet typing (recording)");
    await carol.client.sendChatState(group, "paused");
    await until(() => (typing() ? undefined : true), "Carol's puppet to stop again");
  }, 60_000);

  /**
   * `who` types until Carol sees it. Typing is ephemeral: what `who`'s login is told while it
   * reconnects (as it does when `receipts` changes) is lost, so it starts again.
   */
  async function typesUntilCarolSees(who: MatrixActor, jid: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const from = chatStatesAt.get(carol)!.length;
      await who.client.sendTyping(room, true, 10_000);
      const seen = (): ChatStateEvent | undefined =>
        chatStatesAt
          .get(carol)!
          .slice(from)
          .find((c) => c.from === jid && c.group === group && c.state === "composing");
      try {
        await until(seen, "typing at Carol", 3_000);
        break;
      } catch (err) {
        if (attempt === 5) throw err;
      } finally {
        await who.client.sendTyping(room, false, 0);
      }
    }
  }
});
