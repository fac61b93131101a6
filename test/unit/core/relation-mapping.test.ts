import { describe, expect, it } from "vitest";
import type { BridgeContent } from "../../../src/core/content.js";
import { decodeOutboxPayload, encodeOutboxPayload } from "../../../src/core/outbox-payload.js";
import {
  describeContent,
  editMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import { toGatekeeperMessage, toRemoteMessage } from "../../../src/connector/content-mapping.js";
import { withEditWindow } from "../../../src/connector/relation-mapping.js";
import { GATEKEEPER_CAPABILITIES } from "../../../src/connector/gatekeeper-network.js";

const ME = "111111111111111@interop.gk";
const BOB = "482910375561204@lid.gk";
const chat = { contactId: BOB, ownJid: ME };

describe("the core's relations → GKI/1", () => {
  it("keys an edit and a deletion of the login's own message as fromMe", () => {
    const target = { id: "3EB00000000000000001", sender: ME };
    expect(
      describeContent(toGatekeeperMessage({ kind: "edit", target, text: "new" }, chat)),
    ).toEqual({
      kind: "edit",
      key: { id: target.id, fromMe: true, remoteJid: BOB },
      newContent: { kind: "text", text: "new" },
    });
    expect(describeContent(toGatekeeperMessage({ kind: "delete", target }, chat))).toEqual({
      kind: "revoke",
      key: { id: target.id, fromMe: true, remoteJid: BOB },
    });
  });

  it("keys a reaction to the contact's message as not fromMe; '' removes it", () => {
    const target = { id: "3EB00000000000000002", sender: BOB };
    for (const emoji of ["👍", ""]) {
      expect(
        describeContent(toGatekeeperMessage({ kind: "reaction", target, emoji }, chat)),
      ).toEqual({ kind: "reaction", key: { id: target.id, fromMe: false, remoteJid: BOB }, emoji });
    }
  });

  it("gives a reply the quoted message's author and a copy of its text", () => {
    const kind = describeContent(
      toGatekeeperMessage({
        kind: "text",
        text: "yes",
        replyTo: "3EB00000000000000003",
        quote: { sender: BOB, text: "coming?" },
      }),
    );
    expect(kind).toMatchObject({
      kind: "text",
      contextInfo: { stanzaId: "3EB00000000000000003", participant: BOB },
    });
    const quoted = kind.kind === "text" ? kind.contextInfo?.quotedMessage : undefined;
    expect(quoted && describeContent(quoted)).toEqual({ kind: "text", text: "coming?" });
  });
});

describe("GKI/1 → the core's relations", () => {
  const event = (content: ReturnType<typeof textMessage>) => ({
    id: "3EB0000000000000000F",
    from: BOB,
    t: 1_764_130_000,
    offline: false,
    content,
  });

  it("names the target by its author: the sender when fromMe, else the login", () => {
    const own = toRemoteMessage(event(revokeMessage({ id: "3EB0A", fromMe: true })), undefined, ME);
    expect(own.content).toEqual({ kind: "delete", target: { id: "3EB0A", sender: BOB } });
    const ours = toRemoteMessage(
      event(reactionMessage({ id: "3EB0B", fromMe: false, remoteJid: ME }, "🎉")),
      undefined,
      ME,
    );
    expect(ours.content).toEqual({
      kind: "reaction",
      target: { id: "3EB0B", sender: ME },
      emoji: "🎉",
    });
  });

  it("turns an edit's new text into an edit, /me into an emote", () => {
    const got = toRemoteMessage(
      event(editMessage({ id: "3EB0C", fromMe: true }, textMessage("/me waves"))),
      undefined,
      ME,
    );
    expect(got.content).toEqual({
      kind: "edit",
      target: { id: "3EB0C", sender: BOB },
      text: "waves",
      style: "emote",
    });
  });

  it("keeps a reply's quoted author and text", () => {
    const got = toRemoteMessage(
      event(
        textMessage("sure", {
          contextInfo: { stanzaId: "3EB0D", participant: ME, quotedMessage: textMessage("lunch?") },
        }),
      ),
      undefined,
      ME,
    );
    expect(got.content).toEqual({
      kind: "text",
      text: "sure",
      replyTo: "3EB0D",
      quote: { sender: ME, text: "lunch?" },
    });
  });
});

describe("relations in the outbox", () => {
  it("read back as they were written", () => {
    const cases: BridgeContent[] = [
      { kind: "edit", target: { id: "3EB0E", sender: ME }, text: "x", style: "emote" },
      { kind: "reaction", target: { id: "3EB0F", sender: BOB }, emoji: "" },
      { kind: "delete", target: { id: "3EB10", sender: ME } },
      { kind: "text", text: "re", replyTo: "3EB11", quote: { sender: BOB, text: "q" } },
    ];
    for (const c of cases) expect(decodeOutboxPayload(encodeOutboxPayload(c))).toEqual(c);
  });
});

describe("the edit window as a capability", () => {
  it("is the configured window, or no edits at 0", () => {
    expect(withEditWindow(GATEKEEPER_CAPABILITIES, 60).features.edits).toEqual({
      windowSeconds: 60,
    });
    expect(withEditWindow(GATEKEEPER_CAPABILITIES, 0).features.edits).toBeNull();
    expect(GATEKEEPER_CAPABILITIES.features.edits).toEqual({ windowSeconds: 900 });
  });
});

describe("relations in a group (docs/protocol.md §19.6)", () => {
  const GROUP = "120363000000000001@g.gk";
  const CAROL = "482910375561299@lid.gk";
  const groupChat = { contactId: GROUP, ownJid: ME, group: true };

  it("names the target by the group and its sender (participant), ours or a member's", () => {
    const theirs = { id: "3EB0000000000000000A", sender: CAROL };
    expect(
      describeContent(
        toGatekeeperMessage({ kind: "reaction", target: theirs, emoji: "👍" }, groupChat),
      ),
    ).toEqual({
      kind: "reaction",
      key: { id: theirs.id, fromMe: false, remoteJid: GROUP, participant: CAROL },
      emoji: "👍",
    });
    const ours = { id: "3EB0000000000000000B", sender: ME };
    expect(
      describeContent(toGatekeeperMessage({ kind: "delete", target: ours }, groupChat)),
    ).toEqual({
      kind: "revoke",
      key: { id: ours.id, fromMe: true, remoteJid: GROUP, participant: ME },
    });
  });

  it("reads a member's relation target from its participant, and marks the message's group", () => {
    const event = {
      id: "3EB0000000000000000C",
      from: BOB,
      group: GROUP,
      t: 1,
      offline: false,
      content: reactionMessage(
        { id: "3EB0000000000000000D", fromMe: false, remoteJid: GROUP, participant: CAROL },
        "🎉",
      ),
    };
    const message = toRemoteMessage(event, undefined, ME);
    expect(message.group).toBe(GROUP);
    expect(message.content).toEqual({
      kind: "reaction",
      target: { id: "3EB0000000000000000D", sender: CAROL },
      emoji: "🎉",
    });
    // The author's own message (fromMe) is theirs, whatever the participant says.
    const own = toRemoteMessage(
      {
        ...event,
        content: revokeMessage({ id: "3EB0000000000000000E", fromMe: true, remoteJid: GROUP }),
      },
      undefined,
      ME,
    );
    expect(own.content).toEqual({
      kind: "delete",
      target: { id: "3EB0000000000000000E", sender: BOB },
    });
  });
});
