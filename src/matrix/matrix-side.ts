/**
 * MatrixSide on matrix-appservice-bridge intents: puppets, portal rooms, the user's space,
 * and sends. Messages are sent with a client transaction id derived from the caller's key
 * (PUT /send/{type}/{txnId} as the puppet), so a retry after a crash gets the first event's
 * id back instead of posting twice; Intent.sendMessage would pick a random txn id.
 *
 * Every request goes through `limited` (429s waited out, then any failure becomes a
 * MatrixSideError that says whether a retry can help), and every text sent is made
 * well-formed Unicode first (a lone surrogate makes Synapse answer 500).
 */
import type { GroupRoomSpec, PortalRoomSpec, MatrixSide, SendStatus } from "../core/matrix-side.js";
import type { BridgeContent } from "../core/content.js";
import type { UserRepository } from "../db/repositories/users.js";
import { Logger, MembershipQueue } from "./appservice-bridge.js";
import type { Bridge, Intent } from "./appservice-bridge.js";
import { puppetDisplayName, puppetLocalpart } from "./puppet-identity.js";
import { withRateLimitRetry } from "./rate-limit.js";
import type { RateLimitOptions } from "./rate-limit.js";
import {
  LONG_TEXT_FILENAME,
  MAX_CONTENT_BYTES,
  fits,
  longTextCaption,
  shortenMediaContent,
  shortenedText,
  withoutFormatting,
} from "./event-size.js";
import {
  MENTIONS_KEY,
  SEND_STATUS_EVENT_TYPE,
  groupCreateRoomBody,
  mentionsContent,
  messageContent,
  noticeContent,
  portalCreateRoomBody,
  portalPowerLevels,
  sendStatusContent,
  spaceChildContent,
  spaceCreateRoomBody,
  spaceParentContent,
} from "./room-content.js";
import type { ToMatrix } from "./room-content.js";
import { randomTxnId, TXN_MARKER, txnIdFor } from "./txn-id.js";
import { isMediaContent } from "../core/media.js";
import type { OpenedMedia } from "../core/media.js";
import type { MatrixMedia } from "./matrix-media.js";
import { matrixToMarkup } from "./formatting/index.js";
import { quotableText, relationEvent } from "./relation-events.js";
import { MatrixSideError, errcodeOf, toMatrixSideError } from "./matrix-errors.js";
import { wellFormed, wellFormedJson } from "../util/unicode.js";

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

/** Refused before sending: the homeserver would refuse it the same way (event-size.ts). */
function tooLarge(): MatrixSideError {
  return new MatrixSideError(
    "permanent",
    "M_TOO_LARGE",
    `the message is too large for a Matrix event (over ${MAX_CONTENT_BYTES / 1024} KiB)`,
  );
}

function withinLimit(content: Json): Json {
  if (!fits(content)) throw tooLarge();
  return content;
}
/** Errors of a connection that broke under a request (no answer; safe to retry a txn PUT). */
const CONNECTION_RESET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
/** How many of a sender's latest events are searched for an unanswered send. */
const LOOKBACK = 50;
/** Unanswered sends remembered (a bound, should the homeserver stay away for long). */
const MAX_UNANSWERED = 10_000;

export class AppserviceMatrixSide implements MatrixSide {
  readonly botMxid: string;
  private readonly membership: MembershipQueue;
  /** Display names already set this run, so ensurePuppet costs no request after the first. */
  private readonly profiles = new Map<string, string>();
  /** Txn ids of sends that got no answer (no HTTP status, or a 5xx): look before resending. */
  private readonly unanswered = new Set<string>();
  private readonly spaceLocks = new Map<string, Promise<string>>();
  readonly downloadMedia: ((uri: string) => Promise<OpenedMedia>) | undefined;

