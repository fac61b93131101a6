/** §19 Groups: the gatekeeper's side of the w:g2 iqs, notifications, fan-out, acks, receipts. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enlistedPartner, loginNative, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import {
  type XmlNode,
  b64,
  child,
  childrenOf,
  el,
  fakeCiphertext,
  iqError,
  messageId,
} from "./xml.js";

let t: Target;
beforeAll(async () => {
  // Shrunk in-process only; the rate tests below need `tunable`.
  t = await openTarget({ groupMembersMax: 3, groupsCreatedPerDay: 3 });
});
afterAll(() => t.close());

interface User {
  jid: string;
  wire: Wire;
}

async function nativeUser(opts: { optIn?: string[] | "*"; groups?: boolean } = {}): Promise<User> {
  const user = await newNative(t, opts.optIn === undefined ? {} : { optIn: opts.optIn });
  return { jid: user.jid, wire: await loginNative(t, user, { groups: opts.groups ?? true }) };
}

async function partnerUser(): Promise<User> {
  const { acc, wire } = await enlistedPartner(t, { groups: true });
  return { jid: acc.jid, wire };
}

/** A w:g2 iq to `to`. */
function g2(u: User, to: string, type: "get" | "set", inner: string): Promise<XmlNode> {
  return u.wire.iq("w:g2", type, inner, { to });
}

const participants = (jids: string[]): string[] => jids.map((jid) => el("participant", { jid }));

/** Creates a group of `creator` and `others`; every member's `<create>` notification is taken. */
async function group(creator: User, others: User[], subject = "Conformance"): Promise<string> {
  const r = await g2(
    creator,
    "gk",
    "set",
    el("create", { subject }, participants(others.map((o) => o.jid))),
  );
  const jid = child(r, "group")?.attrs.jid;
  if (r.attrs.type !== "result" || jid === undefined)
    throw new Error(`create failed: ${JSON.stringify(r)}`);
  for (const m of [creator, ...others]) await notification(m, jid, "create");
  return jid;
}

/** The next w:gp2 notification from `g` whose change is `tag`, acked. */
async function notification(u: User, g: string, tag: string): Promise<XmlNode> {
  const n = await u.wire.next(
    (s) => is("notification", { type: "w:gp2", from: g })(s) && s.children[0]?.tag === tag,
  );
  u.wire.send(el("ack", { class: "notification", id: n.attrs.id, to: g, type: "w:gp2" }));
  return n;
}

const results = (r: XmlNode, tag: string): Record<string, string | undefined>[] =>
  childrenOf(child(r, tag) ?? { tag, attrs: {}, children: [] }, "participant").map((p) => ({
    jid: p.attrs.jid,
    error: p.attrs.error,
  }));

const skmsg = (): string => el("enc", { v: 2, type: "skmsg" }, fakeCiphertext());

const close = (...us: User[]): void => us.forEach((u) => u.wire.close());

describe("§19.1 Addresses and capability", () => {
  it("§19.1 a created group is <18 digits>@g.gk, its creator the superadmin", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const r = await g2(a, "gk", "set", el("create", { subject: "S" }));
    const g = child(r, "group");
    expect(g?.attrs.jid).toMatch(/^\d{18}@g\.gk$/);
    expect(childrenOf(g as XmlNode, "participant").map((p) => p.attrs)).toEqual([
      { jid: a.jid, type: "superadmin" },
    ]);
    close(a);
  });

  it("§19.1 an account whose login did not set groups cannot be added (per-participant 406)", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const b = await nativeUser({ groups: false });
    const r = await g2(a, "gk", "set", el("create", { subject: "S" }, participants([b.jid])));
    expect(results(r, "create")).toEqual([{ jid: b.jid, error: "406" }]);
    close(a, b);
  });
});

