/** Room operations behind the client-server endpoints: create, membership, send, state, redact. */
import { badJson, forbidden, invalidParam, MatrixHttpError, notFound } from "./errors.js";
import type { Homeserver } from "./homeserver.js";
import { newRoomId, parseRoomAlias, parseUserId, stateKeyOf } from "./ids.js";
import type { Requester } from "./requester.js";
import { readPowerLevels, Room, userPower } from "./room.js";
import type { JsonObject, StoredEvent } from "./types.js";

export const DEFAULT_ROOM_VERSION = "10";
export const SUPPORTED_ROOM_VERSIONS = ["10"];

const isObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

interface Preset {
  joinRule: string;
  historyVisibility: string;
  guestAccess: string;
  inviteesHaveOps: boolean;
  plOverride: JsonObject;
}

// Synapse's presets (room.py), which the spec describes.
const PRESETS: Record<string, Preset> = {
  private_chat: {
    joinRule: "invite",
    historyVisibility: "shared",
    guestAccess: "can_join",
    inviteesHaveOps: false,
    plOverride: { invite: 0 },
  },
  trusted_private_chat: {
    joinRule: "invite",
    historyVisibility: "shared",
    guestAccess: "can_join",
    inviteesHaveOps: true,
    plOverride: { invite: 0 },
  },
  public_chat: {
    joinRule: "public",
    historyVisibility: "shared",
    guestAccess: "forbidden",
    inviteesHaveOps: false,
    plOverride: {},
  },
};

function profileContent(hs: Homeserver, userId: string): JsonObject {
  const u = hs.users.get(userId);
  const out: JsonObject = {};
  if (u?.displayname !== undefined) out.displayname = u.displayname;
  if (u?.avatar_url !== undefined) out.avatar_url = u.avatar_url;
  return out;
}

function assertLocalUserTarget(hs: Homeserver, userId: unknown): string {
  if (typeof userId !== "string" || !parseUserId(userId)) {
    throw invalidParam(`Invalid user id: ${String(userId)}`);
  }
  if (!hs.users.isLocal(userId)) {
    throw new MatrixHttpError(502, "M_UNKNOWN", "This test homeserver does not federate");
  }
  return userId;
}

/** An alias in an application service's exclusive namespace belongs to that service only. */
export function assertMayCreateAlias(hs: Homeserver, req: Requester, alias: string): void {
  const parsed = parseRoomAlias(alias);
  if (!parsed || parsed.server !== hs.serverName) throw invalidParam(`Invalid alias ${alias}`);
  if (req.appService) {
    // The spec and Synapse: an AS may only create aliases in its own alias namespaces.
    if (!req.appService.isInterestedInAlias(alias)) {
      throw new MatrixHttpError(
        400,
        "M_EXCLUSIVE",
        "This application service has not reserved this kind of alias.",
      );
    }
  } else if (hs.appServices.exclusiveOwnerOfAlias(alias)) {
    throw new MatrixHttpError(
      400,
      "M_EXCLUSIVE",
      "This alias is reserved by an application service.",
    );
  }
  if (hs.aliases.has(alias))
    throw new MatrixHttpError(409, "M_UNKNOWN", "Room alias already taken");
}