  constructor(private readonly opts: AppserviceMatrixSideOptions) {
    this.botMxid = opts.bridge.botUserId;
    const media = opts.media;
    this.downloadMedia = media && ((uri) => media.download(uri));
    this.membership = opts.membershipQueue ?? new MembershipQueue(opts.bridge, {});
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

  async createGroupRoom(spec: GroupRoomSpec): Promise<string> {
    const bot = this.intent(this.botMxid);
    const options = wellFormedJson(groupCreateRoomBody(spec, this.botMxid));
    const { room_id: roomId } = await this.limited("creating the group's room", () =>
      bot.createRoom({ createAsClient: true, options }),
    );
    for (const puppet of spec.puppets) await this.join(roomId, puppet.mxid);
    return roomId;
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

  async kick(roomId: string, userMxid: string, reason: string): Promise<void> {
    const bot = this.intent(this.botMxid);
    const member = (await this.limited("reading the room's members", () =>
      bot.getStateEvent(roomId, "m.room.member", userMxid, true),
    )) as { membership?: unknown } | null;
    if (member?.membership !== "join" && member?.membership !== "invite") return;
    await this.limited("removing a member from the room", () =>
      bot.kick(roomId, userMxid, wellFormed(reason)),
    );
  }

  async setPowerLevel(roomId: string, userMxid: string, level: number): Promise<void> {
    const bot = this.intent(this.botMxid);
    const current = ((await this.limited("reading the room's power levels", () =>
      bot.getStateEvent(roomId, "m.room.power_levels", "", true),
    )) ?? {}) as Json;
    const users = { ...((current.users ?? {}) as Record<string, unknown>) };
    const fallback = typeof current.users_default === "number" ? current.users_default : 0;
    if ((users[userMxid] ?? fallback) === level) return;
    if (level === fallback) delete users[userMxid];
    else users[userMxid] = level;
    await this.limited("the room's power levels", () =>
      bot.sendStateEvent(roomId, "m.room.power_levels", "", { ...current, users }),
    );
  }

  setRoomName(roomId: string, name: string): Promise<void> {
    return this.setTextState(roomId, "m.room.name", "name", name);
  }

  setRoomTopic(roomId: string, topic: string): Promise<void> {
    return this.setTextState(roomId, "m.room.topic", "topic", topic);
  }

  async setRoomAvatar(
    roomId: string,
    picture: { bytes: Uint8Array; mimetype: string } | null,
  ): Promise<void> {
    const media = this.opts.media;
    if (!media) return; // no media relay configured: nothing can be uploaded
    const bot = this.intent(this.botMxid);
    const content: Json = {};
    if (picture) {
      const file = await this.limited("uploading the group's picture", () =>
        media.uploadBytes(picture.bytes, picture.mimetype, this.botMxid, "group-picture"),
      );
      content.url = file.url;
      content.info = { mimetype: picture.mimetype, size: file.size };
    }
    await this.limited("the room's avatar", () =>
      bot.sendStateEvent(roomId, "m.room.avatar", "", content),
    );
  }

  private async setTextState(roomId: string, type: string, key: string, value: string) {
    const bot = this.intent(this.botMxid);
    const text = wellFormed(value);
    const current = (await this.limited(`reading the room's ${key}`, () =>
      bot.getStateEvent(roomId, type, "", true),
    )) as Json | null;
    if ((current?.[key] ?? "") === text) return;
    await this.limited(`the room's ${key}`, () =>
      bot.sendStateEvent(roomId, type, "", { [key]: text }),
    );
  }

  ensureSpace(userMxid: string): Promise<string> {
    // One creation at a time per user, or two concurrent first uses would make two spaces.
    const pending = this.spaceLocks.get(userMxid);
    if (pending) return pending;
    const work = this.findOrCreateSpace(userMxid).finally(() => this.spaceLocks.delete(userMxid));
    this.spaceLocks.set(userMxid, work);
    return work;
  }

  async addToSpace(spaceId: string, roomId: string): Promise<void> {
    const bot = this.intent(this.botMxid);
    const domain = this.opts.domain;
    await this.limited("adding the chat to the space", () =>
      bot.sendStateEvent(spaceId, "m.space.child", roomId, spaceChildContent(domain)),
    );
    await this.limited("adding the chat to the space", () =>
      bot.sendStateEvent(roomId, "m.space.parent", spaceId, spaceParentContent(domain)),
    );
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
    const post = (type: string, body: Record<string, unknown>): Promise<string> =>
      this.send("the bridged message", senderMxid, roomId, type, body, txnIdFor(txnKey), timestamp);
    const relation = relationEvent(content, this.opts.toMatrix);
    if (relation) {
      if (fits(relation.content)) return post(relation.type, relation.content);
      if (content.kind !== "edit") throw tooLarge();
      const shortened = relationEvent(
        { ...content, text: shortenedText(content.text, "edited message") },
        this.opts.toMatrix,
      );
      return post("m.room.message", withinLimit(shortened?.content ?? {}));
    }
    if (isMediaContent(content) && this.opts.media) {
      const body = await this.opts.media.eventContent(content, senderMxid);
      body[MENTIONS_KEY] = mentionsContent(content.mentions);
      return post("m.room.message", fits(body) ? body : withinLimit(shortenMediaContent(body)));
    }
    const body = messageContent(content, this.opts.toMatrix);
    if (fits(body)) return post("m.room.message", body);
    // Too long with its HTML: the plain text still has every character.
    const plain = withoutFormatting(body);
    if (fits(plain)) return post("m.room.message", plain);
    const text = content.kind === "text" ? content.text : undefined;
    if (text === undefined) throw tooLarge();
    return post("m.room.message", withinLimit(await this.longText(text, plain, senderMxid)));
  }

  /**
   * A text too long for one event: the whole of it as `message.txt`, its beginning as the
   * caption (event-size.ts). Without media on the Matrix side, the beginning alone, and a
   * line that says the rest could not be shown.
   */
  private async longText(text: string, plain: Json, senderMxid: string): Promise<Json> {
    if (!this.opts.media) {
      return { ...plain, msgtype: "m.notice", body: shortenedText(text, "message") };
    }
    const file = await this.opts.media.uploadText(text, senderMxid, LONG_TEXT_FILENAME);
    return {
      ...plain,
      msgtype: "m.file",
      body: longTextCaption(text),
      filename: LONG_TEXT_FILENAME,
      url: file.url,
      info: { mimetype: "text/plain", size: file.size },
    };
  }

  async redact(roomId: string, asMxid: string, eventId: string, txnKey: string): Promise<string> {
    const intent = this.intent(asMxid);
    // Its own txn namespace: a send and a redaction may share the caller's key.
    const txnId = txnIdFor(`redact\n${txnKey}`);
    const path =
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}` +
      `/redact/${encodeURIComponent(eventId)}/${encodeURIComponent(txnId)}`;
    const put = (): Promise<string> =>
      this.limited("the redaction", async () => {
        const res = (await intent.matrixClient.doRequest("PUT", path, null, {})) as {
          event_id?: unknown;
        };
        if (typeof res.event_id !== "string") {
          throw new MatrixSideError(
            "server-error",
            "M_UNKNOWN",
            "the homeserver answered the redaction without an event id",
          );
        }
        return res.event_id;
      });
    try {
      return await put();
    } catch (err) {
      // Not joined yet (the bot in an older room): join, then retry once.
      if (errcodeOf(err) !== "M_FORBIDDEN") throw err;
      await this.limited("joining the room", () => intent.join(roomId));
      return put();
    }
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

  private async findOrCreateSpace(userMxid: string): Promise<string> {
    const known = (await this.opts.users.get(userMxid))?.spaceRoomId;
    if (known) return known;
    const bot = this.intent(this.botMxid);
    const options = wellFormedJson(
      spaceCreateRoomBody(userMxid, this.botMxid, this.opts.spaceName, this.opts.networkName),
    );
    const { room_id: spaceId } = await this.limited("creating your space", () =>
      bot.createRoom({ createAsClient: true, options }),
    );
    await this.opts.users.setSpaceRoom(userMxid, spaceId);
    return spaceId;
  }

  private async joinAsBot(roomId: string): Promise<void> {
    try {
      await this.membership.join(roomId, this.botMxid, { getId: () => `portal:${roomId}` });
    } catch (err) {
      // The bot's later sends join on demand; a portal without the bot still works.
      log.warn(`Bot could not join ${roomId}: ${errcodeOf(err) ?? String(err)}`);
    }
  }

  /**
   * PUT /rooms/{roomId}/send/{type}/{txnId} as `senderMxid`: every event the bridge posts.
   * The bot-sdk client of a puppet's intent adds `user_id` (appservice masquerading) to every
   * request itself. `what` names the event in errors ("the bridge's reply").
   */
  private async send(
    what: string,
    senderMxid: string,
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    txnId: string,
    timestamp?: number,
    againOnReset = true,
  ): Promise<string> {
    const intent = this.intent(senderMxid);
    const path =
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}` +
      `/send/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`;
    const body: Json = { ...wellFormedJson(content), [TXN_MARKER]: txnId };
    if (type === "m.room.message" && !(MENTIONS_KEY in body)) body[MENTIONS_KEY] = {};
    if (this.unanswered.has(txnId)) {
      // An earlier attempt got no answer: the homeserver may have stored it and then lost
      // its txn id memory (Synapse keeps it in memory only: a restart forgets it).
      const sent = await this.findSent(roomId, senderMxid, type, txnId).catch(() => null);
      if (sent) {
        this.unanswered.delete(txnId);
        return sent;
      }
    }
    const put = (): Promise<string> =>
      this.limited(what, async () => {
        // A fresh query object each time: the client adds user_id to it.
        const qs = timestamp !== undefined ? { ts: timestamp } : null;
        const res = (await intent.matrixClient.doRequest("PUT", path, qs, body)) as {
          event_id?: unknown;
        };
        if (typeof res.event_id !== "string") {
          throw new MatrixSideError(
            "server-error",
            "M_UNKNOWN",
            `the homeserver answered ${what} without an event id`,
          );
        }
        return res.event_id;
      });
    try {
      const eventId = await put().catch(async (err: unknown) => {
        // Not registered or not joined yet (e.g. the bot in an older room): join, then retry.
        if (errcodeOf(err) !== "M_FORBIDDEN") throw err;
        await this.limited("joining the room", () => intent.join(roomId));
        return put();
      });
      this.unanswered.delete(txnId);
      return eventId;
    } catch (err) {
      if (!(err instanceof MatrixSideError) || err.status === undefined || err.status >= 500) {
        if (this.unanswered.size >= MAX_UNANSWERED) this.unanswered.clear();
        this.unanswered.add(txnId);
      }
      // A kept-alive connection the homeserver closed just as it was reused (the load bench
      // met one in 10,000 logins): once more at once, looking for the event first.
      if (againOnReset && err instanceof MatrixSideError && CONNECTION_RESET.has(err.code)) {
        return this.send(what, senderMxid, roomId, type, content, txnId, timestamp, false);
      }
      throw err;
    }
  }

  /**
   * The event this bridge sent with `txnId` (TXN_MARKER in its content) among the sender's
   * latest events of the type in the room, if the homeserver has it.
   */
  private async findSent(
    roomId: string,
    senderMxid: string,
    type: string,
    txnId: string,
  ): Promise<string | undefined> {
    const latest = await this.latestEvents(roomId, LOOKBACK, {
      asMxid: senderMxid,
      filter: { senders: [senderMxid], types: [type] },
    });
    const found = latest.find(
      (e) => (e.content as Record<string, unknown> | undefined)?.[TXN_MARKER] === txnId,
    );
    return typeof found?.event_id === "string" ? found.event_id : undefined;
  }

  /**
   * The room's latest events, newest first (`GET /messages?dir=b`), as `asMxid` (default the
   * bot) sees them; `filter` is a RoomEventFilter.
   */
  async latestEvents(
    roomId: string,
    limit: number,
    options: { asMxid?: string; filter?: Record<string, unknown> } = {},
  ): Promise<Record<string, unknown>[]> {
    const query: Record<string, unknown> = { dir: "b", limit };
    if (options.filter) query.filter = JSON.stringify({ ...options.filter, limit });
    const res = (await this.intent(options.asMxid ?? this.botMxid).matrixClient.doRequest(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`,
      query,
    )) as { chunk?: unknown };
    return Array.isArray(res.chunk)
      ? res.chunk.filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
      : [];
  }

  private intent(mxid: string): Intent {
    return this.opts.bridge.getIntent(mxid);
  }

  /** A request for `what` (words for a notice), 429s waited out; fails with a MatrixSideError. */
  private async limited<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await withRateLimitRetry(request, this.opts.rateLimit);
    } catch (err) {
      const failure = toMatrixSideError(err, what);
      if (failure.kind === "transient" && failure.status !== 429) this.opts.onHomeserverAway?.();
      throw failure;
    }
  }
}
