import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  editMessage,
  mediaMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import { MessageSchema, ProtocolMessage_Type } from "../../../src/gen/gki_pb.js";
import {
  MEDIA_DIR_HINT,
  describeMessage,
  printable,
  receivedLine,
  sentLine,
} from "../../../src/sandbox/chat/render.js";

const key = { remoteJid: "a@lid.gk", fromMe: true, id: "M1" };

describe("the chat tool's rendering", () => {
  it("shows a plain text as it is", () => {
    expect(describeMessage(create(MessageSchema, { conversation: "hi" }))).toBe("hi");
  });

  it("says what else a message carried (GKI/1 §8.2), never drops it silently", () => {
    const m = create(MessageSchema, {
      conversation: "hi",
      protocolMessage: { type: ProtocolMessage_Type.REVOKE, key },
      reactionMessage: { key, text: "👍" },
    });
    const shown = describeMessage(m);
    expect(shown.startsWith("hi [also carried, not shown: ")).toBe(true);
    expect(shown).toContain("revoke");
    expect(shown).toContain("reaction");
  });

  it("calls a deletion with a reaction and nothing else malformed, applying neither", () => {
    const m = create(MessageSchema, {
      protocolMessage: { type: ProtocolMessage_Type.REVOKE, key },
      reactionMessage: { key, text: "👍" },
    });
    expect(describeMessage(m)).toContain("malformed");
  });

  describe("message ids", () => {
    const target = { id: "3EB0AABBCCDDEEFF0011", fromMe: false };
    const at = { id: "3EB01111111111A1B2C3", t: 3661, offline: false };

    it("name the messages that replies, edits, deletions and reactions are about, short", () => {
      const reply = textMessage("sure", { contextInfo: { stanzaId: target.id } });
      expect(describeMessage(reply)).toBe("(reply to #FF0011) sure");
      expect(describeMessage(reactionMessage(target, "👍"))).toBe("[reacted 👍 to #FF0011]");
      expect(describeMessage(reactionMessage(target, ""))).toBe("[removed a reaction to #FF0011]");
      expect(describeMessage(revokeMessage(target))).toBe("[deleted message #FF0011]");
      expect(describeMessage(editMessage(target, textMessage("new")))).toBe("[edited #FF0011] new");
    });

    it("show a received message's own id before its sender", () => {
      const line = receivedLine({ ...at, content: textMessage("hello") }, "Bob");
      expect(line).toBe("01:01:01 #A1B2C3 Bob: hello");
    });

    it("show none for an edit, deletion or reaction: there is nothing to do with it", () => {
      const line = receivedLine({ ...at, content: reactionMessage(target, "👍") }, "Bob");
      expect(line).toBe("01:01:01 Bob: [reacted 👍 to #FF0011]");
    });

    it("show what we sent with its id", () => {
      expect(sentLine({ id: at.id, t: 3661 })).toBe("  sent #A1B2C3 at 01:01:01");
      expect(sentLine({ id: at.id, t: 3661 }, "reply to #FF0011")).toBe(
        "  sent #A1B2C3 at 01:01:01: reply to #FF0011",
      );
    });
  });

  describe("received files", () => {
    const ref = {
      url: "http://host/media/d/1",
      mediaKey: new Uint8Array(32),
      fileSha256: new Uint8Array(32),
      fileEncSha256: new Uint8Array(32),
      fileLength: 1234,
      mimetype: "image/jpeg",
    };
    const at = { id: "3EB01111111111A1B2C3", t: 0, offline: true };

    it("say kind, size and caption, and where the file went or the hint", () => {
      const image = mediaMessage("image", ref, { caption: "look" });
      expect(receivedLine({ ...at, content: image }, "Bob", MEDIA_DIR_HINT)).toBe(
        `00:00:00 #A1B2C3 Bob: [image, 1234 bytes] look (while you were away) ${MEDIA_DIR_HINT}`,
      );
      const doc = mediaMessage("document", ref, { fileName: "a.pdf" });
      expect(receivedLine({ ...at, content: doc }, "Bob", "→ saved to /tmp/a.pdf")).toMatch(
        /\[document a\.pdf, 1234 bytes\] \(while you were away\) → saved to \/tmp\/a\.pdf$/,
      );
    });

    it("call a voice message one", () => {
      const voice = mediaMessage("audio", ref, { ptt: true, seconds: 4 });
      expect(describeMessage(voice)).toBe("[voice message, 4 s, 1234 bytes]");
    });
  });

  it("shows control characters from the contact as �, so a terminal does not act on them", () => {
    const hostile = receivedLine(
      {
        id: "3EB0000000000000ABCD",
        t: 0,
        offline: false,
        content: textMessage("hi\u001b[2J\u0007"),
      },
      "Bob",
    );
    expect(printable(hostile)).toBe("00:00:00 #00ABCD Bob: hi\uFFFD[2J\uFFFD");
    expect(printable("two\nlines\tand a tab")).toBe("two\nlines\tand a tab");
  });
});
