/** §8 Messages: acceptance, relay, dedupe of resends. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enlistedPartner, loginNative, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import { el, fakeCiphertext, message, messageId } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget();
});
afterAll(() => t.close());

async function two(): Promise<{ a: Wire; b: Wire; aJid: string; bJid: string; aName: string }> {
  const ua = await newNative(t);
  const ub = await newNative(t);
  return {
    a: await loginNative(t, ua),
    b: await loginNative(t, ub),
    aJid: ua.jid,
    bJid: ub.jid,
    aName: ua.name,
  };
}

describe("§8.1 Message stanza", () => {
  it('§8.1 an accepted message is acked <ack class="message" id t/> with the server time', async (ctx) => {
    need(ctx, "admin");
    const { a, b, bJid } = await two();
    const m = message(bJid);
    a.send(m.xml);
    const ack = await a.next(is("ack", { class: "message", id: m.id }));
    expect(ack.attrs.error).toBeUndefined();
    expect(Math.abs(Number(ack.attrs.t) - Date.now() / 1000)).toBeLessThan(60);
    a.close();
    b.close();
  });

  it("§8.1 the message is delivered with from (not to), t and type, and the <enc> exactly as sent", async (ctx) => {
    need(ctx, "admin");
    const { a, b, aJid, bJid } = await two();
    const body = fakeCiphertext(100);
    const id = messageId();
    a.send(
      el(
        "message",
        { id, to: bJid, type: "media" },
        el("enc", { v: 2, type: "pkmsg", mediatype: "image" }, body),
      ),
    );
    const ack = await a.next(is("ack", { class: "message", id }));
    const got = await b.next(is("message", { id }));
    expect(got.attrs).toMatchObject({ from: aJid, type: "media", t: ack.attrs.t });
    expect(got.attrs.to).toBeUndefined();
    expect(got.children).toEqual([
      {
        tag: "enc",
        attrs: { v: "2", type: "pkmsg", mediatype: "image" },
        children: [],
        text: body,
      },
    ]);
    a.close();
    b.close();
  });

  it("§8.1 the gatekeeper adds notify, the sender's push name", async (ctx) => {
    need(ctx, "admin", "partner");
    const native = await newNative(t, { optIn: [t.partner?.id ?? ""] });
    const nw = await loginNative(t, native);
    const { wire: pw } = await enlistedPartner(t, { pushName: "Pat Partner" });
    const m = message(native.jid);
    pw.send(m.xml);
    expect((await nw.next(is("message", { id: m.id }))).attrs.notify).toBe("Pat Partner");
    pw.close();
    nw.close();
  });

  it("§8.1 a message to an unknown user is negative ack 404", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await two();
    const m = message("100000000000099@lid.gk");
    a.send(m.xml);
    expect((await a.next(is("ack", { class: "message", id: m.id }))).attrs.error).toBe("404");
    a.close();
    b.close();
  });

  it("§8.1 a message without to is negative ack 400", async (ctx) => {
    need(ctx, "admin");
    const { a, b } = await two();
    const id = messageId();
    a.send(el("message", { id, type: "text" }, el("enc", { v: 2, type: "msg" }, "AAAA")));
    expect((await a.next(is("ack", { class: "message", id }))).attrs.error).toBe("400");
    a.close();
    b.close();
  });

  it("§8.1 a resend of the same (id, retry) gets the original ack again and is not delivered twice", async (ctx) => {
    need(ctx, "admin");
    const { a, b, bJid } = await two();
    const m = message(bJid);
    a.send(m.xml);
    const first = await a.next(is("ack", { class: "message", id: m.id }));
    await new Promise((r) => setTimeout(r, 1_100));
    a.send(m.xml);
    const second = await a.next(is("ack", { class: "message", id: m.id }));
    expect(second.attrs.t).toBe(first.attrs.t);
    const got = await b.next(is("message", { id: m.id }));
    b.ack(got);
    expect(await b.settle(is("message", { id: m.id }), 300)).toEqual([]);
    a.close();
    b.close();
  });

  it('§8.1 a resend with a new retry count is delivered again, with retry="N"', async (ctx) => {
    need(ctx, "admin");
    const { a, b, bJid } = await two();
    const m = message(bJid);
    a.send(m.xml);
    b.ack(await b.next(is("message", { id: m.id })));
    a.send(message(bJid, { id: m.id, retry: 1, encType: "pkmsg" }).xml);
    expect((await b.next(is("message", { id: m.id }))).attrs.retry).toBe("1");
    a.close();
    b.close();
  });

  it("§8.1 the dedupe key of receipts includes the type: a delivery and a read receipt of one message are both passed on", async (ctx) => {
    need(ctx, "admin");
    const { a, b, bJid } = await two();
    const id = messageId();
    a.send(el("receipt", { id, to: bJid, t: 1 }));
    a.send(el("receipt", { id, to: bJid, type: "read", t: 2 }));
    const first = await b.next(is("receipt", { id }));
    const second = await b.next(is("receipt", { id }));
    expect([first.attrs.type, second.attrs.type].sort()).toEqual([undefined, "read"].sort());
    a.close();
    b.close();
  });
});
