/**
 * Bounded randomized test of the stanza parser: mutated valid stanzas (fixed seed, reproducible)
 * must each either parse to a stanza that re-encodes to itself, or be refused with a StanzaError
 * carrying one of the protocol's codes. Anything else (a TypeError, a hang, a prototype change) fails.
 */
import { describe, expect, it } from "vitest";
import {
  type Stanza,
  type StanzaKind,
  StanzaError,
  buildBundleResult,
  buildLookupResult,
  buildPreKeyUpload,
  encodeStanza,
  parseStanza,
} from "../../src/gatekeeper/stanza/index.js";

const SEED = 0x6b1_2024;
const ITERATIONS = 2000;
const KINDS: readonly StanzaKind[] = [
  "message",
  "receipt",
  "ack",
  "iq",
  "notification",
  "chatstate",
  "presence",
  "ib",
  "success",
  "failure",
  "stream-error",
];
const CODES = [400, 413, 487, 488];

/** mulberry32: small, seedable, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LID = "482910375561204@lid.gk";
const PARTNER = "matrix.a1b2c3@interop";
const key = (n: number) => new Uint8Array(33).fill(n);

const SEEDS: Stanza[] = [
  {
    kind: "message",
    id: "3EB0A1B2C3D4E5F60718",
    to: LID,
    t: 1764130000,
    type: "media",
    offline: true,
    retry: 1,
    enc: {
      v: 2,
      type: "pkmsg",
      mediatype: "image",
      ciphertext: new Uint8Array([1, 2, 3, 250, 251]),
    },
  },
  {
    kind: "receipt",
    id: "A1",
    from: PARTNER,
    type: "retry",
    ids: ["A2", "A3"],
    retry: { count: 1, id: "A1", t: 5 },
    registrationId: 42,
  },
  { kind: "ack", class: "message", id: "A1", t: 7, error: 429, text: `<>&"' 👍🏽` },
  {
    kind: "iq",
    id: "k1",
    type: "set",
    xmlns: "encrypt",
    children: buildPreKeyUpload({
      registrationId: 7,
      identityKey: key(5),
      deviceId: 1,
      preKeys: [{ id: 1, publicKey: key(1) }],
      signedPreKey: { id: 1, publicKey: key(2), signature: key(3) },
      kyberPreKey: { id: 1, publicKey: key(4), signature: key(6) },
    }),
  },
  {
    kind: "iq",
    id: "k2",
    type: "result",
    children: buildBundleResult([{ jid: LID, error: 404 }]).concat(
      buildLookupResult([
        { contact: "+4917012345678", jid: LID, name: "Ä" },
        { contact: "+4917099999999" },
      ]),
    ),
  },
  { kind: "iq", id: "e1", type: "error", children: [], error: { code: 429, retryAfter: 60 } },
  {
    kind: "notification",
    id: "n1",
    type: "encrypt",
    from: "gk",
    children: [{ tag: "count", attrs: { value: "3" }, children: [] }],
  },
  { kind: "chatstate", to: LID, state: "composing", media: "audio" },
  { kind: "presence", type: "available", name: "Bob & Alice", last: 3 },
  { kind: "ib", offlineCount: 2 },
  { kind: "success", t: 1, jid: PARTNER, enlisted: true },
  { kind: "failure", reason: 401, text: "x" },
  { kind: "stream-error", code: 515 },
];

const enc = new TextEncoder();
const SNIPPETS = [
  "<",
  ">",
  "/",
  "/>",
  "</",
  '"',
  "'",
  "=",
  "&",
  ";",
  "&amp;",
  "&lt;",
  "&#0;",
  "&#x1F600;",
  "&lol;",
  "<!DOCTYPE a>",
  '<!ENTITY x "y">',
  "<?pi?>",
  '<?xml version="1.0"?>',
  "<![CDATA[x]]>",
  "<!--c-->",
  "<a>",
  "</a>",
  "<x/>",
  ' id="1"',
  ' t="1e3"',
  ' to="gk"',
  "\u0000",
  "\uFFFF",
  "é",
  "👍",
  "\n",
  " ",
  "===",
  "AAAA",
  "stream:",
  "message",
  "iq",
  "__proto__",
  "constructor",
].map((s) => enc.encode(s));

function mutate(input: Uint8Array, rnd: () => number): Uint8Array {
  const bytes = Array.from(input);
  // Half the inputs get a single mutation, so that a fair share still parses and the round trip is tested.
  const rounds = rnd() < 0.5 ? 1 : 2 + Math.floor(rnd() * 3);
  for (let r = 0; r < rounds; r++) {
    const pos = Math.floor(rnd() * (bytes.length + 1));
    switch (Math.floor(rnd() * 6)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[pos % bytes.length]! ^= 1 << Math.floor(rnd() * 8);
        break;
      case 1: // random byte
        bytes.splice(pos, 0, Math.floor(rnd() * 256));
        break;
      case 2: {
        // delete a range
        const len = 1 + Math.floor(rnd() * 8);
        bytes.splice(pos, len);
        break;
      }
      case 3: {
        // insert a snippet
        const snippet = SNIPPETS[Math.floor(rnd() * SNIPPETS.length)]!;
        bytes.splice(pos, 0, ...snippet);
        break;
      }
      case 4: {
        // duplicate a range
        const len = 1 + Math.floor(rnd() * 16);
        bytes.splice(pos, 0, ...bytes.slice(pos, pos + len));
        break;
      }
      default: // truncate
        bytes.length = Math.min(bytes.length, pos);
    }
  }
  return new Uint8Array(bytes);
}

describe("stanza parser under mutated input", () => {
  it(`returns a stanza or throws StanzaError for ${ITERATIONS} mutations (seed ${SEED})`, () => {
    const rnd = prng(SEED);
    const corpus = SEEDS.map(encodeStanza);
    const outcomes = { parsed: 0, refused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(corpus[i % corpus.length]!, rnd);
      let result: Stanza;
      try {
        result = parseStanza(input);
      } catch (err) {
        if (!(err instanceof StanzaError) || !CODES.includes(err.code)) {
          throw new Error(
            `iteration ${i}: unexpected ${String(err)} for ${JSON.stringify(new TextDecoder().decode(input))}`,
          );
        }
        outcomes.refused++;
        continue;
      }
      expect(KINDS, `iteration ${i}`).toContain(result.kind);
      // Whatever the parser accepts, the encoder can send, and it reads back the same.
      expect(parseStanza(encodeStanza(result)), `iteration ${i}`).toEqual(result);
      outcomes.parsed++;
    }
    expect(outcomes.parsed + outcomes.refused).toBe(ITERATIONS);
    // Both paths were exercised; otherwise the mutations are too weak or too strong to mean anything.
    expect(outcomes.parsed).toBeGreaterThan(ITERATIONS / 20);
    expect(outcomes.refused).toBeGreaterThan(ITERATIONS / 20);
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});
