/**
 * A Message that carries several kinds of content (docs/protocol.md §8.2): the first of image,
 * video, audio, document, text is shown; a deletion, edit or reaction that comes with anything
 * else is never applied; everything not shown is listed in `ignored`.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
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
import type { ContentKind, MediaRef } from "../../../src/gatekeeper/content/index.js";
import type { ContentPart } from "../../../src/gatekeeper/content/content-kind.js";
import { MessageSchema } from "../../../src/gen/gki_pb.js";
import type { Message } from "../../../src/gen/gki_pb.js";

const key = { id: "3EB0AABBCCDDEEFF0011", fromMe: false };
const ref: MediaRef = {
  url: "https://media.example/m/x",
  mediaKey: new Uint8Array(32).fill(1),
  fileSha256: new Uint8Array(32).fill(2),
  fileEncSha256: new Uint8Array(32).fill(3),
  fileLength: 10,
  mimetype: "application/octet-stream",
};

/** One message of each kind, with the part name the user is told when it is left out. */
const KINDS = {
  revoke: { msg: revokeMessage(key), part: "revoke" },
  edit: { msg: editMessage(key, textMessage("fixed")), part: "edit" },
  reaction: { msg: reactionMessage(key, "👍"), part: "reaction" },
  image: { msg: mediaMessage("image", ref, { caption: "pic" }), part: "image" },
  video: { msg: mediaMessage("video", ref), part: "video" },
  audio: { msg: mediaMessage("audio", ref), part: "audio" },
  voice: { msg: mediaMessage("audio", ref, { ptt: true }), part: "voice" },
  document: { msg: mediaMessage("document", ref, { fileName: "a.pdf" }), part: "document" },
  text: { msg: textMessage("hello"), part: "text" },
  extendedText: {
    msg: textMessage("hello", { contextInfo: { stanzaId: "3EB0000000000000000Q" } }),
    part: "text",
  },
} satisfies Record<string, { msg: Message; part: ContentPart }>;
type Name = keyof typeof KINDS;

const RELATIONS: Name[] = ["revoke", "edit", "reaction"];
const DISPLAYABLE: Name[] = [
  "image",
  "video",
  "audio",
  "voice",
  "document",
  "text",
  "extendedText",
];

/** The Message a peer gets when both are set: protobuf merges concatenated encodings. */
function both(...msgs: Message[]): Message {
  const bytes = msgs.map((m) => toBinary(MessageSchema, m));
  const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    all.set(b, at);
    at += b.length;
  }
  return fromBinary(MessageSchema, all);
}

/** What a peer sees after the wire (padding included). */
const overTheWire = (msg: Message): ContentKind =>
  describeContent(decodeContent(encodeContent(msg)));

/** The kind a single-kind message is described as. */
const alone = (name: Name): ContentKind => describeContent(KINDS[name].msg);

describe("a Message with one kind is described as before", () => {
  it.each(Object.keys(KINDS) as Name[])("%s has nothing ignored", (name) => {
    expect(alone(name)).not.toHaveProperty("ignored");
  });

  it("conversation and extended text together are one text; the extended one wins", () => {
    const kind = overTheWire(
      both(KINDS.text.msg, textMessage("other", { contextInfo: { stanzaId: "Q1" } })),
    );
    expect(kind).toEqual({ kind: "text", text: "other", contextInfo: { stanzaId: "Q1" } });
  });
});

describe("a deletion, edit or reaction with anything shown is not applied", () => {
  for (const relation of RELATIONS) {
    it.each(DISPLAYABLE)(
      `${relation} + %s: the %s is shown, the ${relation} is listed`,
      (other) => {
        const kind = overTheWire(both(KINDS[relation].msg, KINDS[other].msg));
        expect(kind).toEqual({ ...alone(other), ignored: [KINDS[relation].part] });
      },
    );
  }

  it("the order of the fields on the wire does not matter", () => {
    expect(overTheWire(both(KINDS.text.msg, KINDS.revoke.msg))).toEqual({
      kind: "text",
      text: "hello",
      ignored: ["revoke"],
    });
  });

  it("a protocol message of a type GKI/1 does not know is named as such", () => {
    // protocolMessage { key { id: "A1B2" } type: 3 } + conversation "hi"
    const inner = Uint8Array.of(0x0a, 0x06, 0x1a, 0x04, 0x41, 0x31, 0x42, 0x32, 0x10, 0x03);
    const bytes = Uint8Array.of(0x62, inner.length, ...inner, 0x0a, 0x02, 0x68, 0x69);
    expect(describeContent(decodeContent(pad(bytes)))).toEqual({
      kind: "text",
      text: "hi",
      ignored: ["protocol"],
    });
  });
});

describe("a deletion or edit with a reaction and nothing to show", () => {
  it.each<[Name, ContentPart[]]>([
    ["revoke", ["revoke", "reaction"]],
    ["edit", ["edit", "reaction"]],
  ])("%s + reaction is conflicting: neither is applied", (relation, ignored) => {
    expect(overTheWire(both(KINDS.reaction.msg, KINDS[relation].msg))).toEqual({
      kind: "unknown",
      reason: "conflicting",
      ignored,
    });
  });
});

describe("several things to show: image, video, audio, document, text", () => {
  const ORDER: Name[] = ["image", "video", "audio", "document", "text"];
  const pairs: [Name, Name][] = [];
  ORDER.forEach((first, i) => ORDER.slice(i + 1).forEach((second) => pairs.push([first, second])));

  it.each(pairs)("%s + %s: the %s is shown", (first, second) => {
    expect(overTheWire(both(KINDS[second].msg, KINDS[first].msg))).toEqual({
      ...alone(first),
      ignored: [KINDS[second].part],
    });
  });

  it("a voice message left out is named a voice message", () => {
    expect(overTheWire(both(KINDS.image.msg, KINDS.voice.msg))).toMatchObject({
      kind: "image",
      ignored: ["voice"],
    });
  });

  it("a damaged image is shown as damaged, and the text is not tried instead", () => {
    const broken = mediaMessage("image", { ...ref, mediaKey: new Uint8Array(16) });
    expect(overTheWire(both(broken, KINDS.text.msg))).toEqual({
      kind: "unknown",
      reason: "malformed",
      ignored: ["text"],
    });
  });
});

describe("every field set", () => {
  it("shows the image and lists everything else in field order", () => {
    const all = both(...(Object.keys(KINDS) as Name[]).map((n) => KINDS[n].msg));
    // The edit's protocol message was merged into the revoke's: one protocol message.
    expect(overTheWire(all)).toEqual({
      ...alone("image"),
      ignored: ["edit", "reaction", "video", "voice", "document", "text"],
    });
  });

  it("an edit whose new content carries two kinds is malformed, not applied", () => {
    const newContent = both(KINDS.text.msg, KINDS.image.msg);
    expect(overTheWire(editMessage(key, newContent))).toEqual({
      kind: "unknown",
      reason: "malformed",
    });
  });
});
