/**
 * MatrixSide on matrix-appservice-bridge intents: puppets, portal rooms, membership, and
 * what the bridge sends. The parts with a job of their own live beside it: sends and
 * redactions with txn ids (event-sender.ts), the event a message becomes (message-event.ts),
 * group rooms' state (room-state.ts), the user's space (user-space-rooms.ts).
 *
 * Every request goes through `limited` (matrix-requests.ts: 429s waited out, then any failure
 * becomes a MatrixSideError that says whether a retry can help), and every text sent is made
 * well-formed Unicode first (a lone surrogate makes Synapse answer 500).
 */
import type { GroupRoomSpec, PortalRoomSpec, MatrixSide, SendStatus } from "../core/matrix-side.js";
import type { BridgeContent } from "../core/content.js";
import type { UserRepository } from "../db/repositories/users.js";
import { Logger, MembershipQueue } from "./appservice-bridge.js";
import type { Bridge, Intent } from "./appservice-bridge.js";
import { puppetDisplayName, puppetLocalpart } from "./puppet-identity.js";
import type { RateLimitOptions } from "./rate-limit.js";
import {
  SEND_STATUS_EVENT_TYPE,
  noticeContent,
  portalCreateRoomBody,
  portalPowerLevels,
  sendStatusContent,
} from "./room-content.js";
import type { ToMatrix } from "./room-content.js";
import { randomTxnId, txnIdFor } from "./txn-id.js";
import type { OpenedMedia } from "../core/media.js";
import type { MatrixMedia } from "./matrix-media.js";
import { matrixToMarkup } from "./formatting/index.js";
import { quotableText } from "./relation-events.js";
import { errcodeOf } from "./matrix-errors.js";
import { wellFormed, wellFormedJson } from "../util/unicode.js";
import { matrixRequests } from "./matrix-requests.js";
import type { MatrixRequests } from "./matrix-requests.js";
import { EventSender } from "./event-sender.js";
import { messageEvent } from "./message-event.js";
import { GroupRoomState } from "./room-state.js";
import { UserSpaceRooms } from "./user-space-rooms.js";

export { MatrixSideError } from "./matrix-errors.js";

export interface AppserviceMatrixSideOptions {
  bridge: Bridge;
  /** Homeserver server name (the part after ":" in user ids). */
  domain: string;
  usernameTemplate: string;
  displaynameTemplate: string;
  spaceName: string;
  /** Network name for send-status events and texts ("Gatekeeper"). */
  networkName: string;
  /**
   * Send statuses for messages that went through ("sent", "delivered") too, not only for
   * those that wait for a retry or failed (config bridge.message_status_events, on by default).
   */
  successStatuses?: boolean;
  /** Contact ids in this domain map to puppets by their local part (GKI/1: "lid.gk"). */
  nativeContactDomain?: string;
  /** Where the user's space is remembered (bridge_users.space_room_id). */
  users: Pick<UserRepository, "get" | "setSpaceRoom">;
  toMatrix: ToMatrix;
  membershipQueue?: MembershipQueue;
  rateLimit?: RateLimitOptions;
  /** A request got no answer, or 502/503/504: the homeserver is away (restarting?). */
  onHomeserverAway?: () => void;
  /** Media both ways (without it the bridge relays no Matrix media). */
  media?: MatrixMedia;
}

const log = new Logger("MatrixSide");

type Json = Record<string, unknown>;

export class AppserviceMatrixSide implements MatrixSide {
  readonly botMxid: string;
  private readonly membership: MembershipQueue;
  /** Display names already set this run, so ensurePuppet costs no request after the first. */
  private readonly profiles = new Map<string, string>();
  private readonly requests: MatrixRequests;
  private readonly sender: EventSender;
  private readonly groupRooms: GroupRoomState;
  private readonly spaces: UserSpaceRooms;
  readonly downloadMedia: ((uri: string) => Promise<OpenedMedia>) | undefined;

  constructor(private readonly opts: AppserviceMatrixSideOptions) {
    this.botMxid = opts.bridge.botUserId;
    const media = opts.media;
    this.downloadMedia = media && ((uri) => media.download(uri));
    this.membership = opts.membershipQueue ?? new MembershipQueue(opts.bridge, {});
    this.requests = matrixRequests(opts);
    this.sender = new EventSender(this.requests);
    this.groupRooms = new GroupRoomState(this.requests, opts, (roomId, mxid) =>
      this.join(roomId, mxid),
    );
    this.spaces = new UserSpaceRooms(this.requests, opts);
  }

  /** The puppet's MXID for a contact, without registering it. */
  puppetMxid(contactId: string): string {
    const localpart = puppetLocalpart(
      this.opts.usernameTemplate,
      contactId,
      this.opts.nativeContactDomain,
    );
    return `@${localpart}:${this.opts.domain}`;
  }

