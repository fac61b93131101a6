/** Builds /sync responses (spec "Syncing") for one user from the shared stream. */
import { receiptEdu, presenceContent } from "./ephemeral.js";
import { formatEvent, strippedState } from "./event-format.js";
import type { Homeserver } from "./homeserver.js";
import { stateKeyOf } from "./ids.js";
import { defaultPushRules } from "./push-rules.js";
import type { Requester } from "./requester.js";
import type { Room } from "./room.js";
import { eventMatchesFilter } from "./routes/tokens.js";
import type { JsonObject, StateMap, StoredEvent } from "./types.js";
import { canSeeEvent } from "./visibility.js";

export interface SyncRequest {
  since: number | undefined;
  fullState: boolean;
  filter: JsonObject;
}

const PREJOIN_STATE = [
  "m.room.create",
  "m.room.join_rules",
  "m.room.canonical_alias",
  "m.room.avatar",
  "m.room.encryption",
  "m.room.name",
  "m.room.topic",
];

const obj = (v: unknown): JsonObject | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;

export function buildSync(
  hs: Homeserver,
  req: Requester,
  sr: SyncRequest,
): { body: JsonObject; empty: boolean } {
  const userId = req.userId;
  const now = hs.clock.position;
  const since = sr.since !== undefined ? Math.min(sr.since, now) : undefined;
  const roomFilter = obj(sr.filter.room) ?? {};
  const timelineFilter = obj(roomFilter.timeline);
  const rawLimit = timelineFilter?.limit;
  const limit =
    typeof rawLimit === "number" && rawLimit > 0 ? Math.min(Math.trunc(rawLimit), 100) : 10;
  const includeLeave = roomFilter.include_leave === true;
  const onlyRooms = Array.isArray(roomFilter.rooms) ? (roomFilter.rooms as unknown[]) : undefined;
  const notRooms = Array.isArray(roomFilter.not_rooms) ? (roomFilter.not_rooms as unknown[]) : [];
  const fmt = (se: StoredEvent): JsonObject =>
    formatEvent(se, { viewerScope: req.txnScope, withoutRoomId: true });

  const join: Record<string, JsonObject> = {};
  const invite: Record<string, JsonObject> = {};
  const leave: Record<string, JsonObject> = {};

  for (const room of hs.roomsOf(userId)) {
    if (onlyRooms && !onlyRooms.includes(room.roomId)) continue;
    if (notRooms.includes(room.roomId)) continue;
    const stateNow = room.stateAtStream(now);
    const memberEvent = stateNow.get(stateKeyOf("m.room.member", userId));
    const membership = memberEvent?.event.content.membership;
    if (!memberEvent) continue;
    const initial = since === undefined || sr.fullState;
    const before = since === undefined ? undefined : room.membershipAtStream(userId, since);

    if (membership === "join") {
      const newly = initial || before !== "join";
      const section = timelineSection(
        room,
        userId,
        newly ? undefined : since,
        now,
        limit,
        timelineFilter,
        fmt,
      );
      const ephemeral = ephemeralFor(hs, room, userId, newly ? undefined : since);
      const accountData = hs.accountData.roomSince(userId, room.roomId, newly ? undefined : since);
      if (
        !newly &&
        section.events.length === 0 &&
        section.state.length === 0 &&
        ephemeral.length === 0 &&
        accountData.length === 0
      ) {
        continue;
      }
      join[room.roomId] = {
        timeline: {
          events: section.events,
          limited: section.limited,
          prev_batch: section.prevBatch,
        },
        state: { events: section.state },
        ephemeral: { events: ephemeral },
        account_data: { events: accountData },
        unread_notifications: {
          notification_count: unreadCount(hs, room, userId, now),
          highlight_count: 0,
        },
        summary: summary(stateNow, userId),
      };
    } else if (membership === "invite") {
      if (!initial && memberEvent.stream <= since!) continue;
      const stripped = PREJOIN_STATE.flatMap((t) => {
        const se = memberEvent.stateBefore.get(stateKeyOf(t, ""));
        return se ? [strippedState(se)] : [];
      });
      const inviter = memberEvent.stateBefore.get(
        stateKeyOf("m.room.member", memberEvent.event.sender),
      );
      if (inviter) stripped.push(strippedState(inviter));
      stripped.push(fmt(memberEvent));
      invite[room.roomId] = { invite_state: { events: stripped } };
    } else {
      // leave or ban: reported once, in the sync that spans the change (or initial with include_leave).
      const wasIn = before === "join" || before === "invite" || before === "knock";
      if (initial ? !includeLeave : !(memberEvent.stream > since! && wasIn)) continue;
      const section = timelineSection(
        room,
        userId,
        initial ? undefined : since,
        memberEvent.stream,
        limit,
        timelineFilter,
        fmt,
      );
      leave[room.roomId] = {
        timeline: {
          events: section.events,
          limited: section.limited,
          prev_batch: section.prevBatch,
        },
        state: { events: section.state },
        account_data: {
          events: hs.accountData.roomSince(userId, room.roomId, initial ? undefined : since),
        },
      };
    }
  }

  const accountData = hs.accountData.globalSince(userId, since);
  if (since === undefined)
    accountData.push({ type: "m.push_rules", content: defaultPushRules(userId) });
  const presence = presenceFor(hs, userId, since);
  const body: JsonObject = {
    next_batch: `s${now}`,
    rooms: { join, invite, leave, knock: {} },
    account_data: { events: accountData },
    presence: { events: presence },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: {},
  };
  const empty =
    Object.keys(join).length +
      Object.keys(invite).length +
      Object.keys(leave).length +
      accountData.length +
      presence.length ===
    0;
  return { body, empty };
}

