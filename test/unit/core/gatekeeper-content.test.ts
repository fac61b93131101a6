import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageSchema } from "../../../src/gen/gki_pb.js";
import { RemoteError } from "../../../src/core/network.js";
import { GatekeeperError } from "../../../src/gatekeeper/client/index.js";
import {
  describeContent,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import {
  toBridgeContent,
  toGatekeeperMessage,
  toRemoteMessage,
} from "../../../src/connector/content-mapping.js";
import { toRemoteError } from "../../../src/connector/error-mapping.js";

describe("Matrix-side content → GKI/1", () => {
  it("sends text as it is, markup included", () => {
    const kind = describeContent(toGatekeeperMessage({ kind: "text", text: "hello *world*" }));
    expect(kind).toEqual({ kind: "text", text: "hello *world*" });
  });

  it("turns a reply into context info naming the quoted message", () => {
    const kind = describeContent(
      toGatekeeperMessage({ kind: "text", text: "yes", replyTo: "3EB0000000000000000A" }),
    );
    expect(kind).toMatchObject({
      kind: "text",
      text: "yes",
      contextInfo: { stanzaId: "3EB0000000000000000A" },
    });
  });

  it("sends an emote as /me", () => {
    const kind = describeContent(
      toGatekeeperMessage({ kind: "text", text: "waves", style: "emote" }),
    );
    expect(kind).toEqual({ kind: "text", text: "/me waves" });
  });

  it("refuses unsupported content for good", () => {
    try {
      toGatekeeperMessage({ kind: "unsupported", description: "a sticker" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).permanent).toBe(true);
    }
  });
});

describe("GKI/1 content → the core", () => {
  it("keeps the sender, id and time of a message", () => {
    const msg = toRemoteMessage({
      id: "3EB0000000000000000B",
      from: "482910375561204@lid.gk",
      t: 1_764_130_000,
      offline: true,
      content: textMessage("hi _there_", { contextInfo: { stanzaId: "3EB0000000000000000C" } }),
    });
    expect(msg).toEqual({
      id: "3EB0000000000000000B",
      sender: "482910375561204@lid.gk",
      timestamp: 1_764_130_000_000,
      offline: true,
      content: { kind: "text", text: "hi _there_", replyTo: "3EB0000000000000000C" },
    });
  });

  it("describes what it cannot show yet instead of dropping it", () => {
    const key = { id: "3EB0000000000000000D", fromMe: false };
    expect(toBridgeContent(describeContent(reactionMessage(key, "👍")))).toEqual({
      kind: "unsupported",
      description: "reacted with 👍 to a message",
    });
    expect(toBridgeContent(describeContent(revokeMessage(key)))).toEqual({
      kind: "unsupported",
      description: "deleted a message",
    });
    expect(toBridgeContent(describeContent(create(MessageSchema, {})))).toMatchObject({
      kind: "unsupported",
    });
  });

  it("names a voice message and keeps an image's caption", () => {
    const media = {
      url: "https://media.example/x",
      mediaKey: new Uint8Array(32),
      fileSha256: new Uint8Array(32),
      fileEncSha256: new Uint8Array(32),
      fileLength: 10,
      mimetype: "audio/ogg",
    };
    expect(toBridgeContent({ kind: "audio", media, ptt: true })).toMatchObject({
      description: expect.stringContaining("voice message"),
    });
    expect(toBridgeContent({ kind: "image", media, caption: "the view" })).toMatchObject({
      description: expect.stringContaining("the view"),
    });
  });
});

describe("GatekeeperError → RemoteError", () => {
  const cases: [GatekeeperError, boolean][] = [
    [new GatekeeperError("unreachable", "nack 404", { gkiCode: 404 }), true],
    [new GatekeeperError("forbidden", "nack 403", { gkiCode: 403 }), true],
    [new GatekeeperError("rate-limited", "nack 429", { gkiCode: 429 }), false],
    [new GatekeeperError("timeout", "no ack"), false],
    [new GatekeeperError("disconnected", "closed"), false],
  ];
  it.each(cases)("%s is permanent: %s", (err, permanent) => {
    const mapped = toRemoteError(err, "send");
    expect(mapped.permanent).toBe(permanent);
    expect(mapped.code).toBe(err.code);
    expect(mapped.userMessage).not.toContain("nack");
  });

  it("words a wrong code at verify as what the user should do", () => {
    const mapped = toRemoteError(new GatekeeperError("not-acceptable", "406"), "verify");
    expect(mapped.userMessage).toContain("code is wrong");
  });
});
