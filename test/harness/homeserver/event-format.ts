/** How stored events look to clients and application services: unsigned data, redaction. */
import { stateKeyOf } from "./ids.js";
import type { JsonObject, StoredEvent } from "./types.js";

/** Content keys that survive redaction, per room versions 1-10. */
const KEEP: Record<string, string[]> = {
  "m.room.member": ["membership", "join_authorised_via_users_server"],
  "m.room.create": ["creator"],
  "m.room.join_rules": ["join_rule", "allow"],
  "m.room.power_levels": [
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
  ],
  "m.room.history_visibility": ["history_visibility"],
};

export function redactContent(type: string, content: JsonObject): JsonObject {
  const keep = KEEP[type] ?? [];
  const out: JsonObject = {};
  for (const k of keep) if (k in content) out[k] = content[k];
  return out;
}

export interface FormatOptions {
  /** The transaction scope (access token) of the viewer; only its own events carry transaction_id. */
  viewerScope?: string;
  /** Sync's ClientEventWithoutRoomID omits room_id. */
  withoutRoomId?: boolean;
  now?: number;
}

export function formatEvent(se: StoredEvent, opts: FormatOptions = {}): JsonObject {
  const now = opts.now ?? Date.now();
  const e = se.event;
  const out: JsonObject = {
    type: e.type,
    content: se.redactedBy ? redactContent(e.type, e.content) : e.content,
    event_id: e.event_id,
    sender: e.sender,
    origin_server_ts: e.origin_server_ts,
  };
  if (!opts.withoutRoomId) out.room_id = e.room_id;
  if (e.state_key !== undefined) out.state_key = e.state_key;
  if (e.redacts !== undefined && !se.redactedBy) out.redacts = e.redacts;
  const unsigned: JsonObject = { age: Math.max(0, now - e.origin_server_ts) };
  if (se.txn && opts.viewerScope !== undefined && se.txn.scope === opts.viewerScope) {
    unsigned.transaction_id = se.txn.txnId;
  }
  if (e.state_key !== undefined) {
    const prev = se.stateBefore.get(stateKeyOf(e.type, e.state_key));
    if (prev) {
      unsigned.prev_content = prev.redactedBy
        ? redactContent(prev.event.type, prev.event.content)
        : prev.event.content;
      unsigned.prev_sender = prev.event.sender;
      unsigned.replaces_state = prev.event.event_id;
    }
  }
  if (se.redactedBy) {
    unsigned.redacted_because = formatEvent(se.redactedBy, { ...opts, viewerScope: undefined });
  }
  out.unsigned = unsigned;
  return out;
}

/** Stripped state event (invite_state): type, state_key, content, sender only. */
export function strippedState(se: StoredEvent): JsonObject {
  return {
    type: se.event.type,
    state_key: se.event.state_key,
    content: se.event.content,
    sender: se.event.sender,
  };
}
