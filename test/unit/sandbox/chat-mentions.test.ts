/**
 * The chat tool shows a group message's mentions (docs/protocol.md §19.6) by the names it
 * knows: "@Bob" for "@<Bob's lid>" when Bob's JID is in the message's mentioned_jid.
 */
import { describe, expect, it } from "vitest";
import { mediaMessage, textMessage } from "../../../src/gatekeeper/content/index.js";
import { describeMessage, receivedLine } from "../../../src/sandbox/chat/render.js";

const BOB = "482910375561204@lid.gk";
const BEA = "matrix.bea@interop";
const names = new Map([
  [BOB, "Bob"],
  [BEA, "+49 151 2345"],
]);
const nameOf = (jid: string): string | undefined => names.get(jid);

describe("mentions in the chat tool", () => {
  it("shows listed mentions by name, and leaves what is not listed or unknown", () => {
    const message = textMessage(
      "@482910375561204 and @matrix.bea, not @482910375561205 or x@482910375561204",
      { mentions: [BOB, BEA, "482910375561205@lid.gk"] },
    );
    expect(describeMessage(message, nameOf)).toBe(
      "@Bob and @+49 151 2345, not @482910375561205 or x@482910375561204",
    );
  });

  it("a text that does not list a JID keeps its @digits", () => {
    expect(describeMessage(textMessage("@482910375561204 hi"), nameOf)).toBe("@482910375561204 hi");
  });

  it("names mentions in a caption and in the received line", () => {
    const image = mediaMessage(
      "image",
      {
        url: "https://media.example/x",
        mediaKey: new Uint8Array(32),
        fileSha256: new Uint8Array(32),
        fileEncSha256: new Uint8Array(32),
        fileLength: 10,
        mimetype: "image/png",
      },
      { caption: "look @482910375561204", mentions: [BOB] },
    );
    expect(describeMessage(image, nameOf)).toBe("[image, 10 bytes] look @Bob");
    const line = receivedLine(
      {
        id: "3EB0AA",
        t: 0,
        offline: false,
        content: textMessage("@matrix.bea", { mentions: [BEA] }),
      },
      "Carol",
      { group: "[Club]", nameOf },
    );
    expect(line).toMatch(/\[Club\] .*Carol: @\+49 151 2345$/);
  });
});
