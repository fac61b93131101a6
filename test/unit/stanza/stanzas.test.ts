import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type Stanza,
  type StanzaOf,
  StanzaError,
  encodeStanza,
  errorAck,
  parseStanza,
  parseXml,
  stanzaFromNode,
  stanzaToNode,
} from "../../../src/gatekeeper/stanza/index.js";

const LID = "482910375561204@lid.gk";
const PARTNER = "matrix.a1b2c3@interop";

function caught(fn: () => unknown): StanzaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StanzaError);
    return err as StanzaError;
  }
  throw new Error("expected a StanzaError");
}

const roundTrip = (s: Stanza): Stanza => parseStanza(encodeStanza(s));

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** One fully populated and one minimal stanza of every kind. */
const SAMPLES: Stanza[] = [
  {
    kind: "message",
    id: "3EB0A1B2C3D4E5F60718",
    to: LID,
    from: PARTNER,
    t: 1764130000,
    type: "media",
    offline: true,
    retry: 2,
    enc: { v: 2, type: "pkmsg", mediatype: "image", ciphertext: bytes(157) },
  },
  { kind: "message", id: "m1", type: "text", enc: { v: 2, type: "msg", ciphertext: bytes(1) } },
  {
    kind: "receipt",
    id: "3EB0000000000000000A",
    to: PARTNER,
    from: LID,
    t: 1764130001,
    type: "retry",
    offline: true,
    ids: ["3EB0000000000000000B", "3EB0000000000000000C"],
    retry: { count: 1, id: "3EB0000000000000000A", t: 1764130000 },
    registrationId: 0xdeadbeef,
  },
  { kind: "receipt", id: "r1", ids: [] },
  {
    kind: "ack",
    class: "message",
    id: "3EB0000000000000000A",
    to: LID,
    from: "gk",
    t: 1764130002,
    type: "text",
    error: 429,
    text: "messages: 50 per 10 s",
  },
  { kind: "ack", class: "frame", error: 487 },
  {
    kind: "iq",
    id: "iq-1",
    type: "get",
    xmlns: "encrypt",
    to: "gk",
    from: PARTNER,
    children: [{ tag: "count", attrs: {}, children: [] }],
  },
  {
    kind: "iq",
    id: "iq.2",
    type: "error",
    from: "gk",
    children: [],
    error: { code: 429, text: "lookup", retryAfter: 3600 },
  },
  { kind: "iq", id: "3", type: "result", children: [] },
  {
    kind: "notification",
    id: "n1",
    type: "encrypt",
    from: "gk",
    to: PARTNER,
    t: 1764130003,
    offline: true,
    children: [{ tag: "count", attrs: { value: "9" }, children: [] }],
  },
  { kind: "notification", id: "n2", type: "identity", children: [] },
  { kind: "chatstate", to: LID, from: PARTNER, state: "composing", media: "audio" },
  { kind: "chatstate", state: "paused" },
  {
    kind: "presence",
    type: "available",
    to: LID,
    from: PARTNER,
    name: 'Alice <3 & "co"',
    last: 1764130004,
  },
  { kind: "presence", type: "subscribe" },
  { kind: "ib", offlineCount: 12 },
  { kind: "ib" },
  { kind: "success", t: 1764130000, jid: PARTNER, enlisted: false },
  { kind: "failure", reason: 503, text: "partner callback unavailable" },
  { kind: "failure", reason: 401 },
  { kind: "stream-error", code: 409, text: "replaced" },
  { kind: "stream-error", code: 515 },
];

