/**
 * GKI/1 content → the core, for what a hostile or broken contact may send: a Message with
 * several kinds is shown as one, and the user is told what else it carried (in the
 * description, or as `notShown` for the core to post after text and media); descriptions
 * quote the contact's words only as a short excerpt; a damaged message is told apart from
 * one that could not be decrypted.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { BridgeContent } from "../../../src/core/content.js";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import {
  describeContent,
  editMessage,
  mediaMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import type { MediaRef } from "../../../src/gatekeeper/content/index.js";
import {
  notShownNotice,
  toBridgeContent,
  toRemoteMessage,
  undecryptableReason,
} from "../../../src/connector/content-mapping.js";
import { MessageSchema } from "../../../src/gen/gki_pb.js";
import type { Message } from "../../../src/gen/gki_pb.js";
import { EXCERPT_LENGTH } from "../../../src/util/unicode.js";

const BOB = "482910375561204@lid.gk";
const ME = "matrix.a1b2c3@interop";
const key = { id: "3EB0AABBCCDDEEFF0011", fromMe: true };
const ref: MediaRef = {
  url: "https://media.example/m/x",
  mediaKey: new Uint8Array(32).fill(1),
  fileSha256: new Uint8Array(32).fill(2),
  fileEncSha256: new Uint8Array(32).fill(3),
  fileLength: 10,
  mimetype: "image/jpeg",
};
const media = {
  client: { mediaConn: () => Promise.reject(new Error("not here")) },
  tempDir: "/nonexistent",
};
const LONG = "x".repeat(100_000);

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

function received(content: Message, withMedia = false) {
  const event: MessageEvent = {
    id: "3EB0000000000000000B",
    from: BOB,
    t: 1,
    offline: false,
    content,
  };
  return toRemoteMessage(event, withMedia ? media : undefined, ME);
}

const everything = (): Message =>
  both(
    revokeMessage(key),
    reactionMessage(key, "👍"),
    mediaMessage("image", ref, { caption: "the view" }),
    mediaMessage("video", ref),
    mediaMessage("audio", ref, { ptt: true }),
    mediaMessage("document", ref),
    textMessage("hello"),
  );

describe("a message with several kinds reaches the core as one, and the rest is told", () => {
  it("a deletion that comes with text is not applied: the text is shown, the deletion named", () => {
    const msg = received(both(revokeMessage(key), textMessage("nothing to see")));
    expect(msg.content).toEqual({ kind: "text", text: "nothing to see" });
    expect(msg.notShown).toBe(
      "This message also carried a deletion, which the bridge left out: a message should carry one thing at a time.",
    );
  });

  it.each([
    ["an edit", editMessage(key, textMessage("changed"))],
    ["a reaction", reactionMessage(key, "👍")],
  ])("%s that comes with text is not applied either", (name, relation) => {
    const msg = received(both(relation, textMessage("hi")));
    expect(msg.content).toEqual({ kind: "text", text: "hi" });
    expect(msg.notShown).toContain(`also carried ${name},`);
  });

  it("every field set, media bridged: the image, then a notice naming the rest", () => {
    const msg = received(everything(), true);
    expect(msg.content).toMatchObject({ kind: "image", caption: "the view" });
    expect(msg.notShown).toBe(
      "This message also carried a deletion, a reaction, a video, a voice message, a file and a text, which the bridge left out: a message should carry one thing at a time.",
    );
  });

  it("every field set, media not bridged: one description says all, no second notice", () => {
    const msg = received(everything());
    expect(msg.content).toEqual({
      kind: "unsupported",
      description:
        "sent an image, with the caption: the view (media is not bridged yet). This message also carried a deletion, a reaction, a video, a voice message, a file and a text, which the bridge left out: a message should carry one thing at a time.",
    });
    expect(msg).not.toHaveProperty("notShown");
  });

  it("a damaged image with text: the damage and the text left out are both said", () => {
    const broken = mediaMessage("image", { ...ref, fileSha256: new Uint8Array(3) });
    const msg = received(both(broken, textMessage("hi")), true);
    expect(msg.content).toEqual({
      kind: "unsupported",
      description:
        "sent a message that arrived damaged. This message also carried a text, which the bridge left out: a message should carry one thing at a time.",
    });
  });

  it.each([
    ["a deletion", revokeMessage(key)],
    ["an edit", editMessage(key, textMessage("x"))],
  ])(
    "%s with a reaction and nothing else is a malformed message, applied in no part",
    (what, m) => {
      const msg = received(both(m, reactionMessage(key, "❤️")));
      expect(msg.content).toEqual({
        kind: "unsupported",
        description: `sent a malformed message: it carried ${what} and a reaction at once, so the bridge applied none of it`,
      });
      expect(msg).not.toHaveProperty("notShown");
    },
  );

  it("one kind alone has no notice (a deletion is still a deletion)", () => {
    expect(received(revokeMessage(key)).content).toMatchObject({ kind: "delete" });
    expect(received(textMessage("hi"))).not.toHaveProperty("notShown");
    expect(notShownNotice(describeContent(textMessage("hi")))).toBeUndefined();
  });
});

describe("descriptions quote the contact's words only as an excerpt", () => {
  const bounded = (c: BridgeContent): void => {
    expect(c.kind).toBe("unsupported");
    if (c.kind === "unsupported") expect(c.description.length).toBeLessThan(EXCERPT_LENGTH + 300);
  };

  it("a caption", () => {
    const c = toBridgeContent(describeContent(mediaMessage("image", ref, { caption: LONG })));
    bounded(c);
    expect(c).toMatchObject({ description: expect.stringContaining("x…") });
  });

  it("an edited text (without the chat, an edit is a description)", () => {
    bounded(toBridgeContent(describeContent(editMessage(key, textMessage(LONG)))));
  });

  it("a reaction's 'emoji'", () => {
    bounded(toBridgeContent(describeContent(reactionMessage(key, LONG))));
  });

  it("a reply's quoted copy", () => {
    const reply = textMessage("yes", {
      contextInfo: { stanzaId: "3EB0000000000000000Q", quotedMessage: textMessage(LONG) },
    });
    const content = received(reply).content;
    expect(content).toMatchObject({ kind: "text", text: "yes" });
    const quote = content.kind === "text" ? content.quote?.text : undefined;
    expect([...(quote ?? "")].length).toBe(EXCERPT_LENGTH);
  });
});

describe("why a message cannot be shown", () => {
  it.each([
    ["bad-protobuf", "damaged"],
    ["bad-padding", "damaged"],
    ["no-session", "undecryptable"],
    ["invalid-message", "undecryptable"],
  ])("%s → %s", (code, reason) => {
    expect(undecryptableReason(code)).toBe(reason);
  });

  it("says the message is lost once the retries are spent, and damaged content stays damaged", () => {
    expect(undecryptableReason("invalid-message", false)).toBe("lost");
    expect(undecryptableReason("bad-protobuf", false)).toBe("damaged");
  });
});
