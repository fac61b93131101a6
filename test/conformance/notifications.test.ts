/** §14 Notifications (and the §7.1/§7.2 events that cause them). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginNative, newNative, withKeys } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import { child, el, message } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget();
});
afterAll(() => t.close());

async function user(): Promise<{
  jid: string;
  wire: Wire;
  phone: string;
  accountId: string;
  token: string;
}> {
  const u = await newNative(t);
  return { ...u, wire: await loginNative(t, u) };
}

function fetch1(wire: Wire, jid: string): Promise<unknown> {
  return wire.iq("encrypt", "get", el("key", {}, el("user", { jid })));
}

describe("§14 Notifications", () => {
  it('§7.2 §14 below 10 one-time prekeys the owner gets <notification type="encrypt" from="gk" id t><count value/></notification>', async (ctx) => {
    need(ctx, "admin");
    const owner = await user();
    await withKeys(owner.wire, t.limits.lowPrekeyThreshold + 1);
    const other = await user();
    await fetch1(other.wire, owner.jid);
    await fetch1(other.wire, owner.jid);
    const n = await owner.wire.next(is("notification", { type: "encrypt" }));
    expect(n.attrs.from).toBe("gk");
    expect(n.attrs.id).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    expect(Number.isInteger(Number(n.attrs.t))).toBe(true);
    expect(Number(child(n, "count")?.attrs.value)).toBeLessThan(t.limits.lowPrekeyThreshold);
    owner.wire.close();
    other.wire.close();
  });

  it('§7.1 §14 a new identity upload sends <notification type="identity" from=J/> to each user who exchanged messages with J', async (ctx) => {
    need(ctx, "admin");
    const j = await user();
    const keys = await withKeys(j.wire, 3);
    const peer = await user();
    const m = message(peer.jid);
    j.wire.send(m.xml);
    peer.wire.ack(await peer.wire.next(is("message", { id: m.id })));
    keys.newIdentity();
    expect((await j.wire.iq("encrypt", "set", keys.full(3))).attrs.type).toBe("result");
    const n = await peer.wire.next(is("notification", { type: "identity" }));
    expect(n.attrs.from).toBe(j.jid);
    j.wire.close();
    peer.wire.close();
  });

  it("§7.1 an identity change is not announced to users who never exchanged messages", async (ctx) => {
    need(ctx, "admin");
    const j = await user();
    const keys = await withKeys(j.wire, 3);
    const stranger = await user();
    keys.newIdentity();
    await j.wire.iq("encrypt", "set", keys.full(3));
    expect(await stranger.wire.settle(is("notification"), 300)).toEqual([]);
    j.wire.close();
    stranger.wire.close();
  });

  it("§7.1 an upload with the same identity is not an identity change", async (ctx) => {
    need(ctx, "admin");
    const j = await user();
    const keys = await withKeys(j.wire, 3);
    const peer = await user();
    const m = message(peer.jid);
    j.wire.send(m.xml);
    peer.wire.ack(await peer.wire.next(is("message", { id: m.id })));
    await j.wire.iq("encrypt", "set", keys.full(3));
    expect(await peer.wire.settle(is("notification", { type: "identity" }), 300)).toEqual([]);
    j.wire.close();
    peer.wire.close();
  });

  it('§14 a notification not acked is delivered again; once acked with <ack class="notification" id type/> it is not', async (ctx) => {
    need(ctx, "admin");
    const owner = await user();
    await withKeys(owner.wire, t.limits.lowPrekeyThreshold + 1);
    const other = await user();
    await fetch1(other.wire, owner.jid);
    await fetch1(other.wire, owner.jid);
    const n = await owner.wire.next(is("notification", { type: "encrypt" }));
    owner.wire.close();
    await owner.wire.closed;
    const second = await loginNative(t, owner);
    const again = second.received.find(
      (s) => s.tag === "notification" && s.attrs.id === n.attrs.id,
    );
    expect(again?.attrs.offline).toBe("1");
    second.ack(again ?? n);
    await second.ping();
    second.close();
    await second.closed;
    const third = await loginNative(t, owner);
    expect(third.received.filter((s) => s.tag === "notification")).toEqual([]);
    third.close();
    other.wire.close();
  });
});
