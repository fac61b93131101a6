/**
 * Mentions between GKI/1 and the core (docs/protocol.md §19.6), in the connector: a group
 * text's "@user part" of a JID in mentioned_jid becomes a span naming that JID, and a span
 * goes out as "@user part" with the JID listed. Nothing of it in a chat of two.
 */
import { describe, expect, it } from "vitest";
import type { BridgeContent } from "../../../src/core/content.js";
import { toBridgeContent, toGatekeeperMessage } from "../../../src/connector/content-mapping.js";
import {
  findMentions,
  mentionToken,
  writeMentions,
} from "../../../src/connector/mention-mapping.js";
import { describeContent, textMessage } from "../../../src/gatekeeper/content/index.js";

const GROUP = "120363000000000001@g.gk";
const CAROL = "482910375561204@lid.gk";
const DAVE = "482910375561205@lid.gk";
const BEA = "matrix.bea-1@interop";

describe("mention tokens", () => {
  it("are the lid digits for a native user and partner.account for a partner user", () => {
    expect(mentionToken(CAROL)).toBe("@482910375561204");
    expect(mentionToken(BEA)).toBe("@matrix.bea-1");
    expect(mentionToken(GROUP)).toBeUndefined();
    expect(mentionToken("gk")).toBeUndefined();
  });
});

describe("GKI/1 → core", () => {
  it("finds the listed JIDs' tokens that stand alone, in text order", () => {
    const text = "@matrix.bea-1 and @482910375561204, not x@482910375561204 or @4829103755612045";
    expect(findMentions(text, [CAROL, BEA, CAROL])).toEqual([
      { start: 0, end: 13, id: BEA },
      { start: 18, end: 34, id: CAROL },
    ]);
  });

  it("a mention of a JID not in the list stays text", () => {
    expect(findMentions("hi @482910375561205", [CAROL])).toEqual([]);
  });

  it("reads mentioned_jid of a group text into spans, after the emote prefix", () => {
    const message = textMessage("/me waves at @482910375561204", { mentions: [CAROL, DAVE] });
    const content = toBridgeContent(describeContent(message), undefined, {
      from: DAVE,
      group: true,
    });
    expect(content).toEqual({
      kind: "text",
      text: "waves at @482910375561204",
      style: "emote",
      remoteMentions: [{ start: 9, end: 25, id: CAROL }],
    });
  });

  it("reads mentions of a reply, and none in a chat of two", () => {
    const message = textMessage("@482910375561204 yes", {
      contextInfo: { stanzaId: "3EB0000000000000000A", participant: CAROL },
      mentions: [CAROL],
    });
    const kind = describeContent(message);
    expect(kind).toMatchObject({
      mentions: [CAROL],
      contextInfo: { stanzaId: "3EB0000000000000000A" },
    });
    expect(toBridgeContent(kind, undefined, { from: DAVE, group: true })).toMatchObject({
      replyTo: "3EB0000000000000000A",
      remoteMentions: [{ start: 0, end: 16, id: CAROL }],
    });
    expect(toBridgeContent(kind, undefined, { from: CAROL })).not.toHaveProperty("remoteMentions");
  });
});

describe("core → GKI/1", () => {
  const content: BridgeContent = {
    kind: "text",
    text: "Carol, ask Bea and Zoe",
    remoteMentions: [
      { start: 0, end: 5, id: CAROL },
      { start: 11, end: 14, id: BEA },
    ],
  };

  it("writes each span as @user part and lists the JIDs once", () => {
    expect(
      writeMentions("Carol and Carol", [
        { start: 10, end: 15, id: CAROL },
        { start: 0, end: 5, id: CAROL },
      ]),
    ).toEqual({ text: "@482910375561204 and @482910375561204", jids: [CAROL] });
  });

  it("leaves spans that overlap or leave the text as they are", () => {
    expect(
      writeMentions("Carol", [
        { start: 0, end: 5, id: CAROL },
        { start: 2, end: 4, id: BEA },
        { start: 3, end: 9, id: BEA },
      ]),
    ).toEqual({ text: "@482910375561204", jids: [CAROL] });
  });

  it("sends a group text with the tokens and mentioned_jid, an emote after /me", () => {
    const kind = describeContent(
      toGatekeeperMessage({ ...content, style: "emote" }, { contactId: GROUP, group: true }),
    );
    expect(kind).toEqual({
      kind: "text",
      text: "/me @482910375561204, ask @matrix.bea-1 and Zoe",
      mentions: [CAROL, BEA],
    });
  });

  it("keeps a reply's context with the mentions", () => {
    const reply: BridgeContent = { ...content, replyTo: "3EB0000000000000000B" };
    const kind = describeContent(toGatekeeperMessage(reply, { contactId: GROUP, group: true }));
    expect(kind).toMatchObject({
      contextInfo: { stanzaId: "3EB0000000000000000B" },
      mentions: [CAROL, BEA],
    });
  });

  it("sends the text as it is in a chat of two", () => {
    const kind = describeContent(toGatekeeperMessage(content, { contactId: CAROL }));
    expect(kind).toEqual({ kind: "text", text: "Carol, ask Bea and Zoe" });
  });
});
