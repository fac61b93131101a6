/** §13 Receipts, chat states, presence. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, loginNative, nativePayload, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import { el, message, messageId } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget();
});
afterAll(() => t.close());

interface Two {
  a: Wire;
  b: Wire;
  aJid: string;
  bJid: string;
}

async function two(bExtra: { sendReadReceipts?: boolean } = {}): Promise<Two> {
  const ua = await newNative(t);
  const ub = await newNative(t);
  return {
    a: await loginNative(t, ua),
    b: await loginNative(t, ub, bExtra),
    aJid: ua.jid,
    bJid: ub.jid,
  };
}

/** One message a → b, delivered and acked: they have exchanged messages. */
async function converse(p: Two): Promise<void> {
  const m = message(p.bJid);
  p.a.send(m.xml);
  p.b.ack(await p.b.next(is("message", { id: m.id })));
}

describe("§13 Receipts", () => {
  it('§13 a receipt is acked <ack class="receipt" id/> and passed on as sent: id is the first message, <list> the further ones', async (ctx) => {
    need(ctx, "admin");
    const p = await two();
    const [first, second, third] = [messageId(), messageId(), messageId()];
    p.a.send(
      el(
        "receipt",
        { id: first, to: p.bJid, type: "read", t: 1700000000 },
        el("list", {}, [el("item", { id: second }), el("item", { id: third })]),
      ),
    );
    const ack = await p.a.next(is("ack", { class: "receipt", id: first }));
    expect(ack.attrs.error).toBeUndefined();
    const got = await p.b.next(is("receipt", { id: first }));
    expect(got.attrs).toMatchObject({ from: p.aJid, type: "read" });
    expect(got.children.find((c) => c.tag === "list")?.children.map((i) => i.attrs.id)).toEqual([
      second,
      third,
    ]);
    p.a.close();
    p.b.close();
  });

  it("§13 a receipt without type (delivered) is passed on without type", async (ctx) => {
    need(ctx, "admin");
    const p = await two();
    const id = messageId();
    p.a.send(el("receipt", { id, to: p.bJid, t: 1700000000 }));
    expect((await p.b.next(is("receipt", { id }))).attrs.type).toBeUndefined();
    p.a.close();
    p.b.close();
  });

  it('§13 a receipt for an offline recipient is queued like a message (offline="1")', async (ctx) => {
    need(ctx, "admin");
    const ua = await newNative(t);
    const ub = await newNative(t);
    const a = await loginNative(t, ua);
    const id = messageId();
    a.send(el("receipt", { id, to: ub.jid, t: 1700000000 }));
    await a.next(is("ack", { class: "receipt", id }));
    const b = await loginNative(t, ub);
    expect(b.received.find((s) => s.tag === "receipt")?.attrs).toMatchObject({ id, offline: "1" });
    a.close();
    b.close();
  });

  it("§13 read receipts to a user with send_read_receipts=false are dropped (the sender is still acked)", async (ctx) => {
    need(ctx, "admin");
    const p = await two({ sendReadReceipts: false });
    const read = messageId();
    const delivered = messageId();
    p.a.send(el("receipt", { id: read, to: p.bJid, type: "read", t: 1 }));
    expect((await p.a.next(is("ack", { class: "receipt", id: read }))).attrs.error).toBeUndefined();
    p.a.send(el("receipt", { id: delivered, to: p.bJid, t: 1 }));
    await p.b.next(is("receipt", { id: delivered }));
    expect(p.b.received.some((s) => s.tag === "receipt" && s.attrs.id === read)).toBe(false);
    p.a.close();
    p.b.close();
  });
});

describe("§13 Chat states", () => {
  it("§13 a chat state reaches a connected peer who exchanged messages with the sender, and is not acked", async (ctx) => {
    need(ctx, "admin");
    const p = await two();
    await converse(p);
    p.a.send(el("chatstate", { to: p.bJid }, "<composing/>"));
    const got = await p.b.next(is("chatstate"));
    expect(got.attrs.from).toBe(p.aJid);
    expect(got.children[0]?.tag).toBe("composing");
    expect(await p.a.settle(is("ack", { class: "chatstate" }))).toEqual([]);
    p.a.close();
    p.b.close();
  });

  it("§13 a chat state is not delivered to a peer without a conversation", async (ctx) => {
    need(ctx, "admin");
    const p = await two();
    p.a.send(el("chatstate", { to: p.bJid }, "<paused/>"));
    await p.a.ping();
    expect(await p.b.settle(is("chatstate"))).toEqual([]);
    p.a.close();
    p.b.close();
  });

  it("§13 a chat state is never queued: a peer who connects later does not get it", async (ctx) => {
    need(ctx, "admin");
    const ua = await newNative(t);
    const ub = await newNative(t);
    const p: Two = {
      a: await loginNative(t, ua),
      b: await loginNative(t, ub),
      aJid: ua.jid,
      bJid: ub.jid,
    };
    await converse(p);
    p.b.close();
    await p.b.closed;
    p.a.send(el("chatstate", { to: ub.jid }, "<composing/>"));
    await p.a.ping();
    const b = await connect(t, nativePayload(ub));
    await b.next(is("ib"));
    expect(await b.settle(is("chatstate"))).toEqual([]);
    p.a.close();
    b.close();
  });
});

describe("§13 Presence", () => {
  it("§13 subscribe is answered at once with <presence from=J type/>", async (ctx) => {
    need(ctx, "admin");
    const p = await two();
    p.a.send(el("presence", { type: "subscribe", to: p.bJid }));
    const got = await p.a.next(is("presence", { from: p.bJid }));
    expect(["available", "unavailable"]).toContain(got.attrs.type);
    p.a.close();
    p.b.close();
  });

  it("§13 a subscriber is told of each change", async (ctx) => {
    need(ctx, "admin");
    const p = await two();
    p.a.send(el("presence", { type: "subscribe", to: p.bJid }));
    await p.a.next(is("presence", { from: p.bJid }));
    p.b.send(el("presence", { type: "available" }));
    await p.a.next(is("presence", { from: p.bJid, type: "available" }));
    p.b.send(el("presence", { type: "unavailable" }));
    await p.a.next(is("presence", { from: p.bJid, type: "unavailable" }));
    expect(await p.b.settle(is("ack"))).toEqual([]);
    p.a.close();
    p.b.close();
  });
});
