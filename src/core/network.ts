/**
 * What the core asks of the remote network (for us: the gatekeeper, through GKI/1), and what
 * the network tells the core. Modelled on mautrix bridgev2's network connector: the core holds
 * no protocol knowledge, and what the network can do is data (capabilities), not `if`s.
 */
import type { BridgeContent, RemoteMessage } from "./content.js";

export interface RemoteCapabilities {
  /** Human name of the network, for notices ("Gatekeeper"). */
  networkName: string;
  maxTextLength: number;
  /** Media the network carries (absent: none); the bridge's own limits are at most this. */
  media?: {
    /** Largest file, in bytes (after the network's own encryption overhead). */
    maxBytes: number;
    /** Voice messages are their own kind (not just audio files). */
    voice: boolean;
    captions: boolean;
  };
  /** Groups (absent: none are bridged). `media`: media can be sent into a group. */
  groups?: { media: boolean };
  /** Features that exist on the network today. */
  features: {
    formatting: boolean;
    replies: boolean;
    edits: { windowSeconds: number } | null;
    deletions: boolean;
    reactions: boolean;
    readReceipts: boolean;
    typing: boolean;
  };
}

/** What the core stores about a login and hands to the network to connect it. */
export interface LoginCredentials {
  loginId: string;
  /** E.164 phone number of the Matrix user. */
  phone: string;
  /** The partner account id presented to the gatekeeper. */
  accountId: string;
  /** The secret the gatekeeper's auth callback checks. */
  token: string;
}

export type RemoteConnectionState =
  "connecting" | "connected" | "reconnecting" | "logged-out" | "replaced" | "stopped" | "failed";

export interface RemoteContact {
  /** Opaque remote id (GKI/1 JID); never a phone number. */
  id: string;
  name?: string;
}

export interface SendResult {
  /** Server timestamp of the accepted message, ms since the epoch. */
  timestamp: number;
}

/**
 * A failed remote operation. `permanent` failures are not retried (e.g. contact unreachable);
 * `userMessage` is what the Matrix user is told.
 */
export class RemoteError extends Error {
  constructor(
    readonly code: string,
    readonly userMessage: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(userMessage, options);
    this.name = "RemoteError";
  }
}

/** Events the network delivers to the core. Each handler's promise must settle before the
 * network acknowledges the event to the remote side (ack after handling). */
export interface RemoteEventHandler {
  onMessage(loginId: string, message: RemoteMessage): Promise<void>;
  onConnectionState(loginId: string, state: RemoteConnectionState, detail?: string): Promise<void>;
  onIdentityChange(loginId: string, contactId: string): Promise<void>;
  /**
   * A message from the contact cannot be shown. "undecryptable": it could not be decrypted
   * and the network asked the contact's app to send it again; "damaged": it decrypted to
   * content that cannot be read, and nothing will be resent; "lost": it could not be
   * decrypted after the last retry either (docs/protocol.md §8.3).
   */
  onUndecryptable(
    loginId: string,
    contactId: string,
    messageId: string,
    reason: UndecryptableReason,
  ): Promise<void>;
  /** The same for a message of group `groupId` from member `senderId`. */
  onGroupUndecryptable?(
    loginId: string,
    groupId: string,
    senderId: string,
    messageId: string,
    reason: UndecryptableReason,
  ): Promise<void>;
  /** The contact got (delivered) or read/played (read) messages of ours; best effort. */
  onContactReceipt?(loginId: string, receipt: RemoteReceipt): Promise<void>;
  /** The contact is typing (recording: a voice message) or stopped; best effort. */
  onContactTyping?(loginId: string, contactId: string, state: RemoteTypingState): Promise<void>;
  /**
   * In a group: the member `receipt.contactId` got or read messages the login sent there
   * (the network tells only the sender's login); best effort.
   */
  onGroupReceipt?(loginId: string, groupId: string, receipt: RemoteReceipt): Promise<void>;
  /** A member of the group is typing or stopped; every member login hears it; best effort. */
  onGroupTyping?(
    loginId: string,
    groupId: string,
    memberId: string,
    state: RemoteTypingState,
  ): Promise<void>;
  /** The login's settings, asked for at every (re)connect. */
  loginSettings?(loginId: string): Promise<LoginSettings>;
  /**
   * A group the login is in changed (it joined: created with it or added; or something
   * else). Acked to the remote side only once this resolved, like a message.
   */
  onGroupChange?(loginId: string, change: RemoteGroupChange): Promise<void>;
}