  async ensurePuppet(contactId: string, displayName: string | undefined): Promise<string> {
    const mxid = this.puppetMxid(contactId);
    const name = wellFormed(puppetDisplayName(this.opts.displaynameTemplate, displayName));
    // Registered and named this run already: no request (this runs for every message).
    if (this.profiles.get(mxid) === name) return mxid;
    const intent = this.intent(mxid);
    await this.limited("registering the contact's Matrix user", () => intent.ensureRegistered());
    await this.limited("the contact's display name", () => intent.ensureProfile(name));
    this.profiles.set(mxid, name);
    return mxid;
  }

  async createPortalRoom(spec: PortalRoomSpec): Promise<string> {
    const puppet = this.intent(spec.puppetMxid);
    const options = wellFormedJson(portalCreateRoomBody(spec, this.botMxid));
    // A 429 means the room was not created, so retrying cannot make two.
    const { room_id: roomId } = await this.limited("creating the chat's room", () =>
      puppet.createRoom({ createAsClient: true, options }),
    );
    await this.joinAsBot(roomId);
    return roomId;
  }

  createGroupRoom(spec: GroupRoomSpec): Promise<string> {
    return this.groupRooms.createGroupRoom(spec);
  }

  /** The puppet created the room with 100; it keeps what a member has (room-content.ts). */
  async lowerPuppet(roomId: string, puppetMxid: string): Promise<void> {
    const puppet = this.intent(puppetMxid);
    const current = (await this.limited("reading the chat's power levels", () =>
      puppet.getStateEvent(roomId, "m.room.power_levels", ""),
    )) as Json;
    const users = (current.users ?? {}) as Record<string, unknown>;
    if (users[puppetMxid] === 0 && users[this.botMxid] === 100) return;
    const lowered = portalPowerLevels(current, puppetMxid, this.botMxid);
    await this.limited("the chat's power levels", () =>
      puppet.sendStateEvent(roomId, "m.room.power_levels", "", lowered),
    );
  }

  async invite(roomId: string, inviterMxid: string, userMxid: string): Promise<void> {
    const inviter = this.intent(inviterMxid);
    const member = (await this.limited("reading the chat's members", () =>
      inviter.getStateEvent(roomId, "m.room.member", userMxid, true),
    )) as { membership?: unknown } | null;
    if (member?.membership === "join" || member?.membership === "invite") return;
    // The bot holds the power to invite in portals (the puppet only in older ones).
    const bot = this.intent(this.botMxid);
    try {
      await this.limited("the invite to the chat", () => bot.invite(roomId, userMxid));
    } catch (err) {
      if (errcodeOf(err) !== "M_FORBIDDEN") throw err;
      await this.limited("the invite to the chat", () => inviter.invite(roomId, userMxid));
    }
  }

  kick(roomId: string, userMxid: string, reason: string): Promise<void> {
    return this.groupRooms.kick(roomId, userMxid, reason);
  }

  setPowerLevel(roomId: string, userMxid: string, level: number): Promise<void> {
    return this.groupRooms.setPowerLevel(roomId, userMxid, level);
  }

  setRoomName(roomId: string, name: string): Promise<void> {
    return this.groupRooms.setRoomName(roomId, name);
  }

  setRoomTopic(roomId: string, topic: string): Promise<void> {
    return this.groupRooms.setRoomTopic(roomId, topic);
  }

  setRoomAvatar(
    roomId: string,
    picture: { bytes: Uint8Array; mimetype: string } | null,
  ): Promise<void> {
    return this.groupRooms.setRoomAvatar(roomId, picture);
  }

  ensureSpace(userMxid: string): Promise<string> {
    return this.spaces.ensureSpace(userMxid);
  }

  addToSpace(spaceId: string, roomId: string): Promise<void> {
    return this.spaces.addToSpace(spaceId, roomId);
  }

  async sendMessage(
    roomId: string,
    senderMxid: string,
    content: BridgeContent,
    txnKey: string,
    timestamp?: number,
  ): Promise<string> {
    if (content.kind === "delete")
      return this.redact(roomId, senderMxid, content.target.id, txnKey);
    const event = await messageEvent(content, senderMxid, this.opts);
    return this.send(
      "the bridged message",
      senderMxid,
      roomId,
      event.type,
      event.content,
      txnIdFor(txnKey),
      timestamp,
    );
  }

  redact(roomId: string, asMxid: string, eventId: string, txnKey: string): Promise<string> {
    return this.sender.redact(roomId, asMxid, eventId, txnKey);
  }

