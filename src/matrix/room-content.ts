/**
 * The Matrix JSON the bridge writes: portal and space creation bodies, MSC2346 bridge info,
 * message contents and send-status events. Pure, so the shapes are testable without a
 * homeserver.
 */
import type { BridgeContent, MatrixMention } from "../core/content.js";
import { portalTopic } from "../core/encryption-notice.js";
import type { GroupRoomSpec, PortalRoomSpec, SendStatus } from "../core/matrix-side.js";
import type { MatrixFormattedText } from "./formatting/index.js";

/** Prefix of the bridge-info state key (MSC2346 asks for a key unique to the bridge). */
export const BRIDGE_INFO_KEY_PREFIX = "org.matrix-gatekeeper-bridge";
export const SEND_STATUS_EVENT_TYPE = "com.beeper.message_send_status";

type Json = Record<string, unknown>;

/** The gatekeeper's markup to Matrix text, mentions as pills: formatting's markupToMatrix. */
export type ToMatrix = (markup: string, mentions?: readonly MatrixMention[]) => MatrixFormattedText;

/** A topic that says where end-to-end encryption ends (the core's wording, one source). */
export function defaultPortalTopic(contactName: string, networkName = "Gatekeeper"): string {
  return portalTopic(networkName, contactName);
}

/** Stable per portal: the same (protocol, channel) always gives the same key. */
export function bridgeInfoStateKey(info: PortalRoomSpec["bridgeInfo"]): string {
  return `${BRIDGE_INFO_KEY_PREFIX}://${encodeURIComponent(info.protocolId)}/${encodeURIComponent(info.channelId)}`;
}

export function bridgeInfoContent(spec: PortalRoomSpec, botMxid: string): Json {
  const { protocolId, protocolName, channelId, channelName } = spec.bridgeInfo;
  return {
    bridgebot: botMxid,
    creator: spec.puppetMxid,
    protocol: { id: protocolId, displayname: protocolName },
    channel: { id: channelId, displayname: channelName },
  };
}

/**
 * POST /createRoom body for a portal, sent as the puppet: a private DM (`is_direct`) with
 * the user and the bot invited, bridge info under both the MSC2346 and the older type, and
 * power levels giving the puppet and the bot (which posts notices and send statuses) 100.
 * The puppet needs 100 only while it sets the room up: it then lowers itself to
 * portalPowerLevels (a contact's words must not carry a moderator's weight, e.g. "@room").
 */
export function portalCreateRoomBody(spec: PortalRoomSpec, botMxid: string): Json {
  const info = bridgeInfoContent(spec, botMxid);
  const key = bridgeInfoStateKey(spec.bridgeInfo);
  const body: Json = {
    preset: "private_chat",
    is_direct: true,
    invite: [spec.userMxid, botMxid].filter((u) => u !== spec.puppetMxid),
    topic: spec.topic,
    initial_state: [
      { type: "m.bridge", state_key: key, content: info },
      { type: "uk.half-shot.bridge", state_key: key, content: info },
    ],
    power_level_content_override: {
      users: { [spec.puppetMxid]: 100, [botMxid]: 100 },
    },
  };
  if (spec.name !== undefined && spec.name !== "") body.name = spec.name;
  return body;
}

/**
 * POST /createRoom body for a group's room, sent as the bot: private, not direct, named after
 * the group's subject with its description as topic, the users and puppets invited, bridge
 * info as for a portal, and power levels: the bot 100, each puppet as the group ranks it.
 */
/** Synapse's default event levels (the override replaces them all), with the name free. */
const GROUP_ROOM_EVENT_LEVELS = {
  "m.room.name": 0,
  "m.room.power_levels": 100,
  "m.room.history_visibility": 100,
  "m.room.canonical_alias": 50,
  "m.room.avatar": 50,
  "m.room.tombstone": 100,
  "m.room.server_acl": 100,
  "m.room.encryption": 100,
};

export function groupCreateRoomBody(spec: GroupRoomSpec, botMxid: string): Json {
  const info = {
    bridgebot: botMxid,
    creator: botMxid,
    protocol: { id: spec.bridgeInfo.protocolId, displayname: spec.bridgeInfo.protocolName },
    channel: { id: spec.bridgeInfo.channelId, displayname: spec.bridgeInfo.channelName },
  };
  const key = bridgeInfoStateKey(spec.bridgeInfo);
  const users: Record<string, number> = { ...spec.userPowers, [botMxid]: 100 };
  for (const p of spec.puppets) if (p.power > 0) users[p.mxid] = p.power;
  const body: Json = {
    preset: "private_chat",
    is_direct: false,
    invite: [...new Set([...spec.userMxids, ...spec.puppets.map((p) => p.mxid)])],
    topic: spec.topic,
    initial_state: [
      { type: "m.bridge", state_key: key, content: info },
      { type: "uk.half-shot.bridge", state_key: key, content: info },
    ],
    // Anyone may rename the room: the bridge passes it on as the group's subject if the
    // gatekeeper lets them (admins), else sets the name back (core/group-actions.ts).
    power_level_content_override: { users, events: GROUP_ROOM_EVENT_LEVELS },
  };
  if (spec.name !== "") body.name = spec.name;
  return body;
}