describe("§19.2 Group info", () => {
  it("§19.2 members are listed in the order they joined, admins typed, members without type", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    await g2(a, g, "set", el("add", {}, participants([c.jid])));
    await g2(a, g, "set", el("promote", {}, participants([c.jid])));
    const info = child(await g2(b, g, "get", "<query/>"), "group") as XmlNode;
    expect(info.attrs).toMatchObject({
      jid: g,
      subject: "Conformance",
      s_o: a.jid,
      creator: a.jid,
    });
    expect(childrenOf(info, "participant").map((p) => p.attrs)).toEqual([
      { jid: a.jid, type: "superadmin" },
      { jid: b.jid },
      { jid: c.jid, type: "admin" },
    ]);
    close(a, b, c);
  });
});

describe("§19.3 Group iqs", () => {
  it("§19.3 a query from a non-member is 404 item-not-found, as for an unknown group", async (ctx) => {
    need(ctx, "admin");
    const [a, d] = [await nativeUser(), await nativeUser()];
    const g = await group(a, []);
    expect(iqError(await g2(d, g, "get", "<query/>"))).toEqual({
      code: "404",
      text: "item-not-found",
    });
    expect(iqError(await g2(d, "123456789012345678@g.gk", "get", "<query/>"))).toEqual({
      code: "404",
      text: "item-not-found",
    });
    close(a, d);
  });

  it("§19.3 any other group request from a non-member is 404 item-not-found, as for an unknown group", async (ctx) => {
    need(ctx, "admin");
    const [a, d] = [await nativeUser(), await nativeUser()];
    const g = await group(a, []);
    expect(iqError(await g2(d, g, "set", el("subject", {}, "x")))).toEqual({
      code: "404",
      text: "item-not-found",
    });
    expect(iqError(await g2(d, "123456789012345678@g.gk", "set", el("subject", {}, "x")))).toEqual({
      code: "404",
      text: "item-not-found",
    });
    close(a, d);
  });

  it("§19.3 an admin request from a member is 403 not-admin", async (ctx) => {
    need(ctx, "admin");
    const [a, b] = [await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    expect(iqError(await g2(b, g, "set", el("subject", {}, "mine")))).toEqual({
      code: "403",
      text: "not-admin",
    });
    close(a, b);
  });

  it("§19.3 a subject empty or over 100 characters is 400", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    expect(iqError(await g2(a, "gk", "set", el("create", { subject: "" }))).code).toBe("400");
    const g = await group(a, []);
    expect(iqError(await g2(a, g, "set", el("subject", {}, "x".repeat(101)))).code).toBe("400");
    expect((await g2(a, g, "set", el("subject", {}, "é".repeat(100)))).attrs.type).toBe("result");
    close(a);
  });

  it("§19.3 a description over 2048 characters is 400; one naming a stale id is 409 description-conflict", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const g = await group(a, []);
    expect(iqError(await g2(a, g, "set", el("description", {}, "y".repeat(2049)))).code).toBe(
      "400",
    );
    const first = await g2(a, g, "set", el("description", {}, "first"));
    const id = child(first, "description")?.attrs.id;
    expect(id).toBeDefined();
    expect(iqError(await g2(a, g, "set", el("description", { id: "STALE" }, "x")))).toEqual({
      code: "409",
      text: "description-conflict",
    });
    expect((await g2(a, g, "set", el("description", { id }, "second"))).attrs.type).toBe("result");
    close(a);
  });

  it("§19.3 a picture that is not JPEG, or over 256 KiB, is 400; a group without one answers 404", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const g = await group(a, []);
    expect(iqError(await g2(a, g, "get", "<picture/>")).code).toBe("404");
    const png = b64(Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    expect(
      iqError(await g2(a, g, "set", el("picture", { type: "image", mimetype: "image/png" }, png)))
        .code,
    ).toBe("400");
    const big = b64(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(256 * 1024)]));
    expect(
      iqError(await g2(a, g, "set", el("picture", { type: "image", mimetype: "image/jpeg" }, big)))
        .code,
    ).toBe("400");
    const jpeg = b64(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9, 9]));
    const set = await g2(
      a,
      g,
      "set",
      el("picture", { type: "image", mimetype: "image/jpeg" }, jpeg),
    );
    const id = child(set, "picture")?.attrs.id;
    const got = child(await g2(a, g, "get", "<picture/>"), "picture");
    expect(got?.attrs).toMatchObject({ id, mimetype: "image/jpeg" });
    expect(got?.text).toBe(jpeg);
    close(a);
  });

  it("§19.3 add is answered per participant: 409 for a member, the rest are added", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    const r = await g2(a, g, "set", el("add", {}, participants([b.jid, c.jid])));
    expect(results(r, "add")).toEqual([
      { jid: b.jid, error: "409" },
      { jid: c.jid, error: undefined },
    ]);
    close(a, b, c);
  });

  it("§19.3 an add, remove, promote or demote without a participant is 400", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const g = await group(a, []);
    for (const op of ["add", "remove", "promote", "demote"]) {
      expect(iqError(await g2(a, g, "set", `<${op}/>`)).code).toBe("400");
    }
    close(a);
  });

  it("§19.3 a superadmin cannot be removed or demoted by others (per-participant 403)", async (ctx) => {
    need(ctx, "admin");
    const [a, b] = [await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    await g2(a, g, "set", el("promote", {}, participants([b.jid])));
    expect(
      results(await g2(b, g, "set", el("remove", {}, participants([a.jid]))), "remove")[0]?.error,
    ).toBe("403");
    expect(
      results(await g2(b, g, "set", el("demote", {}, participants([a.jid]))), "demote")[0]?.error,
    ).toBe("403");
    close(a, b);
  });

  it('§19.3 when the last admin leaves, the member who joined earliest becomes admin (promote by participant="gk")', async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b, c]);
    expect((await g2(a, "gk", "set", el("leave", {}, el("group", { jid: g })))).attrs.type).toBe(
      "result",
    );
    const n = await notification(c, g, "promote");
    expect(n.attrs.participant).toBe("gk");
    expect(n.children[0]?.children[0]?.attrs.jid).toBe(b.jid);
    close(a, b, c);
  });

  it("§19.3 a group whose last member leaves is gone (404)", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const g = await group(a, []);
    await g2(a, "gk", "set", el("leave", {}, el("group", { jid: g })));
    expect(iqError(await g2(a, "gk", "set", el("leave", {}, el("group", { jid: g })))).code).toBe(
      "404",
    );
    close(a);
  });

  it("§19.3 consent: a partner adder gets 404 for a native user who did not opt in", async (ctx) => {
    need(ctx, "admin", "partner");
    const p = await partnerUser();
    const shy = await nativeUser();
    const r = await g2(p, "gk", "set", el("create", { subject: "S" }, participants([shy.jid])));
    expect(results(r, "create")).toEqual([{ jid: shy.jid, error: "404" }]);
    close(p, shy);
  });

  it("§19.3 consent: a native adder gets 403 member-not-opted-in for a native user who does not allow the group's partners", async (ctx) => {
    need(ctx, "admin", "partner");
    const a = await nativeUser({ optIn: [t.partner?.id ?? ""] });
    const p = await partnerUser();
    const shy = await nativeUser();
    const g = await group(a, [p]);
    const r = await g2(a, g, "set", el("add", {}, participants([shy.jid])));
    expect(childrenOf(child(r, "add") as XmlNode, "participant")[0]?.attrs).toMatchObject({
      jid: shy.jid,
      error: "403",
      text: "member-not-opted-in",
    });
    close(a, p, shy);
  });

  it("§19.3 a partner user is added only if every native member allows the partner (403 member-not-opted-in)", async (ctx) => {
    need(ctx, "admin", "partner");
    const a = await nativeUser({ optIn: [t.partner?.id ?? ""] });
    const shy = await nativeUser();
    const p = await partnerUser();
    const g = await group(a, [shy]);
    const r = await g2(a, g, "set", el("add", {}, participants([p.jid])));
    expect(results(r, "add")).toEqual([{ jid: p.jid, error: "403" }]);
    close(a, shy, p);
  });

  it("§19.3 a caller that does not take part in groups is refused 406", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser({ groups: false });
    expect(iqError(await g2(a, "gk", "set", el("create", { subject: "S" }))).code).toBe("406");
    close(a);
  });

  it("§19.3 members past the limit are per-participant 429 group-full", async (ctx) => {
    need(ctx, "admin", "tunable");
    const [a, b, c, d] = [
      await nativeUser(),
      await nativeUser(),
      await nativeUser(),
      await nativeUser(),
    ];
    const r = await g2(
      a,
      "gk",
      "set",
      el("create", { subject: "S" }, participants([b.jid, c.jid, d.jid])),
    );
    expect(childrenOf(child(r, "create") as XmlNode, "participant")[2]?.attrs).toMatchObject({
      jid: d.jid,
      error: "429",
      text: "group-full",
    });
    close(a, b, c, d);
  });

  it("§19.3 creating past the groups per day is 429 groups-created with retry-after", async (ctx) => {
    need(ctx, "admin", "tunable");
    const a = await nativeUser();
    for (let i = 0; i < t.limits.groupsCreatedPerDay; i++)
      await g2(a, "gk", "set", el("create", { subject: `S${i}` }));
    const r = await g2(a, "gk", "set", el("create", { subject: "one too many" }));
    expect(iqError(r)).toEqual({ code: "429", text: "groups-created" });
    expect(Number(child(r, "error")?.attrs["retry-after"])).toBeGreaterThan(0);
    close(a);
  });
});

