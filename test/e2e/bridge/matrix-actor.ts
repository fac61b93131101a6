/**
 * A Matrix user of the bridge in e2e tests: a real matrix-js-sdk client, and the steps a
 * person takes in their client (DM the bot, send a command and read the bot's answer,
 * accept an invite). Only client-server API calls, so it works against a real homeserver.
 */
import { Direction, Method, MsgType } from "matrix-js-sdk";
import type { IEvent, IContent } from "matrix-js-sdk";
import {
  startMatrixClient,
  stopMatrixClient,
  waitForInvite,
  waitForMembership,
  waitForRoomEvent,
} from "../../harness/matrix-user.js";
import type { MatrixClient, MatrixEvent, Room } from "../../harness/matrix-user.js";
import type { E2eUser } from "../../harness/target.js";

export const WAIT_MS = 15_000;

export interface BridgeIdentity {
  botMxid: string;
  /** Whether a user id is one of the bridge's puppets. */
  isPuppet(userId: string): boolean;
}

/** The raw events of a room as the server has them (/messages), oldest first. */
export type RoomHistory = Partial<IEvent>[];

export class MatrixActor {
  private constructor(
    readonly client: MatrixClient,
    readonly userId: string,
    private readonly bridge: BridgeIdentity,
  ) {}

  static async start(baseUrl: string, user: E2eUser, bridge: BridgeIdentity): Promise<MatrixActor> {
    const client = await startMatrixClient({ baseUrl, ...user });
    return new MatrixActor(client, user.userId, bridge);
  }

  stop(): void {
    stopMatrixClient(this.client);
  }

  /** Sent by the bot or a puppet, as m.notice: how the bridge talks to the user. */
  isBridgeNotice(e: MatrixEvent): boolean {
    const sender = e.getSender() ?? "";
    return (
      e.getType() === "m.room.message" &&
      e.getContent().msgtype === "m.notice" &&
      (sender === this.bridge.botMxid || this.bridge.isPuppet(sender))
    );
  }

  /** Opens a direct chat with the bot; resolves with its id once the bot greeted. */
  async openManagementRoom(): Promise<string> {
    const { room_id: roomId } = await this.client.createRoom({
      is_direct: true,
      invite: [this.bridge.botMxid],
      preset: "trusted_private_chat" as never,
    });
    await waitForMembership(this.client, roomId, this.bridge.botMxid, "join", WAIT_MS);
    await this.waitForNotice(roomId, (body) => body.includes("management room"));
    return roomId;
  }

  /** Sends a text message; resolves with its event id. */
  async say(roomId: string, body: string): Promise<string> {
    const res = await this.client.sendMessage(roomId, { msgtype: MsgType.Text, body });
    return res.event_id;
  }