/**
 * The portal's power levels once it is set up: the bot 100 (notices, send statuses, invites),
 * the puppet as any member (it only posts, reacts, redacts its own events and types).
 */
export function portalPowerLevels(current: Json, puppetMxid: string, botMxid: string): Json {
  const users = typeof current.users === "object" && current.users !== null ? current.users : {};
  return { ...current, users: { ...users, [botMxid]: 100, [puppetMxid]: 0 } };
}

/** POST /createRoom body for the user's space, sent as the bot. */
export function spaceCreateRoomBody(
  userMxid: string,
  botMxid: string,
  spaceName: string,
  networkName = "Gatekeeper",
): Json {
  return {
    preset: "private_chat",
    name: spaceName,
    topic: `Your chats bridged from ${networkName}, kept apart from the rest of Matrix.`,
    creation_content: { type: "m.space" },
    invite: [userMxid],
    power_level_content_override: {
      users: { [botMxid]: 100, [userMxid]: 50 },
      // Only the bridge adds or removes rooms; the user may rename and re-picture the space.
      events_default: 100,
      events: { "m.space.child": 100, "m.room.name": 50, "m.room.avatar": 50, "m.room.topic": 50 },
    },
  };
}

/** m.space.child (in the space) and m.space.parent (in the room), per the spec. */
export function spaceChildContent(domain: string): Json {
  return { via: [domain], suggested: false };
}

export function spaceParentContent(domain: string): Json {
  return { via: [domain], canonical: true };
}

/** The m.room.message content for content from the remote network. */
export function messageContent(content: BridgeContent, toMatrix: ToMatrix): Json {
  let out: Json;
  if (content.kind === "text") {
    const formatted = toMatrix(content.text, content.matrixMentions);
    const msgtype =
      content.style === "emote" ? "m.emote" : content.style === "notice" ? "m.notice" : "m.text";
    out = { msgtype, body: formatted.body };
    if (formatted.format !== undefined && formatted.formatted_body !== undefined) {
      out.format = formatted.format;
      out.formatted_body = formatted.formatted_body;
    }
  } else if (content.kind === "unsupported") {
    out = { msgtype: "m.notice", body: content.description };
  } else {
    // Edits and reactions are events of their own (relation-events.ts), not room messages.
    throw new TypeError(`${content.kind} is not a room message`);
  }
  if (content.replyTo !== undefined) {
    out["m.relates_to"] = { "m.in_reply_to": { event_id: content.replyTo } };
  }
  out[MENTIONS_KEY] = mentionsContent(content.mentions);
  return out;
}

export function noticeContent(text: string): Json {
  return { msgtype: "m.notice", body: text, [MENTIONS_KEY]: {} };
}

/**
 * Intentional mentions (spec v1.7): every message the bridge posts says whom it mentions,
 * usually nobody. With it, homeservers and clients skip the legacy rules that search the body
 * for "@room" or a display name, so a contact's words cannot notify people by accident.
 */
export const MENTIONS_KEY = "m.mentions";

export function mentionsContent(userIds: readonly string[] | undefined): Json {
  return userIds !== undefined && userIds.length > 0 ? { user_ids: [...new Set(userIds)] } : {};
}

/**
 * com.beeper.message_send_status, as mautrix bridges send it: a reference to the user's
 * event, SUCCESS / FAIL_RETRIABLE / FAIL_PERMANENT, and a reason a client may show.
 */
export function sendStatusContent(network: string, eventId: string, status: SendStatus): Json {
  const out: Json = {
    network,
    "m.relates_to": { rel_type: "m.reference", event_id: eventId },
  };
  switch (status.status) {
    case "sent":
      out.status = "SUCCESS";
      break;
    case "retrying":
      out.status = "FAIL_RETRIABLE";
      out.reason = "m.foreign_network_error";
      out.message = status.reason;
      break;
    case "failed":
      out.status = "FAIL_PERMANENT";
      out.reason = "m.foreign_network_error";
      out.message = status.reason;
      break;
    case "delivered":
      // As mautrix bridges report a delivery receipt: still SUCCESS, naming who got it.
      out.status = "SUCCESS";
      out.delivered_to_users = status.to;
      break;
  }
  return out;
}