/** A group as a member sees it. */
export interface RemoteGroupInfo {
  /** Opaque remote id of the group (GKI/1: the group JID). */
  id: string;
  subject: string;
  description?: string;
  /** Every member (the login too), in the order they joined. */
  participants: { id: string; role: "superadmin" | "admin" | "member" }[];
  /** Identifies the group's picture (a new one has a new id); absent when it has none. */
  pictureId?: string;
}

/** A group's picture, as groupPicture answers it. */
export interface RemotePicture {
  id: string;
  mimetype: string;
  bytes: Uint8Array;
}

/** What an admin may do to other members of a group. */
export type GroupMemberOp = "add" | "remove" | "promote" | "demote";

/** `actor`: who made the change (a member's id; the network itself has its own, e.g. "gk"). */
export type RemoteGroupChange =
  /** The login is now a member: it created the group, or was added. */
  | { kind: "joined"; group: RemoteGroupInfo; actor: string }
  /** Members were added, removed, promoted or demoted, or left by themselves. */
  | {
      kind: "members";
      groupId: string;
      actor: string;
      op: GroupMemberOp | "leave";
      participants: string[];
    }
  | { kind: "subject"; groupId: string; actor: string; subject: string }
  /** null: the description was deleted. */
  | { kind: "description"; groupId: string; actor: string; description: string | null }
  /** The picture changed (`pictureId` names the new one) or was removed (null). */
  | { kind: "picture"; groupId: string; actor: string; pictureId: string | null };

/** A member an add/remove/promote/demote (or create) could not be applied to, and why. */
export interface RemoteParticipantFailure {
  id: string;
  /** Why, in words for the user ("they are already a member"). */
  reason: string;
}

export type UndecryptableReason = "undecryptable" | "damaged" | "lost";

export interface LoginSettings {
  /** Whether the user sends read receipts (and so, by reciprocity, gets the contacts'). */
  sendReadReceipts: boolean;
}

export interface RemoteReceipt {
  contactId: string;
  /** Our message ids the receipt covers. */
  messageIds: string[];
  kind: "delivered" | "read" | "played";
  /** ms since the epoch. */
  timestamp: number;
}

export type RemoteTypingState = "composing" | "recording" | "paused";

/**
 * sendMessage rejects with a RemoteError of this code when the network holds messages to a
 * contact whose identity changed until the user confirms it (confirmIdentity). Not a
 * failure: the message waits.
 */
export const IDENTITY_UNCONFIRMED = "identity-unconfirmed";

/** What the user compares out of band with the contact (a Signal-style safety number). */
export interface ContactIdentity {
  /** Digits only (GKI/1: 60). */
  safetyNumber: string;
  /** The contact's key changed and the user has not confirmed it since. */
  changed: boolean;
  changedAt?: number;
}

export interface RemoteNetwork {
  readonly capabilities: RemoteCapabilities;
  /** Wires the core's handler; called once before any login starts. */
  setHandler(handler: RemoteEventHandler): void;

  /** Connect a login and ask the gatekeeper to send a one-time code to the phone. */
  beginLogin(login: LoginCredentials): Promise<{ codeLength: number; expiresInSeconds: number }>;
  /** Verify the one-time code; resolves with the account's remote id once enlisted. */
  completeLogin(loginId: string, code: string): Promise<{ remoteId: string }>;
  /**
   * Connect a login (at start-up, when taken over, for a `verify`) unless it is connected or
   * on its way already.
   */
  connect(login: LoginCredentials): Promise<void>;
  /**
   * At start-up, before connecting them one after another: these logins are about to be
   * connected. Work for one of them that comes first waits for its connection (a while)
   * instead of failing as not connected.
   */
  expect?(logins: readonly LoginCredentials[]): void;
  /**
   * De-enlist, forget all keys and state of this login, disconnect. `credentials` let the
   * network find (and if need be connect) a login it has no connection for in this process.
   */
  logout(loginId: string, credentials?: LoginCredentials): Promise<void>;
  /**
   * Closes the login's connection, keeping its keys and state: another bridge process takes
   * it over (several processes on one database). Nothing of it is reported afterwards.
   */
  disconnect?(loginId: string): Promise<void>;
  connectionState(loginId: string): RemoteConnectionState | "not-connected";

