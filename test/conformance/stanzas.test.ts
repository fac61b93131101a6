/** §5 Stanzas: the XML subset, limits, negative acks with seq, iq rules. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enlistedPartner, loginNative, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import { el, iqError, message } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget();
});
afterAll(() => t.close());

async function open(): Promise<Wire> {
  return loginNative(t, await newNative(t));
}

/** A ping iq with `extra` (raw XML) beside `<ping/>`. */
function pingWith(id: string, extra: string, attrs = ""): string {
  return `<iq id="${id}" type="get" xmlns="w:p" to="gk"${attrs}><ping/>${extra}</iq>`;
}

function nested(depth: number): string {
  return depth === 0 ? "" : `<n>${nested(depth - 1)}</n>`.replace("<n></n>", "<n/>");
}

async function expectFrameNack(
  wire: Wire,
  bytes: string,
  error: string,
  text?: string,
): Promise<void> {
  const seq = wire.send(bytes);
  const ack = await wire.next(is("ack", { class: "frame" }));
  expect(ack.attrs).toMatchObject({
    error,
    seq: String(seq),
    ...(text === undefined ? {} : { text }),
  });
  expect(ack.attrs.id).toBeUndefined();
}

async function expectAnswered(wire: Wire, bytes: string, id: string): Promise<void> {
  wire.send(bytes);
  expect((await wire.next(is("iq", { id }))).attrs.type).toBe("result");
}

