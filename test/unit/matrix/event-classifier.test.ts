import { describe, expect, it } from "vitest";
import { registrationFor } from "../../../src/config/index.js";
import { parseConfig } from "../../../src/config/index.js";
import { AppServiceRegistration } from "../../../src/matrix/appservice-bridge.js";
import { classifyEvent } from "../../../src/matrix/event-classifier.js";
import type { ClassifyContext } from "../../../src/matrix/event-classifier.js";
import { matrixToMarkup } from "../../../src/matrix/formatting/index.js";

const config = parseConfig(
  {
    homeserver: { url: "http://127.0.0.1:1", domain: "example.org" },
    gatekeeper: {
      url: "ws://127.0.0.1:2/gki/1/chat",
      static_key: Buffer.alloc(32, 7).toString("base64"),
      partner_id: "matrix",
      public_base_url: "http://127.0.0.1:3",
      partner_secret: "s".repeat(32),
    },
  },
  "test",
  {},
);
const registration = AppServiceRegistration.fromObject(
  registrationFor(config, { url: "http://127.0.0.1:4", asToken: "as", hsToken: "hs" }),
);
const BOT = "@gatekeeperbot:example.org";
const PUPPET = "@gk_482910375561204:example.org";
const ALICE = "@alice:example.org";
const ROOM = "!portal:example.org";

const ctx: ClassifyContext = {
  botMxid: BOT,
  isBridgeUser: (u) => u === BOT || registration.isUserMatch(u, false),
  toMarkup: matrixToMarkup,
};

let n = 0;
function event(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    event_id: `$e${++n}`,
    room_id: ROOM,
    sender: ALICE,
    origin_server_ts: 1_700_000_000_000,
    ...fields,
  };
}

const message = (content: Record<string, unknown>) => event({ type: "m.room.message", content });

describe("namespace filter", () => {
  it("ignores everything the bot or a puppet sent", () => {
    for (const sender of [BOT, PUPPET]) {
      const action = classifyEvent(
        event({ type: "m.room.message", sender, content: { msgtype: "m.text", body: "echo" } }),
        ctx,
      );
      expect(action.kind).toBe("ignore");
    }
  });

  it("lets a real user's event through, even one whose name resembles a puppet's", () => {
    for (const sender of [ALICE, "@gk_1:elsewhere.org", "@xgk_1:example.org"]) {
      const action = classifyEvent(
        event({ type: "m.room.message", sender, content: { msgtype: "m.text", body: "hi" } }),
        ctx,
      );
      expect(action.kind).toBe("message");
    }
  });
});

describe("m.room.message conversion", () => {
  it("text, notice and emote become text with the matching style", () => {
    const cases = [
      ["m.text", undefined],
      ["m.notice", "notice"],
      ["m.emote", "emote"],
    ] as const;
    for (const [msgtype, style] of cases) {
      const action = classifyEvent(message({ msgtype, body: "hello" }), ctx);
      expect(action).toMatchObject({ kind: "message" });
      if (action.kind !== "message") continue;
      expect(action.message.content).toEqual(
        style ? { kind: "text", text: "hello", style } : { kind: "text", text: "hello" },
      );
      expect(action.message).toMatchObject({
        roomId: ROOM,
        sender: ALICE,
        body: "hello",
        timestamp: 1_700_000_000_000,
      });
    }
  });

  it("converts HTML formatting to the gatekeeper's markup", () => {
    const action = classifyEvent(
      message({
        msgtype: "m.text",
        body: "bold and italic",
        format: "org.matrix.custom.html",
        formatted_body: "<strong>bold</strong> and <em>italic</em>",
      }),
      ctx,
    );
    expect(action.kind === "message" && action.message.content).toEqual({
      kind: "text",
      text: "*bold* and _italic_",
    });
  });

  it("takes replyTo from m.in_reply_to and drops the reply fallback", () => {
    const action = classifyEvent(
      message({
        msgtype: "m.text",
        body: "> <@bob:example.org> original\n\nmy answer",
        "m.relates_to": { "m.in_reply_to": { event_id: "$orig" } },
      }),
      ctx,
    );
    expect(action.kind === "message" && action.message.content).toEqual({
      kind: "text",
      text: "my answer",
      replyTo: "$orig",
    });
  });

  it("does not treat a thread's fallback in_reply_to as a reply", () => {
    const action = classifyEvent(
      message({
        msgtype: "m.text",
        body: "in thread",
        "m.relates_to": {
          rel_type: "m.thread",
          event_id: "$root",
          is_falling_back: true,
          "m.in_reply_to": { event_id: "$last" },
        },
      }),
      ctx,
    );
    const content = action.kind === "message" ? action.message.content : undefined;
    expect(content && "replyTo" in content ? content.replyTo : undefined).toBeUndefined();
  });

  it("other msgtypes become unsupported with a description", () => {
    const cases: [string, string][] = [
      ["m.image", "an image"],
      ["m.file", "a file"],
      ["m.audio", "an audio message"],
      ["m.video", "a video"],
      ["m.location", "a location"],
      ["org.example.custom", "a message of a type the bridge does not support"],
      ["constructor", "a message of a type the bridge does not support"],
    ];
    for (const [msgtype, description] of cases) {
      const action = classifyEvent(message({ msgtype, body: "cat.jpg" }), ctx);
      expect(action.kind === "message" && action.message.content).toEqual({
        kind: "unsupported",
        description,
      });
    }
  });

  it("an edit is an edit of its target (its new content, never a new message)", () => {
    const action = classifyEvent(
      message({
        msgtype: "m.text",
        body: "* fixed",
        "m.new_content": { msgtype: "m.text", body: "fixed" },
        "m.relates_to": { rel_type: "m.replace", event_id: "$old" },
      }),
      ctx,
    );
    expect(action.kind === "message" && action.message.content).toEqual({
      kind: "edit",
      target: { id: "$old" },
      text: "fixed",
    });
  });

  it("stickers and encrypted events are unsupported, never silently dropped", () => {
    for (const type of ["m.sticker", "m.room.encrypted"]) {
      const action = classifyEvent(event({ type, content: { body: "x" } }), ctx);
      expect(action.kind === "message" && action.message.content.kind).toBe("unsupported");
    }
  });

  it("ignores redacted messages and a text message without a body is unsupported", () => {
    expect(classifyEvent(message({}), ctx).kind).toBe("ignore");
    const noBody = classifyEvent(message({ msgtype: "m.text" }), ctx);
    expect(noBody.kind === "message" && noBody.message.content.kind).toBe("unsupported");
  });
});

