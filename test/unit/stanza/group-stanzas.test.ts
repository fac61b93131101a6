/** Group messages, receipts, acks, chat states and notifications (§19.4–§19.6) in the stanza codec. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type Stanza,
  StanzaError,
  encodeStanza,
  parseStanza,
} from "../../../src/gatekeeper/stanza/index.js";

const G = "120363041234567890@g.gk";
const LID = "482910375561204@lid.gk";
const PARTNER = "matrix.a1b2c3@interop";
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const b64 = (n: number): string => Buffer.from(randomBytes(n)).toString("base64");
const roundTrip = (s: Stanza): Stanza => parseStanza(encodeStanza(s));

function refusal(fn: () => unknown): StanzaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StanzaError);
    return err as StanzaError;
  }
  throw new Error("expected a StanzaError");
}

const SAMPLES: Stanza[] = [
  // As the sender writes it: pairwise distributions in <participants>, one skmsg.
  {
    kind: "message",
    id: "3EB0A1B2C3D4E5F60718",
    to: G,
    type: "media",
    participants: [
      { jid: LID, enc: { v: 2, type: "pkmsg", ciphertext: bytes(90) } },
      { jid: PARTNER, enc: { v: 2, type: "msg", ciphertext: bytes(40) } },
    ],
    skmsg: { v: 2, type: "skmsg", mediatype: "image", ciphertext: bytes(120) },
  },
  {
    kind: "message",
    id: "g1",
    to: G,
    type: "text",
    skmsg: { v: 2, type: "skmsg", ciphertext: bytes(3) },
  },
  // A retry resend: <participants> alone.
  {
    kind: "message",
    id: "g2",
    to: G,
    type: "text",
    retry: 1,
    participants: [{ jid: LID, enc: { v: 2, type: "msg", ciphertext: bytes(30) } }],
  },
  // As delivered: the member's own pairwise enc and the skmsg, or either alone.
  {
    kind: "message",
    id: "g3",
    from: G,
    participant: PARTNER,
    t: 1764130000,
    type: "text",
    offline: true,
    notify: "Bob",
    enc: { v: 2, type: "pkmsg", ciphertext: bytes(80) },
    skmsg: { v: 2, type: "skmsg", ciphertext: bytes(50) },
  },
  {
    kind: "message",
    id: "g4",
    from: G,
    participant: LID,
    type: "text",
    skmsg: { v: 2, type: "skmsg", ciphertext: bytes(5) },
  },
  {
    kind: "message",
    id: "g5",
    from: G,
    participant: LID,
    retry: 2,
    type: "text",
    enc: { v: 2, type: "msg", ciphertext: bytes(5) },
  },
  { kind: "receipt", id: "r1", to: G, participant: PARTNER, type: "read", ids: ["r2"] },
  { kind: "receipt", id: "r1", from: G, participant: LID, t: 1, ids: [] },
  {
    kind: "receipt",
    id: "r3",
    to: G,
    participant: LID,
    type: "retry",
    ids: [],
    retry: { count: 1, id: "r3", t: 5 },
    registrationId: 7,
  },
  { kind: "ack", class: "message", id: "g3", to: G, participant: PARTNER },
  { kind: "chatstate", from: G, participant: LID, state: "composing" },
  { kind: "chatstate", to: G, state: "paused" },
  { kind: "notification", id: "N1", type: "w:gp2", from: G, participant: "gk", t: 3, children: [] },
];

describe("group stanzas round-trip (§19.5, §19.6)", () => {
  it.each(SAMPLES.map((s, i) => [`${i} ${s.kind}`, s] as const))("%s", (_name, s) => {
    expect(roundTrip(s)).toEqual(s);
  });

  it("writes <participants> first, then the skmsg, as §19.5 shows", () => {
    const xml = new TextDecoder().decode(encodeStanza(SAMPLES[0] as Stanza));
    expect(xml.indexOf("<participants>")).toBeLessThan(xml.indexOf('type="skmsg"'));
    expect(xml).toContain(`<to jid="${LID}"><enc v="2" type="pkmsg">`);
  });
});

describe("group message shapes the codec refuses with 400 (§19.5)", () => {
  const skmsg = `<enc v="2" type="skmsg">${b64(8)}</enc>`;
  const pairwise = `<enc v="2" type="msg">${b64(8)}</enc>`;
  it.each([
    [
      "to a group without skmsg (not a retry)",
      `<message id="a" to="${G}" type="text"><participants><to jid="${LID}">${pairwise}</to></participants></message>`,
    ],
    [
      "to a group with a pairwise enc outside a <to>",
      `<message id="a" to="${G}" type="text">${pairwise}${skmsg}</message>`,
    ],
    ["a retry resend without <participants>", `<message id="a" to="${G}" type="text" retry="1"/>`],
    ["two skmsg", `<message id="a" to="${G}" type="text">${skmsg}${skmsg}</message>`],
    [
      "a skmsg inside a <to>",
      `<message id="a" to="${G}" type="text"><participants><to jid="${LID}">${skmsg}</to></participants>${skmsg}</message>`,
    ],
    [
      "a <to> without enc",
      `<message id="a" to="${G}" type="text"><participants><to jid="${LID}"/></participants>${skmsg}</message>`,
    ],
    [
      "a <to> naming a group",
      `<message id="a" to="${G}" type="text"><participants><to jid="${G}">${pairwise}</to></participants>${skmsg}</message>`,
    ],
    [
      "two <to> for one member",
      `<message id="a" to="${G}" type="text"><participants><to jid="${LID}">${pairwise}</to><to jid="${LID}">${pairwise}</to></participants>${skmsg}</message>`,
    ],
    ["skmsg one-to-one", `<message id="a" to="${LID}" type="text">${skmsg}</message>`],
    [
      "<participants> one-to-one",
      `<message id="a" to="${LID}" type="text"><participants/>${pairwise}</message>`,
    ],
    [
      "delivered from a group without participant",
      `<message id="a" from="${G}" type="text">${skmsg}</message>`,
    ],
    [
      "delivered from a group with <participants>",
      `<message id="a" from="${G}" participant="${LID}" type="text"><participants><to jid="${LID}">${pairwise}</to></participants>${skmsg}</message>`,
    ],
    [
      "delivered from a group without any enc",
      `<message id="a" from="${G}" participant="${LID}" type="text"/>`,
    ],
    ["a group receipt without participant", `<receipt id="a" to="${G}"/>`],
  ])("%s", (_name, xml) => {
    const err = refusal(() => parseStanza(xml));
    expect(err.code).toBe(400);
    expect(err.tag).toBe(xml.startsWith("<receipt") ? "receipt" : "message");
    expect(err.id).toBe("a");
  });

  it("the encoder refuses what the decoder would", () => {
    const noSkmsg: Stanza = { kind: "message", id: "a", to: G, type: "text" };
    expect(refusal(() => encodeStanza(noSkmsg)).code).toBe(400);
    const pairwiseToGroup: Stanza = {
      kind: "message",
      id: "a",
      to: G,
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: bytes(2) },
    };
    expect(refusal(() => encodeStanza(pairwiseToGroup)).code).toBe(400);
    const direct: Stanza = { kind: "message", id: "a", to: LID, type: "text" };
    expect(refusal(() => encodeStanza(direct)).code).toBe(400);
  });

  it("one-to-one messages read as before: the first <enc>, participant ignored", () => {
    const xml = `<message id="a" to="${LID}" participant="junk" type="text"><enc v="2" type="msg">AQ==</enc><enc v="2" type="pkmsg">Ag==</enc></message>`;
    expect(parseStanza(xml)).toEqual({
      kind: "message",
      id: "a",
      to: LID,
      type: "text",
      enc: { v: 2, type: "msg", ciphertext: new Uint8Array([1]) },
    });
  });
});
