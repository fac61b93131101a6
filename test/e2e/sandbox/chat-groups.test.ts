/**
 * `gatekeeper-sandbox chat` in groups (docs/protocol.md §19): runChat as Alice against a real
 * sandbox, Bob, Carol and Dan as real GatekeeperClients with groups, all native users.
 */
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  GatekeeperClient,
  GatekeeperClientEvents,
  MessageEvent,
} from "../../../src/gatekeeper/client/index.js";
import { describeContent, textMessage } from "../../../src/gatekeeper/content/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import { runChat } from "../../../src/sandbox/chat/index.js";
import { Recorder, TestFiles, eventually, nativeClient } from "../client/helpers.js";

const ALICE = "+4917300000011";
const BOB = "+4917300000012";
const CAROL = "+4917300000013";
const DAN = "+4917300000014";
/** A user who never logged in, so never said they take part in groups. */
const EVE = "+4917300000015";
const NOBODY = "+4917300000099";

/** The chat's output; waits for a line matching a pattern, among those after `from`. */
class Lines {
  readonly lines: string[] = [];

  push = (text: string): void => {
    this.lines.push(...text.split("\n"));
  };

  mark(): number {
    return this.lines.length;
  }

  async waitFor(re: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines.slice(from)) {
        const match = re.exec(line);
        if (match) return match;
      }
      if (Date.now() > end)
        throw new Error(`no line matching ${re}; got:\n${this.lines.slice(from).join("\n")}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

interface Member {
  jid: string;
  client: GatekeeperClient;
  messages: Recorder<"message">;
  changes: Recorder<"groupChange">;
  receipts: Recorder<"receipt">;
}

describe("gatekeeper-sandbox chat: groups", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let aliceJid: string;
  let bob: Member;
  let carol: Member;
  let dan: Member;
  /** The group Alice creates. */
  let family = "";
  /** The id of the message Bob sent to it. */
  let bobsId = "";
  const input = new PassThrough();
  const out = new Lines();
  let chat: Promise<void>;

  /** Types a line into Alice's chat; resolves with the first line matching `expected` after it. */
  async function type(line: string, expected: RegExp): Promise<RegExpMatchArray> {
    const from = out.mark();
    input.write(`${line}\n`);
    return out.waitFor(expected, from);
  }

  async function member(phone: string, name: string): Promise<Member> {
    const user = await sandbox.admin.addUser({ phone, name });
    const client = nativeClient(sandbox, user, await files.db(), { groups: true });
    const m = {
      jid: user.jid,
      client,
      messages: new Recorder(client, "message"),
      changes: new Recorder(client, "groupChange"),
      receipts: new Recorder(client, "receipt"),
    };
    await client.start();
    return m;
  }

  /** The first event `r` recorded that `fits`, once it came. */
  async function first<K extends keyof GatekeeperClientEvents>(
    r: Recorder<K>,
    fits: (e: GatekeeperClientEvents[K]) => boolean,
  ): Promise<GatekeeperClientEvents[K]> {
    await eventually(() => r.items.some(fits));
    return r.items.find(fits)!;
  }
  const changeOf =
    (type: string) =>
    (e: GatekeeperClientEvents["groupChange"]): boolean =>
      e.change.type === type;
  const textIs =
    (text: string) =>
    (e: MessageEvent): boolean => {
      const kind = describeContent(e.content);
      return kind.kind === "text" && kind.text === text;
    };

  beforeAll(async () => {
    sandbox = await startSandbox({});
    files = new TestFiles();
    aliceJid = (await sandbox.admin.addUser({ phone: ALICE, name: "Alice" })).jid;
    await sandbox.admin.addUser({ phone: EVE, name: "Eve" });
    [bob, carol, dan] = await Promise.all([
      member(BOB, "Bob"),
      member(CAROL, "Carol"),
      member(DAN, "Dan"),
    ]);
    chat = runChat({
      adminUrl: sandbox.httpUrl,
      phone: ALICE,
      statePath: ":memory:",
      input,
      output: out.push,
    });
    await out.waitFor(/^logged in as \+4917300000011/);
  });
  afterAll(async () => {
    input.end("/quit\n");
    await chat;
    for (const m of [bob, carol, dan]) await m?.client.stop();
    await sandbox.close();
    await files.close();
  });

  it("asks for a group before a group command, and refuses a number nobody has", async () => {
    await type(`/group add ${BOB}`, /^ {2}! no current group: \/groups, then/);
    await type(
      `/group create "Nope" ${BOB} ${NOBODY}`,
      /^ {2}! \+4917300000099 is not reachable .*: nothing done$/,
    );
  });

  it("creates a group with Bob and Carol by number, says who could not be added", async () => {
    const from = out.mark();
    const [, jid] = await type(
      `/group create "Family" ${BOB} ${CAROL} ${EVE}`,
      /^ {2}created \[Family\] \((\d+@g\.gk)\) with Bob and Carol; now chatting in it$/,
    );
    family = jid!;
    await out.waitFor(
      /^ {2}! not added: Eve: their app does not take part in groups \(406\)$/,
      from,
    );
    for (const m of [bob, carol]) {
      expect(await first(m.changes, changeOf("create"))).toMatchObject({
        group: family,
        actor: aliceJid,
        change: { type: "create", group: { subject: "Family" } },
      });
    }
  });

  it("sends text to the group, and shows Bob's group message with group and sender", async () => {
    await type("hello family", /^ {2}sent #\w{6} at /);
    for (const m of [bob, carol]) {
      const got = await first(m.messages, textIs("hello family"));
      expect([got.group, got.from, got.content.conversation]).toEqual([
        family,
        aliceJid,
        "hello family",
      ]);
    }
    const from = out.mark();
    bobsId = (await bob.client.groups.send(family, textMessage("hi from Bob"))).id;
    const [, short] = await out.waitFor(
      /^\d\d:\d\d:\d\d \[Family\] (#[0-9A-F]{6}) Bob: hi from Bob$/,
      from,
    );
    expect(bobsId.endsWith(short!.slice(1))).toBe(true);
    // Alice's read receipt goes to Bob, naming the group.
    expect(await first(bob.receipts, (r) => r.type === "read")).toMatchObject({
      from: aliceJid,
      group: family,
      ids: [bobsId],
    });
  });

  it("shows the mentions of a group message by name (docs §19.6)", async () => {
    const lid = (jid: string): string => jid.slice(0, jid.indexOf("@"));
    const from = out.mark();
    // Dan is not a member, and his "@…" is not listed: it stays as written.
    const text = `@${lid(aliceJid)} and @${lid(carol.jid)}, ask @${lid(dan.jid)}`;
    await bob.client.groups.send(family, textMessage(text, { mentions: [aliceJid, carol.jid] }));
    await out.waitFor(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d \\[Family\\] #\\w{6} Bob: @you and @Carol, ask @${lid(dan.jid)}$`,
      ),
      from,
    );
  });

  it("adds and removes a member, and shows each change as a line", async () => {
    await type(`/group add ${DAN}`, /^\[Family\] you added Dan$/);
    await first(dan.changes, changeOf("create"));
    expect((await first(bob.changes, changeOf("add"))).change).toEqual({
      type: "add",
      participants: [dan.jid],
    });
    await type(`/group add ${DAN}`, /^ {2}! not added: Dan: already a member \(409\)$/);
    await type(`/group remove ${DAN}`, /^\[Family\] you removed Dan$/);
    expect((await first(dan.changes, changeOf("remove"))).change).toEqual({
      type: "remove",
      participants: [dan.jid],
    });
    await type(`/group promote ${BOB}`, /^\[Family\] you made Bob an admin$/);
  });

  it("renames the group; later lines show the new subject", async () => {
    await type("/group subject Fam", /^\[Family\] you changed the subject to "Fam"$/);
    expect((await first(carol.changes, changeOf("subject"))).change).toMatchObject({
      subject: "Fam",
    });
    const from = out.mark();
    await carol.client.groups.send(family, textMessage("nice name"));
    await out.waitFor(/^\d\d:\d\d:\d\d \[Fam\] #\w{6} Carol: nice name$/, from);
    const infoFrom = out.mark();
    await type("/group info", /^ {4}you \(superadmin\)$/);
    await out.waitFor(/^ {4}Bob \(admin\)$/, infoFrom);
    await out.waitFor(/^ {4}Carol$/, infoFrom);
    await type("/groups", /^ {2}1\. "Fam" \(\d+@g\.gk\), 3 members {2}← current$/);
  });

  it("replies and reacts to Bob's message with its key naming the group and Bob", async () => {
    const short = bobsId.slice(-6);
    await type(`/reply #${short} hi Bob`, /^ {2}sent #\w{6} at \S+: reply to #/);
    const reply = await first(bob.messages, textIs("hi Bob"));
    const kind = describeContent(reply.content);
    expect(reply.group).toBe(family);
    expect(kind).toMatchObject({
      kind: "text",
      text: "hi Bob",
      contextInfo: { stanzaId: bobsId, participant: bob.jid },
    });
    await type(`/react #${short} 👍`, /^ {2}reacted 👍 to #/);
    const reaction = await first(
      bob.messages,
      (m) => describeContent(m.content).kind === "reaction",
    );
    expect(describeContent(reaction.content)).toMatchObject({
      kind: "reaction",
      emoji: "👍",
      key: { id: bobsId, fromMe: false, remoteJid: family, participant: bob.jid },
    });
  });

  it("is told when added to Bob's group, where it is no admin", async () => {
    const from = out.mark();
    await bob.client.groups.create("Team", [aliceJid]);
    await out.waitFor(/^\[Team\] Bob added you to "Team" \(2 members\)$/, from);
    await type("/group team", /^ {2}now chatting in \[Team\] \(2 members\)$/);
    await type("/group subject Mine", /^ {2}! you are not an admin of \[Team\]/);
  });

  it("leaves the group; the others hear of it and nothing more goes there", async () => {
    await type(`/to ${family}`, /^ {2}now chatting in \[Fam\]/);
    await type("/group leave", /^ {2}you left \[Fam\]$/);
    const left = await first(bob.changes, changeOf("leave"));
    expect(left).toMatchObject({ group: family, change: { participants: [aliceJid] } });
    await type("still there?", /^ {2}! choose a contact first/);
    await type(`/to ${family}`, /^ {2}! you are not a member of \[Fam\]/);
    // The command said it; the gatekeeper's notice of our own leave is not shown again.
    expect(out.lines.filter((l) => l.includes("you left"))).toEqual(["  you left [Fam]"]);
  });
});
