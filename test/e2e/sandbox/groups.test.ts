/**
 * Groups on the sandbox (docs/protocol.md §19), over real Noise: the w:g2 iqs and their
 * notifications, consent, fan-out of group messages, acks with participant, retries,
 * receipts, chat states and limits. Ciphertexts are fake bytes: the sandbox relays them.
 */
import { randomInt } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GroupChange,
  type IqStanza,
  type StanzaOf,
  type XmlNode,
  buildGroupCreate,
  buildGroupDescription,
  buildGroupLeave,
  buildGroupMembership,
  buildGroupParticipating,
  buildGroupPictureGet,
  buildGroupPictureSet,
  buildGroupQuery,
  buildGroupSubject,
  buildEnlistRequest,
  buildEnlistVerify,
  parseDescriptionResult,
  parseGroupChange,
  parseGroupCreateResult,
  parseGroupQueryResult,
  parseMembershipResult,
  parseParticipatingResult,
  parsePictureGetResult,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  PARTNER_ID,
  type PartnerAuthServer,
  fakeCiphertext,
  messageId,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import { RawClient } from "./raw-client.js";

interface Member {
  jid: string;
  phone: string;
  client: RawClient;
}

const phone = (): string => `+49151${randomInt(10_000_000, 99_999_999)}`;

async function native(
  sandbox: Sandbox,
  opts: { optIn?: string[] | "*"; groups?: boolean } = {},
): Promise<Member & { user: { accountId: string; token: string } }> {
  const number = phone();
  const user = await sandbox.admin.addUser({ phone: number, name: `N${number.slice(-4)}` });
  if (opts.optIn)
    await sandbox.admin.updateSettings(number, { enabled: true, partners: opts.optIn });
  const { client } = await RawClient.native(sandbox, user, { groups: opts.groups ?? true });
  await client.nextOf("ib");
  return { jid: user.jid, phone: number, client, user };
}

async function partner(
  sandbox: Sandbox,
  auth: PartnerAuthServer,
  opts: { groups?: boolean } = {},
): Promise<Member> {
  const number = phone();
  const accountId = `acc${randomInt(1e9)}`;
  auth.users.set(accountId, { token: `tok-${accountId}`, phone: number });
  const { client } = await RawClient.interop(sandbox, PARTNER_ID, accountId, `tok-${accountId}`, {
    groups: opts.groups ?? true,
  });
  await client.iq("enlist", "set", buildEnlistRequest());
  const { code } = await sandbox.admin.latestCode(number);
  await client.iq("enlist", "set", buildEnlistVerify(code));
  await client.nextOf("ib");
  return { jid: `${PARTNER_ID}.${accountId}@interop`, phone: number, client };
}

let iqCounter = 0;
/** A w:g2 iq to `to` (a group, or gk). */
async function g2(
  c: RawClient,
  to: string,
  type: "get" | "set",
  children: XmlNode[],
): Promise<IqStanza> {
  const id = `g-${++iqCounter}`;
  c.send({ kind: "iq", id, type, xmlns: "w:g2", to, children });
  return c.nextOf("iq", (s) => s.id === id);
}

function ok(iq: IqStanza): XmlNode[] {
  if (iq.type !== "result") throw new Error(`iq failed: ${JSON.stringify(iq.error)}`);
  return iq.children;
}

/** The next group notification of `type` from `group`, acked. */
async function change(
  c: RawClient,
  group: string,
  type: GroupChange["type"],
): Promise<{ change: GroupChange; n: StanzaOf<"notification"> }> {
  const n = await c.nextOf(
    "notification",
    (s) => s.type === "w:gp2" && s.from === group && parseGroupChange(s.children).type === type,
  );
  c.send({ kind: "ack", class: "notification", id: n.id, to: group, type: "w:gp2" });
  return { change: parseGroupChange(n.children), n };
}

async function createGroup(creator: Member, others: Member[], subject = "Team"): Promise<string> {
  const result = parseGroupCreateResult(
    ok(
      await g2(
        creator.client,
        "gk",
        "set",
        buildGroupCreate(
          subject,
          others.map((o) => o.jid),
        ),
      ),
    ),
  );
  for (const m of [creator, ...others]) await change(m.client, result.group.jid, "create");
  return result.group.jid;
}

const close = (...ms: Member[]): void => ms.forEach((m) => m.client.close());

let auth: PartnerAuthServer;
let sandbox: Sandbox;
beforeAll(async () => {
  auth = await startPartnerAuth();
  sandbox = await sandboxWithPartner(auth);
});
afterAll(async () => {
  await sandbox.close();
  await auth.close();
});

