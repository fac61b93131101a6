import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  editMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import { MessageSchema } from "../../../src/gen/gki_pb.js";
import { ChatError } from "../../../src/sandbox/chat/chat-error.js";
import { MessageLog, parseIdRef, shortId } from "../../../src/sandbox/chat/ids.js";

const BOB = "111111111111111@lid.gk";
const ME = "222222222222222@lid.gk";
const text = create(MessageSchema, { conversation: "hi" });

function mine(id: string) {
  return { id, chat: BOB, sender: ME, fromMe: true, content: text };
}

function errorOf(f: () => unknown): ChatError {
  try {
    f();
  } catch (err) {
    if (err instanceof ChatError) return err;
    throw err;
  }
  throw new Error("no error");
}

describe("the chat tool's message ids", () => {
  it("shows the last six characters", () => {
    expect(shortId("3EB0AABBCCDDEEFF0011")).toBe("#FF0011");
  });

  it("reads an id as typed: # optional, any case, at least four characters", () => {
    expect(parseIdRef("#ff0011")).toBe("FF0011");
    expect(parseIdRef("3EB0AABBCCDDEEFF0011")).toBe("3EB0AABBCCDDEEFF0011");
    expect(parseIdRef("#abc")).toBeUndefined();
    expect(parseIdRef("a/b/c/d")).toBeUndefined();
    // Other clients' ids need not be hex (any stanza id is).
    expect(parseIdRef("msg-42.x")).toBe("MSG-42.X");
  });

  it("finds a message by its short form, by any longer end and by its full id", () => {
    const log = new MessageLog();
    log.record(mine("3EB0AABBCCDDEEFF0011"));
    log.record(mine("3EB0AABBCCDDEE123456"));
    expect(log.resolve("FF0011").id).toBe("3EB0AABBCCDDEEFF0011");
    expect(log.resolve("ff0011").id).toBe("3EB0AABBCCDDEEFF0011");
    expect(log.resolve("3EB0AABBCCDDEE123456").id).toBe("3EB0AABBCCDDEE123456");
  });

  it("says when an id is unknown or names more than one message", () => {
    const log = new MessageLog();
    log.record(mine("3EB0000000000000AB12"));
    log.record(mine("3EB0111111111111AB12"));
    const unknown = errorOf(() => log.resolve("123456"));
    expect(unknown.code).toBe("unknown-id");
    expect(unknown.message).toMatch(/^no message #123456 in this session/);
    const ambiguous = errorOf(() => log.resolve("AB12"));
    expect(ambiguous.code).toBe("ambiguous-id");
    expect(ambiguous.message).toContain("3EB0000000000000AB12");
    expect(ambiguous.message).toContain("give the full id");
    // The full id is never ambiguous, even where another id ends the same.
    expect(log.resolve("3EB0111111111111AB12").id).toBe("3EB0111111111111AB12");
  });

  it("forgets the oldest message past its size", () => {
    const log = new MessageLog(2);
    for (const id of ["AAAA000001", "AAAA000002", "AAAA000003"]) log.record(mine(id));
    expect(log.get("AAAA000001")).toBeUndefined();
    expect(log.resolve("000003").id).toBe("AAAA000003");
  });

  it("remembers a contact's texts, applies their edits and deletions, never to ours", () => {
    const log = new MessageLog();
    log.record(mine("3EB0000000000000EEEE"));
    log.received(BOB, "3EB00000000000000001", textMessage("first"));
    log.received(BOB, "3EB00000000000000002", reactionMessage({ id: "X", fromMe: false }, "👍"));
    expect(log.get("3EB00000000000000001")?.sender).toBe(BOB);
    expect(log.get("3EB00000000000000002")).toBeUndefined();

    const key = { id: "3EB00000000000000001", fromMe: true };
    log.received(BOB, "3EB00000000000000003", editMessage(key, textMessage("second")));
    expect(log.get("3EB00000000000000001")?.content.conversation).toBe("second");
    log.received(BOB, "3EB00000000000000004", revokeMessage(key));
    expect(log.get("3EB00000000000000001")?.deleted).toBe(true);

    // Bob cannot delete our message, whatever his key says.
    log.received(
      BOB,
      "3EB00000000000000005",
      revokeMessage({ id: "3EB0000000000000EEEE", fromMe: true }),
    );
    log.received(
      BOB,
      "3EB00000000000000006",
      revokeMessage({ id: "3EB0000000000000EEEE", fromMe: false }),
    );
    expect(log.get("3EB0000000000000EEEE")?.deleted).toBeUndefined();
  });

  it("keeps a group message in the group's chat, changed only by its sender there", () => {
    const GROUP = "120363000000000001@g.gk";
    const log = new MessageLog();
    log.received(BOB, "3EB00000000000000011", textMessage("in the group"), GROUP);
    expect(log.get("3EB00000000000000011")).toMatchObject({ chat: GROUP, sender: BOB });
    const key = { id: "3EB00000000000000011", fromMe: true, remoteJid: GROUP };
    // An edit that comes one to one does not change what was said in the group.
    log.received(BOB, "3EB00000000000000012", editMessage(key, textMessage("elsewhere")));
    expect(log.get("3EB00000000000000011")?.content.conversation).toBe("in the group");
    log.received(BOB, "3EB00000000000000013", editMessage(key, textMessage("fixed")), GROUP);
    expect(log.get("3EB00000000000000011")?.content.conversation).toBe("fixed");
  });
});