describe("§5 Stanzas", () => {
  it("§5 a leading XML declaration is allowed", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(wire, `<?xml version="1.0" encoding="UTF-8"?>${pingWith("d1", "")}`, "d1");
    wire.close();
  });

  it.for<[string, string]>([
    ["a DOCTYPE", `<!DOCTYPE iq>${pingWith("x", "")}`],
    ["an entity declaration", `<!DOCTYPE iq [<!ENTITY e "boom">]>${pingWith("x", "<y>&e;</y>")}`],
    ["a comment", pingWith("x", "<!-- hi -->")],
    ["a CDATA section", pingWith("x", "<y><![CDATA[text]]></y>")],
    ["a processing instruction", pingWith("x", "<?pi data?>")],
    ["an undefined entity", pingWith("x", "<y>&nbsp;</y>")],
    ["a numeric reference to a character XML forbids", pingWith("x", "<y>&#0;</y>")],
    ["markup that is not well-formed", '<iq id="x" type="get"'],
    ["bytes that are not UTF-8", "\u00ff"],
  ])(
    '§5 %s makes the frame invalid: <ack class="frame" error="487" seq/>',
    async ([what, xml], ctx) => {
      need(ctx, "admin");
      const wire = await open();
      const bytes =
        what === "bytes that are not UTF-8" ? Buffer.from([0x3c, 0xff, 0xfe, 0x3e]) : xml;
      const seq = wire.send(bytes);
      const ack = await wire.next(is("ack", { class: "frame" }));
      expect(ack.attrs).toMatchObject({ error: "487", seq: String(seq) });
      wire.close();
    },
  );

  it("§5 the five predefined entities and numeric character references are understood", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(
      wire,
      pingWith("a&#46;b&#x2E;c", '<y z="&lt;&gt;&amp;&quot;&apos;">&#65;</y>'),
      "a.b.c",
    );
    wire.close();
  });

  it("§5 a malformed stanza does not close the connection", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.send("<<<");
    await wire.next(is("ack", { class: "frame", error: "487" }));
    await wire.ping();
    expect(wire.closeInfo).toBeUndefined();
    wire.close();
  });

  it("§5 element depth 16 (the root is depth 1) is accepted", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(wire, pingWith("d16", nested(15)), "d16");
    wire.close();
  });

  it('§5 element depth 17 is answered <ack class="frame" error="413" text="depth" seq/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectFrameNack(wire, pingWith("d17", nested(16)), "413", "depth");
    wire.close();
  });

  const attrs = (n: number): string => Array.from({ length: n }, (_, i) => ` a${i}="v"`).join("");

  it("§5 32 attributes on an element are accepted", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(wire, pingWith("a32", `<y${attrs(32)}/>`), "a32");
    wire.close();
  });

  it('§5 33 attributes on an element are answered <ack class="frame" error="413" text="attributes" seq/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectFrameNack(wire, pingWith("a33", `<y${attrs(33)}/>`), "413", "attributes");
    wire.close();
  });

  it("§5 1024 child elements of one element are accepted", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(wire, pingWith("c1024", "<y/>".repeat(1023)), "c1024");
    wire.close();
  });

  it('§5 1025 child elements of one element are answered <ack class="frame" error="413" text="children" seq/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectFrameNack(wire, pingWith("c1025", "<y/>".repeat(1024)), "413", "children");
    wire.close();
  });

  it('§5 more than 4096 elements in a stanza are answered <ack class="frame" error="413" text="elements" seq/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const group = `<g>${"<y/>".repeat(820)}</g>`;
    await expectFrameNack(wire, pingWith("e", group.repeat(5)), "413", "elements");
    wire.close();
  });

  it("§5 unknown attributes are ignored", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(
      wire,
      `<iq id="u1" type="get" xmlns="w:p" to="gk" future="1"><ping later="yes"/></iq>`,
      "u1",
    );
    wire.close();
  });

  it("§5 unknown elements inside known stanzas are ignored", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await expectAnswered(wire, pingWith("u2", '<future kind="x"><deeper/></future>'), "u2");
    wire.close();
  });

  it('§5 an unknown top-level element is answered <ack class="TAG" id error="488"/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.send('<hologram id="h1" to="gk"/>');
    expect((await wire.next(is("ack", { class: "hologram" }))).attrs).toMatchObject({
      id: "h1",
      error: "488",
    });
    wire.close();
  });

  it("§5 an unknown top-level element without an id is answered 488 with seq", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const seq = wire.send("<hologram/>");
    expect((await wire.next(is("ack", { class: "hologram" }))).attrs).toMatchObject({
      error: "488",
      seq: String(seq),
    });
    wire.close();
  });

  it.for<[string, string]>([
    ["success", '<success id="s1" t="1" jid="gk" enlisted="true"/>'],
    ["failure", '<failure id="s1" reason="401"/>'],
    ["stream:error", '<stream:error id="s1" code="515"/>'],
    [
      "notification",
      '<notification id="s1" type="encrypt" from="gk" t="1"><count value="1"/></notification>',
    ],
    ["ib", '<ib id="s1"><offline count="0"/></ib>'],
  ])(
    '§5 a client sending <%s> (gatekeeper only) gets <ack class="TAG" id error="488" text="server-only"/>',
    async ([tag, xml], ctx) => {
      need(ctx, "admin");
      const wire = await open();
      wire.send(xml);
      expect((await wire.next(is("ack", { class: tag }))).attrs).toMatchObject({
        id: "s1",
        error: "488",
        text: "server-only",
      });
      wire.close();
    },
  );

  it("§5 a gatekeeper-only stanza without an id is answered 488 server-only with seq", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const seq = wire.send("<ib/>");
    expect((await wire.next(is("ack", { class: "ib" }))).attrs).toMatchObject({
      error: "488",
      text: "server-only",
      seq: String(seq),
    });
    wire.close();
  });
});

