/** One room: its linear event log (no federation, so no DAG forks) and its state after each event. */
import { stateKeyOf } from "./ids.js";
import type { JsonObject, StateMap, StoredEvent } from "./types.js";

export interface PowerLevels {
  users: Record<string, number>;
  users_default: number;
  events: Record<string, number>;
  events_default: number;
  state_default: number;
  ban: number;
  kick: number;
  redact: number;
  invite: number;
  notifications: Record<string, number>;
}

const num = (v: unknown, fallback: number): number =>
  typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : fallback;

function numberRecord(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) if (typeof x === "number") out[k] = Math.trunc(x);
  }
  return out;
}

/** Power levels as the auth rules read them, including the spec's defaults when the event is absent. */
export function readPowerLevels(state: StateMap): PowerLevels {
  const pl = state.get(stateKeyOf("m.room.power_levels", ""))?.event.content;
  if (!pl) {
    // No power levels event yet (spec auth rules): the creator has 100, everyone else 0, and
    // state_default is 0 rather than 50.
    const create = state.get(stateKeyOf("m.room.create", ""));
    const users: Record<string, number> = {};
    if (create) users[create.event.sender] = 100;
    return {
      users,
      users_default: 0,
      events: {},
      events_default: 0,
      state_default: 0,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
      notifications: { room: 50 },
    };
  }
  return {
    users: numberRecord(pl.users),
    users_default: num(pl.users_default, 0),
    events: numberRecord(pl.events),
    events_default: num(pl.events_default, 0),
    state_default: num(pl.state_default, 50),
    ban: num(pl.ban, 50),
    kick: num(pl.kick, 50),
    redact: num(pl.redact, 50),
    invite: num(pl.invite, 0),
    notifications: { room: 50, ...numberRecord(pl.notifications) },
  };
}

export function userPower(pl: PowerLevels, userId: string): number {
  return pl.users[userId] ?? pl.users_default;
}

export function membershipIn(state: StateMap, userId: string): string | undefined {
  const m = state.get(stateKeyOf("m.room.member", userId))?.event.content.membership;
  return typeof m === "string" ? m : undefined;
}

export function stateContent(state: StateMap, type: string, key = ""): JsonObject | undefined {
  return state.get(stateKeyOf(type, key))?.event.content;
}

export class Room {
  readonly events: StoredEvent[] = [];
  private readonly byId = new Map<string, StoredEvent>();
  private current: StateMap = new Map();

  constructor(
    readonly roomId: string,
    readonly version: string,
  ) {}

  get state(): StateMap {
    return this.current;
  }

  get(eventId: string): StoredEvent | undefined {
    return this.byId.get(eventId);
  }

  append(se: StoredEvent): void {
    this.events.push(se);
    this.byId.set(se.event.event_id, se);
    this.current = stateAfter(se);
  }

  stateEvent(type: string, key = ""): StoredEvent | undefined {
    return this.current.get(stateKeyOf(type, key));
  }

  membership(userId: string): string | undefined {
    return membershipIn(this.current, userId);
  }

  /** State as of a stream position (after every event at or before it). */
  stateAtStream(pos: number): StateMap {
    const idx = this.lastIndexAtOrBefore(pos);
    return idx < 0 ? new Map() : stateAfter(this.events[idx]!);
  }

  membershipAtStream(userId: string, pos: number): string | undefined {
    return membershipIn(this.stateAtStream(pos), userId);
  }

  lastIndexAtOrBefore(pos: number): number {
    let lo = 0;
    let hi = this.events.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.stream <= pos) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  members(membership: string): string[] {
    const out: string[] = [];
    for (const se of this.current.values()) {
      if (se.event.type === "m.room.member" && se.event.content.membership === membership) {
        out.push(se.event.state_key!);
      }
    }
    return out;
  }

  powerLevels(): PowerLevels {
    return readPowerLevels(this.current);
  }
}

export function stateAfter(se: StoredEvent): StateMap {
  if (se.event.state_key === undefined) return se.stateBefore;
  const next = new Map(se.stateBefore);
  next.set(stateKeyOf(se.event.type, se.event.state_key), se);
  return next;
}