describe("group iqs and notifications (§19.2–§19.4)", () => {
  it("create answers the full group and per-participant results, announces it to every member, and query/participating/admin API agree", async () => {
    const a = await native(sandbox, { optIn: [PARTNER_ID] });
    // Every native member must allow the partner of a partner member (§19.3 "Consent").
    const b = await native(sandbox, { optIn: [PARTNER_ID] });
    const p = await partner(sandbox, auth);
    const result = parseGroupCreateResult(
      ok(await g2(a.client, "gk", "set", buildGroupCreate("Team", [b.jid, p.jid]))),
    );
    const g = result.group;
    expect(g.jid).toMatch(/^\d{18}@g\.gk$/);
    expect(g).toMatchObject({ subject: "Team", creator: a.jid, subjectOwner: a.jid, size: 3 });
    expect(g.participants).toEqual([
      { jid: a.jid, role: "superadmin" },
      { jid: b.jid, role: "member" },
      { jid: p.jid, role: "member" },
    ]);
    expect(result.results).toEqual([{ jid: b.jid }, { jid: p.jid }]);
    for (const m of [a, b, p]) {
      const { change: c, n } = await change(m.client, g.jid, "create");
      expect(n.participant).toBe(a.jid);
      expect(c).toEqual({ type: "create", group: g });
    }
    expect(parseGroupQueryResult(ok(await g2(p.client, g.jid, "get", buildGroupQuery())))).toEqual(
      g,
    );
    const mine = parseParticipatingResult(
      ok(await g2(b.client, "gk", "get", buildGroupParticipating())),
    );
    expect(mine.map((x) => x.jid)).toEqual([g.jid]);
    const stranger = await native(sandbox);
    const hidden = await g2(stranger.client, g.jid, "get", buildGroupQuery());
    expect(hidden.error).toMatchObject({ code: 404, text: "item-not-found" });
    const info = await sandbox.admin.getGroup(g.jid);
    expect(info.members.map((m) => m.role)).toEqual(["superadmin", "member", "member"]);
    expect((await sandbox.admin.listGroups()).some((x) => x.jid === g.jid)).toBe(true);
    close(a, b, p, stranger);
  });

  it("subject, description and picture: admins change them, members hear of it, errors as §19.3 says", async () => {
    const a = await native(sandbox);
    const b = await native(sandbox);
    const g = await createGroup(a, [b]);

    ok(await g2(a.client, g, "set", buildGroupSubject("Renamed")));
    for (const m of [a, b]) {
      const { change: c } = await change(m.client, g, "subject");
      expect(c).toMatchObject({ type: "subject", subject: "Renamed" });
    }
    expect((await g2(b.client, g, "set", buildGroupSubject("Mine"))).error).toMatchObject({
      code: 403,
      text: "not-admin",
    });
    expect((await g2(a.client, g, "set", buildGroupSubject(""))).error?.code).toBe(400);
    expect((await g2(a.client, g, "set", buildGroupSubject("x".repeat(101)))).error?.code).toBe(
      400,
    );

    const d1 = parseDescriptionResult(
      ok(await g2(a.client, g, "set", buildGroupDescription({ text: "first" }))),
    );
    expect((await change(b.client, g, "description")).change).toEqual({
      type: "description",
      id: d1,
      text: "first",
    });
    const stale = await g2(a.client, g, "set", buildGroupDescription({ prev: "WRONG", text: "x" }));
    expect(stale.error).toMatchObject({ code: 409, text: "description-conflict" });
    const d2 = parseDescriptionResult(
      ok(await g2(a.client, g, "set", buildGroupDescription({ prev: d1, delete: true }))),
    );
    expect((await change(b.client, g, "description")).change).toEqual({
      type: "description",
      id: d2,
      deleted: true,
    });
    expect(
      (await g2(a.client, g, "set", buildGroupDescription({ text: "y".repeat(2049) }))).error?.code,
    ).toBe(400);

    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...fakeCiphertext(100)]);
    ok(await g2(a.client, g, "set", buildGroupPictureSet(jpeg)));
    expect((await change(b.client, g, "picture")).change).toMatchObject({ type: "picture" });
    const got = parsePictureGetResult(ok(await g2(b.client, g, "get", buildGroupPictureGet())));
    expect(Buffer.from(got.bytes).equals(Buffer.from(jpeg))).toBe(true);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    expect((await g2(a.client, g, "set", buildGroupPictureSet(png, "image/png"))).error?.code).toBe(
      400,
    );
    close(a, b);
  });

  it("add, remove, promote, demote and leave: per-participant errors, notifications to those there and those removed", async () => {
    const a = await native(sandbox);
    const b = await native(sandbox);
    const c = await native(sandbox);
    const d = await native(sandbox);
    const g = await createGroup(a, [b]);

    const added = parseMembershipResult(
      "add",
      ok(await g2(a.client, g, "set", buildGroupMembership("add", [c.jid, b.jid]))),
    );
    expect(added).toEqual([{ jid: c.jid }, { jid: b.jid, error: 409 }]);
    expect((await change(b.client, g, "add")).change).toEqual({
      type: "add",
      participants: [c.jid],
    });
    const welcome = (await change(c.client, g, "create")).change;
    expect(welcome.type === "create" && welcome.group.participants.map((p) => p.jid)).toEqual([
      a.jid,
      b.jid,
      c.jid,
    ]);

    expect(
      (await g2(b.client, g, "set", buildGroupMembership("add", [d.jid]))).error,
    ).toMatchObject({ code: 403, text: "not-admin" });
    expect(
      (await g2(d.client, g, "set", buildGroupMembership("add", [d.jid]))).error,
    ).toMatchObject({ code: 404, text: "item-not-found" });
    const notMember = parseMembershipResult(
      "remove",
      ok(await g2(a.client, g, "set", buildGroupMembership("remove", [d.jid]))),
    );
    expect(notMember).toEqual([{ jid: d.jid, error: 409 }]);

    ok(await g2(a.client, g, "set", buildGroupMembership("promote", [b.jid])));
    for (const m of [a, b, c]) {
      expect((await change(m.client, g, "promote")).change).toEqual({
        type: "promote",
        participants: [b.jid],
      });
    }
    const bySuper = parseMembershipResult(
      "remove",
      ok(await g2(b.client, g, "set", buildGroupMembership("remove", [a.jid]))),
    );
    expect(bySuper[0]?.error).toBe(403);
    const demoteSuper = parseMembershipResult(
      "demote",
      ok(await g2(b.client, g, "set", buildGroupMembership("demote", [a.jid]))),
    );
    expect(demoteSuper[0]?.error).toBe(403);

    ok(await g2(b.client, g, "set", buildGroupMembership("remove", [c.jid])));
    expect((await change(c.client, g, "remove")).change).toEqual({
      type: "remove",
      participants: [c.jid],
    });
    expect((await change(a.client, g, "remove")).change).toEqual({
      type: "remove",
      participants: [c.jid],
    });
    expect((await g2(c.client, g, "get", buildGroupQuery())).error?.code).toBe(404);

    // The admins leave: the earliest member left becomes admin, by gk.
    ok(await g2(b.client, g, "set", buildGroupMembership("demote", [b.jid])));
    ok(await g2(a.client, "gk", "set", buildGroupLeave([g])));
    expect((await change(b.client, g, "leave")).change).toEqual({
      type: "leave",
      participants: [a.jid],
    });
    const promoted = await change(b.client, g, "promote");
    expect(promoted.n.participant).toBe("gk");
    expect(promoted.change).toEqual({ type: "promote", participants: [b.jid] });

    ok(await g2(b.client, "gk", "set", buildGroupLeave([g])));
    await expect(sandbox.admin.getGroup(g)).rejects.toMatchObject({ status: 404 });
    expect((await g2(b.client, "gk", "set", buildGroupLeave([g]))).error?.code).toBe(404);
    close(a, b, c, d);
  });

  it("consent: a partner adder gets 404 for a native who did not opt in, a native adder 403 member-not-opted-in; no groups → 406", async () => {
    const p = await partner(sandbox, auth);
    const shy = await native(sandbox);
    const open = await native(sandbox, { optIn: [PARTNER_ID] });
    const created = parseGroupCreateResult(
      ok(await g2(p.client, "gk", "set", buildGroupCreate("P", [shy.jid, open.jid]))),
    );
    expect(created.results).toEqual([{ jid: shy.jid, error: 404 }, { jid: open.jid }]);

    const a = await native(sandbox, { optIn: [PARTNER_ID] });
    const g = await createGroup(a, [p]);
    const refused = parseMembershipResult(
      "add",
      ok(await g2(a.client, g, "set", buildGroupMembership("add", [shy.jid]))),
    );
    expect(refused).toEqual([{ jid: shy.jid, error: 403, text: "member-not-opted-in" }]);

    const noGroups = await native(sandbox, { groups: false });
    const r = parseMembershipResult(
      "add",
      ok(await g2(a.client, g, "set", buildGroupMembership("add", [noGroups.jid]))),
    );
    expect(r).toEqual([{ jid: noGroups.jid, error: 406 }]);
    expect((await g2(noGroups.client, "gk", "set", buildGroupCreate("x", []))).error?.code).toBe(
      406,
    );
    close(p, shy, open, a, noGroups);
  });
});

