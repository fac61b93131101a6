/**
 * Read-only views for harness tests and debugging. Tests meant to run against a real homeserver
 * too (E2E_HOMESERVER_URL) must not rely on these: they assert through the Matrix APIs.
 */
import { formatEvent } from "./event-format.js";
import type { Homeserver } from "./homeserver.js";
import { stateKeyOf } from "./ids.js";
import type { JsonObject } from "./types.js";

export interface RoomInspector {
  /** Every event of the room in order, as a client (without transaction ids) sees it. */
  timeline(roomId: string): JsonObject[];
  /** Current state events of the room. */
  state(roomId: string): JsonObject[];
  /** Content of one current state event, or undefined. */
  stateContent(roomId: string, type: string, stateKey?: string): JsonObject | undefined;
  /** user id -> membership, for everyone with a membership event. */
  members(roomId: string): Record<string, string>;
  /** Rooms the user is joined to. */
  joinedRooms(userId: string): string[];
  /** Global account data of a user. */
  accountData(userId: string, type: string): JsonObject | undefined;
}

export function roomInspector(hs: Homeserver): RoomInspector {
  return {
    timeline: (roomId) => hs.room(roomId).events.map((se) => formatEvent(se)),
    state: (roomId) => [...hs.room(roomId).state.values()].map((se) => formatEvent(se)),
    stateContent: (roomId, type, stateKey = "") => {
      const se = hs.room(roomId).state.get(stateKeyOf(type, stateKey));
      return se ? (formatEvent(se).content as JsonObject) : undefined;
    },
    members: (roomId) => {
      const out: Record<string, string> = {};
      for (const se of hs.room(roomId).state.values()) {
        if (se.event.type === "m.room.member")
          out[se.event.state_key!] = String(se.event.content.membership);
      }
      return out;
    },
    joinedRooms: (userId) =>
      hs
        .roomsOf(userId)
        .filter((r) => r.membership(userId) === "join")
        .map((r) => r.roomId),
    accountData: (userId, type) => hs.accountData.getGlobal(userId, type),
  };
}
