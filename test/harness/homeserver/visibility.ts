/** Which events and state a user may read (spec "History visibility", as Synapse applies it). */
import { forbidden } from "./errors.js";
import { membershipIn, stateContent } from "./room.js";
import type { Room } from "./room.js";
import type { StateMap, StoredEvent } from "./types.js";

const PRIORITY = ["join", "invite", "knock", "leave", "ban"];
const rank = (m: string): number => {
  const i = PRIORITY.indexOf(m);
  return i < 0 ? PRIORITY.indexOf("leave") : i;
};

export function canSeeEvent(room: Room, se: StoredEvent, userId: string): boolean {
  const e = se.event;
  let membership = membershipIn(se.stateBefore, userId) ?? "leave";
  if (e.type === "m.room.member" && e.state_key === userId) {
    const now = typeof e.content.membership === "string" ? e.content.membership : "leave";
    // A user always sees their own leave from a room they were in or invited to.
    if (now === "leave" && (membership === "join" || membership === "invite")) return true;
    if (rank(now) < rank(membership)) membership = now;
  }
  if (membership === "join") return true;
  const visibility =
    stateContent(se.stateBefore, "m.room.history_visibility")?.history_visibility ?? "shared";
  if (visibility === "world_readable") return true;
  if (visibility === "shared")
    return room.membership(userId) === "join" || everJoined(room, userId);
  if (visibility === "invited") return membership === "invite";
  return false;
}

function everJoined(room: Room, userId: string): boolean {
  return room.events.some(
    (x) =>
      x.event.type === "m.room.member" &&
      x.event.state_key === userId &&
      x.event.content.membership === "join",
  );
}

/**
 * The slice of a room a user may read: up to now for members, up to their leave (or ban) for
 * former members. Others get 403, unless the room is world-readable.
 */
export function readableBound(room: Room, userId: string): { upTo: number; state: StateMap } {
  const m = room.membership(userId);
  if (m === "join") return { upTo: Number.MAX_SAFE_INTEGER, state: room.state };
  if ((m === "leave" || m === "ban") && everJoined(room, userId)) {
    const leave = room.stateEvent("m.room.member", userId)!;
    return { upTo: leave.stream, state: room.stateAtStream(leave.stream) };
  }
  if (
    stateContent(room.state, "m.room.history_visibility")?.history_visibility === "world_readable"
  ) {
    return { upTo: Number.MAX_SAFE_INTEGER, state: room.state };
  }
  throw forbidden(`User ${userId} not in room ${room.roomId}, and room previews are disabled`);
}