describe("group messages (§19.5, §19.6)", () => {
  it("fans out once: each member gets the skmsg and its own <to>, a non-member's <to> is dropped, the sender is acked once", async () => {
    const a = await native(sandbox, { optIn: [PARTNER_ID] });
    // Every native member must allow the partner of a partner member (§19.3 "Consent").
    const b = await native(sandbox, { optIn: [PARTNER_ID] });
    const p = await partner(sandbox, auth);
    const outsider = await native(sandbox);
    const g = await createGroup(a, [b, p]);
    const id = messageId();
    const sk = fakeCiphertext(80);
    const toB = fakeCiphertext(60);
    a.client.send({
      kind: "message",
      id,
      to: g,
      type: "text",
      participants: [
        { jid: b.jid, enc: { v: 2, type: "pkmsg", ciphertext: toB } },
        { jid: outsider.jid, enc: { v: 2, type: "msg", ciphertext: fakeCiphertext(10) } },
      ],
      skmsg: { v: 2, type: "skmsg", ciphertext: sk },
    });
    const ack = await a.client.nextOf("ack", (s) => s.id === id);
    expect(ack.error).toBeUndefined();
    const atB = await b.client.nextOf("message", (s) => s.id === id);
    expect(atB).toMatchObject({ from: g, participant: a.jid, t: ack.t });
    expect(Buffer.from(atB.enc?.ciphertext ?? []).equals(Buffer.from(toB))).toBe(true);
    expect(Buffer.from(atB.skmsg?.ciphertext ?? []).equals(Buffer.from(sk))).toBe(true);
    const atP = await p.client.nextOf("message", (s) => s.id === id);
    expect(atP.enc).toBeUndefined();
    expect(Buffer.from(atP.skmsg?.ciphertext ?? []).equals(Buffer.from(sk))).toBe(true);
    await outsider.client.ping();
    expect(outsider.client.unclaimed.some((s) => s.kind === "message")).toBe(false);
    await a.client.ping();
    expect(a.client.unclaimed.some((s) => s.kind === "message")).toBe(false);
    close(a, b, p, outsider);
  });

  it("an ack must name participant; offline members get the message on login; non-members are refused 404", async () => {
    const a = await native(sandbox);
    const b = await native(sandbox);
    const c = await native(sandbox);
    const g = await createGroup(a, [b, c]);
    c.client.close();
    await c.client.closed;
    const id = messageId();
    a.client.send({
      kind: "message",
      id,
      to: g,
      type: "text",
      skmsg: { v: 2, type: "skmsg", ciphertext: fakeCiphertext() },
    });
    await a.client.nextOf("ack", (s) => s.id === id);

    // b acks without participant: that names nothing, so it comes again.
    await b.client.nextOf("message", (s) => s.id === id);
    b.client.send({ kind: "ack", class: "message", id, to: g });
    await b.client.ping();
    b.client.close();
    await b.client.closed;
    const b2 = (await RawClient.native(sandbox, b.user, { groups: true })).client;
    const again = await b2.nextOf("message", (s) => s.id === id);
    expect(again.offline).toBe(true);
    b2.send({ kind: "ack", class: "message", id, to: g, participant: a.jid });
    await b2.nextOf("ib");
    b2.close();
    await b2.closed;
    const b3 = (await RawClient.native(sandbox, b.user, { groups: true })).client;
    expect((await b3.nextOf("ib")).offlineCount).toBe(0);

    const c2 = (await RawClient.native(sandbox, c.user, { groups: true })).client;
    const offline = await c2.nextOf("message", (s) => s.id === id);
    expect(offline).toMatchObject({ from: g, participant: a.jid, offline: true });

    const outsider = await native(sandbox);
    const mid = messageId();
    outsider.client.send({
      kind: "message",
      id: mid,
      to: g,
      type: "text",
      skmsg: { v: 2, type: "skmsg", ciphertext: fakeCiphertext() },
    });
    expect(await outsider.client.nextOf("ack", (s) => s.id === mid)).toMatchObject({
      error: 404,
      text: "item-not-found",
    });
    a.client.close();
    b3.close();
    c2.close();
    outsider.client.close();
  });

  it("a retry receipt reaches the sender only; the pairwise resend goes to the requester only", async () => {
    const a = await native(sandbox);
    const b = await native(sandbox);
    const c = await native(sandbox);
    const g = await createGroup(a, [b, c]);
    const id = messageId();
    a.client.send({
      kind: "message",
      id,
      to: g,
      type: "text",
      skmsg: { v: 2, type: "skmsg", ciphertext: fakeCiphertext() },
    });
    await a.client.nextOf("ack", (s) => s.id === id);
    await b.client.nextOf("message", (s) => s.id === id);
    await c.client.nextOf("message", (s) => s.id === id);

    b.client.send({
      kind: "receipt",
      id,
      to: g,
      participant: a.jid,
      type: "retry",
      ids: [],
      retry: { count: 1, id, t: 1 },
      registrationId: 42,
    });
    const retryAtA = await a.client.nextOf("receipt", (s) => s.id === id);
    expect(retryAtA).toMatchObject({
      from: g,
      participant: b.jid,
      type: "retry",
      registrationId: 42,
    });

    const pairwise = fakeCiphertext(70);
    a.client.send({
      kind: "message",
      id,
      to: g,
      type: "text",
      retry: 1,
      participants: [{ jid: b.jid, enc: { v: 2, type: "pkmsg", ciphertext: pairwise } }],
    });
    expect((await a.client.nextOf("ack", (s) => s.id === id)).error).toBeUndefined();
    const resent = await b.client.nextOf("message", (s) => s.id === id && s.retry === 1);
    expect(resent.skmsg).toBeUndefined();
    expect(Buffer.from(resent.enc?.ciphertext ?? []).equals(Buffer.from(pairwise))).toBe(true);

    // c asks too, with its own retry count 1: a different resend, not a duplicate.
    a.client.send({
      kind: "message",
      id,
      to: g,
      type: "text",
      retry: 1,
      participants: [{ jid: c.jid, enc: { v: 2, type: "msg", ciphertext: fakeCiphertext() } }],
    });
    await c.client.nextOf("message", (s) => s.id === id && s.retry === 1);
    await b.client.ping();
    expect(b.client.unclaimed.filter((s) => s.kind === "message" && s.retry === 1)).toEqual([]);
    close(a, b, c);
  });

  it("read receipts go to the sender only, chat states to every connected member", async () => {
    const a = await native(sandbox);
    const b = await native(sandbox);
    const c = await native(sandbox);
    const g = await createGroup(a, [b, c]);
    const id = messageId();
    b.client.send({ kind: "receipt", id, to: g, participant: a.jid, type: "read", ids: [] });
    await b.client.nextOf("ack", (s) => s.id === id);
    expect(await a.client.nextOf("receipt", (s) => s.id === id)).toMatchObject({
      from: g,
      participant: b.jid,
      type: "read",
    });
    await c.client.ping();
    expect(c.client.unclaimed.some((s) => s.kind === "receipt")).toBe(false);

    a.client.send({ kind: "chatstate", to: g, state: "composing" });
    for (const m of [b, c]) {
      expect(await m.client.nextOf("chatstate")).toMatchObject({
        from: g,
        participant: a.jid,
        state: "composing",
      });
    }
    close(a, b, c);
  });
});

describe("group limits (§19.7)", () => {
  it("members per group (429 group-full) and groups created per day (429 groups-created)", async () => {
    const small = await sandboxWithPartner(auth, {
      limits: { groupMembersMax: 2, groupsCreatedPerDay: 1 },
    });
    try {
      const a = await native(small);
      const b = await native(small);
      const c = await native(small);
      const result = parseGroupCreateResult(
        ok(await g2(a.client, "gk", "set", buildGroupCreate("S", [b.jid, c.jid]))),
      );
      expect(result.results).toEqual([
        { jid: b.jid },
        { jid: c.jid, error: 429, text: "group-full" },
      ]);
      const again = await g2(a.client, "gk", "set", buildGroupCreate("T", []));
      expect(again.error).toMatchObject({ code: 429, text: "groups-created" });
      expect(again.error?.retryAfter).toBeGreaterThan(0);
      close(a, b, c);
    } finally {
      await small.close();
    }
  });
});