  /**
   * Sends a text message as a client does when its server goes away: a send that got no
   * answer (connection refused, 502/503) is sent again with the same txn id until the server
   * takes it. Resolves with its event id.
   */
  async sayUntilAccepted(
    roomId: string,
    body: string,
    txnId: string,
    timeoutMs = 90_000,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        // A plain PUT: matrix-js-sdk's own queue refuses a txn id it has a failed echo for.
        const path = `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`;
        const res = await this.client.http.authedRequest<{ event_id: string }>(
          Method.Put,
          path,
          undefined,
          { msgtype: MsgType.Text, body },
        );
        return res.event_id;
      } catch (err) {
        const status = (err as { httpStatus?: number }).httpStatus;
        const unanswered = status === undefined || status === 502 || status === 503;
        if (!unanswered || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Sends any m.room.message content; resolves with its event id. */
  async send(roomId: string, content: IContent): Promise<string> {
    const res = await this.client.sendMessage(roomId, content as never);
    return res.event_id;
  }

  /** Sends `text` and resolves with the body of the bridge's first notice after it. */
  async command(roomId: string, text: string): Promise<string> {
    const eventId = await this.say(roomId, text);
    const reply = await this.noticeAfter(roomId, eventId);
    return String(reply.getContent().body);
  }

  /**
   * Sends `text` and resolves with the body of the first bridge notice after it that
   * `match` accepts. For right after a restart, when a command the bridge had not finished
   * before it was killed may be answered (again) in between.
   */
  async commandAnswered(
    roomId: string,
    text: string,
    match: (body: string) => boolean,
  ): Promise<string> {
    const eventId = await this.say(roomId, text);
    const reply = await this.noticeAfter(roomId, eventId, WAIT_MS, match);
    return String(reply.getContent().body);
  }

  /** The first bridge notice in the room after `eventId` (that `match` accepts); waits for it. */
  noticeAfter(
    roomId: string,
    eventId: string,
    timeoutMs = WAIT_MS,
    match: (body: string) => boolean = () => true,
  ): Promise<MatrixEvent> {
    return waitForRoomEvent(
      this.client,
      (e, room) =>
        e.getRoomId() === roomId &&
        this.isBridgeNotice(e) &&
        comesAfter(room, eventId, e) &&
        match(String(e.getContent().body)),
      timeoutMs,
    );
  }

  /** The bridge notices in the room after `eventId`, as the client has them now. */
  noticesAfter(roomId: string, eventId: string): string[] {
    const room = this.client.getRoom(roomId);
    if (!room) return [];
    return room
      .getLiveTimeline()
      .getEvents()
      .filter((e) => this.isBridgeNotice(e) && comesAfter(room, eventId, e))
      .map((e) => String(e.getContent().body));
  }

  /** Waits for a bridge notice in the room whose body satisfies `match`. */
  waitForNotice(
    roomId: string,
    match: (body: string) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<MatrixEvent> {
    return waitForRoomEvent(
      this.client,
      (e) =>
        e.getRoomId() === roomId && this.isBridgeNotice(e) && match(String(e.getContent().body)),
      timeoutMs,
    );
  }

  /** Waits for an m.room.message in the room matching `match`. */
  waitForMessage(
    roomId: string,
    match: (e: MatrixEvent) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<MatrixEvent> {
    return waitForRoomEvent(
      this.client,
      (e) => e.getRoomId() === roomId && e.getType() === "m.room.message" && match(e),
      timeoutMs,
    );
  }

  /** Waits for a message with exactly this body from a puppet. */
  waitForPuppetText(roomId: string, body: string, timeoutMs = WAIT_MS): Promise<MatrixEvent> {
    return this.waitForMessage(
      roomId,
      (e) => this.bridge.isPuppet(e.getSender() ?? "") && e.getContent().body === body,
      timeoutMs,
    );
  }

  /** `login <phone>` then `verify <code>` with the code the gatekeeper "texted". */
  async login(mgmt: string, phone: string, codeFor: (phone: string) => Promise<string>) {
    const asked = await this.command(mgmt, `login ${phone}`);
    if (!asked.includes("code")) throw new Error(`login ${phone} was answered: ${asked}`);
    const verified = await this.command(mgmt, `verify ${await codeFor(phone)}`);
    if (!verified.includes(`logged in to Gatekeeper as ${phone}`))
      throw new Error(`verify was answered: ${verified}`);
  }

  /** `start <phone>`; resolves with the portal room once the user joined it. */
  async startChat(mgmt: string, phone: string): Promise<string> {
    const reply = await this.command(mgmt, `start ${phone}`);
    const link = /matrix\.to\/#\/(\S+)$/.exec(reply);
    if (!link) throw new Error(`start ${phone} was answered: ${reply}`);
    const roomId = decodeURIComponent(link[1]!);
    await this.acceptInvite(roomId);
    return roomId;
  }

  /** Waits for an invite to `roomId` (or to any room `match` accepts) and joins it. */
  async acceptInvite(
    roomIdOrMatch: string | ((room: Room) => boolean),
    timeoutMs = WAIT_MS,
  ): Promise<string> {
    const match =
      typeof roomIdOrMatch === "string"
        ? (room: Room) => room.roomId === roomIdOrMatch
        : roomIdOrMatch;
    const roomId = await waitForInvite(this.client, match, timeoutMs);
    await this.client.joinRoom(roomId);
    // The client's own view can miss an invite turning into a join; the event cannot.
    await waitForRoomEvent(
      this.client,
      (e) =>
        e.getRoomId() === roomId &&
        e.getType() === "m.room.member" &&
        e.getStateKey() === this.userId &&
        e.getContent().membership === "join",
      timeoutMs,
    );
    return roomId;
  }

  /** Waits for an invite sent by one of the bridge's puppets (a new portal) and joins it. */
  acceptPortalInvite(timeoutMs = WAIT_MS): Promise<string> {
    return this.acceptInvite((room) => {
      const inviter = room.getMember(this.userId)?.events.member?.getSender() ?? "";
      return this.bridge.isPuppet(inviter);
    }, timeoutMs);
  }

  /** Every event of the room the server has for this user, oldest first (paged /messages). */
  async history(roomId: string): Promise<RoomHistory> {
    const out: RoomHistory = [];
    let from: string | null = null;
    for (;;) {
      const res = await this.client.createMessagesRequest(roomId, from, 100, Direction.Backward);
      out.push(...res.chunk);
      if (res.chunk.length === 0 || !res.end || res.end === from) break;
      from = res.end;
    }
    return out.reverse();
  }

  /** Bodies of the room's m.room.message events from `sender`, in timeline order. */
  async bodiesFrom(roomId: string, sender: (userId: string) => boolean): Promise<string[]> {
    return (await this.history(roomId))
      .filter((e) => e.type === "m.room.message" && sender(e.sender ?? ""))
      .map((e) => String((e.content as { body?: unknown } | undefined)?.body));
  }
}

/** Whether `e` is after the event `eventId` in the room's live timeline. */
function comesAfter(room: Room | undefined, eventId: string, e: MatrixEvent): boolean {
  if (!room) return false;
  const events = room.getLiveTimeline().getEvents();
  const mine = events.findIndex((x) => x.getId() === eventId);
  if (mine < 0) {
    // A gappy sync replaced the live timeline: fall back to the server's timestamps.
    const sent = room.findEventById(eventId);
    return sent !== undefined && e.getTs() >= sent.getTs() && e.getId() !== eventId;
  }
  return events.indexOf(e) > mine;
}