describe("membership and state", () => {
  const member = (stateKey: string, content: Record<string, unknown>, extra = {}) =>
    event({ type: "m.room.member", state_key: stateKey, content, ...extra });

  it("an invite of the bot reports the inviter and is_direct", () => {
    expect(classifyEvent(member(BOT, { membership: "invite", is_direct: true }), ctx)).toEqual({
      kind: "bot-invited",
      roomId: ROOM,
      inviter: ALICE,
      isDirect: true,
    });
    const notDirect = classifyEvent(member(BOT, { membership: "invite" }), ctx);
    expect(notDirect).toMatchObject({ kind: "bot-invited", isDirect: false });
  });

  it("an invite of the bot by a puppet (portal creation) is ignored", () => {
    const action = classifyEvent(
      member(BOT, { membership: "invite", is_direct: true }, { sender: PUPPET }),
      ctx,
    );
    expect(action.kind).toBe("ignore");
  });

  it("join, leave and ban of real users are reported", () => {
    for (const membership of ["join", "leave", "ban"] as const) {
      expect(classifyEvent(member(ALICE, { membership }), ctx)).toEqual({
        kind: "membership",
        roomId: ROOM,
        userMxid: ALICE,
        membership,
      });
    }
  });

  it("a profile change (join to join), invites of others and puppets' memberships are ignored", () => {
    const rename = member(
      ALICE,
      { membership: "join", displayname: "Al" },
      { unsigned: { prev_content: { membership: "join" } } },
    );
    expect(classifyEvent(rename, ctx).kind).toBe("ignore");
    expect(classifyEvent(member("@carol:example.org", { membership: "invite" }), ctx).kind).toBe(
      "ignore",
    );
    const ownLeave = member(PUPPET, { membership: "leave" }, { sender: PUPPET });
    expect(classifyEvent(ownLeave, ctx).kind).toBe("ignore");
    expect(classifyEvent(member(PUPPET, { membership: "join" }), ctx).kind).toBe("ignore");
  });

  it("a real user's invite or kick of a puppet is passed on (group rooms add and remove)", () => {
    expect(classifyEvent(member(PUPPET, { membership: "invite" }), ctx)).toMatchObject({
      kind: "puppet-membership",
      sender: ALICE,
      puppetMxid: PUPPET,
      membership: "invite",
    });
    expect(classifyEvent(member(PUPPET, { membership: "leave" }), ctx)).toMatchObject({
      kind: "puppet-membership",
      membership: "leave",
    });
  });

  it("a real user's rename of a room is passed on; other state events are ignored", () => {
    const rename = event({ type: "m.room.name", state_key: "", content: { name: "Trip" } });
    expect(classifyEvent(rename, ctx)).toMatchObject({
      kind: "room-name",
      sender: ALICE,
      name: "Trip",
    });
    const topic = event({ type: "m.room.topic", state_key: "", content: { topic: "x" } });
    expect(classifyEvent(topic, ctx).kind).toBe("ignore");
  });

  it("malformed events are ignored", () => {
    expect(classifyEvent({ type: "m.room.message" }, ctx).kind).toBe("ignore");
  });
});
