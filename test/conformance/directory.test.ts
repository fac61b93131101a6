/** §12 Directory, consent and blocking: lookup, who reaches whom, settings, blocklist, rate limits. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Native, enlistedPartner, loginNative, newNative, phone } from "./fixtures.js";
import { type Target, need, openTarget, randomPartnerId } from "./target.js";
import { type Wire, is } from "./wire.js";
import { type XmlNode, child, el, iqError, message } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget({
    lookupContactsPerHour: 30,
    newConversationsPerDay: 2,
    messagesPerWindow: 5,
  });
});
afterAll(() => t.close());

const pid = (): string => t.partner?.id ?? "";

async function lookup(wire: Wire, numbers: string[]): Promise<XmlNode> {
  return wire.iq(
    "usync",
    "get",
    el(
      "query",
      {},
      numbers.map((n) => el("contact", {}, n)),
    ),
  );
}

function entry(result: XmlNode, number: string): Record<string, string> | undefined {
  return child(result, "list")?.children.find((u) => u.attrs.contact === number)?.attrs;
}

function numbers(n: number): string[] {
  return Array.from({ length: n }, () => phone());
}

describe("§12.1 Lookup", () => {
  it("§12.1 a partner user finds a native user who enabled interop and allows the partner: <user contact jid name/>", async (ctx) => {
    need(ctx, "admin", "partner");
    const native = await newNative(t, { optIn: [pid()], name: "Alice" });
    const { wire } = await enlistedPartner(t);
    expect(entry(await lookup(wire, [native.phone]), native.phone)).toEqual({
      contact: native.phone,
      jid: native.jid,
      name: "Alice",
    });
    wire.close();
  });

  it('§12.1 a native user who allows all partners ("*") is found', async (ctx) => {
    need(ctx, "admin", "partner");
    const native = await newNative(t, { optIn: "*" });
    const { wire } = await enlistedPartner(t);
    expect(entry(await lookup(wire, [native.phone]), native.phone)?.jid).toBe(native.jid);
    wire.close();
  });

  it('§12.1 a native user who did not opt in is type="out", exactly like a number that does not exist', async (ctx) => {
    need(ctx, "admin", "partner");
    const native = await newNative(t);
    const nobody = phone();
    const { wire } = await enlistedPartner(t);
    const r = await lookup(wire, [native.phone, nobody]);
    expect(entry(r, native.phone)).toEqual({ contact: native.phone, type: "out" });
    expect(entry(r, nobody)).toEqual({ contact: nobody, type: "out" });
    wire.close();
  });

  it('§12.1 a native user who allows only another partner is type="out"', async (ctx) => {
    need(ctx, "admin", "partner");
    const native = await newNative(t, { optIn: [randomPartnerId()] });
    const { wire } = await enlistedPartner(t);
    expect(entry(await lookup(wire, [native.phone]), native.phone)).toEqual({
      contact: native.phone,
      type: "out",
    });
    wire.close();
  });

  it("§12.1 a native user's lookup finds every native user with that number, opted in or not", async (ctx) => {
    need(ctx, "admin");
    const target = await newNative(t);
    const wire = await loginNative(t, await newNative(t));
    expect(entry(await lookup(wire, [target.phone]), target.phone)?.jid).toBe(target.jid);
    wire.close();
  });

  it("§12.1 §12.2 a native user's lookup finds a partner user enlisted with that number if the caller allows that partner", async (ctx) => {
    need(ctx, "admin", "partner");
    const { acc, wire: pw } = await enlistedPartner(t);
    const wire = await loginNative(t, await newNative(t, { optIn: [pid()] }));
    expect(entry(await lookup(wire, [acc.phone]), acc.phone)?.jid).toBe(acc.jid);
    wire.close();
    pw.close();
  });

  it('§12.1 a native user\'s lookup does not find a partner user of a partner the caller does not allow (type="out")', async (ctx) => {
    need(ctx, "admin", "partner");
    const { acc, wire: pw } = await enlistedPartner(t);
    const wire = await loginNative(t, await newNative(t));
    expect(entry(await lookup(wire, [acc.phone]), acc.phone)).toEqual({
      contact: acc.phone,
      type: "out",
    });
    wire.close();
    pw.close();
  });

  it('§12.1 more than 20 contacts is iq error 400 text="too-many-contacts", and nothing counts against the hourly limit', async (ctx) => {
    need(ctx, "admin");
    const wire = await loginNative(t, await newNative(t));
    expect(iqError(await lookup(wire, numbers(t.limits.lookupContactsPerQuery + 1)))).toEqual({
      code: "400",
      text: "too-many-contacts",
    });
    let left = t.limits.lookupContactsPerHour;
    while (left > 0) {
      const n = Math.min(left, t.limits.lookupContactsPerQuery);
      expect((await lookup(wire, numbers(n))).attrs.type).toBe("result");
      left -= n;
    }
    wire.close();
  });

  it("§12.1 over the hourly contact limit (60) a lookup is iq error 429 with retry-after", async (ctx) => {
    need(ctx, "admin");
    const wire = await loginNative(t, await newNative(t));
    let left = t.limits.lookupContactsPerHour;
    while (left > 0) {
      const n = Math.min(left, t.limits.lookupContactsPerQuery);
      await lookup(wire, numbers(n));
      left -= n;
    }
    const r = await lookup(wire, numbers(1));
    expect(iqError(r).code).toBe("429");
    expect(Number(child(r, "error")?.attrs["retry-after"])).toBeGreaterThan(0);
    wire.close();
  });
});

describe("§12.2 Who can reach whom", () => {
  it("§12.2 native users reach each other without opting in", async (ctx) => {
    need(ctx, "admin");
    const b = await newNative(t);
    const a = await loginNative(t, await newNative(t));
    const m = message(b.jid);
    a.send(m.xml);
    expect((await a.next(is("ack", { class: "message", id: m.id }))).attrs.error).toBeUndefined();
    a.close();
  });

  it("§12.2 a native user who has not enabled interop cannot message a partner user (404)", async (ctx) => {
    need(ctx, "admin", "partner");
    const { acc, wire: pw } = await enlistedPartner(t);
    const nw = await loginNative(t, await newNative(t));
    const m = message(acc.jid);
    nw.send(m.xml);
    expect((await nw.next(is("ack", { class: "message", id: m.id }))).attrs.error).toBe("404");
    nw.close();
    pw.close();
  });

  it("§12.2 partner users never reach other partner users (404)", async (ctx) => {
    need(ctx, "admin", "partner");
    const a = await enlistedPartner(t);
    const b = await enlistedPartner(t);
    const m = message(b.acc.jid);
    a.wire.send(m.xml);
    expect((await a.wire.next(is("ack", { class: "message", id: m.id }))).attrs.error).toBe("404");
    a.wire.close();
    b.wire.close();
  });
});

describe("§12.3 Native users' settings", () => {
  it("§12.3 a native user's interop settings iq is answered with a result and takes effect", async (ctx) => {
    need(ctx, "admin", "partner");
    const native = await newNative(t);
    const nw = await loginNative(t, native);
    const r = await nw.iq(
      "interop",
      "set",
      el("settings", { enabled: "true", partners: pid(), inbox: "separate" }),
    );
    expect(r.attrs.type).toBe("result");
    const { wire } = await enlistedPartner(t);
    expect(entry(await lookup(wire, [native.phone]), native.phone)?.jid).toBe(native.jid);
    wire.close();
    nw.close();
  });
});

describe("§12.4 Blocking", () => {
  async function blocked(): Promise<{ a: Wire; b: Wire; aJid: string; bJid: string }> {
    const ua: Native = await newNative(t);
    const ub: Native = await newNative(t);
    const a = await loginNative(t, ua);
    const b = await loginNative(t, ub);
    const m = message(ub.jid);
    a.send(m.xml);
    b.ack(await b.next(is("message", { id: m.id })));
    expect(
      (await b.iq("blocklist", "set", el("item", { action: "block", jid: ua.jid }))).attrs.type,
    ).toBe("result");
    return { a, b, aJid: ua.jid, bJid: ub.jid };
  }

  it("§12.4 a blocked JID is listed by <iq type=get xmlns=blocklist/>, and gone after unblock", async (ctx) => {
    need(ctx, "admin");
    const { a, b, aJid } = await blocked();
    const list = await b.iq("blocklist", "get");
    expect(child(list, "list")?.children.map((i) => i.attrs.jid)).toEqual([aJid]);
    await b.iq("blocklist", "set", el("item", { action: "unblock", jid: aJid }));
    expect(child(await b.iq("blocklist", "get"), "list")?.children ?? []).toEqual([]);
    a.close();
    b.close();
  });

  it("§12.4 a message to a user who blocked the sender is acked with t but not delivered", async (ctx) => {
    need(ctx, "admin");
    const { a, b, bJid } = await blocked();
    const m = message(bJid);
    a.send(m.xml);
    const ack = await a.next(is("ack", { class: "message", id: m.id }));
    expect(ack.attrs.error).toBeUndefined();
    expect(ack.attrs.t).toBeDefined();
    expect(await b.settle(is("message", { id: m.id }), 300)).toEqual([]);
    a.close();
    b.close();
  });

  it("§12.4 receipts, chat states and presence between them are dropped", async (ctx) => {
    need(ctx, "admin");
    const { a, b, aJid, bJid } = await blocked();
    a.send(el("receipt", { id: "3EB00000000000000001", to: bJid, t: 1 }));
    a.send(el("chatstate", { to: bJid }, "<composing/>"));
    b.send(el("presence", { type: "subscribe", to: aJid }));
    a.send(el("presence", { type: "available" }));
    await a.ping();
    expect(
      await b.settle(
        (s) =>
          s.tag === "receipt" ||
          s.tag === "chatstate" ||
          (s.tag === "presence" && s.attrs.type === "available"),
        300,
      ),
    ).toEqual([]);
    a.close();
    b.close();
  });
});

describe("§12.5 First contact and rate limits", () => {
  it("§12.5 a partner user starting more than 20 new conversations in 24 h gets negative ack 429", async (ctx) => {
    need(ctx, "admin", "partner");
    const { wire } = await enlistedPartner(t);
    const natives = await Promise.all(
      Array.from({ length: t.limits.newConversationsPerDay + 1 }, () =>
        newNative(t, { optIn: [pid()] }),
      ),
    );
    const answers: (string | undefined)[] = [];
    for (const n of natives) {
      const m = message(n.jid);
      wire.send(m.xml);
      answers.push((await wire.next(is("ack", { class: "message", id: m.id }))).attrs.error);
      await new Promise((r) =>
        setTimeout(r, t.limits.messageWindowMs / t.limits.messagesPerWindow / 2),
      );
    }
    expect(answers.slice(0, -1)).toEqual(natives.slice(0, -1).map(() => undefined));
    expect(answers.at(-1)).toBe("429");
    wire.close();
  }, 60_000);

  it("§12.5 more than 50 messages in 10 s from one account get negative ack 429 with text", async (ctx) => {
    need(ctx, "admin");
    const b = await newNative(t);
    const a = await loginNative(t, await newNative(t));
    let last: XmlNode | undefined;
    for (let i = 0; i <= t.limits.messagesPerWindow; i++) {
      const m = message(b.jid);
      a.send(m.xml);
      last = await a.next(is("ack", { class: "message", id: m.id }));
      if (i < t.limits.messagesPerWindow) expect(last.attrs.error).toBeUndefined();
    }
    expect(last?.attrs.error).toBe("429");
    expect(last?.attrs.text).toBeTruthy();
    a.close();
  });
});
