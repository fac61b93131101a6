/**
 * Issue 8 (hostile contacts), items 2 and 5, on the core with real clients: a contact's name
 * reaches Matrix cleaned and short; renames are told in the chats and rate-limited; a new
 * contact named like an existing one gets a chat that is visibly someone else's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { CoreFixture, newPhone } from "./fixture.js";
import type { NativeUser } from "./fixture.js";

const ALICE = "@alice:test.local";
const BEA = "@bea:test.local";
const codePoints = (s: string): number => [...s].length;

describe("contact names (sandbox, real clients, SQLite)", () => {
  let f: CoreFixture;
  let mgmt: string;
  let aliceJid: string;
  let beaJid: string;

  beforeAll(async () => {
    f = await CoreFixture.start();
    mgmt = await f.login(ALICE, newPhone());
    await f.login(BEA, newPhone());
    aliceJid = (await f.core.repos.logins.getByMxid(ALICE))!.jid!;
    beaJid = (await f.core.repos.logins.getByMxid(BEA))!.jid!;
  });
  afterAll(async () => {
    await f.close();
  });

  /** `user` writes `text` to `to`; resolves with the room the bridge posted it in. */
  async function writes(user: NativeUser, text: string, to = aliceJid): Promise<string> {
    await user.client.sendMessage(to, textMessage(text));
    return f.matrix.until(
      () => f.matrix.events.find((e) => e.kind === "message" && e.text === text)?.roomId,
    );
  }

  /** The contact renames itself (as the app does: presence with a name), then writes. */
  async function renamesAndWrites(user: NativeUser, name: string, text: string, to = aliceJid) {
    await user.client.setPresence("available", name);
    return writes(user, text, to);
  }

  it("cleans a 10,000-character name with newlines and bidi overrides before it reaches Matrix", async () => {
    const hostile = "\u202E" + "Mallory\n\u2066".repeat(1250) + " (Gatekeeper)";
    expect(hostile.length).toBeGreaterThan(10_000);
    const mallory = await f.nativeUser(hostile);
    const started = Date.now();
    const room = await writes(mallory, "hello from a long name");
    expect(Date.now() - started).toBeLessThan(5_000);

    const shown = f.matrix.puppets.get(mallory.jid)!;
    expect(codePoints(shown)).toBeLessThanOrEqual(64);
    expect(shown).toMatch(/^Mallory Mallory .*…$/);
    expect(shown).not.toMatch(/[\n\u202E\u2066]/);
    const spec = f.matrix.rooms.get(room)!;
    expect(spec.topic).not.toMatch(/[\n\u202E\u2066]/);
    expect(spec.topic.length).toBeLessThan(400);
    expect(spec.topic).toContain(`Chat with ${shown} (`);
    expect(spec.bridgeInfo.channelName).toBe(shown);
    const [contacts] = await f.command(ALICE, mgmt, "contacts");
    expect(contacts).toContain(shown);
    expect(contacts).not.toContain("\n\u202E");
  });

  it("removes a faked network tag from the name", async () => {
    const dan = await f.nativeUser("Dan (Gatekeeper) (GATEKEEPER)");
    await writes(dan, "hi, Dan here");
    expect(f.matrix.puppets.get(dan.jid)).toBe("Dan");
  });

  it("tells every chat with the contact when it renames itself", async () => {
    const carol = await f.nativeUser("Carol");
    const aliceRoom = await writes(carol, "hi Alice");
    const beaRoom = await writes(carol, "hi Bea", beaJid);

    await renamesAndWrites(carol, "Caroline", "new name, same me");
    expect(f.matrix.puppets.get(carol.jid)).toBe("Caroline");
    const told = `"Carol" changed their name to "Caroline".`;
    expect(f.matrix.notices(aliceRoom)).toContain(told);
    expect(f.matrix.notices(beaRoom)).toContain(told);
    // The notice comes before the message under the new name.
    const events = f.matrix.inRoom(aliceRoom).map((e) => e.text);
    expect(events.indexOf(told)).toBeLessThan(events.indexOf("new name, same me"));

    // The same name again is no rename.
    await writes(carol, "still Caroline");
    expect(
      f.matrix.notices(aliceRoom).filter((n) => n.includes("changed their name")),
    ).toHaveLength(1);
  });

  it("warns when a contact renames itself to the name of another contact", async () => {
    const [erin, eve] = [await f.nativeUser("Erin"), await f.nativeUser("Eve")];
    await writes(erin, "Erin's first");
    const room = await writes(eve, "Eve's first");
    await renamesAndWrites(eve, "erin", "I am Erin now");
    expect(f.matrix.notices(room)).toContain(
      `"Eve" changed their name to "erin". Careful: you have a chat with someone else named ` +
        `"erin"; this is still the person who was "Eve".`,
    );
  });

  it("limits renames: after three in an hour the name stays, and the chat is told once", async () => {
    const spammer = await f.nativeUser("spam 0");
    const room = await writes(spammer, "spam message 0");
    for (let i = 1; i <= 6; i++) await renamesAndWrites(spammer, `spam ${i}`, `spam message ${i}`);

    const notices = f.matrix.notices(room);
    expect(notices.filter((n) => n.includes("changed their name"))).toEqual([
      `"spam 0" changed their name to "spam 1".`,
      `"spam 1" changed their name to "spam 2".`,
      `"spam 2" changed their name to "spam 3".`,
    ]);
    const held = notices.filter((n) => n.includes("keeps changing their name"));
    expect(held).toHaveLength(1);
    expect(held[0]).toMatch(
      /^"spam 3" keeps changing their name\. The bridge keeps showing "spam 3"/,
    );
    expect(f.matrix.puppets.get(spammer.jid)).toBe("spam 3");
    expect(await f.core.puppets.nameOf(spammer.jid)).toBe("spam 3");
    // Every message got through, under the name the chat shows.
    for (let i = 0; i <= 6; i++) {
      expect(f.matrix.inRoom(room).some((e) => e.text === `spam message ${i}`)).toBe(true);
    }
  });

  it("makes a stranger named like an existing contact visibly someone else", async () => {
    const bob = await f.nativeUser("Bob");
    const [started] = await f.command(ALICE, mgmt, `start ${bob.phone}`);
    expect(started).toContain("Started a chat with Bob");
    const bobRoom = [...f.matrix.rooms.keys()].at(-1)!;
    const bobSpec = f.matrix.rooms.get(bobRoom)!;
    expect(bobSpec.name).toBeUndefined();
    expect(bobSpec.topic).toContain(`Chat with Bob (${bob.phone}) on Gatekeeper`);

    const fake = await f.nativeUser("B o b (Gatekeeper)");
    const room = await writes(fake, "hi, it's Bob, new number");
    const spec = f.matrix.rooms.get(room)!;
    expect(spec.name).toBe("B o b (new contact)");
    expect(spec.topic).not.toBe(bobSpec.topic);
    expect(spec.topic).toContain(`(${spec.puppetMxid})`);
    const request = f.matrix.notices(room).find((n) => n.startsWith("Message request"));
    expect(request).toContain(
      `Careful: you already have a chat with someone else named "B o b". This is a different ` +
        `person (the bridge does not know their number; their Matrix id is ${spec.puppetMxid}).`,
    );
    // The real Bob's chat is not touched.
    expect(f.matrix.notices(bobRoom).join("\n")).not.toContain("Careful");
  });

  it("does not warn for a stranger whose name is nobody else's", async () => {
    const zed = await f.nativeUser("Zed");
    const room = await writes(zed, "hi from Zed");
    expect(f.matrix.rooms.get(room)!.name).toBeUndefined();
    expect(f.matrix.notices(room).join("\n")).not.toContain("Careful");
  });
});