interface TimelineSection {
  events: JsonObject[];
  state: JsonObject[];
  limited: boolean;
  prevBatch: string;
}

/** Visible events in (since, upTo]; with since undefined, the latest ones and the full state before them. */
function timelineSection(
  room: Room,
  userId: string,
  since: number | undefined,
  upTo: number,
  limit: number,
  filter: JsonObject | undefined,
  fmt: (se: StoredEvent) => JsonObject,
): TimelineSection {
  const candidates: StoredEvent[] = [];
  for (const se of room.events) {
    if (se.stream > upTo) break;
    if (since !== undefined && se.stream <= since) continue;
    if (canSeeEvent(room, se, userId) && eventMatchesFilter(se, filter)) candidates.push(se);
  }
  const timeline = candidates.slice(-limit);
  const limited = candidates.length > timeline.length;
  const first = timeline[0];
  const startState: StateMap = first ? first.stateBefore : room.stateAtStream(upTo);
  let state: StoredEvent[];
  if (since === undefined) {
    state = [...startState.values()];
  } else if (limited) {
    // Only the state that changed between `since` and the start of the timeline.
    const old = room.stateAtStream(since);
    state = [...startState.values()].filter(
      (se) => old.get(stateKeyOf(se.event.type, se.event.state_key!)) !== se,
    );
  } else {
    state = [];
  }
  return {
    events: timeline.map(fmt),
    state: state.map(fmt),
    limited,
    prevBatch: `s${(first?.stream ?? upTo + 1) - 1}`,
  };
}

function ephemeralFor(
  hs: Homeserver,
  room: Room,
  userId: string,
  since: number | undefined,
): JsonObject[] {
  const out: JsonObject[] = [];
  const typing = hs.typing.usersTyping(room.roomId);
  if (since === undefined ? typing.length > 0 : hs.typing.changedSince(room.roomId, since)) {
    out.push(hs.typing.edu(room.roomId));
  }
  // Private receipts are only ever shown to their owner.
  const receipts = hs.receipts
    .since(room.roomId, since)
    .filter((r) => r.type !== "m.read.private" || r.userId === userId);
  if (receipts.length > 0) out.push(receiptEdu(receipts));
  return out;
}

function summary(state: StateMap, userId: string): JsonObject {
  const joined: string[] = [];
  const invited: string[] = [];
  for (const se of state.values()) {
    if (se.event.type !== "m.room.member") continue;
    if (se.event.content.membership === "join") joined.push(se.event.state_key!);
    if (se.event.content.membership === "invite") invited.push(se.event.state_key!);
  }
  const heroes = [...joined, ...invited]
    .filter((u) => u !== userId)
    .sort()
    .slice(0, 5);
  return {
    "m.heroes": heroes,
    "m.joined_member_count": joined.length,
    "m.invited_member_count": invited.length,
  };
}

/** Messages from others after the user's read receipt (or their own latest message). */
function unreadCount(hs: Homeserver, room: Room, userId: string, upTo: number): number {
  const receipt = hs.receipts.latestFor(room.roomId, userId, "m.read");
  const privateReceipt = hs.receipts.latestFor(room.roomId, userId, "m.read.private");
  let start = -1;
  for (const r of [receipt, privateReceipt]) {
    if (r)
      start = Math.max(
        start,
        room.events.findIndex((se) => se.event.event_id === r.eventId),
      );
  }
  let count = 0;
  for (let i = room.events.length - 1; i > start; i--) {
    const se = room.events[i]!;
    if (se.stream > upTo) continue;
    if (se.event.sender === userId) break;
    if (
      se.event.state_key === undefined &&
      (se.event.type === "m.room.message" || se.event.type === "m.room.encrypted")
    ) {
      if (!se.redactedBy) count++;
    }
  }
  return count;
}

function presenceFor(hs: Homeserver, userId: string, since: number | undefined): JsonObject[] {
  const visible = new Set<string>([userId]);
  for (const room of hs.roomsOf(userId)) {
    if (room.membership(userId) === "join") for (const u of room.members("join")) visible.add(u);
  }
  return hs.presence
    .changedSince(since)
    .filter(([u]) => visible.has(u))
    .map(([u, rec]) => ({ type: "m.presence", sender: u, content: presenceContent(rec) }));
}