export async function createRoom(
  hs: Homeserver,
  req: Requester,
  body: JsonObject,
): Promise<string> {
  const version = body.room_version ?? DEFAULT_ROOM_VERSION;
  if (typeof version !== "string" || !SUPPORTED_ROOM_VERSIONS.includes(version)) {
    throw new MatrixHttpError(
      400,
      "M_UNSUPPORTED_ROOM_VERSION",
      "Your homeserver does not support this room version",
    );
  }
  const presetName =
    typeof body.preset === "string"
      ? body.preset
      : body.visibility === "public"
        ? "public_chat"
        : "private_chat";
  const preset = PRESETS[presetName];
  if (!preset) throw badJson(`Unknown preset ${presetName}`);
  const invites = body.invite ?? [];
  if (!Array.isArray(invites)) throw badJson("invite must be a list");
  const inviteTargets = invites.map((u) => assertLocalUserTarget(hs, u));
  const initialState = body.initial_state ?? [];
  if (!Array.isArray(initialState) || !initialState.every(isObject))
    throw badJson("initial_state must be a list of objects");
  for (const [key, want] of [
    ["creation_content", "object"],
    ["power_level_content_override", "object"],
    ["name", "string"],
    ["topic", "string"],
    ["room_alias_name", "string"],
  ] as const) {
    if (
      body[key] !== undefined &&
      (want === "object" ? !isObject(body[key]) : typeof body[key] !== "string")
    ) {
      throw badJson(`${key} must be a JSON ${want}`);
    }
  }
  let alias: string | undefined;
  if (typeof body.room_alias_name === "string") {
    alias = `#${body.room_alias_name}:${hs.serverName}`;
    if (/[:\s]/.test(body.room_alias_name)) throw invalidParam("Invalid characters in room alias");
    try {
      assertMayCreateAlias(hs, req, alias);
    } catch (e) {
      if (e instanceof MatrixHttpError && e.status === 409) {
        throw new MatrixHttpError(400, "M_ROOM_IN_USE", "Room alias already taken");
      }
      throw e;
    }
  }
  for (const target of inviteTargets) await hs.queryAppServicesForUser(target);

  const creator = req.userId;
  const room = new Room(newRoomId(hs.serverName), version);
  hs.rooms.set(room.roomId, room);
  const send = (type: string, content: JsonObject, stateKey = ""): StoredEvent =>
    hs.persist(room, { type, sender: creator, content, state_key: stateKey });

  send("m.room.create", {
    ...(body.creation_content as JsonObject | undefined),
    creator,
    room_version: version,
  });
  send("m.room.member", { membership: "join", ...profileContent(hs, creator) }, creator);

  const users: Record<string, number> = { [creator]: 100 };
  if (preset.inviteesHaveOps) for (const t of inviteTargets) users[t] = 100;
  const powerLevels: JsonObject = {
    users,
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      "m.room.tombstone": 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 50,
    historical: 100,
    ...preset.plOverride,
    ...(body.power_level_content_override as JsonObject | undefined),
  };
  send("m.room.power_levels", powerLevels);
  if (alias) {
    hs.aliases.set(alias, { roomId: room.roomId, creator });
    send("m.room.canonical_alias", { alias });
  }
  const initialKeys = new Set(
    initialState.map((s) =>
      stateKeyOf(String(s.type), typeof s.state_key === "string" ? s.state_key : ""),
    ),
  );
  const presetState: Array<[string, JsonObject]> = [
    ["m.room.join_rules", { join_rule: preset.joinRule }],
    ["m.room.history_visibility", { history_visibility: preset.historyVisibility }],
    ["m.room.guest_access", { guest_access: preset.guestAccess }],
  ];
  for (const [type, content] of presetState) {
    if (!initialKeys.has(stateKeyOf(type, ""))) send(type, content);
  }
  for (const s of initialState) {
    if (typeof s.type !== "string" || !isObject(s.content))
      throw badJson("initial_state entries need type and content");
    send(s.type, s.content, typeof s.state_key === "string" ? s.state_key : "");
  }
  if (typeof body.name === "string") send("m.room.name", { name: body.name });
  if (typeof body.topic === "string") send("m.room.topic", { topic: body.topic });
  for (const target of inviteTargets) {
    const content: JsonObject = { membership: "invite", ...profileContent(hs, target) };
    if (body.is_direct === true) content.is_direct = true;
    send("m.room.member", content, target);
  }
  return room.roomId;
}

/** Resolve `!room:server` or `#alias:server` (asking application services for unknown aliases). */
export async function resolveRoom(hs: Homeserver, idOrAlias: string): Promise<Room> {
  if (idOrAlias.startsWith("#")) {
    if (!hs.aliases.has(idOrAlias)) await hs.queryAppServicesForAlias(idOrAlias);
    const entry = hs.aliases.get(idOrAlias);
    if (!entry) throw notFound(`Room alias ${idOrAlias} not found`);
    return hs.room(entry.roomId);
  }
  if (!idOrAlias.startsWith("!"))
    throw invalidParam(`${idOrAlias} was not legal room ID or room alias`);
  const room = hs.rooms.get(idOrAlias);
  if (!room) throw notFound("No known servers");
  return room;
}

