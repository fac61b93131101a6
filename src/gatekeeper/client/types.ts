import type { Knex } from "knex";
import type { Message } from "../../gen/gki_pb.js";
import type { GroupChange } from "../stanza/index.js";
import type { GatekeeperError } from "./errors.js";
import type { ClientLogger } from "./logger.js";

/** Options of a GatekeeperClient: one client per account. */
export interface GatekeeperClientOptions {
  /** The gatekeeper's chat URL, e.g. wss://interop.gatekeeper.example/gki/1/chat. */
  url: string;
  /** The gatekeeper's pinned static X25519 public key (32 bytes). */
  serverStaticKey: Uint8Array;
  /** Migrated database (see src/db): holds this account's keys, sessions, inbox and sent messages. */
  db: Knex;
  account: AccountOptions;
  /** Ping after this much silence (default 25 s, docs §10). */
  keepaliveIntervalMs?: number;
  /** A ping unanswered this long means the connection is dead (default 10 s). */
  keepaliveTimeoutMs?: number;
  /** iq timeout (default 20 s, docs §5.2). */
  iqTimeoutMs?: number;
  /** Reconnect backoff (default 1 s doubling to 60 s, docs §10). */
  reconnect?: { initialMs?: number; maxMs?: number };
  /**
   * Refuse to encrypt to a peer whose identity key changed until confirmIdentity() accepts
   * it (sends reject "identity-unconfirmed"). Default false: keep sending, as the
   * gatekeeper's own apps do.
   */
  holdOnIdentityChange?: boolean;
  /**
   * Take part in groups (docs §19): sent as `ClientPayload.groups` at login. Without it the
   * gatekeeper never adds this account to a group, and group stanzas are refused.
   */
  groups?: boolean;
  logger?: ClientLogger;
}

export interface AccountOptions {
  product: "interop" | "native";
  /** Required for product "interop". */
  partnerId?: string;
  accountId: string;
  /** The login credential; a function is called before every (re)connect, so it can refresh it. */
  token: string | (() => Promise<string>);
  /** Signal device id, 1..127 (default 1). */
  deviceId?: number;
  pushName?: string;
  /** Whether this user sends read receipts (default true). */
  sendReadReceipts?: boolean;
  /** The end user's IP address (partners must pass it on, docs §4.1). */
  clientIp?: string;
  userAgent?: string;
}

export type ConnectionState =
  /** Not started, or stopped. */
  | "stopped"
  | "connecting"
  | "connected"
  /** Waiting out the backoff before the next attempt. */
  | "reconnecting"
  /** The gatekeeper refused the credentials or removed the account (401); no reconnect. */
  | "logged-out"
  /** Another connection logged in to this account (stream:error 409); no reconnect. */
  | "replaced"
  /** A login failure reconnecting cannot fix (402, 403, 405, wrong server key). */
  | "failed";

export interface SendOptions {
  /** Message id (default: a new "3EB0…" id). Reusing an id after a crash makes the send idempotent. */
  id?: string;
  /** Reject with "timeout" if not acked by the gatekeeper within this time (default: wait). */
  timeoutMs?: number;
}

export interface SendResult {
  id: string;
  /** Server timestamp of the accepted message (Unix seconds). */
  t: number;
}

export type ReceiptKind = "delivered" | "read" | "played";

/** What we know of a peer's identity key (for safety-number checks). */
export interface PeerIdentity {
  /** The safety number (60 digits) of our identity and the peer's current key. */
  fingerprint: string;
  /** The key changed and the change was not confirmed since. */
  changed: boolean;
  /** When the key last changed (ms since the epoch), if it ever did. */
  changedAt?: number;
}

export interface LookupEntry {
  phone: string;
  /** Absent when the number is unknown or its owner did not allow this partner. */
  jid?: string;
  name?: string;
}

export interface UploadedMedia {
  url: string;
  directPath: string;
}

// ------------------------------------------------------------------ events

export interface MessageEvent {
  id: string;
  /** The sender; in a group the member who sent it. */
  from: string;
  /** The group the message was sent in (docs §19.5); absent for a one-to-one message. */
  group?: string;
  /** Server time the message was accepted (Unix seconds). */
  t: number;
  /** Delivered from the offline queue. */
  offline: boolean;
  /** The sender's push name, as the gatekeeper delivered it. */
  pushName?: string;
  content: Message;
}

export interface ReceiptEvent {
  /** Who sent the receipt; in a group the member who read (or got) our message. */
  from: string;
  /** The group of the messages (docs §19.6). */
  group?: string;
  ids: string[];
  type: ReceiptKind;
  t: number;
  offline: boolean;
}

export interface ChatStateEvent {
  from: string;
  /** Typing in a group (docs §19.6). */
  group?: string;
  state: "composing" | "paused";
  media?: "audio";
}

export interface PresenceEvent {
  from: string;
  type: "available" | "unavailable";
  /** Last seen (Unix seconds), when the gatekeeper tells. */
  last?: number;
  name?: string;
}

export interface IdentityChangeEvent {
  jid: string;
}

export interface UndecryptableEvent {
  from: string;
  group?: string;
  id: string;
  /** Why: a SignalError code ("no-session", "invalid-message", …) or "bad-protobuf" / "bad-padding". */
  code: string;
  /** Whether a retry receipt asked the sender for it again (not after the last retry, §8.3). */
  retryRequested: boolean;
}

export interface OfflineCompleteEvent {
  /** Stanzas the gatekeeper had queued for us. */
  count: number;
}

export interface ConnectionStateEvent {
  state: ConnectionState;
  previous: ConnectionState;
  /** Why, for the terminal states and failed attempts. */
  error?: GatekeeperError;
}

export interface DuplicateEvent {
  from: string;
  group?: string;
  id: string;
}

export interface SendFailedEvent {
  /** The peer who could not decrypt; in a group, the member who asked for the retries. */
  to: string;
  group?: string;
  id: string;
  error: GatekeeperError;
}

/** A change of a group we are in, after the client's view of the group was updated (docs §19.4). */
export interface GroupChangeEvent {
  group: string;
  /** Who made the change; `gk` when the gatekeeper did. */
  actor: string;
  t?: number;
  change: GroupChange;
  offline: boolean;
}

/** A participant of a group request that failed for that participant alone (docs §19.3). */
export interface GroupParticipantResult {
  jid: string;
  /** Absent when it succeeded; 403, 404, 406, 409 or 429 otherwise. */
  error?: number;
  text?: string;
}

/** Events of a GatekeeperClient. Handlers may be async; stanzas are acked only after they resolved. */
export interface GatekeeperClientEvents {
  message: MessageEvent;
  receipt: ReceiptEvent;
  chatstate: ChatStateEvent;
  presence: PresenceEvent;
  identityChange: IdentityChangeEvent;
  undecryptable: UndecryptableEvent;
  offlineComplete: OfflineCompleteEvent;
  connectionState: ConnectionStateEvent;
  /** A redelivered message that was already handled (debug only). */
  duplicate: DuplicateEvent;
  /** A message the peer still could not decrypt after the last retry (docs §8.3). */
  sendFailed: SendFailedEvent;
  /** A group we are in changed: created, members, admins, subject, description, picture. */
  groupChange: GroupChangeEvent;
  /** Something failed in the background: a handler threw, a key upload failed, … */
  error: Error;
}
