/**
 * Groups in the GatekeeperClient (docs/protocol.md §19) against the real sandbox: real Noise,
 * real libsignal Sender Keys, SQLite. Native users with `groups: true` create a group, talk,
 * add and remove members, go offline, lose a sender key and get it back through a retry.
 */
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatekeeperClient, MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { GatekeeperError } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TcpRelay, TestFiles, eventually, nativeClient, newPhone } from "./helpers.js";

interface Member {
  jid: string;
  user: NewUser;
  client: GatekeeperClient;
  db: Knex;
  messages: Recorder<"message">;
  errors: Error[];
}

const textOf = (e: MessageEvent): string | undefined => e.content.conversation;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("GatekeeperClient: groups", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  const started: GatekeeperClient[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    files = new TestFiles();
  });

  afterAll(async () => {
    for (const c of started) await c.stop();
    await sandbox.close();
    await files.close();
  });

  async function member(name: string, groups = true, url?: string): Promise<Member> {
    const user = await sandbox.admin.addUser({ phone: newPhone(), name });
    const db = await files.db();
    const client = nativeClient(sandbox, user, db, { groups, ...(url ? { url } : {}) });
    const errors: Error[] = [];
    client.on("error", (e) => void errors.push(e));
    const messages = new Recorder(client, "message");
    await client.start();
    started.push(client);
    return { jid: user.jid, user, client, db, messages, errors };
  }

  /** `creator` makes a group with `others`, and waits until every one of them heard of it. */
  async function group(creator: Member, others: Member[], subject = "Team"): Promise<string> {
    const seen = others.map((o) => o.client.events.next("groupChange", 5000));
    const { group: info, results } = await creator.client.groups.create(
      subject,
      others.map((o) => o.jid),
    );
    expect(results.every((r) => r.error === undefined)).toBe(true);
    await Promise.all(seen);
    return info.jid;
  }

  async function distributionId(m: Member, g: string): Promise<string | undefined> {
    const row = (await m
      .db("signal_group_distributions")
      .where({ owner: m.jid, group_jid: g })
      .first()) as { distribution_id: string } | undefined;
    return row?.distribution_id;
  }

  async function heldKeys(m: Member, sender: Member, g: string): Promise<string[]> {
    const rows = (await m
      .db("signal_sender_keys")
      .where({ owner: m.jid, name: sender.jid, group_jid: g })
      .select("distribution_id")) as { distribution_id: string }[];
    return rows.map((r) => r.distribution_id);
  }

  it("three members talk both ways; each sees the others' messages once, with group and sender", async () => {
    const [a, b, c] = [await member("A"), await member("B"), await member("C")];
    const g = await group(a, [b, c]);
    expect((await a.client.groups.info(g)).participants.map((p) => p.jid)).toEqual([
      a.jid,
      b.jid,
      c.jid,
    ]);
    await a.client.groups.send(g, textMessage("from A"));
    await b.client.groups.send(g, textMessage("from B"));
    await c.client.groups.send(g, textMessage("from C"));
    await a.client.groups.send(g, textMessage("A again"));
    for (const m of [a, b, c]) await m.messages.waitFor(m === a ? 2 : 3);
    await pause(200); // nothing more (no duplicates) arrives
    const seen = (m: Member) => m.messages.items.map((e) => [e.group, e.from, textOf(e)]);
    expect(seen(a)).toEqual([
      [g, b.jid, "from B"],
      [g, c.jid, "from C"],
    ]);
    expect(seen(b)).toEqual([
      [g, a.jid, "from A"],
      [g, c.jid, "from C"],
      [g, a.jid, "A again"],
    ]);
    expect(seen(c)).toEqual([
      [g, a.jid, "from A"],
      [g, b.jid, "from B"],
      [g, a.jid, "A again"],
    ]);

    // Receipts name the group and the reader; chat states the group and the typist.
    const receipts = new Recorder(a.client, "receipt");
    const first = b.messages.items[0]!;
    await b.client.groups.sendReceipt(g, a.jid, [first.id], "read");
    const [receipt] = await receipts.waitFor(1);
    expect(receipt).toMatchObject({ from: b.jid, group: g, ids: [first.id], type: "read" });
    const typing = c.client.events.next("chatstate", 5000);
    await b.client.sendChatState(g, "composing");
    expect(await typing).toMatchObject({ from: b.jid, group: g, state: "composing" });

    // A subject change reaches everyone as a groupChange, and the cached info follows it.
    const changes = [a, b, c].map((m) => m.client.events.next("groupChange", 5000));
    // b is no admin: refused with the code.
    await expect(b.client.groups.setSubject(g, "Renamed")).rejects.toMatchObject({ gkiCode: 403 });
    await a.client.groups.setSubject(g, "Renamed");
    for (const change of await Promise.all(changes)) {
      expect(change).toMatchObject({
        group: g,
        actor: a.jid,
        change: { type: "subject", subject: "Renamed" },
      });
    }
    expect((await c.client.groups.list()).find((i) => i.jid === g)?.subject).toBe("Renamed");
    for (const m of [a, b, c]) expect(m.errors).toEqual([]);
  });

  it("a member added later gets the sender keys and reads what follows", async () => {
    const [a, b, d] = [await member("A"), await member("B"), await member("D")];
    const g = await group(a, [b]);
    await a.client.groups.send(g, textMessage("before D"));
    await b.messages.waitFor(1);
    const bHeard = b.client.events.next("groupChange", 5000);
    const dJoined = d.client.events.next("groupChange", 5000);
    const results = await a.client.groups.add(g, [d.jid]);
    expect(results).toEqual([{ jid: d.jid }]);
    expect((await dJoined).change.type).toBe("create");
    expect((await bHeard).change).toEqual({ type: "add", participants: [d.jid] });

    await a.client.groups.send(g, textMessage("welcome D"));
    await b.client.groups.send(g, textMessage("hi D, B here"));
    const seen = await d.messages.waitFor(2);
    expect(seen.map((e) => [e.from, textOf(e)])).toEqual([
      [a.jid, "welcome D"],
      [b.jid, "hi D, B here"],
    ]);
    expect(d.errors).toEqual([]);
  });

  it("removing a member makes the remaining senders rotate; the removed one gets nothing new", async () => {
    const [a, b, c] = [await member("A"), await member("B"), await member("C")];
    const g = await group(a, [b, c]);
    await a.client.groups.send(g, textMessage("all three"));
    await b.client.groups.send(g, textMessage("B to all three"));
    await c.messages.waitFor(2);
    const aBefore = await distributionId(a, g);
    const bBefore = await distributionId(b, g);

    const bHeard = b.client.events.next("groupChange", 5000);
    const cHeard = c.client.events.next("groupChange", 5000);
    expect(await a.client.groups.remove(g, [c.jid])).toEqual([{ jid: c.jid }]);
    expect((await cHeard).change).toEqual({ type: "remove", participants: [c.jid] });
    await bHeard;

    await a.client.groups.send(g, textMessage("after C left"));
    await b.client.groups.send(g, textMessage("B after C left"));
    await b.messages.waitFor(2);
    await a.messages.waitFor(2);
    expect(textOf(b.messages.items[1]!)).toBe("after C left");
    expect(textOf(a.messages.items[1]!)).toBe("B after C left");

    // New sender keys, and the remaining member holds each sender's new one.
    const aAfter = await distributionId(a, g);
    const bAfter = await distributionId(b, g);
    expect(aAfter).toBeDefined();
    expect(aAfter).not.toBe(aBefore);
    expect(bAfter).not.toBe(bBefore);
    expect(await heldKeys(b, a, g)).toContain(aAfter);
    expect(await heldKeys(a, b, g)).toContain(bAfter);
    // The removed member forgot the group's keys and read nothing new.
    await pause(200);
    expect(c.messages.items).toHaveLength(2);
    expect(await heldKeys(c, a, g)).toEqual([]);
    expect(await distributionId(c, g)).toBeUndefined();
    await expect(c.client.groups.send(g, textMessage("let me in"))).rejects.toMatchObject({
      gkiCode: 404,
    });
  });

  it("an offline member gets the backlog after reconnecting", async () => {
    const [a, b] = [await member("A"), await member("B")];
    const g = await group(a, [b]);
    await b.client.stop();
    await a.client.groups.send(g, textMessage("while away 1"));
    await a.client.groups.send(g, textMessage("while away 2"));
    await b.client.start();
    const seen = await b.messages.waitFor(2);
    expect(seen.map((e) => [e.group, e.from, textOf(e), e.offline])).toEqual([
      [g, a.jid, "while away 1", true],
      [g, a.jid, "while away 2", true],
    ]);
  });

  it("a send whose ack was lost goes out again after the reconnect and is shown once", async () => {
    const relay = await TcpRelay.forSandbox(sandbox);
    try {
      const [a, b] = [await member("A", true, relay.url), await member("B")];
      const g = await group(a, [b]);
      // Sessions and sender key first: the bundle iq needs its answer.
      await a.client.groups.send(g, textMessage("hello"));
      await b.messages.waitFor(1);
      relay.droppingDownstream = true; // the gatekeeper's ack never reaches a
      const sending = a.client.groups.send(g, textMessage("once"), { timeoutMs: 10_000 });
      await b.messages.waitFor(2);
      relay.droppingDownstream = false;
      relay.cut();
      const { id } = await sending;
      await a.client.groups.send(g, textMessage("next"));
      await b.messages.waitFor(3);
      await pause(100);
      expect(b.messages.items.map((m) => textOf(m))).toEqual(["hello", "once", "next"]);
      expect(b.messages.items[1]!.id).toBe(id);
    } finally {
      await relay.close();
    }
  });

  it("a member whose sender key never arrived asks for a retry and is shown the message", async () => {
    const [a, e] = [await member("A"), await member("E")];
    const g = await group(a, [e]);
    await a.client.groups.send(g, textMessage("first"));
    await e.messages.waitFor(1);
    // Drop a distribution on purpose: a draws a new key and its records claim e was given it.
    const dropped = randomUUID();
    await a
      .db("signal_group_distributions")
      .where({ owner: a.jid, group_jid: g })
      .update({ distribution_id: dropped });
    await a
      .db("signal_group_recipients")
      .where({ owner: a.jid, group_jid: g, member_jid: e.jid })
      .update({ distribution_id: dropped });

    const undecryptable = e.client.events.next("undecryptable", 5000);
    const failed = new Recorder(a.client, "sendFailed");
    await a.client.groups.send(g, textMessage("second"));
    expect(await undecryptable).toMatchObject({
      from: a.jid,
      group: g,
      code: "no-sender-key",
      retryRequested: true,
    });
    // The retry brings the content pairwise, and the key with it: the next message decrypts.
    await e.messages.waitFor(2);
    await a.client.groups.send(g, textMessage("third"));
    const seen = await e.messages.waitFor(3);
    expect(seen.map((m) => [m.group, m.from, textOf(m)])).toEqual([
      [g, a.jid, "first"],
      [g, a.jid, "second"],
      [g, a.jid, "third"],
    ]);
    expect(await heldKeys(e, a, g)).toContain(dropped);
    expect(failed.items).toEqual([]);
    expect(e.errors).toEqual([]);
  });

  it("a client without groups cannot be added (406), cannot send, and refuses group stanzas", async () => {
    const [a, f] = [await member("A"), await member("F", false)];
    const { group: info, results } = await a.client.groups.create("No F", [f.jid]);
    expect(results).toEqual([expect.objectContaining({ jid: f.jid, error: 406 })]);
    expect(info.participants.map((p) => p.jid)).toEqual([a.jid]);
    const refused = (await f.client.groups
      .send(info.jid, textMessage("x"))
      .catch((e: unknown) => e)) as GatekeeperError;
    expect(refused).toBeInstanceOf(GatekeeperError);
    expect(refused.gkiCode).toBe(406);

    // A member that logs in again without groups stays a member, but refuses what comes.
    const h = await member("H");
    const g = await group(a, [h]);
    await h.client.stop();
    await a.client.groups.send(g, textMessage("can you read this?"));
    const queuedFor = async (jid: string) =>
      (await sandbox.admin.queues()).find((q) => q.recipient === jid)?.stanzas ?? [];
    expect((await queuedFor(h.jid)).map((q) => q.kind)).toEqual(["message"]);
    const without = nativeClient(sandbox, h.user, h.db, { groups: false });
    const messages = new Recorder(without, "message");
    const undecryptable = new Recorder(without, "undecryptable");
    started.push(without);
    await without.start();
    // Refused (400 groups-unsupported), so the gatekeeper drops it rather than redelivering.
    await eventually(async () => (await queuedFor(h.jid)).length === 0);
    expect(messages.items).toEqual([]);
    expect(undecryptable.items).toEqual([]);
  });
});
