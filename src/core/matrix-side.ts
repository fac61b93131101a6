/**
 * What the core asks of the Matrix side. The Matrix side (src/matrix/) implements it on
 * matrix-appservice-bridge intents; the core never builds Matrix event JSON itself.
 */
import type { BridgeContent } from "./content.js";
import type { OpenedMedia } from "./media.js";

export interface PortalRoomSpec {
  /** The puppet that creates the room and speaks in it. */
  puppetMxid: string;
  /** The Matrix user to invite. */
  userMxid: string;
  name?: string;
  topic: string;
  /** Remote ids for MSC2346 bridge info (m.bridge / uk.half-shot.bridge). */
  bridgeInfo: { protocolId: string; protocolName: string; channelId: string; channelName: string };
}

/** A group's room: made by the bot, not direct; members invited, puppets joined. */
export interface GroupRoomSpec {
  name: string;
  topic: string;
  /** The member Matrix users to invite. */
  userMxids: string[];
  /** Power levels of those who are more than members (the group's admins). */
  userPowers?: Record<string, number>;
  /** Puppets of the remote members: invited and joined, with these power levels. */
  puppets: { mxid: string; power: number }[];
  bridgeInfo: PortalRoomSpec["bridgeInfo"];
}

export type SendStatus =
  | { status: "sent" }
  | { status: "retrying"; reason: string }
  | { status: "failed"; reason: string }
  /** Sent, and the remote side confirmed it reached these users' devices. */
  | { status: "delivered"; to: string[] };

export interface MatrixSide {
  readonly botMxid: string;

  /** Register the puppet if needed and set its display name; returns its MXID. */
  ensurePuppet(contactId: string, displayName: string | undefined): Promise<string>;
  /** Create a DM room as the puppet, `is_direct`, with bridge info; invites the user. */
  createPortalRoom(spec: PortalRoomSpec): Promise<string>;
  /**
   * Creates a group's room as the bot (name, topic, bridge info, power levels), invites the
   * users and the puppets, and makes the puppets join. Without it, groups are not bridged.
   */
  createGroupRoom?(spec: GroupRoomSpec): Promise<string>;
  /**
   * The puppet created the portal with power level 100; this lowers it to a member's (0),
   * the bot keeping 100. Nothing is sent when it is 0 already. Without it, puppets keep 100.
   */
  lowerPuppet?(roomId: string, puppetMxid: string): Promise<void>;
  /**
   * Group rooms (each idempotent: nothing is sent when the room is so already). Without
   * them a group's membership, admins, subject and description are not shown in its room.
   */
  /** The bot kicks `userMxid` (a no-op when they are neither in the room nor invited). */
  kick?(roomId: string, userMxid: string, reason: string): Promise<void>;
  /** The bot sets `userMxid`'s power level. */
  setPowerLevel?(roomId: string, userMxid: string, level: number): Promise<void>;
  /** The bot sets the room's name or topic. */
  setRoomName?(roomId: string, name: string): Promise<void>;
  setRoomTopic?(roomId: string, topic: string): Promise<void>;
  /** The bot uploads `picture` and makes it the room's avatar; null removes the avatar. */
  setRoomAvatar?(
    roomId: string,
    picture: { bytes: Uint8Array; mimetype: string } | null,
  ): Promise<void>;
  /** Invite the user again (a reopened portal) as the bot (else the puppet). */
  invite(roomId: string, inviterMxid: string, userMxid: string): Promise<void>;
  /** The user's "<network> chats" space; created on first use. Returns its room id. */
  ensureSpace(userMxid: string): Promise<string>;
  addToSpace(spaceId: string, roomId: string): Promise<void>;

  /**
   * Send a message as `senderMxid`. `txnKey` is stable per logical message: a retry with the
   * same key returns the event id of the first send instead of posting twice. An edit becomes
   * an m.replace event, a reaction an m.reaction (targets are event ids).
   */
  sendMessage(
    roomId: string,
    senderMxid: string,
    content: BridgeContent,
    txnKey: string,
    timestamp?: number,
  ): Promise<string>;
  /**
   * Streams the content of an mxc:// URI (authenticated media, as the bot); rejects with
   * MediaUnavailableError / MediaLimitError. Without it, the bridge relays no Matrix media.
   */
  downloadMedia?(uri: string, options?: { maxBytes?: number }): Promise<OpenedMedia>;
  /**
   * Redacts `eventId` as `asMxid` (PUT /redact/{eventId}/{txnId}); the same `txnKey` gives
   * the first redaction back. Without it, deletions and reaction removals are not bridged.
   */
  redact?(roomId: string, asMxid: string, eventId: string, txnKey: string): Promise<string>;
  /**
   * The text of a message event in the gatekeeper's markup (reply fallback removed), to quote
   * it; undefined when it has none or cannot be read.
   */
  messageText?(roomId: string, eventId: string): Promise<string | undefined>;
  /** `userMxid`'s display name in the room; undefined when they have none there. */
  memberName?(roomId: string, userMxid: string): Promise<string | undefined>;
  /** An m.notice from the bot (management room) or from `senderMxid` (a portal). */
  /**
   * `txnKey`, when given, makes the notice idempotent like `sendMessage`: a command re-run after a
   * crash answers with the first reply's event instead of a second one.
   */
  sendNotice(roomId: string, text: string, senderMxid?: string, txnKey?: string): Promise<string>;
  /**
   * Bridge send-status for a Matrix event (com.beeper.message_send_status). "sent" and
   * "delivered" may be left out by configuration (bridge.message_status_events).
   */
  sendStatus(roomId: string, eventId: string, status: SendStatus): Promise<void>;
  sendReadReceipt(roomId: string, asMxid: string, eventId: string): Promise<void>;
  /** `asMxid` (a puppet) starts typing for up to `timeoutMs`, or stops. */
  setTyping?(roomId: string, asMxid: string, typing: boolean, timeoutMs: number): Promise<void>;
  /** `mxid` (the bot, or a puppet) joins a room it was invited to; joining again is a no-op. */
  join(roomId: string, mxid: string): Promise<void>;
  leave(roomId: string, mxid: string): Promise<void>;
}