  async messageText(roomId: string, eventId: string): Promise<string | undefined> {
    const bot = this.intent(this.botMxid);
    const path =
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}` +
      `/event/${encodeURIComponent(eventId)}`;
    const event = (await this.limited("reading the quoted message", () =>
      bot.matrixClient.doRequest("GET", path),
    )) as unknown;
    if (typeof event !== "object" || event === null) return undefined;
    // Read from the homeserver, so as free to hold a lone surrogate as an event's body.
    const text = quotableText(event as Record<string, unknown>, matrixToMarkup);
    return text === undefined ? undefined : wellFormed(text);
  }

  async memberName(roomId: string, userMxid: string): Promise<string | undefined> {
    const bot = this.intent(this.botMxid);
    const member = (await this.limited("reading a member's name", () =>
      bot.getStateEvent(roomId, "m.room.member", userMxid, true),
    )) as { displayname?: unknown } | null;
    const name = member?.displayname;
    return typeof name === "string" && name.trim() !== "" ? name : undefined;
  }

  async sendNotice(
    roomId: string,
    text: string,
    senderMxid?: string,
    txnKey?: string,
  ): Promise<string> {
    const sender = senderMxid ?? this.botMxid;
    const txnId = txnKey === undefined ? randomTxnId() : txnIdFor(`notice\n${txnKey}`);
    return this.send(
      "the bridge's reply",
      sender,
      roomId,
      "m.room.message",
      noticeContent(text),
      txnId,
    );
  }

  async sendStatus(roomId: string, eventId: string, status: SendStatus): Promise<void> {
    const success = status.status === "sent" || status.status === "delivered";
    if (success && this.opts.successStatuses === false) return;
    const content = sendStatusContent(this.opts.networkName, eventId, status);
    const reason = "reason" in status ? status.reason : "to" in status ? status.to.join(",") : "";
    // The same status for the same event is one event, however often it is reported.
    const txnId = txnIdFor(`status\n${eventId}\n${status.status}\n${reason}`);
    await this.send(
      "the send status",
      this.botMxid,
      roomId,
      SEND_STATUS_EVENT_TYPE,
      content,
      txnId,
    );
  }

  async sendReadReceipt(roomId: string, asMxid: string, eventId: string): Promise<void> {
    const intent = this.intent(asMxid);
    await this.limited("the read receipt", () => intent.sendReadReceipt(roomId, eventId));
  }

  /** PUT /rooms/{roomId}/typing/{userId} as the puppet itself. */
  async setTyping(
    roomId: string,
    asMxid: string,
    typing: boolean,
    timeoutMs: number,
  ): Promise<void> {
    const intent = this.intent(asMxid);
    const path =
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}` +
      `/typing/${encodeURIComponent(asMxid)}`;
    const body = typing ? { typing: true, timeout: timeoutMs } : { typing: false };
    await this.limited("the typing notification", () =>
      intent.matrixClient.doRequest("PUT", path, null, body),
    );
  }

  async join(roomId: string, mxid: string): Promise<void> {
    const intent = this.intent(mxid);
    // bot-sdk's join passes the homeserver's error on (Intent.join would replace it with a
    // generic one); joining a room one is in already succeeds.
    await this.limited("joining the room", () => intent.botSdkIntent.joinRoom(roomId));
  }

  async leave(roomId: string, mxid: string): Promise<void> {
    const intent = this.intent(mxid);
    try {
      await this.limited("leaving the room", () => intent.leave(roomId));
    } catch (err) {
      const code = errcodeOf(err);
      // Not (or no longer) in the room: what leave() is for is already true.
      if (code === "M_FORBIDDEN" || code === "M_NOT_FOUND") {
        log.debug(`${mxid} was not in ${roomId}: ${code}`);
        return;
      }
      throw err;
    }
  }

  private async joinAsBot(roomId: string): Promise<void> {
    try {
      await this.membership.join(roomId, this.botMxid, { getId: () => `portal:${roomId}` });
    } catch (err) {
      // The bot's later sends join on demand; a portal without the bot still works.
      log.warn(`Bot could not join ${roomId}: ${errcodeOf(err) ?? String(err)}`);
    }
  }

  /** Every event the bridge posts (event-sender.ts); `what` names it in errors. */
  private send(
    what: string,
    senderMxid: string,
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    txnId: string,
    timestamp?: number,
  ): Promise<string> {
    return this.sender.send(what, senderMxid, roomId, type, content, txnId, timestamp);
  }

  /**
   * The room's latest events, newest first (`GET /messages?dir=b`), as `asMxid` (default the
   * bot) sees them; `filter` is a RoomEventFilter.
   */
  latestEvents(
    roomId: string,
    limit: number,
    options: { asMxid?: string; filter?: Record<string, unknown> } = {},
  ): Promise<Record<string, unknown>[]> {
    return this.sender.latestEvents(roomId, limit, options);
  }

  private intent(mxid: string): Intent {
    return this.requests.intent(mxid);
  }

  private limited<T>(what: string, request: () => Promise<T>): Promise<T> {
    return this.requests.limited(what, request);
  }
}
