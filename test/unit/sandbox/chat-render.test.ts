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
import {
  groupChangeLine,
  groupInfoLines,
  participantFailure,
} from "../../../src/sandbox/chat/group-render.js";

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
      expect(receivedLine({ ...at, content: image }, "Bob", { note: MEDIA_DIR_HINT })).toBe(
        `00:00:00 #A1B2C3 Bob: [image, 1234 bytes] look (while you were away) ${MEDIA_DIR_HINT}`,
      );
      const doc = mediaMessage("document", ref, { fileName: "a.pdf" });
      expect(
        receivedLine({ ...at, content: doc }, "Bob", { note: "→ saved to /tmp/a.pdf" }),
      ).toMatch(
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

  describe("groups", () => {
    const ME = "me@lid.gk";
    const names = new Map([
      ["alice@lid.gk", "Alice"],
      ["carol@lid.gk", "Carol"],
      ["dan@lid.gk", "Dan"],
    ]);
    const view = { me: ME, name: (jid: string) => (jid === ME ? "you" : (names.get(jid) ?? jid)) };
    const by = (actor: string, change: Parameters<typeof groupChangeLine>[0]["change"]) =>
      groupChangeLine({ actor, change, offline: false }, "[Family]", view);
    const group = {
      jid: "1@g.gk",
      subject: "Family",
      subjectTime: 0,
      subjectOwner: "alice@lid.gk",
      creator: "alice@lid.gk",
      creation: 0,
      participants: [
        { jid: "alice@lid.gk", role: "superadmin" as const },
        { jid: ME, role: "member" as const },
        { jid: "carol@lid.gk", role: "admin" as const },
      ],
    };

    it("show a group message with the group before the id and the member", () => {
      const line = receivedLine(
        { id: "3EB01111111111A1B2C3", t: 43201, offline: false, content: textMessage("hi") },
        "Bob",
        { group: "[Family]" },
      );
      expect(line).toBe("12:00:01 [Family] #A1B2C3 Bob: hi");
    });

    it("show each change of a group as one line", () => {
      const alice = "alice@lid.gk";
      expect(by(alice, { type: "add", participants: ["carol@lid.gk"] })).toBe(
        "[Family] Alice added Carol",
      );
      expect(by(alice, { type: "add", participants: ["carol@lid.gk", "dan@lid.gk", ME] })).toBe(
        "[Family] Alice added Carol, Dan and you",
      );
      expect(by(alice, { type: "remove", participants: [ME] })).toBe("[Family] Alice removed you");
      expect(by("carol@lid.gk", { type: "leave", participants: ["carol@lid.gk"] })).toBe(
        "[Family] Carol left",
      );
      expect(by(alice, { type: "promote", participants: ["dan@lid.gk"] })).toBe(
        "[Family] Alice made Dan an admin",
      );
      expect(by("gk", { type: "promote", participants: ["dan@lid.gk"] })).toBe(
        "[Family] the gatekeeper made Dan an admin",
      );
      expect(by(ME, { type: "demote", participants: ["dan@lid.gk"] })).toBe(
        "[Family] you made Dan no longer admin",
      );
      expect(by(alice, { type: "subject", subject: "Fam", subjectTime: 1 })).toBe(
        '[Family] Alice changed the subject to "Fam"',
      );
      expect(by(alice, { type: "description", id: "D1", text: "Sundays" })).toBe(
        "[Family] Alice changed the description: Sundays",
      );
      expect(by(alice, { type: "description", id: "D2", deleted: true })).toBe(
        "[Family] Alice deleted the description",
      );
      expect(by(alice, { type: "picture", id: "P1" })).toBe(
        "[Family] Alice changed the group picture",
      );
      expect(by(alice, { type: "picture", deleted: true })).toBe(
        "[Family] Alice removed the group picture",
      );
    });

    it("say that we were added, to which subject, and mark what came while away", () => {
      expect(
        groupChangeLine(
          { actor: "alice@lid.gk", change: { type: "create", group }, offline: true },
          "[Family]",
          view,
        ),
      ).toBe('[Family] Alice added you to "Family" (3 members) (while you were away)');
      expect(by(ME, { type: "create", group: { ...group, creator: ME } })).toBe(
        '[Family] you created "Family" with Alice and Carol',
      );
    });

    it("say why a participant was not added, removed or promoted", () => {
      const fail = (op: "create" | "add" | "remove", error: number, text?: string) =>
        participantFailure(op, { jid: "dan@lid.gk", error, ...(text ? { text } : {}) }, view.name);
      expect(fail("add", 404)).toBe("Dan: unknown, or not reachable by you (404)");
      expect(fail("create", 406)).toBe("Dan: their app does not take part in groups (406)");
      expect(fail("add", 409)).toBe("Dan: already a member (409)");
      expect(fail("remove", 409)).toBe("Dan: not a member (409)");
      expect(fail("remove", 403, "superadmin")).toMatch(
        /creator cannot be removed .* \(403 superadmin\)$/,
      );
      expect(fail("add", 429, "group-full")).toBe("Dan: the group is full (429 group-full)");
    });

    it("/group info shows the subject and every member with their role", () => {
      expect(groupInfoLines({ ...group, description: { id: "D", text: "us" } }, view.name)).toEqual(
        [
          '  "Family" (1@g.gk), 3 members',
          "  description: us",
          "    Alice (superadmin)",
          "    you",
          "    Carol (admin)",
        ],
      );
    });
  });
});
