import { create, toBinary } from "@bufbuild/protobuf";
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ContentError,
  decodeContent,
  describeContent,
  editMessage,
  encodeContent,
  mediaMessage,
  pad,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import type {
  ContentErrorCode,
  ContentKind,
  MediaRef,
  MessageKeyRef,
} from "../../../src/gatekeeper/content/index.js";
import { decryptMedia, encryptMedia } from "../../../src/gatekeeper/media/index.js";
import { MessageSchema, ProtocolMessage_Type } from "../../../src/gen/gki_pb.js";
import type { Message } from "../../../src/gen/gki_pb.js";

/** Plain Uint8Array, as protobuf gives back, so toEqual compares like with like. */
const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));

/** What a peer sees: encode, (Signal would go here), decode, describe. */
function overTheWire(msg: Message): ContentKind {
  return describeContent(decodeContent(encodeContent(msg)));
}

function expectContentError(fn: () => unknown, code: ContentErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ContentError);
  expect((thrown as ContentError).code).toBe(code);
  expect((thrown as ContentError).nackCode).toBe(491);
}

function ref(overrides: Partial<MediaRef> = {}): MediaRef {
  return {
    url: "https://media.partner.example/m/Zq3x",
    mediaKey: randomBytes(32),
    fileSha256: randomBytes(32),
    fileEncSha256: randomBytes(32),
    fileLength: 123_456,
    mimetype: "image/jpeg",
    ...overrides,
  };
}

const target: MessageKeyRef = {
  id: "3EB0AABBCCDDEEFF0011",
  fromMe: false,
  remoteJid: "8f2c1e@lid.gk",
};
const reply = { stanzaId: "3EB01122334455667788", participant: "8f2c1e@lid.gk" };

describe("content encode/decode round trip, per kind", () => {
  it("plain text", () => {
    expect(overTheWire(textMessage("hello 👋"))).toEqual({ kind: "text", text: "hello 👋" });
  });

  it("a text reply travels as extended text with its context", () => {
    const quoted = textMessage("original");
    const msg = textMessage("answer", { contextInfo: { ...reply, quotedMessage: quoted } });
    expect(msg.extendedTextMessage?.text).toBe("answer");
    const seen = overTheWire(msg);
    expect(seen).toMatchObject({ kind: "text", text: "answer", contextInfo: reply });
    expect(seen.kind === "text" && seen.contextInfo?.quotedMessage?.conversation).toBe("original");
  });

  it("an empty text is still text", () => {
    expect(overTheWire(textMessage(""))).toEqual({ kind: "text", text: "" });
  });

  it("image with caption, size and reply", () => {
    const media = ref({ directPath: "/v/t62/abc" });
    const thumbnail = randomBytes(50);
    const seen = overTheWire(
      mediaMessage("image", media, {
        caption: "look",
        width: 640,
        height: 480,
        thumbnail,
        contextInfo: reply,
      }),
    );
    expect(seen).toEqual({
      kind: "image",
      media,
      caption: "look",
      width: 640,
      height: 480,
      thumbnail,
      contextInfo: reply,
    });
  });

  it("video as GIF", () => {
    const media = ref({ mimetype: "video/mp4" });
    expect(
      overTheWire(mediaMessage("video", media, { seconds: 12, gifPlayback: true, caption: "lol" })),
    ).toEqual({
      kind: "video",
      media,
      seconds: 12,
      gifPlayback: true,
      caption: "lol",
    });
  });

  it("voice note with duration and waveform", () => {
    const media = ref({ mimetype: "audio/ogg; codecs=opus" });
    const waveform = Uint8Array.from({ length: 64 }, (_, i) => i);
    expect(overTheWire(mediaMessage("audio", media, { ptt: true, seconds: 7, waveform }))).toEqual({
      kind: "audio",
      media,
      ptt: true,
      seconds: 7,
      waveform,
    });
  });

  it("document with file name and caption", () => {
    const media = ref({ mimetype: "application/pdf", fileLength: 0 });
    expect(
      overTheWire(mediaMessage("document", media, { fileName: "report.pdf", caption: "Q3" })),
    ).toEqual({
      kind: "document",
      media,
      fileName: "report.pdf",
      caption: "Q3",
    });
  });

  it("reaction, and its removal with the empty emoji", () => {
    expect(
      overTheWire(reactionMessage(target, "❤️", { senderTimestampMs: 1_700_000_000_000 })),
    ).toEqual({
      kind: "reaction",
      key: target,
      emoji: "❤️",
      senderTimestampMs: 1_700_000_000_000,
    });
    expect(overTheWire(reactionMessage(target, ""))).toEqual({
      kind: "reaction",
      key: target,
      emoji: "",
    });
  });

  it("revoke", () => {
    const mine: MessageKeyRef = { id: "3EB0FFEEDDCCBBAA0099", fromMe: true };
    expect(overTheWire(revokeMessage(mine))).toEqual({ kind: "revoke", key: mine });
  });

  it("edit of a text", () => {
    expect(
      overTheWire(editMessage(target, textMessage("fixed typo"), { timestampMs: 42 })),
    ).toEqual({
      kind: "edit",
      key: target,
      newContent: { kind: "text", text: "fixed typo" },
      timestampMs: 42,
    });
  });

  it("a media message carries everything needed to download and decrypt the file", () => {
    const file = nodeRandomBytes(3000);
    const enc = encryptMedia(file, "audio");
    const msg = mediaMessage(
      "audio",
      { url: "https://media.partner.example/x", mimetype: "audio/ogg", ...enc },
      { ptt: true },
    );
    const seen = overTheWire(msg);
    if (seen.kind !== "audio") throw new Error(`expected audio, got ${seen.kind}`);
    const plain = decryptMedia(enc.blob, { ...seen.media, mediaType: seen.kind });
    expect(Buffer.from(plain).equals(file)).toBe(true);
  });
});