describe("§19.4 Notifications", () => {
  it("§19.4 a change is announced to every member, the actor included, with participant=ACTOR", async (ctx) => {
    need(ctx, "admin");
    const [a, b] = [await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    await g2(a, g, "set", el("subject", {}, "New"));
    for (const u of [a, b]) {
      const n = await notification(u, g, "subject");
      expect(n.attrs.participant).toBe(a.jid);
      expect(n.children[0]?.attrs.subject).toBe("New");
    }
    close(a, b);
  });

  it("§19.4 a new member gets <create> with the full group, those there get <add>", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    await g2(a, g, "set", el("add", {}, participants([c.jid])));
    const added = await notification(b, g, "add");
    expect(added.children[0]?.children.map((p) => p.attrs.jid)).toEqual([c.jid]);
    const full = await notification(c, g, "create");
    expect(
      childrenOf(child(full.children[0] as XmlNode, "group") as XmlNode, "participant"),
    ).toHaveLength(3);
    close(a, b, c);
  });

  it("§19.4 removed members are told of their removal", async (ctx) => {
    need(ctx, "admin");
    const [a, b] = [await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    await g2(a, g, "set", el("remove", {}, participants([b.jid])));
    const n = await notification(b, g, "remove");
    expect(n.children[0]?.children[0]?.attrs.jid).toBe(b.jid);
    close(a, b);
  });
});

describe("§19.4 Notifications when an enlistment ends", () => {
  it("§6/§19.4 a partner user whose enlistment is removed leaves every group: the members get <leave>", async (ctx) => {
    need(ctx, "admin", "partner");
    const a = await nativeUser({ optIn: "*" });
    const p = await partnerUser();
    const g = await group(p, [a]);
    const r = await p.wire.iq("enlist", "set", el("remove"));
    expect(r.attrs.type).toBe("result");
    const n = await notification(a, g, "leave");
    expect(n.attrs.participant).toBe(p.jid);
    expect(n.children[0]?.children[0]?.attrs.jid).toBe(p.jid);
    const info = await g2(a, g, "get", el("query"));
    const members = childrenOf(child(info, "group")!, "participant").map((x) => x.attrs.jid);
    expect(members).toEqual([a.jid]);
    close(a, p);
  });
});

describe("§19.5 Group messages", () => {
  it("§19.5 a group message is acked once and delivered to each other member with the skmsg and its own <to>", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b, c]);
    const id = messageId();
    const sk = fakeCiphertext();
    const toB = fakeCiphertext();
    a.wire.send(
      el("message", { id, to: g, type: "text" }, [
        el("participants", {}, el("to", { jid: b.jid }, el("enc", { v: 2, type: "pkmsg" }, toB))),
        el("enc", { v: 2, type: "skmsg" }, sk),
      ]),
    );
    const ack = await a.wire.next(is("ack", { class: "message", id }));
    expect(ack.attrs.error).toBeUndefined();
    const atB = await b.wire.next(is("message", { id }));
    expect(atB.attrs).toMatchObject({ from: g, participant: a.jid, t: ack.attrs.t });
    expect(childrenOf(atB, "enc").map((e) => [e.attrs.type, e.text])).toEqual([
      ["pkmsg", toB],
      ["skmsg", sk],
    ]);
    const atC = await c.wire.next(is("message", { id }));
    expect(childrenOf(atC, "enc").map((e) => [e.attrs.type, e.text])).toEqual([["skmsg", sk]]);
    close(a, b, c);
  });

  it("§19.5 a <to> naming someone who is not a member is dropped; the rest is delivered", async (ctx) => {
    need(ctx, "admin");
    const [a, b, d] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b]);
    const id = messageId();
    a.wire.send(
      el("message", { id, to: g, type: "text" }, [
        el(
          "participants",
          {},
          el("to", { jid: d.jid }, el("enc", { v: 2, type: "pkmsg" }, fakeCiphertext())),
        ),
        skmsg(),
      ]),
    );
    expect((await a.wire.next(is("ack", { class: "message", id }))).attrs.error).toBeUndefined();
    await b.wire.next(is("message", { id }));
    expect(await d.wire.settle(is("message"))).toEqual([]);
    close(a, b, d);
  });

  it("§19.5 a message to a group you are not in is nacked 404 item-not-found", async (ctx) => {
    need(ctx, "admin");
    const [a, d] = [await nativeUser(), await nativeUser()];
    const g = await group(a, []);
    const id = messageId();
    d.wire.send(el("message", { id, to: g, type: "text" }, skmsg()));
    expect((await d.wire.next(is("ack", { class: "message", id }))).attrs).toMatchObject({
      error: "404",
      text: "item-not-found",
    });
    close(a, d);
  });

  it("§19.5 a group message without skmsg, or with a pairwise <enc> outside a <to>, is nacked 400", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const g = await group(a, []);
    const [x, y] = [messageId(), messageId()];
    a.wire.send(
      el(
        "message",
        { id: x, to: g, type: "text" },
        el(
          "participants",
          {},
          el("to", { jid: a.jid }, el("enc", { v: 2, type: "msg" }, fakeCiphertext())),
        ),
      ),
    );
    a.wire.send(
      el("message", { id: y, to: g, type: "text" }, [
        el("enc", { v: 2, type: "msg" }, fakeCiphertext()),
        skmsg(),
      ]),
    );
    expect((await a.wire.next(is("ack", { class: "message", id: x }))).attrs.error).toBe("400");
    expect((await a.wire.next(is("ack", { class: "message", id: y }))).attrs.error).toBe("400");
    close(a);
  });

  it("§19.5 a delivered group message is removed only by an ack naming to=G and participant", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const ub = await newNative(t);
    const b: User = { jid: ub.jid, wire: await loginNative(t, ub, { groups: true }) };
    const g = await group(a, [b]);
    const id = messageId();
    a.wire.send(el("message", { id, to: g, type: "text" }, skmsg()));
    await b.wire.next(is("message", { id }));
    b.wire.send(el("ack", { class: "message", id, to: g }));
    await b.wire.ping();
    b.wire.close();
    await b.wire.closed;
    const again = await loginNativeKeep(ub);
    const redelivered = again.received.find((s) => is("message", { id })(s));
    expect(redelivered?.attrs.offline).toBe("1");
    again.send(el("ack", { class: "message", id, to: g, participant: a.jid }));
    await again.ping();
    again.close();
    await again.closed;
    const third = await loginNativeKeep(ub);
    expect(third.received.some((s) => is("message", { id })(s))).toBe(false);
    close(a);
    third.close();
  });

  it("§19.5 a retry resend (<participants> only, no skmsg) is delivered to the members it names only", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b, c]);
    const id = messageId();
    a.wire.send(
      el(
        "message",
        { id, to: g, type: "text", retry: 1 },
        el(
          "participants",
          {},
          el("to", { jid: b.jid }, el("enc", { v: 2, type: "pkmsg" }, fakeCiphertext())),
        ),
      ),
    );
    expect((await a.wire.next(is("ack", { class: "message", id }))).attrs.error).toBeUndefined();
    const atB = await b.wire.next(is("message", { id, retry: "1" }));
    expect(childrenOf(atB, "enc").map((e) => e.attrs.type)).toEqual(["pkmsg"]);
    expect(await c.wire.settle(is("message", { id }))).toEqual([]);
    close(a, b, c);
  });
});