  /** Directory lookup; `null` when the number is unknown or not reachable (they look alike). */
  lookup(loginId: string, phone: string): Promise<RemoteContact | null>;
  block(loginId: string, contactId: string): Promise<void>;
  unblock(loginId: string, contactId: string): Promise<void>;

  /**
   * Send to a contact under a message id chosen once by the caller; resending the same id after
   * a crash or a dropped connection is safe (the remote side dedupes).
   */
  sendMessage(
    loginId: string,
    contactId: string,
    messageId: string,
    content: BridgeContent,
  ): Promise<SendResult>;
  /** A fresh message id in the network's format. */
  newMessageId(): string;
  /**
   * Groups (absent: the network has none). `sendGroupMessage` is as sendMessage, to every
   * member of the group; `groupInfo` is the group as the login sees it now.
   */
  sendGroupMessage?(
    loginId: string,
    groupId: string,
    messageId: string,
    content: BridgeContent,
  ): Promise<SendResult>;
  groupInfo?(loginId: string, groupId: string): Promise<RemoteGroupInfo>;
  /** The group's picture through the login (a member); null when it has none. */
  groupPicture?(loginId: string, groupId: string): Promise<RemotePicture | null>;
  /** Every group the login is in. */
  listGroups?(loginId: string): Promise<RemoteGroupInfo[]>;
  /**
   * Creates a group with the login as its superadmin; members that could not be added say
   * why (the group is created all the same).
   */
  createGroup?(
    loginId: string,
    subject: string,
    participantIds: string[],
  ): Promise<{ group: RemoteGroupInfo; failed: RemoteParticipantFailure[] }>;
  /** An admin's change of members; resolves with those it could not be applied to. */
  changeGroupMembers?(
    loginId: string,
    groupId: string,
    op: GroupMemberOp,
    participantIds: string[],
  ): Promise<RemoteParticipantFailure[]>;
  /** Renames the group (admins only: others get a RemoteError). */
  setGroupSubject?(loginId: string, groupId: string, subject: string): Promise<void>;
  leaveGroup?(loginId: string, groupId: string): Promise<void>;
  /** Tell the contact that messages up to and including these ids were read. */
  sendReadReceipt(loginId: string, contactId: string, messageIds: string[]): Promise<void>;
  /**
   * The user changed whether they send read receipts (see also loginSettings); a network
   * that learns it at login reconnects to apply it.
   */
  setReadReceipts?(loginId: string, enabled: boolean): void;
  /** Typing notification to the contact (ephemeral: dropped while disconnected). */
  sendTyping?(loginId: string, contactId: string, state: "composing" | "paused"): Promise<void>;
  /** As sendReadReceipt, in a group: for these messages of one member, `senderId`. */
  sendGroupReadReceipt?(
    loginId: string,
    groupId: string,
    senderId: string,
    messageIds: string[],
  ): Promise<void>;
  /** As sendTyping, to every member of the group. */
  sendGroupTyping?(loginId: string, groupId: string, state: "composing" | "paused"): Promise<void>;
  /** The user's own presence as the contacts see it. */
  setPresence?(loginId: string, presence: "available" | "unavailable"): Promise<void>;
  /** The safety number with the contact; null if no keys were exchanged yet. */
  contactIdentity?(loginId: string, contactId: string): Promise<ContactIdentity | null>;
  /** The user accepts the contact's current identity (held messages may go). */
  confirmIdentity?(loginId: string, contactId: string): Promise<void>;

  /** Stop all connections (graceful shutdown). */
  stop(): Promise<void>;
}