describe("stanza round trip", () => {
  it.each(SAMPLES.map((s) => [`${s.kind} ${JSON.stringify(Object.keys(s))}`, s] as const))(
    "%s",
    (_name, s) => {
      expect(roundTrip(s)).toEqual(s);
      expect(stanzaFromNode(stanzaToNode(s))).toEqual(s);
    },
  );

  it("covers every stanza kind", () => {
    const kinds = new Set(SAMPLES.map((s) => s.kind));
    expect([...kinds].sort()).toEqual(
      [
        "ack",
        "chatstate",
        "failure",
        "ib",
        "iq",
        "message",
        "notification",
        "presence",
        "receipt",
        "stream-error",
        "success",
      ].sort(),
    );
  });

  it("keeps escaping and non-BMP text intact", () => {
    const text = `<>&"' 👍🏽 𝄞 line\nbreak`;
    const ack: StanzaOf<"ack"> = { kind: "ack", class: "receipt", id: "x", text, type: text };
    expect(roundTrip(ack)).toEqual(ack);
    const presence: StanzaOf<"presence"> = { kind: "presence", type: "available", name: text };
    expect(roundTrip(presence)).toEqual(presence);
  });

  it('reads offline="0" as not offline and writes offline only when set', () => {
    const xml = `<message id="m" offline="0" type="text"><enc v="2" type="msg">AQ==</enc></message>`;
    const m = parseStanza(xml);
    expect(m).not.toHaveProperty("offline");
    expect(parseStanza(encodeStanza(m))).toEqual(m);
    const text = new TextDecoder().decode(
      encodeStanza({ ...(m as StanzaOf<"message">), offline: false }),
    );
    expect(text).not.toContain("offline");
  });

  it("writes stream-error as <stream:error>", () => {
    const xml = new TextDecoder().decode(encodeStanza({ kind: "stream-error", code: 503 }));
    expect(parseXml(xml).tag).toBe("stream:error");
  });
});