describe("§19.6 Receipts, chat states", () => {
  it("§19.6 a group receipt is delivered only to the sender it names, as from=G participant=READER", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b, c]);
    const id = messageId();
    b.wire.send(
      el(
        "receipt",
        { id, to: g, participant: a.jid, type: "retry" },
        el("retry", { count: 1, id, t: 1 }),
      ),
    );
    expect((await b.wire.next(is("ack", { class: "receipt", id }))).attrs.error).toBeUndefined();
    expect((await a.wire.next(is("receipt", { id }))).attrs).toMatchObject({
      from: g,
      participant: b.jid,
      type: "retry",
    });
    expect(await c.wire.settle(is("receipt"))).toEqual([]);
    close(a, b, c);
  });

  it("§19.6 a read receipt follows §13's reciprocity per pair", async (ctx) => {
    need(ctx, "admin");
    const a = await nativeUser();
    const ub = await newNative(t);
    const b: User = {
      jid: ub.jid,
      wire: await loginNative(t, ub, { groups: true, sendReadReceipts: false }),
    };
    const g = await group(a, [b]);
    const id = messageId();
    b.wire.send(el("receipt", { id, to: g, participant: a.jid, type: "read" }));
    await b.wire.next(is("ack", { class: "receipt", id }));
    expect(await a.wire.settle(is("receipt", { id }))).toEqual([]);
    close(a, b);
  });

  it("§19.6 a chat state to a group reaches every connected member as from=G participant=S", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b, c]);
    a.wire.send(el("chatstate", { to: g }, "<composing/>"));
    for (const u of [b, c])
      expect((await u.wire.next(is("chatstate"))).attrs).toMatchObject({
        from: g,
        participant: a.jid,
      });
    close(a, b, c);
  });

  it("§19.6 a member who blocked another receives nothing from them in the group", async (ctx) => {
    need(ctx, "admin");
    const [a, b, c] = [await nativeUser(), await nativeUser(), await nativeUser()];
    const g = await group(a, [b, c]);
    await b.wire.iq("blocklist", "set", el("item", { action: "block", jid: a.jid }));
    const id = messageId();
    a.wire.send(el("message", { id, to: g, type: "text" }, skmsg()));
    expect((await a.wire.next(is("ack", { class: "message", id }))).attrs.error).toBeUndefined();
    await c.wire.next(is("message", { id }));
    expect(await b.wire.settle(is("message", { id }))).toEqual([]);
    close(a, b, c);
  });
});

/** Logs a native user in again (groups on) and waits for `<ib>`, keeping what came before it. */
async function loginNativeKeep(user: Awaited<ReturnType<typeof newNative>>): Promise<Wire> {
  return loginNative(t, user, { groups: true });
}
