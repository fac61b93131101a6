import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageSchema, ProtocolMessage_Type } from "../../../src/gen/gki_pb.js";
import { describeMessage } from "../../../src/sandbox/chat/render.js";

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
});