describe("examples from docs/protocol.md", () => {
  it("§4.3 login result", () => {
    expect(
      parseStanza(`<success t="1764130000" jid="matrix.a1b2c3@interop" enlisted="true"/>`),
    ).toEqual({
      kind: "success",
      t: 1764130000,
      jid: PARTNER,
      enlisted: true,
    });
    expect(parseStanza(`<failure reason="401" text="token invalid"/>`)).toEqual({
      kind: "failure",
      reason: 401,
      text: "token invalid",
    });
  });

  it("§5.1 acks", () => {
    expect(parseStanza(`<ack class="frame" error="487"/>`)).toEqual({
      kind: "ack",
      class: "frame",
      error: 487,
    });
    expect(parseStanza(`<ack class="message" id="3EB0AAAAAAAAAAAAAAAA" t="1764130000"/>`)).toEqual({
      kind: "ack",
      class: "message",
      id: "3EB0AAAAAAAAAAAAAAAA",
      t: 1764130000,
    });
  });

  it("§5.2 iq error", () => {
    const iq = parseStanza(
      `<iq id="7" type="error"><error code="429" text="lookup" retry-after="60"/></iq>`,
    );
    expect(iq).toEqual({
      kind: "iq",
      id: "7",
      type: "error",
      children: [],
      error: { code: 429, text: "lookup", retryAfter: 60 },
    });
  });

  it("§8.1 message, sent and delivered", () => {
    const sent = parseStanza(
      `<message id="3EB0A1B2C3D4E5F60718" to="482910375561204@lid.gk" type="text">\n` +
        `  <enc v="2" type="pkmsg">AAECAwQ=</enc>\n</message>`,
    );
    expect(sent).toEqual({
      kind: "message",
      id: "3EB0A1B2C3D4E5F60718",
      to: LID,
      type: "text",
      enc: { v: 2, type: "pkmsg", ciphertext: new Uint8Array([0, 1, 2, 3, 4]) },
    });
    const delivered = parseStanza(
      `<message id="3EB0A1B2C3D4E5F60718" from="matrix.a1b2c3@interop" t="1764130000" type="media" offline="1" retry="1">` +
        `<enc v="2" type="msg" mediatype="ptt">/w==</enc></message>`,
    );
    expect(delivered).toMatchObject({
      from: PARTNER,
      t: 1764130000,
      offline: true,
      retry: 1,
      enc: { type: "msg", mediatype: "ptt", ciphertext: new Uint8Array([255]) },
    });
  });

  it("§8.3 retry receipt", () => {
    const r = parseStanza(
      `<receipt id="3EB0A1B2C3D4E5F60718" to="matrix.a1b2c3@interop" type="retry">
  <retry count="1" id="3EB0A1B2C3D4E5F60718" t="1764130000"/>
  <registration>AAAwOQ==</registration>
</receipt>`,
    );
    expect(r).toEqual({
      kind: "receipt",
      id: "3EB0A1B2C3D4E5F60718",
      to: PARTNER,
      type: "retry",
      ids: [],
      retry: { count: 1, id: "3EB0A1B2C3D4E5F60718", t: 1764130000 },
      registrationId: 12345,
    });
  });

  it("§9 offline backlog end", () => {
    expect(parseStanza(`<ib><offline count="3"/></ib>`)).toEqual({ kind: "ib", offlineCount: 3 });
  });

  it("§10 ping and stream errors", () => {
    expect(parseStanza(`<iq id="p1" type="get" xmlns="w:p" to="gk"><ping/></iq>`)).toMatchObject({
      kind: "iq",
      xmlns: "w:p",
      to: "gk",
      children: [{ tag: "ping" }],
    });
    expect(parseStanza(`<iq id="p1" type="result" from="gk"/>`)).toEqual({
      kind: "iq",
      id: "p1",
      type: "result",
      from: "gk",
      children: [],
    });
    expect(parseStanza(`<stream:error code="409" text="replaced"/>`)).toEqual({
      kind: "stream-error",
      code: 409,
      text: "replaced",
    });
  });

  it("§13 receipts, chat states and presence", () => {
    expect(
      parseStanza(
        `<receipt id="A1" to="482910375561204@lid.gk" type="read" t="1764130000"><list><item id="A2"/><item id="A3"/></list></receipt>`,
      ),
    ).toEqual({
      kind: "receipt",
      id: "A1",
      to: LID,
      type: "read",
      t: 1764130000,
      ids: ["A2", "A3"],
    });
    expect(
      parseStanza(`<chatstate to="482910375561204@lid.gk"><composing media="audio"/></chatstate>`),
    ).toEqual({
      kind: "chatstate",
      to: LID,
      state: "composing",
      media: "audio",
    });
    expect(
      parseStanza(`<chatstate to="482910375561204@lid.gk"><paused/></chatstate>`),
    ).toMatchObject({
      state: "paused",
    });
    expect(parseStanza(`<presence type="unavailable" name="Alice"/>`)).toEqual({
      kind: "presence",
      type: "unavailable",
      name: "Alice",
    });
    expect(
      parseStanza(`<presence from="482910375561204@lid.gk" type="available" last="1764130000"/>`),
    ).toEqual({
      kind: "presence",
      type: "available",
      from: LID,
      last: 1764130000,
    });
  });

  it("§14 notifications", () => {
    expect(
      parseStanza(
        `<notification id="n7" type="identity" from="482910375561204@lid.gk" t="1764130000"/>`,
      ),
    ).toEqual({
      kind: "notification",
      id: "n7",
      type: "identity",
      from: LID,
      t: 1764130000,
      children: [],
    });
  });
});

describe("tolerance (§5: unknown attributes and elements are ignored)", () => {
  it("ignores unknown attributes and child elements of known stanzas", () => {
    const m = parseStanza(
      `<message id="m1" type="text" future="x"><meta a="b"/><enc v="2" type="msg" extra="1">AQ==</enc><biz/></message>`,
    );
    expect(m).toEqual({
      kind: "message",
      id: "m1",
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: new Uint8Array([1]) },
    });
    expect(
      parseStanza(`<receipt id="r" z="1"><list><item id="a"/><other/></list><x/></receipt>`),
    ).toEqual({
      kind: "receipt",
      id: "r",
      ids: ["a"],
    });
  });

  it("keeps the unknown children of iq and notification for the layer above", () => {
    const iq = parseStanza(`<iq id="1" type="result"><future k="v"><deep>t</deep></future></iq>`);
    expect(iq).toMatchObject({
      children: [{ tag: "future", attrs: { k: "v" }, children: [{ tag: "deep", text: "t" }] }],
    });
  });
});

