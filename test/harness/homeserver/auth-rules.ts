/**
 * Event authorization (room version 10 rules, minus federation-only parts such as third-party
 * invites, restricted joins and signatures). An event that fails gets 403 M_FORBIDDEN, as a
 * homeserver answers a client whose request would create an unauthorized event.
 */
import { forbidden, MatrixHttpError } from "./errors.js";
import { stateKeyOf } from "./ids.js";
import { membershipIn, readPowerLevels, stateContent, userPower } from "./room.js";
import type { RoomEvent, StateMap } from "./types.js";

const MEMBERSHIPS = new Set(["join", "invite", "leave", "ban", "knock"]);

export function authorizeEvent(event: Omit<RoomEvent, "event_id">, state: StateMap): void {
  if (event.type === "m.room.create") {
    if (state.size > 0) throw forbidden("The room is already created");
    return;
  }
  if (!state.has(stateKeyOf("m.room.create", ""))) throw forbidden("No m.room.create event");
  if (event.type === "m.room.member") return authorizeMembership(event, state);

  const senderMembership = membershipIn(state, event.sender);
  if (senderMembership !== "join") {
    throw forbidden(`User ${event.sender} not in room ${event.room_id}`);
  }
  const pl = readPowerLevels(state);
  const power = userPower(pl, event.sender);
  const required =
    pl.events[event.type] ?? (event.state_key !== undefined ? pl.state_default : pl.events_default);
  if (power < required) {
    throw forbidden(
      `You don't have permission to post that to the room. user_level (${power}) < send_level (${required})`,
    );
  }
  if (event.state_key?.startsWith("@") && event.state_key !== event.sender) {
    throw forbidden("You are not allowed to set others state");
  }
  if (event.type === "m.room.power_levels") authorizePowerLevels(event, state, power);
}

function authorizeMembership(event: Omit<RoomEvent, "event_id">, state: StateMap): void {
  const target = event.state_key;
  const membership = event.content.membership;
  if (target === undefined || typeof membership !== "string" || !MEMBERSHIPS.has(membership)) {
    throw new MatrixHttpError(400, "M_BAD_JSON", "Invalid membership event");
  }
  const create = state.get(stateKeyOf("m.room.create", ""))!;
  // The creator's own join right after m.room.create.
  if (membership === "join" && state.size === 1 && create.event.sender === target) return;

  const sender = event.sender;
  const senderMembership = membershipIn(state, sender);
  const targetMembership = membershipIn(state, target);
  const pl = readPowerLevels(state);
  const senderPower = userPower(pl, sender);
  const targetPower = userPower(pl, target);
  const joinRule = stateContent(state, "m.room.join_rules")?.join_rule ?? "invite";

  switch (membership) {
    case "join": {
      if (sender !== target) throw forbidden("Cannot force another user to join.");
      if (targetMembership === "ban") throw forbidden("You are banned from this room");
      if (joinRule === "public") return;
      if (targetMembership === "join" || targetMembership === "invite") return;
      throw forbidden("You are not invited to this room.");
    }
    case "invite": {
      if (senderMembership !== "join") throw forbidden(`${sender} not in room ${event.room_id}.`);
      if (targetMembership === "ban") throw forbidden(`${target} is banned from the room`);
      if (targetMembership === "join") throw forbidden(`${target} is already in the room.`);
      if (senderPower < pl.invite) throw forbidden("You don't have permission to invite users");
      return;
    }
    case "leave": {
      if (sender === target) {
        if (
          senderMembership === "join" ||
          senderMembership === "invite" ||
          senderMembership === "knock"
        ) {
          return;
        }
        throw forbidden(`${target} is not in room ${event.room_id}.`);
      }
      if (senderMembership !== "join") throw forbidden(`${sender} not in room ${event.room_id}.`);
      if (targetMembership === "ban" && senderPower < pl.ban) {
        throw forbidden("You don't have permission to unban");
      }
      if (targetMembership !== "ban" && (senderPower < pl.kick || targetPower >= senderPower)) {
        throw forbidden("You don't have permission to kick");
      }
      return;
    }
    case "ban": {
      if (senderMembership !== "join") throw forbidden(`${sender} not in room ${event.room_id}.`);
      if (senderPower < pl.ban || targetPower >= senderPower) {
        throw forbidden("You don't have permission to ban");
      }
      return;
    }
    default: {
      // knock
      if (sender !== target) throw forbidden("Cannot knock on behalf of another user");
      if (joinRule !== "knock" && joinRule !== "knock_restricted") {
        throw forbidden("You don't have permission to knock");
      }
      if (targetMembership === "ban" || targetMembership === "join") {
        throw forbidden("You cannot knock on this room");
      }
    }
  }
}

const LEVEL_KEYS = [
  "users_default",
  "events_default",
  "state_default",
  "ban",
  "redact",
  "kick",
  "invite",
];

function authorizePowerLevels(
  event: Omit<RoomEvent, "event_id">,
  state: StateMap,
  senderPower: number,
): void {
  const previous = stateContent(state, "m.room.power_levels");
  if (!previous) return;
  const content = event.content;
  for (const key of LEVEL_KEYS) {
    const before = previous[key];
    const after = content[key];
    if (before === after) continue;
    if (
      (typeof before === "number" && before > senderPower) ||
      (typeof after === "number" && after > senderPower)
    ) {
      throw forbidden(`You don't have permission to change ${key}`);
    }
  }
  const diffMap = (before: unknown, after: unknown, what: string, isUsers: boolean): void => {
    const b = (before && typeof before === "object" ? before : {}) as Record<string, unknown>;
    const a = (after && typeof after === "object" ? after : {}) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
      if (b[k] === a[k]) continue;
      const oldV = b[k];
      const newV = a[k];
      if (typeof newV === "number" && newV > senderPower) {
        throw forbidden(`You don't have permission to raise ${what} ${k} above your own level`);
      }
      if (typeof oldV === "number") {
        const ownEntry = isUsers && k === event.sender;
        if (ownEntry ? oldV > senderPower : isUsers ? oldV >= senderPower : oldV > senderPower) {
          throw forbidden(`You don't have permission to change ${what} ${k}`);
        }
      }
    }
  };
  diffMap(previous.events, content.events, "event", false);
  diffMap(previous.users, content.users, "user", true);
}
