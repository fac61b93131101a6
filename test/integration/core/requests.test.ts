import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Portal } from "../../../src/db/repositories/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { CoreFixture, newPhone } from "./fixture.js";
import type { NativeUser } from "./fixture.js";

const ALICE = "@alice:test.local";

describe("message requests and blocking (sandbox, real clients, SQLite)", () => {
  let f: CoreFixture;
  let mgmt: string;
  let aliceJid: string;

  beforeAll(async () => {
    f = await CoreFixture.start();
    mgmt = await f.login(ALICE, newPhone());
    aliceJid = (await f.core.repos.logins.getByMxid(ALICE))!.jid!;
  });
  afterAll(async () => {
    await f.close();
  });

  async function portalOf(user: NativeUser): Promise<Portal | undefined> {
    const login = (await f.core.repos.logins.getByMxid(ALICE))!;
    return f.core.repos.portals.getByContact(login.id, user.jid);
  }

  /** `user` writes to Alice; resolves once the bridge posted it in a portal room. */
  async function writesToAlice(user: NativeUser, text: string): Promise<string> {
    await user.client.sendMessage(aliceJid, textMessage(text));
    return f.matrix.until(
      () => f.matrix.events.find((e) => e.kind === "message" && e.text === text)?.roomId,
    );
  }

  it("opens a chat from an unknown contact as a message request, accepted with a bare `accept`", async () => {
    const carol = await f.nativeUser("Carol");
    const room = await writesToAlice(carol, "hi, we met yesterday");
    expect((await portalOf(carol))?.state).toBe("request");
    // After the first notice, which says where end-to-end encryption ends.
    const [encryption, notice] = f.matrix.notices(room);
    expect(encryption).toContain("End-to-end encryption ends at the bridge");
    expect(notice).toContain("Message request");
    expect(notice).toContain("`accept`");
    expect(notice).toContain("`block`");
    expect(f.matrix.invites).toContainEqual(expect.objectContaining({ roomId: room, user: ALICE }));

    const [accepted] = await f.command(ALICE, room, "accept");
    expect(accepted).toContain("Accepted");
    expect((await portalOf(carol))?.state).toBe("active");
    const [twice] = await f.command(ALICE, room, "!gk accept");
    expect(twice).toContain("not a message request");
    // Outside a request, bare words are messages, not commands.
    await f.write(ALICE, room, "block");
    const [relayed] = await carol.waitFor(1);
    expect(relayed!.content.conversation).toBe("block");
    expect((await portalOf(carol))?.state).toBe("active");
  });

  it("accepts a request when the user answers it", async () => {
    const dave = await f.nativeUser("Dave");
    const room = await writesToAlice(dave, "hello?");
    await f.write(ALICE, room, "hello Dave");
    await dave.waitFor(1);
    expect((await portalOf(dave))?.state).toBe("active");
    expect(f.matrix.notices(room).join()).toContain("request is accepted");
  });

  it("blocks from the request room; the contact's messages stop; unblock from the management room", async () => {
    const eve = await f.nativeUser("Eve");
    const frank = await f.nativeUser("Frank");
    const room = await writesToAlice(eve, "buy my stuff");
    const [blocked] = await f.command(ALICE, room, "block");
    expect(blocked).toContain("Blocked");
    expect((await portalOf(eve))?.state).toBe("blocked");

    await eve.client.sendMessage(aliceJid, textMessage("still there?"));
    // Frank writes after Eve; once his message is through, Eve's would have been too.
    await writesToAlice(frank, "marker after the block");
    expect(f.matrix.events.some((e) => e.text === "still there?")).toBe(false);

    // Alice's own messages to a blocked contact are refused with a notice.
    await f.write(ALICE, room, "sorry");
    expect(f.matrix.notices(room).join()).toContain("you blocked this contact");

    const [unblocked] = await f.command(ALICE, mgmt, `unblock ${eve.phone}`);
    expect(unblocked).toContain(`Unblocked ${eve.phone}`);
    expect((await portalOf(eve))?.state).toBe("active");
    await writesToAlice(eve, "thanks for unblocking");
  });

  it("blocks by number from the management room, with or without an existing chat", async () => {
    const gina = await f.nativeUser("Gina");
    const [reply] = await f.command(ALICE, mgmt, `block ${gina.phone}`);
    expect(reply).toContain(`Blocked ${gina.phone}`);
    expect((await portalOf(gina))?.state).toBe("blocked");
    const [start] = await f.command(ALICE, mgmt, `start ${gina.phone}`);
    expect(start).toContain("You blocked this contact");
    const [bad] = await f.command(ALICE, mgmt, "block");
    expect(bad).toContain("needs the phone number");
  });

  it("invites the user back when the contact writes to a chat they left", async () => {
    const hank = await f.nativeUser("Hank");
    const room = await writesToAlice(hank, "first");
    await f.command(ALICE, room, "accept");
    const invites = (): number => f.matrix.invites.filter((i) => i.roomId === room).length;
    const before = invites();
    await f.core.onMembership(room, ALICE, "leave");
    await writesToAlice(hank, "are you still there?");
    expect(invites()).toBe(before + 1);
    expect(f.matrix.inRoom(room).filter((e) => e.kind === "message")).toHaveLength(2);
  });

  it("lists the chats with their state", async () => {
    const [list] = await f.command(ALICE, mgmt, "contacts");
    // Names come from directory lookups and from the push name the gatekeeper sends with
    // each message, so a contact who wrote first is named too.
    expect(list).toContain("Frank (message request)");
    expect(list).toContain("Carol:");
    expect(list).not.toContain("(name unknown)");
    expect(list).toContain("Gina (blocked)");
    expect(list).not.toMatch(/\+49/);
  });
});
