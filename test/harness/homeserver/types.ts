/** Shapes shared by the test homeserver's parts. Wire shapes follow the Matrix spec (v1.12). */

export type JsonObject = Record<string, unknown>;

/** An event as the server stores it: the client-visible fields, before formatting. */
export interface RoomEvent {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  content: JsonObject;
  origin_server_ts: number;
  state_key?: string;
  /** Top-level `redacts` of m.room.redaction (room versions < 11 put it here). */
  redacts?: string;
}

/** State map key: `${type}\u0000${state_key}`. */
export type StateKey = string;
export type StateMap = ReadonlyMap<StateKey, StoredEvent>;

export interface StoredEvent {
  event: RoomEvent;
  /** Position in the server's single stream (sync tokens, /messages tokens). */
  stream: number;
  /** Room state just before this event (shared, never mutated). */
  stateBefore: StateMap;
  /** Who sent it through which access token and txnId, so only that device sees `transaction_id`. */
  txn?: { scope: string; txnId: string };
  /** The redaction event that redacted this one, if any. */
  redactedBy?: StoredEvent;
}

export interface NamespaceEntry {
  exclusive: boolean;
  regex: string;
}

/** An application service registration as in its YAML file (the fields the homeserver reads). */
export interface AppServiceRegistrationLike {
  id: string;
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces?: {
    users?: NamespaceEntry[];
    aliases?: NamespaceEntry[];
    rooms?: NamespaceEntry[];
  };
  rate_limited?: boolean;
  receive_ephemeral?: boolean;
  "de.sorunome.msc2409.push_ephemeral"?: boolean;
  protocols?: string[];
}

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}
