/** A minimal valid server-default push rule set (spec "Predefined Rules"), for a given user. */
import type { JsonObject } from "./types.js";

const notifyHighlight = [
  "notify",
  { set_tweak: "sound", value: "default" },
  { set_tweak: "highlight" },
];
const notifySound = ["notify", { set_tweak: "sound", value: "default" }];

const rule = (
  rule_id: string,
  conditions: JsonObject[],
  actions: unknown[],
  enabled = true,
): JsonObject => ({
  rule_id,
  default: true,
  enabled,
  conditions,
  actions,
});

const match = (key: string, pattern: string): JsonObject => ({ kind: "event_match", key, pattern });

export function defaultPushRules(userId: string): JsonObject {
  const localpart = userId.slice(1).split(":")[0]!;
  return {
    global: {
      override: [
        rule(".m.rule.master", [], [], false),
        rule(".m.rule.suppress_notices", [match("content.msgtype", "m.notice")], []),
        rule(
          ".m.rule.invite_for_me",
          [
            match("type", "m.room.member"),
            match("content.membership", "invite"),
            match("state_key", userId),
          ],
          ["notify", { set_tweak: "sound", value: "default" }],
        ),
        rule(".m.rule.member_event", [match("type", "m.room.member")], []),
        rule(
          ".m.rule.is_user_mention",
          [
            {
              kind: "event_property_contains",
              key: "content.m\\.mentions.user_ids",
              value: userId,
            },
          ],
          notifyHighlight,
        ),
        rule(
          ".m.rule.is_room_mention",
          [
            { kind: "event_property_is", key: "content.m\\.mentions.room", value: true },
            { kind: "sender_notification_permission", key: "room" },
          ],
          ["notify", { set_tweak: "highlight" }],
        ),
        rule(
          ".m.rule.tombstone",
          [match("type", "m.room.tombstone"), match("state_key", "")],
          ["notify", { set_tweak: "highlight" }],
        ),
        rule(".m.rule.reaction", [match("type", "m.reaction")], []),
        rule(
          ".m.rule.room.server_acl",
          [match("type", "m.room.server_acl"), match("state_key", "")],
          [],
        ),
      ],
      content: [
        {
          rule_id: ".m.rule.contains_user_name",
          default: true,
          enabled: true,
          pattern: localpart,
          actions: notifyHighlight,
        },
      ],
      room: [],
      sender: [],
      underride: [
        rule(
          ".m.rule.call",
          [match("type", "m.call.invite")],
          ["notify", { set_tweak: "sound", value: "ring" }],
        ),
        rule(
          ".m.rule.encrypted_room_one_to_one",
          [{ kind: "room_member_count", is: "2" }, match("type", "m.room.encrypted")],
          notifySound,
        ),
        rule(
          ".m.rule.room_one_to_one",
          [{ kind: "room_member_count", is: "2" }, match("type", "m.room.message")],
          notifySound,
        ),
        rule(".m.rule.message", [match("type", "m.room.message")], ["notify"]),
        rule(".m.rule.encrypted", [match("type", "m.room.encrypted")], ["notify"]),
      ],
    },
  };
}