/**
 * Change a membership. An unchanged membership with the same content and sender is not sent
 * again (the existing event is returned), as Synapse does.
 */
export async function changeMembership(
  hs: Homeserver,
  req: Requester,
  room: Room,
  target: string,
  membership: "join" | "invite" | "leave" | "ban",
  extra: JsonObject = {},
): Promise<StoredEvent> {
  if (membership === "invite" || target !== req.userId) assertLocalUserTarget(hs, target);
  if (membership === "invite" && !hs.users.exists(target)) await hs.queryAppServicesForUser(target);
  const content: JsonObject = { membership, ...extra };
  if (membership === "join" || membership === "invite")
    Object.assign(content, profileContent(hs, target), extra);
  const current = room.stateEvent("m.room.member", target);
  if (
    current &&
    current.event.sender === req.userId &&
    JSON.stringify(current.event.content) === JSON.stringify(content)
  ) {
    return current;
  }
  return hs.persist(room, {
    type: "m.room.member",
    sender: req.userId,
    content,
    state_key: target,
  });
}

export function sendMessageEvent(
  hs: Homeserver,
  req: Requester,
  room: Room,
  type: string,
  content: JsonObject,
  txn: { txnId: string; path: string },
  ts?: number,
): string {
  const key = `${req.txnScope}\u0000${txn.path}`;
  const seen = hs.txnResults.get(key);
  if (seen) return seen;
  const se = hs.persist(
    room,
    { type, sender: req.userId, content },
    { ts, txn: { scope: req.txnScope, txnId: txn.txnId } },
  );
  hs.txnResults.set(key, se.event.event_id);
  return se.event.event_id;
}

export async function sendStateEvent(
  hs: Homeserver,
  req: Requester,
  room: Room,
  type: string,
  stateKey: string,
  content: JsonObject,
  ts?: number,
): Promise<string> {
  if (type === "m.room.canonical_alias") {
    for (const a of [
      content.alias,
      ...(Array.isArray(content.alt_aliases) ? content.alt_aliases : []),
    ]) {
      if (a === undefined || a === null) continue;
      if (typeof a !== "string" || hs.aliases.get(a)?.roomId !== room.roomId) {
        throw new MatrixHttpError(
          400,
          "M_BAD_ALIAS",
          `Room alias ${String(a)} does not point to the room`,
        );
      }
    }
  }
  const current = room.stateEvent(type, stateKey);
  if (
    current &&
    current.event.sender === req.userId &&
    JSON.stringify(current.event.content) === JSON.stringify(content)
  ) {
    return current.event.event_id;
  }
  const se = hs.persist(room, { type, sender: req.userId, content, state_key: stateKey }, { ts });
  return se.event.event_id;
}

export function redactEvent(
  hs: Homeserver,
  req: Requester,
  room: Room,
  eventId: string,
  reason: string | undefined,
  txn: { txnId: string; path: string },
): string {
  const key = `${req.txnScope}\u0000${txn.path}`;
  const seen = hs.txnResults.get(key);
  if (seen) return seen;
  const target = room.get(eventId);
  if (!target) throw notFound("Event not found");
  if (target.event.sender !== req.userId) {
    const pl = readPowerLevels(room.state);
    if (userPower(pl, req.userId) < pl.redact)
      throw forbidden("You don't have permission to redact events");
  }
  const content: JsonObject = reason !== undefined ? { reason } : {};
  const se = hs.persist(
    room,
    { type: "m.room.redaction", sender: req.userId, content, redacts: eventId },
    { txn: { scope: req.txnScope, txnId: txn.txnId } },
  );
  hs.txnResults.set(key, se.event.event_id);
  return se.event.event_id;
}

/** A profile change is announced in every joined room with a new join event, as Synapse does. */
export function propagateProfile(hs: Homeserver, userId: string): void {
  for (const room of hs.roomsOf(userId)) {
    if (room.membership(userId) !== "join") continue;
    const current = room.stateEvent("m.room.member", userId)!.event.content;
    const content: JsonObject = { ...current, membership: "join", ...profileContent(hs, userId) };
    if (hs.users.get(userId)?.avatar_url === undefined) delete content.avatar_url;
    hs.persist(room, { type: "m.room.member", sender: userId, content, state_key: userId });
  }
}