describe("stanza errors", () => {
  it("answers an unknown top-level element with 488, tag and id", () => {
    const err = caught(() => parseStanza(`<call id="c-1" to="gk"><offer/></call>`));
    expect(err).toMatchObject({ code: 488, tag: "call", id: "c-1" });
    expect(errorAck(err)).toEqual({
      kind: "ack",
      class: "call",
      id: "c-1",
      error: 488,
      text: "unknown-stanza",
    });
    expect(errorAck(err, 7)).toMatchObject({ seq: 7 });
    // The nack itself must be sendable.
    expect(parseStanza(encodeStanza(errorAck(err)))).toEqual(errorAck(err));
  });

  it("reports the unknown tag exactly as sent", () => {
    expect(caught(() => parseStanza(`<toString id="t1"/>`))).toMatchObject({
      code: 488,
      tag: "toString",
      id: "t1",
    });
    expect(caught(() => parseStanza(`<x:call id="t2"/>`))).toMatchObject({
      code: 488,
      tag: "x:call",
      id: "t2",
    });
  });

  it("reports an unknown element's id only when it is a valid id", () => {
    const err = caught(() => parseStanza(`<call id="bad id!"/>`));
    expect(err).toMatchObject({ code: 488, tag: "call" });
    expect(err.id).toBeUndefined();
  });

  it("answers a message without id with 400 and its tag", () => {
    const err = caught(() =>
      parseStanza(`<message to="gk" type="text"><enc v="2" type="msg">AQ==</enc></message>`),
    );
    expect(err).toMatchObject({ code: 400, tag: "message" });
    expect(err.id).toBeUndefined();
    expect(errorAck(err)).toEqual({ kind: "ack", class: "message", error: 400 });
  });

  it.each([
    [
      "invalid id",
      `<message id="has space" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    [
      "id too long",
      `<message id="${"a".repeat(65)}" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    [
      "bad to",
      `<message id="m" to="+4917012345678" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    ["bad type", `<message id="m" type="sticker"><enc v="2" type="msg">AQ==</enc></message>`],
    ["missing enc", `<message id="m" type="text"/>`],
    ["enc v=3", `<message id="m" type="text"><enc v="3" type="msg">AQ==</enc></message>`],
    ["bad enc type", `<message id="m" type="text"><enc v="2" type="skmsg">AQ==</enc></message>`],
    ["empty enc", `<message id="m" type="text"><enc v="2" type="msg"/></message>`],
    [
      "t with exponent",
      `<message id="m" t="1e3" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    [
      "negative retry",
      `<message id="m" retry="-1" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    [
      "padded number",
      `<message id="m" t=" 5" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    [
      "huge number",
      `<message id="m" t="99999999999999999999" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    [
      "offline=yes",
      `<message id="m" offline="yes" type="text"><enc v="2" type="msg">AQ==</enc></message>`,
    ],
    ["receipt bad type", `<receipt id="r" type="seen"/>`],
    ["receipt bad item", `<receipt id="r"><list><item id=""/></list></receipt>`],
    ["receipt retry without t", `<receipt id="r" type="retry"><retry count="1" id="r"/></receipt>`],
    ["registration not 4 bytes", `<receipt id="r"><registration>AAAA</registration></receipt>`],
    ["ack without class", `<ack id="a"/>`],
    ["ack non-numeric error", `<ack class="message" id="a" error="x"/>`],
    ["iq bad type", `<iq id="1" type="query"/>`],
    ["iq error without error", `<iq id="1" type="error"/>`],
    ["iq bad to", `<iq id="1" type="get" to="server"/>`],
    ["notification without type", `<notification id="n"/>`],
    ["chatstate without state", `<chatstate to="gk"/>`],
    ["chatstate bad media", `<chatstate><composing media="video"/></chatstate>`],
    ["presence bad type", `<presence type="away"/>`],
    ["ib bad count", `<ib><offline count="many"/></ib>`],
    ["success bad enlisted", `<success t="1" jid="gk" enlisted="maybe"/>`],
    ["success bad jid", `<success t="1" jid="nobody" enlisted="true"/>`],
    ["failure without reason", `<failure/>`],
    ["stream:error without code", `<stream:error/>`],
  ])("400: %s", (_name, xml) => {
    const err = caught(() => parseStanza(xml));
    expect(err.code).toBe(400);
    expect(err.tag).toBe(parseXml(xml).tag);
  });

  it("includes the id in a 400 when the id is valid", () => {
    const err = caught(() => parseStanza(`<iq id="q9" type="get" to="nobody"/>`));
    expect(err).toMatchObject({ code: 400, tag: "iq", id: "q9" });
  });

  it.each([
    ["missing padding", "AQI"],
    ["too much padding", "AQ==="],
    ["padding inside", "AQ==AQ=="],
    ["non-canonical bits", "AR=="],
    ["whitespace", "AQID BA=="],
    ["url-safe alphabet", "-_8="],
    ["not base64 at all", "hello world!"],
  ])("400 for bad base64: %s", (_name, b64) => {
    const err = caught(() =>
      parseStanza(`<message id="m" type="text"><enc v="2" type="msg">${b64}</enc></message>`),
    );
    expect(err).toMatchObject({ code: 400, tag: "message", id: "m" });
  });

  it("passes XML-layer errors through as frame errors", () => {
    const err = caught(() => parseStanza(`<message id="m"`));
    expect(err.code).toBe(487);
    expect(errorAck(err)).toEqual({ kind: "ack", class: "frame", error: 487 });
    // §5.1: the gatekeeper names the refused frame by its index, since there is no id to give.
    expect(errorAck(err, 3)).toEqual({ kind: "ack", class: "frame", error: 487, seq: 3 });
    expect(parseStanza(encodeStanza(errorAck(err, 3)))).toEqual(errorAck(err, 3));
    const big = caught(() =>
      parseStanza(`<ack class="${"x".repeat(100)}"/>`, {
        maxBytes: 50,
        maxDepth: 16,
        maxAttributes: 32,
        maxChildren: 1024,
      }),
    );
    expect(big.code).toBe(413);
    expect(errorAck(big)).toEqual({ kind: "ack", class: "frame", error: 413, text: "size" });
  });
});

describe("encodeStanza refuses what a peer would reject", () => {
  const msg = SAMPLES[1] as StanzaOf<"message">;
  it.each<[string, Stanza]>([
    ["bad id", { ...msg, id: "no spaces" }],
    ["bad to", { ...msg, to: "alice@example.org" }],
    ["negative t", { ...msg, t: -1 }],
    ["fractional retry", { ...msg, retry: 1.5 }],
    ["empty ciphertext", { ...msg, enc: { v: 2, type: "msg", ciphertext: new Uint8Array() } }],
    ["receipt with bad item id", { kind: "receipt", id: "r", ids: ["ok", "not ok"] }],
    ["registration id too large", { kind: "receipt", id: "r", ids: [], registrationId: 2 ** 32 }],
    ["iq error without error", { kind: "iq", id: "1", type: "error", children: [] }],
    ["ack with empty class", { kind: "ack", class: "" }],
    ["success with bad jid", { kind: "success", t: 1, jid: "x", enlisted: true }],
    ["presence name with control char", { kind: "presence", type: "available", name: "a\u0007" }],
  ])("%s", (_name, s) => {
    expect(caught(() => encodeStanza(s)).code).toBe(400);
  });
});

describe("push name on delivered messages (§8.1 notify)", () => {
  it("carries the sender's push name, escaped, as a string", () => {
    const wire =
      '<message id="3EB0AA" from="482910375561204@lid.gk" t="1" type="text" notify="Ana &amp; &lt;Bo&gt; 🌻">' +
      '<enc v="2" type="msg">AQID</enc></message>';
    const parsed = parseStanza(wire);
    expect(parsed).toMatchObject({ kind: "message", notify: "Ana & <Bo> 🌻" });
    expect(parseStanza(encodeStanza(parsed))).toEqual(parsed);
  });
});
