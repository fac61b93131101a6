/**
 * Mentions in a group (docs/protocol.md §19.6, issue 11): two Matrix users and two native
 * users in one gatekeeper group. A native's "@…" of a JID the message lists shows in the room
 * as a pill for that member's Matrix user (the puppet, or the bridge's own user, who is then
 * notified through m.mentions), named; a Matrix user's pills for a member's puppet or for the
 * other Matrix user reach the natives as "@user part" with the JIDs listed. A pill in a chat
 * of two stays its text (mentions are a group's only).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { describeContent, textMessage } from "../../../src/gatekeeper/content/index.js";
import { BridgeWorld } from "./fixture.js";
import { groupCast, openGroup } from "./group-fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";
import { textOf } from "./native-actor.js";

const SUBJECT = "Book club";
const WAIT = 20_000;

/** "@" + a JID's user part, as a text mentions them (§19.6). */
function token(jid: string): string {
  return `@${jid.slice(0, jid.indexOf("@"))}`;
}

const pill = (mxid: string, text: string) => `<a href="https://matrix.to/#/${mxid}">${text}</a>`;

describe("mentions in a gatekeeper group", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let bea: MatrixActor;
  let carol: NativeActor;
  let dave: NativeActor;
  let aliceMgmt: string;
  let aliceJid: string;
  let beaJid: string;
  let group: string;
  let room: string;
  let carolPuppet: string;
  let davePuppet: string;

  beforeAll(async () => {
    w = await BridgeWorld.create("group-mentions");
    await w.startBridge();
    const cast = await groupCast(w);
    ({ alice, bea, carol, dave, aliceMgmt, aliceJid, beaJid } = cast);
    ({ group, room } = await openGroup(cast, SUBJECT, WAIT));
    // Each native speaks once: their puppets are named, and the test learns who is who.
    await carol.client.groups.send(group, textMessage("hello club"));
    carolPuppet = (await alice.waitForPuppetText(room, "hello club", WAIT)).getSender()!;
    await dave.client.groups.send(group, textMessage("hi all"));
    davePuppet = (await alice.waitForPuppetText(room, "hi all", WAIT)).getSender()!;
    expect(carolPuppet).not.toBe(davePuppet);
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  it("a native's mentions of a native and a Matrix user are pills that notify them", async () => {
    // Alice's "@…" is in the text but not in the list: it is no mention.
    const text = `${token(dave.jid)} and ${token(beaJid)}: the list is out. cc ${token(aliceJid)}`;
    await carol.client.groups.send(group, textMessage(text, { mentions: [dave.jid, beaJid] }));
    const event = await alice.waitForMessage(
      room,
      (e) => e.getSender() === carolPuppet && String(e.getContent().body).includes("the list"),
      WAIT,
    );
    const content = event.getContent();
    expect(content["m.mentions"]).toEqual({ user_ids: [davePuppet, bea.userId] });
    expect(content.format).toBe("org.matrix.custom.html");
    const html = String(content.formatted_body);
    const beaPill = new RegExp(`^<a href="https://matrix\\.to/#/${escape(bea.userId)}">[^<]+</a>`);
    expect(html.startsWith(`${pill(davePuppet, "Dave")} and `)).toBe(true);
    expect(html.slice(`${pill(davePuppet, "Dave")} and `.length)).toMatch(beaPill);
    expect(html).toContain(`cc ${token(aliceJid)}`);
    // The body names them instead of their numbers; Alice's stays as written.
    const body = String(content.body);
    expect(body).toMatch(/^@Dave and @\S+: the list is out\. cc /);
    expect(body).not.toContain(token(dave.jid));
    expect(body).not.toContain(token(beaJid));
    expect(body).toContain(token(aliceJid));
    // Bea sees the same event (one post for the group).
    const atBea = await bea.waitForMessage(room, (e) => e.getId() === event.getId(), WAIT);
    expect(atBea.getContent()["m.mentions"]).toEqual({ user_ids: [davePuppet, bea.userId] });
  }, 60_000);

  it("a Matrix user's pills for a native's puppet and the other Matrix user reach the natives", async () => {
    const before = [carol.received.length, dave.received.length];
    await alice.send(room, {
      msgtype: "m.text",
      body: "Dave: ask Bea, and Zoe, @room",
      format: "org.matrix.custom.html",
      formatted_body:
        `${pill(davePuppet, "Dave")}: ask ${pill(bea.userId, "Bea")}, and ` +
        `${pill(`@zoe:${w.target.serverName}`, "Zoe")}, @room`,
      "m.mentions": { user_ids: [davePuppet, bea.userId, `@zoe:${w.target.serverName}`] },
    });
    const arrived = (n: NativeActor, i: number): Promise<MessageEvent> =>
      n.waitFor(
        (e) => n.received.indexOf(e) >= before[i]! && e.group === group && e.from === aliceJid,
        "Alice's message in the group",
        WAIT,
      );
    const expected = `${token(dave.jid)}: ask ${token(beaJid)}, and Zoe, @room`;
    for (const [i, native] of [carol, dave].entries()) {
      const got = await arrived(native, i);
      expect(textOf(got)).toBe(expected);
      expect(describeContent(got.content)).toMatchObject({ mentions: [dave.jid, beaJid] });
    }
  }, 60_000);

  it("a pill in a chat of two goes as its text, with no mentions", async () => {
    const chat = await alice.startChat(aliceMgmt, carol.phone);
    await alice.send(chat, {
      msgtype: "m.text",
      body: "Carol: hi",
      format: "org.matrix.custom.html",
      formatted_body: `${pill(carolPuppet, "Carol")}: hi`,
      "m.mentions": { user_ids: [carolPuppet] },
    });
    const got = await carol.waitFor(
      (e) => e.group === undefined && e.from === aliceJid && textOf(e) === "Carol: hi",
      "Alice's pill one to one",
      WAIT,
    );
    expect(describeContent(got.content)).not.toHaveProperty("mentions");
  }, 60_000);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
