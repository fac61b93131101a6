/** §9 Delivery: store-then-deliver, the offline backlog, redelivery of what was not acked (and §5.1 acks). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Native, connect, loginNative, nativePayload, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import { type XmlNode, el, message } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget();
});
afterAll(() => t.close());

/** Sends `n` messages from a to `to` and waits for their acks; returns the ids. */
async function sendMany(a: Wire, to: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = message(to);
    a.send(m.xml);
    await a.next(is("ack", { class: "message", id: m.id }));
    ids.push(m.id);
  }
  return ids;
}

/** Logs in and returns the connection with everything up to and including `<ib>`. */
async function loginWithBacklog(user: Native): Promise<{ wire: Wire; backlog: XmlNode[] }> {
  const wire = await connect(t, nativePayload(user));
  await wire.next(is("success"));
  await wire.next(is("ib"));
  const end = wire.received.findIndex((s) => s.tag === "ib");
  return { wire, backlog: wire.received.slice(1, end + 1) };
}

async function sender(): Promise<{ a: Wire; b: Native }> {
  const a = await loginNative(t, await newNative(t));
  return { a, b: await newNative(t) };
}

describe("§9 Delivery, queues and the offline backlog", () => {
  it("§9 a connected recipient gets a message at once, without offline", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await sender();
    const bw = await loginNative(t, b);
    const [id] = await sendMany(a, b.jid, 1);
    expect((await bw.next(is("message", { id }))).attrs.offline).toBeUndefined();
    a.close();
    bw.close();
  });

  it('§9 stanzas for an offline recipient come on login, in the order accepted, with offline="1", then <ib><offline count="N"/></ib>', async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await sender();
    const ids = await sendMany(a, b.jid, 3);
    const { wire, backlog } = await loginWithBacklog(b);
    expect(backlog.map((s) => s.tag)).toEqual(["message", "message", "message", "ib"]);
    expect(backlog.slice(0, 3).map((s) => s.attrs.id)).toEqual(ids);
    expect(backlog.slice(0, 3).every((s) => s.attrs.offline === "1")).toBe(true);
    expect(backlog[3]?.children[0]).toMatchObject({ tag: "offline", attrs: { count: "3" } });
    a.close();
    wire.close();
  });

  it('§9 a login with nothing queued gets <ib><offline count="0"/></ib>', async (ctx) => {
    need(ctx, "admin");
    const { wire, backlog } = await loginWithBacklog(await newNative(t));
    expect(backlog).toHaveLength(1);
    expect(backlog[0]?.children[0]).toMatchObject({ tag: "offline", attrs: { count: "0" } });
    wire.close();
  });

  it("§9 a stanza delivered but not acked is delivered again on the next connection", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await sender();
    const bw = await loginNative(t, b);
    const [id] = await sendMany(a, b.jid, 1);
    await bw.next(is("message", { id }));
    bw.close();
    await bw.closed;
    const { wire, backlog } = await loginWithBacklog(b);
    expect(backlog.find((s) => s.attrs.id === id)?.attrs.offline).toBe("1");
    a.close();
    wire.close();
  });

  it("§5.1 §9 a message acked with to = its from is not delivered again", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await sender();
    const bw = await loginNative(t, b);
    const [id] = await sendMany(a, b.jid, 1);
    bw.ack(await bw.next(is("message", { id })));
    await bw.ping();
    bw.close();
    await bw.closed;
    const { wire, backlog } = await loginWithBacklog(b);
    expect(backlog.filter((s) => s.tag === "message")).toEqual([]);
    a.close();
    wire.close();
  });

  it.for([
    ["without to", (id: string) => el("ack", { class: "message", id })],
    [
      "with another to",
      (id: string) => el("ack", { class: "message", id, to: "100000000000042@lid.gk" }),
    ],
  ] as const)(
    "§5.1 an ack %s matches nothing: the message is delivered again on the next connection",
    async ([, ack], ctx) => {
      need(ctx, "admin");
      const { a, b } = await sender();
      const bw = await loginNative(t, b);
      const [id = ""] = await sendMany(a, b.jid, 1);
      await bw.next(is("message", { id }));
      bw.send(ack(id));
      await bw.ping();
      bw.close();
      await bw.closed;
      const { wire, backlog } = await loginWithBacklog(b);
      expect(backlog.some((s) => s.tag === "message" && s.attrs.id === id)).toBe(true);
      a.close();
      wire.close();
    },
  );

  it("§5.1 an ack of a read receipt must carry its type: one without type leaves it queued", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await sender();
    const bw = await loginNative(t, b);
    const aJid = (a.received[0]?.attrs.jid ?? "") as string;
    a.send(el("receipt", { id: "3EB0ABCDEF0123456789", to: b.jid, type: "read", t: 5 }));
    const r = await bw.next(is("receipt", { id: "3EB0ABCDEF0123456789" }));
    bw.send(el("ack", { class: "receipt", id: r.attrs.id, to: aJid }));
    await bw.ping();
    bw.close();
    await bw.closed;
    const { wire, backlog } = await loginWithBacklog(b);
    const again = backlog.find((s) => s.tag === "receipt");
    expect(again?.attrs.type).toBe("read");
    wire.ack(again ?? r);
    await wire.ping();
    wire.close();
    await wire.closed;
    const third = await loginWithBacklog(b);
    expect(third.backlog.filter((s) => s.tag === "receipt")).toEqual([]);
    a.close();
    third.wire.close();
  });

  it("§9 after the backlog and <ib>, new stanzas are delivered live", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await sender();
    await sendMany(a, b.jid, 1);
    const { wire } = await loginWithBacklog(b);
    const [id] = await sendMany(a, b.jid, 1);
    const live = await wire.next(is("message", { id }));
    expect(live.attrs.offline).toBeUndefined();
    expect(wire.received.findIndex((s) => s.tag === "ib")).toBeLessThan(
      wire.received.indexOf(live),
    );
    a.close();
    wire.close();
  });
});