describe("§5.1 Acks and negative acks", () => {
  it("§5.1 seq counts the client's frames from 0: a bad first frame is seq 0", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    expect(wire.nextSeq).toBe(0);
    await expectFrameNack(wire, "<broken", "487");
    expect(wire.received.find((s) => s.tag === "ack")?.attrs.seq).toBe("0");
    wire.close();
  });

  it("§5.1 seq is the frame's Noise nonce: after two pings a bad frame is seq 2", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    await wire.ping();
    await wire.ping();
    wire.send("<broken");
    expect((await wire.next(is("ack", { class: "frame" }))).attrs.seq).toBe("2");
    wire.close();
  });

  it('§5.1 a message without id is answered <ack class="message" error="400" seq/>', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const seq = wire.send(
      '<message to="482910375561204@lid.gk" type="text"><enc v="2" type="msg">AAAA</enc></message>',
    );
    expect((await wire.next(is("ack", { class: "message" }))).attrs).toMatchObject({
      error: "400",
      seq: String(seq),
    });
    wire.close();
  });

  it("§5.1 a message with an invalid id is answered 400 with seq", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const seq = wire.send(
      '<message id="not valid!" to="482910375561204@lid.gk" type="text"><enc v="2" type="msg">AAAA</enc></message>',
    );
    expect((await wire.next(is("ack", { class: "message" }))).attrs).toMatchObject({
      error: "400",
      seq: String(seq),
    });
    wire.close();
  });

  it("§5.1 a negative ack of a stanza with a valid id carries that id", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.send(
      '<message id="3EB0AAAABBBBCCCCDDDD" type="text"><enc v="2" type="msg">AAAA</enc></message>',
    );
    expect((await wire.next(is("ack", { class: "message" }))).attrs).toMatchObject({
      id: "3EB0AAAABBBBCCCCDDDD",
      error: "400",
    });
    wire.close();
  });

  it('§5.1 a message to the sender\'s own JID is answered 400 text="to-self"', async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const wire = await loginNative(t, user);
    const m = message(user.jid);
    wire.send(m.xml);
    expect((await wire.next(is("ack", { class: "message", id: m.id }))).attrs).toMatchObject({
      error: "400",
      text: "to-self",
    });
    wire.close();
  });

  it('§5.1 a receipt to the sender\'s own JID is answered 400 text="to-self"', async (ctx) => {
    need(ctx, "admin");
    const user = await newNative(t);
    const wire = await loginNative(t, user);
    wire.send(el("receipt", { id: "3EB01111222233334444", to: user.jid, t: 1 }));
    expect((await wire.next(is("ack", { class: "receipt" }))).attrs).toMatchObject({
      error: "400",
      text: "to-self",
    });
    wire.close();
  });

  it("§5.1 acks are never answered, also one that matches nothing", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    wire.send('<ack class="message" id="3EB0FFFFFFFFFFFFFFFF" to="482910375561204@lid.gk"/>');
    wire.send('<ack class="receipt" id="nothing"/>');
    const extra = await wire.settle();
    expect(extra).toEqual([]);
    wire.close();
  });
});

describe("§5.2 iq", () => {
  it('§5.2 an iq with an unknown xmlns is answered 400 text="unknown-namespace"', async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const r = await wire.iq("w:teleport", "get");
    expect(r.attrs.type).toBe("error");
    expect(iqError(r)).toEqual({ code: "400", text: "unknown-namespace" });
    wire.close();
  });

  it.for<[string, string]>([
    ["missing", ""],
    ["unknown", ' type="fetch"'],
  ])(
    '§5.2 an iq with a valid id and a %s type is answered <iq type="error"><error code="400" text="bad-type"/></iq>',
    async ([, type], ctx) => {
      need(ctx, "admin");
      const wire = await open();
      wire.send(`<iq id="bt1"${type} xmlns="w:p" to="gk"><ping/></iq>`);
      const r = await wire.next(is("iq", { id: "bt1" }));
      expect(r.attrs.type).toBe("error");
      expect(iqError(r)).toEqual({ code: "400", text: "bad-type" });
      wire.close();
    },
  );

  it.for<[string, string]>([
    ["without an id", ""],
    ["with an invalid id", ' id="sp ace"'],
  ])('§5.2 an iq %s is answered <ack class="iq" error="400" seq/>', async ([, id], ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const seq = wire.send(`<iq${id} type="get" xmlns="w:p" to="gk"><ping/></iq>`);
    expect((await wire.next(is("ack", { class: "iq" }))).attrs).toMatchObject({
      error: "400",
      seq: String(seq),
    });
    wire.close();
  });

  it.for(["result", "error"])(
    '§5.2 an iq type="%s" that answers nothing the gatekeeper asked is ignored',
    async (type, ctx) => {
      need(ctx, "admin");
      const wire = await open();
      wire.send(`<iq id="stray" type="${type}"/>`);
      expect(await wire.settle()).toEqual([]);
      wire.close();
    },
  );

  it("§5.2 iq error 403: enlist is not open to a native user", async (ctx) => {
    need(ctx, "admin");
    const wire = await open();
    const r = await wire.iq("enlist", "set", "<request/>");
    expect(iqError(r).code).toBe("403");
    wire.close();
  });

  it("§5.2 iq error 403: interop settings are not open to a partner user", async (ctx) => {
    need(ctx, "admin", "partner");
    const { wire } = await enlistedPartner(t);
    const r = await wire.iq(
      "interop",
      "set",
      el("settings", { enabled: "true", partners: "*", inbox: "separate" }),
    );
    expect(iqError(r).code).toBe("403");
    wire.close();
  });
});
