import { describe, expect, it } from "vitest";
import type { PortalRoomSpec } from "../../../src/core/matrix-side.js";
import { markupToMatrix } from "../../../src/matrix/formatting/index.js";
import {
  bridgeInfoStateKey,
  defaultPortalTopic,
  messageContent,
  portalCreateRoomBody,
  sendStatusContent,
  spaceCreateRoomBody,
} from "../../../src/matrix/room-content.js";

const BOT = "@gatekeeperbot:example.org";
const spec: PortalRoomSpec = {
  puppetMxid: "@gk_482910375561204:example.org",
  userMxid: "@alice:example.org",
  name: "Bob",
  topic: defaultPortalTopic("Bob"),
  bridgeInfo: {
    protocolId: "gatekeeper",
    protocolName: "Gatekeeper",
    channelId: "482910375561204@lid.gk",
    channelName: "Bob",
  },
};

describe("portalCreateRoomBody", () => {
  const body = portalCreateRoomBody(spec, BOT);

  it("makes a private DM inviting the user and the bot", () => {
    expect(body).toMatchObject({ preset: "private_chat", is_direct: true, name: "Bob" });
    expect(body.invite).toEqual([spec.userMxid, BOT]);
  });

  it("carries MSC2346 bridge info under both event types with one stable key", () => {
    const state = body.initial_state as { type: string; state_key: string; content: unknown }[];
    expect(state.map((s) => s.type).sort()).toEqual(["m.bridge", "uk.half-shot.bridge"]);
    const key = bridgeInfoStateKey(spec.bridgeInfo);
    expect(state.every((s) => s.state_key === key)).toBe(true);
    expect(bridgeInfoStateKey({ ...spec.bridgeInfo })).toBe(key);
    expect(bridgeInfoStateKey({ ...spec.bridgeInfo, channelId: "1@lid.gk" })).not.toBe(key);
    expect(state[0]!.content).toEqual({
      bridgebot: BOT,
      creator: spec.puppetMxid,
      protocol: { id: "gatekeeper", displayname: "Gatekeeper" },
      channel: { id: "482910375561204@lid.gk", displayname: "Bob" },
    });
  });

  it("lets the puppet and the bot manage the room", () => {
    expect(body.power_level_content_override).toEqual({
      users: { [spec.puppetMxid]: 100, [BOT]: 100 },
    });
  });

  it("has a topic that says where encryption ends", () => {
    expect(body.topic).toContain("End-to-end encryption ends at the bridge");
  });
});

describe("spaceCreateRoomBody", () => {
  it("is a space named as configured, the user invited, only the bot adds rooms", () => {
    const body = spaceCreateRoomBody("@alice:example.org", BOT, "Gatekeeper chats");
    expect(body).toMatchObject({
      name: "Gatekeeper chats",
      creation_content: { type: "m.space" },
      invite: ["@alice:example.org"],
    });
    const pl = body.power_level_content_override as {
      users: Record<string, number>;
      events: Record<string, number>;
    };
    expect(pl.users[BOT]).toBe(100);
    expect(pl.events["m.space.child"]).toBeGreaterThan(pl.users["@alice:example.org"]!);
  });
});

describe("messageContent", () => {
  it("maps text styles to msgtypes", () => {
    expect(messageContent({ kind: "text", text: "hi" }, markupToMatrix)).toMatchObject({
      msgtype: "m.text",
      body: "hi",
    });
    expect(
      messageContent({ kind: "text", text: "waves", style: "emote" }, markupToMatrix),
    ).toMatchObject({ msgtype: "m.emote" });
    expect(
      messageContent({ kind: "text", text: "fyi", style: "notice" }, markupToMatrix),
    ).toMatchObject({ msgtype: "m.notice" });
  });

  it("adds HTML only when the markup has formatting", () => {
    const plain = messageContent({ kind: "text", text: "plain" }, markupToMatrix);
    expect(plain.format).toBeUndefined();
    const bold = messageContent({ kind: "text", text: "*bold*" }, markupToMatrix);
    expect(bold.format).toBe("org.matrix.custom.html");
    expect(bold.formatted_body).toContain("<strong>bold</strong>");
  });

  it("makes a reply an m.in_reply_to relation", () => {
    const c = messageContent({ kind: "text", text: "yes", replyTo: "$orig" }, markupToMatrix);
    expect(c["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: "$orig" } });
  });

  it("shows unsupported content as a notice with its description", () => {
    const c = messageContent(
      { kind: "unsupported", description: "Bob sent a sticker" },
      markupToMatrix,
    );
    expect(c).toEqual({ msgtype: "m.notice", body: "Bob sent a sticker", "m.mentions": {} });
  });
});

describe("sendStatusContent", () => {
  it("references the event and says SUCCESS when sent", () => {
    expect(sendStatusContent("Gatekeeper", "$ev", { status: "sent" })).toEqual({
      network: "Gatekeeper",
      "m.relates_to": { rel_type: "m.reference", event_id: "$ev" },
      status: "SUCCESS",
    });
  });

  it("tells retriable from permanent failures and carries the reason", () => {
    const retry = sendStatusContent("Gatekeeper", "$ev", { status: "retrying", reason: "offline" });
    expect(retry).toMatchObject({
      status: "FAIL_RETRIABLE",
      reason: "m.foreign_network_error",
      message: "offline",
    });
    const failed = sendStatusContent("Gatekeeper", "$ev", {
      status: "failed",
      reason: "unreachable",
    });
    expect(failed).toMatchObject({ status: "FAIL_PERMANENT", message: "unreachable" });
  });
});