describe("decodeContent refuses broken plaintext", () => {
  it("garbage instead of protobuf → bad-protobuf (nack 491)", () => {
    expectContentError(() => decodeContent(pad(Uint8Array.of(0xff, 0xff, 0xff))), "bad-protobuf");
    expectContentError(() => decodeContent(pad(Uint8Array.of(0x07))), "bad-protobuf");
  });

  it("a message cut short → bad-protobuf", () => {
    const bytes = toBinary(MessageSchema, textMessage("a fairly long text"));
    expectContentError(
      () => decodeContent(pad(bytes.subarray(0, bytes.length - 4))),
      "bad-protobuf",
    );
  });

  it("no or broken padding → bad-padding", () => {
    const bytes = toBinary(MessageSchema, textMessage("hi"));
    // "hi" ends in 0x69, not a padding length.
    expectContentError(() => decodeContent(bytes), "bad-padding");
    expectContentError(() => decodeContent(new Uint8Array(0)), "bad-padding");
  });
});

describe("describeContent on what peers may send", () => {
  it("an empty Message is unknown/unsupported", () => {
    expect(overTheWire(create(MessageSchema))).toEqual({ kind: "unknown", reason: "unsupported" });
  });

  it("a Message with only fields from a newer client is unknown/unsupported", () => {
    // Field 50, length-delimited, 2 bytes: not in our schema.
    const msg = decodeContent(pad(Uint8Array.of(0x92, 0x03, 0x02, 0x08, 0x01)));
    expect(describeContent(msg)).toEqual({ kind: "unknown", reason: "unsupported" });
  });

  it("a protocol message of a type we do not know is not mistaken for a revoke", () => {
    // protocolMessage { key { id: "A1B2" } type: 3 }; type 3 is not in the closed enum.
    const key = Uint8Array.of(0x0a, 0x06, 0x1a, 0x04, 0x41, 0x31, 0x42, 0x32);
    const inner = Uint8Array.of(...key, 0x10, 0x03);
    const msg = decodeContent(pad(Uint8Array.of(0x62, inner.length, ...inner)));
    expect(msg.protocolMessage?.key?.id).toBe("A1B2");
    expect(describeContent(msg)).toEqual({ kind: "unknown", reason: "unsupported" });
  });

  it("a revoke without a target id is malformed", () => {
    const msg = create(MessageSchema, { protocolMessage: { type: ProtocolMessage_Type.REVOKE } });
    expect(overTheWire(msg)).toEqual({ kind: "unknown", reason: "malformed" });
  });

  it("an edit whose new content is itself an edit or a reaction is malformed", () => {
    expect(overTheWire(editMessage(target, editMessage(target, textMessage("x"))))).toEqual({
      kind: "unknown",
      reason: "malformed",
    });
    expect(overTheWire(editMessage(target, reactionMessage(target, "👍")))).toEqual({
      kind: "unknown",
      reason: "malformed",
    });
  });

  it.each<[string, Partial<MediaRef>]>([
    ["a short media key", { mediaKey: randomBytes(16) }],
    ["no file hash", { fileSha256: new Uint8Array(0) }],
    ["no blob hash", { fileEncSha256: randomBytes(31) }],
    ["no location at all", { url: "" }],
  ])("media with %s is malformed", (_what, broken) => {
    expect(overTheWire(mediaMessage("image", ref(broken)))).toEqual({
      kind: "unknown",
      reason: "malformed",
    });
  });

  it("media located only by directPath is fine", () => {
    const media = ref({ url: "", directPath: "/v/t62/xyz" });
    expect(overTheWire(mediaMessage("document", media))).toEqual({ kind: "document", media });
  });

  it("when several content fields are set, media wins over text", () => {
    const media = ref();
    const msg = mediaMessage("image", media, { caption: "c" });
    msg.conversation = "also text";
    expect(overTheWire(msg)).toMatchObject({ kind: "image", caption: "c" });
  });

  it("mediaMessage refuses a file length that cannot be represented", () => {
    expect(() => mediaMessage("image", ref({ fileLength: -1 }))).toThrow(RangeError);
    expect(() => mediaMessage("image", ref({ fileLength: 1.5 }))).toThrow(RangeError);
  });
});
