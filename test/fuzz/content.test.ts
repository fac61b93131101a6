/**
 * Bounded randomized test of the content path a contact's message takes (fixed seed,
 * reproducible): random Messages with any of their fields set (nested replies and quoted
 * copies, edits, strings up to ~100k characters, lone surrogates, empty values, the largest
 * numbers, wrong-sized keys), also after the wire and after damage to the wire bytes, go
 * through decodeContent, describeContent and the mapping to the core. Nothing may throw but
 * decodeContent's ContentError; every message comes out as something the user sees or a
 * deletion, edit or reaction; the bridge's own words about it stay short and well-formed.
 */
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { BridgeContent, RemoteMessage } from "../../src/core/content.js";
import type { MessageEvent } from "../../src/gatekeeper/client/index.js";
import {
  ContentError,
  decodeContent,
  describeContent,
  encodeContent,
} from "../../src/gatekeeper/content/index.js";
import type { ContentKind } from "../../src/gatekeeper/content/index.js";
import { toBridgeContent, toRemoteMessage } from "../../src/connector/content-mapping.js";
import { MessageSchema, ProtocolMessage_Type } from "../../src/gen/gki_pb.js";
import type { Message } from "../../src/gen/gki_pb.js";
import { EXCERPT_LENGTH } from "../../src/util/unicode.js";

const SEED = 0xc0_47e7;
const ITERATIONS = 400;
/** The bridge's own sentence around at most a few excerpts of the contact's words. */
const MAX_DESCRIPTION = 3 * EXCERPT_LENGTH + 400;

const BOB = "482910375561204@lid.gk";
const ME = "matrix.a1b2c3@interop";
const MEDIA = {
  client: { mediaConn: () => Promise.reject(new Error("not fetched in this test")) },
  tempDir: "/nonexistent",
};

/** mulberry32: small, seedable, good enough to pick values. */
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

type Init = MessageInitShape<typeof MessageSchema>;

const FIELDS = [
  "conversation",
  "extendedText",
  "image",
  "video",
  "audio",
  "document",
  "protocol",
  "protocol",
  "reaction",
] as const;

class Gen {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = prng(seed);
  }

  chance(p: number): boolean {
    return this.r() < p;
  }

  int(n: number): number {
    return Math.floor(this.r() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  string(): string {
    switch (this.int(8)) {
      case 0:
        return "";
      case 1:
        return this.pick(["hi", "/me waves", "/me ", "👍", "👨‍👩‍👧‍👦", "*bold* _it_", "> q\n- l"]);
      case 2:
        return this.pick(["\ud800", "a\udc00b", "\ud83d", "x\ud83d\ude00\ud800"]);
      case 3:
        return this.pick(["\u0000", "\u202e evil", "\ufeff", "\r\n\r\n", "<b>&amp;</b>"]);
      case 4: {
        // Long: up to ~100k characters, sometimes ending in half a surrogate pair.
        const unit = this.pick(["x", "é", "😀", "\ud800", "ab\n"]);
        return unit.repeat(1 + this.int(100_000 / unit.length));
      }
      default: {
        let s = "";
        for (let i = this.int(40); i > 0; i--) s += String.fromCharCode(this.int(0x10000));
        return s;
      }
    }
  }

  bytes(): Uint8Array {
    const n = this.pick([0, 1, 16, 31, 32, 32, 32, 33, 64, 100_000]);
    const out = new Uint8Array(n);
    for (let i = 0; i < Math.min(n, 64); i++) out[i] = this.int(256);
    return out;
  }

  u32(): number {
    return this.pick([0, 1, 59, 2 ** 31 - 1, 2 ** 32 - 1]);
  }

  u64(): bigint {
    return this.pick([0n, 1n, 123_456n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n]);
  }

  i64(): bigint {
    return this.pick([0n, 1n, -1n, 1_764_130_000_000n, 2n ** 63n - 1n, -(2n ** 63n)]);
  }

  /** Each optional field set or not: proto2 presence is part of what is tested. */
  maybe<T>(make: () => T, p = 0.6): T | undefined {
    return this.chance(p) ? make() : undefined;
  }

  key() {
    return {
      remoteJid: this.maybe(() => this.pick([BOB, ME, this.string()])),
      fromMe: this.maybe(() => this.chance(0.5)),
      id: this.maybe(() => this.pick(["3EB0AABBCCDDEEFF0011", "3EB0A", "", this.string()]), 0.9),
      participant: this.maybe(() => this.string(), 0.3),
    };
  }

  contextInfo(depth: number) {
    return {
      stanzaId: this.maybe(() => this.pick(["3EB0000000000000000Q", "", this.string()])),
      participant: this.maybe(() => this.pick([BOB, ME, this.string()])),
      quotedMessage: depth > 0 ? this.maybe(() => this.message(depth - 1), 0.4) : undefined,
      remoteJid: this.maybe(() => this.string(), 0.3),
    };
  }

  /** Half the time a reference the bridge accepts, so media is shown and not only refused. */
  media(depth: number) {
    const valid = this.chance(0.5);
    const hash = (): Uint8Array => (valid ? new Uint8Array(32).fill(this.int(256)) : this.bytes());
    return {
      url: valid
        ? "https://media.example/m/x"
        : this.maybe(() => this.pick(["https://media.example/m/x", "", this.string()])),
      mimetype: this.maybe(() => this.pick(["image/jpeg", "", this.string()])),
      fileSha256: valid ? hash() : this.maybe(hash),
      fileLength: valid ? BigInt(this.int(1000)) : this.maybe(() => this.u64()),
      mediaKey: valid ? hash() : this.maybe(hash),
      fileEncSha256: valid ? hash() : this.maybe(hash),
      directPath: this.maybe(() => this.pick(["/m/x", this.string()])),
      mediaKeyTimestamp: this.maybe(() => this.i64()),
      contextInfo: this.maybe(() => this.contextInfo(depth), 0.3),
    };
  }

  /** Any of Message's fields, each set or not; `depth` bounds nested Messages. */
  message(depth = 2, single = this.chance(0.4)): Init {
    const m: Init = {};
    const p = this.pick([0.1, 0.3, 0.9]); // few fields, some, nearly all
    // Or exactly one field, as senders should (protocol messages twice as often: edits need it).
    const only = single ? this.pick(FIELDS) : undefined;
    const set = (field: (typeof FIELDS)[number]): boolean =>
      only === undefined ? this.chance(p) : only === field;
    if (set("conversation")) m.conversation = this.string();
    if (set("extendedText"))
      m.extendedTextMessage = {
        text: this.maybe(() => this.string()),
        matchedText: this.maybe(() => this.string(), 0.2),
        canonicalUrl: this.maybe(() => this.string(), 0.2),
        description: this.maybe(() => this.string(), 0.2),
        title: this.maybe(() => this.string(), 0.2),
        contextInfo: this.maybe(() => this.contextInfo(depth), 0.5),
      };
    if (set("image"))
      m.imageMessage = {
        ...this.media(depth),
        caption: this.maybe(() => this.string()),
        height: this.maybe(() => this.u32()),
        width: this.maybe(() => this.u32()),
        jpegThumbnail: this.maybe(() => this.bytes(), 0.3),
      };
    if (set("video"))
      m.videoMessage = {
        ...this.media(depth),
        caption: this.maybe(() => this.string()),
        seconds: this.maybe(() => this.u32()),
        gifPlayback: this.maybe(() => this.chance(0.5)),
        height: this.maybe(() => this.u32()),
        width: this.maybe(() => this.u32()),
        jpegThumbnail: this.maybe(() => this.bytes(), 0.3),
      };
    if (set("audio"))
      m.audioMessage = {
        ...this.media(depth),
        seconds: this.maybe(() => this.u32()),
        ptt: this.maybe(() => this.chance(0.5)),
        waveform: this.maybe(() => this.bytes()),
      };
    if (set("document"))
      m.documentMessage = {
        ...this.media(depth),
        title: this.maybe(() => this.string(), 0.3),
        pageCount: this.maybe(() => this.u32(), 0.3),
        fileName: this.maybe(() => this.string()),
        caption: this.maybe(() => this.string()),
        jpegThumbnail: this.maybe(() => this.bytes(), 0.3),
      };
    if (set("protocol"))
      m.protocolMessage = {
        key: this.maybe(() => this.key(), 0.8),
        // 3: a type GKI/1 does not know (kept as an unknown field after the wire).
        type: this.maybe(
          () =>
            this.pick([
              ProtocolMessage_Type.REVOKE,
              ProtocolMessage_Type.MESSAGE_EDIT,
              ProtocolMessage_Type.MESSAGE_EDIT,
              3 as ProtocolMessage_Type,
            ]),
          0.85,
        ),
        editedMessage:
          depth > 0 ? this.maybe(() => this.message(depth - 1, this.chance(0.7)), 0.7) : undefined,
        timestampMs: this.maybe(() => this.i64()),
      };
    if (set("reaction"))
      m.reactionMessage = {
        key: this.maybe(() => this.key(), 0.8),
        text: this.maybe(() => this.string()),
        senderTimestampMs: this.maybe(() => this.i64()),
      };
    return m;
  }

  /** The wire bytes, damaged: flipped bytes, cut short, or spliced with garbage. */
  damage(bytes: Uint8Array): Uint8Array {
    const out = new Uint8Array(bytes);
    switch (this.int(3)) {
      case 0:
        for (let i = 1 + this.int(4); i > 0 && out.length > 0; i--)
          out[this.int(out.length)] = this.int(256);
        return out;
      case 1:
        return out.slice(0, this.int(out.length + 1));
      default: {
        const at = this.int(out.length + 1);
        const junk = Uint8Array.from({ length: 1 + this.int(8) }, () => this.int(256));
        const spliced = new Uint8Array(out.length + junk.length);
        spliced.set(out.subarray(0, at));
        spliced.set(junk, at);
        spliced.set(out.subarray(at), at + junk.length);
        return spliced;
      }
    }
  }
}

/** proto2 `undefined` means "not set": drop those so create() leaves the fields unset. */
function prune<T>(value: T): T {
  if (value instanceof Uint8Array || typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = prune(v);
  return out as T;
}

const isWellFormed = (s: string): boolean =>
  (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed.call(s);

/** What the user is shown, or what is applied to an earlier message: never nothing. */
function expectVisible(content: BridgeContent): void {
  switch (content.kind) {
    case "text":
      expect(content.text.length).toBeGreaterThan(0);
      break;
    case "unsupported":
      expect(content.description.length).toBeGreaterThan(0);
      expect(content.description.length).toBeLessThanOrEqual(MAX_DESCRIPTION);
      expect(isWellFormed(content.description)).toBe(true);
      break;
    case "edit":
    case "delete":
    case "reaction":
      expect(content.target.id.length).toBeGreaterThan(0);
      break;
    default:
      // Media: the core fetches it (or says why it cannot).
      expect(["image", "video", "audio", "file"]).toContain(content.kind);
  }
  if ("quote" in content && content.quote?.text !== undefined)
    expect([...content.quote.text].length).toBeLessThanOrEqual(EXCERPT_LENGTH);
}

function expectNotice(message: RemoteMessage): void {
  expectVisible(message.content);
  if (message.notShown === undefined) return;
  // Said once: in the description, or as a notice of its own after text or media.
  expect(message.content.kind).not.toBe("unsupported");
  expect(message.notShown.length).toBeLessThanOrEqual(MAX_DESCRIPTION);
}

/** What the random messages came out as, so a change to the generator cannot hollow it out. */
const seen = new Set<string>();

function through(content: Message, kind: ContentKind): void {
  seen.add(kind.kind === "unknown" ? `unknown:${kind.reason}` : kind.kind);
  if ("ignored" in kind && kind.ignored !== undefined) seen.add("several kinds");
  expectVisible(toBridgeContent(kind));
  expectVisible(toBridgeContent(kind, MEDIA, { from: BOB, ownJid: ME }));
  const event: MessageEvent = {
    id: "3EB0000000000000000B",
    from: BOB,
    t: 1,
    offline: false,
    content,
  };
  expectNotice(toRemoteMessage(event));
  expectNotice(toRemoteMessage(event, MEDIA, ME));
}

describe("content fuzz", () => {
  it(`${ITERATIONS} random Messages, as built, after the wire and with damaged wire bytes`, () => {
    const g = new Gen(SEED);
    let damagedDecoded = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const built = create(MessageSchema, prune(g.message()));
      through(built, describeContent(built));

      const wire = encodeContent(built);
      const decoded = decodeContent(wire);
      through(decoded, describeContent(decoded));

      let damaged: Message;
      try {
        damaged = decodeContent(g.damage(wire));
      } catch (err) {
        expect(err).toBeInstanceOf(ContentError);
        continue;
      }
      damagedDecoded += 1;
      through(damaged, describeContent(damaged));
    }
    // The damage must leave some messages decodable, or that half tests nothing.
    expect(damagedDecoded).toBeGreaterThan(ITERATIONS / 10);
    for (const what of [
      "text",
      "image",
      "video",
      "audio",
      "document",
      "revoke",
      "edit",
      "reaction",
      "unknown:unsupported",
      "unknown:malformed",
      "unknown:conflicting",
      "several kinds",
    ])
      expect(seen, what).toContain(what);
  });

  it("random bytes are a Message or a ContentError, never anything else", () => {
    const g = new Gen(SEED + 1);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: g.int(64) }, () => g.int(256));
      let msg: Message;
      try {
        msg = decodeContent(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(ContentError);
        continue;
      }
      through(msg, describeContent(msg));
    }
  });
});
